"""Change between passes: what is on the ground now that was not there on an earlier pass.

Steps, at working scale (long side ~1000-1600 px, :mod:`vision.images`), with every size
given in metres on the ground and turned into pixels by the photo's GSD:

1. **Register** the reference onto the current photo: SIFT matches, ratio test, RANSAC
   homography (:func:`~vision.detectors.change_maps.register_onto`; with too few inliers,
   guided matching near the rough homography and RANSAC again). The homography is exact
   for one plane only.
2. **Parallax** (:func:`~vision.detectors.change_maps.refine_with_flow`): dense optical flow
   (DIS) both ways between the current photo and the warped reference. The reference is
   resampled along the *median* flow over a ``2 occlusion_m`` window (the surroundings'
   residual parallax; a new object cannot drag it along). Pixels whose own flow is
   forward-backward consistent and differs from the median by more than ``max_parallax_m``
   stand off their surroundings (crowns, roofs) and are not judged; pixels without a
   consistent flow are **unstable** (leaves, bare branches, ground a crown hides from one
   viewpoint, and new content).
3. **Difference** (:func:`~vision.detectors.change_maps.one_way_distances`): in L*a*b*, the
   reference's channels mapped onto the current photo's by a tone curve fitted on the
   registered pixel pairs (``tone_match``) and a smooth local offset (medians over
   ``tone_block_m`` blocks: vignetting, the sun's hot spot), both blurred
   (sigma half the tolerance); a pixel's change is the distance from its colour to the
   nearest colour of the other image within ``tolerance_m`` - lightness weighted 0.5 where
   the later image is darker (shadows), 1 where it is lighter - plus a structure channel
   (local contrast of lightness, ``structure_weight``) counted where one image has more of
   it than the other anywhere within the tolerance. Computed both ways.
4. **Threshold** the smaller of the two ways at ``threshold`` (L*a*b* units), opening of
   ``open_m``, then grow the seeds into pixels where either way is over the threshold
   (hysteresis, :func:`~vision.detectors.change_maps.grow_regions`: the rim of a new object
   lies within the tolerance of its old surroundings one way only), closing of ``close_m``;
   the common area's edge (``border_m``) is left out. Optionally (``segment_scale_m2`` > 0)
   the mask is redrawn along the current photo's own colour segments
   (:func:`~vision.detectors.change_maps.snap_to_segments`).
5. **Regions** (8-connected) are kept only when: the current pixels are not mostly green
   vegetation (``max_vegetation_fraction``; excess green with a hue below 130 deg, so painted
   blue-green objects are not vegetation; a region that is, e.g. a new car joined to a lawn
   or crown that changed colour, has its vegetation taken out and what is left judged on its
   own, once); the ground 1-3 m around them is not mostly
   unstable (``max_unstable_fraction``: crowns and their occlusion shadows); and they stand
   out from a ring around them (``contrast_rule``: ``"gain"`` - not in the ring's own hue
   (both coloured, hues within 15 deg: one material, e.g. an autumn crown, lit differently
   from the other viewpoint), by ``min_contrast_gain`` more now than before, an object
   appeared, or, where it stood off its ring before too (a car parked on a road marking or
   a patch of shade), by at least ``min_contrast_gain`` now in a colour that has shifted by
   ``min_contrast_shift`` from before's, with stable surroundings (``shift_max_unstable``: a
   shadow or bush that reshuffled with the viewpoint comes with unstable flow around it);
   ``"object"`` - by ``min_contrast`` now,
   whatever was there; otherwise texture reshuffled, or with the contrast gone, something
   that left, reported only with ``report_vanished``). The contrast weighs lightness fully
   where the region is lighter than its ring and half where it is darker (shadows).
   **Outline completion** (``complete_m``): each kept region is then extended over the
   connected pixels within ``complete_m`` of it where either one-way distance exceeds
   ``complete_ratio`` times the threshold. A white car on pale concrete differs from the
   ground by its windows and edges more than by its body (whose colour lies within the
   tolerance of the windows' edges one way), so the tests keep only part of it; completion
   outlines the car. It runs after the tests, so it never makes a region that failed them.
6. **Category** by ground size and shape, the first :data:`DEFAULT_RULES` entry that fits:
   a compact car-sized rectangle -> ``illegal_parking``; a large rectangular block ->
   ``illegal_structure``; a large irregular patch -> ``construction_waste``; anything smaller
   -> ``exposed_garbage``. Candidates for a supervisor, not verdicts.
7. **Confirm** (``confirm``): when the photo has a second reference that registers, a region
   it sees must be a change candidate against it too (``min_confirmed_fraction``; measured
   on the region before its outline was completed).

:meth:`ChangeDetector.compare` is the image-pair entry point (steps 2-6 on two registered
images and a GSD, no georeference): the evaluation on LEVIR-CD style folders calls it with
the flow step off (:data:`vision.change_eval.ORTHO_OPTIONS`), :meth:`ChangeDetector.detect`
after registering the photo's references.

Score: ``0.5 + 0.5 (mean distance / threshold - 1)`` clipped to 0-1: a region just over the
threshold scores 0.5, one at twice the threshold 1.

What it misses or confuses (measured in docs/BENCHMARKS.md): objects whose colour and
structure match what they cover (a white car on sun-bleached concrete, grey stones on
asphalt, a black car in shadow), or whose hue does (a red car on red paving, an orange tarp
on orange soil: taken for the ground lit differently); anything under, on or within ~3 m of
tree crowns (not judged or dropped as unstable surroundings); green painted objects partly
read as vegetation; anything taller than ~2 m seen from far-apart viewpoints (its parallax marks it
as elevated, so a new shed can be missed, and a tall existing one can show as a change);
ground outside the reference's footprint; people and cars that moved between the passes are
real changes but no patrol problem; cars that drove off are "vanished", and a car parked
where another stood looks unchanged. Categories by shape are rough (a car with its shadow is
often ``construction_waste``). On satellite pairs years apart (LEVIR-CD) new roads, lawns and
driveways are flagged beside the new buildings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from vision.detectors.base import (CategoryConfig, Detection, DetectionContext, PhotoView,
                                   detection_from_contour, merge_category_config, register)
from vision.detectors.change_maps import (change_mask, check_pair, dis_flows, grow_regions, lab, one_way_distances,
                                          refine_with_flow, register_onto, snap_to_segments, valid_window,
                                          vegetation_mask)
from vision.detectors.change_ortho import segment_features, segment_object_mask
from vision.errors import RegistrationError, VisionError
from vision.images import PhotoImage

__all__ = ["ChangeDetector", "ChangeRegion", "ChangeResult", "ChangeRule", "DEFAULT_RULES"]


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

@dataclass(frozen=True)
class ChangeRegion:
    """One change region kept by :meth:`ChangeDetector.compare`.

    ``contour`` is an OpenCV contour (N, 1, 2) in the compared images' pixels; ``area_m2``
    the pixel count times GSD squared; ``mean_distance``, ``contrast_gain`` and
    ``contrast_shift`` in L*a*b* units (step 5); ``change`` is ``"appeared"`` or ``"vanished"``.
    """

    contour: np.ndarray
    category: str
    score: float
    area_m2: float
    mean_distance: float
    contrast_gain: float
    rectangularity: float
    elongation: float
    change: str
    contrast_shift: float = 0.0


@dataclass(frozen=True)
class ChangeResult:
    """What :meth:`ChangeDetector.compare` finds between two registered images.

    Attributes
    ----------
    mask : ndarray (H, W) uint8
        255 on the kept regions.
    regions : tuple of ChangeRegion
    distance : ndarray (H, W) float32
        Per-pixel change, L*a*b* units (0 where not judged).
    changed_fraction : float
        Share of the common area over the threshold after morphology, before the region tests.
    judged : ndarray (H, W) bool or None
        Pixels whose change was judged (common area, not standing off the ground).
    candidates : ndarray (H, W) uint8 or None
        255 over the threshold after morphology (before the region tests).
    rejected : tuple of ((x, y, w, h), reason)
        Candidate regions dropped by a region test, with the test's name (for review and tuning).
    common_px : int
        Pixels of the common area (after the border margin).
    core : ndarray (H, W) uint8 or None
        255 on the kept regions before their outlines were completed (step 5's outline completion); None when
        the step is off (then ``mask``).
    """

    mask: np.ndarray
    regions: tuple[ChangeRegion, ...]
    distance: np.ndarray
    changed_fraction: float
    judged: np.ndarray | None = None
    candidates: np.ndarray | None = None
    rejected: tuple[tuple[tuple[int, int, int, int], str], ...] = ()
    common_px: int = 0
    core: np.ndarray | None = None

    @property
    def flagged_fraction(self) -> float:
        """Share (0-1) of the common area covered by the kept regions."""
        return float(np.count_nonzero(self.mask)) / self.common_px if self.common_px else 0.0


_DEFAULT_CATEGORIES = {
    "exposed_garbage": CategoryConfig(min_area_m2=1.0, max_area_m2=2000.0),
    "construction_waste": CategoryConfig(min_area_m2=8.0, max_area_m2=2000.0),
    "illegal_structure": CategoryConfig(min_area_m2=20.0, max_area_m2=2000.0),
    "illegal_parking": CategoryConfig(min_area_m2=5.0, max_area_m2=16.0),
}


def _crop_window(valid: np.ndarray, margin_px: int) -> tuple[slice, slice] | None:
    """:func:`~vision.detectors.change_maps.valid_window`, or None when the window is under
    32 px on a side (too small for the flow's pyramid: the whole image is used then)."""
    window = valid_window(valid, margin_px)
    if window is None or min(s.stop - s.start for s in window) < 32:
        return None
    return window


def _uncropped(result: ChangeResult, window: tuple[slice, slice], shape: tuple[int, int]) -> ChangeResult:
    """A :class:`ChangeResult` computed in ``window`` (row and column slices) moved into the
    whole image of ``shape`` (H, W): maps padded with zeros, outlines and boxes shifted."""
    rows, cols = window
    offset = np.array([cols.start, rows.start])

    def pad(a: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        out = np.zeros(shape, a.dtype)
        out[window] = a
        return out

    regions = tuple(replace(r, contour=r.contour + offset.astype(r.contour.dtype)) for r in result.regions)
    rejected = tuple(((x + cols.start, y + rows.start, w, h), why) for (x, y, w, h), why in result.rejected)
    return replace(result, mask=pad(result.mask), regions=regions, distance=pad(result.distance),
                   judged=pad(result.judged), candidates=pad(result.candidates), rejected=rejected,
                   core=pad(result.core))


def _odd(n: float) -> int:
    n = max(int(round(n)), 1)
    return n if n % 2 == 1 else n + 1


def _outline(region: np.ndarray, origin: tuple[int, int]) -> tuple[np.ndarray, float, float]:
    """(outer contour of the region's largest part, shifted by ``origin`` (x, y); rectangularity;
    elongation) of a bool mask: rectangularity is pixels / minimum-area-rectangle area,
    elongation its long / short side (:class:`ChangeRule`)."""
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea) + np.array(origin)
    (_, _), (w, h), _ = cv2.minAreaRect(contour)
    return contour, float(np.count_nonzero(region) / max(w * h, 1.0)), float(max(w, h) / max(min(w, h), 1.0))


def _offset(lab_img: np.ndarray, region: np.ndarray, ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean L*a*b* colour of a region minus that of its ring, and the ring's mean, shape (3,) each."""
    ring_mean = lab_img[ring].mean(axis=0)
    return lab_img[region].mean(axis=0) - ring_mean, ring_mean


def _same_hue(offset: np.ndarray, ring_mean: np.ndarray, *, min_chroma: float = 15.0,
              max_hue_deg: float = 15.0) -> bool:
    """Whether a region (its ring's mean L*a*b* plus ``offset``) and its ring are both coloured
    (chroma ``sqrt(a*^2 + b*^2)`` at least ``min_chroma``) in hues within ``max_hue_deg`` of
    each other: one material lit or seen differently (an autumn crown brighter from one side),
    not a new object on it."""
    region_mean = ring_mean + offset
    if min(np.hypot(*region_mean[1:]), np.hypot(*ring_mean[1:])) < min_chroma:
        return False
    hues = np.degrees(np.arctan2([region_mean[2], ring_mean[2]], [region_mean[1], ring_mean[1]]))
    return abs((hues[0] - hues[1] + 180.0) % 360.0 - 180.0) <= max_hue_deg


def _contrast(offset: np.ndarray) -> float:
    """Length of a colour offset (:func:`_offset`, or the change of one), L*a*b* units: lightness
    weighted 1 where it is positive (a white car on pale concrete differs in lightness only), 0.5
    where negative (shadows), as in the difference (step 3)."""
    return float(np.linalg.norm(offset * np.array([1.0 if offset[0] > 0 else 0.5, 1.0, 1.0])))


@register("change")
class ChangeDetector:
    """Change against an earlier pass over the same ground (see the module docstring).

    Parameters
    ----------
    categories : mapping, optional
        Per-category :class:`CategoryConfig` overrides, e.g. ``{"exposed_garbage": {"min_area_m2": 1.0}}``.
    threshold : float
        L*a*b* distance above which a pixel has changed (default 10).
    tolerance_m : float
        Misregistration tolerated by the difference, metres (default 0.4).
    open_m, close_m : float
        Opening / closing sizes, metres (default 0.25 / 0.6).
    border_m : float
        Margin left out along the edge of the common area, metres (default 1).
    max_parallax_m : float
        Residual displacement beyond which a pixel stands off the ground, metres (default 1.5;
        0 turns the flow step off).
    occlusion_m : float
        Reach of tree-crown occlusion around elevated pixels, metres (default 3).
    max_vegetation_fraction : float
        Regions more vegetation than this (0-1) are dropped (default 0.5).
    min_contrast_gain : float
        Smallest gain in contrast against the surroundings (``contrast_rule="gain"``), L*a*b*
        units (default 10; chosen on the revisit benchmark, seed 5, with the unchanged revisits).
    min_contrast_shift, shift_max_unstable : float
        A region whose contrast gain falls short is kept too when the colour by which it stands
        off its ring has changed by at least ``min_contrast_shift`` (L*a*b* units, lightness
        weighted as the contrast; default 20, 0 turns it off), it stands out now by at least
        ``min_contrast_gain``, its contrast did not drop, and at most ``shift_max_unstable``
        (default 0.1) of its surroundings are unstable (step 5). Chosen on the revisit
        benchmark, seeds 5, 11 and 23. With either rule, a region coloured in its ring's hue
        (both chromas at least 15, hues within 15 deg) is not kept.
    min_contrast : float
        Smallest contrast against the surroundings (``contrast_rule="object"``), L*a*b* units
        (default 6).
    rules : sequence of ChangeRule
        Size/shape -> category, first match wins (default :data:`DEFAULT_RULES`).
    report_vanished : bool
        Also report things that were there before and are gone (default False).
    max_changed_fraction : float
        Change regions covering more than this share of the common area mean registration or
        exposure failed: :meth:`detect` raises rather than flood the review queue (default 0.25).
    min_inliers : int
        RANSAC inliers needed to register a reference (default 30).
    confirm : bool
        Check each region against a second reference when the photo has one (default True).
    min_confirmed_fraction : float
        Share (0-1) of a region that must be a change candidate against the second reference
        too (default 0.3, the evaluation's overlap rule).
    max_unstable_fraction : float
        Regions whose surroundings (1-3 m) are more unstable than this are dropped (default 0.4;
        chosen on the revisit benchmark, seed 5).
    structure_weight : float
        Weight of the local-contrast channel in the difference (default 1; 0 turns it off).
    seed_appeared : bool
        Seed regions from the later image's one-way distance only (default False: both ways).
    segment_scale_m2, min_segment_m2, min_segment_fraction : float
        Segment snapping (step 4): Felzenszwalb scale and smallest segment, square metres, and
        the share of a segment that must be candidate change (default 0 = off, 2, 0.5).
    contrast_rule : str
        ``"gain"`` (default) or ``"object"`` (step 5).
    roof_segments : mapping, optional
        For orthoimage pairs of building change (LEVIR-CD): :meth:`compare` replaces steps 2-6
        by the object-level segment method of :mod:`vision.detectors.change_ortho` (changed,
        grey, rectangular segments of the later image, each its own ``illegal_structure``
        region) with these keyword settings of
        :func:`~vision.detectors.change_ortho.segment_object_mask`. Default None (off).
    tone_match : str
        How the reference's colours are matched to the photo's before the difference:
        ``"curve"`` (default; a tone curve per L*a*b* channel fitted on the registered pixel
        pairs, :func:`~vision.detectors.change_maps.match_tone_curve`) or ``"moments"`` (means
        and deviations over the common area, as before 2026-11-22).
    tone_block_m : float
        Block side of the local offset added after the tone match, metres (default 6, several
        times a car; 0 turns it off).
    complete_m, complete_ratio : float
        Outline completion (step 5): reach in metres (default 1.5, from a car's windscreen to
        its ends; 0 turns it off) and the share of ``threshold`` either one-way distance must
        exceed (default 0.6). Chosen on the revisit benchmark, seed 5.
    """

    name = "change"

    def __init__(self, *, categories: Mapping[str, Any] | None = None, threshold: float = 10.0,
                 tolerance_m: float = 0.4, open_m: float = 0.25, close_m: float = 0.6, border_m: float = 1.0,
                 max_parallax_m: float = 1.5, occlusion_m: float = 3.0, max_vegetation_fraction: float = 0.5,
                 min_contrast_gain: float = 10.0, min_contrast_shift: float = 20.0, shift_max_unstable: float = 0.1,
                 min_contrast: float = 6.0, rules: Sequence[ChangeRule] = DEFAULT_RULES,
                 report_vanished: bool = False, max_changed_fraction: float = 0.25, min_inliers: int = 30,
                 confirm: bool = True, min_confirmed_fraction: float = 0.3,
                 max_unstable_fraction: float = 0.4, structure_weight: float = 1.0,
                 seed_appeared: bool = False, segment_scale_m2: float = 0.0, min_segment_m2: float = 2.0,
                 min_segment_fraction: float = 0.5, contrast_rule: str = "gain",
                 roof_segments: Mapping[str, float] | None = None, tone_match: str = "curve",
                 tone_block_m: float = 6.0, complete_m: float = 1.5, complete_ratio: float = 0.6) -> None:
        self.categories = merge_category_config(_DEFAULT_CATEGORIES, categories, detector=self.name)
        self.threshold = float(threshold)
        self.tolerance_m = float(tolerance_m)
        self.open_m = float(open_m)
        self.close_m = float(close_m)
        self.border_m = float(border_m)
        self.max_parallax_m = float(max_parallax_m)
        self.occlusion_m = float(occlusion_m)
        self.max_vegetation_fraction = float(max_vegetation_fraction)
        self.min_contrast_gain = float(min_contrast_gain)
        self.min_contrast_shift = float(min_contrast_shift)
        self.shift_max_unstable = float(shift_max_unstable)
        self.min_contrast = float(min_contrast)
        self.rules = tuple(rules)
        self.report_vanished = bool(report_vanished)
        self.max_changed_fraction = float(max_changed_fraction)
        self.min_inliers = int(min_inliers)
        self.confirm = bool(confirm)
        self.min_confirmed_fraction = float(min_confirmed_fraction)
        self.max_unstable_fraction = float(max_unstable_fraction)
        self.structure_weight = float(structure_weight)
        self.seed_appeared = bool(seed_appeared)
        self.segment_scale_m2 = float(segment_scale_m2)
        self.min_segment_m2 = float(min_segment_m2)
        self.min_segment_fraction = float(min_segment_fraction)
        self.roof_segments = dict(roof_segments) if roof_segments is not None else None
        if contrast_rule not in ("gain", "object"):
            raise ValueError(f"contrast_rule must be 'gain' or 'object', got {contrast_rule!r}")
        self.contrast_rule = contrast_rule
        if tone_match not in ("curve", "moments"):
            raise ValueError(f"tone_match must be 'curve' or 'moments', got {tone_match!r}")
        self.tone_match = tone_match
        self.tone_block_m = float(tone_block_m)
        self.complete_m = float(complete_m)
        self.complete_ratio = float(complete_ratio)

    def detect(self, photo_image: PhotoImage, context: DetectionContext) -> list[Detection]:
        """Compare the photo with the first of its references that registers.

        Returns an empty list when the context has no reference.

        Raises
        ------
        RegistrationError
            If no reference registers.
        VisionError
            If the change covers more than ``max_changed_fraction`` of the common area.
        """
        if not context.references:
            return []
        view = context.view
        if photo_image is not view.image:
            view = PhotoView(view.photo, photo_image, view.pose, view.intrinsics, view.footprint_wgs84)
        ref, result, inliers = self.changes(view, context.references)
        return self._detections(view, ref, result, inliers)

    def changes(self, view: PhotoView, references: Sequence[PhotoView]) -> tuple[PhotoView, ChangeResult, int]:
        """Register the first reference that registers onto the photo and compare (steps 1-6).

        Returns
        -------
        (reference, result, inliers) : PhotoView, ChangeResult, int
            The reference used, the change regions in the photo's working pixels, and the
            RANSAC inliers of the registration.

        Raises
        ------
        RegistrationError
            If no reference registers (or none is given).
        """
        failures = []
        for k, ref in enumerate(references):
            try:
                warped, valid, inliers = register_onto(ref, view, min_inliers=self.min_inliers)
            except RegistrationError as err:
                failures.append(str(err))
                continue
            result = self.compare(warped, view.image.pixels, gsd_m=view.gsd_m_work(), valid=valid)
            if self.confirm and result.regions:
                result = self._confirm(view, result, references[k + 1:])
            return ref, result, inliers
        raise RegistrationError("; ".join(failures) or f"photo {view.photo_id}: no reference to compare with")

    def _confirm(self, view: PhotoView, result: ChangeResult, others: Sequence[PhotoView]) -> ChangeResult:
        """Step 7: keep a region only if it is also a change against the next reference that
        registers and sees it (module docstring); regions that reference does not cover stay."""
        gsd = view.gsd_m_work()
        for other in others:
            try:
                warped, valid, _ = register_onto(other, view, min_inliers=self.min_inliers)
            except RegistrationError:
                continue
            border = _odd(2 * self.border_m / gsd)
            valid = cv2.erode(valid.astype(np.uint8), np.ones((border, border), np.uint8)) > 0
            window = _crop_window(valid, border) or (slice(None), slice(None))
            mask2 = np.zeros(valid.shape, np.uint8)
            mask2[window] = self._candidates(warped[window], view.image.pixels[window], gsd, valid[window],
                                             self._flows(warped, view.image.pixels, valid, window),
                                             (window[0].start or 0, window[1].start or 0), valid.shape)[4]
            kept = np.zeros_like(result.mask)
            core = result.core if result.core is not None else result.mask
            kept_core = np.zeros_like(core)
            regions, rejected = [], list(result.rejected)
            for region in result.regions:
                inside = np.zeros_like(result.mask)
                cv2.drawContours(inside, [region.contour], -1, 255, thickness=cv2.FILLED)
                own = (inside > 0) & (core > 0)
                inside = (inside > 0) & (result.mask > 0)
                seen = float(valid[own].mean())
                again = float((mask2[own & valid] > 0).mean()) if seen > 0 else 0.0
                if seen >= 0.5 and again < self.min_confirmed_fraction:
                    x, y, w, h = cv2.boundingRect(region.contour)
                    rejected.append(((x, y, w, h), f"not confirmed by photo {other.photo_id} ({again:.0%})"))
                    continue
                regions.append(region)
                kept[inside] = 255
                kept_core[own] = 255
            return replace(result, mask=kept, regions=tuple(regions), rejected=tuple(rejected),
                           core=kept_core if result.core is not None else None)
        return result

    def _detections(self, view: PhotoView, ref: PhotoView, result: ChangeResult, inliers: int) -> list[Detection]:
        if result.flagged_fraction > self.max_changed_fraction:
            raise VisionError(
                f"photo {view.photo_id} against reference {ref.photo_id}: change regions cover "
                f"{result.flagged_fraction:.0%} of the common area (limit {self.max_changed_fraction:.0%}); "
                "registration or exposure is off")
        out: list[Detection] = []
        for region in result.regions:
            det = detection_from_contour(
                view, region.contour, category=region.category, score=region.score, detector=self.name,
                reference_photo_id=ref.photo_id,
                details={"change": region.change, "mean_distance_lab": round(region.mean_distance, 2),
                         "contrast_gain_lab": round(region.contrast_gain, 2),
                         "contrast_shift_lab": round(region.contrast_shift, 2),
                         "rectangularity": round(region.rectangularity, 3), "elongation": round(region.elongation, 2),
                         "registration_inliers": inliers, "changed_fraction": round(result.changed_fraction, 4)})
            if self.categories[region.category].accepts(det.score, det.area_m2):
                out.append(det)
        return out

    def _flows(self, warped: np.ndarray, current: np.ndarray, valid: np.ndarray,
               window: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray] | None:
        """Step 2's two DIS flows over the whole registered pair, cut to ``window`` (None with the step off)."""
        if self.max_parallax_m <= 0:
            return None
        return tuple(f[window] for f in dis_flows(warped, current, valid))

    def _candidates(self, warped: np.ndarray, current: np.ndarray, gsd: float, valid: np.ndarray,
                    flows: tuple[np.ndarray, np.ndarray] | None = None, origin_px: tuple[int, int] = (0, 0),
                    image_shape_px: tuple[int, int] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                               np.ndarray, np.ndarray]:
        """Steps 2-4: (aligned reference, judged, unstable, distance, candidate mask, larger of the
        two one-way distances, and the aligned reference's and the current image's L*a*b*,
        :func:`lab`); ``flows``
        as :func:`~vision.detectors.change_maps.refine_with_flow` takes them; ``origin_px`` and
        ``image_shape_px`` as :func:`~vision.detectors.change_maps.one_way_distances` takes them
        (the images are a window of a larger pair)."""
        judged, unstable = valid, np.zeros_like(valid)
        if self.max_parallax_m > 0:
            warped, elevated, consistent = refine_with_flow(warped, current, valid,
                                                            max_shift_px=self.max_parallax_m / gsd,
                                                            window_px=_odd(2 * self.occlusion_m / gsd), flows=flows)
            grow = _odd(1.0 / gsd)
            elevated = cv2.dilate(elevated.astype(np.uint8), np.ones((grow, grow), np.uint8)) > 0
            judged = valid & ~elevated
            unstable = valid & (elevated | ~consistent)
        tol_px = max(int(round(self.tolerance_m / gsd)), 1)
        lab_ref, lab_now = lab(warped), lab(current)
        appeared, vanished = one_way_distances(warped, current, judged, tolerance_px=tol_px,
                                               blur_sigma_px=max(1.0, 0.5 * tol_px),
                                               structure_weight=self.structure_weight, match=self.tone_match,
                                               offset_block_px=int(round(self.tone_block_m / gsd)),
                                               origin_px=origin_px, image_shape_px=image_shape_px,
                                               lab_images=(lab_ref, lab_now))
        dist, wide = np.minimum(appeared, vanished), np.maximum(appeared, vanished)
        seed = change_mask(appeared if self.seed_appeared else dist, judged, threshold=self.threshold,
                           open_px=_odd(self.open_m / gsd), close_px=1)
        grown = grow_regions(seed, judged & (wide > self.threshold), reach_px=tol_px + 1)
        mask = change_mask(grown.astype(np.float32), judged, threshold=0.0, open_px=1,
                           close_px=_odd(self.close_m / gsd))
        return warped, judged, unstable, dist, mask, wide, lab_ref, lab_now

    def _roof_segment_result(self, before: np.ndarray, after: np.ndarray, gsd: float, valid: np.ndarray,
                             n_valid: int) -> ChangeResult:
        """:meth:`compare` with ``roof_segments``: one appeared ``illegal_structure`` region per kept segment."""
        features = segment_features(before, after, gsd_m=gsd)
        mask = segment_object_mask(features, gsd_m=gsd, **self.roof_segments)
        mask[~valid] = 0
        distance = features["distance"].astype(np.float32)[features["labels"]]
        distance[~valid] = 0.0
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        regions = []
        for i in range(1, n):
            one = labels == i
            contour, rectangularity, elongation = _outline(one, (0, 0))
            d = float(distance[one].mean())
            regions.append(ChangeRegion(contour, "illegal_structure", min(1.0, d / 20.0),
                                        int(stats[i, cv2.CC_STAT_AREA]) * gsd ** 2, d, 0.0, rectangularity, elongation,
                                        "appeared"))
        changed = float(np.count_nonzero(mask)) / n_valid
        return ChangeResult(mask, tuple(regions), distance, changed, valid, mask, (), n_valid)

    def compare(self, before_bgr: np.ndarray, after_bgr: np.ndarray, *, gsd_m: float,
                valid: np.ndarray | None = None) -> ChangeResult:
        """The image-pair entry point: change regions between two registered images.

        :meth:`detect` calls it after registering the reference; evaluations on co-registered
        pairs (LEVIR-CD style, no georeference) call it directly with the pair's GSD. Steps 2-6
        of the module docstring; the ``max_changed_fraction`` guard is left to the caller.

        Parameters
        ----------
        before_bgr, after_bgr : ndarray (H, W, 3) uint8
            The earlier and the later image, registered (same ground at the same pixel).
        gsd_m : float
            Ground sample distance of the images, metres per pixel (> 0).
        valid : ndarray (H, W) bool, optional
            Where the earlier image has pixels (default everywhere).

        Returns
        -------
        ChangeResult

        Raises
        ------
        ValueError
            If the images differ in shape or ``gsd_m`` is not positive.
        """
        check_pair(before_bgr, after_bgr, gsd_m)
        gsd = float(gsd_m)
        height, width = after_bgr.shape[:2]
        if valid is None:
            valid = np.ones((height, width), bool)
        border = _odd(2 * self.border_m / gsd)
        window = _crop_window(valid, border)
        if window is None or self.roof_segments is not None:
            return self._compare(before_bgr, after_bgr, gsd, valid)
        # Only the reference's footprint (and the border around it) is compared, with the same
        # result: every step is local but the optical flow, which is computed on the whole pair.
        judgeable = cv2.erode(valid.astype(np.uint8), np.ones((border, border), np.uint8),
                              borderType=cv2.BORDER_CONSTANT, borderValue=1) > 0
        flows = self._flows(before_bgr, after_bgr, judgeable, window) if judgeable.any() else None
        sub = self._compare(before_bgr[window], after_bgr[window], gsd, judgeable[window], flows,
                            (window[0].start, window[1].start), (height, width), eroded=True)
        return _uncropped(sub, window, (height, width))

    def _compare(self, before_bgr: np.ndarray, after_bgr: np.ndarray, gsd: float, valid: np.ndarray,
                 flows: tuple[np.ndarray, np.ndarray] | None = None, origin_px: tuple[int, int] = (0, 0),
                 image_shape_px: tuple[int, int] | None = None, *, eroded: bool = False) -> ChangeResult:
        """:meth:`compare` on checked inputs (``valid`` given, ``eroded`` by the border margin
        already or not; ``flows``, ``origin_px`` and ``image_shape_px`` as :meth:`_candidates`
        takes them)."""
        current, warped = after_bgr, before_bgr
        height, width = current.shape[:2]
        if not eroded:
            border = _odd(2 * self.border_m / gsd)
            valid = cv2.erode(valid.astype(np.uint8), np.ones((border, border), np.uint8),
                              borderType=cv2.BORDER_CONSTANT, borderValue=1) > 0
        n_valid = int(valid.sum())
        empty = np.zeros((height, width), np.uint8)
        if n_valid == 0:
            return ChangeResult(empty, (), np.zeros((height, width), np.float32), 0.0)
        if self.roof_segments is not None:
            return self._roof_segment_result(before_bgr, after_bgr, gsd, valid, n_valid)
        warped, judged, unstable, dist, mask, wide, lab_ref, lab_now = self._candidates(
            warped, current, gsd, valid, flows, origin_px, image_shape_px)
        changed = int(np.count_nonzero(mask)) / n_valid
        candidates = mask
        if self.segment_scale_m2 > 0 and mask.any():
            mask = snap_to_segments(mask, current, judged, k_px=self.segment_scale_m2 / gsd ** 2,
                                    min_size_px=max(int(round(self.min_segment_m2 / gsd ** 2)), 4),
                                    min_fraction=self.min_segment_fraction)
        enabled = [c.min_area_m2 for c in self.categories.values() if c.enabled]
        if not enabled:
            return ChangeResult(empty, (), dist, changed, judged, mask, (), n_valid)
        min_px = 0.5 * min(enabled) / gsd ** 2
        ring_px = max(_odd(2.0 / gsd), 5)  # a ring ~1 m wide, past the boundary pixel (mixed colours)
        reach_px = _odd(2 * self.occlusion_m / gsd)
        pad = reach_px
        open_px = _odd(self.open_m / gsd)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        # work items: (box x, y, w, h; pixels; the region inside its box or None; its label, 0 for a
        # part split off vegetation)
        todo = [(tuple(int(v) for v in stats[i, :4]), int(stats[i, cv2.CC_STAT_AREA]), None, i)
                for i in range(n - 1, 0, -1)]
        kept = np.zeros((height, width), np.uint8)
        regions: list[ChangeRegion] = []
        rejected: list[tuple[tuple[int, int, int, int], str]] = []
        while todo:
            box, area_px, inside, label = todo.pop()
            x, y, w, h = box
            if area_px < min_px:
                rejected.append((box, "small"))
                continue
            if inside is None:
                inside = labels[y:y + h, x:x + w] == label
            x0, y0, x1, y1 = max(x - pad, 0), max(y - pad, 0), min(x + w + pad, width), min(y + h + pad, height)
            win = (slice(y0, y1), slice(x0, x1))
            region = np.zeros((y1 - y0, x1 - x0), bool)
            region[y - y0:y - y0 + h, x - x0:x - x0 + w] = inside
            green = vegetation_mask(current[y:y + h, x:x + w])[inside]  # per pixel: the box only
            if float(green.mean()) > self.max_vegetation_fraction:
                if label:  # a new object joined to changed vegetation (crowns, lawn) is judged on its own
                    todo.extend(self._off_vegetation(region & ~vegetation_mask(current[win]), (x0, y0), open_px))
                rejected.append((box, "vegetation"))
                continue
            near = cv2.dilate(region.astype(np.uint8), np.ones((ring_px, ring_px), np.uint8)) > 0
            around = cv2.dilate(region.astype(np.uint8), np.ones((reach_px, reach_px), np.uint8)) > 0
            around &= ~near & valid[win]
            if around.any() and float(unstable[win][around].mean()) > self.max_unstable_fraction:
                rejected.append((box, "unstable surroundings"))
                continue
            grown = cv2.dilate(region.astype(np.uint8), np.ones((ring_px, ring_px), np.uint8)) > 0
            edge = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            ring = grown & ~edge & valid[win]
            if not ring.any():
                rejected.append((box, "no ring"))
                continue
            (off_now, ring_now), (off_ref, _) = _offset(lab_now[win], region, ring), _offset(lab_ref[win], region, ring)
            c_now, c_ref = _contrast(off_now), _contrast(off_ref)
            gain, shift = c_now - c_ref, _contrast(off_now - off_ref)
            if self.contrast_rule == "gain":
                appeared = not _same_hue(off_now, ring_now) and (gain >= self.min_contrast_gain or (
                    0 < self.min_contrast_shift <= shift and c_now >= self.min_contrast_gain and gain >= 0
                    and (not around.any() or float(unstable[win][around].mean()) <= self.shift_max_unstable)))
                vanished = -gain >= self.min_contrast_gain
            else:  # "object": an object now (whatever was there before), or an object before and not now
                appeared = c_now >= self.min_contrast
                vanished = not appeared and c_ref >= self.min_contrast
            if not appeared and not (vanished and self.report_vanished):
                rejected.append((box, f"contrast now {c_now:.1f} before {c_ref:.1f}, shift {shift:.1f}"))
                continue
            contour, rectangularity, elongation = _outline(region, (x0, y0))
            area_m2 = area_px * gsd ** 2
            category = self._category(area_m2, rectangularity, elongation)
            if category is None:
                rejected.append((box, f"no category (area {area_m2:.1f} m2)"))
                continue
            mean_dist = float(dist[win][region].mean())
            score = float(np.clip(0.5 + 0.5 * (mean_dist / self.threshold - 1.0), 0.0, 1.0))
            if not self.categories[category].accepts(score, area_m2):
                rejected.append((box, f"{category} settings (score {score:.2f}, area {area_m2:.1f} m2)"))
                continue
            regions.append(ChangeRegion(contour, category, score, area_m2, mean_dist, gain, rectangularity,
                                        elongation, "appeared" if appeared else "vanished", shift))
            kept[win][region] = 255
        core = None
        if self.complete_m > 0 and regions:
            core = kept
            kept, regions = self._complete(kept, regions, judged & (wide > self.complete_ratio * self.threshold), gsd)
        return ChangeResult(kept, tuple(regions), dist, changed, judged, candidates, tuple(rejected), n_valid, core)

    def _category(self, area_m2: float, rectangularity: float, elongation: float) -> str | None:
        """Step 6: the first rule's category that fits and is configured, else None."""
        category = next((r.category for r in self.rules if r.fits(area_m2, rectangularity, elongation)), None)
        return category if category in self.categories else None

    @staticmethod
    def _off_vegetation(rest: np.ndarray, origin: tuple[int, int], open_px: int) -> list:
        """The parts of a region left when its vegetation pixels are taken out (``rest``, a
        window at ``origin`` (x, y)), opened by ``open_px``, as :meth:`_compare`'s work items."""
        rest = cv2.morphologyEx(rest.astype(np.uint8), cv2.MORPH_OPEN, np.ones((open_px, open_px), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
        items = []
        for i in range(1, n):
            x, y, w, h = (int(v) for v in stats[i, :4])
            items.append(((x + origin[0], y + origin[1], w, h), int(stats[i, cv2.CC_STAT_AREA]),
                          labels[y:y + h, x:x + w] == i, 0))
        return items

    def _complete(self, kept: np.ndarray, regions: list[ChangeRegion], allowed: np.ndarray,
                  gsd: float) -> tuple[np.ndarray, list[ChangeRegion]]:
        """Step 5's outline completion: extend each kept region over the connected ``allowed`` pixels within
        ``complete_m`` of it (its outline, area, shape and category are redrawn)."""
        reach = _odd(2 * self.complete_m / gsd)
        ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))
        height, width = kept.shape
        out = np.zeros_like(kept)
        grown_regions = []
        for r in regions:
            x, y, w, h = cv2.boundingRect(r.contour)
            x0, y0 = max(x - reach, 0), max(y - reach, 0)
            x1, y1 = min(x + w + reach, width), min(y + h + reach, height)
            win = (slice(y0, y1), slice(x0, x1))
            own = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.drawContours(own, [r.contour - np.array([x0, y0])], -1, 1, thickness=cv2.FILLED)
            own &= (kept[win] > 0).astype(np.uint8)
            near = cv2.dilate(own, ellipse) > 0
            n, labels = cv2.connectedComponents(((own > 0) | (near & allowed[win])).astype(np.uint8), connectivity=8)
            touch = np.zeros(n, bool)
            touch[np.unique(labels[own > 0])] = True
            touch[0] = False
            region = touch[labels]
            contour, rectangularity, elongation = _outline(region, (x0, y0))
            area_m2 = int(region.sum()) * gsd ** 2
            category = self._category(area_m2, rectangularity, elongation) or r.category
            grown_regions.append(replace(r, contour=contour, category=category, area_m2=area_m2,
                                         rectangularity=rectangularity, elongation=elongation))
            out[win][region] = 255
        return out, grown_regions
