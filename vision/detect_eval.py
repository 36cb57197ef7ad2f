"""Precision, recall and F1 of a detector's boxes against labelled boxes (COCO or YOLO).

Matching (the usual object-detection protocol, as in PASCAL VOC): per image and category,
the detector's boxes are taken best score first; each is matched to the not-yet-matched
labelled box of the same category with which it has the highest intersection over union,
if that IoU is at least ``iou_threshold`` (default 0.5) - a **true positive**; otherwise it
is a **false positive**. Labelled boxes left unmatched are **false negatives**. Precision
= TP / (TP + FP), recall = TP / (TP + FN), F1 = 2PR / (P + R), summed over images
(micro-average); ``overall`` sums over categories too. Conventions for empty counts are
those of :func:`vision.evaluation.scores` (no detections and nothing to find: precision 1).

Images are plain files with no position: each is given a synthetic nadir camera
(:func:`nadir_view`) at the stated ground sample distance so that detectors that size things
in metres work; the ground outlines they return are then at an arbitrary place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vision.detectors.base import DetectionContext, Detector, PhotoView
from vision.errors import VisionError
from vision.evaluation import Counts, scores
from vision.georef import CameraIntrinsics, CameraPose, footprint
from vision.images import PhotoImage, load_photo_image
from vision.labels import LabelledSet, box_iou, map_classes

__all__ = ["MATCHING", "Prediction", "evaluate_detector", "match_boxes", "nadir_view"]

#: One-line statement of the matching rule, copied into every report.
MATCHING = ("greedy by score: each detection, best first, matches the unmatched labelled box of its category "
            "with the highest IoU if IoU >= iou_threshold (TP), else FP; unmatched labelled boxes are FN")


@dataclass(frozen=True)
class Prediction:
    """A detector's box in one image: category, ``(x, y, w, h)`` stored pixels, score 0-1."""

    category: str
    bbox_px: tuple[float, float, float, float]
    score: float


def match_boxes(predictions: Sequence[Prediction], truths: Sequence[tuple[str, Sequence[float]]], *,
                iou_threshold: float = 0.5) -> dict[str, dict[str, int]]:
    """Count TP, FP, FN per category in one image (see the module docstring).

    Parameters
    ----------
    predictions : sequence of Prediction
    truths : sequence of (category, (x, y, w, h))
    iou_threshold : float

    Returns
    -------
    dict
        ``category -> {"tp", "fp", "fn"}`` for every category seen in either.

    >>> match_boxes([Prediction("a", (0, 0, 10, 10), 0.9), Prediction("a", (1, 0, 10, 10), 0.8)],
    ...             [("a", (0, 0, 10, 10)), ("b", (50, 50, 5, 5))])
    {'a': {'tp': 1, 'fp': 1, 'fn': 0}, 'b': {'tp': 0, 'fp': 0, 'fn': 1}}
    """
    out: dict[str, dict[str, int]] = {}
    categories = sorted({p.category for p in predictions} | {c for c, _ in truths})
    for category in categories:
        gt = [b for c, b in truths if c == category]
        used = [False] * len(gt)
        tp = fp = 0
        for p in sorted((p for p in predictions if p.category == category), key=lambda p: -p.score):
            best, best_iou = -1, iou_threshold
            for j, g in enumerate(gt):
                if used[j]:
                    continue
                iou = box_iou(p.bbox_px, g)
                if iou >= best_iou:
                    best, best_iou = j, iou
            if best >= 0:
                used[best] = True
                tp += 1
            else:
                fp += 1
        out[category] = {"tp": tp, "fp": fp, "fn": used.count(False)}
    return out


