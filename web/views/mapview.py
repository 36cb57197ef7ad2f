"""The map: patrol areas, jurisdictions, grids, routes, tracks, photos, findings and cases as
layers the user switches on and off (the choice is remembered in the browser)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user

from missions.models import PatrolArea
from web.cases import CATEGORIES
from web.database import console, get_session
from web.models import Squad
from web.templating import STATUS_LABELS, category_label

bp = Blueprint("mapview", __name__)


def map_layers() -> dict[str, str]:
    """Layer kind -> its GeoJSON URL, for the layers this user may see (grids when the API
    serves them, cases for everyone but operators)."""
    layers = {
        "squads": url_for("api.squads"),
        "areas": url_for("api.areas"),
        "routes": url_for("api.routes"),
        "tracks": url_for("api.tracks"),
        "photos": url_for("api.photos"),
        "findings": url_for("api.findings"),
    }
    if "api.grids" in current_app.view_functions:
        layers["grids"] = url_for("api.grids")
    if "api.cases" in current_app.view_functions and current_user.role != "operator":
        layers["cases"] = url_for("api.cases")
    return layers


def map_labels() -> dict[str, dict[str, str]]:
    """Names the map's popups and layer list show, in the request's language: categories by
    key (the taxonomy's Chinese or English name) and statuses by key."""
    return {"categories": {key: category_label(key) for key in CATEGORIES},
            "statuses": {key: str(label) for key, label in STATUS_LABELS.items()}}


def site_choice(requested: str | None = None) -> tuple[list[str], str]:
    """The sites with patrol areas or squads (sorted) and the one a map opens on: ``requested``
    when it is one of them, else the site with the most patrol areas (then squads); ``""``
    when there is none. Sites lie on different continents, so a map fitted to all of them
    shows the world: the map pages (/map, the fleet map, the admin squads map) fit one."""
    session = get_session()

    def per_site(model) -> dict[str, int]:
        return dict(session.execute(sa.select(model.site, sa.func.count()).group_by(model.site)).all())

    areas, squads = per_site(PatrolArea), per_site(Squad)
    sites = sorted(set(areas) | set(squads))
    site = requested if requested in sites else max(
        sites, key=lambda s: (areas.get(s, 0), squads.get(s, 0)), default="")
    return sites, site


@bp.get("/map")
def index():
    """The Leaflet map page; its layers load from the ``/api/*.geojson`` endpoints.

    The view opens on ``?site=`` or else the site with the most patrol areas (then squads) (sites lie on
    different continents, so "all sites" is a world view).
    """
    sites, site = site_choice(request.args.get("site"))
    settings = console().settings
    return render_template(
        "map.html", sites=sites, site=site, layers=map_layers(), labels=map_labels(),
        basemap_url=settings.basemap_url or "",
        display_crs=settings.basemap_crs if settings.basemap_url else "wgs84",
        files_url=url_for("files.serve", stored_path="-").removesuffix("-"))
