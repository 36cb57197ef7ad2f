"""Storing patrol areas and routes: database rows plus the mission files under the data root.

Functions take the caller's ``session`` and only add and flush; the caller commits.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlalchemy.orm import Session

from missions.areas import AreaSpec
from missions.errors import MissionError
from missions.items import MissionItem
from missions.models import PatrolArea, Route
from missions.plan import RoutePlan
from missions.qgc_plan import write_plan
from missions.safety import (FENCE_STORAGE_BYTES, fence_polygon_items, fit_fence,
                             rally_point_items)
from missions.wpl import write_waypoints

__all__ = ["save_area", "area_spec", "save_route", "save_sorties", "fence_geojson",
           "route_fence_items", "route_rally_items", "slugify", "PLANS_DIR"]

#: Folder under the data root that holds the written mission files.
PLANS_DIR = "plans"


def slugify(name: str) -> str:
    """A file-name-safe form of ``name`` (letters of any script, digits, dashes).

    >>> slugify("Pinghu old town block / survey")
    'pinghu-old-town-block-survey'
    """
    text = unicodedata.normalize("NFKC", name).lower()
    slug = re.sub(r"[^\w]+", "-", text).strip("-_")
    return slug or "route"


def save_area(session: Session, spec: AreaSpec) -> PatrolArea:
    """Insert or update (by name) the patrol area of ``spec``; returns the flushed row."""
    area = session.scalars(sa.select(PatrolArea).where(PatrolArea.name == spec.name)).one_or_none()
    if area is None:
        area = PatrolArea(name=spec.name)
        session.add(area)
    area.site = spec.site
    area.kind = spec.kind
    area.geometry = dict(mapping(spec.geometry))
    area.properties = dict(spec.properties)
    session.flush()
    return area


def area_spec(area: PatrolArea) -> AreaSpec:
    """The :class:`AreaSpec` of a stored patrol area."""
    return AreaSpec(name=area.name, site=area.site, kind=area.kind,
                    geometry=shape(area.geometry), properties=dict(area.properties or {}))


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def fence_geojson(plan: RoutePlan) -> dict:
    """A plan's geofence as a GeoJSON FeatureCollection (WGS84): the inclusion polygon
    (``properties.inclusion`` true) then each no-fly zone (false)."""
    polys = ([(plan.geofence_inclusion_wgs84, True)]
             if plan.geofence_inclusion_wgs84 is not None else [])
    polys += [(z, False) for z in plan.no_fly_wgs84]
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {"inclusion": inclusion},
                          "geometry": _json_ready(dict(mapping(poly)))}
                         for poly, inclusion in polys]}


def save_route(session: Session, plan: RoutePlan, *, name: str, data_dir: str | Path,
               area: PatrolArea | None = None, parent: Route | None = None) -> Route:
    """Store a planned route: write ``<data_dir>/plans/<slug>.plan`` (mission, geofence and
    rally points) and ``.waypoints`` and insert or update (by name) its :class:`Route` row.

    Parameters
    ----------
    session : Session
        The caller's session (flushed, not committed).
    plan : RoutePlan
        The route.
    name : str
        Route name; the file names are its :func:`slugify` form.
    data_dir : str or Path
        The data root; stored paths are relative to it.
    area : PatrolArea, optional
        The patrol area the route serves.
    parent : Route, optional
        For a battery sortie (``plan.stats["sortie_index"]``), the stored route it is cut from.

    Returns
    -------
    Route
        With ``items`` as dicts, ``path`` a GeoJSON LineString (WGS84), ``stats`` and
        ``params`` from the plan, ``fence`` (:func:`fence_geojson`), ``rally_points``, and
        for a sortie ``parent``, ``sortie_index`` and ``sortie_count``.

    Raises
    ------
    OSError
        If the files cannot be written.
    """
    data_dir = Path(data_dir)
    folder = data_dir / PLANS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    slug = slugify(name)
    plan_file = write_plan(plan, folder / f"{slug}.plan")
    wpl_file = write_waypoints(plan, folder / f"{slug}.waypoints")
    route = session.scalars(sa.select(Route).where(Route.name == name)).first()
    if route is None:
        route = Route(name=name)
        session.add(route)
    route.pattern = plan.pattern
    route.area = area
    route.params = _json_ready(plan.params)
    route.stats = _json_ready(plan.stats)
    route.items = [item.to_dict() for item in plan.items]
    route.path = {"type": "LineString", "coordinates": [list(p) for p in plan.path_wgs84]}
    route.plan_path = plan_file.relative_to(data_dir).as_posix()
    route.waypoints_path = wpl_file.relative_to(data_dir).as_posix()
    route.fence = fence_geojson(plan)
    route.rally_points = [[float(v) for v in p] for p in plan.rally_points_wgs84]
    route.parent = parent
    route.sortie_index = plan.stats.get("sortie_index")
    route.sortie_count = plan.stats.get("sortie_count")
    session.flush()
    return route


def save_sorties(session: Session, plan: RoutePlan, sorties: list[RoutePlan], *, name: str,
                 data_dir: str | Path, area: PatrolArea | None = None) -> tuple[Route, list[Route]]:
    """Store a route and its battery sorties (:func:`missions.sorties.split_sorties`).

    The route is saved as ``name`` and each sortie as ``"<name> sortie <i> of <n>"`` (files
    named after its slug), pointing to the route. Sorties stored before under the route from
    another split (other names) are detached from it (``parent`` None) but kept, since flights
    may refer to them.

    Returns
    -------
    (Route, list of Route)
        The route's row and its sorties' rows in flying order.
    """
    parent = save_route(session, plan, name=name, data_dir=data_dir, area=area)
    rows = [save_route(session, s, name=f"{name} sortie {k} of {len(sorties)}",
                       data_dir=data_dir, area=area, parent=parent)
            for k, s in enumerate(sorties, start=1)]
    keep = {r.id for r in rows}
    for old in session.scalars(sa.select(Route).where(Route.parent_id == parent.id)).all():
        if old.id not in keep:
            old.parent = None
    session.flush()
    return parent, rows


def route_fence_items(route: Route, *, return_point: bool = True,
                      storage_bytes: int = FENCE_STORAGE_BYTES) -> list[MissionItem]:
    """A stored route's geofence as MAV_MISSION_TYPE_FENCE items (empty when it has none):
    its ``fence`` polygons fitted to ``storage_bytes`` (:func:`missions.safety.fit_fence`),
    then a return point at its home (item 0).

    Raises
    ------
    MissionError
        If the stored fence is not a FeatureCollection of Polygons, or cannot fit.
    """
    features = (route.fence or {}).get("features", [])
    polygons = []
    for k, feature in enumerate(features):
        try:
            geom = shape(feature["geometry"])
            inclusion = bool(feature["properties"]["inclusion"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise MissionError(f"route {route.name!r}: fence feature {k} is not a Polygon with "
                               f"properties.inclusion ({err})") from err
        if geom.geom_type != "Polygon":
            raise MissionError(f"route {route.name!r}: fence feature {k} is a {geom.geom_type}, "
                               "not a Polygon")
        polygons.append((geom, inclusion))
    if not polygons:
        return []
    fitted = fit_fence(polygons, storage_bytes=storage_bytes, return_point=return_point)
    home = MissionItem.from_dict(route.items[0]) if route.items else None
    point = (home.lon_deg, home.lat_deg) if return_point and home is not None else None
    return fence_polygon_items(fitted, point)


def route_rally_items(route: Route) -> list[MissionItem]:
    """A stored route's rally points as MAV_MISSION_TYPE_RALLY items."""
    return rally_point_items(route.rally_points or [])
