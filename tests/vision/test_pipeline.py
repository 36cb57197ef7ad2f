"""analyse_photos on real photos in a migrated database: footprints, poses, detections,
findings, problems reported per photo, photos analysed once."""

from __future__ import annotations

import math

import sqlalchemy as sa
from shapely.geometry import shape

from flight_logs.models import Photo
from vision.models import Detection, Finding, PhotoGeoref
from vision.pipeline import analyse_photos

BRIGHTON = "brighton_beach_dji_fc300s"


def test_analyse_a_photo_set(session, data_root, photo_rows):
    rows = photo_rows(BRIGHTON)
    broken = photo_rows(BRIGHTON, ["DJI_0018.JPG"])[0]
    broken.sha256, broken.stored_path, broken.original_name = "missing", "raw/photo/missing.jpg", "missing.jpg"
    lost = photo_rows(BRIGHTON, ["DJI_0019.JPG"])[0]
    lost.sha256, lost.original_name, lost.lat_deg, lost.lon_deg = "no-gps", "no-gps.jpg", None, None
    session.add_all(rows + [broken, lost])
    session.flush()
    lines: list[str] = []
    report = analyse_photos(session, data_root, progress=lines.append)
    print(f"\n{report.as_dict()}")

    assert report.photos_total == 20
    assert report.photos_georeferenced == report.photos_analysed == 18
    problems = {p.name: p for p in report.problems}
    assert set(problems) == {"missing.jpg", "no-gps.jpg"}
    assert problems["missing.jpg"].stage == "read" and "not found" in problems["missing.jpg"].message
    assert problems["no-gps.jpg"].stage == "georeference" and "no position" in problems["no-gps.jpg"].message
    assert report.photos_compared >= 10
    assert any("turned 180" in n for n in report.notes)

    for row in rows:
        fp = shape(row.footprint)
        assert fp.geom_type == "Polygon" and fp.is_valid
        assert fp.contains(shape({"type": "Point", "coordinates": [row.lon_deg, row.lat_deg]}))
    georefs = session.scalars(sa.select(PhotoGeoref)).all()
    assert len(georefs) == 18 and all(g.analysed_at is not None for g in georefs)
    assert {g.height_source for g in georefs} == {"alt_rel"}
    assert sum(any("yaw + 180" in c for c in g.corrections) for g in georefs) == 6
    # the camera position used is stored: the refined one where tie points moved it (metres)
    by_photo = {r.id: r for r in rows}
    moved = [math.hypot((g.lat_deg - by_photo[g.photo_id].lat_deg) * 111_320,
                        (g.lon_deg - by_photo[g.photo_id].lon_deg) * 111_320 * math.cos(math.radians(g.lat_deg)))
             for g in georefs]
    assert all(g.lat_deg is not None and g.lon_deg is not None for g in georefs)
    assert max(moved) < 10.0 and sum(m > 0.05 for m in moved) >= 6

    detections = session.scalars(sa.select(Detection)).all()
    assert len(detections) == report.detections
    assert all(d.finding_id is not None for d in detections)
    findings = session.scalars(sa.select(Finding)).all()
    assert len(findings) == report.findings_new
    for f in findings:
        assert (data_root / f.evidence_path).is_file()

    again = analyse_photos(session, data_root)
    assert again.photos_skipped == 18 and again.photos_analysed == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Detection)) == len(detections)
    assert lines[-1].startswith("18 photos analysed")


def test_only_the_given_photos_are_analysed(session, data_root, photo_rows):
    rows = photo_rows(BRIGHTON, [f"DJI_00{n}.JPG" for n in range(24, 30)])
    session.add_all(rows)
    session.flush()
    report = analyse_photos(session, data_root, photo_ids=[r.id for r in rows[:3]], detectors=("colour",))
    assert report.photos_total == 3 and report.photos_analysed == 3
    stored = session.scalars(sa.select(Photo).where(Photo.footprint.is_not(None))).all()
    assert sorted(p.id for p in stored) == sorted(r.id for r in rows[:3])


def test_photos_placed_by_an_earlier_run_serve_as_references(session, data_root, photo_rows):
    rows = photo_rows(BRIGHTON, [f"DJI_00{n}.JPG" for n in range(24, 36)])  # passes 2 and 3
    session.add_all(rows)
    session.flush()
    first = analyse_photos(session, data_root, photo_ids=[r.id for r in rows[:6]], detectors=("change",))
    assert first.photos_compared == 0  # one pass: nothing earlier to compare with
    second = analyse_photos(session, data_root, photo_ids=[r.id for r in rows[6:]], detectors=("change",))
    assert second.photos_analysed == 6 and second.photos_compared == 6
    assert not second.problems
