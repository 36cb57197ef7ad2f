"""The console's pages and endpoints: findings queue, case pages, flights, files, map layers,
dashboard, errors (the case workflow end to end: test_cases_views.py)."""

from __future__ import annotations

import os
import re

import pytest
import sqlalchemy as sa

from patrol.geodesy import distance_m
from vision.models import Finding
from web import create_app, error_response
from web.models import AuditEvent, Case


def _text(response) -> str:
    return response.get_data(as_text=True)


# ------------------------------------------------------------------ findings queue
def test_findings_queue_lists_new_findings_with_evidence(client, auth, world, session):
    auth.login("supervisor")
    page = _text(client.get("/findings"))
    rows = re.findall(r'<tr id="finding-(\d+)"', page)
    new = session.scalars(sa.select(Finding).where(Finding.status == "new")
                          .order_by(Finding.score.desc())).all()
    assert [int(r) for r in rows] == [f.id for f in new]
    assert f'src="/files/{world.evidence_path}"' in page
    duluth = session.get(Finding, world.findings["duluth"])
    assert f"{duluth.lat_deg:.6f}, {duluth.lon_deg:.6f}" in page
    assert f"score {duluth.score:.2f}" in page and "2×" in page
    assert page.count('class="inline confirm-form"') == len(new)
    assert page.count('class="inline reject-form"') == len(new)


def test_findings_queue_paginates(settings, engine, world):
    app = create_app(settings, config={"TESTING": True, "WTF_CSRF_ENABLED": False, "PER_PAGE": 3})
    try:
        client = app.test_client()
        client.post("/login", data={"username": "admin", "password": "admin-demo"})
        first = re.findall(r'<tr id="finding-(\d+)"', _text(client.get("/findings?page=1")))
        second = re.findall(r'<tr id="finding-(\d+)"', _text(client.get("/findings?page=2")))
        beyond = re.findall(r'<tr id="finding-(\d+)"', _text(client.get("/findings?page=9")))
    finally:
        app.extensions["drone_patrol"].engine.dispose()
    assert len(first) == 3 and len(second) == len(world.findings) - 3
    assert not set(first) & set(second)
    assert beyond == second, "pages past the end show the last page"


def test_findings_queue_filters(client, auth, world):
    auth.login("supervisor")
    page = _text(client.get("/findings?category=open_burning"))
    assert re.findall(r'<tr id="finding-(\d+)"', page) == [str(world.findings["outside"])]
    assert client.get("/findings?status=bogus").status_code == 400


def test_reject_from_the_queue(client, auth, world, session):
    auth.login("supervisor")
    fid = world.findings["zhongdai"]
    response = client.post(f"/findings/{fid}/reject", data={"note": "a parked truck"})
    assert response.status_code == 303
    assert "Finding %d rejected" % fid in _text(client.get(response.location))
    assert session.get(Finding, fid).status == "rejected"
    entry = session.scalars(sa.select(AuditEvent).where(AuditEvent.target_id == fid)).one()
    assert (entry.action, entry.note) == ("finding.reject", "a parked truck")
    again = client.post(f"/findings/{fid}/reject", data={})
    assert "already rejected" in _text(client.get(again.location))


def test_confirm_with_a_bad_category_is_400(client, auth, world, session):
    auth.login("supervisor")
    fid = world.findings["danghu"]
    assert client.post(f"/findings/{fid}/confirm", data={"category": "graffiti"}).status_code == 400
    assert client.post("/findings/999999/confirm", data={"category": "other"}).status_code == 404
    assert session.get(Finding, fid).status == "new"


# ------------------------------------------------------------------ finding -> case
# (the whole workflow through the console: tests/web/test_cases_views.py)
def test_case_page_shows_evidence_and_location(client, auth, world, session):
    auth.login("supervisor")
    client.post(f"/findings/{world.findings['duluth']}/confirm", data={"category": "exposed_garbage"})
    case = session.scalars(sa.select(Case)).one()
    page = _text(client.get(f"/cases/{case.id}"))
    assert f"/files/{world.evidence_path}" in page
    assert "/files/raw/photo/test/dji_0018.jpg" in page, "the photo the finding was seen in"
    assert 'id="case-map"' in page and "Duluth parks squad" in page
    assert client.get("/cases/999999").status_code == 404


