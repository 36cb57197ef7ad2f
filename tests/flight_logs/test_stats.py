"""Flight statistics on the archive of the bundled real logs and photos, on SQLite and PostgreSQL.

The sums must equal the per-flight summaries; the local day or month must be the one Python's
zoneinfo gives for the take-off time (also across daylight-saving changes, checked with
GENERATED flights placed around a transition).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from flight_logs.importer import import_paths
from flight_logs.models import Flight, Photo, TrackPoint, Vehicle
from flight_logs.stats import (CSV_COLUMNS, combine, flight_stats, local_day_bounds, text_table, totals,
                               utc_offset_segments, write_csv)
from patrol.db import make_engine, make_session_factory, upgrade
from patrol.settings import Settings

ZONES = ("Asia/Shanghai", "UTC", "America/Chicago", "Australia/Sydney", "Pacific/Chatham")
UTC = dt.timezone.utc


def _import_samples(session_factory, data_dir, samples) -> None:
    results = import_paths(session_factory, data_dir, [samples / "telemetry", samples / "photos"])
    assert not [r for r in results if r["error"]]


@pytest.fixture(scope="module")
def archive(tmp_path_factory, samples):
    """A session factory on a SQLite archive holding every bundled real log and photo."""
    settings = Settings.for_directory(tmp_path_factory.mktemp("stats") / "var")
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    _import_samples(factory, settings.data_dir, samples)
    yield factory
    engine.dispose()


@pytest.fixture(scope="module")
def pg_archive(pg_url, tmp_path_factory, samples):
    """The same archive on a throw-away PostgreSQL database (skips when no server answers)."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    _import_samples(factory, tmp_path_factory.mktemp("stats-pg"), samples)
    yield factory
    engine.dispose()


def _flights(session) -> list[Flight]:
    return list(session.scalars(sa.select(Flight).order_by(Flight.id)))


def _photo_files(session) -> dict[int, int]:
    return dict(session.execute(sa.select(Photo.flight_id, sa.func.count()).where(Photo.flight_id.is_not(None))
                                .group_by(Photo.flight_id)).all())


def _expected(flights, files, key) -> dict:
    """Per (period, group key): the sums of the flight summaries, in Python."""
    out: dict = {}
    for f in flights:
        k = key(f)
        e = out.setdefault(k, {"sorties": 0, "flight_s": 0.0, "distance_m": 0.0, "photos": 0, "photo_files": 0,
                               "battery": None, "battery_n": 0})
        e["sorties"] += 1
        e["flight_s"] += f.duration_s
        e["distance_m"] += f.distance_m
        e["photos"] += f.photo_count
        e["photo_files"] += files.get(f.id, 0)
        if f.battery_used_pct is not None:
            e["battery"] = (e["battery"] or 0.0) + f.battery_used_pct
            e["battery_n"] += 1
    return out


def _label(t: dt.datetime, zone: str, period: str) -> str:
    return t.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d" if period == "day" else "%Y-%m")


def _check_sums(rows, expected, key_of_row) -> None:
    got = {key_of_row(r): r for r in rows}
    assert set(got) == set(expected)
    for k, e in expected.items():
        r = got[k]
        assert r.sorties == e["sorties"]
        assert r.flight_s == pytest.approx(e["flight_s"], rel=1e-12)
        assert r.distance_m == pytest.approx(e["distance_m"], rel=1e-12)
        assert (r.photos, r.photo_files, r.battery_sorties) == (e["photos"], e["photo_files"], e["battery_n"])
        assert r.battery_used_pct == (None if e["battery"] is None else pytest.approx(e["battery"]))


