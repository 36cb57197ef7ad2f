"""Battery sorties: cut a long route into missions that each fit one battery.

A sortie takes off at home (or a dock), transits around the no-fly zones to where the previous
sortie stopped (:class:`missions.routing.FreeSpace`), flies on along the route's pattern, then
transits home and ends with MAV_CMD_NAV_RETURN_TO_LAUNCH (which lands). Its flight time, by
the same model as every plan (:func:`missions.plan.estimate_flight_time_s`: cruise, turns,
climb and descent, both transits included), is at most ``(1 - reserve_fraction) * endurance``.

The pattern is read back from the route's mission items: waypoints, camera passes (between
MAV_CMD_DO_SET_CAM_TRIGG_DIST on and off), MAV_CMD_DO_SET_ROI_LOCATION / _NONE. The transit
from home to the first pattern point and back from the last are left out (each sortie flies
its own), except that with the route's own home the first sortie keeps the route's way out.

A sortie may stop at the end of any pattern item or inside a camera pass at one of the pass's
photo positions (a whole number of trigger distances from the pass start). There it switches
the camera off with a last photo; the next sortie switches it on again at that point with
"trigger once immediately", so its photos fall where the route's would have: together the
sorties take every photo of the route. An active ROI is set again on resuming.

Cutting is greedy: each sortie goes as far along the pattern as the budget allows (candidates
ranked by an estimate from cumulative pattern length and turns plus both transits, each then
checked with the sortie actually built).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import LineString
from shapely.ops import substring

from missions.errors import MissionError
from missions.items import command_name
from missions.plan import (TURN_MIN_DEG, RouteBuilder, RoutePlan, count_turns,
                           estimate_flight_time_s, heading_deg)
from missions.routing import FreeSpace
from missions.safety import apply_safety, plan_free_space

__all__ = ["split_sorties", "DEFAULT_RESERVE_FRACTION"]

XY = tuple[float, float]

#: Battery kept in reserve at landing, as a fraction of the endurance.
DEFAULT_RESERVE_FRACTION = 0.2
#: Figures copied from the route's statistics to each sortie's.
_CAMERA_STATS = ("gsd_cm_px", "line_spacing_m", "trigger_distance_m", "footprint_across_m",
                 "footprint_along_m", "radius_m", "slant_range_m")
_TURN_ALLOWANCE = 2  # junction turns the estimate adds (transit in -> pattern -> transit out)
_SAME_M = 0.01


@dataclass
class _Op:
    """One step of the pattern: ``wp`` (fly to ``xy``), ``pass`` (camera pass along
    ``coords``), ``roi`` or ``roi_none``. ``item`` is the route's item index."""

    kind: str
    item: int
    xy: XY | None = None
    coords: list[XY] = field(default_factory=list)
    trigger_m: float = 0.0
    final_photo: bool = True
    roi: tuple[float, float, float, tuple[float, float]] | None = None

    @property
    def length(self) -> float:
        return sum(math.dist(a, b) for a, b in zip(self.coords, self.coords[1:]))


@dataclass
class _Cut:
    """A place the pattern may be cut: ops before ``op`` done and ``s`` metres of op ``op``."""

    op: int
    s: float
    xy: XY
    length_m: float          # pattern length from its start
    turns: int               # turns on the pattern before this point
    roi: tuple | None        # ROI active here


@dataclass
class _Built:
    """A sortie built from cut ``a`` to cut ``b``: the finished builder, what
    :meth:`RouteBuilder.finish` returned, and the photo index ranges taken while an ROI was set
    (with the ROI's position, for their headings)."""

    a: int
    b: int
    builder: RouteBuilder
    finished: tuple
    roi_photos: list[tuple[int, int, XY]]

    @property
    def time_s(self) -> float:
        return float(self.builder.base_stats()["est_flight_time_s"])


def _project(proj, lon: float, lat: float) -> XY:
    x, y = proj.to_xy(lon, lat)
    return (float(x), float(y))


