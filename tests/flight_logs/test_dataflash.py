"""DataFlash import (``.bin`` and text ``.log``).

No real DataFlash log is in the data set (``../shared/data`` has tlogs only; the test for real
logs below skips saying so). The other tests import GENERATED DataFlash logs written from the
bundled real tlogs (``conftest.py``: the flight is real, the file was not written by an
autopilot) and check them against the tlog import of the same flight, which is independent
of the DataFlash path except for the shared FlightRecorder.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from pymavlink import DFReader

from flight_logs.dataflash import check_dataflash, gps_to_utc_s, import_dataflash
from flight_logs.errors import CorruptLogError
from flight_logs.models import CameraPosition, Flight, FlightEvent, LogFile, Photo, TrackPoint, Vehicle
from flight_logs.photos import import_photo_folder
from flight_logs.store import file_sha256
from flight_logs.tlog import import_tlog

UTC = dt.timezone.utc
SURVEY_TLOG = "arducopter_sitl_pinghu_survey/survey_camera.tlog"
PLANE_TLOG = "cuav_real_plane_2016/flight.tlog"
IMAGES_TLOG = "cuav_sitl_plane_with_images/flight.tlog"


def _count_records(path: Path) -> int:
    """Records pymavlink's own reader finds in a DataFlash log (the reference for ``messages``)."""
    reader = DFReader.DFReader_text(str(path)) if path.suffix == ".log" else DFReader.DFReader_binary(str(path))
    n = 0
    while reader.recv_msg() is not None:
        n += 1
    reader.close()
    return n


# ---------------------------------------------------------------------- time
@pytest.mark.parametrize("utc, leap", [(dt.datetime(2016, 9, 7, 0, 22, 16, 121000, tzinfo=UTC), 17),
                                       (dt.datetime(2026, 11, 21, 17, 47, 5, 853000, tzinfo=UTC), 18),
                                       (dt.datetime(2012, 6, 30, 12, 0, tzinfo=UTC), 15),
                                       (dt.datetime(2012, 7, 1, 12, 0, tzinfo=UTC), 16)])
def test_gps_week_and_ms_give_utc_with_the_leap_seconds_of_the_date(gps_week_ms, utc, leap):
    week, ms = gps_week_ms(utc.timestamp(), leap)
    assert gps_to_utc_s(week, ms) == pytest.approx(utc.timestamp(), abs=1e-3)


# ---------------------------------------------------------------------- against the tlog import
@pytest.mark.parametrize("arm_source, text", [("ARM", False), ("EV", False), ("ARM", True)])
def test_generated_survey_gives_the_flight_of_its_tlog(session, settings, samples, generated_logs, arm_source, text):
    path, written = generated_logs(SURVEY_TLOG, leap_s=18, arm_source=arm_source, text=text)
    result = import_dataflash(session, settings.data_dir, path)
    assert result.form == ("text" if text else "binary")
    assert result.messages == written["records"] == _count_records(path)
    assert result.bad_bytes == 0 and result.warnings == []
    (flight,) = result.flights
    (reference,) = import_tlog(session, settings.data_dir, samples / "telemetry" / SURVEY_TLOG).flights
    # arm/disarm within a heartbeat period of the tlog's (the DataFlash times come from GPS week/ms)
    assert abs((flight.start_utc - reference.start_utc).total_seconds()) < 0.1
    assert abs((flight.end_utc - reference.end_utc).total_seconds()) < 0.1
    assert flight.duration_s == pytest.approx(164, abs=1)
    assert flight.distance_m == pytest.approx(reference.distance_m, rel=0.01)
    assert flight.max_alt_rel_m == pytest.approx(reference.max_alt_rel_m, abs=0.1)
    assert flight.battery_used_pct == pytest.approx(reference.battery_used_pct, abs=1)
    assert (flight.home_lat_deg, flight.home_lon_deg) == pytest.approx((30.7005, 121.0185), abs=1e-5)
    # decimated like the tlog path: about one fix per second, inside the flight
    assert len(flight.track) == pytest.approx(len(reference.track), abs=3)
    assert flight.start_utc <= flight.track[0].t_utc and flight.track[-1].t_utc <= flight.end_utc
    # CAM records -> camera positions, timed by their GPS week/ms like CAMERA_FEEDBACK.time_usec
    assert flight.photo_count == len(flight.camera_positions) == 23
    assert [c.img_idx for c in flight.camera_positions] == list(range(1, 24))
    for cam, ref in zip(flight.camera_positions, reference.camera_positions):
        assert abs((cam.t_utc - ref.t_utc).total_seconds()) < 0.01
        assert (cam.lat_deg, cam.lon_deg) == pytest.approx((ref.lat_deg, ref.lon_deg), abs=1e-7)
        assert cam.alt_rel_m == pytest.approx(ref.alt_rel_m, abs=0.011)          # CAM logs centimetres
    kinds = [e.kind for e in flight.events]
    assert kinds[0] == "armed" and kinds[-1] == "disarmed"
    assert [e.message for e in flight.events if e.kind == "mode"] == ["AUTO"]     # ArduCopter's names (VER)
    assert any(e.kind == "statustext" and e.message == "Reached command #8" for e in flight.events)
    vehicle = session.get(Vehicle, flight.vehicle_id)
    assert vehicle.key == f"dataflash:{result.log_file.sha256[:12]}#1" and vehicle.mav_type == 2


