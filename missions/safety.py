"""Geofence and rally points of a planned route, and their MAVLink items.

**Geofence** (ArduPilot polygon fence, uploaded with MAV_MISSION_TYPE_FENCE):

- *inclusion polygon*: the union of the area (survey area, corridor, orbit circle) and of the
  whole flown path (home, transits, passes) each grown by a margin (default
  :data:`missions.plan.FENCE_MARGIN_M`; mitred joins and square ends, which lie outside the
  round buffer, so the margin holds at corners too and few vertices are needed), its holes
  filled (the no-fly zones inside it are exclusion polygons of their own);
- *exclusion polygons*: the no-fly zones (their outer rings), as given;
- *return point*: home (used by ArduPlane on a breach; ArduCopter returns to launch or to the
  nearest rally point and ignores it).

ArduPilot keeps the fence in a small storage area. ``AC_PolyFence_loader::
fence_storage_space_required`` counts 4 bytes of header, per polygon 1 type byte + 1 count byte
+ 8 bytes per vertex, 1 + 8 bytes for the return point, and the loader writes a 1-byte end
marker; a polygon has at most 255 vertices (uint8 count). ArduCopter's storage layout
(``libraries/StorageManager/StorageManager.cpp``) gives the fence 560 bytes on boards with 16 KiB
of storage or more (Pixhawk class, SITL) and 304 bytes on 8 KiB boards:
:data:`FENCE_STORAGE_BYTES`. The inclusion polygon is simplified outwards (grown by the
tolerance with mitred joins, then Douglas-Peucker) until the whole fence fits; it only ever
grows, so it still contains the area and path with at least the margin.

**Rally points** (MAV_MISSION_TYPE_RALLY, MAV_CMD_NAV_RALLY_POINT): home first, then a greedy
cover of the flown path: walking along the path in 25 m steps, a point becomes a rally point
when it is at least ``spacing_m`` (default :data:`RALLY_SPACING_M`, 500 m) from every rally
point chosen so far, so every point of the path ends within ``spacing_m`` of one; sortie
start and end points can be seeded. Points within the no-fly margin of a zone are skipped. If
more than ``max_points`` (default :data:`MAX_RALLY_POINTS`; ArduCopter stores 26 rally points
of 15 bytes on 8 KiB boards) would be needed, the spacing grows by a quarter until they fit.
The rally points lie on the planned path, so they are reachable and outside the zones; whether
the ground there is a safe place to land is for the operator to check. The altitude is the
route's cruise altitude above home.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from missions.errors import MissionError
from missions.items import (MissionItem, fence_return_point_item, fence_vertex_item,
                            rally_point_item)
from missions.plan import FENCE_MARGIN_M, RoutePlan
from missions.routing import FreeSpace
from patrol.geodesy import LocalProjection

__all__ = ["FENCE_STORAGE_BYTES", "RALLY_SPACING_M", "MAX_RALLY_POINTS", "apply_safety",
           "inclusion_fence_xy", "rally_points_xy", "fence_polygons", "fence_storage_bytes",
           "fit_fence", "fence_polygon_items", "fence_items", "rally_point_items", "rally_items",
           "plan_free_space"]

XY = tuple[float, float]

#: Bytes of fence storage on ArduCopter with >= 16 KiB of parameter storage (module notes).
FENCE_STORAGE_BYTES = 560
#: Default distance between rally points along the route (m).
RALLY_SPACING_M = 500.0
#: Default greatest number of rally points.
MAX_RALLY_POINTS = 20
_MAX_POLYGON_VERTICES = 255
_SAMPLE_STEP_M = 25.0


def _polygons(geom: BaseGeometry | None) -> list[Polygon]:
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


def _vertices(poly: Polygon) -> int:
    return len(poly.exterior.coords) - 1


def fence_storage_bytes(polygons: Sequence[tuple[Polygon, bool]], return_point: bool = True) -> int:
    """Bytes ArduPilot needs to store a fence of ``polygons`` (plus the return point), as
    ``AC_PolyFence_loader::fence_storage_space_required`` counts them, plus the end marker.

    >>> fence_storage_bytes([(Polygon([(0, 0), (1, 0), (1, 1), (0, 1)]), True)])
    48
    """
    total = 4 + 1 + (9 if return_point else 0)
    return total + sum(2 + 8 * _vertices(p) for p, _ in polygons)


def _fit_outwards(poly: Polygon, max_vertices: int, max_tol_m: float) -> Polygon | None:
    """``poly`` (projected metres) simplified to at most ``max_vertices`` while containing it:
    grown by the tolerance with mitred joins, then Douglas-Peucker with that tolerance,
    doubling the tolerance from 0.5 m up to ``max_tol_m``; None if that is not enough."""
    shell = Polygon(poly.exterior)
    if _vertices(shell) <= max_vertices:
        return shell
    tol = 0.5
    while tol <= max_tol_m:
        grown = shell.buffer(1.05 * tol, join_style="mitre", mitre_limit=2.0)
        cand = Polygon(max(_polygons(grown), key=lambda g: g.area).exterior)
        cand = cand.simplify(tol, preserve_topology=True)
        if (isinstance(cand, Polygon) and cand.is_valid and _vertices(cand) <= max_vertices
                and cand.buffer(1e-6).covers(shell)):
            return cand
        tol *= 2.0
    return None


def inclusion_fence_xy(path_xy: Sequence[XY], area_xy: BaseGeometry | None, margin_m: float,
                       *, max_vertices: int = _MAX_POLYGON_VERTICES) -> Polygon:
    """The inclusion polygon (projected metres) around an area and a flown path.

    Parameters
    ----------
    path_xy : sequence of (x, y)
        The flown path, home to home (m).
    area_xy : shapely geometry, optional
        What the fence must contain besides the path (m).
    margin_m : float
        Distance kept around the area and path (> 0).
    max_vertices : int
        Most vertices the polygon may have (4..255).

    Returns
    -------
    Polygon
        With no holes, containing the area and the path grown by ``margin_m``; simplified
        outwards to ``max_vertices``, or the minimum rotated rectangle of the convex hull when
        that cannot be done within a tolerance of four margins.

    Raises
    ------
    MissionError
        If ``margin_m`` is not positive or ``max_vertices`` < 4.
    """
    if not margin_m > 0:
        raise MissionError(f"geofence margin must be > 0 m, got {margin_m!r}")
    if max_vertices < 4:
        raise MissionError(f"a geofence inclusion polygon needs at least 4 vertices here, "
                           f"got room for {max_vertices}")
    # Each leg grown with square ends (which hold the disk of the margin around both ends, so
    # the round buffer of the path) and the area with mitred joins (outside the round ones):
    # the full margin everywhere, few vertices. Legs one by one, since GEOS mitres a path that
    # turns back on itself (home -> orbit -> home) wrongly.
    pts = np.asarray(path_xy, dtype=float).reshape(-1, 2)
    legs = np.array(sorted({tuple(sorted((tuple(a), tuple(b)))) for a, b in zip(pts, pts[1:])
                            if math.dist(a, b) > 1e-6}), dtype=float).reshape(-1, 2, 2)
    geoms = [] if len(legs) else [Point(pts[0]).buffer(margin_m, cap_style="square")]
    if area_xy is not None and not area_xy.is_empty:
        grown = area_xy.buffer(margin_m, join_style="mitre", mitre_limit=2.0)
        geoms.append(grown)
        if len(legs):  # legs inside the area add nothing
            legs = legs[~shapely.covers(area_xy, shapely.linestrings(legs))]
    if len(legs):
        geoms.extend(shapely.buffer(shapely.linestrings(legs), margin_m, cap_style="square"))
    union = shapely.union_all(geoms)
    parts = _polygons(union)
    if len(parts) == 1:
        fitted = _fit_outwards(parts[0], max_vertices, 4.0 * margin_m)
        if fitted is not None:
            return fitted
    hull = union.convex_hull
    fitted = _fit_outwards(hull, max_vertices, 4.0 * margin_m)
    return fitted if fitted is not None else hull.minimum_rotated_rectangle


def rally_points_xy(path_xy: Sequence[XY], free: FreeSpace, *, spacing_m: float = RALLY_SPACING_M,
                    max_points: int = MAX_RALLY_POINTS, seeds_xy: Iterable[XY] = ()) -> list[XY]:
    """Rally points (projected metres) for a path: its first point (home), the ``seeds_xy``,
    then a greedy cover of the path every ``spacing_m`` (module notes).

    Points inside ``free.blocked`` (the zones grown by the no-fly margin) are never chosen.

    Raises
    ------
    MissionError
        If ``spacing_m`` is not positive or ``max_points`` < 1.
    """
    if not spacing_m > 0:
        raise MissionError(f"rally point spacing must be > 0 m, got {spacing_m!r}")
    if max_points < 1:
        raise MissionError(f"max_points must be >= 1, got {max_points!r}")
    pts = np.asarray(path_xy, dtype=float).reshape(-1, 2)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    if cum[-1] > 0:
        dists = np.append(np.arange(0.0, cum[-1], _SAMPLE_STEP_M), cum[-1])
        samples = np.column_stack([np.interp(dists, cum, pts[:, 0]),
                                   np.interp(dists, cum, pts[:, 1])])
    else:
        samples = pts[:1]
    seeds = [pts[0]] + [np.asarray(s, dtype=float) for s in seeds_xy]
    if not free.empty:
        blocked = free.blocked
        shapely.prepare(blocked)
        samples = samples[~shapely.intersects(shapely.points(samples), blocked)]
        seeds = [seeds[0]] + [s for s in seeds[1:] if not blocked.intersects(Point(s))]
    while True:
        chosen: list[np.ndarray] = []
        for s in seeds:
            if not chosen or min(math.dist(s, c) for c in chosen) > 1.0:
                chosen.append(s)
        # greedy along the path: the next sample at least spacing_m from every chosen point
        nearest = np.full(len(samples), np.inf)
        for c in chosen:
            nearest = np.minimum(nearest, np.hypot(*(samples - c).T))
        k = 0
        while len(chosen) <= max_points:
            far = np.flatnonzero(nearest[k:] >= spacing_m)
            if not len(far):
                break
            k += int(far[0])
            chosen.append(samples[k])
            nearest = np.minimum(nearest, np.hypot(*(samples - samples[k]).T))
        if len(chosen) <= max_points:
            return [(float(x), float(y)) for x, y in chosen]
        if len(seeds) >= max_points:
            seeds = seeds[:max_points]
        spacing_m *= 1.25


def apply_safety(plan: RoutePlan, area_xy: BaseGeometry | None = None, *,
                 fence_margin_m: float | None = None, rally_spacing_m: float = RALLY_SPACING_M,
                 max_rally_points: int = MAX_RALLY_POINTS, rally_seeds_xy: Iterable[XY] = (),
                 storage_bytes: int = FENCE_STORAGE_BYTES) -> RoutePlan:
    """Set a plan's geofence and rally points (in place) and return it.

    Parameters
    ----------
    plan : RoutePlan
        The route; its path and no-fly zones are used.
    area_xy : shapely geometry, optional
        The area the fence must contain, in the plan's projected metres (survey area, corridor,
        orbit circle); kept on the plan as ``fence_area_wgs84``. None reuses the stored one.
    fence_margin_m : float, optional
        Margin around the area and path (m); default the plan's ``params["fence_margin_m"]``
        or :data:`missions.plan.FENCE_MARGIN_M`. Recorded in ``params["fence_margin_m"]``.
    rally_spacing_m, max_rally_points, rally_seeds_xy
        As :func:`rally_points_xy` (seeds in projected metres).
    storage_bytes : int
        Fence storage of the autopilot (bytes); the inclusion polygon is simplified to fit
        beside the exclusion polygons and the return point.

    Returns
    -------
    RoutePlan
        ``plan``, with ``geofence_inclusion_wgs84``, ``rally_points_wgs84`` and
        ``fence_area_wgs84`` set.

    Raises
    ------
    MissionError
        If the margin or spacing is not positive.
    """
    proj = plan.projection
    if area_xy is not None:
        plan.fence_area_wgs84 = proj.unproject(area_xy)
    elif plan.fence_area_wgs84 is not None:
        area_xy = proj.project(plan.fence_area_wgs84)
    margin = float(fence_margin_m if fence_margin_m is not None
                   else plan.params.get("fence_margin_m") or FENCE_MARGIN_M)
    plan.params["fence_margin_m"] = margin
    path = np.column_stack(proj.to_xy(*np.asarray(plan.path_wgs84, dtype=float).T))
    exclusions = [(Polygon(p.exterior), False) for z in plan.no_fly_wgs84 for p in _polygons(z)]
    room = storage_bytes - fence_storage_bytes(exclusions) - 2
    max_vertices = max(4, min(_MAX_POLYGON_VERTICES, room // 8))
    fence_xy = inclusion_fence_xy(path, area_xy, margin, max_vertices=max_vertices)
    plan.geofence_inclusion_wgs84 = proj.unproject(fence_xy)

    free = plan_free_space(plan)
    alt = float(plan.stats.get("alt_rel_m", plan.params.get("alt_rel_m") or 0.0))
    rally = rally_points_xy(path, free, spacing_m=rally_spacing_m, max_points=max_rally_points,
                            seeds_xy=rally_seeds_xy)
    arr = np.asarray(rally, dtype=float)
    lon, lat = proj.to_lonlat(arr[:, 0], arr[:, 1])
    plan.rally_points_wgs84 = [(float(a), float(b), alt) for a, b in zip(lon, lat)]
    plan.rally_points_wgs84[0] = (*plan.home_wgs84, alt)
    return plan


def plan_free_space(plan: RoutePlan) -> FreeSpace:
    """The plan's no-fly zones (projected metres) with its no-fly margin
    (``params["no_fly_margin_m"]``, default 5 m), for legs around them."""
    proj = plan.projection
    margin = float(plan.params.get("no_fly_margin_m") or 5.0)
    return FreeSpace([proj.project(z) for z in plan.no_fly_wgs84], margin)


def fit_fence(polygons: Sequence[tuple[Polygon, bool]], *,
              storage_bytes: int = FENCE_STORAGE_BYTES, return_point: bool = True,
              zone_tolerance_m: float = 1.0, fence_tolerance_m: float = 4.0 * FENCE_MARGIN_M
              ) -> list[tuple[Polygon, bool]]:
    """Fence polygons (WGS84, inclusion flag) made to fit the autopilot's fence storage: each
    at most 255 vertices, all together at most ``storage_bytes`` (:func:`fence_storage_bytes`).

    Only outer rings are kept. Exclusions over 255 vertices, then (if the fence does not fit)
    every exclusion, are simplified outwards within ``zone_tolerance_m``; inclusion polygons
    are simplified outwards into the room left, within ``fence_tolerance_m``, or replaced by
    their minimum rotated rectangle. Polygons only grow (exclusions by at most about twice
    ``zone_tolerance_m``); a fence that fits comes back as given, inclusions first.

    Raises
    ------
    MissionError
        If the fence cannot fit in ``storage_bytes`` (says how many bytes it needs).
    """
    shells = [(Polygon(p.exterior), inc) for p, inc in polygons]
    if not shells:
        return []
    proj = LocalProjection.for_geometry(shapely.union_all([p for p, _ in shells]))
    shells.sort(key=lambda s: not s[1])  # inclusions first, in their order
    given = [proj.project(p) for p, _ in shells]
    inclusions = [g for g, (_, inc) in zip(given, shells) if inc]
    zones = [g for g, (_, inc) in zip(given, shells) if not inc]

    def size(inc: list[Polygon], exc: list[Polygon]) -> int:
        return fence_storage_bytes([(z, True) for z in inc] + [(z, False) for z in exc],
                                   return_point)

    zones = [z if _vertices(z) <= _MAX_POLYGON_VERTICES
             else _fit_outwards(z, _MAX_POLYGON_VERTICES, zone_tolerance_m) or z for z in zones]
    if size(inclusions, zones) > storage_bytes:
        zones = [_fit_outwards(z, max(3, _vertices(z) // 2), zone_tolerance_m) or z
                 for z in zones]
    if inclusions and size(inclusions, zones) > storage_bytes:
        room = (storage_bytes - size([], zones)) // len(inclusions) - 2
        inclusions = [_fit_outwards(z, max(4, min(_MAX_POLYGON_VERTICES, room // 8)),
                                    fence_tolerance_m) or z.minimum_rotated_rectangle
                      for z in inclusions]
    inclusions = [z if _vertices(z) <= _MAX_POLYGON_VERTICES else z.minimum_rotated_rectangle
                  for z in inclusions]
    need = size(inclusions, zones)
    if need > storage_bytes or any(_vertices(z) > _MAX_POLYGON_VERTICES for z in zones):
        raise MissionError(f"the geofence needs {need} bytes of fence storage "
                           f"({len(zones)} no-fly zones with {sum(map(_vertices, zones))} "
                           f"vertices) but the autopilot keeps {storage_bytes}; merge or "
                           "simplify the no-fly zones")
    fitted = [*inclusions, *zones]
    return [shell if new is old else (proj.unproject(new), shell[1])
            for shell, old, new in zip(shells, given, fitted)]


def fence_polygons(plan: RoutePlan, *, storage_bytes: int = FENCE_STORAGE_BYTES,
                   return_point: bool = True) -> list[tuple[Polygon, bool]]:
    """The fence of a plan as (polygon WGS84, inclusion) pairs: the inclusion polygon first,
    then one exclusion per no-fly zone (outer ring), fitted by :func:`fit_fence` with zones
    simplified by at most a fifth of the no-fly margin (so they stay clear of the path, which
    keeps half the margin).

    Raises
    ------
    MissionError
        If the fence cannot fit in ``storage_bytes`` (says how many bytes it needs).
    """
    polys = ([(plan.geofence_inclusion_wgs84, True)]
             if plan.geofence_inclusion_wgs84 is not None else [])
    polys += [(p, False) for z in plan.no_fly_wgs84 for p in _polygons(z)]
    margin = float(plan.params.get("no_fly_margin_m") or 5.0)
    fence_margin = float(plan.params.get("fence_margin_m") or FENCE_MARGIN_M)
    return fit_fence(polys, storage_bytes=storage_bytes, return_point=return_point,
                     zone_tolerance_m=0.2 * margin, fence_tolerance_m=4.0 * fence_margin)


def fence_polygon_items(polygons: Sequence[tuple[Polygon, bool]],
                        return_point_wgs84: tuple[float, float] | None = None
                        ) -> list[MissionItem]:
    """MAV_MISSION_TYPE_FENCE items of fence polygons (WGS84, inclusion flag), in order: one
    MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION/_EXCLUSION per vertex of the outer ring
    (param1 = the polygon's vertex count; ring not closed), then a
    MAV_CMD_NAV_FENCE_RETURN_POINT at ``return_point_wgs84`` (lon, lat) if given.

    Raises
    ------
    MissionError
        If a polygon has fewer than 3 or more than 255 vertices.
    """
    items: list[MissionItem] = []
    for poly, inclusion in polygons:
        ring = list(poly.exterior.coords)[:-1]
        items.extend(fence_vertex_item(lon, lat, len(ring), inclusion=inclusion)
                     for lon, lat in ring)
    if return_point_wgs84 is not None:
        items.append(fence_return_point_item(*return_point_wgs84))
    return items


def fence_items(plan: RoutePlan, *, return_point: bool = True,
                storage_bytes: int = FENCE_STORAGE_BYTES) -> list[MissionItem]:
    """The plan's geofence as MAV_MISSION_TYPE_FENCE items, as ArduPilot takes them.

    One MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION per vertex of the inclusion polygon and one
    MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION per vertex of each no-fly zone (param1 = the
    polygon's vertex count; rings not closed), then, with ``return_point``, a
    MAV_CMD_NAV_FENCE_RETURN_POINT at home. Polygons from :func:`fence_polygons`.

    Raises
    ------
    MissionError
        As :func:`fence_polygons`.
    """
    polys = fence_polygons(plan, storage_bytes=storage_bytes, return_point=return_point)
    return fence_polygon_items(polys, plan.home_wgs84 if return_point else None)


def rally_point_items(points: Iterable[Sequence[float]]) -> list[MissionItem]:
    """MAV_MISSION_TYPE_RALLY items of (lon, lat, alt_rel_m) points (MAV_CMD_NAV_RALLY_POINT,
    MAV_FRAME_GLOBAL_RELATIVE_ALT)."""
    return [rally_point_item(float(p[0]), float(p[1]), float(p[2])) for p in points]


def rally_items(plan: RoutePlan) -> list[MissionItem]:
    """The plan's rally points as MAV_MISSION_TYPE_RALLY items (MAV_CMD_NAV_RALLY_POINT,
    MAV_FRAME_GLOBAL_RELATIVE_ALT, altitude above home)."""
    return rally_point_items(plan.rally_points_wgs84)
