"""The planning page's work: read a planning request, plan the route, and shape the preview.

A request is the JSON the page posts (all lengths in metres, speeds in m/s, overlaps as
fractions 0-1, coordinates WGS84 lon/lat unless ``crs`` is ``"gcj02"``)::

    {"pattern": "survey" | "corridor" | "orbit",
     "area": GeoJSON geometry or Feature (Polygon/MultiPolygon, LineString or Point),
     "no_fly": [GeoJSON Polygon/MultiPolygon, ...],
     "home": [lon, lat] or null (survey/corridor: the first vertex; orbit: the loop entry),
     "camera": a key of missions.CAMERAS, "custom" (with "custom_camera": {sensor_width_mm,
               sensor_height_mm, focal_length_mm, image_width_px, image_height_px}) or "",
     "alt_rel_m" or "gsd_cm_px", "front_overlap", "side_overlap", "speed_m_s", "turnaround_m",
     "sweep_angle_deg", "line_spacing_m", "width_m", "radius_m", "photos_per_turn",
     "orbit_turns", "photo_mode": "distance" | "waypoint" (survey, corridor),
     "endurance_min", "ceiling_alt_rel_m", "crs": "wgs84" | "gcj02"}

:func:`parse_request` checks it (:class:`PlanningInputError` naming the field) and returns a
:class:`missions.request.PlanRequest` in WGS84 with the request's datum (``crs``, a concern
of the map only); :func:`missions.request.run_plan` plans, checks and splits it into sorties,
and :func:`preview` turns the :class:`missions.request.PlanResult` into the map's GeoJSON (in
that datum) and the statistics panel's figures.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, MultiPoint, Point, mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from missions import (AREA_KINDS, CAMERAS, AreaSpec, Camera, MissionError, RoutePlan, load_areas,
                      save_area, save_route)
from missions.areas import area_from_geojson
from missions.models import PatrolArea, Route
from missions.plan import PHOTO_MODES, footprint_rectangles
from missions.request import PATTERNS as KIND_OF_PATTERN
from missions.request import PlanRequest, PlanResult
from missions.store import PLANS_DIR, save_sorties, slugify
from missions.validate import CEILING_ALT_REL_M as DEFAULT_CEILING_M
from patrol.geodesy import gcj02_to_wgs84
from web.errors import WebError
from web.geojson import DISPLAY_CRS, feature_collection, to_display_crs

__all__ = [
    "DEFAULT_CEILING_M",
    "FOOTPRINTS_SHOWN",
    "KIND_OF_PATTERN",
    "PATTERNS",
    "PHOTOS_SHOWN",
    "PlanningConflict",
    "PlanningInputError",
    "UPLOAD_MAX_BYTES",
    "UPLOAD_SUFFIXES",
    "areas_from_upload",
    "parse_request",
    "preview",
    "save_planned",
]

#: The patterns the page plans (the keys of :data:`KIND_OF_PATTERN`, which maps each to the
#: patrol-area kind it flies over; :data:`DEFAULT_CEILING_M` is the ceiling above home when
#: the request gives none, m).
PATTERNS = tuple(KIND_OF_PATTERN)
#: Single photo footprints sent with a preview; beyond this only their union is sent.
FOOTPRINTS_SHOWN = 300
#: Photo positions sent with a preview; beyond this they are thinned evenly.
PHOTOS_SHOWN = 2000
#: Tolerance (m) of the simplified union of the footprints sent to the map.
COVERAGE_SIMPLIFY_M = 0.5
#: Largest area file accepted from the page (bytes).
UPLOAD_MAX_BYTES = 20 * 1024 * 1024
#: Area file types :func:`missions.load_areas` reads.
UPLOAD_SUFFIXES = (".geojson", ".json", ".kml", ".kmz")
_CUSTOM_FIELDS = ("sensor_width_mm", "sensor_height_mm", "focal_length_mm",
                  "image_width_px", "image_height_px")


class PlanningInputError(WebError):
    """A planning request is malformed: the message names the field and the problem."""


class PlanningConflict(WebError):
    """A plan cannot be saved as asked: an unsafe plan, or a name already taken.

    ``problems`` lists the safety problems, if that is the reason.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


