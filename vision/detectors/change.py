"""Change between passes: what is on the ground now that was not there on an earlier pass.

Steps (working scale, long side ~1000-1600 px, see :mod:`vision.images`):

1. **Register** the reference photo onto the current one: SIFT matches, ratio test, RANSAC
   homography (:mod:`vision.features`). A homography is exact for flat ground; trees and
   roofs off the ground plane leave parallax, absorbed by step 4's tolerance.
2. **Mask** the current image to where the warped reference has pixels, eroded by a margin.
3. **Normalise illumination**: in CIE L*a*b*, each channel of the warped reference is shifted
   and scaled to the current image's mean and standard deviation over the common area.
4. **Difference with a spatial tolerance**: after a Gaussian blur, a channel of the current
   image counts as changed only by how far it falls outside the range of the reference's
   values within ``tolerance_m`` (grey-level erosion/dilation, i.e. min/max filters), and the
   same the other way round; the smaller of the two is kept. Misregistration and parallax up
   to ``tolerance_m`` therefore cost nothing, while an object that appeared still differs.
   The channels combine as ``sqrt((w_L dL)^2 + da^2 + db^2)`` with ``w_L`` = 0.5 so that
   shadows and exposure changes weigh less than a change of colour.
5. **Threshold** at ``threshold`` (L*a*b* units), then **morphology**: an opening of
   ``open_m`` removes the slivers left at the edges of tall objects, a closing of
   ``close_m`` joins the parts of one object.
6. **Regions** (connected components) on the ground: area from the georeferenced outline;
   those below the category's minimum area, or touching the mask border, are dropped.
7. **Appeared or vanished**: a region whose colour stands out from its surroundings (a ring
   around it) more now than in the reference appeared; otherwise something left. Only
   appearances are reported unless ``report_vanished`` is set.
8. **Category** by size and shape (first rule that fits; :data:`DEFAULT_RULES`): a compact
   rectangle of car size -> ``illegal_parking``; a large rectangular block ->
   ``illegal_structure``; a large irregular patch -> ``construction_waste``; anything
   smaller -> ``exposed_garbage``. These are candidates for a supervisor, not verdicts.

Score: ``0.5 + 0.5 (mean distance / threshold - 1)`` clipped to 0-1, so a region just over
the threshold scores 0.5 and one at twice the threshold scores 1.

What it misses or confuses: changes smaller than ``tolerance_m`` plus a few pixels; objects
the colour of what they cover (grey rubble on asphalt); anything on ground the reference does
not cover; parallax larger than ``tolerance_m`` (tall buildings seen from far apart) shows as
false change along their edges; moving shadows of clouds and trees in a different hour; cars
that drove off are "vanished" regions, and a car parked where another was looks unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vision.detectors.base import (CategoryConfig, Detection, DetectionContext, PhotoView,
                                   detection_from_contour, merge_category_config, register)
from vision.errors import RegistrationError, VisionError
from vision.features import detect_features, estimate_homography, match_features
from vision.images import PhotoImage

__all__ = ["ChangeDetector", "ChangeRule", "DEFAULT_RULES", "change_distance", "change_mask", "register_onto"]


@dataclass(frozen=True)
class ChangeRule:
    """Category of a change region by its ground size and shape (all bounds inclusive).

    ``rectangularity`` is area / minimum-area-rectangle area (1 for a rectangle);
    ``elongation`` is the long / short side of that rectangle.
    """

    category: str
    min_area_m2: float = 0.0
    max_area_m2: float = float("inf")
    min_rectangularity: float = 0.0
    min_elongation: float = 1.0
    max_elongation: float = float("inf")

    def fits(self, area_m2: float, rectangularity: float, elongation: float) -> bool:
        return (self.min_area_m2 <= area_m2 <= self.max_area_m2 and rectangularity >= self.min_rectangularity
                and self.min_elongation <= elongation <= self.max_elongation)


#: First rule that fits names the category (sizes in square metres).
DEFAULT_RULES: tuple[ChangeRule, ...] = (
    ChangeRule("illegal_parking", 5.0, 16.0, min_rectangularity=0.7, min_elongation=1.6, max_elongation=3.5),
    ChangeRule("illegal_structure", 20.0, 2000.0, min_rectangularity=0.75),
    ChangeRule("construction_waste", 8.0, 2000.0),
    ChangeRule("exposed_garbage", 0.0, 8.0),
)

_DEFAULT_CATEGORIES = {
    "exposed_garbage": CategoryConfig(min_area_m2=0.5, max_area_m2=2000.0),
    "construction_waste": CategoryConfig(min_area_m2=8.0, max_area_m2=2000.0),
    "illegal_structure": CategoryConfig(min_area_m2=20.0, max_area_m2=2000.0),
    "illegal_parking": CategoryConfig(min_area_m2=5.0, max_area_m2=16.0),
}


def register_onto(reference: PhotoView, current: PhotoView, *, min_inliers: int = 30) -> tuple[np.ndarray, np.ndarray, int]:
    """Warp the reference's working image onto the current one.

    Returns
    -------
    (warped, valid, inliers) : ndarray (H, W, 3) uint8, ndarray (H, W) bool, int
        The reference in the current image's working pixels, where it has pixels, and the
        number of RANSAC inliers.

    Raises
    ------
    RegistrationError
        If the photos cannot be registered.
    """
    fa = reference.features if reference.features is not None else detect_features(reference.image.pixels)
    fb = current.features if current.features is not None else detect_features(current.image.pixels)
    pa, pb = match_features(fa, fb)
    what = f"photo {current.photo_id} against reference {reference.photo_id}"
    h, inliers = estimate_homography(pa, pb, min_inliers=min_inliers, what=what)
    height, width = current.image.pixels.shape[:2]
    warped = cv2.warpPerspective(reference.image.pixels, h, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ones = np.full(reference.image.pixels.shape[:2], 255, np.uint8)
    valid = cv2.warpPerspective(ones, h, (width, height), flags=cv2.INTER_NEAREST, borderValue=0) > 0
    return warped, valid, int(inliers.sum())


def refine_with_flow(warped_bgr: np.ndarray, current_bgr: np.ndarray, valid: np.ndarray, *,
                     max_shift_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Re-align a registered reference with dense optical flow and find what stands off the ground.

    OpenCV's DIS flow (Kroeger et al. 2016, preset MEDIUM) from the current image to the
    warped reference measures the residual displacement the ground-plane homography leaves.
    On flat ground it is ~0; trees and roofs show parallax proportional to their height.
    Pixels displaced by more than ``max_shift_px`` are reported as elevated (their change
    cannot be judged from two viewpoints); the rest of the reference is resampled along the
    flow, which absorbs small parallax and misregistration.

    Parameters
    ----------
    warped_bgr, current_bgr : ndarray (H, W, 3) uint8
    valid : ndarray (H, W) bool
        Where the warped reference has pixels.
    max_shift_px : float

    Returns
    -------
    (aligned, elevated) : ndarray (H, W, 3) uint8, ndarray (H, W) bool
    """
    filled = np.where(valid[..., None], warped_bgr, current_bgr)
    a = cv2.cvtColor(current_bgr, cv2.COLOR_BGR2GRAY)
    b = cv2.cvtColor(filled, cv2.COLOR_BGR2GRAY)
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a, b, None)
    mag = np.hypot(flow[..., 0], flow[..., 1])
    elevated = mag > max_shift_px
    flow[elevated] = 0.0
    h, w = a.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    aligned = cv2.remap(filled, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
    return aligned, elevated


def _lab(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def change_distance(before_bgr: np.ndarray, after_bgr: np.ndarray, valid: np.ndarray | None = None, *,
                    tolerance_px: int = 3, blur_sigma_px: float = 1.5, l_weight: float = 0.5) -> np.ndarray:
    """Per-pixel colour change between two registered images, L*a*b* units.

    Parameters
    ----------
    before_bgr, after_bgr : ndarray (H, W, 3) uint8
        Registered images (BGR).
    valid : ndarray (H, W) bool, optional
        Where both have pixels (default everywhere).
    tolerance_px : int
        Spatial tolerance radius, pixels (min/max filter of size ``2 r + 1``).
    blur_sigma_px : float
        Gaussian blur before differencing, pixels.
    l_weight : float
        Weight of lightness against the two chroma channels.

    Returns
    -------
    ndarray (H, W) float32
        0 outside ``valid``.
    """
    if valid is None:
        valid = np.ones(after_bgr.shape[:2], bool)
    if not valid.any():
        return np.zeros(after_bgr.shape[:2], np.float32)
    before, after = _lab(before_bgr), _lab(after_bgr)
    for c in range(3):  # match the reference's mean/std to the current image over the common area
        b, a = before[..., c][valid], after[..., c][valid]
        sb, sa = float(b.std()) + 1e-6, float(a.std())
        before[..., c] = (before[..., c] - float(b.mean())) * (sa / sb) + float(a.mean())
    if blur_sigma_px > 0:
        before = cv2.GaussianBlur(before, (0, 0), blur_sigma_px)
        after = cv2.GaussianBlur(after, (0, 0), blur_sigma_px)
    size = 2 * int(tolerance_px) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    weights = np.array([l_weight, 1.0, 1.0], np.float32)

    def outside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        lo, hi = cv2.erode(y, kernel), cv2.dilate(y, kernel)
        d = np.maximum(x - hi, 0.0) + np.maximum(lo - x, 0.0)
        return np.sqrt(np.sum((d * weights) ** 2, axis=2))

    dist = np.minimum(outside(after, before), outside(before, after)).astype(np.float32)
    dist[~valid] = 0.0
    return dist


def change_mask(distance: np.ndarray, valid: np.ndarray | None = None, *, threshold: float = 12.0,
                open_px: int = 3, close_px: int = 7) -> np.ndarray:
    """Binary change mask from :func:`change_distance`: threshold, opening, closing.

    Returns
    -------
    ndarray (H, W) uint8
        255 where changed.
    """
    mask = (distance > threshold).astype(np.uint8) * 255
    if valid is not None:
        mask[~valid] = 0
    if open_px > 1:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_px, open_px)))
    if close_px > 1:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px, close_px)))
    return mask


