"""Geofence and rally points: what they contain, what ArduPilot would accept, and the .plan."""

import json

import numpy as np
import pytest
import shapely
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import LineString, Point, Polygon

from missions import (CAMERAS, MissionError, apply_safety, fence_items, load_areas, plan_corridor,
                      plan_orbit, plan_survey, rally_items, read_plan, validate_plan, write_plan)
from missions.plan import FENCE_MARGIN_M
from missions.safety import (FENCE_STORAGE_BYTES, RALLY_SPACING_M, fence_polygons,
                             fence_storage_bytes)

FENCE_CMDS = {mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION: True,
              mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION: False}


@pytest.fixture(scope="module")
def block_plan(demo_areas, demo_home):
    return plan_survey(demo_areas["Pinghu old town block"], CAMERAS["dji-phantom4pro"],
                       alt_rel_m=80.0, home=demo_home)


@pytest.fixture(scope="module")
def town_plan(bench_polygons):
    (area,) = load_areas(bench_polygons / "town_area.geojson")
    west, south = area.geometry.bounds[:2]
    plan = plan_survey(area, CAMERAS["dji-phantom4pro"], alt_rel_m=80.0,
                       home=(west - 0.002, south - 0.001))
    return area, plan


def ardupilot_polygons(items):
    """Read fence items back the way AC_PolyFence_loader::validate_fence walks them."""
    polys, current, expected = [], None, 0
    for k, it in enumerate(items):
        if it.command in FENCE_CMDS:
            assert it.frame in (mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT)
            count = int(it.param1)
            assert 3 <= count <= 255 and it.param1 == count, f"item {k}: vertex count {it.param1}"
            if expected == 0:
                current, expected = ([], FENCE_CMDS[it.command]), count
                polys.append(current)
            assert FENCE_CMDS[it.command] == current[1] and len(current[0]) < count
            current[0].append((it.lon_deg, it.lat_deg))
            expected -= 1
        else:
            assert it.command == mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT and expected == 0
    assert expected == 0
    return [(Polygon(ring), inclusion) for ring, inclusion in polys]


def test_fence_contains_area_and_whole_path_with_the_margin(town_plan, geometry):
    area, plan = town_plan
    g = geometry(area.geometry)
    fence = g.proj.project(plan.geofence_inclusion_wgs84)
    assert fence.is_valid and not fence.interiors
    assert fence.covers(g.area.buffer(0.99 * FENCE_MARGIN_M))
    assert fence.covers(LineString(g.xy(plan.path_wgs84)).buffer(0.99 * FENCE_MARGIN_M))
    assert fence.covers(Point(g.xy([plan.home_wgs84])[0]))
    # the area buffered, not its convex hull: a concave outline stays concave
    assert fence.area < 1.15 * g.area.buffer(FENCE_MARGIN_M).union(
        LineString(g.xy(plan.path_wgs84)).buffer(FENCE_MARGIN_M)).area
    validate_plan(plan)  # the path stays inside its own fence


def test_fence_margin_is_configurable(demo_areas, demo_home):
    plan = plan_survey(demo_areas["Pinghu old town block"], CAMERAS["dji-phantom4pro"],
                       alt_rel_m=80.0, home=demo_home)
    tight = plan.projection.project(plan.geofence_inclusion_wgs84)
    apply_safety(plan, fence_margin_m=80.0)
    wide = plan.projection.project(plan.geofence_inclusion_wgs84)
    assert plan.params["fence_margin_m"] == 80.0
    area = plan.projection.project(demo_areas["Pinghu old town block"].geometry)
    assert wide.covers(area.buffer(79.0)) and not tight.covers(area.buffer(79.0))
    with pytest.raises(MissionError, match="geofence margin must be > 0 m"):
        apply_safety(plan, fence_margin_m=0.0)


def test_fence_items_are_what_ardupilot_takes(block_plan):
    items = fence_items(block_plan)
    polys = ardupilot_polygons(items)
    assert [inc for _, inc in polys] == [True, False]  # the route fence, then the school
    inclusion, school = polys[0][0], polys[1][0]
    assert inclusion.equals_exact(Polygon(block_plan.geofence_inclusion_wgs84.exterior), 1e-9)
    assert school.equals_exact(Polygon(block_plan.no_fly_wgs84[0].exterior), 1e-9)
    ret = items[-1]
    assert ret.command == mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT
    assert (ret.lon_deg, ret.lat_deg) == block_plan.home_wgs84
    assert fence_storage_bytes(polys) <= FENCE_STORAGE_BYTES
    assert fence_items(block_plan, return_point=False) == items[:-1]