def test_real_plane_2016_flight_with_stat_armed_flag_and_17_leap_seconds(session, settings, samples, generated_logs):
    path, _ = generated_logs(PLANE_TLOG, leap_s=17, arm_source="STAT")
    result = import_dataflash(session, settings.data_dir, path)
    (flight,) = result.flights
    (reference,) = import_tlog(session, settings.data_dir, samples / "telemetry" / PLANE_TLOG).flights
    # pymavlink's reader alone would date this 2016 log 1 s early (it assumes 18 leap seconds)
    assert abs((flight.start_utc - reference.start_utc).total_seconds()) < 0.1
    assert flight.duration_s == pytest.approx(reference.duration_s, abs=0.5)
    assert flight.distance_m == pytest.approx(reference.distance_m, rel=0.01)
    assert flight.max_alt_rel_m == pytest.approx(reference.max_alt_rel_m, abs=0.1)
    assert session.get(Vehicle, flight.vehicle_id).system_id == 2        # PARM SYSID_THISMAV
    assert [e.message for e in flight.events if e.kind == "mode"] == ["AUTO"]   # ArduPlane's numbering
    assert any("log ends while armed" in w and str(path) in w for w in result.warnings)


def test_log_that_starts_armed_is_one_flight_from_its_first_record(session, settings, generated_logs, tmp_path):
    """ArduPilot logs only while armed by default: a log may start in flight and end with a disarm."""
    path, written = generated_logs(SURVEY_TLOG, leap_s=18, arm_source="EV")
    (arm_us, _), (disarm_us, _) = [(us, armed) for armed, us in written["arm_changes"]]
    cutoff_us = arm_us + 60_000_000
    reader = DFReader.DFReader_binary(str(path))
    kept = bytearray()
    while (m := reader.recv_msg()) is not None:      # FMT, PARM and VER at the cut, then what follows it
        t_us = getattr(m, "TimeUS", None)
        if m.get_type() in ("PARM", "VER"):
            m.TimeUS = cutoff_us
            kept += m.get_msgbuf()
        elif t_us is None or t_us >= cutoff_us:
            kept += reader.data_map[reader.offset - m.fmt.len:reader.offset]
    reader.close()
    cut = tmp_path / "generated_starts_armed.bin"
    cut.write_bytes(bytes(kept))
    (flight,) = import_dataflash(session, settings.data_dir, cut).flights
    assert flight.events[0].kind == "armed" and "already armed" in flight.events[0].message
    assert flight.duration_s == pytest.approx((disarm_us - cutoff_us) / 1e6, abs=0.5)
    assert flight.photo_count > 0 and flight.max_alt_rel_m == pytest.approx(40, abs=1)


def test_disarm_and_rearm_in_one_log_make_two_flights(session, settings, generated_logs, tmp_path):
    path, written = generated_logs(SURVEY_TLOG, leap_s=18)
    (arm_us, _), (disarm_us, _) = [(us, armed) for armed, us in written["arm_changes"]]
    pause = (arm_us + 100_000_000, arm_us + 110_000_000)     # disarmed from 100 s to 110 s after arming
    reader = DFReader.DFReader_binary(str(path))
    out, arm_record, inserted, cam_us = bytearray(), None, 0, []
    while (m := reader.recv_msg()) is not None:
        t_us = getattr(m, "TimeUS", None)
        if m.get_type() == "CAM":
            cam_us.append(t_us)
        if m.get_type() == "ARM":
            arm_record = m
        while arm_record is not None and inserted < 2 and t_us is not None and t_us >= pause[inserted]:
            arm_record.TimeUS, arm_record.ArmState = pause[inserted], inserted    # disarm, then arm
            out += arm_record.get_msgbuf()
            inserted += 1
        if not (t_us is not None and pause[0] <= t_us < pause[1] and m.get_type() in ("POS", "GPS")):
            out += reader.data_map[reader.offset - m.fmt.len:reader.offset]
    reader.close()
    split = tmp_path / "generated_two_flights.bin"
    split.write_bytes(bytes(out))
    first, second = import_dataflash(session, settings.data_dir, split).flights
    assert first.duration_s == pytest.approx(100, abs=0.1)
    assert second.duration_s == pytest.approx((disarm_us - pause[1]) / 1e6, abs=0.1)
    assert (second.start_utc - first.end_utc).total_seconds() == pytest.approx(10, abs=0.1)
    assert first.photo_count == sum(arm_us <= t < pause[0] for t in cam_us) > 0
    assert second.photo_count == sum(pause[1] <= t <= disarm_us for t in cam_us)
    assert first.vehicle_id == second.vehicle_id


