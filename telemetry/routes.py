"""Fly a stored route (``missions.models.Route``) on a vehicle reached by a connection string.

The composition the CLI's ``patrol fly`` and the demo use: start a daemon on the link, wait
for the vehicle, fly the route's mission items with :func:`telemetry.commands.fly_mission`,
stop the daemon (which archives the tlog), and link the recorded flight to the route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from sqlalchemy.orm import sessionmaker

from flight_logs.models import Flight, LogFile
from missions.items import MissionItem
from missions.models import Route
from telemetry.commands import fly_mission
from telemetry.daemon import Daemon
from telemetry.errors import TelemetryError

__all__ = ["fly_route", "route_takeoff_alt_m"]


def route_takeoff_alt_m(items: list[MissionItem]) -> float:
    """Take-off altitude of a mission: its NAV_TAKEOFF's, else its highest waypoint (m above home).

    Raises
    ------
    TelemetryError
        The mission has neither.
    """
    for item in items:
        if item.command == mavlink.MAV_CMD_NAV_TAKEOFF and item.alt_m > 0:
            return float(item.alt_m)
    alts = [item.alt_m for item in items[1:] if item.has_position
            and item.frame in (mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT)]
    if not alts:
        raise TelemetryError("the mission has no NAV_TAKEOFF and no waypoint above home: give takeoff_alt_m")
    return float(max(alts))


def fly_route(session_factory: sessionmaker, data_dir: Path, url: str, route_id: int, *,
              takeoff_alt_m: float | None = None, timeout_s: float = 3600.0, wait_vehicle_s: float = 60.0,
              progress: Callable[[str], None] | None = None, **daemon_options: Any) -> dict[str, Any]:
    """Fly route ``route_id`` on the vehicle at ``url`` and return the recorded flight.

    Parameters
    ----------
    session_factory : sessionmaker
        The application's session factory.
    data_dir : Path
        The data root (the tlog is archived there).
    url : str
        pymavlink connection string: ``udpin:127.0.0.1:14550`` for the simulator started with
        ``--out udpout:127.0.0.1:14550``, ``tcp:127.0.0.1:5760`` for SITL.
    route_id : int
        ``Route.id``; its ``items`` are the mission (item 0 home).
    takeoff_alt_m : float, optional
        Default: :func:`route_takeoff_alt_m`.
    timeout_s : float
        Longest time from AUTO to disarm, wall seconds.
    wait_vehicle_s : float
        Longest wait for the vehicle's first HEARTBEAT.
    progress : callable, optional
        One line of text per step.
    **daemon_options
        Passed to :class:`~telemetry.daemon.Daemon`.

    Returns
    -------
    dict
        ``id`` (of the flight), ``route_id``, ``start``/``end`` (ISO 8601 UTC), ``duration_s``, ``distance_m``,
        ``max_alt_rel_m``, ``photo_count``, ``battery_used_pct``, ``track_points``,
        ``items_reached``, ``tlog`` (path under the data root).

    Raises
    ------
    TelemetryError
        No such route, no vehicle, a refused command or failed upload (subclasses), or no
        flight recorded.
    """
    say = progress or (lambda _: None)
    with session_factory() as session:
        route = session.get(Route, route_id)
        if route is None:
            raise TelemetryError(f"no route {route_id}")
        items = [MissionItem.from_dict(d) for d in route.items]
        name = route.name
    alt = takeoff_alt_m if takeoff_alt_m is not None else route_takeoff_alt_m(items)
    daemon = Daemon(session_factory, data_dir, [url], **daemon_options)
    daemon.start()
    try:
        handle = daemon.wait_vehicle(wait_vehicle_s)
        say(f"vehicle {handle.target_system} on {url}; flying route {route_id} ({name}, {len(items)} items)")
        run = fly_mission(handle, items, takeoff_alt_m=alt, timeout_s=timeout_s, progress=say)
    finally:
        daemon.stop()
    recorder = daemon.recorder(url, handle.target_system)
    if recorder is None or not recorder.flight_ids:
        raise TelemetryError(f"route {route_id}: the vehicle flew but no flight was recorded")
    with session_factory.begin() as session:
        flight = session.get(Flight, recorder.flight_ids[-1])
        flight.route_id = route_id
        log_file = session.get(LogFile, flight.log_file_id) if flight.log_file_id else None
        return {
            "id": flight.id, "route_id": route_id,
            "start": flight.start_utc.isoformat(), "end": flight.end_utc.isoformat() if flight.end_utc else None,
            "duration_s": flight.duration_s, "distance_m": flight.distance_m, "max_alt_rel_m": flight.max_alt_rel_m,
            "photo_count": flight.photo_count, "battery_used_pct": flight.battery_used_pct,
            "track_points": session.scalar(sa.select(sa.func.count()).select_from(Flight).join(Flight.track)
                                           .where(Flight.id == flight.id)),
            "items_reached": run.reached, "tlog": log_file.stored_path if log_file else None,
        }
