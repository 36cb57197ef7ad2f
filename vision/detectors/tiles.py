"""The ``tiles`` detector: a trained tile classifier (:mod:`vision.training`) slid over a photo.

Steps, on the working image (:mod:`vision.images`):

1. **Scale**: the tile is ``tile_m`` metres on the ground when the model knows it and the
   photo's GSD is known (``tile_m / GSD`` working pixels), else the model's ``tile_px``
   in stored pixels (the photos are taken to be at the training images' resolution). The
   photo is resized so that a tile becomes the model's canonical 32 px.
2. **Slide**: tiles on a grid ``stride`` of a tile apart (default a quarter) are scored per
   class (0-1, :meth:`~vision.training.TileModel.scan`).
3. **Merge**: each grid cell (``stride`` square) gets the mean score of the tiles covering
   it; cells at or above ``threshold`` form the positive mask. Its regions are split where
   they narrow below ``core`` of a tile (neighbouring objects joined by a thin band), and
   parts thinner than that dropped (:func:`split_regions`); each region is a detection,
   outlined in working pixels and put on the ground by
   :func:`~vision.detectors.base.detection_from_contour`.

Score: the mean cell score over the region (0-1; Platt-scaled classifier output, not a
calibrated probability). Per category :class:`~vision.detectors.base.CategoryConfig`
filters (minimum score, ground area) apply after.

What it misses or confuses: objects much smaller than a tile; neighbouring objects closer
than about a tile merge into one region (one box around a row of houses); whatever the
training labels left unlabelled in their images was learnt as background.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.detectors.base import (CategoryConfig, Detection, DetectionContext, PhotoView, detection_from_contour,
                                   merge_category_config, register)
from vision.errors import DetectorError, GeoreferenceError
from vision.images import PhotoImage
from vision.training import TileModel

__all__ = ["TileDetector", "cell_scores", "split_regions"]


def cell_scores(grid_scores: np.ndarray, k: int) -> np.ndarray:
    """Mean score of the tiles covering each grid cell.

    Parameters
    ----------
    grid_scores : ndarray (ny, nx)
        Score of the tile whose top-left corner is at grid cell ``(i, j)``.
    k : int
        Tile side in grid cells.

    Returns
    -------
    ndarray (ny + k - 1, nx + k - 1)
        Cell ``(r, c)`` averages the tiles ``(i, j)`` with ``r - k < i <= r`` and ``c - k < j <= c``.

    >>> cell_scores(np.array([[1.0, 0.0]]), 2)
    array([[1. , 0.5, 0. ],
           [1. , 0.5, 0. ]])
    """
    g = np.pad(np.asarray(grid_scores, float), k - 1)
    ones = np.pad(np.ones_like(grid_scores, dtype=float), k - 1)
    out = []
    for a in (g, ones):
        ii = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
        ii[1:, 1:] = a.cumsum(0).cumsum(1)
        out.append(ii[k:, k:] - ii[:-k, k:] - ii[k:, :-k] + ii[:-k, :-k])
    return out[0] / np.maximum(out[1], 1e-9)


def split_regions(mask: np.ndarray, *, core_px: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Regions of a mask, split at necks narrower than ``core_px``.

    The *cores* are what an erosion by a ``core_px`` square leaves; each core's region is the
    mask pixels nearer to it than to any other core (``cv2.distanceTransformWithLabels``).
    Parts of the mask too thin to hold a core are dropped.

    Parameters
    ----------
    mask : ndarray (H, W) uint8, non-zero = positive
    core_px : float
        Side of the erosion square, pixels (< 2 means no splitting).

    Returns
    -------
    n : int
        Number of labels including background 0.
    labels : ndarray (H, W) int32
    stats : ndarray (n, 5)
        As ``cv2.connectedComponentsWithStats`` (x, y, width, height, area).

    Two 8 px squares joined by a 2 px neck are split; by a 6 px wide band, not:

    >>> m = np.zeros((10, 22), np.uint8); m[1:9, 1:9] = 1; m[1:9, 13:21] = 1; m[4:6, 9:13] = 1
    >>> n, labels, stats = split_regions(m, core_px=5)
    >>> n, stats[1:, 4].tolist()
    (3, [68, 68])
    >>> m[2:8, 9:13] = 1
    >>> split_regions(m, core_px=5)[0]
    2
    """
    k = int(round(core_px))
    if k < 2:
        return cv2.connectedComponentsWithStats(mask, connectivity=8)[:3]
    core = cv2.erode(mask, np.ones((k, k), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=1)
    n_core, core_labels = cv2.connectedComponents(core, connectivity=8)
    labels = np.zeros(mask.shape, np.int32)
    if n_core <= 1:
        return 1, labels, np.zeros((1, 5), np.int32)
    _, nearest = cv2.distanceTransformWithLabels((core == 0).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_CCOMP)
    # distanceTransformWithLabels numbers the cores its own way: translate to core_labels
    lut = np.zeros(int(nearest.max()) + 1, np.int32)
    lut[nearest[core > 0]] = core_labels[core > 0]
    labels = np.where(mask > 0, lut[nearest], 0).astype(np.int32)
    stats = np.zeros((n_core, 5), np.int32)
    for i in range(1, n_core):
        ys, xs = np.nonzero(labels == i)
        stats[i] = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1, len(xs))
    return n_core, labels, stats


