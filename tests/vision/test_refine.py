"""Tie-point refinement (vision.refine) on generated photo sets with known pose errors, and the
pose algebra it relies on. The real sets are measured in benchmarks/georef.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from patrol.geodesy import WGS84
from vision.calibration import PairMatch, ground_disagreement_m
from vision.georef import CameraIntrinsics, CameraPose, camera_rotation, ground_to_pixel
from vision.refine import PoseCorrection, attitude_from_rotation, corrected_pose, refine_poses

CAM = CameraIntrinsics(3.61, 6.17, 3.47, 4000, 2250)  # DJI FC300S, 16:9
LAT, LON = 46.8426, -91.9945


def _generated_set(shift_line2_m=(3.0, -2.0), yaw_noise_deg=1.0, seed=3):
    """Generated: two survey lines of nadir photos at 40 m, 15 m apart along the line and 25 m
    across, photographing a flat ground; the recorded poses of the second line are shifted (GNSS
    drift between lines) and every recorded yaw is off by noise. Returns true poses, recorded
    poses, times, and tie points (matched pixels of ground points seen by two photos)."""
    rng = np.random.default_rng(seed)
    true, times = {}, {}
    key = 0
    for line, (north, heading, t0) in enumerate(((0.0, 90.0, 0.0), (25.0, 270.0, 60.0))):
        for i in range(6):
            east = 15.0 * i if line == 0 else 75.0 - 15.0 * i
            lon, lat, _ = WGS84.fwd(LON, LAT, np.degrees(np.arctan2(east, north)), np.hypot(east, north))
            key += 1
            true[key] = CameraPose(float(lat), float(lon), 40.0, heading)
            times[key] = t0 + 3.0 * i
    recorded = {}
    for k, pose in true.items():
        line2 = k > 6
        de, dn = shift_line2_m if line2 else (0.0, 0.0)
        moved = corrected_pose(pose, PoseCorrection(east_m=de, north_m=dn))
        recorded[k] = replace(moved, yaw_deg=pose.yaw_deg + rng.normal(0.0, yaw_noise_deg))
    # ground points on a grid; a tie point where both photos see it
    east, north = np.meshgrid(np.arange(-30.0, 110.0, 4.0), np.arange(-20.0, 45.0, 4.0))
    lon, lat, _ = WGS84.fwd(np.full(east.size, LON), np.full(east.size, LAT),
                            np.degrees(np.arctan2(east.ravel(), north.ravel())), np.hypot(east.ravel(), north.ravel()))
    px = {}
    for k, pose in true.items():
        u, v = ground_to_pixel(pose, CAM, lon, lat)
        px[k] = (np.column_stack([u, v]), (u > 0) & (u < CAM.width_px) & (v > 0) & (v < CAM.height_px))
    matches = []
    keys = sorted(true)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            both = px[a][1] & px[b][1]
            if both.sum() >= 20:
                noise = rng.normal(0.0, 0.5, (2, int(both.sum()), 2))  # half-pixel matching noise
                matches.append(PairMatch(a, b, px[a][0][both] + noise[0], px[b][0][both] + noise[1]))
    return true, recorded, times, matches


def _split(matches, seed=0):
    rng = np.random.default_rng(seed)
    fit, held = [], []
    for m in matches:
        perm = rng.permutation(len(m))
        half = len(m) // 2
        fit.append(PairMatch(m.key_a, m.key_b, m.pts_a_px[perm[:half]], m.pts_b_px[perm[:half]]))
        held.append(PairMatch(m.key_a, m.key_b, m.pts_a_px[perm[half:]], m.pts_b_px[perm[half:]]))
    return fit, held


def _median_disagreement(poses, matches):
    intr = {k: CAM for k in poses}
    return float(np.median(np.concatenate([ground_disagreement_m(poses[m.key_a], intr[m.key_a], m.pts_a_px,
                                                                 poses[m.key_b], intr[m.key_b], m.pts_b_px)
                                           for m in matches])))


def test_refinement_removes_drift_between_lines_on_held_out_tie_points():
    true, recorded, times, matches = _generated_set()
    fit, held = _split(matches)
    result = refine_poses(recorded, {k: CAM for k in recorded}, fit, times_s=times)
    assert result is not None and result.success
    before, after = _median_disagreement(recorded, held), _median_disagreement(result.poses, held)
    print(f"\ngenerated: held-out median {before:.2f} m -> {after:.2f} m ({result.tie_points} tie points)")
    assert before > 1.0
    assert after < 0.25 * before
    # the second line moves back toward the first relative to it (absolute shift is not observable)
    rel = [np.subtract(*[(c.east_m, c.north_m) for c in (result.corrections[k + 6], result.corrections[k])])
           for k in range(1, 7)]
    assert np.allclose(np.mean(rel, axis=0), (-3.0, 2.0), atol=0.8)
    # corrections stay small: within the prior's hard bound
    assert all(abs(c.east_m) < 7.6 and abs(c.north_m) < 7.6 for c in result.corrections.values())


def test_consistent_metadata_stays_put():
    true, _, times, matches = _generated_set(shift_line2_m=(0.0, 0.0), yaw_noise_deg=0.0)
    result = refine_poses(true, {k: CAM for k in true}, matches, times_s=times)
    assert result is not None
    for k, corr in result.corrections.items():
        assert abs(corr.east_m) < 0.1 and abs(corr.north_m) < 0.1 and abs(corr.yaw_deg) < 0.1, (k, corr)


def test_too_few_tie_points_keep_the_metadata():
    true, recorded, times, matches = _generated_set()
    assert refine_poses(recorded, {k: CAM for k in recorded}, matches[:1], times_s=times) is None
    assert refine_poses(recorded, {k: CAM for k in recorded}, [], times_s=times) is None


@pytest.mark.parametrize("boresight_sigma_deg", [None, 10.0])
def test_analytic_jacobian_matches_finite_differences(monkeypatch, boresight_sigma_deg):
    import vision.refine
    from scipy.optimize import least_squares
    from scipy.optimize._numdiff import approx_derivative

    checked = []

    def checking(fun, x0, *, jac, **kwargs):
        rng = np.random.default_rng(1)
        for _ in range(3):  # away from the metadata, where every term is non-zero
            x = rng.uniform(-2.0, 2.0, len(x0))
            numeric = approx_derivative(fun, x, method="3-point")
            assert np.allclose(jac(x).toarray(), numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())
            checked.append(x)
        return least_squares(fun, x0, jac=jac, **kwargs)

    monkeypatch.setattr(vision.refine, "least_squares", checking)
    _, recorded, times, matches = _generated_set()
    tilted = {k: replace(p, pitch_deg=-80.0, roll_deg=3.0) for k, p in recorded.items()}
    assert refine_poses(tilted, {k: CAM for k in tilted}, matches, times_s=times,
                        boresight_sigma_deg=boresight_sigma_deg) is not None
    assert len(checked) == 3


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="tie_sigma_m"):
        refine_poses({}, {}, [], tie_sigma_m=0.0)
    with pytest.raises(ValueError, match="boresight_sigma_deg"):
        refine_poses({}, {}, [], boresight_sigma_deg=-1.0)


@pytest.mark.parametrize("yaw, pitch, roll", [(0.0, -90.0, 0.0), (130.0, -89.9, 0.0), (250.0, -60.0, -7.0),
                                              (10.0, -85.0, 3.0)])
def test_attitude_from_rotation_inverts_camera_rotation(yaw, pitch, roll):
    rot = camera_rotation(yaw, pitch, roll)
    back = camera_rotation(*attitude_from_rotation(rot, yaw_hint_deg=yaw))
    assert np.allclose(back, rot, atol=1e-9)


def test_zero_correction_is_the_identity():
    pose = CameraPose(LAT, LON, 40.0, 123.0, -89.9, 0.0)
    out = corrected_pose(pose, PoseCorrection())
    assert np.allclose([out.lat_deg, out.lon_deg, out.height_agl_m], [pose.lat_deg, pose.lon_deg, 40.0])
    assert np.allclose(camera_rotation(out.yaw_deg, out.pitch_deg, out.roll_deg),
                       camera_rotation(pose.yaw_deg, pose.pitch_deg, pose.roll_deg), atol=1e-12)
