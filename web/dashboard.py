"""The bureau's figures: flying, findings and cases, with the rates of the digital
city-management evaluation, by squad, grid, category and month (no Flask here).

What is counted
---------------
Periods are local calendar days (the bureau's time zone, ``PATROL_TIMEZONE``) and months.

- **Flying**: sorties, flight hours and kilometres of the flights that took off in the period
  (:func:`web.fleet_stats.fleet_statistics`: sums of the flight summaries; a flight belongs to
  the squad whose jurisdiction holds its take-off point).
- **Findings**: what vision flagged in the period (first seen: ``Finding.first_seen_utc``, else
  when it was stored), by detector category and review status (``new``, ``confirmed``,
  ``rejected``).
- **Cases**: the cases handed over (移交: filed, 立案; ``Case.filed_at``) in the period, each counted in the local month of its filing, with its state as of
  ``as_of`` (default now). Reports not filed (``reported``) or refused (``cancelled``,
  不予立案) are not cases handed over.

Rates
-----
The evaluation indicators of the digital city-management standards (GB/T 30428.4 performance
evaluation, continuing CJ/T 292 城市市政综合监管信息系统 绩效评价), as cities publish them
(e.g. 天门 12/2016: 应结案 972, 结案 911, 结案率 93.72 %, 按期结案 737, 按期结案率 75.82 %).
Every rate is a fraction in [0, 1], or None when its denominator is 0.

- 应结案数 *cases due* = cases closed + open cases past their deadline at ``as_of``
  (:func:`web.cases.overdue_clause`: the clock runs, i.e. dispatched, handled or verified,
  and the deadline, extensions included, has passed). An open case still within its time
  limit, or suspended, is not yet due.
- 结案率 *closure rate* = closed / due.
- 按期结案率 *timely-closure rate* = closed on time / due, where *closed on time* means
  ``closed_at <= deadline_utc`` (the deadline in force: extensions granted and time
  suspended move it).
- *on-time share of closed* = closed on time / closed (the share of the closed cases that were
  closed by their deadline; reported beside the standard rate, whose denominator is the
  cases due).
- 返工率 *rework rate* = cases returned for rework at least once (``rework_count > 0``) / cases
  verification decided on (核查: passed, ``verified_at`` set or the case closed or reopened
  since, or returned for rework).
- 有效上报率 *valid report rate*, per detector category: findings confirmed / findings
  reviewed (confirmed + rejected). The AI is scored as an information collector
  (信息采集员): what it reports is valid when a supervisor confirms it.

Everything is computed by the database: one ``GROUP BY`` over the cases (squad, grid,
category, local month) that reads only the covering index ``ix_case_dashboard``, one over the
findings (category, status) on ``ix_finding_dashboard``, and the flight statistics' own; the
same SQL on SQLite and PostgreSQL. Python adds the groups up into the four breakdowns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from flight_logs.stats import (DEFAULT_TIMEZONE, StatsRow, local_day_bounds, period_labels,
                               time_zone, totals, utc_offset_segments)
from patrol.db import utcnow
from vision.models import Finding
from web.fleet_stats import NO_SQUAD, fleet_statistics
from web.cases import overdue_clause
from web.models import Case, Grid, Squad

__all__ = [
    "CaseFigures",
    "Dashboard",
    "FindingFigures",
    "FlightFigures",
    "Group",
    "CaseRow",
    "case_figures",
    "case_rows",
    "dashboard",
    "finding_figures",
    "flight_figures",
    "local_month",
    "rate",
]

CLOSED = "closed"
FINDING_STATUSES = ("new", "confirmed", "rejected")


def rate(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, None when the denominator is 0.

    >>> rate(911, 972) is not None and round(rate(911, 972), 4)
    0.9372
    >>> rate(0, 0) is None
    True
    """
    return None if denominator == 0 else numerator / denominator