def _read_ops(plan: RoutePlan) -> list[_Op]:
    """The route's items after take-off, as ops (raises on items the planner never writes)."""
    proj = plan.projection
    pos = _project(proj, *plan.home_wgs84)
    ops: list[_Op] = []
    current: _Op | None = None
    last_trigger = 1.0
    for k, it in enumerate(plan.items[1:], start=1):
        cmd = it.command
        if cmd in (mavlink.MAV_CMD_NAV_TAKEOFF, mavlink.MAV_CMD_DO_CHANGE_SPEED):
            continue
        if cmd == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            break
        if cmd == mavlink.MAV_CMD_NAV_WAYPOINT:
            pos = _project(proj, it.lon_deg, it.lat_deg)
            if current is not None:
                current.coords.append(pos)
            else:
                ops.append(_Op("wp", k, xy=pos))
        elif cmd == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST and it.param1 > 0:
            if current is not None:
                raise MissionError(f"item {k}: camera trigger switched on twice; cannot cut "
                                   "this mission into sorties")
            last_trigger = float(it.param1)
            current = _Op("pass", k, coords=[pos], trigger_m=last_trigger)
        elif cmd == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST:
            if current is not None:
                current.final_photo = it.param3 == 1
                ops.append(current)
                current = None
            elif it.param3 == 1:  # a single photo where the vehicle is
                ops.append(_Op("pass", k, coords=[pos], trigger_m=last_trigger))
        elif cmd == mavlink.MAV_CMD_IMAGE_START_CAPTURE and it.param3 == 1 and current is None:
            ops.append(_Op("pass", k, coords=[pos], trigger_m=last_trigger))  # capture here
        elif cmd == mavlink.MAV_CMD_DO_SET_ROI_LOCATION:
            ops.append(_Op("roi", k, roi=(*_project(proj, it.lon_deg, it.lat_deg), it.alt_m,
                                          (it.lon_deg, it.lat_deg))))
        elif cmd == mavlink.MAV_CMD_DO_SET_ROI_NONE:
            ops.append(_Op("roi_none", k))
        else:
            raise MissionError(f"item {k} ({command_name(cmd)}) is not one the planner writes; "
                               "cannot cut this mission into sorties")
    if current is not None:
        raise MissionError(f"item {current.item}: the camera trigger is never switched off; "
                           "cannot cut this mission into sorties")
    return ops


def _pattern(plan: RoutePlan, ops: list[_Op], same_home: bool) -> tuple[list[_Op], XY]:
    """Drop the transit out (unless ``same_home``) and back; return the ops and their start."""
    proj = plan.projection
    home = _project(proj, *plan.home_wgs84)
    passes = [i for i, op in enumerate(ops) if op.kind == "pass"]
    if passes:
        first, last = passes[0], passes[-1]
    else:
        wps = [i for i, op in enumerate(ops) if op.kind == "wp"]
        if not wps:
            raise MissionError("the route has no waypoints to cut into sorties")
        first, last = wps[0], wps[-1]
        if plan.passes_wgs84:
            end = _project(proj, *plan.passes_wgs84[-1][-1])
            at_end = [i for i in wps if math.dist(ops[i].xy, end) < 0.5]
            last = at_end[-1] if at_end else last
        if math.dist(ops[last].xy, home) < _SAME_M and last > first:
            last = wps[wps.index(last) - 1]
    head = ops[:first] if same_home else [op for op in ops[:first] if op.kind != "wp"]
    tail = [op for op in ops[last + 1:] if op.kind != "wp"]
    pattern = head + ops[first:last + 1] + tail
    if same_home:
        start = home
    else:
        op = ops[first]
        start = op.coords[0] if op.kind == "pass" else op.xy
    return pattern, start


def _turn_flags(verts: list[XY]) -> np.ndarray:
    """1 where the polyline turns by more than TURN_MIN_DEG at that vertex (as count_turns)."""
    flags = np.zeros(len(verts), dtype=int)
    keep = [0] + [i for i in range(1, len(verts)) if math.dist(verts[i], verts[i - 1]) > _SAME_M]
    for a, b, c in zip(keep, keep[1:], keep[2:]):
        d = abs((heading_deg(verts[b], verts[c]) - heading_deg(verts[a], verts[b]) + 180.0)
                % 360.0 - 180.0)
        flags[b] = int(d > TURN_MIN_DEG)
    return flags