# --- reading the request ---------------------------------------------------------------------

def _number(data: Mapping[str, Any], key: str, *, default: float | None = None,
            minimum: float | None = None, maximum: float | None = None,
            above: float | None = None, integer: bool = False,
            where: str = "") -> float | None:
    """``data[key]`` as a finite number (None/"" -> ``default``), range-checked."""
    raw = data.get(key)
    name = f"{where}{key}"
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    if isinstance(raw, bool):
        raise PlanningInputError(f"field '{name}' must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise PlanningInputError(f"field '{name}' must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise PlanningInputError(f"field '{name}' must be a finite number, got {raw!r}")
    if integer and not value.is_integer():
        raise PlanningInputError(f"field '{name}' must be a whole number, got {raw!r}")
    if above is not None and not value > above:
        raise PlanningInputError(f"field '{name}' must be > {above:g}, got {value:g}")
    if minimum is not None and value < minimum:
        raise PlanningInputError(f"field '{name}' must be >= {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise PlanningInputError(f"field '{name}' must be <= {maximum:g}, got {value:g}")
    return int(value) if integer else value


def _to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    return gcj02_to_wgs84(lon, lat) if crs == "gcj02" else (lon, lat)


def _geometry_of(obj: Any, name: str) -> Any:
    """A GeoJSON geometry dict from a geometry or a Feature."""
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        return obj.get("geometry")
    if obj is None:
        raise PlanningInputError(f"field '{name}' is missing: draw, upload or pick it first")
    return obj


def _area(data: Mapping[str, Any], pattern: str, crs: str) -> AreaSpec:
    kind = KIND_OF_PATTERN[pattern]
    props: dict[str, Any] = {"kind": kind, "name": str(data.get("area_name") or "planned area")}
    if kind == "corridor":
        props["width_m"] = _number(data, "width_m", above=0.0)
        if props["width_m"] is None:
            raise PlanningInputError("field 'width_m' is missing: a corridor needs its width (m)")
    elif kind == "hotspot":
        props["radius_m"] = _number(data, "radius_m", above=0.0)
        if props["radius_m"] is None:
            raise PlanningInputError("field 'radius_m' is missing: an orbit needs its radius (m)")
    geometry = _geometry_of(data.get("area"), "area")
    gtype = geometry.get("type") if isinstance(geometry, dict) else None
    if gtype not in AREA_KINDS[kind]:
        raise PlanningInputError(f"field 'area': a {pattern} needs a "
                                 f"{' or '.join(AREA_KINDS[kind])}, got "
                                 f"{'a ' + gtype if isinstance(gtype, str) else repr(geometry)}")
    try:
        return area_from_geojson(geometry, props,
                                 where="field 'area'", default_name=props["name"],
                                 coordinates=crs)
    except MissionError as err:
        raise PlanningInputError(str(err)) from None


def _no_fly(data: Mapping[str, Any], crs: str) -> list[BaseGeometry]:
    raw = data.get("no_fly") or []
    if not isinstance(raw, list):
        raise PlanningInputError("field 'no_fly' must be a list of GeoJSON polygons")
    zones = []
    for k, obj in enumerate(raw):
        try:
            spec = area_from_geojson(_geometry_of(obj, f"no_fly[{k}]"), {"kind": "area"},
                                     where=f"field 'no_fly[{k}]'", default_name="no-fly zone",
                                     coordinates=crs)
        except MissionError as err:
            raise PlanningInputError(str(err)) from None
        zones.append(spec.geometry)
    return zones


def _home(data: Mapping[str, Any], target: AreaSpec, crs: str) -> tuple[float, float] | None:
    raw = data.get("home")
    if raw is None or raw == "":
        if target.kind == "hotspot":
            return None
        first = shapely.get_coordinates(target.geometry)[0]
        return float(first[0]), float(first[1])
    if not (isinstance(raw, (list, tuple)) and len(raw) == 2):
        raise PlanningInputError(f"field 'home' must be [lon, lat] in degrees, got {raw!r}")
    pair = {"lon": raw[0], "lat": raw[1]}
    lon = _number(pair, "lon", minimum=-180.0, maximum=180.0, where="home.")
    lat = _number(pair, "lat", minimum=-90.0, maximum=90.0, where="home.")
    if lon is None or lat is None:
        raise PlanningInputError(f"field 'home' must be [lon, lat] in degrees, got {raw!r}")
    return _to_wgs84(lon, lat, crs)


def _camera(data: Mapping[str, Any]) -> Camera | None:
    key = data.get("camera") or ""
    if not isinstance(key, str):
        raise PlanningInputError(f"field 'camera' must be a camera key, got {key!r}")
    if not key:
        return None
    if key in CAMERAS:
        return CAMERAS[key]
    if key != "custom":
        raise PlanningInputError(f"field 'camera' is {key!r}; expected one of "
                                 f"{', '.join(sorted(CAMERAS))}, 'custom' or ''")
    custom = data.get("custom_camera")
    if not isinstance(custom, dict):
        raise PlanningInputError("field 'custom_camera' must be an object with "
                                 + ", ".join(_CUSTOM_FIELDS))
    values = {}
    for name in _CUSTOM_FIELDS:
        value = _number(custom, name, above=0.0, integer=name.endswith("_px"),
                        where="custom_camera.")
        if value is None:
            raise PlanningInputError(f"field 'custom_camera.{name}' is missing")
        values[name] = value
    return Camera(str(custom.get("name") or "custom camera"), **values)


def parse_request(data: Any) -> tuple[PlanRequest, str]:
    """Check a planning request (module notes) and convert it to WGS84.

    Parameters
    ----------
    data : dict
        The decoded JSON body.

    Returns
    -------
    (PlanRequest, str)
        The request for :func:`missions.request.run_plan`, in WGS84, and the datum its
        coordinates were in (``"wgs84"`` or ``"gcj02"``), in which :func:`preview` answers.

    Raises
    ------
    PlanningInputError
        If a field is missing, of the wrong type or out of range, or a geometry is invalid;
        the message names the field (``field 'area' ('x'): invalid Polygon: Self-intersection
        [121.0 30.7]``).
    """
    if not isinstance(data, dict):
        raise PlanningInputError("the request body must be a JSON object")
    pattern = data.get("pattern")
    if pattern not in PATTERNS:
        raise PlanningInputError(f"field 'pattern' is {pattern!r}; expected one of "
                                 f"{', '.join(PATTERNS)}")
    crs = data.get("crs") or "wgs84"
    if crs not in DISPLAY_CRS:
        raise PlanningInputError(f"field 'crs' is {crs!r}; expected one of "
                                 f"{', '.join(DISPLAY_CRS)}")
    target = _area(data, pattern, crs)
    no_fly = _no_fly(data, crs)
    home = _home(data, target, crs)
    camera = _camera(data)
    alt = _number(data, "alt_rel_m", above=0.0)
    gsd = _number(data, "gsd_cm_px", above=0.0)
    speed = _number(data, "speed_m_s", default=5.0 if pattern == "orbit" else 10.0, above=0.0)
    if pattern == "orbit":
        if alt is None:
            raise PlanningInputError("field 'alt_rel_m' is missing: an orbit is planned by "
                                     "altitude above home (m)")
        kwargs: dict[str, Any] = {
            "alt_rel_m": alt, "speed_m_s": speed,
            "photos_per_turn": _number(data, "photos_per_turn", default=12, minimum=1,
                                       integer=True),
            "turns": _number(data, "orbit_turns", default=1, minimum=1, integer=True),
        }
    else:
        if (alt is None) == (gsd is None) and camera is not None:
            raise PlanningInputError("give exactly one of 'alt_rel_m' (m) or 'gsd_cm_px' (cm/px)")
        if camera is None and gsd is not None:
            raise PlanningInputError("field 'gsd_cm_px' needs a camera; without one give "
                                     "'alt_rel_m' and 'line_spacing_m'")
        kwargs = {
            "alt_rel_m": alt, "gsd_cm_px": gsd, "speed_m_s": speed,
            "front_overlap": _number(data, "front_overlap", default=0.75, minimum=0.0,
                                     maximum=0.99),
            "side_overlap": _number(data, "side_overlap", default=0.65, minimum=0.0,
                                    maximum=0.99),
            "turnaround_m": _number(data, "turnaround_m", default=0.0, minimum=0.0),
            "line_spacing_m": _number(data, "line_spacing_m", above=0.0),
        }
        if camera is None and kwargs["line_spacing_m"] is None:
            raise PlanningInputError("field 'line_spacing_m' is missing: without a camera the "
                                     "passes' spacing (m) must be given")
        photo_mode = data.get("photo_mode") or "distance"
        if photo_mode not in PHOTO_MODES:
            raise PlanningInputError(f"field 'photo_mode' is {photo_mode!r}; expected one of "
                                     f"{', '.join(PHOTO_MODES)}")
        kwargs["photo_mode"] = photo_mode
        if pattern == "survey":
            kwargs["sweep_angle_deg"] = _number(data, "sweep_angle_deg", minimum=-360.0,
                                                maximum=360.0)
    endurance = _number(data, "endurance_min", above=0.0)
    ceiling = _number(data, "ceiling_alt_rel_m", default=DEFAULT_CEILING_M, above=0.0)
    return PlanRequest(pattern=pattern, target=target, no_fly=no_fly, home=home, camera=camera,
                       planner_kwargs=kwargs, endurance_min=endurance,
                       ceiling_alt_rel_m=ceiling), crs


# --- the preview -----------------------------------------------------------------------------

def _feature(geom: BaseGeometry | dict[str, Any], role: str, **props: Any) -> dict[str, Any]:
    geometry = geom if isinstance(geom, dict) else dict(mapping(geom))
    return {"type": "Feature", "geometry": geometry, "properties": {"role": role, **props}}


def _thin(points: Sequence[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    if len(points) <= limit:
        return list(points)
    keep = np.linspace(0, len(points) - 1, limit).round().astype(int)
    return [points[i] for i in keep]


def _footprint_features(plan: RoutePlan) -> tuple[list[dict[str, Any]], list[str]]:
    """The union of the photo footprints (simplified) and the single footprints up to
    :data:`FOOTPRINTS_SHOWN`."""
    if plan.footprint_m is None or not plan.photo_positions_wgs84:
        return [], []
    proj = plan.projection
    lonlat = np.asarray(plan.photo_positions_wgs84, dtype=float)
    xy = np.column_stack(proj.to_xy(lonlat[:, 0], lonlat[:, 1]))
    rects = footprint_rectangles(xy, plan.photo_headings_deg, *plan.footprint_m)
    union = shapely.union_all(rects).simplify(COVERAGE_SIMPLIFY_M)
    features = [_feature(proj.unproject(union), "coverage", photos=len(rects))]
    notes = []
    if len(rects) <= FOOTPRINTS_SHOWN:
        shown = proj.unproject(shapely.GeometryCollection(rects))
        features += [_feature(g, "footprint", index=k) for k, g in enumerate(shown.geoms)]
    else:
        notes.append(f"{len(rects)} photo footprints are shown as their union "
                     f"(single footprints up to {FOOTPRINTS_SHOWN})")
    return features, notes


def _rally_points(plan: RoutePlan) -> list[tuple[float, float]]:
    points = getattr(plan, "rally_points_wgs84", None) or []
    return [(float(p[0]), float(p[1])) for p in points]


def _sortie_rows(sorties: Sequence[RoutePlan]) -> list[dict[str, Any]]:
    """Per sortie: ``index`` (1-based), ``est_flight_time_s``, ``path_length_m``,
    ``photo_count``."""
    return [{"index": k, **{key: sortie.stats.get(key) for key in (
        "est_flight_time_s", "path_length_m", "photo_count")}}
        for k, sortie in enumerate(sorties, start=1)]


def preview(result: PlanResult, crs: str = "wgs84") -> dict[str, Any]:
    """The JSON the planning page draws and lists.

    Parameters
    ----------
    result : PlanResult
        From :func:`missions.request.run_plan`.
    crs : {"wgs84", "gcj02"}
        Datum of the answer's coordinates (the request's, from :func:`parse_request`).

    Returns
    -------
    dict
        ``route``: a GeoJSON FeatureCollection in the request's datum whose features carry a
        ``role`` (``geofence``, ``no_fly``, ``coverage``, ``footprint``, ``pass``, ``path``,
        ``sortie``, ``photos``, ``rally``, ``home``), in drawing order; ``stats``: the plan's
        statistics plus ``sorties`` (count) and ``server_ms`` (planning, checking and
        splitting, ms); ``problems``: the safety problems; ``notes``: what the preview left
        out; ``sorties``: per battery sortie its index, flight time, length and photos (empty
        when the route is one sortie).
    """
    plan = result.plan
    features: list[dict[str, Any]] = []
    if plan.geofence_inclusion_wgs84 is not None:
        features.append(_feature(plan.geofence_inclusion_wgs84, "geofence"))
    features += [_feature(z, "no_fly", index=k) for k, z in enumerate(plan.no_fly_wgs84)]
    footprints, notes = _footprint_features(plan)
    features += footprints
    features += [_feature(LineString(p), "pass", index=k)
                 for k, p in enumerate(plan.passes_wgs84) if len(p) > 1]
    features.append(_feature(LineString(plan.path_wgs84), "path",
                             length_m=plan.stats.get("path_length_m")))
    split = len(result.sorties) > 1
    if split:
        features += [_feature(LineString(s.path_wgs84), "sortie", index=k)
                     for k, s in enumerate(result.sorties) if len(s.path_wgs84) > 1]
    all_photos = plan.photo_positions_wgs84
    photos = _thin(all_photos, PHOTOS_SHOWN)
    if photos:
        features.append(_feature(MultiPoint(photos), "photos", count=len(all_photos),
                                 shown=len(photos)))
        if len(photos) < len(all_photos):
            notes.append(f"{len(photos)} of {len(all_photos)} photo positions shown")
    features += [_feature(Point(p), "rally", index=k) for k, p in enumerate(_rally_points(plan))]
    features.append(_feature(Point(plan.home_wgs84), "home"))
    stats = {**result.stats(), "server_ms": result.planning_ms}
    collection = to_display_crs(feature_collection(features), crs)
    return {"route": collection, "stats": stats, "problems": list(result.problems),
            "notes": notes, "pattern": plan.pattern,
            "sorties": _sortie_rows(result.sorties) if split else []}


# --- uploads and saving ----------------------------------------------------------------------

def areas_from_upload(filename: str, content: bytes, *, coordinates: str = "wgs84"
                      ) -> list[AreaSpec]:
    """The patrol areas of an uploaded GeoJSON/KML/KMZ file, read by :func:`missions.load_areas`
    from a temporary copy.

    Parameters
    ----------
    filename : str
        The name the browser sent (only its last component and suffix are used).
    content : bytes
        The file's bytes (at most :data:`UPLOAD_MAX_BYTES`).
    coordinates : {"wgs84", "gcj02"}
        Datum of the file's coordinates.

    Raises
    ------
    PlanningInputError
        If the file type is not one of :data:`UPLOAD_SUFFIXES`, the file is empty or too
        large, or :func:`missions.load_areas` rejects it; the message names the uploaded file
        (not the temporary copy) and the problem.
    """
    name = PurePath(filename.replace("\\", "/")).name or "upload"
    suffix = PurePath(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise PlanningInputError(f"{name}: unsupported file type {suffix or '(none)'!r}; "
                                 f"upload {', '.join(UPLOAD_SUFFIXES)}")
    if not content:
        raise PlanningInputError(f"{name}: the file is empty")
    if len(content) > UPLOAD_MAX_BYTES:
        raise PlanningInputError(f"{name}: {len(content)} bytes is more than the "
                                 f"{UPLOAD_MAX_BYTES // (1024 * 1024)} MiB accepted")
    if coordinates not in DISPLAY_CRS:
        raise PlanningInputError(f"field 'coordinates' is {coordinates!r}; expected one of "
                                 f"{', '.join(DISPLAY_CRS)}")
    stem = PurePath(name).stem[:100]  # unnamed features are named after it
    with tempfile.TemporaryDirectory(prefix="patrol-upload-") as folder:
        path = Path(folder) / f"{stem}{suffix}"
        path.write_bytes(content)
        try:
            return load_areas(path, coordinates=coordinates)
        except MissionError as err:
            raise PlanningInputError(str(err).replace(str(path), name)) from None


def _same_geometry(stored: dict[str, Any], geom: BaseGeometry) -> bool:
    return shapely.normalize(shape(stored)).equals_exact(shapely.normalize(geom), 1e-7)


def save_planned(session: Session, result: PlanResult, *, name: str, area_name: str,
                 site: str, data_dir: str | Path, source: str = "") -> Route:
    """Store a planned route and its patrol area (flushed, not committed).

    The area is found by name: an existing area must have the planned geometry (stored areas
    are not changed from the planning page), a new one is saved with ``source`` and the
    request's no-fly zones (``properties["no_fly_zones"]``, GeoJSON). The route is written by
    :func:`missions.save_route` (``.plan`` and ``.waypoints`` under the data root), and with
    more than one battery sortie by :func:`missions.store.save_sorties` (the route and each sortie
    as a route of its own); the route's ``params`` also keep the no-fly zones, the ceiling
    and the endurance.

    Raises
    ------
    PlanningInputError
        If a name is empty or too long.
    PlanningConflict
        If the plan has safety problems, a route of that name (or a mission file of its
        :func:`missions.store.slugify` form) exists, or an area of that name exists with
        another geometry or kind.
    """
    name, area_name, site = name.strip(), area_name.strip(), site.strip()
    for label, value, limit in (("name", name, 200), ("area_name", area_name, 200),
                                ("site", site, 100)):
        if label != "site" and not value:
            raise PlanningInputError(f"field '{label}' is missing")
        if len(value) > limit:
            raise PlanningInputError(f"field '{label}' is longer than {limit} characters")
    if result.problems:
        raise PlanningConflict("the plan is not safe, so it was not saved: "
                               + "; ".join(result.problems[:5])
                               + (f"; and {len(result.problems) - 5} more"
                                  if len(result.problems) > 5 else ""), result.problems)
    if session.scalar(sa.select(Route.id).where(Route.name == name)) is not None:
        raise PlanningConflict(f"a route named {name!r} already exists; choose another name")
    plan_file = Path(data_dir) / PLANS_DIR / f"{slugify(name)}.plan"
    if plan_file.exists():
        raise PlanningConflict(f"the mission file {PLANS_DIR}/{plan_file.name} of another route "
                               f"has the name {name!r} would use; choose another name")
    req = result.request
    zones = [dict(mapping(z)) for z in req.no_fly]
    area = session.scalars(sa.select(PatrolArea).where(PatrolArea.name == area_name)).one_or_none()
    if area is not None:
        if area.kind != req.target.kind or not _same_geometry(area.geometry, req.target.geometry):
            raise PlanningConflict(
                f"a patrol area named {area_name!r} already exists with another "
                f"{'kind' if area.kind != req.target.kind else 'geometry'}; stored areas are "
                "not changed here, so give the edited area a new name")
    else:
        props = {k: v for k, v in req.target.properties.items() if k in ("width_m", "radius_m")}
        props.update({"source": source or "planning page", "no_fly_zones": zones})
        area = save_area(session, AreaSpec(name=area_name, site=site, kind=req.target.kind,
                                           geometry=req.target.geometry, properties=props))
    if len(result.sorties) > 1:
        route, _ = save_sorties(session, result.plan, result.sorties, name=name,
                                data_dir=data_dir, area=area)
    else:
        route = save_route(session, result.plan, name=name, data_dir=data_dir, area=area)
    route.params = {**route.params, "no_fly_zones": zones,
                    "ceiling_alt_rel_m": req.ceiling_alt_rel_m,
                    "endurance_min": req.endurance_min}
    session.flush()
    return route
