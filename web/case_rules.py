"""Which taxonomy and work calendar the cases use, and the case clock built on them.

Files, first found wins:

- taxonomy: ``PATROL_TAXONOMY_FILE``; else ``<data root>/config/taxonomy.yaml`` (what the
  console's taxonomy page uploads); else the shipped example ``web/data/taxonomy.yaml``.
- work calendar: ``PATROL_CALENDAR_FILE``; else ``<data root>/config/calendar.yaml``; else
  ``web/data/calendar.yaml``. Its time zone defaults to ``PATROL_TIMEZONE``.

Both are read again when the file changes (size or modification time), so an edit applies
to the next request. :func:`case_rules` returns the pair as :class:`CaseRules`.

The clock of a case starts at dispatch. For a limit in working hours or days it runs on the
calendar's working time, for urgent hours on calendar time::

    deadline = clock.add(dispatched_at, time_limit_s + extension_s + suspended_s)

where ``suspended_s`` is the clock time that passed while the case was suspended, so a
suspension shifts the deadline by exactly the time it stopped the clock.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from web.taxonomy import Taxonomy, load_taxonomy, parse_taxonomy
from web.workcalendar import WorkCalendar, load_calendar

__all__ = [
    "CALENDAR_ENV",
    "CaseRules",
    "DEFAULT_CALENDAR_FILE",
    "DEFAULT_TAXONOMY_FILE",
    "TAXONOMY_ENV",
    "calendar_path",
    "case_rules",
    "clock_add",
    "clock_between",
    "current_rules",
    "replace_taxonomy",
    "taxonomy_history",
    "taxonomy_path",
]

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_TAXONOMY_FILE = DATA / "taxonomy.yaml"
DEFAULT_CALENDAR_FILE = DATA / "calendar.yaml"
TAXONOMY_ENV = "PATROL_TAXONOMY_FILE"
CALENDAR_ENV = "PATROL_CALENDAR_FILE"
CONFIG_DIR = "config"
HISTORY_DIR = "taxonomy-history"


@dataclass(frozen=True)
class CaseRules:
    """The taxonomy and the work calendar cases are filed and timed by."""

    taxonomy: Taxonomy
    calendar: WorkCalendar


def _pick(env_key: str, name: str, default: Path, data_dir: Path | None,
          environ: Mapping[str, str] | None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(env_key):
        return Path(env[env_key]).expanduser()
    if data_dir is not None:
        local = Path(data_dir) / CONFIG_DIR / name
        if local.is_file():
            return local
    return default


def taxonomy_path(data_dir: Path | None = None,
                  environ: Mapping[str, str] | None = None) -> Path:
    """The taxonomy file in use (see the module docstring for the order)."""
    return _pick(TAXONOMY_ENV, "taxonomy.yaml", DEFAULT_TAXONOMY_FILE, data_dir, environ)


def calendar_path(data_dir: Path | None = None,
                  environ: Mapping[str, str] | None = None) -> Path:
    """The work calendar file in use (see the module docstring for the order)."""
    return _pick(CALENDAR_ENV, "calendar.yaml", DEFAULT_CALENDAR_FILE, data_dir, environ)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=16)
def _taxonomy(path: Path, _stamp: tuple[int, int]) -> Taxonomy:
    return load_taxonomy(path)


@lru_cache(maxsize=16)
def _calendar(path: Path, _stamp: tuple[int, int], timezone: str) -> WorkCalendar:
    return load_calendar(path, default_timezone=timezone)


def case_rules(data_dir: Path | None = None, *, timezone: str | None = None,
               environ: Mapping[str, str] | None = None) -> CaseRules:
    """The taxonomy and calendar in use for the data root ``data_dir`` (None: only the
    environment and the shipped files).

    ``timezone`` is the calendar's zone when its file names none (default
    ``PATROL_TIMEZONE`` or Asia/Shanghai).

    Raises
    ------
    TaxonomyError, CalendarError
        If a file in use is faulty (the message names file, entry and field).
    """
    env = os.environ if environ is None else environ
    tz = timezone or env.get("PATROL_TIMEZONE") or "Asia/Shanghai"
    tpath, cpath = taxonomy_path(data_dir, env), calendar_path(data_dir, env)
    return CaseRules(taxonomy=_taxonomy(tpath, _stamp(tpath)),
                     calendar=_calendar(cpath, _stamp(cpath), tz))


# ------------------------------------------------------------------ the case clock
def clock_add(calendar: WorkCalendar, clock: str, start: dt.datetime,
              seconds: float) -> dt.datetime:
    """``start`` plus ``seconds`` of a clock: ``"working"`` (the calendar's working time) or
    ``"calendar"`` (plain time, for urgent hours). Returns UTC.

    >>> cal = WorkCalendar()
    >>> sat = dt.datetime(2026, 3, 7, 2, 0, tzinfo=dt.timezone.utc)  # Saturday 10:00 local
    >>> clock_add(cal, "calendar", sat, 3600).isoformat()
    '2026-03-07T03:00:00+00:00'
    >>> clock_add(cal, "working", sat, 3600).isoformat()  # Monday 09:30 local
    '2026-03-09T01:30:00+00:00'
    """
    if clock == "calendar":
        return (start + dt.timedelta(seconds=seconds)).astimezone(dt.timezone.utc)
    if clock == "working":
        return calendar.add_working_seconds(start, seconds)
    raise ValueError(f"clock {clock!r} is not 'working' or 'calendar'")


def clock_between(calendar: WorkCalendar, clock: str, start: dt.datetime,
                  end: dt.datetime) -> float:
    """Seconds of a clock from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    if clock == "calendar":
        return (end - start).total_seconds()
    if clock == "working":
        return calendar.working_seconds_between(start, end)
    raise ValueError(f"clock {clock!r} is not 'working' or 'calendar'")


# ------------------------------------------------------------------ replacing the taxonomy
def taxonomy_history(data_dir: Path) -> list[Path]:
    """Earlier taxonomy files kept by :func:`replace_taxonomy`, newest first."""
    folder = Path(data_dir) / CONFIG_DIR / HISTORY_DIR
    return sorted(folder.glob("taxonomy-*.yaml"), reverse=True) if folder.is_dir() else []


def replace_taxonomy(data_dir: Path, content: bytes, *, now: dt.datetime,
                     source_name: str = "upload",
                     environ: Mapping[str, str] | None = None) -> tuple[Taxonomy, Path | None]:
    """Check ``content`` and make it the taxonomy in use, keeping the previous file.

    The new file replaces the file in use when it is the bureau's (``PATROL_TAXONOMY_FILE``
    or ``<data root>/config/taxonomy.yaml``); when the shipped example is in use it is
    written to ``<data root>/config/taxonomy.yaml``. The file it replaces is copied to
    ``<data root>/config/taxonomy-history/taxonomy-<UTC time>.yaml`` first. Nothing is
    written when the content is faulty.

    Returns
    -------
    (Taxonomy, Path or None)
        The new taxonomy (``source`` is the file written) and the kept copy of the previous
        file (None when the shipped example was in use).

    Raises
    ------
    TaxonomyError
        If the content is faulty (nothing is written; messages name ``source_name``).
    OSError
        If the file cannot be written.
    """
    parse_taxonomy(content, source=source_name)  # raises before anything is touched
    current = taxonomy_path(data_dir, environ)
    target = Path(data_dir) / CONFIG_DIR / "taxonomy.yaml" \
        if current.resolve() == DEFAULT_TAXONOMY_FILE else current
    kept = None
    if current.resolve() != DEFAULT_TAXONOMY_FILE and current.is_file():
        history = Path(data_dir) / CONFIG_DIR / HISTORY_DIR
        history.mkdir(parents=True, exist_ok=True)
        stamp = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        kept = history / f"taxonomy-{stamp}.yaml"
        shutil.copyfile(current, kept)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".taxonomy-", suffix=".yaml")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return load_taxonomy(target), kept


def current_rules() -> CaseRules:
    """The rules of the running console (its data root and time zone) inside a Flask app
    context, else those of the environment and the shipped files (:func:`case_rules`)."""
    from flask import current_app, has_app_context

    if has_app_context():
        state = current_app.extensions.get("drone_patrol")
        if state is not None:
            return case_rules(state.settings.data_dir, timezone=state.settings.timezone)
    return case_rules()
