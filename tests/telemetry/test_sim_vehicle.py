"""The simulated ArduCopter's model, stepped in simulated time (no sockets)."""

from __future__ import annotations

import math

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.modes import mode_number
from missions.items import cam_trigg_dist_item, home_item, rtl_item, takeoff_item, waypoint_item
from patrol.geodesy import distance_m
from telemetry.sim.vehicle import SimConfig, SimVehicle

HOME = (30.7005, 121.0185, 5.0)
QUAD = mavlink.MAV_TYPE_QUADROTOR


def make_vehicle(**timeline) -> SimVehicle:
    return SimVehicle(SimConfig(*HOME, utc_at_boot_s=1_700_000_000.0, **timeline))


def run(vehicle: SimVehicle, seconds: float, dt: float = 0.05) -> list:
    events = []
    for _ in range(int(round(seconds / dt))):
        vehicle.step(dt)
        events += vehicle.outbox
        vehicle.outbox = []
    return events


def texts(events):
    return [payload[1] for kind, payload in events if kind == "statustext"]


def test_arming_refused_until_prearm_checks_pass():
    v = make_vehicle()
    run(v, 25)
    assert v.set_mode(mode_number(QUAD, "GUIDED")) == mavlink.MAV_RESULT_ACCEPTED   # EKF origin at 20 s
    assert v.arm() == mavlink.MAV_RESULT_FAILED
    assert texts(v.outbox)[-1] == "Arm: Need Position Estimate"
    events = run(v, 10)                                  # the periodic pre-arm report at 30 s
    assert "PreArm: Need Position Estimate" in texts(events)
    run(v, 10)
    assert v.arm() == mavlink.MAV_RESULT_ACCEPTED and v.armed
    assert ("home_position", None) in v.outbox


def test_startup_timeline_position_then_origin():
    v = make_vehicle()
    run(v, 9.9)
    assert v.utc_s is None and not v.gps_ok and v.home_xy is None
    assert v.set_mode(mode_number(QUAD, "GUIDED")) == mavlink.MAV_RESULT_FAILED     # no position yet
    run(v, 0.2)
    assert v.utc_s == pytest.approx(1_700_000_000.0 + 10.1)
    run(v, 10)
    assert v.home_xy is not None


def test_auto_disarm_when_not_taking_off():
    v = make_vehicle(prearm_ok_s=1.0, ekf_origin_s=0.5, gps_fix_s=0.1)
    run(v, 1.5)
    v.set_mode(mode_number(QUAD, "GUIDED"))
    assert v.arm() == mavlink.MAV_RESULT_ACCEPTED
    run(v, 11)
    assert not v.armed                                  # DISARM_DELAY 10 s on the ground


def flown(items, **timeline):
    v = make_vehicle(prearm_ok_s=1.0, ekf_origin_s=0.5, gps_fix_s=0.1, **timeline)
    run(v, 1.5)
    v.set_mission(items)
    v.set_mode(mode_number(QUAD, "GUIDED"))
    assert v.arm() == mavlink.MAV_RESULT_ACCEPTED
    assert v.takeoff(30.0) == mavlink.MAV_RESULT_ACCEPTED
    events = run(v, 15)
    assert v.alt_rel_m == pytest.approx(30.0, abs=1.0)
    assert v.set_mode(mode_number(QUAD, "AUTO")) == mavlink.MAV_RESULT_ACCEPTED
    for _ in range(60):
        events += run(v, 10)
        if not v.armed:
            break
    return v, events


