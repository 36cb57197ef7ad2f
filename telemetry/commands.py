"""Commands that fly a vehicle: arm, disarm, modes, take-off, AUTO, and a whole mission.

Each command is a COMMAND_LONG answered by a COMMAND_ACK; a result other than
MAV_RESULT_ACCEPTED raises :class:`~telemetry.errors.CommandRefused` with the vehicle's own
explanation when it gave one (ArduPilot sends a STATUSTEXT such as "Arm: Need Position
Estimate" or "PreArm: ..." just before refusing). The outcome is then confirmed on the
HEARTBEAT (armed bit, custom mode), as ground stations do. Every wait has a timeout.

ArduCopter take-off as SITL wants it: GUIDED, arm (retried until the pre-arm checks pass),
MAV_CMD_NAV_TAKEOFF with param7 = altitude above home, AUTO once airborne; the mission's
final RTL lands and disarms by itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.modes import mode_number
from missions.items import MissionItem
from telemetry.errors import CommandRefused, LinkTimeout, TelemetryError
from telemetry.handle import Subscription, VehicleHandle
from telemetry.mission_protocol import upload_fence_and_rally, upload_mission

__all__ = [
    "MissionRun",
    "arm",
    "command_long",
    "command_name",
    "disarm",
    "fly_mission",
    "result_name",
    "set_mode",
    "start_mission",
    "takeoff",
    "wait_disarmed",
]

Progress = Callable[[str], None]

_RETRY_RESULTS = frozenset({mavlink.MAV_RESULT_FAILED, mavlink.MAV_RESULT_TEMPORARILY_REJECTED,
                            mavlink.MAV_RESULT_DENIED})
_FORCE_DISARM = 21196      # param2 magic number that forces a disarm in flight (ArduPilot, PX4)


def command_name(command: int) -> str:
    """MAV_CMD name, e.g. ``command_name(400)`` -> ``'MAV_CMD_COMPONENT_ARM_DISARM'``."""
    entry = mavlink.enums["MAV_CMD"].get(command)
    return entry.name if entry is not None else f"MAV_CMD {command}"


def result_name(result: int) -> str:
    """MAV_RESULT name, e.g. ``result_name(4)`` -> ``'MAV_RESULT_FAILED'``."""
    entry = mavlink.enums["MAV_RESULT"].get(result)
    return entry.name if entry is not None else f"MAV_RESULT {result}"


def _explanation(texts: list[tuple[int, str]]) -> str | None:
    """The vehicle's reason among (severity, text) STATUSTEXTs: the last "PreArm:"/"Arm:" one,
    else the last at MAV_SEVERITY_WARNING or worse, else None."""
    for _, text in reversed(texts):
        if text.startswith(("PreArm", "Arm")):
            return text
    for severity, text in reversed(texts):
        if severity <= mavlink.MAV_SEVERITY_WARNING:
            return text
    return None


def command_long(handle: VehicleHandle, command: int, params: Sequence[float] = (), *,
                 timeout_s: float = 3.0, retries: int = 2) -> Any:
    """Send COMMAND_LONG ``command`` with up to 7 ``params`` and return its COMMAND_ACK.

    Resent (``confirmation`` counting up) when no COMMAND_ACK comes within ``timeout_s``.

    Raises
    ------
    CommandRefused
        COMMAND_ACK result other than MAV_RESULT_ACCEPTED (MAV_RESULT_IN_PROGRESS is waited out).
    LinkTimeout
        No COMMAND_ACK after ``retries`` resends.
    """
    p = [float(v) for v in params] + [0.0] * (7 - len(params))
    texts: list[tuple[int, str]] = []
    with handle.subscribe({"COMMAND_ACK", "STATUSTEXT"}) as sub:
        for confirmation in range(retries + 1):
            handle.send(handle.mav.command_long_encode(handle.target_system, handle.target_component,
                                                       command, confirmation, *p))
            deadline = time.monotonic() + timeout_s
            while (left := deadline - time.monotonic()) > 0:
                try:
                    msg = sub.get(left, what=f"COMMAND_ACK for {command_name(command)}")
                except LinkTimeout:
                    break
                if msg.get_type() == "STATUSTEXT":
                    texts.append((msg.severity, msg.text))
                    continue
                if msg.command != command:
                    continue
                if msg.result == mavlink.MAV_RESULT_IN_PROGRESS:
                    deadline = time.monotonic() + timeout_s
                    continue
                if msg.result != mavlink.MAV_RESULT_ACCEPTED:
                    raise CommandRefused(command_name(command), result_name(msg.result), _explanation(texts))
                return msg
    raise LinkTimeout(f"vehicle {handle.target_system} on {handle.link}: no COMMAND_ACK for "
                      f"{command_name(command)} after {retries + 1} tries of {timeout_s:g} s")


def arm(handle: VehicleHandle, *, timeout_s: float = 90.0, retry_interval_s: float = 1.0) -> None:
    """Arm, retrying while the pre-arm checks fail, until armed or ``timeout_s`` passes.

    Raises
    ------
    CommandRefused
        Still refused at the timeout (with the last "PreArm:"/"Arm:" STATUSTEXT), or refused
        for a reason retrying cannot fix (e.g. MAV_RESULT_UNSUPPORTED).
    LinkTimeout
        The vehicle stopped answering, or accepted but never reported armed.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            command_long(handle, mavlink.MAV_CMD_COMPONENT_ARM_DISARM, [1])
            break
        except CommandRefused as refused:
            code = getattr(mavlink, refused.result, None)
            if code not in _RETRY_RESULTS or time.monotonic() + retry_interval_s > deadline:
                raise
            time.sleep(retry_interval_s)
    handle.wait_until(lambda s: s.armed, max(5.0, deadline - time.monotonic()), "armed")


