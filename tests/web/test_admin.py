"""Administration pages: users (create, role and squad, deactivate, reset password, audit),
squads and grids (drawn, uploaded, imported, checked). Admin only."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from web.models import AuditEvent, Grid, Squad, User

from .conftest import PASSWORDS


def box(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1],
                                                [x0, y0]]]}


@pytest.fixture
def admin(auth):
    auth.login("admin")
    return auth


def _user(session_factory, username):
    with session_factory() as s:
        return s.scalars(sa.select(User).where(User.username == username)).one()


def _audit(session_factory, action):
    with session_factory() as s:
        return list(s.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


@pytest.mark.parametrize("username", ["supervisor", "operator", "officer"])
@pytest.mark.parametrize("url", ["/admin/users", "/admin/users/new", "/admin/squads",
                                 "/admin/squads/new", "/admin/users/1"])
def test_admin_pages_are_for_admins_only(world, auth, client, username, url):
    auth.login(username)
    assert client.get(url).status_code == 403


def test_admin_pages_need_login(world, client):
    page = client.get("/admin/users")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_user_list_and_filters(world, admin, client):
    html = client.get("/admin/users").get_data(as_text=True)
    assert html.count('class="user-row') == len(world.users)
    officers = client.get("/admin/users?role=officer").get_data(as_text=True)
    assert "officer2" in officers and ">supervisor<" not in officers
    assert client.get("/admin/users?role=boss").status_code == 400
    assert client.get("/admin/squads").status_code == 200


def test_create_an_officer_who_can_then_log_in(world, admin, client, session_factory, auth):
    form = {"username": "wang.wei", "display_name": "王伟 (generated)", "role": "officer",
            "squad_id": str(world.squads["zhongdai"]), "password": "initial-pass-1"}
    assert client.post("/admin/users/new", data={**form, "squad_id": ""}).status_code == 400
    short = client.post("/admin/users/new", data={**form, "password": "short"})
    assert short.status_code == 400
    bad_name = client.post("/admin/users/new", data={**form, "username": "wang wei"})
    assert bad_name.status_code == 400
    taken = client.post("/admin/users/new", data={**form, "username": "officer"})
    assert taken.status_code == 400 and "exists already" in taken.get_data(as_text=True)
    done = client.post("/admin/users/new", data=form)
    assert done.status_code == 303
    user = _user(session_factory, "wang.wei")
    assert (user.role, user.squad_id, user.display_name) == \
        ("officer", world.squads["zhongdai"], "王伟 (generated)")
    assert check_password_hash(user.password_hash, "initial-pass-1")
    [entry] = _audit(session_factory, "user.create")
    assert entry.target_id == user.id and entry.user_id == world.users["admin"]
    assert "initial-pass-1" not in json.dumps(entry.data)
    auth.logout()
    assert auth.login("wang.wei", "initial-pass-1").status_code == 302
    assert client.get("/cases").status_code == 200


def test_change_role_and_squad_is_audited(world, admin, client, session_factory):
    uid = world.users["officer2"]
    page = client.get(f"/admin/users/{uid}")
    assert page.status_code == 200
    moved = client.post(f"/admin/users/{uid}", data={
        "role": "officer", "squad_id": str(world.squads["danghu"]), "display_name": "moved"})
    assert moved.status_code == 303
    promoted = client.post(f"/admin/users/{uid}", data={"role": "supervisor", "squad_id": "",
                                                         "display_name": "moved"})
    assert promoted.status_code == 303
    user = _user(session_factory, "officer2")
    assert (user.role, user.squad_id) == ("supervisor", None)
    entries = _audit(session_factory, "user.update")
    assert [e.data["after"]["role"] for e in entries] == ["officer", "supervisor"]
    assert entries[0].data["before"]["squad_id"] == world.squads["zhongdai"]
    assert entries[0].data["after"]["squad_id"] == world.squads["danghu"]
    html = client.get(f"/admin/users/{uid}").get_data(as_text=True)
    assert html.count('class="audit-row"') == 2
    nosquad = client.post(f"/admin/users/{uid}", data={"role": "officer", "squad_id": ""},
                          follow_redirects=True)
    assert "needs a squad" in nosquad.get_data(as_text=True)


def test_deactivate_and_reactivate(world, admin, client, session_factory, auth):
    uid = world.users["officer"]
    assert client.post(f"/admin/users/{uid}/active",
                       data={"active": "0", "note": "left the bureau"}).status_code == 303
    assert not _user(session_factory, "officer").active
    [entry] = _audit(session_factory, "user.deactivate")
    assert entry.note == "left the bureau"
    listed = client.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{uid}\"" not in listed
    assert f"/admin/users/{uid}\"" in client.get("/admin/users?state=inactive").get_data(as_text=True)
    auth.logout()
    assert auth.login("officer").status_code == 401
    auth.login("admin")
    client.post(f"/admin/users/{uid}/active", data={"active": "1"})
    assert _user(session_factory, "officer").active
    assert _audit(session_factory, "user.activate")


def test_an_admin_cannot_deactivate_or_demote_themself(world, admin, client, session_factory):
    me = world.users["admin"]
    page = client.post(f"/admin/users/{me}/active", data={"active": "0"}, follow_redirects=True)
    assert "cannot deactivate yourself" in page.get_data(as_text=True)
    page = client.post(f"/admin/users/{me}", data={"role": "supervisor"}, follow_redirects=True)
    assert "cannot take the admin role from yourself" in page.get_data(as_text=True)
    user = _user(session_factory, "admin")
    assert user.active and user.role == "admin"
    assert not _audit(session_factory, "user.deactivate")


def test_reset_password(world, admin, client, session_factory, auth):
    uid = world.users["supervisor"]
    differ = client.post(f"/admin/users/{uid}/password",
                         data={"password": "brand-new-pass", "confirm": "other-pass-x"},
                         follow_redirects=True)
    assert "differ" in differ.get_data(as_text=True)
    assert client.post(f"/admin/users/{uid}/password",
                       data={"password": "brand-new-pass", "confirm": "brand-new-pass"}
                       ).status_code == 303
    [entry] = _audit(session_factory, "user.password_reset")
    assert "brand-new-pass" not in json.dumps(entry.data) + entry.note
    auth.logout()
    assert auth.login("supervisor").status_code == 401
    assert auth.login("supervisor", "brand-new-pass").status_code == 302


def test_forms_need_the_csrf_token(world, settings, engine):
    from web import create_app

    app = create_app(settings, config={"TESTING": True})
    try:
        client = app.test_client()
        login = client.get("/login").get_data(as_text=True)
        token = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0] \
            if 'name="csrf_token" type="hidden" value="' in login \
            else login.split('name="csrf_token" value="')[1].split('"')[0]
        logged_in = client.post("/login", data={"username": "admin",
                                                "password": PASSWORDS["admin"],
                                                "csrf_token": token})
        assert logged_in.status_code == 302
        assert client.get("/admin/users").status_code == 200
        no_token = client.post("/admin/users/new", data={
            "username": "x1", "role": "operator", "password": "long-enough-1"})
        assert no_token.status_code == 400
        no_token = client.post(f"/admin/users/{world.users['officer']}/active",
                               data={"active": "0"}, follow_redirects=True)
        with app.app_context():
            from web.database import get_session
            assert get_session().get(User, world.users["officer"]).active
    finally:
        app.extensions["drone_patrol"].engine.dispose()


# ------------------------------------------------------------------ squads and grids

def test_create_a_squad_drawn_on_the_map(world, admin, client, session_factory):
    assert client.get("/admin/squads/new").status_code == 200
    form = {"name": "新仓中队 Xincang squad (generated)", "site": "Pinghu",
            "geometry": json.dumps(box(121.04, 30.69, 121.06, 30.71)), "crs": "wgs84"}
    assert client.post("/admin/squads/new", data={**form, "geometry": ""}).status_code == 400
    done = client.post("/admin/squads/new", data=form)
    assert done.status_code == 303
    with session_factory() as s:
        squad = s.scalars(sa.select(Squad).where(Squad.name == form["name"])).one()
        assert squad.jurisdiction == box(121.04, 30.69, 121.06, 30.71)
    assert _audit(session_factory, "squad.create")
    assert form["name"] in client.get("/admin/squads").get_data(as_text=True)
    assert client.get(f"/admin/squads/{squad.id}").status_code == 200


def test_upload_a_kml_jurisdiction(world, admin, client, session_factory):
    kml = ("<?xml version='1.0'?><kml xmlns='http://www.opengis.net/kml/2.2'><Placemark>"
           "<Polygon><outerBoundaryIs><LinearRing><coordinates>121.04,30.69 121.06,30.69 "
           "121.06,30.71 121.04,30.71 121.04,30.69</coordinates></LinearRing></outerBoundaryIs>"
           "</Polygon></Placemark></kml>")
    sid = world.squads["danghu"]
    with session_factory() as s:
        name = s.get(Squad, sid).name
    page = client.post(f"/admin/squads/{sid}", data={
        "name": name, "site": "Pinghu", "geometry": "", "crs": "wgs84",
        "zone_file": (io.BytesIO(kml.encode()), "danghu.kml")},
        content_type="multipart/form-data")
    assert page.status_code == 303
    with session_factory() as s:
        assert s.get(Squad, sid).jurisdiction == box(121.04, 30.69, 121.06, 30.71)
    bad = client.post(f"/admin/squads/{sid}", data={
        "name": name, "site": "Pinghu", "zone_file": (io.BytesIO(b"<kml"), "bad.kml")},
        content_type="multipart/form-data")
    assert bad.status_code == 400 and "bad.kml" in bad.get_data(as_text=True)


def test_grids_inside_the_jurisdiction_only(world, admin, client, session_factory):
    sid = world.squads["danghu"]
    assert client.get(f"/admin/squads/{sid}/grids/new").status_code == 200
    form = {"code": "330482-001-001", "name": "城南网格 (generated)", "squad_id": str(sid),
            "geometry": json.dumps(box(121.01, 30.695, 121.012, 30.697)), "crs": "wgs84"}
    outside = client.post(f"/admin/squads/{sid}/grids/new",
                          data={**form, "geometry": json.dumps(box(121.03, 30.70, 121.04, 30.705))})
    assert outside.status_code == 400
    assert "not inside the jurisdiction" in outside.get_data(as_text=True)
    assert client.post(f"/admin/squads/{sid}/grids/new", data=form).status_code == 303
    with session_factory() as s:
        grid = s.scalars(sa.select(Grid).where(Grid.code == form["code"])).one()
    page = client.get(f"/admin/squads/{sid}").get_data(as_text=True)
    assert form["code"] in page and 'class="grid-row"' in page
    assert client.get(f"/admin/grids/{grid.id}").status_code == 200
    moved = client.post(f"/admin/grids/{grid.id}", data={**form, "squad_id": str(world.squads["zhongdai"])})
    assert moved.status_code == 400, "the polygon is not in 钟埭"
    assert client.post(f"/admin/grids/{grid.id}/delete").status_code == 303
    with session_factory() as s:
        assert s.get(Grid, grid.id) is None
    assert [e.action for e in _audit(session_factory, "grid.delete")] == ["grid.delete"]


def test_import_squads_and_grids_files(world, admin, client, session_factory):
    squads = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "导入中队 imported (generated)", "site": "Pinghu"},
         "geometry": box(121.04, 30.69, 121.06, 30.71)}]}
    grids = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": f"IMP-{i}", "name": f"g{i} (generated)"},
         "geometry": box(121.04 + 0.01 * i, 30.69, 121.05 + 0.01 * i, 30.70)} for i in range(2)]}
    done = client.post("/admin/squads/import", data={
        "file": (io.BytesIO(json.dumps(squads).encode()), "squads.geojson")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "1 squads imported" in done.get_data(as_text=True)
    done = client.post("/admin/grids/import", data={
        "file": (io.BytesIO(json.dumps(grids).encode()), "grids.geojson")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "2 grids imported" in done.get_data(as_text=True)
    with session_factory() as s:
        squad = s.scalars(sa.select(Squad).where(Squad.name.like("导入中队%"))).one()
        assert sorted(g.code for g in squad.grids) == ["IMP-0", "IMP-1"]
    grids["features"][0]["geometry"] = box(121.10, 30.69, 121.11, 30.70)
    bad = client.post("/admin/grids/import", data={
        "file": (io.BytesIO(json.dumps(grids).encode()), "grids.geojson")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "grids.geojson: feature 0 (IMP-0): outside every squad" in bad.get_data(as_text=True)


@pytest.mark.browser
def test_draw_a_grid_in_chromium(live_server, driver, world, session_factory, tmp_path):
    """An admin draws a unit grid inside 当湖 (Geoman's create event) and saves it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from web.seed import DATA_DIR, load_grids

    with session_factory.begin() as s:
        load_grids(s, DATA_DIR / "demo_grids.geojson")
        s.execute(sa.delete(Grid).where(Grid.code == "PH-DH-0303"))
    ready = ("var el = document.querySelector('.zone-map');"
             "return !!(el && el.patrolZone && el.patrolZone.ready)")
    wait = WebDriverWait(driver, 20)
    driver.get(f"{live_server}/login")
    wait.until(ec.presence_of_element_located((By.NAME, "username")))
    driver.find_element(By.NAME, "username").send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys(PASSWORDS["admin"])
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ec.url_changes(f"{live_server}/login"))

    driver.get(f"{live_server}/admin/squads")
    wait.until(lambda d: d.execute_script(ready))
    assert len(driver.find_elements(By.CSS_SELECTOR, "tr.squad-row")) == 5
    driver.save_screenshot(str(tmp_path / "admin-squads.png"))
    driver.get(f"{live_server}/admin/squads/{world.squads['danghu']}/grids/new")
    wait.until(lambda d: d.execute_script(ready))
    driver.find_element(By.NAME, "code").send_keys("330482-DH-TEST")
    driver.find_element(By.NAME, "name").send_keys("画的网格 drawn grid (generated)")
    driver.execute_script("""
        var z = document.querySelector('.zone-map').patrolZone;
        var r = L.rectangle([[30.7003, 121.0165], [30.7010, 121.0175]]);
        r.addTo(z.map);
        z.map.fire('pm:create', {layer: r, shape: 'Rectangle'});""")
    driver.save_screenshot(str(tmp_path / "admin-grid.png"))
    driver.find_element(By.CSS_SELECTOR, "#grid-form button[type=submit]").click()
    wait.until(ec.url_matches(r"/admin/squads/\d+$"))
    assert "330482-DH-TEST" in driver.page_source
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    with session_factory() as s:
        grid = s.scalars(sa.select(Grid).where(Grid.code == "330482-DH-TEST")).one()
        assert grid.squad_id == world.squads["danghu"]