@pytest.mark.parametrize("period", ["day", "month"])
@pytest.mark.parametrize("by", ["vehicle", "takeoff", "fleet"])
def test_sums_equal_the_flight_summaries(archive, by, period):
    with archive() as session:
        flights, files = _flights(session), _photo_files(session)
        rows = flight_stats(session, by=by, period=period)
        first_fix = {f.id: session.execute(sa.select(TrackPoint.lat_deg, TrackPoint.lon_deg)
                                           .where(TrackPoint.flight_id == f.id)
                                           .order_by(TrackPoint.t_utc).limit(1)).first() for f in flights}
    assert len(flights) == 4 and sum(files.values()) == 18   # 4 real flights; the cuav SITL photos are linked

    def group(f):
        if by == "vehicle":
            return f.vehicle_id
        if by == "takeoff":
            return (f.home_lat_deg, f.home_lon_deg) if f.home_lat_deg is not None else tuple(first_fix[f.id])
        return None

    expected = _expected(flights, files, lambda f: (_label(f.start_utc, "Asia/Shanghai", period), group(f)))
    _check_sums(rows, expected, lambda r: (r.period, r.group_key))
    assert [(r.period, r.group) for r in rows] == sorted((r.period, r.group) for r in rows)
    total = totals(rows)
    assert total.sorties == 4 and total.photos == 23 and total.photo_files == 18
    assert total.distance_km == pytest.approx(sum(f.distance_m for f in flights) / 1000)
    assert total.flight_hours == pytest.approx(sum(f.duration_s for f in flights) / 3600)


def test_days_are_local_days_of_the_take_off(archive):
    with archive() as session:
        survey = session.scalars(sa.select(Flight).join(Vehicle)
                                 .where(Vehicle.name.like("arducopter_sitl_pinghu_survey%"))).one()
        assert survey.start_utc.date() == dt.date(2026, 11, 21)      # 17:47 UTC is 01:47 next day in Pinghu
        shanghai = flight_stats(session, by="fleet", period="day")
        utc = flight_stats(session, by="fleet", period="day", timezone="UTC")
        assert "2026-11-22" in {r.period for r in shanghai} and "2026-11-22" not in {r.period for r in utc}
        assert "2026-11-21" in {r.period for r in utc}
        one_day = flight_stats(session, by="vehicle", period="day", first_day=dt.date(2026, 11, 22),
                               last_day=dt.date(2026, 11, 22))
        assert [(r.period, r.group_key, r.sorties, r.photos) for r in one_day] == [
            ("2026-11-22", survey.vehicle_id, 1, 23)]
        assert flight_stats(session, by="fleet", first_day=dt.date(2026, 11, 22), last_day=dt.date(2026, 11, 22),
                            timezone="UTC") == []
        aug_2018 = flight_stats(session, by="fleet", first_day=dt.date(2018, 8, 1), last_day=dt.date(2018, 8, 31))
        assert [(r.period, r.sorties) for r in aug_2018] == [("2018-08", 2)]


@pytest.mark.parametrize("zone", ZONES)
def test_sql_periods_match_zoneinfo_for_every_flight(archive, zone):
    with archive() as session:
        flights = _flights(session)
        for period in ("day", "month"):
            rows = flight_stats(session, by="vehicle", period=period, timezone=zone)
            assert {(r.period, r.group_key) for r in rows} == {
                (_label(f.start_utc, zone, period), f.vehicle_id) for f in flights}


def test_daylight_saving_transitions_on_generated_flights(session):
    """GENERATED flights around Sydney's and Berlin's 2026 offset changes: each lands on the local
    day zoneinfo gives, which a single offset for the span would get wrong for some of them."""
    vehicle = Vehicle(key="generated#1", name="generated vehicle", system_id=1)
    session.add(vehicle)
    session.flush()
    starts = [dt.datetime(2026, 3, 28, 22, 30, tzinfo=UTC),   # Berlin CET: 23:30 on the 28th
              dt.datetime(2026, 3, 29, 22, 30, tzinfo=UTC),   # Berlin CEST: 00:30 on the 30th
              dt.datetime(2026, 4, 4, 13, 30, tzinfo=UTC),    # Sydney AEDT: 00:30 on the 5th
              dt.datetime(2026, 4, 5, 13, 30, tzinfo=UTC),    # Sydney AEST: 23:30 on the 5th
              dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC)]  # Berlin CET: 00:30 on 1 November
    for i, start in enumerate(starts):
        session.add(Flight(vehicle_id=vehicle.id, start_utc=start, end_utc=start + dt.timedelta(minutes=20),
                           duration_s=1200.0, distance_m=1000.0 * (i + 1), photo_count=i))
    session.flush()
    for zone in ("Europe/Berlin", "Australia/Sydney"):
        assert len(utc_offset_segments(zone, starts[0], starts[-1])) == 3
        for period in ("day", "month"):
            rows = flight_stats(session, by="fleet", period=period, timezone=zone)
            expected: dict[str, int] = {}
            for s in starts:
                expected[_label(s, zone, period)] = expected.get(_label(s, zone, period), 0) + 1
            assert {r.period: r.sorties for r in rows} == expected
    berlin = {r.period: r.sorties for r in flight_stats(session, by="fleet", period="day", timezone="Europe/Berlin")}
    assert berlin == {"2026-03-28": 1, "2026-03-30": 1, "2026-04-04": 1, "2026-04-05": 1, "2026-11-01": 1}
    start, end = local_day_bounds(dt.date(2026, 3, 30), dt.date(2026, 3, 30), "Europe/Berlin")
    assert (start, end) == (dt.datetime(2026, 3, 29, 22, tzinfo=UTC), dt.datetime(2026, 3, 30, 22, tzinfo=UTC))
    assert [r.sorties for r in flight_stats(session, by="fleet", period="day", timezone="Europe/Berlin",
                                            first_day=dt.date(2026, 3, 30), last_day=dt.date(2026, 3, 30))] == [1]


