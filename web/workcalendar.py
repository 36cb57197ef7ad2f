"""The bureau's work calendar: working hours, working days, holidays and make-up days (调休).

A case's handling clock (GB/T 30428) runs in working time: a limit of "4 working hours" given at
16:00 on a Friday ends at 11:00 on Monday when the day is 08:30-12:00 and 13:30-17:30. This
module is pure (no database, no Flask): a :class:`WorkCalendar` adds working time to an
instant and measures working time between two instants. Instants are timezone-aware
``datetime``s (any zone; results are UTC); working hours are wall-clock times in the
calendar's IANA time zone (``PATROL_TIMEZONE``, default Asia/Shanghai).

A day is a working day when it is a make-up working day (调休上班), or when it is one of the
working weekdays (Mon-Fri by default) and not a holiday. The calendar is read from a YAML file
(:func:`load_calendar`; the shipped ``web/data/calendar.yaml`` holds the State Council's
2025 and 2026 holidays).

>>> cal = WorkCalendar()  # 08:30-12:00, 13:30-17:30 Asia/Shanghai, Mon-Fri, no holidays
>>> friday_4pm = dt.datetime(2026, 3, 6, 8, 0, tzinfo=dt.timezone.utc)  # 16:00 in Shanghai
>>> cal.add_working_hours(friday_4pm, 4)  # 1.5 h on Friday, 2.5 h on Monday: 11:00 local
datetime.datetime(2026, 3, 9, 3, 0, tzinfo=datetime.timezone.utc)
>>> cal.working_seconds_between(friday_4pm, cal.add_working_hours(friday_4pm, 4)) / 3600
4.0
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from web.errors import WebError

__all__ = [
    "CalendarError",
    "DEFAULT_PERIODS",
    "WorkCalendar",
    "load_calendar",
    "parse_calendar",
    "working_days",
]

DEFAULT_PERIODS = ((dt.time(8, 30), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 30)))
"""Working periods of a day, local wall-clock time: 08:30-12:00 and 13:30-17:30 (7.5 h)."""

MAX_SEARCH_DAYS = 3660
"""Adding working time gives up after this many days without a working period."""

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")


class CalendarError(WebError):
    """A work calendar file or value that cannot be used; ``problems`` lists every fault."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


