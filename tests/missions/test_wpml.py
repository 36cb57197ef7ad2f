import math
import zipfile
from xml.etree import ElementTree as ET

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions import (
    DJI_AIRCRAFT,
    PlanFileError,
    read_wpml,
    write_wpml,
)
from missions.items import home_item, waypoint_item
from missions.wpml import wpml_package
from patrol.geodesy import distance_m

NS = {"k": "http://www.opengis.net/kml/2.2", "wpml": "http://www.dji.com/wpmz/1.0.2"}


@pytest.fixture(scope="module")
def plans(demo_plans):
    return demo_plans


def _xml(path, name):
    with zipfile.ZipFile(path) as zf:
        return ET.fromstring(zf.read(name))


def _w(elem, name):
    return elem.find(f"wpml:{name}", NS).text


@pytest.mark.parametrize("pattern", ["survey", "corridor", "orbit"])
def test_wpml_round_trip_gives_back_every_item(plans, pattern, tmp_path):
    plan = plans[pattern]
    notes = write_wpml(plan, tmp_path / "route.kmz")
    back = read_wpml(tmp_path / "route.kmz")
    assert back.format == "wpml" and back.notes == []
    assert back.items == plan.items  # commands, params, positions and altitudes exactly
    fences = 1 + len(plan.no_fly_wgs84)
    plural = "s" if fences > 1 else ""
    assert f"geofence: {fences} polygon{plural} dropped: DJI WPML has no geofence" in notes
    assert any(n.startswith(f"rally points: {len(plan.rally_points_wgs84)} dropped") for n in notes)


def test_package_layout_and_waylines(plans, tmp_path):
    plan = plans["survey"]
    write_wpml(plan, tmp_path / "survey.kmz")
    with zipfile.ZipFile(tmp_path / "survey.kmz") as zf:
        assert sorted(zf.namelist()) == ["wpmz/template.kml", "wpmz/waylines.wpml"]
    root = _xml(tmp_path / "survey.kmz", "wpmz/waylines.wpml")
    assert root.tag == "{http://www.opengis.net/kml/2.2}kml"
    config = root.find("k:Document/wpml:missionConfig", NS)
    assert _w(config, "finishAction") == "goHome"  # the plan ends with RTL
    assert float(_w(config, "takeOffSecurityHeight")) == 80.0
    drone = config.find("wpml:droneInfo", NS)
    assert (_w(drone, "droneEnumValue"), _w(drone, "droneSubEnumValue")) == ("67", "1")  # M30T
    assert _w(config.find("wpml:payloadInfo", NS), "payloadEnumValue") == "53"
    folder = root.find("k:Document/k:Folder", NS)
    assert _w(folder, "executeHeightMode") == "relativeToStartPoint"
    placemarks = folder.findall("k:Placemark", NS)
    waypoints = [i for i in plan.items[1:] if i.command == mavlink.MAV_CMD_NAV_WAYPOINT]
    assert [int(_w(p, "index")) for p in placemarks] == list(range(len(waypoints)))
    for pm, wp in zip(placemarks, waypoints):
        lon, lat = map(float, pm.find("k:Point/k:coordinates", NS).text.split(","))
        assert abs(lon - wp.lon_deg) < 1e-7 and abs(lat - wp.lat_deg) < 1e-7
        assert float(_w(pm, "executeHeight")) == wp.alt_m == 80.0
        assert float(_w(pm, "waypointSpeed")) == plan.stats["speed_m_s"]


def test_survey_photos_fly_as_one_distance_group_per_pass(plans, tmp_path):
    plan = plans["survey"]
    write_wpml(plan, tmp_path / "survey.kmz")
    root = _xml(tmp_path / "survey.kmz", "wpmz/waylines.wpml")
    groups = root.findall(".//wpml:actionGroup", NS)
    distance = [g for g in groups
                if g.find("wpml:actionTrigger/wpml:actionTriggerType", NS).text == "multipleDistance"]
    passes_on = [i for i in plan.items
                 if i.command == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST and i.param1 > 0]
    assert len(distance) == len(passes_on) == len(plan.passes_wgs84)
    for g in distance:
        assert float(g.find("wpml:actionTrigger/wpml:actionTriggerParam", NS).text) == \
            pytest.approx(plan.stats["trigger_distance_m"], abs=0.01)
        assert [a.text for a in g.findall("wpml:action/wpml:actionActuatorFunc", NS)] == ["takePhoto"]
        assert int(_w(g, "actionGroupEndIndex")) > int(_w(g, "actionGroupStartIndex"))
    ids = [int(_w(g, "actionGroupId")) for g in groups]
    assert ids == list(range(len(groups)))  # unique in the file


