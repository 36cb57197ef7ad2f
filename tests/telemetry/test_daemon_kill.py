"""Kill -9 the daemon mid-flight and restart it: nothing flushed is lost, the flight goes on.

The simulated ArduCopter (tcpin, like SITL; several clients at once) flies the short survey,
commanded by a daemon in this process on its own connection, which also records the whole
flight for comparison. ``patrol daemon`` records on a second connection, in its own process:
killed with SIGKILL once the flight is in its database, then started again while the
vehicle is still in the air, then stopped with SIGTERM after the landing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from flight_logs.models import Flight, FlightEvent, LogFile, TrackPoint
from flight_logs.tlog import check_tlog, import_tlog
from patrol.db import make_engine, make_session_factory, upgrade
from patrol.geodesy import distance_m, path_length_m
from patrol.settings import Settings
from telemetry.commands import start_mission, takeoff, wait_disarmed
from telemetry.daemon import Daemon
from telemetry.mission_protocol import upload_mission

REPO = Path(__file__).resolve().parents[2]
SPEEDUP = 10.0
FLUSH_S = 1.0


def start_daemon(settings: Settings, url: str, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PATROL_DATA_DIR": str(settings.data_dir)}
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "patrol.cli", "daemon", "--link", url], cwd=REPO, env=env,
                                stdout=log, stderr=log)


def track(session, flight_id: int) -> list[tuple]:
    return [(p.t_utc, p.lat_deg, p.lon_deg, p.alt_rel_m) for p in session.scalars(
        sa.select(TrackPoint).where(TrackPoint.flight_id == flight_id).order_by(TrackPoint.t_utc))]


def test_kill_9_mid_flight_then_restart_continues_the_same_flight(tmp_path, session_factory, settings, sim_tcp,
                                                                    short_survey):
    url = sim_tcp(SPEEDUP)
    recorder = Settings.for_directory(tmp_path / "recorder")
    upgrade(recorder.database_url)
    engine = make_engine(recorder.database_url)
    recorded = make_session_factory(engine)
    log_path = tmp_path / "daemon.log"
    commander = Daemon(session_factory, settings.data_dir, [url])     # this process: commands and a reference recording
    commander.start()
    proc = start_daemon(recorder, url, log_path)
    try:
        handle = commander.wait_vehicle(20)
        upload_mission(handle, short_survey)
        takeoff(handle, 30.0)
        start_mission(handle)
        # the flight is in the recording daemon's database: kill it, no chance to flush anything more
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with recorded() as session:
                flight = session.scalars(sa.select(Flight)).first()
                if flight is not None and flight.end_utc is None and len(track(session, flight.id)) >= 10:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the recording daemon wrote no flight: " + log_path.read_text())
        time.sleep(0.5 * FLUSH_S)                                  # somewhere between two flushes
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert handle.state.armed, "the flight ended before the kill: make the mission longer"
        with recorded() as session:
            (flight,) = session.scalars(sa.select(Flight)).all()
            killed_track = track(session, flight.id)
            (live,) = session.scalars(sa.select(LogFile)).all()
        tlog = recorder.data_dir / live.stored_path
        assert live.sha256 is None and tlog.parent.name == "live"       # not archived: the daemon died

        # everything in the database is in the tlog: replaying the tlog gives the same track, and more
        check_tlog(tlog)
        replay = Settings.for_directory(tmp_path / "replay")
        upgrade(replay.database_url)
        replay_engine = make_engine(replay.database_url)
        try:
            with make_session_factory(replay_engine).begin() as session:
                (replayed,) = import_tlog(session, replay.data_dir, tlog).flights
                replayed_track = track(session, replayed.id)
        finally:
            replay_engine.dispose()
        assert replayed_track[:len(killed_track)] == killed_track
        # and the database misses at most what came after the last flush (one flush interval,
        # plus the loop's own delays; SPEEDUP simulated seconds per second, one point per second)
        missing = len(replayed_track) - len(killed_track)
        assert 0 <= missing <= 3 * FLUSH_S * SPEEDUP

        proc = start_daemon(recorder, url, log_path)               # again, while the vehicle flies
        wait_disarmed(handle, 120)
        time.sleep(2 * FLUSH_S)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        commander.stop()

    try:
        with recorded() as session:
            (resumed,) = session.scalars(sa.select(Flight)).all()          # the same flight, not a new one
            assert resumed.id == flight.id and resumed.end_utc is not None
            kinds = [e.kind for e in session.scalars(sa.select(FlightEvent).where(FlightEvent.flight_id == resumed.id)
                                                     .order_by(FlightEvent.t_utc, FlightEvent.id))]
            assert kinds[0] == "armed" and kinds[-1] == "disarmed" and kinds.count("recording_resumed") == 1
            assert kinds.count("armed") == 1
            full_track = track(session, resumed.id)
            assert full_track[:len(killed_track)] == killed_track
            times = [t for t, *_ in full_track]
            assert times == sorted(set(times))                            # no point twice, in order
            files = session.scalars(sa.select(LogFile)).all()
            assert len(files) == 2 and all(f.sha256 for f in files)      # the killed daemon's tlog archived too
        with session_factory() as session:
            (reference,) = session.scalars(sa.select(Flight)).all()       # recorded without interruption
            reference_track = track(session, reference.id)
        # on the vehicle's clock, both recordings saw the same arming and disarming
        assert abs((resumed.start_utc - reference.start_utc).total_seconds()) < 1.0
        assert abs((resumed.end_utc - reference.end_utc).total_seconds()) < 1.0
        assert resumed.max_alt_rel_m == pytest.approx(reference.max_alt_rel_m, abs=1.0)
        # the gap (how long the restart took, times SPEEDUP) is bridged by a straight line: the
        # distance is the reference path's before and after the gap plus that line
        gap_start, gap_end = max(zip(times, times[1:]), key=lambda pair: pair[1] - pair[0])
        before = [(lon, lat) for t, lat, lon, _ in reference_track if t <= gap_start]
        after = [(lon, lat) for t, lat, lon, _ in reference_track if t >= gap_end]
        expected = path_length_m(before) + distance_m(*before[-1], *after[0]) + path_length_m(after)
        assert resumed.distance_m == pytest.approx(expected, rel=0.12, abs=5.0)  # the two recordings sample the track apart
        assert resumed.distance_m <= reference.distance_m + 1.0
        assert resumed.photo_count <= reference.photo_count
    finally:
        engine.dispose()
