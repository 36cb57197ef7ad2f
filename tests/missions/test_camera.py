import math

import exifread
import pytest

from missions import CAMERAS, Camera, MissionError

P4P = CAMERAS["dji-phantom4pro"]


def test_gsd_of_the_one_inch_camera_at_100_m():
    # OpenDroneMap gsd.py doctest: 13.2 mm sensor, 8.8 mm lens, 5472 px at 100 m -> 2.74 cm/px
    assert round(P4P.gsd_cm_px(100.0), 2) == 2.74
    assert P4P.gsd_cm_px(50.0) == pytest.approx(P4P.gsd_cm_px(100.0) / 2)


@pytest.mark.parametrize("name", sorted(CAMERAS))
def test_altitude_and_gsd_invert(name):
    cam = CAMERAS[name]
    for alt in (30.0, 80.0, 120.0):
        assert cam.alt_for_gsd_m(cam.gsd_cm_px(alt)) == pytest.approx(alt)


def test_footprint_spacing_and_trigger_distance_at_80_m():
    across, along = P4P.footprint_m(80.0)
    # image width across the track: 13.2 / 8.8 * 80 = 120 m, height along: 8.8 / 8.8 * 80 = 80 m
    assert (across, along) == pytest.approx((120.0, 80.0))
    assert P4P.line_spacing_m(80.0, 0.65) == pytest.approx(120.0 * 0.35)
    assert P4P.trigger_distance_m(80.0, 0.75) == pytest.approx(80.0 * 0.25)
    # footprint in pixels times GSD is the footprint in metres
    assert across == pytest.approx(P4P.gsd_cm_px(80.0) * P4P.image_width_px / 100.0)


@pytest.mark.parametrize("overlap", [-0.1, 1.0, 1.5, math.nan])
def test_overlap_out_of_range_is_refused(overlap):
    with pytest.raises(MissionError, match="side_overlap"):
        P4P.line_spacing_m(80.0, overlap)
    with pytest.raises(MissionError, match="front_overlap"):
        P4P.trigger_distance_m(80.0, overlap)


def test_bad_camera_and_altitude_are_refused():
    with pytest.raises(MissionError, match="focal_length_mm"):
        Camera("broken", 13.2, 8.8, 0.0, 5472, 3648)
    with pytest.raises(MissionError, match="altitude"):
        P4P.gsd_cm_px(0.0)
    with pytest.raises(MissionError, match="GSD"):
        P4P.alt_for_gsd_m(-1.0)


def _exif(path):
    with open(path, "rb") as fh:
        return exifread.process_file(fh, details=False)


def _ratio(tag) -> float:
    value = tag.values[0]
    return float(value.num) / float(value.den)


def test_catalogue_matches_the_exif_of_the_bundled_real_photos(samples):
    fc300s = _exif(samples / "photos" / "brighton_beach_dji_fc300s" / "DJI_0018.JPG")
    assert str(fc300s["Image Model"]) == "FC300S"
    assert CAMERAS["dji-phantom3-fc300s"].focal_length_mm == pytest.approx(
        _ratio(fc300s["EXIF FocalLength"]), abs=0.005)
    seq = _exif(samples / "photos" / "garfield_park_sequoia_rgb" / "IMG_161122_163234_0000_RGB.JPG")
    cam = CAMERAS["parrot-sequoia-rgb"]
    px_per_mm = _ratio(seq["EXIF FocalPlaneXResolution"])  # unit 4 = millimetres
    assert str(seq["EXIF FocalPlaneResolutionUnit"]) == "4"
    assert cam.focal_length_mm == pytest.approx(_ratio(seq["EXIF FocalLength"]), abs=0.005)
    assert cam.sensor_width_mm == pytest.approx(cam.image_width_px / px_per_mm, abs=0.005)
    assert cam.image_width_px == int(str(seq["EXIF ExifImageWidth"]))
