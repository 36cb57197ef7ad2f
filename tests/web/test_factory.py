"""The app factory: nothing at import, settings passed in, one session per request."""

from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa
from flask import g

from patrol.db import upgrade
from patrol.settings import Settings
from web import create_app, get_session
from web.models import Squad, User
from web.seed import create_user

from .conftest import REPO


def test_importing_the_console_creates_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATROL_")}
    code = ("import web, web.auth, web.cases, web.seed, web.geojson, web.views.api, "
            "web.views.cases, web.views.files, web.views.findings, web.views.flights, "
            "web.views.home, web.views.mapview\n"
            "from flask import Flask\n"
            "from sqlalchemy.engine import Engine\n"
            "import sys\n"
            "mods = [m for n, m in sys.modules.items() if n == 'web' or n.startswith('web.')]\n"
            "bad = [n for m in mods for n, v in vars(m).items() if isinstance(v, (Flask, Engine))]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
                   check=True, timeout=60)
    assert list(tmp_path.iterdir()) == [], "no data root, database or key made at import"


def test_settings_are_the_apps_own(tmp_path):
    apps = []
    for name in ("a", "b"):
        settings = Settings.for_directory(tmp_path / name)
        upgrade(settings.database_url)
        app = create_app(settings, config={"PER_PAGE": 7})
        with app.app_context():
            create_user(get_session(), f"user-{name}", "pw", "admin")
            get_session().commit()
        apps.append((app, settings))
    try:
        for (app, settings), name in zip(apps, "ab"):
            assert app.config["SECRET_KEY"] == settings.secret_key
            assert app.config["PER_PAGE"] == 7
            with app.app_context():
                assert get_session().scalars(sa.select(User.username)).all() == [f"user-{name}"]
        assert apps[0][0].config["SECRET_KEY"] != apps[1][0].config["SECRET_KEY"]
    finally:
        for app, _ in apps:
            app.extensions["drone_patrol"].engine.dispose()


def test_one_session_per_request_closed_at_teardown(app):
    with app.test_request_context("/"):
        session = get_session()
        assert get_session() is session
        session.add(Squad(name="uncommitted", site="X", jurisdiction={}))
        session.flush()
        assert session.in_transaction()
    assert not session.in_transaction(), "closed (rolled back) when the request ended"
    with app.app_context():
        assert "db_session" not in g
        assert get_session().scalar(sa.select(sa.func.count()).select_from(Squad)) == 0


def test_server_errors_roll_back_and_show_a_page(settings, engine, world):
    app = create_app(settings, config={"TESTING": True, "WTF_CSRF_ENABLED": False,
                                       "PROPAGATE_EXCEPTIONS": False})

    def broken():
        get_session().add(Squad(name="half-done", site="X", jurisdiction={}))
        get_session().flush()
        raise RuntimeError("boom")

    app.add_url_rule("/broken", view_func=broken)
    try:
        client = app.test_client()
        client.post("/login", data={"username": "admin", "password": "admin-demo"})
        response = client.get("/broken")
        assert response.status_code == 500 and b"was not saved" in response.data
        with app.app_context():
            names = get_session().scalars(sa.select(Squad.name)).all()
        assert "half-done" not in names
    finally:
        app.extensions["drone_patrol"].engine.dispose()
