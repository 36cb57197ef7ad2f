"""AUTO mode of the simulated ArduCopter: running the mission item by item.

As ArduCopter's AP_Mission does: a STATUSTEXT "Mission: <seq> <name>" as each item starts;
DO items (DO_CHANGE_SPEED, DO_SET_CAM_TRIGG_DIST, DO_SET_ROI_LOCATION, DO_DIGICAM_CONTROL)
run at once and are not "reached"; NAV items (TAKEOFF, WAYPOINT with its hold time,
LOITER_TIME/UNLIM, LAND, RETURN_TO_LAUNCH) end with MISSION_ITEM_REACHED and, for
waypoints, "Reached command #<seq>"; a mission RTL lands and disarms in AUTO, the last item
reached at touchdown. A waypoint at altitude 0 keeps the current altitude, at 0/0 the
current position. The mixin works on :class:`~telemetry.sim.vehicle.SimVehicle`'s state.
"""

from __future__ import annotations

import math

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.items import MissionItem

__all__ = ["AutoMission"]

_ITEM_NAMES = {
    mavlink.MAV_CMD_NAV_WAYPOINT: "WP", mavlink.MAV_CMD_NAV_TAKEOFF: "Takeoff",
    mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH: "RTL", mavlink.MAV_CMD_NAV_LAND: "Land",
    mavlink.MAV_CMD_NAV_LOITER_UNLIM: "LoitUnlim", mavlink.MAV_CMD_NAV_LOITER_TIME: "LoitTime",
    mavlink.MAV_CMD_DO_CHANGE_SPEED: "ChangeSpeed", mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST: "SetCamTrigDst",
    mavlink.MAV_CMD_DO_SET_ROI_LOCATION: "SetROI", mavlink.MAV_CMD_DO_SET_ROI: "SetROI",
    mavlink.MAV_CMD_DO_SET_ROI_NONE: "SetROI", mavlink.MAV_CMD_DO_DIGICAM_CONTROL: "DigiCamCtrl",
    mavlink.MAV_CMD_IMAGE_START_CAPTURE: "ImageStartCapture",
}
_NAV_GOTO = {mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_CMD_NAV_LOITER_TIME, mavlink.MAV_CMD_NAV_LOITER_UNLIM,
             mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT}


