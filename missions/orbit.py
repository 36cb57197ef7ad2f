"""Orbit pattern: circle a hotspot with the camera pointed at it.

Mission: MAV_CMD_DO_SET_ROI_LOCATION on the hotspot, then waypoints around the circle
(clockwise, as ArduCopter's CIRCLE mode flies by default) for the requested number of turns,
photos by trigger distance (the flown loop's perimeter / ``photos_per_turn``), then
MAV_CMD_DO_SET_ROI_NONE and the return home. Waypoints rather than MAV_CMD_NAV_LOITER_TURNS
keep the loop's shape and radius explicit on every autopilot and let the photos be spaced by
distance; the chord error of the polygon is kept under 0.5 m.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from missions.areas import AreaSpec
from missions.camera import Camera
from missions.errors import MissionError
from missions.plan import RouteBuilder, RoutePlan
from missions.routing import FreeSpace
from missions.safety import apply_safety
from patrol.geodesy import LocalProjection

__all__ = ["plan_orbit"]


def _center(center: AreaSpec | BaseGeometry | tuple[float, float]) -> tuple[float, float]:
    geom = center.geometry if isinstance(center, AreaSpec) else center
    if isinstance(geom, Point):
        return (geom.x, geom.y)
    if isinstance(geom, tuple) and len(geom) == 2:
        return (float(geom[0]), float(geom[1]))
    raise MissionError(f"an orbit needs a Point or (lon, lat) centre, got {geom!r}")


def plan_orbit(center: AreaSpec | BaseGeometry | tuple[float, float], radius_m: float, *,
               alt_rel_m: float, photos_per_turn: int = 12, turns: int = 1,
               speed_m_s: float = 5.0, home: tuple[float, float] | None = None,
               camera: Camera | None = None, takeoff_alt_m: float | None = None,
               no_fly: Iterable[BaseGeometry] = (), no_fly_margin_m: float = 5.0) -> RoutePlan:
    """Plan an orbit of a hotspot with the camera on it.

    Parameters
    ----------
    center : AreaSpec, shapely Point or (lon, lat)
        The hotspot, WGS84 degrees.
    radius_m : float
        Orbit radius (m).
    alt_rel_m : float
        Altitude above home (m).
    photos_per_turn : int
        Photos per full circle (>= 1).
    turns : int
        Number of full circles (>= 1).
    speed_m_s : float
        Ground speed on the orbit.
    home : (lon, lat), optional
        Take-off and return point; None takes off at the orbit's entry point.
    camera : Camera, optional
        For the GSD at the slant range to the hotspot (``stats["gsd_cm_px"]``).
    takeoff_alt_m : float, optional
        Take-off altitude above home (default ``alt_rel_m``).
    no_fly, no_fly_margin_m
        No-fly zones (WGS84) that transits go around; the circle itself must keep clear.

    Returns
    -------
    RoutePlan
        ``stats``: ``path_length_m``, ``est_flight_time_s``, ``photo_count``, ``turns``
        (heading changes over 30 deg, as for the other patterns), ``orbit_turns``,
        ``radius_m``, ``trigger_distance_m``, ``gsd_cm_px`` (with a camera), ``planning_ms``;
        no ``coverage_fraction`` or ``line_spacing_m``, which do not apply to an orbit.

    Raises
    ------
    MissionError
        Bad parameters, or the circle or home inside a no-fly zone.
    """
    t0 = time.perf_counter()
    lon, lat = _center(center)
    if not radius_m > 0:
        raise MissionError(f"orbit radius must be > 0 m, got {radius_m!r}")
    if not alt_rel_m > 0:
        raise MissionError(f"alt_rel_m must be > 0 m, got {alt_rel_m!r}")
    if int(photos_per_turn) < 1 or int(turns) < 1:
        raise MissionError("photos_per_turn and turns must be >= 1, "
                           f"got {photos_per_turn}, {turns}")
    if not speed_m_s > 0:
        raise MissionError(f"speed must be > 0 m/s, got {speed_m_s!r}")
    proj = LocalProjection.for_point(lon, lat)
    cx, cy = proj.to_xy(lon, lat)
    no_fly_wgs = list(no_fly)
    free = FreeSpace([proj.project(g) for g in no_fly_wgs], no_fly_margin_m)
    home_wgs84 = None if home is None else (float(home[0]), float(home[1]))
    home_xy = None if home is None else tuple(float(v) for v in proj.to_xy(*home))

    # chord error r (1 - cos(pi / n)) <= 0.5 m
    n_min = math.ceil(math.pi / math.acos(max(-1.0, 1.0 - 0.5 / radius_m))) if radius_m > 0.5 else 4
    n = max(int(photos_per_turn), min(max(n_min, 8), 72))
    start_bearing = 0.0 if home_xy is None else math.atan2(home_xy[0] - cx, home_xy[1] - cy)
    loop = [(cx + radius_m * math.sin(start_bearing + 2 * math.pi * k / n),
             cy + radius_m * math.cos(start_bearing + 2 * math.pi * k / n))
            for k in range(n * int(turns) + 1)]
    if not free.empty and free.keep_out.intersects(LineString(loop)):
        raise MissionError(f"the orbit of radius {radius_m} m around ({lon:.6f}, {lat:.6f}) "
                           "enters a no-fly zone")
    perimeter = n * 2 * radius_m * math.sin(math.pi / n)
    trigger_m = perimeter / int(photos_per_turn)

    start_xy = home_xy if home_xy is not None else loop[0]
    builder = RouteBuilder(proj, free, home_xy=start_xy, alt_rel_m=alt_rel_m,
                           takeoff_alt_m=takeoff_alt_m if takeoff_alt_m is not None else alt_rel_m,
                           speed_m_s=speed_m_s, home_wgs84=home_wgs84)
    builder.transit_to(loop[0])
    builder.roi((cx, cy), 0.0, lonlat=(lon, lat))
    builder.camera_pass(loop, trigger_m, final_photo=False)
    builder.roi_none()
    items, path, photos, _, passes = builder.finish()
    headings = [math.degrees(math.atan2(cx - x, cy - y)) % 360.0 for x, y in builder.photos]
    slant = math.hypot(radius_m, alt_rel_m)
    stats = builder.base_stats()
    stats.update({
        "orbit_turns": int(turns),
        "radius_m": radius_m,
        "photos_per_turn": int(photos_per_turn),
        "trigger_distance_m": round(trigger_m, 2),
        "gsd_cm_px": None if camera is None else round(camera.gsd_cm_px(slant), 3),
        "slant_range_m": round(slant, 1),
        "planning_ms": round((time.perf_counter() - t0) * 1000.0, 1),
    })
    stats = {key: value for key, value in stats.items() if value is not None}
    params = {"center": [lon, lat], "radius_m": radius_m, "alt_rel_m": alt_rel_m,
              "photos_per_turn": int(photos_per_turn), "turns": int(turns),
              "speed_m_s": speed_m_s, "camera": None if camera is None else camera.name,
              "home": list(home) if home else None}
    return apply_safety(RoutePlan(
        pattern="orbit", items=items, path_wgs84=path, photo_positions_wgs84=photos,
        photo_headings_deg=headings, footprint_m=None, passes_wgs84=passes, stats=stats,
        params=params, home_wgs84=builder.home_wgs84, epsg=proj.epsg,
        no_fly_wgs84=[p for g in no_fly_wgs for p in getattr(g, "geoms", [g])]),
        Point(cx, cy).buffer(radius_m))
