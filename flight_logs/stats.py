"""Flight statistics: sorties, flight hours, kilometres, photos and battery used, per vehicle,
take-off point or the whole fleet, by local day or month.

The sums are computed by the database (one ``GROUP BY`` over the flight summaries, the same
SQL on SQLite and PostgreSQL); Python only converts units. Rules:

- A flight (sortie) counts in the period of its **take-off** (``Flight.start_utc``, the arming
  time) in the bureau's local time zone (IANA name, default ``Asia/Shanghai``). The zone's UTC
  offsets over the queried span come from :mod:`zoneinfo` and are applied in SQL as a ``CASE``
  on the take-off time, so daylight-saving zones bucket correctly on both backends.
- ``flight_hours`` sums ``Flight.duration_s`` (arm to disarm; a flight still in the air counts
  with its duration so far); ``distance_km`` sums ``Flight.distance_m`` (geodesic, along the
  track); ``photos`` sums ``Flight.photo_count`` (camera triggers the autopilot reported:
  CAMERA_FEEDBACK or DataFlash CAM); ``photo_files`` counts archived photos linked to the
  flights; ``battery_used_pct`` sums ``Flight.battery_used_pct`` over the ``battery_sorties``
  flights that reported their battery (percentage points of a pack; 100 = one full pack).
- The take-off point is the flight's home position, else its first track fix.

Squads are the console's business (``web``): it groups by take-off point here and assigns
each point to a jurisdiction.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from flight_logs.models import Flight, Photo, TrackPoint, Vehicle
from patrol.settings import DEFAULT_TIMEZONE

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_TIMEZONE",
    "GROUPINGS",
    "PERIODS",
    "StatsRow",
    "combine",
    "flight_stats",
    "local_day_bounds",
    "period_labels",
    "text_table",
    "time_zone",
    "totals",
    "utc_offset_segments",
    "write_csv",
]

GROUPINGS = ("vehicle", "takeoff", "fleet")
PERIODS = ("day", "month")
FLEET = "fleet"
CSV_COLUMNS = ("period", "timezone", "group", "sorties", "flight_hours", "distance_km", "photos",
               "photo_files", "battery_used_pct", "battery_sorties")


@dataclass(frozen=True)
class StatsRow:
    """Sums over the flights of one group in one period.

    ``period`` is ``"YYYY-MM"`` or ``"YYYY-MM-DD"`` (local time); ``group`` the label shown
    (vehicle name, take-off point ``"lat, lon"``, squad name, ``"fleet"``); ``group_key`` what
    identifies it (vehicle id, ``(lat_deg, lon_deg)`` or None, squad id, None).
    ``flight_s`` in seconds, ``distance_m`` in metres; ``battery_used_pct`` is None when no
    flight of the group reported its battery.
    """

    period: str
    group: str
    group_key: Any
    sorties: int
    flight_s: float
    distance_m: float
    photos: int
    photo_files: int
    battery_used_pct: float | None
    battery_sorties: int

    @property
    def flight_hours(self) -> float:
        """Flight time in hours."""
        return self.flight_s / 3600.0

    @property
    def distance_km(self) -> float:
        """Distance flown in kilometres."""
        return self.distance_m / 1000.0

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON: the sums in hours and km, rounded for display."""
        return {
            "period": self.period, "group": self.group, "sorties": self.sorties,
            "flight_hours": round(self.flight_hours, 3), "distance_km": round(self.distance_km, 3),
            "photos": self.photos, "photo_files": self.photo_files,
            "battery_used_pct": None if self.battery_used_pct is None else round(self.battery_used_pct, 1),
            "battery_sorties": self.battery_sorties,
        }


def time_zone(name: str | ZoneInfo) -> ZoneInfo:
    """The :class:`~zoneinfo.ZoneInfo` of an IANA zone name.

    Raises
    ------
    ValueError
        If ``name`` is not a time zone the system (or the ``tzdata`` package) knows.
    """
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name!r}: give an IANA name such as "
                         f"{DEFAULT_TIMEZONE!r}") from err