@dataclass(frozen=True)
class WorkCalendar:
    """Working time of a bureau.

    Parameters
    ----------
    timezone : str
        IANA time zone of the working hours (e.g. ``"Asia/Shanghai"``).
    periods : tuple of (datetime.time, datetime.time)
        Working periods of a working day, local wall-clock time, sorted, not overlapping,
        each within one day (end > start).
    weekdays : frozenset of int
        Working weekdays, 0 = Monday ... 6 = Sunday.
    holidays : frozenset of datetime.date
        Days off although on a working weekday (法定节假日 and their bridging days).
    workdays : frozenset of datetime.date
        Make-up working days (调休上班), working although on a weekend.
    source : str
        Where the calendar came from (a file path, or ``"<built-in>"``), for messages.

    Raises
    ------
    CalendarError
        If the time zone is unknown, periods are empty, unsorted or overlapping, or a day is
        both a holiday and a make-up working day.
    """

    timezone: str = "Asia/Shanghai"
    periods: tuple[tuple[dt.time, dt.time], ...] = DEFAULT_PERIODS
    weekdays: frozenset[int] = frozenset(range(5))
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    source: str = field(default="<built-in>", compare=False)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise CalendarError(f"{self.source}: timezone {self.timezone!r} is not a known "
                                "IANA time zone (e.g. Asia/Shanghai)") from err
        if not self.periods:
            raise CalendarError(f"{self.source}: working_hours is empty")
        previous_end = dt.time(0)
        for start, end in self.periods:
            if not start < end:
                raise CalendarError(f"{self.source}: working period {start:%H:%M}-{end:%H:%M} "
                                    "must end after it starts, within the day")
            if start < previous_end:
                raise CalendarError(f"{self.source}: working period {start:%H:%M}-{end:%H:%M} "
                                    "overlaps or precedes the one before it")
            previous_end = end
        if not set(self.weekdays) <= set(range(7)):
            raise CalendarError(f"{self.source}: weekdays must be 0 (Monday) to 6 (Sunday)")
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise CalendarError(f"{self.source}: {', '.join(map(str, both))} is both a holiday "
                                "and a make-up working day")

    @cached_property
    def tz(self) -> ZoneInfo:
        """The time zone as a ``ZoneInfo``."""
        return ZoneInfo(self.timezone)

    @property
    def day_seconds(self) -> float:
        """Working seconds in one working day (27,000 s = 7.5 h for the default periods).

        >>> WorkCalendar().day_seconds / 3600
        7.5
        """
        return float(sum(_seconds_of(end) - _seconds_of(start) for start, end in self.periods))

    def is_working_day(self, day: dt.date) -> bool:
        """True for a make-up working day, or a working weekday that is not a holiday.

        >>> cal = WorkCalendar(holidays=frozenset({dt.date(2026, 5, 1)}),
        ...                    workdays=frozenset({dt.date(2026, 5, 9)}))
        >>> [cal.is_working_day(dt.date(2026, 5, d)) for d in (1, 4, 9, 10)]  # Fri Mon Sat Sun
        [False, True, True, False]
        """
        if day in self.workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working periods of local ``day`` as UTC instants (empty on a day off)."""
        if not self.is_working_day(day):
            return []
        return [(dt.datetime.combine(day, start, self.tz).astimezone(dt.timezone.utc),
                 dt.datetime.combine(day, end, self.tz).astimezone(dt.timezone.utc))
                for start, end in self.periods]

    def _local_day(self, t: dt.datetime) -> dt.date:
        return _aware(t).astimezone(self.tz).date()

    def add_working_seconds(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The instant ``seconds`` of working time after ``start`` (UTC).

        Time outside working periods does not count; ``seconds == 0`` gives the first working
        instant at or after ``start``. A limit that runs out exactly at the end of a period
        ends there (12:00), not at the start of the next one.

        Raises
        ------
        ValueError
            If ``start`` is naive or ``seconds`` is negative.
        CalendarError
            If no working period is found within :data:`MAX_SEARCH_DAYS` days.

        >>> cal = WorkCalendar()
        >>> t = dt.datetime(2026, 3, 9, 3, 0, tzinfo=dt.timezone.utc)  # Mon 11:00 local
        >>> cal.add_working_seconds(t, 2 * 3600).astimezone(cal.tz).strftime("%a %H:%M")
        'Mon 14:30'
        """
        start = _aware(start)
        if seconds < 0:
            raise ValueError(f"working seconds must be >= 0, got {seconds}")
        remaining = float(seconds)
        day = self._local_day(start)
        for _ in range(MAX_SEARCH_DAYS):
            for a, b in self.intervals(day):
                if b <= start:
                    continue
                s = max(a, start)
                available = (b - s).total_seconds()
                if remaining <= available:
                    return s + dt.timedelta(seconds=remaining)
                remaining -= available
            day += dt.timedelta(days=1)
        raise CalendarError(f"{self.source}: no working time within {MAX_SEARCH_DAYS} days "
                            f"after {start.isoformat()}")

    def add_working_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The instant ``hours`` working hours after ``start`` (UTC); see
        :meth:`add_working_seconds`."""
        return self.add_working_seconds(start, hours * 3600.0)

    def add_working_days(self, start: dt.datetime, days: float) -> dt.datetime:
        """The instant ``days`` working days after ``start`` (UTC).

        A working day is :attr:`day_seconds` of working time, so 1 working day from 10:00 on
        a working day ends at 10:00 on the next working day, and a limit given before the
        day starts ends at the close of the last day.

        >>> cal = WorkCalendar()
        >>> t = dt.datetime(2026, 3, 6, 2, 0, tzinfo=dt.timezone.utc)  # Fri 10:00 local
        >>> cal.add_working_days(t, 1).astimezone(cal.tz).strftime("%a %d %H:%M")
        'Mon 09 10:00'
        """
        return self.add_working_seconds(start, days * self.day_seconds)

    def working_seconds_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working seconds from ``start`` to ``end`` (negative when ``end`` is earlier).

        Raises
        ------
        ValueError
            If either instant is naive.

        >>> cal = WorkCalendar()
        >>> fri = dt.datetime(2026, 3, 6, 0, 0, tzinfo=dt.timezone.utc)  # Fri 08:00 local
        >>> cal.working_seconds_between(fri, fri + dt.timedelta(days=3)) / 3600  # Fri + Sat + Sun
        7.5
        """
        start, end = _aware(start), _aware(end)
        if end < start:
            return -self.working_seconds_between(end, start)
        first, last = self._local_day(start), self._local_day(end)
        total = self._overlap(first, start, end)
        if last > first:
            total += self._overlap(last, start, end)
            total += self.count_working_days(first + dt.timedelta(days=1),
                                             last - dt.timedelta(days=1)) * self.day_seconds
        return total

    def _overlap(self, day: dt.date, start: dt.datetime, end: dt.datetime) -> float:
        total = 0.0
        for a, b in self.intervals(day):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        return total

    def count_working_days(self, first: dt.date, last: dt.date) -> int:
        """Working days from ``first`` to ``last`` inclusive (0 when ``last`` is earlier),
        counted by arithmetic on weeks, then the holidays and make-up days in the range.

        >>> cal = WorkCalendar(holidays=frozenset({dt.date(2026, 5, 1)}),
        ...                    workdays=frozenset({dt.date(2026, 5, 9)}))
        >>> cal.count_working_days(dt.date(2026, 4, 27), dt.date(2026, 5, 10))
        10
        """
        n = (last - first).days + 1
        if n <= 0:
            return 0
        weeks, rest = divmod(n, 7)
        w0 = first.weekday()
        count = weeks * len(self.weekdays) + sum(
            1 for i in range(rest) if (w0 + i) % 7 in self.weekdays)
        count -= sum(1 for d in self.holidays
                     if first <= d <= last and d.weekday() in self.weekdays)
        count += sum(1 for d in self.workdays
                     if first <= d <= last and d.weekday() not in self.weekdays)
        return count

    def describe(self) -> dict[str, Any]:
        """A summary for pages: time zone, periods (``"08:30-12:00"``), weekdays, counts."""
        return {
            "timezone": self.timezone,
            "periods": [f"{a:%H:%M}-{b:%H:%M}" for a, b in self.periods],
            "weekdays": [WEEKDAY_NAMES[d] for d in sorted(self.weekdays)],
            "holidays": len(self.holidays),
            "workdays": len(self.workdays),
            "source": self.source,
        }


