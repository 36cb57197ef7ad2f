"""The dashboard (web.dashboard, /dashboard, /api/dashboard): counts and rates on GENERATED
cases whose outcomes are known, by squad, grid, category and local month; roles; filters;
and the same SQL on PostgreSQL when a server is at hand."""

from __future__ import annotations

import datetime as dt

import pytest

from patrol.db import make_engine, make_session_factory, upgrade
from vision.models import Finding
from web.dashboard import CaseFigures, case_figures, case_rows, dashboard, rate
from web.models import Case, CaseEvent, Grid, Squad, User

from .conftest import IN_DANGHU, IN_ZHONGDAI

UTC = dt.timezone.utc
AS_OF = dt.datetime(2026, 6, 10, 0, 0, tzinfo=UTC)
H = dt.timedelta(hours=1)


def _case(s, code, *, squad_id, created, deadline, status="dispatched", closed=None,
          reworks=0, verified=False, grid_id=None, category="exposed_garbage",
          lonlat=IN_DANGHU, user_id=None):
    """A GENERATED case as the workflow leaves it: filed at ``created``, dispatched an hour
    later, returned ``reworks`` times, verified (or not), closed (or not)."""
    case = Case(code=code, category=category, category_name_zh="暴露垃圾",
                category_name_en="Exposed garbage", status=status, squad_id=squad_id,
                grid_id=grid_id, lat_deg=lonlat[1], lon_deg=lonlat[0], created_at=created,
                filed_at=None if status in ("reported", "cancelled") else created,
                dispatched_at=created + H, deadline_utc=deadline,
                closed_at=closed, rework_count=reworks, reporter_id=user_id,
                verified_at=(closed - H if closed else created + 2 * H) if verified else None)
    s.add(case)
    s.flush()
    s.add(CaseEvent(case_id=case.id, user_id=user_id, action="file", from_status="reported",
                    to_status="filed", at=created))
    return case


@pytest.fixture
def cases(world, session_factory):
    """Five GENERATED cases (see the expected figures in the tests)."""
    with session_factory.begin() as s:
        danghu, zhongdai = world.squads["danghu"], world.squads["zhongdai"]
        grid = Grid(code="330482-001-01", name="test grid (generated)", squad_id=danghu,
                    polygon={"type": "Polygon", "coordinates": [[[121.0, 30.69], [121.03, 30.69],
                                                                 [121.03, 30.71], [121.0, 30.69]]]})
        s.add(grid)
        s.flush()
        may1 = dt.datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
        # 1: closed on time, verified once (danghu, grid)
        _case(s, "T-1", squad_id=danghu, grid_id=grid.id, created=may1, deadline=may1 + 24 * H,
              status="closed", closed=may1 + 5 * H, verified=True)
        # 2: closed late after one rework (danghu); filed 30 Apr 17:00 UTC = 1 May 01:00 in Shanghai
        apr30 = dt.datetime(2026, 4, 30, 17, 0, tzinfo=UTC)
        _case(s, "T-2", squad_id=danghu, created=apr30, deadline=apr30 + 4 * H, status="closed",
              closed=apr30 + 30 * H, reworks=1, verified=True, category="construction_waste")
        # 3: open and overdue (zhongdai), filed in June
        jun2 = dt.datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
        _case(s, "T-3", squad_id=zhongdai, created=jun2, deadline=jun2 + 4 * H, lonlat=IN_ZHONGDAI)
        # 4: open, still within its limit at AS_OF (zhongdai)
        _case(s, "T-4", squad_id=zhongdai, created=jun2, deadline=AS_OF + 48 * H, lonlat=IN_ZHONGDAI)
        # 5: filed in March, outside the May-June range
        mar = dt.datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
        _case(s, "T-5", squad_id=zhongdai, created=mar, deadline=mar + H, status="closed",
              closed=mar + 2 * H, verified=True, lonlat=IN_ZHONGDAI)
        # 6, 7: a report not filed and one refused (不予立案): not handed over
        _case(s, "T-6", squad_id=danghu, created=may1, deadline=None, status="reported")
        _case(s, "T-7", squad_id=danghu, created=may1, deadline=None, status="cancelled")
        # 8: suspended past its old deadline: in progress, not due
        _case(s, "T-8", squad_id=zhongdai, created=jun2, deadline=None, status="suspended",
              lonlat=IN_ZHONGDAI)
    return world


MAY_JUNE = {"first_day": dt.date(2026, 5, 1), "last_day": dt.date(2026, 6, 30)}


