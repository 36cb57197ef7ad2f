"""The georeferencing error model in numbers: ground error from pose uncertainty, by simulation.

:mod:`vision.georef` documents the model in words (flat ground; height, tilt, yaw and
position errors; relief). This module turns one-sigma pose errors into metres on the ground
for given pixels, by Monte Carlo on the exact flat-ground projection (no linearisation):

* each sample draws, per photo, a horizontal position error (``position_m`` per axis), a
  height error (``height_m``), a tilt of the camera about the world's east and north axes
  (``tilt_deg`` each: pitch and roll error whatever the camera's yaw; a nadir camera has no
  usable roll axis in the Tait-Bryan angles) and a yaw error about the vertical
  (``yaw_deg``); ``shared_height_m`` is drawn once for all photos (the scene not at the
  take-off elevation, an error in an estimated ground elevation);
* the GNSS position error is a first-order Gauss-Markov process in time (correlation
  ``exp(-dt / position_tau_s)``, the usual model of standalone GNSS error): photos seconds
  apart share most of it, photos minutes apart (the next survey line) much less, so the
  position error between two photos has the standard deviation
  ``position_m * sqrt(2 (1 - exp(-dt / tau)))`` per axis;
* a pixel's ground point is recomputed with the perturbed pose; the shift from the
  unperturbed point is its error.

:func:`ground_error_m` gives the absolute error of one photo's pixels (what a surveyed
check point would see); :func:`disagreement_m` the distance between the ground points of
matched pixels projected from two photos (what ``benchmarks/georef.py`` measures): errors
common to both photos cancel there, so it is blind to a shared GNSS bias. Relief (trees,
roofs off the ground plane) is outside the model; it makes the measured tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation

from vision.georef import CameraIntrinsics, CameraPose, camera_rotation

__all__ = ["CONSUMER_DRONE", "PoseUncertainty", "disagreement_m", "ground_error_m"]


@dataclass(frozen=True)
class PoseUncertainty:
    """One-sigma errors of a photo's recorded pose (normal, independent, zero mean).

    Parameters
    ----------
    position_m : float
        Horizontal camera position (GNSS), metres per axis.
    position_tau_s : float
        Correlation time of the position error, seconds (see the module docstring).
    height_m : float
        Height above ground, metres, independent between photos.
    tilt_deg : float
        Camera tilt about each horizontal world axis, degrees.
    yaw_deg : float
        Camera rotation about the vertical, degrees.
    shared_height_m : float
        Height error common to every photo of a set, metres.

    Raises
    ------
    ValueError
        If a sigma is negative or the correlation time is not positive.
    """

    position_m: float = 1.5
    position_tau_s: float = 300.0
    height_m: float = 0.3
    tilt_deg: float = 0.5
    yaw_deg: float = 1.0
    shared_height_m: float = 1.0

    def __post_init__(self) -> None:
        for name in ("position_m", "height_m", "tilt_deg", "yaw_deg", "shared_height_m"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"pose uncertainty: {name} must be >= 0, got {getattr(self, name)!r}")
        if not self.position_tau_s > 0.0:
            raise ValueError(f"pose uncertainty: position_tau_s must be > 0, got {self.position_tau_s!r}")

    def scaled_attitude(self, factor: float) -> "PoseUncertainty":
        """The same uncertainty with tilt and yaw multiplied by ``factor``."""
        return replace(self, tilt_deg=self.tilt_deg * factor, yaw_deg=self.yaw_deg * factor)


#: A-priori one-sigma pose errors of a consumer drone photo (the defaults of
#: :class:`PoseUncertainty`): GNSS position 1.5 m per axis (DJI's horizontal hover accuracy
#: with GPS, +-1.5 m) drifting with a 300 s correlation time (photos 7 s apart share 98% of it,
#: the next line a minute later 82%), height 0.3 m (barometer over a minute), tilt 0.5 deg and
#: yaw 1 deg (gimbal IMU and compass), and 1 m of height common to the set (the scene not at
#: the take-off elevation). The priors of :func:`vision.refine.refine_poses`.
CONSUMER_DRONE = PoseUncertainty()


def _rays(pose: CameraPose, intr: CameraIntrinsics, pts_px: np.ndarray) -> np.ndarray:
    """Unnormalised ray directions in ENU, shape (3, M)."""
    pts = np.asarray(pts_px, dtype=float).reshape(-1, 2)
    hom = np.vstack([pts.T, np.ones(len(pts))])
    return camera_rotation(pose.yaw_deg, pose.pitch_deg, pose.roll_deg) @ np.linalg.solve(intr.matrix(), hom)


def _shifts(pose: CameraPose, intr: CameraIntrinsics, pts_px: np.ndarray, unc: PoseUncertainty,
            shared_dh: np.ndarray, position: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ground-point shifts (east, north) of the pixels for each sample, shape (S, M, 2)."""
    samples = len(shared_dh)
    rays = _rays(pose, intr, pts_px)  # (3, M)
    h = pose.height_agl_m
    base = rays[:2] * (h / -rays[2])  # (2, M)
    tilt = np.radians(unc.tilt_deg) * rng.standard_normal((samples, 2))
    yaw = np.radians(unc.yaw_deg) * rng.standard_normal(samples)
    # rotation vector in ENU: tilt about east and north, yaw clockwise seen from above = about -up
    rot = Rotation.from_rotvec(np.column_stack([tilt[:, 0], tilt[:, 1], -yaw])).as_matrix()  # (S, 3, 3)
    r = rot @ rays  # (S, 3, M)
    down = -r[:, 2]
    height = h + unc.height_m * rng.standard_normal(samples) + shared_dh  # (S,)
    with np.errstate(divide="ignore", invalid="ignore"):
        ground = r[:, :2] * (height[:, None, None] / down[:, None, :])  # (S, 2, M)
    ground += position[:, :, None]
    shift = ground - base[None]
    shift[np.broadcast_to((down <= 0)[:, None, :], shift.shape)] = np.nan  # ray above the horizon
    return np.transpose(shift, (0, 2, 1))