class AutoMission:
    """Mission execution for :class:`~telemetry.sim.vehicle.SimVehicle` (a mixin: it reads and
    sets the vehicle's position targets, camera and mission state)."""

    def _start_mission(self) -> None:
        if self.mission_state in (mavlink.MISSION_STATE_COMPLETE, mavlink.MISSION_STATE_NOT_STARTED) \
                or not 0 < self.mission_seq < len(self.mission):
            self.mission_seq = 1
        self.mission_state = mavlink.MISSION_STATE_ACTIVE
        self._begin_item()

    def _begin_item(self) -> None:
        """Start mission item ``mission_seq``, running DO items at once until a NAV item."""
        while 0 < self.mission_seq < len(self.mission):
            item = self.mission[self.mission_seq]
            self.say(6, f"Mission: {self.mission_seq} {_ITEM_NAMES.get(item.command, 'Cmd')}")
            if item.command < mavlink.MAV_CMD_NAV_LAST:
                self._item_done = False
                self._landing, self._rtl_phase, self._hold_until = False, None, None
                self._start_nav(item)
                return
            self._do(item)
            self.mission_seq += 1
        self.mission_state = mavlink.MISSION_STATE_COMPLETE
        self._item_done = True
        self._target_xy, self._target_alt = (self.x_m, self.y_m), self.alt_rel_m

    def _xy_alt(self, item: MissionItem) -> tuple[tuple[float, float], float]:
        if item.lat_deg == 0.0 and item.lon_deg == 0.0:
            xy = (self.x_m, self.y_m)
        else:
            xy = self.proj.to_xy(item.lon_deg, item.lat_deg)
        alt = item.alt_m
        if item.frame in (mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_INT):
            alt = item.alt_m - (self.home_amsl_m or self.ground_amsl_m)
        if item.alt_m == 0.0 and item.command != mavlink.MAV_CMD_NAV_LAND:
            alt = self.alt_rel_m
        return xy, alt

    def _start_nav(self, item: MissionItem) -> None:
        cmd = item.command
        if cmd == mavlink.MAV_CMD_NAV_TAKEOFF:
            self._target_xy, self._target_alt = (self.x_m, self.y_m), max(item.alt_m, self.alt_rel_m)
            self.flying = True
        elif cmd in _NAV_GOTO:
            self._target_xy, self._target_alt = self._xy_alt(item)
        elif cmd == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            self._rtl_phase = "climb"
        elif cmd == mavlink.MAV_CMD_NAV_LAND:
            xy, _ = self._xy_alt(item)
            self._target_xy, self._target_alt = xy, self.alt_rel_m
            self._rtl_phase = "land_goto"
        else:                                   # a NAV command the simulation does not fly
            self._target_xy, self._target_alt = (self.x_m, self.y_m), self.alt_rel_m
            self._item_done = True

    def _auto(self) -> None:
        if self.mission_state != mavlink.MISSION_STATE_ACTIVE or not 0 < self.mission_seq < len(self.mission):
            return
        item = self.mission[self.mission_seq]
        cmd = item.command
        if cmd == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            self._rtl()
            return                                # ends when landed (_landed)
        if cmd == mavlink.MAV_CMD_NAV_LAND:
            if self._rtl_phase == "land_goto" and self._at_target():
                self._rtl_phase, self._landing = "land", True
            return
        if not self._item_done:
            if cmd == mavlink.MAV_CMD_NAV_TAKEOFF:
                self._item_done = self.alt_rel_m >= self._target_alt - 1.0
            elif cmd in _NAV_GOTO and self._at_target():
                if cmd == mavlink.MAV_CMD_NAV_LOITER_UNLIM:
                    return
                hold = item.param1 if cmd in (mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_CMD_NAV_LOITER_TIME) else 0
                if self._hold_until is None:
                    self._hold_until = self.t_s + max(0.0, hold or 0.0)
                self._item_done = self.t_s >= self._hold_until
            if not self._item_done:
                return
        self._reached(self.mission_seq, text=cmd != mavlink.MAV_CMD_NAV_TAKEOFF)
        self.mission_seq += 1
        self._begin_item()

    def _at_target(self) -> bool:
        tx, ty = self._target_xy
        radius = self.params["WPNAV_RADIUS"] / 100.0
        return (math.hypot(tx - self.x_m, ty - self.y_m) <= radius
                and abs((self._target_alt or 0.0) - self.alt_rel_m) <= 1.0)

    def _reached(self, seq: int, *, text: bool) -> None:
        self.outbox.append(("mission_item_reached", seq))
        if text:
            self.say(6, f"Reached command #{seq}")

    def _do(self, item: MissionItem) -> None:
        cmd = item.command
        if cmd == mavlink.MAV_CMD_DO_CHANGE_SPEED and item.param2 > 0:
            self.speed_m_s = float(item.param2)
        elif cmd == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST:
            self.trigg_dist_m = max(0.0, float(item.param1))
            self.last_photo_xy = (self.x_m, self.y_m)
            if item.param3 == 1:
                self.take_photo()
        elif cmd == mavlink.MAV_CMD_DO_DIGICAM_CONTROL or (
                cmd == mavlink.MAV_CMD_IMAGE_START_CAPTURE and item.param3 == 1):
            self.take_photo()
        elif cmd in (mavlink.MAV_CMD_DO_SET_ROI_LOCATION, mavlink.MAV_CMD_DO_SET_ROI):
            self.roi_xy = self.proj.to_xy(item.lon_deg, item.lat_deg) if (item.lat_deg or item.lon_deg) else None
        elif cmd == mavlink.MAV_CMD_DO_SET_ROI_NONE:
            self.roi_xy = None
