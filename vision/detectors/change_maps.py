"""Change maps between two views of the same ground: registration, parallax, colour distance.

Pure image functions (arrays in, arrays out) used by the ``change`` detector and by the
evaluation on labelled pairs. Images are BGR uint8 at one working scale.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.detectors.base import PhotoView
from vision.errors import RegistrationError
from vision.features import detect_features, estimate_homography, match_features, match_guided

__all__ = ["change_distance", "change_mask", "check_pair", "dis_flows", "grow_regions", "lab", "local_contrast",
           "local_offset", "match_tone_curve", "one_way_distances", "refine_with_flow", "register_onto",
           "snap_to_segments", "valid_window", "vegetation_mask"]


#: Rows of the later image :func:`one_way_distances` treats at a time (every shift over them):
#: 64 rows of its ~10 float32 planes stay in a core's cache at ~1000 px wide (25-35% faster
#: than whole planes, the same result).
_BAND_ROWS = 64


def register_onto(reference: PhotoView, current: PhotoView, *, min_inliers: int = 30,
                  min_rough_inliers: int = 15) -> tuple[np.ndarray, np.ndarray, int]:
    """Warp the reference's working image onto the current one.

    SIFT matches with the ratio test, RANSAC homography. When that finds fewer than
    ``min_inliers`` inliers but at least ``min_rough_inliers``, its homography is taken as a
    rough guide and the features are matched again near where it puts them
    (:func:`~vision.features.match_guided`), then RANSAC runs on those matches with the
    same ``min_inliers``: photos of another pass that overlap little, or whose new objects
    took keypoints, share few matches that pass the global ratio test.

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
    try:
        h, inliers = estimate_homography(pa, pb, min_inliers=min_inliers, what=what)
    except RegistrationError as err:
        if min_rough_inliers <= 0 or min_rough_inliers >= min_inliers:
            raise
        try:
            rough, _ = estimate_homography(pa, pb, min_inliers=min_rough_inliers, what=what)
        except RegistrationError:
            raise err from None
        ga, gb = match_guided(fa, fb, rough)
        try:
            h, inliers = estimate_homography(ga, gb, min_inliers=min_inliers, what=f"{what} (guided matching)")
        except RegistrationError as guided:
            raise RegistrationError(f"{err}; {guided}") from None
    height, width = current.image.pixels.shape[:2]
    warped = cv2.warpPerspective(reference.image.pixels, h, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ones = np.full(reference.image.pixels.shape[:2], 255, np.uint8)
    valid = cv2.warpPerspective(ones, h, (width, height), flags=cv2.INTER_NEAREST, borderValue=0) > 0
    return warped, valid, int(inliers.sum())


def valid_window(valid: np.ndarray, margin_px: int) -> tuple[slice, slice] | None:
    """The bounding box of ``valid`` grown by ``margin_px`` on each side (clipped to the image).

    A registered reference covers only part of the current photo (about half of it for a
    photo of the other pass); every map of the comparison is computed in this window only.

    Parameters
    ----------
    valid : ndarray (H, W) bool
        Where the warped reference has pixels.
    margin_px : int
        Pixels kept around the box (>= 0), for filters and erosions reaching past its edge.

    Returns
    -------
    (rows, cols) : tuple of slice, or None
        None when the window is the whole image or ``valid`` is empty (nothing to crop).
    """
    rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
    if rows.size == 0:
        return None
    m = max(int(margin_px), 0)
    height, width = valid.shape
    y0, y1 = max(int(rows[0]) - m, 0), min(int(rows[-1]) + 1 + m, height)
    x0, x1 = max(int(cols[0]) - m, 0), min(int(cols[-1]) + 1 + m, width)
    if (y0, y1, x0, x1) == (0, height, 0, width):
        return None
    return slice(y0, y1), slice(x0, x1)


def _median_flow(flow: np.ndarray, size_px: int) -> np.ndarray:
    """Median of each flow component over a ``size_px`` square window (0.25 px steps, +-32 px)."""
    out = np.empty_like(flow)
    k = max(int(size_px) | 1, 5)
    for c in range(2):
        q = np.clip(np.round(flow[..., c] * 4.0) + 128.0, 0, 255).astype(np.uint8)
        out[..., c] = (cv2.medianBlur(q, k).astype(np.float32) - 128.0) / 4.0
    return out


def dis_flows(warped_bgr: np.ndarray, current_bgr: np.ndarray,
              valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense optical flow (DIS, preset MEDIUM) both ways between the current image and the
    warped reference (the current pixels filling in where ``valid`` is False), as
    :func:`refine_with_flow` computes it.

    DIS works coarse to fine over the whole image, so its flow depends on the image's extent:
    compute it on the whole registered pair and crop the result, not the other way round.

    Returns
    -------
    (forward, backward) : ndarray (H, W, 2) float32 each
        Current -> reference and reference -> current displacements, pixels.
    """
    filled = np.where(valid[..., None], warped_bgr, current_bgr)
    a = cv2.cvtColor(current_bgr, cv2.COLOR_BGR2GRAY)
    b = cv2.cvtColor(filled, cv2.COLOR_BGR2GRAY)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(a, b, None), dis.calc(b, a, None)


def refine_with_flow(warped_bgr: np.ndarray, current_bgr: np.ndarray, valid: np.ndarray, *,
                     max_shift_px: float, window_px: int, consistency_px: float = 1.0,
                     flows: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Re-align a registered reference with dense optical flow and find what stands off its surroundings.

    OpenCV's DIS flow (Kroeger et al. 2016, preset MEDIUM) is computed both ways between the
    current image and the warped reference. The homography is exact for one plane only;
    what it leaves (the ground's residual parallax when the matches sat on a canopy, a
    stand of trees) varies smoothly, so the reference is resampled along the **median**
    flow over a ``window_px`` square window: the surroundings' displacement, which an
    object smaller than half the window cannot drag along (a new object is not "explained
    away" by matching it to a look-alike nearby). Pixels whose own flow is **consistent**
    (following it forward and the backward flow from there comes back to within
    ``consistency_px``, Sundaram et al. 2010) and differs from the median by more than
    ``max_shift_px`` stand off their surroundings - a crown over a lawn, a roof - and are
    reported as **elevated**: their change cannot be judged from two viewpoints. Content
    in one image only (something new, ground a crown hides from one viewpoint) has no
    consistent flow and is judged.

    Parameters
    ----------
    warped_bgr, current_bgr : ndarray (H, W, 3) uint8
    valid : ndarray (H, W) bool
        Where the warped reference has pixels.
    max_shift_px : float
    window_px : int
        Side of the median window, pixels.
    consistency_px : float
        Largest forward-backward round-trip error of a trusted flow vector, pixels.
    flows : (ndarray (H, W, 2), ndarray (H, W, 2)), optional
        The two flows of :func:`dis_flows` for these pixels, when already computed (e.g. on
        the whole image this is a window of); computed here otherwise.

    Returns
    -------
    (aligned, elevated, consistent) : ndarray (H, W, 3) uint8, ndarray (H, W) bool, ndarray (H, W) bool
    """
    filled = np.where(valid[..., None], warped_bgr, current_bgr)
    fwd, bwd = flows if flows is not None else dis_flows(warped_bgr, current_bgr, valid)
    h, w = valid.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=(1e3, 1e3))
    round_trip = np.hypot(fwd[..., 0] + back[..., 0], fwd[..., 1] + back[..., 1])
    consistent = (round_trip < consistency_px) & valid
    smooth = _median_flow(np.where(valid[..., None], fwd, 0.0).astype(np.float32), window_px)
    elevated = consistent & (np.hypot(fwd[..., 0] - smooth[..., 0], fwd[..., 1] - smooth[..., 1]) > max_shift_px)
    aligned = cv2.remap(filled, gx + smooth[..., 0], gy + smooth[..., 1], cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
    return aligned, elevated, consistent


def check_pair(before_bgr: np.ndarray, after_bgr: np.ndarray, gsd_m: float) -> None:
    """Raise ValueError unless the two images are the same (H, W, 3) shape and ``gsd_m`` > 0 (metres per pixel)."""
    if before_bgr.shape != after_bgr.shape or after_bgr.ndim != 3:
        raise ValueError(f"images must be the same (H, W, 3) shape, got {before_bgr.shape} and {after_bgr.shape}")
    if not gsd_m > 0:
        raise ValueError(f"gsd_m must be positive, got {gsd_m!r}")


def lab(bgr: np.ndarray) -> np.ndarray:
    """CIE L*a*b* of a BGR uint8 image as float32 (L 0-100, a and b about -128..127)."""
    return cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def change_distance(before_bgr: np.ndarray, after_bgr: np.ndarray, valid: np.ndarray | None = None, *,
                    tolerance_px: int = 3, blur_sigma_px: float = 1.5, l_weight: float = 0.5) -> np.ndarray:
    """Per-pixel colour change between two registered images, L*a*b* units: the smaller of
    the two one-way distances of :func:`one_way_distances` (a change both ways, so that
    misregistration within ``tolerance_px`` does not count).

    Parameters
    ----------
    before_bgr, after_bgr : ndarray (H, W, 3) uint8
        Registered images (BGR).
    valid : ndarray (H, W) bool, optional
        Where both have pixels (default everywhere).
    tolerance_px : int
        Spatial tolerance radius, pixels.
    blur_sigma_px : float
        Gaussian blur before differencing, pixels.
    l_weight : float
        Weight of lightness against the two chroma channels.

    Returns
    -------
    ndarray (H, W) float32
        0 outside ``valid``.
    """
    appeared, vanished = one_way_distances(before_bgr, after_bgr, valid, tolerance_px=tolerance_px,
                                           blur_sigma_px=blur_sigma_px, l_weight=l_weight, l_weight_lighter=l_weight)
    return np.minimum(appeared, vanished)


def one_way_distances(before_bgr: np.ndarray, after_bgr: np.ndarray, valid: np.ndarray | None = None, *,
                      tolerance_px: int = 3, blur_sigma_px: float = 1.5, l_weight: float = 0.5,
                      l_weight_lighter: float = 1.0, structure_weight: float = 0.0,
                      match: str = "moments", offset_block_px: int = 0, origin_px: tuple[int, int] = (0, 0),
                      image_shape_px: tuple[int, int] | None = None,
                      lab_images: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How far each image's colour falls outside the other's within ``tolerance_px``, L*a*b* units.

    In L*a*b*, the earlier image's channels are first matched to the later one's over
    ``valid`` (``match="moments"``: means and deviations; ``"curve"``: a tone curve per
    channel, :func:`match_tone_curve`), then, with ``offset_block_px`` > 0, shifted by the
    smooth local offset of :func:`local_offset`; both are blurred; then ``appeared`` is the
    distance from the later colour to the **nearest** colour of the earlier image within the tolerance disc
    (shifts on a grid of about half the radius, which the blur makes enough), and
    ``vanished`` the same the other way. Whole colours are matched, not per-channel ranges:
    a white car with dark windows is not "within range" of grey pavement with white paint
    lines. Inside a new object both are large; on its rim (within the tolerance of the old
    surroundings) only ``appeared`` is. Lightness is weighted ``l_weight`` where the later image is darker
    (a shadow cast on the ground weighs less than a new object's colour) and
    ``l_weight_lighter`` where it is lighter (a white car on pale concrete differs in
    lightness only). With ``structure_weight`` > 0 a fourth channel, the local contrast of
    lightness (:func:`local_contrast` over the tolerance window), counts where one image has
    more of it than anywhere within the tolerance in the other: the edges and windows of a
    car on smooth pavement, a roof's outline on a bare field - structure that a colour shift
    (season, exposure) does not make. ``origin_px`` (row, column) and ``image_shape_px``
    (H, W) place these arrays in a larger image they were cut from: the tone curve's samples
    and the local offset's blocks are then laid on that image's grid, so a window gives the
    same result as the whole image. ``lab_images`` are the two images' :func:`lab` when the
    caller has them already (read, not modified). Other parameters as :func:`change_distance`.

    Returns
    -------
    (appeared, vanished) : ndarray (H, W) float32 each
        0 outside ``valid``.

    Raises
    ------
    ValueError
        If ``match`` is not ``"moments"`` or ``"curve"``.
    """
    if valid is None:
        valid = np.ones(after_bgr.shape[:2], bool)
    if not valid.any():
        zero = np.zeros(after_bgr.shape[:2], np.float32)
        return zero, zero.copy()
    before, after = lab_images if lab_images is not None else (lab(before_bgr), lab(after_bgr))
    if match == "curve":
        before = match_tone_curve(before, after, valid, origin_px=origin_px)
    elif match == "moments":
        if lab_images is not None:
            before = before.copy()
        for c in range(3):  # match the reference's mean/std to the current image over the common area
            b, a = before[..., c][valid], after[..., c][valid]
            sb, sa = float(b.std()) + 1e-6, float(a.std())
            before[..., c] = (before[..., c] - float(b.mean())) * (sa / sb) + float(a.mean())
    else:
        raise ValueError(f"match must be 'moments' or 'curve', got {match!r}")
    if offset_block_px > 0:
        before = before + local_offset(before, after, valid, block_px=offset_block_px, origin_px=origin_px,
                                       image_shape_px=image_shape_px)
    if blur_sigma_px > 0:
        before = cv2.GaussianBlur(before, (0, 0), blur_sigma_px)
        after = cv2.GaussianBlur(after, (0, 0), blur_sigma_px)
    size = 2 * int(tolerance_px) + 1
    planes_b, planes_a = list(cv2.split(before)), list(cv2.split(after))
    if structure_weight > 0:
        planes_b.append(local_contrast(planes_b[0], size))
        planes_a.append(local_contrast(planes_a[0], size))

    r = int(tolerance_px)
    step = max(1, (r + 1) // 2)
    offsets = sorted({0, r, -r} | {k * step for k in range(-r // step, r // step + 1)})
    shifts = [(dy, dx) for dy in offsets for dx in offsets if dy * dy + dx * dx <= r * r]
    height, width = valid.shape

    # Both ways at once: the pair (later pixel q, earlier pixel q + s) serves the later image's
    # distance at q and, read back by -s, the earlier image's at q + s (the colour term is the
    # same both ways; the structure term counts the excess of one or the other). The pairs are
    # formed on the later image padded by r, so each shift's colour term is computed once.
    # Channel planes and in-place ufuncs: no (H, W, C) temporaries per shift; a band of rows
    # at a time, every shift over it, so that the planes' rows in use stay in the CPU's cache.
    nch = len(planes_a)
    hp, wp = height + 2 * r, width + 2 * r
    xs = [cv2.copyMakeBorder(p, r, r, r, r, cv2.BORDER_REPLICATE) if r > 0 else p for p in planes_a]
    ys = [cv2.copyMakeBorder(p, 2 * r, 2 * r, 2 * r, 2 * r, cv2.BORDER_REPLICATE) if r > 0 else p for p in planes_b]
    appeared = np.full((height, width), np.inf, np.float32)
    vanished = np.full((height, width), np.inf, np.float32)
    band = min(_BAND_ROWS, hp)
    c2_rows, t_rows, u_rows = (np.empty((band, wp), np.float32) for _ in range(3))
    app_rows, van_rows = (np.empty((band, wp), np.float32) for _ in range(2)) if nch > 3 else (c2_rows, c2_rows)
    wanted = set(shifts)
    for p0 in range(0, hp, band):  # padded rows p0 .. p1 - 1 of the later image
        p1 = min(p0 + band, hp)
        c2, t, u, app, van = (a[:p1 - p0] for a in (c2_rows, t_rows, u_rows, app_rows, van_rows))
        x = [plane[p0:p1] for plane in xs]
        for dy, dx in sorted(wanted | {(-dy, -dx) for dy, dx in shifts}):
            win = (slice(p0 + r + dy, p1 + r + dy), slice(r + dx, r + dx + wp))
            np.subtract(x[0], ys[0][win], out=t)  # lightness, later minus earlier: weighted by its sign
            np.maximum(t, 0.0, out=u)
            np.minimum(t, 0.0, out=t)
            if l_weight_lighter != 1.0:
                np.multiply(u, l_weight_lighter, out=u)
            if l_weight != 1.0:
                np.multiply(t, l_weight, out=t)
            np.add(t, u, out=t)
            np.multiply(t, t, out=c2)
            for c in (1, 2):
                np.subtract(x[c], ys[c][win], out=t)
                np.multiply(t, t, out=t)
                np.add(c2, t, out=c2)
            if nch > 3:  # structure: only more of it in the image whose distance it is
                np.subtract(x[3], ys[3][win], out=t)
                np.maximum(t, 0.0, out=u)
                np.multiply(u, structure_weight, out=u)
                np.multiply(u, u, out=u)
                np.add(c2, u, out=app)
                np.minimum(t, 0.0, out=t)
                np.multiply(t, structure_weight, out=t)
                np.multiply(t, t, out=t)
                np.add(c2, t, out=van)
            if (dy, dx) in wanted:  # the later pixel at q against the earlier at q + s: row y at padded row y + r
                a0, a1 = max(p0, r), min(p1, r + height)
                if a0 < a1:
                    rows = appeared[a0 - r:a1 - r]
                    np.minimum(rows, app[a0 - p0:a1 - p0, r:r + width], out=rows)
            if (-dy, -dx) in wanted:  # the earlier pixel at p against the later at p - (dy, dx): row y + r - dy
                v0, v1 = max(p0, r - dy), min(p1, r - dy + height)
                if v0 < v1:
                    rows = vanished[v0 - r + dy:v1 - r + dy]
                    np.minimum(rows, van[v0 - p0:v1 - p0, r - dx:r - dx + width], out=rows)
    out = []
    for best in (appeared, vanished):
        dist = np.sqrt(best)
        dist[~valid] = 0.0
        out.append(dist)
    return out[0], out[1]


def match_tone_curve(before: np.ndarray, after: np.ndarray, valid: np.ndarray, *, bins: int = 32,
                     min_count: int = 50, step_px: int = 3, origin_px: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Map each channel of ``before`` onto ``after`` by a monotone tone curve fitted on registered pixel pairs.

    The ``valid`` pixels are cut into ``bins`` quantile bins of ``before``'s channel; in
    each, the median of ``before`` is mapped to the median of ``after`` at the same pixels
    (a joint-histogram, "pseudo-invariant pixel" radiometric normalisation); the medians are
    made non-decreasing and interpolated linearly (slope 1 beyond the ends). Unlike matching
    means and deviations, the curve follows a non-linear exposure difference (a washed-out
    road next to a dark forest) and is not pulled by what dominates the area; medians
    ignore the few pixels that changed or are misregistered.

    Parameters
    ----------
    before, after : ndarray (H, W, C) float32
        Registered images in the same units (e.g. L*a*b* from :func:`lab`).
    valid : ndarray (H, W) bool
        Pixels both images cover.
    bins : int
        Quantile bins per channel (>= 2).
    min_count : int
        Bins with fewer sampled pixels are skipped.
    step_px : int
        The curve is fitted on every ``step_px``-th pixel in each direction (a 1 MP image
        gives ~100,000 samples at 3, plenty for 32 medians).
    origin_px : (int, int)
        Row and column of these arrays' first pixel in the image they were cut from: the
        samples are every ``step_px``-th pixel of that image, so a window that holds all of
        ``valid`` gives the whole image's curve.

    Returns
    -------
    ndarray (H, W, C) float32
        ``before`` mapped; returned unchanged where ``valid`` has fewer than ``min_count`` pixels.
    """
    out = before.copy()
    step = max(int(step_px), 1)
    on_grid = (slice(-origin_px[0] % step, None, step), slice(-origin_px[1] % step, None, step))
    sampled = valid[on_grid]
    if int(np.count_nonzero(sampled)) < min_count:
        return out
    for c in range(before.shape[2]):
        b, a = before[..., c][on_grid][sampled], after[..., c][on_grid][sampled]
        order = np.argsort(b)
        b_sorted = b[order]
        edges = np.unique(np.quantile(b_sorted, np.linspace(0.0, 1.0, max(int(bins), 2) + 1)))
        if len(edges) < 2:
            out[..., c] = before[..., c] + float(np.median(a) - np.median(b))
            continue
        # bin k holds edges[k] <= b < edges[k + 1] (the last one up to the maximum): a run of b_sorted
        starts = np.append(np.searchsorted(b_sorted, edges[:-1], side="left"), len(b))
        xs, ys = [], []
        for k in range(len(edges) - 1):
            lo, hi = int(starts[k]), int(starts[k + 1])
            if hi - lo >= min_count:
                xs.append(float((b_sorted[lo + (hi - lo - 1) // 2] + b_sorted[lo + (hi - lo) // 2]) / np.float32(2.0)))
                ys.append(float(_median(a[order[lo:hi]])))
        if not xs:
            continue
        ys_mono = np.maximum.accumulate(np.asarray(ys))
        far = 1e4  # end points far out: slope 1 beyond the fitted range
        xs_arr = np.concatenate([[xs[0] - far], xs, [xs[-1] + far]])
        ys_arr = np.concatenate([[ys_mono[0] - far], ys_mono, [ys_mono[-1] + far]])
        v = np.ascontiguousarray(before[..., c])
        lo, hi = float(v.min()), float(v.max())
        if hi - lo < 1e-6:
            out[..., c] = float(np.interp(lo, xs_arr, ys_arr))
            continue
        # the curve tabulated at 1024 points and read back by linear interpolation (cv2.remap: float32, fast)
        grid = np.linspace(lo, hi, 1024)
        table = np.interp(grid, xs_arr, ys_arr).astype(np.float32)[None, :]
        pos = ((v - lo) * np.float32(1023.0 / (hi - lo))).astype(np.float32)
        out[..., c] = cv2.remap(table, pos, np.zeros_like(pos), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def local_offset(before: np.ndarray, after: np.ndarray, valid: np.ndarray, *, block_px: int,
                 min_valid: float = 0.25, origin_px: tuple[int, int] = (0, 0),
                 image_shape_px: tuple[int, int] | None = None) -> np.ndarray:
    """Smooth, spatially varying offset that brings ``before`` to ``after``: per channel, the
    median of ``after - before`` over each ``block_px`` square block of ``valid`` pixels,
    the grid of block medians smoothed by a 3 x 3 median and interpolated bilinearly.

    The exposure of a drone photo is not the same everywhere (vignetting, the sun's hot spot
    moving with the viewpoint): a parking lot can be 10 L* lighter in one pass while the
    forest beside it is not. Medians over blocks several times the size of an object (and
    the 3 x 3 median over blocks) are not moved by it. Blocks with less than ``min_valid``
    of their pixels valid take the median of all valid pixels.

    Parameters
    ----------
    before, after : ndarray (H, W, C) float32
        Registered images in the same units.
    valid : ndarray (H, W) bool
    block_px : int
        Block side, pixels (> 0).
    origin_px, image_shape_px : (int, int), optional
        Row and column of these arrays' first pixel in the image (H, W) they were cut from,
        which is invalid outside them. The blocks are laid on that image's grid, with two
        rings of (invalid) blocks around the arrays as context, so a window that holds all
        of ``valid`` gives the whole image's offset.

    Returns
    -------
    ndarray (H, W, C) float32
        To add to ``before``; zeros when no pixel is valid.
    """
    height, width, channels = before.shape
    if not valid.any():
        return np.zeros_like(before, dtype=np.float32)
    block = max(int(block_px), 1)
    if image_shape_px is None and origin_px == (0, 0):
        return _block_offset(before, after, valid, block, min_valid)
    full_h, full_w = image_shape_px if image_shape_px is not None else (origin_px[0] + height, origin_px[1] + width)
    pads = []
    for start, size, full in ((origin_px[0], height, full_h), (origin_px[1], width, full_w)):
        lo = max(0, (start // block - 2) * block)
        hi = min(full, (-(-(start + size) // block) + 2) * block)
        pads.append((start - lo, hi - start - size))
    ext = _block_offset(np.pad(before, (*pads, (0, 0))), np.pad(after, (*pads, (0, 0))), np.pad(valid, pads),
                        block, min_valid)
    return ext[pads[0][0]:pads[0][0] + height, pads[1][0]:pads[1][0] + width]


def _block_offset(before: np.ndarray, after: np.ndarray, valid: np.ndarray, block: int,
                  min_valid: float) -> np.ndarray:
    """:func:`local_offset` with its blocks laid from the arrays' first pixel."""
    height, width, channels = before.shape
    out = np.zeros_like(before, dtype=np.float32)
    gh, gw = -(-height // block), -(-width // block)
    pad_h, pad_w = gh * block - height, gw * block - width

    def blocks(a: np.ndarray) -> np.ndarray:  # (H, W) -> (gh, gw, block * block)
        padded = np.pad(a, ((0, pad_h), (0, pad_w)))
        return padded.reshape(gh, block, gw, block).transpose(0, 2, 1, 3).reshape(gh, gw, -1)

    v = blocks(valid)
    own = (v.mean(axis=2) >= min_valid) & v.any(axis=2)  # the blocks that take their own median
    v_own = v[own]
    counts = np.count_nonzero(v_own, axis=1)
    rows = np.arange(len(counts))
    for c in range(channels):
        d = (after[..., c] - before[..., c]).astype(np.float32)
        grid = np.full((gh, gw), float(_median(d[valid])), np.float32)
        if len(counts):  # each block's valid values sorted first: the median from its middle one or two
            values = np.where(v_own, blocks(d)[own], np.float32(np.inf))
            values.sort(axis=1)
            grid[own] = (values[rows, (counts - 1) // 2] + values[rows, counts // 2]) / np.float32(2.0)
        if min(gh, gw) >= 3:
            grid = _median3(grid)
        out[..., c] = cv2.resize(grid, (gw * block, gh * block), interpolation=cv2.INTER_LINEAR)[:height, :width]
    return out


def _median(values: np.ndarray) -> np.float32:
    """``np.median`` of a non-empty float32 vector, by one selection (``np.median`` selects two).

    For an even count, the mean of the two middle values as ``np.median`` computes it (their
    float32 sum halved), so the result is the same bit for bit.
    """
    half = len(values) // 2
    part = np.partition(values, half)
    if len(values) % 2:
        return part[half]
    return (part[:half].max() + part[half]) / np.float32(2.0)


def _median3(grid: np.ndarray) -> np.ndarray:
    """3 x 3 median of a small float grid (edges replicated)."""
    p = np.pad(grid, 1, mode="edge")
    stack = [p[i:i + grid.shape[0], j:j + grid.shape[1]] for i in range(3) for j in range(3)]
    return np.median(np.stack(stack), axis=0).astype(grid.dtype)


def local_contrast(lightness: np.ndarray, size_px: int) -> np.ndarray:
    """Standard deviation of ``lightness`` over a ``size_px`` square window (same units), float32."""
    k = (max(int(size_px), 1),) * 2
    m = cv2.blur(lightness, k)
    return np.sqrt(np.maximum(cv2.blur(lightness * lightness, k) - m * m, 0.0)).astype(np.float32)


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


def vegetation_mask(bgr: np.ndarray, *, min_exg: float = 0.05, max_hue_deg: float = 130.0) -> np.ndarray:
    """Green vegetation: excess-green index ``ExG = 2g - r - b`` on chromatic coordinates
    (``r = R / (R + G + B)`` ...; Woebbecke et al. 1995) above ``min_exg``, and a hue below
    ``max_hue_deg`` (HSV degrees).

    The hue bound keeps painted blue-green objects (benches, picnic tables, toilet blocks,
    tarpaulins: hue mostly 130-190 deg) out: on the bundled drone photos 90% of the
    excess-green pixels (leaves and grass, lit or shaded) have a hue below 112-136 deg.

    Returns
    -------
    ndarray (H, W) bool
    """
    blue, green, red = (bgr[..., i].astype(np.float32) for i in range(3))  # planes: a sum over axis 2 is slow
    total = blue + green + red + 1e-6
    b, g, r = (c / total for c in (blue, green, red))
    hue = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)[..., 0].astype(np.float32) * 2.0
    return ((2.0 * g - r - b) > min_exg) & (hue < max_hue_deg)


def grow_regions(seed: np.ndarray, grow_into: np.ndarray, *, reach_px: int) -> np.ndarray:
    """Hysteresis: extend seed regions into ``grow_into`` pixels within ``reach_px`` of them.

    Parameters
    ----------
    seed : ndarray (H, W) uint8 or bool
        Non-zero on the regions.
    grow_into : ndarray (H, W) bool
        Where the regions may extend.
    reach_px : int
        Radius of the extension, pixels.

    Returns
    -------
    ndarray (H, W) uint8
        255 on the seed and the pixels it grew into.
    """
    size = 2 * max(int(reach_px), 0) + 1
    near = cv2.dilate((seed > 0).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))) > 0
    return (((seed > 0) | (near & grow_into)) * 255).astype(np.uint8)


def snap_to_segments(mask: np.ndarray, image_bgr: np.ndarray, valid: np.ndarray, *, k_px: float, min_size_px: int,
                     min_fraction: float = 0.5, pad_px: int = 0) -> np.ndarray:
    """Redraw a change mask along the later image's own segments.

    The image is cut into segments of similar colour by graph-based segmentation
    (Felzenszwalb & Huttenlocher 2004, ``cv2.ximgproc.segmentation``; ``k_px`` is its scale,
    larger for larger segments; ``min_size_px`` the smallest segment); a segment is change
    when at least ``min_fraction`` of its pixels are in ``mask``. Change regions then follow
    the outlines of what is in the later image - a roof, a car, a pile - rather than the
    blobs of a thresholded difference: fragments of one roof are joined, and a changed roof
    is cut from the unchanged lawn beside it. Only windows around the mask's regions are
    segmented.

    Parameters
    ----------
    mask : ndarray (H, W) uint8
        Non-zero where changed.
    image_bgr : ndarray (H, W, 3) uint8
        The later image.
    valid : ndarray (H, W) bool
        Where the change was judged; the result is limited to it.

    Returns
    -------
    ndarray (H, W) uint8
        255 on the segments that changed.
    """
    out = np.zeros(mask.shape, np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    if n < 2:
        return out
    height, width = mask.shape
    pad = max(int(pad_px), int(np.sqrt(max(min_size_px, 1))) * 2, 8)
    boxes = np.zeros((height, width), np.uint8)
    for i in range(1, n):
        x, y, w, h = (int(v) for v in stats[i, :4])
        boxes[max(y - pad, 0):min(y + h + pad, height), max(x - pad, 0):min(x + w + pad, width)] = 1
    nb, _, bstats, _ = cv2.connectedComponentsWithStats(boxes, connectivity=4)
    segmenter = cv2.ximgproc.segmentation.createGraphSegmentation(sigma=0.5, k=float(k_px), min_size=int(min_size_px))
    for j in range(1, nb):
        x, y, w, h = (int(v) for v in bstats[j, :4])
        win = (slice(y, y + h), slice(x, x + w))
        seg = segmenter.processImage(np.ascontiguousarray(image_bgr[win]))
        count = np.bincount(seg.ravel())
        hit = np.bincount(seg.ravel(), weights=(mask[win] > 0).ravel().astype(np.float64), minlength=len(count))
        keep = hit / np.maximum(count, 1) >= min_fraction
        out[win] = np.maximum(out[win], keep[seg].astype(np.uint8) * 255)
    out[~valid] = 0
    return out