def _cuts(ops: list[_Op], start: XY) -> list[_Cut]:
    """Every place the pattern may be cut, in order."""
    verts: list[XY] = [start]
    marks: list[tuple[int, float, XY, float, int, tuple | None]] = []  # op, s, xy, L, vertex, roi
    pos, length, roi = start, 0.0, None
    marks.append((0, 0.0, start, 0.0, 0, None))
    for i, op in enumerate(ops):
        if op.kind == "wp":
            length += math.dist(pos, op.xy)
            pos = op.xy
            verts.append(pos)
        elif op.kind == "pass":
            line = LineString(op.coords) if len(op.coords) > 1 else None
            total = op.length
            cum = np.concatenate([[0.0], np.cumsum([math.dist(a, b) for a, b in
                                                    zip(op.coords, op.coords[1:])])])
            if line is not None and op.trigger_m > 0:
                for s in np.arange(op.trigger_m, total - 0.5, op.trigger_m):
                    p = line.interpolate(float(s))
                    vertex = len(verts) - 1 + int(np.searchsorted(cum, s, side="right")) - 1
                    marks.append((i, float(s), (p.x, p.y), length + float(s), vertex, roi))
            verts.extend(op.coords[1:])
            length += total
            pos = op.coords[-1]
        elif op.kind == "roi":
            roi = op.roi
        else:
            roi = None
        marks.append((i + 1, 0.0, pos, length, len(verts) - 1, roi))
    turns = np.concatenate([[0], np.cumsum(_turn_flags(verts))])
    return [_Cut(op, s, xy, L, int(turns[v]), r) for op, s, xy, L, v, r in marks]


