"""The PostgreSQL path: migrations, a tlog import and a case on the local server.

Uses ``PATROL_TEST_POSTGRESQL_URL`` (default: the local server's ``test`` database as user
``postgres``) to create a throw-away database; skips, saying why, when no server answers.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from flight_logs.models import CameraPosition, Flight
from flight_logs.tlog import import_tlog
from patrol.db import Base, make_engine, make_session_factory, upgrade
from vision.models import Finding
from web.cases import advance_case, open_case_from_finding
from web.models import Case
from web.seed import create_user, load_squads

@pytest.fixture(scope="module")
def pg_session_factory(pg_url):
    upgrade(pg_url)
    engine = make_engine(pg_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_migrations_create_every_table(pg_session_factory):
    engine = pg_session_factory.kw["bind"]
    assert set(Base.metadata.tables) <= set(sa.inspect(engine).get_table_names())


def test_tlog_import_on_postgresql(pg_session_factory, samples, tmp_path):
    tlog = samples / "telemetry" / "arducopter_sitl_pinghu_survey" / "survey_camera.tlog"
    with pg_session_factory.begin() as session:
        result = import_tlog(session, tmp_path, tlog)
        [flight] = result.flights
        flight_id = flight.id
    with pg_session_factory() as session:
        flight = session.get(Flight, flight_id)
        assert flight.start_utc.tzinfo == dt.timezone.utc
        assert flight.duration_s == pytest.approx(164, abs=2)
        cams = session.scalar(sa.select(sa.func.count()).select_from(CameraPosition)
                              .where(CameraPosition.flight_id == flight_id))
        assert cams == 23


def test_finding_to_closed_case_on_postgresql(pg_session_factory, tmp_path):
    squads_file = tmp_path / "squads.geojson"
    squads_file.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                           '"properties": {"name": "test squad", "site": "test"}, "geometry": '
                           '{"type": "Polygon", "coordinates": [[[121.0, 30.69], [121.03, 30.69], '
                           '[121.03, 30.71], [121.0, 30.71], [121.0, 30.69]]]}}]}')
    now = dt.datetime(2026, 5, 1, 8, tzinfo=dt.timezone.utc)
    with pg_session_factory.begin() as session:
        [squad] = load_squads(session, squads_file)
        supervisor = create_user(session, "pg-supervisor", "pw-supervisor", "supervisor")
        officer = create_user(session, "pg-officer", "pw-officer", "officer", squad=squad)
        finding = Finding(category="exposed_garbage", lat_deg=30.70, lon_deg=121.02, score=0.8)
        session.add(finding)
        session.flush()
        case = open_case_from_finding(session, finding, supervisor, now=now)
        assert case.squad_id == squad.id
        advance_case(session, case, "dispatched", supervisor, now=now)
        advance_case(session, case, "handled", officer, note="cleared", now=now)
        advance_case(session, case, "verified", supervisor, now=now)
        advance_case(session, case, "closed", supervisor, now=now)
        case_id = case.id
    with pg_session_factory() as session:
        case = session.get(Case, case_id)
        assert case.status == "closed"
        assert [e.to_status for e in case.events] == ["reported", "filed", "dispatched", "handled",
                                                      "verified", "closed"]
