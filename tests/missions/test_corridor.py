import pytest
import shapely
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import LineString, box

from missions import CAMERAS, MissionError, plan_corridor, validate_plan

P4P = CAMERAS["dji-phantom4pro"]


@pytest.fixture(scope="module")
def river_plan(demo_areas, demo_home):
    return plan_corridor(demo_areas["Pinghu river corridor"], 60, P4P, alt_rel_m=80.0,
                         home=demo_home)


def _corridor_xy(g, line, width):
    return g.proj.project(line).buffer(width / 2, cap_style="flat")


def test_corridor_passes_cover_its_width(river_plan, demo_areas, geometry):
    line = demo_areas["Pinghu river corridor"].geometry
    g = geometry(line.buffer(0.01))  # only for the projection
    corridor = _corridor_xy(g, line, 60)
    covered = shapely.union_all([g.proj.project(f) for f in river_plan.footprints_wgs84()])
    assert corridor.intersection(covered).area / corridor.area >= 0.99
    # 60 m wide at 42 m spacing: two passes, flown in opposite directions
    assert river_plan.stats["passes"] == len(river_plan.passes_wgs84) == 2
    first, second = (g.xy(p) for p in river_plan.passes_wgs84)
    start = g.proj.project(shapely.Point(line.coords[0]))
    assert (shapely.Point(first[0]).distance(start) < 50) != (shapely.Point(second[0]).distance(start) < 50)
    # each pass runs 21 m off the centre line
    for p in (first, second):
        mid = LineString(p).interpolate(0.5, normalized=True)
        assert g.proj.project(line).distance(mid) == pytest.approx(21.0, abs=1.0)
    validate_plan(river_plan)


def test_corridor_stats(river_plan):
    s = river_plan.stats
    assert s["corridor_length_m"] > 1400 and s["width_m"] == 60
    assert s["path_length_m"] > 2 * s["corridor_length_m"]
    assert s["photo_count"] >= 2 * s["corridor_length_m"] / s["trigger_distance_m"]
    assert s["coverage_fraction"] >= 0.99
    assert river_plan.items[-1].command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH


def test_narrow_corridor_is_one_pass_on_the_line(demo_areas):
    plan = plan_corridor(demo_areas["Pinghu river corridor"], 30, P4P, alt_rel_m=80.0)
    assert plan.stats["passes"] == 1


def test_corridor_pass_interrupted_by_a_no_fly_zone(demo_areas, demo_home, geometry):
    line = demo_areas["Pinghu river corridor"].geometry
    g = geometry(line.buffer(0.01))
    mid = g.proj.project(line).interpolate(0.5, normalized=True)
    zone = g.proj.unproject(box(mid.x - 40, mid.y - 100, mid.x + 40, mid.y + 100))
    plan = plan_corridor(line, 60, P4P, alt_rel_m=80.0, home=demo_home, no_fly=[zone])
    assert geometry(line.buffer(0.01), [zone]).zone_entries(plan) == []
    assert len(plan.passes_wgs84) == 4  # both passes cut in two
    validate_plan(plan)


def test_corridor_refuses_bad_input(demo_areas):
    with pytest.raises(MissionError, match="LineString"):
        plan_corridor(demo_areas["Pinghu old town block"], 60, P4P, alt_rel_m=80.0)
    with pytest.raises(MissionError, match="width"):
        plan_corridor(demo_areas["Pinghu river corridor"], 0, P4P, alt_rel_m=80.0)
