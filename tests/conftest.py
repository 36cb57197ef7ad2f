"""Shared fixtures: a migrated SQLite database in a temporary data root, and the real data."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from patrol.db import make_engine, make_session_factory, upgrade
from patrol.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "flight_logs" / "samples"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def samples() -> Path:
    """The bundled real data (``flight_logs/samples``)."""
    return SAMPLES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: the non-redistributable data lives only there")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a fresh data root with its own SQLite file."""
    return Settings.for_directory(tmp_path / "var")


@pytest.fixture
def engine(settings: Settings):
    """An engine on the migrated (``alembic upgrade head``) database of ``settings``."""
    upgrade(settings.database_url)
    eng = make_engine(settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine):
    """The application's session factory bound to the migrated test database."""
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory):
    """A session on the migrated test database, rolled back and closed afterwards."""
    with session_factory() as s:
        yield s
        s.rollback()


PG_ADMIN_URL = os.environ.get("PATROL_TEST_POSTGRESQL_URL",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def pg_url():
    """URL of a throw-away database on the local PostgreSQL server (dropped afterwards);
    skips, naming the server, when none answers."""
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except Exception as err:  # any driver error means: no server to test against
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN_URL}: {type(err).__name__}")
    name = f"patrol_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