def test_survey_template_is_mapping2d(plans, tmp_path):
    plan = plans["survey"]
    notes = write_wpml(plan, tmp_path / "survey.kmz")
    folder = _xml(tmp_path / "survey.kmz", "wpmz/template.kml").find("k:Document/k:Folder", NS)
    assert _w(folder, "templateType") == "mapping2d"
    pm = folder.find("k:Placemark", NS)
    assert _w(pm, "shootType") == "distance"
    overlap = (_w(pm, "overlap/wpml:orthoCameraOverlapH"), _w(pm, "overlap/wpml:orthoCameraOverlapW"))
    assert overlap == ("75", "65")
    assert float(_w(pm, "height")) == 80.0
    # the sweep angle is on the UTM grid; WPML's direction from true north (convergence ~1 deg here)
    assert abs(int(_w(pm, "direction")) - plan.stats["sweep_angle_deg"]) <= 2
    ring = pm.find("k:Polygon/k:outerBoundaryIs/k:LinearRing/k:coordinates", NS).text.split()
    shell = [tuple(map(float, t.split(",")[:2])) for t in ring]
    assert shell == list(plan.fence_area_wgs84.exterior.coords)
    assert any("no-fly zone(s)" in n and "mapping2d" in n for n in notes)
    assert read_wpml(tmp_path / "survey.kmz").complex_items[0]["settings"]["CameraCalc"][
        "FrontalOverlap"] == 75


def test_corridor_template_is_waypoint(plans, tmp_path):
    write_wpml(plans["corridor"], tmp_path / "river.kmz")
    folder = _xml(tmp_path / "river.kmz", "wpmz/template.kml").find("k:Document/k:Folder", NS)
    assert _w(folder, "templateType") == "waypoint"
    assert _w(folder, "waylineCoordinateSysParam/wpml:heightMode") == "relativeToStartPoint"
    placemarks = folder.findall("k:Placemark", NS)
    items = plans["corridor"].items[1:]
    assert len(placemarks) == sum(i.command == mavlink.MAV_CMD_NAV_WAYPOINT for i in items)
    assert all(_w(p, "height") == _w(p, "ellipsoidHeight") == "80.0" for p in placemarks)


def test_orbit_points_nose_and_camera_at_the_hotspot(plans, tmp_path):
    plan = plans["orbit"]
    write_wpml(plan, tmp_path / "orbit.kmz")
    folder = _xml(tmp_path / "orbit.kmz", "wpmz/waylines.wpml").find("k:Document/k:Folder", NS)
    lon0, lat0 = plan.params["center"]
    toward = [p for p in folder.findall("k:Placemark", NS)
              if _w(p, "waypointHeadingParam/wpml:waypointHeadingMode") == "towardPOI"]
    assert len(toward) >= 12
    for p in toward:
        lat, lon, alt = map(float, _w(p, "waypointHeadingParam/wpml:waypointPoiPoint").split(","))
        assert (lon, lat, alt) == (lon0, lat0, 0.0)
    aim = toward[0].find(".//wpml:action[wpml:actionActuatorFunc='gimbalRotate']", NS)
    pitch = float(_w(aim, "actionActuatorFuncParam/wpml:gimbalPitchRotateAngle"))
    lon, lat = map(float, toward[0].find("k:Point/k:coordinates", NS).text.split(","))
    assert pitch == pytest.approx(-math.degrees(math.atan2(70.0, distance_m(lon, lat, lon0, lat0))))
    assert pitch == pytest.approx(-math.degrees(math.atan2(70.0, 60.0)), abs=0.1)


def test_aircraft_is_a_parameter(plans, tmp_path):
    write_wpml(plans["corridor"], tmp_path / "m3e.kmz", aircraft="m3e")
    config = _xml(tmp_path / "m3e.kmz", "wpmz/waylines.wpml").find("k:Document/wpml:missionConfig", NS)
    assert (_w(config, "droneInfo/wpml:droneEnumValue"), _w(config, "droneInfo/wpml:droneSubEnumValue"),
            _w(config, "payloadInfo/wpml:payloadEnumValue")) == ("77", "0", "66")
    assert DJI_AIRCRAFT["m3e"].drone_enum == 77
    with pytest.raises(PlanFileError, match="unknown DJI aircraft 'phantom'"):
        write_wpml(plans["corridor"], tmp_path / "x.kmz", aircraft="phantom")


