"""Fixtures of the vision tests: Photo rows built from the bundled photos' EXIF_VERIFY.jsonl.

The photo importer (flight_logs) is tested on its own; here the rows are made directly from
the values the shared data set read from each real photo, with the importer's conventions
(Pix4D ``Camera:Pitch`` 0 = nadir becomes gimbal pitch - 90; DJI XMP as written; capture time
from the camera clock with the set's UTC offset). The data root of each test links to the
bundled photos, so ``stored_path`` points at the real files.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from flight_logs.models import Photo
from vision.images import load_photo_image

#: UTC offset of each set's camera clock: Brighton Beach (Duluth MN) in June is CDT, -5 h;
#: the Sequoia writes GPS time (its DateTime equals GPSTimeStamp, UTC).
UTC_OFFSET_H = {"brighton_beach_dji_fc300s": -5.0, "garfield_park_sequoia_rgb": 0.0}


def _number(text):
    return None if text in (None, "") else float(text)


def _photo_row(set_name: str, record: dict, samples: Path) -> Photo:
    xmp = record["xmp"]
    taken = None
    if record["datetime"]:
        local = dt.datetime.strptime(record["datetime"], "%Y:%m:%d %H:%M:%S")
        taken = (local - dt.timedelta(hours=UTC_OFFSET_H[set_name])).replace(tzinfo=dt.timezone.utc)
    row = dict(
        sha256=f"{set_name}/{record['file']}", stored_path=f"samples/photos/{set_name}/{record['file']}",
        original_name=record["file"], photo_set=set_name, taken_utc=taken, lat_deg=record["lat"],
        lon_deg=record["lon"], alt_amsl_m=record["alt"], width_px=int(record["w"]) if record["w"] else None,
        height_px=int(record["h"]) if record["h"] else None, camera_make=record["make"] or None,
        camera_model=record["model"] or None, position_source="exif")
    if "drone-dji:RelativeAltitude" in xmp:
        row.update(alt_rel_m=_number(xmp["drone-dji:RelativeAltitude"]),
                   gimbal_pitch_deg=_number(xmp["drone-dji:GimbalPitchDegree"]),
                   gimbal_yaw_deg=_number(xmp["drone-dji:GimbalYawDegree"]) % 360.0,
                   gimbal_roll_deg=_number(xmp["drone-dji:GimbalRollDegree"]),
                   flight_yaw_deg=_number(xmp["drone-dji:FlightYawDegree"]) % 360.0, focal_length_mm=3.61)
    elif "Camera:Pitch" in xmp:
        head = (samples / "photos" / set_name / record["file"]).read_bytes()[:65536]
        roll = re.search(rb'Camera:Roll="([-0-9.eE]+)"', head)
        row.update(gimbal_pitch_deg=_number(xmp["Camera:Pitch"]) - 90.0,
                   gimbal_yaw_deg=_number(xmp["Camera:Yaw"]) % 360.0,
                   gimbal_roll_deg=float(roll.group(1)) if roll else None, focal_length_mm=4.88)
    return Photo(**row)


@pytest.fixture
def data_root(settings, samples) -> Path:
    """The test's data root, with ``samples/`` linking to the bundled real data."""
    link = settings.data_dir / "samples"
    if not link.exists():
        link.symlink_to(samples, target_is_directory=True)
    return settings.data_dir


@pytest.fixture(scope="session")
def exif_records(samples):
    """``set name -> list of EXIF_VERIFY.jsonl records`` of the bundled photo sets."""
    out = {}
    for path in sorted((samples / "photos").glob("*/EXIF_VERIFY.jsonl")):
        out[path.parent.name] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


@pytest.fixture
def photo_rows(samples, exif_records):
    """Factory: unsaved Photo rows of a set (optionally only some files), in file order."""
    def make(set_name: str, files=None) -> list[Photo]:
        records = exif_records[set_name]
        if files is not None:
            records = [r for r in records if r["file"] in set(files)]
        return [_photo_row(set_name, r, samples) for r in records]
    return make


@pytest.fixture(scope="session")
def working_image(samples):
    """Cached loader of a bundled photo at working scale: ``working_image(set, file)``."""
    cache = {}

    def load(set_name: str, file_name: str):
        key = (set_name, file_name)
        if key not in cache:
            cache[key] = load_photo_image(samples / "photos" / set_name / file_name)
        return cache[key]
    return load


@pytest.fixture(scope="session")
def placed_sets(samples, exif_records):
    """Cached ``placed_sets(set_name)``: the set's rows (ids 1..n in file order), working images,
    SIFT keypoints, and :func:`vision.placement.place_photo_set`'s placements, errors and notes."""
    from vision.features import detect_features
    from vision.placement import place_photo_set

    cache = {}

    def place(set_name: str):
        if set_name not in cache:
            rows = [_photo_row(set_name, r, samples) for r in exif_records[set_name]]
            for i, row in enumerate(rows, start=1):
                row.id = i
            rows.sort(key=lambda p: (p.taken_utc, p.id))
            images = {p.id: load_photo_image(samples / "photos" / set_name / p.original_name) for p in rows}
            features = {pid: detect_features(im.pixels) for pid, im in images.items()}
            notes: list[str] = []
            placements, errors = place_photo_set(rows, images, features, note=notes.append)
            cache[set_name] = {"rows": rows, "images": images, "features": features,
                               "placements": placements, "errors": errors, "notes": notes}
        return cache[set_name]
    return place
