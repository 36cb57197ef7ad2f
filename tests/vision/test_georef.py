"""Pixel <-> ground on the flat-ground model: sizes, conventions, round trips, errors."""

from __future__ import annotations

import numpy as np
import pytest

from patrol.geodesy import LocalProjection, distance_m
from vision.errors import GeoreferenceError
from vision.georef import (CameraIntrinsics, CameraPose, camera_rotation, footprint, ground_to_pixel,
                           pixel_to_enu, pixel_to_ground)

FC300S_16_9 = CameraIntrinsics(3.61, 6.17, 6.17 * 2250 / 4000, 4000, 2250)
P4P = CameraIntrinsics(8.8, 13.2, 8.8, 5472, 3648)


@pytest.mark.parametrize("cam,height_m", [(FC300S_16_9, 40.0), (P4P, 100.0), (P4P, 37.5)])
@pytest.mark.parametrize("yaw_deg", [0.0, 45.0, 213.0])
def test_nadir_footprint_is_the_gsd_size(cam, height_m, yaw_deg):
    gsd_m = cam.gsd_cm_px(height_m) / 100.0
    poly = footprint(CameraPose(46.8426, -91.9945, height_m, yaw_deg=yaw_deg), cam)
    corners = list(poly.exterior.coords)
    sides = sorted(distance_m(*corners[i], *corners[i + 1]) for i in range(4))
    assert len(corners) == 5
    assert sides[0] == pytest.approx(gsd_m * cam.height_px, rel=1e-3)
    assert sides[3] == pytest.approx(gsd_m * cam.width_px, rel=1e-3)
    assert poly.contains(poly.centroid)


def test_nadir_yaw_points_the_image_top():
    """Yaw 90: the top edge of the image is east of the nadir point, its right edge south."""
    pose = CameraPose(30.7005, 121.0185, 50.0, yaw_deg=90.0)
    e, n = pixel_to_enu(pose, P4P, [P4P.cx_px, P4P.width_px], [0.0, P4P.cy_px])
    assert e[0] > 20.0 and abs(n[0]) < 1e-6  # top centre: east
    assert n[1] < -30.0 and abs(e[1]) < 1e-6  # right centre: south


def test_forward_pitch_looks_ahead_along_yaw():
    """Pitch -60 with yaw 0 looks north: the image centre lies h / tan(60 deg) north."""
    pose = CameraPose(30.7005, 121.0185, 50.0, yaw_deg=0.0, pitch_deg=-60.0)
    e, n = pixel_to_enu(pose, P4P, P4P.cx_px, P4P.cy_px)
    assert float(n) == pytest.approx(50.0 / np.tan(np.radians(60.0)), rel=1e-9)
    assert float(e) == pytest.approx(0.0, abs=1e-9)


def test_roll_is_a_rotation_about_the_optical_axis():
    r0 = camera_rotation(30.0, -90.0, 0.0)
    r1 = camera_rotation(30.0, -90.0, 10.0)
    np.testing.assert_allclose(r0[:, 2], r1[:, 2], atol=1e-12)
    np.testing.assert_allclose(r1.T @ r1, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("pose", [
    CameraPose(46.8426, -91.9945, 40.0, yaw_deg=45.0, pitch_deg=-89.9),
    CameraPose(-35.36, 149.16, 120.0, yaw_deg=301.0, pitch_deg=-70.0, roll_deg=4.0),
    CameraPose(41.43, -81.606, 102.0, yaw_deg=343.2, pitch_deg=-84.8, roll_deg=0.02),
])
def test_pixel_ground_pixel_round_trip(pose):
    rng = np.random.default_rng(7)
    u = rng.uniform(0, FC300S_16_9.width_px, 200)
    v = rng.uniform(0, FC300S_16_9.height_px, 200)
    lon, lat = pixel_to_ground(pose, FC300S_16_9, u, v)
    u2, v2 = ground_to_pixel(pose, FC300S_16_9, lon, lat)
    np.testing.assert_allclose(u2, u, atol=1e-4)
    np.testing.assert_allclose(v2, v, atol=1e-4)


def test_oblique_footprint_is_clipped_at_the_horizon_and_range():
    pose = CameraPose(30.7005, 121.0185, 50.0, yaw_deg=0.0, pitch_deg=-5.0)
    poly = footprint(pose, P4P, max_range_m=500.0)
    area = LocalProjection.for_geometry(poly).project(poly).area
    assert 0 < area < np.pi * 500.0 ** 2
    with pytest.raises(GeoreferenceError, match="horizon"):
        pixel_to_ground(pose, P4P, P4P.cx_px, 0.0)


def test_looking_up_sees_no_ground():
    with pytest.raises(GeoreferenceError, match="no part of the image"):
        footprint(CameraPose(30.7, 121.0, 50.0, pitch_deg=40.0), P4P)


@pytest.mark.parametrize("kwargs,match", [
    ({"height_agl_m": 0.0}, "height above ground"),
    ({"height_agl_m": float("nan")}, "height above ground"),
    ({"lat_deg": 95.0}, "not WGS84"),
    ({"yaw_deg": float("inf")}, "yaw_deg"),
])
def test_pose_rejects_bad_values(kwargs, match):
    args = {"lat_deg": 30.0, "lon_deg": 121.0, "height_agl_m": 40.0} | kwargs
    with pytest.raises(GeoreferenceError, match=match):
        CameraPose(**args)


def test_intrinsics_reject_bad_values():
    with pytest.raises(GeoreferenceError, match="focal_length_mm"):
        CameraIntrinsics(0.0, 6.17, 4.55, 4000, 3000)