def test_photos_are_geotagged_from_the_dataflash_track(session, settings, samples, generated_logs):
    """cuav's SITL photos carry no EXIF; their file names are their UTC capture times."""
    path, _ = generated_logs(IMAGES_TLOG, leap_s=18, arm_source="EV")
    (flight,) = import_dataflash(session, settings.data_dir, path).flights
    photos = import_photo_folder(session, settings.data_dir, samples / "telemetry" / "cuav_sitl_plane_with_images"
                                 / "images")
    assert photos.located_count == len(photos.photos) == 18
    assert {p.position_source for p in photos.photos} == {"track"}
    assert {p.flight_id for p in photos.photos} == {flight.id}


def test_reimport_creates_nothing_new(session, settings, generated_logs):
    path, _ = generated_logs(SURVEY_TLOG, leap_s=18)
    first = import_dataflash(session, settings.data_dir, path)
    tables = (LogFile, Vehicle, Flight, TrackPoint, FlightEvent, CameraPosition, Photo)
    counts = [session.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables]
    again = import_dataflash(session, settings.data_dir, path)
    assert again.already_imported and again.log_file.id == first.log_file.id
    assert [f.id for f in again.flights] == [f.id for f in first.flights]
    assert (again.messages, again.bad_bytes) == (first.messages, first.bad_bytes)
    assert counts == [session.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables]
    assert first.log_file.kind == "dataflash" and first.log_file.sha256 == file_sha256(path)
    assert (settings.data_dir / first.log_file.stored_path).read_bytes() == path.read_bytes()


def test_real_dataflash_logs_of_the_data_set(session, settings, shared_data):
    logs = []
    for candidate in sorted(shared_data.rglob("*")):
        if candidate.is_file() and candidate.suffix.lower() in (".bin", ".log"):
            try:
                check_dataflash(candidate)
            except CorruptLogError:
                continue
            logs.append(candidate)
    if not logs:
        pytest.skip(f"no real DataFlash log (.bin/.log) in {shared_data}: its README lists tlogs only")
    for path in logs:
        result = import_dataflash(session, settings.data_dir, path)
        assert result.messages == _count_records(path) and result.bad_bytes >= 0
        for flight in result.flights:
            assert flight.end_utc is not None and flight.start_utc.year >= 2009
            assert flight.duration_s >= 0 and flight.distance_m >= 0


# ---------------------------------------------------------------------- bad input
@pytest.fixture
def survey_bin(generated_logs) -> bytes:
    return generated_logs(SURVEY_TLOG, leap_s=18)[0].read_bytes()


def test_empty_file_is_refused(session, settings, tmp_path):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    with pytest.raises(CorruptLogError, match=r"empty\.bin: empty file \(0 bytes\)"):
        import_dataflash(session, settings.data_dir, path)


