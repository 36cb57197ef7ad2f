"""DroneKit-Python behind a small surface: connect (recording a tlog), upload a mission, fly it.

dronekit 2.9.2 (the last release) still subclasses ``collections.MutableMapping``, an alias
Python 3.10 removed; the alias is restored from ``collections.abc`` before ``import
dronekit`` here, and nowhere else imports dronekit. DroneKit opens its own pymavlink
connection (its ``connect`` takes the same connection strings), fetches every parameter,
uploads missions with MISSION_ITEM (floats, degrees) and sets modes with SET_MODE.

DroneKit has no geofence or rally point API: those go up with the project's mission protocol
(:func:`telemetry.mission_protocol.upload_mission`, MISSION_ITEM_INT, MAVLink 2) over
DroneKit's own connection (:class:`DronekitChannel`). With ``tlog_path`` the connection is
recorded like the daemon's links (every message received and sent, 8-byte big-endian UTC
microseconds + frame), so a DroneKit flight is archived by importing that tlog.

The project's own path is :mod:`telemetry.daemon` + :mod:`telemetry.commands`; this adapter
exists for users and scripts written against DroneKit's ``Vehicle`` API.
"""

from __future__ import annotations

import collections
import collections.abc
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

if not hasattr(collections, "MutableMapping"):      # removed in Python 3.10; dronekit 2.9.2 needs it
    collections.MutableMapping = collections.abc.MutableMapping

import dronekit  # noqa: E402  (after the alias above)

from flight_logs.tlog import TlogWriter  # noqa: E402
from missions.items import MissionItem  # noqa: E402
from telemetry.errors import LinkTimeout, TelemetryError  # noqa: E402
from telemetry.handle import Subscription  # noqa: E402
from telemetry.mission_protocol import upload_fence_and_rally  # noqa: E402

__all__ = ["DronekitChannel", "close", "connect", "fly_mission", "upload_mission"]


def _record(vehicle: Any, tlog: TlogWriter) -> None:
    """Write every message DroneKit's connection receives and sends into ``tlog``.

    Received: a message listener for every type (DroneKit calls it in its receive thread).
    Sent: every frame goes through the pymavlink connection's ``write`` (DroneKit's send
    thread, and pymavlink's own MAVLink object after its switch to MAVLink 2), wrapped here.
    """
    def received(_vehicle: Any, _name: str, msg: Any) -> None:
        tlog.write(int(getattr(msg, "_timestamp", time.time()) * 1e6), msg.get_msgbuf())

    master = vehicle._handler.master
    write = master.write

    def sent(buf: bytes) -> Any:
        tlog.write(int(time.time() * 1e6), buf)
        return write(buf)

    master.write = sent
    vehicle.add_message_listener("*", received)


def connect(url: str, *, timeout_s: float = 60.0, rate_hz: int = 4, tlog_path: Path | None = None) -> Any:
    """Connect with DroneKit and wait until its default attributes are loaded.

    Parameters
    ----------
    url : str
        pymavlink connection string (``tcp:127.0.0.1:5760``, ``udpin:0.0.0.0:14550``...).
    timeout_s : float
        Longest wait for the HEARTBEAT and the parameters, seconds.
    rate_hz : int
        Data stream rate DroneKit asks for.
    tlog_path : Path, optional
        Record the connection there from its first byte (see the module docstring); the
        file is closed by :func:`close`.

    Returns
    -------
    dronekit.Vehicle

    Raises
    ------
    TelemetryError
        DroneKit could not connect or load the vehicle within ``timeout_s``.
    """
    vehicle = None
    try:
        vehicle = dronekit.connect(url, _initialize=False)
        if tlog_path is not None:
            vehicle._patrol_tlog = TlogWriter(tlog_path)
            _record(vehicle, vehicle._patrol_tlog)
        vehicle.initialize(rate=rate_hz, heartbeat_timeout=timeout_s)
        vehicle.wait_ready(True, timeout=timeout_s)
        return vehicle
    except (dronekit.APIException, OSError, TimeoutError) as err:
        if vehicle is not None:
            close(vehicle)
        raise TelemetryError(f"dronekit could not connect to {url!r}: {err}") from err


def close(vehicle: Any) -> None:
    """Close DroneKit's connection and the tlog :func:`connect` opened for it."""
    try:
        vehicle.close()
    finally:
        tlog = getattr(vehicle, "_patrol_tlog", None)
        if tlog is not None:
            tlog.close()


class DronekitChannel:
    """A DroneKit vehicle as :mod:`telemetry.mission_protocol` needs it.

    Messages are built with DroneKit's ``message_factory`` (pymavlink's MAVLink object of the
    connection: MAVLink 2 once the vehicle spoke it, as ArduPilot does) and sent with
    ``send_mavlink``; answers come from a message listener. Use as a context manager (the
    listener is removed on exit).

    Parameters
    ----------
    vehicle : dronekit.Vehicle
        A connected vehicle (:func:`connect`).
    """

    target_component = 1           # MAV_COMP_ID_AUTOPILOT1

    def __init__(self, vehicle: Any) -> None:
        self._vehicle = vehicle
        self.target_system = vehicle._handler.target_system
        self._subs: list[Subscription] = []
        vehicle.add_message_listener("*", self._offer)

    @property
    def mav(self) -> Any:
        return self._vehicle.message_factory

    def send(self, msg: Any) -> None:
        self._vehicle.send_mavlink(msg)

    def subscribe(self, types: Iterable[str]) -> Subscription:
        sub = Subscription(types, on_close=self._subs.remove)
        self._subs.append(sub)
        return sub

    def _offer(self, _vehicle: Any, _name: str, msg: Any) -> None:
        if msg.get_srcSystem() == self.target_system:
            for sub in list(self._subs):
                sub.offer(msg)

    def close(self) -> None:
        self._vehicle.remove_message_listener("*", self._offer)

    def __enter__(self) -> "DronekitChannel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _command(item: MissionItem) -> Any:
    return dronekit.Command(0, 0, 0, item.frame, item.command, 0, int(item.autocontinue), item.param1,
                            item.param2, item.param3, item.param4, item.lat_deg, item.lon_deg, item.alt_m)