class _Splitter:
    """Cuts ``plan`` (its pattern as ``ops`` and ``cuts``) into sorties from ``home``, flying
    at the route's altitude, take-off altitude and speed."""

    def __init__(self, plan: RoutePlan, home_xy: XY, home_wgs84: tuple[float, float],
                 free: FreeSpace, ops: list[_Op], cuts: list[_Cut], budget_s: float) -> None:
        self.plan, self.proj, self.free = plan, plan.projection, free
        self.home_xy, self.home_wgs84 = home_xy, home_wgs84
        self.ops, self.cuts, self.budget_s = ops, cuts, budget_s
        stats, items = plan.stats, plan.items
        takeoff = next((it for it in items if it.command == mavlink.MAV_CMD_NAV_TAKEOFF), None)
        wp = next((it for it in items[1:] if it.command == mavlink.MAV_CMD_NAV_WAYPOINT), None)
        speed = next((it.param2 for it in items if it.command == mavlink.MAV_CMD_DO_CHANGE_SPEED),
                     None)
        self.alt = float(stats.get("alt_rel_m", wp.alt_m if wp is not None else 0.0))
        self.takeoff_alt = float(takeoff.alt_m) if takeoff is not None else self.alt
        self.speed = float(stats.get("speed_m_s", speed or 5.0))
        self._transit: dict[int, tuple[float, int]] = {}

    def transit(self, c: int) -> tuple[float, int]:
        """Length (m) and turns of the free leg between home and cut ``c``."""
        if c not in self._transit:
            path = self.free.path(self.home_xy, self.cuts[c].xy)
            length = sum(math.dist(a, b) for a, b in zip(path, path[1:]))
            self._transit[c] = (length, count_turns(path))
        return self._transit[c]

    def estimate(self, a: int, b: int) -> float:
        (l_in, t_in), (l_out, t_out) = self.transit(a), self.transit(b)
        ca, cb = self.cuts[a], self.cuts[b]
        return estimate_flight_time_s(l_in + cb.length_m - ca.length_m + l_out,
                                      cb.turns - ca.turns + t_in + t_out + _TURN_ALLOWANCE,
                                      self.speed, self.takeoff_alt, self.alt)

    def lower_bound(self, a: int, b: int) -> float:
        """A time no later cut can beat (transit in and pattern, no turns, no way back)."""
        return estimate_flight_time_s(self.transit(a)[0] + self.cuts[b].length_m
                                      - self.cuts[a].length_m, 0, self.speed,
                                      self.takeoff_alt, self.alt)

    def build(self, a: int, b: int) -> _Built:
        """The sortie from cut ``a`` to cut ``b``, finished."""
        ca, cb = self.cuts[a], self.cuts[b]
        builder = RouteBuilder(self.proj, self.free, home_xy=self.home_xy, alt_rel_m=self.alt,
                               takeoff_alt_m=self.takeoff_alt, speed_m_s=self.speed,
                               home_wgs84=self.home_wgs84,
                               photo_mode=self.plan.params.get("photo_mode", "distance"))
        builder.transit_to(ca.xy)
        roi = ca.roi
        if roi is not None:
            builder.roi((roi[0], roi[1]), roi[2], lonlat=roi[3])
        roi_photos: list[tuple[int, int, XY]] = []
        for i in range(ca.op, min(cb.op + 1, len(self.ops))):
            op = self.ops[i]
            s0 = ca.s if i == ca.op else 0.0
            partial_end = cb.s if (i == cb.op and cb.s > 0) else None
            if i == cb.op and partial_end is None:
                break
            if op.kind == "wp":
                builder.waypoint(op.xy)
            elif op.kind == "roi":
                roi = op.roi
                builder.roi((roi[0], roi[1]), roi[2], lonlat=roi[3])
            elif op.kind == "roi_none":
                roi = None
                builder.roi_none()
            else:
                total = op.length
                end = total if partial_end is None else partial_end
                if s0 <= 0.0 and end >= total:
                    coords, final = op.coords, op.final_photo
                else:
                    coords = list(substring(LineString(op.coords), s0, end).coords)
                    final = True if end < total else op.final_photo
                n0 = len(builder.photos)
                builder.camera_pass(coords, op.trigger_m, final_photo=final)
                if roi is not None:
                    roi_photos.append((n0, len(builder.photos), (roi[0], roi[1])))
        if roi is not None:
            builder.roi_none()
        return _Built(a, b, builder, builder.finish(), roi_photos)

    def next_cut(self, a: int) -> _Built:
        """The sortie from cut ``a`` to the furthest cut it can reach within the budget."""
        estimates = []
        for b in range(a + 1, len(self.cuts)):
            if self.lower_bound(a, b) > self.budget_s:
                break
            estimates.append((b, self.estimate(a, b)))
        error = 0.0  # how much the estimate has been seen to fall short of the built sortie
        for b, est in reversed(estimates):
            if est + error > self.budget_s:
                continue
            built = self.build(a, b)
            if built.time_s <= self.budget_s:
                return built
            error = max(error, built.time_s - est)
        built = self.build(a, a + 1)
        if built.time_s <= self.budget_s:
            return built
        nxt = self.cuts[a + 1]
        op = self.ops[nxt.op if nxt.s > 0 else nxt.op - 1]
        (lo_a, la_a), (lo_b, la_b) = (self.proj.to_lonlat(*self.cuts[c].xy) for c in (a, a + 1))
        raise MissionError(
            f"the budget of {self.budget_s:.1f} s per sortie is too short: the shortest sortie "
            f"that goes on from {la_a:.6f} N, {lo_a:.6f} E to {la_b:.6f} N, {lo_b:.6f} E (route "
            f"item {op.item}) takes {built.time_s:.1f} s with the legs from and back "
            "to home; give a longer endurance, a smaller reserve or a home nearer the route")


