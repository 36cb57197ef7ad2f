"""Fly a stored route (``missions.models.Route``), or any mission, on a vehicle reached by a
connection string, and archive the flight.

The composition the CLI's ``patrol fly`` and the demo use. Two ways to talk to the vehicle:

- ``via="pymavlink"`` (the project's own): start a daemon on the link, wait for the vehicle,
  fly with :func:`telemetry.commands.fly_mission`, stop the daemon (which archives the tlog,
  kind ``live-tlog``, and has recorded the flight as it happened).
- ``via="dronekit"``: fly with :mod:`telemetry.dronekit_adapter` on DroneKit's own connection,
  recorded into a tlog the same way (both directions), then imported into the archive
  (:func:`flight_logs.tlog.import_tlog`, kind ``tlog``), which runs the same flight recorder.

The geofence and rally points go up with the mission (MAV_MISSION_TYPE_FENCE and
MAV_MISSION_TYPE_RALLY) on both ways: a stored route's (``Route.fence``, ``Route.rally_points``,
as :func:`missions.store.route_fence_items` and :func:`~missions.store.route_rally_items` make
them), or a mission file's (:func:`fly_file`). The recorded flight is linked to the route.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from sqlalchemy.orm import Session, sessionmaker

from flight_logs.errors import ArchiveError
from flight_logs.models import Flight, LogFile
from flight_logs.tlog import import_tlog
from missions.errors import MissionError
from missions.files import read_mission
from missions.items import MissionItem
from missions.mission_file import MissionFile
from missions.models import Route
from missions.safety import fence_polygon_items, fit_fence, rally_point_items
from missions.store import route_fence_items, route_rally_items
from telemetry.commands import fly_mission
from telemetry.daemon import Daemon
from telemetry.errors import TelemetryError

__all__ = ["VIA", "fly_file", "fly_items", "fly_route", "mission_file_safety_items", "route_takeoff_alt_m"]

#: The ways to talk to the vehicle: the project's daemon and commands, or DroneKit.
VIA = ("pymavlink", "dronekit")

Progress = Callable[[str], None]


def route_takeoff_alt_m(items: Sequence[MissionItem]) -> float:
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
              fence_items: Sequence[MissionItem] | None = None, rally_items: Sequence[MissionItem] | None = None,
              **options: Any) -> dict[str, Any]:
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
    fence_items, rally_items : sequence of MissionItem, optional
        Geofence and rally points to upload with the mission. Default: the route's own
        (:func:`missions.store.route_fence_items`, fitted to ArduCopter's fence storage with a
        return point at home; :func:`~missions.store.route_rally_items`); a route without a
        fence or rally points leaves the vehicle's as they are.
    **options
        As :func:`fly_items` (``via``, ``takeoff_alt_m``, ``timeout_s``, ``progress``...).

    Returns
    -------
    dict
        As :func:`fly_items`, with ``route_id``.

    Raises
    ------
    TelemetryError
        No such route, and as :func:`fly_items`.
    MissionError
        The route's stored fence is malformed or cannot fit the fence storage.
    """
    with session_factory() as session:
        route = session.get(Route, route_id)
        if route is None:
            raise TelemetryError(f"no route {route_id}")
        items = [MissionItem.from_dict(d) for d in route.items]
        fence = fence_items if fence_items is not None else (route_fence_items(route) or None)
        rally = rally_items if rally_items is not None else (route_rally_items(route) or None)
        name = f"route {route_id} ({route.name})"
    return fly_items(session_factory, data_dir, url, items, fence_items=fence, rally_items=rally, name=name,
                     route_id=route_id, **options)


def mission_file_safety_items(mission: MissionFile) -> tuple[list[MissionItem] | None, list[MissionItem] | None]:
    """A mission file's geofence and rally points as MAV_MISSION_TYPE_FENCE and _RALLY items.

    The fence polygons are fitted to ArduCopter's fence storage
    (:func:`missions.safety.fit_fence`: a fence that fits comes back as given), followed by a
    return point at home (item 0); None for what the file does not have.

    Raises
    ------
    MissionError
        The file's fence has circles (not uploaded by this function), or cannot fit.
    """
    if mission.geofence_circles:
        raise MissionError(f"{mission.path}: its geofence has {len(mission.geofence_circles)} circle(s), "
                           "which are not uploaded; fly it with --mission-only or redraw them as polygons")
    fence = None
    if mission.geofence_polygons:
        home = mission.items[0] if mission.items else None
        fence = fence_polygon_items(fit_fence(mission.geofence_polygons),
                                    (home.lon_deg, home.lat_deg) if home is not None else None)
    rally = rally_point_items(mission.rally_points) if mission.rally_points else None
    return fence, rally


