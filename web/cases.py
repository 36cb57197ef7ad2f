"""Cases: from a confirmed finding to a closed case, the GB/T 30428 way (no Flask here).

A supervisor confirms a finding, which files (立案) a case with a category, a code such as
``C-20260501-0001``, the squad whose jurisdiction holds the place and a deadline from the
category's handling time limit. The case then moves::

    filed --dispatch--> dispatched --handle--> handled --verify--> verified --close--> closed
                             ^                    |
                             +------rework--------+

Each step is a :class:`~web.models.CaseEvent` (who, when, from, to, note). Supervisors and
admins dispatch, verify, close and return for rework; officers handle their own squad's
cases. Functions take a ``session`` and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sqlalchemy as sa
from shapely.geometry import Point, shape
from sqlalchemy.orm import Session

from patrol.db import utcnow
from vision.models import Finding
from web.errors import WebError, WorkflowError
from web.models import AuditEvent, Case, CaseEvent, Squad, User

__all__ = [
    "CATEGORIES",
    "OPEN_STATUSES",
    "REVIEWER_ROLES",
    "STATUSES",
    "TRANSITIONS",
    "Category",
    "Transition",
    "advance_case",
    "allowed_transitions",
    "assign_squad",
    "category_for",
    "new_case_code",
    "open_case_from_finding",
    "overdue",
    "reject_finding",
    "squad_for_point",
]

STATUSES = ("filed", "dispatched", "handled", "verified", "closed")
"""Case statuses in workflow order: 立案, 派遣, 处置, 核查, 结案."""

OPEN_STATUSES = STATUSES[:-1]

REVIEWER_ROLES = frozenset({"supervisor", "admin"})
"""Roles that review findings (confirm, reject) and run the supervisor's steps of a case."""


@dataclass(frozen=True)
class Category:
    """A case category: the detector's key, its names and its handling time limit.

    Parameters
    ----------
    key : str
        snake_case English name, as the vision detectors label findings.
    name_zh, name_en : str
        Names shown to people (GB/T 30428.2 subclass names where one fits).
    event_class_zh : str
        The GB/T 30428.2 major class (市容环境, 宣传广告, 施工管理, 街面秩序, ...).
    time_limit_h : float
        Handling time limit in hours, counted from filing (wall-clock hours for now).
    """

    key: str
    name_zh: str
    name_en: str
    event_class_zh: str
    time_limit_h: float

    @property
    def label(self) -> str:
        """``"暴露垃圾 exposed garbage"``: both names, for lists and selectors."""
        return f"{self.name_zh} {self.name_en}"


# Default table (illustrative time limits; codes and limits vary by city and come from the
# bureau's own file once issue #6 makes the taxonomy editable data).
_DEFAULT_CATEGORIES = (
    Category("exposed_garbage", "暴露垃圾", "exposed garbage", "市容环境", 4.0),
    Category("construction_waste", "积存垃圾渣土", "accumulated garbage / construction waste",
             "市容环境", 24.0),
    Category("illegal_structure", "私搭乱建", "illegal structure", "街面秩序", 120.0),
    Category("construction_dust", "工地扬尘", "construction dust / uncovered soil", "施工管理", 4.0),
    Category("open_burning", "露天焚烧", "open burning", "市容环境", 1.0),
    Category("street_vending", "无照经营游商", "street vending", "街面秩序", 2.0),
    Category("illegal_parking", "机动车乱停放", "illegal parking", "街面秩序", 1.0),
    Category("illegal_banner", "违章张贴悬挂", "illegal banner or advertisement", "宣传广告", 24.0),
    Category("water_litter", "水域不洁", "water-surface litter", "市容环境", 24.0),
    Category("other", "其他", "other", "其他", 48.0),
)

CATEGORIES: Mapping[str, Category] = MappingProxyType({c.key: c for c in _DEFAULT_CATEGORIES})
"""The category table by key (read-only)."""


def category_for(key: str) -> Category:
    """The category of ``key``, or ``"other"`` for a detector label not in the table.

    >>> category_for("exposed_garbage").time_limit_h
    4.0
    >>> category_for("no_such_label").key
    'other'
    """
    return CATEGORIES.get(key, CATEGORIES["other"])


@dataclass(frozen=True)
class Transition:
    """An allowed step of the workflow.

    ``roles`` may take it; officers only on cases of their own squad. ``note_required``
    steps need a reason (returning work).
    """

    action: str
    from_status: str
    to_status: str
    roles: frozenset[str]
    label: str
    note_required: bool = False


