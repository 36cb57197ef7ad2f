"""The dashboard of the bureau's figures (:mod:`web.dashboard`), for supervisors and admins.

- ``GET /dashboard``: flying, findings by category with the valid report rate, cases handed
  over / in progress / closed with the closure, timely-closure and rework rates, by squad,
  grid, category and month, with charts; filters ``from``, ``to`` (local days YYYY-MM-DD) and
  ``squad`` (id);
- ``GET /api/dashboard``: the same figures as JSON (:meth:`web.dashboard.Dashboard.to_dict`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from web.auth import role_required
from web.dashboard import dashboard
from web.database import console, get_session
from web.i18n import current_language
from web.models import Squad
from web.templating import category_label

bp = Blueprint("dashboard", __name__)

ROLES = ("supervisor", "admin")


def _day(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        abort(400, _("%(name)s must be a date YYYY-MM-DD, got %(value)s", name=name, value=raw))


def _query() -> dict:
    first, last = _day("from"), _day("to")
    if first and last and last < first:
        abort(400, _("The end date %(to)s is before the start date %(start)s.", to=last, start=first))
    raw_squad = request.args.get("squad", "").strip()
    if raw_squad and not raw_squad.isdigit():
        abort(400, _("squad must be a squad id, got %(value)s", value=raw_squad))
    return {"first_day": first, "last_day": last, "squad_id": int(raw_squad) if raw_squad else None}


def _figures(query: dict):
    return dashboard(get_session(), timezone=console().settings.timezone, **query)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def _charts(board) -> dict:
    """Chart.js data for the page's charts (built here so the script only draws)."""
    months = board.by_month
    return {
        "cases_by_month": {
            "labels": [g.label for g in months],
            "closed": [g.cases.closed for g in months],
            "in_progress": [g.cases.in_progress for g in months],
            "timely_closure_rate": [_pct(g.cases.timely_closure_rate) for g in months],
            "closure_rate": [_pct(g.cases.closure_rate) for g in months],
        },
        "cases_by_squad": {
            "labels": [g.label for g in board.by_squad],
            "closed": [g.cases.closed for g in board.by_squad],
            "in_progress": [g.cases.in_progress for g in board.by_squad],
            "timely_closure_rate": [_pct(g.cases.timely_closure_rate) for g in board.by_squad],
            "rework_rate": [_pct(g.cases.rework_rate) for g in board.by_squad],
        },
        "findings_by_category": {
            "keys": [f.category for f in board.findings],
            "confirmed": [f.confirmed for f in board.findings],
            "rejected": [f.rejected for f in board.findings],
            "new": [f.new for f in board.findings],
            "valid_report_rate": [_pct(f.valid_report_rate) for f in board.findings],
        },
        "flights_by_month": {
            "labels": [f.label for f in board.flights_by_month],
            "sorties": [f.sorties for f in board.flights_by_month],
            "distance_km": [f.distance_km for f in board.flights_by_month],
            "flight_hours": [f.flight_hours for f in board.flights_by_month],
        },
    }


@bp.get("/dashboard")
@role_required(*ROLES)
def index():
    """The dashboard page."""
    query = _query()
    board = _figures(query)
    zh = current_language() == "zh"
    board.by_category = [
        replace(g, label=(g.names[0] if zh else g.names[1]) or g.names[0] or g.label)
        if g.names else g for g in board.by_category]
    charts = _charts(board)
    charts["findings_by_category"]["labels"] = [
        category_label(k) for k in charts["findings_by_category"]["keys"]]
    squads = list(get_session().execute(sa.select(Squad.id, Squad.name).order_by(Squad.site, Squad.name)))
    args = {k: v for k, v in request.args.items() if k in ("from", "to", "squad") and v}
    return render_template("dashboard/index.html", board=board, charts=charts, query=query,
                           squads=squads, timezone=console().settings.timezone,
                           json_url=url_for("dashboard.api", **args))


@bp.get("/api/dashboard")
@role_required(*ROLES)
def api():
    """The dashboard's figures as JSON."""
    return jsonify(_figures(_query()).to_dict())
