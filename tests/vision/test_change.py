"""The change detector on real photos of two passes, with a generated revisit (a real object
pasted into the later photo), and on the LEVIR-CD labelled pairs."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from patrol.geodesy import distance_m
from vision.detectors import DetectionContext, PhotoView, get_detector
from vision.detectors.change_maps import change_distance, local_offset, match_tone_curve
from vision.georef import pixel_to_ground
from vision.reference import Placed, assign_passes, pick_references
from vision.revisit import REAL_CHANGES

BRIGHTON = "brighton_beach_dji_fc300s"
GARFIELD = "garfield_park_sequoia_rgb"


def _views(placed) -> dict[str, PhotoView]:
    out = {}
    for r in placed["rows"]:
        pl = placed["placements"][r.id]
        out[r.original_name] = PhotoView(r, placed["images"][r.id], pl.pose, pl.intrinsics, pl.footprint_wgs84,
                                         placed["features"][r.id])
    return out


def _red_car(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box of the largest saturated red blob (the red car of DJI_0033)."""
    hsv = cv2.cvtColor(pixels, cv2.COLOR_BGR2HSV)
    red = (((hsv[..., 0] < 8) | (hsv[..., 0] > 160)) & (hsv[..., 1] > 120) & (hsv[..., 2] > 60)).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(red)
    i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return tuple(int(v) for v in stats[i, :4])


def _pairs(placed) -> list[tuple[PhotoView, tuple[PhotoView, ...]]]:
    """(photo, its references from earlier passes) as the pipeline picks them."""
    views = _views(placed)
    by_id = {v.photo.id: v for v in views.values()}
    passes = assign_passes([v.photo for v in views.values()])
    placed_ = [Placed(v.photo.id, v.photo.taken_utc, passes[v.photo.id], v.footprint_wgs84) for v in views.values()]
    out = []
    for p in placed_:
        refs = pick_references(p, placed_)
        if refs:
            out.append((by_id[p.photo_id], tuple(by_id[r] for r, _ in refs)))
    return out


def test_pasted_object_is_found_at_its_ground_place(placed_sets):
    """Generated revisit: the red car cut from DJI_0033 pasted on the lawn of DJI_0032 (pass 3),
    compared with DJI_0027 (pass 2)."""
    views = _views(placed_sets(BRIGHTON))
    source, current, reference = views["DJI_0033.JPG"], views["DJI_0032.JPG"], views["DJI_0027.JPG"]
    x, y, w, h = _red_car(source.image.pixels)
    assert 50 < w < 90 and 25 < h < 50  # a 4.5 m car at ~7 cm per working pixel
    car = source.image.pixels[y - 3:y + h + 3, x - 3:x + w + 3]
    px, py = 300, 150  # top-left corner of the paste, working pixels of DJI_0032: open lawn
    generated_pixels = current.image.pixels.copy()
    generated_pixels[py:py + car.shape[0], px:px + car.shape[1]] = car
    generated = dataclasses.replace(current, image=dataclasses.replace(current.image, pixels=generated_pixels),
                                    features=None)
    detections = get_detector("change").detect(generated.image, DetectionContext(generated, (reference,)))

    u, v = current.image.to_full(px + car.shape[1] / 2, py + car.shape[0] / 2)
    lon, lat = pixel_to_ground(current.pose, current.intrinsics, u, v)
    offsets = [distance_m(*d.centre_lonlat, float(lon), float(lat)) for d in detections]
    print(f"\npasted car: {[(d.category, round(d.area_m2, 1), round(d.score, 2)) for d in detections]}, "
          f"centre offsets {[round(o, 2) for o in offsets]} m")
    hits = [d for d, o in zip(detections, offsets) if o < 1.0]
    assert len(hits) == 1
    patch_m2 = car.shape[0] * car.shape[1] * generated.gsd_m_work() ** 2
    assert hits[0].area_m2 == pytest.approx(patch_m2, rel=0.4)
    assert hits[0].reference_photo_id == reference.photo_id
    assert len(detections) - len(hits) <= 1


def _on_real_change(det, set_name: str, photo: str) -> bool:
    """Whether 30% or more of a detection's box lies on a labelled real change of the photo."""
    x, y, w, h = det.bbox_px
    for c in REAL_CHANGES.get(set_name, ()):
        if c.photo == photo:
            x0, y0, x1, y1 = c.box_px
            overlap = max(0.0, min(x + w, x1) - max(x, x0)) * max(0.0, min(y + h, y1) - max(y, y0))
            if overlap >= 0.3 * w * h:
                return True
    return False


