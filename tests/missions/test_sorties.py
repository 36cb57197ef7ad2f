"""Battery sorties: each within the budget and valid, together every photo, each resuming
where the last one stopped."""

import numpy as np
import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Point

from missions import (CAMERAS, MissionError, load_areas, plan_corridor, plan_orbit, plan_survey,
                      split_sorties, validate_plan)
from missions.safety import fence_items

CAM = mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST


def xy(plan, lonlat):
    pts = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    return np.column_stack(plan.projection.to_xy(pts[:, 0], pts[:, 1]))


def pattern_part(sortie):
    """(command, param1, param3) of every MAV_CMD_DO_SET_CAM_TRIGG_DIST of a sortie."""
    return [(it.command, it.param1, it.param3) for it in sortie.items if it.command == CAM]


def check_sorties(plan, sorties, budget_s, geometry=None):
    assert plan.stats["sorties"] == len(sorties)
    for k, s in enumerate(sorties, start=1):
        assert (s.stats["sortie_index"], s.stats["sortie_count"]) == (k, len(sorties))
        assert s.stats["est_flight_time_s"] <= budget_s
        assert s.items[1].command == mavlink.MAV_CMD_NAV_TAKEOFF
        assert s.items[-1].command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH
        assert s.path_wgs84[0] == s.path_wgs84[-1] == s.home_wgs84
        validate_plan(s)  # ceiling, zones, its own geofence, its rally points
        fence_items(s)
        if geometry is not None:
            assert geometry.zone_entries(s) == []
    # together they take every photo of the route, where the route takes it
    if plan.photo_positions_wgs84:
        taken = np.vstack([xy(plan, s.photo_positions_wgs84) for s in sorties
                           if s.photo_positions_wgs84])
        miss, _ = cKDTree(taken).query(xy(plan, plan.photo_positions_wgs84))
        assert miss.max() < 0.01
        extra, _ = cKDTree(xy(plan, plan.photo_positions_wgs84)).query(taken)
        assert extra.max() < 0.01  # and none elsewhere (a cut point is photographed twice)
    # each resumes where the last one stopped, on both flown paths
    for before, after in zip(sorties, sorties[1:]):
        assert before.stats["sortie_end_wgs84"] == after.stats["sortie_start_wgs84"]
        point = xy(plan, [after.stats["sortie_start_wgs84"]])
        for s in (before, after):
            assert np.min(np.hypot(*(xy(plan, s.path_wgs84) - point).T)) < 0.01


@pytest.fixture(scope="module")
def town(bench_polygons):
    (area,) = load_areas(bench_polygons / "town_area.geojson")
    west, south = area.geometry.bounds[:2]
    plan = plan_survey(area, CAMERAS["dji-phantom4pro"], alt_rel_m=80.0,
                       home=(west - 0.002, south - 0.001))
    return area, plan


def test_town_area_at_20_minutes(town, geometry):
    area, plan = town
    sorties = split_sorties(plan, 20.0)
    budget = 0.8 * 20 * 60
    assert plan.stats["est_flight_time_s"] > budget
    assert len(sorties) >= np.ceil(plan.stats["est_flight_time_s"] / budget)
    check_sorties(plan, sorties, budget, geometry(area.geometry))
    # the budget is used: every sortie but the last flies at least 80 % of it
    assert all(s.stats["est_flight_time_s"] > 0.8 * budget for s in sorties[:-1])
    # the passes are flown once: total camera-on length is the route's
    pass_len = lambda p: sum(np.hypot(*np.diff(xy(p, ps), axis=0).T).sum() for ps in p.passes_wgs84)
    assert sum(pass_len(s) for s in sorties) == pytest.approx(pass_len(plan), rel=1e-6)


def test_cut_inside_a_pass_switches_the_camera_on_again(town):
    _, plan = town
    sorties = split_sorties(plan, 20.0)
    trigger = plan.stats["trigger_distance_m"]
    passes = [LineString(xy(plan, p)) for p in plan.passes_wgs84 if len(p) > 1]

    def inside_a_pass(lonlat):
        p = Point(xy(plan, [lonlat])[0])
        return any(line.distance(p) < 0.01 and min(p.distance(Point(line.coords[0])),
                                                   p.distance(Point(line.coords[-1]))) > 1.0
                   for line in passes)

    mid = [s for s in sorties[1:] if inside_a_pass(s.stats["sortie_start_wgs84"])]
    assert mid, "no sortie resumes inside a pass"
    for s in mid:
        cams = pattern_part(s)
        assert cams[0] == (CAM, pytest.approx(trigger), 1.0)  # on, with a photo at once
        # the first item after the camera comes on flies on along the interrupted pass
        first = next(i for i, it in enumerate(s.items) if it.command == CAM)
        start = xy(plan, [s.stats["sortie_start_wgs84"]])
        before = s.items[first - 1]
        assert np.hypot(*(xy(plan, [(before.lon_deg, before.lat_deg)]) - start)[0]) < 0.01
    # and the sortie that stopped there switched it off with a last photo
    for prev, s in zip(sorties, sorties[1:]):
        if s in mid:
            assert pattern_part(prev)[-1] == (CAM, 0.0, 1.0)