def test_items_wpml_cannot_carry_are_named(tmp_path):
    items = [home_item(121.0185, 30.7005, 4.0),
             waypoint_item(121.0190, 30.7010, 40.0),
             type(waypoint_item(0, 0, 0))(mavlink.MAV_CMD_DO_SET_SERVO, mavlink.MAV_FRAME_MISSION,
                                          param1=9, param2=1900),
             type(waypoint_item(0, 0, 0))(mavlink.MAV_CMD_NAV_WAYPOINT,
                                          mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT, param1=5.0,
                                          param2=2.0, lat_deg=30.7020, lon_deg=121.0200, alt_m=45.0)]
    notes = write_wpml(items, tmp_path / "x.kmz")
    assert "item 2: MAV_CMD_DO_SET_SERVO: no WPML equivalent, dropped" in notes
    assert ("item 3: MAV_CMD_NAV_WAYPOINT param2 (acceptance radius m) 2: no WPML equivalent, "
            "dropped") in notes
    back = read_wpml(tmp_path / "x.kmz")
    assert back.items[-1].param1 == 5.0  # the hold time came back from the hover action
    assert [i.command for i in back.items] == [16, 22, 178, 16, 16]


def test_a_mission_without_waypoints_is_refused(tmp_path):
    with pytest.raises(PlanFileError, match="DJI WPML needs at least one waypoint"):
        wpml_package([home_item(121.0, 30.7, 0.0)])


# --- reading a DJI-style file (generated for this test after the Cloud API sample, named so) ---

