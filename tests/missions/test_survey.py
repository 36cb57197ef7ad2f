import math

import numpy as np
import pytest
import shapely
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import MultiPolygon, Polygon, box

from missions import CAMERAS, MissionError, plan_survey, validate_plan
from patrol.geodesy import LocalProjection

P4P = CAMERAS["dji-phantom4pro"]
PROJ = LocalProjection.for_point(121.0185, 30.7005)
X0, Y0 = PROJ.to_xy(121.0185, 30.7005)


def generated(poly_xy):
    """A test shape drawn in metres around the demo home, returned in WGS84 (generated)."""
    return PROJ.unproject(shapely.affinity.translate(poly_xy, X0, Y0))


L_SHAPE = generated(Polygon([(0, 0), (500, 0), (500, 150), (150, 150), (150, 450), (0, 450)]))
U_SHAPE = generated(Polygon([(0, 0), (420, 0), (420, 400), (300, 400), (300, 120), (120, 120),
                             (120, 400), (0, 400)]))
TWO_BLOCKS = generated(MultiPolygon([box(0, 0, 250, 180), box(400, 60, 600, 360)]))


@pytest.fixture(scope="module")
def demo_plan(demo_areas, demo_home):
    return plan_survey(demo_areas["Pinghu old town block"], P4P, alt_rel_m=80.0,
                       front_overlap=0.75, side_overlap=0.65, home=demo_home)


def test_demo_survey_covers_the_block_and_keeps_out_of_the_school(demo_plan, demo_areas, geometry):
    area = demo_areas["Pinghu old town block"].geometry
    g = geometry(area)
    assert g.footprint_coverage(demo_plan) >= 0.99
    assert g.zone_entries(demo_plan) == []
    validate_plan(demo_plan)
    assert demo_plan.stats["coverage_fraction"] >= 0.99


def test_demo_survey_figures_follow_the_camera(demo_plan, geometry, demo_areas):
    s = demo_plan.stats
    assert s["gsd_cm_px"] == pytest.approx(P4P.gsd_cm_px(80.0), abs=1e-3)
    assert s["line_spacing_m"] == pytest.approx(42.0)
    assert s["trigger_distance_m"] == pytest.approx(20.0)
    assert s["photo_count"] == len(demo_plan.photo_positions_wgs84) == len(demo_plan.photo_headings_deg)
    g = geometry(demo_areas["Pinghu old town block"].geometry)
    flown = sum(leg.length for leg in g.legs(demo_plan))
    assert s["path_length_m"] == pytest.approx(flown, rel=0.002)
    # passes alone are at least the area divided by the line spacing
    assert s["path_length_m"] > g.target.area / s["line_spacing_m"]
    assert s["est_flight_time_s"] > s["path_length_m"] / s["speed_m_s"]
    for key in ("turns", "planning_ms", "alt_rel_m", "sweep_angle_deg", "passes"):
        assert key in s


