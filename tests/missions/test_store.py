import sqlalchemy as sa

from missions import (CAMERAS, plan_orbit, plan_survey, read_plan, read_waypoints, save_area,
                      save_route)
from missions.models import PatrolArea, Route
from missions.store import area_spec


def test_save_area_upserts_by_name(session, demo_areas):
    spec = demo_areas["Pinghu old town block"]
    first = save_area(session, spec)
    again = save_area(session, spec)
    assert first.id == again.id
    assert session.scalar(sa.select(sa.func.count()).select_from(PatrolArea)) == 1
    back = area_spec(first)
    assert back.geometry.equals(spec.geometry) and back.kind == "area" and len(back.holes) == 1


def test_save_route_writes_files_and_row(session, demo_areas, demo_home, tmp_path):
    spec = demo_areas["Pinghu old town block"]
    area = save_area(session, spec)
    plan = plan_survey(spec, CAMERAS["dji-phantom4pro"], alt_rel_m=80.0, home=demo_home,
                       sweep_angle_deg=0)
    route = save_route(session, plan, name="Pinghu old town block survey", data_dir=tmp_path, area=area)
    assert route.id is not None and route.area_id == area.id and route.pattern == "survey"
    assert route.plan_path == "plans/pinghu-old-town-block-survey.plan"
    assert route.waypoints_path == "plans/pinghu-old-town-block-survey.waypoints"
    assert read_plan(tmp_path / route.plan_path).items == plan.items
    assert read_waypoints(tmp_path / route.waypoints_path).items == plan.items
    assert route.items[0] == plan.items[0].to_dict()
    assert route.path["type"] == "LineString" and len(route.path["coordinates"]) == len(plan.path_wgs84)
    assert route.stats["photo_count"] == plan.stats["photo_count"]
    session.commit()
    stored = session.scalars(sa.select(Route)).one()
    assert stored.stats["coverage_fraction"] >= 0.99 and stored.area.name == spec.name


def test_saving_a_route_again_replaces_it(session, demo_areas, tmp_path):
    hotspot = demo_areas["Pinghu construction-site hotspot"]
    a = save_route(session, plan_orbit(hotspot, 60, alt_rel_m=60.0), name="hotspot orbit", data_dir=tmp_path)
    b = save_route(session, plan_orbit(hotspot, 80, alt_rel_m=60.0), name="hotspot orbit", data_dir=tmp_path)
    assert a.id == b.id and b.stats["radius_m"] == 80
    assert session.scalar(sa.select(sa.func.count()).select_from(Route)) == 1
