"""The map: patrol areas, jurisdictions, routes, tracks, photos and findings as layers."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, url_for

from missions.models import PatrolArea
from web.database import console, get_session
from web.models import Squad

bp = Blueprint("mapview", __name__)


@bp.get("/map")
def index():
    """The Leaflet map page; its layers load from the ``/api/*.geojson`` endpoints."""
    session = get_session()
    sites = sorted(set(session.scalars(sa.select(PatrolArea.site).distinct()))
                   | set(session.scalars(sa.select(Squad.site).distinct())))
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
        "map.html", sites=sites, layers=layers, basemap_url=settings.basemap_url or "",
        display_crs=settings.basemap_crs if settings.basemap_url else "wgs84",
        files_url=url_for("files.serve", stored_path="-").removesuffix("-"))
