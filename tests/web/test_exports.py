"""Exports (web.exports, /exports/...): CSV with BOM and GeoJSON of findings and cases with the
list filters, officers limited to their squad, and a case's evidence package whose files
match the hashes it lists. Cases here are GENERATED rows; the photo is the bundled real one."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest
import sqlalchemy as sa

from vision.models import Finding, PhotoGeoref
from web.exports import CASE_COLUMNS, FINDING_COLUMNS, BOM
from web.models import AuditEvent, Case, CaseEvent, User

from .conftest import IN_ZHONGDAI, T0

UTC = dt.timezone.utc
H = dt.timedelta(hours=1)


def _csv(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith(BOM), "UTF-8 with a byte-order mark, for Excel"
    return list(csv.DictReader(io.StringIO(text[len(BOM):])))


@pytest.fixture
def cases(world, session_factory):
    """Two GENERATED cases: the Duluth finding's (with pose, history, audit) and a 钟埭 one."""
    with session_factory.begin() as s:
        sup = s.scalars(sa.select(User).where(User.username == "supervisor")).one()
        finding = s.get(Finding, world.findings["duluth"])
        finding.status = "confirmed"
        duluth = Case(code="E-1", finding_id=finding.id, category="exposed_garbage",
                      status="dispatched", squad_id=world.squads["duluth"],
                      lat_deg=finding.lat_deg, lon_deg=finding.lon_deg, created_at=T0,
                      deadline_utc=T0 - H, description="暴露垃圾 by the beach")
        zhongdai = Case(code="E-2", category="construction_waste", status="closed",
                        squad_id=world.squads["zhongdai"], lat_deg=IN_ZHONGDAI[1],
                        lon_deg=IN_ZHONGDAI[0], created_at=T0 + H, deadline_utc=T0 + 9 * H,
                        closed_at=T0 + 2 * H)
        s.add_all([duluth, zhongdai])
        s.flush()
        s.add(CaseEvent(case_id=duluth.id, user_id=sup.id, from_status=None, to_status="filed",
                        at=T0, note="from the drone"))
        s.add(CaseEvent(case_id=duluth.id, user_id=sup.id, from_status="filed",
                        to_status="dispatched", at=T0 + H))
        s.add(AuditEvent(at=T0, user_id=sup.id, action="finding.confirm", target_type="finding",
                         target_id=finding.id, data={"case_code": "E-1"}))
        s.add(PhotoGeoref(photo_id=world.photo_id, height_agl_m=44.9, yaw_deg=12.5,
                          pitch_deg=-90.0, roll_deg=0.0, height_source="alt_rel",
                          yaw_source="gimbal", gsd_cm_px=1.9, corrections=[]))
        ids = {"duluth": duluth.id, "zhongdai": zhongdai.id}
    return ids


