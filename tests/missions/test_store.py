import sqlalchemy as sa
from shapely.geometry import shape

from missions import (CAMERAS, fence_items, plan_orbit, plan_survey, rally_items, read_plan,
                      read_waypoints, save_area, save_route, save_sorties, split_sorties)
from missions.models import PatrolArea, Route
from missions.store import area_spec, route_fence_items, route_rally_items


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


def test_route_keeps_fence_rally_points_and_sorties(session, demo_areas, demo_home, tmp_path):
    spec = demo_areas["Pinghu old town block"]
    area = save_area(session, spec)
    plan = plan_survey(spec, CAMERAS["dji-phantom4pro"], alt_rel_m=80.0, home=demo_home)
    sorties = split_sorties(plan, 8.0)
    parent, rows = save_sorties(session, plan, sorties, name="block", data_dir=tmp_path, area=area)
    session.commit()

    fence = parent.fence["features"]
    assert [f["properties"]["inclusion"] for f in fence] == [True, False]
    assert shape(fence[0]["geometry"]).equals_exact(plan.geofence_inclusion_wgs84, 1e-9)
    assert shape(fence[1]["geometry"]).equals_exact(plan.no_fly_wgs84[0], 1e-9)
    assert parent.rally_points == [list(p) for p in plan.rally_points_wgs84]
    assert parent.stats["sorties"] == len(sorties) > 1
    assert (parent.parent_id, parent.sortie_index, parent.sortie_count) == (None, None, None)

    stored = session.scalars(sa.select(Route).where(Route.parent_id == parent.id)).all()
    assert [r.id for r in parent.sorties] == [r.id for r in rows] == sorted(r.id for r in stored)
    for k, (row, sortie) in enumerate(zip(parent.sorties, sorties), start=1):
        assert row.name == f"block sortie {k} of {len(sorties)}"
        assert (row.sortie_index, row.sortie_count, row.parent.id) == (k, len(sorties), parent.id)
        assert row.area_id == area.id
        assert row.stats["est_flight_time_s"] <= 0.8 * 8 * 60
        doc = read_plan(tmp_path / row.plan_path)
        assert doc.items == sortie.items
        assert doc.rally_points == [tuple(p) for p in sortie.rally_points_wgs84]
        assert [inc for _, inc in doc.geofence_polygons] == [True, False]
        # what a vehicle gets from the stored row is what the plan gives
        assert route_fence_items(row) == fence_items(sortie)
        assert route_rally_items(row) == rally_items(sortie)

    # a new split into fewer sorties detaches the extra ones
    fewer = split_sorties(plan, 12.0)
    assert len(fewer) < len(sorties)
    parent2, rows2 = save_sorties(session, plan, fewer, name="block", data_dir=tmp_path, area=area)
    session.commit()
    assert parent2.id == parent.id
    session.expire_all()
    assert [r.sortie_count for r in parent2.sorties] == [len(fewer)] * len(fewer)
