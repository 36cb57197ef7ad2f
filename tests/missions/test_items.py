import math

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions import MissionError, MissionItem
from missions import items as it


def test_builders_use_pymavlink_numbers():
    assert it.waypoint_item(121.0, 30.7, 80.0).command == mavlink.MAV_CMD_NAV_WAYPOINT == 16
    assert it.takeoff_item(121.0, 30.7, 30.0).command == mavlink.MAV_CMD_NAV_TAKEOFF
    assert it.rtl_item().command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH
    trig = it.cam_trigg_dist_item(20.0)
    assert (trig.command, trig.param1, trig.param3) == (mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, 20.0, 1.0)
    roi = it.roi_location_item(121.025, 30.701)
    assert roi.command == mavlink.MAV_CMD_DO_SET_ROI_LOCATION and roi.has_position is False
    speed = it.change_speed_item(10.0)
    assert (speed.command, speed.param1, speed.param2) == (mavlink.MAV_CMD_DO_CHANGE_SPEED, 1.0, 10.0)
    home = it.home_item(121.0185, 30.7005, 4.5)
    assert home.frame == mavlink.MAV_FRAME_GLOBAL and home.alt_m == 4.5
    assert it.waypoint_item(0, 0, 1).frame == mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT


def test_dict_round_trip_keeps_nan_as_none():
    item = MissionItem(16, 3, 0.0, 2.0, 0.0, math.nan, 30.7, 121.0, 80.0, False)
    d = item.to_dict()
    assert d["param4"] is None and d["autocontinue"] is False
    back = MissionItem.from_dict(d)
    assert math.isnan(back.param4)
    assert back.to_dict() == d


def test_from_dict_names_what_is_wrong():
    with pytest.raises(MissionError, match="not a mission item"):
        MissionItem.from_dict({"frame": 3})
    with pytest.raises(MissionError, match="not a mission item"):
        MissionItem.from_dict({"command": 16, "frame": 3, "lat_deg": "north"})


def test_bad_builder_values_are_refused():
    with pytest.raises(MissionError):
        it.change_speed_item(0.0)
    with pytest.raises(MissionError):
        it.cam_trigg_dist_item(-1.0)


def test_command_names_are_the_spec_names():
    assert it.command_name(206) == "MAV_CMD_DO_SET_CAM_TRIGG_DIST"
    assert it.command_name(65000) == "MAV_CMD 65000"


def test_fence_and_rally_items():
    v = it.fence_vertex_item(121.02, 30.70, 4)
    assert (v.command, v.frame, v.param1, v.lat_deg, v.lon_deg) == (
        mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, mavlink.MAV_FRAME_GLOBAL, 4.0, 30.70,
        121.02)
    assert it.fence_vertex_item(121.02, 30.70, 3, inclusion=False).command == \
        mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
    for bad in (2, 256):
        with pytest.raises(MissionError, match="a fence polygon needs 3 to 255 vertices"):
            it.fence_vertex_item(121.02, 30.70, bad)
    assert it.fence_return_point_item(121.02, 30.70).command == \
        mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT
    r = it.rally_point_item(121.02, 30.70, 60.0)
    assert (r.command, r.frame, r.alt_m) == (mavlink.MAV_CMD_NAV_RALLY_POINT,
                                             mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT, 60.0)
    with pytest.raises(MissionError, match="rally point altitude 40000.0 m is out of range"):
        it.rally_point_item(121.02, 30.70, 40000.0)
