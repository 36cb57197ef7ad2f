"""Local features, matching and RANSAC homographies (OpenCV), shared by the detectors,
the ground-elevation estimate and the georeferencing check.

SIFT (OpenCV's main module since 4.4) is the default: on the bundled photo sets it registers
more neighbouring pairs than ORB (Garfield Park: 24 of 27 consecutive pairs against 20), for
about 0.2 s per ~1 MP image. SIFT descriptors are matched with FLANN's randomised k-d trees
(seeded, so results repeat; ~3x faster than brute force at 4000 features), ORB's by brute
force on the Hamming distance. Matches pass Lowe's ratio test (0.75, Lowe 2004, 7.1).

Each feature set's FLANN index is built once and kept while the set lives (a photo is matched
with two to six others: the neighbours, the overlapping photos, its change references), and
what a pair's search found is remembered per keypoint of the first set (a small cache keyed
by the two feature sets' identity), so the change detector's registration of a photo against
a reference of the same set reuses what georeferencing found, searching only keypoints that
georeferencing left out (``match_features(..., queries=)``). Both give the same matches as
matching afresh.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import cKDTree

from vision.errors import RegistrationError

__all__ = ["Features", "clear_match_cache", "detect_features", "estimate_homography", "match_features",
           "match_guided"]


@dataclass(frozen=True)
class Features:
    """Keypoints and descriptors of one image.

    Parameters
    ----------
    points_px : ndarray (N, 2) float32
        Keypoint positions (x, y) in the pixels of the image they were found in.
    descriptors : ndarray (N, D)
        float32 for SIFT, uint8 for ORB (binary).
    method : str
        ``"sift"`` or ``"orb"``.
    """

    points_px: np.ndarray
    descriptors: np.ndarray | None
    method: str

    def __len__(self) -> int:
        return int(self.points_px.shape[0])


def _detector(method: str, max_features: int):
    if method == "sift":
        return cv2.SIFT_create(nfeatures=max_features)
    if method == "orb":
        return cv2.ORB_create(nfeatures=max_features)
    raise ValueError(f"unknown feature method {method!r}: use 'sift' or 'orb'")


def detect_features(image: np.ndarray, *, method: str = "sift", max_features: int = 4000,
                    mask: np.ndarray | None = None) -> Features:
    """Detect keypoints and compute descriptors.

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8 BGR or (H, W) uint8
    method : str
        ``"sift"`` (default) or ``"orb"``.
    max_features : int
        Keep at most this many (strongest) keypoints.
    mask : ndarray (H, W) uint8, optional
        Non-zero where keypoints may be found.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    kps, desc = _detector(method, max_features).detectAndCompute(gray, mask)
    pts = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2)
    return Features(points_px=pts, descriptors=desc, method=method)


_KEEP_PAIRS = 64  # matched pairs remembered (a few KB each)
_lock = threading.Lock()
_Entry = tuple[weakref.ref, weakref.ref, tuple[np.ndarray, np.ndarray, np.ndarray]]  # searched, nn, good
_pairs: OrderedDict[tuple[int, int, float], _Entry] = OrderedDict()
_indexes: dict[int, tuple[weakref.ref, cv2.flann_Index]] = {}


def clear_match_cache() -> None:
    """Forget the remembered FLANN indexes and matched pairs (e.g. to time matching afresh)."""
    with _lock:
        _indexes.clear()
        _pairs.clear()


def _flann_index(f: Features) -> cv2.flann_Index:
    """The FLANN index (4 randomised k-d trees, seeded) of a SIFT feature set, built once per set."""
    key = id(f)
    with _lock:
        hit = _indexes.get(key)
        if hit is not None and hit[0]() is f:
            return hit[1]
    cv2.setRNGSeed(0)  # FLANN's randomised trees draw from OpenCV's (thread-local) RNG
    index = cv2.flann_Index(f.descriptors, {"algorithm": 1, "trees": 4})
    with _lock:
        _indexes[key] = (weakref.ref(f, lambda _r, k=key: _indexes.pop(k, None)), index)
    return index


