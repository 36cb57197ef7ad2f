"""The simulated ArduCopter: start-up, arming, modes, mission execution, camera, battery.

Pure model, driven by :meth:`SimVehicle.step` in simulated seconds (no sockets, no clocks):
the protocol layer (:mod:`telemetry.sim.protocol`) feeds it commands and encodes its state
and its ``outbox`` events. Kinematics are simple and stated: straight lines at WPNAV_SPEED
(10 m/s) with 2.5 m/s^2 acceleration and a stop at each waypoint, climb 2.5 m/s, descent
1.5 m/s, 0.5 m/s below 10 m when landing, yaw turning at 90 deg/s toward the next
waypoint, pitch proportional to speed (about -30 deg at 10 m/s, as the SITL recording shows).
Positions are integrated in the local UTM zone (:class:`patrol.geodesy.LocalProjection`).

The start-up timeline follows the ArduCopter 4.6.3 SITL recording in
``flight_logs/samples/telemetry/arducopter_sitl_pinghu_survey``: GPS fix (position and UTC)
at 10 s after boot, EKF origin and home at 20 s, pre-arm checks passing at 41.5 s; arming is
refused before with MAV_RESULT_FAILED and "Arm: Need Position Estimate".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.modes import mode_name, mode_number
from missions.items import MissionItem
from patrol.geodesy import LocalProjection
from telemetry.sim.auto import AutoMission

__all__ = ["SimConfig", "SimVehicle", "DEFAULT_PARAMS"]

_QUAD = mavlink.MAV_TYPE_QUADROTOR
_APM = mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA
_M = {name: mode_number(_QUAD, name) for name in
      ("STABILIZE", "ACRO", "ALT_HOLD", "AUTO", "GUIDED", "LOITER", "RTL", "CIRCLE", "LAND",
       "POSHOLD", "BRAKE", "SMART_RTL")}
_ARMABLE = {_M[n] for n in ("STABILIZE", "ACRO", "ALT_HOLD", "GUIDED", "LOITER", "POSHOLD")}
_POSITION_MODES = {_M[n] for n in ("AUTO", "GUIDED", "LOITER", "RTL", "CIRCLE", "LAND", "POSHOLD",
                                   "BRAKE", "SMART_RTL")}
_FLOWN = set(_M.values())

#: ArduCopter parameters the simulation honours or reports (ArduPilot names and units). As
#: SITL's defaults except BATT_CAPACITY: 16 Ah at the ~28 A hover current gives the half-hour
#: endurance of a patrol quad (SITL's 3.3 Ah lasts about 7 min; ``--param BATT_CAPACITY=3300``).
DEFAULT_PARAMS: dict[str, float] = {
    "SYSID_THISMAV": 1, "FRAME_CLASS": 1, "FRAME_TYPE": 0,
    "WPNAV_SPEED": 1000, "WPNAV_SPEED_UP": 250, "WPNAV_SPEED_DN": 150, "WPNAV_ACCEL": 250,
    "WPNAV_RADIUS": 200, "LAND_SPEED": 50, "LAND_ALT_LOW": 1000, "RTL_ALT": 1500,
    "RTL_LOIT_TIME": 5000, "DISARM_DELAY": 10, "BATT_CAPACITY": 16000, "BATT_MONITOR": 4,
    "CAM1_TYPE": 1, "ARMING_CHECK": 1, "WP_YAW_BEHAVIOR": 2, "ANGLE_MAX": 3000,
    "SR0_EXT_STAT": 0, "SR0_POSITION": 0, "SR0_EXTRA1": 0, "SR0_EXTRA2": 0, "SR0_EXTRA3": 0,
    "SR0_RC_CHAN": 0, "SR0_RAW_SENS": 0,
}

_YAW_RATE_DEG_S = 90.0
_PITCH_PER_M_S = 3.05
_HOVER_CURRENT_A = 28.0
_PREARM_TEXT = "Need Position Estimate"
_EMPTY_HOME = MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_FRAME_GLOBAL)


@dataclass(frozen=True)
class SimConfig:
    """Where the vehicle stands at boot and its start-up timeline (simulated seconds).

    Parameters
    ----------
    home_lat_deg, home_lon_deg : float
        WGS84 position of the take-off point.
    home_alt_amsl_m : float
        Ground altitude there, metres above mean sea level.
    gps_fix_s, ekf_origin_s, prearm_ok_s : float
        Seconds after boot of the GPS fix, the EKF origin (home) and passing pre-arm checks.
    prearm_report_s : float
        Period of the "PreArm: ..." STATUSTEXT while the checks fail.
    utc_at_boot_s : float
        UTC time of boot (the vehicle clock, SYSTEM_TIME, runs from it in simulated time).
    """

    home_lat_deg: float
    home_lon_deg: float
    home_alt_amsl_m: float
    utc_at_boot_s: float
    gps_fix_s: float = 10.0
    ekf_origin_s: float = 20.0
    prearm_ok_s: float = 41.5
    prearm_report_s: float = 30.0


class SimVehicle(AutoMission):
    """A simulated ArduCopter quad, advanced with :meth:`step`.

    Commands return a MAV_RESULT; what the vehicle says unprompted (STATUSTEXT,
    MISSION_ITEM_REACHED, CAMERA_FEEDBACK, HOME_POSITION, GPS_GLOBAL_ORIGIN) is appended to
    :attr:`outbox` as ``(kind, payload)`` for the protocol layer to send.
    """

    mav_type = _QUAD
    autopilot = _APM

    def __init__(self, config: SimConfig, params: dict[str, float] | None = None) -> None:
        self.config = config
        self.params = dict(DEFAULT_PARAMS if params is None else params)
        self.proj = LocalProjection.for_point(config.home_lon_deg, config.home_lat_deg)
        self.x_m, self.y_m = self.proj.to_xy(config.home_lon_deg, config.home_lat_deg)
        nx, ny = self.proj.to_xy(config.home_lon_deg, config.home_lat_deg + 0.001)
        self._grid_north = math.atan2(nx - self.x_m, ny - self.y_m)   # true north in the grid (convergence)
        self.ground_amsl_m = config.home_alt_amsl_m
        self.t_s = 0.0
        self.alt_rel_m = 0.0           # above home
        self.vx = self.vy = self.vz = 0.0   # east, north, up (m/s)
        self.yaw_deg = 90.0
        self.armed = False
        self.custom_mode = _M["STABILIZE"]
        self.flying = False
        self.home_xy: tuple[float, float] | None = None
        self.home_amsl_m: float | None = None
        self.battery_used_mah = 0.0
        self.current_a = 0.0
        self.mission: list[MissionItem] = [_EMPTY_HOME]   # ArduPilot keeps home as item 0, always
        self.mission_seq = 0
        self.mission_state = mavlink.MISSION_STATE_NO_MISSION
        self.speed_m_s = self.params["WPNAV_SPEED"] / 100.0
        self.trigg_dist_m = 0.0
        self.last_photo_xy: tuple[float, float] | None = None
        self.img_idx = 0
        self.roi_xy: tuple[float, float] | None = None
        self.outbox: list[tuple[str, Any]] = []
        self._target_xy: tuple[float, float] | None = None
        self._target_alt: float | None = None
        self._landing = False
        self._rtl_phase: str | None = None
        self._hold_until: float | None = None
        self._item_done = True
        self._ground_since: float | None = None
        self._milestones = {"gps": False, "origin": False, "ready": False}
        self._next_prearm_report = config.prearm_report_s
        self.say(6, "ArduPilot Ready")
        self.say(6, "Simulated ArduCopter (drone-patrol telemetry.sim, generated data)")

    # ------------------------------------------------------------------ state for the wire
    @property
    def gps_ok(self) -> bool:
        return self.t_s >= self.config.gps_fix_s

    @property
    def ekf_ok(self) -> bool:
        return self.t_s >= self.config.ekf_origin_s

    @property
    def ready_to_arm(self) -> bool:
        return self.t_s >= self.config.prearm_ok_s

    @property
    def utc_s(self) -> float | None:
        """The vehicle's UTC time (None until the GPS has time)."""
        return self.config.utc_at_boot_s + self.t_s if self.gps_ok else None

    @property
    def lat_lon_deg(self) -> tuple[float, float]:
        lon, lat = self.proj.to_lonlat(self.x_m, self.y_m)
        return lat, lon

    @property
    def alt_amsl_m(self) -> float:
        return (self.home_amsl_m if self.home_amsl_m is not None else self.ground_amsl_m) + self.alt_rel_m

    @property
    def groundspeed_m_s(self) -> float:
        return math.hypot(self.vx, self.vy)

    @property
    def v_north_m_s(self) -> float:
        """Velocity toward true north, m/s (the grid is rotated by the meridian convergence)."""
        g = self._grid_north
        return self.vx * math.sin(g) + self.vy * math.cos(g)

    @property
    def v_east_m_s(self) -> float:
        """Velocity toward true east, m/s."""
        g = self._grid_north
        return self.vx * math.cos(g) - self.vy * math.sin(g)

    def offset_from_home_m(self) -> tuple[float, float]:
        """(north, east) metres from home, true north."""
        dx, dy = self.x_m - self.home_xy[0], self.y_m - self.home_xy[1]
        g = self._grid_north
        return dx * math.sin(g) + dy * math.cos(g), dx * math.cos(g) - dy * math.sin(g)

    @property
    def pitch_deg(self) -> float:
        return -min(float(self.params["ANGLE_MAX"]) / 100.0, _PITCH_PER_M_S * self.groundspeed_m_s)

    @property
    def mode(self) -> str:
        return mode_name(_QUAD, _APM, 0, self.custom_mode)

    @property
    def battery_remaining_pct(self) -> int:
        used = self.battery_used_mah / float(self.params["BATT_CAPACITY"])
        return max(0, min(100, round(100.0 * (1.0 - used))))

    @property
    def base_mode(self) -> int:
        flags = (mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | mavlink.MAV_MODE_FLAG_STABILIZE_ENABLED
                 | mavlink.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED)
        if self.custom_mode == _M["GUIDED"] or (self.armed and self.custom_mode in _POSITION_MODES):
            flags |= mavlink.MAV_MODE_FLAG_GUIDED_ENABLED
        if self.armed:
            flags |= mavlink.MAV_MODE_FLAG_SAFETY_ARMED
        return flags

    @property
    def system_status(self) -> int:
        if self.t_s < 1.0:
            return mavlink.MAV_STATE_BOOT
        return mavlink.MAV_STATE_ACTIVE if self.armed and self.flying else mavlink.MAV_STATE_STANDBY

    @property
    def target_xy(self) -> tuple[float, float]:
        """Where the vehicle is heading (UTM metres), its own position when holding."""
        return self._target_xy if self._target_xy is not None else (self.x_m, self.y_m)

    @property
    def target_alt_rel_m(self) -> float:
        """The altitude above home it is climbing or descending to."""
        return self._target_alt if self._target_alt is not None else self.alt_rel_m

    @property
    def mission_total(self) -> int:
        return max(0, len(self.mission) - 1)

    def say(self, severity: int, text: str) -> None:
        """Queue a STATUSTEXT (MAV_SEVERITY, text)."""
        self.outbox.append(("statustext", (severity, text)))

    # ------------------------------------------------------------------ commands
    def arm(self) -> int:
        """MAV_CMD_COMPONENT_ARM_DISARM param1 = 1."""
        if self.armed:
            return mavlink.MAV_RESULT_ACCEPTED
        if self.custom_mode not in _ARMABLE:
            self.say(mavlink.MAV_SEVERITY_CRITICAL, "Arm: Mode not armable")
            return mavlink.MAV_RESULT_FAILED
        if not self.ready_to_arm:
            self.say(mavlink.MAV_SEVERITY_CRITICAL, f"Arm: {_PREARM_TEXT}")
            return mavlink.MAV_RESULT_FAILED
        self.armed = True
        self._ground_since = self.t_s
        self._set_home_here()
        self.say(6, "Arming motors")
        return mavlink.MAV_RESULT_ACCEPTED

    def disarm(self, *, force: bool = False) -> int:
        """MAV_CMD_COMPONENT_ARM_DISARM param1 = 0 (refused in flight unless forced)."""
        if self.flying and not force:
            self.say(mavlink.MAV_SEVERITY_CRITICAL, "Disarm: vehicle is flying")
            return mavlink.MAV_RESULT_FAILED
        self._disarm()
        return mavlink.MAV_RESULT_ACCEPTED

    def set_mode(self, custom_mode: int) -> int:
        """Change flight mode (ArduCopter custom mode number)."""
        if custom_mode not in _FLOWN:
            return mavlink.MAV_RESULT_FAILED
        if custom_mode == _M["AUTO"] and len(self.mission) < 2:
            self.say(mavlink.MAV_SEVERITY_WARNING, "Mode change to AUTO failed: no mission")
            return mavlink.MAV_RESULT_FAILED
        if custom_mode in (_M["GUIDED"], _M["AUTO"], _M["RTL"], _M["LOITER"], _M["POSHOLD"],
                           _M["BRAKE"], _M["SMART_RTL"]) and not self.ekf_ok:
            return mavlink.MAV_RESULT_FAILED
        if custom_mode == self.custom_mode:
            return mavlink.MAV_RESULT_ACCEPTED
        self.custom_mode = custom_mode
        self._landing, self._rtl_phase, self._hold_until = False, None, None
        self._target_xy, self._target_alt = (self.x_m, self.y_m), self.alt_rel_m
        if custom_mode == _M["AUTO"]:
            self._start_mission()
        elif custom_mode in (_M["RTL"], _M["SMART_RTL"]):
            self._rtl_phase = "climb"
        elif custom_mode == _M["LAND"]:
            self._landing = True
        return mavlink.MAV_RESULT_ACCEPTED

    def takeoff(self, alt_rel_m: float) -> int:
        """MAV_CMD_NAV_TAKEOFF in GUIDED, armed, on the ground."""
        if not self.armed or self.custom_mode != _M["GUIDED"] or alt_rel_m <= 0:
            return mavlink.MAV_RESULT_FAILED
        self._target_xy, self._target_alt = (self.x_m, self.y_m), float(alt_rel_m)
        self.flying = True
        return mavlink.MAV_RESULT_ACCEPTED

    def set_mission(self, items: list[MissionItem]) -> None:
        """Replace the mission (item 0 is overwritten by home, as ArduPilot does; an empty
        mission still holds home)."""
        self.mission = list(items) or [_EMPTY_HOME]
        if self.home_xy is not None:
            self.mission[0] = self._home_item()
        self.mission_seq = 1 if len(self.mission) > 1 else 0
        self.mission_state = (mavlink.MISSION_STATE_NOT_STARTED if len(self.mission) > 1
                              else mavlink.MISSION_STATE_NO_MISSION)

    def set_current(self, seq: int) -> bool:
        """MISSION_SET_CURRENT / MAV_CMD_DO_SET_MISSION_CURRENT."""
        if not 0 < seq < len(self.mission):
            return False
        self.mission_seq = seq
        if self.custom_mode == _M["AUTO"]:
            self._begin_item()
        return True

    def take_photo(self) -> None:
        """Trigger the camera now (CAMERA_FEEDBACK follows)."""
        self.img_idx += 1
        self.last_photo_xy = (self.x_m, self.y_m)
        lat, lon = self.lat_lon_deg
        self.outbox.append(("camera_feedback", {
            "time_usec": int(round((self.utc_s or 0.0) * 1e6)), "img_idx": self.img_idx, "lat_deg": lat,
            "lon_deg": lon, "alt_msl": self.alt_amsl_m, "alt_rel": self.alt_rel_m,
            "roll": 0.0, "pitch": self.pitch_deg, "yaw": self.yaw_deg % 360.0}))

    # ------------------------------------------------------------------ time
    def step(self, dt_s: float) -> None:
        """Advance the simulation by ``dt_s`` simulated seconds (keep it <= 0.1 s)."""
        self.t_s += dt_s
        self._startup()
        if self.armed:
            self._fly(dt_s)
            self._camera()
            self.current_a = _HOVER_CURRENT_A + 0.4 * self.groundspeed_m_s if self.flying else 8.0
        else:
            self.current_a = 0.0
        self.battery_used_mah += self.current_a * dt_s / 3.6

    def _startup(self) -> None:
        cfg, m = self.config, self._milestones
        if not m["gps"] and self.gps_ok:
            m["gps"] = True
            self.say(6, "GPS 1: detected as u-blox at 230400 baud")
        if not m["origin"] and self.ekf_ok:
            m["origin"] = True
            self.say(6, "EKF3 IMU0 origin set")
            self._set_home_here()
        if not m["ready"] and self.ready_to_arm:
            m["ready"] = True
            self.say(6, "EKF3 IMU0 is using GPS")
        if not self.ready_to_arm and not self.armed and self.t_s >= self._next_prearm_report:
            self._next_prearm_report += cfg.prearm_report_s
            self.say(mavlink.MAV_SEVERITY_CRITICAL, f"PreArm: {_PREARM_TEXT}")

    def _set_home_here(self) -> None:
        self.home_xy = (self.x_m, self.y_m)
        self.home_amsl_m = self.alt_amsl_m
        self.mission[0] = self._home_item()
        self.outbox.append(("gps_global_origin", None))
        self.outbox.append(("home_position", None))

    def _home_item(self) -> MissionItem:
        lat, lon = self.proj.to_lonlat(*self.home_xy)[::-1]
        return MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_FRAME_GLOBAL,
                           lat_deg=lat, lon_deg=lon, alt_m=self.home_amsl_m)

    def _disarm(self) -> None:
        if self.armed:
            self.armed = False
            self.flying = False
            self.vx = self.vy = self.vz = 0.0
            self.say(6, "Disarming motors")

    # ------------------------------------------------------------------ flight
    def _fly(self, dt: float) -> None:
        if self.custom_mode == _M["AUTO"]:
            self._auto()
        elif self._rtl_phase is not None:
            self._rtl()
        self._move(dt)
        if self.flying and self.alt_rel_m <= 0.0 and self.vz <= 0.0 and (self._landing or self._target_alt is None
                                                                          or self._target_alt <= 0.0):
            self.alt_rel_m, self.vz, self.vx, self.vy = 0.0, 0.0, 0.0, 0.0
            self.flying = False
            self._ground_since = self.t_s
            if self._landing:
                self._landed()
        if not self.flying and self._ground_since is not None \
                and self.t_s - self._ground_since >= self.params["DISARM_DELAY"] > 0:
            self._disarm()

    def _landed(self) -> None:
        if self.custom_mode == _M["AUTO"] and 0 < self.mission_seq < len(self.mission):
            self._reached(self.mission_seq, text=False)
            self.mission_state = mavlink.MISSION_STATE_COMPLETE
        self._landing = False
        self._disarm()

    def _move(self, dt: float) -> None:
        accel = self.params["WPNAV_ACCEL"] / 100.0
        tx, ty = self._target_xy if self._target_xy is not None else (self.x_m, self.y_m)
        dx, dy = tx - self.x_m, ty - self.y_m
        dist = math.hypot(dx, dy)
        if not self.flying or self.alt_rel_m < 1.0 and self._target_alt and self.vz > 0:
            want = 0.0                          # climb out vertically before moving off
        else:
            want = min(self.speed_m_s, math.sqrt(2.0 * accel * dist), dist / dt)
        wx, wy = (dx / dist * want, dy / dist * want) if dist > 1e-6 else (0.0, 0.0)
        ex, ey = wx - self.vx, wy - self.vy
        change = math.hypot(ex, ey)
        if change > accel * dt:
            ex, ey = ex / change * accel * dt, ey / change * accel * dt
        self.vx += ex
        self.vy += ey
        self.x_m += self.vx * dt
        self.y_m += self.vy * dt
        up = self.params["WPNAV_SPEED_UP"] / 100.0
        down = self.params["WPNAV_SPEED_DN"] / 100.0
        if self._landing:
            slow = self.alt_rel_m <= self.params["LAND_ALT_LOW"] / 100.0
            self.vz = -(self.params["LAND_SPEED"] / 100.0 if slow else down)
        elif self._target_alt is not None and self.flying:
            err = self._target_alt - self.alt_rel_m
            self.vz = max(-down, min(up, err * 1.0))
        else:
            self.vz = 0.0
        self.alt_rel_m = max(0.0, self.alt_rel_m + self.vz * dt) if self.flying else 0.0
        self._turn(dt, wx, wy)

    def _turn(self, dt: float, wx: float, wy: float) -> None:
        if self.roi_xy is not None:
            want = math.degrees(math.atan2(self.roi_xy[0] - self.x_m, self.roi_xy[1] - self.y_m))
        elif math.hypot(wx, wy) > 0.5:
            want = math.degrees(math.atan2(wx, wy))
        else:
            return
        want -= math.degrees(self._grid_north)                 # grid bearing -> true heading
        diff = (want - self.yaw_deg + 180.0) % 360.0 - 180.0
        step = _YAW_RATE_DEG_S * dt
        self.yaw_deg = (self.yaw_deg + max(-step, min(step, diff))) % 360.0

    def _camera(self) -> None:
        if self.trigg_dist_m <= 0 or not self.flying:
            return
        if self.last_photo_xy is None:
            self.last_photo_xy = (self.x_m, self.y_m)
        if math.hypot(self.x_m - self.last_photo_xy[0], self.y_m - self.last_photo_xy[1]) >= self.trigg_dist_m:
            self.take_photo()

    def _rtl(self) -> None:
        """RTL as ArduCopter flies it: climb to RTL_ALT, return, loiter, land."""
        rtl_alt = max(self.params["RTL_ALT"] / 100.0, self.alt_rel_m if self._rtl_phase == "climb" else 0.0)
        if self._rtl_phase == "climb":
            self._target_alt = max(self._target_alt or 0.0, rtl_alt)
            self._target_xy = (self.x_m, self.y_m)
            if self.alt_rel_m >= self._target_alt - 0.5:
                self._rtl_phase = "return"
        if self._rtl_phase == "return":
            self._target_xy = self.home_xy
            if math.hypot(self.x_m - self.home_xy[0], self.y_m - self.home_xy[1]) <= 1.0 and self.groundspeed_m_s < 0.5:
                self._rtl_phase, self._hold_until = "loiter", self.t_s + self.params["RTL_LOIT_TIME"] / 1000.0
        if self._rtl_phase == "loiter" and self.t_s >= self._hold_until:
            self._rtl_phase, self._landing = "land", True
