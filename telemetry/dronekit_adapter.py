"""DroneKit-Python behind a small surface: connect, upload a mission, fly it.

dronekit 2.9.2 (the last release) still subclasses ``collections.MutableMapping``, an alias
Python 3.10 removed; the alias is restored from ``collections.abc`` before ``import
dronekit`` here, and nowhere else imports dronekit. DroneKit opens its own pymavlink
connection (its ``connect`` takes the same connection strings), fetches every parameter,
uploads missions with MISSION_ITEM (floats, degrees) and sets modes with SET_MODE.

The project's own path is :mod:`telemetry.daemon` + :mod:`telemetry.commands`; this adapter
exists for scripts written against DroneKit's ``Vehicle`` API.
"""

from __future__ import annotations

import collections
import collections.abc
import time
from typing import Any, Callable, Sequence

if not hasattr(collections, "MutableMapping"):      # removed in Python 3.10; dronekit 2.9.2 needs it
    collections.MutableMapping = collections.abc.MutableMapping

import dronekit  # noqa: E402  (after the alias above)

from missions.items import MissionItem  # noqa: E402
from telemetry.errors import LinkTimeout, TelemetryError  # noqa: E402

__all__ = ["connect", "fly_mission", "upload_mission"]


def connect(url: str, *, timeout_s: float = 60.0, rate_hz: int = 4) -> Any:
    """Connect with DroneKit and wait until its default attributes are loaded.

    Parameters
    ----------
    url : str
        pymavlink connection string (``tcp:127.0.0.1:5760``, ``udpin:0.0.0.0:14550``...).
    timeout_s : float
        Longest wait for the HEARTBEAT and the parameters, seconds.
    rate_hz : int
        Data stream rate DroneKit asks for.

    Returns
    -------
    dronekit.Vehicle

    Raises
    ------
    TelemetryError
        DroneKit could not connect or load the vehicle within ``timeout_s``.
    """
    try:
        return dronekit.connect(url, wait_ready=True, timeout=timeout_s, heartbeat_timeout=timeout_s,
                                rate=rate_hz)
    except (dronekit.APIException, OSError, TimeoutError) as err:
        raise TelemetryError(f"dronekit could not connect to {url!r}: {err}") from err


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
                arm_timeout_s: float = 90.0, progress: Callable[[str], None] | None = None) -> None:
    """Upload and fly a mission with DroneKit: GUIDED, arm, take off, AUTO, wait for disarm.

    Raises
    ------
    LinkTimeout
        A step did not happen in time (arming is retried until ``arm_timeout_s``).
    """
    say = progress or (lambda _: None)
    upload_mission(vehicle, items)
    say(f"dronekit: mission uploaded ({len(items)} items)")
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
    vehicle.mode = dronekit.VehicleMode("AUTO")
    _wait(lambda: vehicle.mode.name == "AUTO", 10.0, "in AUTO")
    say("dronekit: mode AUTO")
    _wait(lambda: not vehicle.armed, timeout_s, "disarmed")
    say("dronekit: landed and disarmed")