# ------------------------------------------------------------------ figures
@dataclass(frozen=True)
class CaseFigures:
    """Counts of a group of cases and the rates made from them (module notes).

    ``filed`` cases handed over; ``closed``; ``closed_on_time``; ``overdue_open`` open (not
    suspended) and past the deadline; ``suspended``; ``verified`` cases verification decided
    on; ``reworked`` cases returned for rework at least once.
    """

    filed: int = 0
    closed: int = 0
    closed_on_time: int = 0
    overdue_open: int = 0
    suspended: int = 0
    verified: int = 0
    reworked: int = 0

    def __add__(self, other: "CaseFigures") -> "CaseFigures":
        return CaseFigures(*(a + b for a, b in zip(_astuple(self), _astuple(other))))

    @property
    def in_progress(self) -> int:
        """Handed over and not closed (suspended cases included)."""
        return self.filed - self.closed

    @property
    def due(self) -> int:
        """应结案数: closed plus open past the deadline."""
        return self.closed + self.overdue_open

    @property
    def closure_rate(self) -> float | None:
        """结案率 = closed / due."""
        return rate(self.closed, self.due)

    @property
    def timely_closure_rate(self) -> float | None:
        """按期结案率 = closed on time / due."""
        return rate(self.closed_on_time, self.due)

    @property
    def on_time_share(self) -> float | None:
        """Closed on time / closed."""
        return rate(self.closed_on_time, self.closed)

    @property
    def rework_rate(self) -> float | None:
        """返工率 = returned for rework / verified."""
        return rate(self.reworked, self.verified)

    def to_dict(self) -> dict[str, Any]:
        """Counts and rates (fractions, None without a denominator) as a JSON-ready dict."""
        return {**asdict(self), "in_progress": self.in_progress, "due": self.due,
                "closure_rate": self.closure_rate, "timely_closure_rate": self.timely_closure_rate,
                "on_time_share": self.on_time_share, "rework_rate": self.rework_rate}


FIELDS = ("filed", "closed", "closed_on_time", "overdue_open", "suspended", "verified", "reworked")
"""The counts of :class:`CaseFigures`, in order."""


def _astuple(figures: CaseFigures) -> tuple[int, ...]:
    return tuple(getattr(figures, f) for f in FIELDS)


@dataclass(frozen=True)
class FindingFigures:
    """Findings of one detector category: flagged, by review status, and the valid report
    rate 有效上报率 = confirmed / (confirmed + rejected)."""

    category: str
    new: int = 0
    confirmed: int = 0
    rejected: int = 0

    @property
    def flagged(self) -> int:
        return self.new + self.confirmed + self.rejected

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.rejected

    @property
    def valid_report_rate(self) -> float | None:
        return rate(self.confirmed, self.reviewed)

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "flagged": self.flagged, "new": self.new,
                "confirmed": self.confirmed, "rejected": self.rejected, "reviewed": self.reviewed,
                "valid_report_rate": self.valid_report_rate}


@dataclass(frozen=True)
class FlightFigures:
    """Sorties, flight hours and kilometres of one group (``label``) in one period."""

    label: str
    sorties: int
    flight_hours: float
    distance_km: float

    @classmethod
    def of(cls, label: str, row: StatsRow) -> "FlightFigures":
        return cls(label, row.sorties, round(row.flight_hours, 3), round(row.distance_km, 3))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CaseRow:
    """Figures of the cases of one squad (id or None), grid (id or None), category (subclass
    code) and local month ``YYYY-MM`` of filing; ``names`` the category's (zh, en) names as
    the cases recorded them."""

    squad_id: int | None
    grid_id: int | None
    category: str
    month: str
    names: tuple[str, str]
    cases: CaseFigures


@dataclass(frozen=True)
class Group:
    """One row of a breakdown: ``key`` (squad id, grid id, category code or ``YYYY-MM``; None
    for "none"), the ``label`` shown, the group's :class:`CaseFigures` and, for categories,
    ``names`` (zh, en)."""

    key: Any
    label: str
    cases: CaseFigures
    names: tuple[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"key": self.key, "label": self.label, **self.cases.to_dict()}
        if self.names is not None:
            out["name_zh"], out["name_en"] = self.names
        return out


