"""The one declarative base, engine and session factory, and schema upgrades through Alembic.

Every package declares its tables on :class:`Base`. Functions elsewhere take a ``session``
and never open or commit their own; the entry point (CLI command, daemon loop, web request)
owns the session's lifecycle::

    engine = make_engine(settings.database_url)
    Session = make_session_factory(engine)
    with Session.begin() as session:
        ...

The schema is created and changed only by Alembic migrations (:func:`upgrade`), never by
``create_all`` outside the migration scripts.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, mapped_column, sessionmaker

__all__ = [
    "Base",
    "UTCDateTime",
    "intpk",
    "make_engine",
    "make_session_factory",
    "upgrade",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored as naive UTC and read back timezone-aware (UTC) on every backend.

    Raises ``ValueError`` on write when given a naive datetime, so local times never slip in.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give timestamps in UTC with tzinfo")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


intpk = Annotated[int, mapped_column(primary_key=True)]


class Base(DeclarativeBase):
    """Declarative base of every table; ``dict``/``list`` map to JSON, datetimes to UTC."""

    type_annotation_map = {
        dict[str, Any]: sa.JSON,
        list[Any]: sa.JSON,
        dt.datetime: UTCDateTime,
    }


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for ``url``; SQLite gets foreign keys on, WAL and a busy timeout.

    WAL lets the daemon write while the console reads. ``kwargs`` go to
    :func:`sqlalchemy.create_engine`.
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker:
    """The application's one session factory (``expire_on_commit=False``)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str):
    """An Alembic ``Config`` pointing at the packaged migrations and ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("patrol") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default the newest) with Alembic."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
