"""The dashboard: what is in the archive and where the cases stand."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user

from flight_logs.models import Flight, Photo
from missions.models import PatrolArea, Route
from patrol.db import utcnow
from vision.models import Finding
from web.cases import OPEN_STATUSES, STATUSES
from web.database import get_session
from web.models import Case

bp = Blueprint("home", __name__)


def _count(session, model, *where) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@bp.get("/")
def index():
    """Counts of areas, routes, flights, photos, findings and cases (officers: own squad)."""
    session = get_session()
    case_scope = [Case.squad_id == current_user.squad_id] if current_user.role == "officer" else []
    by_status = dict(session.execute(
        sa.select(Case.status, sa.func.count()).where(*case_scope).group_by(Case.status)).all())
    flown = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Flight.duration_s), 0),
                                      sa.func.coalesce(sa.func.sum(Flight.distance_m), 0))).one()
    counts = {
        "areas": _count(session, PatrolArea),
        "routes": _count(session, Route),
        "flights": flown[0],
        "hours": flown[1] / 3600.0,
        "km": flown[2] / 1000.0,
        "photos": _count(session, Photo),
        "findings_new": _count(session, Finding, Finding.status == "new"),
        "findings_confirmed": _count(session, Finding, Finding.status == "confirmed"),
        "findings_rejected": _count(session, Finding, Finding.status == "rejected"),
        "cases_overdue": _count(session, Case, Case.status.in_(OPEN_STATUSES),
                                Case.deadline_utc < utcnow(), *case_scope),
    }
    return render_template("home.html", counts=counts, statuses=STATUSES,
                           cases_by_status={s: by_status.get(s, 0) for s in STATUSES})
