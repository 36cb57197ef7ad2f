"""Cases: the GB/T 30428 workflow from a report to a closed case (no Flask views here).

A case is reported (上报) from a drone finding a supervisor confirms, or entered by hand; it is
filed (立案) when a supervisor confirms the subclass's filing condition holds, dispatched
(派遣) to a squad and optionally one officer, handled (处置) by the squad's officer with notes
and photos, verified (核查) and closed (结案)::

    reported --file--> filed --dispatch--> dispatched --handle--> handled --verify--> verified
       |                                    ^    |  ^                |                    |
     cancel                          resume |    |  +-----rework-----+                  close
       v                                    | suspend                                     v
    cancelled                            suspended                       closed <---------+
                                                      dispatched <--reopen-- closed

Officers may also request more time (延期), which a supervisor grants or denies, and add
notes and photos at any time while the case is theirs. Subclasses, their conditions and
time limits come from the bureau's taxonomy file (:mod:`web.taxonomy`); the clock starts at
dispatch and runs on the work calendar (:mod:`web.case_rules`, :mod:`web.workcalendar`).

Roles: supervisors and admins report, file, dispatch, verify, return, close, suspend,
resume, reopen and decide extensions; officers (and admins) handle and request extensions,
officers only on their own squad's cases. Every step is a :class:`~web.models.CaseEvent`
(the case's timeline) and an :class:`~web.models.AuditEvent` ``case.<action>`` (who, when,
what). Functions take a ``session`` and never commit: the caller owns the transaction.
Those that need the taxonomy or the calendar take ``rules`` (default:
:func:`web.case_rules.current_rules`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from shapely.geometry import Point, shape
from sqlalchemy.orm import Session

from patrol.db import utcnow
from vision.models import Finding
from web.case_evidence import StoredPhoto
from web.case_rules import CaseRules, clock_add, clock_between, current_rules
from web.errors import WebError, WorkflowError
from web.models import AuditEvent, Case, CaseAttachment, CaseEvent, CaseExtension, Squad, User
from web.taxonomy import Subclass, Taxonomy, TimeLimit, clock_seconds

__all__ = [
    "CASE_ROLES",
    "CATEGORIES",
    "CLOCK_STATUSES",
    "DONE_STATUSES",
    "HANDLER_ROLES",
    "OPEN_STATUSES",
    "REVIEWER_ROLES",
    "STATUSES",
    "TRANSITIONS",
    "Recurrence",
    "Transition",
    "add_case_note",
    "advance_case",
    "allowed_transitions",
    "assign_squad",
    "cancel_case",
    "case_clock",
    "category_for",
    "close_case",
    "decide_extension",
    "dispatch_case",
    "file_case",
    "finding_snapshot",
    "handle_case",
    "link_recurrences",
    "may_act_on",
    "new_case_code",
    "open_case_from_finding",
    "overdue",
    "overdue_clause",
    "remaining_seconds",
    "reject_finding",
    "reopen_case",
    "report_case",
    "request_extension",
    "resolve_subclass",
    "resume_case",
    "return_for_rework",
    "squad_for_point",
    "suspend_case",
    "verify_case",
]

STATUSES = ("reported", "filed", "dispatched", "suspended", "handled", "verified", "closed",
            "cancelled")
"""Case statuses in workflow order: 上报, 立案, 派遣, 挂起, 处置, 核查, 结案, 不予立案."""

OPEN_STATUSES = ("reported", "filed", "dispatched", "suspended", "handled", "verified")
"""Statuses of cases still being worked on."""

DONE_STATUSES = ("closed", "cancelled")

CLOCK_STATUSES = ("dispatched", "handled", "verified")
"""Statuses in which the handling clock runs (and a case can be overdue)."""

REVIEWER_ROLES = frozenset({"supervisor", "admin"})
"""Roles that review findings and run the supervisor's steps of a case."""

HANDLER_ROLES = frozenset({"officer", "admin"})
"""Roles that handle cases (officers: their own squad's only)."""

CASE_ROLES = REVIEWER_ROLES | HANDLER_ROLES

SOURCES = ("drone", "manual", "merchant")
"""How a case was reported (free text is allowed; these are the console's)."""


@dataclass(frozen=True)
class Transition:
    """An allowed status step of the workflow.

    ``roles`` may take it (officers only on cases of their own squad); ``note_required``
    steps need a note saying why; ``label`` is translated (lazy).
    """

    action: str
    from_status: str
    to_status: str
    roles: frozenset[str]
    label: Any
    note_required: bool = False


TRANSITIONS = (
    Transition("file", "reported", "filed", REVIEWER_ROLES, _l("File case")),
    Transition("cancel", "reported", "cancelled", REVIEWER_ROLES, _l("Do not file"),
               note_required=True),
    Transition("dispatch", "filed", "dispatched", REVIEWER_ROLES, _l("Dispatch")),
    Transition("suspend", "dispatched", "suspended", REVIEWER_ROLES, _l("Suspend"),
               note_required=True),
    Transition("resume", "suspended", "dispatched", REVIEWER_ROLES, _l("Resume")),
    Transition("handle", "dispatched", "handled", HANDLER_ROLES, _l("Report handled"),
               note_required=True),
    Transition("verify", "handled", "verified", REVIEWER_ROLES, _l("Verify")),
    Transition("rework", "handled", "dispatched", REVIEWER_ROLES, _l("Return for rework"),
               note_required=True),
    Transition("close", "verified", "closed", REVIEWER_ROLES, _l("Close case")),
    Transition("reopen", "closed", "dispatched", REVIEWER_ROLES, _l("Reopen"),
               note_required=True),
)


