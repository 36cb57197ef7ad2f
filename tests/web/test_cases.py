"""The case workflow (web.cases) on the migrated database: report, file, dispatch on the work
calendar, handle, verify, close; rework, extensions, suspension, reopening; roles and squads.

Times: the world's findings are from 1 May 2026 (UTC 08:00 = 16:00 in Shanghai), the first
day of the Labour Day holiday (1-5 May, Saturday 9 May worked), so clocks started then run
from Wednesday 6 May 08:30 local.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import shapely
import sqlalchemy as sa
from PIL import Image
from shapely.geometry import shape

from vision.models import Finding
from web.case_evidence import EvidenceError, store_case_photo
from web.case_rules import DEFAULT_TAXONOMY_FILE, CaseRules, case_rules
from web.cases import (CATEGORIES, TRANSITIONS, add_case_note, advance_case, allowed_transitions,
                       assign_squad, category_for, close_case, decide_extension, dispatch_case,
                       file_case, handle_case, link_recurrences, new_case_code,
                       open_case_from_finding, overdue, overdue_clause, reject_finding,
                       remaining_seconds, reopen_case, report_case, request_extension,
                       resume_case, return_for_rework, squad_for_point, suspend_case,
                       verify_case)
from web.errors import WebError, WorkflowError
from web.models import AuditEvent, Case, CaseAttachment, CaseEvent, Grid, Squad, User
from web.taxonomy import parse_taxonomy

from .conftest import IN_DANGHU, IN_ZHONGDAI, OUTSIDE, T0

RULES = case_rules(environ={})  # the shipped taxonomy and calendar
TAX = RULES.taxonomy
NOW = T0 + dt.timedelta(hours=1)  # Fri 1 May 2026 17:00 in Shanghai, a holiday
UTC = dt.timezone.utc
WED_0830 = dt.datetime(2026, 5, 6, 0, 30, tzinfo=UTC)  # first working moment after the holiday


def _user(session, username: str) -> User:
    return session.scalars(sa.select(User).where(User.username == username)).one()


def _sub(detector_label: str):
    return TAX.for_detector(detector_label)


def _reported(session, world, key="danghu", **kw):
    return open_case_from_finding(session, session.get(Finding, world.findings[key]),
                                  _user(session, "supervisor"), file=False, now=NOW,
                                  rules=RULES, **kw)


def _dispatched(session, world, key="danghu", at=NOW):
    supervisor = _user(session, "supervisor")
    case = open_case_from_finding(session, session.get(Finding, world.findings[key]), supervisor,
                                  now=at, rules=RULES)
    dispatch_case(session, case, supervisor, now=at, rules=RULES)
    return case


def _photo_bytes(colour=(200, 30, 30), fmt="JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, fmt)
    return buf.getvalue()


# ------------------------------------------------------------------ taxonomy look-ups
@pytest.mark.parametrize("label", ["exposed_garbage", "construction_waste", "illegal_structure",
                                   "construction_dust", "open_burning", "street_vending",
                                   "illegal_parking", "illegal_banner", "water_litter"])
def test_detector_labels_map_to_subclasses(label):
    sub = CATEGORIES[label]
    assert label in sub.detector_categories and sub.time_limit.value > 0
    assert re.search(r"[\u4e00-\u9fff]", sub.name_zh), "each subclass has its Chinese name"


def test_unknown_detector_label_files_under_the_fallback_subclass():
    assert "tree_on_road" not in CATEGORIES
    assert category_for("tree_on_road", RULES).code == TAX.fallback_code


# ------------------------------------------------------------------ places
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


# ------------------------------------------------------------------ report and file
def test_confirming_a_finding_reports_a_case(session, world):
    supervisor = _user(session, "supervisor")
    finding = session.get(Finding, world.findings["danghu"])
    case = _reported(session, world, note="seen from the bridge")
    session.commit()

    sub = _sub("exposed_garbage")
    assert case.code == "C-20260501-0001" and case.status == "reported" and case.source == "drone"
    assert (case.category, case.category_name_zh, case.category_name_en) == \
        (sub.code, sub.name_zh, sub.name_en)
    assert (case.class_code, case.class_name_zh) == (sub.event_class.code, "市容环境")
    assert (case.time_limit, case.time_unit) == (sub.time_limit.value, sub.time_limit.unit)
    assert case.squad_id == world.squads["danghu"] and case.deadline_utc is None
    assert (case.lon_deg, case.lat_deg) == IN_DANGHU and case.reporter_id == supervisor.id
    assert finding.status == "confirmed" and finding.reviewed_at == NOW
    review = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.target_type == "finding", AuditEvent.target_id == finding.id)).one()
    assert (review.action, review.user_id, review.data["case_code"]) == \
        ("finding.confirm", supervisor.id, case.code)
    [event] = session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert (event.action, event.from_status, event.to_status, event.user_id, event.at,
            event.note) == ("report", None, "reported", supervisor.id, NOW, "seen from the bridge")
    audit = session.scalars(sa.select(AuditEvent).where(AuditEvent.target_type == "case")).one()
    assert (audit.action, audit.target_id, audit.user_id, audit.data["code"]) == \
        ("case.report", case.id, supervisor.id, case.code)


def test_filing_needs_the_condition_acknowledged(session, world):
    supervisor = _user(session, "supervisor")
    case = _reported(session, world)
    with pytest.raises(WorkflowError, match="confirm that the filing condition holds") as err:
        file_case(session, case, supervisor, filing_acknowledged=False, now=NOW, rules=RULES)
    assert _sub("exposed_garbage").filing_condition in str(err.value)
    assert case.status == "reported"
    event = file_case(session, case, supervisor, filing_acknowledged=True, note="checked",
                      now=NOW, rules=RULES)
    assert (case.status, case.filed_at, event.action) == ("filed", NOW, "file")
    assert event.data["filing_condition"] == _sub("exposed_garbage").filing_condition
    assert case.deadline_utc is None, "the clock starts at dispatch"


def test_filing_may_correct_the_subclass(session, world):
    case = _reported(session, world, key="zhongdai")
    structure = _sub("illegal_structure")
    file_case(session, case, _user(session, "admin"), filing_acknowledged=True,
              subclass=structure.code, now=NOW, rules=RULES)
    assert (case.category, case.category_name_zh, case.time_unit) == \
        (structure.code, "私搭乱建", "working_days")
    assert case.events[-1].data["category_before"] == _sub("construction_waste").code
    assert session.get(Finding, world.findings["zhongdai"]).category == "construction_waste"


def test_confirm_and_file_in_one_call_for_other_callers(session, world):
    case = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  _user(session, "supervisor"), now=NOW, rules=RULES)
    assert case.status == "filed"
    assert [e.action for e in case.events] == ["report", "file"]


def test_case_codes_count_up_within_a_day(session, world):
    codes = [_reported(session, world, key=k).code for k in ("danghu", "zhongdai")]
    assert codes == ["C-20260501-0001", "C-20260501-0002"]
    assert new_case_code(session, NOW + dt.timedelta(days=1)) == "C-20260502-0001"


def test_subclass_by_code_or_detector_label_and_unknown_refused(session, world):
    structure = _sub("illegal_structure")
    assert _reported(session, world, key="zhongdai", subclass=structure.code).category == \
        structure.code
    assert _reported(session, world, key="danghu", category="open_burning").category == \
        _sub("open_burning").code
    finding = session.get(Finding, world.findings["outside"])
    with pytest.raises(WebError, match="unknown case category 'litter'"):
        open_case_from_finding(session, finding, _user(session, "supervisor"), subclass="litter",
                               rules=RULES)
    assert finding.status == "new"


@pytest.mark.parametrize("username", ["operator", "officer"])
def test_only_reviewers_confirm_or_reject(session, world, username):
    finding = session.get(Finding, world.findings["danghu"])
    user = _user(session, username)
    with pytest.raises(WorkflowError, match="may not confirm"):
        open_case_from_finding(session, finding, user, rules=RULES)
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
        open_case_from_finding(session, finding, supervisor, rules=RULES)


def test_report_by_hand_with_a_photo_and_its_grid(session, world, settings):
    supervisor = _user(session, "supervisor")
    cell = {"type": "Polygon", "coordinates": [[[121.0175, 30.6995], [121.0195, 30.6995],
                                                [121.0195, 30.7015], [121.0175, 30.7015],
                                                [121.0175, 30.6995]]]}
    grid = Grid(code="TEST-0101", name="test grid (generated)", squad_id=world.squads["danghu"],
                polygon=cell)
    session.add(grid)
    session.flush()
    photo = store_case_photo(settings.data_dir, _photo_bytes(), "IMG_0001.JPG")
    case = report_case(session, supervisor, subclass=_sub("illegal_parking").code,
                       lat_deg=IN_DANGHU[1], lon_deg=IN_DANGHU[0],
                       description="cars on the pavement",
                       address="南河头 12号", photos=[photo], now=NOW, rules=RULES)
    session.commit()
    assert (case.status, case.source, case.grid_id, case.squad_id) == \
        ("reported", "manual", grid.id, world.squads["danghu"])
    assert case.category_name_zh == "机动车乱停放" and case.address == "南河头 12号"
    [att] = session.scalars(sa.select(CaseAttachment).where(CaseAttachment.case_id == case.id))
    assert (att.stage, att.event_id, att.sha256) == ("report", case.events[0].id, photo.sha256)
    assert att.stored_path == f"raw/case_photo/{photo.sha256[:2]}/{photo.sha256}.jpg"
    assert (settings.data_dir / att.stored_path).read_bytes() == _photo_bytes()
    with pytest.raises(WebError, match="not a WGS84 position"):
        report_case(session, supervisor, subclass=case.category, lat_deg=121.0, lon_deg=30.7,
                    rules=RULES)
    with pytest.raises(WorkflowError, match="may not report"):
        report_case(session, _user(session, "operator"), subclass=case.category, lat_deg=30.7,
                    lon_deg=121.0, rules=RULES)


def test_photos_must_be_images(settings):
    with pytest.raises(EvidenceError, match="notes.txt: not a readable image"):
        store_case_photo(settings.data_dir, b"hello", "notes.txt")
    with pytest.raises(EvidenceError, match="empty.jpg: the file is empty"):
        store_case_photo(settings.data_dir, b"", "empty.jpg")
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, "GIF")
    with pytest.raises(EvidenceError, match="GIF images are not accepted"):
        store_case_photo(settings.data_dir, gif.getvalue(), "a.gif")
    png = store_case_photo(settings.data_dir, _photo_bytes(fmt="PNG"), "../../etc/passwd.png")
    assert png.original_name == "passwd.png" and png.stored_path.endswith(".png")
    again = store_case_photo(settings.data_dir, _photo_bytes(fmt="PNG"), "copy.png")
    assert again.stored_path == png.stored_path, "stored once by content hash"


# ------------------------------------------------------------------ dispatch and the clock
def test_dispatch_starts_the_clock_on_the_work_calendar(session, world):
    case = _dispatched(session, world)
    assert case.status == "dispatched" and case.dispatched_at == NOW
    # dispatched on the May Day holiday: 4 working hours from Wed 6 May 08:30 end at 14:00
    assert case.time_limit_s == 4 * 3600
    assert case.deadline_utc == dt.datetime(2026, 5, 6, 6, 0, tzinfo=UTC)
    assert remaining_seconds(case, NOW, RULES) == 4 * 3600
    assert remaining_seconds(case, WED_0830 + dt.timedelta(hours=1), RULES) == 3 * 3600
    assert not overdue(case, case.deadline_utc)
    assert overdue(case, case.deadline_utc + dt.timedelta(seconds=1))
    assert remaining_seconds(case, dt.datetime(2026, 5, 6, 7, 0, tzinfo=UTC), RULES) == -3600
    event = case.events[-1]
    assert (event.action, event.data["deadline"]) == ("dispatch", "2026-05-06T06:00:00+00:00")


def test_limits_in_working_days_and_urgent_hours(session, world):
    supervisor = _user(session, "supervisor")
    structure = _dispatched(session, world, key="zhongdai")  # construction_waste: 1 working day
    assert structure.time_unit == "working_days"
    assert structure.deadline_utc == dt.datetime(2026, 5, 6, 9, 30, tzinfo=UTC)  # 17:30 local
    burning = open_case_from_finding(session, session.get(Finding, world.findings["outside"]),
                                     supervisor, now=NOW, rules=RULES)
    assign_squad(session, burning, session.get(Squad, world.squads["zhongdai"]), supervisor,
                 now=NOW)
    dispatch_case(session, burning, supervisor, now=NOW, rules=RULES)
    assert burning.time_unit == "urgent_hours"
    assert burning.deadline_utc == NOW + dt.timedelta(hours=1), "urgent hours run on holidays"


def test_dispatch_to_one_officer_of_the_squad(session, world):
    supervisor, officer, officer2 = (_user(session, u)
                                     for u in ("supervisor", "officer", "officer2"))
    case = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  supervisor, now=NOW, rules=RULES)
    with pytest.raises(WorkflowError, match="'officer2' is not an active officer of"):
        dispatch_case(session, case, supervisor, officer=officer2, now=NOW, rules=RULES)
    dispatch_case(session, case, supervisor, officer=officer, now=NOW, rules=RULES)
    assert case.officer_id == officer.id and case.events[-1].data["officer"] == "officer"


# ------------------------------------------------------------------ the whole way
def test_case_goes_from_report_to_closed(session, world):
    supervisor, officer = _user(session, "supervisor"), _user(session, "officer")
    case = _reported(session, world)
    file_case(session, case, supervisor, filing_acknowledged=True, now=NOW, rules=RULES)
    at = WED_0830
    dispatch_case(session, case, supervisor, note="to the 当湖 squad", now=at, rules=RULES)
    handle_case(session, case, officer, note="cleared", now=at + dt.timedelta(hours=1))
    return_for_rework(session, case, supervisor, note="bags still on the kerb",
                      now=at + dt.timedelta(hours=2))
    assert (case.status, case.rework_count) == ("dispatched", 1)
    assert case.deadline_utc == dt.datetime(2026, 5, 6, 6, 0, tzinfo=UTC), "rework keeps it"
    handle_case(session, case, officer, note="all gone", now=at + dt.timedelta(hours=2.5))
    verify_case(session, case, supervisor, note="checked on site", now=at + dt.timedelta(hours=3))
    close_case(session, case, supervisor, now=at + dt.timedelta(hours=3, minutes=5))
    session.commit()

    history = session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)
                              .order_by(CaseEvent.at, CaseEvent.id)).all()
    assert [(e.action, e.from_status, e.to_status) for e in history] == [
        ("report", None, "reported"), ("file", "reported", "filed"),
        ("dispatch", "filed", "dispatched"), ("handle", "dispatched", "handled"),
        ("rework", "handled", "dispatched"), ("handle", "dispatched", "handled"),
        ("verify", "handled", "verified"), ("close", "verified", "closed")]
    assert [e.user_id for e in history].count(officer.id) == 2
    assert history[-1].data["on_time"] is True
    assert case.closed_at == at + dt.timedelta(hours=3, minutes=5)
    assert not overdue(case, case.deadline_utc + dt.timedelta(days=30)), "closed cases never are"
    audits = session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.target_type == "case", AuditEvent.target_id == case.id)
        .order_by(AuditEvent.id)).all()
    assert audits == [f"case.{e.action}" for e in history]
    assert allowed_transitions(case, supervisor)[0].action == "reopen"
    assert allowed_transitions(case, officer) == []


def test_transitions_not_in_the_workflow_are_refused(session, world):
    supervisor = _user(session, "supervisor")
    case = _reported(session, world)
    for to_status in ("closed", "verified", "handled", "dispatched", "archived"):
        with pytest.raises(WorkflowError, match=f"cannot go from reported to {to_status}"):
            advance_case(session, case, to_status, supervisor)
    with pytest.raises(WorkflowError, match="close is only for verified cases"):
        close_case(session, case, supervisor)
    assert case.status == "reported" and len(case.events) == 1


def test_roles_and_squads_bound_each_step(session, world):
    supervisor, officer, officer2 = (_user(session, u)
                                     for u in ("supervisor", "officer", "officer2"))
    case = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  supervisor, now=NOW, rules=RULES)
    with pytest.raises(WorkflowError, match="dispatch is for admin, supervisor, not officer"):
        advance_case(session, case, "dispatched", officer)
    advance_case(session, case, "dispatched", supervisor, rules=RULES)
    with pytest.raises(WorkflowError, match="handle is for admin, officer, not supervisor"):
        advance_case(session, case, "handled", supervisor, note="done")
    with pytest.raises(WorkflowError, match="belongs to another squad"):
        advance_case(session, case, "handled", officer2, note="done")
    assert allowed_transitions(case, officer2) == []
    with pytest.raises(WorkflowError, match="handle needs a note"):
        handle_case(session, case, officer, note=" ")
    advance_case(session, case, "handled", officer, note="done")
    with pytest.raises(WorkflowError, match="rework needs a note"):
        advance_case(session, case, "dispatched", supervisor, note="  ")
    advance_case(session, case, "dispatched", supervisor, note="bags still on the kerb")
    assert case.status == "dispatched"
    assert [t.action for t in TRANSITIONS if t.from_status == "handled"] == ["verify", "rework"]
    with pytest.raises(WorkflowError, match="belongs to another squad"):
        add_case_note(session, case, officer2, note="not mine")


def test_case_outside_every_jurisdiction_needs_a_squad_before_dispatch(session, world):
    supervisor = _user(session, "supervisor")
    case = open_case_from_finding(session, session.get(Finding, world.findings["outside"]),
                                  supervisor, now=NOW, rules=RULES)
    assert case.squad is None
    with pytest.raises(WorkflowError, match="has no squad"):
        dispatch_case(session, case, supervisor, rules=RULES)
    zhongdai = session.get(Squad, world.squads["zhongdai"])
    event = assign_squad(session, case, zhongdai, supervisor, note="nearest squad")
    assert case.squad_id == zhongdai.id and event.to_status == event.from_status == "filed"
    assert zhongdai.name in event.note and "nearest squad" in event.note
    dispatch_case(session, case, supervisor, rules=RULES)
    assert case.status == "dispatched"
    with pytest.raises(WorkflowError, match="may not assign"):
        assign_squad(session, case, zhongdai, _user(session, "officer2"))


def test_overdue_cases_in_sql(session, world):
    late = _dispatched(session, world)
    _reported(session, world, key="zhongdai")
    session.commit()
    after = late.deadline_utc + dt.timedelta(minutes=1)
    ids = session.scalars(sa.select(Case.id).where(overdue_clause(after))).all()
    assert ids == [late.id]
    assert session.scalars(sa.select(Case.id).where(overdue_clause(late.deadline_utc))).all() == []
    with pytest.raises(ValueError, match="naive datetime"):
        overdue(late, dt.datetime(2026, 5, 1))


# ------------------------------------------------------------------ extensions
def test_extension_requested_granted_and_denied(session, world):
    supervisor, officer, officer2 = (_user(session, u)
                                     for u in ("supervisor", "officer", "officer2"))
    case = _dispatched(session, world, at=WED_0830)
    deadline = case.deadline_utc
    assert deadline == dt.datetime(2026, 5, 6, 6, 0, tzinfo=UTC)  # Wed 14:00 local
    with pytest.raises(WorkflowError, match="belongs to another squad"):
        request_extension(session, case, officer2, amount=2, reason="too far")
    with pytest.raises(WorkflowError, match="extension_request needs a note"):
        request_extension(session, case, officer, amount=2, reason="")
    with pytest.raises(WorkflowError, match="positive amount"):
        request_extension(session, case, officer, amount=0, reason="truck needed")
    ext = request_extension(session, case, officer, amount=2, reason="truck needed",
                            now=WED_0830 + dt.timedelta(hours=1))
    assert (ext.status, ext.unit, case.deadline_utc) == ("pending", "hours", deadline)
    with pytest.raises(WorkflowError, match="already has an extension request waiting"):
        request_extension(session, case, officer, amount=1, reason="again")
    with pytest.raises(WorkflowError, match="extension_decide is for admin, supervisor"):
        decide_extension(session, ext, officer, grant=True)
    event = decide_extension(session, ext, supervisor, grant=True, amount=3, note="ok",
                             now=WED_0830 + dt.timedelta(hours=2), rules=RULES)
    # 4 + 3 working hours from Wed 08:30: 3.5 h to noon, 3.5 h from 13:30 -> 17:00 local
    assert case.deadline_utc == dt.datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
    assert (ext.status, ext.granted_amount, ext.granted_s, case.extension_s) == \
        ("granted", 3.0, 3 * 3600.0, 3 * 3600.0)
    assert event.action == "extension_grant" and event.data["amount"] == 3.0
    with pytest.raises(WorkflowError, match="already granted"):
        decide_extension(session, ext, supervisor, grant=False)
    second = request_extension(session, case, officer, amount=1, reason="rain")
    decide_extension(session, second, supervisor, grant=False, note="no")
    assert second.status == "denied" and case.extension_s == 3 * 3600.0
    assert [e.action for e in case.events][-4:] == ["extension_request", "extension_grant",
                                                    "extension_request", "extension_deny"]


# ------------------------------------------------------------------ suspension
def test_suspend_and_resume_shift_the_deadline_by_the_stopped_working_time(session, world):
    supervisor, officer = _user(session, "supervisor"), _user(session, "officer")
    case = _dispatched(session, world, at=WED_0830)
    assert case.deadline_utc == dt.datetime(2026, 5, 6, 6, 0, tzinfo=UTC)  # Wed 14:00 local
    wed_1030 = WED_0830 + dt.timedelta(hours=2)
    with pytest.raises(WorkflowError, match="suspend needs a note"):
        suspend_case(session, case, supervisor, note="", now=wed_1030)
    suspend_case(session, case, supervisor, note="waiting for the owner", now=wed_1030)
    assert (case.status, case.deadline_utc, case.suspended_at) == ("suspended", None, wed_1030)
    later = dt.datetime(2026, 5, 7, 1, 0, tzinfo=UTC)
    assert not overdue(case, later) and remaining_seconds(case, later, RULES) == 2 * 3600
    with pytest.raises(WorkflowError, match="handle is only for dispatched cases"):
        handle_case(session, case, officer, note="done")
    with pytest.raises(WorkflowError, match="more time is asked for while it is dispatched"):
        request_extension(session, case, officer, amount=1, reason="x")
    thu_0930 = dt.datetime(2026, 5, 7, 1, 30, tzinfo=UTC)
    event = resume_case(session, case, supervisor, now=thu_0930, rules=RULES)
    # stopped: Wed 10:30-12:00 and 13:30-17:30, Thu 08:30-09:30 = 6.5 working hours;
    # the 2 h left then end on Thursday at 11:30 local
    assert case.suspended_s == 6.5 * 3600 and event.data["suspended_s"] == 6.5 * 3600
    assert (case.status, case.deadline_utc) == ("dispatched", dt.datetime(2026, 5, 7, 3, 30,
                                                                          tzinfo=UTC))
    assert remaining_seconds(case, thu_0930, RULES) == 2 * 3600
    assert [e.action for e in case.events][-2:] == ["suspend", "resume"]


# ------------------------------------------------------------------ reopening
def _closed(session, world, at=WED_0830):
    supervisor, officer = _user(session, "supervisor"), _user(session, "officer")
    case = _dispatched(session, world, at=at)
    handle_case(session, case, officer, note="cleared", now=at + dt.timedelta(hours=1))
    verify_case(session, case, supervisor, now=at + dt.timedelta(hours=2))
    close_case(session, case, supervisor, now=at + dt.timedelta(hours=2))
    return case


def test_reopen_by_hand_starts_a_fresh_clock(session, world):
    supervisor = _user(session, "supervisor")
    case = _closed(session, world)
    thu = dt.datetime(2026, 5, 7, 0, 30, tzinfo=UTC)  # Thu 08:30 local
    with pytest.raises(WorkflowError, match="reopen needs a note"):
        reopen_case(session, case, supervisor, note="", now=thu, rules=RULES)
    reopen_case(session, case, supervisor, note="back again", now=thu, rules=RULES)
    assert (case.status, case.reopen_count, case.closed_at) == ("dispatched", 1, None)
    assert case.dispatched_at == thu
    assert case.deadline_utc == dt.datetime(2026, 5, 7, 6, 0, tzinfo=UTC)  # 4 working h: 14:00


def test_link_recurrences_reopens_cases_seen_again(session, world):
    case = _closed(session, world)
    other = open_case_from_finding(session, session.get(Finding, world.findings["zhongdai"]),
                                   _user(session, "supervisor"), now=NOW, rules=RULES)
    session.commit()
    assert link_recurrences(session, now=WED_0830 + dt.timedelta(hours=3), rules=RULES) == []

    finding = session.get(Finding, world.findings["danghu"])
    case_closed_at = case.closed_at.astimezone(UTC)
    finding.last_seen_utc = case.closed_at + dt.timedelta(days=1)
    finding.seen_count += 1
    session.get(Finding, world.findings["zhongdai"]).last_seen_utc = NOW + dt.timedelta(days=3)
    session.commit()
    now = dt.datetime(2026, 5, 8, 1, 0, tzinfo=UTC)
    [done] = link_recurrences(session, now=now, rules=RULES)
    session.commit()
    assert (done.case_id, done.case_code, done.finding_id) == (case.id, case.code, finding.id)
    assert done.last_seen_utc == finding.last_seen_utc and done.deadline_utc == case.deadline_utc
    session.expire_all()
    case = session.get(Case, case.id)
    assert (case.status, case.reopen_count, case.dispatched_at) == ("dispatched", 1, now)
    event = case.events[-1]
    assert (event.action, event.user_id, event.from_status) == ("reopen", None, "closed")
    assert event.note == "", "the system writes data, rendered in the viewer's language"
    assert event.data["finding_id"] == finding.id
    assert event.data["seen_count"] == finding.seen_count
    assert event.data["closed_at"] == case_closed_at.isoformat()
    assert session.get(Case, other.id).status == "filed", "only closed cases reopen"
    assert link_recurrences(session, now=now, rules=RULES) == [], "each sighting once"


# ------------------------------------------------------------------ the taxonomy changes later
def test_cases_keep_the_names_they_were_filed_with(session, world):
    case = _reported(session, world)
    name = case.category_name_zh
    text = DEFAULT_TAXONOMY_FILE.read_text(encoding="utf-8")
    renamed = parse_taxonomy(text.replace("暴露垃圾", "垃圾暴露（新）"), source="new.yaml")
    rules = CaseRules(taxonomy=renamed, calendar=RULES.calendar)
    file_case(session, case, _user(session, "supervisor"), filing_acknowledged=True, rules=rules)
    dispatch_case(session, case, _user(session, "supervisor"), rules=rules, now=NOW)
    assert case.category_name_zh == name




def test_every_case_event_is_stored_with_its_case(session, world):
    case = _dispatched(session, world)
    session.commit()
    count = session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)
                           .where(CaseEvent.case_id == case.id))
    assert count == 3
    assert session.scalar(sa.select(Case.status).where(Case.id == case.id)) == "dispatched"
    assert shapely.Point(case.lon_deg, case.lat_deg).within(shape(case.squad.jurisdiction))
