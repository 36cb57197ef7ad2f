"""The planning page and its JSON endpoints: roles, CSRF, preview of real demo areas, precise
errors for bad input, saving a route with its area and mission files."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from shapely.geometry import LineString, Polygon, shape

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions import CAMERAS, load_areas, plan_survey, read_plan
from missions.models import PatrolArea, Route
from web import create_app

REPO = Path(__file__).resolve().parents[2]
DEMO_AREAS = REPO / "missions" / "data" / "demo_areas.geojson"


@pytest.fixture(scope="module")
def demo():
    """The bundled demo areas (hand-drawn, see their notes), by kind."""
    specs = load_areas(DEMO_AREAS)
    return {s.kind: s for s in reversed(specs)}  # the first of each kind wins


def _survey_request(area, **overrides) -> dict:
    body = {"pattern": "survey", "area": area.geojson(), "camera": "dji-phantom4pro",
            "alt_rel_m": 80, "front_overlap": 0.75, "side_overlap": 0.65, "speed_m_s": 10}
    body.update(overrides)
    return body


def _message(response) -> str:
    return response.get_json()["message"]


# ------------------------------------------------------------------ roles and CSRF
@pytest.mark.parametrize("user, status", [("operator", 200), ("admin", 200),
                                          ("supervisor", 403), ("officer", 403)])
def test_planning_page_is_for_operators_and_admins(client, auth, world, user, status):
    auth.login(user)
    page = client.get("/planning")
    assert page.status_code == status
    nav = client.get("/").get_data(as_text=True)
    assert ('href="/planning"' in nav) == (status == 200)
    preview = client.post("/api/planning/preview", json={})
    assert preview.status_code == (400 if status == 200 else 403)
    upload = client.post("/api/planning/upload", data={}, content_type="multipart/form-data")
    assert upload.status_code == (400 if status == 200 else 403)


def test_planning_endpoints_need_login(client, world):
    assert client.get("/planning").status_code == 302
    response = client.post("/api/planning/preview", json={})
    assert response.status_code == 401 and response.get_json()["message"] == "login required"


def test_page_lists_cameras_stored_areas_and_routes(client, auth, world):
    auth.login("operator")
    page = client.get("/planning").get_data(as_text=True)
    for key, cam in CAMERAS.items():
        assert f'<option value="{key}">{cam.name}</option>' in page
    assert "test old town (generated) (area)" in page
    assert f'href="/planning/routes/{world.route_id}"' in page
    config = json.loads(re.search(r"data-config='([^']*)'", page).group(1))
    assert config["previewUrl"] == "/api/planning/preview"
    assert 'name="endurance_min"' in page
    assert '<option value="waypoint">' in page and 'name="photo_mode"' in page


def test_json_endpoints_need_the_csrf_token(settings, engine, world, demo):
    app = create_app(settings, config={"TESTING": True, "WTF_CSRF_ENABLED": True})
    try:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        client.post("/login", data={"username": "operator", "password": "operator-demo",
                                    "csrf_token": token})
        planning_page = client.get("/planning").get_data(as_text=True)
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', planning_page).group(1)
        body = _survey_request(demo["area"])
        refused = client.post("/api/planning/preview", json=body)
        assert refused.status_code == 400
        assert "CSRF" in _message(refused)
        accepted = client.post("/api/planning/preview", json=body, headers={"X-CSRFToken": token})
        assert accepted.status_code == 200
        assert client.post("/api/planning/save", json=body).status_code == 400
        upload = client.post("/api/planning/upload", content_type="multipart/form-data",
                             data={"file": (io.BytesIO(DEMO_AREAS.read_bytes()), "demo.geojson")})
        assert upload.status_code == 400 and "CSRF" in _message(upload)
    finally:
        app.extensions["drone_patrol"].engine.dispose()


# ------------------------------------------------------------------ preview
def test_preview_of_the_demo_survey(client, auth, world, demo):
    auth.login("operator")
    area = demo["area"]
    response = client.post("/api/planning/preview", json=_survey_request(area))
    assert response.status_code == 200
    data = response.get_json()
    stats = data["stats"]
    assert data["problems"] == []
    assert stats["coverage_fraction"] >= 0.995
    # 13.2 mm * 80 m / (8.8 mm * 5472 px)
    assert stats["gsd_cm_px"] == pytest.approx(2.19, abs=0.01)
    assert stats["sorties"] == 1 and stats["photo_count"] > 0 and stats["turns"] > 0
    roles = [f["properties"]["role"] for f in data["route"]["features"]]
    assert roles.count("path") == 1 and roles.count("home") == 1 and roles.count("coverage") == 1
    same = plan_survey(area, CAMERAS["dji-phantom4pro"], alt_rel_m=80,
                       home=area.geometry.exterior.coords[0])  # what the page asked for
    assert stats["path_length_m"] == same.stats["path_length_m"]
    assert roles.count("pass") == len(same.passes_wgs84)
    assert roles.count("no_fly") == len(area.holes) == 1
    path = next(f for f in data["route"]["features"] if f["properties"]["role"] == "path")
    coords = path["geometry"]["coordinates"]
    # home defaults to the area's first vertex; the path never enters the no-fly hole
    assert coords[0] == pytest.approx(list(area.geometry.exterior.coords[0]))
    assert not LineString(coords).crosses(area.holes[0])
    assert not LineString(coords).within(area.holes[0])
    photos = next(f for f in data["route"]["features"] if f["properties"]["role"] == "photos")
    assert len(photos["geometry"]["coordinates"]) == stats["photo_count"]
    footprints = roles.count("footprint")
    assert footprints == (stats["photo_count"] if stats["photo_count"] <= 300 else 0)
    coverage = next(f for f in data["route"]["features"] if f["properties"]["role"] == "coverage")
    target = area.geometry
    covered = shape(coverage["geometry"]).intersection(target).area / target.area
    assert covered > 0.99


def test_preview_with_a_no_fly_zone_home_and_gsd(client, auth, world, demo):
    auth.login("operator")
    area = demo["area"]
    minx, miny, maxx, maxy = area.geometry.bounds
    # a generated zone across the area's east side, partly outside it
    zone = Polygon([(maxx - 0.0012, miny + 0.001), (maxx + 0.001, miny + 0.001),
                    (maxx + 0.001, miny + 0.0022), (maxx - 0.0012, miny + 0.0022)])
    home = [minx + 0.0004, miny + 0.0006]
    body = _survey_request(area, alt_rel_m=None, gsd_cm_px=1.5, no_fly=[zone.__geo_interface__],
                           home=home, turnaround_m=10, sweep_angle_deg=30)
    data = client.post("/api/planning/preview", json=body).get_json()
    assert data["problems"] == []
    assert data["stats"]["gsd_cm_px"] == pytest.approx(1.5, abs=1e-3)
    assert data["stats"]["sweep_angles_deg"] == [30.0]
    features = data["route"]["features"]
    assert sum(f["properties"]["role"] == "no_fly" for f in features) == 2  # hole + zone
    path = LineString(next(f for f in features if f["properties"]["role"] == "path")
                      ["geometry"]["coordinates"])
    assert path.coords[0] == pytest.approx(home)
    assert not path.intersects(zone.buffer(-1e-6))


def test_preview_corridor_and_orbit(client, auth, world, demo):
    auth.login("operator")
    corridor = demo["corridor"]
    data = client.post("/api/planning/preview", json={
        "pattern": "corridor", "area": corridor.geojson(), "width_m": corridor.width_m,
        "camera": "dji-phantom4pro", "alt_rel_m": 80}).get_json()
    assert data["pattern"] == "corridor" and data["stats"]["coverage_fraction"] >= 0.99
    hotspot = demo["hotspot"]
    data = client.post("/api/planning/preview", json={
        "pattern": "orbit", "area": hotspot.geojson(), "radius_m": hotspot.radius_m,
        "alt_rel_m": 50, "photos_per_turn": 8, "orbit_turns": 2, "camera": ""}).get_json()
    assert data["stats"]["photo_count"] == 16 and data["stats"]["orbit_turns"] == 2


def test_custom_camera_and_no_camera(client, auth, world, demo):
    auth.login("operator")
    area = demo["area"]
    custom = {"sensor_width_mm": 13.2, "sensor_height_mm": 8.8, "focal_length_mm": 8.8,
              "image_width_px": 5472, "image_height_px": 3648}
    same = client.post("/api/planning/preview", json=_survey_request(
        area, camera="custom", custom_camera=custom)).get_json()["stats"]
    catalogue = client.post("/api/planning/preview", json=_survey_request(area)).get_json()["stats"]
    assert same["path_length_m"] == catalogue["path_length_m"]
    bare = client.post("/api/planning/preview", json=_survey_request(
        area, camera="", line_spacing_m=40)).get_json()["stats"]
    assert bare["line_spacing_m"] == 40 and "gsd_cm_px" not in bare and bare["photo_count"] == 0


def test_ceiling_problem_is_reported_and_blocks_saving(client, auth, world, demo, session):
    auth.login("operator")
    body = _survey_request(demo["area"], alt_rel_m=150, ceiling_alt_rel_m=120)
    data = client.post("/api/planning/preview", json=body).get_json()
    assert data["problems"] and all("exceeds the ceiling of 120.0 m" in p for p in data["problems"])
    saved = client.post("/api/planning/save", json={**body, "name": "too high", "area_name": "x"})
    assert saved.status_code == 409
    assert saved.get_json()["problems"] == data["problems"]
    assert session.scalar(sa.select(Route).where(Route.name == "too high")) is None


@pytest.mark.parametrize("change, message", [
    ({"pattern": "spiral"}, "field 'pattern' is 'spiral'; expected one of survey, corridor, orbit"),
    ({"area": None}, "field 'area' is missing"),
    ({"area": {"type": "Polygon", "coordinates": [[[121.017, 30.699], [121.023, 30.704],
                                                    [121.023, 30.699], [121.017, 30.704],
                                                    [121.017, 30.699]]]}},
     "field 'area' ('drawn'): invalid Polygon: Self-intersection"),
    ({"area": {"type": "Polygon", "coordinates": [[[500000, 3400000], [500100, 3400000],
                                                    [500100, 3400100], [500000, 3400000]]]}},
     "is not WGS84 lon/lat degrees"),
    ({"area": {"type": "LineString", "coordinates": [[121.0, 30.7], [121.01, 30.7]]}},
     "field 'area': a survey needs a Polygon or MultiPolygon, got a LineString"),
    ({"no_fly": [{"type": "Point", "coordinates": [121.02, 30.7]}]},
     "field 'no_fly[0]'"),
    ({"speed_m_s": "fast"}, "field 'speed_m_s' must be a number, got 'fast'"),
    ({"side_overlap": 65}, "field 'side_overlap' must be <= 0.99, got 65"),
    ({"camera": "gopro"}, "field 'camera' is 'gopro'"),
    ({"camera": "custom", "custom_camera": {"sensor_width_mm": 13.2}},
     "field 'custom_camera.sensor_height_mm' is missing"),
    ({"gsd_cm_px": 2.0}, "give exactly one of 'alt_rel_m' (m) or 'gsd_cm_px' (cm/px)"),
    ({"home": [121.02]}, "field 'home' must be [lon, lat] in degrees"),
    ({"home": [121.0202, 30.7015]}, "home (121.020200, 30.701500) lies in or within"),
    ({"crs": "bd09"}, "field 'crs' is 'bd09'"),
    ({"photo_mode": "burst"}, "field 'photo_mode' is 'burst'; expected one of distance, waypoint"),
])
def test_bad_requests_are_400_with_the_problem(client, auth, world, demo, change, message):
    auth.login("operator")
    body = _survey_request(demo["area"], area_name="drawn")
    body.update(change)
    response = client.post("/api/planning/preview", json=body)
    assert response.status_code == 400, response.get_json()
    assert message in _message(response)


def test_body_must_be_json(client, auth, world):
    auth.login("operator")
    response = client.post("/api/planning/preview", data="area=1",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert _message(response).startswith("the request body must be a JSON object")


def test_endurance_splits_and_saves_battery_sorties(client, auth, world, demo, session):
    auth.login("operator")
    body = _survey_request(demo["area"], endurance_min=8)
    data = client.post("/api/planning/preview", json=body).get_json()
    count = data["stats"]["sorties"]
    assert count > 1 and len(data["sorties"]) == count and data["problems"] == []
    assert all(r["est_flight_time_s"] <= 0.8 * 8 * 60 for r in data["sorties"])  # 20 % reserve
    assert sum(r["photo_count"] for r in data["sorties"]) >= data["stats"]["photo_count"]
    drawn = [f for f in data["route"]["features"] if f["properties"]["role"] == "sortie"]
    assert len(drawn) == count
    saved = client.post("/api/planning/save", json={**body, "name": "split survey",
                                                   "area_name": "split area"})
    assert saved.status_code == 201, saved.get_json()
    route = session.get(Route, saved.get_json()["route_id"])
    assert [r.sortie_index for r in route.sorties] == list(range(1, count + 1))
    page = client.get(f"/planning/routes/{route.id}").get_data(as_text=True)
    assert page.count(f"of {count}</a>") == count
    listed = client.get("/planning").get_data(as_text=True)
    assert "split survey</a>" in listed and "split survey sortie 1" not in listed


@pytest.mark.parametrize("pattern", ["survey", "corridor"])
def test_photo_mode_sets_how_the_saved_mission_takes_photos(client, auth, world, demo, session,
                                                            settings, pattern):
    auth.login("operator")
    target = demo["area" if pattern == "survey" else "corridor"]
    commands = {}
    for mode in ("distance", "waypoint"):
        body = {"pattern": pattern, "area": target.geojson(), "camera": "dji-phantom4pro",
                "alt_rel_m": 80, "width_m": target.width_m, "photo_mode": mode,
                "name": f"{pattern} photos by {mode}", "area_name": f"{pattern} photo modes"}
        saved = client.post("/api/planning/save", json=body)
        assert saved.status_code == 201, saved.get_json()
        route = session.get(Route, saved.get_json()["route_id"])
        items = read_plan(settings.data_dir / route.plan_path).items
        commands[mode] = ([it.command for it in items], route.stats["photo_count"])
    by_distance, photos = commands["distance"]
    assert mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST in by_distance
    assert mavlink.MAV_CMD_IMAGE_START_CAPTURE not in by_distance
    at_waypoints, photos_too = commands["waypoint"]
    assert at_waypoints.count(mavlink.MAV_CMD_IMAGE_START_CAPTURE) == photos_too > 0
    assert mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST not in at_waypoints


def test_gcj02_requests_are_planned_in_wgs84_and_answered_in_gcj02(client, auth, world, demo):
    from patrol.geodesy import wgs84_to_gcj02
    from shapely import transform

    auth.login("operator")
    area = demo["area"]
    shifted = transform(area.geometry, lambda xy: [wgs84_to_gcj02(*p) for p in xy])
    wgs = client.post("/api/planning/preview", json=_survey_request(area)).get_json()
    gcj = client.post("/api/planning/preview", json={
        **_survey_request(area), "area": shifted.__geo_interface__, "crs": "gcj02"}).get_json()
    assert gcj["stats"]["path_length_m"] == pytest.approx(wgs["stats"]["path_length_m"], rel=1e-3)
    home_wgs = next(f for f in wgs["route"]["features"] if f["properties"]["role"] == "home")
    home_gcj = next(f for f in gcj["route"]["features"] if f["properties"]["role"] == "home")
    assert home_gcj["geometry"]["coordinates"] == pytest.approx(
        list(wgs84_to_gcj02(*home_wgs["geometry"]["coordinates"])), abs=1e-6)


# ------------------------------------------------------------------ upload
def test_upload_geojson_kml_and_kmz(client, auth, world):
    auth.login("operator")
    raw = DEMO_AREAS.read_bytes()
    data = client.post("/api/planning/upload", data={"file": (io.BytesIO(raw), "demo.geojson")},
                       content_type="multipart/form-data").get_json()
    assert [f["properties"]["kind"] for f in data["features"]] == \
        [s.kind for s in load_areas(DEMO_AREAS)]
    assert data["features"][0]["properties"]["holes"] == 1
    assert data["features"][1]["properties"]["width_m"] == 60
    kml = (b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           b'<Placemark><name>block</name><Polygon><outerBoundaryIs><LinearRing><coordinates>'
           b'121.017,30.699 121.0232,30.6988 121.0236,30.702 121.017,30.699'
           b'</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>')
    data = client.post("/api/planning/upload", data={"file": (io.BytesIO(kml), "block.kml")},
                       content_type="multipart/form-data").get_json()
    assert data["features"][0]["properties"]["name"] == "block"
    kmz = io.BytesIO()
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.writestr("doc.kml", kml)
    data = client.post("/api/planning/upload",
                       data={"file": (io.BytesIO(kmz.getvalue()), "block.kmz")},
                       content_type="multipart/form-data").get_json()
    assert data["features"][0]["geometry"]["type"] == "Polygon"


@pytest.mark.parametrize("name, content, message", [
    ("bad.geojson", b'{"type": "FeatureCollection", "features": [',
     "bad.geojson: not valid GeoJSON"),
    ("empty.geojson", b'{"type": "FeatureCollection", "features": []}',
     "empty.geojson: no features found"),
    ("river.geojson", json.dumps({
        "type": "Feature", "properties": {"kind": "corridor"},
        "geometry": {"type": "LineString", "coordinates": [[121, 30.7], [121.01, 30.7]]}}).encode(),
     "river.geojson: feature 0 ('river #0'): a corridor needs 'properties.width_m' > 0"),
    ("area.shp", b"\x00\x00\x27\x0a", "area.shp: unsupported file type '.shp'"),
    ("zip.kmz", b"PK\x03\x04 not a zip", "zip.kmz: not a valid KMZ (zip) file"),
    ("zero.kml", b"", "zero.kml: the file is empty"),
])
def test_upload_errors_name_the_file(client, auth, world, name, content, message):
    auth.login("operator")
    response = client.post("/api/planning/upload", data={"file": (io.BytesIO(content), name)},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in _message(response)
    assert "patrol-upload-" not in _message(response), "the temporary copy stays private"


def test_upload_without_a_file(client, auth, world):
    auth.login("operator")
    response = client.post("/api/planning/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "field 'file' is missing" in _message(response)


# ------------------------------------------------------------------ save and route pages
def test_save_creates_area_route_and_mission_files(client, auth, world, demo, session, settings):
    auth.login("operator")
    zone = Polygon([(121.0225, 30.6995), (121.0245, 30.6995), (121.0245, 30.7005),
                    (121.0225, 30.7005)])  # generated
    body = _survey_request(demo["area"], no_fly=[zone.__geo_interface__],
                           name="old town survey 80 m", area_name="old town drawn",
                           site="Pinghu", source="uploaded demo_areas.geojson")
    response = client.post("/api/planning/save", json=body)
    assert response.status_code == 201, response.get_json()
    saved = response.get_json()
    route = session.get(Route, saved["route_id"])
    assert route.name == "old town survey 80 m" and route.pattern == "survey"
    assert saved["url"] == f"/planning/routes/{route.id}" == response.headers["Location"]
    area = session.get(PatrolArea, saved["area_id"])
    assert (area.name, area.site, area.kind) == ("old town drawn", "Pinghu", "area")
    assert area.properties["source"] == "uploaded demo_areas.geojson"
    assert shape(area.properties["no_fly_zones"][0]).equals(zone)
    assert route.params["ceiling_alt_rel_m"] == 120.0
    assert route.stats["path_length_m"] > 0 and route.items
    plan_file = settings.data_dir / route.plan_path
    mission = read_plan(plan_file)
    assert len(mission.items) == len(route.items)
    assert sum(not inclusion for _, inclusion in mission.geofence_polygons) == 2  # hole + zone

    page = client.get(saved["url"]).get_data(as_text=True)
    assert "old town survey 80 m" in page and f'/planning/routes/{route.id}.plan' in page
    with client.get(saved["plan_url"]) as download:
        assert download.status_code == 200
        assert "attachment" in download.headers["Content-Disposition"]
        assert json.loads(download.data)["fileType"] == "Plan"

    again = client.post("/api/planning/save", json=body)
    assert again.status_code == 409 and "already exists" in _message(again)
    moved = client.post("/api/planning/save", json={
        **body, "name": "another", "area": Polygon([(121.017, 30.699), (121.022, 30.699),
                                                    (121.022, 30.703)]).__geo_interface__})
    assert moved.status_code == 409
    assert "a patrol area named 'old town drawn' already exists with another geometry" \
        in _message(moved)
    reused = client.post("/api/planning/save", json={**body, "name": "old town again"})
    assert reused.status_code == 201 and reused.get_json()["area_id"] == area.id


def test_save_needs_names(client, auth, world, demo):
    auth.login("operator")
    response = client.post("/api/planning/save", json=_survey_request(demo["area"], name=" "))
    assert response.status_code == 400 and _message(response) == "field 'name' is missing"


def test_stored_area_endpoint_and_route_page_for_other_roles(client, auth, world):
    auth.login("operator")
    feature = client.get(f"/api/planning/areas/{world.area_id}").get_json()
    assert feature["properties"]["name"] == "test old town (generated)"
    assert feature["properties"]["no_fly_zones"] == []
    assert len(feature["geometry"]["coordinates"]) == 2  # outer ring and the hole
    assert client.get("/api/planning/areas/999999").status_code == 404
    auth.logout()
    auth.login("supervisor")
    assert client.get(f"/planning/routes/{world.route_id}").status_code == 200
    assert client.get(f"/api/planning/areas/{world.area_id}").status_code == 403
    assert client.get("/planning/routes/999999").status_code == 404
    assert client.get(f"/planning/routes/{world.route_id}.plan").status_code == 404  # no file


# ------------------------------------------------------------------ in headless Chromium
PLANNER_READY = "return !!(window.patrolPlanner && window.patrolPlanner.ready)"
PREVIEWS = """
    var s = window.patrolPlanner;
    return s.busy || s.pending ? -1 : s.previews;
