"""Live state of one vehicle on one link, kept current from its messages.

Wire units are converted by :mod:`flight_logs.mavlink_units` (the one place that does it);
mode names come from :mod:`flight_logs.modes`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from flight_logs.mavlink_units import (Home, attitude_deg, battery_remaining_pct, battery_voltage_v,
                                       fix_from_global_position_int, gps_status, home_from_home_position)
from flight_logs.modes import is_armed, is_vehicle_heartbeat, mode_name

__all__ = ["VehicleState"]


@dataclass
class VehicleState:
    """What a ground station shows of a vehicle; None where nothing was heard yet.

    Times (``last_*_s``) are on the daemon's monotonic clock, in seconds: ``last_stream_s``
    is the last streamed data (SYS_STATUS or GLOBAL_POSITION_INT, even before a position),
    ``last_position_s`` the last real position.
    """

    link: str
    system_id: int
    mav_type: int | None = None
    autopilot: int | None = None
    mode: str | None = None
    custom_mode: int | None = None
    armed: bool = False
    system_status: int | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None
    alt_rel_m: float | None = None
    alt_amsl_m: float | None = None
    heading_deg: float | None = None
    groundspeed_m_s: float | None = None
    climb_m_s: float | None = None
    roll_deg: float | None = None
    pitch_deg: float | None = None
    battery_remaining_pct: float | None = None
    battery_voltage_v: float | None = None
    gps_fix_type: int | None = None
    satellites_visible: int | None = None
    mission_seq: int | None = None
    mission_total: int | None = None
    last_reached_seq: int | None = None
    home: Home | None = None
    last_statustext: str | None = None
    last_statustext_severity: int | None = None
    messages: int = 0
    last_heartbeat_s: float | None = None
    last_position_s: float | None = None
    last_stream_s: float | None = None
    last_message_s: float | None = None
    _handlers: dict[str, Callable[[Any], None]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._handlers = {
            "HEARTBEAT": self.on_heartbeat,
            "GLOBAL_POSITION_INT": self.on_global_position_int,
            "ATTITUDE": self.on_attitude,
            "VFR_HUD": self.on_vfr_hud,
            "SYS_STATUS": self.on_sys_status,
            "BATTERY_STATUS": self.on_battery_status,
            "GPS_RAW_INT": self.on_gps_raw_int,
            "MISSION_CURRENT": self.on_mission_current,
            "MISSION_ITEM_REACHED": self.on_mission_item_reached,
            "HOME_POSITION": self.on_home_position,
            "STATUSTEXT": self.on_statustext,
        }
        self._now = 0.0

    def update(self, msg: Any, now_s: float) -> None:
        """Take in one message of this vehicle at monotonic time ``now_s``."""
        self._now = now_s
        self.messages += 1
        self.last_message_s = now_s
        handler = self._handlers.get(msg.get_type())
        if handler is not None:
            handler(msg)

    def snapshot(self) -> "VehicleState":
        """A copy, safe to read while the daemon keeps updating the original."""
        copy = dataclasses.replace(self)
        return copy

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for JSON): every public field; ``home`` as a dict."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("_")}
        out["home"] = dataclasses.asdict(self.home) if self.home else None
        return out

    # handlers, named after the MAVLink message they take
    def on_heartbeat(self, msg: Any) -> None:
        if not is_vehicle_heartbeat(msg):
            return
        self.mav_type, self.autopilot = msg.type, msg.autopilot
        self.custom_mode = msg.custom_mode
        self.mode = mode_name(msg.type, msg.autopilot, msg.base_mode, msg.custom_mode)
        self.armed = is_armed(msg.base_mode)
        self.system_status = msg.system_status
        self.last_heartbeat_s = self._now

    def on_global_position_int(self, msg: Any) -> None:
        self.last_stream_s = self._now
        fix = fix_from_global_position_int(msg)
        if fix is None:
            return
        self.lat_deg, self.lon_deg = fix.lat_deg, fix.lon_deg
        self.alt_rel_m, self.alt_amsl_m = fix.alt_rel_m, fix.alt_amsl_m
        self.groundspeed_m_s, self.climb_m_s = fix.groundspeed_m_s, fix.climb_m_s
        if fix.heading_deg is not None:
            self.heading_deg = fix.heading_deg
        self.last_position_s = self._now

    def on_attitude(self, msg: Any) -> None:
        self.roll_deg, self.pitch_deg, _ = attitude_deg(msg)

    def on_vfr_hud(self, msg: Any) -> None:
        self.groundspeed_m_s = float(msg.groundspeed)

    def on_sys_status(self, msg: Any) -> None:
        self.last_stream_s = self._now
        pct = battery_remaining_pct(msg)
        if pct is not None:
            self.battery_remaining_pct = pct
        volts = battery_voltage_v(msg)
        if volts is not None:
            self.battery_voltage_v = volts

    def on_battery_status(self, msg: Any) -> None:
        if msg.id == 0:
            pct = battery_remaining_pct(msg)
            if pct is not None:
                self.battery_remaining_pct = pct

    def on_gps_raw_int(self, msg: Any) -> None:
        self.gps_fix_type, self.satellites_visible = gps_status(msg)

    def on_mission_current(self, msg: Any) -> None:
        self.mission_seq = msg.seq
        total = getattr(msg, "total", 0)
        if total and total != 65535:
            self.mission_total = total

    def on_mission_item_reached(self, msg: Any) -> None:
        self.last_reached_seq = msg.seq

    def on_home_position(self, msg: Any) -> None:
        home = home_from_home_position(msg)
        if home is not None:
            self.home = home

    def on_statustext(self, msg: Any) -> None:
        self.last_statustext = msg.text.rstrip("\x00") if isinstance(msg.text, str) else str(msg.text)
        self.last_statustext_severity = msg.severity