def test_csv_and_text_table(archive):
    with archive() as session:
        rows = flight_stats(session, by="vehicle", period="month")
    out = io.StringIO()
    write_csv(rows, out)
    records = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(records[0]) == CSV_COLUMNS and len(records) == len(rows) == 4
    for rec, row in zip(records, rows):
        assert (rec["period"], rec["timezone"], rec["group"]) == (row.period, "Asia/Shanghai", row.group)
        assert int(rec["sorties"]) == row.sorties and int(rec["photos"]) == row.photos
        assert float(rec["flight_hours"]) == pytest.approx(row.flight_s / 3600, abs=5e-4)
        assert float(rec["distance_km"]) == pytest.approx(row.distance_m / 1000, abs=5e-4)
        assert rec["battery_used_pct"] == ("" if row.battery_used_pct is None else f"{row.battery_used_pct:.1f}")
    survey = next(r for r in records if r["group"].startswith("arducopter_sitl_pinghu_survey"))
    assert (survey["period"], survey["photos"], survey["distance_km"]) == ("2026-11", "23", "0.635")
    table = text_table(rows, group_title="vehicle").splitlines()
    assert table[0].split()[:3] == ["period", "vehicle", "sorties"] and len(table) == 2 + 4 + 2
    assert table[-1].split()[:3] == ["total", "all", "4"]


def test_combine_regroups_exactly(archive):
    with archive() as session:
        rows = flight_stats(session, by="vehicle", period="day")
        months = flight_stats(session, by="fleet", period="month")
    assert combine(rows, lambda r: (r.period[:7], "fleet", None)) == months


def test_bad_arguments_name_the_value(archive):
    with archive() as session:
        with pytest.raises(ValueError, match="group by one of vehicle, takeoff, fleet, not 'squad'"):
            flight_stats(session, by="squad")
        with pytest.raises(ValueError, match="period is one of day, month, not 'week'"):
            flight_stats(session, period="week")
        with pytest.raises(ValueError, match="unknown time zone 'Asia/Pinghu'"):
            flight_stats(session, timezone="Asia/Pinghu")
        with pytest.raises(ValueError, match="2026-01-01 is before the first day 2026-02-01"):
            flight_stats(session, first_day=dt.date(2026, 2, 1), last_day=dt.date(2026, 1, 1))


def test_postgresql_gives_the_same_rows(archive, pg_archive):
    with archive() as lite, pg_archive() as pg:
        assert len(_flights(pg)) == 4
        for zone in ("Asia/Shanghai", "America/Chicago"):
            for by in ("vehicle", "takeoff", "fleet"):
                for period in ("day", "month"):
                    a = flight_stats(lite, by=by, period=period, timezone=zone)
                    b = flight_stats(pg, by=by, period=period, timezone=zone)
                    strip = lambda rows: [(r.period, r.group, r.sorties, r.photos, r.photo_files,  # noqa: E731
                                           r.battery_sorties) for r in rows]
                    assert strip(a) == strip(b)
                    for x, y in zip(a, b):
                        assert x.flight_s == pytest.approx(y.flight_s) and x.distance_m == pytest.approx(y.distance_m)
                        assert x.battery_used_pct == (None if y.battery_used_pct is None
                                                      else pytest.approx(y.battery_used_pct))
        one_day = flight_stats(pg, by="fleet", period="day", first_day=dt.date(2026, 11, 22),
                               last_day=dt.date(2026, 11, 22))
        assert [(r.period, r.sorties, r.photos) for r in one_day] == [("2026-11-22", 1, 23)]
