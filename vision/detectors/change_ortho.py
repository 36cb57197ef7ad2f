"""Segment-level change between co-registered orthoimages, tuned to building changes (LEVIR-CD).

Pure functions, arrays in and out. The later image is cut into colour segments (graph-based
segmentation, Felzenszwalb & Huttenlocher 2004, ``cv2.ximgproc``); each segment is compared
as a whole: the distance between its mean L*a*b* colour in the later image and the mean over
the same pixels in the earlier image (channel means and deviations of the earlier image
matched to the later one's). A segment is change when that distance exceeds
``min_distance`` and it looks like a roof: low chroma (``max_chroma``, grey/brown roofs,
not lawns, soil of strong colour or trees) and not a shadow (L* > 25); optionally with a
dark cast-shadow band nearby (``min_shadow``). Kept segments are closed (5 x 5 px) and
regions smaller than ``min_area_m2`` dropped: region F1 rewards few, whole regions.

Two ways to turn the kept segments into regions:

* :func:`segment_change_mask` merges neighbouring kept segments (5 x 5 px closing) and drops
  regions under ``min_area_m2``. Held out on the LEVIR-CD samples
  (``benchmarks/change_levir.py --segments``) it scores region F1 0.459 - but that is an
  artefact of the region metric: on 6 of 11 pairs one kept region covers 28-64% of the image
  and "finds" every house inside it. With regions over 2000 m2 dropped (``max_area_m2``) it
  is 0.278. Kept for comparison only.
* :func:`segment_object_mask` (used by ``ChangeDetector(roof_segments=...)`` and the
  evaluation's :data:`vision.change_eval.ORTHO_OPTIONS`): every kept segment between 40 and
  ``max_segment_m2`` square metres and rectangular enough is its own region, eroded by one
  pixel so neighbours stay apart; where the erosion cuts a segment into pieces only the
  largest is kept (one region per segment: the slivers used to count as false regions).
  Held out (``--segments --objects``, 54 settings): region F1 0.530 (P 0.576, R 0.491),
  with no region larger than 2000 m2.

What it misses: new roofs of strong colour, a large roof split into many segments; it flags
new grey pavement and driveways. The method, the 40 m2 smallest segment and the one-pixel
erosion were developed while looking at these pairs.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from vision.detectors.change_maps import check_pair, lab

__all__ = ["SEGMENT_DEFAULTS", "segment_change_mask", "segment_features", "segment_object_mask",
           "segment_rectangularity"]

#: Settings most leave-one-out folds chose without a size cap (see the module docstring).
SEGMENT_DEFAULTS = {"min_distance": 6.0, "max_chroma": 8.0, "min_area_m2": 100.0, "min_shadow": 0.0}


def segment_features(before_bgr: np.ndarray, after_bgr: np.ndarray, *, gsd_m: float,
                     k_m2: float = 75.0, min_segment_m2: float = 10.0) -> dict[str, np.ndarray]:
    """Segments of the later image and per-segment change features.

    Parameters
    ----------
    before_bgr, after_bgr : ndarray (H, W, 3) uint8
        Co-registered earlier and later images.
    gsd_m : float
        Metres per pixel (> 0); ``k_m2`` (segmentation scale) and ``min_segment_m2`` are
        turned into pixels with it.

    Returns
    -------
    dict
        ``labels`` (H, W) int32 segment ids; per segment (N,) float arrays ``distance``
        (L*a*b* units), ``chroma`` and ``lightness`` of the later image, ``shadow`` (share of
        the segment within 3 px of a pixel with L* < 30 in the later image), ``area_px``,
        ``rectangularity`` (:func:`segment_rectangularity`).

    Raises
    ------
    ValueError
        If the images differ in shape or ``gsd_m`` is not positive.
    """
    check_pair(before_bgr, after_bgr, gsd_m)
    la, lb = lab(before_bgr), lab(after_bgr)
    for c in range(3):
        scale = lb[..., c].std() / (la[..., c].std() + 1e-6)
        la[..., c] = (la[..., c] - la[..., c].mean()) * scale + lb[..., c].mean()
    px2 = gsd_m ** 2
    seg = cv2.ximgproc.segmentation.createGraphSegmentation(
        sigma=0.8, k=float(k_m2 / px2), min_size=max(int(round(min_segment_m2 / px2)), 4)).processImage(after_bgr)
    flat = seg.ravel()
    n = int(flat.max()) + 1
    count = np.bincount(flat, minlength=n).astype(np.float64)

    def mean(x: np.ndarray) -> np.ndarray:
        return np.bincount(flat, weights=x.ravel().astype(np.float64), minlength=n) / np.maximum(count, 1)

    ma = np.stack([mean(la[..., c]) for c in range(3)], axis=1)
    mb = np.stack([mean(lb[..., c]) for c in range(3)], axis=1)
    dark = cv2.dilate((lb[..., 0] < 30).astype(np.uint8), np.ones((7, 7), np.uint8))
    return {"labels": seg, "distance": np.linalg.norm(ma - mb, axis=1), "chroma": np.hypot(mb[:, 1], mb[:, 2]),
            "lightness": mb[:, 0], "shadow": mean(dark), "area_px": count,
            "rectangularity": segment_rectangularity(seg, n)}


def segment_rectangularity(labels: np.ndarray, n: int | None = None) -> np.ndarray:
    """Rectangularity of every segment: pixel count / area of its minimum-area rectangle.

    Parameters
    ----------
    labels : ndarray (H, W) int
        Segment ids 0 .. n - 1 (a segment in several pieces is measured by its largest
        external contour; the rectangle runs through boundary pixel centres, so a filled
        rectangle scores slightly above 1).
    n : int, optional
        Number of segments (default ``labels.max() + 1``).

    Returns
    -------
    ndarray (N,) float
        0 for a segment id that does not occur.
    """
    n = int(labels.max()) + 1 if n is None else n
    out = np.zeros(n)
    count = np.bincount(labels.ravel(), minlength=n)
    for s, box in enumerate(ndimage.find_objects(labels.astype(np.int32) + 1)[:n]):
        if box is None:
            continue
        contours, _ = cv2.findContours((labels[box] == s).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        (_, _), (w, h), _ = cv2.minAreaRect(max(contours, key=cv2.contourArea))
        out[s] = count[s] / max(w * h, 1.0)
    return out


def segment_change_mask(features: dict[str, np.ndarray], *, gsd_m: float, min_distance: float = 6.0,
                        max_chroma: float = 8.0, min_area_m2: float = 100.0, min_shadow: float = 0.0,
                        min_lightness: float = 25.0, max_area_m2: float = float("inf")) -> np.ndarray:
    """Change mask from :func:`segment_features` (module docstring).

    Returns
    -------
    ndarray (H, W) uint8
        255 on changed roof-like segments; regions under ``min_area_m2`` or over
        ``max_area_m2`` (square metres) removed (a region over the size of a large building
        is a field of changed ground, and would "find" every house inside it).
    """
    keep = ((features["distance"] > min_distance) & (features["chroma"] < max_chroma)
            & (features["shadow"] >= min_shadow) & (features["lightness"] > min_lightness))
    mask = keep[features["labels"]].astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    area = stats[1:, cv2.CC_STAT_AREA] * gsd_m ** 2
    small = np.r_[False, (area < min_area_m2) | (area > max_area_m2)]
    mask[small[labels]] = 0
    return mask


def segment_object_mask(features: dict[str, np.ndarray], *, gsd_m: float, min_distance: float = 4.0,
                        max_chroma: float = 6.0, min_rectangularity: float = 0.4, max_segment_m2: float = 2000.0,
                        min_segment_m2: float = 40.0, min_lightness: float = 25.0) -> np.ndarray:
    """Object-level variant: every changed roof-like segment is its own region.

    Segments kept as in :func:`segment_change_mask` (distance, chroma, lightness), and also
    between ``min_segment_m2`` and ``max_segment_m2`` square metres with a rectangularity
    (area / minimum-area rectangle, :func:`segment_rectangularity`) of at least
    ``min_rectangularity``. Each kept segment is eroded by one pixel so
    neighbouring segments stay separate regions, and only the largest piece of it is kept:
    one region per segment (no field-sized blob, no slivers counted as regions).

    Parameters
    ----------
    features : dict
        From :func:`segment_features`.
    gsd_m : float
        Metres per pixel.

    Returns
    -------
    ndarray (H, W) uint8
        255 on the kept segments.
    """
    area_m2 = features["area_px"] * gsd_m ** 2
    keep = ((features["distance"] > min_distance) & (features["chroma"] < max_chroma)
            & (features["lightness"] > min_lightness) & (area_m2 >= min_segment_m2) & (area_m2 <= max_segment_m2)
            & (features["rectangularity"] >= min_rectangularity))
    seg = features["labels"]
    out = np.zeros(seg.shape, np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    for s in np.flatnonzero(keep):
        out |= _largest_part(cv2.erode((seg == s).astype(np.uint8), kernel)) * 255
    return out


def _largest_part(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of a 0/1 uint8 mask (all zeros if it is empty)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 2:
        return mask
    return (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
