"""The case workflow (web.cases) on the migrated database: filing, squads, transitions, roles."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import shape

from vision.models import Finding
from web.cases import (CATEGORIES, TRANSITIONS, advance_case, allowed_transitions, assign_squad,
                       category_for, new_case_code, open_case_from_finding, overdue,
                       reject_finding, squad_for_point)
from web.errors import WebError, WorkflowError
from web.models import AuditEvent, Case, CaseEvent, Squad, User

from .conftest import IN_DANGHU, IN_ZHONGDAI, OUTSIDE, T0

NOW = T0 + dt.timedelta(hours=1)

VISION_CATEGORIES = ("exposed_garbage", "construction_waste", "illegal_structure",
                     "construction_dust", "open_burning", "street_vending", "illegal_parking",
                     "illegal_banner", "water_litter", "other")


def _user(session, username: str) -> User:
    return session.scalars(sa.select(User).where(User.username == username)).one()


@pytest.mark.parametrize("key", VISION_CATEGORIES)
def test_category_table_covers_the_vision_labels(key):
    cat = CATEGORIES[key]
    assert cat.key == key and re.fullmatch(r"[a-z]+(_[a-z]+)*", key)
    assert cat.time_limit_h > 0
    assert re.search(r"[\u4e00-\u9fff]", cat.name_zh), "each category has its Chinese name"


def test_unknown_detector_label_files_as_other():
    assert category_for("tree_on_road").key == "other"


def test_squad_for_point_by_jurisdiction(session, world):
    assert squad_for_point(session, *IN_DANGHU).id == world.squads["danghu"]
    assert squad_for_point(session, *IN_ZHONGDAI).id == world.squads["zhongdai"]
    assert squad_for_point(session, *OUTSIDE) is None
    duluth = session.get(Finding, world.findings["duluth"])
    assert squad_for_point(session, duluth.lon_deg, duluth.lat_deg).id == world.squads["duluth"]


def test_point_on_a_shared_border_goes_to_the_smaller_jurisdiction(session, world):
    danghu, zhongdai = (session.get(Squad, world.squads[k]) for k in ("danghu", "zhongdai"))
    border = shape(danghu.jurisdiction).intersection(shape(zhongdai.jurisdiction))
    assert border.length > 0, "the demo squads share a border"
    point = border.interpolate(0.5, normalized=True)
    smaller = min((danghu, zhongdai), key=lambda s: shape(s.jurisdiction).area)
    assert squad_for_point(session, point.x, point.y).id == smaller.id


def test_squad_for_point_rejects_non_wgs84(session, world):
    with pytest.raises(ValueError, match="not a WGS84 position"):
        squad_for_point(session, 30.7, 121.0)  # lat/lon swapped


def test_confirming_a_finding_files_a_case(session, world):
    supervisor = _user(session, "supervisor")
    finding = session.get(Finding, world.findings["danghu"])
    case = open_case_from_finding(session, finding, supervisor, note="seen from the bridge",
                                  now=NOW)
    session.commit()

    assert case.code == "C-20260501-0001"
    assert case.status == "filed" and case.category == "exposed_garbage"
    assert case.squad_id == world.squads["danghu"]
    assert case.deadline_utc == NOW + dt.timedelta(hours=CATEGORIES["exposed_garbage"].time_limit_h)
    assert (case.lon_deg, case.lat_deg) == IN_DANGHU
    assert finding.status == "confirmed" and finding.reviewed_at == NOW
    review = session.scalars(sa.select(AuditEvent).where(AuditEvent.target_id == finding.id)).one()
    assert (review.action, review.user_id, review.target_type) == ("finding.confirm", supervisor.id, "finding")
    [event] = session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert (event.from_status, event.to_status, event.user_id, event.at, event.note) == \
        (None, "filed", supervisor.id, NOW, "seen from the bridge")
    audit = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "finding.confirm")).one()
    assert (audit.target_id, audit.data["case_code"]) == (finding.id, case.code)


def test_case_codes_count_up_within_a_day(session, world):
    supervisor = _user(session, "supervisor")
    codes = [open_case_from_finding(session, session.get(Finding, world.findings[k]), supervisor,
                                    now=NOW).code for k in ("danghu", "zhongdai")]
    assert codes == ["C-20260501-0001", "C-20260501-0002"]
    assert new_case_code(session, NOW + dt.timedelta(days=1)) == "C-20260502-0001"


def test_reviewer_may_choose_the_category(session, world):
    finding = session.get(Finding, world.findings["zhongdai"])
    case = open_case_from_finding(session, finding, _user(session, "admin"),
                                  category="illegal_structure", now=NOW)
    assert case.category == "illegal_structure"
    assert case.deadline_utc - NOW == dt.timedelta(hours=CATEGORIES["illegal_structure"].time_limit_h)
    assert finding.category == "construction_waste", "the detector's label is kept on the finding"


def test_unknown_category_is_refused(session, world):
    finding = session.get(Finding, world.findings["danghu"])
    with pytest.raises(WebError, match="unknown case category 'litter'"):
        open_case_from_finding(session, finding, _user(session, "supervisor"), category="litter")
    assert finding.status == "new"


@pytest.mark.parametrize("username", ["operator", "officer"])
def test_only_reviewers_confirm_or_reject(session, world, username):
    finding = session.get(Finding, world.findings["danghu"])
    user = _user(session, username)
    with pytest.raises(WorkflowError, match="may not confirm"):
        open_case_from_finding(session, finding, user)
    with pytest.raises(WorkflowError, match="may not reject"):
        reject_finding(session, finding, user, "nothing there")
    assert finding.status == "new"


def test_reject_records_who_and_why(session, world):
    supervisor = _user(session, "supervisor")
    finding = session.get(Finding, world.findings["zhongdai"])
    entry = reject_finding(session, finding, supervisor, "shadow of a tree", now=NOW)
    session.commit()
    assert finding.status == "rejected" and finding.reviewed_at == NOW
    stored = session.get(AuditEvent, entry.id)
    assert (stored.action, stored.target_id, stored.note, stored.at) == \
        ("finding.reject", finding.id, "shadow of a tree", NOW)
    with pytest.raises(WorkflowError, match="already rejected"):
        open_case_from_finding(session, finding, supervisor)


def test_case_goes_from_filed_to_closed(session, world):
    supervisor, officer = _user(session, "supervisor"), _user(session, "officer")
    case = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  supervisor, now=NOW)
    steps = [("dispatched", supervisor, "to the 当湖 squad"), ("handled", officer, "cleared"),
             ("verified", supervisor, "checked on site"), ("closed", supervisor, "")]
    for i, (to_status, user, note) in enumerate(steps, start=1):
        assert to_status in [t.to_status for t in allowed_transitions(case, user)]
        advance_case(session, case, to_status, user, note=note, now=NOW + dt.timedelta(hours=i))
    session.commit()

    history = session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)
                              .order_by(CaseEvent.at)).all()
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "filed"), ("filed", "dispatched"), ("dispatched", "handled"),
        ("handled", "verified"), ("verified", "closed")]
    assert [e.user_id for e in history] == [supervisor.id, supervisor.id, officer.id,
                                            supervisor.id, supervisor.id]
    assert [e.note for e in history[1:]] == [note for _, _, note in steps]
    assert case.status == "closed" and case.closed_at == NOW + dt.timedelta(hours=4)
    assert allowed_transitions(case, supervisor) == []


def test_transitions_not_in_the_workflow_are_refused(session, world):
    supervisor = _user(session, "supervisor")
    case = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  supervisor, now=NOW)
    for to_status in ("closed", "verified", "handled", "filed", "archived"):
        with pytest.raises(WorkflowError, match=f"cannot go from filed to {to_status}"):
            advance_case(session, case, to_status, supervisor)
    assert case.status == "filed" and len(case.events) == 1


def test_roles_and_squads_bound_each_step(session, world):
    supervisor, officer, officer2 = (_user(session, u) for u in ("supervisor", "officer", "officer2"))
    case = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  supervisor, now=NOW)
    with pytest.raises(WorkflowError, match="dispatch is for admin, supervisor, not officer"):
        advance_case(session, case, "dispatched", officer)
    advance_case(session, case, "dispatched", supervisor)
    with pytest.raises(WorkflowError, match="handle is for officer, not supervisor"):
        advance_case(session, case, "handled", supervisor)
    with pytest.raises(WorkflowError, match="belongs to another squad"):
        advance_case(session, case, "handled", officer2)
    assert allowed_transitions(case, officer2) == []
    advance_case(session, case, "handled", officer)
    with pytest.raises(WorkflowError, match="rework needs a note"):
        advance_case(session, case, "dispatched", supervisor, note="  ")
    advance_case(session, case, "dispatched", supervisor, note="bags still on the kerb")
    assert case.status == "dispatched"
    assert [t.action for t in TRANSITIONS if t.from_status == "handled"] == ["verify", "rework"]


def test_case_outside_every_jurisdiction_needs_a_squad_before_dispatch(session, world):
    supervisor = _user(session, "supervisor")
    case = open_case_from_finding(session, session.get(Finding, world.findings["outside"]),
                                  supervisor, now=NOW)
    assert case.squad is None
    with pytest.raises(WorkflowError, match="has no squad"):
        advance_case(session, case, "dispatched", supervisor)
    zhongdai = session.get(Squad, world.squads["zhongdai"])
    event = assign_squad(session, case, zhongdai, supervisor, note="nearest squad")
    assert case.squad_id == zhongdai.id and event.to_status == event.from_status == "filed"
    assert zhongdai.name in event.note and "nearest squad" in event.note
    advance_case(session, case, "dispatched", supervisor)
    assert case.status == "dispatched"
    with pytest.raises(WorkflowError, match="may not assign"):
        assign_squad(session, case, zhongdai, _user(session, "officer2"))


def test_overdue_after_the_deadline_until_closed(session, world):
    supervisor = _user(session, "supervisor")
    case = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  supervisor, now=NOW)
    assert not overdue(case, case.deadline_utc)
    assert overdue(case, case.deadline_utc + dt.timedelta(seconds=1))
    case.status = "closed"
    assert not overdue(case, case.deadline_utc + dt.timedelta(days=30))
    with pytest.raises(ValueError, match="naive datetime"):
        overdue(case, dt.datetime(2026, 5, 1))


def test_every_case_event_is_stored_with_its_case(session, world):
    supervisor = _user(session, "supervisor")
    case = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  supervisor, now=NOW)
    advance_case(session, case, "dispatched", supervisor, now=NOW)
    session.commit()
    count = session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)
                           .where(CaseEvent.case_id == case.id))
    assert count == 2
    assert session.scalar(sa.select(Case.status).where(Case.id == case.id)) == "dispatched"
    assert shapely.Point(case.lon_deg, case.lat_deg).within(shape(case.squad.jurisdiction))