def test_mission_flown_reached_in_order_then_rtl_lands_and_disarms():
    lat, lon, _ = HOME
    items = [home_item(lon, lat, 5), takeoff_item(lon, lat, 30), waypoint_item(lon, lat + 0.002, 30),
             waypoint_item(lon + 0.002, lat + 0.002, 30), rtl_item()]
    v, events = flown(items)
    assert not v.armed and v.alt_rel_m == 0.0
    reached = [p for k, p in events if k == "mission_item_reached"]
    assert reached == [1, 2, 3, 4]
    said = texts(events)
    assert said.index("Reached command #2") < said.index("Reached command #3") < said.index("Disarming motors")
    assert "Mission: 4 RTL" in said
    lat_now, lon_now = v.lat_lon_deg
    assert distance_m(lon, lat, lon_now, lat_now) < 2.0          # landed at home
    assert v.mode == "AUTO"                                      # mission RTL keeps AUTO, as ArduCopter does
    assert v.battery_remaining_pct < 100


def test_camera_triggers_every_trigger_distance():
    lat, lon, _ = HOME
    leg_end = (lon, lat + 0.003)                                  # about 333 m north
    items = [home_item(lon, lat, 5), takeoff_item(lon, lat, 30), cam_trigg_dist_item(25),
             waypoint_item(*leg_end, 30), cam_trigg_dist_item(0), rtl_item()]
    v, events = flown(items)
    shots = [p for k, p in events if k == "camera_feedback"]
    leg = distance_m(lon, lat, *leg_end)
    # one at once (param3 = 1) when the trigger distance is set, every 25 m, one when it is reset
    assert len(shots) == pytest.approx(leg // 25 + 2, abs=1)
    by_distance = shots[:-1]
    gaps = [distance_m(a["lon_deg"], a["lat_deg"], b["lon_deg"], b["lat_deg"])
            for a, b in zip(by_distance, by_distance[1:])]
    assert all(g == pytest.approx(25, abs=0.6) for g in gaps)
    assert [s["img_idx"] for s in shots] == list(range(1, len(shots) + 1))
    assert all(s["alt_rel"] == pytest.approx(30, abs=1) for s in shots)
    cruise = [s for s in shots[2:-2]]
    assert all(-35 <= s["pitch"] <= -20 and (s["yaw"] > 355 or s["yaw"] < 5) for s in cruise)


def test_rtl_mode_climbs_to_rtl_alt_and_lands():
    v = make_vehicle(prearm_ok_s=1.0, ekf_origin_s=0.5, gps_fix_s=0.1)
    run(v, 1.5)
    v.set_mode(mode_number(QUAD, "GUIDED"))
    v.arm()
    v.takeoff(8.0)
    run(v, 6)
    assert v.set_mode(mode_number(QUAD, "RTL")) == mavlink.MAV_RESULT_ACCEPTED
    alts = []
    for _ in range(120):
        run(v, 0.5)
        alts.append(v.alt_rel_m)
        if not v.armed:
            break
    assert max(alts) == pytest.approx(15.0, abs=0.6)             # RTL_ALT 15 m
    assert not v.armed and v.mode == "RTL"


def test_disarm_refused_in_flight_unless_forced():
    v, _ = make_vehicle(prearm_ok_s=1.0, ekf_origin_s=0.5, gps_fix_s=0.1), None
    run(v, 1.5)
    v.set_mode(mode_number(QUAD, "GUIDED"))
    v.arm()
    v.takeoff(10.0)
    run(v, 3)
    assert v.disarm() == mavlink.MAV_RESULT_FAILED and v.armed
    assert v.disarm(force=True) == mavlink.MAV_RESULT_ACCEPTED and not v.armed


def test_auto_refused_without_mission():
    v = make_vehicle(ekf_origin_s=0.5, gps_fix_s=0.1)
    run(v, 1)
    assert v.set_mode(mode_number(QUAD, "AUTO")) == mavlink.MAV_RESULT_FAILED
    assert v.set_mode(99) == mavlink.MAV_RESULT_FAILED
    assert math.isclose(v.yaw_deg, 90.0)


def test_unknown_parameter_is_refused():
    from telemetry.errors import TelemetryError
    from telemetry.sim import SimServer

    with pytest.raises(TelemetryError, match="NOT_A_PARAM"):
        SimServer(HOME, endpoints=["udpout:127.0.0.1:9"], params={"NOT_A_PARAM": 1.0})
