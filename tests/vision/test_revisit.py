"""The revisit generator (GENERATED pastes of real objects into real photos) and the change
detector on one generated revisit of the bundled Brighton Beach photos."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from vision.detectors import PhotoView
from vision.detectors.change import ChangeDetector
from vision.detectors.change_maps import register_onto
from vision.revisit import OBJECTS, cut_object, ground_mask, paste, plan_pastes, real_change_mask, score_revisit
from vision.reference import Placed, assign_passes, pick_references

BRIGHTON = "brighton_beach_dji_fc300s"


@pytest.fixture(scope="module")
def brighton(placed_sets):
    placed = placed_sets(BRIGHTON)
    views = {}
    for r in placed["rows"]:
        pl = placed["placements"][r.id]
        views[r.original_name] = PhotoView(r, placed["images"][r.id], pl.pose, pl.intrinsics, pl.footprint_wgs84,
                                           placed["features"][r.id])
    return views


def _references(views: dict, name: str) -> tuple[PhotoView, ...]:
    by_id = {v.photo.id: v for v in views.values()}
    passes = assign_passes([v.photo for v in views.values()])
    placed = [Placed(v.photo.id, v.photo.taken_utc, passes[v.photo.id], v.footprint_wgs84) for v in views.values()]
    target = next(p for p in placed if p.photo_id == views[name].photo.id)
    return tuple(by_id[i] for i, _ in pick_references(target, placed))


def _red_car(views: dict):
    src = next(o for o in OBJECTS[BRIGHTON] if o.photo == "DJI_0033.JPG" and o.kind == "car")
    v = views[src.photo]
    x0, y0 = v.image.to_work(src.box_px[0], src.box_px[1])
    x1, y1 = v.image.to_work(src.box_px[2], src.box_px[3])
    return cut_object(v.image.pixels, (x0, y0, x1, y1), gsd_m=v.gsd_m_work(), source=src)


def test_grabcut_keeps_a_car_sized_object(brighton):
    car = _red_car(brighton)
    assert 5.0 < car.area_m2 < 12.0  # a ~4.5 x 1.8 m car, with a little shadow
    assert car.alpha.max() == pytest.approx(1.0, abs=0.01) and car.alpha.min() < 0.05
    red = cv2.cvtColor(car.pixels, cv2.COLOR_BGR2HSV)
    inside = car.alpha > 0.5
    hue, sat = red[..., 0][inside], red[..., 1][inside]
    assert np.mean(((hue < 10) | (hue > 160)) & (sat > 100)) > 0.3  # mostly the red body


def test_pastes_land_on_open_ground_inside_the_overlap(brighton):
    cur = brighton["DJI_0031.JPG"]
    refs = _references(brighton, "DJI_0031.JPG")
    warped, valid, _ = register_onto(refs[0], cur)
    gsd = cur.gsd_m_work()
    allowed = ground_mask(cur.image.pixels, warped, valid, gsd_m=gsd)
    assert 0.05 < allowed.mean() < valid.mean()
    car = _red_car(brighton)
    plans = plan_pastes(np.random.default_rng(7), allowed, [car], count=3, gsd_m=gsd)
    again = plan_pastes(np.random.default_rng(7), allowed, [car], count=3, gsd_m=gsd)
    assert [(p.centre_px, p.turn_deg) for p in plans] == [(p.centre_px, p.turn_deg) for p in again]
    assert len(plans) == 3
    pixels, truth = paste(cur.image.pixels, plans)
    on = truth > 0
    assert valid[on].all() and allowed[on].all()
    n, _, stats, _ = cv2.connectedComponentsWithStats(on.astype(np.uint8), connectivity=8)
    assert n - 1 == 3  # three separate objects
    for area_px in stats[1:, cv2.CC_STAT_AREA]:
        assert area_px * gsd ** 2 == pytest.approx(car.area_m2, rel=0.25)  # scaled by GSD
    assert np.array_equal(pixels[~cv2.dilate(on.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)],
                          cur.image.pixels[~cv2.dilate(on.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)])


def test_detector_finds_a_pasted_real_car(brighton):
    cur = brighton["DJI_0031.JPG"]
    refs = _references(brighton, "DJI_0031.JPG")
    warped, valid, _ = register_onto(refs[0], cur)
    gsd = cur.gsd_m_work()
    allowed = ground_mask(cur.image.pixels, warped, valid, gsd_m=gsd)
    plans = plan_pastes(np.random.default_rng(3), allowed, [_red_car(brighton)], count=2, gsd_m=gsd)
    pixels, truth = paste(cur.image.pixels, plans)
    generated = dataclasses.replace(cur, image=dataclasses.replace(cur.image, pixels=pixels), features=None)
    _, result, _ = ChangeDetector().changes(generated, refs)
    score = score_revisit(result.mask, truth)
    print(f"\nDJI_0031 with {len(plans)} pasted cars (GENERATED): {score}")
    assert score["pastes"] == 2
    assert score["found"] == 2
    assert score["false_regions"] <= 1


def test_flagged_regions_on_labelled_real_changes_are_counted_apart():
    """Generated masks: one region on a paste, one on a labelled real change, one on neither."""
    truth = np.zeros((100, 100), np.uint8)
    truth[10:20, 10:20] = 255
    flagged = np.zeros_like(truth)
    flagged[12:22, 12:22] = 255  # on the paste
    flagged[50:60, 50:60] = 255  # on the real change
    flagged[80:90, 10:20] = 255  # false
    real = real_change_mask(truth.shape, [(45, 45, 58, 58)])
    score = score_revisit(flagged, truth, real)
    assert (score["found"], score["flagged"], score["real_changes"], score["false_regions"]) == (1, 3, 1, 1)
    assert score_revisit(flagged, truth)["false_regions"] == 2


def test_real_changes_lie_inside_their_photos(samples):
    """Every labelled real change names a bundled photo of its set and lies inside its frame."""
    from vision.images import image_size
    from vision.revisit import REAL_CHANGES

    assert sum(len(v) for v in REAL_CHANGES.values()) >= 7
    for photo_set, changes in REAL_CHANGES.items():
        for c in changes:
            width, height = image_size(samples / "photos" / photo_set / c.photo)
            x0, y0, x1, y1 = c.box_px
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, c
            assert c.what
