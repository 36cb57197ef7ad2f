"""Change maps between two views of the same ground: registration, parallax, colour distance.

Pure image functions (arrays in, arrays out) used by the ``change`` detector and by the
evaluation on labelled pairs. Images are BGR uint8 at one working scale.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.detectors.base import PhotoView
from vision.features import detect_features, estimate_homography, match_features

__all__ = ["change_distance", "change_mask", "lab", "refine_with_flow", "register_onto", "vegetation_mask"]


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


def lab(bgr: np.ndarray) -> np.ndarray:
    """CIE L*a*b* of a BGR uint8 image as float32 (L 0-100, a and b about -128..127)."""
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
    before, after = lab(before_bgr), lab(after_bgr)
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