@pytest.mark.parametrize("set_name", [BRIGHTON, GARFIELD])
def test_unchanged_revisits_give_few_false_regions(placed_sets, set_name):
    """Real pairs of different passes with nothing added: every detection is a false region,
    except those on the real changes labelled in :data:`vision.revisit.REAL_CHANGES` (cars
    that parked or drove in between the passes). Issue #5's target is at most one per pair;
    measured when written: Brighton 4 in 12 pairs (max 2), Garfield 8 in 24 (max 3) - tree-crown
    edges and their shadows, people, a toilet block's roof seen from two sides, cars
    (docs/BENCHMARKS.md); with the tone-curve matching of 2026-11-22: Brighton 1, Garfield 7
    (max 3: Garfield 0125's real cars); with outline completion, the real cars labelled:
    Brighton 0, Garfield 4 (max 2: autumn crowns at the edge of Garfield 0092); with the hue
    check of the contrast rules (measured on a later machine): Brighton 0, Garfield 2 (max 1)."""
    detector = get_detector("change")
    pairs = _pairs(placed_sets(set_name))
    counts, real = [], 0
    for cur, refs in pairs:
        detections = detector.detect(cur.image, DetectionContext(cur, refs))
        on_real = sum(_on_real_change(d, set_name, cur.photo.original_name) for d in detections)
        counts.append(len(detections) - on_real)
        real += on_real
    print(f"\n{set_name}: {len(pairs)} photo pairs of different passes, false regions per pair {counts}, "
          f"{real} on labelled real changes")
    assert len(pairs) >= 12
    assert sum(counts) / len(pairs) <= 0.25
    assert max(counts) <= 2
    assert sum(c <= 1 for c in counts) >= 0.95 * len(pairs)


def test_levir_cd_pairs_beat_the_baseline_on_regions(shared_data):
    """LEVIR-CD samples (0.5 m/px satellite pairs years apart) through the evaluation the CLI
    runs: the detector's region F1 is above the plain baseline's, measured in the same run."""
    from vision.change_eval import evaluate_change_folder

    report = evaluate_change_folder(shared_data / "change_detection" / "levir_cd_samples", gsd_m=0.5).as_dict()
    ours, base = report["ours"], report["baseline"]
    print(f"\nLEVIR-CD ({report['pairs']} pairs) ours {ours}\n  baseline {base}")
    assert report["pairs"] >= 10
    assert ours["region"]["f1"] > base["region"]["f1"]
    assert ours["region"]["precision"] > base["region"]["precision"]


def test_change_distance_ignores_shifts_within_tolerance():
    """Generated: a textured image against itself shifted by 2 px is unchanged at tolerance 3."""
    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8), (0, 0), 2)
    shifted = np.roll(base, 2, axis=1)
    inner = np.zeros((200, 200), bool)
    inner[10:-10, 10:-10] = True
    assert change_distance(base, shifted, inner, tolerance_px=3).max() < 3.0
    assert change_distance(base, shifted, inner, tolerance_px=0).max() > 3.0


def test_bright_object_on_pale_ground_is_found_and_its_shadow_twin_is_not():
    """Generated: pale concrete (L* ~80, grain), a neutral patch ~13 L* lighter (a white car on
    sun-bleached concrete: a change in lightness only) is flagged; the same patch ~13 L* darker
    (a shadow) is not - lightness counts fully where the region is lighter, half where darker."""
    from vision.detectors.change import ChangeDetector

    rng = np.random.default_rng(7)
    before = np.clip(200 + rng.normal(0, 4, (200, 200, 1)), 0, 255).repeat(3, axis=2).astype(np.uint8)
    found = {}
    for name, delta in (("lighter", 35), ("darker", -35)):
        after = before.copy()
        after[80:120, 60:140] = np.clip(after[80:120, 60:140].astype(int) + delta, 0, 255).astype(np.uint8)
        result = ChangeDetector(max_parallax_m=0.0).compare(before, after, gsd_m=0.1)
        found[name] = [r.area_m2 for r in result.regions]
    assert len(found["lighter"]) == 1 and found["lighter"][0] == pytest.approx(32.0, rel=0.3)
    assert found["darker"] == []