def test_fence_of_every_pattern_fits_ardupilot_storage(town_plan, demo_areas, demo_home):
    plans = [town_plan[1],
             plan_corridor(demo_areas["Pinghu river corridor"], 60.0, CAMERAS["dji-phantom4pro"],
                           alt_rel_m=60.0, home=demo_home),
             plan_orbit(demo_areas["Pinghu construction-site hotspot"], 80.0, alt_rel_m=60.0,
                        home=demo_home)]
    for plan in plans:
        polys = ardupilot_polygons(fence_items(plan))
        assert fence_storage_bytes(polys) <= FENCE_STORAGE_BYTES
        validate_plan(plan)


def test_zone_with_many_vertices_is_simplified_outwards(demo_home):
    proj_plan = plan_orbit((121.0250, 30.7010), 60.0, alt_rel_m=50.0, home=demo_home)
    proj = proj_plan.projection
    cx, cy = proj.to_xy(121.0220, 30.7030)
    zone = proj.unproject(Point(cx, cy).buffer(40.0, quad_segs=128))  # 512 vertices
    plan = plan_orbit((121.0250, 30.7010), 60.0, alt_rel_m=50.0, home=demo_home, no_fly=[zone])
    polys = fence_polygons(plan)
    excl = polys[1][0]
    assert len(excl.exterior.coords) - 1 <= 255
    assert proj.project(excl).buffer(1e-6).covers(proj.project(zone))
    assert proj.project(excl).hausdorff_distance(proj.project(zone)) < 2.0
    assert fence_storage_bytes(polys) <= FENCE_STORAGE_BYTES


def test_fence_that_cannot_fit_says_how_many_bytes(demo_home):
    base = plan_orbit((121.0250, 30.7010), 60.0, alt_rel_m=50.0, home=demo_home)
    proj = base.projection
    x0, y0 = proj.to_xy(121.0300, 30.7100)
    zones = [proj.unproject(Point(x0 + 60.0 * i, y0).buffer(20.0, quad_segs=2))
             for i in range(40)]
    plan = plan_orbit((121.0250, 30.7010), 60.0, alt_rel_m=50.0, home=demo_home, no_fly=zones)
    with pytest.raises(MissionError, match=r"the geofence needs \d+ bytes of fence storage "
                                           r"\(40 no-fly zones .* keeps 560"):
        fence_items(plan)


def test_rally_points_cover_the_path_outside_the_zones(town_plan, geometry):
    area, plan = town_plan
    g = geometry(area.geometry)
    rally = plan.rally_points_wgs84
    assert 2 <= len(rally) <= 20
    assert rally[0] == (*plan.home_wgs84, 80.0)
    assert all(alt == plan.stats["alt_rel_m"] for _, _, alt in rally)
    pts = np.array(g.xy([(lon, lat) for lon, lat, _ in rally]))
    zones = g.zones.buffer(plan.params["no_fly_margin_m"])
    fence = g.proj.project(plan.geofence_inclusion_wgs84)
    assert not shapely.intersects(shapely.points(pts), zones).any()
    assert shapely.covers(fence, shapely.points(pts)).all()
    # every point of the flown path is within the spacing of a rally point
    path = LineString(g.xy(plan.path_wgs84))
    samples = shapely.get_coordinates(
        shapely.line_interpolate_point(path, np.arange(0.0, path.length, 10.0)))
    nearest = np.min(np.hypot(samples[:, None, 0] - pts[None, :, 0],
                              samples[:, None, 1] - pts[None, :, 1]), axis=1)
    assert nearest.max() <= RALLY_SPACING_M + 25.0
    validate_plan(plan)


def test_rally_items(block_plan):
    items = rally_items(block_plan)
    assert len(items) == len(block_plan.rally_points_wgs84) >= 1
    for it, (lon, lat, alt) in zip(items, block_plan.rally_points_wgs84):
        assert it.command == mavlink.MAV_CMD_NAV_RALLY_POINT
        assert it.frame == mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT
        assert (it.lon_deg, it.lat_deg, it.alt_m) == (lon, lat, alt)


def test_plan_file_carries_fence_and_rally_points(block_plan, tmp_path):
    path = write_plan(block_plan, tmp_path / "block.plan")
    back = read_plan(path)
    assert back.rally_points == [pytest.approx(p) for p in block_plan.rally_points_wgs84]
    assert [inc for _, inc in back.geofence_polygons] == [True, False]
    assert back.geofence_polygons[0][0].equals_exact(
        Polygon(block_plan.geofence_inclusion_wgs84.exterior), 1e-9)
    doc = json.loads(write_plan(block_plan, tmp_path / "bare.plan", rally_points=[],
                                geofence_polygons=[]).read_text())
    assert doc["rallyPoints"]["points"] == [] and doc["geoFence"]["polygons"] == []
