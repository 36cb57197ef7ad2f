"""Mission, geofence and rally point transfers between the daemon and the simulated vehicle
over TCP (as against SITL's port 5760), with messages lost on purpose by the simulator."""

from __future__ import annotations

import contextlib

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.daemon import Daemon
from telemetry.errors import MissionUploadError
from telemetry.mission_protocol import download_mission, item_to_wire_fields, upload_mission
from telemetry.sim.faults import parse_drop

from .conftest import fence_polygon

FENCE, RALLY, MISSION = (mavlink.MAV_MISSION_TYPE_FENCE, mavlink.MAV_MISSION_TYPE_RALLY,
                         mavlink.MAV_MISSION_TYPE_MISSION)


@pytest.fixture
def connect(sim_tcp, session_factory, settings):
    """``connect(**sim_options) -> (handle, sim channel)``: a fresh simulator and the daemon on it."""
    with contextlib.ExitStack() as stack:
        def open_vehicle(**options):
            url = sim_tcp(10.0, **options)
            daemon = Daemon(session_factory, settings.data_dir, [url])
            daemon.start()
            stack.callback(daemon.stop)
            handle = daemon.wait_vehicle(20)
            (channel,) = sim_tcp.servers[url].protocol.channels
            return handle, channel
        yield open_vehicle


def positions(items) -> list[tuple[int, int, int]]:
    return [(f["command"], f["x"], f["y"]) for f in map(item_to_wire_fields, items)]


def test_mission_fence_and_rally_go_up_and_come_back(connect, short_survey, fence_and_rally):
    fence, rally = fence_and_rally
    handle, _ = connect()
    upload_mission(handle, short_survey)
    upload_mission(handle, fence, mission_type=FENCE)
    upload_mission(handle, rally, mission_type=RALLY)
    mission = download_mission(handle)
    assert positions(mission[1:]) == positions(short_survey[1:])         # item 0 is the vehicle's home
    got_fence = download_mission(handle, mission_type=FENCE)
    assert positions(got_fence) == positions(fence)
    assert [i.param1 for i in got_fence] == [i.param1 for i in fence]   # vertex counts
    got_rally = download_mission(handle, mission_type=RALLY)
    assert positions(got_rally) == positions(rally) and [i.alt_m for i in got_rally] == [30.0, 25.0]


@pytest.mark.parametrize("rule, mission_type, timeout_s", [
    ("in:MISSION_COUNT:1", FENCE, 0.5),       # the count is lost: sent again
    ("in:MISSION_ITEM_INT:2", FENCE, 3.0),    # an item is lost: the vehicle asks again
    ("out:MISSION_REQUEST:3", FENCE, 0.5),    # a request is lost: our repeat earns INVALID_SEQUENCE, then it asks
    ("out:MISSION_ACK:1", RALLY, 0.5),        # the ACCEPTED is lost: the repeat gets ERROR, a download confirms
])
def test_upload_survives_a_lost_message(connect, fence_and_rally, rule, mission_type, timeout_s):
    items = fence_and_rally[0] if mission_type == FENCE else fence_and_rally[1]
    handle, channel = connect(drop=[parse_drop(rule)])
    upload_mission(handle, items, mission_type=mission_type, timeout_s=timeout_s)
    direction, name, nth = rule.split(":")
    assert channel.dropper.dropped == [(direction, name, int(nth))]
    assert positions(download_mission(handle, mission_type=mission_type)) == positions(items)


@pytest.mark.parametrize("rule", ["out:MISSION_COUNT:1", "out:MISSION_ITEM_INT:2", "in:MISSION_REQUEST_INT:3"])
def test_download_survives_a_lost_message(connect, fence_and_rally, rule):
    fence, _ = fence_and_rally
    handle, channel = connect(drop=[parse_drop(rule)])
    upload_mission(handle, fence, mission_type=FENCE)
    assert positions(download_mission(handle, mission_type=FENCE, timeout_s=0.5)) == positions(fence)
    assert len(channel.dropper.dropped) == 1


def test_refusals_raise_with_the_result_name_and_the_vehicles_reason(connect, fence_and_rally):
    fence, _ = fence_and_rally
    handle, _ = connect(max_items={FENCE: 4})
    with pytest.raises(MissionUploadError, match="Only 4 items are supported") as err:
        upload_mission(handle, fence, mission_type=FENCE)
    assert err.value.result == "MAV_MISSION_NO_SPACE"
    lat, lon = fence[0].lat_deg, fence[0].lon_deg
    with pytest.raises(MissionUploadError, match="Invalid vertex count \\(2\\); Fence validation failed") as err:
        upload_mission(handle, fence_polygon([(lon, lat), (lon + 0.001, lat)], inclusion=True), mission_type=FENCE)
    assert err.value.result == "MAV_MISSION_ERROR"
    assert download_mission(handle, mission_type=FENCE) == []          # nothing stored
