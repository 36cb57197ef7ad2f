"""The console's database wiring: one engine and session factory per app, one session per
request.

Views call :func:`get_session`; the session lives on ``flask.g`` and is closed (rolling back
anything uncommitted) when the app context ends. Views commit explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from patrol.db import make_engine, make_session_factory
from patrol.settings import Settings

__all__ = ["Console", "console", "get_session", "init_app"]

EXTENSION_KEY = "drone_patrol"


@dataclass(frozen=True)
class Console:
    """What the factory attaches to the app (``app.extensions["drone_patrol"]``)."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker


def init_app(app: Flask, settings: Settings) -> Console:
    """Create the engine and session factory for ``settings`` and attach them to ``app``."""
    engine = make_engine(settings.database_url)
    state = Console(settings=settings, engine=engine,
                    session_factory=make_session_factory(engine))
    app.extensions[EXTENSION_KEY] = state
    app.teardown_appcontext(close_session)
    return state


def console() -> Console:
    """The current app's settings, engine and session factory."""
    return current_app.extensions[EXTENSION_KEY]


def get_session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = console().session_factory()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Close the request's session, if one was opened (uncommitted work is rolled back)."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