def _search(a: Features, b: Features, rows: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Best match in ``b`` of each of ``a``'s keypoints ``rows`` and whether it passes the ratio test."""
    if a.method == "sift":
        ib, d2 = _flann_index(b).knnSearch(a.descriptors[rows], 2, params={"checks": 64})
        d = np.sqrt(d2)  # FLANN's L2 is squared; the ratio test on distances, as cv2's matchers report them
        good = (ib[:, 1] >= 0) & (d[:, 0].astype(np.float64) < ratio * d[:, 1].astype(np.float64))
        return ib[:, 0].astype(int), good
    knn = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(a.descriptors[rows], b.descriptors, k=2)
    nn = np.array([m[0].trainIdx if m else -1 for m in knn], dtype=int).reshape(-1)
    good = np.array([len(m) == 2 and m[0].distance < ratio * m[1].distance for m in knn], dtype=bool).reshape(-1)
    return nn, good


def match_features(a: Features, b: Features, *, ratio: float = 0.75,
                   queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Match two feature sets with the ratio test (each of ``a``'s keypoints against ``b``'s).

    SIFT descriptors are searched in ``b``'s FLANN index (built once per feature set). What
    a pair's search found is remembered per keypoint of ``a`` while both sets live (module
    docstring): asking again costs nothing, and asking for more of ``a``'s keypoints searches
    only those not searched yet. Treat the returned arrays as read-only.

    Parameters
    ----------
    a, b : Features
    ratio : float
        Lowe's ratio test threshold.
    queries : ndarray (len(a),) bool, optional
        Search only these keypoints of ``a`` (e.g. those that can see ``b``'s ground); the
        result is the unrestricted one's matches of these keypoints. All when None.

    Returns
    -------
    (pts_a, pts_b) : ndarray (M, 2) float32
        Matched positions in image a and image b (M may be 0).

    Raises
    ------
    ValueError
        If the two sets were made by different methods, or ``queries`` has the wrong shape.
    """
    if a.method != b.method:
        raise ValueError(f"cannot match {a.method} features against {b.method} features")
    if queries is not None:
        queries = np.asarray(queries, dtype=bool)
        if queries.shape != (len(a),):
            raise ValueError(f"queries has shape {queries.shape}, expected ({len(a)},)")
    if len(a) < 2 or len(b) < 2 or a.descriptors is None or b.descriptors is None:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    want = np.ones(len(a), bool) if queries is None else queries
    key = (id(a), id(b), float(ratio))
    with _lock:
        hit = _pairs.get(key)
        if hit is not None and hit[0]() is a and hit[1]() is b:
            _pairs.move_to_end(key)
            searched, nn, good = hit[2]
        else:
            searched, nn, good = np.zeros(len(a), bool), np.full(len(a), -1, int), np.zeros(len(a), bool)
    rows = np.flatnonzero(want & ~searched)
    if rows.size:
        nn, good, searched = nn.copy(), good.copy(), searched.copy()
        nn[rows], good[rows] = _search(a, b, rows, ratio)
        searched[rows] = True
        with _lock:
            _pairs[key] = (weakref.ref(a), weakref.ref(b), (searched, nn, good))
            _pairs.move_to_end(key)
            while len(_pairs) > _KEEP_PAIRS:
                _pairs.popitem(last=False)
    ia = np.flatnonzero(good & want)
    out = (a.points_px[ia].reshape(-1, 2), b.points_px[nn[ia]].reshape(-1, 2))
    for arr in out:
        arr.flags.writeable = False
    return out


def match_guided(a: Features, b: Features, h: np.ndarray, *, radius_px: float = 6.0, context_px: float = 24.0,
                 ratio: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Guided matching: each of ``a``'s keypoints is matched among ``b``'s keypoints near where
    the homography ``h`` puts it (Hartley & Zisserman, *Multiple View Geometry*, 2nd ed.,
    4.8, algorithm 4.6 (v)).

    A rough homography (from too few RANSAC inliers to trust) predicts each match to within
    a few pixels, so the search need not be global: the best descriptor within ``radius_px``
    of the prediction is kept when it passes Lowe's ratio test against the next best of
    ``b``'s keypoints within ``context_px`` (the local ratio test; a distinctive feature of a
    repetitive scene, which the global ratio test rejects, passes it).

    Parameters
    ----------
    a, b : Features
        Made by the same method.
    h : ndarray (3, 3)
        Homography from ``a``'s pixels to ``b``'s.
    radius_px, context_px : float
        Search radius around the prediction and the neighbourhood of the ratio test, pixels of ``b``.
    ratio : float
        Ratio test threshold.

    Returns
    -------
    (pts_a, pts_b) : ndarray (M, 2) float32

    Raises
    ------
    ValueError
        If the sets were made by different methods.
    """
    if a.method != b.method:
        raise ValueError(f"cannot match {a.method} features against {b.method} features")
    empty = np.empty((0, 2), np.float32)
    if len(a) == 0 or len(b) < 2 or a.descriptors is None or b.descriptors is None:
        return empty, empty
    rows = np.arange(len(a))
    pred = cv2.perspectiveTransform(a.points_px.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)
    near, idx = cKDTree(b.points_px).query(pred, k=min(16, len(b)), distance_upper_bound=context_px)
    near, idx = near.reshape(len(rows), -1), idx.reshape(len(rows), -1)
    # only keypoints with a candidate within the radius can match: descriptor distances for those
    some = near[:, 0] <= radius_px  # the query returns neighbours nearest first
    rows, near, idx = rows[some], near[some], idx[some]
    found = np.isfinite(near)
    r, k = np.nonzero(found)
    d = np.full(near.shape, np.inf, np.float32)
    if a.method == "sift":
        d[r, k] = np.linalg.norm(a.descriptors[rows[r]].astype(np.float32)
                                 - b.descriptors[idx[r, k]].astype(np.float32), axis=1)
    else:  # binary descriptors: Hamming distance
        d[r, k] = np.unpackbits(a.descriptors[rows[r]] ^ b.descriptors[idx[r, k]], axis=1).sum(axis=1)
    inside = np.where(near <= radius_px, d, np.inf)
    best = np.argmin(inside, axis=1)
    at = np.arange(len(rows))
    d1 = inside[at, best]
    d[at, best] = np.inf
    d2 = d.min(axis=1)
    keep = np.isfinite(d1) & (d1 < ratio * d2)
    return a.points_px[rows[keep]].reshape(-1, 2), b.points_px[idx[at, best][keep]].reshape(-1, 2)


def estimate_homography(src_px: np.ndarray, dst_px: np.ndarray, *, ransac_px: float = 4.0,
                        min_inliers: int = 25, what: str = "images") -> tuple[np.ndarray, np.ndarray]:
    """RANSAC homography mapping ``src_px`` onto ``dst_px`` (OpenCV ``findHomography``, USAC MAGSAC).

    Parameters
    ----------
    src_px, dst_px : ndarray (M, 2)
        Matched points.
    ransac_px : float
        Inlier reprojection threshold, pixels.
    min_inliers : int
        Fewer inliers than this raise.
    what : str
        Names the image pair in error messages.

    Returns
    -------
    (H, inliers) : ndarray (3, 3) float64, ndarray (M,) bool

    Raises
    ------
    RegistrationError
        If there are too few matches or inliers, or the homography is degenerate.
    """
    if len(src_px) < max(min_inliers, 4):
        raise RegistrationError(f"{what}: only {len(src_px)} feature matches (need {min_inliers})")
    h, mask = cv2.findHomography(src_px, dst_px, cv2.USAC_MAGSAC, ransac_px, maxIters=5000, confidence=0.999)
    if h is None or mask is None:
        raise RegistrationError(f"{what}: RANSAC found no homography in {len(src_px)} matches")
    inliers = mask.ravel().astype(bool)
    n_in = int(inliers.sum())
    if n_in < min_inliers:
        raise RegistrationError(f"{what}: only {n_in} RANSAC inliers of {len(src_px)} matches (need {min_inliers})")
    det = float(np.linalg.det(h[:2, :2]))
    if not np.isfinite(det) or det <= 0.05 or det >= 20:
        raise RegistrationError(f"{what}: degenerate homography (scale determinant {det:.3g})")
    return h, inliers