def test_cases_list_filters(client, auth, world, session):
    auth.login("supervisor")
    for key in ("danghu", "zhongdai"):
        client.post(f"/findings/{world.findings[key]}/confirm", data={"category": "exposed_garbage"})
    codes = dict(session.execute(sa.select(Case.squad_id, Case.code)).all())
    listed = re.findall(r'<a href="/cases/\d+">(C-[\d-]+)</a>',
                        _text(client.get(f"/cases?squad={world.squads['zhongdai']}")))
    assert listed == [codes[world.squads["zhongdai"]]]
    assert _text(client.get("/cases?status=closed")).count('class="case-row') == 0
    assert _text(client.get("/cases")).count('class="case-row') == 2
    assert client.get("/cases?status=nope").status_code == 400


# ------------------------------------------------------------------ flights
def test_flights_list_and_page(client, auth, world):
    auth.login("operator")
    page = _text(client.get("/flights"))
    assert "test copter" in page and "2:44" in page and "1.95 km" in page and "40.2 m" in page
    page = _text(client.get(f"/flights/{world.flight_id}"))
    assert "Arming motors" in page and "test survey (generated)" in page
    assert f'/api/tracks.geojson?flight={world.flight_id}' in page
    assert client.get("/flights/999999").status_code == 404


# ------------------------------------------------------------------ files
def test_files_serves_evidence(client, auth, world, settings):
    auth.login("supervisor")
    response = client.get(f"/files/{world.evidence_path}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data == (settings.data_dir / world.evidence_path).read_bytes()
    response.close()


@pytest.mark.parametrize("path", [
    "../patrol.sqlite3", "..%2Fsecret_key", "%2e%2e/%2e%2e/etc/passwd", "evidence/../../x.png",
    "/etc/passwd", "secret_key", "patrol.sqlite3", "evidence/missing.png", "..\\secret_key"])
def test_files_refuses_escapes_and_private_files(client, auth, world, path):
    auth.login("admin")
    assert client.get(f"/files/{path}", follow_redirects=True).status_code == 404


def test_files_refuses_symlinks_out_of_the_root(client, auth, world, settings, tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"\x89PNG not for you")
    os.symlink(outside, settings.data_dir / "evidence" / "link.png")
    auth.login("admin")
    assert client.get("/files/evidence/link.png").status_code == 404


# ------------------------------------------------------------------ map layers
def _layer(client, name, query=""):
    response = client.get(f"/api/{name}.geojson{query}")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    data = response.get_json()
    assert data["type"] == "FeatureCollection"
    return data["features"]


def test_geojson_layers(client, auth, world):
    auth.login("operator")
    [area] = _layer(client, "areas")
    assert area["geometry"]["type"] == "Polygon" and len(area["geometry"]["coordinates"]) == 2
    assert area["properties"]["site"] == "Pinghu"
    assert len(_layer(client, "squads")) == 5
    assert {f["properties"]["site"] for f in _layer(client, "squads", "?site=Pinghu")} == {"Pinghu"}
    [route] = _layer(client, "routes")
    assert route["geometry"]["type"] == "LineString" and route["properties"]["pattern"] == "survey"
    [track] = _layer(client, "tracks")
    assert track["properties"]["id"] == world.flight_id
    assert len(track["geometry"]["coordinates"]) == 6
    [photo] = _layer(client, "photos")
    assert photo["geometry"]["type"] == "Polygon" and photo["properties"]["name"] == "DJI_0018.JPG"
    findings = _layer(client, "findings")
    assert sorted(f["properties"]["id"] for f in findings) == sorted(world.findings.values())
    assert {f["properties"]["status"] for f in findings} == {"new"}


def test_geojson_filters(client, auth, world, session):
    auth.login("supervisor")
    duluth = session.get(Finding, world.findings["duluth"])
    bbox = f"?bbox={duluth.lon_deg - 0.01},{duluth.lat_deg - 0.01},{duluth.lon_deg + 0.01},{duluth.lat_deg + 0.01}"
    assert [f["properties"]["id"] for f in _layer(client, "findings", bbox)] == [duluth.id]
    assert _layer(client, "tracks", "?flight=999") == []
    assert _layer(client, "routes", f"?id={world.route_id}")[0]["properties"]["id"] == world.route_id
    client.post(f"/findings/{world.findings['danghu']}/confirm", data={"category": "exposed_garbage"})
    [confirmed] = _layer(client, "findings", "?status=confirmed")
    assert confirmed["properties"]["case_code"].startswith("C-")
    for bad in ("?bbox=1,2,3", "?crs=epsg3857", "?id=x"):
        response = client.get(f"/api/findings.geojson{bad}")
        assert response.status_code == 400 and response.get_json()["error"] == "Bad Request"


def test_geojson_shifts_to_gcj02_in_china_only(client, auth, world):
    auth.login("operator")
    plain = {f["properties"]["id"]: f["geometry"]["coordinates"] for f in _layer(client, "findings")}
    shifted = {f["properties"]["id"]: f["geometry"]["coordinates"]
               for f in _layer(client, "findings", "?crs=gcj02")}
    offset_m = distance_m(*plain[world.findings["danghu"]], *shifted[world.findings["danghu"]])
    assert 100 < offset_m < 1000, "GCJ-02 is offset by hundreds of metres in Pinghu"
    assert plain[world.findings["duluth"]] == shifted[world.findings["duluth"]]


def test_map_page_wires_the_layers(client, auth, world):
    auth.login("officer")
    page = _text(client.get("/map"))
    for layer in ("areas", "squads", "routes", "tracks", "photos", "findings"):
        assert f"/api/{layer}.geojson" in page
    assert "/static/vendor/leaflet/leaflet.js" in page
    resources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert resources and all(r.startswith(("/", "#", "data:")) for r in resources), \
        "no external resources"
    assert '<option value="Pinghu" selected>' in page, "opens on the site with patrol areas"
    assert '<option value="Duluth">' in page
    assert '<option value="Duluth" selected>' in _text(client.get("/map?site=Duluth"))


def test_map_page_adds_the_basemap_when_set(settings, engine, world):
    from dataclasses import replace

    with_basemap = replace(settings, basemap_url="https://tiles.example/{z}/{x}/{y}.png",
                           basemap_crs="gcj02")
    app = create_app(with_basemap, config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    try:
        client = app.test_client()
        client.post("/login", data={"username": "admin", "password": "admin-demo"})
        page = _text(client.get("/map"))
    finally:
        app.extensions["drone_patrol"].engine.dispose()
    assert 'data-basemap-url="https://tiles.example/{z}/{x}/{y}.png"' in page
    assert 'data-crs="gcj02"' in page


# ------------------------------------------------------------------ dashboard and errors
def test_dashboard_counts(client, auth, world, session):
    from flight_logs.models import Flight

    flight = session.get(Flight, world.flight_id)
    auth.login("supervisor")
    page = _text(client.get("/"))
    assert re.search(r"<b>1</b><span>patrol areas", page)
    assert (f"<b>1</b><span>flights · {flight.duration_s / 3600:.1f} h · "
            f"{flight.distance_m / 1000:.1f} km") in page
    assert re.search(rf"<b>{len(world.findings)}</b><span>findings to review", page)


def test_error_response_shape(app):
    with app.app_context():
        response = error_response(409, "case C-1 is closed")
    assert response.status_code == 409
    assert response.get_json() == {"error": "Conflict", "message": "case C-1 is closed"}


def test_unknown_pages_are_404_html_or_json(client, auth, world):
    auth.login("admin")
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    api = client.get("/api/no-such-layer.geojson")
    assert api.status_code == 404 and api.get_json()["error"] == "Not Found"


def test_queue_proposes_the_fallback_subclass_for_labels_no_subclass_takes(client, auth, world,
                                                                           session):
    from web.case_rules import case_rules

    taxonomy = case_rules(environ={}).taxonomy
    session.get(Finding, world.findings["outside"]).category = "tree_on_road"
    session.commit()
    auth.login("supervisor")
    page = _text(client.get("/findings"))
    row = page.split(f'id="finding-{world.findings["outside"]}"')[1].split("</tr>")[0]
    assert re.findall(r'<option value="([\w.-]+)" selected>', row) == [taxonomy.fallback_code]
    row = page.split(f'id="finding-{world.findings["danghu"]}"')[1].split("</tr>")[0]
    assert re.findall(r'<option value="([\w.-]+)" selected>', row) == \
        [taxonomy.for_detector("exposed_garbage").code]