def test_too_short_an_endurance_says_so(town):
    _, plan = town
    with pytest.raises(MissionError, match=r"the budget of 96\.0 s per sortie is too short: the "
                                           r"shortest sortie .* takes \d+\.\d s with the legs from "
                                           r"and back to home"):
        split_sorties(plan, 2.0)


def test_bad_parameters(town):
    _, plan = town
    with pytest.raises(MissionError, match="endurance must be > 0 min"):
        split_sorties(plan, 0.0)
    with pytest.raises(MissionError, match=r"reserve fraction must be in \[0, 1\)"):
        split_sorties(plan, 20.0, reserve_fraction=1.0)
    hole = plan.no_fly_wgs84[0].representative_point()
    with pytest.raises(MissionError, match="lies in or within .* of a no-fly zone"):
        split_sorties(plan, 20.0, home=(hole.x, hole.y))


def test_a_route_that_fits_is_one_sortie(demo_areas, demo_home):
    plan = plan_corridor(demo_areas["Pinghu river corridor"], 60.0, CAMERAS["dji-phantom4pro"],
                         alt_rel_m=60.0, home=demo_home)
    (only,) = split_sorties(plan, 30.0)
    assert plan.stats["sorties"] == 1
    assert [(i.command, i.param1, i.param3) for i in only.items] == \
        [(i.command, i.param1, i.param3) for i in plan.items]
    assert np.allclose([(i.lat_deg, i.lon_deg, i.alt_m) for i in only.items],
                       [(i.lat_deg, i.lon_deg, i.alt_m) for i in plan.items], rtol=0, atol=1e-9)
    assert np.allclose(only.photo_positions_wgs84, plan.photo_positions_wgs84, rtol=0, atol=1e-9)
    assert only.stats["est_flight_time_s"] == plan.stats["est_flight_time_s"]


def test_from_a_dock_around_the_school(demo_areas, geometry):
    area = demo_areas["Pinghu old town block"]
    plan = plan_survey(area, CAMERAS["dji-phantom4pro"], alt_rel_m=80.0, home=(121.0185, 30.7005))
    hole = area.geometry.interiors[0]
    dock = (hole.bounds[2] + 0.0010, 0.5 * (hole.bounds[1] + hole.bounds[3]))  # east of it
    sorties = split_sorties(plan, 8.0, home=dock)
    assert len(sorties) > 1 and all(s.home_wgs84 == dock for s in sorties)
    assert all(s.params["sortie_home"] == list(dock) for s in sorties)
    check_sorties(plan, sorties, 0.8 * 8 * 60, geometry(area.geometry))


def test_orbit_sorties_point_the_camera_at_the_hotspot(demo_areas, demo_home):
    hotspot = demo_areas["Pinghu construction-site hotspot"]
    plan = plan_orbit(hotspot, 80.0, alt_rel_m=60.0, home=demo_home, turns=3)
    sorties = split_sorties(plan, 10.0, reserve_fraction=0.25)
    assert len(sorties) > 1
    check_sorties(plan, sorties, 0.75 * 10 * 60)
    centre = xy(plan, [hotspot.geometry.coords[0]])[0]
    for s in sorties:
        cmds = [it.command for it in s.items]
        assert cmds.index(mavlink.MAV_CMD_DO_SET_ROI_LOCATION) < cmds.index(CAM)
        assert cmds.index(mavlink.MAV_CMD_DO_SET_ROI_NONE) > len(cmds) - 1 - cmds[::-1].index(CAM)
        for (x, y), h in zip(xy(plan, s.photo_positions_wgs84), s.photo_headings_deg):
            bearing = np.degrees(np.arctan2(centre[0] - x, centre[1] - y)) % 360.0
            assert abs((h - bearing + 180.0) % 360.0 - 180.0) < 1e-6


def test_capture_at_each_waypoint_survives_the_split(demo_areas, demo_home, geometry):
    area = demo_areas["Pinghu old town block"]
    plan = plan_survey(area, CAMERAS["dji-phantom4pro"], alt_rel_m=80.0, home=demo_home,
                       photo_mode="waypoint")
    captures = [it for it in plan.items if it.command == mavlink.MAV_CMD_IMAGE_START_CAPTURE]
    assert len(captures) == plan.stats["photo_count"] > 100
    assert not pattern_part(plan)  # no distance trigger in this mode
    budget_s = 0.8 * 10 * 60
    sorties = split_sorties(plan, 10.0)
    assert len(sorties) >= 2
    check_sorties(plan, sorties, budget_s, geometry(area.geometry))
    for s in sorties:
        assert not pattern_part(s)
        assert sum(it.command == mavlink.MAV_CMD_IMAGE_START_CAPTURE for it in s.items) == \
            s.stats["photo_count"]
