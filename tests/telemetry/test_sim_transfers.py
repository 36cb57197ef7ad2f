"""The simulated vehicle's side of the mission protocol (missions, geofence, rally points), with
no sockets: a ground station writes frames into a channel and reads what it answers; the
transfer clock is a number the test moves."""

from __future__ import annotations

import dataclasses
import math

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.items import MissionItem
from telemetry.errors import TelemetryError
from telemetry.mission_protocol import item_from_wire, item_to_wire_fields
from telemetry.sim.faults import DropRule, parse_drop
from telemetry.sim.protocol import SimProtocol
from telemetry.sim.transfers import REQUEST_RESEND_S, UPLOAD_TIMEOUT_S
from telemetry.sim.vehicle import SimConfig, SimVehicle

from .conftest import HOME, fence_polygon

FENCE, RALLY, MISSION = (mavlink.MAV_MISSION_TYPE_FENCE, mavlink.MAV_MISSION_TYPE_RALLY,
                         mavlink.MAV_MISSION_TYPE_MISSION)


class Gcs:
    """A ground station (255/190) on one channel of a simulated vehicle."""

    def __init__(self, proto: SimProtocol, system: int = 255) -> None:
        self.proto = proto
        self._out = bytearray()
        self.channel = proto.add_channel(self._out.extend)
        self.mav = mavlink.MAVLink(None, srcSystem=system, srcComponent=190)
        self._parser = mavlink.MAVLink(None)

    def send(self, msg) -> None:
        self.channel.receive(bytes(msg.pack(self.mav)))

    def heard(self) -> list:
        """Everything the vehicle sent since the last call (HEARTBEATs and streams excluded)."""
        msgs = self._parser.parse_buffer(bytes(self._out)) or []
        self._out.clear()
        return [m for m in msgs if m.get_type() in ("MISSION_REQUEST", "MISSION_ACK", "MISSION_COUNT", "STATUSTEXT",
                                                    "MISSION_ITEM_INT", "MISSION_ITEM")]

    def item(self, seq: int, item, mission_type: int):
        f = item_to_wire_fields(item)
        return self.mav.mission_item_int_encode(1, 1, seq, f["frame"], f["command"], 0, f["autocontinue"],
                                                f["param1"], f["param2"], f["param3"], f["param4"], f["x"], f["y"],
                                                f["z"], mission_type)

    def upload(self, items, mission_type: int) -> list:
        """Send a whole upload as a well-behaved ground station; return what the vehicle said."""
        said = []
        self.send(self.mav.mission_count_encode(1, 1, len(items), mission_type))
        for _ in range(len(items) + 1):
            replies = self.heard()
            said += replies
            asks = [m for m in replies if m.get_type() == "MISSION_REQUEST"]
            if not asks:
                break
            self.send(self.item(asks[-1].seq, items[asks[-1].seq], mission_type))
        return said + self.heard()

    def download(self, mission_type: int) -> list:
        self.send(self.mav.mission_request_list_encode(1, 1, mission_type))
        (count,) = [m.count for m in self.heard() if m.get_type() == "MISSION_COUNT"]
        out = []
        for seq in range(count):
            self.send(self.mav.mission_request_int_encode(1, 1, seq, mission_type))
            out += [m for m in self.heard() if m.get_type() == "MISSION_ITEM_INT"]
        return out


def acks(msgs) -> list[tuple[int, int]]:
    return [(m.type, m.mission_type) for m in msgs if m.get_type() == "MISSION_ACK"]


def texts(msgs) -> list[str]:
    return [m.text for m in msgs if m.get_type() == "STATUSTEXT"]


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


@pytest.fixture
def proto(clock) -> SimProtocol:
    vehicle = SimVehicle(SimConfig(*HOME, utc_at_boot_s=1_700_000_000.0))
    vehicle.outbox = []
    return SimProtocol(vehicle, wall_clock=lambda: clock[0], max_items={FENCE: 12})


def test_fence_is_stored_and_read_back_as_ardupilot_returns_it(proto, fence_and_rally):
    fence, _ = fence_and_rally
    gcs = Gcs(proto)
    said = gcs.upload(fence, FENCE)
    assert [m.seq for m in said if m.get_type() == "MISSION_REQUEST"] == list(range(len(fence)))
    assert {m.mission_type for m in said if m.get_type() == "MISSION_REQUEST"} == {FENCE}
    assert acks(said) == [(mavlink.MAV_MISSION_ACCEPTED, FENCE)]
    back = gcs.download(FENCE)
    assert [(m.command, m.param1, m.x, m.y) for m in back] == [
        (i.command, i.param1, item_to_wire_fields(i)["x"], item_to_wire_fields(i)["y"]) for i in fence]
    assert {(m.frame, m.z, m.autocontinue) for m in back} == {(mavlink.MAV_FRAME_GLOBAL, 0.0, 0)}
    assert proto.items(MISSION)[1:] == []                          # the mission is another store


