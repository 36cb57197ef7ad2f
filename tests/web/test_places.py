"""Places: squads' jurisdictions and the unit grids inside them, point lookups, polygon input
(drawn, GeoJSON, KML, GCJ-02), imports, and the demo's generated grids."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from shapely.geometry import Point, shape

from patrol.geodesy import wgs84_to_gcj02
from web.errors import WebError
from web.models import AuditEvent, Case, Grid, Squad
from web.places import (GridIndex, check_polygon, delete_grid, grid_cells, grid_for_point,
                        import_grids, import_squads, outside_part_m2, polygon_from_text,
                        polygon_from_upload, save_grid, save_squad)
from web.seed import DATA_DIR, generate_demo_grids, load_grids, load_squads

DEMO_SQUADS = DATA_DIR / "demo_squads.geojson"
DEMO_GRIDS = DATA_DIR / "demo_grids.geojson"


def box(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1],
                                                [x0, y0]]]}


@pytest.fixture
def squads(session):
    return {s.name.split()[0]: s for s in load_squads(session, DEMO_SQUADS)}


@pytest.fixture
def danghu(squads):
    return next(s for n, s in squads.items() if "当湖" in n)


# ------------------------------------------------------------------ the demo's grids

def test_demo_grids_file_is_what_the_generator_makes():
    squads_doc = json.loads(DEMO_SQUADS.read_text(encoding="utf-8"))
    stored = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
    assert stored == json.loads(json.dumps(generate_demo_grids(squads_doc)))
    assert all("(generated)" in f["properties"]["name"] for f in stored["features"])


def test_demo_grids_load_inside_their_squads_and_cover_them(session, squads):
    grids = load_grids(session, DEMO_GRIDS)
    assert len(grids) == len(json.loads(DEMO_GRIDS.read_text())["features"])
    for squad in squads.values():
        mine = [shape(g.polygon) for g in grids if g.squad_id == squad.id]
        assert mine, squad.name
        jurisdiction = shape(squad.jurisdiction)
        assert all(outside_part_m2(g, jurisdiction) == 0 for g in mine)
        covered = sum(g.area for g in mine) / jurisdiction.area
        assert 0.95 < covered <= 1.0 + 1e-9, (squad.name, covered)
    assert len(load_grids(session, DEMO_GRIDS)) == len(grids), "reloading updates by code"
    assert session.scalar(sa.select(sa.func.count()).select_from(Grid)) == len(grids)


def test_grid_cells_are_regular_and_clipped():
    cells = grid_cells(box(121.0, 30.70, 121.01, 30.71), 400.0)
    rows = {r for r, _c, _p in cells}
    cols = {c for _r, c, _p in cells}
    assert rows == set(range(1, max(rows) + 1)) and cols == set(range(1, max(cols) + 1))
    area = shape(box(121.0, 30.70, 121.01, 30.71))
    assert all(area.covers(shape(p)) for _r, _c, p in cells)
    with pytest.raises(ValueError, match="positive"):
        grid_cells(box(0, 0, 1, 1), 0)


# ------------------------------------------------------------------ lookups

def test_grid_for_point(session, squads):
    load_grids(session, DEMO_GRIDS)
    grid = grid_for_point(session, 121.0185, 30.7005)
    assert grid is not None and grid.code.startswith("PH-DH-")
    assert shape(grid.polygon).covers(Point(121.0185, 30.7005))
    assert grid_for_point(session, 120.99, 30.70).code.startswith("PH-ZD-")
    assert grid_for_point(session, 121.20, 30.80) is None
    with pytest.raises(ValueError, match="not a WGS84 position"):
        grid_for_point(session, 200.0, 30.0)


def test_grid_index_agrees_with_grid_for_point(session, squads):
    load_grids(session, DEMO_GRIDS)
    index = GridIndex.from_session(session)
    for lon in (120.981, 120.995, 121.004, 121.0185, 121.031, 121.05):
        for lat in (30.691, 30.7005, 30.711):
            expected = grid_for_point(session, lon, lat)
            assert index.grid_id_at(lon, lat) == (expected.id if expected else None), (lon, lat)


def test_a_point_on_a_shared_edge_goes_to_the_smaller_grid(session, danghu):
    big = save_grid(session, code="T-BIG", name="big (generated)", squad=danghu,
                    polygon=box(121.010, 30.695, 121.014, 30.699))
    small = save_grid(session, code="T-SMALL", name="small (generated)", squad=danghu,
                      polygon=box(121.014, 30.695, 121.016, 30.697))
    assert grid_for_point(session, 121.014, 30.696).id == small.id
    assert grid_for_point(session, 121.012, 30.696).id == big.id


# ------------------------------------------------------------------ checks

def test_a_grid_must_lie_inside_its_squad(session, danghu, squads):
    with pytest.raises(WebError, match="not inside the jurisdiction of squad .*当湖.* lies outside"):
        save_grid(session, code="T-OUT", name="", squad=danghu,
                  polygon=box(121.030, 30.700, 121.040, 30.705))
    zhongdai = next(s for n, s in squads.items() if "钟埭" in n)
    with pytest.raises(WebError, match="not inside the jurisdiction"):
        save_grid(session, code="T-OTHER", name="", squad=zhongdai,
                  polygon=box(121.010, 30.695, 121.012, 30.697))
    # on the border, within the tolerance: inside
    grid = save_grid(session, code="T-EDGE", name="", squad=danghu,
                     polygon=box(121.005, 30.690, 121.007, 30.692))
    assert grid.id is not None
    assert session.scalar(sa.select(sa.func.count()).select_from(Grid)) == 1


def test_grids_of_a_squad_do_not_overlap_and_codes_are_unique(session, danghu):
    save_grid(session, code="T-1", name="", squad=danghu, polygon=box(121.01, 30.695, 121.012, 30.697))
    with pytest.raises(WebError, match="overlaps grid 'T-1'"):
        save_grid(session, code="T-2", name="", squad=danghu,
                  polygon=box(121.011, 30.695, 121.013, 30.697))
    with pytest.raises(WebError, match="code 'T-1' is used"):
        save_grid(session, code="T-1", name="", squad=danghu,
                  polygon=box(121.02, 30.695, 121.022, 30.697))
    # sharing an edge is no overlap
    save_grid(session, code="T-2", name="", squad=danghu, polygon=box(121.012, 30.695, 121.014, 30.697))


def test_editing_a_grid_and_deleting_it(session, danghu, world_free_case):
    grid = save_grid(session, code="T-1", name="a", squad=danghu,
                     polygon=box(121.01, 30.695, 121.012, 30.697))
    save_grid(session, code="T-1b", name="b", squad=danghu, polygon=grid.polygon, grid=grid)
    assert (grid.code, grid.name) == ("T-1b", "b")
    case = world_free_case(grid)
    delete_grid(session, grid)
    session.expire_all()
    assert session.get(Case, case.id).grid_id is None
    actions = session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["grid.create", "grid.update", "grid.delete"]


@pytest.fixture
def world_free_case(session):
    """A case placed in a grid (generated)."""
    import datetime as dt

    def make(grid):
        case = Case(code="C-TEST-0001", category="street_vending", status="filed",
                    squad_id=grid.squad_id, grid_id=grid.id, lat_deg=30.696, lon_deg=121.011,
                    created_at=dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc))
        session.add(case)
        session.flush()
        return case

    return make


def test_a_squads_new_jurisdiction_must_still_hold_its_grids(session, danghu):
    save_grid(session, code="T-1", name="", squad=danghu, polygon=box(121.01, 30.695, 121.012, 30.697))
    with pytest.raises(WebError, match="grids T-1 would lie outside"):
        save_squad(session, name=danghu.name, site=danghu.site, squad=danghu,
                   jurisdiction=box(121.02, 30.69, 121.032, 30.712))
    squad = save_squad(session, name=danghu.name, site="Pinghu old town", squad=danghu,
                       jurisdiction=box(121.0, 30.69, 121.032, 30.712))
    assert squad.site == "Pinghu old town"


def test_squad_names_are_unique(session, danghu):
    with pytest.raises(WebError, match="exists already"):
        save_squad(session, name=danghu.name, site="x", jurisdiction=box(0, 0, 1, 1))
    new = save_squad(session, name="新中队 new squad (generated)", site="x",
                     jurisdiction=box(0, 0, 0.01, 0.01))
    assert session.scalars(sa.select(AuditEvent).where(AuditEvent.target_id == new.id,
                                                       AuditEvent.target_type == "squad")).one()


# ------------------------------------------------------------------ polygons in

def test_check_polygon_names_the_problem():
    with pytest.raises(WebError, match="zone: invalid polygon: Self-intersection"):
        check_polygon({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
                      "zone")
    with pytest.raises(WebError, match="zone: coordinates outside WGS84"):
        check_polygon(box(300000, 3390000, 301000, 3391000), "zone")
    with pytest.raises(WebError, match="zone: malformed coordinates"):
        check_polygon({"type": "Polygon", "coordinates": [[1, 2]]}, "zone")
    geom = check_polygon({"type": "Feature", "geometry": box(0, 0, 1, 1)}, "zone")
    assert geom.area == 1.0


def test_drawn_polygons_and_gcj02():
    drawn = polygon_from_text(json.dumps(box(121.01, 30.70, 121.02, 30.71)), "zone")
    assert drawn["type"] == "Polygon"
    corners = [wgs84_to_gcj02(x, y) for x, y in drawn["coordinates"][0]]
    shifted = polygon_from_text(json.dumps({"type": "Polygon", "coordinates": [corners]}), "zone",
                                crs="gcj02")
    assert shape(shifted).equals_exact(shape(drawn), 1e-6)
    two = polygon_from_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": box(0, 0, 1, 1)},
        {"type": "Feature", "geometry": box(2, 0, 3, 1)}]}), "zone")
    assert two["type"] == "MultiPolygon"
    for text, message in (("", "no polygon"), ("{", "not JSON")):
        with pytest.raises(WebError, match=message):
            polygon_from_text(text, "zone")


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>district (generated)</name>
<Polygon><outerBoundaryIs><LinearRing><coordinates>
121.01,30.70 121.02,30.70 121.02,30.71 121.01,30.71 121.01,30.70
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"""