def disarm(handle: VehicleHandle, *, force: bool = False, timeout_s: float = 10.0) -> None:
    """Disarm (``force`` also in flight: the vehicle falls). Raises CommandRefused/LinkTimeout."""
    command_long(handle, mavlink.MAV_CMD_COMPONENT_ARM_DISARM, [0, _FORCE_DISARM if force else 0])
    handle.wait_until(lambda s: not s.armed, timeout_s, "disarmed")


def set_mode(handle: VehicleHandle, name: str, *, timeout_s: float = 5.0) -> None:
    """Switch to an ArduPilot flight mode by name (MAV_CMD_DO_SET_MODE, custom mode).

    Raises
    ------
    TelemetryError
        ``name`` is not a mode of this vehicle type (or the type is not known yet).
    CommandRefused, LinkTimeout
        The vehicle refused, or its HEARTBEAT did not show the mode within ``timeout_s``.
    """
    state = handle.state
    number = mode_number(state.mav_type, name) if state.mav_type is not None else None
    if number is None:
        raise TelemetryError(f"vehicle {handle.target_system}: no flight mode {name!r} for MAV_TYPE {state.mav_type}")
    command_long(handle, mavlink.MAV_CMD_DO_SET_MODE, [mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, number])
    handle.wait_until(lambda s: s.custom_mode == number, timeout_s, f"in mode {name.upper()}")


def takeoff(handle: VehicleHandle, alt_rel_m: float, *, arm_timeout_s: float = 90.0,
            climb_timeout_s: float = 120.0, airborne_fraction: float = 0.95,
            progress: Progress | None = None) -> None:
    """GUIDED, arm (retried), MAV_CMD_NAV_TAKEOFF to ``alt_rel_m`` above home, wait for the climb.

    First waits (up to ``arm_timeout_s``) for a position and a home: ArduCopter refuses GUIDED
    before its EKF has an origin. Returns once the vehicle is above ``airborne_fraction`` of the altitude.

    Raises
    ------
    CommandRefused, LinkTimeout, TelemetryError
        As :func:`set_mode`, :func:`arm`, :func:`command_long`; LinkTimeout also when the
        climb takes longer than ``climb_timeout_s``.
    """
    say = progress or (lambda _: None)
    handle.wait_until(lambda s: s.home is not None and s.lat_deg is not None, arm_timeout_s,
                      "with a position estimate and home (EKF origin)")
    set_mode(handle, "GUIDED")
    say("mode GUIDED")
    arm(handle, timeout_s=arm_timeout_s)
    say("armed")
    command_long(handle, mavlink.MAV_CMD_NAV_TAKEOFF, [0, 0, 0, 0, 0, 0, alt_rel_m])
    say(f"taking off to {alt_rel_m:g} m")
    handle.wait_until(lambda s: (s.alt_rel_m or 0.0) >= airborne_fraction * alt_rel_m,
                      climb_timeout_s, f"above {airborne_fraction * alt_rel_m:.1f} m")