def test_rate_is_none_without_denominator():
    assert rate(3, 4) == 0.75 and rate(0, 0) is None


def test_case_figures_and_rates(cases, session):
    total, groups = case_figures(session, as_of=AS_OF, **MAY_JUNE)
    assert total == CaseFigures(filed=5, closed=2, closed_on_time=1, overdue_open=1,
                                suspended=1, verified=2, reworked=1)
    assert total.in_progress == 3 and total.due == 3
    assert total.closure_rate == pytest.approx(2 / 3)
    assert total.timely_closure_rate == pytest.approx(1 / 3)
    assert total.on_time_share == pytest.approx(1 / 2)
    assert total.rework_rate == pytest.approx(1 / 2)

    by_squad = {g.key: g.cases for g in groups["squad"]}
    danghu, zhongdai = by_squad[cases.squads["danghu"]], by_squad[cases.squads["zhongdai"]]
    assert (danghu.filed, danghu.closed, danghu.closure_rate, danghu.rework_rate) == (2, 2, 1.0, 0.5)
    assert (zhongdai.filed, zhongdai.closed, zhongdai.due, zhongdai.closure_rate) == (3, 0, 1, 0.0)
    assert zhongdai.rework_rate is None, "no verification decided on: no rate"

    by_grid = {g.label: g.cases.filed for g in groups["grid"]}
    assert by_grid == {"330482-001-01 test grid (generated)": 1, "(no grid)": 4}
    assert {g.key: g.cases.filed for g in groups["category"]} == {
        "exposed_garbage": 4, "construction_waste": 1}
    assert {g.label for g in groups["category"]} == {"暴露垃圾"}, "names as the cases recorded them"
    # local months (Asia/Shanghai): case 2 was filed on 1 May local time
    assert [(g.label, g.cases.filed) for g in groups["month"]] == [("2026-05", 2), ("2026-06", 3)]


def test_months_between_are_listed_empty(cases, session):
    total, groups = case_figures(session, as_of=AS_OF)
    assert total.filed == 6
    assert [(g.label, g.cases.filed) for g in groups["month"]] == [
        ("2026-03", 1), ("2026-04", 0), ("2026-05", 2), ("2026-06", 3)]


def test_month_follows_the_bureau_time_zone(cases, session):
    rows = case_rows(session, as_of=AS_OF, timezone="UTC", **MAY_JUNE)
    months = sorted({r.month for r in rows})
    assert months == ["2026-05", "2026-06"], "1 May local day bounds in UTC exclude the 30 April case"
    total, _ = case_figures(session, as_of=AS_OF, timezone="UTC", first_day=dt.date(2026, 4, 30),
                            last_day=dt.date(2026, 4, 30))
    assert total.filed == 1


def test_squad_filter(cases, session):
    total, groups = case_figures(session, as_of=AS_OF, squad_id=cases.squads["zhongdai"])
    assert total.filed == 4 and [g.key for g in groups["squad"]] == [cases.squads["zhongdai"]]


def test_findings_valid_report_rate_per_category(world, session_factory, session):
    with session_factory.begin() as s:
        s.get(Finding, world.findings["danghu"]).status = "confirmed"
        s.get(Finding, world.findings["duluth"]).status = "rejected"
        s.get(Finding, world.findings["zhongdai"]).status = "confirmed"
    board = dashboard(session, as_of=AS_OF)
    figures = {f.category: f for f in board.findings}
    garbage = figures["exposed_garbage"]
    assert (garbage.flagged, garbage.confirmed, garbage.rejected, garbage.new) == (2, 1, 1, 0)
    assert garbage.valid_report_rate == 0.5
    assert figures["construction_waste"].valid_report_rate == 1.0
    assert figures["open_burning"].valid_report_rate is None and figures["open_burning"].new == 1
    assert board.findings_total.flagged == 4
    assert board.findings_total.valid_report_rate == pytest.approx(2 / 3)


def test_flying_figures(world, session):
    board = dashboard(session, as_of=AS_OF)
    assert board.flights.sorties == 1
    assert board.flights.flight_hours == pytest.approx(164 / 3600, abs=1e-3)
    assert board.flights.distance_km == pytest.approx(1.95)
    assert [f.label for f in board.flights_by_month] == ["2026-05"]
    empty = dashboard(session, first_day=dt.date(2026, 7, 1), last_day=dt.date(2026, 7, 31))
    assert empty.flights.sorties == 0 and empty.cases.filed == 0 and empty.findings == []