def test_uploaded_kml_and_geojson():
    polygon = polygon_from_upload("district.kml", KML.encode(), "squad")
    assert shape(polygon).equals(shape(box(121.01, 30.70, 121.02, 30.71)))
    geojson = json.dumps({"type": "Feature", "properties": {},
                          "geometry": box(121.01, 30.70, 121.02, 30.71)}).encode()
    assert shape(polygon_from_upload("d.geojson", geojson, "squad")).equals(shape(polygon))
    with pytest.raises(WebError, match="d.txt: unsupported file type"):
        polygon_from_upload("d.txt", b"x", "squad")
    line = json.dumps({"type": "Feature", "properties": {"width_m": 20},
                       "geometry": {"type": "LineString", "coordinates": [[121, 30], [121.1, 30]]}})
    with pytest.raises(WebError, match="l.geojson: the file holds no polygon"):
        polygon_from_upload("l.geojson", line.encode(), "squad")


# ------------------------------------------------------------------ imports

def test_import_grids_names_every_bad_feature_and_changes_nothing(session, danghu):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "G-1", "squad": danghu.name},
         "geometry": box(121.01, 30.695, 121.012, 30.697)},
        {"type": "Feature", "properties": {"name": "no code"},
         "geometry": box(121.01, 30.695, 121.012, 30.697)},
        {"type": "Feature", "properties": {"code": "G-3", "squad": "no such squad"},
         "geometry": box(121.02, 30.695, 121.022, 30.697)},
        {"type": "Feature", "properties": {"code": "G-4"},
         "geometry": box(121.30, 30.695, 121.302, 30.697)},
        {"type": "Feature", "properties": {"code": "G-5"},
         "geometry": box(121.011, 30.695, 121.013, 30.697)},  # overlaps G-1
    ]}
    with pytest.raises(WebError) as err:
        import_grids(session, json.dumps(doc), source="grids.geojson")
    message = str(err.value)
    assert message.startswith("grids.geojson: ")
    assert "feature 1: properties.code" in message
    assert "feature 2 (G-3): no squad named 'no such squad'" in message
    assert "feature 3 (G-4): outside every squad's jurisdiction" in message
    assert session.scalar(sa.select(sa.func.count()).select_from(Grid)) == 0
    del doc["features"][1:4]
    with pytest.raises(WebError, match="grid 'G-5' overlaps grid 'G-1'"):
        import_grids(session, json.dumps(doc), source="grids.geojson")
    doc["features"].pop()
    [grid] = import_grids(session, json.dumps(doc), source="grids.geojson")
    assert grid.squad_id == danghu.id


def test_import_squads_from_bytes(session):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "S (generated)", "site": "X", "note": "n"},
         "geometry": box(0, 0, 0.01, 0.01)}]}
    [squad] = import_squads(session, json.dumps(doc).encode(), source="s.geojson")
    assert (squad.name, squad.site, squad.properties) == ("S (generated)", "X", {"note": "n"})
    with pytest.raises(WebError, match="s.geojson: cannot read the squads GeoJSON"):
        import_squads(session, b"{", source="s.geojson")
    assert session.scalar(sa.select(sa.func.count()).select_from(Squad)) == 1
