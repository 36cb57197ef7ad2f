"""Corridor pattern: passes along a road or river polyline, covering a given width.

The corridor is the polyline buffered by half its width (flat ends). It is cut lengthwise into
``n = ceil(width / line_spacing)`` strips; each strip's centre line is an offset curve of the
polyline (shapely ``offset_curve``, mitred joins) flown as a pass, in alternating directions.
Passes are clipped out of the no-fly zones (grown by the margin) and the pieces joined by
transits around them. Photos by trigger distance along each pass, as in the survey.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry

from missions.areas import AreaSpec
from missions.camera import Camera
from missions.errors import MissionError
from missions.plan import RouteBuilder, RoutePlan, footprint_rectangles
from missions.routing import FreeSpace
from missions.safety import apply_safety
from missions.survey import camera_stats, resolve_camera
from patrol.geodesy import LocalProjection

__all__ = ["plan_corridor"]

XY = tuple[float, float]


def _as_line(line: AreaSpec | BaseGeometry) -> LineString:
    geom = line.geometry if isinstance(line, AreaSpec) else line
    if not isinstance(geom, LineString) or geom.is_empty or geom.length == 0:
        raise MissionError(f"a corridor needs a non-empty LineString, got "
                           f"{getattr(geom, 'geom_type', type(geom).__name__)}")
    return geom


def _extend(coords: list[XY], t: float) -> tuple[XY | None, XY | None]:
    if t <= 0 or len(coords) < 2:
        return None, None
    (x0, y0), (x1, y1) = coords[0], coords[1]
    d = math.dist(coords[0], coords[1]) or 1.0
    lead_in = (x0 - t * (x1 - x0) / d, y0 - t * (y1 - y0) / d)
    (xa, ya), (xb, yb) = coords[-2], coords[-1]
    d = math.dist(coords[-2], coords[-1]) or 1.0
    lead_out = (xb + t * (xb - xa) / d, yb + t * (yb - ya) / d)
    return lead_in, lead_out


def _pieces(curve: LineString, blocked: BaseGeometry) -> list[list[XY]]:
    """Parts of ``curve`` outside ``blocked``, in order along it, keeping its direction."""
    if blocked.is_empty or not blocked.intersects(curve):
        return [list(curve.coords)]
    rest = curve.difference(blocked)
    parts = [p for p in getattr(rest, "geoms", [rest])
             if isinstance(p, LineString) and p.length > 1e-3]
    out = []
    for p in parts:
        coords = list(p.coords)
        if curve.project(shapely.Point(coords[0])) > curve.project(shapely.Point(coords[-1])):
            coords.reverse()
        out.append((curve.project(shapely.Point(coords[0])), coords))
    return [c for _, c in sorted(out)]


def plan_corridor(line: AreaSpec | BaseGeometry, width_m: float, camera: Camera | None = None, *,
                  alt_rel_m: float | None = None, gsd_cm_px: float | None = None,
                  front_overlap: float = 0.75, side_overlap: float = 0.65,
                  speed_m_s: float = 10.0, turnaround_m: float = 0.0,
                  no_fly: Iterable[BaseGeometry] = (), home: tuple[float, float] | None = None,
                  takeoff_alt_m: float | None = None, line_spacing_m: float | None = None,
                  no_fly_margin_m: float = 5.0, photo_mode: str = "distance") -> RoutePlan:
    """Plan a corridor scan along a polyline.

    Parameters
    ----------
    line : AreaSpec or shapely LineString
        Centre line of the corridor, WGS84 lon/lat.
    width_m : float
        Width of the corridor to cover (m), centred on the line.
    camera, alt_rel_m, gsd_cm_px, front_overlap, side_overlap, speed_m_s, turnaround_m,
    no_fly, home, takeoff_alt_m, line_spacing_m, no_fly_margin_m, photo_mode
        As for :func:`missions.survey.plan_survey`.

    Returns
    -------
    RoutePlan
        ``stats`` as the survey's plus ``corridor_length_m``, ``width_m``.

    Raises
    ------
    MissionError
        Bad parameters, a degenerate line, or home inside a no-fly zone.
    """
    t0 = time.perf_counter()
    geom = _as_line(line)
    if not width_m > 0:
        raise MissionError(f"corridor width must be > 0 m, got {width_m!r}")
    cam = resolve_camera(camera, alt_rel_m=alt_rel_m, gsd_cm_px=gsd_cm_px,
                         front_overlap=front_overlap, side_overlap=side_overlap,
                         line_spacing_m=line_spacing_m)
    if not speed_m_s > 0:
        raise MissionError(f"speed must be > 0 m/s, got {speed_m_s!r}")
    alt, spacing, footprint = cam["alt_rel_m"], cam["line_spacing_m"], cam["footprint_m"]
    proj = LocalProjection.for_geometry(geom)
    line_xy = proj.project(geom)
    no_fly_wgs = list(no_fly)
    no_fly_xy = [proj.project(g) for g in no_fly_wgs]
    free = FreeSpace(no_fly_xy, no_fly_margin_m)
    corridor = line_xy.buffer(0.5 * width_m, cap_style="flat")
    target = corridor.difference(free.zones) if not free.empty else corridor
    if target.is_empty:
        raise MissionError("nothing to scan: the corridor lies entirely in no-fly zones")

    n = max(1, math.ceil(width_m / spacing - 1e-9))
    offsets = [(k - 0.5 * (n - 1)) * spacing for k in range(n)]
    curves = []
    for off in offsets:
        c = line_xy if abs(off) < 1e-9 else shapely.offset_curve(line_xy, off, join_style="mitre",
                                                                 mitre_limit=2.0)
        if isinstance(c, MultiLineString):  # a tight bend can split the inner offset
            c = max(c.geoms, key=lambda g: g.length)
        curves.append(LineString(c).simplify(0.2))

    home_wgs84 = None if home is None else (float(home[0]), float(home[1]))
    home_xy = None if home is None else tuple(float(v) for v in proj.to_xy(*home))
    if home_xy is not None and free.contains(home_xy):
        raise MissionError(f"home ({home[0]:.6f}, {home[1]:.6f}) lies in a no-fly zone")

    def order(flip_side: bool, from_end: bool) -> list[list[XY]]:
        seq = curves[::-1] if flip_side else curves
        out = []
        for k, c in enumerate(seq):
            coords = list(c.coords)
            forward = (k % 2 == 0) != from_end
            out.append(coords if forward else coords[::-1])
        return out

    def cost(passes: list[list[XY]]) -> float:
        start = home_xy or passes[0][0]
        pts = [start] + [p for ps in passes for p in (ps[0], ps[-1])] + [start]
        return sum(math.dist(a, b) for a, b in zip(pts, pts[1:]))

    passes = min((order(f, e) for f in (False, True) for e in (False, True)), key=cost)
    start_xy = home_xy if home_xy is not None else passes[0][0]
    builder = RouteBuilder(proj, free, home_xy=start_xy, alt_rel_m=alt,
                           takeoff_alt_m=takeoff_alt_m if takeoff_alt_m is not None else alt,
                           speed_m_s=speed_m_s, home_wgs84=home_wgs84, photo_mode=photo_mode)
    for coords in passes:
        pieces = _pieces(LineString(coords), free.blocked)
        for i, piece in enumerate(pieces):
            lead_in, lead_out = _extend(piece, turnaround_m)
            if lead_in is not None and (i > 0 or not free.is_free(lead_in, piece[0])):
                lead_in = None
            last = i == len(pieces) - 1
            if lead_out is not None and (not last or not free.is_free(piece[-1], lead_out)):
                lead_out = None
            builder.camera_pass(piece, cam["trigger_distance_m"], lead_in=lead_in,
                                lead_out=lead_out)
    items, path, photos, headings, passes_wgs = builder.finish()

    if footprint is not None and builder.photos:
        cover = shapely.union_all(footprint_rectangles(np.array(builder.photos), builder.headings,
                                                       *footprint))
    else:
        cover = shapely.union_all([LineString(p).buffer(0.5 * spacing) if len(p) > 1
                                   else shapely.Point(p[0]).buffer(0.5 * spacing)
                                   for p in builder.passes])
    stats = builder.base_stats()
    stats.update(camera_stats(cam))
    stats.update({
        "coverage_fraction": round(target.intersection(cover).area / target.area, 5),
        "area_m2": round(target.area, 1),
        "passes": n,
        "corridor_length_m": round(line_xy.length, 1),
        "width_m": width_m,
        "planning_ms": round((time.perf_counter() - t0) * 1000.0, 1),
    })
    stats = {key: value for key, value in stats.items() if value is not None}
    params = {
        "camera": None if camera is None else camera.name, "width_m": width_m,
        "alt_rel_m": alt, "gsd_cm_px": gsd_cm_px, "front_overlap": front_overlap,
        "side_overlap": side_overlap, "speed_m_s": speed_m_s, "turnaround_m": turnaround_m,
        "line_spacing_m": line_spacing_m, "no_fly_margin_m": no_fly_margin_m,
        "photo_mode": photo_mode,
        "home": list(home) if home else None,
    }
    no_fly_out = [p for g in no_fly_wgs for p in getattr(g, "geoms", [g])]
    return apply_safety(RoutePlan(
        pattern="corridor", items=items, path_wgs84=path, photo_positions_wgs84=photos,
        photo_headings_deg=headings, footprint_m=footprint, passes_wgs84=passes_wgs, stats=stats,
        params=params, home_wgs84=builder.home_wgs84, epsg=proj.epsg,
        no_fly_wgs84=no_fly_out), corridor)