def split_sorties(plan: RoutePlan, endurance_min: float, *,
                  reserve_fraction: float = DEFAULT_RESERVE_FRACTION,
                  home: tuple[float, float] | None = None) -> list[RoutePlan]:
    """Cut a route into sorties that each fit one battery (module notes).

    Parameters
    ----------
    plan : RoutePlan
        The route (survey, corridor or orbit from this package). Its ``stats["sorties"]`` is
        set to the number of sorties.
    endurance_min : float
        Flight endurance of one battery (minutes, > 0).
    reserve_fraction : float
        Fraction of the endurance kept at landing (0 <= reserve < 1; default 0.2, the
        20 % reserve usual for multirotors).
    home : (lon, lat), optional
        Take-off and landing point of every sortie (a dock); default the route's home.

    Returns
    -------
    list of RoutePlan
        In flying order; one (a copy of the route, with ``sortie_index`` 1 and
        ``sortie_count`` 1) when it fits one battery. Each is a full mission (home, take-off,
        speed, transit, pattern, transit home, RTL) with its own geofence (the route's area
        and its own path grown by the route's fence margin) and rally points (seeded with its
        start and end), ``stats`` as any plan's (``est_flight_time_s`` within the budget)
        plus ``sortie_index`` (1-based), ``sortie_count``, ``budget_s``,
        ``sortie_start_wgs84`` and ``sortie_end_wgs84`` (where its part of the pattern starts
        and ends, [lon, lat]; a sortie starts where the previous one ended); ``params`` as
        the route's plus ``endurance_min`` and ``reserve_fraction``.

    Raises
    ------
    MissionError
        If the endurance or reserve is out of range, home lies in a no-fly zone, the route has
        items the planner never writes, or one step of the pattern (one stretch between
        photo positions, or one leg between waypoints) cannot be flown from home and back
        within the budget (the message says where and how long it takes).
    """
    if not (isinstance(endurance_min, (int, float)) and endurance_min > 0):
        raise MissionError(f"endurance must be > 0 min, got {endurance_min!r}")
    if not 0.0 <= reserve_fraction < 1.0:
        raise MissionError(f"reserve fraction must be in [0, 1), got {reserve_fraction!r}")
    budget = (1.0 - reserve_fraction) * endurance_min * 60.0
    proj = plan.projection
    free = plan_free_space(plan)
    home_wgs84 = plan.home_wgs84 if home is None else (float(home[0]), float(home[1]))
    home_xy = _project(proj, *home_wgs84)
    if free.contains(home_xy):
        raise MissionError(f"home ({home_wgs84[0]:.6f}, {home_wgs84[1]:.6f}) lies in or within "
                           f"{0.5 * free.margin_m:.1f} m of a no-fly zone")
    same_home = math.dist(home_xy, _project(proj, *plan.home_wgs84)) < _SAME_M
    ops, start = _pattern(plan, _read_ops(plan), same_home)
    cuts = _cuts(ops, start)
    splitter = _Splitter(plan, home_xy, home_wgs84, free, ops, cuts, budget)

    built: list[_Built] = []
    a = 0
    while a < len(cuts) - 1:
        built.append(splitter.next_cut(a))
        a = built[-1].b
    extra = {"endurance_min": endurance_min, "reserve_fraction": reserve_fraction,
             "sortie_home": list(home_wgs84)}
    sorties = [_sortie(plan, splitter, k + 1, len(built), entry, extra)
               for k, entry in enumerate(built)]
    plan.stats["sorties"] = len(sorties)
    return sorties


def _sortie(plan: RoutePlan, sp: _Splitter, index: int, count: int, built: _Built,
            extra: dict[str, Any]) -> RoutePlan:
    """The RoutePlan of one built sortie."""
    items, path, photos, headings, passes = built.finished
    headings = list(headings)
    for n0, n1, (rx, ry) in built.roi_photos:
        for n in range(n0, n1):
            x, y = built.builder.photos[n]
            headings[n] = math.degrees(math.atan2(rx - x, ry - y)) % 360.0
    stats: dict[str, Any] = built.builder.base_stats()
    stats.pop("sorties", None)
    stats.update({k: plan.stats[k] for k in _CAMERA_STATS if k in plan.stats})
    start, end = (sp.proj.to_lonlat(*sp.cuts[c].xy) for c in (built.a, built.b))
    stats.update({"sortie_index": index, "sortie_count": count,
                  "budget_s": round(sp.budget_s, 1),
                  "sortie_start_wgs84": [float(start[0]), float(start[1])],
                  "sortie_end_wgs84": [float(end[0]), float(end[1])]})
    sortie = RoutePlan(
        pattern=plan.pattern, items=items, path_wgs84=path, photo_positions_wgs84=photos,
        photo_headings_deg=headings, footprint_m=plan.footprint_m, passes_wgs84=passes,
        stats=stats, params={**plan.params, **extra}, home_wgs84=built.builder.home_wgs84,
        epsg=plan.epsg, no_fly_wgs84=list(plan.no_fly_wgs84),
        fence_area_wgs84=plan.fence_area_wgs84)
    return apply_safety(sortie, fence_margin_m=plan.params.get("fence_margin_m"),
                        rally_seeds_xy=[sp.cuts[built.a].xy, sp.cuts[built.b].xy])