def test_compare_in_the_reference_window_equals_the_whole_image(working_image, monkeypatch):
    """Generated: a blue block pasted into a real photo, the reference covering part of it.
    :meth:`ChangeDetector.compare` works in the reference's window; the result is the one the
    whole image gives."""
    import vision.detectors.change as change

    before = working_image(BRIGHTON, "DJI_0033.JPG").pixels
    after = before.copy()
    h, w = after.shape[:2]
    after[h // 2:h // 2 + 40, w // 3:w // 3 + 60] = (200, 60, 20)
    valid = np.zeros((h, w), bool)
    valid[h // 5:, :int(0.6 * w)] = True
    detector = get_detector("change")
    windowed = detector.compare(before, after, gsd_m=0.05, valid=valid)
    monkeypatch.setattr(change, "_crop_window", lambda _valid, _margin: None)
    whole = detector.compare(before, after, gsd_m=0.05, valid=valid)
    assert len(whole.regions) >= 1
    np.testing.assert_array_equal(windowed.mask, whole.mask)
    np.testing.assert_array_equal(windowed.candidates, whole.candidates)
    np.testing.assert_array_equal(windowed.judged, whole.judged)
    # the tone curve is tabulated over each array's own range: float-level differences only
    np.testing.assert_allclose(windowed.distance, whole.distance, atol=1e-2)
    assert [r.category for r in windowed.regions] == [r.category for r in whole.regions]
    for a, b in zip(windowed.regions, whole.regions):
        np.testing.assert_array_equal(a.contour, b.contour)
    assert [box for box, _ in windowed.rejected] == [box for box, _ in whole.rejected]


def test_tone_curve_follows_a_non_linear_exposure_change():
    """Generated: the later image is a gamma-curved (0.6), offset copy of the earlier one; the
    fitted tone curve brings 99% of the earlier one within 1 unit (mean/std matching: > 4)."""
    rng = np.random.default_rng(5)
    ramp = np.linspace(10.0, 98.0, 160, dtype=np.float32)[None, :] + rng.normal(0.0, 1.0, (120, 160)).astype(np.float32)
    before = np.repeat(np.clip(ramp, 0.0, 100.0)[..., None], 3, axis=2)
    after = (100.0 * (before / 100.0) ** 0.6 - 5.0).astype(np.float32)
    valid = np.ones((120, 160), bool)
    mapped = match_tone_curve(before, after, valid)
    moments = (before - before.mean()) * (after.std() / before.std()) + after.mean()
    assert np.percentile(np.abs(mapped - after), 99) < 1.0
    assert np.percentile(np.abs(moments - after), 99) > 4.0


def test_local_offset_follows_a_ramp_and_ignores_a_small_object():
    """Generated: the later image is 12 units lighter on its right half (smoothly) and has a
    bright 8 x 8 px object; the offset follows the ramp and is not pulled by the object."""
    h, w = 96, 192
    before = np.full((h, w, 3), 50.0, np.float32)
    ramp = np.clip((np.arange(w, dtype=np.float32) - 64) / 64, 0, 1) * 12.0
    after = before + ramp[None, :, None]
    after[40:48, 40:48] += 40.0
    off = local_offset(before, after, np.ones((h, w), bool), block_px=24)
    assert abs(float(off[44, 44, 0])) < 1.0
    assert abs(float(off[48, 180, 0]) - 12.0) < 1.5
    assert abs(float(off[48, 10, 0])) < 1.0


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1001])
def test_median_by_one_selection_is_numpys(n):
    """Odd and even counts, with and without ties: the same float32 value as ``np.median``."""
    from vision.detectors.change_maps import _median

    rng = np.random.default_rng(n)
    for values in (rng.normal(0.0, 30.0, n).astype(np.float32), np.round(rng.normal(0.0, 3.0, n)).astype(np.float32)):
        assert _median(values) == np.median(values)


