import pytest

from missions import PlanFileError, plan_orbit, read_mission, write_route


@pytest.mark.parametrize(("name", "fmt", "count"), [
    ("qgc_sample.plan", "plan", 7),
    ("qgc_sample_with_survey.plan", "plan", 14),
    ("mission_planner.waypoints", "waypoints", 6),
    ("ardupilot_cmac_copter_navtest.txt", "waypoints", 21),
])
def test_read_mission_chooses_the_reader(mission_data, name, fmt, count):
    m = read_mission(mission_data / name)
    assert (m.format, len(m.items)) == (fmt, count)
    assert m.items[0].lat_deg == m.home_wgs84[1]


def test_read_mission_by_content(mission_data, tmp_path):
    plan_copy = tmp_path / "mission.json"
    plan_copy.write_bytes((mission_data / "qgc_sample.plan").read_bytes())
    assert read_mission(plan_copy).format == "plan"


def test_unknown_file_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(PlanFileError, match="neither a QGroundControl .plan, a 'QGC WPL 110' file, "
                                            "a KML route nor a DJI WPML package"):
        read_mission(path)
    with pytest.raises(PlanFileError, match="cannot read"):
        read_mission(tmp_path / "absent.txt")
    with pytest.raises(PlanFileError, match="unknown mission file format 'gpx'"):
        read_mission(path, fmt="gpx")


@pytest.fixture(scope="module")
def orbit(demo_areas, demo_home):
    return plan_orbit(demo_areas["Pinghu construction-site hotspot"].geometry, 50.0, alt_rel_m=60.0,
                      home=demo_home)


@pytest.mark.parametrize(("name", "fmt"), [
    ("route.kml", "kml"), ("route_kml.kmz", "kml"), ("route.kmz", "wpml"), ("route.plan", "plan"),
    ("route.waypoints", "waypoints")])
def test_read_mission_reads_every_format(orbit, tmp_path, name, fmt):
    write_route(orbit, tmp_path / name, "kml" if name == "route_kml.kmz" else None)
    m = read_mission(tmp_path / name)
    assert m.format == fmt and m.items == orbit.items


@pytest.mark.parametrize(("name", "fmt"), [("route.kml", "kml"), ("route.kmz", "wpml"),
                                           ("route_kml.kmz", "kml")])
def test_kml_and_kmz_recognised_by_content(orbit, tmp_path, name, fmt):
    write_route(orbit, tmp_path / name, "kml" if name == "route_kml.kmz" else None)
    renamed = tmp_path / "download.bin"
    renamed.write_bytes((tmp_path / name).read_bytes())
    assert read_mission(renamed).format == fmt
    assert read_mission(renamed, fmt).items == orbit.items


def test_a_polygon_kml_is_not_a_mission(mission_data):
    with pytest.raises(PlanFileError, match="load it as a patrol area"):
        read_mission(mission_data / "qgc_good_polygon.kml")