def test_rally_points_keep_whole_metres_and_say_received(proto, fence_and_rally):
    _, rally = fence_and_rally
    gcs = Gcs(proto)
    said = gcs.upload(rally, RALLY)
    assert acks(said) == [(mavlink.MAV_MISSION_ACCEPTED, RALLY)]
    assert "Rally points received" in texts(said)
    back = gcs.download(RALLY)
    assert [m.z for m in back] == [30.0, 25.0]                     # 30.6 m kept as int16 metres
    assert {(m.command, m.frame) for m in back} == {(mavlink.MAV_CMD_NAV_RALLY_POINT,
                                                     mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT)}
    assert [item_from_wire(m).lat_deg for m in back] == pytest.approx([r.lat_deg for r in rally], abs=1e-7)


@pytest.mark.parametrize("bad, problem", [
    ("two_vertices", "Invalid vertex count (2)"),
    ("count_mismatch", "Incorrect item count"),
    ("two_return_points", "Multiple return points"),
])
def test_invalid_fence_is_refused_with_the_reason_first(proto, bad, problem):
    lat, lon, _ = HOME
    ring = [(lon, lat), (lon + 0.001, lat), (lon + 0.001, lat + 0.001), (lon, lat + 0.001)]
    fence = {"two_vertices": fence_polygon(ring[:2], inclusion=True),
             "count_mismatch": fence_polygon(ring, inclusion=True)[:3],
             "two_return_points": 2 * [MissionItem(mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT, mavlink.MAV_FRAME_GLOBAL,
                                                   lat_deg=lat, lon_deg=lon)]}[bad]
    gcs = Gcs(proto)
    said = gcs.upload(fence, FENCE)
    assert texts(said)[-2:] == [problem, "Fence validation failed"]
    assert said[-1].get_type() == "MISSION_ACK" and acks(said) == [(mavlink.MAV_MISSION_ERROR, FENCE)]
    assert proto.items(FENCE) == []


def test_items_the_vehicle_cannot_take_end_the_upload(proto, fence_and_rally, short_survey):
    fence, rally = fence_and_rally
    gcs = Gcs(proto)
    assert acks(gcs.upload(short_survey[1:3], FENCE)) == [(mavlink.MAV_MISSION_UNSUPPORTED, FENCE)]
    wrong_frame = [dataclasses.replace(rally[0], frame=mavlink.MAV_FRAME_GLOBAL)]
    assert acks(gcs.upload(wrong_frame, RALLY)) == [(mavlink.MAV_MISSION_UNSUPPORTED_FRAME, RALLY)]
    assert acks(gcs.upload(fence[:1], RALLY)) == [(mavlink.MAV_MISSION_UNSUPPORTED, RALLY)]
    assert proto.uploads == {}


def test_too_many_items_no_space(proto, fence_and_rally):
    fence, _ = fence_and_rally
    gcs = Gcs(proto)
    gcs.send(gcs.mav.mission_count_encode(1, 1, 13, FENCE))
    said = gcs.heard()
    assert texts(said) == ["Only 12 items are supported"] and acks(said) == [(mavlink.MAV_MISSION_NO_SPACE, FENCE)]


def test_out_of_sequence_item_is_invalid_sequence_and_the_upload_goes_on(proto, fence_and_rally):
    _, rally = fence_and_rally
    gcs = Gcs(proto)
    gcs.send(gcs.mav.mission_count_encode(1, 1, 2, RALLY))
    gcs.heard()
    gcs.send(gcs.item(0, rally[0], RALLY))
    assert [m.seq for m in gcs.heard() if m.get_type() == "MISSION_REQUEST"] == [1]
    gcs.send(gcs.item(0, rally[0], RALLY))                        # a repeat: the vehicle has it already
    assert acks(gcs.heard()) == [(mavlink.MAV_MISSION_INVALID_SEQUENCE, RALLY)]
    gcs.send(gcs.item(1, rally[1], RALLY))
    assert acks(gcs.heard()) == [(mavlink.MAV_MISSION_ACCEPTED, RALLY)]
    gcs.send(gcs.item(1, rally[1], RALLY))                        # after the end: no upload runs
    assert acks(gcs.heard()) == [(mavlink.MAV_MISSION_ERROR, RALLY)]


