"""The findings review queue: confirm (which reports a case) or reject what vision flagged."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user

from vision.models import Finding
from web.auth import role_required
from web.case_forms import ConfirmFindingForm
from web.case_rules import current_rules
from web.cases import REVIEWER_ROLES, open_case_from_finding, reject_finding
from web.database import console, get_session
from web.errors import WebError
from web.forms import RejectFindingForm
from web.models import Case
from web.pagination import paginate

bp = Blueprint("findings", __name__, url_prefix="/findings")

REVIEW_STATUSES = ("new", "confirmed", "rejected")
QUEUE_ARGS = ("status", "category", "min_score", "from", "to", "page")


def _queue_args() -> dict:
    """The queue's filters and page, kept across a confirm/reject round trip."""
    args = {k: request.args.get(k) for k in QUEUE_ARGS}
    return {k: v for k, v in args.items() if v}


def _day(name: str) -> dt.date | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        abort(400, _("%(name)s must be a date YYYY-MM-DD, got %(value)r", name=name, value=value))


@bp.get("")
@role_required(*REVIEWER_ROLES)
def queue():
    """Findings of a status (default ``new``), best score first, paginated; filters: detector
    label, lowest score, local days of the last sighting (``from``, ``to``)."""
    status = request.args.get("status", "new")
    if status not in REVIEW_STATUSES:
        abort(400, _("status must be one of %(values)s", values=", ".join(REVIEW_STATUSES)))
    category = request.args.get("category") or None
    min_score = request.args.get("min_score", type=float)
    first, last = _day("from"), _day("to")
    stmt = (sa.select(Finding, Case).outerjoin(Case, Case.finding_id == Finding.id)
            .where(Finding.status == status).order_by(Finding.score.desc(), Finding.id.desc()))
    if category:
        stmt = stmt.where(Finding.category == category)
    if min_score is not None:
        stmt = stmt.where(Finding.score >= min_score)
    zone = ZoneInfo(console().settings.timezone)
    if first:
        stmt = stmt.where(Finding.last_seen_utc >= dt.datetime.combine(first, dt.time(0), zone))
    if last:
        stmt = stmt.where(Finding.last_seen_utc < dt.datetime.combine(
            last + dt.timedelta(days=1), dt.time(0), zone))
    session = get_session()
    page = paginate(session, stmt, request.args.get("page", 1, type=int),
                    current_app.config["PER_PAGE"], scalars=False)
    detected = session.scalars(sa.select(Finding.category).distinct().order_by(Finding.category))
    taxonomy = current_rules().taxonomy
    return render_template("findings.html", page=page, status=status, category=category,
                           min_score=min_score, date_from=request.args.get("from", ""),
                           date_to=request.args.get("to", ""), statuses=REVIEW_STATUSES,
                           detected_categories=list(detected), taxonomy=taxonomy,
                           queue_args=_queue_args())


def _finding_or_404(finding_id: int) -> Finding:
    finding = get_session().get(Finding, finding_id)
    if finding is None:
        abort(404, _("Finding %(id)s does not exist.", id=finding_id))
    return finding


def _back():
    return redirect(url_for("findings.queue", **_queue_args()), code=303)


@bp.post("/<int:finding_id>/confirm")
@role_required(*REVIEWER_ROLES)
def confirm(finding_id: int):
    """Confirm a finding: report its case (subclass from the form; ``category`` is accepted
    as the older name) in the squad and grid holding it; a supervisor then files it."""
    session = get_session()
    finding = _finding_or_404(finding_id)
    form = ConfirmFindingForm()
    if not form.validate():
        abort(400, "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in form.errors.items()))
    chosen = form.subclass.data or form.category.data or None
    taxonomy = current_rules().taxonomy
    if chosen and taxonomy.get(chosen) is None and not taxonomy.subclasses_for(chosen):
        abort(400, _("subclass: %(value)r is not a subclass code of the taxonomy in use",
                     value=chosen))
    try:
        case = open_case_from_finding(session, finding, current_user, subclass=chosen,
                                      note=form.note.data or "", file=False)
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return _back()
    session.commit()
    squad = case.squad.name if case.squad else _("no squad (outside every jurisdiction)")
    flash(_("Case %(code)s reported: %(squad)s. File it on its page.", code=case.code,
            squad=squad), "success")
    return _back()


@bp.post("/<int:finding_id>/reject")
@role_required(*REVIEWER_ROLES)
def reject(finding_id: int):
    """Reject a finding as a false alarm, with the reason."""
    session = get_session()
    finding = _finding_or_404(finding_id)
    form = RejectFindingForm()
    if not form.validate():
        abort(400, "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in form.errors.items()))
    try:
        reject_finding(session, finding, current_user, form.note.data or "")
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return _back()
    session.commit()
    flash(_("Finding %(id)s rejected.", id=finding.id), "info")
    return _back()
