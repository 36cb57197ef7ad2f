"""VehicleState from real MAVLink frames: fields, link quality from sequence numbers, chunked texts."""

from __future__ import annotations

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.state import SequenceCounter, VehicleState

SURVEY = "arducopter_sitl_pinghu_survey/survey_camera.tlog"


def wire(msg, *, sysid=1, compid=1, seq=0, v1=False):
    """``msg`` packed as a vehicle sends it and parsed back, as a link hands it over."""
    mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
    mav.seq = seq
    return mavlink.MAVLink(None).decode(bytearray(msg.pack(mav, force_mavlink1=v1)))


ENC = mavlink.MAVLink(None)


def test_heartbeat_position_battery_gps_and_mission():
    state = VehicleState(link="udpin:0.0.0.0:14550", system_id=1)
    for k, msg in enumerate([
            ENC.heartbeat_encode(2, 3, 217, 3, mavlink.MAV_STATE_ACTIVE),
            ENC.global_position_int_encode(1000, 307005002, 1210185002, 45070, 40009, 955, -9, -100, 35953),
            ENC.sys_status_encode(0x2F, 0x2F, 0x0F, 0, 11900, 2800, 54, 0, 0, 0, 0, 0, 0),
            ENC.gps_raw_int_encode(0, 3, 0, 0, 0, 121, 200, 0, 0, 9),
            ENC.mission_current_encode(4, 10, 3, 1),
            ENC.mission_item_reached_encode(3),
            ENC.ekf_status_report_encode(831, 0.1, 0.2, 0.05, 0.3, 0.0),
            ENC.fence_status_encode(1, 2, mavlink.FENCE_BREACH_BOUNDARY, 1000)]):
        state.update(wire(msg, seq=k), now_s=10.0 + k, t_utc_s=1.8e9 + k)
    assert (state.mode, state.armed, state.system_status) == ("AUTO", True, mavlink.MAV_STATE_ACTIVE)
    assert (state.lat_deg, state.lon_deg, state.alt_rel_m, state.heading_deg) == (30.7005002, 121.0185002, 40.009,
                                                                                   359.53)
    assert state.groundspeed_m_s == pytest.approx(9.55, abs=1e-3)
    assert (state.battery_remaining_pct, state.battery_voltage_v) == (54.0, 11.9)
    assert state.sensors_unhealthy == 0x20                      # present and enabled, not healthy
    assert (state.gps_fix_type, state.satellites_visible) == (3, 9)
    assert (state.mission_seq, state.mission_total, state.last_reached_seq) == (4, 10, 3)
    assert (state.ekf_flags, state.ekf_max_variance) == (831, pytest.approx(0.3))
    assert (state.fence_breach_status, state.fence_breach_type, state.fence_breach_count) == (1, 3, 2)
    assert (state.last_heartbeat_s, state.last_message_utc_s, state.packets_lost) == (10.0, 1.8e9 + 7, 0)
    out = state.as_dict(now_s=20.0)
    assert (out["heartbeat_age_s"], out["position_age_s"], out["packet_loss_pct"]) == (10.0, 9.0, 0.0)
    assert out["sequences"] == {"1": {"received": 8, "lost": 0, "restarts": 0}}


def test_a_camera_heartbeat_does_not_make_the_mode():
    state = VehicleState(link="x", system_id=1)
    state.update(wire(ENC.heartbeat_encode(mavlink.MAV_TYPE_CAMERA, 8, 0, 0, 4), compid=100), 1.0)
    assert state.mode is None and state.last_heartbeat_s is None


def test_packet_loss_is_counted_per_component_from_sequence_numbers():
    state = VehicleState(link="x", system_id=1)
    for seq in (0, 1, 2, 5, 6):                     # autopilot: 3 and 4 lost
        state.update(wire(ENC.attitude_encode(0, 0, 0, 0, 0, 0, 0), seq=seq), 1.0)
    for seq in (200, 201, 203):                     # the camera: 202 lost
        state.update(wire(ENC.attitude_encode(0, 0, 0, 0, 0, 0, 0), compid=100, seq=seq), 1.0)
    assert (state.packets_received, state.packets_lost) == (8, 3)
    assert state.packet_loss_pct == pytest.approx(100 * 3 / 11)
    state.restart_sequences()                       # a reconnection: a new sequence is not loss
    state.update(wire(ENC.attitude_encode(0, 0, 0, 0, 0, 0, 0), seq=90), 1.0)
    assert state.packets_lost == 3


def test_a_sequence_restart_is_not_loss():
    c = SequenceCounter()
    for seq in (10, 11, 12, 0, 1, 1):               # the sender rebooted, then a duplicate
        c.count(seq)
    assert (c.received, c.lost, c.restarts) == (6, 0, 2)


def test_chunked_statustext_is_joined():
    state = VehicleState(link="x", system_id=1)
    first = "PreArm: Battery 1 below minimum arming voltage and "
    state.update(wire(ENC.statustext_encode(2, first[:50].encode(), 7, 0)), 1.0)
    assert not state.statustext_complete and state.last_statustext is None
    state.update(wire(ENC.statustext_encode(2, (first[50:] + "capacity").encode(), 7, 1)), 1.0)
    assert state.statustext_complete and state.last_statustext == first + "capacity"
    assert state.last_statustext_severity == 2


def test_mavlink1_frames_give_the_same_state():
    v1, v2 = VehicleState(link="x", system_id=3), VehicleState(link="x", system_id=3)
    for k, msg in enumerate([ENC.heartbeat_encode(2, 3, 89, 5, 3),
                             ENC.global_position_int_encode(0, 307005002, 1210185002, 5000, 0, 0, 0, 0, 9000)]):
        v1.update(wire(msg, sysid=3, seq=k, v1=True), 1.0)
        v2.update(wire(msg, sysid=3, seq=k), 1.0)
    assert (v1.mode, v1.armed, v1.lat_deg, v1.heading_deg) == (v2.mode, v2.armed, v2.lat_deg, v2.heading_deg) \
        == ("LOITER", False, 30.7005002, 90.0)


def test_the_real_sitl_survey_ends_landed_in_auto_with_no_loss(samples, read_tlog):
    state = VehicleState(link="tcp:127.0.0.1:5760", system_id=1)
    messages = [m for m in read_tlog(samples / "telemetry" / SURVEY) if m.get_srcSystem() == 1]
    for m in messages:
        state.update(m, m._timestamp, m._timestamp)
    assert (state.mode, state.armed, state.mav_type) == ("AUTO", False, mavlink.MAV_TYPE_QUADROTOR)
    assert state.home is not None and state.home.lat_deg == pytest.approx(30.7005, abs=1e-4)
    assert (state.last_statustext, state.last_statustext_severity) == ("Disarming motors", mavlink.MAV_SEVERITY_INFO)
    # ten items after home; the RTL (item 10) reached at touchdown
    assert (state.mission_total, state.last_reached_seq) == (10, 10)
    assert (state.gps_fix_type, state.satellites_visible) == (mavlink.GPS_FIX_TYPE_RTK_FIXED, 10)
    # TCP on loopback: every frame of the autopilot arrived, the sequence shows no gap
    assert state.sequences[1].received == sum(1 for m in messages if m.get_srcComponent() == 1)
    assert state.packets_lost == 0
