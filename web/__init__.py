"""The Flask console: login and roles, map, findings review, cases, flights.

Build an app with :func:`create_app` (nothing is created at import)::

    from patrol.db import upgrade
    from patrol.settings import Settings
    from web import create_app

    settings = Settings.from_env()
    upgrade(settings.database_url)        # the schema comes from Alembic, not from here
    app = create_app(settings)

One blueprint per area (``auth``, ``home``, ``mapview``, ``planning``, ``api``, ``findings``,
``cases``, ``flights``, ``fleet``, ``files``); thin views over the domain modules
:mod:`web.cases` (workflow), :mod:`web.geojson` (map layers), :mod:`web.planning` (route
planning), :mod:`web.fleet_stats` and :mod:`web.fleet_stream` (fleet statistics, live feed) and
:mod:`web.seed` (squads and users).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from patrol.settings import Settings
from web.database import get_session
from web.errors import WebError, WorkflowError
from web.extensions import csrf, login_manager
from web.responses import error_response

__all__ = [
    "WebError",
    "WorkflowError",
    "create_app",
    "csrf",
    "error_response",
    "get_session",
    "login_manager",
]

CSRF_TIME_LIMIT_S = 8 * 3600  # a working shift: forms left open that long still post


def create_app(settings: Settings | None = None, *, config: dict[str, Any] | None = None) -> Flask:
    """Build the console app for ``settings``.

    Parameters
    ----------
    settings : patrol.settings.Settings, optional
        Data root, database URL, secret key, optional basemap; default
        ``Settings.from_env()``. The database must be migrated already
        (:func:`patrol.db.upgrade`).
    config : dict, optional
        Flask config overriding the defaults (``TESTING``, ``WTF_CSRF_ENABLED``,
        ``PER_PAGE``...).

    Returns
    -------
    Flask
        The app; ``app.extensions["drone_patrol"]`` holds settings, engine and session
        factory (dispose the engine when done with the app).
    """
    from web import auth, database, i18n, templating
    from web.responses import register_error_handlers
    from web.views import api, cases, files, findings, fleet, flights, home, mapview, planning

    if settings is None:
        settings = Settings.from_env()
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=CSRF_TIME_LIMIT_S,
        PER_PAGE=25,
    )
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # GeoJSON reads better with "type" first
    database.init_app(app, settings)
    login_manager.init_app(app)
    csrf.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    register_error_handlers(app)
    templating.register(app)
    for module in (home, mapview, planning, api, findings, cases, flights, fleet, files):
        app.register_blueprint(module.bp)
    from web.views import dashboard, exports, reflight  # figures, downloads, re-flights
    for module in (dashboard, exports, reflight):
        app.register_blueprint(module.bp)
    from web.views import admin, merchants  # users, squads and grids; shopfronts
    for module in (admin, merchants):
        app.register_blueprint(module.bp)
    return app
