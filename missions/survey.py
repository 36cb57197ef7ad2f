"""Survey pattern: boustrophedon coverage of an area with holes and no-fly zones.

Steps (all in the UTM zone of the area, :class:`patrol.geodesy.LocalProjection`):

1. Target = area minus its holes minus the extra no-fly polygons; exclusions = the holes and
   the no-fly polygons, grown by ``no_fly_margin_m`` for passes (:class:`missions.routing.FreeSpace`).
2. For each candidate sweep angle (every edge direction of the target and of its minimum
   rotated rectangle, plus every 15 degrees) lay strips one line spacing wide, a pass per strip
   part covering its whole extent (:func:`missions.transects.strip_sweeps`), group passes into
   cells, and estimate the route length with straight legs; the best few angles are then
   planned in full (legs around the zones, improved cell order) and the shortest route wins.
   A given ``sweep_angle_deg`` skips the search.
3. Gaps left where passes had to stop short of a zone are covered with extra passes.
4. Cells are ordered and their entry corners chosen (:mod:`missions.ordering`); transits go
   around the zones by the shortest path on a visibility graph.
5. Photos by trigger distance: MAV_CMD_DO_SET_CAM_TRIGG_DIST on at the start of each pass
   and off at its end (both with "trigger once", as QGroundControl does), so no photo is taken
   on transits.

Coverage is measured with the photo footprints (rectangles along the track at every trigger
position); without a camera (``line_spacing_m`` alone) each pass sweeps a swath of
``line_spacing_m`` (the pass buffered by half the spacing, the measure of the coverage
benchmark's README).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from missions.areas import AreaSpec
from missions.camera import Camera
from missions.errors import MissionError
from missions.ordering import Run, order_runs
from missions.plan import RouteBuilder, RoutePlan
from missions.routing import FreeSpace
from missions.transects import Sweep, SweepFrame, fill_sweeps, group_cells, strip_sweeps
from patrol.geodesy import LocalProjection

__all__ = ["plan_survey", "resolve_camera"]

XY = tuple[float, float]

#: How many of the best angles (by the quick estimate) are planned in full.
_REFINE_ANGLES = 3
#: Gaps smaller than this fraction of spacing^2 are left (they are slivers against a zone).
_FILL_MIN_GAP = 0.02


def resolve_camera(camera: Camera | None, *, alt_rel_m: float | None, gsd_cm_px: float | None,
                   front_overlap: float, side_overlap: float, line_spacing_m: float | None
                   ) -> dict[str, Any]:
    """Altitude, GSD, line spacing, trigger distance and footprint from the inputs.

    Raises
    ------
    MissionError
        If neither or both of ``alt_rel_m``/``gsd_cm_px`` are given with a camera, if
        ``alt_rel_m`` is missing without one, or a figure is out of range.
    """
    if camera is not None:
        if (alt_rel_m is None) == (gsd_cm_px is None):
            raise MissionError("give exactly one of alt_rel_m or gsd_cm_px with a camera")
        alt = alt_rel_m if alt_rel_m is not None else camera.alt_for_gsd_m(gsd_cm_px)
        spacing = line_spacing_m if line_spacing_m is not None else camera.line_spacing_m(alt, side_overlap)
        trigger = camera.trigger_distance_m(alt, front_overlap)
        footprint = camera.footprint_m(alt)
        gsd = camera.gsd_cm_px(alt)
    else:
        if line_spacing_m is None:
            raise MissionError("without a camera give line_spacing_m (and alt_rel_m)")
        if alt_rel_m is None or not alt_rel_m > 0:
            raise MissionError(f"alt_rel_m must be > 0 m, got {alt_rel_m!r}")
        alt, spacing, trigger, footprint, gsd = alt_rel_m, line_spacing_m, None, None, None
    if not spacing > 0:
        raise MissionError(f"line spacing must be > 0 m, got {spacing!r}")
    return {"alt_rel_m": float(alt), "line_spacing_m": float(spacing),
            "trigger_distance_m": trigger, "footprint_m": footprint, "gsd_cm_px": gsd}


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


def _candidate_angles(target: BaseGeometry, max_edges: int = 24) -> list[float]:
    edges: list[tuple[float, float]] = []
    rings = [r for p in _polygons(target) for r in (p.exterior, *p.interiors)]
    rings.append(shapely.minimum_rotated_rectangle(target).exterior)
    for ring in rings:
        c = np.asarray(ring.coords)
        d = np.diff(c, axis=0)
        for (dx, dy), length in zip(d, np.hypot(d[:, 0], d[:, 1])):
            if length > 1.0:
                edges.append((length, math.degrees(math.atan2(dx, dy)) % 180.0))
    edges.sort(reverse=True)
    angles: list[float] = []
    for _, a in edges:
        if all(min(abs(a - b), 180 - abs(a - b)) > 1.0 for b in angles):
            angles.append(a)
        if len(angles) >= max_edges:
            break
    for a in range(0, 180, 15):
        if all(min(abs(a - b), 180 - abs(a - b)) > 1.0 for b in angles):
            angles.append(float(a))
    return angles


@dataclass
class _Layout:
    angle: float
    frame: SweepFrame
    sweeps: list[Sweep]
    runs: list[Run]
    points: np.ndarray
    total_m: float
    cells: int


def _cover_geoms(sweeps: Sequence[Sweep], spacing: float, footprint: tuple[float, float] | None):
    if footprint is not None:
        across, along = footprint
        x = np.array([s.x for s in sweeps])
        return shapely.box(x - 0.5 * across, np.array([s.y0 for s in sweeps]) - 0.5 * along,
                           x + 0.5 * across, np.array([s.y1 for s in sweeps]) + 0.5 * along)
    lines = shapely.linestrings([[(s.x, s.y0), (s.x, s.y1)] for s in sweeps])
    return shapely.buffer(lines, 0.5 * spacing)


def _extension(frame_blocked: BaseGeometry, x: float, y: float, sign: float, length: float) -> float:
    """How far a pass end at (x, y) can be extended by ``sign * length`` along y, stopping
    short of the zones."""
    if length <= 0.0:
        return 0.0
    seg = LineString([(x, y), (x, y + sign * length)])
    if frame_blocked.is_empty or not frame_blocked.intersects(seg):
        return length
    free = seg.difference(frame_blocked)
    for part in getattr(free, "geoms", [free]):
        if not part.is_empty and part.distance(shapely.Point(x, y)) < 1e-6:
            return part.length
    return 0.0


def _cell_runs(cell_index: int, cell: list[Sweep], frame: SweepFrame, blocked_r: BaseGeometry,
               turnaround_m: float, leg_len, point_index) -> list[Run]:
    ext = [(_extension(blocked_r, s.x, s.y0, -1.0, turnaround_m),
            _extension(blocked_r, s.x, s.y1, +1.0, turnaround_m)) for s in cell]
    runs = []
    for reverse in (False, True):
        order = list(range(len(cell)))[::-1] if reverse else list(range(len(cell)))
        for first_up in (True, False):
            legs = []
            for k, idx in enumerate(order):
                s, (e_lo, e_hi) = cell[idx], ext[idx]
                up = first_up if k % 2 == 0 else not first_up
                if up:
                    pts = [(s.x, s.y0 - e_lo), (s.x, s.y0), (s.x, s.y1), (s.x, s.y1 + e_hi)]
                else:
                    pts = [(s.x, s.y1 + e_hi), (s.x, s.y1), (s.x, s.y0), (s.x, s.y0 - e_lo)]
                legs.append(frame.to_world_xy(np.array(pts)))
            internal = sum(s.length + e[0] + e[1] for s, e in zip(cell, ext))
            internal += sum(leg_len(tuple(a[-1]), tuple(b[0])) for a, b in zip(legs, legs[1:]))
            runs.append(Run(cell_index, point_index(tuple(legs[0][0])),
                            point_index(tuple(legs[-1][-1])), internal, legs))
    return runs


def _layout(angle: float, target: BaseGeometry, free: FreeSpace, origin: XY, spacing: float,
            footprint, turnaround_m: float, home_xy: XY | None, *, final: bool) -> _Layout:
    frame = SweepFrame(angle, origin)
    target_r = frame.to_sweep(target)
    blocked_r = frame.to_sweep(free.blocked) if not free.empty else free.blocked
    sweeps = strip_sweeps(target_r, blocked_r, spacing)
    if final and sweeps:
        for _ in range(2):
            covered = shapely.union_all(_cover_geoms(sweeps, spacing, footprint))
            residual = target_r.difference(covered)
            if residual.area <= 1e-4 * target_r.area:
                break
            extra = fill_sweeps(residual, blocked_r, spacing, _FILL_MIN_GAP * spacing ** 2)
            if not extra:
                break
            sweeps = sweeps + extra
    cells = group_cells(sweeps)
    table: dict[XY, int] = {}
    pts: list[XY] = []

    def point_index(p: XY) -> int:
        key = (round(p[0], 3), round(p[1], 3))
        if key not in table:
            table[key] = len(pts)
            pts.append(key)
        return table[key]

    home_i = point_index(home_xy) if home_xy is not None else None
    leg_len = free.path_length if final else math.dist
    options = [_cell_runs(i, c, frame, blocked_r, turnaround_m, leg_len, point_index)
               for i, c in enumerate(cells)]
    points = np.array(pts, dtype=float).reshape(-1, 2)
    if final:
        dist = free.distance_matrix(points)
    else:
        diff = points[:, None, :] - points[None, :, :]
        dist = np.hypot(diff[..., 0], diff[..., 1])
    total, runs = order_runs(options, dist, start=home_i, end=home_i, improve=final)
    if home_i is None and runs:
        # No home: the vehicle launches at the first pass and returns there; order again as
        # a closed tour from that point.
        first = runs[0].entry
        total, runs = order_runs(options, dist, start=first, end=first, improve=final)
    return _Layout(angle, frame, sweeps, runs, points, total, len(cells))


def _as_area(area: AreaSpec | BaseGeometry) -> BaseGeometry:
    geom = area.geometry if isinstance(area, AreaSpec) else area
    if not isinstance(geom, (Polygon, MultiPolygon)) or geom.is_empty:
        raise MissionError(f"a survey needs a Polygon or MultiPolygon area, got "
                           f"{getattr(geom, 'geom_type', type(geom).__name__)}")
    if not geom.is_valid:
        raise MissionError(f"survey area is not a valid polygon: {shapely.is_valid_reason(geom)}")
    return geom


def plan_survey(area: AreaSpec | BaseGeometry, camera: Camera | None = None, *,
                alt_rel_m: float | None = None, gsd_cm_px: float | None = None,
                front_overlap: float = 0.75, side_overlap: float = 0.65, speed_m_s: float = 10.0,
                turnaround_m: float = 0.0, sweep_angle_deg: float | None = None,
                no_fly: Iterable[BaseGeometry] = (), home: tuple[float, float] | None = None,
                takeoff_alt_m: float | None = None, line_spacing_m: float | None = None,
                no_fly_margin_m: float = 5.0) -> RoutePlan:
    """Plan a survey (lawnmower) route covering an area, keeping out of no-fly zones.

    Parameters
    ----------
    area : AreaSpec or shapely Polygon/MultiPolygon
        WGS84 lon/lat; holes are no-fly zones.
    camera : Camera, optional
        Nadir camera; footprint, line spacing and trigger distance come from it. Without one,
        give ``line_spacing_m`` and ``alt_rel_m`` (no photos are planned).
    alt_rel_m, gsd_cm_px : float
        Flight altitude above home (m), or the GSD (cm/px) it is computed from (one of them).
    front_overlap, side_overlap : float
        Fractions 0-1 of photo overlap along and across the track.
    speed_m_s : float
        Ground speed on the route.
    turnaround_m : float
        Distance flown straight on beyond each pass end (camera off), stopping short of zones.
    sweep_angle_deg : float, optional
        Direction of the passes, degrees clockwise from grid north; None chooses the angle
        giving the shortest route.
    no_fly : iterable of shapely Polygon/MultiPolygon
        Further no-fly zones (WGS84), excluded from the target and from every leg.
    home : (lon, lat), optional
        Take-off and return point; None starts at the first pass.
    takeoff_alt_m : float, optional
        Take-off altitude above home (default: ``alt_rel_m``).
    line_spacing_m : float, optional
        Distance between passes set directly instead of from the camera and side overlap.
    no_fly_margin_m : float
        Clearance kept between passes and no-fly zones (m, > 0); transits keep at least half.

    Returns
    -------
    RoutePlan
        With ``stats``: ``path_length_m``, ``est_flight_time_s``, ``photo_count``,
        ``gsd_cm_px``, ``alt_rel_m``, ``line_spacing_m``, ``trigger_distance_m``,
        ``coverage_fraction`` (of the area minus holes and zones), ``turns``, ``passes``,
        ``cells``, ``sweep_angle_deg``, ``area_m2``, ``planning_ms``.

    Raises
    ------
    MissionError
        Bad parameters, an invalid or empty area, home inside a no-fly zone, or a part of the
        area no leg can reach.
    """
    t0 = time.perf_counter()
    geom = _as_area(area)
    cam = resolve_camera(camera, alt_rel_m=alt_rel_m, gsd_cm_px=gsd_cm_px,
                         front_overlap=front_overlap, side_overlap=side_overlap,
                         line_spacing_m=line_spacing_m)
    if not speed_m_s > 0:
        raise MissionError(f"speed must be > 0 m/s, got {speed_m_s!r}")
    if turnaround_m < 0:
        raise MissionError(f"turnaround must be >= 0 m, got {turnaround_m!r}")
    alt, spacing, footprint = cam["alt_rel_m"], cam["line_spacing_m"], cam["footprint_m"]
    proj = LocalProjection.for_geometry(geom)
    area_xy = proj.project(geom)
    no_fly_wgs = [g for g in no_fly]
    no_fly_xy = [proj.project(g) for g in no_fly_wgs]
    holes_xy = [Polygon(r) for p in _polygons(area_xy) for r in p.interiors]
    free = FreeSpace(holes_xy + no_fly_xy, no_fly_margin_m)
    target = area_xy.difference(shapely.union_all(no_fly_xy)) if no_fly_xy else area_xy
    if target.is_empty or target.area < 1.0:
        raise MissionError("nothing to survey: the area lies entirely in no-fly zones")
    home_xy = None
    if home is not None:
        home_xy = tuple(float(v) for v in proj.to_xy(*home))
        if free.contains(home_xy):
            raise MissionError(f"home ({home[0]:.6f}, {home[1]:.6f}) lies in or within "
                               f"{0.5 * free.margin_m:.1f} m of a no-fly zone")
    origin = (target.centroid.x, target.centroid.y)
    if sweep_angle_deg is not None:
        angles = [float(sweep_angle_deg) % 180.0]
    else:
        quick = [_layout(a, target, free, origin, spacing, footprint, turnaround_m, home_xy,
                         final=False) for a in _candidate_angles(target)]
        quick.sort(key=lambda lay: lay.total_m)
        angles = [lay.angle for lay in quick[:_REFINE_ANGLES]]
    layouts = [_layout(a, target, free, origin, spacing, footprint, turnaround_m, home_xy,
                       final=True) for a in angles]
    best = min(layouts, key=lambda lay: lay.total_m)
    if not best.runs:
        raise MissionError("no pass fits in the area outside the no-fly zones")

    start_xy = home_xy if home_xy is not None else tuple(best.runs[0].payload[0][0])
    builder = RouteBuilder(proj, free, home_xy=start_xy, alt_rel_m=alt,
                           takeoff_alt_m=takeoff_alt_m if takeoff_alt_m is not None else alt,
                           speed_m_s=speed_m_s, home_wgs84=None if home is None else (float(home[0]), float(home[1])))
    for run in best.runs:
        for leg in run.payload:
            lead_in, start, end, lead_out = (tuple(p) for p in leg)
            builder.camera_pass([start, end], cam["trigger_distance_m"],
                                lead_in=lead_in if math.dist(lead_in, start) > 0.01 else None,
                                lead_out=lead_out if math.dist(lead_out, end) > 0.01 else None)
    items, path, photos, headings, passes = builder.finish()

    target_r = best.frame.to_sweep(target)
    covered = shapely.union_all(_cover_geoms(best.sweeps, spacing, footprint))
    coverage = target_r.intersection(covered).area / target_r.area
    stats = builder.base_stats()
    stats.update({
        "gsd_cm_px": None if cam["gsd_cm_px"] is None else round(cam["gsd_cm_px"], 3),
        "line_spacing_m": round(spacing, 2),
        "trigger_distance_m": None if cam["trigger_distance_m"] is None
        else round(cam["trigger_distance_m"], 2),
        "footprint_across_m": None if footprint is None else round(footprint[0], 2),
        "footprint_along_m": None if footprint is None else round(footprint[1], 2),
        "coverage_fraction": round(coverage, 5),
        "area_m2": round(target.area, 1),
        "passes": len(best.sweeps),
        "cells": best.cells,
        "sweep_angle_deg": round(best.angle, 2),
        "planning_ms": round((time.perf_counter() - t0) * 1000.0, 1),
    })
    params = {
        "camera": None if camera is None else camera.name,
        "alt_rel_m": alt, "gsd_cm_px": gsd_cm_px, "front_overlap": front_overlap,
        "side_overlap": side_overlap, "speed_m_s": speed_m_s, "turnaround_m": turnaround_m,
        "sweep_angle_deg": sweep_angle_deg, "line_spacing_m": line_spacing_m,
        "no_fly_margin_m": no_fly_margin_m, "home": list(home) if home else None,
    }
    no_fly_out = [proj.unproject(h) for h in holes_xy] + [
        p for g in no_fly_wgs for p in _polygons(g)]
    return RoutePlan(
        pattern="survey", items=items, path_wgs84=path, photo_positions_wgs84=photos,
        photo_headings_deg=headings, footprint_m=footprint, passes_wgs84=passes, stats=stats,
        params=params, home_wgs84=builder.home_wgs84, epsg=proj.epsg,
        no_fly_wgs84=no_fly_out, geofence_inclusion_wgs84=builder.geofence(area_xy))
