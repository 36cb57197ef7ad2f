"""JSON endpoints of the map layers: ``/api/<layer>.geojson`` (WGS84, or GCJ-02 on request).

Query parameters: ``crs`` (``wgs84`` default, ``gcj02``), and per layer ``site``,
``flight``, ``status``, ``bbox=min_lon,min_lat,max_lon,max_lat``, ``id``, ``squad``.
Officers see their own squad's cases only.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask_login import current_user

from web import geojson
from web.auth import role_required
from web.database import get_session

bp = Blueprint("api", __name__, url_prefix="/api")


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit():
        abort(400, f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def _bbox_arg() -> geojson.BBox | None:
    raw = request.args.get("bbox")
    if not raw:
        return None
    try:
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in raw.split(","))
    except ValueError:
        abort(400, f"bbox must be min_lon,min_lat,max_lon,max_lat in degrees, got {raw!r}")
    return min_lon, min_lat, max_lon, max_lat


def _geojson(collection):
    crs = request.args.get("crs", "wgs84")
    if crs not in geojson.DISPLAY_CRS:
        abort(400, f"crs must be one of {', '.join(geojson.DISPLAY_CRS)}, got {crs!r}")
    response = jsonify(geojson.to_display_crs(collection, crs))
    response.mimetype = "application/geo+json"
    return response


@bp.get("/areas.geojson")
def areas():
    """Patrol areas (``site``)."""
    return _geojson(geojson.areas_collection(get_session(), site=request.args.get("site")))


@bp.get("/squads.geojson")
def squads():
    """Squads' jurisdictions (``site``)."""
    return _geojson(geojson.squads_collection(get_session(), site=request.args.get("site")))


@bp.get("/routes.geojson")
def routes():
    """Planned routes (``site``, ``id``)."""
    return _geojson(geojson.routes_collection(get_session(), site=request.args.get("site"),
                                              route_id=_int_arg("id")))


@bp.get("/tracks.geojson")
def tracks():
    """Flown tracks (``flight``)."""
    return _geojson(geojson.tracks_collection(get_session(), flight_id=_int_arg("flight")))


@bp.get("/findings.geojson")
def findings():
    """Findings (``status``, ``bbox``, ``id``)."""
    return _geojson(geojson.findings_collection(
        get_session(), status=request.args.get("status") or None, bbox=_bbox_arg(),
        finding_id=_int_arg("id")))


@bp.get("/photos.geojson")
def photos():
    """Photo footprints or positions (``flight``)."""
    return _geojson(geojson.photos_collection(get_session(), flight_id=_int_arg("flight")))


@bp.get("/cases.geojson")
@role_required("supervisor", "admin", "officer")
def cases():
    """Cases at their location (``bbox``); officers get their own squad's only."""
    squad_id = current_user.squad_id if current_user.role == "officer" else None
    if current_user.role == "officer" and squad_id is None:
        return _geojson(geojson.feature_collection([], truncated=False))
    return _geojson(geojson.cases_collection(get_session(), squad_id=squad_id, bbox=_bbox_arg()))


@bp.get("/grids.geojson")
def grids():
    """Unit grids (单元网格) with their squad (``squad``: one squad's id)."""
    return _geojson(geojson.grids_collection(get_session(), squad_id=_int_arg("squad")))