def fly_file(session_factory: sessionmaker, data_dir: Path, url: str, path: Path | str, *,
             mission_only: bool = False, progress: Progress | None = None, **options: Any) -> dict[str, Any]:
    """Fly a mission file (QGroundControl ``.plan``, ``QGC WPL 110``) without storing a route.

    Parameters
    ----------
    path : Path
        The file (:func:`missions.read_mission`); its reading notes go to ``progress``.
    mission_only : bool
        Upload only the mission items, leaving the vehicle's geofence and rally points as
        they are; otherwise the file's go up with it (:func:`mission_file_safety_items`).
    **options
        As :func:`fly_items`.

    Returns
    -------
    dict
        As :func:`fly_items` (``route_id`` None).

    Raises
    ------
    PlanFileError
        The file cannot be read.
    MissionError
        Its geofence cannot be uploaded (circles, too large).
    TelemetryError
        As :func:`fly_items`.
    """
    say = progress or (lambda _: None)
    mission = read_mission(path)
    for note in mission.notes:
        say(f"{mission.path}: {note}")
    fence, rally = (None, None) if mission_only else mission_file_safety_items(mission)
    return fly_items(session_factory, data_dir, url, mission.items, fence_items=fence, rally_items=rally,
                     name=mission.path.name, progress=progress, **options)


def fly_items(session_factory: sessionmaker, data_dir: Path, url: str, items: Sequence[MissionItem], *,
              fence_items: Sequence[MissionItem] | None = None, rally_items: Sequence[MissionItem] | None = None,
              via: str = "pymavlink", route_id: int | None = None, name: str | None = None,
              takeoff_alt_m: float | None = None, timeout_s: float = 3600.0, wait_vehicle_s: float = 60.0,
              vehicle_name: str | None = None, progress: Progress | None = None,
              **daemon_options: Any) -> dict[str, Any]:
    """Upload a mission (with its geofence and rally points), fly it, and archive the flight.

    Parameters
    ----------
    session_factory : sessionmaker
        The application's session factory.
    data_dir : Path
        The data root (the tlog is archived there).
    url : str
        pymavlink connection string of the vehicle.
    items : sequence of MissionItem
        The mission, item 0 home, ending with RTL or a landing.
    fence_items, rally_items : sequence of MissionItem, optional
        Geofence (MAV_CMD_NAV_FENCE_* items) and rally points (MAV_CMD_NAV_RALLY_POINT),
        uploaded after the mission. None leaves the vehicle's as they are; [] clears them.
    via : {"pymavlink", "dronekit"}
        Who talks to the vehicle (module docstring).
    route_id : int, optional
        Route the flight is linked to.
    name : str, optional
        What is flown, for the progress lines.
    takeoff_alt_m : float, optional
        Default: :func:`route_takeoff_alt_m`.
    timeout_s : float
        Longest time from AUTO to disarm, wall seconds.
    wait_vehicle_s : float
        Longest wait for the vehicle's first HEARTBEAT (and, with DroneKit, its parameters).
    vehicle_name : str, optional
        Name of the vehicle row of the recording (default: from the link).
    progress : callable, optional
        One line of text per step.
    **daemon_options
        Passed to :class:`~telemetry.daemon.Daemon` (``via="pymavlink"`` only).

    Returns
    -------
    dict
        ``id`` (of the flight), ``route_id``, ``start``/``end`` (ISO 8601 UTC), ``duration_s``,
        ``distance_m``, ``max_alt_rel_m``, ``photo_count``, ``battery_used_pct``,
        ``track_points``, ``items_reached``, ``fence_items``/``rally_items`` (counts uploaded,
        None when not sent), ``via``, ``tlog`` (path under the data root).

    Raises
    ------
    TelemetryError
        Unknown ``via``, no vehicle, a refused command or failed upload (subclasses), or no
        flight recorded.
    """
    if via not in VIA:
        raise TelemetryError(f"unknown way to fly {via!r}: give one of {', '.join(VIA)}")
    if via == "dronekit" and daemon_options:
        raise TelemetryError(f"options {', '.join(sorted(daemon_options))} are for the daemon (via pymavlink)")
    say = progress or (lambda _: None)
    alt = takeoff_alt_m if takeoff_alt_m is not None else route_takeoff_alt_m(items)
    what = name or f"a mission of {len(items)} items"
    if via == "pymavlink":
        flight_id, reached = _fly_pymavlink(session_factory, data_dir, url, items, fence_items, rally_items, alt,
                                            what, timeout_s, wait_vehicle_s, vehicle_name, say, daemon_options)
    else:
        flight_id, reached = _fly_dronekit(session_factory, data_dir, url, items, fence_items, rally_items, alt,
                                           what, timeout_s, wait_vehicle_s, vehicle_name, say)
    with session_factory.begin() as session:
        flight = session.get(Flight, flight_id)
        if route_id is not None:
            flight.route_id = route_id
        return {**_flight_result(session, flight), "route_id": route_id, "items_reached": reached,
                "fence_items": None if fence_items is None else len(fence_items),
                "rally_items": None if rally_items is None else len(rally_items), "via": via}


