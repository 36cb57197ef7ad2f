import pytest

from missions import PlanFileError, read_mission


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
    with pytest.raises(PlanFileError, match="neither a QGroundControl .plan"):
        read_mission(path)
    with pytest.raises(PlanFileError, match="cannot read"):
        read_mission(tmp_path / "absent.txt")