def test_findings_csv(world, client, auth):
    auth.login("supervisor")
    response = client.get("/exports/findings.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = _csv(response)
    assert tuple(rows[0]) == FINDING_COLUMNS
    assert sorted(int(r["id"]) for r in rows) == sorted(world.findings.values())
    one = next(r for r in rows if int(r["id"]) == world.findings["duluth"])
    assert one["category"] == "exposed_garbage" and one["evidence_path"] == world.evidence_path
    assert one["case_code"] == "" and one["status"] == "new"


def test_findings_filters_as_the_queue(cases, world, client, auth):
    auth.login("supervisor")
    rows = _csv(client.get("/exports/findings.csv?status=confirmed"))
    assert [int(r["id"]) for r in rows] == [world.findings["duluth"]]
    assert rows[0]["case_code"] == "E-1"
    rows = _csv(client.get("/exports/findings.csv?category=open_burning"))
    assert [int(r["id"]) for r in rows] == [world.findings["outside"]]
    assert len(_csv(client.get("/exports/findings.csv?status=all"))) == 4
    assert len(_csv(client.get("/exports/findings.csv?min_score=0.7"))) == 2
    assert _csv(client.get("/exports/findings.csv?from=2026-06-01")) == []
    assert client.get("/exports/findings.csv?status=bogus").status_code == 400


def test_findings_geojson(world, client, auth):
    auth.login("admin")
    response = client.get("/exports/findings.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    data = json.loads(response.get_data(as_text=True))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 4
    feature = next(f for f in data["features"] if f["id"] == world.findings["zhongdai"])
    assert feature["geometry"] == {"type": "Point", "coordinates": list(IN_ZHONGDAI)}
    assert feature["properties"]["category"] == "construction_waste"


def test_cases_csv_and_filters(cases, world, client, auth):
    auth.login("supervisor")
    assert [r["code"] for r in _csv(client.get("/exports/cases.csv"))] == ["E-1"], \
        "open cases by default, as the list"
    rows = _csv(client.get("/exports/cases.csv?status=all"))
    assert tuple(rows[0]) == CASE_COLUMNS
    assert [r["code"] for r in rows] == ["E-2", "E-1"], "newest first"
    by_code = {r["code"]: r for r in rows}
    assert by_code["E-1"]["overdue"] == "true" and by_code["E-1"]["closed_on_time"] == ""
    assert by_code["E-2"]["closed_on_time"] == "true" and by_code["E-2"]["squad"]
    assert by_code["E-1"]["description"] == "暴露垃圾 by the beach"
    assert [r["code"] for r in _csv(client.get("/exports/cases.csv?status=open"))] == ["E-1"]
    assert [r["code"] for r in _csv(client.get("/exports/cases.csv?status=overdue"))] == ["E-1"]
    assert [r["code"] for r in _csv(client.get("/exports/cases.csv?status=closed"))] == ["E-2"]
    assert [r["code"] for r in _csv(client.get(
        "/exports/cases.csv?status=all&category=construction_waste"))] == ["E-2"]
    assert [r["code"] for r in _csv(client.get(
        f"/exports/cases.csv?status=all&squad={world.squads['zhongdai']}"))] == ["E-2"]
    assert client.get("/exports/cases.csv?squad=x").status_code == 400
    assert client.get("/exports/cases.csv?status=nope").status_code == 400


def test_cases_geojson(cases, client, auth):
    auth.login("supervisor")
    data = json.loads(client.get("/exports/cases.geojson?status=all").get_data(as_text=True))
    assert [f["properties"]["code"] for f in data["features"]] == ["E-2", "E-1"]


def test_officer_exports_own_squad_only(cases, client, auth):
    auth.login("officer2")  # 钟埭
    assert [r["code"] for r in _csv(client.get("/exports/cases.csv?status=all"))] == ["E-2"]
    assert [r["code"] for r in _csv(client.get("/exports/cases.csv?status=all&scope=squad"))] == ["E-2"]
    assert client.get("/exports/cases.csv?scope=everyone").status_code == 400
    assert client.get("/exports/findings.csv").status_code == 403
    assert client.get(f"/exports/cases/{cases['duluth']}/evidence.zip").status_code == 403


def test_evidence_package(cases, world, client, auth, settings):
    auth.login("supervisor")
    response = client.get(f"/exports/cases/{cases['duluth']}/evidence.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(zf.namelist())
    manifest = json.loads(zf.read("manifest.json"))
    photo_file = f"photos/{world.photo_id}_DJI_0018.JPG"
    assert {"manifest.json", "SHA256SUMS", photo_file, "evidence/finding-duluth.png"} <= names
    # the photo is the archived original, byte for byte
    original = (settings.data_dir / "raw/photo/test/dji_0018.jpg").read_bytes()
    assert zf.read(photo_file) == original
    # every file's hash, in the manifest and in SHA256SUMS (which covers the manifest too)
    for entry in manifest["files"]:
        assert hashlib.sha256(zf.read(entry["path"])).hexdigest() == entry["sha256"]
    sums = dict(reversed(line.split("  ", 1)) for line in zf.read("SHA256SUMS").decode().splitlines())
    assert set(sums) == names - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256(zf.read(name)).hexdigest() == digest
    # what the manifest says
    assert manifest["case"]["code"] == "E-1" and manifest["missing"] == []
    assert manifest["location"]["coordinates"] == [manifest["finding"]["lon_deg"],
                                                   manifest["finding"]["lat_deg"]]
    [photo] = manifest["photos"]
    assert photo["file"] == photo_file and photo["role"] == "before"
    assert photo["pose"]["height_agl_m"] == 44.9 and photo["pose"]["yaw_source"] == "gimbal"
    assert photo["position"]["source"] == "exif" and photo["flight_id"] is None
    [detection] = manifest["detections"]
    assert detection["bbox_px"] == [1840, 1005, 320, 240]
    assert [h["to_status"] for h in manifest["history"]] == ["filed", "dispatched"]
    assert manifest["attachments"] == []
    assert manifest["history"][0]["user"] == "supervisor"
    assert [a["action"] for a in manifest["audit"]] == ["finding.confirm"]


def test_evidence_package_lists_missing_files(cases, world, client, auth, settings):
    (settings.data_dir / world.evidence_path).unlink()
    auth.login("supervisor")
    response = client.get(f"/exports/cases/{cases['duluth']}/evidence.zip")
    assert response.status_code == 200
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(response.data)).read("manifest.json"))
    assert [m["stored_path"] for m in manifest["missing"]] == [world.evidence_path]
    assert len(manifest["files"]) == 1


def test_evidence_package_of_a_case_without_finding(cases, client, auth):
    auth.login("officer2")
    response = client.get(f"/exports/cases/{cases['zhongdai']}/evidence.zip")
    assert response.status_code == 200
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(response.data)).read("manifest.json"))
    assert manifest["finding"] is None and manifest["photos"] == [] and manifest["files"] == []


def test_unknown_case_is_404(world, client, auth):
    auth.login("supervisor")
    assert client.get("/exports/cases/999/evidence.zip").status_code == 404


def test_list_pages_link_their_filters(cases, world, client, auth):
    auth.login("supervisor")
    page = client.get(f"/cases?status=all&squad={world.squads['zhongdai']}&page=1").get_data(as_text=True)
    assert f"/exports/cases.csv?status=all&amp;squad={world.squads['zhongdai']}\"" in page
    assert "/exports/cases.geojson?" in page
    page = client.get("/findings?status=rejected&category=open_burning").get_data(as_text=True)
    assert "/exports/findings.csv?status=rejected&amp;category=open_burning\"" in page
