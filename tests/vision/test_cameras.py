"""The sensor table and the 35 mm-equivalent fallback."""

from __future__ import annotations

import pytest

from missions.camera import CAMERAS
from vision.cameras import SENSORS, intrinsics_for
from vision.errors import CameraUnknownError


def test_table_uses_the_missions_catalogue():
    assert SENSORS["FC300S"] is CAMERAS["dji-phantom3-fc300s"]
    assert SENSORS["SEQUOIA"] is CAMERAS["parrot-sequoia-rgb"]


@pytest.mark.parametrize("model,w,h,f,sensor_w", [
    ("FC300S", 4000, 2250, 3.61, 6.17),
    ("fc6310", 5472, 3648, 8.8, 13.2),
    ("Sequoia", 4608, 3456, 4.88, 6.175),
    ("IMX219", 1640, 1232, None, 3.68),
])
def test_known_models(model, w, h, f, sensor_w):
    cam = intrinsics_for(model, w, h, focal_length_mm=f)
    assert cam.sensor_width_mm == pytest.approx(sensor_w)
    assert cam.sensor_height_mm == pytest.approx(sensor_w * h / w)  # full width, square pixels
    assert cam.fx_px == pytest.approx(cam.fy_px)


def test_imx219_matches_cuav_calibration():
    """tridge/cuav's PiCamV2 params_half.json: fx = 1329.5 px at 1640 x 1232."""
    assert intrinsics_for("IMX219", 1640, 1232).fx_px == pytest.approx(1329.5, rel=0.02)


def test_portrait_image_spans_the_sensor_height():
    cam = intrinsics_for("FC300S", 2250, 4000, focal_length_mm=3.61)
    assert cam.sensor_height_mm == pytest.approx(6.17)
    assert cam.gsd_cm_px(40.0) == pytest.approx(intrinsics_for("FC300S", 4000, 2250).gsd_cm_px(40.0))


def test_35mm_fallback_matches_the_field_of_view():
    """The FC300S writes FocalLengthIn35mmFilm = 20: the fallback lands within 2% of the table."""
    table = intrinsics_for("FC300S", 4000, 3000, focal_length_mm=3.61)
    fallback = intrinsics_for("unknown", 4000, 3000, focal_35mm=20.0)
    assert fallback.fx_px == pytest.approx(table.fx_px, rel=0.02)


@pytest.mark.parametrize("model,w,h", [(None, 1640, 1232), ("X9000", 4000, 3000), ("FC300S", None, 3000)])
def test_unknown_camera_raises(model, w, h):
    with pytest.raises(CameraUnknownError):
        intrinsics_for(model, w, h, source="photo 7 (a.jpg)")