def test_dashboard_rejects_reversed_range(world, session):
    with pytest.raises(ValueError, match="before the first day"):
        dashboard(session, first_day=dt.date(2026, 6, 1), last_day=dt.date(2026, 5, 1))


# ------------------------------------------------------------------ pages
def test_page_for_supervisor(cases, client, auth):
    auth.login("supervisor")
    page = client.get("/dashboard?from=2026-05-01&to=2026-06-30")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="tile-filed">5<' in html
    for chart in ("chart-cases-month", "chart-cases-squad", "chart-findings", "chart-flights"):
        assert f'id="{chart}"' in html
    assert "chartjs/chart.umd.min.js" in html
    assert html.count('class="dash-row"') >= 4


def test_json_endpoint_matches_the_figures(cases, client, auth, session):
    auth.login("admin")
    data = client.get("/api/dashboard?from=2026-05-01&to=2026-06-30").get_json()
    assert data["first_day"] == "2026-05-01" and data["timezone"] == "Asia/Shanghai"
    assert data["cases"]["filed"] == 5 and data["cases"]["closed"] == 2
    # judged now (after AS_OF): case 4's deadline has passed too, so 4 cases are due
    assert data["cases"]["due"] == 4 and data["cases"]["timely_closure_rate"] == 0.25
    assert {g["label"] for g in data["cases_by_month"]} == {"2026-05", "2026-06"}
    assert data["flights"]["sorties"] == 1
    assert {f["category"] for f in data["findings_by_category"]} == {
        "exposed_garbage", "construction_waste", "open_burning"}


@pytest.mark.parametrize("user", ["officer", "operator"])
def test_page_is_for_supervisors_and_admins(world, client, auth, user):
    auth.login(user)
    assert client.get("/dashboard").status_code == 403
    assert client.get("/api/dashboard").status_code == 403


def test_bad_filters_are_400(world, client, auth):
    auth.login("supervisor")
    assert client.get("/dashboard?from=May").status_code == 400
    assert client.get("/dashboard?from=2026-06-01&to=2026-05-01").status_code == 400
    assert client.get("/api/dashboard?squad=x").status_code == 400


def test_login_required(world, client):
    assert client.get("/dashboard").status_code == 302
    assert client.get("/api/dashboard").status_code == 401


# ------------------------------------------------------------------ PostgreSQL
def test_same_figures_on_postgresql(pg_url, tmp_path):
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        factory = make_session_factory(engine)
        with factory.begin() as s:
            squad = Squad(name="test squad (generated)", site="t", jurisdiction={
                "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})
            s.add(squad)
            s.flush()
            user = User(username="sup", password_hash="x", role="supervisor")
            s.add(user)
            s.flush()
            apr30 = dt.datetime(2026, 4, 30, 17, 0, tzinfo=UTC)
            _case(s, "P-1", squad_id=squad.id, created=apr30, deadline=apr30 + 4 * H,
                  status="closed", closed=apr30 + 30 * H, reworks=1, verified=True)
            _case(s, "P-2", squad_id=squad.id, created=apr30 - 48 * H, deadline=apr30,
                  user_id=user.id)
        with factory() as s:
            total, groups = case_figures(s, as_of=AS_OF)
            assert total == CaseFigures(filed=2, closed=1, closed_on_time=0, overdue_open=1,
                                        suspended=0, verified=1, reworked=1)
            assert [(g.label, g.cases.filed) for g in groups["month"]] == [("2026-04", 1), ("2026-05", 1)]
            assert dashboard(s, as_of=AS_OF).flights.sorties == 0
    finally:
        engine.dispose()


# ------------------------------------------------------------------ command line
def _patrol(data_dir, *args):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PATROL_DATA_DIR": str(data_dir)}
    env.pop("PATROL_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "patrol.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_cli_prints_the_figures(cases, settings):
    import json

    proc = _patrol(settings.data_dir, "dashboard", "--from", "2026-05-01", "--to", "2026-06-30",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["cases"]["filed"] == 5 and data["flights"]["sorties"] == 1
    proc = _patrol(settings.data_dir, "dashboard", "--from", "2026-05-01", "--to", "2026-06-30")
    assert proc.returncode == 0, proc.stderr
    assert "5 handed over" in proc.stdout and "timely closure" in proc.stdout
    bad = _patrol(settings.data_dir, "dashboard", "--from", "2026-06-30", "--to", "2026-05-01")
    assert bad.returncode == 2 and "before the first day" in bad.stderr
