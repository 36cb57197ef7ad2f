"""The live daemon on loopback: several links and vehicles, MAVLink 1 and 2, signing, reconnection,
garbage on a link, the live feed and the vehicle_status rows, the CLI stopped by SIGINT."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.models import LogFile, Vehicle
from flight_logs.store import resolve_stored
from patrol.db import make_engine, make_session_factory
from patrol.settings import Settings
from telemetry.config import DaemonConfig, LinkConfig, SigningConfig
from telemetry.daemon import Daemon
from telemetry.errors import TelemetryError
from telemetry.feed import LiveFeed
from telemetry.models import VehicleStatus

from .daemon_peers import TcpVehicle, UdpVehicle, parse

REPO = Path(__file__).resolve().parents[2]
LAT, LON = 30.7005, 121.0185
KEY = bytes(range(32))


@contextlib.contextmanager
def running(daemon: Daemon):
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send_for(vehicles_and_frames, seconds: float, period_s: float = 0.05) -> None:
    """Each (vehicle, make_frames) pair sends its frames every ``period_s`` for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for vehicle, make in vehicles_and_frames:
            for frame in make(vehicle):
                vehicle.send(frame)
        time.sleep(period_s)


def test_links_and_vehicles_keyed_by_link_and_system_id_mavlink1_and_2(session_factory, settings, sim_tcp):
    """One UDP link with a MAVLink 1 and a MAVLink 2 vehicle, one TCP link to the simulated
    ArduCopter (also system 1): three vehicles, each with its state, row and status."""
    port = free_udp_port()
    udp = f"udpin:127.0.0.1:{port}"
    tcp = sim_tcp(5.0)
    v1, v2 = UdpVehicle(port, 1, v1=True), UdpVehicle(port, 2)
    config = DaemonConfig(links=(LinkConfig(udp, name="dock A"), LinkConfig(tcp, name="dock B")))
    feed = LiveFeed()
    daemon = Daemon(session_factory, settings.data_dir, config=config, flush_interval_s=0.5)
    daemon.add_listener(feed)
    try:
        with running(daemon):
            send_for([(v1, lambda v: [v.heartbeat(mode=5), v.position(LAT, LON, 12.0)]),
                      (v2, lambda v: [v.heartbeat(mode=3, armed=True), v.position(LAT + 0.001, LON, 40.0)])], 1.5)
            assert daemon.wait_for(lambda: len(daemon.snapshot()) == 3 and all(
                s["lat_deg"] is not None for s in daemon.snapshot()), 30)
            snaps = {s["key"]: s for s in daemon.snapshot()}
            back_to_v1 = parse(v1.received())
    finally:
        v1.close()
        v2.close()
    assert set(snaps) == {f"{udp}#1", f"{udp}#2", f"{tcp}#1"}
    a1, a2, b1 = snaps[f"{udp}#1"], snaps[f"{udp}#2"], snaps[f"{tcp}#1"]
    assert (a1["mode"], a1["armed"], a1["alt_rel_m"], a1["name"]) == ("LOITER", False, 12.0, "dock A")
    assert (a2["mode"], a2["armed"], a2["alt_rel_m"], a2["name"]) == ("AUTO", True, 40.0, "dock A #2")
    assert b1["name"] == "dock B" and b1["lat_deg"] == pytest.approx(LAT, abs=1e-4)
    assert a1["link_stats"]["mavlink1_systems"] == [1] and b1["link_stats"]["mavlink1_systems"] == []
    assert a1["packets_lost"] == a2["packets_lost"] == 0 and a1["packet_loss_pct"] == 0.0
    # the daemon answers each vehicle in its own protocol version
    asks = [m for m in back_to_v1 if m.get_type() == "REQUEST_DATA_STREAM"]
    assert {m.target_system for m in asks} == {1, 2}
    assert {m.get_msgbuf()[0] for m in asks if m.target_system == 1} == {0xFE}
    assert {m.get_msgbuf()[0] for m in asks if m.target_system == 2} == {0xFD}
    # the live feed carried each vehicle's snapshots
    keys = {e["vehicle"]["key"] for e in feed.drain() if e["type"] == "vehicle"}
    assert keys == set(snaps)
    with session_factory() as session:
        vehicles = {v.key: v for v in session.scalars(sa.select(Vehicle))}
        assert set(vehicles) == set(snaps)
        status = {s.vehicle_id: s for s in session.scalars(sa.select(VehicleStatus))}
        assert set(status) == {v.id for v in vehicles.values()}
        row = status[vehicles[f"{udp}#2"].id]
        assert (row.link, row.system_id, row.mode, row.armed, row.alt_rel_m) == (udp, 2, "AUTO", True, 40.0)
        assert row.snapshot["key"] == f"{udp}#2" and row.snapshot["link_stats"]["messages"] > 0
        assert len(session.scalars(sa.select(LogFile)).all()) == 2


