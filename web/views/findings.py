"""The findings review queue: confirm (which files a case) or reject what vision flagged."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_login import current_user

from vision.models import Finding
from web.auth import role_required
from web.cases import CATEGORIES, REVIEWER_ROLES, open_case_from_finding, reject_finding
from web.database import get_session
from web.errors import WebError
from web.forms import ConfirmFindingForm, RejectFindingForm
from web.models import Case
from web.pagination import paginate
from web.templating import format_utc

bp = Blueprint("findings", __name__, url_prefix="/findings")

REVIEW_STATUSES = ("new", "confirmed", "rejected")


def _queue_args() -> dict:
    """The queue's filters and page, kept across a confirm/reject round trip."""
    args = {k: request.args.get(k) for k in ("status", "category", "page")}
    return {k: v for k, v in args.items() if v}


@bp.get("")
@role_required(*REVIEWER_ROLES)
def queue():
    """Findings of a status (default ``new``), best score first, paginated."""
    status = request.args.get("status", "new")
    if status not in REVIEW_STATUSES:
        abort(400, f"status must be one of {', '.join(REVIEW_STATUSES)}")
    category = request.args.get("category") or None
    stmt = (sa.select(Finding, Case).outerjoin(Case, Case.finding_id == Finding.id)
            .where(Finding.status == status).order_by(Finding.score.desc(), Finding.id.desc()))
    if category:
        stmt = stmt.where(Finding.category == category)
    session = get_session()
    page = paginate(session, stmt, request.args.get("page", 1, type=int),
                    current_app.config["PER_PAGE"], scalars=False)
    detected = session.scalars(sa.select(Finding.category).distinct().order_by(Finding.category))
    return render_template("findings.html", page=page, status=status, category=category,
                           statuses=REVIEW_STATUSES, detected_categories=list(detected),
                           categories=list(CATEGORIES.values()), queue_args=_queue_args())


def _finding_or_404(finding_id: int) -> Finding:
    finding = get_session().get(Finding, finding_id)
    if finding is None:
        abort(404, f"Finding {finding_id} does not exist.")
    return finding


def _back():
    return redirect(url_for("findings.queue", **_queue_args()), code=303)


@bp.post("/<int:finding_id>/confirm")
@role_required(*REVIEWER_ROLES)
def confirm(finding_id: int):
    """Confirm a finding: file its case (category from the form) and assign the squad."""
    session = get_session()
    finding = _finding_or_404(finding_id)
    form = ConfirmFindingForm()
    if not form.validate():
        abort(400, "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
    try:
        case = open_case_from_finding(session, finding, current_user, category=form.category.data,
                                      note=form.note.data or "")
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return _back()
    session.commit()
    squad = case.squad.name if case.squad else "no squad (outside every jurisdiction)"
    flash(f"Case {case.code} filed: {squad}, deadline {format_utc(case.deadline_utc)}.", "success")
    return _back()


@bp.post("/<int:finding_id>/reject")
@role_required(*REVIEWER_ROLES)
def reject(finding_id: int):
    """Reject a finding as a false alarm, with the reason."""
    session = get_session()
    finding = _finding_or_404(finding_id)
    form = RejectFindingForm()
    if not form.validate():
        abort(400, "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
    try:
        reject_finding(session, finding, current_user, form.note.data or "")
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return _back()
    session.commit()
    flash(f"Finding {finding.id} rejected.", "info")
    return _back()