def test_silence_is_asked_again_then_the_upload_cancelled(proto, clock, fence_and_rally):
    fence, _ = fence_and_rally
    gcs = Gcs(proto)
    gcs.send(gcs.mav.mission_count_encode(1, 1, len(fence), FENCE))
    gcs.heard()
    gcs.send(gcs.item(0, fence[0], FENCE))
    gcs.heard()
    clock[0] += REQUEST_RESEND_S + 0.1
    proto.tick()
    assert [(m.get_type(), m.seq) for m in gcs.heard()] == [("MISSION_REQUEST", 1)]
    clock[0] += UPLOAD_TIMEOUT_S
    proto.tick()
    said = gcs.heard()
    assert texts(said) == ["Fence upload timeout"]
    assert acks(said) == [(mavlink.MAV_MISSION_OPERATION_CANCELLED, FENCE)] and proto.uploads == {}


def test_one_upload_per_type_at_a_time(proto, fence_and_rally):
    fence, rally = fence_and_rally
    gcs, other = Gcs(proto), Gcs(proto, system=254)
    gcs.send(gcs.mav.mission_count_encode(1, 1, len(fence), FENCE))
    gcs.heard()
    other.send(other.mav.mission_count_encode(1, 1, 1, FENCE))
    assert acks(other.heard()) == [(mavlink.MAV_MISSION_DENIED, FENCE)]
    other.send(other.mav.mission_request_list_encode(1, 1, FENCE))
    assert acks(other.heard()) == [(mavlink.MAV_MISSION_DENIED, FENCE)]
    assert acks(other.upload(rally, RALLY)) == [(mavlink.MAV_MISSION_ACCEPTED, RALLY)]   # another type: free


def test_clear_all_types(proto, fence_and_rally):
    fence, rally = fence_and_rally
    gcs = Gcs(proto)
    gcs.upload(fence, FENCE)
    gcs.upload(rally, RALLY)
    gcs.send(gcs.mav.mission_clear_all_encode(1, 1, mavlink.MAV_MISSION_TYPE_ALL))
    assert acks(gcs.heard()) == [(mavlink.MAV_MISSION_ACCEPTED, mavlink.MAV_MISSION_TYPE_ALL)]
    assert proto.items(FENCE) == proto.items(RALLY) == []


def test_dropped_messages_are_lost_on_the_channel(clock):
    vehicle = SimVehicle(SimConfig(*HOME, utc_at_boot_s=1_700_000_000.0))
    proto = SimProtocol(vehicle, wall_clock=lambda: clock[0],
                        drop=[parse_drop("out:MISSION_REQUEST:2"), parse_drop("in:MISSION_COUNT:1")])
    gcs = Gcs(proto)
    gcs.send(gcs.mav.mission_count_encode(1, 1, 2, RALLY))             # never heard
    assert gcs.heard() == [] and proto.uploads == {}
    gcs.send(gcs.mav.mission_count_encode(1, 1, 2, RALLY))
    assert [m.seq for m in gcs.heard() if m.get_type() == "MISSION_REQUEST"] == [0]
    lat, lon, _ = HOME
    point = MissionItem(mavlink.MAV_CMD_NAV_RALLY_POINT, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT, lat_deg=lat,
                        lon_deg=lon, alt_m=20)
    gcs.send(gcs.item(0, point, RALLY))
    assert gcs.heard() == []                                            # the request for item 1 was lost
    assert gcs.channel.dropper.dropped == [("in", "MISSION_COUNT", 1), ("out", "MISSION_REQUEST", 2)]


def test_drop_rules_are_checked():
    assert parse_drop("out:MISSION_ACK:1") == DropRule("out", "MISSION_ACK", 1)
    for bad in ("out:MISSION_ACK", "sideways:MISSION_ACK:1", "out:NOT_A_MESSAGE:1", "in:MISSION_ACK:0"):
        with pytest.raises(TelemetryError, match="in\\|out:MESSAGE_NAME:N"):
            parse_drop(bad)


def test_fence_larger_than_the_fence_storage_is_refused(clock):
    proto = SimProtocol(SimVehicle(SimConfig(*HOME, utc_at_boot_s=1_700_000_000.0)), wall_clock=lambda: clock[0])
    lat, lon, _ = HOME
    ring = [(lon + 0.002 * math.cos(2 * math.pi * k / 70), lat + 0.002 * math.sin(2 * math.pi * k / 70))
            for k in range(70)]                                     # 4 + 2 + 70 * 8 = 566 bytes > 560
    gcs = Gcs(proto)
    said = gcs.upload(fence_polygon(ring, inclusion=True), FENCE)
    assert texts(said)[-1] == "Fence exceeds storage size" and acks(said) == [(mavlink.MAV_MISSION_ERROR, FENCE)]
    half = fence_polygon(ring[::2], inclusion=True)                 # 35 vertices fit
    assert acks(gcs.upload(half, FENCE)) == [(mavlink.MAV_MISSION_ACCEPTED, FENCE)]
