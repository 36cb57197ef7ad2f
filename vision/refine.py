"""Refining a photo set's poses from tie points: a light bundle adjustment on flat ground.

Photogrammetry tools (Pix4D, ODM/OpenSfM) refine the recorded camera poses so that the same
ground feature seen in several photos lands at one place. This module does the same on the
flat-ground model of :mod:`vision.georef`, with small corrections kept close to the metadata:

* **Unknowns**, per photo: a horizontal position offset (east, north, metres), a height
  offset (metres), a yaw correction about the vertical and a tilt about the world's east and
  north axes (degrees; the parametrisation of :mod:`vision.error_model`, which - unlike
  pitch/roll - can tilt a nadir camera in any direction); per set: a height offset common to
  every photo (the scene not at the take-off elevation) and, optionally, a **boresight**: a
  fixed rotation of the camera in its own frame (about its x right, y down and z optical
  axes; for a nadir camera roughly pitch, roll and yaw), for cameras whose recorded attitude
  is biased (e.g. a sensor's IMU not aligned with its lens).
* **Observations**: for every tie point (a RANSAC-inlier feature match between two
  overlapping photos) the difference between its ground points projected from each photo,
  east and north, divided by ``tie_sigma_m`` and scaled by recorded over corrected height
  (an angle, in effect: otherwise lowering every camera would shrink the scene and with it
  every disagreement - the degenerate "collapse" of metric-space adjustments). Relief (tree crowns, roofs) violates the flat
  ground, so the robust ``soft_l1`` loss (``scipy.optimize.least_squares``) caps their pull.
* **Priors** (regularisation toward the metadata, from a
  :class:`vision.error_model.PoseUncertainty`): each correction divided by its one-sigma;
  the position offsets follow the error model's first-order Gauss-Markov process in time,
  i.e. photo ``k`` given photo ``k-1`` is normal with mean ``rho x_{k-1}`` and deviation
  ``sigma sqrt(1 - rho^2)``, ``rho = exp(-dt / tau)`` (the AR(1) form of the process,
  e.g. Brown & Hwang, *Introduction to Random Signals and Applied Kalman Filtering*, 4th ed.,
  4.2): photos seconds apart on a pass move together, the next survey line may move by
  metres. Without tie points the solution stays at the metadata; a shift or rotation of the
  whole set (which tie points cannot see) is held by the priors.

The fit minimises ``sum(loss(tie residuals)) + sum(prior residuals^2)`` with every
correction bounded to ``max_sigma`` prior sigmas; the parameters are
solved in units of their prior sigma (well conditioned) with an analytic sparse Jacobian.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix
from scipy.spatial.transform import Rotation

from patrol.geodesy import WGS84
from vision.calibration import PairMatch
from vision.error_model import CONSUMER_DRONE, PoseUncertainty
from vision.georef import CameraIntrinsics, CameraPose, camera_rotation

__all__ = ["PoseCorrection", "Refinement", "attitude_from_rotation", "corrected_pose", "refine_poses"]

_PER_PHOTO = 6  # east, north, height, yaw, tilt east, tilt north (in prior sigmas)

#: Relative change of cost, step or gradient at which the solve stops. The unknowns are in
#: prior sigmas, so 1e-4 is far below the tie points' noise; scipy's default (1e-8) took 5x
#: the iterations (75 against 15 on eight 20 MP photos) to move the poses by < 0.08 m / 0.08 deg.
_TOLERANCE = 1e-4


@dataclass(frozen=True)
class PoseCorrection:
    """Corrections of one photo's recorded pose (added to the metadata).

    Attributes
    ----------
    east_m, north_m : float
        Camera position offset, metres in the local east/north plane.
    height_m : float
        Height offset, metres, including the set's common offset.
    yaw_deg : float
        Rotation about the vertical, degrees clockwise seen from above.
    tilt_east_deg, tilt_north_deg : float
        Rotation about the world's east and north axes, degrees (right-handed).
    boresight_deg : tuple of float
        The set's camera-frame rotation (about x right, y down, z optical), degrees.
    """

    east_m: float = 0.0
    north_m: float = 0.0
    height_m: float = 0.0
    yaw_deg: float = 0.0
    tilt_east_deg: float = 0.0
    tilt_north_deg: float = 0.0
    boresight_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def describe(self) -> str:
        """The correction in words (for ``PhotoGeoref.corrections``)."""
        text = (f"position {self.east_m:+.2f} m east {self.north_m:+.2f} m north, height {self.height_m:+.2f} m, "
                f"yaw {self.yaw_deg:+.2f} deg, tilt {self.tilt_east_deg:+.2f}/{self.tilt_north_deg:+.2f} deg "
                "about east/north")
        if any(self.boresight_deg):
            text += ", boresight {:+.2f}/{:+.2f}/{:+.2f} deg about camera x/y/z".format(*self.boresight_deg)
        return text


@dataclass(frozen=True)
class Refinement:
    """Outcome of :func:`refine_poses`.

    Attributes
    ----------
    poses : dict key -> CameraPose
        Refined poses (every photo given, corrected or not).
    corrections : dict key -> PoseCorrection
    shared_height_m : float
        Height offset common to the set, metres.
    boresight_deg : tuple of float
        Camera-frame rotation of the set (zeros unless solved), degrees.
    pairs, tie_points : int
        Photo pairs and tie points used.
    fit_median_before_m, fit_median_after_m : float
        Median ground disagreement of the **fitted** tie points before and after; a fit
        statistic, optimistic by construction (measure on held-out matches).
    success : bool
        Whether the solver converged.
    """

    poses: dict
    corrections: dict
    shared_height_m: float
    boresight_deg: tuple[float, float, float]
    pairs: int
    tie_points: int
    fit_median_before_m: float
    fit_median_after_m: float
    success: bool
    notes: tuple[str, ...] = field(default=())


def attitude_from_rotation(rot: np.ndarray, yaw_hint_deg: float = 0.0) -> tuple[float, float, float]:
    """Yaw, pitch, roll (degrees, :mod:`vision.georef` conventions) of a camera-to-ENU rotation.

    Inverse of :func:`vision.georef.camera_rotation`: pitch from the optical axis' up
    component, yaw from its horizontal direction, roll from the right axis. At exact nadir
    (yaw undefined) the yaw is ``yaw_hint_deg`` and the rest goes to roll.

    Examples
    --------
    >>> rot = camera_rotation(30.0, -80.0, 5.0)
    >>> [round(a, 6) for a in attitude_from_rotation(rot)]
    [30.0, -80.0, 5.0]
    """
    right, forward = rot[:, 0], rot[:, 2]
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, float(forward[2])))))
    if math.hypot(forward[0], forward[1]) > 1e-9:
        yaw = math.degrees(math.atan2(forward[0], forward[1]))
    else:
        yaw = yaw_hint_deg
    psi = math.radians(yaw)
    right0 = np.array([math.cos(psi), -math.sin(psi), 0.0])
    down0 = np.cross(forward, right0)
    roll = math.degrees(math.atan2(float(right @ down0), float(right @ right0)))
    return yaw % 360.0, pitch, roll


def _rotvecs(x_photo: np.ndarray, unc: PoseUncertainty) -> np.ndarray:
    """World-frame correction rotation vectors, shape (N, 3) radians, from per-photo parameters
    (N, 6) in prior sigmas: about east (tilt), north (tilt) and up (minus yaw)."""
    tilt = math.radians(unc.tilt_deg)
    yaw = math.radians(unc.yaw_deg)
    return np.column_stack([x_photo[:, 4] * tilt, x_photo[:, 5] * tilt, -x_photo[:, 3] * yaw])


def _rotations(x_photo: np.ndarray, unc: PoseUncertainty) -> np.ndarray:
    """World-frame correction rotations, shape (N, 3, 3), from per-photo parameters."""
    return Rotation.from_rotvec(_rotvecs(x_photo, unc)).as_matrix()


def _skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices, shape (N, 3, 3), of vectors (N, 3): ``_skew(v)[i] @ u == cross(v[i], u)``."""
    out = np.zeros((len(v), 3, 3))
    out[:, 0, 1], out[:, 0, 2], out[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    out[:, 1, 0], out[:, 2, 0], out[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    return out


def _rotated_jacobian(rotvec: np.ndarray, rotated: np.ndarray) -> np.ndarray:
    """Derivative of ``R(theta) u`` with respect to the rotation vector ``theta``, shape (N, 3, 3).

    ``rotvec`` (N, 3) radians, ``rotated`` (N, 3) the rotated vectors ``R(theta) u``. With
    the left Jacobian of SO(3), ``J_l = I + (1 - cos p) / p^2 K + (p - sin p) / p^3 K^2``
    (``K`` the cross-product matrix of ``theta``, ``p`` its norm; e.g. Barfoot, *State
    Estimation for Robotics*, 7.1.5), the derivative is ``-[R u]x J_l``.
    """
    phi = np.linalg.norm(rotvec, axis=1)
    small = phi < 1e-4  # series of both coefficients (error < 1e-17)
    p = np.where(small, 1.0, phi)
    a = np.where(small, 0.5 - phi ** 2 / 24.0, (1.0 - np.cos(p)) / p ** 2)
    b = np.where(small, 1.0 / 6.0 - phi ** 2 / 120.0, (p - np.sin(p)) / p ** 3)
    k = _skew(rotvec)
    left = np.eye(3) + a[:, None, None] * k + b[:, None, None] * (k @ k)
    return -_skew(rotated) @ left


def corrected_pose(pose: CameraPose, corr: PoseCorrection) -> CameraPose:
    """The pose with a correction applied (position moved on the ellipsoid, attitude rotated).

    Examples
    --------
    >>> p = corrected_pose(CameraPose(46.8, -92.0, 40.0, 45.0), PoseCorrection(east_m=1.0, yaw_deg=2.0))
    >>> round(p.yaw_deg, 6), round(p.height_agl_m, 6)
    (47.0, 40.0)
    """
    rot_meta = camera_rotation(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    world = Rotation.from_rotvec([math.radians(corr.tilt_east_deg), math.radians(corr.tilt_north_deg),
                                  -math.radians(corr.yaw_deg)]).as_matrix()
    bore = Rotation.from_rotvec(np.radians(corr.boresight_deg)).as_matrix()
    yaw, pitch, roll = attitude_from_rotation(world @ rot_meta @ bore, yaw_hint_deg=pose.yaw_deg + corr.yaw_deg)
    lat, lon = pose.lat_deg, pose.lon_deg
    dist = math.hypot(corr.east_m, corr.north_m)
    if dist > 0.0:
        lon, lat, _ = WGS84.fwd(pose.lon_deg, pose.lat_deg, math.degrees(math.atan2(corr.east_m, corr.north_m)), dist)
    return replace(pose, lat_deg=float(lat), lon_deg=float(lon), height_agl_m=pose.height_agl_m + corr.height_m,
                   yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)


def refine_poses(poses: Mapping[int, CameraPose], intrinsics: Mapping[int, CameraIntrinsics],
                 matches: Sequence[PairMatch], *, times_s: Mapping[int, float] | None = None,
                 uncertainty: PoseUncertainty = CONSUMER_DRONE, boresight_sigma_deg: float | None = None,
                 tie_sigma_m: float = 0.5, max_ties_per_pair: int = 40, min_pairs: int = 2,
                 min_ties_per_pair: int = 15, loss: str = "soft_l1", max_sigma: float = 5.0,
                 seed: int = 0) -> Refinement | None:
    """Solve small pose corrections that make tie points agree on the ground (module docstring).

    Parameters
    ----------
    poses, intrinsics : mapping key -> CameraPose / CameraIntrinsics
        The placed photos (intrinsics of the images the tie points refer to).
    matches : sequence of PairMatch
        Tie points between overlapping photos, pixels (x right, y down).
    times_s : mapping key -> float, optional
        Capture time of each photo, seconds (any origin); photos without one get an
        independent position prior.
    uncertainty : PoseUncertainty
        One-sigma priors (position, tau, height, tilt, yaw, shared height).
    boresight_sigma_deg : float, optional
        Also solve a set-wide camera-frame rotation with this prior sigma (degrees, per axis).
    tie_sigma_m : float
        Expected ground disagreement of a good tie point, metres (residual scale of the loss).
    max_ties_per_pair : int
        Tie points kept per pair (an even random subset, ``seed``), bounding the cost.
    min_pairs, min_ties_per_pair : int
        With fewer usable pairs (pairs with at least ``min_ties_per_pair`` tie points between
        two known photos) nothing is solved and None is returned.
    max_sigma : float
        Hard bound of every correction, in its prior sigmas (the refinement cannot drift away).
    loss : str
        ``least_squares`` loss of the tie residuals (``"soft_l1"``, ``"huber"``, ``"cauchy"``, ``"linear"``).

    Returns
    -------
    Refinement or None
        None when there are too few tie points (keep the metadata).

    Raises
    ------
    ValueError
        If ``tie_sigma_m`` or ``boresight_sigma_deg`` is not positive.
    """
    if not tie_sigma_m > 0:
        raise ValueError(f"tie_sigma_m must be > 0, got {tie_sigma_m!r}")
    if boresight_sigma_deg is not None and not boresight_sigma_deg > 0:
        raise ValueError(f"boresight_sigma_deg must be > 0, got {boresight_sigma_deg!r}")
    rng = np.random.default_rng(seed)
    usable = [m for m in matches if m.key_a in poses and m.key_b in poses and m.key_a != m.key_b
              and len(m) >= min_ties_per_pair]
    if len(usable) < min_pairs:
        return None
    keys = sorted({k for m in usable for k in (m.key_a, m.key_b)},
                  key=lambda k: ((times_s or {}).get(k, math.inf), k))
    index = {k: i for i, k in enumerate(keys)}
    n = len(keys)

    # local east/north of each camera from the set's first camera (tangent plane)
    origin = poses[keys[0]]
    az, _, dist = WGS84.inv(np.full(n, origin.lon_deg), np.full(n, origin.lat_deg),
                            np.array([poses[k].lon_deg for k in keys]), np.array([poses[k].lat_deg for k in keys]))
    az = np.radians(np.asarray(az, dtype=float))
    cam = np.column_stack([np.asarray(dist) * np.sin(az), np.asarray(dist) * np.cos(az)])
    height = np.array([poses[k].height_agl_m for k in keys])
    rot_meta = np.stack([camera_rotation(poses[k].yaw_deg, poses[k].pitch_deg, poses[k].roll_deg) for k in keys])

    # observations: camera-frame rays of each side of each tie point
    ia, ib, ra, rb = [], [], [], []
    for m in usable:
        sel = np.arange(len(m))
        if len(sel) > max_ties_per_pair:
            sel = np.sort(rng.choice(sel, max_ties_per_pair, replace=False))
        for side, key, pts, idx, rays in ((0, m.key_a, m.pts_a_px, ia, ra), (1, m.key_b, m.pts_b_px, ib, rb)):
            p = np.asarray(pts, dtype=float)[sel]
            hom = np.column_stack([p, np.ones(len(p))])
            rays.append(np.linalg.solve(intrinsics[key].matrix(), hom.T).T)
            idx.append(np.full(len(p), index[key]))
    ia, ib = np.concatenate(ia), np.concatenate(ib)
    ra, rb = np.concatenate(ra), np.concatenate(rb)
    ties = len(ia)

    # position prior: AR(1) in time, in sigma units (rho = 0: independent of the previous photo)
    prev = np.full(n, -1)
    rho = np.zeros(n)
    for i in range(1, n):
        ta, tb = (times_s or {}).get(keys[i - 1]), (times_s or {}).get(keys[i])
        if ta is not None and tb is not None and math.isfinite(ta) and math.isfinite(tb):
            prev[i], rho[i] = i - 1, min(math.exp(-abs(tb - ta) / uncertainty.position_tau_s), 1.0 - 1e-6)
    scale = np.sqrt(1.0 - rho ** 2)

    n_bore = 3 if boresight_sigma_deg is not None else 0
    n_params = n * _PER_PHOTO + 1 + n_bore
    # a zero sigma freezes that unknown (a tiny sigma: the prior holds it at the metadata)
    sig_floor = 1e-6

    def unpack(x):
        xp = x[: n * _PER_PHOTO].reshape(n, _PER_PHOTO)
        shared = x[n * _PER_PHOTO] * max(uncertainty.shared_height_m, sig_floor)
        bore = (np.radians(x[n * _PER_PHOTO + 1:] * boresight_sigma_deg) if n_bore else np.zeros(3))
        return xp, shared, bore

    # the per-photo prior sigmas as solved (a zero sigma floored)
    unc = PoseUncertainty(max(uncertainty.position_m, sig_floor), uncertainty.position_tau_s,
                          max(uncertainty.height_m, sig_floor), max(uncertainty.tilt_deg, sig_floor),
                          max(uncertainty.yaw_deg, sig_floor), uncertainty.shared_height_m)
    sig_shared = max(uncertainty.shared_height_m, sig_floor)

    def sides(x):
        """Correction rotations and heights, and each tie side's (rotated ray, its down
        component, ground point), (ties, 3), (ties,), (ties, 2)."""
        xp, shared, bore = unpack(x)
        rot = _rotations(xp, unc) @ rot_meta @ Rotation.from_rotvec(bore).as_matrix()
        off = xp[:, :2] * unc.position_m
        h = height + xp[:, 2] * unc.height_m + shared
        out = []
        for idx, rays in ((ia, ra), (ib, rb)):
            r = np.einsum("mij,mj->mi", rot[idx], rays)
            down = np.maximum(-r[:, 2], 1e-3)
            out.append((r, down, cam[idx] + off[idx] + r[:, :2] * (h[idx] / down)[:, None]))
        return h, out

    def ground(x):
        h, ((_, _, ga), (_, _, gb)) = sides(x)
        # in units of the recorded height: shrinking the scene must not shrink the residuals
        shrink = (height[ia] + height[ib]) / (h[ia] + h[ib])
        return (ga - gb) * shrink[:, None]

    def residuals(x):
        d = ground(x) / tie_sigma_m
        xp = x[: n * _PER_PHOTO].reshape(n, _PER_PHOTO)
        pos = xp[:, :2] - rho[:, None] * xp[np.maximum(prev, 0), :2]
        pos = pos / scale[:, None]
        return np.concatenate([d.ravel(), pos.ravel(), xp[:, 2:].ravel(), x[n * _PER_PHOTO:]])

    # Jacobian structure (rows, columns; :func:`jacobian` fills the values in this order): tie
    # rows depend on both photos and the set-wide unknowns
    rows, cols = [], []

    def link(r: np.ndarray, c: np.ndarray) -> None:
        rows.append(np.asarray(r).ravel())
        cols.append(np.asarray(c).ravel())

    tie_rows = np.arange(2 * ties).reshape(ties, 2)
    block = np.arange(_PER_PHOTO)
    for idx in (ia, ib):
        cols_b = idx[:, None] * _PER_PHOTO + block[None, :]  # (ties, 6)
        link(np.repeat(tie_rows, _PER_PHOTO, axis=1), np.tile(cols_b, 2))
    shared_cols = np.arange(n * _PER_PHOTO, n_params)
    link(np.repeat(tie_rows.ravel(), len(shared_cols)), np.tile(shared_cols, 2 * ties))
    pos_rows = 2 * ties + np.arange(2 * n).reshape(n, 2)
    link(pos_rows, np.arange(n)[:, None] * _PER_PHOTO + np.arange(2)[None, :])
    has_prev = prev >= 0
    link(pos_rows[has_prev], prev[has_prev][:, None] * _PER_PHOTO + np.arange(2)[None, :])
    att_rows = 2 * ties + 2 * n + np.arange(4 * n).reshape(n, 4)
    link(att_rows, np.arange(n)[:, None] * _PER_PHOTO + 2 + np.arange(4)[None, :])
    link(2 * ties + 6 * n + np.arange(len(shared_cols)), shared_cols)
    r_all, c_all = np.concatenate(rows), np.concatenate(cols)
    n_res = 2 * ties + 6 * n + len(shared_cols)

    def jacobian(x):
        """Analytic derivatives of :func:`residuals`, sparse (n_res, n_params). Exact, where
        finite differences took one evaluation of every tie point per group of unknowns."""
        xp, _, bore = unpack(x)
        h, ((r_a, down_a, ga), (r_b, down_b, gb)) = sides(x)
        world_vec = _rotvecs(xp, unc)
        hsum = h[ia] + h[ib]
        shrink = (height[ia] + height[ib]) / hsum
        scale_t = shrink / tie_sigma_m
        # the shrink factor moves with either height: d/dh of (ga - gb) shrink / sigma
        d_shrink = -(ga - gb) * (shrink / hsum / tie_sigma_m)[:, None]  # (ties, 2)
        blocks = []
        shared_part = np.zeros((ties, 2, len(shared_cols)))
        if n_bore:
            bore_m = Rotation.from_rotvec(bore).as_matrix()
            world_meta = _rotations(xp, unc) @ rot_meta
        for sign, idx, rays, r, down in ((1.0, ia, ra, r_a, down_a), (-1.0, ib, rb, r_b, down_b)):
            per_h = r[:, :2] / down[:, None]  # ground point per metre of height
            dg_dr = np.zeros((ties, 2, 3))
            dg_dr[:, 0, 0] = dg_dr[:, 1, 1] = h[idx] / down
            free = -r[:, 2] > 1e-3  # where the clamp of the down component holds, it does not vary
            dg_dr[:, :, 2] = np.where(free[:, None], per_h * (h[idx] / down)[:, None], 0.0)
            dg_dw = dg_dr @ _rotated_jacobian(world_vec[idx], r)  # (ties, 2, 3) per world rotation vector
            blk = np.zeros((ties, 2, _PER_PHOTO))
            blk[:, 0, 0] = blk[:, 1, 1] = unc.position_m
            blk[:, :, 2] = per_h * unc.height_m
            blk[:, :, 3] = -dg_dw[:, :, 2] * math.radians(unc.yaw_deg)
            blk[:, :, 4] = dg_dw[:, :, 0] * math.radians(unc.tilt_deg)
            blk[:, :, 5] = dg_dw[:, :, 1] * math.radians(unc.tilt_deg)
            blk *= sign * scale_t[:, None, None]
            blk[:, :, 2] += d_shrink * unc.height_m
            blocks.append(blk.reshape(ties, 2 * _PER_PHOTO))
            shared_part[:, :, 0] += (sign * per_h * scale_t[:, None] + d_shrink) * sig_shared
            if n_bore:  # r = W M B(beta) v: through the camera-frame ray B v
                cam_ray = np.einsum("ij,mj->mi", bore_m, rays)
                d_cam = _rotated_jacobian(np.broadcast_to(bore, (ties, 3)), cam_ray)
                dr_db = np.einsum("mij,mjk->mik", world_meta[idx], d_cam)
                shared_part[:, :, 1:] += (sign * scale_t[:, None, None] * (dg_dr @ dr_db)
                                          * math.radians(boresight_sigma_deg))
        data = [blocks[0].ravel(), blocks[1].ravel(), shared_part.ravel(), np.repeat(1.0 / scale, 2),
                np.repeat(-rho[has_prev] / scale[has_prev], 2), np.ones(4 * n + len(shared_cols))]
        return coo_matrix((np.concatenate(data), (r_all, c_all)), shape=(n_res, n_params)).tocsr()

    x0 = np.zeros(n_params)
    before = float(np.median(np.hypot(*ground(x0).T)))
    fit = least_squares(residuals, x0, jac=jacobian, loss=loss, f_scale=1.0, bounds=(-max_sigma, max_sigma),
                        x_scale=1.0, method="trf", tr_solver="lsmr", max_nfev=100,
                        ftol=_TOLERANCE, xtol=_TOLERANCE, gtol=_TOLERANCE)
    after = float(np.median(np.hypot(*ground(fit.x).T)))
    xp, shared, bore = unpack(fit.x)
    bore_deg = tuple(float(v) for v in np.degrees(bore))
    corrections, refined = {}, {}
    for k in poses:
        if k not in index:
            corrections[k], refined[k] = PoseCorrection(), poses[k]
            continue
        v = xp[index[k]]
        corr = PoseCorrection(east_m=float(v[0] * uncertainty.position_m), north_m=float(v[1] * uncertainty.position_m),
                              height_m=float(v[2] * uncertainty.height_m + shared),
                              yaw_deg=float(v[3] * uncertainty.yaw_deg),
                              tilt_east_deg=float(v[4] * uncertainty.tilt_deg),
                              tilt_north_deg=float(v[5] * uncertainty.tilt_deg), boresight_deg=bore_deg)
        corrections[k], refined[k] = corr, corrected_pose(poses[k], corr)
    return Refinement(poses=refined, corrections=corrections, shared_height_m=float(shared), boresight_deg=bore_deg,
                      pairs=len(usable), tie_points=ties, fit_median_before_m=before, fit_median_after_m=after,
                      success=bool(fit.success))
