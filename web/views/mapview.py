"""The map: patrol areas, jurisdictions, routes, tracks, photos and findings as layers."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request, url_for

from missions.models import PatrolArea
from web.database import console, get_session
from web.models import Squad

bp = Blueprint("mapview", __name__)


@bp.get("/map")
def index():
    """The Leaflet map page; its layers load from the ``/api/*.geojson`` endpoints.

    The view opens on ``?site=`` or else the site with the most patrol areas (then squads) (sites lie on
    different continents, so "all sites" is a world view).
    """
    session = get_session()
    def per_site(model) -> dict[str, int]:
        return dict(session.execute(sa.select(model.site, sa.func.count()).group_by(model.site)).all())

    areas, squads = per_site(PatrolArea), per_site(Squad)
    sites = sorted(set(areas) | set(squads))
    site = request.args.get("site")
    if site not in sites:
        site = max(sites, key=lambda s: (areas.get(s, 0), squads.get(s, 0)), default="")
    settings = console().settings
    layers = {
        "areas": url_for("api.areas"),
        "squads": url_for("api.squads"),
        "routes": url_for("api.routes"),
        "tracks": url_for("api.tracks"),
        "photos": url_for("api.photos"),
        "findings": url_for("api.findings"),
    }
    return render_template(
        "map.html", sites=sites, site=site, layers=layers, basemap_url=settings.basemap_url or "",
        display_crs=settings.basemap_crs if settings.basemap_url else "wgs84",
        files_url=url_for("files.serve", stored_path="-").removesuffix("-"))
