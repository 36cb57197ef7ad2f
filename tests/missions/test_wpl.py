import pytest
from pymavlink import mavwp
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions import CAMERAS, PlanFileError, plan_corridor, read_waypoints, write_waypoints
from missions.wpl import WPL_HEADER


@pytest.fixture(scope="module")
def plan(demo_areas, demo_home):
    return plan_corridor(demo_areas["Pinghu river corridor"], 60, CAMERAS["dji-phantom4pro"],
                         alt_rel_m=80.0, home=demo_home)


def test_waypoints_round_trip(plan, tmp_path):
    path = write_waypoints(plan, tmp_path / "river.waypoints")
    lines = path.read_text().splitlines()
    assert lines[0] == WPL_HEADER
    assert all(len(line.split("\t")) == 12 for line in lines[1:])
    assert lines[1].split("\t")[:4] == ["0", "1", "0", "16"]
    back = read_waypoints(path)
    assert back.items == plan.items
    assert back.home_wgs84[:2] == plan.home_wgs84


def test_pymavlink_reads_our_file(plan, tmp_path):
    path = write_waypoints(plan, tmp_path / "river.waypoints")
    loader = mavwp.MAVWPLoader()
    assert loader.load(str(path)) == len(plan.items)
    wp = loader.wp(3)
    assert (wp.command, wp.x, wp.y, wp.z) == (plan.items[3].command, pytest.approx(plan.items[3].lat_deg),
                                              pytest.approx(plan.items[3].lon_deg), plan.items[3].alt_m)


def test_mission_planner_file(mission_data):
    m = read_waypoints(mission_data / "mission_planner.waypoints")  # CRLF line ends
    assert m.home_wgs84 == (-122.103167, 47.660459, 5.21)
    assert [i.command for i in m.items] == [16] * 6
    assert all(i.frame == mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT and i.alt_m == 100 for i in m.items[1:])
    assert m.items[0].frame == mavlink.MAV_FRAME_GLOBAL


def test_ardupilot_autotest_mission(mission_data):
    m = read_waypoints(mission_data / "ardupilot_cmac_copter_navtest.txt")
    assert len(m.items) == 21
    assert m.items[1].command == mavlink.MAV_CMD_NAV_TAKEOFF and m.items[1].alt_m == 30
    assert m.items[16].command == mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT
    assert m.items[20].command == mavlink.MAV_CMD_NAV_LAND and m.items[20].param4 == 1


@pytest.mark.parametrize(("body", "message"), [
    ("QGC WPL 100\n", r"line 1: expected header 'QGC WPL 110'"),
    ("QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t30.7\t121.0\t0\n", r"line 2: expected 12 columns, got 11"),
    ("QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t30.7\t121.0\t0\t1\n1\t0\t3\t16\t0\t0\t0\t0\tx\t121.0\t50\t1\n",
     r"line 3: not a number"),
    ("QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t30.7\t121.0\t0\t1\n\n5\t0\t3\t16\t0\t0\t0\t0\t30.7\t121.0\t50\t1\n",
     r"line 4: sequence number 5, expected 1"),
    ("QGC WPL 110\n", "no mission items"),
])
def test_malformed_waypoint_files_name_file_and_line(tmp_path, body, message):
    path = tmp_path / "bad.waypoints"
    path.write_text(body)
    with pytest.raises(PlanFileError, match=message) as err:
        read_waypoints(path)
    assert str(err.value).startswith(str(path))
