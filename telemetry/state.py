"""Live state of one vehicle on one link, kept current from its messages.

Wire units are converted by :mod:`flight_logs.mavlink_units` (the one place that does it);
mode names come from :mod:`flight_logs.modes`. Link quality is counted from the MAVLink
sequence numbers of each component of the vehicle (:class:`SequenceCounter`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from flight_logs.mavlink_units import (Home, attitude_deg, battery_remaining_pct, battery_voltage_v,
                                       fix_from_global_position_int, gps_status, home_from_home_position)
from flight_logs.modes import is_armed, is_vehicle_heartbeat, mode_name
from flight_logs.recorder import StatusTextAssembler

__all__ = ["SequenceCounter", "VehicleState"]

_SEQ_RESTART = 128      # a jump of this many or more is a sender restart or reordering, not loss


@dataclass
class SequenceCounter:
    """Packets received and lost from one MAVLink sender (system, component), from the 8-bit
    ``seq`` of each frame: a jump of ``k`` (1 < k < 128) means ``k - 1`` frames lost; a bigger
    jump (or a repeat) is counted as a restart of the sender's sequence, not as loss.

    >>> c = SequenceCounter()
    >>> for seq in (250, 251, 254, 255, 0, 1):
    ...     c.count(seq)
    >>> c.received, c.lost, round(c.loss_pct, 1)
    (6, 2, 25.0)
    """

    received: int = 0
    lost: int = 0
    restarts: int = 0
    last_seq: int | None = None

    def count(self, seq: int) -> None:
        """Take in the ``seq`` of one frame."""
        if self.last_seq is not None:
            gap = (seq - self.last_seq - 1) % 256
            if gap >= _SEQ_RESTART:
                self.restarts += 1
            else:
                self.lost += gap
        self.last_seq = seq
        self.received += 1

    @property
    def loss_pct(self) -> float:
        """Lost / (received + lost), percent (0 before anything is received)."""
        total = self.received + self.lost
        return 100.0 * self.lost / total if total else 0.0


@dataclass
class VehicleState:
    """What a ground station shows of a vehicle; None where nothing was heard yet.

    Times (``last_*_s``) are on the daemon's monotonic clock, in seconds: ``last_stream_s``
    is the last streamed data (SYS_STATUS or GLOBAL_POSITION_INT, even before a position),
    ``last_position_s`` the last real position. ``last_message_utc_s`` is the receive time
    (UTC seconds) of the last message. ``statustext_complete`` says whether the message just
    taken completed a STATUSTEXT (``last_statustext``, chunks joined).
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
    ekf_flags: int | None = None
    ekf_max_variance: float | None = None
    sensors_present: int | None = None
    sensors_enabled: int | None = None
    sensors_unhealthy: int | None = None
    fence_breach_status: int | None = None
    fence_breach_type: int | None = None
    fence_breach_count: int | None = None
    mission_seq: int | None = None
    mission_total: int | None = None
    last_reached_seq: int | None = None
    home: Home | None = None
    last_statustext: str | None = None
    last_statustext_severity: int | None = None
    statustext_complete: bool = False
    messages: int = 0
    last_heartbeat_s: float | None = None
    last_position_s: float | None = None
    last_stream_s: float | None = None
    last_message_s: float | None = None
    last_message_utc_s: float | None = None
    sequences: dict[int, SequenceCounter] = field(default_factory=dict)
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
            "EKF_STATUS_REPORT": self.on_ekf_status_report,
            "FENCE_STATUS": self.on_fence_status,
            "MISSION_CURRENT": self.on_mission_current,
            "MISSION_ITEM_REACHED": self.on_mission_item_reached,
            "HOME_POSITION": self.on_home_position,
            "STATUSTEXT": self.on_statustext,
        }
        self._now = 0.0
        self._texts = StatusTextAssembler()

    def update(self, msg: Any, now_s: float, t_utc_s: float | None = None) -> None:
        """Take in one message of this vehicle at monotonic time ``now_s`` (received at UTC ``t_utc_s``)."""
        self._now = now_s
        self.messages += 1
        self.last_message_s = now_s
        if t_utc_s is not None:
            self.last_message_utc_s = t_utc_s
        self.statustext_complete = False
        if msg.get_msgId() >= 0:             # not an unknown message: its header is trustworthy
            comp = msg.get_srcComponent()
            counter = self.sequences.get(comp)
            if counter is None:
                counter = self.sequences[comp] = SequenceCounter()
            counter.count(msg.get_seq())
        handler = self._handlers.get(msg.get_type())
        if handler is not None:
            handler(msg)

    def restart_sequences(self) -> None:
        """The link was reconnected: the next frame of each sender starts a new count."""
        for counter in self.sequences.values():
            counter.last_seq = None

    @property
    def packets_received(self) -> int:
        """Frames received from every component of the vehicle."""
        return sum(c.received for c in self.sequences.values())

    @property
    def packets_lost(self) -> int:
        """Frames lost (sequence gaps), every component."""
        return sum(c.lost for c in self.sequences.values())

    @property
    def packet_loss_pct(self) -> float:
        """Lost / (received + lost), percent, every component together."""
        total = self.packets_received + self.packets_lost
        return 100.0 * self.packets_lost / total if total else 0.0

    def snapshot(self) -> "VehicleState":
        """A copy, safe to read while the daemon keeps updating the original."""
        copy = dataclasses.replace(self)
        copy.sequences = {k: dataclasses.replace(v) for k, v in self.sequences.items()}
        return copy

    def as_dict(self, now_s: float | None = None) -> dict[str, Any]:
        """Plain values (for JSON): every public field (``home`` as a dict, ``sequences`` as
        ``{component: {received, lost, restarts}}``), ``packet_loss_pct``, and with ``now_s``
        (monotonic) the ages ``heartbeat_age_s``, ``position_age_s`` and ``message_age_s``."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if not f.name.startswith("_") and f.name != "sequences"}
        out["home"] = dataclasses.asdict(self.home) if self.home else None
        out["sequences"] = {str(comp): {"received": c.received, "lost": c.lost, "restarts": c.restarts}
                            for comp, c in sorted(self.sequences.items())}
        out["packets_received"], out["packets_lost"] = self.packets_received, self.packets_lost
        out["packet_loss_pct"] = round(self.packet_loss_pct, 3)
        if now_s is not None:
            for name, t in (("heartbeat_age_s", self.last_heartbeat_s), ("position_age_s", self.last_position_s),
                            ("message_age_s", self.last_message_s)):
                out[name] = None if t is None else round(now_s - t, 3)
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
        self.sensors_present = msg.onboard_control_sensors_present
        self.sensors_enabled = msg.onboard_control_sensors_enabled
        self.sensors_unhealthy = self.sensors_present & self.sensors_enabled & ~msg.onboard_control_sensors_health

    def on_battery_status(self, msg: Any) -> None:
        if msg.id == 0:
            pct = battery_remaining_pct(msg)
            if pct is not None:
                self.battery_remaining_pct = pct

    def on_gps_raw_int(self, msg: Any) -> None:
        self.gps_fix_type, self.satellites_visible = gps_status(msg)

    def on_ekf_status_report(self, msg: Any) -> None:
        self.ekf_flags = int(msg.flags)
        self.ekf_max_variance = float(max(msg.velocity_variance, msg.pos_horiz_variance, msg.pos_vert_variance,
                                          msg.compass_variance))

    def on_fence_status(self, msg: Any) -> None:
        self.fence_breach_status = int(msg.breach_status)
        self.fence_breach_type = int(msg.breach_type)
        self.fence_breach_count = int(msg.breach_count)

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
        text = self._texts.feed(msg)
        if text is not None:
            self.last_statustext, self.last_statustext_severity = text, msg.severity
            self.statustext_complete = True
