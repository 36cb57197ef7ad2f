"""Cases: the list (officers see their squad's) and the case page with its workflow steps."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from sqlalchemy.orm import selectinload

from flight_logs.models import Photo
from patrol.db import utcnow
from vision.models import Detection, Finding
from web.auth import role_required
from web.cases import (CATEGORIES, OPEN_STATUSES, REVIEWER_ROLES, STATUSES, advance_case,
                       allowed_transitions, assign_squad)
from web.database import get_session
from web.errors import WebError
from web.forms import AssignSquadForm, TransitionForm
from web.models import Case, CaseEvent, Squad
from web.pagination import paginate

bp = Blueprint("cases", __name__, url_prefix="/cases")

CASE_ROLES = (*sorted(REVIEWER_ROLES), "officer")
STATUS_FILTERS = ("open", "overdue", "all", *STATUSES)


def _scope(stmt):
    """Officers see only their own squad's cases."""
    if current_user.role == "officer":
        return stmt.where(Case.squad_id == current_user.squad_id)
    return stmt


@bp.get("")
@role_required(*CASE_ROLES)
def index():
    """Cases filtered by status (``open`` by default), category and squad; newest first."""
    status = request.args.get("status", "open")
    if status not in STATUS_FILTERS:
        abort(400, f"status must be one of {', '.join(STATUS_FILTERS)}")
    category = request.args.get("category") or None
    squad_id = request.args.get("squad", type=int)
    stmt = _scope(sa.select(Case).options(selectinload(Case.squad))
                  .order_by(Case.created_at.desc(), Case.id.desc()))
    if status == "open":
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
    elif status == "overdue":
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES), Case.deadline_utc < utcnow())
    elif status != "all":
        stmt = stmt.where(Case.status == status)
    if category:
        stmt = stmt.where(Case.category == category)
    if squad_id:
        stmt = stmt.where(Case.squad_id == squad_id)
    session = get_session()
    page = paginate(session, stmt, request.args.get("page", 1, type=int),
                    current_app.config["PER_PAGE"])
    squads = [] if current_user.role == "officer" else \
        list(session.scalars(sa.select(Squad).order_by(Squad.site, Squad.name)))
    return render_template("cases/list.html", page=page, status=status, category=category,
                           squad_id=squad_id, status_filters=STATUS_FILTERS, squads=squads,
                           categories=list(CATEGORIES.values()), now=utcnow())


def _case_or_abort(case_id: int) -> Case:
    case = get_session().get(Case, case_id)
    if case is None:
        abort(404, f"Case {case_id} does not exist.")
    if current_user.role == "officer" and case.squad_id != current_user.squad_id:
        abort(403, f"Case {case.code} belongs to another squad.")
    return case


@bp.get("/<int:case_id>")
@role_required(*CASE_ROLES)
def detail(case_id: int):
    """A case: details, evidence, location, history, and the steps the user may take."""
    session = get_session()
    case = _case_or_abort(case_id)
    finding = session.get(Finding, case.finding_id) if case.finding_id else None
    photos = []
    if finding is not None:
        photos = list(session.scalars(
            sa.select(Photo).join(Detection, Detection.photo_id == Photo.id)
            .where(Detection.finding_id == finding.id).distinct().order_by(Photo.taken_utc)))
    history = list(session.scalars(
        sa.select(CaseEvent).where(CaseEvent.case_id == case.id)
        .options(selectinload(CaseEvent.user)).order_by(CaseEvent.at, CaseEvent.id)))
    squads = []
    if current_user.role in REVIEWER_ROLES and case.status != "closed":
        squads = list(session.scalars(sa.select(Squad).order_by(Squad.site, Squad.name)))
    map_features = [{"type": "Feature", "properties": {"kind": "case", "label": case.code},
                     "geometry": {"type": "Point", "coordinates": [case.lon_deg, case.lat_deg]}}]
    if finding is not None and finding.polygon:
        map_features.append({"type": "Feature", "properties": {"kind": "finding"},
                             "geometry": finding.polygon})
    if case.squad is not None:
        map_features.append({"type": "Feature", "properties": {"kind": "squad",
                                                                "label": case.squad.name},
                             "geometry": case.squad.jurisdiction})
    return render_template("cases/detail.html", case=case, finding=finding, photos=photos,
                           history=history, transitions=allowed_transitions(case, current_user),
                           squads=squads, map_features=map_features, now=utcnow(),
                           category=CATEGORIES.get(case.category))


def _post_form_or_400(form):
    if not form.validate():
        abort(400, "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
    return form


@bp.post("/<int:case_id>/advance")
@role_required(*CASE_ROLES)
def advance(case_id: int):
    """Take a workflow step (``to_status`` and ``note`` from the form)."""
    session = get_session()
    case = _case_or_abort(case_id)
    form = _post_form_or_400(TransitionForm())
    try:
        advance_case(session, case, form.to_status.data, current_user, note=form.note.data or "")
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return redirect(url_for("cases.detail", case_id=case_id), code=303)
    session.commit()
    flash(f"Case {case.code} is now {case.status}.", "success")
    return redirect(url_for("cases.detail", case_id=case_id), code=303)


@bp.post("/<int:case_id>/assign")
@role_required(*REVIEWER_ROLES)
def assign(case_id: int):
    """Give the case to another squad."""
    session = get_session()
    case = _case_or_abort(case_id)
    form = _post_form_or_400(AssignSquadForm())
    squad = session.get(Squad, form.squad_id.data)
    if squad is None:
        abort(400, f"squad {form.squad_id.data} does not exist")
    try:
        assign_squad(session, case, squad, current_user, note=form.note.data or "")
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return redirect(url_for("cases.detail", case_id=case_id), code=303)
    session.commit()
    flash(f"Case {case.code} assigned to {case.squad.name}.", "success")
    return redirect(url_for("cases.detail", case_id=case_id), code=303)
