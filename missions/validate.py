"""Safety checks of a plan: altitude ceiling, no-fly zones, geofence and rally points.

The legs checked are the ones the vehicle flies: from home through every positioned NAV
item in order, and back home on MAV_CMD_NAV_RETURN_TO_LAUNCH (ArduPilot flies RTL in a
straight line). Zones and the inclusion fence are checked as given, with no margin, in the UTM
zone of the mission. Every problem names the item index (or rally point) and a latitude and
longitude.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.errors import PlanValidationError
from missions.items import MissionItem, command_name
from missions.plan import RoutePlan
from patrol.geodesy import LocalProjection

__all__ = ["validate_plan", "plan_problems", "CEILING_ALT_REL_M"]

#: Default altitude ceiling above take-off (m): the usual legal limit for small drones
#: (EU Regulation 2019/947 UAS.OPEN.010: 120 m; US 14 CFR 107.51: 400 ft; China's Interim
#: Regulations on UAV Flight Management, 2024: light UAVs below 120 m).
CEILING_ALT_REL_M = 120.0

#: Frames whose z is metres above home (or above terrain: checked against the same ceiling).
_RELATIVE_FRAMES = {
    mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
    mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
    mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT,
    mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT,
}
_ABSOLUTE_FRAMES = {mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_INT}
_MAX_LISTED = 10


def _where(index: int, item: MissionItem) -> str:
    if item.command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
        return f"item {index} ({command_name(item.command)}, straight back to home)"
    return (f"item {index} ({command_name(item.command)} at {item.lat_deg:.6f} N, "
            f"{item.lon_deg:.6f} E)")


def _fence_of(plan: RoutePlan | Sequence[MissionItem], fence: BaseGeometry | None | bool
              ) -> BaseGeometry | None:
    if fence is False:
        return None
    if fence is None or fence is True:
        return plan.geofence_inclusion_wgs84 if isinstance(plan, RoutePlan) else None
    return fence


def plan_problems(plan: RoutePlan | Sequence[MissionItem], *,
                  ceiling_alt_rel_m: float = CEILING_ALT_REL_M,
                  no_fly: Iterable[BaseGeometry] | None = None,
                  fence: BaseGeometry | bool | None = None) -> list[str]:
    """Every safety problem of a plan, as sentences saying where (empty when it is safe).

    See :func:`validate_plan` for the parameters.
    """
    if isinstance(plan, RoutePlan):
        items = plan.items
        zones = list(plan.no_fly_wgs84) if no_fly is None else list(no_fly)
        rally = list(plan.rally_points_wgs84)
    else:
        items = list(plan)
        zones = [] if no_fly is None else list(no_fly)
        rally = []
    fence_wgs = _fence_of(plan, fence)
    problems: list[str] = []
    if not items:
        return ["the mission has no items"]
    home = items[0]
    home_alt = home.alt_m if home.frame in _ABSOLUTE_FRAMES else None
    for i, item in enumerate(items):
        if i == 0 or not (item.has_position or item.command == mavlink.MAV_CMD_NAV_TAKEOFF):
            continue
        if item.frame in _RELATIVE_FRAMES:
            alt_rel = item.alt_m
        elif item.frame in _ABSOLUTE_FRAMES and home_alt is not None:
            alt_rel = item.alt_m - home_alt
        else:
            continue
        if alt_rel > ceiling_alt_rel_m:
            problems.append(f"{_where(i, item)}: altitude {alt_rel:.1f} m above home exceeds "
                            f"the ceiling of {ceiling_alt_rel_m:.1f} m")
    for k, (lon, lat, alt) in enumerate(rally):
        if alt > ceiling_alt_rel_m:
            problems.append(f"rally point {k} at {lat:.6f} N, {lon:.6f} E: altitude {alt:.1f} m "
                            f"above home exceeds the ceiling of {ceiling_alt_rel_m:.1f} m")
    polys = [p for z in zones for p in getattr(z, "geoms", [z]) if isinstance(p, Polygon)]
    if not polys and fence_wgs is None:
        return problems
    proj = LocalProjection.for_point(home.lon_deg, home.lat_deg)
    stops: list[tuple[int, tuple[float, float]]] = [(0, proj.to_xy(home.lon_deg, home.lat_deg))]
    for i, item in enumerate(items[1:], start=1):
        if item.has_position:
            stops.append((i, proj.to_xy(item.lon_deg, item.lat_deg)))
        elif item.command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            stops.append((i, stops[0][1]))
    legs = [((i, a), (j, b)) for (i, a), (j, b) in zip(stops, stops[1:]) if a != b]
    rally_xy = [(k, proj.to_xy(lon, lat)) for k, (lon, lat, _) in enumerate(rally)]

    zones_xy = [proj.project(p) for p in polys]
    for z in zones_xy:
        shapely.prepare(z)
    for (i, p) in stops:
        for k, z in enumerate(zones_xy):
            if z.intersects(Point(p)):
                problems.append(f"{_where(i, items[i])} lies inside no-fly zone {k}")
    for (i, a), (j, b) in legs:
        leg = LineString([a, b])
        for k, z in enumerate(zones_xy):
            if z.intersects(leg):
                lat, lon = _first_point(leg.intersection(z), a, proj)
                problems.append(f"leg from item {i} to {_where(j, items[j])} enters no-fly "
                                f"zone {k} at {lat:.6f} N, {lon:.6f} E")
    for k, p in rally_xy:
        for n, z in enumerate(zones_xy):
            if z.intersects(Point(p)):
                lon, lat, _ = rally[k]
                problems.append(f"rally point {k} at {lat:.6f} N, {lon:.6f} E lies inside "
                                f"no-fly zone {n}")

    if fence_wgs is not None:
        fence_xy = proj.project(fence_wgs)
        shapely.prepare(fence_xy)
        for (i, p) in stops:
            if not fence_xy.covers(Point(p)):
                problems.append(f"{_where(i, items[i])} lies outside the geofence")
        for (i, a), (j, b) in legs:
            leg = LineString([a, b])
            if fence_xy.covers(Point(a)) and not fence_xy.covers(leg):
                lat, lon = _first_point(leg.difference(fence_xy), a, proj)
                problems.append(f"leg from item {i} to {_where(j, items[j])} leaves the "
                                f"geofence at {lat:.6f} N, {lon:.6f} E")
        for k, p in rally_xy:
            if not fence_xy.covers(Point(p)):
                lon, lat, _ = rally[k]
                problems.append(f"rally point {k} at {lat:.6f} N, {lon:.6f} E lies outside the "
                                "geofence")
    return problems


def _first_point(geom: BaseGeometry, start: tuple[float, float],
                 proj: LocalProjection) -> tuple[float, float]:
    """(lat, lon) of the point of ``geom`` nearest ``start`` (where a leg first crosses)."""
    first = min(shapely.get_coordinates(geom).tolist(),
                key=lambda c: Point(c).distance(Point(start)))
    lon, lat = proj.to_lonlat(*first)
    return float(lat), float(lon)


def validate_plan(plan: RoutePlan | Sequence[MissionItem], *,
                  ceiling_alt_rel_m: float = CEILING_ALT_REL_M,
                  no_fly: Iterable[BaseGeometry] | None = None,
                  fence: BaseGeometry | bool | None = None) -> None:
    """Reject a plan that exceeds the altitude ceiling, enters a no-fly zone or leaves its
    geofence.

    Parameters
    ----------
    plan : RoutePlan or sequence of MissionItem
        The mission (item 0 = home). A RoutePlan's rally points are checked too (under the
        ceiling, outside the zones, inside the fence).
    ceiling_alt_rel_m : float
        Highest allowed altitude above home (take-off point), m; default
        :data:`CEILING_ALT_REL_M` (120 m, the usual legal limit).
    no_fly : iterable of shapely Polygon/MultiPolygon (WGS84), optional
        Zones no leg may enter; default: the plan's own ``no_fly_wgs84`` (none for bare items).
    fence : shapely Polygon (WGS84) or bool, optional
        Inclusion geofence every waypoint and leg must stay inside; default (None or True):
        the plan's ``geofence_inclusion_wgs84`` (none for bare items); False: not checked.

    Raises
    ------
    PlanValidationError
        Listing every problem with its item index and position; ``.problems`` has them all.
    """
    problems = plan_problems(plan, ceiling_alt_rel_m=ceiling_alt_rel_m, no_fly=no_fly,
                             fence=fence)
    if problems:
        shown = problems[:_MAX_LISTED]
        more = len(problems) - len(shown)
        message = "plan is not safe: " + "; ".join(shown) + (f"; and {more} more" if more else "")
        raise PlanValidationError(message, problems)
