"""Segment-level ortho change (vision.detectors.change_ortho) on GENERATED arrays."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.detectors.change_ortho import (segment_change_mask, segment_features, segment_object_mask,
                                           segment_rectangularity)
from vision.evaluation import region_counts


def _generated_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GENERATED: green-brown soil; later a grey 20 x 16 m roof (40 x 32 px at 0.5 m) and a green lawn."""
    rng = np.random.default_rng(3)
    before = np.clip(rng.normal((70, 120, 150), 4, (128, 128, 3)), 0, 255).astype(np.uint8)
    after = before.copy()
    after[20:60, 30:62] = (125, 125, 128)  # grey roof (BGR)
    after[80:120, 70:120] = (40, 150, 60)  # strong green lawn: changed, not a roof
    truth = np.zeros((128, 128), np.uint8)
    truth[20:60, 30:62] = 255
    return before, after, truth


def test_grey_roof_found_and_green_lawn_not_flagged():
    before, after, truth = _generated_pair()
    mask = segment_change_mask(segment_features(before, after, gsd_m=0.5), gsd_m=0.5)
    counts = region_counts(mask, truth)
    assert counts.found == 1 and counts.flagged == 1 and counts.true_flagged == 1
    assert not mask[80:120, 70:120].any()


def test_unchanged_pair_flags_nothing_and_small_roofs_dropped():
    before, after, _ = _generated_pair()
    assert not segment_change_mask(segment_features(before, before, gsd_m=0.5), gsd_m=0.5).any()
    # the roof is 320 m2: a 400 m2 minimum drops it
    assert not segment_change_mask(segment_features(before, after, gsd_m=0.5), gsd_m=0.5, min_area_m2=400.0).any()


def test_bad_inputs_raise():
    before, after, _ = _generated_pair()
    with pytest.raises(ValueError):
        segment_features(before, after[:64], gsd_m=0.5)
    with pytest.raises(ValueError):
        segment_features(before, after, gsd_m=0.0)


def test_object_mask_keeps_the_rectangular_roof_only():
    before, after, truth = _generated_pair()
    features = segment_features(before, after, gsd_m=0.5)
    counts = region_counts(segment_object_mask(features, gsd_m=0.5), truth)
    assert (counts.found, counts.flagged, counts.true_flagged) == (1, 1, 1)
    # the roof's main segment is ~250 m2 (its rim is split off as small segments): a 200 m2 cap drops it
    assert not segment_object_mask(features, gsd_m=0.5, max_segment_m2=200.0).any()


def test_change_detector_with_roof_segments_reports_the_roof_as_a_new_structure():
    from vision.change_eval import ORTHO_OPTIONS
    from vision.detectors.change import ChangeDetector

    before, after, truth = _generated_pair()
    result = ChangeDetector(**ORTHO_OPTIONS).compare(before, after, gsd_m=0.5)
    assert [(r.category, r.change) for r in result.regions] == [("illegal_structure", "appeared")]
    region = result.regions[0]
    assert 150 < region.area_m2 <= 320  # within the 20 x 16 m roof (its main segment, eroded)
    assert region_counts(result.mask, truth).true_flagged == 1
    assert not result.mask[80:120, 70:120].any()


def test_rectangularity_of_generated_segments():
    """GENERATED label image: a filled rectangle, an L shape and an id that does not occur."""
    labels = np.zeros((60, 60), np.int32)
    labels[5:25, 5:45] = 1  # 20 x 40 px rectangle
    labels[30:55, 5:15] = 2  # L: a 25 x 10 bar and a 10 x 30 foot
    labels[45:55, 15:45] = 2
    rect = segment_rectangularity(labels, n=4)
    assert rect.shape == (4,)
    assert 0.95 <= rect[1] <= 1.15
    assert rect[2] < 0.7
    assert rect[3] == 0.0


def test_object_mask_makes_one_region_per_segment_even_when_erosion_splits_it():
    """GENERATED features: one segment of two 20 x 20 px blocks joined by a 1 px neck.

    Eroding it by one pixel cuts the neck; only the larger block stays, so the segment is one
    region and not two."""
    labels = np.zeros((40, 64), np.int32)
    labels[10:30, 5:25] = 1
    labels[20, 25:35] = 1
    labels[8:32, 35:59] = 1  # 24 x 24, the larger block
    features = {"labels": labels, "distance": np.array([0.0, 20.0]), "chroma": np.array([10.0, 2.0]),
                "lightness": np.array([50.0, 50.0]), "area_px": np.bincount(labels.ravel()).astype(float),
                "rectangularity": np.array([0.0, 1.0])}
    mask = segment_object_mask(features, gsd_m=0.5)
    n, _ = cv2.connectedComponents(mask, connectivity=8)
    assert n - 1 == 1
    assert mask[20, 47] == 255 and not mask[10:30, 5:25].any()