def test_photos_are_one_trigger_distance_apart_along_each_pass(demo_plan, geometry, demo_areas):
    g = geometry(demo_areas["Pinghu old town block"].geometry)
    photos = g.xy(demo_plan.photo_positions_wgs84)
    gaps = [math.dist(a, b) for a, b in zip(photos, photos[1:])]
    # within a pass photos are 20 m apart (the last one of a pass may be closer)
    assert max(sorted(gaps)[: len(gaps) // 2]) == pytest.approx(20.0, abs=0.05)


def test_mission_items_follow_the_ardupilot_layout(demo_plan, demo_home):
    items = demo_plan.items
    assert (items[0].command, items[0].frame) == (mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_FRAME_GLOBAL)
    assert (items[0].lon_deg, items[0].lat_deg) == demo_home
    assert items[1].command == mavlink.MAV_CMD_NAV_TAKEOFF and items[1].alt_m == 80.0
    assert items[2].command == mavlink.MAV_CMD_DO_CHANGE_SPEED and items[2].param2 == 10.0
    assert items[-1].command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH
    trig = [i.param1 for i in items if i.command == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST]
    assert trig[0::2] == [20.0] * (len(trig) // 2) and trig[1::2] == [0.0] * (len(trig) // 2)
    assert len(trig) == 2 * len(demo_plan.passes_wgs84)
    wps = [i for i in items[3:] if i.command == mavlink.MAV_CMD_NAV_WAYPOINT]
    assert all(w.frame == mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT and w.alt_m == 80.0 for w in wps)
    assert demo_plan.path_wgs84[0] == demo_plan.path_wgs84[-1] == demo_home


def test_gsd_instead_of_altitude(demo_areas):
    plan = plan_survey(demo_areas["Pinghu old town block"], P4P, gsd_cm_px=2.0, sweep_angle_deg=0)
    assert plan.stats["alt_rel_m"] == pytest.approx(P4P.alt_for_gsd_m(2.0))
    assert plan.stats["gsd_cm_px"] == pytest.approx(2.0, abs=1e-3)


@pytest.mark.parametrize("shape", [L_SHAPE, U_SHAPE, TWO_BLOCKS], ids=["L", "U", "multipolygon"])
def test_concave_and_multipart_areas_are_covered(shape, geometry, demo_home):
    plan = plan_survey(shape, P4P, alt_rel_m=60.0, home=demo_home)
    g = geometry(shape)
    assert g.footprint_coverage(plan) >= 0.99
    validate_plan(plan)
    # the flight stays near the area: every pass starts within a footprint of it
    for p in plan.passes_wgs84:
        assert g.area.distance(shapely.Point(g.xy(p)[0])) < max(plan.footprint_m)


def test_u_shape_is_not_flown_across_its_notch_with_the_camera_on(geometry):
    plan = plan_survey(U_SHAPE, P4P, alt_rel_m=40.0, sweep_angle_deg=0)
    g = geometry(U_SHAPE)
    notch = g.proj.project(generated(box(150, 150, 270, 400)))
    for p in plan.passes_wgs84:
        assert not shapely.LineString(g.xy(p)).intersects(notch)


def test_separate_no_fly_zone_is_excluded_and_avoided(demo_areas, demo_home, geometry):
    area = demo_areas["Pinghu old town block"].geometry
    zone = generated(box(-120, -40, -20, 60))  # around a point south-west of the school
    plan = plan_survey(area, P4P, alt_rel_m=50.0, no_fly=[zone], home=demo_home)
    g = geometry(area, [zone])
    assert g.zone_entries(plan) == []
    assert g.footprint_coverage(plan) >= 0.99
    validate_plan(plan)


def test_transit_goes_around_a_zone_between_home_and_area(geometry):
    area = generated(box(400, -100, 700, 100))
    wall = generated(box(150, -300, 250, 300))
    plan = plan_survey(area, P4P, alt_rel_m=50.0, no_fly=[wall], home=(121.0185, 30.7005))
    assert geometry(area, [wall]).zone_entries(plan) == []
    validate_plan(plan)


def test_turnaround_lengthens_the_route_but_not_the_passes(demo_areas):
    area = demo_areas["Garfield Park"]
    plain = plan_survey(area, P4P, alt_rel_m=60.0, sweep_angle_deg=0)
    longer = plan_survey(area, P4P, alt_rel_m=60.0, sweep_angle_deg=0, turnaround_m=15.0)
    assert longer.stats["path_length_m"] > plain.stats["path_length_m"] + 15.0 * plain.stats["passes"]
    assert longer.stats["photo_count"] == plain.stats["photo_count"]


def test_chosen_angle_is_no_longer_than_fixed_ones(demo_areas, demo_home):
    area = demo_areas["Pinghu old town block"]
    best = plan_survey(area, P4P, alt_rel_m=80.0, home=demo_home)
    for angle in (0.0, 45.0, 90.0, 135.0):
        fixed = plan_survey(area, P4P, alt_rel_m=80.0, home=demo_home, sweep_angle_deg=angle)
        assert best.stats["path_length_m"] <= fixed.stats["path_length_m"] + 1.0


def test_line_spacing_override_without_camera(demo_areas, geometry):
    area = demo_areas["Pinghu old town block"].geometry
    plan = plan_survey(area, None, alt_rel_m=50.0, line_spacing_m=40.0)
    assert plan.stats["line_spacing_m"] == 40.0 and plan.stats["photo_count"] == 0
    assert not any(i.command == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST for i in plan.items)
    assert geometry(area).swath_coverage(plan, 40.0) >= 0.99


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"alt_rel_m": 80.0, "gsd_cm_px": 2.0}, "exactly one of alt_rel_m or gsd_cm_px"),
    ({}, "exactly one of alt_rel_m or gsd_cm_px"),
    ({"alt_rel_m": 80.0, "side_overlap": 1.0}, "side_overlap"),
    ({"alt_rel_m": 80.0, "speed_m_s": 0.0}, "speed"),
    ({"alt_rel_m": 80.0, "home": (121.0200, 30.7015)}, "home .* no-fly zone"),
    ({"alt_rel_m": 80.0, "no_fly_margin_m": 0.0}, "margin"),
])
def test_bad_survey_parameters_are_refused(demo_areas, kwargs, message):
    with pytest.raises(MissionError, match=message):
        plan_survey(demo_areas["Pinghu old town block"], P4P, **kwargs)