def ground_error_m(pose: CameraPose, intr: CameraIntrinsics, pts_px: np.ndarray, unc: PoseUncertainty, *,
                   samples: int = 200, seed: int = 0) -> np.ndarray:
    """Simulated absolute ground error of pixels of one photo, metres.

    Parameters
    ----------
    pose, intr : CameraPose, CameraIntrinsics
        The photo (intrinsics of the image the pixels refer to).
    pts_px : ndarray (M, 2)
        Pixels, x right, y down.
    unc : PoseUncertainty
    samples : int
        Monte Carlo draws.
    seed : int
        Seed of the draws (results repeat).

    Returns
    -------
    ndarray (samples, M)
        Horizontal distance between the ground point with a perturbed pose and the true one
        (NaN where a perturbed ray misses the ground).

    Examples
    --------
    At nadir from 40 m, tilt alone (1 degree about each axis) moves the centre by
    ``40 tan(1 deg)`` = 0.70 m per axis, i.e. a median of about ``0.70 * 1.18`` = 0.82 m:

    >>> cam = CameraIntrinsics(3.61, 6.17, 3.47, 4000, 2250)
    >>> unc = PoseUncertainty(position_m=0.0, height_m=0.0, tilt_deg=1.0, yaw_deg=0.0, shared_height_m=0.0)
    >>> d = ground_error_m(CameraPose(46.8, -92.0, 40.0), cam, [[2000.0, 1125.0]], unc, samples=4000)
    >>> round(float(np.median(d)), 1)
    0.8
    """
    rng = np.random.default_rng(seed)
    shared = unc.shared_height_m * rng.standard_normal(samples)
    position = unc.position_m * rng.standard_normal((samples, 2))
    return np.hypot(*np.moveaxis(_shifts(pose, intr, pts_px, unc, shared, position, rng), -1, 0))


def disagreement_m(pose_a: CameraPose, intr_a: CameraIntrinsics, pts_a_px: np.ndarray,
                   pose_b: CameraPose, intr_b: CameraIntrinsics, pts_b_px: np.ndarray,
                   unc_a: PoseUncertainty, unc_b: PoseUncertainty | None = None, *, dt_s: float | None = None,
                   samples: int = 200, seed: int = 0) -> np.ndarray:
    """Simulated distance between the ground points of matched pixels seen from two photos.

    On a flat ground with exact poses the two projections of a match coincide; with pose
    errors each moves by its photo's error and the distance between them is what is
    returned. The shared height error is drawn once for both photos (``unc_a``'s).

    Parameters
    ----------
    pose_a, intr_a, pose_b, intr_b
        The two photos.
    pts_a_px, pts_b_px : ndarray (M, 2)
        Matched pixels in each photo.
    unc_a, unc_b : PoseUncertainty
        Pose errors of each photo (``unc_b`` defaults to ``unc_a``).
    dt_s : float, optional
        Time between the photos, seconds; their position errors are correlated by
        ``exp(-|dt_s| / unc_a.position_tau_s)``. None: independent.
    samples, seed : int

    Returns
    -------
    ndarray (samples, M)
        Metres (NaN where a perturbed ray misses the ground).
    """
    unc_b = unc_b or unc_a
    rng = np.random.default_rng(seed)
    shared = unc_a.shared_height_m * rng.standard_normal(samples)
    rho = 0.0 if dt_s is None else math.exp(-abs(dt_s) / unc_a.position_tau_s)
    za, zb = rng.standard_normal((2, samples, 2))
    pos_a = unc_a.position_m * za
    pos_b = unc_b.position_m * (rho * za + math.sqrt(1.0 - rho * rho) * zb)
    sa = _shifts(pose_a, intr_a, pts_a_px, unc_a, shared, pos_a, rng)
    sb = _shifts(pose_b, intr_b, pts_b_px, unc_b, shared, pos_b, rng)
    return np.hypot(*np.moveaxis(sa - sb, -1, 0))
