"""Photo folder import: storage by hash, EXIF positions, geotagging from a flight, bad files."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from pymavlink import mavutil

from flight_logs.errors import ArchiveError
from flight_logs.models import CameraPosition, Flight, Photo, TrackPoint, Vehicle
from flight_logs.photo_metadata import capture_time_from_name
from flight_logs.photos import import_photo_folder
from flight_logs.store import file_sha256, resolve_stored
from patrol.geodesy import distance_m

UTC = dt.timezone.utc
CUAV_IMAGES = ("telemetry", "cuav_sitl_plane_with_images", "images")


def _utc(t_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_s, UTC)


def _read_tlog(path: Path) -> tuple[list[tuple], list[tuple]]:
    """GLOBAL_POSITION_INT fixes and CAMERA_FEEDBACK shots of a tlog, timed by the tlog stamps (UTC)."""
    mlog = mavutil.mavlink_connection(str(path))
    fixes, shots = [], []
    try:
        while (msg := mlog.recv_match(type=["GLOBAL_POSITION_INT", "CAMERA_FEEDBACK"])) is not None:
            if msg.get_type() == "CAMERA_FEEDBACK":
                shots.append((_utc(msg._timestamp), msg.lat / 1e7, msg.lng / 1e7, msg.alt_msl, msg.alt_rel,
                              msg.roll, msg.pitch, msg.yaw, msg.img_idx))
            elif not (msg.lat == 0 and msg.lon == 0):  # skip fixes before GPS lock
                fixes.append((_utc(msg._timestamp), msg.lat / 1e7, msg.lon / 1e7, msg.relative_alt / 1e3,
                              msg.alt / 1e3, None if msg.hdg == 65535 else msg.hdg / 100.0))
    finally:
        mlog.close()
    return fixes, shots


@pytest.fixture(scope="module")
def cuav_track(samples) -> list[tuple]:
    fixes, _ = _read_tlog(samples / "telemetry" / "cuav_sitl_plane_with_images" / "flight.tlog")
    return fixes


@pytest.fixture(scope="module")
def survey_log(samples) -> tuple[list[tuple], list[tuple]]:
    return _read_tlog(samples / "telemetry" / "arducopter_sitl_pinghu_survey" / "survey_camera.tlog")


def _add_flight(session, key: str, fixes: list[tuple], shots: list[tuple] = ()) -> Flight:
    vehicle = session.scalar(sa.select(Vehicle).where(Vehicle.key == key)) or Vehicle(key=key, name=key, system_id=1)
    flight = Flight(vehicle=vehicle, start_utc=fixes[0][0], end_utc=fixes[-1][0],
                    duration_s=(fixes[-1][0] - fixes[0][0]).total_seconds())
    session.add(flight)
    session.add_all(TrackPoint(flight=flight, t_utc=t, lat_deg=lat, lon_deg=lon, alt_rel_m=rel, alt_amsl_m=amsl,
                               heading_deg=hdg) for t, lat, lon, rel, amsl, hdg in fixes)
    session.add_all(CameraPosition(flight=flight, t_utc=t, lat_deg=lat, lon_deg=lon, alt_amsl_m=amsl, alt_rel_m=rel,
                                   roll_deg=roll, pitch_deg=pitch, yaw_deg=yaw, img_idx=idx)
                    for t, lat, lon, amsl, rel, roll, pitch, yaw, idx in shots)
    session.flush()
    return flight


def _jpegs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))


def _stored_files(data_dir: Path) -> list[Path]:
    root = data_dir / "raw" / "photo"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize("set_name", ["brighton_beach_dji_fc300s", "garfield_park_sequoia_rgb", "cuav_exif_samples"])
def test_bundled_photo_sets_import_with_exif_positions_and_reimport_creates_nothing(session, settings, samples, set_name):
    folder = samples / "photos" / set_name
    files = _jpegs(folder)
    result = import_photo_folder(session, settings.data_dir, folder, local_utc_offset_h=-5)
    assert result.new_count == len(files) == len(result.photos) == _count(session, Photo)
    assert result.skipped == []
    assert {p.original_name for p in result.photos} == {f.name for f in files}
    for photo in result.photos:
        assert photo.position_source == "exif" and photo.photo_set == set_name
        assert photo.taken_utc is not None and photo.time_source in ("exif_gps", "exif_local", "file_name")
        stored = resolve_stored(settings.data_dir, photo.stored_path)
        assert file_sha256(stored) == photo.sha256 == file_sha256(folder / photo.original_name)
        assert photo.width_px and photo.height_px
    times = [p.taken_utc for p in result.photos]
    assert times == sorted(times)
    stored_before = _stored_files(settings.data_dir)
    assert len(stored_before) == len(files)

    again = import_photo_folder(session, settings.data_dir, folder, local_utc_offset_h=-5)
    assert again.new_count == 0 and again.updated_count == 0
    assert _count(session, Photo) == len(files) == len(again.photos)
    assert [p.id for p in again.photos] == [p.id for p in result.photos]
    assert _stored_files(settings.data_dir) == stored_before


def test_zoneless_camera_time_is_not_guessed(session, settings, samples):
    folder = samples / "photos" / "brighton_beach_dji_fc300s"
    result = import_photo_folder(session, settings.data_dir, folder)
    assert result.new_count == 18 and result.located_count == 18
    assert all(p.taken_utc is None and p.time_source is None for p in result.photos)
    assert sum("no capture time" in w for w in result.warnings) == 18
    assert [p.original_name for p in result.photos] == sorted(p.original_name for p in result.photos)


def test_cuav_images_are_geotagged_from_the_flight_track(session, settings, samples, cuav_track):
    flight = _add_flight(session, "cuav_sitl_plane#1", cuav_track)
    folder = samples.joinpath(*CUAV_IMAGES)
    result = import_photo_folder(session, settings.data_dir, folder)  # flight found by time
    assert result.new_count == 18 == len(_jpegs(folder)) and result.skipped == [] and result.warnings == []
    lats = [f[1] for f in cuav_track]
    lons = [f[2] for f in cuav_track]
    rels = [f[3] for f in cuav_track]
    for photo in result.photos:
        assert photo.position_source == "track" and photo.flight_id == flight.id
        assert photo.time_source == "file_name" and photo.taken_utc == capture_time_from_name(photo.original_name)
        assert min(lats) <= photo.lat_deg <= max(lats) and min(lons) <= photo.lon_deg <= max(lons)
        assert min(rels) <= photo.alt_rel_m <= max(rels)
        assert photo.alt_amsl_m is not None and 0 <= photo.flight_yaw_deg < 360
        # between the two fixes around its time
        before = max((f for f in cuav_track if f[0] <= photo.taken_utc), key=lambda f: f[0])
        after = min((f for f in cuav_track if f[0] >= photo.taken_utc), key=lambda f: f[0])
        span_m = distance_m(before[2], before[1], after[2], after[1])
        assert distance_m(before[2], before[1], photo.lon_deg, photo.lat_deg) <= span_m + 0.01
        assert distance_m(after[2], after[1], photo.lon_deg, photo.lat_deg) <= span_m + 0.01
    assert [p.taken_utc for p in result.photos] == sorted(p.taken_utc for p in result.photos)


def test_photos_imported_before_their_flight_are_located_on_reimport(session, settings, samples, cuav_track):
    folder = samples.joinpath(*CUAV_IMAGES)
    first = import_photo_folder(session, settings.data_dir, folder)
    assert first.new_count == 18 and first.located_count == 0
    assert all(p.lat_deg is None and p.position_source is None for p in first.photos)  # stored all the same
    assert sum("no flight in the archive covers" in w for w in first.warnings) == 18
    flight = _add_flight(session, "cuav_sitl_plane#1", cuav_track)
    second = import_photo_folder(session, settings.data_dir, folder)
    assert second.new_count == 0 and second.updated_count == 18 and second.located_count == 18
    assert _count(session, Photo) == 18
    assert {p.flight_id for p in second.photos} == {flight.id}


def test_clock_offset_moves_photos_out_of_the_flight(session, settings, samples, cuav_track):
    _add_flight(session, "cuav_sitl_plane#1", cuav_track)
    folder = samples.joinpath(*CUAV_IMAGES)
    result = import_photo_folder(session, settings.data_dir, folder, clock_offset_s=-3600.0)
    assert result.new_count == 18 and result.located_count == 0
    first = min(capture_time_from_name(p.name) for p in _jpegs(folder))
    assert result.photos[0].taken_utc == first - dt.timedelta(hours=1)


def test_camera_feedback_is_preferred_to_the_track(session, settings, samples, survey_log, tmp_path):
    """Mechanism test on generated names: real no-EXIF images renamed to CAMERA_FEEDBACK times."""
    fixes, shots = survey_log
    flight = _add_flight(session, "pinghu_survey#1", fixes, shots)
    source = _jpegs(samples.joinpath(*CUAV_IMAGES))
    folder = tmp_path / "renamed_generated"
    folder.mkdir()
    picked = [shots[2], shots[9], shots[15]]

    def name_at(t: dt.datetime) -> str:
        return t.strftime("%Y%m%d%H%M%S") + f"{t.microsecond // 10_000:02d}Z.jpg"

    for src, shot in zip(source, picked):
        shutil.copy(src, folder / name_at(shot[0] + dt.timedelta(seconds=0.3)))
    gap_a, gap_b = next((a, b) for a, b in zip(shots, shots[1:]) if (b[0] - a[0]).total_seconds() > 4.0)
    between = gap_a[0] + (gap_b[0] - gap_a[0]) / 2
    shutil.copy(source[3], folder / name_at(between))

    result = import_photo_folder(session, settings.data_dir, folder, flight=flight, feedback_tolerance_s=1.0)
    assert result.new_count == 4 and result.warnings == []
    by_source = {}
    for photo in result.photos:
        by_source.setdefault(photo.position_source, []).append(photo)
        assert photo.flight_id == flight.id
    assert len(by_source["camera_feedback"]) == 3 and len(by_source["track"]) == 1
    for photo, shot in zip(by_source["camera_feedback"], picked):
        assert (photo.lat_deg, photo.lon_deg, photo.alt_rel_m) == (shot[1], shot[2], shot[4])


def test_ambiguous_flights_are_not_guessed(session, settings, samples, cuav_track):
    _add_flight(session, "cuav_sitl_plane#1", cuav_track)
    _add_flight(session, "another_vehicle#1", cuav_track)
    result = import_photo_folder(session, settings.data_dir, samples.joinpath(*CUAV_IMAGES))
    assert result.new_count == 18 and result.located_count == 0
    assert all("2 flights cover" in w for w in result.warnings) and len(result.warnings) == 18


def test_bad_files_are_skipped_and_the_rest_carry_on(session, settings, samples, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    dji = samples / "photos" / "brighton_beach_dji_fc300s"
    shutil.copy(dji / "DJI_0018.JPG", folder / "DJI_0018.JPG")
    shutil.copy(dji / "DJI_0019.JPG", folder / "good.jpeg")
    shutil.copy(dji / "DJI_0018.JPG", folder / "DJI_0018_copy.jpg")  # same bytes twice
    data = (dji / "DJI_0020.JPG").read_bytes()
    (folder / "cut_image_data.jpg").write_bytes(data[:len(data) // 2])
    (folder / "cut_header.JPG").write_bytes(data[:5000])
    bad_tiff = bytearray(data)
    bad_tiff[data.index(b"Exif\x00\x00") + 6] = ord("X")
    (folder / "corrupt_exif.jpg").write_bytes(bytes(bad_tiff))
    (folder / "notes.JPG").write_text("flight notes, not a photo\n")
    (folder / "empty.jpeg").write_bytes(b"")
    (folder / "readme.txt").write_text("not a photo suffix: ignored\n")

    result = import_photo_folder(session, settings.data_dir, folder)
    assert result.new_count == 3 == _count(session, Photo)
    assert {p.original_name for p in result.photos} == {"DJI_0018.JPG", "good.jpeg", "cut_image_data.jpg"}
    reasons = dict(result.skipped)
    assert set(reasons) == {"cut_header.JPG", "corrupt_exif.jpg", "notes.JPG", "empty.jpeg"}
    assert "cut_header.JPG" in reasons["cut_header.JPG"] and "past the end of the file" in reasons["cut_header.JPG"]
    assert "corrupt EXIF block at byte" in reasons["corrupt_exif.jpg"] and "TIFF header" in reasons["corrupt_exif.jpg"]
    assert "not a JPEG" in reasons["notes.JPG"] and "empty file" in reasons["empty.jpeg"]
    assert any(w.startswith("cut_image_data.jpg: image data truncated") for w in result.warnings)
    assert any(w.startswith("DJI_0018_copy.jpg: same content as DJI_0018.JPG") for w in result.warnings)


def test_not_a_folder(session, settings, samples):
    with pytest.raises(ArchiveError, match="not a folder"):
        import_photo_folder(session, settings.data_dir, samples / "PROVENANCE.md")
