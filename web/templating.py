"""Jinja filters and the values every template sees (navigation, labels)."""

from __future__ import annotations

import datetime as dt

from flask import Flask, request
from flask_babel import format_number
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user

from patrol.db import utcnow
from web.cases import CATEGORIES, category_for, overdue, resolve_subclass
from web.case_rules import current_rules
from web.errors import WebError
from web.i18n import current_language

__all__ = ["NAV", "ROLE_LABELS", "STATUS_LABELS", "category_label", "format_count", "format_duration",
           "format_utc", "register"]

STATUS_LABELS = {
    # finding review
    "new": _l("To review"), "confirmed": _l("Confirmed"), "rejected": _l("Rejected"),
    # case workflow (GB/T 30428: 立案, 派遣, 处置, 核查, 结案)
    "reported": lazy_pgettext("case status", "Reported"), "filed": _l("Filed"), "dispatched": _l("Dispatched"),
    "suspended": _l("Suspended"), "handled": _l("Handled"), "verified": _l("Verified"),
    "closed": _l("Closed"), "cancelled": _l("Not filed"),
}
"""Status key -> its name in the current language (English msgids, Chinese in the catalogue)."""

ROLE_LABELS = {
    "admin": _l("Administrator"), "operator": _l("Drone operator"),
    "supervisor": _l("Supervisor"), "officer": _l("Officer"),
}

NAV = (
    # endpoint, label, roles allowed (None: everyone logged in)
    ("home.index", _l("Dashboard"), None),
    ("mapview.index", _l("Map"), None),
    ("planning.index", _l("Planning"), ("operator", "admin")),
    ("findings.queue", _l("Findings"), ("supervisor", "admin")),
    ("cases.index", _l("Cases"), ("supervisor", "admin", "officer")),
    ("dashboard.index", _l("Performance"), ("supervisor", "admin")),
    ("flights.index", _l("Flights"), None),
    ("fleet.live", _l("Fleet"), ("operator", "supervisor", "admin")),
    ("merchants.index", _l("Merchants"), ("supervisor", "admin", "officer")),
    ("admin.users", _l("Admin"), ("admin",)),
)


def format_utc(value: dt.datetime | None, with_seconds: bool = False) -> str:
    """``2026-05-01 08:30 UTC`` (or ``—`` for None).

    >>> format_utc(dt.datetime(2026, 5, 1, 8, 30, 12, tzinfo=dt.timezone.utc))
    '2026-05-01 08:30 UTC'
    """
    if value is None:
        return "—"
    fmt = "%Y-%m-%d %H:%M:%S UTC" if with_seconds else "%Y-%m-%d %H:%M UTC"
    return value.astimezone(dt.timezone.utc).strftime(fmt)


def format_duration(seconds: float | None) -> str:
    """Seconds as ``h:mm:ss`` or ``m:ss``.

    >>> format_duration(164.4), format_duration(3725)
    ('2:44', '1:02:05')
    """
    if seconds is None:
        return "—"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def category_label(key: str) -> str:
    """The name of a category in the console's language, from the taxonomy in use: ``name_zh``
    in Chinese, ``name_en`` in English. ``key`` is a detector label (its default subclass) or a
    subclass code; the key itself when the taxonomy knows neither."""
    if key in CATEGORIES:
        category = CATEGORIES[key]
    else:
        try:
            category = resolve_subclass(current_rules().taxonomy, key)
        except WebError:
            return key
    zh, en = getattr(category, "name_zh", None), getattr(category, "name_en", None)
    return (zh if current_language() == "zh" else en) or zh or en or key


def format_count(value: float | None) -> str:
    """A count with the locale's digit grouping (``12,345``), ``—`` for None."""
    return "—" if value is None else format_number(value)


def _nav():
    if not current_user.is_authenticated:
        return []
    return [(ep, label, ep.split(".")[0] == request.blueprint)
            for ep, label, roles in NAV if roles is None or current_user.role in roles]


def register(app: Flask) -> None:
    """Add the filters and globals to ``app``'s Jinja environment."""
    app.add_template_filter(format_utc, "utc")
    app.add_template_filter(format_duration, "duration")
    app.add_template_filter(category_label, "category_label")
    app.add_template_filter(lambda s: STATUS_LABELS.get(s, s), "status_label")
    app.add_template_filter(lambda r: ROLE_LABELS.get(r, r), "role_label")
    app.add_template_filter(format_count, "count")
    app.add_template_global(category_for, "category_for")
    app.add_template_global(overdue, "is_overdue")
    app.add_template_global(utcnow, "utcnow")
    app.context_processor(lambda: {"nav_items": _nav()})