# ------------------------------------------------------------------ taxonomy look-ups
class _DetectorCategories(Mapping):
    """Detector label -> its default :class:`~web.taxonomy.Subclass` in the taxonomy in use
    (read at each access, so an uploaded taxonomy applies at once)."""

    def _taxonomy(self) -> Taxonomy:
        return current_rules().taxonomy

    def __getitem__(self, key: str) -> Subclass:
        subs = self._taxonomy().subclasses_for(key)
        if not subs:
            raise KeyError(key)
        return subs[0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._taxonomy().detector_categories)

    def __len__(self) -> int:
        return len(self._taxonomy().detector_categories)


CATEGORIES: Mapping[str, Subclass] = _DetectorCategories()
"""Detector labels the taxonomy in use maps, each to its default subclass (read-only)."""


def category_for(detector_category: str, rules: CaseRules | None = None) -> Subclass | None:
    """The default subclass of a detector label: the first subclass that takes it, else the
    taxonomy's fallback subclass, else None."""
    return (rules or current_rules()).taxonomy.for_detector(detector_category)


def resolve_subclass(taxonomy: Taxonomy, value: str) -> Subclass:
    """The subclass named by ``value``: a subclass code, or a detector label it takes.

    Raises
    ------
    WebError
        If ``value`` is neither (the message names the taxonomy file).
    """
    sub = taxonomy.get(value)
    if sub is None and taxonomy.subclasses_for(value):
        sub = taxonomy.subclasses_for(value)[0]
    if sub is None:
        raise WebError(_("unknown case category %(value)r: not a subclass code of %(source)s "
                         "nor a detector label it maps", value=value, source=taxonomy.source))
    return sub


def _snapshot(case: Case, sub: Subclass) -> None:
    case.category = sub.code
    case.category_name_zh, case.category_name_en = sub.name_zh, sub.name_en
    cls = sub.event_class
    case.class_code = cls.code if cls else ""
    case.class_name_zh = cls.name_zh if cls else ""
    case.class_name_en = cls.name_en if cls else ""
    case.time_limit, case.time_unit = sub.time_limit.value, sub.time_limit.unit


# ------------------------------------------------------------------ places
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
    _check_position(lon_deg, lat_deg)
    point = Point(lon_deg, lat_deg)
    holders = []
    for squad in session.scalars(sa.select(Squad).order_by(Squad.id)):
        geom = shape(squad.jurisdiction)
        if geom.covers(point):
            holders.append((geom.area, squad.id, squad))
    return min(holders, key=lambda h: h[:2])[2] if holders else None


def _check_position(lon_deg: float, lat_deg: float) -> None:
    if not (isinstance(lon_deg, (int, float)) and isinstance(lat_deg, (int, float))
            and math.isfinite(lon_deg) and math.isfinite(lat_deg)
            and -180.0 <= lon_deg <= 180.0 and -90.0 <= lat_deg <= 90.0):
        raise ValueError(f"not a WGS84 position: lon {lon_deg}, lat {lat_deg}")


def _grid_id_for_point(session: Session, lon_deg: float, lat_deg: float) -> int | None:
    from web.places import grid_for_point

    grid = grid_for_point(session, lon_deg, lat_deg)
    return grid.id if grid is not None else None


# ------------------------------------------------------------------ the clock
def case_clock(case: Case) -> str:
    """``"calendar"`` for a limit in urgent hours, else ``"working"``."""
    return "calendar" if case.time_unit == "urgent_hours" else "working"


def _deadline(case: Case, rules: CaseRules) -> dt.datetime | None:
    if case.dispatched_at is None or case.time_limit_s is None or case.status == "suspended":
        return None
    total = case.time_limit_s + (case.extension_s or 0.0) + (case.suspended_s or 0.0)
    return clock_add(rules.calendar, case_clock(case), case.dispatched_at, total)


def _start_clock(case: Case, now: dt.datetime, rules: CaseRules) -> None:
    if case.time_limit is None or not case.time_unit:
        sub = rules.taxonomy.get(case.category)
        if sub is None:
            raise WorkflowError(_("case %(code)s: its subclass %(category)r is not in the "
                                  "taxonomy and it has no time limit", code=case.code,
                                  category=case.category))
        case.time_limit, case.time_unit = sub.time_limit.value, sub.time_limit.unit
    limit = TimeLimit(case.time_limit, case.time_unit)
    case.dispatched_at = now
    case.time_limit_s = limit.seconds(rules.calendar.day_seconds)
    case.extension_s = 0.0
    case.suspended_s = 0.0
    case.suspended_at = None
    case.deadline_utc = _deadline(case, rules)