def test_signing_required_rejects_unsigned_and_badly_signed_frames(session_factory, settings, read_tlog):
    port = free_udp_port()
    url = f"udpin:127.0.0.1:{port}"
    signed, unsigned, wrong = UdpVehicle(port, 1, key=KEY), UdpVehicle(port, 2), UdpVehicle(port, 3, key=bytes(32))
    config = DaemonConfig(links=(LinkConfig(url, signing=SigningConfig(KEY, require=True)),))
    daemon = Daemon(session_factory, settings.data_dir, config=config)
    try:
        with running(daemon):
            for _ in range(10):
                for vehicle in (signed, unsigned, wrong):
                    vehicle.send(vehicle.heartbeat())
                time.sleep(0.05)
            assert daemon.wait_for(lambda: daemon.links()[0]["unsigned_rejected"] == 10
                                   and daemon.links()[0]["bad_signatures"] == 10
                                   and daemon.links()[0]["signed_messages"] == 10, 10)
            assert [s["system_id"] for s in daemon.snapshot()] == [1]
            back = signed.received()
            (stats,) = daemon.links()
    finally:
        for vehicle in (signed, unsigned, wrong):
            vehicle.close()
    assert (stats["signing"], stats["messages"], stats["bad_bytes"]) == ("required", 10, 0)
    # what the daemon sent is signed with the key: a MAVLink parser holding the key accepts every frame
    frames = parse(back, key=KEY)
    assert frames and all(m.get_type() != "BAD_DATA" and m._signed for m in frames)
    # the archived tlog holds only what was accepted; the rejected frames are kept apart
    with session_factory() as session:
        (log_file,) = session.scalars(sa.select(LogFile)).all()
        kept = read_tlog(resolve_stored(settings.data_dir, log_file.stored_path))
    assert {m.get_srcSystem() for m in kept} == {1, 255}
    (rejected_path,) = (settings.data_dir / "live" / "rejected").glob("*.tlog")
    rejected = read_tlog(rejected_path)
    assert sorted(m.get_srcSystem() for m in rejected) == [2] * 10 + [3] * 10


def test_signing_optional_accepts_unsigned_frames(session_factory, settings):
    port = free_udp_port()
    url = f"udpin:127.0.0.1:{port}"
    signed, unsigned = UdpVehicle(port, 1, key=KEY), UdpVehicle(port, 2)
    config = DaemonConfig(links=(LinkConfig(url, signing=SigningConfig(KEY, require=False)),))
    daemon = Daemon(session_factory, settings.data_dir, config=config)
    try:
        with running(daemon):
            send_for([(signed, lambda v: [v.heartbeat()]), (unsigned, lambda v: [v.heartbeat()])], 0.5)
            assert daemon.wait_for(lambda: len(daemon.snapshot()) == 2, 10)
            (stats,) = daemon.links()
    finally:
        signed.close()
        unsigned.close()
    assert stats["signing"] == "optional" and stats["unsigned_rejected"] == 0
    assert 0 < stats["signed_messages"] < stats["messages"]