def local_day_bounds(first_day: dt.date | None, last_day: dt.date | None,
                     tz: str | ZoneInfo = DEFAULT_TIMEZONE) -> tuple[dt.datetime | None, dt.datetime | None]:
    """UTC instants bounding local days ``first_day`` .. ``last_day`` (both included).

    Returns ``(start, end)``: local midnight starting ``first_day`` and local midnight after
    ``last_day``, in UTC; None where the day is None (no bound).

    >>> local_day_bounds(dt.date(2026, 11, 22), dt.date(2026, 11, 22))
    (datetime.datetime(2026, 11, 21, 16, 0, tzinfo=datetime.timezone.utc), \
datetime.datetime(2026, 11, 22, 16, 0, tzinfo=datetime.timezone.utc))

    Raises
    ------
    ValueError
        If ``last_day`` is before ``first_day`` or the zone is unknown.
    """
    zone = time_zone(tz)
    if first_day is not None and last_day is not None and last_day < first_day:
        raise ValueError(f"the last day {last_day} is before the first day {first_day}")

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.timezone.utc)

    return (None if first_day is None else midnight(first_day),
            None if last_day is None else midnight(last_day + dt.timedelta(days=1)))


def utc_offset_segments(tz: str | ZoneInfo, start: dt.datetime,
                        end: dt.datetime) -> list[tuple[dt.datetime | None, int]]:
    """The zone's UTC offsets over ``[start, end]``: ``[(from_utc, offset_s), ...]``.

    The first segment's ``from_utc`` is None (it holds before the first transition); each
    later one starts at a transition, found to the second by bisection between daily samples
    (zones change offset at most once a day).

    >>> utc_offset_segments("Asia/Shanghai", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    ...                     dt.datetime(2026, 12, 31, tzinfo=dt.timezone.utc))
    [(None, 28800)]
    >>> [(t and t.isoformat(), o) for t, o in utc_offset_segments("Europe/Berlin",
    ...     dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2026, 12, 31, tzinfo=dt.timezone.utc))]
    [(None, 3600), ('2026-03-29T01:00:00+00:00', 7200), ('2026-10-25T01:00:00+00:00', 3600)]
    """
    zone = time_zone(tz)

    def offset(posix_s: int) -> int:
        return int(dt.datetime.fromtimestamp(posix_s, zone).utcoffset().total_seconds())

    t, stop = int(start.timestamp()), int(end.timestamp()) + 1
    segments: list[tuple[dt.datetime | None, int]] = [(None, offset(t))]
    while t < stop:
        nxt = min(t + 86400, stop)
        if offset(nxt) != offset(t):
            lo, hi = t, nxt                   # offset(lo) is the old one, offset(hi) the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
            segments.append((dt.datetime.fromtimestamp(hi, dt.timezone.utc), offset(hi)))
        t = nxt
    return segments


# ------------------------------------------------------------------ SQL: local period label
class _LocalPeriod(FunctionElement):
    """``label(utc_timestamp + offset_s)``: the local day or month of a UTC timestamp column."""

    type = sa.String()
    inherit_cache = True
    sqlite_format = ""
    postgresql_format = ""


class _LocalDay(_LocalPeriod):
    name = "local_day"
    inherit_cache = True
    sqlite_format, postgresql_format = "%Y-%m-%d", "YYYY-MM-DD"


class _LocalMonth(_LocalPeriod):
    name = "local_month"
    inherit_cache = True
    sqlite_format, postgresql_format = "%Y-%m", "YYYY-MM"


@compiles(_LocalPeriod)
def _compile_other(element, compiler, **kw):  # pragma: no cover - only SQLite and PostgreSQL are supported
    raise CompileError(f"local periods are written for SQLite and PostgreSQL, not {compiler.dialect.name}")


@compiles(_LocalPeriod, "sqlite")
def _compile_sqlite(element, compiler, **kw):
    ts, offset = (compiler.process(c, **kw) for c in element.clauses)
    return f"strftime('{element.sqlite_format}', {ts}, CAST({offset} AS TEXT) || ' seconds')"


@compiles(_LocalPeriod, "postgresql")
def _compile_postgresql(element, compiler, **kw):
    ts, offset = (compiler.process(c, **kw) for c in element.clauses)
    return f"to_char({ts} + CAST({offset} AS INTEGER) * INTERVAL '1 second', '{element.postgresql_format}')"


def _period_expr(column, period: str, segments: list[tuple[dt.datetime | None, int]]):
    if len(segments) == 1:
        offset = sa.literal(segments[0][1], sa.Integer)
    else:  # offset of the segment holding the timestamp: the last whose start is not after it
        whens = [(column < start, off) for (_, off), (start, _) in zip(segments, segments[1:])]
        offset = sa.case(*whens, else_=segments[-1][1])
    return (_LocalDay if period == "day" else _LocalMonth)(column, offset)


