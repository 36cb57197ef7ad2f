import json
import math
import zipfile

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions import (
    CAMERAS,
    FORMATS,
    PlanFileError,
    convert_mission,
    plan_survey,
    read_mission,
    read_plan,
    write_route,
)
from missions.convert import format_for_path

REAL = ["qgc_sample.plan", "qgc_sample_with_survey.plan", "qgc_section_test.plan",
        "mission_planner.waypoints", "ardupilot_cmac_copter_navtest.txt"]
TARGETS = [("plan", "out.plan"), ("waypoints", "out.waypoints"), ("kml", "out.kml"),
           ("kml", "out_kml.kmz")]


def _fields(item):
    return [("nan" if isinstance(v, float) and math.isnan(v) else v) for v in item.to_dict().values()]


def _same(a, b):
    return len(a) == len(b) and all(_fields(x) == _fields(y) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def survey(demo_areas, demo_home):
    return plan_survey(demo_areas["Pinghu old town block"], CAMERAS["dji-phantom4pro"],
                       alt_rel_m=80.0, home=demo_home)


@pytest.mark.parametrize("name", REAL)
@pytest.mark.parametrize(("fmt", "out"), TARGETS)
def test_real_files_convert_to_item_formats_and_back_unchanged(mission_data, tmp_path, name, fmt, out):
    src = read_mission(mission_data / name)
    report = convert_mission(mission_data / name, tmp_path / out, dst_format=fmt)
    assert (report.src_format, report.dst_format, report.items) == (src.format, fmt, len(src.items))
    back = read_mission(tmp_path / out)
    assert back.format == fmt
    assert _same(back.items, src.items)  # every item and parameter, NaN included
    if name == "qgc_sample_with_survey.plan" and fmt != "kml":
        assert report.dropped == [
            f"mission item 1: survey ComplexItem's polygon and settings dropped: "
            f"{'QGroundControl .plan' if fmt == 'plan' else 'QGC WPL 110'} holds simple items "
            "only (the mission items QGroundControl stored for it, if any, are written)"]
        assert report.read_notes == ["mission item 1: survey ComplexItem expanded into its 12 "
                                     "stored mission items"]
    elif name == "qgc_sample_with_survey.plan":
        assert report.dropped == [] and back.complex_items[0]["type"] == "survey"
    else:
        assert report.dropped == [] and report.approximated == []


WPML_DROPPED = {
    "qgc_sample.plan": ["item 1: MAV_CMD_NAV_TAKEOFF param1 (minimum pitch) 15: no WPML equivalent, "
                        "dropped"],
    "qgc_sample_with_survey.plan": [
        "item 1: MAV_CMD_SET_CAMERA_MODE: no WPML equivalent, dropped",
        "mission item 1: survey ComplexItem's polygon and settings dropped: a DJI waypoint template "
        "does not hold them (the mission items QGroundControl stored for it, if any, are written)"],
    "qgc_section_test.plan": [],
    "mission_planner.waypoints": [],
    "ardupilot_cmac_copter_navtest.txt": ["item 20: MAV_CMD_NAV_LAND param4 (yaw) 1: no WPML "
                                          "equivalent, dropped"],
}
_ADDED_BY_WPML = {mavlink.MAV_CMD_NAV_TAKEOFF, mavlink.MAV_CMD_DO_CHANGE_SPEED}


@pytest.mark.parametrize("name", REAL)
def test_real_files_convert_to_dji_wpml_and_back(mission_data, tmp_path, name):
    src = read_mission(mission_data / name)
    report = convert_mission(mission_data / name, tmp_path / "out.kmz")
    assert report.dst_format == "wpml"
    assert report.dropped == WPML_DROPPED[name]
    back = read_mission(tmp_path / "out.kmz")
    assert back.format == "wpml"
    # WPML always takes off and sets a speed; the dropped commands are gone; the rest is kept
    # in order with its positions and altitudes
    dropped = {mavlink.MAV_CMD_SET_CAMERA_MODE}
    kept = [i for i in src.items[1:] if i.command not in _ADDED_BY_WPML | dropped]
    came = [i for i in back.items[1:] if i.command not in _ADDED_BY_WPML]
    assert [i.command for i in came] == [i.command for i in kept]
    for a, b in zip(came, kept):
        if b.has_position and (b.lat_deg, b.lon_deg) != (0.0, 0.0):
            assert abs(a.lat_deg - b.lat_deg) < 1e-7 and abs(a.lon_deg - b.lon_deg) < 1e-7
            assert a.alt_m == b.alt_m and a.frame == b.frame
        elif b.command == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST:
            assert (a.param1, a.param3) == (b.param1, b.param3)
    assert (back.items[0].lat_deg, back.items[0].lon_deg, back.items[0].alt_m) == (
        src.items[0].lat_deg, src.items[0].lon_deg, src.items[0].alt_m)
    takeoffs = [i for i in src.items if i.command == mavlink.MAV_CMD_NAV_TAKEOFF]
    first_wp = next(i for i in src.items[1:] if i.command == mavlink.MAV_CMD_NAV_WAYPOINT)
    assert back.items[1].command == mavlink.MAV_CMD_NAV_TAKEOFF
    assert back.items[1].alt_m == (takeoffs[0].alt_m if takeoffs else first_wp.alt_m)
    if not takeoffs:
        assert any("no MAV_CMD_NAV_TAKEOFF: takeOffSecurityHeight set to the first waypoint's"
                   in n for n in report.approximated)


def test_structure_scan_alone_has_nothing_for_dji(mission_data, tmp_path):
    with pytest.raises(PlanFileError, match=r"out.kmz: DJI WPML needs at least one waypoint"):
        convert_mission(mission_data / "qgc_sample_with_structured_scan.plan", tmp_path / "out.kmz")
    assert not (tmp_path / "out.kmz").exists()
    report = convert_mission(mission_data / "qgc_sample_with_structured_scan.plan", tmp_path / "out.kml")
    assert report.dropped == []
    assert read_mission(tmp_path / "out.kml").complex_items[0]["type"] == "StructureScan"


def test_write_route_reports_what_each_format_drops(survey, tmp_path):
    fences = 1 + len(survey.no_fly_wgs84)
    rally = len(survey.rally_points_wgs84)
    assert fences == 2 and rally >= 1
    assert write_route(survey, tmp_path / "s.plan") == []
    assert write_route(survey, tmp_path / "s.kml") == []
    assert write_route(survey, tmp_path / "s.waypoints") == [
        "geofence: 2 polygons dropped: QGC WPL 110 has no geofence",
        f"rally points: {rally} dropped: QGC WPL 110 has no rally points"]
    notes = write_route(survey, tmp_path / "s.kmz")
    assert notes[:2] == ["geofence: 2 polygons dropped: DJI WPML has no geofence",
                         f"rally points: {rally} dropped: DJI WPML has none (the aircraft "
                         "returns to its dock or home)"]
    for ext, fmt in ((".plan", "plan"), (".kml", "kml"), (".waypoints", "waypoints"), (".kmz", "wpml")):
        back = read_mission(tmp_path / f"s{ext}")
        assert back.format == fmt and back.items == survey.items
    plan = read_plan(tmp_path / "s.plan")
    assert [inc for _, inc in plan.geofence_polygons] == [True, False]
    assert plan.rally_points == survey.rally_points_wgs84


def test_plan_to_kml_to_plan_keeps_fence_and_rally(survey, tmp_path):
    write_route(survey, tmp_path / "a.plan")
    assert convert_mission(tmp_path / "a.plan", tmp_path / "b.kml").dropped == []
    assert convert_mission(tmp_path / "b.kml", tmp_path / "c.plan").dropped == []
    a, c = read_plan(tmp_path / "a.plan"), read_plan(tmp_path / "c.plan")
    assert c.items == a.items and c.rally_points == a.rally_points
    assert [(p.equals_exact(q, 0.0), i == j) for (p, i), (q, j) in
            zip(c.geofence_polygons, a.geofence_polygons)] == [(True, True)] * 2


def test_fence_circles_are_written_to_plan_files(mission_data, tmp_path):
    mission = read_plan(mission_data / "qgc_sample.plan")
    mission.geofence_circles = [((8.5455, 47.3978), 150.0, True)]
    assert write_route(mission, tmp_path / "c.plan") == []
    doc = json.loads((tmp_path / "c.plan").read_text())
    assert doc["geoFence"]["circles"] == [{"circle": {"center": [47.3978, 8.5455], "radius": 150.0},
                                           "inclusion": True, "version": 1}]
    assert read_plan(tmp_path / "c.plan").geofence_circles == mission.geofence_circles
    assert write_route(mission, tmp_path / "c.txt") == [
        "geofence: 1 circle dropped: QGC WPL 110 has no geofence"]


def test_report_prints_what_was_dropped(mission_data, tmp_path):
    report = convert_mission(mission_data / "qgc_sample_with_survey.plan", tmp_path / "s.kmz")
    text = str(report)
    assert text.splitlines()[0] == (f"{mission_data / 'qgc_sample_with_survey.plan'} (QGroundControl "
                                    f".plan) -> {tmp_path / 's.kmz'} (DJI WPML): 14 mission items")
    assert "dropped: item 1: MAV_CMD_SET_CAMERA_MODE: no WPML equivalent, dropped" in text
    assert "read: mission item 1: survey ComplexItem expanded" in text
    assert any(line.startswith("changed: items 2, 4, 6-9, 11-12: MAV_CMD_NAV_WAYPOINT param4 (yaw) NaN")
               for line in report.lines())


def test_formats_from_extension_or_argument(mission_data, tmp_path):
    assert FORMATS == ("plan", "waypoints", "kml", "wpml")
    assert [format_for_path(f"x{e}") for e in (".plan", ".waypoints", ".txt", ".kml", ".kmz")] == [
        "plan", "waypoints", "waypoints", "kml", "wpml"]
    with pytest.raises(PlanFileError, match=r"x.gpx: cannot tell the format from the extension '.gpx'"):
        format_for_path("x.gpx")
    with pytest.raises(PlanFileError, match="unknown mission file format 'gpx'"):
        format_for_path("x.kml", "gpx")
    # a zipped KML under .kmz when asked, read back as KML (no wpmz/ inside)
    convert_mission(mission_data / "qgc_sample.plan", tmp_path / "r.kmz", dst_format="kml")
    with zipfile.ZipFile(tmp_path / "r.kmz") as zf:
        assert zf.namelist() == ["doc.kml"]
    assert read_mission(tmp_path / "r.kmz").format == "kml"
    # an explicit source format overrides the extension
    (tmp_path / "mission.dat").write_bytes((mission_data / "mission_planner.waypoints").read_bytes())
    report = convert_mission(tmp_path / "mission.dat", tmp_path / "m.plan", src_format="waypoints")
    assert report.src_format == "waypoints" and report.items == 6


def test_unwritable_target_is_named(mission_data, tmp_path):
    with pytest.raises(PlanFileError, match=r"missing/x.plan: cannot write"):
        convert_mission(mission_data / "qgc_sample.plan", tmp_path / "missing" / "x.plan")


def test_kml_line_to_plan_needs_an_altitude(tmp_path):
    (tmp_path / "line.kml").write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>generated test line</name>'
        "<LineString><coordinates>121.0185,30.7005 121.0201,30.7012</coordinates></LineString>"
        "</Placemark></kml>")
    with pytest.raises(PlanFileError, match="give an altitude above home"):
        convert_mission(tmp_path / "line.kml", tmp_path / "line.plan")
    report = convert_mission(tmp_path / "line.kml", tmp_path / "line.plan", alt_rel_m=50.0)
    assert report.items == 3
    assert [i.alt_m for i in read_plan(tmp_path / "line.plan").items[1:]] == [50.0, 50.0]
