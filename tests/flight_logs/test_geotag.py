"""Geotagging from a flight: CAMERA_FEEDBACK matching and track interpolation.

The real check: in the bundled ArduCopter SITL survey tlog, the autopilot reports each
shot's position (CAMERA_FEEDBACK). The GLOBAL_POSITION_INT track, interpolated at the time
the feedback was logged, must land on that reported position.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pymavlink import mavutil

from flight_logs.geotag import (CameraSample, TrackSample, interpolate_track,
                                locate_from_camera_feedback)
from patrol.geodesy import distance_m

UTC = dt.timezone.utc


def _utc(t_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_s, UTC)


@pytest.fixture(scope="module")
def survey(samples: Path) -> tuple[list[TrackSample], list[CameraSample]]:
    """Track and shots of the bundled ArduCopter SITL survey, times from the tlog stamps."""
    mlog = mavutil.mavlink_connection(str(samples / "telemetry" / "arducopter_sitl_pinghu_survey" / "survey_camera.tlog"))
    track, shots = [], []
    try:
        while (msg := mlog.recv_match(type=["GLOBAL_POSITION_INT", "CAMERA_FEEDBACK"])) is not None:
            if msg.get_type() == "GLOBAL_POSITION_INT":
                if msg.lat == 0 and msg.lon == 0:  # no GPS fix yet
                    continue
                track.append(TrackSample(_utc(msg._timestamp), msg.lat / 1e7, msg.lon / 1e7, msg.relative_alt / 1e3,
                                         msg.alt / 1e3, None if msg.hdg == 65535 else msg.hdg / 100.0))
            else:
                shots.append(CameraSample(_utc(msg._timestamp), msg.lat / 1e7, msg.lng / 1e7, msg.alt_msl,
                                          msg.alt_rel, msg.roll, msg.pitch, msg.yaw, msg.img_idx))
    finally:
        mlog.close()
    return track, shots


def test_track_interpolated_at_each_shot_lands_on_the_reported_position(survey):
    track, shots = survey
    assert len(shots) == 23
    for shot in shots:
        fix = interpolate_track(shot.t_utc, track)
        assert fix is not None and fix.source == "track"
        assert distance_m(fix.lon_deg, fix.lat_deg, shot.lon_deg, shot.lat_deg) < 1.0
        assert fix.alt_rel_m == pytest.approx(shot.alt_rel_m, abs=0.5)
        assert fix.alt_amsl_m == pytest.approx(shot.alt_amsl_m, abs=0.5)
        assert fix.dt_s <= 0.5  # fixes come at 4 Hz


def test_interpolation_lies_between_the_bracketing_fixes(survey):
    track, _ = survey
    a, b = track[100], track[101]
    mid = a.t_utc + (b.t_utc - a.t_utc) / 2
    fix = interpolate_track(mid, list(reversed(track)))  # any order
    span_m = distance_m(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)
    assert distance_m(a.lon_deg, a.lat_deg, fix.lon_deg, fix.lat_deg) == pytest.approx(span_m / 2, abs=0.01)
    assert fix.alt_rel_m == pytest.approx((a.alt_rel_m + b.alt_rel_m) / 2)
    exact = interpolate_track(a.t_utc, track)
    assert (exact.lat_deg, exact.lon_deg, exact.dt_s) == (a.lat_deg, a.lon_deg, 0.0)


def test_outside_the_flight_window_gives_none(survey):
    track, _ = survey
    assert interpolate_track(track[0].t_utc - dt.timedelta(seconds=0.01), track) is None
    assert interpolate_track(track[-1].t_utc + dt.timedelta(seconds=0.01), track) is None
    assert interpolate_track(track[-1].t_utc, track) is not None
    assert interpolate_track(track[0].t_utc, []) is None


def test_clock_offset_shifts_the_photo_time(survey):
    track, _ = survey
    late = track[200].t_utc - dt.timedelta(seconds=2)  # a camera clock 2 s behind
    fixed = interpolate_track(late, track, clock_offset_s=2.0)
    assert (fixed.lat_deg, fixed.lon_deg) == (track[200].lat_deg, track[200].lon_deg)
    shots = survey[1]
    _, shot = next((a, b) for a, b in zip(shots, shots[1:]) if (b.t_utc - a.t_utc).total_seconds() > 4.5)
    early = shot.t_utc - dt.timedelta(seconds=2.5)  # more than 1 s from either shot
    assert locate_from_camera_feedback(early, shots, tolerance_s=1.0) is None
    assert locate_from_camera_feedback(early, shots, tolerance_s=1.0, clock_offset_s=2.5).img_idx == shot.img_idx


def test_gap_in_the_track_is_not_bridged(survey):
    track, _ = survey
    holed = track[:300] + track[340:]  # about 10 s of telemetry lost
    inside = track[320].t_utc
    assert interpolate_track(inside, holed, max_gap_s=5.0) is None
    assert interpolate_track(inside, holed, max_gap_s=None) is not None


def test_each_shot_is_found_by_its_time_within_tolerance(survey):
    _, shots = survey
    for shot in shots:
        fix = locate_from_camera_feedback(shot.t_utc + dt.timedelta(seconds=0.4), shots, tolerance_s=1.0)
        assert fix.source == "camera_feedback" and fix.img_idx == shot.img_idx
        assert (fix.lat_deg, fix.lon_deg, fix.alt_rel_m) == (shot.lat_deg, shot.lon_deg, shot.alt_rel_m)
        assert fix.dt_s == pytest.approx(0.4, abs=1e-6)
        assert fix.heading_deg == pytest.approx(shot.yaw_deg % 360)


def test_no_shot_within_tolerance_gives_none(survey):
    _, shots = survey
    gaps = [(a, b) for a, b in zip(shots, shots[1:]) if (b.t_utc - a.t_utc).total_seconds() > 3.0]
    assert gaps
    a, b = gaps[0]
    middle = a.t_utc + (b.t_utc - a.t_utc) / 2
    assert locate_from_camera_feedback(middle, shots, tolerance_s=1.0) is None
    assert locate_from_camera_feedback(middle, [], tolerance_s=1.0) is None


def test_orm_like_rows_are_accepted(survey):
    track, shots = survey

    class Row:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    rows = [Row(**s._asdict()) for s in track[10:20]]
    t = track[12].t_utc + dt.timedelta(seconds=0.1)
    assert interpolate_track(t, rows) == interpolate_track(t, track[10:20])
    cam_rows = [Row(**s._asdict()) for s in shots]
    assert locate_from_camera_feedback(shots[3].t_utc, cam_rows, tolerance_s=0.1).img_idx == shots[3].img_idx


def test_heading_and_longitude_wrap():
    t0 = dt.datetime(2020, 1, 1, tzinfo=UTC)
    track = [(t0, 0.0, 179.9999, 10.0, None, 359.0),
             (t0 + dt.timedelta(seconds=1), 0.0, -179.9999, 10.0, None, 3.0)]
    fix = interpolate_track(t0 + dt.timedelta(seconds=0.75), track)
    assert fix.lon_deg == pytest.approx(-179.99995)
    assert fix.heading_deg == pytest.approx(2.0)
    assert fix.alt_amsl_m is None


def test_naive_times_are_refused(survey):
    track, _ = survey
    with pytest.raises(ValueError, match="naive datetime"):
        interpolate_track(dt.datetime(2026, 11, 21, 12, 0), track)