def _seconds_of(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _aware(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t!r}: give instants with tzinfo (UTC)")
    return t


# ------------------------------------------------------------------ the YAML file
class _Loader(yaml.SafeLoader):
    """YAML's safe loader leaving dates as text, so a bad date is reported by its entry."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

_TOP_KEYS = {"timezone", "working_hours", "working_weekdays", "holidays", "makeup_workdays"}


def _parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError(f"{value!r} is a date and time; give a date (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")


def _date_entries(values: Any, where: str, problems: list[str]) -> set[dt.date]:
    """Dates of a ``holidays`` / ``makeup_workdays`` list: dates, ``"A..B"`` ranges, or
    mappings ``{date: D}`` / ``{from: A, to: B}`` with an optional ``name``."""
    days: set[dt.date] = set()
    if values is None:
        return days
    if not isinstance(values, list):
        problems.append(f"{where}: must be a list of dates or ranges")
        return days
    for i, entry in enumerate(values):
        at = f"{where}[{i}]"
        try:
            if isinstance(entry, Mapping):
                unknown = set(entry) - {"date", "from", "to", "name"}
                if unknown:
                    raise ValueError(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}; "
                                     "use date, or from and to, and an optional name")
                if "date" in entry:
                    first = last = _parse_date(entry["date"])
                elif "from" in entry and "to" in entry:
                    first, last = _parse_date(entry["from"]), _parse_date(entry["to"])
                else:
                    raise ValueError("give date, or from and to")
            elif isinstance(entry, str) and _RANGE.match(entry):
                m = _RANGE.match(entry)
                first, last = _parse_date(m.group(1)), _parse_date(m.group(2))
            else:
                first = last = _parse_date(entry)
            if last < first:
                raise ValueError(f"range ends ({last}) before it starts ({first})")
            if (last - first).days > 366:
                raise ValueError(f"range {first}..{last} is longer than a year")
            day = first
            while day <= last:
                days.add(day)
                day += dt.timedelta(days=1)
        except ValueError as err:
            problems.append(f"{at}: {err}")
    return days


def _periods(values: Any, where: str, problems: list[str]) -> tuple[tuple[dt.time, dt.time], ...]:
    if not isinstance(values, list) or not values:
        problems.append(f"{where}: must be a non-empty list like "
                        "[\"08:30-12:00\", \"13:30-17:30\"]")
        return ()
    out = []
    for i, text in enumerate(values):
        m = _PERIOD.match(text) if isinstance(text, str) else None
        if m is None:
            problems.append(f"{where}[{i}]: {text!r} is not a period HH:MM-HH:MM")
            continue
        h1, m1, h2, m2 = map(int, m.groups())
        try:
            out.append((dt.time(h1, m1), dt.time(h2, m2)))
        except ValueError as err:
            problems.append(f"{where}[{i}]: {text!r}: {err}")
    return tuple(out)


def _weekdays(values: Any, where: str, problems: list[str]) -> frozenset[int]:
    if not isinstance(values, list) or not values:
        problems.append(f"{where}: must be a non-empty list like [mon, tue, wed, thu, fri]")
        return frozenset()
    out = set()
    for i, value in enumerate(values):
        if isinstance(value, str) and value.strip().lower()[:3] in WEEKDAY_NAMES:
            out.add(WEEKDAY_NAMES.index(value.strip().lower()[:3]))
        elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 7:
            out.add(value - 1)  # ISO: 1 = Monday
        else:
            problems.append(f"{where}[{i}]: {value!r} is not a weekday (mon..sun or 1..7)")
    return frozenset(out)


def parse_calendar(data: Any, *, source: str = "<calendar>",
                   default_timezone: str = "Asia/Shanghai") -> WorkCalendar:
    """A :class:`WorkCalendar` from the parsed YAML document ``data``.

    Keys (all optional): ``timezone`` (IANA name; default ``default_timezone``),
    ``working_hours`` (``["08:30-12:00", "13:30-17:30"]``), ``working_weekdays``
    (``[mon, tue, wed, thu, fri]`` or ISO numbers 1-7), ``holidays`` and ``makeup_workdays``
    (lists of dates, ``"2026-05-01..2026-05-05"`` ranges, or ``{from, to, name}`` /
    ``{date, name}`` mappings).

    Raises
    ------
    CalendarError
        Naming ``source`` and every faulty key or entry.

    >>> cal = parse_calendar({"holidays": ["2026-05-01..2026-05-05"],
    ...                       "makeup_workdays": [{"date": "2026-05-09", "name": "劳动节调休"}]})
    >>> len(cal.holidays), sorted(cal.workdays)
    (5, [datetime.date(2026, 5, 9)])
    >>> parse_calendar({"working_hours": ["8:30 to 12"]}, source="cal.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    web.workcalendar.CalendarError: cal.yaml: working_hours[0]: '8:30 to 12' is not a period ...
    """
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise CalendarError(f"{source}: the calendar must be a YAML mapping (keys "
                            f"{', '.join(sorted(_TOP_KEYS))}), not {type(data).__name__}")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        problems.append(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                        f"known: {', '.join(sorted(_TOP_KEYS))}")
    tz = data.get("timezone") or default_timezone
    if not isinstance(tz, str):
        problems.append(f"timezone: {tz!r} is not an IANA time zone name")
        tz = default_timezone
    periods = _periods(data["working_hours"], "working_hours", problems) \
        if "working_hours" in data else DEFAULT_PERIODS
    weekdays = _weekdays(data["working_weekdays"], "working_weekdays", problems) \
        if "working_weekdays" in data else frozenset(range(5))
    holidays = _date_entries(data.get("holidays"), "holidays", problems)
    workdays = _date_entries(data.get("makeup_workdays"), "makeup_workdays", problems)
    if problems:
        raise CalendarError(f"{source}: " + "; ".join(problems),
                            [f"{source}: {p}" for p in problems])
    return WorkCalendar(timezone=tz, periods=periods, weekdays=weekdays,
                        holidays=frozenset(holidays), workdays=frozenset(workdays), source=source)


def load_calendar(path: Path | str, *, default_timezone: str = "Asia/Shanghai") -> WorkCalendar:
    """Read a work calendar YAML file (see :func:`parse_calendar` for its keys).

    Raises
    ------
    CalendarError
        If the file cannot be read, is not YAML, or has faulty entries (each named).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CalendarError(f"{path}: cannot read the work calendar: {err}") from err
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as err:
        raise CalendarError(f"{path}: not valid YAML: {err}") from err
    return parse_calendar(data, source=str(path), default_timezone=default_timezone)


def working_days(calendar: WorkCalendar, first: dt.date, last: dt.date) -> Iterable[dt.date]:
    """The working days from ``first`` to ``last`` inclusive (a helper for pages and tests)."""
    day = first
    while day <= last:
        if calendar.is_working_day(day):
            yield day
        day += dt.timedelta(days=1)
