import math
import zipfile
from xml.etree import ElementTree as ET

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import Polygon

from missions import (
    MissionFile,
    PlanFileError,
    read_route_kml,
    write_route_kml,
)

NS = {"k": "http://www.opengis.net/kml/2.2"}


@pytest.fixture(scope="module")
def plans(demo_plans):
    return demo_plans


def _same_fence(a, b):
    return len(a) == len(b) and all(pa.equals_exact(pb, 1e-12) and ia == ib
                                    for (pa, ia), (pb, ib) in zip(a, b))


@pytest.mark.parametrize("pattern", ["survey", "corridor", "orbit"])
@pytest.mark.parametrize("suffix", [".kml", ".kmz"])
def test_kml_round_trip_keeps_items_fence_and_rally(plans, pattern, suffix, tmp_path):
    plan = plans[pattern]
    assert write_route_kml(plan, tmp_path / f"route{suffix}") == []
    back = read_route_kml(tmp_path / f"route{suffix}")
    assert back.format == "kml" and back.notes == []
    assert back.items == plan.items  # every field, full float precision
    fences = [(plan.geofence_inclusion_wgs84, True)] + [(p, False) for p in plan.no_fly_wgs84]
    assert _same_fence(back.geofence_polygons, fences)
    assert back.rally_points == plan.rally_points_wgs84
    assert back.home_wgs84[:2] == plan.home_wgs84


def test_kml_document_draws_the_route(plans, tmp_path):
    plan = plans["survey"]
    write_route_kml(plan, tmp_path / "survey.kml")
    root = ET.parse(tmp_path / "survey.kml").getroot()
    route = root.find(".//k:Placemark[k:name='Route']/k:LineString", NS)
    assert route.find("k:altitudeMode", NS).text == "relativeToGround"
    vertices = [tuple(map(float, t.split(","))) for t in route.find("k:coordinates", NS).text.split()]
    assert vertices[0] == (*plan.home_wgs84, 0.0)  # home on the ground
    assert vertices[1] == (*plan.home_wgs84, 80.0)  # take-off climb
    assert vertices[-1] == (*plan.home_wgs84, 0.0)  # RTL: back down at home
    flown = [(lon, lat) for lon, lat, alt in vertices if alt == 80.0]
    waypoints = [(i.lon_deg, i.lat_deg) for i in plan.items
                 if i.command == mavlink.MAV_CMD_NAV_WAYPOINT]
    assert flown[1:-1] == waypoints[1:]  # every waypoint after home, in order, at 80 m
    names = [e.text for e in root.findall(".//k:Folder[@id='mission_items']/k:Placemark/k:name", NS)]
    assert names[0] == "0 home" and names[1] == "1 MAV_CMD_NAV_TAKEOFF"
    assert names[3].endswith("MAV_CMD_NAV_WAYPOINT") and names[3].startswith("3 ")
    photos = root.findall(".//k:Folder[@id='photos']/k:Placemark", NS)
    assert len(photos) == plan.stats["photo_count"] == len(plan.photo_positions_wgs84)


def test_kmz_is_doc_kml_zipped(plans, tmp_path):
    write_route_kml(plans["orbit"], tmp_path / "orbit.kmz")
    write_route_kml(plans["orbit"], tmp_path / "orbit.kml")
    with zipfile.ZipFile(tmp_path / "orbit.kmz") as zf:
        assert zf.namelist() == ["doc.kml"]
        assert zf.read("doc.kml") == (tmp_path / "orbit.kml").read_bytes()


def test_fence_circles_and_complex_items_round_trip(mission_data, tmp_path):
    from missions import read_plan

    mission = read_plan(mission_data / "qgc_sample_with_survey.plan")
    mission.geofence_circles = [((8.5455, 47.3978), 150.0, True), ((8.5460, 47.3975), 12.5, False)]
    write_route_kml(mission, tmp_path / "qgc.kml")
    back = read_route_kml(tmp_path / "qgc.kml")
    assert back.geofence_circles == mission.geofence_circles
    [ci] = back.complex_items
    assert ci["type"] == "survey" and ci["index"] == 1
    assert ci["settings"] == mission.complex_items[0]["settings"]
    assert ci["geometry"].equals_exact(mission.complex_items[0]["geometry"], 0.0)
    assert len(back.items) == 14
    for a, b in zip(back.items, mission.items):  # NaN params (QGC's null) stay NaN
        assert [x for x in a.to_dict().values()] == [x for x in b.to_dict().values()]


# --- lines drawn elsewhere (generated test KML, named as such) ---------------------------------

