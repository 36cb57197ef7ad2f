"""Alarms as pure rules over successive vehicle states, the ground geofence and its watcher."""

from __future__ import annotations

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.items import MissionItem, fence_return_point_item, fence_vertex_item
from telemetry.alarms import AlarmMonitor, AlarmThresholds
from telemetry.geofence import FenceWatcher, Geofence
from telemetry.state import VehicleState

from .test_state import ENC, SURVEY, wire

LAT, LON = 30.7005, 121.0185
SQUARE = [(LON - 0.001, LAT - 0.001), (LON + 0.001, LAT - 0.001), (LON + 0.001, LAT + 0.001),
          (LON - 0.001, LAT + 0.001)]
HOLE = [(LON + 0.0002, LAT + 0.0002), (LON + 0.0004, LAT + 0.0002), (LON + 0.0004, LAT + 0.0004)]


class Vehicle:
    """A vehicle state and its alarm monitor, fed message by message at a monotonic time."""

    def __init__(self, **thresholds):
        self.state = VehicleState(link="test", system_id=1)
        self.monitor = AlarmMonitor(AlarmThresholds(**thresholds))
        self.now = 0.0
        self.commanded: set[str] = set()
        self.seq = 0

    def feed(self, msg, *, fence=None, dt=0.1):
        self.now += dt
        self.seq = (self.seq + 1) % 256
        m = wire(msg, seq=self.seq)
        self.state.update(m, self.now)
        out = self.monitor.on_message(m, self.state, self.now, commanded=lambda mode: mode in self.commanded)
        return out + self.monitor.evaluate(self.state, self.now, fence)

    def tick(self, dt, fence=None):
        self.now += dt
        return self.monitor.evaluate(self.state, self.now, fence)


def codes(alarms):
    return [(a.code, a.transition) for a in alarms]


def heartbeat(mode=3, armed=True, status=mavlink.MAV_STATE_ACTIVE):
    return ENC.heartbeat_encode(2, 3, 217 if armed else 89, mode, status)


def sys_status(pct, health=0x2F):
    return ENC.sys_status_encode(0x2F, 0x2F, health, 0, 11900, 2800, pct, 0, 0, 0, 0, 0, 0)


def position(lat, lon):
    return ENC.global_position_int_encode(0, int(lat * 1e7), int(lon * 1e7), 45000, 40000, 0, 0, 0, 0)


def test_battery_low_then_critical_then_cleared_with_hysteresis():
    v = Vehicle(battery_low_pct=30, battery_critical_pct=15, battery_hysteresis_pct=2)
    v.feed(heartbeat())
    assert v.feed(sys_status(31)) == []
    low = v.feed(sys_status(30))
    assert codes(low) == [("battery_low", "raised")] and low[0].severity == mavlink.MAV_SEVERITY_WARNING
    assert low[0].data == {"remaining_pct": 30.0, "threshold_pct": 30}
    assert v.feed(sys_status(29)) == []                          # raised once, not at every reading
    assert codes(v.feed(sys_status(15))) == [("battery_critical", "raised")]
    assert v.feed(sys_status(17)) == []                          # within the hysteresis: still critical
    assert codes(v.feed(sys_status(18))) == [("battery_critical", "cleared")]    # a battery swap
    assert codes(v.feed(sys_status(100))) == [("battery_low", "cleared")]
    assert v.monitor.active == {}


def test_link_lost_after_the_configured_silence_and_restored_by_a_heartbeat():
    v = Vehicle(link_loss_s=5)
    v.feed(heartbeat())
    assert v.tick(4.9) == []
    lost = v.tick(0.2)
    assert codes(lost) == [("link_lost", "raised")] and lost[0].data["silence_s"] == pytest.approx(5.1)
    assert v.tick(10) == []
    assert codes(v.feed(heartbeat())) == [("link_lost", "cleared")]


def test_nothing_new_is_raised_from_stale_values_while_the_link_is_lost():
    v = Vehicle(link_loss_s=1)
    v.feed(heartbeat())
    v.feed(sys_status(10))
    assert set(v.monitor.active) == {"battery_low", "battery_critical"}
    assert codes(v.tick(2)) == [("link_lost", "raised")]
    assert set(v.monitor.active) == {"battery_low", "battery_critical", "link_lost"}


def test_gps_fix_lost_only_after_a_3d_fix():
    v = Vehicle()
    v.feed(heartbeat(armed=False))
    assert v.feed(ENC.gps_raw_int_encode(0, 1, 0, 0, 0, 0, 0, 0, 0, 0)) == []     # boot: no fix yet
    v.feed(ENC.gps_raw_int_encode(0, 3, 0, 0, 0, 0, 0, 0, 0, 11))
    lost = v.feed(ENC.gps_raw_int_encode(0, 1, 0, 0, 0, 0, 0, 0, 0, 3))
    assert codes(lost) == [("gps_fix_lost", "raised")]
    assert lost[0].message == "GPS fix lost: GPS_FIX_TYPE_NO_FIX, 3 satellites"
    assert codes(v.feed(ENC.gps_raw_int_encode(0, 6, 0, 0, 0, 0, 0, 0, 0, 12))) == [("gps_fix_lost", "cleared")]