# ------------------------------------------------------------------ the query
def _check(by: str, period: str) -> None:
    if by not in GROUPINGS:
        raise ValueError(f"statistics group by one of {', '.join(GROUPINGS)}, not {by!r}")
    if period not in PERIODS:
        raise ValueError(f"statistics period is one of {', '.join(PERIODS)}, not {period!r}")


def flight_stats(session: Session, *, by: str = "fleet", period: str = "month",
                 first_day: dt.date | None = None, last_day: dt.date | None = None,
                 timezone: str | ZoneInfo = DEFAULT_TIMEZONE) -> list[StatsRow]:
    """Sums of the flight summaries per group and local period, computed by the database.

    Parameters
    ----------
    session : Session
        Any session (SQLite or PostgreSQL); only read.
    by : {"vehicle", "takeoff", "fleet"}
        ``"vehicle"``: one group per vehicle (label its name, key its id); ``"takeoff"``: one
        per take-off point (key ``(lat_deg, lon_deg)``, or None when a flight has neither home
        nor track); ``"fleet"``: all flights together.
    period : {"day", "month"}
        Local calendar day or month of the take-off.
    first_day, last_day : datetime.date, optional
        Local days bounding the take-offs counted (both included); no bound when None.
    timezone : str or ZoneInfo
        The bureau's IANA time zone (default ``Asia/Shanghai``).

    Returns
    -------
    list of StatsRow
        Ordered by period, then group label; periods without flights are absent.

    Raises
    ------
    ValueError
        If ``by``, ``period`` or the time zone is not one of the accepted values, or
        ``last_day`` is before ``first_day``.
    """
    _check(by, period)
    zone = time_zone(timezone)
    start, end = local_day_bounds(first_day, last_day, zone)
    where = []
    if start is not None:
        where.append(Flight.start_utc >= start)
    if end is not None:
        where.append(Flight.start_utc < end)
    span = session.execute(sa.select(sa.func.min(Flight.start_utc), sa.func.max(Flight.start_utc))
                           .where(*where)).one()
    if span[0] is None:
        return []
    period_col = _period_expr(Flight.start_utc, period, utc_offset_segments(zone, span[0], span[1]))

    photo_files = (sa.select(Photo.flight_id, sa.func.count().label("n"))
                   .where(Photo.flight_id.is_not(None)).group_by(Photo.flight_id).subquery())
    columns = [period_col.label("period"), Flight.duration_s, Flight.distance_m, Flight.photo_count,
               Flight.battery_used_pct, sa.func.coalesce(photo_files.c.n, 0).label("photo_files")]
    if by == "vehicle":
        columns += [Vehicle.id.label("key_a"), Vehicle.name.label("key_b")]
    elif by == "takeoff":
        def first_fix(col):
            return (sa.select(col).where(TrackPoint.flight_id == Flight.id)
                    .order_by(TrackPoint.t_utc, TrackPoint.id).limit(1).scalar_subquery())
        columns += [sa.func.coalesce(Flight.home_lat_deg, first_fix(TrackPoint.lat_deg)).label("key_a"),
                    sa.func.coalesce(Flight.home_lon_deg, first_fix(TrackPoint.lon_deg)).label("key_b")]
    per_flight = (sa.select(*columns).select_from(Flight).join(Vehicle, Vehicle.id == Flight.vehicle_id)
                  .outerjoin(photo_files, photo_files.c.flight_id == Flight.id).where(*where).subquery())

    f = per_flight.c
    keys = [f.period] + ([f.key_a, f.key_b] if by != "fleet" else [])
    stmt = (sa.select(*keys, sa.func.count(), sa.func.sum(f.duration_s), sa.func.sum(f.distance_m),
                      sa.func.sum(f.photo_count), sa.func.sum(f.photo_files), sa.func.sum(f.battery_used_pct),
                      sa.func.count(f.battery_used_pct))
            .group_by(*keys).order_by(*keys))
    rows = []
    for rec in session.execute(stmt):
        if by == "fleet":
            label, key, sums = FLEET, None, rec[1:]
        elif by == "vehicle":
            label, key, sums = rec[2], rec[1], rec[3:]
        else:
            key = None if rec[1] is None or rec[2] is None else (float(rec[1]), float(rec[2]))
            label, sums = ("unknown" if key is None else f"{key[0]:.6f}, {key[1]:.6f}"), rec[3:]
        sorties, flight_s, distance_m, photos, files, battery, battery_n = sums
        rows.append(StatsRow(period=rec[0], group=label, group_key=key, sorties=int(sorties),
                             flight_s=float(flight_s or 0.0), distance_m=float(distance_m or 0.0),
                             photos=int(photos or 0), photo_files=int(files or 0),
                             battery_used_pct=None if battery is None else float(battery),
                             battery_sorties=int(battery_n)))
    rows.sort(key=lambda r: (r.period, r.group))
    return rows