def _flight_result(session: Session, flight: Flight) -> dict[str, Any]:
    log_file = session.get(LogFile, flight.log_file_id) if flight.log_file_id else None
    return {
        "id": flight.id, "start": flight.start_utc.isoformat(),
        "end": flight.end_utc.isoformat() if flight.end_utc else None,
        "duration_s": flight.duration_s, "distance_m": flight.distance_m, "max_alt_rel_m": flight.max_alt_rel_m,
        "photo_count": flight.photo_count, "battery_used_pct": flight.battery_used_pct,
        "track_points": session.scalar(sa.select(sa.func.count()).select_from(Flight).join(Flight.track)
                                       .where(Flight.id == flight.id)),
        "tlog": log_file.stored_path if log_file else None,
    }


def _fly_pymavlink(session_factory, data_dir, url, items, fence_items, rally_items, alt, what, timeout_s,
                   wait_vehicle_s, vehicle_name, say, daemon_options) -> tuple[int, list[int]]:
    daemon = Daemon(session_factory, data_dir, [url], vehicle_name=vehicle_name, **daemon_options)
    daemon.start()
    try:
        handle = daemon.wait_vehicle(wait_vehicle_s)
        say(f"vehicle {handle.target_system} on {url}; flying {what}")
        run = fly_mission(handle, items, takeoff_alt_m=alt, timeout_s=timeout_s, fence_items=fence_items,
                          rally_items=rally_items, progress=say)
    finally:
        daemon.stop()
    recorder = daemon.recorder(url, handle.target_system)
    if recorder is None or not recorder.flight_ids:
        raise TelemetryError(f"{what}: the vehicle flew but no flight was recorded")
    return recorder.flight_ids[-1], run.reached


def _fly_dronekit(session_factory, data_dir, url, items, fence_items, rally_items, alt, what, timeout_s,
                  wait_vehicle_s, vehicle_name, say) -> tuple[int, list[int]]:
    from telemetry import dronekit_adapter          # dronekit only when asked for

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9.]+", "_", url).strip("_")
    tlog = Path(data_dir) / "live" / f"{stamp}_{safe}_dronekit.tlog"
    try:
        vehicle = dronekit_adapter.connect(url, timeout_s=wait_vehicle_s, tlog_path=tlog)
    except TelemetryError:
        if tlog.is_file() and tlog.stat().st_size == 0:
            tlog.unlink()
        raise
    archive = dict(session_factory=session_factory, data_dir=data_dir, tlog=tlog, vehicle_name=vehicle_name or url)
    try:
        say(f"dronekit: vehicle on {url}; flying {what}")
        reached = dronekit_adapter.fly_mission(vehicle, items, takeoff_alt_m=alt, timeout_s=timeout_s,
                                               fence_items=fence_items, rally_items=rally_items, progress=say)
    except BaseException:
        dronekit_adapter.close(vehicle)
        try:                                     # archive what was flown before the failure
            _archive_recording(**archive)
        except (ArchiveError, OSError, TelemetryError):
            pass                                 # the recording stays under live/
        raise
    dronekit_adapter.close(vehicle)
    flight_id = _archive_recording(**archive)
    if flight_id is None:
        raise TelemetryError(f"{what}: the vehicle flew but no flight is in its recording")
    return flight_id, reached


def _archive_recording(session_factory: sessionmaker, data_dir: Path, tlog: Path, vehicle_name: str) -> int | None:
    """Import a DroneKit recording into the archive (then drop the live copy); the last flight's id."""
    with session_factory.begin() as session:
        imported = import_tlog(session, data_dir, tlog, vehicle_name=vehicle_name)
        flight_id = imported.flights[-1].id if imported.flights else None
    tlog.unlink()                                # archived under raw/tlog/
    return flight_id
