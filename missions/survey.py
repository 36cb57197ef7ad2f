"""Survey pattern: boustrophedon coverage of an area with holes and no-fly zones.

Steps (all in the UTM zone of the area, :class:`patrol.geodesy.LocalProjection`):

1. Target = area minus its holes minus the extra no-fly polygons; exclusions = the holes and
   the no-fly polygons, grown by ``no_fly_margin_m`` for passes
   (:class:`missions.routing.FreeSpace`).
2. For each candidate sweep angle (the directions of the target's longest edges and of its
   minimum rotated rectangle, plus every 15 degrees) the target is cut into strips one line
   spacing wide, with a pass per strip part whose photo footprints cover the part's whole
   extent: the pass stops 40% of a footprint length short of each end, so the last photo
   still reaches 10% of a footprint beyond it (:mod:`missions.transects`). Passes are grouped
   into cells and the route length estimated with straight legs; the best few angles are
   planned in full (legs around the zones, improved cell order) and the shortest route wins.
   A given ``sweep_angle_deg`` skips the search.
3. Decomposition: each cell of that layout is given the angle that suits it best, touching
   cells with the same angle are merged, and the result is kept if its route is shorter
   (:mod:`missions.layout`).
4. Gaps left where passes had to stop short of a zone get extra passes.
5. Cells are ordered and their entry corners chosen (:mod:`missions.ordering`); transits go
   around the zones by the shortest path on a visibility graph.
6. Photos by trigger distance: MAV_CMD_DO_SET_CAM_TRIGG_DIST on at the start of each pass
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
from collections.abc import Iterable
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from missions.areas import AreaSpec
from missions.camera import Camera
from missions.errors import MissionError
from missions.layout import LayoutSpec, covered_world, decomposed_layout, single_angle_layout
from missions.plan import RouteBuilder, RoutePlan
from missions.routing import FreeSpace
from missions.safety import apply_safety
from patrol.geodesy import LocalProjection

__all__ = ["plan_survey", "resolve_camera"]


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
        spacing = (line_spacing_m if line_spacing_m is not None
                   else camera.line_spacing_m(alt, side_overlap))
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


def camera_stats(cam: dict[str, Any]) -> dict[str, float | None]:
    """The camera figures of a plan's statistics (from :func:`resolve_camera`), rounded:
    ``gsd_cm_px``, ``line_spacing_m``, ``trigger_distance_m``, ``footprint_across_m`` and
    ``footprint_along_m`` (None where no camera was given)."""
    footprint = cam["footprint_m"]
    rounded = lambda v, nd: None if v is None else round(v, nd)
    return {
        "gsd_cm_px": rounded(cam["gsd_cm_px"], 3),
        "line_spacing_m": round(cam["line_spacing_m"], 2),
        "trigger_distance_m": rounded(cam["trigger_distance_m"], 2),
        "footprint_across_m": None if footprint is None else round(footprint[0], 2),
        "footprint_along_m": None if footprint is None else round(footprint[1], 2),
    }


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


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
                no_fly_margin_m: float = 5.0, decompose: bool = True,
                photo_mode: str = "distance") -> RoutePlan:
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
    decompose : bool
        Try sweeping each cell at its own angle (step 3 of the module notes).
    photo_mode : str
        ``"distance"`` (trigger distance along the passes) or ``"waypoint"`` (capture at a
        waypoint per photo), :data:`missions.plan.PHOTO_MODES`.

    Returns
    -------
    RoutePlan
        With ``stats``: ``path_length_m``, ``est_flight_time_s``, ``photo_count``,
        ``gsd_cm_px``, ``alt_rel_m``, ``line_spacing_m``, ``trigger_distance_m``,
        ``coverage_fraction`` (of the area minus holes and zones), ``turns``, ``passes``,
        ``cells``, ``sweep_angle_deg`` (absent when cells have different angles),
        ``sweep_angles_deg``, ``area_m2``, ``planning_ms``; camera figures are absent without
        a camera.

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
    home_wgs84 = None if home is None else (float(home[0]), float(home[1]))
    no_fly_wgs = list(no_fly)
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
    spec = LayoutSpec(free, spacing, footprint, turnaround_m, home_xy)
    best = single_angle_layout(target, spec, origin, sweep_angle_deg)
    if sweep_angle_deg is None and decompose:
        split = decomposed_layout(target, best, spec, origin)
        if split is not None and split.runs and split.total_m < best.total_m:
            best = split
    if not best.runs:
        raise MissionError("no pass fits in the area outside the no-fly zones")

    start_xy = home_xy if home_xy is not None else tuple(best.runs[0].payload[0][0])
    builder = RouteBuilder(proj, free, home_xy=start_xy, alt_rel_m=alt,
                           takeoff_alt_m=takeoff_alt_m if takeoff_alt_m is not None else alt,
                           speed_m_s=speed_m_s, home_wgs84=home_wgs84, photo_mode=photo_mode)
    for run in best.runs:
        for leg in run.payload:
            lead_in, start, end, lead_out = (tuple(p) for p in leg)
            builder.camera_pass([start, end], cam["trigger_distance_m"],
                                lead_in=lead_in if math.dist(lead_in, start) > 0.01 else None,
                                lead_out=lead_out if math.dist(lead_out, end) > 0.01 else None)
    items, path, photos, headings, passes = builder.finish()

    coverage = target.intersection(covered_world(best, spec)).area / target.area
    stats = builder.base_stats()
    stats.update(camera_stats(cam))
    stats.update({
        "coverage_fraction": round(coverage, 5),
        "area_m2": round(target.area, 1),
        "passes": best.sweeps,
        "cells": best.cells,
        "sweep_angle_deg": round(best.parts[0].angle, 2) % 180.0 if len(best.parts) == 1 else None,
        "sweep_angles_deg": sorted({round(p.angle, 2) % 180.0 for p in best.parts}),
        "planning_ms": round((time.perf_counter() - t0) * 1000.0, 1),
    })
    stats = {key: value for key, value in stats.items() if value is not None}
    params = {
        "camera": None if camera is None else camera.name,
        "alt_rel_m": alt, "gsd_cm_px": gsd_cm_px, "front_overlap": front_overlap,
        "side_overlap": side_overlap, "speed_m_s": speed_m_s, "turnaround_m": turnaround_m,
        "sweep_angle_deg": sweep_angle_deg, "line_spacing_m": line_spacing_m,
        "decompose": decompose,
        "no_fly_margin_m": no_fly_margin_m, "photo_mode": photo_mode,
        "home": list(home) if home else None,
    }
    no_fly_out = [proj.unproject(h) for h in holes_xy] + [
        p for g in no_fly_wgs for p in _polygons(g)]
    return apply_safety(RoutePlan(
        pattern="survey", items=items, path_wgs84=path, photo_positions_wgs84=photos,
        photo_headings_deg=headings, footprint_m=footprint, passes_wgs84=passes, stats=stats,
        params=params, home_wgs84=builder.home_wgs84, epsg=proj.epsg,
        no_fly_wgs84=no_fly_out), area_xy)
