"""The work calendar (web.workcalendar): working hours and days, holidays and make-up days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from web.case_rules import DEFAULT_CALENDAR_FILE
from web.workcalendar import (CalendarError, WorkCalendar, load_calendar, parse_calendar,
                              working_days)

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc


def local(y, mo, d, h=0, mi=0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


# A holiday week written for the test (generated): Labour Day 2026 as the State Council set
# it, Fri 1 May - Tue 5 May off, Saturday 9 May worked instead.
HOLIDAY_WEEK = """
timezone: Asia/Shanghai
working_hours: ["08:30-12:00", "13:30-17:30"]
working_weekdays: [mon, tue, wed, thu, fri]
holidays:
  - {from: 2026-05-01, to: 2026-05-05, name: 劳动节}
makeup_workdays:
  - 2026-05-09
"""


@pytest.fixture
def cal(tmp_path) -> WorkCalendar:
    path = tmp_path / "calendar.yaml"
    path.write_text(HOLIDAY_WEEK, encoding="utf-8")
    return load_calendar(path)


def test_days_of_the_holiday_week(cal):
    days = list(working_days(cal, dt.date(2026, 4, 27), dt.date(2026, 5, 10)))
    assert days == [dt.date(2026, 4, d) for d in (27, 28, 29, 30)] + \
        [dt.date(2026, 5, d) for d in (6, 7, 8, 9)]
    assert cal.day_seconds == 7.5 * 3600


def test_working_hours_skip_the_holidays(cal):
    thursday_4pm = local(2026, 4, 30, 16, 0)
    # 1.5 h on Thursday, then nothing until Wednesday 6 May 08:30: 2.5 h more ends at 11:00
    assert cal.add_working_hours(thursday_4pm, 4) == local(2026, 5, 6, 11, 0).astimezone(UTC)
    assert cal.add_working_hours(thursday_4pm, 4).tzinfo == UTC


def test_a_limit_given_on_a_holiday_starts_on_the_next_working_day(cal):
    may_day = local(2026, 5, 1, 17, 0)
    assert cal.add_working_seconds(may_day, 0) == local(2026, 5, 6, 8, 30)
    assert cal.add_working_hours(may_day, 4) == local(2026, 5, 6, 14, 0)


def test_working_days_run_through_the_makeup_saturday(cal):
    friday_10am = local(2026, 5, 8, 10, 0)
    assert cal.add_working_days(friday_10am, 1) == local(2026, 5, 9, 10, 0)  # Saturday worked
    assert cal.add_working_days(friday_10am, 2) == local(2026, 5, 11, 10, 0)  # Sunday off


def test_counting_working_time_between_two_times(cal):
    assert cal.working_seconds_between(local(2026, 4, 30, 17, 0), local(2026, 5, 6, 9, 0)) == \
        (30 + 30) * 60
    # a whole week across the holiday: Mon-Thu before it, Wed-Sat after it
    week = cal.working_seconds_between(local(2026, 4, 27), local(2026, 5, 10))
    assert week == 8 * cal.day_seconds
    assert cal.working_seconds_between(local(2026, 5, 10), local(2026, 4, 27)) == -week
    assert cal.working_seconds_between(local(2026, 5, 6, 12, 0), local(2026, 5, 6, 13, 30)) == 0


@pytest.mark.parametrize("hours", [0.25, 1, 3.5, 4, 7.5, 11, 40])
def test_adding_then_counting_gives_back_the_hours(cal, hours):
    for start in (local(2026, 4, 30, 7, 0), local(2026, 4, 30, 12, 15), local(2026, 5, 2, 9),
                  local(2026, 5, 8, 17, 29)):
        end = cal.add_working_hours(start, hours)
        assert cal.working_seconds_between(start, end) == pytest.approx(hours * 3600)


def test_a_limit_running_out_at_noon_ends_at_noon(cal):
    assert cal.add_working_hours(local(2026, 5, 6, 8, 30), 3.5) == local(2026, 5, 6, 12, 0)


def test_shipped_calendar_has_the_2026_holidays():
    cal = load_calendar(DEFAULT_CALENDAR_FILE)
    assert cal.timezone == "Asia/Shanghai"
    assert not cal.is_working_day(dt.date(2026, 10, 1))
    assert not cal.is_working_day(dt.date(2026, 2, 16))
    assert cal.is_working_day(dt.date(2026, 9, 20)) and cal.is_working_day(dt.date(2026, 2, 14))
    assert cal.is_working_day(dt.date(2026, 5, 6)) and not cal.is_working_day(dt.date(2026, 5, 4))


def test_naive_times_and_negative_durations_are_refused(cal):
    with pytest.raises(ValueError, match="naive datetime"):
        cal.add_working_hours(dt.datetime(2026, 5, 6, 9), 1)
    with pytest.raises(ValueError, match="naive datetime"):
        cal.working_seconds_between(local(2026, 5, 6), dt.datetime(2026, 5, 7))
    with pytest.raises(ValueError, match=">= 0"):
        cal.add_working_hours(local(2026, 5, 6), -1)


def test_a_calendar_without_working_days_gives_up():
    cal = WorkCalendar(weekdays=frozenset())
    with pytest.raises(CalendarError, match="no working time within"):
        cal.add_working_hours(local(2026, 5, 6), 1)


@pytest.mark.parametrize("text, problem", [
    ("working_hours: ['08:30-12:00', '11:00-17:30']", "overlaps"),
    ("working_hours: ['12:00-08:30']", "must end after it starts"),
    ("working_hours: ['8.30-12']", "working_hours[0]: '8.30-12' is not a period HH:MM-HH:MM"),
    ("working_weekdays: [mon, funday]", "working_weekdays[1]: 'funday' is not a weekday"),
    ("holidays: [2026-13-01]", "holidays[0]: '2026-13-01' is not a date"),
    ("holidays: [{from: 2026-05-05, to: 2026-05-01}]",
     "holidays[0]: range ends (2026-05-01) before"),
    ("holidays: [2026-05-09]\nmakeup_workdays: [2026-05-09]", "both a holiday and a make-up"),
    ("timezone: Mars/Olympus", "'Mars/Olympus' is not a known IANA time zone"),
    ("workhours: ['08:30-12:00']", "unknown key(s) workhours"),
    ("- 2026-05-01", "must be a YAML mapping"),
])
def test_bad_calendar_files_are_named_precisely(tmp_path, text, problem):
    path = tmp_path / "bureau-calendar.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError) as err:
        load_calendar(path)
    assert str(err.value).startswith(str(path)) and problem in str(err.value)


def test_every_problem_of_a_file_is_listed():
    with pytest.raises(CalendarError) as err:
        parse_calendar({"holidays": ["x", "2026-05-01"], "makeup_workdays": ["y"]},
                       source="c.yaml")
    assert err.value.problems == ["c.yaml: holidays[0]: 'x' is not a date (YYYY-MM-DD)",
                                  "c.yaml: makeup_workdays[0]: 'y' is not a date (YYYY-MM-DD)"]


def test_an_unreadable_file_is_named(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(CalendarError, match=f"{missing}: cannot read"):
        load_calendar(missing)
    assert isinstance(Path(DEFAULT_CALENDAR_FILE), Path)


def test_counting_days_by_arithmetic_matches_walking_them():
    cal = load_calendar(DEFAULT_CALENDAR_FILE)
    for offset in range(0, 70, 3):
        first = dt.date(2024, 12, 20) + dt.timedelta(days=offset)
        for length in (-1, 0, 1, 5, 6, 7, 8, 13, 30, 400, 700):
            last = first + dt.timedelta(days=length)
            assert cal.count_working_days(first, last) == \
                len(list(working_days(cal, first, last))), (first, last)
