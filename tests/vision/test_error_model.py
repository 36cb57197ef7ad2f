"""The simulated error model against the closed-form effects documented in vision.georef."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vision.error_model import PoseUncertainty, disagreement_m, ground_error_m
from vision.georef import CameraIntrinsics, CameraPose

CAM = CameraIntrinsics(3.61, 6.17, 3.47, 4000, 2250)  # DJI FC300S, 16:9
POSE = CameraPose(46.8426, -91.9945, 40.0)
CENTRE, CORNER = [2000.0, 1125.0], [0.0, 0.0]
NONE = PoseUncertainty(position_m=0.0, height_m=0.0, tilt_deg=0.0, yaw_deg=0.0, shared_height_m=0.0)


def test_no_uncertainty_no_error():
    assert np.allclose(ground_error_m(POSE, CAM, [CENTRE, CORNER], NONE, samples=20), 0.0)


def test_height_error_is_zero_at_nadir_and_dh_tan_a_off_nadir():
    unc = PoseUncertainty(position_m=0.0, height_m=1.0, tilt_deg=0.0, yaw_deg=0.0, shared_height_m=0.0)
    d = ground_error_m(POSE, CAM, [CENTRE, CORNER], unc, samples=4000)
    corner_range = math.hypot(2000.0 / CAM.fx_px, 1125.0 / CAM.fy_px)  # tan a at the corner
    assert np.median(d[:, 0]) == pytest.approx(0.0, abs=1e-9)
    # |N(0, 1)| * tan a: median 0.674 tan a
    assert np.median(d[:, 1]) == pytest.approx(0.674 * corner_range, rel=0.05)


def test_gnss_drift_cancels_between_photos_seconds_apart_not_minutes():
    unc = PoseUncertainty(position_m=1.5, position_tau_s=300.0, height_m=0.0, tilt_deg=0.0, yaw_deg=0.0,
                          shared_height_m=0.0)
    pts = np.array([CENTRE])
    near = disagreement_m(POSE, CAM, pts, POSE, CAM, pts, unc, dt_s=7.0, samples=4000)
    far = disagreement_m(POSE, CAM, pts, POSE, CAM, pts, unc, dt_s=600.0, samples=4000)
    independent = disagreement_m(POSE, CAM, pts, POSE, CAM, pts, unc, samples=4000)
    # relative sigma per axis 1.5 sqrt(2 (1 - exp(-dt / tau))); Rayleigh median 1.1774 sigma
    for d, dt in ((near, 7.0), (far, 600.0)):
        sigma = 1.5 * math.sqrt(2.0 * (1.0 - math.exp(-dt / 300.0)))
        assert np.median(d) == pytest.approx(1.1774 * sigma, rel=0.07)
    assert np.median(independent) == pytest.approx(1.1774 * 1.5 * math.sqrt(2.0), rel=0.07)


def test_bad_uncertainties_are_refused():
    with pytest.raises(ValueError, match="tilt_deg"):
        PoseUncertainty(tilt_deg=-1.0)
    with pytest.raises(ValueError, match="position_tau_s"):
        PoseUncertainty(position_tau_s=0.0)