TRANSITIONS = (
    Transition("dispatch", "filed", "dispatched", REVIEWER_ROLES, "Dispatch 派遣"),
    Transition("handle", "dispatched", "handled", frozenset({"officer"}), "Report handled 处置"),
    Transition("verify", "handled", "verified", REVIEWER_ROLES, "Verify 核查"),
    Transition("rework", "handled", "dispatched", REVIEWER_ROLES, "Return for rework 返工",
               note_required=True),
    Transition("close", "verified", "closed", REVIEWER_ROLES, "Close 结案"),
)


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: give times in UTC with tzinfo")
    return now


def _may_act_on(case: Case, user: User) -> bool:
    return user.role != "officer" or (case.squad_id is not None and case.squad_id == user.squad_id)


def allowed_transitions(case: Case, user: User) -> list[Transition]:
    """The steps ``user`` may take on ``case`` now (for the buttons of the case page)."""
    if not _may_act_on(case, user):
        return []
    return [t for t in TRANSITIONS if t.from_status == case.status and user.role in t.roles]


def squad_for_point(session: Session, lon_deg: float, lat_deg: float) -> Squad | None:
    """The squad whose jurisdiction holds a WGS84 point, or None outside every one.

    Containment is tested in longitude/latitude, the coordinates in which GeoJSON polygon
    edges are straight lines (RFC 7946); a point on a shared border belongs to both, and the
    smaller jurisdiction (then the older squad) wins, so the answer is deterministic.

    Raises
    ------
    ValueError
        If the point is not a WGS84 position.
    """
    if not (-180.0 <= lon_deg <= 180.0 and -90.0 <= lat_deg <= 90.0):
        raise ValueError(f"not a WGS84 position: lon {lon_deg}, lat {lat_deg}")
    point = Point(lon_deg, lat_deg)
    holders = []
    for squad in session.scalars(sa.select(Squad).order_by(Squad.id)):
        geom = shape(squad.jurisdiction)
        if geom.covers(point):
            holders.append((geom.area, squad.id, squad))
    return min(holders, key=lambda h: h[:2])[2] if holders else None


