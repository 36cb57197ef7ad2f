"""The evaluation contract of issue #5 on small GENERATED masks: pixel counts, the 30% region
rules, micro-averaging, and the plain baseline on a generated pair."""

from __future__ import annotations

import numpy as np
import pytest

from vision.evaluation import Counts, baseline_change_mask, pixel_counts, region_counts, scores


def _square(mask: np.ndarray, x: int, y: int, size: int) -> None:
    mask[y:y + size, x:x + size] = 255


def test_pixel_counts_and_scores():
    truth = np.zeros((20, 20), np.uint8)
    _square(truth, 0, 0, 10)            # 100 labelled pixels
    flagged = np.zeros_like(truth)
    _square(flagged, 5, 0, 10)          # 100 flagged, 50 of them labelled
    c = pixel_counts(flagged, truth)
    assert c == Counts(true_flagged=50, flagged=100, found=50, labelled=100)
    s = scores(c)
    assert (s.precision, s.recall, s.f1) == (0.5, 0.5, 0.5)


def test_labelled_region_is_found_above_30_percent():
    truth = np.zeros((40, 40), np.uint8)
    _square(truth, 0, 0, 10)            # region of 100 px
    flagged = np.zeros_like(truth)
    flagged[0:3, 0:10] = 255            # 30 px: exactly 30% is not "more than 30%"
    assert region_counts(flagged, truth).found == 0
    flagged[3, 0] = 255                 # 31 px
    assert region_counts(flagged, truth).found == 1


def test_flagged_region_is_false_below_30_percent():
    truth = np.zeros((40, 40), np.uint8)
    _square(truth, 0, 0, 10)
    flagged = np.zeros_like(truth)
    flagged[0:10, 7:17] = 255           # 100 px, 30 on the label: not false (>= 30%)
    c = region_counts(flagged, truth)
    assert (c.flagged, c.true_flagged) == (1, 1)
    flagged[:] = 0
    flagged[0:10, 8:18] = 255           # 20 on the label: false
    c = region_counts(flagged, truth)
    assert (c.flagged, c.true_flagged) == (1, 0)


def test_one_flagged_region_can_find_several_labelled_ones():
    truth = np.zeros((40, 40), np.uint8)
    _square(truth, 0, 0, 5)
    _square(truth, 10, 0, 5)
    _square(truth, 30, 30, 5)           # missed
    flagged = np.zeros_like(truth)
    flagged[0:5, 0:15] = 255            # covers both first squares (and the gap)
    c = region_counts(flagged, truth)
    assert c == Counts(true_flagged=1, flagged=1, found=2, labelled=3)


def test_scores_micro_average_and_empty_cases():
    a, b = Counts(1, 2, 1, 4), Counts(3, 4, 2, 2)
    assert scores([a, b]) == scores(Counts(4, 6, 3, 6))
    assert scores(Counts(0, 0, 0, 0)).precision == 1.0      # nothing to find, nothing flagged
    assert scores(Counts(0, 0, 0, 5)) == scores(Counts(0, 0, 0, 5))
    assert scores(Counts(0, 0, 0, 5)).f1 == 0.0


def test_baseline_flags_a_generated_new_square():
    rng = np.random.default_rng(0)
    before = np.clip(rng.normal(120, 6, (96, 96, 3)), 0, 255).astype(np.uint8)
    after = before.copy()
    after[30:60, 30:60] = (40, 40, 200)  # a red block appears
    mask = baseline_change_mask(before, after)
    truth = np.zeros((96, 96), np.uint8)
    truth[30:60, 30:60] = 255
    c = region_counts(mask, truth)
    assert c.found == 1
    assert pixel_counts(mask, truth).true_flagged >= 0.8 * 900
    assert scores(c).recall == pytest.approx(1.0)
