"""Flying with DroneKit and from a mission file, end to end: the simulated vehicle started as a
user starts it (``python -m telemetry.sim --listen tcpin:...``), the flight archived."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import Polygon, box, mapping

from flight_logs.models import Flight, LogFile
from flight_logs.store import file_sha256, resolve_stored
from missions import write_plan
from missions.models import Route
from telemetry.routes import fly_route

REPO = Path(__file__).resolve().parents[2]
SPEEDUP = 40.0
GCS = 255


@pytest.fixture
def sim_url(home) -> Iterator[str]:
    """A simulator subprocess listening like SITL on a free TCP port; yields ``tcp:127.0.0.1:PORT``."""
    sim = subprocess.Popen([sys.executable, "-m", "telemetry.sim", "--home", ",".join(map(str, home)),
                            "--speedup", str(SPEEDUP), "--listen", "tcpin:127.0.0.1:0"],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = sim.stdout.readline()             # "simulated ArduCopter on tcpin:127.0.0.1:PORT"
        assert ready.startswith("simulated ArduCopter on tcpin:"), sim.stderr.read()
        yield "tcp:" + ready.split("tcpin:", 1)[1].strip()
    finally:
        sim.terminate()
        _, err = sim.communicate(timeout=10)
    assert sim.returncode == 0, err


def _feature(poly, inclusion: bool) -> dict:
    return {"type": "Feature", "properties": {"inclusion": inclusion}, "geometry": mapping(poly)}


def test_dronekit_flies_a_stored_route_with_its_geofence_and_rally_points(
        sim_url, session_factory, settings, short_survey, home, read_tlog):
    lat, lon, _ = home
    inclusion = box(lon - 0.0005, lat - 0.0005, lon + 0.0010, lat + 0.0015)            # 4 vertices
    no_fly = Polygon([(lon + 0.0008, lat - 0.0004), (lon + 0.0009, lat - 0.0004), (lon + 0.0009, lat - 0.0003)])
    with session_factory.begin() as session:
        route = Route(name="test survey", pattern="survey", items=[i.to_dict() for i in short_survey],
                      fence={"type": "FeatureCollection",
                             "features": [_feature(inclusion, True), _feature(no_fly, False)]},
                      rally_points=[[lon + 0.0001, lat + 0.0012, 30.0], [lon - 0.0003, lat - 0.0003, 25.0]])
        session.add(route)
        session.flush()
        route_id = route.id
    fence = 4 + 3 + 1                                                  # vertices of both, and the return point
    lines: list[str] = []
    result = fly_route(session_factory, settings.data_dir, sim_url, route_id, via="dronekit", timeout_s=120,
                       progress=lines.append)
    assert (result["via"], result["route_id"], result["fence_items"], result["rally_items"]) == (
        "dronekit", route_id, fence, 2)
    assert result["items_reached"][0] == 1 and result["items_reached"][-1] == len(short_survey) - 1
    assert "dronekit: geofence uploaded (8 items)" in lines and lines[-1] == "dronekit: landed and disarmed"
    with session_factory() as session:
        (flight,) = session.scalars(sa.select(Flight)).all()
        assert flight.id == result["id"] and flight.route_id == route_id and flight.end_utc is not None
        assert flight.max_alt_rel_m == pytest.approx(30, abs=1.0)
        kinds = [e.kind for e in flight.events]
        assert kinds[0] == "armed" and kinds[-1] == "disarmed"
        log_file = session.get(LogFile, flight.log_file_id)
        assert result["tlog"] == log_file.stored_path
        path = resolve_stored(settings.data_dir, log_file.stored_path)
        assert log_file.sha256 == file_sha256(path)
        msgs = [m for m in read_tlog(path) if m.get_type() != "BAD_DATA"]
        photos = [m for m in msgs if m.get_type() == "CAMERA_FEEDBACK"]
        assert len(photos) > 10 and flight.photo_count == len(photos)
    # both directions recorded: DroneKit's MISSION_ITEMs and our fence MISSION_ITEM_INTs, the vehicle's ACKs
    sent = [m for m in msgs if m.get_srcSystem() == GCS]
    assert sum(m.get_type() == "MISSION_ITEM" for m in sent) >= len(short_survey) - 1
    assert sum(m.get_type() == "MISSION_ITEM_INT" and m.mission_type == mavlink.MAV_MISSION_TYPE_FENCE
               for m in sent) == fence
    accepted = {m.mission_type for m in msgs if m.get_type() == "MISSION_ACK" and m.get_srcSystem() == 1
                and m.type == mavlink.MAV_MISSION_ACCEPTED}
    assert accepted >= {mavlink.MAV_MISSION_TYPE_FENCE, mavlink.MAV_MISSION_TYPE_RALLY}
    assert not list((settings.data_dir / "live").glob("*.tlog"))        # moved into the archive


def _patrol(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATROL_DATA_DIR": str(data_dir)}
    env.pop("PATROL_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "patrol.cli", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_patrol_fly_flies_a_plan_file_with_its_geofence_and_rally_points(sim_url, tmp_path, short_survey, home):
    lat, lon, _ = home
    plan = write_plan(short_survey, tmp_path / "survey.plan",
                      geofence_polygons=[(box(lon - 0.001, lat - 0.001, lon + 0.002, lat + 0.002), True)],
                      rally_points=[(lon, lat + 0.001, 30.0)])
    proc = _patrol(tmp_path / "var", "fly", "--connect", sim_url, "--plan", str(plan), "--timeout-s", "120")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "geofence uploaded (5 items)" in proc.stdout and "rally points uploaded (1 items)" in proc.stdout
    flight = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (flight["route_id"], flight["via"], flight["fence_items"], flight["rally_items"]) == (
        None, "pymavlink", 5, 1)
    assert flight["items_reached"][-1] == len(short_survey) - 1 and flight["photo_count"] > 10
    assert (tmp_path / "var" / flight["tlog"]).is_file()


def test_patrol_fly_refuses_what_it_cannot_upload(tmp_path, short_survey, home):
    lat, lon, _ = home
    plan = write_plan(short_survey, tmp_path / "circle.plan")
    doc = json.loads(plan.read_text())
    doc["geoFence"]["circles"] = [{"circle": {"center": [lat, lon], "radius": 300.0}, "inclusion": True,
                                   "version": 1}]
    plan.write_text(json.dumps(doc))
    proc = _patrol(tmp_path / "var", "fly", "--connect", "tcp:127.0.0.1:9", "--plan", str(plan))
    assert proc.returncode == 1
    assert f"{plan}: its geofence has 1 circle(s)" in proc.stderr and "--mission-only" in proc.stderr
    proc = _patrol(tmp_path / "var", "fly", "--connect", "tcp:127.0.0.1:9", "--route", "1", "--plan", str(plan))
    assert proc.returncode == 2 and "give either --route ID or --plan FILE" in proc.stderr


def test_planned_capture_at_each_waypoint_takes_every_photo(sim_url, tmp_path, home):
    """``patrol plan survey --photo-mode waypoint`` then ``patrol fly --plan``: the vehicle
    takes one photo per planned capture (MAV_CMD_IMAGE_START_CAPTURE), each a CAMERA_FEEDBACK."""
    lat, lon, _ = home
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps({"type": "Feature", "properties": {"name": "generated test block"},
                                "geometry": mapping(box(lon + 0.0005, lat + 0.0005,
                                                        lon + 0.0020, lat + 0.0015))}))
    out = tmp_path / "block.plan"
    planned = _patrol(tmp_path / "var", "plan", "survey", str(area), "--camera", "dji-phantom4pro",
                      "--alt-m", "60", "--home", f"{lon},{lat}", "--photo-mode", "waypoint",
                      "--out", str(out), "--stats-json")
    assert planned.returncode == 0, planned.stderr
    photos = json.loads(planned.stdout)["photo_count"]
    proc = _patrol(tmp_path / "var", "fly", "--connect", sim_url, "--plan", str(out), "--timeout-s", "300")
    assert proc.returncode == 0, proc.stderr[-3000:]
    flight = json.loads(proc.stdout.strip().splitlines()[-1])
    assert flight["photo_count"] == photos > 10