def test_local_offset_block_medians_are_nanmedians():
    """Generated, with holes and partly valid blocks: each block's offset before smoothing is
    ``np.nanmedian`` of its valid differences, or the overall median (blocks under a quarter
    valid); then the 3 x 3 median and the bilinear resize, bit for bit."""
    from vision.detectors.change_maps import _block_offset, _median3

    rng = np.random.default_rng(11)
    h, w, block = 70, 95, 10
    before = rng.normal(50.0, 8.0, (h, w, 3)).astype(np.float32)
    after = (before + rng.normal(3.0, 4.0, (h, w, 3))).astype(np.float32)
    valid = rng.random((h, w)) < 0.7
    valid[:25, :40] = False
    valid[30:50, 50:60] = rng.random((20, 10)) < 0.2
    d = np.where(valid[..., None], after - before, np.nan)
    d = np.pad(d, ((0, 10 * 7 - h), (0, 10 * 10 - w), (0, 0)), constant_values=np.nan)
    cells = d.reshape(7, block, 10, block, 3).transpose(0, 2, 4, 1, 3).reshape(7, 10, 3, -1)
    share = np.pad(valid, ((0, 0), (0, 5))).reshape(7, block, 10, block).mean(axis=(1, 3))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(cells, axis=3)
    overall = np.median((after - before)[valid], axis=0)
    expected = np.where((share >= 0.25)[..., None], expected, overall).astype(np.float32)
    smooth = [cv2.resize(_median3(expected[..., c]), (10 * block, 7 * block), interpolation=cv2.INTER_LINEAR)
              for c in range(3)]
    np.testing.assert_array_equal(_block_offset(before, after, valid, block, 0.25), np.dstack(smooth)[:h, :w])


def test_local_offset_of_a_window_equals_the_whole_image():
    """Generated: random colours with an exposure ramp, valid in a sub-rectangle; the offset
    computed on a window holding all valid pixels (placed by its origin) is the whole image's."""
    rng = np.random.default_rng(3)
    h, w = 300, 420
    before = rng.normal(50.0, 8.0, (h, w, 3)).astype(np.float32)
    after = before + np.linspace(0.0, 15.0, w, dtype=np.float32)[None, :, None] + rng.normal(0, 1, (h, w, 3)).astype(np.float32)
    valid = np.zeros((h, w), bool)
    valid[70:260, 95:350] = True
    whole = local_offset(before, after, valid, block_px=24)
    rows, cols = slice(61, 271), slice(83, 360)
    part = local_offset(before[rows, cols], after[rows, cols], valid[rows, cols], block_px=24,
                        origin_px=(rows.start, cols.start), image_shape_px=(h, w))
    np.testing.assert_allclose(part, whole[rows, cols], atol=1e-5)
    unplaced = local_offset(before[rows, cols], after[rows, cols], valid[rows, cols], block_px=24)
    assert np.abs(unplaced - whole[rows, cols]).max() > 0.1  # the grid's placement matters


def _pale_lot(seed: int = 7) -> np.ndarray:
    """Generated: pale concrete (grey ~200 of 255, grain), 200 x 200 px."""
    rng = np.random.default_rng(seed)
    return np.clip(200 + rng.normal(0, 3, (200, 200, 1)), 0, 255).repeat(3, axis=2).astype(np.uint8)


def test_outline_completion_covers_a_pale_car_seen_by_its_windows():
    """Generated: on pale concrete, a "car" 4.6 x 1.8 m whose body is only ~7 L* lighter than
    the ground (under the threshold) with a dark windscreen across its middle. The windscreen
    alone passes the region tests; completion extends the region over the body within 1.5 m
    (``core`` keeps the windscreen)."""
    from vision.detectors.change import ChangeDetector

    before = _pale_lot()
    after = before.copy()
    after[90:108, 70:116] = np.clip(after[90:108, 70:116].astype(int) + 18, 0, 255).astype(np.uint8)  # body
    after[90:108, 86:100] = 60  # windscreen
    car = np.zeros((200, 200), bool)
    car[90:108, 70:116] = True
    plain = ChangeDetector(max_parallax_m=0.0, complete_m=0.0).compare(before, after, gsd_m=0.1)
    completed = ChangeDetector(max_parallax_m=0.0).compare(before, after, gsd_m=0.1)
    assert len(plain.regions) == 1 and len(completed.regions) == 1
    assert (plain.mask[car] > 0).mean() < 0.5
    assert (completed.mask[car] > 0).mean() > 0.65
    assert (completed.mask[~car] > 0).sum() < 0.3 * car.sum()
    np.testing.assert_array_equal(completed.core, plain.mask)
    assert completed.regions[0].area_m2 > 1.5 * plain.regions[0].area_m2


