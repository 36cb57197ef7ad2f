"""The mission protocol against scripted vehicles (no sockets: a list-of-replies channel)."""

from __future__ import annotations

import math

import pytest
from pymavlink.dialects.v10 import ardupilotmega as mavlink1
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.items import MissionItem, cam_trigg_dist_item, home_item, rtl_item, takeoff_item, waypoint_item
from telemetry.errors import MissionUploadError
from telemetry.handle import Subscription
from telemetry.mission_protocol import download_mission, upload_mission

LAT, LON = 30.7005, 121.0185
ITEMS = [home_item(LON, LAT, 5.0), takeoff_item(LON, LAT, 40.0), cam_trigg_dist_item(20.0),
         waypoint_item(121.0187089, 30.7006796, 40.0), waypoint_item(121.0187089, 30.7017576, 40.0), rtl_item()]


class ScriptedChannel:
    """A vehicle handle whose vehicle is a function: message sent -> replies (or None to stay silent)."""

    target_system, target_component = 1, 1

    def __init__(self, vehicle, dialect=mavlink):
        self.mav = dialect.MAVLink(None, srcSystem=255, srcComponent=190)
        self._vehicle_mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
        self._vehicle = vehicle
        self._subs: list[Subscription] = []
        self.sent: list = []

    def subscribe(self, types):
        sub = Subscription(types, on_close=self._subs.remove)
        self._subs.append(sub)
        return sub

    def send(self, msg):
        msg = self._vehicle_mav.decode(bytearray(msg.pack(self.mav)))   # what the vehicle would receive
        self.sent.append(msg)
        for build in self._vehicle(msg) or ():
            reply = build(self._vehicle_mav)
            reply = self._vehicle_mav.decode(bytearray(reply.pack(self._vehicle_mav)))
            for sub in list(self._subs):
                sub.offer(reply)


def ardupilot(request_type="MISSION_REQUEST", fail_at=None, fail_with=None, drop=()):
    """A vehicle taking an upload; ``drop``: indexes of sent messages it never hears."""
    state = {"count": 0, "items": {}, "heard": 0}

    def vehicle(msg):
        index = state["heard"]
        state["heard"] += 1
        if index in drop:
            return None
        kind = msg.get_type()
        ask = (lambda seq: lambda m: m.mission_request_encode(255, 190, seq, msg.mission_type)) \
            if request_type == "MISSION_REQUEST" else \
            (lambda seq: lambda m: m.mission_request_int_encode(255, 190, seq, msg.mission_type))
        if kind == "MISSION_COUNT":
            state["count"] = msg.count
            return [ask(0)]
        if kind == "MISSION_ITEM_INT":
            state["items"][msg.seq] = msg
            if fail_at is not None and msg.seq == fail_at:
                return [lambda m: m.mission_ack_encode(255, 190, fail_with, msg.mission_type)]
            if msg.seq + 1 < state["count"]:
                return [ask(msg.seq + 1)]
            return [lambda m: m.mission_ack_encode(255, 190, mavlink.MAV_MISSION_ACCEPTED, msg.mission_type)]
        return None

    vehicle.state = state
    return vehicle


@pytest.mark.parametrize("request_type", ["MISSION_REQUEST", "MISSION_REQUEST_INT"])
def test_upload_answers_both_request_kinds_with_mission_item_int(request_type):
    vehicle = ardupilot(request_type)
    channel = ScriptedChannel(vehicle)
    upload_mission(channel, ITEMS, timeout_s=0.5)
    got = vehicle.state["items"]
    assert sorted(got) == list(range(len(ITEMS)))
    for seq, item in enumerate(ITEMS):
        wire = got[seq]
        assert (wire.command, wire.frame, wire.autocontinue) == (item.command, item.frame, int(item.autocontinue))
        assert (wire.x, wire.y) == (round(item.lat_deg * 1e7), round(item.lon_deg * 1e7))     # degE7 at the edge
        assert wire.z == pytest.approx(item.alt_m)
        assert wire.param1 == pytest.approx(item.param1) or math.isnan(item.param1)
    assert [m.get_type() for m in channel.sent] == ["MISSION_COUNT"] + ["MISSION_ITEM_INT"] * len(ITEMS)