@dataclass
class Dashboard:
    """Everything the dashboard shows for one query (module notes for the definitions).

    ``first_day``/``last_day`` the local days queried (None: unbounded); ``as_of`` the UTC
    instant the case states are read at.
    """

    first_day: dt.date | None
    last_day: dt.date | None
    timezone: str
    as_of: dt.datetime
    flights: FlightFigures
    flights_by_month: list[FlightFigures]
    flights_by_squad: list[FlightFigures]
    findings: list[FindingFigures]
    cases: CaseFigures
    by_squad: list[Group] = field(default_factory=list)
    by_grid: list[Group] = field(default_factory=list)
    by_category: list[Group] = field(default_factory=list)
    by_month: list[Group] = field(default_factory=list)

    @property
    def findings_total(self) -> FindingFigures:
        """All categories together."""
        return FindingFigures("all", sum(f.new for f in self.findings),
                              sum(f.confirmed for f in self.findings),
                              sum(f.rejected for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        """The whole dashboard as JSON-ready data (dates ISO 8601)."""
        return {
            "first_day": None if self.first_day is None else self.first_day.isoformat(),
            "last_day": None if self.last_day is None else self.last_day.isoformat(),
            "timezone": self.timezone,
            "as_of": self.as_of.isoformat(),
            "flights": self.flights.to_dict(),
            "flights_by_month": [f.to_dict() for f in self.flights_by_month],
            "flights_by_squad": [f.to_dict() for f in self.flights_by_squad],
            "findings": self.findings_total.to_dict(),
            "findings_by_category": [f.to_dict() for f in self.findings],
            "cases": self.cases.to_dict(),
            "cases_by_squad": [g.to_dict() for g in self.by_squad],
            "cases_by_grid": [g.to_dict() for g in self.by_grid],
            "cases_by_category": [g.to_dict() for g in self.by_category],
            "cases_by_month": [g.to_dict() for g in self.by_month],
        }


# ------------------------------------------------------------------ SQL helpers
def local_month(column, dialect: str, segments: list[tuple[dt.datetime | None, int]]):
    """SQL for the local month ``YYYY-MM`` of a UTC timestamp column.

    ``segments`` are the zone's UTC offsets (:func:`flight_logs.stats.utc_offset_segments`)
    over the span queried; ``dialect`` is ``"sqlite"`` or ``"postgresql"``.

    Raises
    ------
    ValueError
        For another database dialect.
    """
    if len(segments) == 1:
        offset = sa.literal(segments[0][1], sa.Integer)
    else:  # the offset of the last segment starting at or before the timestamp
        whens = [(column < start, off) for (_, off), (start, _) in zip(segments, segments[1:])]
        offset = sa.case(*whens, else_=segments[-1][1])
    if dialect == "sqlite":
        return sa.func.strftime("%Y-%m", column, sa.cast(offset, sa.String).concat(" seconds"))
    if dialect == "postgresql":
        return sa.func.to_char(column + offset * sa.literal_column("INTERVAL '1 second'"), "YYYY-MM")
    raise ValueError(f"local months are written for SQLite and PostgreSQL, not {dialect}")


# ------------------------------------------------------------------ queries
def _case_groups(session: Session, *, first_day: dt.date | None = None,
                 last_day: dt.date | None = None, timezone: str = DEFAULT_TIMEZONE,
                 squad_id: int | None = None, as_of: dt.datetime | None = None):
    """``(keys, counts, names)``: group keys ``(squad id, grid id, category, month)``, an
    (n, 7) array of the :class:`CaseFigures` counts in field order, category names."""
    zone = time_zone(timezone)
    as_of = utcnow() if as_of is None else as_of
    start, end = local_day_bounds(first_day, last_day, zone)
    where = [Case.filed_at.is_not(None)]
    if start is not None:
        where.append(Case.filed_at >= start)
    if end is not None:
        where.append(Case.filed_at < end)
    if squad_id is not None:
        where.append(Case.squad_id == squad_id)
    first = session.scalar(sa.select(sa.func.min(Case.filed_at)).where(*where))
    if first is None:
        return [], np.zeros((0, len(FIELDS)), dtype=np.int64), {}
    last = session.scalar(sa.select(sa.func.max(Case.filed_at)).where(*where))
    month = local_month(Case.filed_at, session.get_bind().dialect.name,
                        utc_offset_segments(zone, first, last))
    closed = Case.status == CLOSED
    reworked = Case.rework_count > 0
    decided = sa.or_(Case.verified_at.is_not(None), reworked, closed, Case.reopen_count > 0)

    def count_if(cond):
        return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)

    stmt = (sa.select(Case.squad_id, Case.grid_id, Case.category, month.label("month"),
                      sa.func.count(),
                      count_if(closed),
                      count_if(sa.and_(closed, Case.closed_at <= Case.deadline_utc)),
                      count_if(overdue_clause(as_of)),
                      count_if(Case.status == "suspended"),
                      count_if(decided),
                      count_if(reworked))
            .where(*where)
            .group_by(Case.squad_id, Case.grid_id, Case.category, month))
    # Core rows (no ORM row processing): thousands of groups when grids are many
    rows = session.connection().execute(stmt).all()
    names = {}
    for category in {r[2] for r in rows}:  # as the cases recorded them: one indexed look-up each
        zh, en = session.execute(
            sa.select(Case.category_name_zh, Case.category_name_en)
            .where(Case.category == category).order_by(Case.id.desc()).limit(1)).one()
        names[category] = (zh or "", en or "")
    keys = [tuple(r[:4]) for r in rows]
    counts = np.array([r[4:] for r in rows], dtype=np.int64).reshape(len(rows), len(FIELDS))
    return keys, counts, names


def case_rows(session: Session, **query: Any) -> list["CaseRow"]:
    """Case figures per ``(squad id, grid id, category, local month of filing)``: one
    ``GROUP BY`` query over the case table (the workflow keeps the verification and rework
    marks on each case: ``verified_at``, ``rework_count``, ``reopen_count``).

    ``query``: ``first_day``, ``last_day`` (local days of filing), ``timezone``, ``squad_id``,
    ``as_of`` (the UTC instant states are judged at; default now).

    Raises
    ------
    ValueError
        If ``last_day`` is before ``first_day`` or the zone is unknown.
    """
    keys, counts, names = _case_groups(session, **query)
    return [CaseRow(*key, names[key[2]], CaseFigures(*(int(v) for v in row)))
            for key, row in zip(keys, counts)]


def case_figures(session: Session, **query: Any) -> tuple[CaseFigures, dict[str, list[Group]]]:
    """Total case figures and the breakdowns ``squad``, ``grid``, ``category`` and ``month``.

    ``query`` as :func:`case_rows`. Groups are ordered by label (months in order, every month
    from the first to the last listed, empty ones included).
    """
    keys, counts, names = _case_groups(session, **query)
    total = CaseFigures(*(int(v) for v in counts.sum(axis=0))) if len(keys) else CaseFigures()
    sums: dict[str, dict[Any, CaseFigures]] = {}
    for dim, name in enumerate(("squad", "grid", "category", "month")):
        index: dict[Any, int] = {}
        codes = np.array([index.setdefault(k[dim], len(index)) for k in keys], dtype=np.int64)
        acc = np.zeros((len(index), len(FIELDS)), dtype=np.int64)
        np.add.at(acc, codes, counts)
        sums[name] = {k: CaseFigures(*(int(v) for v in acc[i])) for k, i in index.items()}
    squads = dict(session.execute(sa.select(Squad.id, Squad.name).where(
        Squad.id.in_([k for k in sums["squad"] if k is not None]))).all())
    grids = {gid: f"{code} {name}".strip() for gid, code, name in session.execute(
        sa.select(Grid.id, Grid.code, Grid.name).where(
            Grid.id.in_([k for k in sums["grid"] if k is not None])))}

    def groups(name: str, labels: dict[Any, str], none_label: str) -> list[Group]:
        out = [Group(k, labels.get(k, str(k)) if k is not None else none_label, v,
                     names.get(k) if name == "category" else None)
               for k, v in sums[name].items()]
        return sorted(out, key=lambda g: (g.key is None, g.label))

    months = sums["month"]
    if months:
        keys = sorted(months)
        labels = period_labels(keys[0], keys[-1])
        by_month = [Group(m, m, months.get(m, CaseFigures())) for m in labels]
    else:
        by_month = []
    return total, {
        "squad": groups("squad", squads, NO_SQUAD),
        "grid": groups("grid", grids, "(no grid)"),
        "category": groups("category", {k: (n[0] or n[1] or k) for k, n in names.items()},
                           "(none)"),
        "month": by_month,
    }


def finding_figures(session: Session, *, first_day: dt.date | None = None,
                    last_day: dt.date | None = None,
                    timezone: str = DEFAULT_TIMEZONE) -> list[FindingFigures]:
    """Findings first seen in the period per detector category and review status, by category.

    Raises
    ------
    ValueError
        If ``last_day`` is before ``first_day`` or the zone is unknown.
    """
    start, end = local_day_bounds(first_day, last_day, time_zone(timezone))
    seen = sa.func.coalesce(Finding.first_seen_utc, Finding.created_at)
    where = []
    if start is not None:
        where.append(seen >= start)
    if end is not None:
        where.append(seen < end)
    counts: dict[str, dict[str, int]] = {}
    for category, status, n in session.execute(
            sa.select(Finding.category, Finding.status, sa.func.count()).where(*where)
            .group_by(Finding.category, Finding.status)):
        counts.setdefault(category, {})[status] = int(n)
    return [FindingFigures(cat, **{s: c.get(s, 0) for s in FINDING_STATUSES})
            for cat, c in sorted(counts.items())]


def flight_figures(session: Session, *, first_day: dt.date | None = None,
                   last_day: dt.date | None = None, timezone: str = DEFAULT_TIMEZONE
                   ) -> tuple[FlightFigures, list[FlightFigures], list[FlightFigures]]:
    """``(total, by month, by squad)`` sorties, hours and km of the flights in the period.

    Months run from the first to the last with flights, empty ones included.
    """
    rows = fleet_statistics(session, by="squad", period="month", first_day=first_day,
                            last_day=last_day, timezone=timezone)
    total = FlightFigures.of("all", totals(rows))
    by_month: list[FlightFigures] = []
    if rows:
        for month in period_labels(rows[0].period, rows[-1].period):
            by_month.append(FlightFigures.of(month, totals([r for r in rows if r.period == month])))
    squads = sorted({r.group for r in rows}, key=lambda name: (name == NO_SQUAD, name))
    by_squad = [FlightFigures.of(name, totals([r for r in rows if r.group == name]))
                for name in squads]
    return total, by_month, by_squad


def dashboard(session: Session, *, first_day: dt.date | None = None,
              last_day: dt.date | None = None, timezone: str = DEFAULT_TIMEZONE,
              squad_id: int | None = None, as_of: dt.datetime | None = None) -> Dashboard:
    """Every figure of the dashboard for local days ``first_day`` .. ``last_day``.

    Parameters
    ----------
    session : Session
        Any session (only read).
    first_day, last_day : datetime.date, optional
        Local days bounding take-offs, flagging and filing (both included).
    timezone : str
        The bureau's IANA time zone.
    squad_id : int, optional
        Only this squad's cases (flying and findings stay bureau-wide).
    as_of : datetime, optional
        UTC instant the case states are judged at (default now).

    Raises
    ------
    ValueError
        If ``last_day`` is before ``first_day`` or the zone is unknown.
    """
    as_of = utcnow() if as_of is None else as_of
    total, groups = case_figures(session, first_day=first_day, last_day=last_day,
                                 timezone=timezone, squad_id=squad_id, as_of=as_of)
    flown, by_month, by_squad = flight_figures(session, first_day=first_day, last_day=last_day,
                                               timezone=timezone)
    return Dashboard(
        first_day=first_day, last_day=last_day, timezone=str(timezone), as_of=as_of,
        flights=flown, flights_by_month=by_month, flights_by_squad=by_squad,
        findings=finding_figures(session, first_day=first_day, last_day=last_day,
                                 timezone=timezone),
        cases=total, by_squad=groups["squad"], by_grid=groups["grid"],
        by_category=groups["category"], by_month=groups["month"])