DJI_STYLE = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:wpml="http://www.dji.com/wpmz/1.0.6">
  <Document>
    <wpml:missionConfig>
      <wpml:flyToWaylineMode>safely</wpml:flyToWaylineMode>
      <wpml:finishAction>autoLand</wpml:finishAction>
      <wpml:exitOnRCLost>goContinue</wpml:exitOnRCLost>
      <wpml:takeOffSecurityHeight>20</wpml:takeOffSecurityHeight>
      <wpml:globalTransitionalSpeed>10</wpml:globalTransitionalSpeed>
      <wpml:droneInfo><wpml:droneEnumValue>67</wpml:droneEnumValue>
        <wpml:droneSubEnumValue>0</wpml:droneSubEnumValue></wpml:droneInfo>
    </wpml:missionConfig>
    <Folder>
      <wpml:templateId>0</wpml:templateId>
      <wpml:executeHeightMode>WGS84</wpml:executeHeightMode>
      <wpml:waylineId>0</wpml:waylineId>
      <wpml:autoFlightSpeed>7</wpml:autoFlightSpeed>
      <Placemark>
        <Point><coordinates>{c0}</coordinates></Point>
        <wpml:index>0</wpml:index>
        <wpml:executeHeight>116.57</wpml:executeHeight>
        <wpml:waypointSpeed>10</wpml:waypointSpeed>
        <wpml:waypointHeadingParam><wpml:waypointHeadingMode>followWayline</wpml:waypointHeadingMode>
        </wpml:waypointHeadingParam>
        <wpml:waypointTurnParam>
          <wpml:waypointTurnMode>toPointAndStopWithDiscontinuityCurvature</wpml:waypointTurnMode>
          <wpml:waypointTurnDampingDist>0</wpml:waypointTurnDampingDist>
        </wpml:waypointTurnParam>
        <wpml:actionGroup>
          <wpml:actionGroupId>0</wpml:actionGroupId>
          <wpml:actionGroupStartIndex>0</wpml:actionGroupStartIndex>
          <wpml:actionGroupEndIndex>2</wpml:actionGroupEndIndex>
          <wpml:actionGroupMode>sequence</wpml:actionGroupMode>
          <wpml:actionTrigger><wpml:actionTriggerType>multipleTiming</wpml:actionTriggerType>
            <wpml:actionTriggerParam>2</wpml:actionTriggerParam></wpml:actionTrigger>
          <wpml:action><wpml:actionId>0</wpml:actionId>
            <wpml:actionActuatorFunc>takePhoto</wpml:actionActuatorFunc>
            <wpml:actionActuatorFuncParam><wpml:payloadPositionIndex>0</wpml:payloadPositionIndex>
            </wpml:actionActuatorFuncParam></wpml:action>
        </wpml:actionGroup>
      </Placemark>
      <Placemark>
        <Point><coordinates>{c1}</coordinates></Point>
        <wpml:index>1</wpml:index>
        <wpml:executeHeight>116.57</wpml:executeHeight>
        <wpml:waypointSpeed>7</wpml:waypointSpeed>
        <wpml:waypointHeadingParam><wpml:waypointHeadingMode>smoothTransition</wpml:waypointHeadingMode>
          <wpml:waypointHeadingAngle>45</wpml:waypointHeadingAngle></wpml:waypointHeadingParam>
        <wpml:waypointTurnParam>
          <wpml:waypointTurnMode>toPointAndStopWithDiscontinuityCurvature</wpml:waypointTurnMode>
          <wpml:waypointTurnDampingDist>0</wpml:waypointTurnDampingDist>
        </wpml:waypointTurnParam>
        <wpml:actionGroup>
          <wpml:actionGroupId>1</wpml:actionGroupId>
          <wpml:actionGroupStartIndex>1</wpml:actionGroupStartIndex>
          <wpml:actionGroupEndIndex>1</wpml:actionGroupEndIndex>
          <wpml:actionGroupMode>sequence</wpml:actionGroupMode>
          <wpml:actionTrigger><wpml:actionTriggerType>reachPoint</wpml:actionTriggerType>
          </wpml:actionTrigger>
          <wpml:action><wpml:actionId>0</wpml:actionId>
            <wpml:actionActuatorFunc>gimbalRotate</wpml:actionActuatorFunc>
            <wpml:actionActuatorFuncParam>
              <wpml:gimbalRotateMode>absoluteAngle</wpml:gimbalRotateMode>
              <wpml:gimbalPitchRotateEnable>1</wpml:gimbalPitchRotateEnable>
              <wpml:gimbalPitchRotateAngle>-45</wpml:gimbalPitchRotateAngle>
              <wpml:gimbalYawRotateEnable>0</wpml:gimbalYawRotateEnable>
              <wpml:gimbalYawRotateAngle>0</wpml:gimbalYawRotateAngle>
            </wpml:actionActuatorFuncParam></wpml:action>
          <wpml:action><wpml:actionId>1</wpml:actionId>
            <wpml:actionActuatorFunc>zoom</wpml:actionActuatorFunc>
            <wpml:actionActuatorFuncParam><wpml:focalLength>48</wpml:focalLength>
            </wpml:actionActuatorFuncParam></wpml:action>
        </wpml:actionGroup>
      </Placemark>
      <Placemark>
        <Point><coordinates>{c2}</coordinates></Point>
        <wpml:index>2</wpml:index>
        <wpml:executeHeight>120</wpml:executeHeight>
        <wpml:waypointTurnParam>
          <wpml:waypointTurnMode>toPointAndPassWithContinuityCurvature</wpml:waypointTurnMode>
        </wpml:waypointTurnParam>
        <wpml:useStraightLine>0</wpml:useStraightLine>
      </Placemark>
    </Folder>
  </Document>
