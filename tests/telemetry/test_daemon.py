"""The daemon's loop driven by a recorded tlog as its link (replay), and its clean stop on SIGTERM."""

from __future__ import annotations

import os
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

from flight_logs.models import Flight, FlightEvent, LogFile
from flight_logs.store import file_sha256
from flight_logs.tlog import import_tlog
from patrol.db import make_engine, make_session_factory, upgrade
from patrol.settings import Settings
from telemetry.daemon import Daemon

REPO = Path(__file__).resolve().parents[2]
SURVEY = "arducopter_sitl_pinghu_survey/survey_camera.tlog"


class ReplayLink:
    """A link whose received messages come from a tlog (vehicle side only), and which keeps what is sent."""

    def __init__(self, messages, *, garbage_every: int = 0, per_step: int = 20):
        self.mav = mavlink.MAVLink(None, srcSystem=255, srcComponent=190)
        self.per_step, self._taken = per_step, 0
        self.tlog = None
        self.sent: list = []
        self.messages = self.bad_bytes = 0
        self._queue = []
        for i, msg in enumerate(messages):
            if garbage_every and i % garbage_every == 0:
                bad = mavlink.MAVLink_bad_data(b"\xfd\x00garbage", "invalid MAVLink prefix")
                self._queue.append((bad, msg._timestamp))
            self._queue.append((msg, msg._timestamp))
        self._queue.reverse()

    def recv(self):
        """The next message, or None between bursts of ``per_step`` (as packets arrive)."""
        self._taken += 1
        if not self._queue or self._taken > self.per_step:
            self._taken = 0
            return None
        msg, t = self._queue.pop()
        if msg.get_type() == "BAD_DATA":
            self.bad_bytes += len(msg.data)
        else:
            self.messages += 1
        return msg, t

    def send(self, msg):
        self.sent.append(msg)

    def wait_readable(self, timeout_s):
        pass

    is_open = True

    def open(self):
        pass

    def sync(self):
        pass

    def stats(self):
        return {"url": "replay:survey", "messages": self.messages, "bad_bytes": self.bad_bytes}

    def fileno(self):
        return None

    def close(self):
        pass

    @property
    def exhausted(self):
        return not self._queue


def replay(session_factory, data_dir, messages, **link_options):
    """Run the daemon's step over a recording, with a clock advancing 0.1 s per step."""
    now = [0.0]
    links = {}

    def factory(url, **kwargs):
        links[url] = ReplayLink(messages, **link_options)
        return links[url]

    daemon = Daemon(session_factory, data_dir, ["replay:survey"], clock=lambda: now[0], link_factory=factory)
    daemon.open()
    link = links["replay:survey"]
    while not link.exhausted:
        daemon.step()
        now[0] += 0.1
    daemon.close()
    return daemon, link


@pytest.fixture(scope="module")
def survey(samples, read_tlog):
    """The recording's messages from the vehicle (what a live link would receive)."""
    return [m for m in read_tlog(samples / "telemetry" / SURVEY) if m.get_srcSystem() == 1]


def test_replayed_recording_gives_the_flight_the_import_gives(survey, session_factory, settings, samples, tmp_path):
    daemon, link = replay(session_factory, settings.data_dir, survey)
    with session_factory() as session:
        (live,) = session.scalars(sa.select(Flight)).all()
        log_file = session.get(LogFile, live.log_file_id)
        assert log_file.kind == "live-tlog" and log_file.messages == len(survey)
        live_events = [(e.kind, e.message) for e in live.events if not e.kind.startswith("alarm")]
        live_values = (live.start_utc, live.end_utc, live.photo_count, len(live.track), live.distance_m)
    other = Settings.for_directory(tmp_path / "imported")
    upgrade(other.database_url)
    engine = make_engine(other.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            (imported,) = import_tlog(session, other.data_dir, samples / "telemetry" / SURVEY).flights
            assert (imported.start_utc, imported.end_utc) == live_values[:2]
            assert (imported.photo_count, len(imported.track), imported.distance_m) == pytest.approx(live_values[2:])
            assert [(e.kind, e.message) for e in imported.events] == live_events
    finally:
        engine.dispose()


def test_daemon_asks_for_streams_and_home(survey, session_factory, settings):
    _, link = replay(session_factory, settings.data_dir, survey[:3000])
    streams = [m for m in link.sent if m.get_type() == "REQUEST_DATA_STREAM"]
    assert streams and streams[0].req_stream_id == mavlink.MAV_DATA_STREAM_ALL and streams[0].start_stop == 1
    assert streams[0].target_system == 1
    homes = [m for m in link.sent if m.get_type() == "COMMAND_LONG" and m.command == mavlink.MAV_CMD_REQUEST_MESSAGE]
    assert homes and all(m.param1 == mavlink.MAVLINK_MSG_ID_HOME_POSITION for m in homes)


def test_garbage_on_the_link_is_counted_and_dropped(survey, session_factory, settings):
    _, link = replay(session_factory, settings.data_dir, survey, garbage_every=50)
    with session_factory() as session:
        (flight,) = session.scalars(sa.select(Flight)).all()
        assert flight.photo_count == 23
        log_file = session.get(LogFile, flight.log_file_id)
        assert log_file.bad_bytes == link.bad_bytes > 0


def test_daemon_stops_cleanly_on_sigterm(tmp_path, udp_port, read_tlog):
    """``run_daemon`` in its own process: SIGTERM ends it with exit status 0, the tlog archived."""
    settings = Settings.for_directory(tmp_path / "var")
    upgrade(settings.database_url)
    script = textwrap.dedent(f"""
        from pathlib import Path
        from patrol.db import make_engine, make_session_factory
        from telemetry import run_daemon
        session_factory = make_session_factory(make_engine({settings.database_url!r}))
        print("running", flush=True)
        run_daemon(session_factory, Path({str(settings.data_dir)!r}), ["udpin:127.0.0.1:{udp_port}"])
        print("stopped", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"running"
        vehicle = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(15):                    # a vehicle's HEARTBEATs, over at least one flush
                sock.sendto(vehicle.heartbeat_encode(2, 3, 81, 0, 3).pack(vehicle), ("127.0.0.1", udp_port))
                time.sleep(0.1)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert out.strip() == b"stopped"
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            (log_file,) = session.scalars(sa.select(LogFile)).all()
            stored = settings.data_dir / log_file.stored_path
            assert log_file.kind == "live-tlog" and file_sha256(stored) == log_file.sha256
            received = [m for m in read_tlog(stored) if m.get_srcSystem() == 1]
            assert log_file.messages == len(received) >= 10
            (event,) = session.scalars(sa.select(FlightEvent)).all()      # the mode seen in the HEARTBEAT
            assert (event.kind, event.message) == ("mode", "STABILIZE")
    finally:
        engine.dispose()
