"""Alarms of the live daemon on loopback: stored as flight events and pushed to the live feed.

Battery and the ground geofence check with the simulated ArduCopter flying; link loss by
stopping the simulator's process (SIGSTOP) and letting it go on (SIGCONT); failsafe modes,
FENCE_STATUS and system status from a scripted vehicle (the simulator has no failsafes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.models import Flight, FlightEvent
from missions.items import fence_vertex_item
from telemetry.alarms import AlarmThresholds
from telemetry.commands import set_mode, takeoff, wait_disarmed
from telemetry.config import DaemonConfig
from telemetry.daemon import Daemon
from telemetry.feed import LiveFeed
from telemetry.mission_protocol import upload_mission
from telemetry.models import VehicleStatus

from .daemon_peers import UdpVehicle
from .test_daemon_links import free_udp_port, running

REPO = Path(__file__).resolve().parents[2]


def alarm_events(feed: LiveFeed, seen: list) -> list[tuple[str, str]]:
    seen += [e for e in feed.drain() if e["type"] == "alarm"]
    return [(e["alarm"]["code"], e["alarm"]["transition"]) for e in seen]


def wait_alarm(daemon: Daemon, feed: LiveFeed, seen: list, wanted: tuple[str, str], timeout_s: float) -> None:
    assert daemon.wait_for(lambda: wanted in alarm_events(feed, seen), timeout_s), alarm_events(feed, seen)


def stored_alarms(session_factory, flight_id=None):
    with session_factory() as session:
        query = sa.select(FlightEvent).where(FlightEvent.kind.in_(["alarm", "alarm_cleared"])).order_by(FlightEvent.id)
        if flight_id is not None:
            query = query.where(FlightEvent.flight_id == flight_id)
        return [(e.data["code"], e.data["transition"], e.severity, e.flight_id) for e in session.scalars(query)]


def test_battery_low_and_critical_in_flight_and_a_commanded_rtl_is_no_failsafe(session_factory, settings, sim_tcp):
    """A 300 mAh battery (BATT_CAPACITY) hovering at 28 A: low at 30 %, critical at 15 %."""
    url = sim_tcp(20.0, params={"BATT_CAPACITY": 300})
    feed, seen = LiveFeed(), []
    daemon = Daemon(session_factory, settings.data_dir, [url])
    daemon.add_listener(feed)
    with running(daemon):
        handle = daemon.wait_vehicle(20)
        takeoff(handle, 10.0)
        wait_alarm(daemon, feed, seen, ("battery_low", "raised"), 60)
        wait_alarm(daemon, feed, seen, ("battery_critical", "raised"), 60)
        (snap,) = daemon.snapshot()
        set_mode(handle, "RTL")                    # asked by this ground station: no failsafe alarm
        wait_disarmed(handle, 120)
    assert {a["code"] for a in snap["alarms"]} == {"battery_low", "battery_critical"}
    assert snap["battery_remaining_pct"] <= 15 and snap["in_flight"]
    assert "failsafe_mode" not in {code for code, _ in alarm_events(feed, seen)}
    with session_factory() as session:
        (flight,) = session.scalars(sa.select(Flight)).all()
        (status,) = session.scalars(sa.select(VehicleStatus)).all()
        assert status.mode == "RTL" and not status.armed
        assert {a["code"] for a in status.alarms} == {"battery_low", "battery_critical"}
    in_flight = [(code, t, sev) for code, t, sev, _ in stored_alarms(session_factory, flight.id)
                 if code != "statustext"]
    assert in_flight == [("battery_low", "raised", mavlink.MAV_SEVERITY_WARNING),
                         ("battery_critical", "raised", mavlink.MAV_SEVERITY_CRITICAL)]


def test_ground_geofence_check_against_the_uploaded_fence(session_factory, settings, sim_tcp, home):
    """A fence uploaded through the daemon (MAV_MISSION_TYPE_FENCE, accepted by the vehicle) that
    leaves home outside: breach on the ground check; a fence around home clears it."""
    lat, lon, _ = home
    away = [(lon + 0.001, lat + 0.001), (lon + 0.002, lat + 0.001), (lon + 0.002, lat + 0.002),
            (lon + 0.001, lat + 0.002)]
    around = [(lon - 0.001, lat - 0.001), (lon + 0.001, lat - 0.001), (lon + 0.001, lat + 0.001),
              (lon - 0.001, lat + 0.001)]
    url = sim_tcp(20.0)
    feed, seen = LiveFeed(), []
    daemon = Daemon(session_factory, settings.data_dir, [url])
    daemon.add_listener(feed)
    with running(daemon):
        handle = daemon.wait_vehicle(20)
        handle.wait_until(lambda s: s.lat_deg is not None, 30, "with a position")
        assert not daemon.snapshot()[0]["fence_known"]
        upload_mission(handle, [fence_vertex_item(x, y, 4) for x, y in away],
                       mission_type=mavlink.MAV_MISSION_TYPE_FENCE)
        wait_alarm(daemon, feed, seen, ("fence_breach_ground", "raised"), 10)
        assert daemon.snapshot()[0]["fence_known"]
        upload_mission(handle, [fence_vertex_item(x, y, 4) for x, y in around],
                       mission_type=mavlink.MAV_MISSION_TYPE_FENCE)
        wait_alarm(daemon, feed, seen, ("fence_breach_ground", "cleared"), 10)
    raised = next(e for e in seen if e["alarm"]["code"] == "fence_breach_ground")
    assert raised["alarm"]["message"] == "geofence breach (ground check): outside inclusion polygon 1"
    assert [a[:2] for a in stored_alarms(session_factory) if a[0] == "fence_breach_ground"] == [
        ("fence_breach_ground", "raised"), ("fence_breach_ground", "cleared")]


def test_link_loss_when_the_vehicle_falls_silent_and_back(session_factory, settings, home):
    """The simulator in its own process, stopped (SIGSTOP) then continued: ``link_lost`` after
    the configured silence, cleared by its next HEARTBEAT."""
    port = free_udp_port()
    url = f"udpin:127.0.0.1:{port}"
    sim = subprocess.Popen([sys.executable, "-m", "telemetry.sim", "--home", ",".join(map(str, home)),
                            "--speedup", "5", "--out", f"udpout:127.0.0.1:{port}"],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    feed, seen = LiveFeed(), []
    config = DaemonConfig(alarms=AlarmThresholds(link_loss_s=1.0))
    daemon = Daemon(session_factory, settings.data_dir, [url], config=config)
    daemon.add_listener(feed)
    try:
        with running(daemon):
            handle = daemon.wait_vehicle(20)
            handle.wait_until(lambda s: s.lat_deg is not None, 30, "with a position")
            os.kill(sim.pid, signal.SIGSTOP)
            wait_alarm(daemon, feed, seen, ("link_lost", "raised"), 10)
            (silent,) = daemon.snapshot()
            os.kill(sim.pid, signal.SIGCONT)
            wait_alarm(daemon, feed, seen, ("link_lost", "cleared"), 10)
            (back,) = daemon.snapshot()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(sim.pid, signal.SIGCONT)
        sim.terminate()
        sim.communicate(timeout=10)
    assert not silent["link_ok"] and silent["heartbeat_age_s"] > 1.0
    assert [a["code"] for a in silent["alarms"]] == ["link_lost"]
    assert back["link_ok"] and back["alarms"] == []
    lost = next(e for e in seen if e["alarm"]["code"] == "link_lost")
    assert lost["alarm"]["severity"] == mavlink.MAV_SEVERITY_CRITICAL and lost["alarm"]["data"]["threshold_s"] == 1.0
    assert [a[:2] for a in stored_alarms(session_factory) if a[0] == "link_lost"] == [
        ("link_lost", "raised"), ("link_lost", "cleared")]


def test_failsafe_mode_fence_status_system_status_and_statustext_from_a_vehicle(session_factory, settings):
    port = free_udp_port()
    url = f"udpin:127.0.0.1:{port}"
    vehicle = UdpVehicle(port, 7)
    feed, seen = LiveFeed(), []
    daemon = Daemon(session_factory, settings.data_dir, [url])
    daemon.add_listener(feed)
    AUTO, RTL, LAND = 3, 6, 9

    def beat(mode, status=mavlink.MAV_STATE_ACTIVE, n=3):
        for _ in range(n):
            vehicle.send(vehicle.heartbeat(mode=mode, armed=True, status=status))
            time.sleep(0.02)

    try:
        with running(daemon):
            beat(AUTO)
            daemon.wait_vehicle(10)
            beat(RTL)                                            # nobody asked for RTL: a failsafe
            wait_alarm(daemon, feed, seen, ("failsafe_mode", "raised"), 10)
            beat(AUTO)
            wait_alarm(daemon, feed, seen, ("failsafe_mode", "cleared"), 10)
            mav = daemon.mav(url)                                # LAND asked by this ground station
            daemon.send(url, mav.command_long_encode(7, 1, mavlink.MAV_CMD_NAV_LAND, 0, 0, 0, 0, 0, 0, 0, 0))
            beat(LAND)
            vehicle.send(vehicle.frame(vehicle.mav.fence_status_encode(1, 1, mavlink.FENCE_BREACH_BOUNDARY, 0)))
            wait_alarm(daemon, feed, seen, ("fence_breach", "raised"), 10)
            beat(LAND, status=mavlink.MAV_STATE_CRITICAL)
            wait_alarm(daemon, feed, seen, ("system_critical", "raised"), 10)
            vehicle.send(vehicle.frame(vehicle.mav.statustext_encode(mavlink.MAV_SEVERITY_CRITICAL,
                                                                     b"Battery 1 is critical", 0, 0)))
            wait_alarm(daemon, feed, seen, ("statustext", "notice"), 10)
            beat(LAND)
            wait_alarm(daemon, feed, seen, ("system_critical", "cleared"), 10)
    finally:
        vehicle.close()
    codes = alarm_events(feed, seen)
    assert ("failsafe_mode", "raised") not in codes[2:]          # the commanded LAND raised nothing
    text = next(e for e in seen if e["alarm"]["code"] == "statustext")
    assert text["alarm"]["message"] == "CRITICAL: Battery 1 is critical"
    assert text["key"] == f"{url}#7" and text["in_flight"]
    with session_factory() as session:
        (flight,) = session.scalars(sa.select(Flight)).all()      # armed from the first HEARTBEAT: one flight
    stored = stored_alarms(session_factory)
    assert [(c, t) for c, t, _, _ in stored] == codes
    assert {f for _, _, _, f in stored} == {flight.id}
