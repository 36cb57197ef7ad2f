import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from missions.models import PatrolArea


def test_migrations_create_every_table(engine):
    from patrol.db import Base

    names = set(sa.inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= names
    assert "alembic_version" in names


def test_timestamps_come_back_utc_aware(session):
    t = dt.datetime(2026, 5, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    session.add(PatrolArea(name="a", site="s", kind="area", geometry={}, created_at=t))
    session.flush()
    session.expire_all()
    got = session.scalars(sa.select(PatrolArea)).one().created_at
    assert got == t and got.tzinfo == dt.timezone.utc and got.hour == 0


def test_naive_timestamps_are_refused(session):
    session.add(PatrolArea(name="b", site="s", kind="area", geometry={},
                           created_at=dt.datetime(2026, 5, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
