"""Checks and corrections of photo metadata from overlapping photos (feature matches + GPS).

Two neighbouring photos see the same ground points. Projected from each photo with its own
pose, a matched point must land at the same place; how far apart the two projections fall
(:func:`ground_disagreement_m`) measures the georeferencing error, and the way it depends on
the unknowns lets us estimate them:

* :func:`estimate_ground_elevation` - for photo sets with GPS altitude only (no height above
  take-off, e.g. the Parrot Sequoia), the ground elevation ``g`` that makes the projections
  agree. With ``a`` the horizontal ray offset per metre of height of a matched pixel and ``C``
  the camera position, the ground point is ``C + (alt - g) a`` and the disagreement of a match
  is ``b - g c`` with ``b = C_a + alt_a a_a - C_b - alt_b a_b``, ``c = a_a - a_b``: linear in
  ``g``, solved per photo pair by least squares (``g = sum(b.c) / sum(c.c)``, matches beyond
  3 MAD dropped twice), and the set's value is the median over pairs. This is the
  stereo-parallax height: ``c`` is the baseline-to-height ratio, so the GPS baseline sets the
  scale. Features on trees and roofs bias ``g`` upward by the share of their height.
* :func:`find_flipped_photos` - photos whose pixels do not face the recorded yaw (a photo
  rotated by 180 degrees in an image editor after capture keeps its XMP yaw; the Brighton
  Beach set has six, re-saved by "Microsoft Windows Photo Viewer"). A photo is flipped when
  turning it by 180 degrees makes its matches with its neighbours agree decisively better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from patrol.geodesy import WGS84
from vision.georef import CameraIntrinsics, CameraPose, pixel_to_enu, pixel_to_ground

__all__ = [
    "GroundElevation",
    "PairMatch",
    "estimate_ground_elevation",
    "find_flipped_photos",
    "ground_disagreement_m",
]


@dataclass(frozen=True)
class PairMatch:
    """Feature matches between two photos (RANSAC inliers), in stored-image pixels.

    Parameters
    ----------
    key_a, key_b : int
        The photos (e.g. ``Photo.id``).
    pts_a_px, pts_b_px : ndarray (M, 2) float
        Matched positions (x right, y down) in photo a and photo b.
    """

    key_a: int
    key_b: int
    pts_a_px: np.ndarray
    pts_b_px: np.ndarray

    def __len__(self) -> int:
        return int(len(self.pts_a_px))


@dataclass(frozen=True)
class GroundElevation:
    """Ground elevation of a photo set estimated from matched neighbours.

    Attributes
    ----------
    elevation_m : float
        In the altitude reference of the photos' ``alt_amsl_m`` (what the GPS wrote).
    spread_m : float
        Median absolute deviation of the per-pair estimates, metres.
    pair_elevations_m : tuple of float
        One estimate per usable pair.
    matches_used : int
        Matches behind the estimate.
    """

    elevation_m: float
    spread_m: float
    pair_elevations_m: tuple[float, ...]
    matches_used: int


def ground_disagreement_m(pose_a: CameraPose, intr_a: CameraIntrinsics, pts_a_px: np.ndarray,
                          pose_b: CameraPose, intr_b: CameraIntrinsics, pts_b_px: np.ndarray) -> np.ndarray:
    """Geodesic distance (metres) between the ground projections of matched points.

    Parameters
    ----------
    pose_a, intr_a, pose_b, intr_b
        The two photos.
    pts_a_px, pts_b_px : ndarray (M, 2)
        Matched pixels in each photo's stored image.

    Returns
    -------
    ndarray (M,)

    Raises
    ------
    GeoreferenceError
        If a matched pixel's ray misses the ground.
    """
    lon_a, lat_a = pixel_to_ground(pose_a, intr_a, pts_a_px[:, 0], pts_a_px[:, 1])
    lon_b, lat_b = pixel_to_ground(pose_b, intr_b, pts_b_px[:, 0], pts_b_px[:, 1])
    return np.asarray(WGS84.inv(lon_a, lat_a, lon_b, lat_b)[2], dtype=float)


def _unit_offsets(pose: CameraPose, intr: CameraIntrinsics, pts: np.ndarray) -> np.ndarray:
    """Horizontal ray offsets (east, north) per metre of height, shape (M, 2)."""
    unit = replace(pose, height_agl_m=1.0)
    e, n = pixel_to_enu(unit, intr, pts[:, 0], pts[:, 1])
    return np.column_stack([e, n])


def _camera_offset_m(origin: CameraPose, other: CameraPose) -> np.ndarray:
    az, _, dist = WGS84.inv(origin.lon_deg, origin.lat_deg, other.lon_deg, other.lat_deg)
    az = np.radians(az)
    return np.array([dist * np.sin(az), dist * np.cos(az)])


def _pair_elevation(b: np.ndarray, c: np.ndarray) -> float | None:
    keep = np.ones(len(b), dtype=bool)
    g = None
    for _ in range(3):
        cc = float(np.sum(c[keep] ** 2))
        if cc <= 0:
            return None
        g = float(np.sum(b[keep] * c[keep]) / cc)
        resid = np.hypot(*(b - g * c).T)
        mad = float(np.median(np.abs(resid[keep] - np.median(resid[keep])))) + 1e-6
        keep = resid <= np.median(resid[keep]) + 3.0 * 1.4826 * mad
        if keep.sum() < 8:
            return None
    return g


def estimate_ground_elevation(matches: Sequence[PairMatch], poses: Mapping[int, CameraPose],
                              intrinsics: Mapping[int, CameraIntrinsics], alt_m: Mapping[int, float], *,
                              min_parallax: float = 0.05, min_matches: int = 20) -> GroundElevation | None:
    """Estimate the ground elevation under photos that carry GPS altitude only.

    Parameters
    ----------
    matches : sequence of PairMatch
        Matches between overlapping photos.
    poses : mapping key -> CameraPose
        Positions and attitudes (their ``height_agl_m`` is ignored).
    intrinsics : mapping key -> CameraIntrinsics
        For the stored images.
    alt_m : mapping key -> float
        Camera altitude, metres (``Photo.alt_amsl_m``).
    min_parallax : float
        Pairs whose median baseline-to-height ratio ``|c|`` is below this are skipped.
    min_matches : int
        Pairs with fewer matches are skipped.

    Returns
    -------
    GroundElevation or None
        None when no pair qualifies.
    """
    estimates: list[float] = []
    used = 0
    for m in matches:
        if len(m) < min_matches or m.key_a not in alt_m or m.key_b not in alt_m:
            continue
        pa, pb = poses[m.key_a], poses[m.key_b]
        a_a = _unit_offsets(pa, intrinsics[m.key_a], m.pts_a_px)
        a_b = _unit_offsets(pb, intrinsics[m.key_b], m.pts_b_px)
        c_b = _camera_offset_m(pa, pb)
        b = alt_m[m.key_a] * a_a - (c_b + alt_m[m.key_b] * a_b)
        c = a_a - a_b
        if np.median(np.hypot(*c.T)) < min_parallax:
            continue
        g = _pair_elevation(b, c)
        if g is not None and np.isfinite(g):
            estimates.append(g)
            used += len(m)
    if not estimates:
        return None
    arr = np.asarray(estimates)
    med = float(np.median(arr))
    return GroundElevation(elevation_m=med, spread_m=float(np.median(np.abs(arr - med))),
                           pair_elevations_m=tuple(float(v) for v in arr), matches_used=used)


def find_flipped_photos(matches: Sequence[PairMatch], poses: Mapping[int, CameraPose],
                        intrinsics: Mapping[int, CameraIntrinsics], *, min_matches: int = 20,
                        decisive_ratio: float = 0.5, min_gain_m: float = 3.0) -> set[int]:
    """Photos whose image is turned 180 degrees from their recorded yaw.

    Each pair of matched photos votes: the median disagreement of its matches is computed for
    the four combinations of (photo a as recorded or turned, photo b as recorded or turned);
    when the best combination beats "both as recorded" decisively (below ``decisive_ratio``
    of it and by at least ``min_gain_m``) each photo gets a vote for its state in that
    combination, otherwise both get a vote for "as recorded". A photo is turned when its
    turn votes outnumber its keep votes.

    Returns
    -------
    set of int
        Keys of the photos to turn (empty for a consistent set).
    """
    votes: dict[int, list[int]] = {}
    for m in matches:
        if len(m) < min_matches:
            continue
        table = np.empty((2, 2))
        for sa in (0, 1):
            for sb in (0, 1):
                pa = replace(poses[m.key_a], yaw_deg=poses[m.key_a].yaw_deg + 180.0 * sa)
                pb = replace(poses[m.key_b], yaw_deg=poses[m.key_b].yaw_deg + 180.0 * sb)
                d = ground_disagreement_m(pa, intrinsics[m.key_a], m.pts_a_px, pb, intrinsics[m.key_b], m.pts_b_px)
                table[sa, sb] = float(np.median(d))
        best = np.unravel_index(int(np.argmin(table)), table.shape)
        keep = table[0, 0]
        if best != (0, 0) and table[best] < decisive_ratio * keep and keep - table[best] >= min_gain_m:
            states = (int(best[0]), int(best[1]))
        else:
            states = (0, 0)
        for key, state in zip((m.key_a, m.key_b), states):
            votes.setdefault(key, [0, 0])[state] += 1
    return {key for key, (keep_votes, turn_votes) in votes.items() if turn_votes > keep_votes}
