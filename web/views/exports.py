"""Downloads: findings and cases as CSV (UTF-8 with BOM, for Excel) or GeoJSON, with the
filters of their list pages, streamed; and a case's evidence package as a zip.

- ``GET /exports/findings.csv`` and ``.geojson``: the findings queue's filters ``status``
  (``new`` by default, ``confirmed``, ``rejected``, or ``all``), ``category``, ``min_score``,
  ``from``/``to`` (local days of the last sighting); supervisors and admins.
- ``GET /exports/cases.csv`` and ``.geojson``: the case list's filters ``status`` (``open``
  by default, ``overdue``, ``all`` or a status), ``category`` (subclass code), ``class``,
  ``squad``, ``grid``, ``from``/``to`` (local days of reporting); officers get their own
  squad's cases only (``scope`` ``mine`` by default, or ``squad``), as in the list.
- ``GET /exports/cases/<id>/evidence.zip``: the evidence package
  (:func:`web.exports.write_evidence_package`); officers of the case's squad, supervisors,
  admins.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Blueprint, Response, abort, request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user

from patrol.db import utcnow
from web import cases as workflow
from web.auth import role_required
from web.database import console, get_session
from web.exports import (CASE_COLUMNS, FINDING_COLUMNS, CaseFilters, FindingFilters,
                         case_records, cases_statement, csv_chunks, finding_records,
                         findings_statement, geojson_chunks, iter_evidence_package)
from web.models import Case

bp = Blueprint("exports", __name__, url_prefix="/exports")

REVIEWERS = tuple(sorted(workflow.REVIEWER_ROLES))
CASE_ROLES = tuple(sorted(workflow.REVIEWER_ROLES | {"officer"}))
SCOPES = ("mine", "squad")
"""Officers' scopes, as the case list: cases given to them (or to their squad with no officer
named), or all their squad's."""
FINDING_STATUSES = ("new", "confirmed", "rejected")


def _stamp() -> str:
    return utcnow().strftime("%Y%m%d-%H%M")


def _download(chunks, mimetype: str, name: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}")
    response.headers["Cache-Control"] = "no-store"
    return response


def _day(name: str) -> dt.date | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        abort(400, _("%(name)s must be a date YYYY-MM-DD, got %(value)r", name=name, value=value))


def _int(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        abort(400, _("%(name)s must be an id, got %(value)r", name=name, value=raw))
    return int(raw)


def _finding_filters() -> FindingFilters:
    """The findings queue's filters (default status ``new``, as the queue; ``all``: every one)."""
    status = request.args.get("status") or "new"
    if status not in ("all", *FINDING_STATUSES):
        abort(400, _("status must be one of %(values)s",
                     values=", ".join(("all", *FINDING_STATUSES))))
    raw_score = request.args.get("min_score", "").strip()
    try:
        min_score = float(raw_score) if raw_score else None
    except ValueError:
        abort(400, _("min_score must be a number, got %(value)r", value=raw_score))
    return FindingFilters(status=None if status == "all" else status,
                          category=request.args.get("category") or None, min_score=min_score,
                          first_day=_day("from"), last_day=_day("to"),
                          timezone=console().settings.timezone)


def _case_filters() -> CaseFilters:
    """The case list's filters (default status ``open``, as the list)."""
    status = request.args.get("status") or "open"
    allowed = ("open", "overdue", "all", *workflow.STATUSES)
    if status not in allowed:
        abort(400, _("status must be one of %(values)s", values=", ".join(allowed)))
    officer: dict = {}
    if current_user.role == "officer":
        scope = request.args.get("scope", "mine")
        if scope not in SCOPES:
            abort(400, _("scope must be one of %(values)s", values=", ".join(SCOPES)))
        officer = {"officer_id": current_user.id, "officer_squad_id": current_user.squad_id,
                   "scope": scope}
    return CaseFilters(status=status, category=request.args.get("category") or None,
                       class_code=request.args.get("class") or None, squad_id=_int("squad"),
                       grid_id=_int("grid"), first_day=_day("from"), last_day=_day("to"),
                       timezone=console().settings.timezone, **officer)


def _name(kind: str, filters, ext: str) -> str:
    parts = [kind] + [str(v) for v in (filters.status, filters.category)
                      if v not in (None, "", "all")]
    return "_".join(parts + [_stamp()]) + "." + ext


@bp.get("/findings.csv")
@role_required(*REVIEWERS)
def findings_csv():
    """Findings as CSV."""
    filters = _finding_filters()
    records = finding_records(get_session(), findings_statement(filters))
    return _download(csv_chunks(records, FINDING_COLUMNS), "text/csv; charset=utf-8",
                     _name("findings", filters, "csv"))


@bp.get("/findings.geojson")
@role_required(*REVIEWERS)
def findings_geojson():
    """Findings as GeoJSON Points (WGS84)."""
    filters = _finding_filters()
    records = finding_records(get_session(), findings_statement(filters, outline=True))
    return _download(geojson_chunks(records, kind="finding"), "application/geo+json",
                     _name("findings", filters, "geojson"))


@bp.get("/cases.csv")
@role_required(*CASE_ROLES)
def cases_csv():
    """Cases as CSV."""
    filters = _case_filters()
    now = utcnow()
    records = case_records(get_session(), cases_statement(filters, now=now), now=now)
    return _download(csv_chunks(records, CASE_COLUMNS), "text/csv; charset=utf-8",
                     _name("cases", filters, "csv"))


@bp.get("/cases.geojson")
@role_required(*CASE_ROLES)
def cases_geojson():
    """Cases as GeoJSON Points (WGS84)."""
    filters = _case_filters()
    now = utcnow()
    records = case_records(get_session(), cases_statement(filters, now=now), now=now)
    return _download(geojson_chunks(records, kind="case"), "application/geo+json",
                     _name("cases", filters, "geojson"))


@bp.get("/cases/<int:case_id>/evidence.zip")
@role_required(*CASE_ROLES)
def evidence(case_id: int):
    """A case's evidence package."""
    session = get_session()
    case = session.get(Case, case_id)
    if case is None:
        abort(404, _("Case %(id)s does not exist.", id=case_id))
    if current_user.role == "officer" and case.squad_id != current_user.squad_id:
        abort(403, _("Case %(code)s belongs to another squad.", code=case.code))
    return _download(iter_evidence_package(session, case, console().settings.data_dir),
                     "application/zip", f"evidence_{case.code}.zip")