def upload_mission(vehicle: Any, items: Sequence[MissionItem], *, timeout_s: float = 30.0) -> None:
    """Replace the vehicle's mission with ``items`` (item 0, home, is kept from the vehicle).

    Raises
    ------
    LinkTimeout
        The download of the current mission or the upload took longer than ``timeout_s``.
    """
    cmds = vehicle.commands
    try:
        cmds.download()
        cmds.wait_ready(timeout=timeout_s)
        cmds.clear()
        for item in items[1:]:
            cmds.add(_command(item))
        cmds.upload(timeout=timeout_s)
    except (dronekit.TimeoutError, TimeoutError) as err:
        raise LinkTimeout(f"dronekit mission transfer took longer than {timeout_s:g} s") from err


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise LinkTimeout(f"dronekit vehicle: not {what} within {timeout_s:g} s")
        time.sleep(0.01)


def fly_mission(vehicle: Any, items: Sequence[MissionItem], *, takeoff_alt_m: float, timeout_s: float = 3600.0,
                arm_timeout_s: float = 90.0, fence_items: Sequence[MissionItem] | None = None,
                rally_items: Sequence[MissionItem] | None = None,
                progress: Callable[[str], None] | None = None) -> list[int]:
    """Upload and fly a mission with DroneKit: GUIDED, arm, take off, AUTO, wait for disarm.

    Parameters
    ----------
    vehicle : dronekit.Vehicle
        From :func:`connect`.
    items : sequence of MissionItem
        The mission, item 0 home (DroneKit keeps the vehicle's).
    takeoff_alt_m : float
        Take-off altitude above home, metres.
    timeout_s : float
        Longest time from AUTO to disarm, wall seconds.
    arm_timeout_s : float
        How long to keep arming while the pre-arm checks fail.
    fence_items, rally_items : sequence of MissionItem, optional
        Geofence and rally points, uploaded after the mission as MAV_MISSION_TYPE_FENCE and
        MAV_MISSION_TYPE_RALLY (None leaves the vehicle's as they are; an empty list clears them).
    progress : callable, optional
        One line of text per step.

    Returns
    -------
    list of int
        The mission items reached (MISSION_ITEM_REACHED seq), in order.

    Raises
    ------
    LinkTimeout
        A step did not happen in time (arming is retried until ``arm_timeout_s``).
    MissionUploadError
        The vehicle refused the geofence or the rally points.
    """
    say = progress or (lambda _: None)
    upload_mission(vehicle, items)
    say(f"dronekit: mission uploaded ({len(items)} items)")
    if fence_items is not None or rally_items is not None:
        with DronekitChannel(vehicle) as channel:
            upload_fence_and_rally(channel, fence_items, rally_items, progress=lambda t: say(f"dronekit: {t}"))
    _wait(lambda: vehicle.is_armable, arm_timeout_s, "armable")
    vehicle.mode = dronekit.VehicleMode("GUIDED")
    _wait(lambda: vehicle.mode.name == "GUIDED", 10.0, "in GUIDED")
    deadline = time.monotonic() + arm_timeout_s
    while True:                  # ArduCopter disarms again after DISARM_DELAY (10 s) without a take-off
        vehicle.armed = True
        try:
            _wait(lambda: vehicle.armed, 1.0, "armed")
            break
        except LinkTimeout:
            if time.monotonic() > deadline:
                raise LinkTimeout(f"dronekit vehicle: not armed within {arm_timeout_s:g} s") from None
    vehicle.simple_takeoff(takeoff_alt_m)
    say("dronekit: armed, taking off")
    _wait(lambda: (vehicle.location.global_relative_frame.alt or 0.0) >= 0.95 * takeoff_alt_m, 120.0,
          f"above {0.95 * takeoff_alt_m:.1f} m")
    reached: list[int] = []

    def on_reached(_vehicle: Any, _name: str, msg: Any) -> None:
        reached.append(msg.seq)
        say(f"dronekit: mission item {msg.seq} reached")

    vehicle.add_message_listener("MISSION_ITEM_REACHED", on_reached)
    try:
        vehicle.mode = dronekit.VehicleMode("AUTO")
        _wait(lambda: vehicle.mode.name == "AUTO", 10.0, "in AUTO")
        say("dronekit: mode AUTO")
        _wait(lambda: not vehicle.armed, timeout_s, "disarmed")
    finally:
        vehicle.remove_message_listener("MISSION_ITEM_REACHED", on_reached)
    _next_heartbeat(vehicle)
    say("dronekit: landed and disarmed")
    return reached


def _next_heartbeat(vehicle: Any, timeout_s: float = 3.0) -> None:
    """Wait for one more HEARTBEAT: every listener has then seen the one that said "disarmed"
    (DroneKit runs the listeners of a message one after the other, in its receive thread)."""
    beat = threading.Event()

    def on_heartbeat(_vehicle: Any, _name: str, _msg: Any) -> None:
        beat.set()

    vehicle.add_message_listener("HEARTBEAT", on_heartbeat)
    try:
        beat.wait(timeout_s)
    finally:
        vehicle.remove_message_listener("HEARTBEAT", on_heartbeat)
