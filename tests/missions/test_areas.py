import json

import pytest
from shapely.geometry import MultiPolygon, Polygon

from missions import AreaFileError, load_areas
from patrol.geodesy import LocalProjection, distance_m

KML_NS = 'xmlns="http://www.opengis.net/kml/2.2"'


def test_demo_areas_load_with_kinds_holes_and_sizes(demo_areas):
    block = demo_areas["Pinghu old town block"]
    assert block.kind == "area" and block.site == "Pinghu"
    assert len(block.holes) == 1
    area_m2 = LocalProjection.for_geometry(block.geometry).project(block.geometry).area
    assert 2e5 < area_m2 < 4e5  # a town block of some 30 ha minus the school
    river = demo_areas["Pinghu river corridor"]
    assert river.kind == "corridor" and river.width_m == 60
    hotspot = demo_areas["Pinghu construction-site hotspot"]
    assert hotspot.kind == "hotspot" and hotspot.radius_m == 60
    assert {a.site for a in demo_areas.values()} == {"Pinghu", "Duluth", "Cleveland"}


def test_kml_written_by_google_earth_loads(mission_data):
    (area,) = load_areas(mission_data / "qgc_good_polygon.kml")
    assert area.name == "Untitled Polygon" and area.kind == "area"
    assert isinstance(area.geometry, Polygon) and len(area.geometry.exterior.coords) == 5
    assert area.geometry.bounds[0] == pytest.approx(-122.1061470943783)


def test_kml_placemark_without_geometry_names_file_and_feature(mission_data):
    path = mission_data / "qgc_polygon_missing_node.kml"
    with pytest.raises(AreaFileError, match=r"qgc_polygon_missing_node\.kml: feature 0 "
                                            r"\('Untitled Polygon'\): Placemark has no"):
        load_areas(path)


def test_kml_with_hole_line_point_and_extended_data(tmp_path):
    kml = f"""<?xml version="1.0"?><kml {KML_NS}><Document>
    <Placemark><name>block</name><ExtendedData><Data name="site"><value>Pinghu</value></Data>
    </ExtendedData><Polygon><outerBoundaryIs><LinearRing><coordinates>
    121.017,30.699 121.023,30.699 121.023,30.704 121.017,30.704 121.017,30.699</coordinates>
    </LinearRing></outerBoundaryIs><innerBoundaryIs><LinearRing><coordinates>
    121.019,30.700 121.020,30.700 121.020,30.701 121.019,30.701 121.019,30.700</coordinates>
    </LinearRing></innerBoundaryIs></Polygon></Placemark>
    <Placemark><name>road</name><ExtendedData><Data name="width_m"><value>40</value></Data>
    </ExtendedData><LineString><coordinates>121.01,30.69 121.02,30.70</coordinates></LineString></Placemark>
    <Placemark><name>site</name><ExtendedData><Data name="radius_m"><value>50</value></Data>
    </ExtendedData><Point><coordinates>121.025,30.701,0</coordinates></Point></Placemark>
    </Document></kml>"""
    path = tmp_path / "areas.kml"
    path.write_text(kml)
    block, road, site = load_areas(path)
    assert (block.kind, block.site, len(block.holes)) == ("area", "Pinghu", 1)
    assert (road.kind, road.width_m) == ("corridor", 40.0)
    assert (site.kind, site.radius_m) == ("hotspot", 50.0)


def test_kmz_is_the_zipped_kml(tmp_path, mission_data):
    import zipfile

    path = tmp_path / "polygon.kmz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(mission_data / "qgc_good_polygon.kml", "doc.kml")
    (area,) = load_areas(path)
    assert area.name == "Untitled Polygon" and area.kind == "area"
    bad = tmp_path / "empty.kmz"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("readme.txt", "no kml here")
    with pytest.raises(AreaFileError, match="KMZ holds no .kml document"):
        load_areas(bad)


def test_geojson_shapes_feature_bare_geometry_and_array(tmp_path):
    poly = {"type": "Polygon", "coordinates": [[[121.0, 30.7], [121.01, 30.7], [121.01, 30.71],
                                                 [121.0, 30.7]]]}
    cases = {"bare.geojson": poly,
             "feature.geojson": {"type": "Feature", "properties": {"name": "a"}, "geometry": poly},
             "array.json": [{"type": "Feature", "properties": {"name": "b"}, "geometry": poly}]}
    for name, doc in cases.items():
        (tmp_path / name).write_text(json.dumps(doc))
        (area,) = load_areas(tmp_path / name)
        assert area.kind == "area" and area.geometry.equals(Polygon(poly["coordinates"][0]))
    assert load_areas(tmp_path / "bare.geojson")[0].name == "bare #0"


@pytest.mark.parametrize(("doc", "message"), [
    ("{not json", r"bad\.geojson: not valid GeoJSON"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "ok"}, "geometry": {"type": "Point", "coordinates": [121, 30]}}]}),
     r"feature 0 \('ok'\): a hotspot needs 'properties.radius_m'"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}]}),
     r"feature 0 \('bad #0'\): invalid Polygon: Self-intersection"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "x"}, "geometry": None}]}),
     r"feature 0 \('x'\): field 'geometry' is missing"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "corridor"}, "geometry": {"type": "LineString", "coordinates": [[121, 30], [121.1, 30]]}}]}),
     r"a corridor needs 'properties.width_m' > 0"),
    (json.dumps({"type": "Feature", "properties": {"kind": "hotspot"}, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}),
     r"a hotspot needs a Point geometry, got Polygon"),
    (json.dumps({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[350000, 3390000], [351000, 3390000], [351000, 3391000], [350000, 3390000]]]}}),
     r"not WGS84 lon/lat degrees"),
    (json.dumps({"type": "Topology"}), r"not a GeoJSON FeatureCollection"),
])
def test_malformed_area_files_say_where(tmp_path, doc, message):
    path = tmp_path / "bad.geojson"
    path.write_text(doc)
    with pytest.raises(AreaFileError, match=message) as err:
        load_areas(path)
    assert str(path) in str(err.value)


def test_missing_file_is_an_area_file_error(tmp_path):
    with pytest.raises(AreaFileError, match="cannot read"):
        load_areas(tmp_path / "absent.geojson")


def test_gcj02_boundary_array_converts_to_wgs84(shared_data):
    path = shared_data / "geodata" / "pinghu_jiaxing_admin" / "330482_pinghu_gmap.json"
    (raw,) = load_areas(path)
    (wgs,) = load_areas(path, coordinates="gcj02")
    assert raw.name == "平湖市" and isinstance(wgs.geometry, MultiPolygon)
    assert len(wgs.geometry.geoms) == 9
    c0, c1 = raw.geometry.centroid, wgs.geometry.centroid
    assert 300 < distance_m(c0.x, c0.y, c1.x, c1.y) < 800  # the GCJ-02 offset removed
