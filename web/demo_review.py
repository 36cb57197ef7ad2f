"""The demo's scripted review: a bureau's fortnight played over the demo's findings.

``patrol demo`` detects findings on the bundled real photos; nobody has reviewed them. So
that the cases, the clock and the dashboard have something to show, :func:`play_demo_review`
takes the findings still awaiting review and plays a supervisor's and the officers' decisions
on them over the two weeks before ``now``. **The decisions are scripted, not real**: every
event it writes says so in its note, and the same findings always get the same decisions.

The script, by score order (highest first), cycles through four outcomes:

0. closed on time: filed, dispatched, handled the next working hours, verified, closed;
1. closed after rework: the first handling fails verification (返工), the second passes;
2. in progress: dispatched and handled, awaiting verification;
3. overdue: dispatched a fortnight ago and not handled.

The lowest-scoring quarter of the findings are rejected as false alarms (they count against
the valid-report rate, 有效上报率).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from vision.models import Finding
from web.case_rules import CaseRules, current_rules
from web.cases import (close_case, dispatch_case, handle_case, open_case_from_finding, reject_finding,
                       return_for_rework, squad_for_point, verify_case)
from web.models import User

__all__ = ["DemoReview", "SCRIPT_NOTE", "play_demo_review"]

SCRIPT_NOTE = "scripted demo decision, not a real review"
"""Appended to every note the script writes."""

OUTCOMES = ("closed_on_time", "closed_after_rework", "in_progress", "overdue")


@dataclass
class DemoReview:
    """What the script did: case ids by outcome and the rejected finding ids."""

    cases: dict[str, list[int]] = field(default_factory=lambda: {o: [] for o in OUTCOMES})
    rejected: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"cases": self.cases, "rejected": self.rejected, "skipped": self.skipped}


def _officer(session: Session, squad_id: int | None) -> User | None:
    if squad_id is None:
        return None
    return session.scalars(sa.select(User).where(User.role == "officer", User.squad_id == squad_id,
                                                 User.active.is_(True)).order_by(User.id)).first()


def play_demo_review(session: Session, *, now: dt.datetime, max_cases: int = 12,
                     rules: CaseRules | None = None) -> DemoReview:
    """Play the scripted review (module docstring) on the findings awaiting review.

    Parameters
    ----------
    session : Session
        Nothing is committed.
    now : datetime
        Aware UTC; the script's events fall in the 14 days before it.
    max_cases : int
        At most this many findings become cases; the rest of the upper three quarters stay
        awaiting review.
    rules : CaseRules, optional
        Taxonomy and work calendar (default: :func:`web.case_rules.current_rules`).

    Returns
    -------
    DemoReview

    Raises
    ------
    ValueError
        If the demo's ``supervisor`` user is missing (seed the demo users first).
    """
    rules = rules or current_rules()
    supervisor = session.scalars(sa.select(User).where(User.username == "supervisor")).one_or_none()
    if supervisor is None:
        raise ValueError("the demo's 'supervisor' user is missing: seed the demo users first")
    findings = list(session.scalars(sa.select(Finding).where(Finding.status == "new")
                                    .order_by(Finding.score.desc(), Finding.id)))
    review = DemoReview()
    n_reject = len(findings) // 4
    keep, false_alarms = findings[:len(findings) - n_reject], findings[len(findings) - n_reject:]
    start = now - dt.timedelta(days=14)
    for finding in false_alarms:
        reject_finding(session, finding, supervisor, f"false alarm ({SCRIPT_NOTE})", now=start)
        review.rejected.append(finding.id)
    for i, finding in enumerate(keep[:max_cases]):
        squad = squad_for_point(session, finding.lon_deg, finding.lat_deg)
        officer = _officer(session, squad.id if squad else None)
        if officer is None:
            review.skipped.append(f"finding #{finding.id}: no squad officer at its position")
            continue
        outcome = OUTCOMES[i % len(OUTCOMES)]
        t = start + dt.timedelta(days=i % 5, hours=1)
        case = open_case_from_finding(session, finding, supervisor, note=SCRIPT_NOTE, now=t, rules=rules)
        dispatch_case(session, case, supervisor, squad=squad, officer=officer, note=SCRIPT_NOTE,
                      now=t + dt.timedelta(minutes=20), rules=rules)
        if outcome != "overdue":
            t_handle = t + dt.timedelta(hours=3)
            handle_case(session, case, officer, note=f"cleared ({SCRIPT_NOTE})", now=t_handle)
            if outcome == "closed_after_rework":
                return_for_rework(session, case, supervisor, note=f"still there ({SCRIPT_NOTE})",
                                  now=t_handle + dt.timedelta(hours=1))
                t_handle += dt.timedelta(days=1)
                handle_case(session, case, officer, note=f"cleared again ({SCRIPT_NOTE})", now=t_handle)
            if outcome != "in_progress":
                verify_case(session, case, supervisor, note=SCRIPT_NOTE, now=t_handle + dt.timedelta(hours=1))
                close_case(session, case, supervisor, note=SCRIPT_NOTE, now=t_handle + dt.timedelta(hours=2))
        review.cases[outcome].append(case.id)
    session.flush()
    return review
