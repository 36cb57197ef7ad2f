"""`patrol demo --no-serve` on the bundled data: the whole loop, counts checked against the data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from pymavlink import mavutil

from flight_logs.models import CameraPosition, Flight, LogFile, Photo
from missions.models import Route
from patrol.db import make_engine
from vision.models import Finding

pytestmark = pytest.mark.slow

JPEG_SUFFIXES = {".jpg", ".jpeg"}


def _armed_segments(path: Path) -> int:
    """Arm -> disarm cycles of the autopilot (component 1) in a tlog, read independently."""
    conn = mavutil.mavlink_connection(str(path), robust_parsing=True)
    armed, segments = False, 0
    while (msg := conn.recv_match(type="HEARTBEAT")) is not None:
        if msg.get_srcComponent() != 1 or msg.type == mavutil.mavlink.MAV_TYPE_GCS:
            continue
        now = bool(msg.base_mode & mavutil.mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
        segments += now and not armed
        armed = now
    conn.close()
    return segments


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo") / "var"
    env = {**os.environ, "PATROL_DATA_DIR": str(data_dir)}
    env.pop("PATROL_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "patrol.cli", "demo", "--no-serve", "--json",
                           "--speedup", "40"], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    engine = make_engine(f"sqlite:///{data_dir / 'patrol.sqlite3'}")
    yield data_dir, report, engine
    engine.dispose()


def test_routes_planned_written_and_stored(demo_run):
    data_dir, report, engine = demo_run
    assert {r["pattern"] for r in report["routes"]} == {"survey", "corridor", "orbit"}
    with engine.connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(Route)) == 3
    for r in report["routes"]:
        plan = json.loads((data_dir / r["plan_path"]).read_text())
        assert plan["fileType"] == "Plan" and plan["mission"]["items"]
        assert (data_dir / r["waypoints_path"]).read_text().startswith("QGC WPL 110")
        assert r["stats"]["path_length_m"] > 0
    survey = next(r for r in report["routes"] if r["pattern"] == "survey")
    assert survey["stats"]["coverage_fraction"] >= 0.99


def test_survey_flown_and_recorded(demo_run):
    data_dir, report, engine = demo_run
    flown = report["flight"]
    assert flown["duration_s"] > 60 and flown["distance_m"] > 1000
    assert (data_dir / flown["tlog"]).stat().st_size > 0
    with engine.connect() as c:
        flight = c.execute(sa.select(Flight).where(Flight.id == flown["id"])).one()
        assert flight.end_utc is not None
        cams = c.scalar(sa.select(sa.func.count()).select_from(CameraPosition)
                        .where(CameraPosition.flight_id == flown["id"]))
    assert cams == flown["photo_count"] > 0


def test_every_bundled_log_and_photo_imported(demo_run, samples):
    data_dir, report, engine = demo_run
    tlogs = sorted((samples / "telemetry").glob("*/*.tlog"))
    assert not [i for i in report["imports"] if i["error"]]
    for tlog in tlogs:
        result = next(i for i in report["imports"] if i["path"].endswith(str(tlog.relative_to(samples))))
        assert len(result["flights"]) == _armed_segments(tlog), tlog
    jpegs = [p for p in samples.rglob("*") if p.suffix.lower() in JPEG_SUFFIXES]
    with engine.connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(Photo)) == len(jpegs)
        unlocated = c.scalar(sa.select(sa.func.count()).select_from(Photo).where(Photo.lat_deg.is_(None)))
        track_tagged = c.scalar(sa.select(sa.func.count()).select_from(Photo)
                                .where(Photo.position_source == "track"))
        logs = c.scalar(sa.select(sa.func.count()).select_from(LogFile).where(LogFile.kind == "tlog"))
    assert unlocated == 0
    assert track_tagged == len(list((samples / "telemetry" / "cuav_sitl_plane_with_images" / "images").glob("*.jpg")))
    assert logs == len(tlogs)


def test_findings_located_with_evidence(demo_run):
    data_dir, report, engine = demo_run
    assert report["analysis"]["photos_georeferenced"] == report["totals"]["photos"]
    with engine.connect() as c:
        findings = c.execute(sa.select(Finding)).all()
    assert findings, "the detectors found nothing in the bundled photos"
    assert len(findings) == report["analysis"]["findings_new"]  # a fresh data root
    for f in findings:
        assert -90 <= f.lat_deg <= 90 and -180 <= f.lon_deg <= 180
        assert (data_dir / f.evidence_path).is_file()


def test_scripted_review_makes_cases_the_dashboard_counts(demo_run):
    from web.models import Case, CaseEvent

    data_dir, report, engine = demo_run
    review, figures = report["cases"]["review"], report["cases"]["dashboard"]["cases"]
    made = sum(len(ids) for ids in review["cases"].values())
    with engine.connect() as c:
        statuses = dict(c.execute(sa.select(Case.status, sa.func.count()).group_by(Case.status)).all())
        notes = c.scalars(sa.select(CaseEvent.note)).all()
        rejected = c.scalar(sa.select(sa.func.count()).select_from(Finding).where(Finding.status == "rejected"))
    assert made == sum(statuses.values()) == figures["filed"]
    assert statuses.get("closed", 0) == len(review["cases"]["closed_on_time"]) + len(
        review["cases"]["closed_after_rework"]) == figures["closed"]
    assert figures["reworked"] == len(review["cases"]["closed_after_rework"])
    assert rejected == len(review["rejected"])
    assert notes and all("scripted demo decision" in n for n in notes if n)