def remaining_seconds(case: Case, now: dt.datetime,
                      rules: CaseRules | None = None) -> float | None:
    """Clock seconds left before the deadline at ``now`` (negative when overdue).

    Working seconds for limits in working hours/days, plain seconds for urgent hours; frozen
    at the moment of suspension while suspended; None before dispatch and once the case is
    closed or cancelled.
    """
    now = _now(now)
    if case.dispatched_at is None or case.time_limit_s is None or case.status in DONE_STATUSES:
        return None
    rules = rules or current_rules()
    until = case.suspended_at if case.status == "suspended" and case.suspended_at else now
    used = clock_between(rules.calendar, case_clock(case), case.dispatched_at, until) \
        - (case.suspended_s or 0.0)
    return case.time_limit_s + (case.extension_s or 0.0) - used


def overdue(case: Case, now: dt.datetime) -> bool:
    """True when the case's clock runs and ``now`` is past its deadline (never for cases
    not yet dispatched, suspended, closed or cancelled)."""
    now = _now(now)
    return (case.status in CLOCK_STATUSES and case.deadline_utc is not None
            and now > case.deadline_utc)


def overdue_clause(now: dt.datetime) -> sa.ColumnElement[bool]:
    """The SQL condition of :func:`overdue`, for list filters."""
    return sa.and_(Case.status.in_(CLOCK_STATUSES), Case.deadline_utc.is_not(None),
                   Case.deadline_utc < _now(now))


# ------------------------------------------------------------------ checks and records
def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: give times in UTC with tzinfo")
    return now


def may_act_on(case: Case, user: User) -> bool:
    """False for an officer and a case of another squad (or of none); True otherwise."""
    return user.role != "officer" or (case.squad_id is not None and case.squad_id == user.squad_id)


def allowed_transitions(case: Case, user: User) -> list[Transition]:
    """The status steps ``user`` may take on ``case`` now (for the buttons of the case page)."""
    if not may_act_on(case, user):
        return []
    return [t for t in TRANSITIONS if t.from_status == case.status and user.role in t.roles]


def _check_reviewer(user: User, what: str) -> None:
    if user.role not in REVIEWER_ROLES:
        raise WorkflowError(_("user %(user)r (%(role)s) may not %(what)s: only %(roles)s may",
                              user=user.username, role=user.role, what=what,
                              roles=", ".join(sorted(REVIEWER_ROLES))))


def _check_new(finding: Finding) -> None:
    if finding.status != "new":
        raise WorkflowError(_("finding %(id)s is already %(status)s", id=finding.id,
                              status=finding.status))


def _transition(case: Case, action: str) -> Transition:
    step = next((t for t in TRANSITIONS if t.action == action and t.from_status == case.status),
                None)
    if step is None:
        froms = sorted({t.from_status for t in TRANSITIONS if t.action == action})
        raise WorkflowError(_("case %(code)s is %(status)s: %(action)s is only for %(froms)s "
                              "cases", code=case.code, status=case.status, action=action,
                              froms=" or ".join(froms)))
    return step


def _check_actor(case: Case, user: User | None, action: str, roles: frozenset[str]) -> None:
    if user is None:  # the system (link_recurrences)
        return
    if user.role not in roles:
        raise WorkflowError(_("case %(code)s: %(action)s is for %(roles)s, not %(role)s "
                              "%(user)r", code=case.code, action=action,
                              roles=", ".join(sorted(roles)), role=user.role,
                              user=user.username))
    if not may_act_on(case, user):
        raise WorkflowError(_("case %(code)s belongs to another squad than %(user)r's",
                              code=case.code, user=user.username))


def _check_note(case: Case, action: str, note: str) -> None:
    if not (note or "").strip():
        raise WorkflowError(_("case %(code)s: %(action)s needs a note saying why",
                              code=case.code, action=action))


def _record(session: Session, case: Case, user: User | None, action: str, to_status: str,
            now: dt.datetime, note: str = "", data: dict[str, Any] | None = None) -> CaseEvent:
    """Add the case's timeline step and the audit entry; set the status."""
    data = dict(data or {})
    event = CaseEvent(user_id=user.id if user else None, action=action,
                      from_status=None if action == "report" else case.status,
                      to_status=to_status, at=now, note=(note or "").strip(), data=data)
    case.status = to_status
    case.events.append(event)
    session.flush()
    session.add(AuditEvent(at=now, user_id=user.id if user else None, action=f"case.{action}",
                           target_type="case", target_id=case.id, note=event.note,
                           data={"code": case.code, "from": event.from_status, "to": to_status,
                                 **data}))
    return event


def _step(session: Session, case: Case, action: str, user: User | None, now: dt.datetime,
          note: str = "", data: dict[str, Any] | None = None) -> CaseEvent:
    step = _transition(case, action)
    _check_actor(case, user, action, step.roles)
    if step.note_required:
        _check_note(case, action, note)
    return _record(session, case, user, action, step.to_status, now, note, data)