def test_upload_over_mavlink1_link():
    """Before the vehicle's first MAVLink 2 frame pymavlink speaks MAVLink 1 (no mission_type field)."""
    vehicle = ardupilot()
    channel = ScriptedChannel(vehicle, dialect=mavlink1)
    upload_mission(channel, ITEMS, timeout_s=0.5)
    assert sorted(vehicle.state["items"]) == list(range(len(ITEMS)))
    assert all(m.get_msgbuf()[0] == 0xFE for m in channel.sent)            # MAVLink 1 frames
    with pytest.raises(MissionUploadError, match="MAVLink 2"):
        upload_mission(channel, ITEMS, mission_type=mavlink.MAV_MISSION_TYPE_FENCE, timeout_s=0.1)


@pytest.mark.parametrize("result", ["MAV_MISSION_NO_SPACE", "MAV_MISSION_INVALID_SEQUENCE", "MAV_MISSION_DENIED"])
def test_rejection_raises_with_the_result_name(result):
    """INVALID_SEQUENCE too: only an item sent twice may earn one without failing the upload."""
    channel = ScriptedChannel(ardupilot(fail_at=2, fail_with=getattr(mavlink, result)))
    with pytest.raises(MissionUploadError, match=result) as err:
        upload_mission(channel, ITEMS, timeout_s=0.5)
    assert err.value.result == result
    assert [m.get_type() for m in channel.sent].count("MISSION_ITEM_INT") == 3      # items 0-2, none again


def test_lost_messages_are_sent_again():
    vehicle = ardupilot(drop={0, 3})            # the first MISSION_COUNT and one item are lost
    channel = ScriptedChannel(vehicle)
    upload_mission(channel, ITEMS, timeout_s=0.05, retries=3)
    assert sorted(vehicle.state["items"]) == list(range(len(ITEMS)))
    assert [m.get_type() for m in channel.sent].count("MISSION_COUNT") == 2


def test_silent_vehicle_times_out_after_the_retries():
    channel = ScriptedChannel(lambda msg: None)
    with pytest.raises(MissionUploadError, match="TIMEOUT") as err:
        upload_mission(channel, ITEMS, timeout_s=0.02, retries=2)
    assert err.value.result == "TIMEOUT"
    assert len(channel.sent) == 3                 # the MISSION_COUNT and two resends


def test_download_reads_items_back():
    stored = [MissionItem(command=i.command, frame=i.frame, param1=i.param1, param2=i.param2, param3=i.param3,
                          param4=i.param4, lat_deg=i.lat_deg, lon_deg=i.lon_deg, alt_m=i.alt_m) for i in ITEMS]

    def vehicle(msg):
        kind = msg.get_type()
        if kind == "MISSION_REQUEST_LIST":
            return [lambda m: m.mission_count_encode(255, 190, len(stored), 0)]
        if kind == "MISSION_REQUEST_INT":
            it = stored[msg.seq]
            return [lambda m: m.mission_item_int_encode(
                255, 190, msg.seq, it.frame, it.command, 0, 1, it.param1, it.param2, it.param3, it.param4,
                round(it.lat_deg * 1e7), round(it.lon_deg * 1e7), it.alt_m, 0)]
        return None

    channel = ScriptedChannel(vehicle)
    items = download_mission(channel, timeout_s=0.5)
    assert [(i.command, i.frame) for i in items] == [(i.command, i.frame) for i in ITEMS]
    assert [i.lat_deg for i in items] == pytest.approx([i.lat_deg for i in ITEMS], abs=1e-7)
    assert channel.sent[-1].get_type() == "MISSION_ACK"
