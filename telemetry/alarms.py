"""Alarms of a live vehicle: conditions over its state, and notices from its messages.

An alarm is either a *condition*, raised when it starts holding and cleared when it stops
(battery low, link lost, GPS fix lost, EKF, uncommanded failsafe mode, system status
CRITICAL/EMERGENCY, a sensor gone unhealthy, geofence breach), or a *notice* raised once
(STATUSTEXT at WARNING severity or worse). Each rule is a pure function of values taken from
the vehicle's :class:`~telemetry.state.VehicleState`; :class:`AlarmMonitor` keeps the little
history the rules need (which alarms are active, whether the GPS or EKF was ever healthy,
the last mode) and turns successive evaluations into :class:`Alarm` transitions.

Thresholds and their sources:

- battery: ``battery_remaining`` percent of SYS_STATUS (low 30 %, critical 15 % by default,
  cleared 2 points above, so a reading that wobbles does not flap);
- link loss: no HEARTBEAT from the autopilot for ``link_loss_s`` (5 s; ArduPilot's own GCS
  failsafe, FS_GCS_TIMEOUT, defaults to 5 s);
- GPS: GPS_RAW_INT ``fix_type`` below GPS_FIX_TYPE_3D_FIX after a 3D fix was had;
- EKF: EKF_STATUS_REPORT missing one of EKF_ATTITUDE, EKF_VELOCITY_HORIZ, EKF_POS_HORIZ_ABS,
  EKF_POS_VERT_ABS, or with EKF_CONST_POS_MODE, EKF_UNINITIALIZED or EKF_GPS_GLITCHING, after
  it had been healthy; or a variance (velocity, horizontal/vertical position, compass) at or
  above ``ekf_variance`` (0.8, ArduCopter's FS_EKF_THRESH default);
- failsafe mode: the autopilot switching to RTL, SMART_RTL, LAND, BRAKE (QRTL, QLAND for
  QuadPlanes) when this ground station did not command it within ``mode_command_window_s``;
- HEARTBEAT ``system_status`` MAV_STATE_CRITICAL or MAV_STATE_EMERGENCY;
- SYS_STATUS: a sensor present and enabled, healthy before, now unhealthy
  (MAV_SYS_STATUS_PREARM_CHECK excepted: it only says whether arming would be allowed);
- geofence: FENCE_STATUS ``breach_status`` from the vehicle, and the ground's own check of the
  position against the fence it uploaded (:mod:`telemetry.geofence`);
- STATUSTEXT with severity at or below ``statustext_severity`` (MAV_SEVERITY_WARNING), the
  same text at most once per ``statustext_repeat_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.geofence import Geofence

__all__ = ["Alarm", "AlarmMonitor", "AlarmThresholds", "FAILSAFE_MODES", "battery_conditions",
           "ekf_condition", "ekf_healthy", "fence_status_condition", "gps_condition", "ground_fence_condition",
           "link_condition", "mode_condition", "sensors_condition", "statustext_notice",
           "system_status_conditions", "transitions"]

_M = mavlink
#: Flight modes an ArduPilot vehicle enters by itself on a failsafe.
FAILSAFE_MODES = frozenset({"RTL", "SMART_RTL", "LAND", "BRAKE", "QRTL", "QLAND"})
_EKF_REQUIRED = _M.EKF_ATTITUDE | _M.EKF_VELOCITY_HORIZ | _M.EKF_POS_HORIZ_ABS | _M.EKF_POS_VERT_ABS
_EKF_BAD = _M.EKF_CONST_POS_MODE | _M.EKF_UNINITIALIZED | _M.EKF_GPS_GLITCHING
_EKF_FLAG_NAMES = {k: v.name for k, v in _M.enums["EKF_STATUS_FLAGS"].items() if k and k & (k - 1) == 0}
_SENSOR_NAMES = {k: v.name for k, v in _M.enums["MAV_SYS_STATUS_SENSOR"].items() if k and k & (k - 1) == 0}
_NOT_A_SENSOR = _M.MAV_SYS_STATUS_PREARM_CHECK
_SEVERITY_NAMES = {k: v.name for k, v in _M.enums["MAV_SEVERITY"].items()}

Condition = tuple[int, str, dict[str, Any]]
"""An alarm condition that holds: (MAV_SEVERITY, message, data)."""


@dataclass(frozen=True)
class AlarmThresholds:
    """When alarms go off (module docstring for the sources of the defaults).

    Parameters
    ----------
    battery_low_pct, battery_critical_pct : float
        Battery remaining, percent, at or below which the alarm is raised.
    battery_hysteresis_pct : float
        Points above the threshold the battery must be back to clear the alarm.
    link_loss_s : float
        Seconds without the autopilot's HEARTBEAT before ``link_lost``.
    statustext_severity : int
        MAV_SEVERITY at or below which (0 = emergency) a STATUSTEXT is an alarm.
    statustext_repeat_s : float
        The same STATUSTEXT is an alarm again only after this many seconds.
    ekf_variance : float
        EKF variance (EKF_STATUS_REPORT, 1 = the innovation test limit) at or above which the EKF is bad.
    mode_command_window_s : float
        A mode change within this many seconds of a command for it counts as commanded.

    Raises
    ------
    ValueError
        Percentages outside 0-100, critical above low, non-positive durations.
    """

    battery_low_pct: float = 30.0
    battery_critical_pct: float = 15.0
    battery_hysteresis_pct: float = 2.0
    link_loss_s: float = 5.0
    statustext_severity: int = _M.MAV_SEVERITY_WARNING
    statustext_repeat_s: float = 30.0
    ekf_variance: float = 0.8
    mode_command_window_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.battery_critical_pct <= self.battery_low_pct <= 100.0:
            raise ValueError(f"need 0 <= battery_critical_pct ({self.battery_critical_pct}) <= battery_low_pct "
                             f"({self.battery_low_pct}) <= 100")
        for name in ("link_loss_s", "ekf_variance", "mode_command_window_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("battery_hysteresis_pct", "statustext_repeat_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.statustext_severity not in _SEVERITY_NAMES:
            raise ValueError(f"statustext_severity must be a MAV_SEVERITY 0-7, got {self.statustext_severity!r}")


@dataclass(frozen=True)
class Alarm:
    """One alarm transition of one vehicle.

    Attributes
    ----------
    code : str
        ``battery_low``, ``battery_critical``, ``link_lost``, ``gps_fix_lost``, ``ekf``,
        ``failsafe_mode``, ``system_critical``, ``system_emergency``, ``sensor_unhealthy``,
        ``fence_breach`` (reported by the vehicle), ``fence_breach_ground`` (checked on the
        ground), ``statustext``.
    transition : str
        ``"raised"``, ``"cleared"`` (a condition stopped holding) or ``"notice"`` (one-off).
    severity : int
        MAV_SEVERITY (0 emergency .. 7 debug).
    message : str
        For people.
    data : dict
        Values behind it (JSON-ready).
    """

    code: str
    transition: str
    severity: int
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def severity_name(self) -> str:
        """``"CRITICAL"``... (MAV_SEVERITY without its prefix)."""
        return _SEVERITY_NAMES.get(self.severity, str(self.severity)).removeprefix("MAV_SEVERITY_")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"code": self.code, "transition": self.transition, "severity": self.severity,
                "severity_name": self.severity_name, "message": self.message, "data": dict(self.data)}


# ---------------------------------------------------------------------------- rules
def battery_conditions(pct: float | None, active: Mapping[str, Any], th: AlarmThresholds) -> dict[str, Condition]:
    """``battery_low`` / ``battery_critical`` from the remaining percentage (None: unknown).

    An active alarm stays until the battery is ``battery_hysteresis_pct`` above its threshold.

    >>> th = AlarmThresholds()
    >>> sorted(battery_conditions(14.0, {}, th)), sorted(battery_conditions(31.0, {"battery_low": 1}, th))
    (['battery_critical', 'battery_low'], ['battery_low'])
    """
    out: dict[str, Condition] = {}
    if pct is None:
        return {code: cond for code, cond in active.items() if code.startswith("battery_")}
    for code, limit, severity in (("battery_low", th.battery_low_pct, _M.MAV_SEVERITY_WARNING),
                                  ("battery_critical", th.battery_critical_pct, _M.MAV_SEVERITY_CRITICAL)):
        if pct <= limit or (code in active and pct <= limit + th.battery_hysteresis_pct):
            out[code] = (severity, f"battery {code.removeprefix('battery_')}: {pct:.0f}% remaining "
                                   f"(threshold {limit:g}%)", {"remaining_pct": pct, "threshold_pct": limit})
    return out


def link_condition(heartbeat_age_s: float | None, th: AlarmThresholds) -> Condition | None:
    """``link_lost``: no HEARTBEAT for longer than ``link_loss_s`` (None: never heard).

    >>> link_condition(6.2, AlarmThresholds())[1]
    'link lost: no HEARTBEAT for 6.2 s'
    """
    if heartbeat_age_s is None or heartbeat_age_s <= th.link_loss_s:
        return None
    return (_M.MAV_SEVERITY_CRITICAL, f"link lost: no HEARTBEAT for {heartbeat_age_s:.1f} s",
            {"silence_s": round(heartbeat_age_s, 3), "threshold_s": th.link_loss_s})


def gps_condition(fix_type: int | None, satellites: int | None, had_3d_fix: bool) -> Condition | None:
    """``gps_fix_lost``: GPS_RAW_INT fix below 3D after a 3D fix was had.

    >>> gps_condition(1, 3, True)[1], gps_condition(1, 3, False)
    ('GPS fix lost: GPS_FIX_TYPE_NO_FIX, 3 satellites', None)
    """
    if fix_type is None or not had_3d_fix or fix_type >= _M.GPS_FIX_TYPE_3D_FIX:
        return None
    name = _M.enums["GPS_FIX_TYPE"][fix_type].name if fix_type in _M.enums["GPS_FIX_TYPE"] else str(fix_type)
    sats = "unknown" if satellites is None else satellites
    return (_M.MAV_SEVERITY_CRITICAL, f"GPS fix lost: {name}, {sats} satellites",
            {"fix_type": fix_type, "satellites": satellites})


def ekf_healthy(flags: int) -> bool:
    """True when EKF_STATUS_REPORT ``flags`` have every required and no bad bit.

    >>> ekf_healthy(831), ekf_healthy(167)      # ArduCopter 4.6.3 SITL flying; on the ground before GPS
    (True, False)
    """
    return flags & _EKF_REQUIRED == _EKF_REQUIRED and not flags & _EKF_BAD


def ekf_condition(flags: int | None, max_variance: float | None, had_healthy: bool,
                  th: AlarmThresholds) -> Condition | None:
    """``ekf``: the EKF lost a required solution or raised a bad flag after being healthy, or a
    variance reached ``ekf_variance``.

    >>> ekf_condition(167, 0.0, True, AlarmThresholds())[1]
    'EKF: missing EKF_POS_HORIZ_ABS; EKF_CONST_POS_MODE'
    >>> ekf_condition(831, 0.9, True, AlarmThresholds())[1]
    'EKF: variance 0.90 >= 0.8'
    """
    if flags is None:
        return None
    problems = []
    if had_healthy and not ekf_healthy(flags):
        missing = [_EKF_FLAG_NAMES[b] for b in sorted(_EKF_FLAG_NAMES) if b & _EKF_REQUIRED and not flags & b]
        bad = [_EKF_FLAG_NAMES[b] for b in sorted(_EKF_FLAG_NAMES) if b & _EKF_BAD and flags & b]
        problems += (["missing " + ", ".join(missing)] if missing else []) + bad
    if max_variance is not None and max_variance >= th.ekf_variance:
        problems.append(f"variance {max_variance:.2f} >= {th.ekf_variance:g}")
    if not problems:
        return None
    return (_M.MAV_SEVERITY_CRITICAL, "EKF: " + "; ".join(problems), {"flags": flags, "max_variance": max_variance})


def mode_condition(failsafe_mode: str | None) -> Condition | None:
    """``failsafe_mode``: the vehicle is in a failsafe mode this ground station did not command."""
    if failsafe_mode is None:
        return None
    return (_M.MAV_SEVERITY_CRITICAL, f"mode {failsafe_mode} entered without a command from this ground station "
                                      f"(failsafe?)", {"mode": failsafe_mode})


def system_status_conditions(system_status: int | None) -> dict[str, Condition]:
    """``system_critical`` / ``system_emergency`` from HEARTBEAT ``system_status``.

    >>> list(system_status_conditions(5)), system_status_conditions(4)
    (['system_critical'], {})
    """
    if system_status == _M.MAV_STATE_CRITICAL:
        return {"system_critical": (_M.MAV_SEVERITY_CRITICAL, "system status CRITICAL (failsafe in flight)",
                                    {"system_status": system_status})}
    if system_status == _M.MAV_STATE_EMERGENCY:
        return {"system_emergency": (_M.MAV_SEVERITY_EMERGENCY, "system status EMERGENCY (mayday)",
                                     {"system_status": system_status})}
    return {}


def sensors_condition(unhealthy: int, were_healthy: int) -> Condition | None:
    """``sensor_unhealthy``: sensors (MAV_SYS_STATUS_SENSOR bits) unhealthy now that were healthy.

    >>> sensors_condition(0x20 | 0x10000000, 0xFFFFFFFF)[1]    # GPS and the pre-arm bit
    'sensor unhealthy: GPS'
    """
    lost = unhealthy & were_healthy & ~_NOT_A_SENSOR
    if not lost:
        return None
    names = [_SENSOR_NAMES[b].removeprefix("MAV_SYS_STATUS_").removeprefix("SENSOR_")
             for b in sorted(_SENSOR_NAMES) if lost & b]
    return (_M.MAV_SEVERITY_ERROR, "sensor unhealthy: " + ", ".join(names), {"sensors": names, "mask": lost})


def fence_status_condition(breach_status: int | None, breach_type: int | None,
                           breach_count: int | None) -> Condition | None:
    """``fence_breach``: FENCE_STATUS from the vehicle says it is breached.

    >>> fence_status_condition(1, 3, 1)[1]
    'geofence breach reported by the vehicle: FENCE_BREACH_BOUNDARY'
    """
    if not breach_status:
        return None
    entry = _M.enums["FENCE_BREACH"].get(breach_type)
    name = entry.name if entry is not None else str(breach_type)
    return (_M.MAV_SEVERITY_CRITICAL, f"geofence breach reported by the vehicle: {name}",
            {"breach_type": breach_type, "breach_count": breach_count})


def ground_fence_condition(fence: Geofence | None, lat_deg: float | None, lon_deg: float | None) -> Condition | None:
    """``fence_breach_ground``: the position breaches the fence uploaded to the vehicle."""
    if fence is None or lat_deg is None or lon_deg is None:
        return None
    why = fence.breach(lat_deg, lon_deg)
    if why is None:
        return None
    return (_M.MAV_SEVERITY_CRITICAL, f"geofence breach (ground check): {why}",
            {"lat_deg": lat_deg, "lon_deg": lon_deg, "reason": why})


def statustext_notice(severity: int, text: str, th: AlarmThresholds) -> Alarm | None:
    """A STATUSTEXT at ``statustext_severity`` or worse as a notice.

    >>> statustext_notice(2, "PreArm: Need Position Estimate", AlarmThresholds()).message
    'CRITICAL: PreArm: Need Position Estimate'
    >>> statustext_notice(6, "Arming motors", AlarmThresholds()) is None
    True
    """
    if severity > th.statustext_severity:
        return None
    name = _SEVERITY_NAMES.get(severity, str(severity)).removeprefix("MAV_SEVERITY_")
    return Alarm("statustext", "notice", severity, f"{name}: {text}", {"text": text})


def transitions(active: Mapping[str, Alarm], current: Mapping[str, Condition]) -> list[Alarm]:
    """Alarms raised (in ``current``, not in ``active``) and cleared (the other way round).

    >>> raised = transitions({}, {"link_lost": (2, "link lost", {})})
    >>> [(a.code, a.transition) for a in raised]
    [('link_lost', 'raised')]
    >>> [(a.code, a.transition) for a in transitions({"link_lost": raised[0]}, {})]
    [('link_lost', 'cleared')]
    """
    out = [Alarm(code, "raised", sev, msg, data) for code, (sev, msg, data) in current.items() if code not in active]
    out += [Alarm(code, "cleared", _M.MAV_SEVERITY_INFO, f"cleared: {alarm.message}", dict(alarm.data))
            for code, alarm in active.items() if code not in current]
    return out


# ---------------------------------------------------------------------------- history
class AlarmMonitor:
    """The alarms of one vehicle over time (no I/O; one thread feeds it).

    Parameters
    ----------
    thresholds : AlarmThresholds
        When alarms go off.

    Attributes
    ----------
    active : dict
        Code -> the :class:`Alarm` that raised it, for the conditions holding now.
    """

    def __init__(self, thresholds: AlarmThresholds | None = None) -> None:
        self.thresholds = thresholds or AlarmThresholds()
        self.active: dict[str, Alarm] = {}
        self._had_3d_fix = False
        self._ekf_was_healthy = False
        self._healthy_sensors = 0
        self._last_mode: str | None = None
        self._failsafe_mode: str | None = None
        self._texts_at: dict[str, float] = {}

    def on_message(self, msg: Any, state: Any, now_s: float, *,
                   commanded: Callable[[str], bool] = lambda mode: False) -> list[Alarm]:
        """Take in one message of the vehicle, after ``state`` took it; returns the notices.

        Parameters
        ----------
        msg : pymavlink message
            The message.
        state : VehicleState
            The vehicle's state, already updated with ``msg``.
        now_s : float
            Monotonic seconds.
        commanded : callable
            ``commanded(mode_name)``: whether this ground station asked for that mode recently.
        """
        kind = msg.get_type()
        if kind == "GPS_RAW_INT" and state.gps_fix_type is not None and state.gps_fix_type >= _M.GPS_FIX_TYPE_3D_FIX:
            self._had_3d_fix = True
        elif kind == "EKF_STATUS_REPORT" and state.ekf_flags is not None and ekf_healthy(state.ekf_flags):
            self._ekf_was_healthy = True
        elif kind == "SYS_STATUS" and state.sensors_present is not None:
            self._healthy_sensors |= state.sensors_present & state.sensors_enabled & ~state.sensors_unhealthy
        elif kind == "HEARTBEAT" and state.mode is not None and state.mode != self._last_mode:
            if self._last_mode is not None:
                uncommanded = state.mode in FAILSAFE_MODES and not commanded(state.mode)
                self._failsafe_mode = state.mode if uncommanded else None
            self._last_mode = state.mode
        elif kind == "STATUSTEXT" and state.statustext_complete:
            notice = statustext_notice(state.last_statustext_severity, state.last_statustext, self.thresholds)
            last = self._texts_at.get(state.last_statustext)
            if notice is not None and (last is None or now_s - last >= self.thresholds.statustext_repeat_s):
                self._texts_at[state.last_statustext] = now_s
                return [notice]
        return []

    def evaluate(self, state: Any, now_s: float, fence: Geofence | None = None) -> list[Alarm]:
        """Check every condition on ``state`` at monotonic time ``now_s``; returns the transitions."""
        th = self.thresholds
        current: dict[str, Condition] = {}
        current.update(battery_conditions(state.battery_remaining_pct, self.active, th))
        age = None if state.last_heartbeat_s is None else now_s - state.last_heartbeat_s
        current.update(system_status_conditions(state.system_status))
        for code, cond in (
                ("link_lost", link_condition(age, th)),
                ("gps_fix_lost", gps_condition(state.gps_fix_type, state.satellites_visible, self._had_3d_fix)),
                ("ekf", ekf_condition(state.ekf_flags, state.ekf_max_variance, self._ekf_was_healthy, th)),
                ("failsafe_mode", mode_condition(self._failsafe_mode)),
                ("sensor_unhealthy", sensors_condition(state.sensors_unhealthy or 0, self._healthy_sensors)),
                ("fence_breach", fence_status_condition(state.fence_breach_status, state.fence_breach_type,
                                                        state.fence_breach_count)),
                ("fence_breach_ground", ground_fence_condition(fence, state.lat_deg, state.lon_deg))):
            if cond is not None:
                current[code] = cond
        if "link_lost" in current:      # the last values heard are stale: keep what was active, raise nothing new
            current = {"link_lost": current["link_lost"],
                       **{code: (a.severity, a.message, a.data) for code, a in self.active.items()
                          if code != "link_lost"}}
        changes = transitions(self.active, current)
        for alarm in changes:
            if alarm.transition == "raised":
                self.active[alarm.code] = alarm
            else:
                self.active.pop(alarm.code, None)
        return changes

