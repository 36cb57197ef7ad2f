"""Fixtures of the live-side tests: the simulated vehicle on loopback, a test mission, a tlog reader."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.items import MissionItem, cam_trigg_dist_item, home_item, rtl_item, takeoff_item, waypoint_item
from telemetry.sim import SimServer

HOME = (30.7005, 121.0185, 5.0)


@pytest.fixture
def home() -> tuple[float, float, float]:
    """The simulated vehicle's home: (lat_deg, lon_deg, alt_amsl_m), Pinghu."""
    return HOME


@pytest.fixture
def udp_port() -> int:
    """A free UDP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def short_survey() -> list:
    """Home, take-off to 30 m, trigger every 20 m, four waypoints (a small lawnmower), trigger off, RTL."""
    lat, lon, amsl = HOME
    alt_m, trigger_m = 30.0, 20.0
    return [home_item(lon, lat, amsl), takeoff_item(lon, lat, alt_m), cam_trigg_dist_item(trigger_m),
            waypoint_item(lon + 0.0002, lat + 0.0002, alt_m), waypoint_item(lon + 0.0002, lat + 0.0010, alt_m),
            waypoint_item(lon + 0.0006, lat + 0.0010, alt_m), waypoint_item(lon + 0.0006, lat + 0.0002, alt_m),
            cam_trigg_dist_item(0, trigger_now=False), rtl_item()]


def fence_polygon(ring: list[tuple[float, float]], *, inclusion: bool) -> list[MissionItem]:
    """Geofence items of one polygon as ArduPilot takes them: one MAV_CMD_NAV_FENCE_POLYGON_VERTEX_*
    per vertex (``ring``: (lon, lat), not closed), param1 = the vertex count."""
    command = (mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION if inclusion
               else mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
    return [MissionItem(command, mavlink.MAV_FRAME_GLOBAL, param1=float(len(ring)), lat_deg=lat, lon_deg=lon)
            for lon, lat in ring]


@pytest.fixture
def fence_and_rally() -> tuple[list[MissionItem], list[MissionItem]]:
    """A geofence around :func:`short_survey` (inclusion quadrilateral, an exclusion triangle
    beside the route, a return point) and two rally points (the first at 30.6 m: ArduPilot keeps 30)."""
    lat, lon, _ = HOME
    fence = (fence_polygon([(lon - 0.0005, lat - 0.0005), (lon + 0.0010, lat - 0.0005),
                            (lon + 0.0010, lat + 0.0015), (lon - 0.0005, lat + 0.0015)], inclusion=True)
             + fence_polygon([(lon + 0.0008, lat - 0.0004), (lon + 0.0009, lat - 0.0004),
                              (lon + 0.0009, lat - 0.0003)], inclusion=False)
             + [MissionItem(mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT, mavlink.MAV_FRAME_GLOBAL,
                            lat_deg=lat, lon_deg=lon)])
    rally = [MissionItem(mavlink.MAV_CMD_NAV_RALLY_POINT, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                         lat_deg=lat + 0.0012, lon_deg=lon + 0.0001, alt_m=30.6),
             MissionItem(mavlink.MAV_CMD_NAV_RALLY_POINT, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                         lat_deg=lat - 0.0003, lon_deg=lon - 0.0003, alt_m=25.0)]
    return fence, rally


@pytest.fixture(scope="module")
def sim_tcp() -> Iterator:
    """Start a simulated vehicle in this process listening like SITL (tcpin, free port).

    Yields a function ``start(speedup, **options) -> "tcp:127.0.0.1:PORT"`` (the client's
    string; options such as ``drop`` and ``max_items`` go to :class:`SimServer`); its
    ``servers`` maps each string to its :class:`SimServer`. Every simulator started is stopped
    at the end of the test module.
    """
    stops: list[threading.Event] = []
    threads: list[threading.Thread] = []

    def start(speedup: float, **options) -> str:
        stop = threading.Event()
        server = SimServer(HOME, speedup=speedup, endpoints=["tcpin:127.0.0.1:0"], **options)
        thread = threading.Thread(target=server.serve, args=(stop,), daemon=True)
        thread.start()
        stops.append(stop)
        threads.append(thread)
        url = server.addresses[0].replace("tcpin:", "tcp:")
        start.servers[url] = server
        return url

    start.servers = {}
    yield start
    for stop in stops:
        stop.set()
    for thread in threads:
        thread.join(10)


def _read_tlog(path: Path) -> list:
    log = mavutil.mavlogfile(str(path), robust_parsing=True)
    try:
        return list(iter(log.recv_msg, None))
    finally:
        log.close()


@pytest.fixture(scope="session")
def read_tlog():
    """``read_tlog(path)`` -> every message of a tlog (BAD_DATA included), each with ``_timestamp``."""
    return _read_tlog
