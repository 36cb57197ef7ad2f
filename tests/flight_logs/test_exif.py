"""Photo metadata (EXIF, XMP, JPEG structure) on the bundled real photos and damaged copies.

The reference is each photo folder's ``EXIF_VERIFY.jsonl``, what the shared data set read
from each photo with another tool.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import random
import statistics
from pathlib import Path

import exifread
import pytest

from flight_logs.errors import PhotoMetadataError
from flight_logs.photo_metadata import PhotoMetadata, capture_time_from_name, read_photo_metadata
from patrol.geodesy import WGS84

PHOTO_SETS = ("brighton_beach_dji_fc300s", "garfield_park_sequoia_rgb", "cuav_exif_samples")
SAMPLES = Path(__file__).resolve().parents[2] / "flight_logs" / "samples"


def _verify_rows() -> list[tuple[str, dict]]:
    rows = []
    for name in PHOTO_SETS:
        with open(SAMPLES / "photos" / name / "EXIF_VERIFY.jsonl", encoding="utf-8") as f:
            rows += [(name, json.loads(line)) for line in f if line.strip()]
    return rows


VERIFY = _verify_rows()


def test_every_bundled_photo_is_listed_in_exif_verify():
    for name in PHOTO_SETS:
        listed = {row["file"] for set_name, row in VERIFY if set_name == name}
        on_disk = {p.name for p in (SAMPLES / "photos" / name).iterdir() if p.suffix.lower() == ".jpg"}
        assert listed == on_disk


@pytest.mark.parametrize("set_name,ref", VERIFY, ids=[row["file"] for _, row in VERIFY])
def test_reading_matches_exif_verify(set_name, ref):
    meta = read_photo_metadata(SAMPLES / "photos" / set_name / ref["file"])
    assert meta.file_name == ref["file"]
    assert meta.lat_deg == pytest.approx(ref["lat"], abs=1e-6)
    assert meta.lon_deg == pytest.approx(ref["lon"], abs=1e-6)
    assert meta.alt_amsl_m == pytest.approx(ref["alt"], abs=0.01)
    assert (meta.make or "") == ref["make"]
    assert (meta.model or "") == ref["model"]
    written = meta.datetime_original.strftime("%Y:%m:%d %H:%M:%S") if meta.datetime_original else ""
    assert written == ref["datetime"]
    if ref["w"]:
        assert (meta.width_px, meta.height_px) == (int(ref["w"]), int(ref["h"]))
    for key, value in ref["xmp"].items():
        assert meta.xmp[key] == value, key
    # the attitude fields follow the XMP by the documented conventions
    xmp = ref["xmp"]
    if "drone-dji:GimbalPitchDegree" in xmp:
        assert meta.attitude_source == "drone-dji"
        assert meta.gimbal_pitch_deg == pytest.approx(float(xmp["drone-dji:GimbalPitchDegree"]))
        assert meta.gimbal_yaw_deg == pytest.approx(float(xmp["drone-dji:GimbalYawDegree"]) % 360)
        assert meta.gimbal_roll_deg == pytest.approx(float(xmp["drone-dji:GimbalRollDegree"]))
        assert meta.flight_yaw_deg == pytest.approx(float(xmp["drone-dji:FlightYawDegree"]) % 360)
        assert meta.alt_rel_m == pytest.approx(float(xmp["drone-dji:RelativeAltitude"]))
    elif "Camera:Pitch" in xmp:
        assert meta.attitude_source == "pix4d-camera"
        assert meta.gimbal_pitch_deg == pytest.approx(float(xmp["Camera:Pitch"]) - 90.0)
        assert meta.gimbal_yaw_deg == pytest.approx(float(xmp["Camera:Yaw"]) % 360)
        assert meta.flight_yaw_deg is None and meta.alt_rel_m is None
    else:
        assert meta.attitude_source is None and meta.gimbal_pitch_deg is None


def test_exif_fields_agree_with_exifread_on_the_whole_file():
    """The EXIF block is read from the segment we locate; ExifRead on the whole file agrees."""
    path = SAMPLES / "photos" / "garfield_park_sequoia_rgb" / "IMG_161122_163234_0000_RGB.JPG"
    meta = read_photo_metadata(path)
    with open(path, "rb") as f:
        tags = exifread.process_file(f, details=False)
    assert meta.focal_length_mm == pytest.approx(float(tags["EXIF FocalLength"].values[0]))
    assert meta.focal_length_35mm == tags["EXIF FocalLengthIn35mmFilm"].values[0]
    hms = [float(v) for v in tags["GPS GPSTimeStamp"].values]
    assert meta.taken_utc == dt.datetime(2016, 11, 22, tzinfo=dt.timezone.utc) + dt.timedelta(
        hours=hms[0], minutes=hms[1], seconds=hms[2])


@pytest.mark.parametrize("set_name,nadir_tolerance_deg,max_median_crab_deg", [
    ("brighton_beach_dji_fc300s", 1.0, 5.0),
    ("garfield_park_sequoia_rgb", 11.0, 30.0),
])
def test_attitude_conventions_fit_the_flight(set_name, nadir_tolerance_deg, max_median_crab_deg):
    """Nadir mapping sets: pitch near -90, yaw (top of image) along the course flown."""
    metas = [read_photo_metadata(p, local_utc_offset_h=-5)
             for p in sorted((SAMPLES / "photos" / set_name).glob("*.JPG"))]
    assert all(abs(m.gimbal_pitch_deg + 90.0) <= nadir_tolerance_deg for m in metas)
    crab = []
    for a, b in zip(metas, metas[1:]):
        course, _, dist_m = WGS84.inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)
        if (b.taken_utc - a.taken_utc).total_seconds() < 10 and dist_m > 5:
            crab.append(abs((a.gimbal_yaw_deg - course + 180.0) % 360.0 - 180.0))
    assert len(crab) >= 10
    assert statistics.median(crab) < max_median_crab_deg


def test_time_sources():
    sequoia = read_photo_metadata(SAMPLES / "photos" / "garfield_park_sequoia_rgb" / "IMG_161122_163234_0000_RGB.JPG")
    assert sequoia.time_source == "exif_gps"
    # the Sequoia's clock runs on UTC: DateTimeOriginal+SubSec is within a second of GPS time
    assert abs((sequoia.datetime_original.replace(tzinfo=dt.timezone.utc) - sequoia.taken_utc).total_seconds()) < 1

    dji_path = SAMPLES / "photos" / "brighton_beach_dji_fc300s" / "DJI_0018.JPG"
    unzoned = read_photo_metadata(dji_path)
    assert unzoned.taken_utc is None and unzoned.time_source is None
    assert unzoned.datetime_original == dt.datetime(2016, 6, 23, 16, 31, 59)
    assert any("no time zone" in p for p in unzoned.problems)
    cdt = read_photo_metadata(dji_path, local_utc_offset_h=-5)
    assert cdt.time_source == "exif_local"
    assert cdt.taken_utc == dt.datetime(2016, 6, 23, 21, 31, 59, tzinfo=dt.timezone.utc)

    cuav = read_photo_metadata(SAMPLES / "photos" / "cuav_exif_samples" / "exifimg2018021100040450Z.jpg")
    assert cuav.taken_utc is None and cuav.datetime_original is None and cuav.has_position


def test_photo_without_exif_has_no_position_and_is_not_an_error():
    path = SAMPLES / "telemetry" / "cuav_sitl_plane_with_images" / "images" / "2018080501004480Z.jpg"
    meta = read_photo_metadata(path)
    assert not meta.has_position and meta.taken_utc is None and meta.make is None
    assert (meta.width_px, meta.height_px) == (1640, 1232)
    assert meta.problems == ()


def test_capture_time_from_cuav_names():
    names = sorted(p.name for p in (SAMPLES / "telemetry" / "cuav_sitl_plane_with_images" / "images").glob("*.jpg"))
    times = [capture_time_from_name(n) for n in names]
    assert len(times) == 18 and all(t is not None and t.tzinfo is dt.timezone.utc for t in times)
    assert times == sorted(times)
    assert all(t.strftime("%Y%m%d%H%M%S") + f"{t.microsecond // 10_000:02d}Z.jpg" == n for t, n in zip(times, names))
    assert capture_time_from_name("IMG_161122_163234_0000_RGB.JPG") is None
    assert capture_time_from_name("x12018080501004480Z.jpg") is None  # 17 digits: not the pattern


# --------------------------------------------------------------------------- damaged files
DJI = SAMPLES / "photos" / "brighton_beach_dji_fc300s" / "DJI_0018.JPG"


def _exif_block(data: bytes) -> tuple[int, int]:
    """File offset of the TIFF structure in the first APP1 Exif segment, and its length."""
    i = data.index(b"\xff\xe1")
    length = int.from_bytes(data[i + 2:i + 4], "big")
    assert data[i + 4:i + 10] == b"Exif\x00\x00"
    return i + 10, length - 8


def _tags(data: bytes) -> dict:
    base, length = _exif_block(data)
    return exifread.process_file(io.BytesIO(data[base:base + length]), details=False)


def _write(tmp_path: Path, data: bytes | bytearray, name: str = "damaged.jpg") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def test_corrupt_tiff_header(tmp_path):
    data = bytearray(DJI.read_bytes())
    base, _ = _exif_block(data)
    data[base:base + 2] = b"XX"
    with pytest.raises(PhotoMetadataError, match=rf"damaged\.jpg: corrupt EXIF block at byte {base}: bad TIFF header"):
        read_photo_metadata(_write(tmp_path, data))


def test_zero_denominator_in_gps_latitude(tmp_path):
    data = bytearray(DJI.read_bytes())
    base, _ = _exif_block(data)
    lat = _tags(bytes(data))["GPS GPSLatitude"]
    at = base + lat.field_offset
    data[at + 4:at + 8] = b"\x00\x00\x00\x00"  # denominator of the degrees
    with pytest.raises(PhotoMetadataError, match=rf"corrupt EXIF field GPSLatitude at byte {at}: zero denominator"):
        read_photo_metadata(_write(tmp_path, data))


def test_gps_pointer_past_the_block(tmp_path):
    data = bytearray(DJI.read_bytes())
    base, length = _exif_block(data)
    pointer = _tags(bytes(data))["Image GPSInfo"]
    at = base + pointer.field_offset
    data[at:at + 4] = (length + 1000).to_bytes(4, "little" if data[base] == ord("I") else "big")
    with pytest.raises(PhotoMetadataError, match=rf"corrupt EXIF field GPSInfo at byte {at}: points to byte"):
        read_photo_metadata(_write(tmp_path, data))


def test_unknown_field_type(tmp_path):
    data = bytearray(DJI.read_bytes())
    base, _ = _exif_block(data)
    big = data[base] == ord("M")
    ifd0 = int.from_bytes(data[base + 4:base + 8], "big" if big else "little")
    first_entry = base + ifd0 + 2
    data[first_entry + 2:first_entry + 4] = b"\x00\x63"[::1 if big else -1]  # field type 99
    with pytest.raises(PhotoMetadataError, match=rf"corrupt EXIF block at byte {base}: Unknown field type 99"):
        read_photo_metadata(_write(tmp_path, data))


def test_random_bit_flips_in_app1_raise_only_photo_metadata_error(tmp_path):
    """Seeded single-bit flips over the EXIF structure: read or PhotoMetadataError, never a crash."""
    original = DJI.read_bytes()
    reference = read_photo_metadata(DJI)
    base, _ = _exif_block(original)
    rng = random.Random(20240611)
    logging.getLogger("exifread").disabled = True
    outcomes = {"error": 0, "same": 0, "changed": 0}
    try:
        for _ in range(150):
            data = bytearray(original)
            data[rng.randrange(base - 10, base + 1800)] ^= 1 << rng.randrange(8)
            try:
                meta = read_photo_metadata(_write(tmp_path, data))
            except PhotoMetadataError as err:
                assert "damaged.jpg" in str(err) and "byte" in str(err)
                outcomes["error"] += 1
            else:
                assert isinstance(meta, PhotoMetadata)
                same = (meta.lat_deg, meta.lon_deg, meta.alt_amsl_m) == (
                    reference.lat_deg, reference.lon_deg, reference.alt_amsl_m)
                outcomes["same" if same else "changed"] += 1
    finally:
        logging.getLogger("exifread").disabled = False
    assert outcomes["error"] >= 15  # damage to the structure is caught, not silently read
    assert outcomes["same"] >= 75   # flips in bytes nobody reads do not reject the photo


def test_app1_length_past_end_of_file(tmp_path):
    data = DJI.read_bytes()
    cut = _write(tmp_path, data[:1000])  # truncated inside the EXIF segment
    with pytest.raises(PhotoMetadataError, match=r"APP1 segment at byte 2 declares \d+ bytes, past the end of the file \(1000 bytes\)"):
        read_photo_metadata(cut)


def test_truncated_image_data_keeps_metadata_with_a_problem(tmp_path):
    data = DJI.read_bytes()
    cut = _write(tmp_path, data[:len(data) // 2])
    meta = read_photo_metadata(cut)
    assert meta.lat_deg == pytest.approx(read_photo_metadata(DJI).lat_deg)
    assert any("truncated" in p and "EOI" in p for p in meta.problems)


@pytest.mark.parametrize("content,message", [
    (b"", "empty file"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a JPEG: starts with 8950"),
    (b"time_s,lat,lon\n0,1,2\n", "not a JPEG"),
])
def test_not_a_jpeg(tmp_path, content, message):
    with pytest.raises(PhotoMetadataError, match=message):
        read_photo_metadata(_write(tmp_path, content, "fake.jpg"))


def test_corrupt_xmp(tmp_path):
    data = bytearray(DJI.read_bytes())
    i = data.index(b'drone-dji:GimbalPitchDegree="')
    data[i + 4] = ord("<")  # a '<' inside an attribute name
    with pytest.raises(PhotoMetadataError, match=r"XMP packet in the APP1 segment at byte \d+ is not well-formed XML"):
        read_photo_metadata(_write(tmp_path, data))