LINE_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>generated test line</name>
<Placemark><name>patrol line</name><LineString><altitudeMode>{mode}</altitudeMode>
<coordinates>{coords}</coordinates></LineString></Placemark></Document></kml>
"""


def _line(tmp_path, coords, mode="relativeToGround", name="line.kml"):
    path = tmp_path / name
    path.write_text(LINE_KML.format(mode=mode, coords=coords))
    return path


def test_a_drawn_line_becomes_waypoints_at_its_altitudes(tmp_path):
    path = _line(tmp_path, "121.0185,30.7005,40 121.0201,30.7012,55.5 121.0222,30.7001,60")
    m = read_route_kml(path)
    assert [i.command for i in m.items] == [mavlink.MAV_CMD_NAV_WAYPOINT] * 4
    assert m.items[0].frame == mavlink.MAV_FRAME_GLOBAL  # home at the first vertex
    wps = m.items[1:]
    assert all(i.frame == mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT for i in wps)
    assert [(i.lon_deg, i.lat_deg, i.alt_m) for i in wps] == [
        (121.0185, 30.7005, 40.0), (121.0201, 30.7012, 55.5), (121.0222, 30.7001, 60.0)]
    assert any("home" in n for n in m.notes)


def test_absolute_line_gives_amsl_waypoints(tmp_path):
    m = read_route_kml(_line(tmp_path, "121.0185,30.7005,12 121.0201,30.7012,90", "absolute"))
    assert {i.frame for i in m.items[1:]} == {mavlink.MAV_FRAME_GLOBAL}


def test_clamped_line_needs_an_altitude(tmp_path):
    path = _line(tmp_path, "121.0185,30.7005 121.0201,30.7012", "clampToGround")
    with pytest.raises(PlanFileError, match="gives no flight altitude; give an altitude") as err:
        read_route_kml(path)
    assert str(err.value).startswith(str(path))
    m = read_route_kml(path, alt_rel_m=45.0)
    assert [i.alt_m for i in m.items[1:]] == [45.0, 45.0]
    assert any("45 m above home" in n for n in m.notes)


def test_area_file_is_not_a_route(mission_data):
    with pytest.raises(PlanFileError, match=r"no LineString to read as a route \(it holds 1 "
                                            r"Polygon\(s\): load it as a patrol area\)"):
        read_route_kml(mission_data / "qgc_good_polygon.kml")


@pytest.mark.parametrize(("coords", "message"), [
    ("121.0185,30.7005,40 abc,def,50", r"bad coordinate 'abc,def,50'"),
    ("121.0185,30.7005,40 121.02", r"bad coordinate '121.02' \(expected lon,lat\[,alt\]\)"),
    ("121.0185,30.7005,40 3400000.0,510000.0,50", r"'3400000.0,510000.0,50' is not WGS84"),
    ("", r"<coordinates> is missing or empty"),
])
def test_bad_coordinates_name_file_and_line(tmp_path, coords, message):
    path = _line(tmp_path, coords)
    with pytest.raises(PlanFileError, match=message) as err:
        read_route_kml(path)
    assert str(err.value).startswith(f"{path}: LineString of Placemark 'patrol line'")


def test_malformed_files(plans, tmp_path):
    bad_xml = tmp_path / "bad.kml"
    bad_xml.write_text("<kml><Document><Placemark></Document></kml>")
    with pytest.raises(PlanFileError, match=r"bad.kml: not well-formed KML: mismatched tag"):
        read_route_kml(bad_xml)
    write_route_kml(plans["orbit"], tmp_path / "orbit.kmz")
    data = (tmp_path / "orbit.kmz").read_bytes()
    (tmp_path / "cut.kmz").write_bytes(data[: len(data) // 2])
    with pytest.raises(PlanFileError, match=r"cut.kmz: not a valid KMZ \(zip\) file"):
        read_route_kml(tmp_path / "cut.kmz")
    with zipfile.ZipFile(tmp_path / "empty.kmz", "w") as zf:
        zf.writestr("readme.txt", "no kml here")
    with pytest.raises(PlanFileError,
                       match=r"empty.kmz: KMZ holds no .kml document \(found: readme.txt\)"):
        read_route_kml(tmp_path / "empty.kmz")
    write_route_kml(plans["orbit"], tmp_path / "o.kml")
    text = (tmp_path / "o.kml").read_text()
    (tmp_path / "o.kml").write_text(text.replace("<value>16</value>", "<value>sixteen</value>", 1))
    with pytest.raises(PlanFileError, match=r"o.kml: mission_items Placemark '0 home': "
                                            r"ExtendedData value is not a number"):
        read_route_kml(tmp_path / "o.kml")


def test_a_plain_item_list_can_be_written(tmp_path):
    from missions.items import home_item, waypoint_item

    items = [home_item(121.0, 30.7, 4.0), waypoint_item(121.001, 30.7, 50.0)]
    write_route_kml(items, tmp_path / "two.kml")
    back = read_route_kml(tmp_path / "two.kml")
    assert back.items == items and back.geofence_polygons == [] and back.rally_points == []


def test_mission_file_fence_polygon_with_hole_round_trips(tmp_path):
    from missions.items import home_item, waypoint_item

    ring = [(121.0, 30.7), (121.01, 30.7), (121.01, 30.71), (121.0, 30.71)]
    hole = [(121.004, 30.704), (121.006, 30.704), (121.006, 30.706)]
    m = MissionFile(path=tmp_path / "x.plan", format="plan",
                    items=[home_item(121.005, 30.705, 3.0), waypoint_item(121.002, 30.702, 40.0)],
                    geofence_polygons=[(Polygon(ring, [hole]), True)])
    write_route_kml(m, tmp_path / "fence.kml")
    [(poly, inclusion)] = read_route_kml(tmp_path / "fence.kml").geofence_polygons
    assert inclusion and poly.equals_exact(Polygon(ring, [hole]), 0.0)
    assert math.isclose(poly.area, Polygon(ring, [hole]).area)
