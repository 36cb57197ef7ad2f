import math

import pytest
import shapely
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions import CAMERAS, MissionError, plan_orbit, validate_plan
from patrol.geodesy import LocalProjection, distance_m


@pytest.fixture(scope="module")
def orbit(demo_areas, demo_home):
    return plan_orbit(demo_areas["Pinghu construction-site hotspot"], 60, alt_rel_m=60.0,
                      home=demo_home, camera=CAMERAS["dji-phantom4pro"])


def test_orbit_circles_the_hotspot_with_the_camera_on_it(orbit, demo_areas):
    spot = demo_areas["Pinghu construction-site hotspot"].geometry
    items = orbit.items
    roi = [i for i in items if i.command == mavlink.MAV_CMD_DO_SET_ROI_LOCATION]
    assert len(roi) == 1 and (roi[0].lon_deg, roi[0].lat_deg) == (spot.x, spot.y)
    assert any(i.command == mavlink.MAV_CMD_DO_SET_ROI_NONE for i in items)
    loop = orbit.passes_wgs84[0]
    radii = [distance_m(spot.x, spot.y, lon, lat) for lon, lat in loop]
    assert min(radii) == pytest.approx(60.0, abs=0.2) and max(radii) == pytest.approx(60.0, abs=0.2)
    assert loop[0] == loop[-1]
    validate_plan(orbit)


def test_orbit_photos_and_trigger_distance(orbit, demo_areas):
    s = orbit.stats
    assert s["photo_count"] == 12
    assert s["trigger_distance_m"] == pytest.approx(2 * math.pi * 60 / 12, rel=0.01)
    spot = demo_areas["Pinghu construction-site hotspot"].geometry
    for (lon, lat), heading in zip(orbit.photo_positions_wgs84, orbit.photo_headings_deg):
        assert distance_m(spot.x, spot.y, lon, lat) == pytest.approx(60.0, abs=0.5)
    assert s["gsd_cm_px"] == pytest.approx(CAMERAS["dji-phantom4pro"].gsd_cm_px(math.hypot(60, 60)), abs=1e-3)


def test_two_turns_double_the_photos(demo_areas):
    plan = plan_orbit(demo_areas["Pinghu construction-site hotspot"], 60, alt_rel_m=60.0,
                      photos_per_turn=8, turns=2)
    assert plan.stats["photo_count"] == 16


def test_orbit_through_a_no_fly_zone_is_refused_around_one_is_not(demo_areas):
    spot = demo_areas["Pinghu construction-site hotspot"].geometry
    proj = LocalProjection.for_point(spot.x, spot.y)
    x, y = proj.to_xy(spot.x, spot.y)
    on_circle = proj.unproject(shapely.Point(x + 60, y).buffer(10))
    with pytest.raises(MissionError, match="enters a no-fly zone"):
        plan_orbit(spot, 60, alt_rel_m=60.0, no_fly=[on_circle])
    inside = proj.unproject(shapely.Point(x, y).buffer(30))
    validate_plan(plan_orbit(spot, 60, alt_rel_m=60.0, no_fly=[inside]))


def test_orbit_refuses_bad_input():
    with pytest.raises(MissionError, match="radius"):
        plan_orbit((121.0, 30.7), 0, alt_rel_m=60.0)
    with pytest.raises(MissionError, match="Point"):
        plan_orbit(shapely.LineString([(0, 0), (1, 1)]), 10, alt_rel_m=60.0)