def test_a_link_waits_for_its_vehicle_and_reconnects_after_it_hangs_up(session_factory, settings, read_tlog):
    vehicle = TcpVehicle(1)
    config = DaemonConfig(links=(LinkConfig(vehicle.url),), reconnect_initial_s=0.05, reconnect_max_s=0.2)
    feed = LiveFeed()
    daemon = Daemon(session_factory, settings.data_dir, config=config, wait_for_links=True)
    daemon.add_listener(feed)
    sent = 0
    try:
        with running(daemon):
            # nobody listens yet: the daemon keeps trying
            assert daemon.wait_for(lambda: daemon.links()[0]["last_error"] is not None, 10)
            assert not daemon.links()[0]["connected"]
            for connection in range(3):
                vehicle.listen()
                vehicle.accept()
                for _ in range(5):
                    vehicle.send(vehicle.heartbeat(mode=5))
                    sent += 1
                assert daemon.wait_for(lambda: daemon.links()[0]["messages"] == sent, 10)
                if connection == 2:
                    vehicle.server.close()         # the last time: the vehicle is gone for good
                vehicle.hang_up()
                assert daemon.wait_for(lambda: daemon.links()[0]["disconnects"] == connection + 1, 10)
            (stats,) = daemon.links()
            (snap,) = daemon.snapshot()
    finally:
        vehicle.close()
    assert (stats["connects"], stats["disconnects"], stats["messages"]) == (3, 3, 15)
    # each new connection restarts the vehicle's sequence numbers: not counted as loss
    assert (snap["packets_received"], snap["packets_lost"]) == (15, 0)
    links = [(e["connected"], e["reason"]) for e in feed.drain() if e["type"] == "link"]
    assert [c for c, _ in links] == [True, False, True, False, True, False]
    assert "closed by the peer" in links[1][1]
    # one tlog for the link across its connections
    with session_factory() as session:
        (log_file,) = session.scalars(sa.select(LogFile)).all()
        received = [m for m in read_tlog(resolve_stored(settings.data_dir, log_file.stored_path))
                    if m.get_srcSystem() == 1]
    assert log_file.messages == len(received) == 15


def test_garbage_on_a_live_link_is_counted_and_dropped(session_factory, settings, read_tlog):
    """Random datagrams (seeded) between a vehicle's frames: every byte received is either in a
    message or counted as bad, the vehicle is still recorded, the re-imported tlog agrees."""
    rng = random.Random(20260401)
    port = free_udp_port()
    url = f"udpin:127.0.0.1:{port}"
    vehicle = UdpVehicle(port, 1)
    daemon = Daemon(session_factory, settings.data_dir, [url])
    sent_bytes = garbage_bytes = 0
    try:
        with running(daemon):
            for k in range(200):
                frames = [vehicle.heartbeat(mode=5), vehicle.position(LAT, LON, 10.0)]
                for frame in frames:
                    vehicle.send(frame)
                    sent_bytes += len(frame)
                if k % 4 == 0:
                    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
                    vehicle.send(junk)
                    sent_bytes += len(junk)
                    garbage_bytes += len(junk)
                time.sleep(0.002)
            for _ in range(20):                     # clean frames last: whatever garbage left in the parser is resolved
                frame = vehicle.heartbeat(mode=5)
                vehicle.send(frame)
                sent_bytes += len(frame)
            # every byte sent is accounted for: in a message received or counted as bad
            assert daemon.wait_for(lambda: daemon.links()[0]["bad_bytes"] + daemon.links()[0]["message_bytes"]
                                   == sent_bytes, 10)
            (stats,) = daemon.links()
            (snap,) = daemon.snapshot()
    finally:
        vehicle.close()
    with session_factory() as session:
        (log_file,) = session.scalars(sa.select(LogFile)).all()
        path = resolve_stored(settings.data_dir, log_file.stored_path)
    records = read_tlog(path)
    received = [m for m in records if (m.get_srcSystem(), m.get_srcComponent()) != (255, 190)]  # not what it sent
    good = [m for m in received if m.get_srcSystem() == 1]
    assert stats["bad_bytes"] > 0 and stats["bad_packets"] > 0
    assert stats["bad_bytes"] >= garbage_bytes
    assert (log_file.bad_bytes, log_file.messages) == (stats["bad_bytes"], stats["messages"])
    # the tlog holds exactly the frames accepted, and reads back without a bad byte
    assert not [m for m in records if m.get_type() == "BAD_DATA"]
    assert sum(len(m.get_msgbuf()) for m in received) == stats["message_bytes"]
    # garbage that happens to frame a message id pymavlink does not know cannot be told from a new
    # message (no CRC extra to check): it is kept as an unknown message, from no vehicle
    assert len(received) - len(good) == stats["unknown_messages"]
    assert {m.get_type().startswith("UNKNOWN_") for m in received if m not in good} <= {True}
    # the garbage is kept apart, every byte of it
    (rejected,) = (settings.data_dir / "live" / "rejected").glob("*.tlog")
    assert rejected.stat().st_size == stats["bad_bytes"] + 8 * stats["bad_packets"]
    assert (snap["mode"], snap["lat_deg"]) == ("LOITER", LAT)
    assert snap["messages"] == len(good) >= 400 * 0.75                    # a frame hit by garbage is lost, not more