def test_non_polygon_area_is_refused(demo_areas):
    with pytest.raises(MissionError, match="Polygon or MultiPolygon"):
        plan_survey(demo_areas["Pinghu river corridor"], P4P, alt_rel_m=80.0)
    with pytest.raises(MissionError, match="line_spacing_m"):
        plan_survey(demo_areas["Pinghu old town block"], None, alt_rel_m=80.0)


BENDING_STRIP = generated(shapely.LineString([(0, 0), (1000, 0), (1000, 1000)])
                          .buffer(30, cap_style="flat", join_style="mitre"))


def test_bending_strip_is_cut_into_reaches_swept_along_their_axis(geometry):
    whole = plan_survey(BENDING_STRIP, None, alt_rel_m=60.0, line_spacing_m=40.0, decompose=False)
    cut = plan_survey(BENDING_STRIP, None, alt_rel_m=60.0, line_spacing_m=40.0)
    assert len(cut.stats["sweep_angles_deg"]) > 1 and "sweep_angle_deg" not in cut.stats
    assert cut.stats["path_length_m"] < 0.95 * whole.stats["path_length_m"]
    g = geometry(BENDING_STRIP)
    assert g.swath_coverage(cut, 40.0) >= 0.99
    # 60 m wide at 40 m spacing: two passes along each reach, not dozens across
    assert cut.stats["passes"] <= 6 < whole.stats["passes"]


def test_pattern_path_leaves_out_the_legs_from_and_to_home(demo_plan, geometry, demo_areas, demo_home):
    g = geometry(demo_areas["Pinghu old town block"].geometry)
    first = g.xy([demo_plan.passes_wgs84[0][0]])[0]
    last = g.xy([demo_plan.passes_wgs84[-1][-1]])[0]
    home = g.xy([demo_home])[0]
    s = demo_plan.stats
    assert s["pattern_path_m"] < s["path_length_m"]
    assert s["path_length_m"] - s["pattern_path_m"] >= math.dist(home, first) + math.dist(last, home) - 1.0


def test_strips_blocked_beside_a_zone_get_fill_passes(geometry):
    # a zone 3 m from the west edge: strips crossing its north and south edges are cut short
    # where their centre lines meet it, leaving bands the regular passes miss
    area = generated(box(0, 0, 400, 300).difference(box(3, 100, 200, 200)))
    plan = plan_survey(area, None, alt_rel_m=50.0, line_spacing_m=30.0, sweep_angle_deg=90.0)
    g = geometry(area)
    assert g.swath_coverage(plan, 30.0) >= 0.99
    assert plan.stats["passes"] > 10  # ten strips, plus the fill passes
    assert g.zone_entries(plan) == []


def test_capture_at_each_waypoint_photographs_the_same_places(demo_areas, demo_home):
    area = demo_areas["Pinghu old town block"]
    by_distance = plan_survey(area, P4P, alt_rel_m=80.0, home=demo_home)
    at_waypoints = plan_survey(area, P4P, alt_rel_m=80.0, home=demo_home, photo_mode="waypoint")
    assert len(at_waypoints.photo_positions_wgs84) == len(by_distance.photo_positions_wgs84)
    assert np.allclose(at_waypoints.photo_positions_wgs84, by_distance.photo_positions_wgs84)
    assert at_waypoints.stats["coverage_fraction"] == by_distance.stats["coverage_fraction"]
    items = at_waypoints.items
    shots = [items[k - 1] for k, it in enumerate(items)
             if it.command == mavlink.MAV_CMD_IMAGE_START_CAPTURE and it.param3 == 1]
    # one image at each photo position, taken at the waypoint just before the capture item
    assert all(w.command == mavlink.MAV_CMD_NAV_WAYPOINT for w in shots)
    assert np.allclose([(w.lon_deg, w.lat_deg) for w in shots], at_waypoints.photo_positions_wgs84)
    with pytest.raises(MissionError, match="photo_mode"):
        plan_survey(area, P4P, alt_rel_m=80.0, photo_mode="sometimes")