def _attach(session: Session, case: Case, user: User | None, photos: Sequence[StoredPhoto],
            stage: str, event: CaseEvent | None, now: dt.datetime) -> list[CaseAttachment]:
    rows = [CaseAttachment(case_id=case.id, event=event, user_id=user.id if user else None,
                           stage=stage, sha256=p.sha256, stored_path=p.stored_path,
                           original_name=p.original_name, content_type=p.content_type,
                           size_bytes=p.size_bytes, width_px=p.width_px, height_px=p.height_px,
                           uploaded_at=now)
            for p in photos]
    session.add_all(rows)
    if event is not None and rows:
        event.data = {**event.data, "photos": [p.sha256 for p in photos]}
    session.flush()
    return rows


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.timezone.utc).isoformat()


# ------------------------------------------------------------------ report (上报)
def finding_snapshot(finding: Finding) -> dict[str, Any]:
    """What a drone case's report event keeps of its finding (``data["finding"]``): ``id``,
    detector ``category``, ``score`` (0-1) and ``seen_count`` at reporting time; the console
    renders it as the case's description in the viewer's language (:mod:`web.case_text`)."""
    return {"id": finding.id, "category": finding.category,
            "score": round(float(finding.score), 4), "seen_count": int(finding.seen_count)}


def new_case_code(session: Session, now: dt.datetime) -> str:
    """The next case code of the UTC day of ``now``: ``C-YYYYMMDD-NNNN`` (1-based).

    Codes are unique in the database; two transactions reporting at once may collide and the
    second commit fails on the unique constraint.
    """
    prefix = f"C-{now.astimezone(dt.timezone.utc):%Y%m%d}-"
    codes = session.scalars(sa.select(Case.code).where(Case.code.like(prefix + "%")))
    numbers = [int(c[len(prefix):]) for c in codes if c[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def report_case(session: Session, user: User | None, *, subclass: str, lat_deg: float,
                lon_deg: float, description: str = "", address: str = "", note: str = "",
                source: str = "manual", finding: Finding | None = None,
                photos: Sequence[StoredPhoto] = (), now: dt.datetime | None = None,
                rules: CaseRules | None = None) -> Case:
    """Report (上报) a case at a WGS84 point: status ``reported``.

    The case gets the next code of the day, the subclass's code and names (and its class's)
    as they are now, the squad whose jurisdiction holds the point (None outside every one:
    :func:`assign_squad` before dispatch) and the unit grid (单元网格) holding it.

    Parameters
    ----------
    user : User or None
        A supervisor or admin; None for a report made by the system.
    subclass : str
        A subclass code of the taxonomy in use, or a detector label it maps.
    lat_deg, lon_deg : float
        WGS84 degrees.
    photos : sequence of StoredPhoto
        Photos already kept by :func:`web.case_evidence.store_case_photo`.

    Raises
    ------
    WorkflowError
        If the user may not report.
    WebError
        If the subclass is unknown or the position is not WGS84.
    """
    now = _now(now)
    rules = rules or current_rules()
    if user is not None:
        _check_reviewer(user, _("report cases"))
    sub = resolve_subclass(rules.taxonomy, subclass)
    try:
        squad = squad_for_point(session, lon_deg, lat_deg)
    except ValueError as err:
        raise WebError(str(err)) from err
    case = Case(code=new_case_code(session, now), finding_id=finding.id if finding else None,
                source=source, status="reported", squad=squad,
                grid_id=_grid_id_for_point(session, lon_deg, lat_deg),
                reporter_id=user.id if user else None, lat_deg=float(lat_deg),
                lon_deg=float(lon_deg), address=(address or "").strip()[:300],
                description=(description or "").strip(), created_at=now)
    _snapshot(case, sub)
    session.add(case)
    event = _record(session, case, user, "report", "reported", now, note,
                    {"category": sub.code, "source": source,
                     "squad": squad.name if squad else None,
                     "finding_id": finding.id if finding else None,
                     **({"finding": finding_snapshot(finding)} if finding else {})})
    if photos:
        _attach(session, case, user, photos, "report", event, now)
    return case


def open_case_from_finding(session: Session, finding: Finding, user: User, *,
                           subclass: str | None = None, category: str | None = None,
                           note: str = "", file: bool = True, now: dt.datetime | None = None,
                           rules: CaseRules | None = None) -> Case:
    """Confirm a finding and report its case; file it too unless ``file=False``.

    The finding becomes ``"confirmed"`` (reviewed by ``user`` at ``now``, audit entry
    ``finding.confirm``); the case is reported at the finding's position under ``subclass``
    (or ``category``, a code or detector label; default: the subclass taking the finding's
    label, else the taxonomy's fallback). With ``file=True`` (the default, for callers that
    vouch for the filing condition) it is also filed (立案) at once; the console passes
    ``file=False`` so a supervisor files it with the condition in front of them.

    Returns
    -------
    Case
        The new case (added, flushed; not committed).

    Raises
    ------
    WorkflowError
        If the finding is not new, the user may not review findings, or no subclass takes
        the finding's label and none was given.
    WebError
        If ``subclass``/``category`` is not in the taxonomy.
    """
    now = _now(now)
    rules = rules or current_rules()
    _check_reviewer(user, _("confirm findings"))
    _check_new(finding)
    chosen = subclass or category
    if chosen:
        sub = resolve_subclass(rules.taxonomy, chosen)
    else:
        sub = rules.taxonomy.for_detector(finding.category)
        if sub is None:
            raise WorkflowError(_("finding %(id)s: no subclass of %(source)s takes %(label)r; "
                                  "choose one", id=finding.id, source=rules.taxonomy.source,
                                  label=finding.category))
    finding.status = "confirmed"
    finding.reviewed_at = now
    case = report_case(session, user, subclass=sub.code, lat_deg=finding.lat_deg,
                       lon_deg=finding.lon_deg, note=note, source="drone", finding=finding,
                       now=now, rules=rules)
    session.add(AuditEvent(at=now, user_id=user.id, action="finding.confirm",
                           target_type="finding", target_id=finding.id, note=note,
                           data={"case_id": case.id, "case_code": case.code,
                                 "category": sub.code, "detector_category": finding.category}))
    if file:
        file_case(session, case, user, filing_acknowledged=True, now=now, rules=rules)
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
    _check_reviewer(user, _("reject findings"))
    _check_new(finding)
    finding.status = "rejected"
    finding.reviewed_at = now
    entry = AuditEvent(at=now, user_id=user.id, action="finding.reject", target_type="finding",
                       target_id=finding.id, note=note, data={"category": finding.category})
    session.add(entry)
    return entry


# ------------------------------------------------------------------ file (立案), cancel
def file_case(session: Session, case: Case, user: User, *, filing_acknowledged: bool,
              subclass: str | None = None, note: str = "", now: dt.datetime | None = None,
              rules: CaseRules | None = None) -> CaseEvent:
    """File (立案) a reported case, the user confirming its filing condition holds.

    ``subclass`` (a code) changes the subclass first; the case keeps the new code and names.

    Raises
    ------
    WorkflowError
        If the case is not reported, the user is not a supervisor/admin, or
        ``filing_acknowledged`` is false (the message quotes the condition).
    WebError
        If ``subclass`` is not in the taxonomy.
    """
    now = _now(now)
    rules = rules or current_rules()
    step = _transition(case, "file")
    _check_actor(case, user, "file", step.roles)
    data: dict[str, Any] = {}
    if subclass and subclass != case.category:
        sub = resolve_subclass(rules.taxonomy, subclass)
        data["category_before"] = case.category
        _snapshot(case, sub)
    sub = rules.taxonomy.get(case.category)
    condition = sub.filing_condition if sub else ""
    if not filing_acknowledged:
        raise WorkflowError(_("case %(code)s: confirm that the filing condition holds before "
                              "filing: %(condition)s", code=case.code,
                              condition=condition or case.category))
    case.filed_at = now
    data.update(category=case.category, filing_condition=condition)
    return _record(session, case, user, "file", "filed", now, note, data)


def cancel_case(session: Session, case: Case, user: User, *, note: str,
                now: dt.datetime | None = None) -> CaseEvent:
    """Do not file a reported case (不予立案), with the reason: status ``cancelled``.

    Raises
    ------
    WorkflowError
        If the case is not reported, the user is not a supervisor/admin or no reason is given.
    """
    now = _now(now)
    event = _step(session, case, "cancel", user, now, note)
    case.closed_at = now
    return event


# ------------------------------------------------------------------ dispatch (派遣)
def _check_officer(officer: User, squad: Squad, case: Case) -> None:
    if officer.role != "officer" or not officer.active or officer.squad_id != squad.id:
        raise WorkflowError(_("case %(code)s: %(user)r is not an active officer of %(squad)s",
                              code=case.code, user=officer.username, squad=squad.name))


def dispatch_case(session: Session, case: Case, user: User, *, squad: Squad | None = None,
                  officer: User | None = None, note: str = "", now: dt.datetime | None = None,
                  rules: CaseRules | None = None) -> CaseEvent:
    """Dispatch (派遣) a filed case to a squad and optionally one of its officers; the clock
    starts: ``deadline_utc`` = now + the subclass's time limit on the case's clock.

    ``squad`` defaults to the case's (by jurisdiction).

    Raises
    ------
    WorkflowError
        If the case is not filed, the user is not a supervisor/admin, there is no squad, or
        ``officer`` is not an active officer of the squad.
    """
    now = _now(now)
    rules = rules or current_rules()
    step = _transition(case, "dispatch")
    _check_actor(case, user, "dispatch", step.roles)
    squad = squad or case.squad
    if squad is None:
        raise WorkflowError(_("case %(code)s has no squad (its place is outside every "
                              "jurisdiction): assign one before dispatching", code=case.code))
    if officer is not None:
        _check_officer(officer, squad, case)
    case.squad = squad
    case.officer = officer
    _start_clock(case, now, rules)
    return _record(session, case, user, "dispatch", "dispatched", now, note,
                   {"squad_id": squad.id, "squad": squad.name,
                    "officer_id": officer.id if officer else None,
                    "officer": officer.username if officer else None,
                    "time_limit": case.time_limit, "time_unit": case.time_unit,
                    "deadline": _iso(case.deadline_utc)})


# ------------------------------------------------------------------ handle (处置), notes
def handle_case(session: Session, case: Case, user: User, *, note: str,
                photos: Sequence[StoredPhoto] = (), now: dt.datetime | None = None) -> CaseEvent:
    """Report a dispatched case handled (处置), with what was done and evidence photos.

    Raises
    ------
    WorkflowError
        If the case is not dispatched, the user is not an officer of its squad (or admin),
        or the note is empty.
    """
    now = _now(now)
    event = _step(session, case, "handle", user, now, note)
    case.handled_at = now
    if photos:
        _attach(session, case, user, photos, "handle", event, now)
    return event


def add_case_note(session: Session, case: Case, user: User, *, note: str,
                  photos: Sequence[StoredPhoto] = (), now: dt.datetime | None = None) -> CaseEvent:
    """Add a note and photos to an open case's timeline (status unchanged).

    Raises
    ------
    WorkflowError
        If the case is closed or cancelled, the user is an officer of another squad, or
        neither a note nor a photo is given.
    """
    now = _now(now)
    if case.status in DONE_STATUSES:
        raise WorkflowError(_("case %(code)s is %(status)s", code=case.code, status=case.status))
    _check_actor(case, user, "note", CASE_ROLES)
    if not (note or "").strip() and not photos:
        raise WorkflowError(_("case %(code)s: give a note or a photo", code=case.code))
    event = _record(session, case, user, "note", case.status, now, note)
    if photos:
        _attach(session, case, user, photos, "note", event, now)
    return event


# ------------------------------------------------------------------ verify (核查), rework, close
def verify_case(session: Session, case: Case, user: User, *, note: str = "",
                photos: Sequence[StoredPhoto] = (), now: dt.datetime | None = None) -> CaseEvent:
    """Verify (核查) a handled case: the problem is gone.

    Raises
    ------
    WorkflowError
        If the case is not handled or the user is not a supervisor/admin.
    """
    now = _now(now)
    event = _step(session, case, "verify", user, now, note)
    case.verified_at = now
    if photos:
        _attach(session, case, user, photos, "verify", event, now)
    return event


def return_for_rework(session: Session, case: Case, user: User, *, note: str,
                      now: dt.datetime | None = None) -> CaseEvent:
    """Verification failed (核查不通过): back to ``dispatched`` with the reason; counted in
    ``rework_count``. The deadline stays.

    Raises
    ------
    WorkflowError
        If the case is not handled, the user is not a supervisor/admin or no reason is given.
    """
    now = _now(now)
    event = _step(session, case, "rework", user, now, note)
    case.rework_count = (case.rework_count or 0) + 1
    event.data = {**event.data, "rework_count": case.rework_count}
    return event


def close_case(session: Session, case: Case, user: User, *, note: str = "",
               now: dt.datetime | None = None) -> CaseEvent:
    """Close (结案) a verified case; ``closed_at`` is set, the deadline kept (on time when
    ``closed_at <= deadline_utc``).

    Raises
    ------
    WorkflowError
        If the case is not verified or the user is not a supervisor/admin.
    """
    now = _now(now)
    event = _step(session, case, "close", user, now, note,
                  {"deadline": _iso(case.deadline_utc),
                   "on_time": bool(case.deadline_utc is None or now <= case.deadline_utc)})
    case.closed_at = now
    return event


# ------------------------------------------------------------------ suspend, resume, reopen
def suspend_case(session: Session, case: Case, user: User, *, note: str,
                 now: dt.datetime | None = None) -> CaseEvent:
    """Suspend (挂起) a dispatched case, with the reason: its clock stops until
    :func:`resume_case`; it has no deadline meanwhile.

    Raises
    ------
    WorkflowError
        If the case is not dispatched, the user is not a supervisor/admin or no reason is given.
    """
    now = _now(now)
    event = _step(session, case, "suspend", user, now, note)
    case.suspended_at = now
    case.deadline_utc = None
    return event


def resume_case(session: Session, case: Case, user: User, *, note: str = "",
                now: dt.datetime | None = None, rules: CaseRules | None = None) -> CaseEvent:
    """Resume a suspended case: the clock time it was suspended moves the deadline on.

    Raises
    ------
    WorkflowError
        If the case is not suspended or the user is not a supervisor/admin.
    """
    now = _now(now)
    rules = rules or current_rules()
    step = _transition(case, "resume")
    _check_actor(case, user, "resume", step.roles)
    stopped = 0.0
    if case.suspended_at is not None:
        stopped = max(0.0, clock_between(rules.calendar, case_clock(case), case.suspended_at, now))
    case.suspended_s = (case.suspended_s or 0.0) + stopped
    case.suspended_at = None
    event = _record(session, case, user, "resume", "dispatched", now, note)
    case.deadline_utc = _deadline(case, rules)
    event.data = {**event.data, "suspended_s": stopped, "deadline": _iso(case.deadline_utc)}
    return event


def reopen_case(session: Session, case: Case, user: User | None, *, note: str,
                now: dt.datetime | None = None, rules: CaseRules | None = None,
                data: dict[str, Any] | None = None) -> CaseEvent:
    """Reopen a closed case (the problem is back): ``dispatched`` again to the same squad and
    officer, with a fresh clock (the subclass's limit from now); ``reopen_count`` counts it.

    ``user`` None is the system (:func:`link_recurrences`).

    Raises
    ------
    WorkflowError
        If the case is not closed, the user is not a supervisor/admin or no reason is given.
    """
    now = _now(now)
    rules = rules or current_rules()
    step = _transition(case, "reopen")
    _check_actor(case, user, "reopen", step.roles)
    if user is not None or not (data or {}).get("finding_id"):
        _check_note(case, "reopen", note)
    case.closed_at = case.handled_at = case.verified_at = None
    case.reopen_count = (case.reopen_count or 0) + 1
    _start_clock(case, now, rules)
    return _record(session, case, user, "reopen", "dispatched", now, note,
                   {**(data or {}), "reopen_count": case.reopen_count,
                    "deadline": _iso(case.deadline_utc)})


@dataclass(frozen=True)
class Recurrence:
    """A closed case reopened because its finding was seen again after it was closed."""

    case_id: int
    case_code: str
    finding_id: int
    last_seen_utc: dt.datetime
    closed_at: dt.datetime
    deadline_utc: dt.datetime | None


def link_recurrences(session: Session, now: dt.datetime | None = None, *,
                     rules: CaseRules | None = None) -> list[Recurrence]:
    """Reopen every closed case whose finding was seen after the case was closed.

    Run after vision has merged new detections into findings (``last_seen_utc`` moves on
    when a finding is seen again). Each case is reopened by the system
    (:func:`reopen_case`; the event's data names the sighting, no note); nothing is committed.

    Parameters
    ----------
    now : datetime, optional
        Reopening time (default: now).
    rules : CaseRules, optional
        Taxonomy and calendar (default :func:`web.case_rules.current_rules`; a CLI passes
        ``case_rules(settings.data_dir, timezone=settings.timezone)``).

    Returns
    -------
    list of Recurrence
        What was reopened, by case id.
    """
    now = _now(now)
    rules = rules or current_rules()
    rows = session.execute(
        sa.select(Case, Finding).join(Finding, Finding.id == Case.finding_id)
        .where(Case.status == "closed", Case.closed_at.is_not(None),
               Finding.last_seen_utc.is_not(None), Finding.last_seen_utc > Case.closed_at)
        .order_by(Case.id)).all()
    done = []
    for case, finding in rows:
        closed_at = case.closed_at
        reopen_case(session, case, None, note="", now=now, rules=rules,
                    data={"finding_id": finding.id, "last_seen": _iso(finding.last_seen_utc),
                          "seen_count": finding.seen_count, "closed_at": _iso(closed_at)})
        done.append(Recurrence(case_id=case.id, case_code=case.code, finding_id=finding.id,
                               last_seen_utc=finding.last_seen_utc, closed_at=closed_at,
                               deadline_utc=case.deadline_utc))
    return done


# ------------------------------------------------------------------ extensions (延期)
def request_extension(session: Session, case: Case, user: User, *, amount: float, reason: str,
                      now: dt.datetime | None = None) -> CaseExtension:
    """An officer asks for ``amount`` more time, in the case's step unit (working days for a
    limit in working days, else hours of its clock), with the reason.

    Raises
    ------
    WorkflowError
        If the case is not dispatched, the user is not an officer of its squad (or admin),
        another request is pending, the amount is not positive or the reason is empty.
    """
    now = _now(now)
    if case.status != "dispatched":
        raise WorkflowError(_("case %(code)s is %(status)s: more time is asked for while it is "
                              "dispatched", code=case.code, status=case.status))
    _check_actor(case, user, "extension_request", HANDLER_ROLES)
    _check_note(case, "extension_request", reason)
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) \
            or not math.isfinite(amount) or amount <= 0:
        raise WorkflowError(_("case %(code)s: the extension must be a positive amount, not "
                              "%(amount)r", code=case.code, amount=amount))
    if any(e.status == "pending" for e in case.extensions):
        raise WorkflowError(_("case %(code)s already has an extension request waiting for a "
                              "decision", code=case.code))
    unit = TimeLimit(case.time_limit or 1.0, case.time_unit or "working_hours").step
    ext = CaseExtension(case=case, requested_by=user.id, requested_at=now, amount=float(amount),
                        unit=unit, reason=reason.strip(), status="pending")
    session.add(ext)
    session.flush()
    _record(session, case, user, "extension_request", case.status, now, reason,
            {"extension_id": ext.id, "amount": float(amount), "unit": unit})
    return ext


def decide_extension(session: Session, extension: CaseExtension, user: User, *, grant: bool,
                     amount: float | None = None, note: str = "",
                     now: dt.datetime | None = None,
                     rules: CaseRules | None = None) -> CaseEvent:
    """Grant (optionally a different ``amount``) or deny a pending extension request.

    A grant adds the amount, in seconds of the case's clock, to ``extension_s`` and moves the
    deadline on.

    Raises
    ------
    WorkflowError
        If the request is not pending, the case is closed or cancelled, the user is not a
        supervisor/admin, or a granted amount is not positive.
    """
    now = _now(now)
    rules = rules or current_rules()
    case = extension.case
    _check_actor(case, user, "extension_decide", REVIEWER_ROLES)
    if extension.status != "pending":
        raise WorkflowError(_("extension %(id)s of case %(code)s is already %(status)s",
                              id=extension.id, code=case.code, status=extension.status))
    if case.status in DONE_STATUSES:
        raise WorkflowError(_("case %(code)s is %(status)s", code=case.code, status=case.status))
    extension.decided_by, extension.decided_at = user.id, now
    extension.decision_note = (note or "").strip()
    if not grant:
        extension.status = "denied"
        return _record(session, case, user, "extension_deny", case.status, now, note,
                       {"extension_id": extension.id})
    granted = extension.amount if amount is None else amount
    if isinstance(granted, bool) or not isinstance(granted, (int, float)) \
            or not math.isfinite(granted) or granted <= 0:
        raise WorkflowError(_("case %(code)s: the extension must be a positive amount, not "
                              "%(amount)r", code=case.code, amount=granted))
    unit = "working_days" if extension.unit == "days" else "working_hours"
    seconds = clock_seconds(granted, unit, rules.calendar.day_seconds)
    extension.status = "granted"
    extension.granted_amount, extension.granted_s = float(granted), seconds
    case.extension_s = (case.extension_s or 0.0) + seconds
    case.deadline_utc = _deadline(case, rules)
    return _record(session, case, user, "extension_grant", case.status, now, note,
                   {"extension_id": extension.id, "amount": float(granted),
                    "unit": extension.unit, "deadline": _iso(case.deadline_utc)})


# ------------------------------------------------------------------ squads
def assign_squad(session: Session, case: Case, squad: Squad, user: User, *,
                 officer: User | None = None, note: str = "",
                 now: dt.datetime | None = None) -> CaseEvent:
    """Give ``case`` to ``squad`` (and ``officer`` of it, or none), recorded in its history.

    The status is unchanged; an officer of the old squad is taken off the case.

    Raises
    ------
    WorkflowError
        If the user is not a supervisor/admin, the case is closed or cancelled, or
        ``officer`` is not an active officer of ``squad``.
    """
    now = _now(now)
    _check_reviewer(user, _("assign cases to squads"))
    if case.status in DONE_STATUSES:
        raise WorkflowError(_("case %(code)s is %(status)s", code=case.code, status=case.status))
    if officer is not None:
        _check_officer(officer, squad, case)
    before = case.squad.name if case.squad is not None else "no squad"
    case.squad = squad
    if officer is not None or (case.officer is not None and case.officer.squad_id != squad.id):
        case.officer = officer
    text = f"assigned to {squad.name}" + (f" ({officer.username})" if officer else "") + \
        f" (was {before})"
    note = f"{text}. {note.strip()}" if (note or "").strip() else text
    return _record(session, case, user, "assign", case.status, now, note,
                   {"squad_id": squad.id, "squad": squad.name,
                    "officer_id": officer.id if officer else None})


# ------------------------------------------------------------------ compatibility
def advance_case(session: Session, case: Case, to_status: str, user: User, *, note: str = "",
                 now: dt.datetime | None = None, rules: CaseRules | None = None,
                 **details: Any) -> CaseEvent:
    """Move ``case`` to ``to_status`` by the matching step of :data:`TRANSITIONS`.

    Calls the step's own function (:func:`file_case`, :func:`dispatch_case`,
    :func:`handle_case`...) with ``note``, ``now`` and ``details`` (e.g.
    ``filing_acknowledged=True``, ``squad=...``, ``photos=[...]``).

    Raises
    ------
    WorkflowError
        If no step leads from the case's status to ``to_status``, or the step refuses.
    """
    now = _now(now)
    step = next((t for t in TRANSITIONS
                 if t.from_status == case.status and t.to_status == to_status), None)
    if step is None:
        nexts = [t.to_status for t in TRANSITIONS if t.from_status == case.status]
        raise WorkflowError(_("case %(code)s: cannot go from %(status)s to %(to)s; next "
                              "allowed: %(nexts)s", code=case.code, status=case.status,
                              to=to_status, nexts=", ".join(nexts) or "none"))
    kw: dict[str, Any] = {"note": note, "now": now}
    if step.action in ("file", "dispatch", "resume", "reopen"):
        kw["rules"] = rules
    fn = _STEP_FUNCTIONS[step.action]
    return fn(session, case, user, **kw, **details)


_STEP_FUNCTIONS = {
    "file": lambda s, c, u, filing_acknowledged=False, **kw: file_case(
        s, c, u, filing_acknowledged=filing_acknowledged, **kw),
    "cancel": cancel_case, "dispatch": dispatch_case, "suspend": suspend_case,
    "resume": resume_case, "handle": handle_case, "verify": verify_case,
    "rework": return_for_rework, "close": close_case, "reopen": reopen_case,
}
