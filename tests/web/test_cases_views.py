"""The case workflow through the console (Flask test client): finding -> confirm -> file ->
dispatch -> officer handles with a photo -> rework -> handle -> verify -> close; extensions,
suspension, reopening, hand-entered cases, list filters, the taxonomy page, and officers kept
to their own squad's cases."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa
import yaml
from PIL import Image

from patrol.db import utcnow
from vision.models import Finding
from web.case_rules import DEFAULT_TAXONOMY_FILE, case_rules, clock_add
from web.cases import dispatch_case, link_recurrences, open_case_from_finding
from web.models import AuditEvent, Case, CaseAttachment, CaseEvent, CaseExtension, Squad, User

from .conftest import IN_DANGHU

TAX = case_rules(environ={}).taxonomy
GARBAGE = TAX.for_detector("exposed_garbage")


def _text(response) -> str:
    return response.get_data(as_text=True)


def _photo(colour=(20, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(buf, "JPEG")
    return buf.getvalue()


def _post(client, url, data=None, **kw):
    response = client.post(url, data=data or {}, **kw)
    assert response.status_code == 303, (url, response.status_code, _text(response)[:500])
    return _text(client.get(response.location))


def _case(session, case_id) -> Case:
    session.expire_all()
    return session.get(Case, case_id)


def _user(session, username) -> User:
    return session.scalars(sa.select(User).where(User.username == username)).one()


def _confirmed_case(client, auth, world, session, key="danghu") -> Case:
    auth.login("supervisor")
    page = _post(client, f"/findings/{world.findings[key]}/confirm",
                 data={"subclass": GARBAGE.code, "note": "bags by the canal"})
    case = session.scalars(sa.select(Case).where(Case.finding_id == world.findings[key])).one()
    assert f"Case {case.code} reported" in page
    return case


# ------------------------------------------------------------------ the whole way
def test_finding_to_closed_case_through_the_console(client, auth, world, session, settings):
    case = _confirmed_case(client, auth, world, session)
    assert case.status == "reported" and case.category == GARBAGE.code
    page = _text(client.get(f"/cases/{case.id}"))
    assert 'data-action="file"' in page and GARBAGE.filing_condition_en in page  # English page
    assert 'data-action="dispatch"' not in page

    # filing needs the condition acknowledged
    page = _post(client, f"/cases/{case.id}/file", data={"note": "seen"})
    assert "confirm that the filing condition holds" in page
    assert _case(session, case.id).status == "reported"
    page = _post(client, f"/cases/{case.id}/file", data={"filing_acknowledged": "y"})
    assert f"Case {case.code} filed." in page and 'data-action="dispatch"' in page

    officer = _user(session, "officer")
    page = _post(client, f"/cases/{case.id}/dispatch",
                 data={"squad_id": world.squads["danghu"], "officer_id": officer.id,
                       "note": "to the 当湖 squad"})
    case = _case(session, case.id)
    assert (case.status, case.officer_id) == ("dispatched", officer.id)
    assert case.deadline_utc == clock_add(case_rules(environ={}).calendar, "working",
                                          case.dispatched_at, 4 * 3600)
    assert 'id="remaining"' in page
    auth.logout()

    # the officer finds it in "mine", handles it with a photo
    auth.login("officer")
    page = _text(client.get("/cases"))
    assert case.code in page and 'class="tabs"' in page
    page = _text(client.get(f"/cases/{case.id}"))
    assert 'data-action="handle"' in page and 'data-action="verify"' not in page
    assert 'capture="environment"' in page
    page = _post(client, f"/cases/{case.id}/handle", content_type="multipart/form-data",
                 data={"note": "bags removed", "photos": [(io.BytesIO(_photo()), "IMG_1.JPG")]})
    assert f"Case {case.code} reported handled." in page
    [att] = session.scalars(sa.select(CaseAttachment).where(CaseAttachment.case_id == case.id))
    assert att.stage == "handle" and att.stored_path.startswith("raw/case_photo/")
    assert f"/files/{att.stored_path}" in page
    served = client.get(f"/files/{att.stored_path}")
    assert served.status_code == 200 and served.data == _photo()
    served.close()
    auth.logout()

    # the supervisor sends it back, the officer handles again, then verify and close
    auth.login("supervisor")
    page = _post(client, f"/cases/{case.id}/rework", data={"note": "one bag left"})
    assert "returned for rework" in page
    assert client.post(f"/cases/{case.id}/rework", data={"note": ""}).status_code == 400
    auth.logout()
    auth.login("officer")
    _post(client, f"/cases/{case.id}/handle", content_type="multipart/form-data",
          data={"note": "last bag gone",
                "photos": [(io.BytesIO(_photo((0, 200, 0))), "IMG_2.JPG")]})
    auth.logout()
    auth.login("supervisor")
    _post(client, f"/cases/{case.id}/verify", data={"note": "checked"})
    page = _post(client, f"/cases/{case.id}/close", data={"note": "done"})
    assert f"Case {case.code} closed." in page

    case = _case(session, case.id)
    assert (case.status, case.rework_count) == ("closed", 1) and case.closed_at is not None
    events = session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)
                             .order_by(CaseEvent.at, CaseEvent.id)).all()
    users = {u.id: u.username for u in session.scalars(sa.select(User))}
    assert [(e.action, users[e.user_id], e.note) for e in events] == [
        ("report", "supervisor", "bags by the canal"), ("file", "supervisor", ""),
        ("dispatch", "supervisor", "to the 当湖 squad"), ("handle", "officer", "bags removed"),
        ("rework", "supervisor", "one bag left"), ("handle", "officer", "last bag gone"),
        ("verify", "supervisor", "checked"), ("close", "supervisor", "done")]
    assert page.count('class="history-row') == len(events)
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseAttachment)
                          .where(CaseAttachment.case_id == case.id)) == 2
    audit = session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.target_type == "case", AuditEvent.target_id == case.id)).all()
    assert len(audit) == len(events) and "case.rework" in audit
    assert 'data-action="reopen"' in page and 'data-action="handle"' not in page


def test_invalid_steps_are_refused_on_the_page(client, auth, world, session):
    case = _confirmed_case(client, auth, world, session)
    page = _post(client, f"/cases/{case.id}/advance", data={"to_status": "closed"})
    assert "cannot go from reported to closed" in page
    page = _post(client, f"/cases/{case.id}/verify")
    assert "verify is only for handled cases" in page
    response = client.post(f"/cases/{case.id}/advance", data={"to_status": "archived"})
    assert response.status_code == 400
    assert _case(session, case.id).status == "reported"
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)) == 1
    page = _post(client, f"/cases/{case.id}/advance",
                 data={"to_status": "filed", "filing_acknowledged": "y"})
    assert _case(session, case.id).status == "filed"


def test_assign_squad_to_a_case_outside_every_jurisdiction(client, auth, world, session):
    case = _confirmed_case(client, auth, world, session, key="outside")
    _post(client, f"/cases/{case.id}/file", data={"filing_acknowledged": "y"})
    assert _case(session, case.id).squad_id is None
    assert "has no squad" in _post(client, f"/cases/{case.id}/dispatch")
    _post(client, f"/cases/{case.id}/assign",
          data={"squad_id": world.squads["zhongdai"], "note": "nearest"})
    _post(client, f"/cases/{case.id}/dispatch")
    case = _case(session, case.id)
    assert (case.squad_id, case.status) == (world.squads["zhongdai"], "dispatched")
    assert client.post(f"/cases/{case.id}/assign", data={"squad_id": 999}).status_code == 400
    officer = _user(session, "officer")  # of 当湖, not 钟埭
    page = _post(client, f"/cases/{case.id}/assign",
                 data={"squad_id": world.squads["zhongdai"], "officer_id": officer.id})
    assert "is not an active officer of" in page


# ------------------------------------------------------------------ extension, suspension
def _dispatched(client, auth, world, session) -> Case:
    case = _confirmed_case(client, auth, world, session)
    _post(client, f"/cases/{case.id}/file", data={"filing_acknowledged": "y"})
    _post(client, f"/cases/{case.id}/dispatch")
    return _case(session, case.id)


def test_extension_requested_by_the_officer_granted_by_the_supervisor(client, auth, world,
                                                                      session):
    case = _dispatched(client, auth, world, session)
    deadline = case.deadline_utc
    auth.logout()
    auth.login("officer")
    page = _text(client.get(f"/cases/{case.id}"))
    assert 'data-action="extension-request"' in page
    assert client.post(f"/cases/{case.id}/extension", data={"amount": "-1", "reason": "x"}
                       ).status_code == 400
    page = _post(client, f"/cases/{case.id}/extension", data={"amount": "2", "reason": "truck"})
    assert "More time asked for" in page and 'data-action="extension-request"' not in page
    [ext] = session.scalars(sa.select(CaseExtension))
    assert client.post(f"/cases/{case.id}/extension/{ext.id}", data={"decision": "grant"}
                       ).status_code == 403, "officers do not decide"
    auth.logout()
    auth.login("supervisor")
    page = _text(client.get(f"/cases/{case.id}"))
    assert 'data-action="extension-decide"' in page and "truck" in page
    page = _post(client, f"/cases/{case.id}/extension/{ext.id}",
                 data={"decision": "grant", "amount": "3", "note": "ok"})
    assert "Extension granted" in page
    case = _case(session, case.id)
    assert case.extension_s == 3 * 3600
    assert case.deadline_utc == clock_add(case_rules(environ={}).calendar, "working",
                                          case.dispatched_at, 7 * 3600)
    assert case.deadline_utc > deadline
    assert client.post(f"/cases/{case.id}/extension/99999", data={"decision": "deny"}
                       ).status_code == 404


def test_suspend_and_resume_through_the_console(client, auth, world, session):
    case = _dispatched(client, auth, world, session)
    page = _post(client, f"/cases/{case.id}/suspend", data={"note": "owner away"})
    assert "its clock stopped" in page and "clock stopped" in page
    case = _case(session, case.id)
    assert (case.status, case.deadline_utc) == ("suspended", None)
    page = _post(client, f"/cases/{case.id}/resume")
    case = _case(session, case.id)
    assert case.status == "dispatched" and case.suspended_s >= 0
    expected = clock_add(case_rules(environ={}).calendar, "working", case.dispatched_at,
                         case.time_limit_s + case.suspended_s)
    assert case.deadline_utc == expected
    assert [e.action for e in case.events][-2:] == ["suspend", "resume"]


def test_reopened_case_shows_the_new_sighting(client, auth, world, session):
    supervisor, officer = _user(session, "supervisor"), _user(session, "officer")
    at = dt.datetime(2026, 5, 6, 1, 0, tzinfo=dt.timezone.utc)
    case = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  supervisor, now=at)
    dispatch_case(session, case, supervisor, now=at)
    for step, user in (("handled", officer), ("verified", supervisor), ("closed", supervisor)):
        from web.cases import advance_case

        advance_case(session, case, step, user, note="ok", now=at)
    session.get(Finding, world.findings["danghu"]).last_seen_utc = at + dt.timedelta(days=2)
    session.commit()
    assert [r.case_id for r in link_recurrences(session)] == [case.id]
    session.commit()
    auth.login("officer")
    page = _text(client.get(f"/cases/{case.id}"))
    assert "Seen again by the drone at 2026-05-08 01:00 UTC" in page and "system" in page
    assert f"Drone finding #{world.findings['danghu']}" in page, "description rendered from data"
    chinese = _text(client.get(f"/cases/{case.id}", headers={"Accept-Language": "zh-CN"}))
    assert "无人机于 2026-05-08 01:00 UTC 再次发现" in chinese
    assert f"无人机线索 #{world.findings['danghu']}" in chinese
    assert 'data-action="handle"' in page


# ------------------------------------------------------------------ officers and squads
def test_officer_is_kept_out_of_another_squads_case(client, auth, world, session):
    supervisor = _user(session, "supervisor")
    theirs = open_case_from_finding(session, session.get(Finding, world.findings["zhongdai"]),
                                    supervisor)
    dispatch_case(session, theirs, supervisor)
    session.commit()
    auth.login("officer")  # 当湖
    assert client.get(f"/cases/{theirs.id}").status_code == 403
    photo = {"note": "x", "photos": [(io.BytesIO(_photo()), "a.jpg")]}
    for action, data in (("handle", photo), ("note", {"note": "x"}),
                         ("extension", {"amount": "1", "reason": "x"}),
                         ("advance", {"to_status": "handled", "note": "x"})):
        response = client.post(f"/cases/{theirs.id}/{action}", data=data,
                               content_type="multipart/form-data")
        assert response.status_code == 403, action
    for action in ("file", "dispatch", "verify", "rework", "close", "suspend", "resume",
                   "cancel", "reopen", "assign"):
        assert client.post(f"/cases/{theirs.id}/{action}", data={"note": "x"}).status_code == 403
    assert theirs.code not in _text(client.get("/cases?status=all&scope=squad"))
    assert _case(session, theirs.id).status == "dispatched"
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseAttachment)) == 0


def test_officer_lists_mine_or_the_squads(client, auth, world, session):
    supervisor, officer = _user(session, "supervisor"), _user(session, "officer")
    danghu = session.get(Squad, world.squads["danghu"])
    cases = []
    for key in ("danghu", "duluth"):
        case = open_case_from_finding(session, session.get(Finding, world.findings[key]),
                                      supervisor)
        case.squad = danghu  # both in 当湖 for the test
        cases.append(case)
    dispatch_case(session, cases[0], supervisor, officer=officer)
    other = User(username="officer3", password_hash="x", role="officer", squad=danghu)
    session.add(other)
    session.flush()
    dispatch_case(session, cases[1], supervisor, officer=other)
    session.commit()
    auth.login("officer")
    mine = _text(client.get("/cases"))
    assert cases[0].code in mine and cases[1].code not in mine
    squad = _text(client.get("/cases?scope=squad"))
    assert cases[0].code in squad and cases[1].code in squad
    assert client.get("/cases?scope=everyone").status_code == 400


# ------------------------------------------------------------------ lists
def test_case_list_filters_and_overdue(client, auth, world, session):
    supervisor = _user(session, "supervisor")
    may_day = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.timezone.utc)
    late = open_case_from_finding(session, session.get(Finding, world.findings["danghu"]),
                                  supervisor, now=may_day)
    dispatch_case(session, late, supervisor, now=may_day)
    fresh = open_case_from_finding(session, session.get(Finding, world.findings["zhongdai"]),
                                   supervisor, file=False)
    session.commit()
    auth.login("supervisor")

    def listed(query):
        return re.findall(r'<a href="/cases/\d+">(C-[\d-]+)</a>',
                          _text(client.get(f"/cases{query}")))

    assert sorted(listed("")) == sorted([late.code, fresh.code])
    assert listed("?status=overdue") == [late.code]
    assert client.get("/cases/overdue").location.endswith("/cases?status=overdue")
    page = _text(client.get("/cases"))
    assert "1 overdue" in page and 'class="case-row overdue"' in page
    assert listed("?status=reported") == [fresh.code]
    assert listed(f"?category={late.category}") == [late.code]
    assert sorted(listed(f"?class={late.class_code}&status=all")) == \
        sorted([late.code, fresh.code])
    assert listed(f"?class={TAX.for_detector('illegal_parking').event_class.code}") == []
    assert listed(f"?squad={world.squads['zhongdai']}") == [fresh.code]
    assert listed("?from=2026-05-01&to=2026-05-01") == [late.code]
    today = utcnow().date().isoformat()
    assert listed(f"?from={today}") in ([fresh.code], [])  # reported today (local day)
    assert client.get("/cases?from=yesterday").status_code == 400
    assert client.get("/cases?status=nope").status_code == 400


def test_findings_queue_filters_by_score_and_day(client, auth, world):
    auth.login("supervisor")

    def rows(query):
        return [int(r) for r in re.findall(r'<tr id="finding-(\d+)"',
                                           _text(client.get(f"/findings{query}")))]

    assert rows("?min_score=0.7") == [world.findings["danghu"], world.findings["zhongdai"]]
    assert sorted(rows("?from=2026-05-01&to=2026-05-01")) == sorted(world.findings.values())
    assert rows("?from=2026-05-02") == []
    assert client.get("/findings?to=May").status_code == 400


# ------------------------------------------------------------------ a case by hand
def test_new_case_entered_by_hand(client, auth, world, session):
    auth.login("supervisor")
    page = _text(client.get("/cases/new"))
    assert 'id="pick-map"' in page and 'name="lat"' in page and GARBAGE.code in page
    response = client.post("/cases/new", data={"subclass": GARBAGE.code, "description": "x"})
    assert response.status_code == 400 and "Click the map or give the latitude" in _text(response)
    response = client.post("/cases/new", content_type="multipart/form-data", data={
        "subclass": TAX.for_detector("illegal_parking").code, "lat": str(IN_DANGHU[1]),
        "lon": str(IN_DANGHU[0]), "crs": "wgs84", "address": "南河头",
        "description": "cars on the pavement", "photos": [(io.BytesIO(_photo()), "p.jpg")]})
    assert response.status_code == 303
    case = session.scalars(sa.select(Case)).one()
    assert (case.status, case.source, case.squad_id, case.address) == \
        ("reported", "manual", world.squads["danghu"], "南河头")
    assert case.category_name_zh == "机动车乱停放" and len(case.attachments) == 1
    # a tap on a GCJ-02 basemap is shifted back to WGS84
    client.post("/cases/new", data={"subclass": GARBAGE.code, "lat": "30.6982", "lon": "121.0229",
                                     "crs": "gcj02", "description": "shifted"})
    shifted = session.scalars(sa.select(Case).where(Case.description == "shifted")).one()
    assert abs(shifted.lon_deg - 121.0185) < 2e-4 and abs(shifted.lat_deg - 30.7005) < 2e-4
    response = client.post("/cases/new", content_type="multipart/form-data", data={
        "subclass": GARBAGE.code, "lat": "30.7", "lon": "121.0", "description": "bad photo",
        "photos": [(io.BytesIO(b"not an image"), "x.jpg")]})
    assert response.status_code == 400 and "x.jpg: not a readable image" in _text(response)
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 2
    auth.logout()
    auth.login("officer")
    assert client.get("/cases/new").status_code == 403


# ------------------------------------------------------------------ the taxonomy file
def test_taxonomy_page_upload_and_download(client, auth, world, settings):
    auth.login("supervisor")
    page = _text(client.get("/cases/taxonomy"))
    assert GARBAGE.name_zh in page and 'id="taxonomy-upload"' not in page
    assert client.post("/cases/taxonomy", data={}).status_code == 403
    auth.logout()
    auth.login("admin")
    download = client.get("/cases/taxonomy/download")
    assert download.data == DEFAULT_TAXONOMY_FILE.read_bytes()
    download.close()

    bad = DEFAULT_TAXONOMY_FILE.read_text(encoding="utf-8").replace(
        "time_unit: working_hours", "time_unit: hours", 1)
    response = client.post("/cases/taxonomy", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(bad.encode()), "pinghu.yaml")})
    page = _text(response)
    assert response.status_code == 400 and "pinghu.yaml: classes[0]" in page
    assert "&#39;hours&#39; is not one of" in page or "'hours' is not one of" in page
    assert not (settings.data_dir / "config" / "taxonomy.yaml").exists()

    doc = yaml.safe_load(DEFAULT_TAXONOMY_FILE.read_text(encoding="utf-8"))
    doc["classes"][0]["subclasses"][0]["name_en"] = "Unlawful structure (Pinghu)"
    good = yaml.safe_dump(doc, allow_unicode=True).encode()
    page = _post(client, "/cases/taxonomy", content_type="multipart/form-data",
                 data={"file": (io.BytesIO(good), "pinghu.yaml")})
    assert "Taxonomy replaced" in page and "Unlawful structure (Pinghu)" in page
    assert (settings.data_dir / "config" / "taxonomy.yaml").read_bytes() == good
    download = client.get("/cases/taxonomy/download")
    assert download.data == good
    download.close()


@pytest.mark.parametrize("username", ["operator"])
def test_case_pages_are_not_for_operators(client, auth, world, username):
    auth.login(username)
    for path in ("/cases", "/cases/new", "/cases/taxonomy"):
        assert client.get(path).status_code == 403