def test_object_joined_to_changed_vegetation_is_judged_on_its_own(monkeypatch):
    """Generated: a lawn that turned a brighter green between the passes, and a new blue
    object touching it; their one candidate region is mostly vegetation. The vegetation is
    split off and the object is reported (without the split, nothing is)."""
    from vision.detectors.change import ChangeDetector

    before = _pale_lot()
    before[40:160, 20:110] = (40, 90, 40)  # lawn (BGR)
    after = before.copy()
    after[40:160, 20:110] = (60, 170, 70)  # the lawn, greener
    after[80:110, 110:140] = (170, 60, 20)  # a blue object against its edge
    obj = np.zeros((200, 200), bool)
    obj[80:110, 110:140] = True
    detector = ChangeDetector(max_parallax_m=0.0)
    result = detector.compare(before, after, gsd_m=0.1)
    assert len(result.regions) == 1
    assert (result.mask[obj] > 0).mean() > 0.8
    assert (result.mask[40:160, 20:100] > 0).mean() < 0.05
    assert any(why == "vegetation" for _, why in result.rejected)
    monkeypatch.setattr(ChangeDetector, "_off_vegetation", staticmethod(lambda *a, **k: []))
    assert detector.compare(before, after, gsd_m=0.1).regions == ()


def _patch_pair(ground_bgr, before_bgr, after_bgr) -> tuple[np.ndarray, np.ndarray]:
    """Generated: uniform ground with grain, a 4 x 2 m patch (gsd 0.1 m) of ``before_bgr`` on the
    earlier pass and ``after_bgr`` on the later one."""
    rng = np.random.default_rng(3)
    before = np.clip(np.array(ground_bgr, float) + rng.normal(0, 3, (200, 200, 1)), 0, 255).astype(np.uint8)
    before[90:110, 70:110] = before_bgr
    after = before.copy()
    after[90:110, 70:110] = after_bgr
    return before, after


def test_object_on_a_spot_that_stood_out_before_is_found_by_its_colour_shift():
    """Generated: on pale concrete, a bluish stain (it stood off the ground before) covered by an
    orange object. The object's contrast gain is under ``min_contrast_gain`` (the stain
    contrasted too), but the colour by which it stands off its ring has shifted: kept by the
    shift rule, dropped without it."""
    from vision.detectors.change import ChangeDetector

    before, after = _patch_pair((200, 200, 200), (212, 182, 166), (150, 180, 225))
    result = ChangeDetector(max_parallax_m=0.0).compare(before, after, gsd_m=0.1)
    assert len(result.regions) == 1
    region = result.regions[0]
    assert 0 <= region.contrast_gain < 10 and region.contrast_shift >= 20
    assert region.area_m2 == pytest.approx(8.0, rel=0.3)
    plain = ChangeDetector(max_parallax_m=0.0, min_contrast_shift=0.0).compare(before, after, gsd_m=0.1)
    assert plain.regions == ()
    assert any(why.startswith("contrast now") for _, why in plain.rejected)


def test_colour_shift_within_the_ring_hue_is_not_an_object(monkeypatch):
    """Generated: an orange-brown surface (an autumn canopy) with a patch in shade on the earlier
    pass and lit, brighter, on the later one: the same hue as its ring, so the shift rule does
    not keep it (the gain rule does not either); without the hue check it would."""
    import vision.detectors.change as change

    before, after = _patch_pair((120, 150, 200), (72, 90, 120), (125, 170, 244))
    detector = change.ChangeDetector(max_parallax_m=0.0)
    result = detector.compare(before, after, gsd_m=0.1)
    assert result.regions == ()
    monkeypatch.setattr(change, "_same_hue", lambda *a, **k: False)
    shifted = detector.compare(before, after, gsd_m=0.1).regions
    assert len(shifted) == 1 and shifted[0].contrast_gain < 10 and shifted[0].contrast_shift >= 20


def test_region_in_its_ring_hue_is_not_kept_by_the_gain_rule_either(monkeypatch):
    """Generated: the same orange-brown surface, the patch lit brighter on the later pass by more
    than ``min_contrast_gain``: one material seen differently, not kept (without the hue check
    the gain rule keeps it); a blue object of a like change on it is kept."""
    import vision.detectors.change as change

    detector = change.ChangeDetector(max_parallax_m=0.0)
    lit = _patch_pair((120, 150, 200), (120, 150, 200), (110, 175, 250))
    assert detector.compare(*lit, gsd_m=0.1).regions == ()
    blue = _patch_pair((120, 150, 200), (120, 150, 200), (230, 170, 120))
    assert len(detector.compare(*blue, gsd_m=0.1).regions) == 1
    monkeypatch.setattr(change, "_same_hue", lambda *a, **k: False)
    regions = detector.compare(*lit, gsd_m=0.1).regions
    assert len(regions) == 1 and regions[0].contrast_gain >= 10
