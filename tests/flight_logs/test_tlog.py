"""Import of the bundled real tlogs, idempotence, and corrupt inputs written from them."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
import sqlalchemy as sa
from pymavlink import mavutil

from flight_logs.errors import CorruptLogError
from flight_logs.models import CameraPosition, Flight, FlightEvent, LogFile, TrackPoint
from flight_logs.store import file_sha256
from flight_logs.tlog import TlogWriter, check_tlog, import_tlog

TLOGS = ["arducopter_sitl_pinghu_survey/survey_camera.tlog", "cuav_real_plane_2016/flight.tlog",
         "cuav_sitl_plane_with_images/flight.tlog", "uavlogviewer_sitl_quadplane/vtol.tlog"]


def read_with_pymavlink(path: Path) -> dict:
    """What pymavlink's own reader finds in a tlog (the reference the import is checked against)."""
    log = mavutil.mavlogfile(str(path), robust_parsing=True)
    out = {"messages": 0, "bad_packets": 0, "bad_bytes": 0, "camera_feedback": 0, "armed": []}
    was_armed = None
    while (msg := log.recv_match()) is not None:
        kind = msg.get_type()
        if kind == "BAD_DATA":
            out["bad_packets"] += 1
            out["bad_bytes"] += len(msg.data)
            continue
        out["messages"] += 1
        out["camera_feedback"] += kind == "CAMERA_FEEDBACK"
        if kind == "HEARTBEAT" and msg.get_srcComponent() == 1 and msg.type != mavutil.mavlink.MAV_TYPE_GCS:
            armed = bool(msg.base_mode & mavutil.mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
            if armed != was_armed:
                out["armed"].append((armed, msg._timestamp))
            was_armed = armed
    log.close()
    return out


@pytest.mark.parametrize("name", TLOGS)
def test_bundled_tlog_counts_match_pymavlink(session, settings, samples, name):
    path = samples / "telemetry" / name
    expected = read_with_pymavlink(path)
    result = import_tlog(session, settings.data_dir, path)
    assert result.messages == expected["messages"]
    assert result.bad_packets == expected["bad_packets"]
    assert result.bad_bytes == expected["bad_bytes"]
    assert result.log_file.sha256 == file_sha256(path)
    assert (settings.data_dir / result.log_file.stored_path).read_bytes() == path.read_bytes()
    # one flight per armed period, each with a track inside the flight's time window
    armed_periods = sum(1 for armed, _ in expected["armed"] if armed)
    assert len(result.flights) == armed_periods
    for flight in result.flights:
        assert flight.track and flight.track[0].t_utc >= flight.start_utc and flight.track[-1].t_utc <= flight.end_utc
        assert flight.distance_m > 0 and flight.max_alt_rel_m > 0


def test_real_plane_log_counts_its_bad_packets_and_dates_by_vehicle_clock(session, settings, samples):
    path = samples / "telemetry" / "cuav_real_plane_2016" / "flight.tlog"
    result = import_tlog(session, settings.data_dir, path)
    assert result.bad_packets == 2 and result.bad_bytes > 0
    assert sum("bad bytes in the record at offset" in w for w in result.warnings) == 2
    assert any("log ends while armed" in w for w in result.warnings)
    # This tlog was replayed (its record timestamps are two months after the flight); the
    # autopilot's SYSTEM_TIME dates the flight.
    log = mavutil.mavlogfile(str(path), robust_parsing=True)
    utc = [m.time_unix_usec / 1e6 for m in iter(lambda: log.recv_match(type="SYSTEM_TIME"), None)]
    last_record_s = log._timestamp
    log.close()
    (flight,) = result.flights
    assert min(utc) <= flight.start_utc.timestamp() <= flight.end_utc.timestamp() <= max(utc) + 1.0
    assert flight.end_utc.timestamp() < last_record_s - 86400


def test_sitl_survey_is_one_flight_of_164_s_with_23_photos(session, settings, samples):
    path = samples / "telemetry" / "arducopter_sitl_pinghu_survey" / "survey_camera.tlog"
    expected = read_with_pymavlink(path)
    (armed, t_arm), (disarmed, t_disarm) = expected["armed"][1:3]     # STANDBY at boot, then arm, disarm
    assert armed and not disarmed
    result = import_tlog(session, settings.data_dir, path)
    (flight,) = result.flights
    assert flight.duration_s == pytest.approx(t_disarm - t_arm, abs=2.0)
    assert flight.duration_s == pytest.approx(164, abs=2.0)
    assert flight.photo_count == expected["camera_feedback"] == len(flight.camera_positions) == 23
    assert [c.img_idx for c in flight.camera_positions] == list(range(1, 24))
    assert flight.max_alt_rel_m == pytest.approx(40, abs=1.0)
    assert flight.home_lat_deg == pytest.approx(30.7005, abs=1e-5)
    assert flight.home_lon_deg == pytest.approx(121.0185, abs=1e-5)
    assert 0 < flight.battery_used_pct < 100
    kinds = [e.kind for e in flight.events]
    assert kinds[0] == "armed" and kinds[-1] == "disarmed"
    assert {"mode", "mission_item_reached", "statustext"} <= set(kinds)
    modes = [e.message for e in flight.events if e.kind == "mode"]
    assert modes == ["AUTO"]                          # GUIDED was set before arming
    reached = [e.data["seq"] for e in flight.events if e.kind == "mission_item_reached"]
    assert reached == sorted(reached) and reached[-1] == 10
    # one decimated fix per second of a 164 s flight
    assert len(flight.track) == pytest.approx(flight.duration_s, rel=0.1)
    # pre-flight events (PreArm refusals, the GUIDED mode change) are kept, outside the flight
    prearm = session.scalars(sa.select(FlightEvent).where(FlightEvent.flight_id.is_(None),
                                                          FlightEvent.message.like("%Need Position Estimate%")))
    assert len(prearm.all()) > 10


def test_sitl_plane_photos_fall_inside_the_flight(session, settings, samples):
    """The 18 photos of this log are named by their UTC capture time: they must be in the flight."""
    folder = samples / "telemetry" / "cuav_sitl_plane_with_images"
    result = import_tlog(session, settings.data_dir, folder / "flight.tlog")
    (flight,) = result.flights
    names = sorted(p.stem for p in (folder / "images").glob("*.jpg"))
    assert names
    for stem in names:
        taken = dt.datetime.strptime(stem[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.timezone.utc)
        taken += dt.timedelta(milliseconds=10 * int(stem[14:16]))     # YYYYMMDDhhmmsscc + "Z"
        assert flight.start_utc <= taken <= flight.end_utc


def test_reimport_creates_nothing_new(session, settings, samples):
    path = samples / "telemetry" / "uavlogviewer_sitl_quadplane" / "vtol.tlog"
    first = import_tlog(session, settings.data_dir, path)
    counts = [session.scalar(sa.select(sa.func.count()).select_from(m))
              for m in (LogFile, Flight, TrackPoint, FlightEvent, CameraPosition)]
    again = import_tlog(session, settings.data_dir, path)
    assert again.already_imported and again.log_file.id == first.log_file.id
    assert [f.id for f in again.flights] == [f.id for f in first.flights]
    assert again.messages == first.messages
    assert counts == [session.scalar(sa.select(sa.func.count()).select_from(m))
                      for m in (LogFile, Flight, TrackPoint, FlightEvent, CameraPosition)]


# ---------------------------------------------------------------------- bad input
@pytest.fixture
def survey_bytes(samples) -> bytes:
    return (samples / "telemetry" / "arducopter_sitl_pinghu_survey" / "survey_camera.tlog").read_bytes()


def test_empty_file_is_refused(session, settings, tmp_path):
    path = tmp_path / "empty.tlog"
    path.write_bytes(b"")
    with pytest.raises(CorruptLogError, match=r"empty\.tlog: empty file"):
        import_tlog(session, settings.data_dir, path)


def test_jpeg_renamed_tlog_is_refused(session, settings, samples, tmp_path):
    jpeg = next((samples / "photos" / "cuav_exif_samples").glob("*.jpg")).read_bytes()
    path = tmp_path / "photo.tlog"
    path.write_bytes(jpeg)
    with pytest.raises(CorruptLogError, match=r"photo\.tlog: not a tlog.*ff d8 ff"):
        import_tlog(session, settings.data_dir, path)
    assert session.scalar(sa.select(sa.func.count()).select_from(LogFile)) == 0


@pytest.mark.parametrize("size", [5, 20])
def test_file_shorter_than_one_record_is_refused(session, settings, survey_bytes, tmp_path, size):
    path = tmp_path / "stub.tlog"
    path.write_bytes(survey_bytes[:size])
    with pytest.raises(CorruptLogError, match=r"stub\.tlog: truncated"):
        import_tlog(session, settings.data_dir, path)


def test_truncated_log_keeps_what_is_valid(session, settings, survey_bytes, tmp_path):
    cut = len(survey_bytes) // 2 + 7          # inside a record
    path = tmp_path / "half.tlog"
    path.write_bytes(survey_bytes[:cut])
    expected = read_with_pymavlink(path)
    result = import_tlog(session, settings.data_dir, path)
    assert result.messages == expected["messages"] > 0
    truncation = [w for w in result.warnings if "truncated" in w]
    assert len(truncation) == 1 and "half.tlog" in truncation[0] and "offset" in truncation[0]
    assert any("log ends while armed" in w for w in result.warnings)
    (flight,) = result.flights                # the first half of the survey: armed, not landed
    assert 0 < flight.duration_s < 164 and 0 < flight.photo_count < 23


def test_flipped_bytes_are_counted_and_skipped(session, settings, survey_bytes, tmp_path):
    data = bytearray(survey_bytes)
    rng = random.Random(4)
    offsets = sorted(rng.sample(range(2000, len(data)), 20))
    for offset in offsets:
        data[offset] ^= 0xFF
    path = tmp_path / "flipped.tlog"
    path.write_bytes(bytes(data))
    expected = read_with_pymavlink(path)
    result = import_tlog(session, settings.data_dir, path)
    assert result.bad_packets == expected["bad_packets"] > 0
    assert result.bad_bytes == expected["bad_bytes"]
    assert result.messages == expected["messages"] < read_with_pymavlink_count(survey_bytes, tmp_path)
    bad = [w for w in result.warnings if "bad bytes in the record at offset" in w]
    assert bad and all("flipped.tlog" in w for w in bad)
    (flight,) = result.flights
    assert flight.duration_s == pytest.approx(164, abs=2.0)


def read_with_pymavlink_count(data: bytes, tmp_path: Path) -> int:
    path = tmp_path / "clean.tlog"
    path.write_bytes(data)
    return read_with_pymavlink(path)["messages"]


def test_junk_before_the_first_record_is_skipped_with_a_warning(session, settings, survey_bytes, tmp_path):
    path = tmp_path / "junk.tlog"
    path.write_bytes(b"\x00garbage" + survey_bytes[:50_000])
    assert check_tlog(path) == 8
    result = import_tlog(session, settings.data_dir, path)
    assert result.messages > 0
    assert any("8 bytes before the first record" in w for w in result.warnings)


def test_writer_output_reads_back_with_pymavlink(tmp_path, survey_bytes):
    """TlogWriter records are what pymavlink's tlog reader expects."""
    src = tmp_path / "src.tlog"
    src.write_bytes(survey_bytes[:20_000])
    log = mavutil.mavlogfile(str(src))
    frames = [(int(round(m._timestamp * 1e6)), bytes(m.get_msgbuf())) for m in iter(log.recv_msg, None)]
    log.close()
    out = tmp_path / "out.tlog"
    writer = TlogWriter(out)
    for t_us, frame in frames:
        writer.write(t_us, frame)
    writer.close()
    back = mavutil.mavlogfile(str(out))
    again = [(int(round(m._timestamp * 1e6)), bytes(m.get_msgbuf())) for m in iter(back.recv_msg, None)]
    back.close()
    assert again == frames and writer.records == len(frames)