@register("tiles")
class TileDetector:
    """Slide a trained tile classifier over a photo (see the module docstring).

    Parameters
    ----------
    model : str, Path or TileModel
        The model's sidecar ``.json`` (from ``patrol vision train``) or a loaded model.
    categories : mapping, optional
        Per-category :class:`CategoryConfig` overrides; the categories are the model's.
    stride : float
        Grid step as a fraction of the tile: 0.25, 0.5, 0.75 or 1 (default 0.25).
    threshold : float
        Cell score at or above which a cell is positive (0-1, default 0.7).
    use_gsd : bool
        Size tiles in metres when possible (default True); False always uses ``tile_px``.
    core : float
        Regions are split at necks narrower than this share of a tile, and parts thinner
        than it dropped (:func:`split_regions`; default 1: a region must hold a whole tile;
        0 keeps plain connected regions). The defaults of ``threshold`` and ``core`` were
        chosen on fold 1 of ``benchmarks/vision_learned.py`` (see docs/BENCHMARKS.md).

    Raises
    ------
    DetectorError
        If the model cannot be read or a setting is out of range.
    """

    name = "tiles"

    def __init__(self, *, model: str | Path | TileModel, categories: Mapping[str, Any] | None = None,
                 stride: float = 0.25, threshold: float = 0.7, use_gsd: bool = True, core: float = 1.0) -> None:
        self.model = model if isinstance(model, TileModel) else TileModel.load(model)
        if not 0.25 <= stride <= 1.0:
            raise DetectorError(f"tiles: stride must be between 0.25 and 1 of a tile, got {stride}")
        if not 0.0 < threshold < 1.0:
            raise DetectorError(f"tiles: threshold must be between 0 and 1, got {threshold}")
        defaults = {c: CategoryConfig() for c in self.model.categories.values()}
        self.categories = merge_category_config(defaults, categories, detector=self.name)
        self.stride = float(stride)
        self.threshold = float(threshold)
        self.use_gsd = bool(use_gsd)
        if not 0.0 <= core <= 2.0:
            raise DetectorError(f"tiles: core must be between 0 and 2 tiles, got {core}")
        self.core = float(core)

    def tile_work_px(self, view: PhotoView) -> float:
        """Tile side in the working image's pixels (step 1 of the module docstring)."""
        if self.use_gsd and self.model.tile_m:
            gsd = view.gsd_m_work()
            if np.isfinite(gsd) and gsd > 0:
                return self.model.tile_m / gsd
        return self.model.tile_px * view.image.scale[0]

    def detect(self, photo_image: PhotoImage, context: DetectionContext) -> list[Detection]:
        """Regions of positive tiles per enabled category, largest score first."""
        view = context.view
        if photo_image is not view.image:
            view = PhotoView(view.photo, photo_image, view.pose, view.intrinsics, view.footprint_wgs84)
        pixels = photo_image.pixels
        height, width = pixels.shape[:2]
        tile = self.tile_work_px(view)
        positions, scores, tile_px = self.model.scan(pixels, tile, stride=self.stride)
        if len(positions) == 0:
            return []
        xs, ys = np.unique(positions[:, 0]), np.unique(positions[:, 1])
        step_x = xs[1] - xs[0] if len(xs) > 1 else tile_px
        step_y = ys[1] - ys[0] if len(ys) > 1 else tile_px
        k = max(int(round(tile_px / step_x)), 1)
        out: list[Detection] = []
        for j, class_name in enumerate(self.model.class_names):
            category = self.model.categories[class_name]
            config = self.categories[category]
            if not config.enabled:
                continue
            cells = cell_scores(scores[:, j].reshape(len(ys), len(xs)), k)
            size = (int(round(cells.shape[1] * step_x)), int(round(cells.shape[0] * step_y)))
            cell_map = cv2.resize(cells.astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
            score_map = np.zeros((height, width), np.float32)
            h, w = min(height, cell_map.shape[0]), min(width, cell_map.shape[1])
            score_map[:h, :w] = cell_map[:h, :w]
            mask = (score_map >= self.threshold).astype(np.uint8)
            n, labels, stats = split_regions(mask, core_px=self.core * tile_px)
            for i in range(1, n):
                x, y, bw, bh = (int(v) for v in stats[i, :4])
                region = labels[y:y + bh, x:x + bw] == i
                contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
                contour = max(contours, key=cv2.contourArea) + np.array([x, y])
                score = float(score_map[y:y + bh, x:x + bw][region].mean())
                try:
                    det = detection_from_contour(view, contour, category=category, score=score, detector=self.name,
                                                 details={"class": class_name, "tile_px": round(tile_px, 2),
                                                          "area_tiles": round(float(stats[i, 4]) / tile_px ** 2, 2)})
                except GeoreferenceError:
                    continue
                if config.accepts(det.score, det.area_m2):
                    out.append(det)
        out.sort(key=lambda d: -d.score)
        return out