def nadir_view(image: PhotoImage, gsd_m: float, *, lat_deg: float = 0.0, lon_deg: float = 0.0) -> PhotoView:
    """A synthetic nadir, north-up camera over flat ground seeing ``image`` at ``gsd_m``.

    Parameters
    ----------
    image : PhotoImage
    gsd_m : float
        Ground sample distance of the stored image, metres per pixel.
    lat_deg, lon_deg : float
        Where to put it (WGS84; default 0, 0: an arbitrary place).

    Returns
    -------
    PhotoView
        With a 10 mm lens on a sensor as wide as the image in 10 mm, at the height giving
        ``gsd_m``; ``photo`` is a plain namespace with ``id=None`` and the path.

    Raises
    ------
    VisionError
        If ``gsd_m`` is not positive.
    """
    from types import SimpleNamespace

    if not (np.isfinite(gsd_m) and gsd_m > 0):
        raise VisionError(f"{image.path}: ground sample distance must be positive, got {gsd_m!r}")
    w, h = image.full_width_px, image.full_height_px
    cam = CameraIntrinsics(10.0, 10.0, 10.0 * h / w, w, h)
    pose = CameraPose(lat_deg, lon_deg, gsd_m * cam.fx_px)
    photo = SimpleNamespace(id=None, stored_path=str(image.path), taken_utc=None, original_name=image.path.name)
    return PhotoView(photo, image, pose, cam, footprint(pose, cam))


def _as_scores(c: Mapping[str, int]) -> dict[str, Any]:
    s = scores(Counts(true_flagged=c["tp"], flagged=c["tp"] + c["fp"], found=c["tp"], labelled=c["tp"] + c["fn"]))
    return {**s.as_dict(), "tp": c["tp"], "fp": c["fp"], "fn": c["fn"]}


def evaluate_detector(detector: Detector, labelled: LabelledSet, *, class_map: Mapping[str, str] | None = None,
                      iou_threshold: float = 0.5, gsd_m: float = 1.0, per_image: bool = False,
                      note: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Run a detector over labelled images and score its boxes (see the module docstring).

    Parameters
    ----------
    detector : Detector
    labelled : LabelledSet
    class_map : mapping, optional
        Label class name -> category (``"-"`` drops it); see :func:`vision.labels.map_classes`.
    iou_threshold : float
    gsd_m : float
        Ground sample distance of the images, metres per pixel (for :func:`nadir_view`).
    per_image : bool
        Also report each image's counts.
    note : callable
        Receives a line per image the detector failed on (the image is left out).

    Returns
    -------
    dict
        ``{"detector", "data", "format", "images", "iou_threshold", "matching", "gsd_m",
        "categories": {category: {"precision", "recall", "f1", "tp", "fp", "fn"}},
        "overall": {...}, "skipped": [...]}`` (and ``"per_image"`` when asked).

    Raises
    ------
    LabelError
        If a label class maps to no category.
    """
    mapping = map_classes(labelled.class_names, class_map)
    totals: dict[str, dict[str, int]] = {}
    skipped = list(labelled.problems)
    rows = []
    n_images = 0
    for im in labelled.images:
        try:
            image = load_photo_image(im.path)
            view = nadir_view(image, gsd_m)
            detections = detector.detect(image, DetectionContext(view))
        except VisionError as err:
            skipped.append(f"{im.path}: {err}")
            note(f"{im.path}: {err}; skipped")
            continue
        n_images += 1
        preds = [Prediction(d.category, d.bbox_px, d.score) for d in detections]
        truths = [(mapping[b.class_name], b.xywh) for b in im.boxes if mapping.get(b.class_name)]
        counts = match_boxes(preds, truths, iou_threshold=iou_threshold)
        for category, c in counts.items():
            t = totals.setdefault(category, {"tp": 0, "fp": 0, "fn": 0})
            for k in t:
                t[k] += c[k]
        if per_image:
            rows.append({"image": im.path.name, "detections": len(preds), "labelled": len(truths),
                         "categories": counts})
    for category in sorted(set(c for c in mapping.values() if c)):
        totals.setdefault(category, {"tp": 0, "fp": 0, "fn": 0})
    overall = {k: sum(t[k] for t in totals.values()) for k in ("tp", "fp", "fn")}
    report: dict[str, Any] = {
        "detector": getattr(detector, "name", type(detector).__name__), "data": str(labelled.root),
        "format": labelled.format, "images": n_images, "iou_threshold": iou_threshold, "matching": MATCHING,
        "gsd_m": gsd_m, "categories": {c: _as_scores(t) for c, t in sorted(totals.items())},
        "overall": _as_scores(overall), "skipped": skipped}
    if per_image:
        report["per_image"] = rows
    return report

