"""The flight recorder on hand-made message sequences (a list-of-messages source)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.models import Flight, FlightEvent, Vehicle
from flight_logs.recorder import FlightRecorder, LinkRecorder
from flight_logs.timebase import VehicleClock
from patrol.geodesy import path_length_m

T0 = 1_700_000_000.0          # receive clock, UTC seconds
UTC_AT_BOOT = 1_700_003_600.0  # the vehicle's own UTC at boot (an hour off the receiver's)
GUIDED, AUTO = 4, 3


def wire(build, system_id=1, component=1):
    """Encode and decode a message the way it arrives from a link (header and all)."""
    mav = mavlink.MAVLink(None, srcSystem=system_id, srcComponent=component)
    return mav.decode(bytearray(build(mav).pack(mav)))


def heartbeat(armed, mode=GUIDED, system_id=1, component=1, mav_type=mavlink.MAV_TYPE_QUADROTOR):
    base = 89 | (mavlink.MAV_MODE_FLAG_SAFETY_ARMED if armed else 0)
    return wire(lambda m: m.heartbeat_encode(mav_type, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, base, mode, 3),
                system_id, component)


def position(boot_s, lat, lon, alt_rel_m, home_amsl_m=5.0):
    return wire(lambda m: m.global_position_int_encode(int(boot_s * 1000), int(lat * 1e7), int(lon * 1e7),
                                                       int((alt_rel_m + home_amsl_m) * 1000),
                                                       int(alt_rel_m * 1000), 1000, 0, 0, 9000))


def system_time(boot_s):
    return wire(lambda m: m.system_time_encode(int((UTC_AT_BOOT + boot_s) * 1e6), int(boot_s * 1000)))


def camera(idx, lat, lon, utc_s):
    return wire(lambda m: m.camera_feedback_encode(int(utc_s * 1e6), 0, 0, idx, int(lat * 1e7), int(lon * 1e7),
                                                   45.0, 40.0, 0.5, -29.5, 359.6, 0.0, 0, 0))


def statustext(text, severity=6, text_id=0, chunk=0):
    return wire(lambda m: m.statustext_encode(severity, text.encode(), text_id, chunk))


def feed(recorder, timeline):
    for t_recv, msg in timeline:
        recorder.handle(msg, t_recv)


def flight_timeline(*, speedup=1.0, seconds=60, rate_hz=10, start_boot_s=100.0):
    """Boot, SYSTEM_TIME, arm, fly north at 10 m/s for ``seconds`` of vehicle time, disarm.

    The vehicle clock runs ``speedup`` times faster than the receive clock.
    """
    out = []
    boot = start_boot_s
    recv = T0

    def at(boot_s):
        return T0 + (boot_s - start_boot_s) / speedup

    out.append((at(boot), heartbeat(False)))
    out.append((at(boot), system_time(boot)))
    out.append((at(boot + 0.5), heartbeat(True)))
    n = int(seconds * rate_hz)
    for i in range(n + 1):
        b = boot + 0.5 + i / rate_hz
        out.append((at(b), position(b, 30.7005 + i / rate_hz * 10 / 111_000, 121.0185, 40.0)))
        if i % rate_hz == 0:
            out.append((at(b), system_time(b)))
    recv = at(boot + 0.5 + seconds + 0.05)
    out.append((recv, heartbeat(False)))
    return out


def test_flight_segmented_on_arm_disarm_with_decimated_track(session):
    rec = FlightRecorder("test#1", 1)
    feed(rec, flight_timeline(seconds=60, rate_hz=10))
    rec.flush(session)
    (flight,) = session.scalars(sa.select(Flight)).all()
    assert flight.duration_s == pytest.approx(60.05, abs=0.1)
    assert flight.start_utc.timestamp() == pytest.approx(UTC_AT_BOOT + 100.5, abs=0.01)   # vehicle clock
    assert len(flight.track) == pytest.approx(61, abs=1)                                   # 1 fix / s of 10 Hz
    pts = [(p.lon_deg, p.lat_deg) for p in flight.track]
    assert flight.distance_m == pytest.approx(path_length_m(pts), rel=1e-9)
    assert flight.distance_m == pytest.approx(600, rel=0.02)
    assert flight.max_alt_rel_m == pytest.approx(40.0)
    assert [e.kind for e in flight.events] == ["armed", "disarmed"]
    assert flight.home_lat_deg == pytest.approx(30.7005, abs=1e-6)          # first armed fix
    assert flight.end_utc is not None


def test_speedup_flight_archived_with_simulated_duration(session):
    """20x simulation: 10 s of receive time, 200 s of vehicle time -> a 200 s flight."""
    rec = FlightRecorder("sim#1", 1)
    timeline = flight_timeline(speedup=20.0, seconds=200, rate_hz=4)
    assert timeline[-1][0] - timeline[0][0] == pytest.approx(10.0, abs=0.1)
    feed(rec, timeline)
    rec.flush(session)
    (flight,) = session.scalars(sa.select(Flight)).all()
    assert flight.duration_s == pytest.approx(200, abs=1.0)
    assert rec.clock.rate == pytest.approx(20.0, rel=0.01)


def test_two_flights_and_open_flight_kept_current(session):
    rec = FlightRecorder("t#1", 1)
    timeline = flight_timeline(seconds=20)
    feed(rec, timeline)
    rec.flush(session)
    assert len(rec.flight_ids) == 1
    # a second flight, flushed while still armed: end None, summary current
    last_t = timeline[-1][0]
    feed(rec, [(last_t + 5, heartbeat(True)), (last_t + 6, position(100.5 + 20 + 6, 30.7, 121.0, 10.0))])
    rec.flush(session)
    assert rec.in_flight and len(rec.flight_ids) == 2
    second = session.get(Flight, rec.flight_ids[1])
    assert second.end_utc is None and second.duration_s == pytest.approx(1.0, abs=0.2)
    feed(rec, [(last_t + 9, heartbeat(False))])
    rec.flush(session)
    session.refresh(second)
    assert second.end_utc is not None and second.duration_s == pytest.approx(4.0, abs=0.2)


def test_gcs_and_camera_heartbeats_do_not_make_flights(session):
    router = LinkRecorder("link")
    feed(router, [
        (T0, heartbeat(True, system_id=255, mav_type=mavlink.MAV_TYPE_GCS)),     # a ground station
        (T0 + 1, heartbeat(False)),                                               # the vehicle
        (T0 + 2, heartbeat(True, component=100, mav_type=mavlink.MAV_TYPE_CAMERA)),  # its camera
        (T0 + 3, heartbeat(False)),
    ])
    assert list(router.recorders) == [1]
    assert not router.recorders[1].in_flight
    router.flush(session)
    assert session.scalar(sa.select(sa.func.count()).select_from(Flight)) == 0
    assert session.scalars(sa.select(Vehicle.key)).all() == ["link#1"]


def test_messages_before_the_first_heartbeat_are_skipped():
    router = LinkRecorder("link")
    assert router.handle(position(1.0, 30.7, 121.0, 0.0), T0) is None
    assert router.handle(heartbeat(False, system_id=7), T0 + 1).system_id == 7


def test_mode_events_with_ardupilot_names_and_statustext(session):
    rec = FlightRecorder("t#1", 1)
    feed(rec, [(T0, heartbeat(False, mode=0)), (T0 + 1, heartbeat(False, mode=GUIDED)),
               (T0 + 2, heartbeat(True, mode=GUIDED)), (T0 + 3, heartbeat(True, mode=AUTO)),
               (T0 + 4, statustext("Reached command #3")),
               (T0 + 5, statustext("PreArm: Need Position Estimate", severity=2)),
               (T0 + 6, heartbeat(True, mode=6)), (T0 + 7, heartbeat(False, mode=6))])
    rec.flush(session)
    events = session.scalars(sa.select(FlightEvent).order_by(FlightEvent.t_utc)).all()
    assert [e.message for e in events if e.kind == "mode"] == ["STABILIZE", "GUIDED", "AUTO", "RTL"]
    assert [e.flight_id is None for e in events if e.kind == "mode"] == [True, True, False, False]
    texts = {e.message: e.severity for e in events if e.kind == "statustext"}
    assert texts == {"Reached command #3": 6, "PreArm: Need Position Estimate": 2}


def test_chunked_statustext_is_joined(session):
    rec = FlightRecorder("t#1", 1)
    first = "x" * 50
    feed(rec, [(T0, heartbeat(False)), (T0 + 1, statustext(first, text_id=7, chunk=0)),
               (T0 + 1, statustext("tail", text_id=7, chunk=1))])
    rec.flush(session)
    assert session.scalars(sa.select(FlightEvent.message).where(FlightEvent.kind == "statustext")).all() == [
        first + "tail"]


def test_camera_positions_in_flight_only_and_home_set_once(session):
    rec = FlightRecorder("t#1", 1)
    home = wire(lambda m: m.home_position_encode(307005000, 1210185000, 5070, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0))
    feed(rec, [(T0, heartbeat(False)), (T0, system_time(10.0)), (T0 + 0.1, home), (T0 + 0.2, home),
               (T0 + 0.3, camera(1, 30.7, 121.0, UTC_AT_BOOT + 10.3)),            # on the ground: dropped
               (T0 + 1, heartbeat(True)),
               (T0 + 2, camera(2, 30.7005, 121.0185, UTC_AT_BOOT + 11.9)),
               (T0 + 3, heartbeat(False))])
    rec.flush(session)
    (flight,) = session.scalars(sa.select(Flight)).all()
    assert [c.img_idx for c in flight.camera_positions] == [2]
    shot = flight.camera_positions[0]
    assert shot.t_utc.timestamp() == pytest.approx(UTC_AT_BOOT + 11.9)                  # the vehicle's stamp
    assert (shot.lat_deg, shot.lon_deg, shot.alt_rel_m, shot.pitch_deg) == pytest.approx((30.7005, 121.0185, 40, -29.5))
    assert flight.photo_count == 1 and rec.dropped_camera_feedback == 1
    assert flight.home_alt_amsl_m == pytest.approx(5.07)
    homes = session.scalars(sa.select(FlightEvent).where(FlightEvent.kind == "home_set")).all()
    assert len(homes) == 1


def test_log_starting_in_flight_is_moved_onto_the_vehicle_clock(session):
    """Armed before the first SYSTEM_TIME: the start is re-dated when the vehicle clock appears."""
    rec = FlightRecorder("t#1", 1)
    feed(rec, [(T0, heartbeat(True)), (T0 + 0.5, position(50.5, 30.7, 121.0, 20.0)),
               (T0 + 1.0, system_time(51.0)), (T0 + 31.0, system_time(81.0)), (T0 + 31.0, heartbeat(False))])
    assert rec.finish() == []
    rec.flush(session)
    (flight,) = session.scalars(sa.select(Flight)).all()
    assert flight.start_utc.timestamp() == pytest.approx(UTC_AT_BOOT + 50.0, abs=0.01)
    assert flight.duration_s == pytest.approx(31.0, abs=0.01)
    assert flight.track[0].t_utc.timestamp() == pytest.approx(UTC_AT_BOOT + 50.5, abs=0.01)


def test_finish_closes_a_flight_still_armed(session):
    rec = FlightRecorder("t#1", 1)
    timeline = flight_timeline(seconds=10)[:-1]          # no disarm
    feed(rec, timeline)
    (warning,) = rec.finish()
    assert "log ends while armed" in warning
    rec.flush(session)
    (flight,) = session.scalars(sa.select(Flight)).all()
    assert flight.end_utc is not None and flight.duration_s == pytest.approx(10.0, abs=0.1)
    assert flight.events[-1].kind == "log_end"


def test_vehicle_row_is_shared_by_key(session):
    for _ in range(2):
        rec = FlightRecorder("dock-1#1", 1, vehicle_name="dock-1")
        feed(rec, flight_timeline(seconds=5))
        rec.flush(session)
    (vehicle,) = session.scalars(sa.select(Vehicle)).all()
    assert vehicle.name == "dock-1" and vehicle.mav_type == mavlink.MAV_TYPE_QUADROTOR
    assert len(vehicle.flights) == 2


def test_vehicle_clock_rejects_utc_a_year_off():
    clock = VehicleClock()
    bogus = wire(lambda m: m.system_time_encode(29618095652006494, 1190675))   # year 2908 (old SITL)
    assert clock.observe(bogus, T0) == T0
    assert not clock.has_utc and clock.rejected_utc == 1


def test_rows_of_a_failed_transaction_are_written_by_the_next_flush(session_factory):
    rec = FlightRecorder("t#1", 1)
    timeline = flight_timeline(seconds=20)
    feed(rec, timeline[: len(timeline) // 2])             # in flight
    with session_factory() as session:                    # this transaction fails
        rec.flush(session)
        session.rollback()
    rec.rolled_back()
    feed(rec, timeline[len(timeline) // 2:])              # lands
    with session_factory.begin() as session:
        rec.flush(session)
    with session_factory() as session:
        (flight,) = session.scalars(sa.select(Flight)).all()
        assert rec.flight_ids == [flight.id]
        assert len(flight.track) == pytest.approx(21, abs=1)
        assert [e.kind for e in flight.events] == ["armed", "disarmed"]
        assert flight.end_utc is not None
