"""Passes and reference photos on the real sets' metadata."""

from __future__ import annotations

import datetime as dt

from shapely.geometry import box

from vision.reference import PassKey, Placed, assign_passes, overlap_fraction, pick_references


def _numbered(rows):
    for i, r in enumerate(rows, start=1):
        r.id = i
    return rows


def test_brighton_has_three_passes(photo_rows):
    rows = _numbered(photo_rows("brighton_beach_dji_fc300s"))
    passes = assign_passes(rows)
    assert [passes[r.id].number for r in rows] == [0] * 6 + [1] * 6 + [2] * 6


def test_time_gaps_split_passes(photo_rows):
    rows = _numbered(photo_rows("garfield_park_sequoia_rgb"))
    passes = assign_passes(rows)
    by_name = {r.original_name[-12:-8]: passes[r.id].number for r in rows}
    assert by_name["0000"] == by_name["0003"] == 0  # a northbound line
    assert by_name["0011"] == by_name["0013"] == 1  # back south 49 s later
    assert by_name["0090"] == by_name["0093"] == 2  # north again after 8 minutes


def test_photos_without_time_get_no_pass(photo_rows):
    rows = _numbered(photo_rows("brighton_beach_dji_fc300s", ["DJI_0018.JPG", "DJI_0019.JPG"]))
    rows[0].taken_utc = None
    assert list(assign_passes(rows)) == [rows[1].id]


def test_references_come_from_earlier_passes_and_cover_enough():
    t0 = dt.datetime(2024, 5, 1, 8, tzinfo=dt.timezone.utc)
    key = lambda n: PassKey("s", None, n)  # noqa: E731
    target = Placed(1, t0 + dt.timedelta(minutes=10), key(2), box(0, 0, 0.001, 0.001))
    candidates = [
        Placed(2, t0, key(0), box(0.0002, 0, 0.0012, 0.001)),  # 80% overlap, earlier pass
        Placed(3, t0 + dt.timedelta(minutes=9), key(2), box(0, 0, 0.001, 0.001)),  # same pass
        Placed(4, t0 + dt.timedelta(minutes=11), key(3), box(0, 0, 0.001, 0.001)),  # later
        Placed(5, t0, key(1), box(0.0008, 0, 0.0018, 0.001)),  # 20% overlap
        Placed(6, t0, key(1), box(0.0001, 0, 0.0011, 0.001)),  # 90% overlap
    ]
    refs = pick_references(target, candidates)
    assert [r for r, _ in refs] == [6, 2]
    assert refs[0][1] == overlap_fraction(target.footprint_wgs84, candidates[4].footprint_wgs84)
    assert 0.89 < refs[0][1] < 0.91
