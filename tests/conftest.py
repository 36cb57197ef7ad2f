"""Shared fixtures: a migrated SQLite database in a temporary data root, and the real data."""

from __future__ import annotations

from pathlib import Path

import pytest

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
