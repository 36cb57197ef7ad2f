"""The daemon (in this process) and the simulated vehicle (a subprocess) on loopback UDP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.models import Flight, LogFile, Vehicle
from flight_logs.store import file_sha256, resolve_stored
from flight_logs.tlog import import_tlog
from patrol.db import make_engine, make_session_factory, upgrade
from patrol.geodesy import distance_m
from patrol.settings import Settings
from missions.models import Route
from telemetry.routes import fly_route

REPO = Path(__file__).resolve().parents[2]
SPEEDUP = 40.0


@pytest.fixture
def flown(session_factory, settings, home, udp_port, short_survey, fence_and_rally):
    """Fly the short survey as a stored route (``fly_route``, the CLI's path) with a geofence and
    rally points on the simulator started as the demo starts it; returns (result, link, wall
    times, items, progress lines)."""
    with session_factory.begin() as session:
        route = Route(name="test survey", pattern="survey", items=[i.to_dict() for i in short_survey])
        session.add(route)
        session.flush()
        route_id = route.id
    link = f"udpin:127.0.0.1:{udp_port}"
    sim = subprocess.Popen([sys.executable, "-m", "telemetry.sim", "--home", ",".join(map(str, home)),
                            "--speedup", str(SPEEDUP), "--out", f"udpout:127.0.0.1:{udp_port}"],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall: dict[str, float] = {}
    lines: list[str] = []

    def progress(text: str) -> None:
        lines.append(text)
        if text == "armed":
            wall["armed"] = time.monotonic()
        elif text == "landed and disarmed":
            wall["disarmed"] = time.monotonic()

    try:
        fence, rally = fence_and_rally
        result = fly_route(session_factory, settings.data_dir, link, route_id, fence_items=fence, rally_items=rally,
                           timeout_s=120, progress=progress)
    finally:
        sim.terminate()
        _, err = sim.communicate(timeout=10)
    assert sim.returncode == 0, err.decode()
    return result, link, wall, short_survey, lines


def test_flight_track_events_photos_and_tlog_are_stored(flown, session_factory, settings, home, read_tlog):
    result, link, wall, items, lines = flown
    with session_factory() as session:
        (vehicle,) = session.scalars(sa.select(Vehicle)).all()
        assert vehicle.key == f"{link}#1" and vehicle.mav_type == 2 and vehicle.autopilot == 3
        (flight,) = session.scalars(sa.select(Flight)).all()
        assert flight.end_utc is not None and flight.route_id == result["route_id"]
        assert result["id"] == flight.id and result["duration_s"] == flight.duration_s
        assert result["track_points"] == len(flight.track) and result["photo_count"] == flight.photo_count
        # archived on the vehicle clock: the simulated duration, about SPEEDUP x the wall time
        assert flight.duration_s == pytest.approx((wall["disarmed"] - wall["armed"]) * SPEEDUP, rel=0.25)
        # track: one fix per simulated second, inside the mission's area
        assert len(flight.track) == pytest.approx(flight.duration_s, rel=0.1)
        reach = max(distance_m(home[1], home[0], i.lon_deg, i.lat_deg) for i in items if i.has_position)
        assert max(distance_m(home[1], home[0], p.lon_deg, p.lat_deg) for p in flight.track) < reach + 10
        assert flight.max_alt_rel_m == pytest.approx(30, abs=1.0)
        assert flight.distance_m > 2 * 0.0008 * 111_000              # at least the two long legs
        kinds = [e.kind for e in flight.events]
        assert kinds[0] == "armed" and kinds[-1] == "disarmed"
        assert [e.message for e in flight.events if e.kind == "mode"] == ["AUTO"]
        reached = result["items_reached"]
        assert [e.data["seq"] for e in flight.events if e.kind == "mission_item_reached"] == reached
        assert reached[0] == 1 and reached[-1] == len(items) - 1      # from the take-off to the RTL landing
        # camera positions: as many as CAMERA_FEEDBACK in the tlog
        log_file = session.get(LogFile, flight.log_file_id)
        assert log_file.kind == "live-tlog" and result["tlog"] == log_file.stored_path
        path = resolve_stored(settings.data_dir, log_file.stored_path)
        assert log_file.sha256 == file_sha256(path)
        feedback = [m for m in read_tlog(path) if m.get_type() == "CAMERA_FEEDBACK"]
        assert len(feedback) > 10
        assert flight.photo_count == len(flight.camera_positions) == len(feedback)
        assert [c.img_idx for c in flight.camera_positions] == [m.img_idx for m in feedback]
        # the geofence and rally points went up after the mission, each accepted
        acks = [m.mission_type for m in read_tlog(path) if m.get_type() == "MISSION_ACK"
                and m.get_srcSystem() == 1 and m.type == mavlink.MAV_MISSION_ACCEPTED]
        assert acks == [mavlink.MAV_MISSION_TYPE_MISSION, mavlink.MAV_MISSION_TYPE_FENCE,
                        mavlink.MAV_MISSION_TYPE_RALLY]
    assert (result["fence_items"], result["rally_items"]) == (8, 2)
    assert "geofence uploaded (8 items)" in lines and "rally points uploaded (2 items)" in lines
    assert any(line.startswith("mission item") for line in lines)
    assert not list((settings.data_dir / "live").glob("*.tlog"))        # moved into the archive


def test_tlog_reimports_to_the_same_flight(flown, session_factory, settings, tmp_path):
    with session_factory() as session:
        (live,) = session.scalars(sa.select(Flight)).all()
        path = resolve_stored(settings.data_dir, session.get(LogFile, live.log_file_id).stored_path)
        live_track = len(live.track)
        live_photos = [c.img_idx for c in live.camera_positions]
        # the same bytes imported into the same archive: nothing new
        again = import_tlog(session, settings.data_dir, path)
        assert again.already_imported and [f.id for f in again.flights] == [live.id]
    other = Settings.for_directory(tmp_path / "other")
    upgrade(other.database_url)
    engine = make_engine(other.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            result = import_tlog(session, other.data_dir, path)
            (flight,) = result.flights
            assert abs((flight.start_utc - live.start_utc).total_seconds()) < 1.0
            assert abs((flight.end_utc - live.end_utc).total_seconds()) < 1.0
            assert [c.img_idx for c in flight.camera_positions] == live_photos
            assert len(flight.track) == pytest.approx(live_track, abs=1)
            assert result.bad_bytes == 0 and not [w for w in result.warnings if "truncated" in w]
    finally:
        engine.dispose()