def test_ekf_alarm_after_healthy_and_on_variance():
    v = Vehicle(ekf_variance=0.8)
    assert v.feed(ENC.ekf_status_report_encode(167, 0, 0, 0, 0, 0)) == []          # before the GPS: normal
    assert v.feed(ENC.ekf_status_report_encode(831, 0, 0, 0, 0, 0)) == []
    bad = v.feed(ENC.ekf_status_report_encode(831 | mavlink.EKF_GPS_GLITCHING, 0, 0, 0, 0, 0))
    assert codes(bad) == [("ekf", "raised")] and "EKF_GPS_GLITCHING" in bad[0].message
    assert codes(v.feed(ENC.ekf_status_report_encode(831, 0.1, 0, 0, 0, 0))) == [("ekf", "cleared")]
    assert codes(v.feed(ENC.ekf_status_report_encode(831, 0.1, 0.85, 0, 0, 0))) == [("ekf", "raised")]


def test_failsafe_mode_raises_only_when_not_commanded():
    v = Vehicle()
    v.feed(heartbeat(mode=3))                                    # AUTO
    raised = v.feed(heartbeat(mode=6))                           # RTL, nobody asked: a failsafe
    assert codes(raised) == [("failsafe_mode", "raised")] and raised[0].data == {"mode": "RTL"}
    assert codes(v.feed(heartbeat(mode=5))) == [("failsafe_mode", "cleared")]     # LOITER: back in hand
    v.commanded.add("LAND")
    assert v.feed(heartbeat(mode=9)) == []                        # LAND asked by this ground station
    assert v.feed(heartbeat(mode=4)) == []                        # GUIDED is no failsafe mode


def test_first_mode_seen_is_not_a_mode_change():
    v = Vehicle()
    assert v.feed(heartbeat(mode=6)) == []                        # first heard in RTL: no change seen


def test_system_status_critical_and_emergency():
    v = Vehicle()
    assert codes(v.feed(heartbeat(status=mavlink.MAV_STATE_CRITICAL))) == [("system_critical", "raised")]
    changes = v.feed(heartbeat(status=mavlink.MAV_STATE_EMERGENCY))
    assert sorted(codes(changes)) == [("system_critical", "cleared"), ("system_emergency", "raised")]
    assert v.monitor.active["system_emergency"].severity == mavlink.MAV_SEVERITY_EMERGENCY


def test_a_sensor_going_unhealthy_after_being_healthy():
    v = Vehicle()
    gps = mavlink.MAV_SYS_STATUS_SENSOR_GPS
    assert v.feed(sys_status(90, health=0x2F & ~gps)) == []          # unhealthy from the start: boot
    v.feed(sys_status(90, health=0x2F))
    lost = v.feed(sys_status(90, health=0x2F & ~gps))
    assert codes(lost) == [("sensor_unhealthy", "raised")] and lost[0].data["sensors"] == ["GPS"]


def test_fence_breach_reported_by_the_vehicle():
    v = Vehicle()
    raised = v.feed(ENC.fence_status_encode(1, 1, mavlink.FENCE_BREACH_BOUNDARY, 0))
    assert codes(raised) == [("fence_breach", "raised")]
    assert codes(v.feed(ENC.fence_status_encode(0, 1, 0, 0))) == [("fence_breach", "cleared")]


def fence_items():
    return ([fence_vertex_item(x, y, 4) for x, y in SQUARE] + [fence_vertex_item(x, y, 3, inclusion=False)
                                                               for x, y in HOLE] + [fence_return_point_item(LON, LAT)])


def test_ground_fence_breach_outside_the_inclusion_and_inside_an_exclusion():
    fence = Geofence.from_items(fence_items())
    v = Vehicle()
    assert v.feed(position(LAT, LON), fence=fence) == []
    out = v.feed(position(LAT + 0.0015, LON), fence=fence)
    assert codes(out) == [("fence_breach_ground", "raised")]
    assert out[0].message == "geofence breach (ground check): outside inclusion polygon 1"
    assert codes(v.feed(position(LAT, LON), fence=fence)) == [("fence_breach_ground", "cleared")]
    hole = v.feed(position(LAT + 0.00025, LON + 0.00035), fence=fence)
    assert hole[0].data["reason"] == "inside exclusion polygon 2"


def test_circle_fences():
    fence = Geofence.from_items([MissionItem(mavlink.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION, 0, param1=100.0,
                                             lat_deg=LAT, lon_deg=LON),
                                 MissionItem(mavlink.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION, 0, param1=10.0,
                                             lat_deg=LAT + 0.0005, lon_deg=LON)])
    assert fence.breach(LAT + 0.0008, LON) is None                          # 89 m from the centre
    assert fence.breach(LAT + 0.0010, LON) == "outside inclusion circle 1"  # 111 m
    assert fence.breach(LAT + 0.0005, LON + 0.00005) == "inside exclusion circle 2"


