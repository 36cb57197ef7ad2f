"""Sentences the system writes about a case, rendered in the viewer's language.

The workflow stores what the system knows as structured data (the report event's ``finding``
snapshot, a re-flight's route and mode, the sighting that reopened a case) and leaves
``Case.description`` / ``CaseEvent.note`` to what people wrote. These functions turn that
data into a sentence through Flask-Babel's gettext, so a Chinese viewer reads Chinese and an
English one English (outside a request: the default locale, ``zh``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from web.models import Case, CaseEvent
from web.templating import category_label, format_utc

__all__ = ["case_description", "drone_description", "event_note"]


def drone_description(snapshot: dict[str, Any]) -> str:
    """``Drone finding #3 (Exposed garbage, score 0.66, seen 2 times)`` in the current
    language, from :func:`web.cases.finding_snapshot`'s dict."""
    n = int(snapshot.get("seen_count") or 0)
    return ngettext("Drone finding #%(id)s (%(category)s, score %(score)s, seen %(num)s time)",
                    "Drone finding #%(id)s (%(category)s, score %(score)s, seen %(num)s times)",
                    n, id=snapshot.get("id"), category=category_label(str(snapshot.get("category"))),
                    score=f"{float(snapshot.get('score') or 0.0):.2f}")


def case_description(case: Case, events: Iterable[CaseEvent] | None = None) -> str:
    """The case's description: what the reporter wrote, else for a drone case the sentence
    of :func:`drone_description` from its report event (``events``: the case's events when
    already loaded; default ``case.events``); ``""`` when there is neither."""
    if (case.description or "").strip():
        return case.description
    for event in (case.events if events is None else events):
        if event.action == "report" and isinstance((event.data or {}).get("finding"), dict):
            return drone_description(event.data["finding"])
    return ""


def _utc(value: str | None) -> str:
    if not value:
        return "—"
    try:
        return format_utc(dt.datetime.fromisoformat(value))
    except ValueError:
        return value


def event_note(event: CaseEvent) -> str:
    """The note of a history step: the system's sentence for a re-flight request or a
    reopening by the system (from ``event.data``), followed by what the person wrote."""
    data = event.data or {}
    text = ""
    if event.action == "reflight" and "route_id" in data:
        mode = {"waypoint": _("waypoint"), "orbit": _("orbit")}.get(data.get("mode"),
                                                                      data.get("mode"))
        text = _("Re-flight requested: route %(route)s (%(mode)s, %(alt)s m)",
                 route=data["route_id"], mode=mode, alt=f"{float(data.get('alt_rel_m', 0)):g}")
    elif event.action == "reopen" and event.user_id is None and "last_seen" in data:
        n = int(data.get("seen_count") or 0)
        text = ngettext("Seen again by the drone at %(seen)s (finding #%(id)s, seen %(num)s time) "
                        "after closing at %(closed)s",
                        "Seen again by the drone at %(seen)s (finding #%(id)s, seen %(num)s times) "
                        "after closing at %(closed)s",
                        n, seen=_utc(data.get("last_seen")), id=data.get("finding_id"),
                        closed=_utc(data.get("closed_at")))
    note = (event.note or "").strip()
    if text and note:
        return _("%(sentence)s. %(note)s", sentence=text, note=note)
    return text or note
