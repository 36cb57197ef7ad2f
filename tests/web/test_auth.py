"""Login, logout, roles and CSRF, through Flask's test client."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from vision.models import Finding
from web import create_app
from web.cases import open_case_from_finding
from web.models import User

from .conftest import AuthActions


@pytest.mark.parametrize("path", ["/", "/map", "/findings", "/cases", "/cases/1", "/flights",
                                  "/flights/1", "/files/evidence/finding-duluth.png"])
def test_pages_need_a_login(client, world, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=" + path.replace("/", "%2F")) or \
        response.location.startswith("/login?next=" + path)


@pytest.mark.parametrize("path", ["/api/findings.geojson", "/api/tracks.geojson"])
def test_api_without_login_is_401_json(client, world, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.get_json() == {"error": "Unauthorized", "message": "login required"}


def test_login_page_and_static_files_are_public(client):
    assert client.get("/login").status_code == 200
    response = client.get("/static/vendor/leaflet/leaflet.js")
    assert response.status_code == 200 and b"Leaflet" in response.data[:300]
    response.close()


def test_login_then_back_to_the_page_asked_for(client, world):
    response = client.post("/login", data={"username": "supervisor", "password": "supervisor-demo",
                                           "next": "/findings"})
    assert response.status_code == 302 and response.location == "/findings"
    assert client.get("/findings").status_code == 200


@pytest.mark.parametrize("username, password", [("supervisor", "wrong"), ("supervisor", ""),
                                                ("nobody", "supervisor-demo")])
def test_wrong_credentials_are_rejected(client, world, username, password):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code in (400, 401)
    assert client.get("/").status_code == 302, "still logged out"


def test_wrong_password_says_so(client, world):
    response = client.post("/login", data={"username": "supervisor", "password": "wrong"})
    assert response.status_code == 401
    assert b"Wrong username or password" in response.data


def test_inactive_user_cannot_log_in(client, world, session):
    session.scalars(sa.select(User).where(User.username == "operator")).one().active = False
    session.commit()
    assert AuthActions(client).login("operator").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x",
                                    "/\\evil.example"])
def test_login_never_redirects_off_site(client, world, target):
    response = client.post("/login", data={"username": "admin", "password": "admin-demo",
                                           "next": target})
    assert response.status_code == 302 and response.location == "/"


def test_logout_is_a_post(client, auth, world):
    auth.login("admin")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    response = auth.logout()
    assert response.status_code == 302 and response.location == "/login"
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("username, path, status", [
    ("officer", "/findings", 403),
    ("operator", "/findings", 403),
    ("operator", "/cases", 403),
    ("supervisor", "/findings", 200),
    ("admin", "/findings", 200),
    ("officer", "/cases", 200),
    ("operator", "/map", 200),
    ("officer", "/flights", 200),
])
def test_roles(client, auth, world, username, path, status):
    auth.login(username)
    assert client.get(path).status_code == status


def test_officer_cannot_review_findings(client, auth, world, session):
    auth.login("officer")
    fid = world.findings["danghu"]
    assert client.post(f"/findings/{fid}/confirm", data={"category": "other"}).status_code == 403
    assert client.post(f"/findings/{fid}/reject", data={}).status_code == 403
    assert session.get(Finding, fid).status == "new"


def test_officers_see_only_their_squads_cases(client, auth, world, session):
    supervisor = session.scalars(sa.select(User).where(User.username == "supervisor")).one()
    mine = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]), supervisor)
    theirs = open_case_from_finding(session, session.get(Finding, world.findings["zhongdai"]),
                                    supervisor)
    session.commit()

    auth.login("officer")
    page = client.get("/cases?status=all").get_data(as_text=True)
    assert mine.code in page and theirs.code not in page
    assert client.get(f"/cases/{mine.id}").status_code == 200
    assert client.get(f"/cases/{theirs.id}").status_code == 403
    auth.logout()
    auth.login("officer2")
    page = client.get("/cases?status=all").get_data(as_text=True)
    assert theirs.code in page and mine.code not in page
    auth.logout()
    auth.login("supervisor")
    page = client.get("/cases?status=all").get_data(as_text=True)
    assert mine.code in page and theirs.code in page


TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def csrf_client(settings, engine):
    app = create_app(settings, config={"TESTING": True, "WTF_CSRF_ENABLED": True})
    yield app.test_client()
    app.extensions["drone_patrol"].engine.dispose()


def test_csrf_rejects_forged_forms(csrf_client, world, session):
    client = csrf_client
    forged = client.post("/login", data={"username": "supervisor", "password": "supervisor-demo"})
    assert forged.status_code == 400 and b"CSRF" in forged.data
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": "supervisor", "password": "supervisor-demo",
                                           "csrf_token": token})
    assert response.status_code == 302

    fid = world.findings["danghu"]
    forged = client.post(f"/findings/{fid}/confirm", data={"category": "exposed_garbage"})
    assert forged.status_code == 400 and b"CSRF token is missing" in forged.data
    forged = client.post(f"/findings/{fid}/confirm", data={"category": "exposed_garbage",
                                                           "csrf_token": "forged"})
    assert forged.status_code == 400
    session.expire_all()
    assert session.get(Finding, fid).status == "new"

    queue = client.get("/findings").get_data(as_text=True)
    token = TOKEN.search(queue).group(1)
    response = client.post(f"/findings/{fid}/confirm", data={"category": "exposed_garbage",
                                                             "csrf_token": token})
    assert response.status_code == 303
    session.expire_all()
    assert session.get(Finding, fid).status == "confirmed"