@pytest.mark.parametrize("name", ["photo.bin", "photo.log"])
def test_jpeg_named_as_a_dataflash_log_is_refused(session, settings, samples, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(next((samples / "photos" / "cuav_exif_samples").glob("*.jpg")).read_bytes())
    with pytest.raises(CorruptLogError, match=rf"{re.escape(name)}: not a DataFlash log.*starts with ff d8 ff"):
        import_dataflash(session, settings.data_dir, path)
    assert session.scalar(sa.select(sa.func.count()).select_from(LogFile)) == 0


def test_a_tlog_named_bin_is_refused(session, settings, samples, tmp_path):
    path = tmp_path / "flight.bin"
    path.write_bytes((samples / "telemetry" / SURVEY_TLOG).read_bytes())
    with pytest.raises(CorruptLogError, match=r"flight\.bin: not a DataFlash log"):
        import_dataflash(session, settings.data_dir, path)


def test_file_shorter_than_one_fmt_record_is_refused(session, settings, survey_bin, tmp_path):
    path = tmp_path / "stub.bin"
    path.write_bytes(survey_bin[:50])
    with pytest.raises(CorruptLogError, match=r"stub\.bin: truncated: the first FMT record at offset 0 needs 89"):
        import_dataflash(session, settings.data_dir, path)


def test_truncated_log_keeps_what_is_valid(session, settings, survey_bin, tmp_path):
    path = tmp_path / "half.bin"
    path.write_bytes(survey_bin[:len(survey_bin) // 2 + 7])
    result = import_dataflash(session, settings.data_dir, path)
    assert result.messages == _count_records(path) > 0
    (truncated,) = [w for w in result.warnings if w.startswith(f"{path}: truncated")]
    assert re.search(r"the last record at offset \d+ is incomplete \(\d+ bytes\)", truncated)
    assert 0 < result.bad_bytes < 100
    (flight,) = result.flights                 # the first half of the survey: armed, not landed
    assert 0 < flight.duration_s < 164 and 0 < flight.photo_count < 23
    assert any("log ends while armed" in w for w in result.warnings)


def test_flipped_bytes_are_counted_and_the_flight_survives(session, settings, survey_bin, tmp_path):
    data = bytearray(survey_bin)
    rng = random.Random(1)
    for offset in rng.sample(range(2000, len(data)), 20):
        data[offset] ^= 0xFF
    path = tmp_path / "flipped.bin"
    path.write_bytes(bytes(data))
    result = import_dataflash(session, settings.data_dir, path)
    assert result.bad_bytes > 0 and result.bad_runs > 0
    assert result.messages < _count_records(path) <= len(survey_bin)
    bad = [w for w in result.warnings if "bad bytes at offset" in w]
    assert bad and all(str(path) in w for w in bad)
    assert any("implausible TimeUS" in w for w in bad)          # a corrupt record named with its field
    (flight,) = result.flights
    assert flight.duration_s == pytest.approx(164, abs=1)
    assert flight.distance_m == pytest.approx(635, rel=0.02)     # corrupt positions kept off the track
    assert flight.max_alt_rel_m == pytest.approx(40, abs=1)
    assert flight.photo_count == 23


def test_corrupt_fmt_record_is_refused_and_named(session, settings, survey_bin, tmp_path):
    data = bytearray(survey_bin)
    fmt_gps = data.find(b"\xa3\x95\x80\x60")      # the FMT record declaring GPS (type 96)
    data[fmt_gps + 9] = ord("?")                   # its first format character
    path = tmp_path / "bad_fmt.bin"
    path.write_bytes(bytes(data))
    result = import_dataflash(session, settings.data_dir, path)
    assert any(f"89 bad bytes at offset {fmt_gps} (FMT record refused: format '?BBIHBcLLeffffB' of GPS" in w
               for w in result.warnings)
    (flight,) = result.flights                     # POS still gives the track; GPS time is lost
    assert flight.distance_m == pytest.approx(635, rel=0.02)
    assert any("no GPS time" in w for w in result.warnings)


def test_text_log_with_an_unreadable_value_names_the_field(session, settings, generated_logs, tmp_path):
    path, _ = generated_logs(SURVEY_TLOG, leap_s=18, text=True)
    lines = path.read_text().splitlines(keepends=True)
    i = next(i for i, line in enumerate(lines) if line.startswith("POS,") and i > len(lines) // 2)
    fields = lines[i].split(", ")
    fields[2] = "3O.7005"                          # Lat with a letter O
    lines[i] = ", ".join(fields)
    bad = tmp_path / "typo.log"
    bad.write_text("".join(lines))
    result = import_dataflash(session, settings.data_dir, bad)
    offset = sum(len(line) for line in lines[:i])
    assert any(f"bad bytes at offset {offset} (POS record unreadable: field 'Lat' = '3O.7005')" in w
               for w in result.warnings)
    assert result.messages == len(lines) - 1
    (flight,) = result.flights
    assert flight.duration_s == pytest.approx(164, abs=1)


def test_text_file_that_is_not_a_dataflash_log_is_refused(session, settings, tmp_path):
    path = tmp_path / "server.log"
    path.write_text("2024-05-01 12:00:00 INFO started\n" * 200)
    with pytest.raises(CorruptLogError, match=r"server\.log: not a DataFlash log.*32 30 32 34"):
        import_dataflash(session, settings.data_dir, path)
