"""Route planning: the page to draw or upload an area, preview a route and save it; saved
routes with their mission files.

Endpoints (the planning ones for operators and admins; saved routes for every user):

- ``GET /planning``: the page (:mod:`web.planning` does the work behind it);
- ``POST /api/planning/upload``: a GeoJSON/KML/KMZ file (multipart ``file``, optional
  ``coordinates=gcj02``) -> its patrol areas as a FeatureCollection;
- ``GET /api/planning/areas/<id>``: a stored patrol area as a Feature (``no_fly_zones`` too);
- ``POST /api/planning/preview``: a planning request (JSON) -> route GeoJSON, statistics,
  safety problems;
- ``POST /api/planning/save``: the same plus ``name``, ``area_name``, ``site`` -> 201 with the
  route's id and links (409 if unsafe or a name is taken);
- ``GET /planning/routes/<id>``: a saved route; ``GET /planning/routes/<id>.plan``: its
  QGroundControl ``.plan`` as a download.

The JSON endpoints take the CSRF token in the ``X-CSRFToken`` header; bad input is 400 with a
``message`` naming the field or file and the problem.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user
from shapely.geometry import mapping

from missions import CAMERAS, MissionError
from missions.models import PatrolArea, Route
from missions.request import run_plan
from web import planning
from web.auth import role_required
from web.database import console, get_session
from web.geojson import DISPLAY_CRS, feature_collection, to_display_crs
from web.responses import error_response
from web.views.files import resolve_served

bp = Blueprint("planning", __name__)

PLANNERS = ("operator", "admin")
RECENT_ROUTES = 15


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "the request body must be a JSON object (Content-Type: application/json)")
    return data


def _area_feature(spec_name: str, kind: str, site: str, geometry: dict, properties: dict,
                  **extra) -> dict:
    props = {"name": spec_name, "kind": kind, "site": site,
             "width_m": properties.get("width_m"), "radius_m": properties.get("radius_m"),
             **extra}
    return {"type": "Feature", "geometry": geometry, "properties": props}


@bp.get("/planning")
@role_required(*PLANNERS)
def index():
    """The planning page: map with drawing tools, the form, statistics and saved routes."""
    session = get_session()
    settings = console().settings
    areas = session.execute(sa.select(PatrolArea.id, PatrolArea.name, PatrolArea.kind,
                                      PatrolArea.site)
                            .order_by(PatrolArea.site, PatrolArea.name)).all()
    routes = session.scalars(sa.select(Route).where(Route.parent_id.is_(None))  # not sorties
                             .order_by(Route.id.desc())
                             .limit(RECENT_ROUTES)).all()
    cameras = [{"key": key, "name": cam.name, "sensor_width_mm": cam.sensor_width_mm,
                "sensor_height_mm": cam.sensor_height_mm,
                "focal_length_mm": cam.focal_length_mm, "image_width_px": cam.image_width_px,
                "image_height_px": cam.image_height_px} for key, cam in CAMERAS.items()]
    config = {
        "previewUrl": url_for("planning.preview"),
        "saveUrl": url_for("planning.save"),
        "uploadUrl": url_for("planning.upload"),
        "areaUrl": url_for("planning.stored_area", area_id=0).removesuffix("0"),
        "areasUrl": url_for("api.areas"),
        "crs": settings.basemap_crs if settings.basemap_url else "wgs84",
        "basemapUrl": settings.basemap_url or "",
        "ceiling": planning.DEFAULT_CEILING_M,
        "cameras": cameras,
    }
    return render_template("planning/page.html", areas=areas, routes=routes, cameras=cameras,
                           sites=sorted({a.site for a in areas if a.site}), config=config,
                           upload_suffixes=planning.UPLOAD_SUFFIXES)


@bp.post("/api/planning/upload")
@role_required(*PLANNERS)
def upload():
    """The patrol areas of an uploaded file, as GeoJSON Features.

    Form fields: ``file``; ``coordinates`` the file's datum (``wgs84`` default, ``gcj02`` for
    data traced from Chinese web maps); ``crs`` the datum of the answer (the map's).
    """
    file = request.files.get("file")
    if file is None or not file.filename:
        return error_response(400, "field 'file' is missing: choose a GeoJSON, KML or KMZ file")
    content = file.stream.read(planning.UPLOAD_MAX_BYTES + 1)
    coordinates = request.form.get("coordinates") or "wgs84"
    crs = request.form.get("crs") or "wgs84"
    if crs not in DISPLAY_CRS:
        return error_response(400, f"field 'crs' must be one of {', '.join(DISPLAY_CRS)}, "
                                   f"got {crs!r}")
    try:
        specs = planning.areas_from_upload(file.filename, content, coordinates=coordinates)
    except planning.PlanningInputError as err:
        return error_response(400, str(err))
    features = [_area_feature(s.name, s.kind, s.site, dict(mapping(s.geometry)), s.properties,
                              holes=len(s.holes)) for s in specs]
    collection = feature_collection(features, file=file.filename)
    return jsonify(to_display_crs(collection, crs))


@bp.get("/api/planning/areas/<int:area_id>")
@role_required(*PLANNERS)
def stored_area(area_id: int):
    """One stored patrol area as a Feature, with the no-fly zones saved with it."""
    area = get_session().get(PatrolArea, area_id)
    if area is None:
        abort(404, f"patrol area {area_id} does not exist")
    crs = request.args.get("crs", "wgs84")
    if crs not in DISPLAY_CRS:
        abort(400, f"crs must be one of {', '.join(DISPLAY_CRS)}, got {crs!r}")
    props = area.properties or {}
    feature = _area_feature(area.name, area.kind, area.site, area.geometry, props, id=area.id)
    shifted = to_display_crs(feature_collection([feature]), crs)["features"][0]
    zones = feature_collection([{"type": "Feature", "geometry": z, "properties": {}}
                                for z in props.get("no_fly_zones") or []])
    shifted["properties"]["no_fly_zones"] = [
        f["geometry"] for f in to_display_crs(zones, crs)["features"]]
    return jsonify(shifted)


def _planned():
    """Parse and plan the request body: ((PlanResult, its datum), None), or (None, an error
    response) when it is bad."""
    try:
        req, crs = planning.parse_request(_json_body())
        return (run_plan(req), crs), None
    except (planning.PlanningInputError, MissionError) as err:
        return None, error_response(400, str(err))


@bp.post("/api/planning/preview")
@role_required(*PLANNERS)
def preview():
    """Plan the posted request and return what the page shows (:func:`web.planning.preview`)."""
    planned, error = _planned()
    if error is not None:
        return error
    return jsonify(planning.preview(*planned))


@bp.post("/api/planning/save")
@role_required(*PLANNERS)
def save():
    """Plan the posted request again and store the area and route; 201 with links."""
    data = _json_body()
    planned, error = _planned()
    if error is not None:
        return error
    result, _ = planned
    session = get_session()
    try:
        route = planning.save_planned(
            session, result, name=str(data.get("name") or ""),
            area_name=str(data.get("area_name") or ""), site=str(data.get("site") or ""),
            data_dir=console().settings.data_dir, source=str(data.get("source") or ""))
    except planning.PlanningInputError as err:
        session.rollback()
        return error_response(400, str(err))
    except planning.PlanningConflict as err:
        session.rollback()
        response = error_response(409, str(err))
        response.set_data(jsonify({**response.get_json(), "problems": err.problems}).get_data())
        return response
    session.commit()
    response = jsonify({"route_id": route.id, "area_id": route.area_id, "name": route.name,
                        "url": url_for("planning.route_detail", route_id=route.id),
                        "plan_url": url_for("planning.route_plan", route_id=route.id),
                        "stats": route.stats})
    response.status_code = 201
    response.headers["Location"] = url_for("planning.route_detail", route_id=route.id)
    return response


def _route(route_id: int) -> Route:
    route = get_session().get(Route, route_id)
    if route is None:
        abort(404, _("Route %(id)s does not exist.", id=route_id))
    return route


@bp.get("/planning/routes/<int:route_id>")
def route_detail(route_id: int):
    """A saved route: statistics, parameters, map, mission files."""
    route = _route(route_id)
    features = []
    if route.area is not None:
        features.append({"type": "Feature", "geometry": route.area.geometry,
                         "properties": {"kind": "area", "label": route.area.name}})
    for zone in (route.params or {}).get("no_fly_zones") or []:
        features.append({"type": "Feature", "geometry": zone,
                         "properties": {"kind": "no_fly", "label": "no-fly zone"}})
    return render_template(
        "planning/route.html", route=route, features=feature_collection(features),
        layers={"routes": url_for("api.routes", id=route.id)},
        can_plan=current_user.role in PLANNERS)


@bp.get("/planning/routes/<int:route_id>.plan")
def route_plan(route_id: int):
    """The route's QGroundControl ``.plan`` file as a download."""
    route = _route(route_id)
    data_dir = console().settings.data_dir
    if not route.plan_path or resolve_served(data_dir, route.plan_path) is None:
        abort(404, _("Route %(id)s has no .plan file.", id=route_id))
    return send_from_directory(data_dir, route.plan_path, as_attachment=True,
                               download_name=f"{route.plan_path.rsplit('/', 1)[-1]}",
                               mimetype="application/json")