def new_case_code(session: Session, now: dt.datetime) -> str:
    """The next case code of the UTC day of ``now``: ``C-YYYYMMDD-NNNN`` (1-based).

    Codes are unique in the database; two transactions filing at once may collide and the
    second commit fails on the unique constraint.
    """
    prefix = f"C-{now.astimezone(dt.timezone.utc):%Y%m%d}-"
    codes = session.scalars(sa.select(Case.code).where(Case.code.like(prefix + "%")))
    numbers = [int(c[len(prefix):]) for c in codes if c[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def _check_reviewer(user: User, what: str) -> None:
    if user.role not in REVIEWER_ROLES:
        raise WorkflowError(f"user {user.username!r} ({user.role}) may not {what}: "
                            f"only {', '.join(sorted(REVIEWER_ROLES))} may")


def _check_new(finding: Finding) -> None:
    if finding.status != "new":
        raise WorkflowError(f"finding {finding.id} is already {finding.status}")


def open_case_from_finding(session: Session, finding: Finding, user: User, *,
                           category: str | None = None, note: str = "",
                           now: dt.datetime | None = None) -> Case:
    """Confirm a finding and file (立案) its case.

    The finding becomes ``"confirmed"`` (reviewed by ``user`` at ``now``); the case gets the
    next code of the day, the category (``category`` or the finding's own label, ``"other"``
    when the label is not in :data:`CATEGORIES`), the finding's position, the squad whose
    jurisdiction holds it (None outside every one: assign one with :func:`assign_squad`), and
    ``deadline_utc = now + time_limit_h``. Its first :class:`CaseEvent` (None -> filed) and an
    audit entry ``finding.confirm`` are added to the session.

    Parameters
    ----------
    session : Session
    finding : vision.models.Finding
        A finding with status ``"new"``.
    user : User
        A supervisor or admin.
    category : str, optional
        Key of :data:`CATEGORIES` chosen by the reviewer.
    note : str
        The reviewer's remark, kept on the filing event.
    now : datetime, optional
        Timezone-aware filing time (default: now).

    Returns
    -------
    Case
        The new case (added, flushed; not committed).

    Raises
    ------
    WorkflowError
        If the finding is not new or the user may not review findings.
    WebError
        If ``category`` is not a known category key.
    """
    now = _now(now)
    _check_reviewer(user, "confirm findings")
    _check_new(finding)
    if category is not None and category not in CATEGORIES:
        raise WebError(f"unknown case category {category!r}; known: {', '.join(CATEGORIES)}")
    cat = CATEGORIES[category] if category is not None else category_for(finding.category)
    squad = squad_for_point(session, finding.lon_deg, finding.lat_deg)
    finding.status = "confirmed"
    finding.reviewed_at = now
    case = Case(
        code=new_case_code(session, now),
        finding_id=finding.id,
        category=cat.key,
        status="filed",
        squad=squad,
        lat_deg=finding.lat_deg,
        lon_deg=finding.lon_deg,
        description=(f"{cat.label}: drone finding #{finding.id} ({finding.category}, score "
                     f"{finding.score:.2f}, seen {finding.seen_count} time(s))"),
        created_at=now,
        deadline_utc=now + dt.timedelta(hours=cat.time_limit_h),
    )
    session.add(case)
    case.events.append(CaseEvent(user_id=user.id, from_status=None, to_status="filed", at=now,
                                 note=note))
    session.flush()
    session.add(AuditEvent(at=now, user_id=user.id, action="finding.confirm",
                           target_type="finding", target_id=finding.id, note=note,
                           data={"case_id": case.id, "case_code": case.code,
                                 "category": cat.key}))
    return case


def reject_finding(session: Session, finding: Finding, user: User, note: str, *,
                   now: dt.datetime | None = None) -> AuditEvent:
    """Reject a finding (a false alarm): status ``"rejected"``, reviewer and reason recorded.

    Returns the :class:`AuditEvent` (``finding.reject``) holding the reason.

    Raises
    ------
    WorkflowError
        If the finding is not new or the user may not review findings.
    """
    now = _now(now)
    _check_reviewer(user, "reject findings")
    _check_new(finding)
    finding.status = "rejected"
    finding.reviewed_at = now
    entry = AuditEvent(at=now, user_id=user.id, action="finding.reject", target_type="finding",
                       target_id=finding.id, note=note, data={"category": finding.category})
    session.add(entry)
    return entry


def advance_case(session: Session, case: Case, to_status: str, user: User, *, note: str = "",
                 now: dt.datetime | None = None) -> CaseEvent:
    """Move ``case`` to ``to_status`` as ``user`` and record the step.

    Allowed steps are :data:`TRANSITIONS`; closing sets ``closed_at``.

    Returns
    -------
    CaseEvent
        The recorded step (appended to ``case.events``).

    Raises
    ------
    WorkflowError
        If the step is not in the workflow, the user's role may not take it, an officer acts
        on another squad's case, a case without squad is dispatched, or a step that needs a
        note has none.
    """
    now = _now(now)
    step = next((t for t in TRANSITIONS
                 if t.from_status == case.status and t.to_status == to_status), None)
    if step is None:
        nexts = [t.to_status for t in TRANSITIONS if t.from_status == case.status]
        raise WorkflowError(f"case {case.code}: cannot go from {case.status} to {to_status}; "
                            f"next allowed: {', '.join(nexts) or 'none (closed)'}")
    if user.role not in step.roles:
        raise WorkflowError(f"case {case.code}: {step.action} is for "
                            f"{', '.join(sorted(step.roles))}, not {user.role} {user.username!r}")
    if not _may_act_on(case, user):
        raise WorkflowError(f"case {case.code} belongs to another squad than "
                            f"{user.username!r}'s")
    if step.action == "dispatch" and case.squad_id is None and case.squad is None:
        raise WorkflowError(f"case {case.code} has no squad (its place is outside every "
                            "jurisdiction): assign one before dispatching")
    if step.note_required and not note.strip():
        raise WorkflowError(f"case {case.code}: {step.action} needs a note saying why")
    event = CaseEvent(user_id=user.id, from_status=case.status, to_status=to_status, at=now,
                      note=note)
    case.status = to_status
    if to_status == "closed":
        case.closed_at = now
    case.events.append(event)
    session.flush()
    return event


def assign_squad(session: Session, case: Case, squad: Squad, user: User, *, note: str = "",
                 now: dt.datetime | None = None) -> CaseEvent:
    """Give ``case`` to ``squad`` (a supervisor's decision), recorded in the case history.

    The event keeps the status unchanged and says which squad took over.

    Raises
    ------
    WorkflowError
        If the user is not a supervisor/admin or the case is closed.
    """
    now = _now(now)
    _check_reviewer(user, "assign cases to squads")
    if case.status == "closed":
        raise WorkflowError(f"case {case.code} is closed")
    before = case.squad.name if case.squad is not None else "no squad"
    case.squad = squad
    text = f"assigned to {squad.name} (was {before})"
    event = CaseEvent(user_id=user.id, from_status=case.status, to_status=case.status, at=now,
                      note=f"{text}. {note}".strip() if note.strip() else text)
    case.events.append(event)
    session.flush()
    return event


def overdue(case: Case, now: dt.datetime) -> bool:
    """True when an open case is past its deadline at ``now`` (closed cases never are)."""
    now = _now(now)
    return case.status != "closed" and case.deadline_utc is not None and now > case.deadline_utc
