import re

import pytest
import shapely

from missions import CAMERAS, PlanValidationError, plan_problems, plan_survey, validate_plan
from missions.items import home_item, rtl_item, takeoff_item, waypoint_item
from patrol.geodesy import LocalProjection

PROJ = LocalProjection.for_point(121.0185, 30.7005)
X0, Y0 = PROJ.to_xy(121.0185, 30.7005)


def at(dx, dy, alt=50.0):
    lon, lat = PROJ.to_lonlat(X0 + dx, Y0 + dy)
    return waypoint_item(lon, lat, alt)


ZONE = PROJ.unproject(shapely.box(X0 + 100, Y0 - 50, X0 + 200, Y0 + 50))


def mission(*wps):
    return [home_item(121.0185, 30.7005), takeoff_item(121.0185, 30.7005, 30.0), *wps, rtl_item()]


def test_safe_mission_passes():
    validate_plan(mission(at(0, 300), at(300, 300)), no_fly=[ZONE])


def test_leg_through_a_zone_says_where():
    with pytest.raises(PlanValidationError, match=r"leg from item 2 to item 3 \(MAV_CMD_NAV_WAYPOINT "
                                                  r"at 30\.\d+ N, 121\.\d+ E\) enters no-fly zone 0 "
                                                  r"at 30\.70\d+ N, 121\.01\d+ E") as err:
        validate_plan(mission(at(0, 0), at(300, 0)), no_fly=[ZONE])
    # and RTL flies straight back through it too
    assert len(err.value.problems) == 2
    assert err.value.problems[1].startswith("leg from item 3 to item 4 (MAV_CMD_NAV_RETURN_TO_LAUNCH, "
                                            "straight back to home) enters no-fly zone 0")


def test_waypoint_in_a_zone_and_rtl_through_it():
    with pytest.raises(PlanValidationError) as err:
        validate_plan(mission(at(400, 0), at(150, 0)), no_fly=[ZONE])
    text = " | ".join(err.value.problems)
    assert "item 3 (MAV_CMD_NAV_WAYPOINT" in text and "lies inside no-fly zone 0" in text
    assert "leg from item 3 to item 4 (MAV_CMD_NAV_RETURN_TO_LAUNCH" in text


def test_ceiling():
    with pytest.raises(PlanValidationError, match=r"item 2 \(MAV_CMD_NAV_WAYPOINT .*\): altitude "
                                                  r"130\.0 m above home exceeds the ceiling of 120\.0 m"):
        validate_plan(mission(at(0, 100, 130.0)))
    validate_plan(mission(at(0, 100, 130.0)), ceiling_alt_rel_m=150.0)


def test_planned_survey_checks_against_its_own_zones(demo_areas, demo_home):
    plan = plan_survey(demo_areas["Pinghu old town block"], CAMERAS["dji-phantom4pro"],
                       alt_rel_m=80.0, home=demo_home, sweep_angle_deg=0)
    validate_plan(plan)  # the hole is the plan's own no-fly zone
    with pytest.raises(PlanValidationError, match="exceeds the ceiling of 60.0 m"):
        validate_plan(plan, ceiling_alt_rel_m=60.0)
    area = demo_areas["Pinghu old town block"].geometry
    with pytest.raises(PlanValidationError, match="and \\d+ more"):
        validate_plan(plan, no_fly=[shapely.Polygon(area.exterior)])


FENCE = PROJ.unproject(shapely.box(X0 - 50, Y0 - 50, X0 + 250, Y0 + 350))


def test_path_leaving_the_geofence_says_where():
    validate_plan(mission(at(0, 300), at(200, 300)), fence=FENCE)
    with pytest.raises(PlanValidationError) as err:
        validate_plan(mission(at(0, 300), at(400, 300)), fence=FENCE)
    problems = err.value.problems
    assert problems[0].startswith("item 3 (MAV_CMD_NAV_WAYPOINT at 30.70")
    assert problems[0].endswith("lies outside the geofence")
    exit_lon, exit_lat = PROJ.to_lonlat(X0 + 250, Y0 + 300)
    assert problems[1] == (f"leg from item 2 to {problems[0].split(': ')[0].rsplit(' lies', 1)[0]}"
                           f" leaves the geofence at {exit_lat:.6f} N, {exit_lon:.6f} E")
    assert len(problems) == 2  # the way back from outside is not reported again
    assert "fence" not in " ".join(plan_problems(mission(at(0, 300), at(400, 300)), fence=False))


def test_a_plan_is_checked_against_its_own_fence_and_rally_points(demo_areas, demo_home):
    plan = plan_survey(demo_areas["Pinghu old town block"], CAMERAS["dji-phantom4pro"],
                       alt_rel_m=80.0, home=demo_home)
    validate_plan(plan)
    west, south, east, north = plan.geofence_inclusion_wgs84.bounds
    mid = 0.5 * (south + north)
    southern = plan.geofence_inclusion_wgs84.intersection(shapely.box(west, south, east, mid))
    problems = plan_problems(plan, fence=southern)
    leaving = [p for p in problems if " leaves the geofence at " in p]
    assert leaving and all(re.fullmatch(r"leg from item \d+ to item \d+ \(MAV_CMD_NAV_WAYPOINT "
                                        r"at 30\.\d{6} N, 121\.\d{6} E\) leaves the geofence at "
                                        + f"{mid:.6f}".replace(".", r"\.") + r" N, 121\.\d{6} E", p)
                           for p in leaving)
    school = plan.no_fly_wgs84[0]
    inside = school.representative_point()
    plan.rally_points_wgs84.append((inside.x, inside.y, 130.0))
    problems = plan_problems(plan)
    k = len(plan.rally_points_wgs84) - 1
    assert problems == [
        f"rally point {k} at {inside.y:.6f} N, {inside.x:.6f} E: altitude 130.0 m above home "
        "exceeds the ceiling of 120.0 m",
        f"rally point {k} at {inside.y:.6f} N, {inside.x:.6f} E lies inside no-fly zone 0"]