</kml>
"""
COORDS = {"c0": "8.5466122,47.39777106", "c1": "8.54660532,47.39827377", "c2": "8.54560824,47.39827842"}


def _package(tmp_path, name="dji.kmz", waylines=None, template=None, omit_waylines=False):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        if not omit_waylines:
            text = waylines if waylines is not None else DJI_STYLE.format(**COORDS)
            zf.writestr("wpmz/waylines.wpml", text)
        if template is not None:
            zf.writestr("wpmz/template.kml", template)
    return path


def test_reading_a_dji_style_package(tmp_path):
    m = read_wpml(_package(tmp_path))
    cmds = [i.command for i in m.items]
    assert cmds == [
        mavlink.MAV_CMD_NAV_WAYPOINT,          # home (first waypoint, no takeOffRefPoint)
        mavlink.MAV_CMD_NAV_TAKEOFF,           # takeOffSecurityHeight 20 m
        mavlink.MAV_CMD_DO_CHANGE_SPEED,       # globalTransitionalSpeed 10 m/s
        mavlink.MAV_CMD_NAV_WAYPOINT,
        mavlink.MAV_CMD_IMAGE_START_CAPTURE,   # multipleTiming every 2 s ...
        mavlink.MAV_CMD_NAV_WAYPOINT,
        mavlink.MAV_CMD_DO_CHANGE_SPEED,       # 7 m/s on the leg from waypoint 1
        mavlink.MAV_CMD_DO_MOUNT_CONTROL,      # gimbalRotate -45
        mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT,   # curved pass-through
        mavlink.MAV_CMD_IMAGE_STOP_CAPTURE,    # ... until waypoint 2
        mavlink.MAV_CMD_NAV_LAND,              # finishAction autoLand
    ]
    assert m.items[1].alt_m == 20.0 and m.items[2].param2 == 10.0
    assert m.items[4].param2 == 2.0 and m.items[4].param3 == 0.0
    wp1 = m.items[5]
    assert (wp1.lat_deg, wp1.lon_deg, wp1.alt_m, wp1.param4) == (47.39827377, 8.54660532, 116.57, 45.0)
    assert wp1.frame == mavlink.MAV_FRAME_GLOBAL  # executeHeightMode WGS84
    assert m.items[6].param2 == 7.0 and m.items[7].param1 == -45.0
    assert any("ellipsoid heights (WGS84)" in n for n in m.notes)
    assert any("action zoom has no MAVLink equivalent" in n for n in m.notes)
    assert any("no takeOffRefPoint" in n for n in m.notes)


def test_home_comes_from_the_template_reference_point(tmp_path):
    template = ('<kml xmlns="http://www.opengis.net/kml/2.2" '
                'xmlns:wpml="http://www.dji.com/wpmz/1.0.2">'
                "<Document><wpml:missionConfig><wpml:takeOffRefPoint>47.3977507,8.5456075,488.9"
                "</wpml:takeOffRefPoint></wpml:missionConfig></Document></kml>")
    m = read_wpml(_package(tmp_path, template=template))
    assert m.home_wgs84 == (8.5456075, 47.3977507, 488.9)
    assert (m.items[1].lat_deg, m.items[1].lon_deg) == (47.3977507, 8.5456075)  # take-off at home


@pytest.mark.parametrize(("change", "message"), [
    (("8.5466122,47.39777106", "abc,47.39777106"),
     r"wayline 0 waypoint 0: bad coordinates 'abc,47.39777106'"),
    (("8.5466122,47.39777106", "947.39,47.39777106"),
     r"waypoint 0: coordinates '947.39,47.39777106' are not WGS84"),
    (("<wpml:executeHeight>120</wpml:executeHeight>", ""),
     r"waypoint 2: <wpml:executeHeight> is missing"),
    (("<wpml:executeHeight>120<", "<wpml:executeHeight>high<"),
     r"waypoint 2: <wpml:executeHeight> 'high' is not a number"),
    (("<wpml:index>2</wpml:index>", "<wpml:index>5</wpml:index>"),
     r"waypoint indices \[0, 1, 5\] are not 0, 1, 2"),
    (("<wpml:actionGroupEndIndex>2<", "<wpml:actionGroupEndIndex>9<"),
     r"waypoint range 0-9 outside 0-2"),
    (("</Folder>", "</Placemark>"), r"wpmz/waylines.wpml: not well-formed XML"),
])
def test_malformed_waylines_name_file_and_problem(tmp_path, change, message):
    text = DJI_STYLE.format(**COORDS).replace(*change)
    path = _package(tmp_path, waylines=text)
    with pytest.raises(PlanFileError, match=message) as err:
        read_wpml(path)
    assert str(err.value).startswith(str(path))


def test_broken_packages(plans, tmp_path):
    write_wpml(plans["orbit"], tmp_path / "orbit.kmz")
    data = (tmp_path / "orbit.kmz").read_bytes()
    (tmp_path / "cut.kmz").write_bytes(data[: len(data) // 3])
    with pytest.raises(PlanFileError, match=r"cut.kmz: not a valid KMZ \(zip\) file"):
        read_wpml(tmp_path / "cut.kmz")
    path = _package(tmp_path, "nowaylines.kmz", template="<kml/>", omit_waylines=True)
    with pytest.raises(PlanFileError, match=r"nowaylines.kmz: DJI WPML package has no "
                                            r"wpmz/waylines.wpml "
                                            r"\(found: wpmz/template.kml\)"):
        read_wpml(path)
    (tmp_path / "text.kmz").write_text("not a zip")
    with pytest.raises(PlanFileError, match=r"text.kmz: not a valid KMZ \(zip\) file"):
        read_wpml(tmp_path / "text.kmz")
