"""Jinja filters and the values every template sees (navigation, labels)."""

from __future__ import annotations

import datetime as dt

from flask import Flask, request
from flask_login import current_user

from patrol.db import utcnow
from web.cases import CATEGORIES, category_for, overdue

__all__ = ["NAV", "STATUS_LABELS", "format_duration", "format_utc", "register"]

STATUS_LABELS = {
    "new": "new 待审", "confirmed": "confirmed 确认", "rejected": "rejected 驳回",
    "filed": "filed 立案", "dispatched": "dispatched 派遣", "handled": "handled 处置",
    "verified": "verified 核查", "closed": "closed 结案",
}

NAV = (
    # endpoint, label, roles allowed (None: everyone logged in)
    ("home.index", "Dashboard", None),
    ("mapview.index", "Map", None),
    ("planning.index", "Planning", ("operator", "admin")),
    ("findings.queue", "Findings", ("supervisor", "admin")),
    ("cases.index", "Cases", ("supervisor", "admin", "officer")),
    ("flights.index", "Flights", None),
    ("fleet.live", "Fleet", ("operator", "supervisor", "admin")),
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


def _nav():
    if not current_user.is_authenticated:
        return []
    return [(ep, label, ep.split(".")[0] == request.blueprint)
            for ep, label, roles in NAV if roles is None or current_user.role in roles]


def register(app: Flask) -> None:
    """Add the filters and globals to ``app``'s Jinja environment."""
    app.add_template_filter(format_utc, "utc")
    app.add_template_filter(format_duration, "duration")
    app.add_template_filter(lambda key: category_for(key).label if key in CATEGORIES else key,
                            "category_label")
    app.add_template_filter(lambda s: STATUS_LABELS.get(s, s), "status_label")
    app.add_template_global(category_for, "category_for")
    app.add_template_global(overdue, "is_overdue")
    app.add_template_global(utcnow, "utcnow")
    app.context_processor(lambda: {"nav_items": _nav()})