"""
PIXEL_OFFSET = """
    var m = window.patrolPlanner.map, p = m.latLngToContainerPoint([arguments[1], arguments[0]]),
        size = m.getSize();
    return [Math.round(p.x - size.x / 2), Math.round(p.y - size.y / 2)];
"""


@pytest.mark.browser
def test_operator_uploads_previews_draws_a_zone_and_saves_in_chromium(
        live_server, driver, world, demo, session, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(driver, 20)
    driver.get(f"{live_server}/planning")
    wait.until(lambda d: d.find_elements(By.NAME, "username"))
    driver.find_element(By.NAME, "username").send_keys("operator")
    driver.find_element(By.NAME, "password").send_keys("operator-demo")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.execute_script(PLANNER_READY))
    assert driver.find_element(By.CSS_SELECTOR, ".nav a.active").text == "Planning"

    # upload the demo areas: the first (the old-town block) is loaded and previewed
    driver.find_element(By.ID, "upload-file").send_keys(str(DEMO_AREAS))
    wait.until(lambda d: d.execute_script(PREVIEWS) >= 1)
    assert driver.find_element(By.ID, "plan-error").get_attribute("hidden") is not None
    stats = driver.execute_script("return window.patrolPlanner.stats")
    assert stats["coverage_fraction"] >= 0.995 and stats["photo_count"] > 0
    shown = {row.get_attribute("data-stat"): row.text
             for row in driver.find_elements(By.CSS_SELECTOR, "#stats-body tr")}
    assert shown["path_length_m"] == f"Path length {stats['path_length_m'] / 1000:.2f} km"
    assert shown["coverage_fraction"] == f"Coverage {stats['coverage_fraction'] * 100:.2f} %"
    assert {"est_flight_time_s", "photo_count", "gsd_cm_px", "turns", "sorties",
            "planning_ms"} <= set(shown)
    counts = driver.execute_script("return window.patrolPlanner.counts")
    assert counts["path"] == 1 and counts["pass"] > 0 and counts["no_fly"] == 1
    assert "Pinghu old town block" in driver.find_element(By.ID, "area-summary").text
    driver.save_screenshot(str(tmp_path / "planning-preview.png"))
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []

    # a bad figure: the preview is refused with the field named
    speed = driver.find_element(By.NAME, "speed_m_s")
    speed.clear()
    speed.send_keys("-3")
    error = wait.until(lambda d: d.find_element(By.ID, "plan-error").text)
    assert error == "field 'speed_m_s' must be > 0, got -3"
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert len(severe) == 1 and "/api/planning/preview" in severe[0] and "400" in severe[0]
    speed.clear()
    speed.send_keys("10")
    wait.until(lambda d: d.execute_script(PREVIEWS) >= 0
               and d.execute_script("return window.patrolPlanner.stats !== null"))
    assert not driver.find_element(By.ID, "plan-error").text

    # draw a no-fly zone (generated square at the block's east edge) with the drawing tool
    done = driver.execute_script("return window.patrolPlanner.previews")
    minx, miny, maxx, maxy = demo["area"].geometry.bounds
    corners = [(maxx - 0.0016, miny + 0.0012), (maxx - 0.0008, miny + 0.0012),
               (maxx - 0.0008, miny + 0.0022), (maxx - 0.0016, miny + 0.0022)]
    map_el = driver.find_element(By.ID, "plan-map")
    driver.find_element(By.ID, "draw-nofly").click()
    for lon, lat in corners + corners[:1]:
        dx, dy = driver.execute_script(PIXEL_OFFSET, lon, lat)
        ActionChains(driver).move_to_element_with_offset(map_el, dx, dy).click().perform()
    wait.until(lambda d: d.execute_script(PREVIEWS) > done)
    counts = driver.execute_script("return window.patrolPlanner.counts")
    assert counts["no_fly"] == 2
    driver.save_screenshot(str(tmp_path / "planning-zone.png"))
    assert driver.execute_script("return window.patrolPlanner.problems") == []

    # photos at each waypoint instead of by trigger distance
    done = driver.execute_script("return window.patrolPlanner.previews")
    Select(driver.find_element(By.NAME, "photo_mode")).select_by_value("waypoint")
    wait.until(lambda d: d.execute_script(PREVIEWS) > done)

    # save, open the route, its map and its .plan
    name = driver.find_element(By.ID, "route-name")
    name.clear()
    name.send_keys("browser survey")
    driver.find_element(By.ID, "save-btn").click()
    link = wait.until(lambda d: d.find_elements(By.ID, "saved-route-link"))[0]
    saved = driver.execute_script("return window.patrolPlanner.saved")
    route = session.get(Route, saved["route_id"])
    assert route.name == "browser survey" and route.area.name == "Pinghu old town block"
    assert route.params["photo_mode"] == "waypoint"
    zone = shape(route.params["no_fly_zones"][0])
    assert zone.bounds == pytest.approx((corners[0][0], corners[0][1], *corners[2]), abs=2e-5)
    link.click()
    wait.until(lambda d: d.find_element(By.ID, "route-map").get_attribute("data-ready") == "true")
    assert driver.find_elements(By.CSS_SELECTOR, "#route-map .leaflet-overlay-pane path")
    assert driver.find_element(By.ID, "plan-download").get_attribute("href").endswith(
        f"/planning/routes/{route.id}.plan")
    driver.save_screenshot(str(tmp_path / "planning-route.png"))
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
