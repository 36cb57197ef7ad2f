"""Generated revisits: real objects pasted into the later of two real photos of the same ground.

The patrol case of change detection is the same place seen on two passes. There is no
labelled set of such pairs, so one is generated from real photos (issue #5, "revisit
benchmark"): for a photo and its reference from an earlier pass (picked by footprint overlap,
:mod:`vision.reference`), real objects cut from **other** photos of the same set are pasted
into the later photo at known places on the ground, and the change detector is scored on
finding them. Nothing is pasted into the earlier photo, so the real differences between the
passes (parallax of trees and buildings, moved shadows, people) stay in and count as false
regions when flagged.

How objects are cut: :data:`OBJECTS` lists, per photo set, hand-picked boxes (stored-image
pixels) around whole objects seen in the set's photos - parked cars, picnic tables, piles of
rocks, a portable toilet block, a shelter (Brighton Beach, DJI FC300S); cars and pickups
(Garfield Park, Parrot Sequoia). The boxes were chosen by eye on the photos. Garfield's
benches and shelter were tried and dropped: GrabCut keeps their pale concrete pads, so the
"object" pasted was mostly a patch of pavement. Inside a box the object is separated from
its background by GrabCut (Rother et al. 2004, ``cv2.grabCut`` initialised with the box and
its central part as sure foreground), the largest foreground component is kept with its
holes filled, and its edge is feathered (Gaussian, ``feather_px``) into an alpha matte. The
object keeps the shadow GrabCut puts with it.

How objects are placed (:func:`plan_pastes`): scaled by the ratio of the source's and the
target's GSD (so a car stays ~4.5 m long), turned by up to ``max_turn_deg`` (keeping shadows
roughly on the sun's side), centred on a random pixel (``numpy.random.default_rng(seed)``)
of the **ground** inside the common area of the two photos: at least ``margin_m`` inside the
registered reference's footprint, on **open ground** (:func:`ground_mask`: where the two
photos agree as rigid flat ground does - small, forward-backward consistent optical flow
after the ground homography - over most of a 6 m square; not on crowns, stands of trees,
roofs or the ground next to crowns that one pass cannot see; objects are not parked in a
forest, and the detector does not judge such places either), and ``gap_m`` apart from each
other. Pasting blends with the alpha matte; the ground truth is the matte above 0.5.

Scoring (:func:`score_revisit`) uses the evaluation contract of :mod:`vision.evaluation`: a
paste is found when more than 30% of it is flagged; a flagged region is false when less than
30% of it lies on pastes, unless 30% or more of it lies on a **real change** between the
passes (:data:`REAL_CHANGES`: cars that parked, drove in or left between the passes, labelled
by hand after looking at both photos; counted apart, neither found nor false). Only what
the detector flagged was checked for such labels (every flagged region of seeds 5, 11 and 23
and of the unchanged pairs of ``tests/vision/test_change.py`` on 2026-11-22): crowns,
leaves and shadows are never labelled, so they stay false.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vision.evaluation import Counts, region_counts

__all__ = ["OBJECTS", "REAL_CHANGES", "ObjectPatch", "ObjectSource", "PastePlan", "RealChange", "cut_object",
           "ground_mask", "paste", "plan_pastes", "real_change_mask", "score_revisit"]


@dataclass(frozen=True)
class ObjectSource:
    """Where a real object is in a real photo: file name, kind, box ``(x0, y0, x1, y1)`` in
    stored-image pixels."""

    photo: str
    kind: str
    box_px: tuple[int, int, int, int]


#: Hand-picked objects per photo set (see the module docstring).
OBJECTS: Mapping[str, tuple[ObjectSource, ...]] = {
    "brighton_beach_dji_fc300s": (
        ObjectSource("DJI_0033.JPG", "car", (2980, 192, 3288, 368)),
        ObjectSource("DJI_0033.JPG", "car", (2968, 420, 3208, 580)),
        ObjectSource("DJI_0033.JPG", "car", (2920, 608, 3192, 780)),
        ObjectSource("DJI_0035.JPG", "car", (2900, 1700, 3208, 1920)),
        ObjectSource("DJI_0035.JPG", "toilet_block", (1020, 20, 1208, 240)),
        ObjectSource("DJI_0035.JPG", "picnic_table", (2312, 208, 2472, 368)),
        ObjectSource("DJI_0031.JPG", "car", (2448, 392, 2760, 620)),
        ObjectSource("DJI_0031.JPG", "car", (2400, 560, 2680, 780)),
        ObjectSource("DJI_0031.JPG", "car", (2544, 752, 2848, 944)),
        ObjectSource("DJI_0031.JPG", "picnic_table", (2304, 1000, 2500, 1176)),
        ObjectSource("DJI_0031.JPG", "rock_pile", (1584, 1592, 1712, 1712)),
        ObjectSource("DJI_0028.JPG", "rock_pile", (2980, 1328, 3140, 1448)),
        ObjectSource("DJI_0031.JPG", "shelter", (1992, 992, 2280, 1432)),
    ),
    "garfield_park_sequoia_rgb": (
        ObjectSource("IMG_161122_164601_0125_RGB.JPG", "car", (2540, 280, 2628, 432)),
        ObjectSource("IMG_161122_164601_0125_RGB.JPG", "car", (2120, 520, 2288, 600)),
        ObjectSource("IMG_161122_164601_0125_RGB.JPG", "car", (2040, 992, 2208, 1080)),
        ObjectSource("IMG_161122_164601_0125_RGB.JPG", "pickup", (2088, 1252, 2180, 1340)),
        ObjectSource("IMG_161122_164601_0125_RGB.JPG", "car", (2740, 1308, 2828, 1480)),
        ObjectSource("IMG_161122_164601_0125_RGB.JPG", "car", (3072, 1392, 3168, 1568)),
        ObjectSource("IMG_161122_165111_0169_RGB.JPG", "car", (1860, 440, 1960, 600)),
        ObjectSource("IMG_161122_165111_0169_RGB.JPG", "car", (1540, 792, 1700, 860)),
        ObjectSource("IMG_161122_165111_0169_RGB.JPG", "car", (1600, 1248, 1768, 1320)),
        ObjectSource("IMG_161122_165111_0169_RGB.JPG", "pickup", (1720, 1464, 1820, 1560)),
        ObjectSource("IMG_161122_165111_0169_RGB.JPG", "car", (2736, 1340, 2808, 1500)),
    ),
}


@dataclass(frozen=True)
class RealChange:
    """A real change between the passes seen in a later photo: file name, box ``(x0, y0, x1,
    y1)`` in stored-image pixels, what it is (checked by eye against the earlier passes'
    photos of the same ground)."""

    photo: str
    box_px: tuple[int, int, int, int]
    what: str


#: Real changes between the passes of the bundled sets that the change detector flags (module docstring).
REAL_CHANGES: Mapping[str, tuple[RealChange, ...]] = {
    "brighton_beach_dji_fc300s": (
        RealChange("DJI_0030.JPG", (0, 2056, 176, 2250), "red car entering the frame at its bottom edge, with its "
                   "shadow; the road is empty in DJI_0029"),
    ),
    "garfield_park_sequoia_rgb": (
        RealChange("IMG_161122_164537_0123_RGB.JPG", (924, 872, 1084, 960),
                   "white car parked in a bay that is empty in the first pass"),
        RealChange("IMG_161122_164543_0124_RGB.JPG", (872, 2248, 1056, 2332),
                   "the same white car, seen from the next photo"),
        RealChange("IMG_161122_164601_0125_RGB.JPG", (2124, 516, 2300, 612),
                   "white car parked in a bay that is empty in the first pass"),
        RealChange("IMG_161122_164601_0125_RGB.JPG", (2732, 1300, 2836, 1464),
                   "a white car left its bay and a dark car parked there"),
        RealChange("IMG_161122_164601_0125_RGB.JPG", (3068, 1388, 3172, 1572),
                   "white car parked in a bay that is empty in the first pass"),
        RealChange("IMG_161122_164657_0135_RGB.JPG", (3192, 248, 3408, 344),
                   "white car parked in a bay that is empty in the first pass"),
    ),
}


def real_change_mask(shape: tuple[int, int], boxes_px) -> np.ndarray:
    """uint8 mask (H, W) of ``shape``, 255 inside the given boxes ``(x0, y0, x1, y1)`` (pixels of that image)."""
    mask = np.zeros(shape, np.uint8)
    for x0, y0, x1, y1 in boxes_px:
        cv2.rectangle(mask, (int(round(x0)), int(round(y0))), (int(round(x1)) - 1, int(round(y1)) - 1), 255,
                      thickness=cv2.FILLED)
    return mask


@dataclass(frozen=True)
class ObjectPatch:
    """A real object cut from a photo: BGR pixels and an alpha matte at the source's working GSD.

    Attributes
    ----------
    pixels : ndarray (h, w, 3) uint8
    alpha : ndarray (h, w) float32
        0-1, feathered at the edge.
    gsd_m : float
        Metres per pixel of ``pixels`` (the source photo's working GSD).
    source : ObjectSource
    """

    pixels: np.ndarray
    alpha: np.ndarray
    gsd_m: float
    source: ObjectSource

    @property
    def area_m2(self) -> float:
        """Ground area of the matte above 0.5, square metres."""
        return float((self.alpha > 0.5).sum()) * self.gsd_m ** 2


def cut_object(image_bgr: np.ndarray, box_px: tuple[int, int, int, int], *, gsd_m: float, source: ObjectSource,
               feather_px: float = 1.0, iterations: int = 5) -> ObjectPatch:
    """Cut the object inside ``box_px`` (working pixels ``x0, y0, x1, y1``) with GrabCut.

    A margin of a quarter of the box (at least 4 px) around it is background, the box is
    probably foreground and an ellipse of half the box's size at its centre is surely
    foreground (the object is centred in its box); the largest foreground component after
    GrabCut, holes filled, becomes the matte.

    Raises
    ------
    ValueError
        If the box is empty or outside the image, or GrabCut finds no foreground.
    """
    x0, y0, x1, y1 = (int(round(v)) for v in box_px)
    height, width = image_bgr.shape[:2]
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ValueError(f"{source.photo}: box {box_px} is empty or outside the {width}x{height} working image")
    m = max(4, (x1 - x0) // 4, (y1 - y0) // 4)
    cx0, cy0, cx1, cy1 = max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, width), min(y1 + m, height)
    crop = np.ascontiguousarray(image_bgr[cy0:cy1, cx0:cx1])
    mask = np.full(crop.shape[:2], cv2.GC_BGD, np.uint8)
    mask[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0] = cv2.GC_PR_FGD
    centre = ((x0 + x1) // 2 - cx0, (y0 + y1) // 2 - cy0)
    cv2.ellipse(mask, centre, (max((x1 - x0) // 4, 1), max((y1 - y0) // 4, 1)), 0, 0, 360, cv2.GC_FGD, -1)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(crop, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n < 2:
        raise ValueError(f"{source.photo}: GrabCut found no object in box {box_px}")
    keep = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    contours, _ = cv2.findContours(keep, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(keep)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    x, y, w, h = cv2.boundingRect(filled)
    pad = int(np.ceil(3 * feather_px)) + 1
    bx0, by0 = max(x - pad, 0), max(y - pad, 0)
    bx1, by1 = min(x + w + pad, crop.shape[1]), min(y + h + pad, crop.shape[0])
    alpha = filled[by0:by1, bx0:bx1].astype(np.float32)
    if feather_px > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather_px)
    return ObjectPatch(np.ascontiguousarray(crop[by0:by1, bx0:bx1]), alpha, float(gsd_m), source)


@dataclass(frozen=True)
class PastePlan:
    """One object to paste: the patch, its centre (working pixels of the target), turn and scale."""

    patch: ObjectPatch
    centre_px: tuple[float, float]
    turn_deg: float
    scale: float


def ground_mask(current_bgr: np.ndarray, warped_reference_bgr: np.ndarray, valid: np.ndarray, *, gsd_m: float,
                margin_m: float = 3.0, max_parallax_m: float = 1.5, clear_m: float = 3.0,
                min_clear_fraction: float = 0.8) -> np.ndarray:
    """Where an object may be placed: open ground inside the common area (module docstring).

    Open ground: the DIS optical flow from the later photo to the registered earlier one
    (after the ground homography) is under ``max_parallax_m`` and passes the
    forward-backward check (round trip under 1 px) on at least ``min_clear_fraction`` of
    a ``2 clear_m`` square around the pixel - rigid, flat ground seen from both passes, not
    a crown, a stand of trees or ground a crown hides from one viewpoint.

    Parameters
    ----------
    current_bgr, warped_reference_bgr : ndarray (H, W, 3) uint8
        The later photo and the earlier one registered onto it (working pixels).
    valid : ndarray (H, W) bool
        Where the registered reference has pixels.
    gsd_m : float
        Working GSD of the later photo, metres per pixel.

    Returns
    -------
    ndarray (H, W) bool
    """
    filled = np.where(valid[..., None], warped_reference_bgr, current_bgr)
    a, b = cv2.cvtColor(current_bgr, cv2.COLOR_BGR2GRAY), cv2.cvtColor(filled, cv2.COLOR_BGR2GRAY)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    fwd, bwd = dis.calc(a, b, None), dis.calc(b, a, None)
    h, w = a.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=(1e3, 1e3))
    steady = ((np.hypot(fwd[..., 0], fwd[..., 1]) < max_parallax_m / gsd_m)
              & (np.hypot(fwd[..., 0] + back[..., 0], fwd[..., 1] + back[..., 1]) < 1.0))
    k = max(int(round(2 * clear_m / gsd_m)) | 1, 3)
    clear = cv2.blur(steady.astype(np.float32), (k, k)) >= min_clear_fraction
    m = max(int(round(2 * margin_m / gsd_m)) | 1, 3)
    inside = cv2.erode(valid.astype(np.uint8), np.ones((m, m), np.uint8), borderType=cv2.BORDER_CONSTANT,
                       borderValue=0) > 0
    return inside & clear


def _transform(patch: ObjectPatch, plan_turn: float, scale: float, centre: tuple[float, float]) -> np.ndarray:
    h, w = patch.alpha.shape
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), plan_turn, scale)
    m[:, 2] += np.array(centre) - np.array([w / 2.0, h / 2.0])
    return m


def paste(image_bgr: np.ndarray, plans: Sequence[PastePlan]) -> tuple[np.ndarray, np.ndarray]:
    """Paste objects into a copy of the image (alpha blending).

    Returns
    -------
    (generated, truth) : ndarray (H, W, 3) uint8, ndarray (H, W) uint8
        The image with the objects, and 255 where a matte is above 0.5 (8-connected regions
        are the objects, when they are apart).
    """
    height, width = image_bgr.shape[:2]
    out = image_bgr.astype(np.float32)
    truth = np.zeros((height, width), np.uint8)
    for plan in plans:
        m = _transform(plan.patch, plan.turn_deg, plan.scale, plan.centre_px)
        pix = cv2.warpAffine(plan.patch.pixels, m, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        alpha = cv2.warpAffine(plan.patch.alpha, m, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out = out * (1.0 - alpha[..., None]) + pix * alpha[..., None]
        truth[alpha > 0.5] = 255
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), truth


def plan_pastes(rng: np.random.Generator, allowed: np.ndarray, patches: Sequence[ObjectPatch], *, count: int,
                gsd_m: float, gap_m: float = 3.0, max_turn_deg: float = 30.0, tries: int = 400) -> list[PastePlan]:
    """Choose ``count`` objects (with replacement) and places for them (module docstring).

    A place is accepted when the whole pasted matte lies on ``allowed`` and at least ``gap_m``
    from the objects already placed. Fewer than ``count`` come back when no place is left.

    Parameters
    ----------
    rng : numpy Generator
        Source of every random choice (deterministic for a seed).
    allowed : ndarray (H, W) bool
        From :func:`ground_mask`.
    patches : sequence of ObjectPatch
    gsd_m : float
        Working GSD of the target photo, metres per pixel.
    """
    height, width = allowed.shape
    taken = np.zeros((height, width), np.uint8)
    gap = max(int(round(2 * gap_m / gsd_m)) | 1, 3)
    ys, xs = np.nonzero(allowed)
    plans: list[PastePlan] = []
    if not len(xs) or not patches:
        return plans
    for _ in range(count):
        patch = patches[int(rng.integers(len(patches)))]
        scale = patch.gsd_m / gsd_m
        for _ in range(tries):
            i = int(rng.integers(len(xs)))
            plan = PastePlan(patch, (float(xs[i]), float(ys[i])), float(rng.uniform(-max_turn_deg, max_turn_deg)),
                             scale)
            m = _transform(patch, plan.turn_deg, scale, plan.centre_px)
            foot = cv2.warpAffine(patch.alpha, m, (width, height), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0.05
            if not foot.any() or not allowed[foot].all() or taken[foot].any():
                continue
            plans.append(plan)
            taken |= cv2.dilate(foot.astype(np.uint8), np.ones((gap, gap), np.uint8))
            break
    return plans


def score_revisit(flagged: np.ndarray, truth: np.ndarray, real: np.ndarray | None = None) -> dict:
    """Found pastes and false regions of a change mask against the pasted objects' mask.

    Parameters
    ----------
    flagged, truth : ndarray (H, W)
        Non-zero where the detector flagged change / on the pastes.
    real : ndarray (H, W), optional
        Non-zero on labelled real changes between the passes (:func:`real_change_mask`).

    Returns
    -------
    dict
        ``pastes``, ``found``, ``recall`` (1 when nothing was pasted), ``flagged``,
        ``real_changes`` (flagged regions less than 30% on a paste and at least 30% on a real
        change) and ``false_regions`` (the other flagged regions less than 30% on a paste).
    """
    c: Counts = region_counts(flagged, truth)
    on_real = 0
    if real is not None and real.any():
        t = truth > 0
        n, labels = cv2.connectedComponents((flagged > 0).astype(np.uint8), connectivity=8)
        for i in range(1, n):
            region = labels == i
            on_real += bool(t[region].mean() < 0.3 and (real[region] > 0).mean() >= 0.3)
    return {"pastes": c.labelled, "found": c.found, "recall": (c.found / c.labelled) if c.labelled else 1.0,
            "flagged": c.flagged, "real_changes": on_real, "false_regions": c.flagged - c.true_flagged - on_real}