def test_cli_daemon_with_a_config_survives_garbage_and_stops_on_sigint(tmp_path, read_tlog):
    """``patrol daemon --config`` in its own process: two UDP links, garbage on one, SIGINT ends it
    with status 0 after the final flush; it prints each link's counters."""
    settings = Settings.for_directory(tmp_path / "var")
    ports = [free_udp_port(), free_udp_port()]
    config = tmp_path / "fleet.toml"
    config.write_text(textwrap.dedent(f"""
        [alarms]
        link_loss_s = 2
        [[links]]
        url = "udpin:127.0.0.1:{ports[0]}"
        name = "Dock 1"
        [[links]]
        url = "udpin:127.0.0.1:{ports[1]}"
        name = "Dock 2"
    """))
    env = {**os.environ, "PATROL_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "patrol.cli", "daemon", "--config", str(config)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rng = random.Random(7)
    one, two = UdpVehicle(ports[0], 1), UdpVehicle(ports[1], 1)
    try:
        engine = make_engine(settings.database_url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:             # until the daemon has registered both vehicles
            one.send(one.heartbeat(mode=3))
            one.send(bytes(rng.randrange(256) for _ in range(64)))
            two.send(two.heartbeat(mode=5))
            time.sleep(0.05)
            with contextlib.suppress(sa.exc.OperationalError), engine.connect() as conn:
                if conn.execute(sa.select(sa.func.count()).select_from(VehicleStatus)).scalar() == 2:
                    break
        assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        one.close()
        two.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    stats = {s["name"]: s for s in map(json.loads, out.decode().splitlines())}
    assert stats["Dock 1"]["bad_bytes"] > 0 and stats["Dock 2"]["bad_bytes"] == 0
    assert stats["Dock 1"]["messages"] > 0 and stats["Dock 2"]["messages"] > 0
    try:
        with make_session_factory(engine)() as session:
            files = {f.id: f for f in session.scalars(sa.select(LogFile))}
            assert len(files) == 2 and all(f.sha256 for f in files.values())       # archived at the stop
            names = {v.name for v in session.scalars(sa.select(Vehicle))}
            assert names == {"Dock 1", "Dock 2"}
            # the final flush: the database counts every message received, and the tlog holds them
            for f in files.values():
                tlog = read_tlog(resolve_stored(settings.data_dir, f.stored_path))
                assert f.messages == sum(1 for m in tlog if (m.get_srcSystem(), m.get_srcComponent()) != (255, 190))
                assert not [m for m in tlog if m.get_type() == "BAD_DATA"]
    finally:
        engine.dispose()


def test_a_link_that_cannot_open_fails_the_daemon_unless_told_to_wait(session_factory, settings):
    vehicle = TcpVehicle(1)                                   # bound, not listening: connection refused
    try:
        with pytest.raises(TelemetryError, match=f"cannot open MAVLink link '{vehicle.url}'.*refused"):
            Daemon(session_factory, settings.data_dir, [vehicle.url]).open()
        assert not list((settings.data_dir / "live").glob("*.tlog"))     # no empty tlog left behind
        waiting = Daemon(session_factory, settings.data_dir, [vehicle.url], wait_for_links=True)
        waiting.open()
        assert waiting.links()[0]["connected"] is False and "refused" in waiting.links()[0]["last_error"]
        waiting.close()
    finally:
        vehicle.close()