def test_a_malformed_fence_is_refused():
    with pytest.raises(ValueError, match="polygon of 4 vertices is incomplete"):
        Geofence.from_items([fence_vertex_item(x, y, 4) for x, y in SQUARE[:3]])


def test_statustext_notice_at_warning_or_worse_once_per_repeat_window():
    v = Vehicle(statustext_repeat_s=30)
    assert v.feed(ENC.statustext_encode(6, b"Arming motors", 0, 0)) == []
    first = v.feed(ENC.statustext_encode(2, b"PreArm: Need Position Estimate", 0, 0))
    assert codes(first) == [("statustext", "notice")]
    assert first[0].message == "CRITICAL: PreArm: Need Position Estimate"
    assert v.feed(ENC.statustext_encode(2, b"PreArm: Need Position Estimate", 0, 0), dt=10) == []
    assert codes(v.feed(ENC.statustext_encode(4, b"Fence Breach", 0, 0))) == [("statustext", "notice")]
    assert codes(v.feed(ENC.statustext_encode(2, b"PreArm: Need Position Estimate", 0, 0), dt=25)) == \
        [("statustext", "notice")]                                           # 35 s after the first


@pytest.mark.parametrize("bad", [dict(battery_low_pct=10, battery_critical_pct=20), dict(link_loss_s=0),
                                 dict(statustext_severity=9), dict(battery_low_pct=120)])
def test_thresholds_are_checked(bad):
    with pytest.raises(ValueError):
        AlarmThresholds(**bad)


def test_the_real_sitl_survey_raises_only_the_pre_arm_texts(samples, read_tlog):
    """A normal flight of ArduCopter 4.6.3 SITL: no EKF, GPS, sensor, battery or mode alarm."""
    state, monitor = VehicleState(link="tcp:127.0.0.1:5760", system_id=1), AlarmMonitor()
    raised = []
    for m in read_tlog(samples / "telemetry" / SURVEY):
        if m.get_srcSystem() != 1:
            continue
        state.update(m, m._timestamp)
        raised += monitor.on_message(m, state, m._timestamp)
        raised += monitor.evaluate(state, m._timestamp)
    assert {a.code for a in raised} == {"statustext"}
    assert [a.message for a in raised] == ["CRITICAL: Arm: Gyros inconsistent", "CRITICAL: Arm: Need Position Estimate",
                                           "CRITICAL: PreArm: Need Position Estimate"]


def frames(*messages, sysid=1, compid=1):
    return [wire(m, sysid=sysid, compid=compid) for m in messages]


def test_fence_watcher_learns_an_accepted_upload_and_ignores_a_refused_one():
    gcs = mavlink.MAVLink(None, srcSystem=255, srcComponent=190)
    items = fence_items()
    fence_type = mavlink.MAV_MISSION_TYPE_FENCE

    def upload(watcher, result):
        watcher.sent(gcs.mission_count_encode(1, 1, len(items), fence_type))
        for seq, item in enumerate(items):
            watcher.sent(gcs.mission_item_int_encode(1, 1, seq, item.frame, item.command, 0, 1, item.param1, 0, 0, 0,
                                                     int(round(item.lat_deg * 1e7)), int(round(item.lon_deg * 1e7)),
                                                     0, fence_type))
        (ack,) = frames(ENC.mission_ack_encode(255, 190, result, fence_type))
        watcher.received(ack)

    refused = FenceWatcher()
    upload(refused, mavlink.MAV_MISSION_ERROR)
    assert refused.fence(1) is None
    watcher = FenceWatcher()
    upload(watcher, mavlink.MAV_MISSION_ACCEPTED)
    fence = watcher.fence(1)
    assert fence is not None and [inc for _, inc in fence.polygons] == [True, False]
    assert fence.breach(LAT + 0.0015, LON) == "outside inclusion polygon 1"
    assert watcher.fence(2) is None                      # another vehicle on the link
    watcher.sent(gcs.mission_clear_all_encode(1, 1, fence_type))
    (ack,) = frames(ENC.mission_ack_encode(255, 190, mavlink.MAV_MISSION_ACCEPTED, fence_type))
    watcher.received(ack)
    assert watcher.fence(1) is None


def test_fence_watcher_learns_a_download():
    watcher = FenceWatcher()
    items = fence_items()
    fence_type = mavlink.MAV_MISSION_TYPE_FENCE
    for m in frames(ENC.mission_count_encode(255, 190, len(items), fence_type)):
        watcher.received(m)
    for seq, item in enumerate(items):
        (m,) = frames(ENC.mission_item_int_encode(255, 190, seq, 0, item.command, 0, 0, item.param1, 0, 0, 0,
                                                  int(round(item.lat_deg * 1e7)), int(round(item.lon_deg * 1e7)),
                                                  0, fence_type))
        watcher.received(m)
    assert watcher.fence(1).breach(LAT + 0.00025, LON + 0.00035) == "inside exclusion polygon 2"