def start_mission(handle: VehicleHandle) -> None:
    """Switch to AUTO: the vehicle flies the uploaded mission."""
    set_mode(handle, "AUTO")


def wait_disarmed(handle: VehicleHandle, timeout_s: float, *, progress: Progress | None = None) -> list[int]:
    """Wait until the vehicle disarms, reporting MISSION_ITEM_REACHED and STATUSTEXT.

    Returns the mission items reached (seq), in order.

    Raises
    ------
    LinkTimeout
        Still armed after ``timeout_s``.
    """
    with handle.subscribe(_WATCHED) as sub:
        return _watch_until_disarmed(handle, sub, timeout_s, progress or (lambda _: None))


_WATCHED = frozenset({"MISSION_ITEM_REACHED", "STATUSTEXT"})


def _watch_until_disarmed(handle: VehicleHandle, sub: Subscription, timeout_s: float, say: Progress) -> list[int]:
    reached: list[int] = []
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            handle.wait_until(lambda s: not s.armed, max(0.0, min(1.0, left)), "disarmed")
            done = True
        except LinkTimeout:
            done = False
        for msg in sub.poll():
            if msg.get_type() == "MISSION_ITEM_REACHED":
                reached.append(msg.seq)
                say(f"mission item {msg.seq} reached")
            else:
                say(f"vehicle: {msg.text}")
        if done:
            return reached
        if left <= 0:
            raise LinkTimeout(f"vehicle {handle.target_system} on {handle.link}: still armed after {timeout_s:g} s")


@dataclass
class MissionRun:
    """What :func:`fly_mission` saw: items uploaded (mission, geofence and rally points; None
    when not sent) and reached, wall-clock times (UTC s)."""

    items_uploaded: int
    fence_uploaded: int | None = None
    rally_uploaded: int | None = None
    reached: list[int] = field(default_factory=list)
    armed_at_s: float | None = None
    disarmed_at_s: float | None = None


def fly_mission(handle: VehicleHandle, items: Sequence[MissionItem], *, takeoff_alt_m: float,
                timeout_s: float = 3600.0, arm_timeout_s: float = 90.0,
                fence_items: Sequence[MissionItem] | None = None, rally_items: Sequence[MissionItem] | None = None,
                progress: Progress | None = None) -> MissionRun:
    """Upload ``items`` (and the geofence and rally points) and fly them: GUIDED, arm, take off,
    AUTO, until the vehicle disarms.

    Parameters
    ----------
    handle : VehicleHandle
        The vehicle (from :meth:`telemetry.daemon.Daemon.wait_vehicle`).
    items : sequence of MissionItem
        The mission, item 0 home (ArduPilot convention), ending with RTL or a landing.
    takeoff_alt_m : float
        Take-off altitude above home, metres.
    timeout_s : float
        Longest time from AUTO to disarm (wall clock), seconds.
    arm_timeout_s : float
        How long to keep retrying the arming while pre-arm checks fail.
    fence_items, rally_items : sequence of MissionItem, optional
        Geofence (MAV_CMD_NAV_FENCE_* items) and rally points (MAV_CMD_NAV_RALLY_POINT),
        uploaded after the mission as MAV_MISSION_TYPE_FENCE and MAV_MISSION_TYPE_RALLY. None
        leaves the vehicle's as they are; an empty list clears them.
    progress : callable, optional
        Called with one line of text per step.

    Raises
    ------
    MissionUploadError, CommandRefused, LinkTimeout, TelemetryError
        From the steps.
    """
    say = progress or (lambda _: None)
    upload_mission(handle, items)
    say(f"mission uploaded ({len(items)} items)")
    upload_fence_and_rally(handle, fence_items, rally_items, progress=say)
    run = MissionRun(items_uploaded=len(items),
                     fence_uploaded=None if fence_items is None else len(fence_items),
                     rally_uploaded=None if rally_items is None else len(rally_items))
    takeoff(handle, takeoff_alt_m, arm_timeout_s=arm_timeout_s, progress=say)
    run.armed_at_s = time.time()
    with handle.subscribe(_WATCHED) as sub:
        start_mission(handle)
        say("mode AUTO: flying the mission")
        run.reached = _watch_until_disarmed(handle, sub, timeout_s, say)
    run.disarmed_at_s = time.time()
    say("landed and disarmed")
    return run
