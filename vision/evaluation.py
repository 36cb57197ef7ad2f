"""Precision, recall and F1 of change masks against labelled masks, by pixel and by region.

Definitions (issue #5, the project's evaluation contract):

* **pixel**: true positives are pixels flagged and labelled change; precision = TP / flagged,
  recall = TP / labelled.
* **region** (8-connected components): a labelled change region counts as **found** when
  more than ``min_overlap`` (30%) of its pixels are flagged; a flagged region is **false**
  when less than ``min_overlap`` of its pixels are labelled change. Precision = flagged
  regions that are not false / flagged regions; recall = found labelled regions / labelled
  regions.

Scores over several image pairs are computed from the summed counts (micro-average).
F1 = 2 P R / (P + R), 0 when both are 0. An empty prediction has precision 0 by convention
when there is something to find, and 1 when there is nothing.

:func:`baseline_change_mask` is the plain baseline the issue names (L*a*b* distance after
matching the after-image's channel means and deviations to the before-image's, 7x7 blur,
Otsu threshold, 5x5 opening, 7x7 closing), kept to be reported beside the detector's own
mask in the same run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Counts", "Scores", "baseline_change_mask", "pixel_counts", "region_counts", "scores"]


@dataclass(frozen=True)
class Counts:
    """Raw counts behind precision and recall (summable across image pairs)."""

    true_flagged: int
    flagged: int
    found: int
    labelled: int

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.true_flagged + other.true_flagged, self.flagged + other.flagged,
                      self.found + other.found, self.labelled + other.labelled)


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 (0-1)."""

    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, float]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


def scores(counts: Counts | Iterable[Counts]) -> Scores:
    """Precision/recall/F1 from counts (a sum over pairs when given several).

    >>> scores(Counts(true_flagged=3, flagged=4, found=3, labelled=6))
    Scores(precision=0.75, recall=0.5, f1=0.6)
    """
    if not isinstance(counts, Counts):
        total = Counts(0, 0, 0, 0)
        for c in counts:
            total = total + c
        counts = total
    p = counts.true_flagged / counts.flagged if counts.flagged else (1.0 if counts.labelled == 0 else 0.0)
    r = counts.found / counts.labelled if counts.labelled else 1.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return Scores(p, r, f1)


def pixel_counts(flagged: np.ndarray, labelled: np.ndarray) -> Counts:
    """Pixel counts of a predicted mask against a label mask (non-zero = change), same shape."""
    f, t = flagged > 0, labelled > 0
    tp = int(np.count_nonzero(f & t))
    return Counts(true_flagged=tp, flagged=int(f.sum()), found=tp, labelled=int(t.sum()))


def region_counts(flagged: np.ndarray, labelled: np.ndarray, *, min_overlap: float = 0.3) -> Counts:
    """Region counts (see the module docstring) of a predicted mask against a label mask."""
    f, t = (flagged > 0).astype(np.uint8), (labelled > 0).astype(np.uint8)
    nf, lf = cv2.connectedComponents(f, connectivity=8)
    nt, lt = cv2.connectedComponents(t, connectivity=8)
    true_flagged = 0
    for i in range(1, nf):
        region = lf == i
        if t[region].mean() >= min_overlap:
            true_flagged += 1
    found = 0
    for j in range(1, nt):
        region = lt == j
        if f[region].mean() > min_overlap:
            found += 1
    return Counts(true_flagged=true_flagged, flagged=nf - 1, found=found, labelled=nt - 1)


def baseline_change_mask(before_bgr: np.ndarray, after_bgr: np.ndarray) -> np.ndarray:
    """The plain baseline of issue #5 (see the module docstring).

    Returns
    -------
    ndarray (H, W) uint8
        255 where changed.
    """
    a = cv2.cvtColor(before_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    b = cv2.cvtColor(after_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    for c in range(3):
        b[..., c] = (b[..., c] - b[..., c].mean()) * (a[..., c].std() / (b[..., c].std() + 1e-6)) + a[..., c].mean()
    a, b = cv2.blur(a, (7, 7)), cv2.blur(b, (7, 7))
    dist = np.sqrt(((a - b) ** 2).sum(axis=2))
    d8 = cv2.normalize(dist, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    _, mask = cv2.threshold(d8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
