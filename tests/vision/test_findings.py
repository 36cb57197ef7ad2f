"""Merging detections into findings; evidence crops named by content."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import sqlalchemy as sa
from shapely.geometry import Point

from patrol.geodesy import LocalProjection
from vision.detectors import Detection
from vision.errors import ImageReadError
from vision.findings import evidence_crop, merge_detections, write_evidence
from vision.models import Detection as DetectionRow
from vision.models import Finding

BRIGHTON = "brighton_beach_dji_fc300s"


def _detection(lon: float, lat: float, *, category="exposed_garbage", score=0.7, radius_m=1.0) -> Detection:
    proj = LocalProjection.for_point(lon, lat)
    x, y = proj.to_xy(lon, lat)
    poly = proj.unproject(Point(x, y).buffer(radius_m))
    return Detection(category=category, bbox_px=(1500.0, 900.0, 120.0, 90.0), score=score, polygon_wgs84=poly,
                     area_m2=3.14 * radius_m ** 2, detector="change")


@pytest.fixture
def photos(session, photo_rows):
    """Three real Brighton photos: two on pass 2 (7 s apart), one on pass 3 (54 s later)."""
    rows = photo_rows(BRIGHTON, ["DJI_0026.JPG", "DJI_0027.JPG", "DJI_0033.JPG"])
    session.add_all(rows)
    session.flush()
    return {r.original_name: r for r in rows}


def test_same_place_on_two_passes_is_one_finding_seen_twice(session, data_root, photos):
    lon, lat = -91.99395, 46.84255
    first = merge_detections(session, [(_detection(lon, lat), photos["DJI_0026.JPG"])], data_dir=data_root)
    # same pass, 7 s later, 1.5 m away: another detection of the same sighting
    same_pass = merge_detections(session, [(_detection(lon + 0.00002, lat, score=0.6), photos["DJI_0027.JPG"])],
                                 data_dir=data_root)
    # next pass, 2 m away: a second sighting
    later = merge_detections(session, [(_detection(lon, lat + 0.000018, score=0.9), photos["DJI_0033.JPG"])],
                             data_dir=data_root)
    findings = session.scalars(sa.select(Finding)).all()
    assert len(findings) == 1
    f = findings[0]
    assert first.new_findings == [f] and same_pass.updated_findings == [f] and later.updated_findings == [f]
    assert f.seen_count == 2
    assert f.first_seen_utc == photos["DJI_0026.JPG"].taken_utc
    assert f.last_seen_utc == photos["DJI_0033.JPG"].taken_utc
    assert f.score == 0.9
    assert len(f.detections) == 3 and {d.photo_id for d in f.detections} == {p.id for p in photos.values()}
    assert f.lat_deg == pytest.approx(lat + 0.000006, abs=1e-7)
    assert (data_root / f.evidence_path).is_file()
    row = session.scalar(sa.select(DetectionRow).where(DetectionRow.photo_id == photos["DJI_0033.JPG"].id))
    assert row.polygon["type"] == "Polygon" and row.bbox_px == [1500.0, 900.0, 120.0, 90.0]


def test_other_category_or_place_makes_another_finding(session, data_root, photos):
    lon, lat = -91.99395, 46.84255
    p26, p33 = photos["DJI_0026.JPG"], photos["DJI_0033.JPG"]
    merge_detections(session, [(_detection(lon, lat), p26),
                               (_detection(lon, lat, category="illegal_parking"), p26),
                               (_detection(lon + 0.0002, lat), p33)],  # 15 m east
                     data_dir=data_root)
    findings = session.scalars(sa.select(Finding).order_by(Finding.id)).all()
    assert [(f.category, f.seen_count) for f in findings] == [
        ("exposed_garbage", 1), ("illegal_parking", 1), ("exposed_garbage", 1)]


def test_a_reviewed_finding_keeps_its_status_when_seen_again(session, data_root, photos):
    lon, lat = -91.99395, 46.84255
    result = merge_detections(session, [(_detection(lon, lat), photos["DJI_0026.JPG"])], data_dir=data_root)
    result.new_findings[0].status = "rejected"
    merge_detections(session, [(_detection(lon, lat), photos["DJI_0033.JPG"])], data_dir=data_root)
    f = session.scalar(sa.select(Finding))
    assert (f.status, f.seen_count) == ("rejected", 2)


def test_evidence_is_written_once_named_by_its_hash(data_root, samples):
    pixels = cv2.imread(str(samples / "photos" / BRIGHTON / "DJI_0033.JPG"))
    jpeg = evidence_crop(pixels, (3000.0, 200.0, 300.0, 150.0))
    crop = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[0] >= 192 and crop.shape[1] >= 300 * 2
    rel = write_evidence(data_root, jpeg)
    assert rel == f"evidence/{hashlib.sha256(jpeg).hexdigest()}.jpg"
    path = data_root / rel
    stamp = path.stat().st_mtime_ns
    assert write_evidence(data_root, evidence_crop(pixels, (3000.0, 200.0, 300.0, 150.0))) == rel
    assert path.stat().st_mtime_ns == stamp  # not rewritten
    assert sorted(p.name for p in (data_root / "evidence").iterdir()) == [path.name]


def test_evidence_box_outside_the_image_raises():
    with pytest.raises(ImageReadError, match="outside"):
        evidence_crop(np.zeros((100, 100, 3), np.uint8), (500.0, 500.0, 10.0, 10.0), min_side_px=10)


def test_a_confirmed_finding_seen_on_a_later_pass_records_the_sighting(session, data_root, photos):
    """Merging ignores the review status: a confirmed finding seen again on a later pass gets
    the detection, a new sighting and a later last_seen_utc (what the console compares with
    its case's closing time to reopen it); its status stays, and evidence crops are files
    named by the SHA-256 of their bytes, written once."""
    lon, lat = -91.99395, 46.84255
    first = merge_detections(session, [(_detection(lon, lat), photos["DJI_0026.JPG"])], data_dir=data_root)
    finding = first.new_findings[0]
    finding.status = "confirmed"
    evidence = data_root / finding.evidence_path
    stamp = evidence.stat().st_mtime_ns
    later = merge_detections(session, [(_detection(lon + 0.00002, lat, score=0.95), photos["DJI_0033.JPG"])],
                             data_dir=data_root)
    assert later.updated_findings == [finding] and not later.new_findings
    assert (finding.status, finding.seen_count) == ("confirmed", 2)
    assert finding.last_seen_utc == photos["DJI_0033.JPG"].taken_utc > photos["DJI_0026.JPG"].taken_utc
    assert finding.first_seen_utc == photos["DJI_0026.JPG"].taken_utc
    assert {d.photo_id for d in finding.detections} == {photos["DJI_0026.JPG"].id, photos["DJI_0033.JPG"].id}
    for path in (data_root / "evidence").iterdir():
        assert path.name == hashlib.sha256(path.read_bytes()).hexdigest() + ".jpg"
    assert evidence.stat().st_mtime_ns == stamp  # the first crop is not written again