def vegetation_mask(bgr: np.ndarray, *, min_exg: float = 0.05) -> np.ndarray:
    """Green vegetation by the excess-green index ``ExG = 2g - r - b`` on chromatic coordinates
    (``r = R / (R + G + B)`` ...; Woebbecke et al. 1995), above ``min_exg``.

    Returns
    -------
    ndarray (H, W) bool
    """
    f = bgr.astype(np.float32)
    total = f.sum(axis=2) + 1e-6
    b, g, r = (f[..., i] / total for i in range(3))
    return (2.0 * g - r - b) > min_exg


def _odd(n: float) -> int:
    n = max(int(round(n)), 1)
    return n if n % 2 == 1 else n + 1


def _contrast(lab: np.ndarray, region: np.ndarray, ring: np.ndarray) -> float:
    inner, outer = lab[region].mean(axis=0), lab[ring].mean(axis=0)
    return float(np.linalg.norm((inner - outer) * np.array([0.5, 1.0, 1.0])))


@register("change")
class ChangeDetector:
    """Change against the earlier pass over the same ground (see the module docstring).

    Parameters
    ----------
    categories : mapping, optional
        Per-category :class:`CategoryConfig` overrides, e.g.
        ``{"exposed_garbage": {"min_area_m2": 1.0}}``.
    threshold : float
        L*a*b* distance above which a pixel has changed (default 12).
    tolerance_m : float
        Misregistration/parallax tolerated, metres on the ground (default 0.4).
    open_m, close_m : float
        Morphological opening / closing sizes, metres (default 0.25 / 0.6).
    border_m : float
        Regions within this of the edge of the common area are dropped (default 1.0).
    rules : sequence of ChangeRule
        Size/shape -> category, first match wins (default :data:`DEFAULT_RULES`).
    report_vanished : bool
        Also report things that were there before and are gone (default False).
    max_changed_fraction : float
        More changed area than this share of the common area means registration or exposure
        failed: raise instead of flooding the review queue (default 0.25).
    """

    name = "change"

    def __init__(self, *, categories: Mapping[str, Any] | None = None, threshold: float = 12.0,
                 tolerance_m: float = 0.4, open_m: float = 0.25, close_m: float = 0.6, border_m: float = 1.0,
                 rules: Sequence[ChangeRule] = DEFAULT_RULES, report_vanished: bool = False,
                 max_changed_fraction: float = 0.25, min_inliers: int = 30, max_parallax_m: float = 1.5,
                 max_vegetation_fraction: float = 0.5, occlusion_m: float = 3.0,
                 min_contrast_gain: float = 6.0) -> None:
        self.min_contrast_gain = float(min_contrast_gain)
        self.occlusion_m = float(occlusion_m)
        self.max_parallax_m = float(max_parallax_m)
        self.max_vegetation_fraction = float(max_vegetation_fraction)
        self.categories = merge_category_config(_DEFAULT_CATEGORIES, categories, detector=self.name)
        self.threshold = float(threshold)
        self.tolerance_m = float(tolerance_m)
        self.open_m = float(open_m)
        self.close_m = float(close_m)
        self.border_m = float(border_m)
        self.rules = tuple(rules)
        self.report_vanished = bool(report_vanished)
        self.max_changed_fraction = float(max_changed_fraction)
        self.min_inliers = int(min_inliers)

    def detect(self, photo_image: PhotoImage, context: DetectionContext) -> list[Detection]:
        """Compare the photo with its first registrable reference.

        Returns an empty list when the context has no reference photo.

        Raises
        ------
        RegistrationError
            If no reference can be registered.
        VisionError
            If the change covers more than ``max_changed_fraction`` of the common area.
        """
        if not context.references:
            return []
        failures = []
        for ref in context.references:
            try:
                warped, valid, inliers = register_onto(ref, context.view, min_inliers=self.min_inliers)
            except RegistrationError as err:
                failures.append(str(err))
                continue
            return self._compare(photo_image, context.view, ref, warped, valid, inliers)
        raise RegistrationError("; ".join(failures))

    def _compare(self, image: PhotoImage, view: PhotoView, ref: PhotoView, warped: np.ndarray,
                 valid: np.ndarray, inliers: int) -> list[Detection]:
        gsd = view.gsd_m_work()
        border = _odd(2 * self.border_m / gsd)
        valid = cv2.erode(valid.astype(np.uint8), np.ones((border, border), np.uint8)) > 0
        n_valid = int(valid.sum())
        if n_valid == 0:
            return []
        tol_px = max(int(round(self.tolerance_m / gsd)), 1)
        judged = valid
        near_elevated = np.zeros_like(valid)
        if self.max_parallax_m > 0:
            warped, elevated = refine_with_flow(warped, image.pixels, valid, max_shift_px=self.max_parallax_m / gsd)
            grow = _odd(1.0 / gsd)
            elevated = cv2.dilate(elevated.astype(np.uint8), np.ones((grow, grow), np.uint8)) > 0
            judged = valid & ~elevated
            reach = _odd(2 * self.occlusion_m / gsd)
            near_elevated = cv2.dilate(elevated.astype(np.uint8), np.ones((reach, reach), np.uint8)) > 0
        dist = change_distance(warped, image.pixels, judged, tolerance_px=tol_px)
        mask = change_mask(dist, judged, threshold=self.threshold, open_px=_odd(self.open_m / gsd),
                           close_px=_odd(self.close_m / gsd))
        changed = int(np.count_nonzero(mask)) / n_valid
        if changed > self.max_changed_fraction:
            raise VisionError(
                f"photo {view.photo_id} against reference {ref.photo_id}: {changed:.0%} of the common area "
                f"changed (limit {self.max_changed_fraction:.0%}); registration or exposure is off")
        lab_now, lab_ref = _lab(image.pixels), _lab(warped)
        green, green_ref = vegetation_mask(image.pixels), vegetation_mask(warped)
        ring_px = _odd(1.0 / gsd)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_px = min(c.min_area_m2 for c in self.categories.values() if c.enabled) / gsd ** 2 if any(
            c.enabled for c in self.categories.values()) else np.inf
        out: list[Detection] = []
        for i in range(1, n):
            if stats[i, cv2.CC_STAT_AREA] < 0.5 * min_px:
                continue
            region = labels == i
            if float(green[region].mean()) > self.max_vegetation_fraction:
                continue  # foliage moved, grew or shows parallax: not a patrol category
            if float(near_elevated[region].mean()) > 0.3 and float(green_ref[region].mean()) > self.max_vegetation_fraction:
                continue  # ground a tree crown hid from the other viewpoint (occlusion)
            grown = cv2.dilate(region.astype(np.uint8), np.ones((ring_px, ring_px), np.uint8)) > 0
            ring = grown & ~region & valid
            if not ring.any():
                continue
            gain = _contrast(lab_now, region, ring) - _contrast(lab_ref, region, ring)
            kind = "appeared" if gain >= 0 else "vanished"
            if kind == "vanished" and not self.report_vanished:
                continue
            if abs(gain) < self.min_contrast_gain:
                continue  # stands out no more now than before: texture shuffle, not an object
            contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            contour = max(contours, key=cv2.contourArea)
            (_, _), (rw, rh), _ = cv2.minAreaRect(contour)
            rect_area = max(rw * rh, 1.0)
            rectangularity = float(stats[i, cv2.CC_STAT_AREA] / rect_area)
            elongation = float(max(rw, rh) / max(min(rw, rh), 1.0))
            mean_dist = float(dist[region].mean())
            score = 0.5 + 0.5 * (mean_dist / self.threshold - 1.0)
            area_est = float(stats[i, cv2.CC_STAT_AREA]) * gsd ** 2
            category = next((r.category for r in self.rules if r.fits(area_est, rectangularity, elongation)), None)
            if category is None or category not in self.categories:
                continue
            det = detection_from_contour(
                view, contour, category=category, score=score, detector=self.name, reference_photo_id=ref.photo_id,
                details={"change": kind, "mean_distance_lab": round(mean_dist, 2), "contrast_gain_lab": round(gain, 2),
                         "rectangularity": round(rectangularity, 3), "elongation": round(elongation, 2),
                         "registration_inliers": inliers, "changed_fraction": round(changed, 4)})
            if self.categories[category].accepts(det.score, det.area_m2):
                out.append(det)
        return out
