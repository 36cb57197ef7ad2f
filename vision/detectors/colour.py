"""Colour/texture rules for categories with a visual signature, in one photo (no reference).

Each rule is a pixel test in HSV (OpenCV scales: hue 0-180, saturation and value 0-255) and
a local-texture test, then morphology and region tests on the ground (area from the
georeferenced outline, shape from the minimum-area rectangle):

``blue_roof`` -> ``illegal_structure`` (私搭乱建 candidates)
    Keys on: strongly saturated blue (hue 95-125, saturation >= 150, value >= 90) - the
    painted corrugated steel sheet of temporary sheds and rooftop additions - in a region of
    at least 6 m2 that fills >= 60% of its minimum-area rectangle (roofs are rectangles).
    Shadows on asphalt in sunshine are blue too (skylight) but less saturated (90-130 on the
    Brighton Beach photos), hence the saturation floor.
    Confuses: blue tarpaulins, blue lorries and vans, swimming pools and blue sports courts,
    playground equipment, solar panels in bright sky reflection. Misses: white, grey or
    rusty sheets, faded paint, roofs under shade, sheds smaller than the minimum area.

``bare_soil`` -> ``construction_dust`` (工地扬尘: uncovered soil on sites)
    Keys on: brown-to-yellow earth tones (hue 10-25, saturation 50-170, value 70-230) that
    are not green vegetation (excess-green index < 0.02) and are smooth at the scale of a
    metre (local standard deviation of grey level <= 10), over at least 150 m2, in a region
    filling >= 45% of its minimum-area rectangle (sites are fenced polygons; leaf litter and
    dry grass spread in ragged patches). Covered soil (green dust net) is not flagged: the
    net is green. Confuses: sand and beaches, baseball infields and running tracks, dirt
    paths, ploughed or harvested fields, dry lawns, brown roofs, dense fallen leaves in
    autumn woods (the Garfield Park set, November, gives five ragged patches of leaf litter
    without the rectangularity test). Misses: grey or dark soil, wet soil, small uncovered
    heaps (below the minimum area).

The score of a region is the mean of (a) how far its mean saturation lies above the rule's
minimum (0 at the minimum, 1 at +100) and (b) its rectangularity (blue roofs) or its
smoothness (bare soil), clipped to 0-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vision.detectors.base import (CategoryConfig, Detection, DetectionContext, detection_from_contour,
                                   merge_category_config, register)
from vision.images import PhotoImage

__all__ = ["ColourRule", "ColourRuleDetector", "DEFAULT_COLOUR_RULES"]


@dataclass(frozen=True)
class ColourRule:
    """One colour/texture rule (see the module docstring for the two built-in rules).

    Parameters
    ----------
    name : str
        Rule name, kept in the detection's details.
    category : str
        Category reported.
    hue : tuple of int
        Inclusive OpenCV hue range (0-180).
    saturation, value : tuple of int
        Inclusive ranges (0-255).
    max_texture : float or None
        Largest local grey-level standard deviation (0-255, over ~0.4 m) of a matching pixel.
    max_exg : float or None
        Largest excess-green index of a matching pixel (excludes vegetation).
    min_rectangularity : float
        Smallest region area / minimum-area-rectangle area.
    shape_score : str
        ``"rectangularity"`` or ``"smoothness"``: the second half of the score.
    """

    name: str
    category: str
    hue: tuple[int, int]
    saturation: tuple[int, int]
    value: tuple[int, int]
    max_texture: float | None = None
    max_exg: float | None = None
    min_rectangularity: float = 0.0
    shape_score: str = "rectangularity"


DEFAULT_COLOUR_RULES: tuple[ColourRule, ...] = (
    ColourRule("blue_roof", "illegal_structure", hue=(95, 125), saturation=(150, 255), value=(90, 255),
               min_rectangularity=0.6, shape_score="rectangularity"),
    ColourRule("bare_soil", "construction_dust", hue=(10, 25), saturation=(50, 170), value=(70, 230),
               max_texture=10.0, max_exg=0.02, min_rectangularity=0.45, shape_score="smoothness"),
)

_DEFAULT_CATEGORIES = {
    "illegal_structure": CategoryConfig(min_area_m2=6.0, max_area_m2=5000.0, min_score=0.3),
    "construction_dust": CategoryConfig(min_area_m2=150.0, max_area_m2=50000.0, min_score=0.3),
}


def _odd(n: float) -> int:
    n = max(int(round(n)), 1)
    return n if n % 2 == 1 else n + 1


def local_texture(gray: np.ndarray, size_px: int) -> np.ndarray:
    """Local standard deviation of a grey image over a ``size_px`` box, float32 (H, W)."""
    g = gray.astype(np.float32)
    mean = cv2.blur(g, (size_px, size_px))
    sq = cv2.blur(g * g, (size_px, size_px))
    return np.sqrt(np.maximum(sq - mean * mean, 0.0))


@register("colour")
class ColourRuleDetector:
    """Colour/texture rules (see the module docstring).

    Parameters
    ----------
    categories : mapping, optional
        Per-category :class:`CategoryConfig` overrides.
    rules : sequence of ColourRule
        Default :data:`DEFAULT_COLOUR_RULES`.
    texture_m : float
        Window of the local texture measure, metres (default 0.4).
    close_m, open_m : float
        Closing (joins a roof's sheets) and opening (drops speckle) sizes, metres.
    """

    name = "colour"

    def __init__(self, *, categories: Mapping[str, Any] | None = None,
                 rules: tuple[ColourRule, ...] = DEFAULT_COLOUR_RULES, texture_m: float = 1.0,
                 close_m: float = 0.8, open_m: float = 0.5) -> None:
        self.rules = tuple(rules)
        defaults = {r.category: _DEFAULT_CATEGORIES.get(r.category, CategoryConfig()) for r in self.rules}
        self.categories = merge_category_config(defaults, categories, detector=self.name)
        self.texture_m = float(texture_m)
        self.close_m = float(close_m)
        self.open_m = float(open_m)

    def detect(self, photo_image: PhotoImage, context: DetectionContext) -> list[Detection]:
        """Apply every enabled rule to the photo."""
        view = context.view
        pixels = photo_image.pixels
        gsd = view.gsd_m_work()
        hsv = cv2.cvtColor(pixels, cv2.COLOR_BGR2HSV)
        gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        texture = local_texture(gray, _odd(self.texture_m / gsd))
        f = pixels.astype(np.float32)
        total = f.sum(axis=2) + 1e-6
        exg = (2.0 * f[..., 1] - f[..., 2] - f[..., 0]) / total
        out: list[Detection] = []
        for rule in self.rules:
            config = self.categories[rule.category]
            if not config.enabled:
                continue
            out.extend(self._apply(rule, config, view, hsv, texture, exg, gsd))
        return out

    def _apply(self, rule: ColourRule, config: CategoryConfig, view, hsv: np.ndarray, texture: np.ndarray,
               exg: np.ndarray, gsd: float) -> list[Detection]:
        lo = np.array([rule.hue[0], rule.saturation[0], rule.value[0]], np.uint8)
        hi = np.array([rule.hue[1], rule.saturation[1], rule.value[1]], np.uint8)
        mask = cv2.inRange(hsv, lo, hi)
        if rule.max_texture is not None:
            mask[texture > rule.max_texture] = 0
        if rule.max_exg is not None:
            mask[exg > rule.max_exg] = 0
        close = _odd(self.close_m / gsd)
        opening = _odd(self.open_m / gsd)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close, close)))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (opening, opening)))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_px = 0.5 * config.min_area_m2 / gsd ** 2
        out: list[Detection] = []
        for i in range(1, n):
            if stats[i, cv2.CC_STAT_AREA] < min_px:
                continue
            x, y, w, h = (int(v) for v in stats[i, :4])
            region = labels[y:y + h, x:x + w] == i
            contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            contour = max(contours, key=cv2.contourArea) + np.array([x, y])
            (_, _), (rw, rh), _ = cv2.minAreaRect(contour)
            rectangularity = float(stats[i, cv2.CC_STAT_AREA] / max(rw * rh, 1.0))
            if rectangularity < rule.min_rectangularity:
                continue
            sat = float(hsv[y:y + h, x:x + w, 1][region].mean())
            colour_part = np.clip((sat - rule.saturation[0]) / 100.0, 0.0, 1.0)
            if rule.shape_score == "smoothness" and rule.max_texture:
                smooth = 1.0 - float(texture[y:y + h, x:x + w][region].mean()) / rule.max_texture
                shape_part = np.clip(smooth, 0.0, 1.0)
            else:
                shape_part = np.clip(rectangularity, 0.0, 1.0)
            score = float(0.5 * colour_part + 0.5 * shape_part)
            det = detection_from_contour(
                view, contour, category=rule.category, score=score, detector=self.name,
                details={"rule": rule.name, "mean_saturation": round(sat, 1),
                         "rectangularity": round(rectangularity, 3)})
            if config.accepts(det.score, det.area_m2):
                out.append(det)
        return out
