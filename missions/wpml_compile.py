"""MAVLink mission items -> a DJI wayline (the model the WPML writer serialises).

One pass over the items builds the waypoints (position, height above take-off, speed of the
leg leaving each, heading, turn mode, ``reachPoint`` actions), the camera spans
(``multipleDistance``/``multipleTiming`` action groups), the take-off height, the speed to the
first waypoint and the finish action, and records in :class:`~missions.route_source.Notes`
every item or parameter that WPML cannot carry. The mapping is the table of
:mod:`missions.wpml`; the spec is DJI Cloud API "DJI WPML"
(https://developer.dji.com/doc/cloud-api-tutorial/en/api-reference/dji-wpml/overview.html).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.errors import PlanFileError
from missions.items import MissionItem, command_name
from missions.route_source import Notes, RouteData, finite, has_location
from patrol.geodesy import distance_m

__all__ = ["WPML_NS", "TEMPLATE_KML", "WAYLINES_WPML", "STOP_TURN", "CURVE_TURN",
           "MOUNT_MODE_MAVLINK_TARGETING", "Waypoint", "Span", "Wayline", "aim_pitch",
           "compile_wayline"]

WPML_NS = "http://www.dji.com/wpmz/1.0.2"
TEMPLATE_KML = "wpmz/template.kml"
WAYLINES_WPML = "wpmz/waylines.wpml"
STOP_TURN = "toPointAndStopWithDiscontinuityCurvature"
CURVE_TURN = "toPointAndPassWithContinuityCurvature"
_RELATIVE = {mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT}
_ABSOLUTE = {mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_INT}
_TERRAIN = {mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT, mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT}
_NAV_POINTS = {mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT,
               mavlink.MAV_CMD_NAV_LOITER_TIME, mavlink.MAV_CMD_NAV_LOITER_UNLIM,
               mavlink.MAV_CMD_NAV_LOITER_TURNS, mavlink.MAV_CMD_NAV_LOITER_TO_ALT}
MOUNT_MODE_MAVLINK_TARGETING = float(mavlink.MAV_MOUNT_MODE_MAVLINK_TARGETING)
_GIMBAL_PITCH_RANGE = (-90.0, 35.0)  # M3E/M3T (orientedShoot); the M30's is wider
_TAKEOFF_HEIGHT_RANGE = (2.0, 1500.0)
_TRANSITIONAL_MAX = 15.0


def _cmd(item: MissionItem) -> str:
    return command_name(item.command)


@dataclass
class Waypoint:
    """One WPML waypoint: position (deg), height above take-off (m), speed of the leg leaving
    it (m/s), curved turn or stop, heading mode and angle, point of interest, actions."""

    lon: float
    lat: float
    height: float
    speed: float
    curve: bool = False
    heading: tuple[str, float] = ("followWayline", 0.0)
    poi: tuple[float, float, float] | None = None
    actions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Span:
    """A timed or distance photo span over waypoints ``start``..``end`` (s or m)."""

    trigger: str          # "multipleDistance" or "multipleTiming"
    start: int
    end: int
    param: float


@dataclass
class Wayline:
    """A compiled wayline and its mission-level settings."""

    waypoints: list[Waypoint]
    spans: list[Span]
    takeoff_height: float
    transitional_speed: float
    finish: str
    home: MissionItem


def aim_pitch(wp_lon: float, wp_lat: float, height: float, poi: tuple[float, float, float]
               ) -> float:
    """Gimbal pitch (deg, -90 = nadir) looking from a waypoint at a point of interest."""
    dist = distance_m(wp_lon, wp_lat, poi[0], poi[1])
    pitch = -90.0 if dist < 0.01 else -math.degrees(math.atan2(height - poi[2], dist))
    return min(max(pitch, _GIMBAL_PITCH_RANGE[0]), _GIMBAL_PITCH_RANGE[1])


def _aim_action(wp: Waypoint, poi: tuple[float, float, float]) -> tuple[str, dict[str, Any]]:
    return ("gimbalRotate", {"pitch": aim_pitch(wp.lon, wp.lat, wp.height, poi), "roll": None,
                             "yaw": None, "mode": "absoluteAngle"})


class _Compiler:
    """Walks the MAVLink items once, building the wayline and the notes."""

    def __init__(self, data: RouteData, notes: Notes, default_speed_m_s: float) -> None:
        self.data, self.notes = data, notes
        self.home = data.items[0]
        self.wps: list[Waypoint] = []
        self.spans: list[Span] = []
        self.open: dict[str, Span] = {}
        self.pending: list[tuple[int, MissionItem]] = []
        self.speed: float | None = None
        self.transitional: float | None = None
        self.default_speed = default_speed_m_s
        self.roi: tuple[float, float, float] | None = None
        self.takeoff: float | None = None
        self.finish = "noAction"
        self.ended_at: int | None = None

    # -- helpers --
    def _height(self, idx: int, item: MissionItem) -> float:
        if item.frame in _RELATIVE:
            return item.alt_m
        if item.frame in _ABSOLUTE and finite(self.home.alt_m):
            self.notes.approx("altitude above mean sea level written as height above take-off "
                              f"(minus home's {self.home.alt_m:g} m)", idx)
            return item.alt_m - self.home.alt_m
        if item.frame in _TERRAIN:
            self.notes.approx("terrain-relative altitude written as height above take-off "
                              "(WPML follows terrain only in mapping templates)", idx)
        else:
            self.notes.approx(f"frame {item.frame}: altitude written as height above take-off",
                              idx)
        return item.alt_m

    def _drop_param(self, idx: int, item: MissionItem, k: int, label: str) -> None:
        value = (item.param1, item.param2, item.param3, item.param4)[k - 1]
        if finite(value) and value != 0.0:
            self.notes.drop(f"{_cmd(item)} param{k} ({label}) {value:g}: no WPML equivalent, "
                            "dropped", idx)

    def _nan_param(self, idx: int, item: MissionItem, k: int, label: str) -> None:
        if math.isnan((item.param1, item.param2, item.param3, item.param4)[k - 1]):
            self.notes.approx(f"{_cmd(item)} param{k} ({label}) NaN: reads back as 0", idx)

    def _action(self, idx: int, item: MissionItem, action: tuple[str, dict[str, Any]]) -> None:
        if not self.wps:
            self.pending.append((idx, item))
            return
        self.wps[-1].actions.append(action)

    def _open_span(self, trigger: str, param: float) -> None:
        start = max(len(self.wps) - 1, 0)
        self.open[trigger] = Span(trigger, start, start, param)

    def _close_span(self, trigger: str) -> None:
        span = self.open.pop(trigger, None)
        if span is not None:
            span.end = max(len(self.wps) - 1, span.start)
            self.spans.append(span)

    # -- the walk --
    def run(self) -> Wayline:
        items = self.data.items
        for idx, item in enumerate(items[1:], start=1):
            if self.ended_at is not None:
                self.notes.drop(f"{_cmd(item)}: after the mission's end (item {self.ended_at}), "
                                "never flown; dropped", idx)
                continue
            self._item(idx, item)
        for trigger in list(self.open):
            self._close_span(trigger)
        if not self.wps:
            raise PlanFileError("DJI WPML needs at least one waypoint; the mission has no "
                                "NAV item with a position")
        if self.pending:
            for idx, item in self.pending:
                self.notes.drop(f"{_cmd(item)}: no waypoint to attach it to, dropped", idx)
        return self._wayline()

    def _wayline(self) -> Wayline:
        notes = self.notes
        if self.takeoff is None:
            first = self.wps[0].height
            self.takeoff = first
            notes.approx(f"no MAV_CMD_NAV_TAKEOFF: takeOffSecurityHeight set to the first "
                         f"waypoint's {first:g} m (reads back as a take-off item)")
        lo, hi = _TAKEOFF_HEIGHT_RANGE
        if not lo <= self.takeoff <= hi:
            notes.approx(f"take-off height {self.takeoff:g} m outside WPML's [{lo:g}, {hi:g}] m; "
                         f"clamped")
            self.takeoff = min(max(self.takeoff, lo), hi)
        transitional = self.transitional if self.transitional is not None else self.wps[0].speed
        if transitional > _TRANSITIONAL_MAX:
            notes.approx(f"speed to the first waypoint {transitional:g} m/s above WPML's "
                         f"globalTransitionalSpeed limit {_TRANSITIONAL_MAX:g} m/s; clamped")
            transitional = _TRANSITIONAL_MAX
        return Wayline(self.wps, sorted(self.spans, key=lambda s: (s.start, s.trigger)),
                        self.takeoff, transitional, self.finish, self.home)

    def _speed_now(self) -> float:
        if self.speed is None:
            self.speed = self.default_speed
            self.notes.approx("no MAV_CMD_DO_CHANGE_SPEED before the first waypoint: the "
                              "vehicle's own default speed is not in the file; "
                              f"{self.default_speed:g} m/s written")
        return self.speed

    def _waypoint(self, idx: int, item: MissionItem) -> None:
        cmd = item.command
        if not has_location(item):
            self.notes.drop(f"{_cmd(item)} without a position: dropped", idx)
            return
        wp = Waypoint(item.lon_deg, item.lat_deg, self._height(idx, item), self._speed_now(),
                       curve=cmd == mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT)
        hold = item.param1 if cmd in (mavlink.MAV_CMD_NAV_WAYPOINT,
                                      mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT,
                                      mavlink.MAV_CMD_NAV_LOITER_TIME) else 0.0
        if cmd == mavlink.MAV_CMD_NAV_WAYPOINT:
            self._drop_param(idx, item, 2, "acceptance radius m")
            self._drop_param(idx, item, 3, "pass radius m")
        elif cmd == mavlink.MAV_CMD_NAV_LOITER_TIME:
            self.notes.approx(f"{_cmd(item)} written as a waypoint with a hover "
                              "(reads back as MAV_CMD_NAV_WAYPOINT with a hold time)", idx)
        elif cmd != mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT:
            self.notes.approx(f"{_cmd(item)} written as a plain waypoint (the loiter is "
                              "dropped)", idx)
        yaw = item.param4 if cmd in (mavlink.MAV_CMD_NAV_WAYPOINT,
                                     mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT) else math.nan
        if self.roi is not None:
            wp.heading, wp.poi = ("towardPOI", 0.0), self.roi
            if finite(yaw) and yaw != 0.0:
                self.notes.drop(f"{_cmd(item)} param4 (yaw) {yaw:g}: overridden by the region "
                                "of interest, dropped", idx)
        elif finite(yaw) and yaw != 0.0:
            wp.heading = ("smoothTransition", (yaw + 180.0) % 360.0 - 180.0)
        elif not finite(yaw) and cmd == mavlink.MAV_CMD_NAV_WAYPOINT:
            self.notes.approx(f"{_cmd(item)} param4 (yaw) NaN, 'keep heading': written as "
                              "followWayline, reads back as 0", idx)
        if finite(hold) and hold > 0.0:
            wp.actions.append(("hover", {"hoverTime": float(hold)}))
        self.wps.append(wp)
        if len(self.wps) == 1 and self.pending:
            pending, self.pending = self.pending, []
            for pidx, pitem in pending:
                self.notes.approx(f"{_cmd(pitem)} before the first waypoint: executed on "
                                  "reaching it", pidx)
                self._item(pidx, pitem)

    def _item(self, idx: int, item: MissionItem) -> None:
        cmd, notes = item.command, self.notes
        if cmd in _NAV_POINTS:
            self._waypoint(idx, item)
        elif cmd == mavlink.MAV_CMD_NAV_TAKEOFF:
            if self.wps or self.takeoff is not None:
                notes.drop(f"{_cmd(item)} after the first waypoint: WPML takes off only at the "
                           "start; dropped", idx)
                return
            self.takeoff = self._height(idx, item)
            if has_location(item) and (abs(item.lat_deg - self.home.lat_deg) > 1e-7
                                       or abs(item.lon_deg - self.home.lon_deg) > 1e-7):
                notes.approx(f"{_cmd(item)} position not kept: the aircraft climbs where it "
                             "stands (reads back at home)", idx)
            elif not has_location(item) and (item.lat_deg, item.lon_deg) != (
                    self.home.lat_deg, self.home.lon_deg):
                notes.approx(f"{_cmd(item)} at 'here' (0, 0): reads back at home's position", idx)
            self._drop_param(idx, item, 1, "minimum pitch")
            self._drop_param(idx, item, 4, "yaw")
            self._nan_param(idx, item, 4, "yaw")
        elif cmd == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            self.finish, self.ended_at = "goHome", idx
        elif cmd == mavlink.MAV_CMD_NAV_LAND:
            if has_location(item):
                last = self.wps[-1].height if self.wps else (self.takeoff or 0.0)
                self._waypoint(idx, MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT,
                                                mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                                                lat_deg=item.lat_deg, lon_deg=item.lon_deg,
                                                alt_m=last))
                notes.approx(f"{_cmd(item)} at a position: a waypoint there at {last:g} m, "
                             "then autoLand (reads back as a waypoint and a landing here)", idx)
            self.finish, self.ended_at = "autoLand", idx
            for k, label in ((1, "abort altitude"), (2, "precision land mode"), (4, "yaw")):
                self._drop_param(idx, item, k, label)
            self._nan_param(idx, item, 4, "yaw")
        elif cmd == mavlink.MAV_CMD_DO_CHANGE_SPEED:
            self._change_speed(idx, item)
        elif cmd == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST:
            self._cam_trigg(idx, item)
        elif cmd == mavlink.MAV_CMD_IMAGE_START_CAPTURE:
            self._image_start(idx, item)
        elif cmd == mavlink.MAV_CMD_IMAGE_STOP_CAPTURE:
            if "multipleTiming" not in self.open:
                notes.drop(f"{_cmd(item)}: no timed capture running; dropped", idx)
            self._close_span("multipleTiming")
        elif cmd == mavlink.MAV_CMD_DO_DIGICAM_CONTROL:
            notes.approx(f"{_cmd(item)} written as takePhoto (reads back as "
                         "MAV_CMD_IMAGE_START_CAPTURE, one image)", idx)
            self._action(idx, item, ("takePhoto", {}))
        elif cmd == mavlink.MAV_CMD_VIDEO_START_CAPTURE:
            self._action(idx, item, ("startRecord", {}))
        elif cmd == mavlink.MAV_CMD_VIDEO_STOP_CAPTURE:
            self._action(idx, item, ("stopRecord", {}))
        elif cmd in (mavlink.MAV_CMD_DO_MOUNT_CONTROL, mavlink.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW):
            self._gimbal(idx, item)
        elif cmd == mavlink.MAV_CMD_CONDITION_YAW:
            self._yaw(idx, item)
        elif cmd == mavlink.MAV_CMD_DO_SET_ROI_LOCATION:
            if not self.wps:
                self.pending.append((idx, item))
                return
            self.roi = (item.lon_deg, item.lat_deg, self._height(idx, item))
            wp = self.wps[-1]
            wp.heading, wp.poi = ("towardPOI", 0.0), self.roi
            wp.actions.append(_aim_action(wp, self.roi))
        elif cmd == mavlink.MAV_CMD_DO_SET_ROI_NONE:
            if self.roi is not None and self.wps and self.wps[-1].poi == self.roi:
                self.wps[-1].heading, self.wps[-1].poi = ("followWayline", 0.0), None
            self.roi = None
        else:
            notes.drop(f"{_cmd(item)}: no WPML equivalent, dropped", idx)

    def _change_speed(self, idx: int, item: MissionItem) -> None:
        speed = item.param2
        if not (finite(speed) and speed > 0.0):
            if not (finite(speed) and speed == -1.0):
                self.notes.drop(f"{_cmd(item)} speed {speed:g}: not a speed, dropped", idx)
            return
        if item.param1 == 0.0:
            self.notes.approx(f"{_cmd(item)} airspeed written as ground speed", idx)
        if finite(item.param3) and item.param3 not in (-1.0, 0.0):
            self.notes.drop(f"{_cmd(item)} param3 (throttle) {item.param3:g}%: no WPML "
                            "equivalent, dropped", idx)
        if self.speed is not None and speed == self.speed:
            self.notes.approx(f"{_cmd(item)} {speed:g} m/s: the speed already in force; no "
                              "separate item comes back", idx)
        self.speed = float(speed)
        if self.wps:
            self.wps[-1].speed = self.speed
        else:
            self.transitional = self.speed

    def _cam_trigg(self, idx: int, item: MissionItem) -> None:
        dist, now = item.param1, item.param3 == 1.0
        self._drop_param(idx, item, 2, "shutter integration time ms")
        if not self.wps:
            self.pending.append((idx, item))
            return
        running = "multipleDistance" in self.open
        self._close_span("multipleDistance")
        if finite(dist) and dist > 0.0:
            self._open_span("multipleDistance", float(dist))
            if now:
                self.wps[-1].actions.append(("takePhoto", {}))
        elif now:
            self.wps[-1].actions.append(("takePhoto", {}))
            if not running:
                self.notes.approx(f"{_cmd(item)} 0 m with 'trigger once': a takePhoto at the "
                                  "waypoint (reads back as MAV_CMD_IMAGE_START_CAPTURE)", idx)

    def _image_start(self, idx: int, item: MissionItem) -> None:
        interval, count = item.param2, item.param3
        if count == 1.0:
            self._action(idx, item, ("takePhoto", {}))
        elif finite(interval) and interval > 0.0 and count == 0.0:
            if not self.wps:
                self.pending.append((idx, item))
                return
            self._close_span("multipleTiming")
            self._open_span("multipleTiming", float(interval))
        else:
            self.notes.approx(f"{_cmd(item)} {count:g} images every {interval:g} s: one "
                              "takePhoto written", idx)
            self._action(idx, item, ("takePhoto", {}))
        self._drop_param(idx, item, 1, "camera id")
        self._drop_param(idx, item, 4, "sequence number")

    def _gimbal(self, idx: int, item: MissionItem) -> None:
        if item.command == mavlink.MAV_CMD_DO_MOUNT_CONTROL:
            pitch, roll, yaw = item.param1, item.param2, item.param3
            if item.alt_m != MOUNT_MODE_MAVLINK_TARGETING:
                self.notes.approx(f"{_cmd(item)} mount mode {item.alt_m:g}: written as angles "
                                  "(reads back as MAV_MOUNT_MODE_MAVLINK_TARGETING)", idx)
        else:
            pitch, roll, yaw = item.param1, 0.0, item.param2
            self.notes.approx(f"{_cmd(item)} written as gimbalRotate (reads back as "
                              "MAV_CMD_DO_MOUNT_CONTROL)", idx)
        action = ("gimbalRotate", {
            "pitch": float(pitch) if finite(pitch) else None,
            "roll": float(roll) if finite(roll) and roll != 0.0 else None,
            "yaw": float(yaw) if finite(yaw) else None, "mode": "relativeAngle"})
        self._action(idx, item, action)

    def _yaw(self, idx: int, item: MissionItem) -> None:
        if item.param4 == 1.0:
            self.notes.drop(f"{_cmd(item)} relative yaw: WPML rotateYaw is absolute; dropped",
                            idx)
            return
        if item.param3 == 0.0:
            self.notes.approx(f"{_cmd(item)} direction 'shortest': written as clockwise", idx)
        self._drop_param(idx, item, 2, "yaw rate deg/s")
        heading = (item.param1 + 180.0) % 360.0 - 180.0
        self._action(idx, item, ("rotateYaw", {
            "heading": heading,
            "path": "counterClockwise" if item.param3 == -1.0 else "clockwise"}))


def compile_wayline(data: RouteData, notes: Notes, default_speed_m_s: float) -> Wayline:
    """The wayline of a route's items; what WPML cannot carry goes into ``notes``.

    Raises
    ------
    PlanFileError
        If the mission has no NAV item with a position (WPML needs a waypoint).
    """
    return _Compiler(data, notes, default_speed_m_s).run()
