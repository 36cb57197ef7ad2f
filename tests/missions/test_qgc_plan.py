import json
import math

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions import CAMERAS, PlanFileError, plan_survey, read_plan, write_plan
from missions.items import waypoint_item


@pytest.fixture(scope="module")
def plan(demo_areas, demo_home):
    return plan_survey(demo_areas["Pinghu old town block"], CAMERAS["dji-phantom4pro"],
                       alt_rel_m=80.0, home=demo_home)


def test_plan_round_trip_keeps_every_item(plan, tmp_path):
    path = write_plan(plan, tmp_path / "survey.plan")
    back = read_plan(path)
    assert back.items == plan.items
    assert back.home_wgs84[:2] == plan.home_wgs84
    assert back.notes == []


def test_plan_file_is_what_qgroundcontrol_writes(plan, tmp_path):
    doc = json.loads(write_plan(plan, tmp_path / "survey.plan").read_text())
    assert (doc["fileType"], doc["version"], doc["groundStation"]) == ("Plan", 1, "QGroundControl")
    mission = doc["mission"]
    assert mission["firmwareType"] == mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA == 3
    assert mission["vehicleType"] == mavlink.MAV_TYPE_QUADROTOR == 2
    assert mission["version"] == 2 and doc["geoFence"]["version"] == 2
    assert doc["rallyPoints"]["version"] == 2
    assert doc["rallyPoints"]["points"] == [[lat, lon, 80] for lon, lat, _ in plan.rally_points_wgs84]
    assert doc["rallyPoints"]["points"][0][:2] == [plan.home_wgs84[1], plan.home_wgs84[0]]
    assert mission["plannedHomePosition"][:2] == [plan.home_wgs84[1], plan.home_wgs84[0]]
    items = mission["items"]
    assert len(items) == len(plan.items) - 1  # home is plannedHomePosition
    assert [i["doJumpId"] for i in items] == list(range(1, len(items) + 1))
    assert all(i["type"] == "SimpleItem" and len(i["params"]) == 7 for i in items)
    wp = next(i for i in items if i["command"] == 16)
    assert wp["Altitude"] == 80 and wp["AltitudeMode"] == 1 and wp["frame"] == 3
    fences = doc["geoFence"]["polygons"]
    assert [f["inclusion"] for f in fences] == [True, False]  # route fence, the school


def test_nan_params_are_written_as_null(tmp_path):
    items = [waypoint_item(121.0, 30.7, 0.0), waypoint_item(121.001, 30.7, 50.0)]
    items[1] = type(items[1])(**{**items[1].__dict__, "param4": math.nan})
    doc = json.loads(write_plan(items, tmp_path / "nan.plan").read_text())
    assert doc["mission"]["items"][0]["params"][3] is None
    assert math.isnan(read_plan(tmp_path / "nan.plan").items[1].param4)


def test_qgroundcontrol_sample_plan(mission_data):
    m = read_plan(mission_data / "qgc_sample.plan")
    assert m.home_wgs84 == (8.5456075, 47.3977507, 488.93101752001763)
    commands = [i.command for i in m.items]
    assert commands == [16, 22, 16, 2000, 16, 16, 20]
    takeoff = m.items[1]
    assert (takeoff.param1, takeoff.lat_deg, takeoff.lon_deg, takeoff.alt_m) == (15, 47.3977507, 8.5456075, 50)
    assert math.isnan(takeoff.param4)  # QGC writes yaw as null


def test_qgroundcontrol_survey_complex_item_is_expanded(mission_data):
    m = read_plan(mission_data / "qgc_sample_with_survey.plan")
    (survey,) = m.complex_items
    assert survey["type"] == "survey" and survey["geometry"].geom_type == "Polygon"
    assert survey["settings"]["angle"] == 90 and survey["settings"]["TurnAroundDistance"] == 10
    assert survey["geometry"].bounds[1] == pytest.approx(47.39744450980439)
    trig = [i.param1 for i in m.items if i.command == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST]
    assert trig == [25, 25, 25, 0]
    assert len(m.items) == 1 + 1 + 12 and "expanded into its 12 stored mission items" in m.notes[0]


def test_structure_scan_is_skipped_and_said(mission_data):
    m = read_plan(mission_data / "qgc_sample_with_structured_scan.plan")
    assert [i.command for i in m.items] == [16, 530]
    assert m.complex_items[0]["type"] == "StructureScan"
    assert "StructureScan ComplexItem has no stored mission items; skipped" in m.notes[0]


def test_old_coordinate_form_of_simple_items(mission_data):
    m = read_plan(mission_data / "qgc_section_test.plan")
    assert [i.command for i in m.items] == [16, 22, 16, 16, 205, 16]
    assert (m.items[2].lat_deg, m.items[2].lon_deg, m.items[2].alt_m) == (47.63369112, -122.08925023, 20)


@pytest.mark.parametrize(("text", "message"), [
    ('{"fileType": "Plan",\n "mission": {"items": [}', r"line 2 column \d+: not valid JSON"),
    ('{"fileType": "Mission"}', "field 'fileType'"),
    ('{"fileType": "Plan", "mission": {}}', "field 'mission.items'"),
    ('{"fileType": "Plan", "mission": {"items": [{"type": "SimpleItem", "command": 16, "frame": 3, "params": [0, 0]}]}}',
     r"mission item 0: field 'params' has 2 values"),
    ('{"fileType": "Plan", "mission": {"items": [{"type": "SimpleItem", "frame": 3, "params": []}]}}',
     r"mission item 0: field 'command'"),
    ('{"fileType": "Plan", "mission": {"items": [{"type": "SimpleItem", "command": 16, "frame": 3, "params": [0, 0, 0, 0, "a", 0, 0]}]}}',
     r"mission item 0: params\[4\]"),
])
def test_malformed_plans_say_where(tmp_path, text, message):
    path = tmp_path / "bad.plan"
    path.write_text(text)
    with pytest.raises(PlanFileError, match=message) as err:
        read_plan(path)
    assert str(path) in str(err.value)
