"""Fixtures of the live-side tests: the simulated vehicle on loopback, a test mission, a tlog reader."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymavlink import mavutil

from missions.items import cam_trigg_dist_item, home_item, rtl_item, takeoff_item, waypoint_item
from telemetry.sim import run_sim

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


@pytest.fixture(scope="module")
def sim_tcp() -> Iterator:
    """Start a simulated vehicle in this process listening like SITL (tcpin, free port).

    Yields a function ``start(speedup) -> "tcp:127.0.0.1:PORT"`` (the client's string); every
    simulator started is stopped at the end of the test module.
    """
    stops: list[threading.Event] = []
    threads: list[threading.Thread] = []

    def start(speedup: float) -> str:
        stop, ready, addresses = threading.Event(), threading.Event(), []
        thread = threading.Thread(target=run_sim, args=(HOME,), daemon=True, kwargs=dict(
            speedup=speedup, listen="tcpin:127.0.0.1:0", stop=stop,
            ready=lambda a: (addresses.extend(a), ready.set())))
        thread.start()
        assert ready.wait(10), "simulator did not start"
        stops.append(stop)
        threads.append(thread)
        return addresses[0].replace("tcpin:", "tcp:")

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