# ------------------------------------------------------------------ combining and output
def _add(a: StatsRow, b: StatsRow, period: str, group: str, key: Any) -> StatsRow:
    battery = (None if a.battery_used_pct is None and b.battery_used_pct is None
               else (a.battery_used_pct or 0.0) + (b.battery_used_pct or 0.0))
    return StatsRow(period=period, group=group, group_key=key, sorties=a.sorties + b.sorties,
                    flight_s=a.flight_s + b.flight_s, distance_m=a.distance_m + b.distance_m,
                    photos=a.photos + b.photos, photo_files=a.photo_files + b.photo_files,
                    battery_used_pct=battery, battery_sorties=a.battery_sorties + b.battery_sorties)


def combine(rows: Iterable[StatsRow],
            regroup: Callable[[StatsRow], tuple[str, str, Hashable]]) -> list[StatsRow]:
    """Rows summed into new groups: ``regroup(row) -> (period, group label, group key)``.

    Sums are exact (counts and sums of sums). Returns rows ordered by period, then label.
    """
    out: dict[tuple[str, str, Hashable], StatsRow] = {}
    for row in rows:
        period, group, key = regroup(row)
        prev = out.get((period, group, key))
        out[(period, group, key)] = (
            StatsRow(period, group, key, row.sorties, row.flight_s, row.distance_m, row.photos,
                     row.photo_files, row.battery_used_pct, row.battery_sorties)
            if prev is None else _add(prev, row, period, group, key))
    return sorted(out.values(), key=lambda r: (r.period, r.group))


def totals(rows: Iterable[StatsRow], *, period: str = "total", group: str = "all") -> StatsRow:
    """Every row summed into one (all zeros when there is none)."""
    [total] = combine(rows, lambda r: (period, group, None)) or [
        StatsRow(period, group, None, 0, 0.0, 0.0, 0, 0, None, 0)]
    return total


def period_labels(first: str, last: str) -> list[str]:
    """Every day (``YYYY-MM-DD``) or month (``YYYY-MM``) label from ``first`` to ``last``.

    >>> period_labels("2025-11", "2026-02")
    ['2025-11', '2025-12', '2026-01', '2026-02']
    >>> period_labels("2026-02-27", "2026-03-01")
    ['2026-02-27', '2026-02-28', '2026-03-01']
    """
    if len(first) == 7:
        y, m = map(int, first.split("-"))
        labels = []
        while (label := f"{y:04d}-{m:02d}") <= last:
            labels.append(label)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return labels
    day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(day + dt.timedelta(days=i)).isoformat() for i in range((end - day).days + 1)]


def write_csv(rows: Iterable[StatsRow], out: TextIO, *, timezone: str = DEFAULT_TIMEZONE) -> None:
    """Write rows as CSV (header :data:`CSV_COLUMNS`): hours and km to 3 decimals, battery
    percentage points to 1 decimal (empty when unknown), ``timezone`` the zone of the periods."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.period, str(timezone), r.group, r.sorties, f"{r.flight_hours:.3f}",
                         f"{r.distance_km:.3f}", r.photos, r.photo_files,
                         "" if r.battery_used_pct is None else f"{r.battery_used_pct:.1f}", r.battery_sorties])


def text_table(rows: list[StatsRow], *, group_title: str = "group") -> str:
    """Rows as an aligned text table with a total line (what ``patrol stats`` prints)."""
    head = ("period", group_title, "sorties", "hours", "km", "photos", "files", "battery %")

    def cells(r: StatsRow) -> tuple[str, ...]:
        battery = "-" if r.battery_used_pct is None else f"{r.battery_used_pct:.0f} ({r.battery_sorties})"
        return (r.period, r.group, str(r.sorties), f"{r.flight_hours:.2f}", f"{r.distance_km:.1f}",
                str(r.photos), str(r.photo_files), battery)

    body = [cells(r) for r in rows] + [cells(totals(rows))]
    widths = [max(len(c[i]) for c in [head, *body]) for i in range(len(head))]

    def line(c: tuple[str, ...]) -> str:
        return "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *map(line, body[:-1]), rule, line(body[-1])])
