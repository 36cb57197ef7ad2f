"""Shopfronts: the notify-then-escalate rule over passes, the three-colour code, the SMS
gateway, and the merchant pages. Times are given (``now=``); geometry and numbers are
generated."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import types

import pytest
import sqlalchemy as sa

from flight_logs.models import Photo
from vision.models import Detection, Finding, PhotoGeoref
from web.errors import WebError
from web.merchants import (ShopfrontRules, colour_for_points, colour_history, decide,
                           persistent_pair, run_shopfront_rules, save_merchant, system_user,
                           update_colours)
from web.models import AuditEvent, Case, User
from web.models_merchants import Merchant, MerchantNotice, MerchantViolation, SmsOutbox
from web.seed import DATA_DIR, seed_demo_places
from web.sms import OutboxGateway, load_gateway, normalise_mobile

T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.timezone.utc)
SHOP = (121.0185, 30.7040)  # inside 当湖, away from the world's findings


def m(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def days(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def square(lon: float, lat: float, half_deg: float) -> dict:
    return {"type": "Polygon", "coordinates": [[
        [lon - half_deg, lat - half_deg], [lon + half_deg, lat - half_deg],
        [lon + half_deg, lat + half_deg], [lon - half_deg, lat + half_deg],
        [lon - half_deg, lat - half_deg]]]}


RULES = ShopfrontRules()


# ------------------------------------------------------------------ pure functions

def test_persistence_needs_two_sightings_far_enough_apart():
    assert persistent_pair([], 600) is None
    assert persistent_pair([m(0)], 600) is None
    assert persistent_pair([m(0), m(9.9)], 600) is None
    assert persistent_pair([m(10), m(0)], 600) == (m(0), m(10))
    assert persistent_pair([m(0), m(3), m(11), m(30)], 600) == (m(0), m(11))


@pytest.mark.parametrize("sightings, now, deadline, passes, since, action, at", [
    ([0, 5], 6, None, [], None, "none", None),                # one pass only
    ([0, 12], 11, None, [], None, "none", None),              # the 2nd pass is not known yet
    ([0, 12], 13, None, [], None, "notify", 12),
    ([0, 12], 200, None, [], None, "none", None),             # too old to notify
    ([0, 12, 20], 21, 28, [], None, "wait", None),            # before the deadline
    ([0, 12], 40, 28, [], None, "wait", None),                # no pass since the deadline
    ([0, 12, 35], 36, 28, [35], None, "escalate", 35),        # still there after it
    ([0, 12], 36, 28, [35], None, "clear", 35),               # a pass no longer saw it
    ([0, 12, 50], 51, 28, [35, 50], None, "clear", 35),       # cleared first, back later
    ([0, 12, 35.5], 36, 28, [35], None, "escalate", 35.5),    # same pass: seen
    ([0, 12, 60, 71], 72, None, [], 40, "notify", 71),        # after a cleared notice
    ([0, 12, 60], 61, None, [], 40, "none", None),            # ... needs two new passes
])
def test_decide(sightings, now, deadline, passes, since, action, at):
    decision = decide([m(s) for s in sightings], now=m(now), rules=RULES,
                      deadline=m(deadline) if deadline is not None else None,
                      passes=[m(p) for p in passes],
                      since=m(since) if since is not None else None)
    assert decision.action == action, decision.reason
    assert decision.at == (m(at) if at is not None else None)


def test_persistence_is_a_setting():
    five = ShopfrontRules(persistence_s=300)
    assert decide([m(0), m(6)], now=m(7), rules=five).action == "notify"
    assert decide([m(0), m(6)], now=m(7), rules=RULES).action == "none"
    env = ShopfrontRules.from_env({"PATROL_SHOPFRONT_PERSISTENCE_MIN": "5",
                                   "PATROL_SHOPFRONT_CATEGORIES": "street_vending, goods_piled",
                                   "PATROL_SMS_GATEWAY": "x.y:Z"})
    assert (env.persistence_s, env.categories, env.gateway, env.deadline_s) == \
        (300.0, ("street_vending", "goods_piled"), "x.y:Z", 900.0)
    with pytest.raises(WebError, match="PATROL_SHOPFRONT_DEADLINE_MIN='soon'"):
        ShopfrontRules.from_env({"PATROL_SHOPFRONT_DEADLINE_MIN": "soon"})


def test_colour_thresholds():
    assert [colour_for_points(n) for n in (0, 2, 3, 4, 5, 9)] == \
        ["green", "green", "yellow", "yellow", "red", "red"]


def _colours(steps):
    return [(s.to_colour, s.reason, s.points) for s in steps]


def test_colour_history_up_and_down():
    steps = colour_history([days(d) for d in (1, 2, 3, 4, 5)], start=T0, now=days(200))
    assert _colours(steps) == [("green", "start", 0), ("yellow", "violation", 3),
                               ("red", "violation", 5), ("yellow", "clean_period", 3),
                               ("green", "clean_period", 0)]
    assert [s.at for s in steps] == [T0, days(3), days(5), days(35), days(65)]


def test_back_on_yellow_two_more_violations_make_red():
    vs = [days(d) for d in (1, 2, 3, 4, 5)] + [days(40), days(41)]
    steps = colour_history(vs, start=T0, now=days(45))
    assert _colours(steps)[-2:] == [("yellow", "clean_period", 3), ("red", "violation", 5)]
    assert steps[-1].at == days(41)


def test_a_violation_resets_the_clean_period():
    vs = [days(d) for d in (1, 2, 3, 29)]   # yellow at day 3, 4 points at day 29
    steps = colour_history(vs, start=T0, now=days(58))
    assert steps[-1].to_colour == "yellow"   # 29 clean days only
    steps = colour_history(vs, start=T0, now=days(59))
    assert (steps[-1].to_colour, steps[-1].at) == ("green", days(59))


def test_points_on_green_are_forgotten_after_a_clean_period():
    steps = colour_history([days(1), days(2), days(40)], start=T0, now=days(41))
    assert _colours(steps) == [("green", "start", 0)]
    steps = colour_history([days(1), days(2), days(20)], start=T0, now=days(21))
    assert steps[-1].to_colour == "yellow"


def test_violations_after_now_do_not_count():
    steps = colour_history([days(1), days(2), days(3)], start=T0, now=days(2.5))
    assert steps[-1].to_colour == "green"


@pytest.mark.parametrize("raw, expected", [
    ("13800138000", "13800138000"), ("+86 138 0013 8000", "13800138000"),
    ("0086-199-1234-5678", "19912345678"), ("86 15012345678", "15012345678"),
    ("(139) 1234.5678", "13912345678"),
])
def test_mobile_numbers(raw, expected):
    assert normalise_mobile(raw) == expected


@pytest.mark.parametrize("raw", ["", "1380013800", "138001380000", "12800138000",
                                 "02112345678", "1380013800a", "+1 415 555 0100"])
def test_not_mobile_numbers(raw):
    with pytest.raises(WebError, match="not a Chinese mobile number"):
        normalise_mobile(raw)


# ------------------------------------------------------------------ gateway

def test_load_gateway_by_dotted_path(session, monkeypatch):
    assert isinstance(load_gateway("web.sms:OutboxGateway", session), OutboxGateway)
    assert isinstance(load_gateway("web.sms.OutboxGateway", session), OutboxGateway)
    provider = types.ModuleType("fake_sms_provider")

    class Provider:
        def __init__(self, session):
            self.sent = []

        def send(self, number, text):
            self.sent.append((number, text))
            return f"p-{len(self.sent)}"

    provider.Provider = Provider
    monkeypatch.setitem(sys.modules, "fake_sms_provider", provider)
    assert load_gateway("fake_sms_provider:Provider", session).send("13800138000", "hi") == "p-1"
    with pytest.raises(WebError, match="cannot be loaded"):
        load_gateway("no_such_module:Gateway", session)
    with pytest.raises(WebError, match="without send"):
        load_gateway("builtins:dict", session)


def test_outbox_gateway_writes_rows(session):
    gateway = OutboxGateway(session)
    message_id = gateway.send("+86 138 0013 8000", "测试 (generated)")
    row = session.scalars(sa.select(SmsOutbox)).one()
    assert message_id == f"outbox-{row.id}"
    assert (row.to_number, row.text) == ("13800138000", "测试 (generated)")


# ------------------------------------------------------------------ the runner over the database

class Scene:
    """A merchant in 当湖 and a street-vending finding in its zone; passes add photos."""

    def __init__(self, session, *, category="street_vending"):
        self.session = session
        self.merchant = save_merchant(session, name="测试商铺 test shop (generated)",
                                      contact_number="13800138001", zone=square(*SHOP, 0.0001),
                                      address="test street 1 (generated)", now=m(-60))
        self.finding = Finding(category=category, lat_deg=SHOP[1], lon_deg=SHOP[0], score=0.8,
                               first_seen_utc=m(0), last_seen_utc=m(0), seen_count=1)
        session.add(self.finding)
        session.flush()
        self.n = 0

    def photo(self, minute: float, *, seen: bool, half_deg: float = 0.001) -> Photo:
        """A pass at ``minute``: an analysed photo over the shop, with a detection if seen."""
        self.n += 1
        photo = Photo(sha256=hashlib.sha256(f"{id(self)}-{self.n}".encode()).hexdigest(),
                      stored_path=f"raw/photo/gen/{self.n}.jpg", original_name=f"gen{self.n}.jpg",
                      photo_set="generated", taken_utc=m(minute), lat_deg=SHOP[1],
                      lon_deg=SHOP[0], footprint=square(*SHOP, half_deg))
        self.session.add(photo)
        self.session.flush()
        self.session.add(PhotoGeoref(photo_id=photo.id, height_agl_m=40, yaw_deg=0, pitch_deg=-90,
                                     roll_deg=0, height_source="alt_rel", yaw_source="gimbal",
                                     gsd_cm_px=1.0, analysed_at=m(minute)))
        if seen:
            self.session.add(Detection(photo_id=photo.id, finding_id=self.finding.id,
                                       detector="generated", category=self.finding.category,
                                       score=0.8, bbox_px=[0, 0, 10, 10], lat_deg=SHOP[1],
                                       lon_deg=SHOP[0]))
            self.finding.last_seen_utc = m(minute)
        self.session.flush()
        return photo

    def run(self, minute: float, **kwargs):
        return run_shopfront_rules(self.session, now=m(minute), rules=kwargs.pop("rules", RULES),
                                   **kwargs)


def test_notify_then_escalate_to_a_case(world, session):
    scene = Scene(session)
    scene.photo(0, seen=True)
    scene.photo(5, seen=True)
    report = scene.run(6)
    assert (report.findings, report.notified, report.escalated) == (1, [], [])

    scene.photo(12, seen=True)
    report = scene.run(13)
    assert len(report.notified) == 1
    notice = session.get(MerchantNotice, report.notified[0])
    assert (notice.status, notice.first_seen_utc, notice.confirmed_seen_utc) == \
        ("notified", m(0), m(12))
    assert (notice.notified_at, notice.deadline_utc) == (m(13), m(28))
    outbox = session.scalars(sa.select(SmsOutbox)).one()
    assert outbox.to_number == "13800138001"
    assert notice.sms_message_id == f"outbox-{outbox.id}"
    assert "测试商铺" in outbox.text and "16:28" in outbox.text  # deadline in Beijing time
    assert scene.run(13).notified == [], "running again at the same time does nothing"

    scene.photo(20, seen=True)                       # before the deadline
    report = scene.run(21)
    assert (report.waiting, report.escalated) == (1, [])

    scene.photo(35, seen=True)                       # after it: still there
    report = scene.run(36)
    assert len(report.escalated) == 1 and len(report.cases) == 1
    violation = session.get(MerchantViolation, report.escalated[0])
    case = session.scalars(sa.select(Case).where(Case.code == report.cases[0])).one()
    assert (violation.at, violation.case_id, violation.merchant_id) == \
        (m(35), case.id, scene.merchant.id)
    assert case.finding_id == scene.finding.id
    assert case.squad_id == world.squads["danghu"]
    assert case.status == "dispatched", "opened for the squad's officer"
    assert scene.finding.status == "confirmed"
    assert (notice.status, notice.resolved_at, notice.case_id) == ("escalated", m(35), case.id)
    assert case.events[0].user.username == "shopfront-rules"
    actions = set(session.scalars(sa.select(AuditEvent.action)))
    assert {"merchant.notify", "merchant.violation", "merchant.create"} <= actions

    scene.photo(50, seen=True)
    again = scene.run(51)
    assert (again.notified, again.escalated) == ([], [])
    assert scene.merchant.colour == "green"          # one violation


def test_a_pass_that_no_longer_sees_it_clears_the_notice(world, session):
    scene = Scene(session)
    scene.photo(0, seen=True)
    scene.photo(12, seen=True)
    [notice_id] = scene.run(13).notified
    scene.photo(30, seen=False)                      # the pass after the deadline
    report = scene.run(31)
    notice = session.get(MerchantNotice, notice_id)
    assert report.cleared == [notice_id]
    assert (notice.status, notice.resolved_at) == ("cleared", m(30))
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    # back again on two later passes: a new notice
    scene.photo(45, seen=True)
    assert scene.run(46).notified == []
    scene.photo(56, seen=True)
    report = scene.run(57)
    assert len(report.notified) == 1 and report.notified[0] != notice_id


def test_a_photo_not_covering_the_spot_is_no_pass(world, session):
    scene = Scene(session)
    scene.photo(0, seen=True)
    scene.photo(12, seen=True)
    scene.run(13)
    scene.photo(30, seen=False, half_deg=0.00001)     # its footprint misses the shop
    photo = session.scalars(sa.select(Photo).order_by(Photo.id.desc())).first()
    photo.lon_deg += 0.0005
    photo.footprint = square(SHOP[0] + 0.0005, SHOP[1], 0.0001)
    session.flush()
    assert scene.run(31).waiting == 1


def test_only_shopfront_categories_in_active_zones(world, session):
    other = Scene(session, category="exposed_garbage")
    other.photo(0, seen=True)
    other.photo(12, seen=True)
    assert other.run(13).findings == 0
    other.finding.category = "street_vending"
    other.merchant.active = False
    session.flush()
    assert other.run(13).merchants == 0
    other.merchant.active = True
    other.finding.status = "rejected"
    session.flush()
    assert other.run(13).findings == 0


def test_sms_failure_is_recorded_and_the_run_goes_on(world, session):
    class Broken:
        def send(self, number, text):
            raise ConnectionError("provider down (generated)")

    scene = Scene(session)
    scene.photo(0, seen=True)
    scene.photo(12, seen=True)
    report = scene.run(13, gateway=Broken())
    notice = session.get(MerchantNotice, report.notified[0])
    assert notice.sms_message_id is None and "provider down" in notice.sms_error
    assert report.sms_failed and "provider down" in report.summary()
    assert notice.deadline_utc == m(28), "the deadline runs all the same"


def test_violations_turn_the_colour_and_time_brings_it_down(world, session):
    scene = Scene(session)
    for k in range(5):
        finding = Finding(category="street_vending", lat_deg=SHOP[1], lon_deg=SHOP[0], score=0.7,
                          first_seen_utc=m(100 * k), last_seen_utc=m(100 * k + 40), seen_count=3)
        session.add(finding)
        session.flush()
        scene.finding = finding
        scene.photo(100 * k, seen=True)
        scene.photo(100 * k + 12, seen=True)
        scene.run(100 * k + 13)
        scene.photo(100 * k + 40, seen=True)
        report = scene.run(100 * k + 41)
        assert len(report.escalated) >= 1
        expected = "green" if k < 2 else "yellow" if k < 4 else "red"
        assert scene.merchant.colour == expected, k
    assert report.colour_changes == [(scene.merchant.id, "yellow", "red")]
    history = [(c.from_colour, c.to_colour, c.reason) for c in scene.merchant.colour_changes]
    assert history == [(None, "green", "start"), ("green", "yellow", "violation"),
                       ("yellow", "red", "violation")]
    update_colours(session, m(440) + dt.timedelta(days=30))
    assert scene.merchant.colour == "yellow"
    assert scene.merchant.colour_changes[-1].reason == "clean_period"
    n = len(scene.merchant.colour_changes)
    update_colours(session, m(440) + dt.timedelta(days=30))
    assert len(scene.merchant.colour_changes) == n, "idempotent"


def test_escalation_reuses_an_open_case(world, session):
    scene = Scene(session)
    supervisor = session.get(User, world.users["supervisor"])
    from web.cases import open_case_from_finding

    case = open_case_from_finding(session, scene.finding, supervisor, now=m(1))
    scene.photo(0, seen=True)
    scene.photo(12, seen=True)
    scene.run(13)
    scene.photo(35, seen=True)
    report = scene.run(36)
    assert report.cases == [case.code]
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_system_user_cannot_log_in(session):
    user = system_user(session)
    assert not user.active and user.password_hash == "!"
    assert system_user(session) is user


def test_save_merchant_checks_and_places_it(world, session):
    merchant = save_merchant(session, name=" shop (generated) ", contact_number="138 0013 8002",
                             zone=square(*SHOP, 0.0001), now=T0)
    assert (merchant.name, merchant.contact_number, merchant.squad_id) == \
        ("shop (generated)", "13800138002", world.squads["danghu"])
    assert [c.to_colour for c in merchant.colour_changes] == ["green"]
    with pytest.raises(WebError, match="contact number"):
        save_merchant(session, name="x", contact_number="12345", zone=square(*SHOP, 0.0001))
    with pytest.raises(WebError, match="shopfront zone: geometry is 'Point'"):
        save_merchant(session, name="x", contact_number="13800138000",
                      zone={"type": "Point", "coordinates": list(SHOP)})


def test_demo_places_seed(session):
    from web.seed import load_squads

    load_squads(session, DATA_DIR / "demo_squads.geojson")
    first = seed_demo_places(session, now=T0)
    assert first["grids"] > 50 and first["merchants"] == 8 and first["violations"] > 0
    colours = dict(session.execute(sa.select(Merchant.colour, sa.func.count())
                                   .group_by(Merchant.colour)).all())
    assert set(colours) == {"green", "yellow", "red"}
    names = session.scalars(sa.select(Merchant.name)).all()
    assert all("(generated)" in n for n in names)
    again = seed_demo_places(session, now=T0)
    assert again["violations"] == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Merchant)) == 8
    assert session.scalar(sa.select(sa.func.count()).select_from(MerchantViolation)) == \
        first["violations"]


def test_demo_merchants_file_is_what_the_generator_makes():
    from web.seed import generate_demo_merchants

    stored = json.loads((DATA_DIR / "demo_merchants.geojson").read_text(encoding="utf-8"))
    assert stored == json.loads(json.dumps(generate_demo_merchants()))


# ------------------------------------------------------------------ pages

def _merchant(session_factory, **kw):
    with session_factory.begin() as s:
        merchant = save_merchant(s, name=kw.get("name", "页面商铺 page shop (generated)"),
                                 contact_number="13800138003", zone=square(*SHOP, 0.0001),
                                 address="page street 1 (generated)", now=m(0))
        for d in kw.get("violations", ()):
            s.add(MerchantViolation(merchant_id=merchant.id, category="street_vending",
                                    at=days(d), note="generated"))
        s.flush()
        update_colours(s, days(10))
        return merchant.id


def test_merchant_list_and_detail(world, auth, client, session_factory):
    quiet = _merchant(session_factory, name="绿色商铺 green shop (generated)")
    busy = _merchant(session_factory, name="红色商铺 red shop (generated)",
                     violations=(1, 2, 3, 4, 5))
    auth.login("supervisor")
    page = client.get("/merchants")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "绿色商铺" in html and "红色商铺" in html and 'data-colour="red"' in html
    red = client.get("/merchants?colour=red").get_data(as_text=True)
    assert "红色商铺" in red and "绿色商铺" not in red
    assert client.get("/merchants?colour=purple").status_code == 400
    found = client.get("/merchants?q=green").get_data(as_text=True)
    assert "绿色商铺" in found and "红色商铺" not in found
    detail = client.get(f"/merchants/{busy}").get_data(as_text=True)
    assert "colour-row" in detail and detail.count('class="violation-row"') == 5
    assert "13800138003" in detail and 'class="zone-map' in detail
    assert client.get(f"/merchants/{quiet}").status_code == 200
    assert client.get("/merchants/999999").status_code == 404


def test_officers_see_only_their_squads_merchants(world, auth, client, session_factory):
    merchant_id = _merchant(session_factory)          # in 当湖
    auth.login("officer2")                            # 钟埭
    assert client.get(f"/merchants/{merchant_id}").status_code == 403
    assert "页面商铺" not in client.get("/merchants").get_data(as_text=True)
    assert client.get("/merchants/new").status_code == 403
    assert client.get("/merchants/outbox").status_code == 403
    auth.logout()
    auth.login("officer")                             # 当湖
    assert client.get(f"/merchants/{merchant_id}").status_code == 200
    auth.logout()
    auth.login("operator")
    assert client.get("/merchants").status_code == 403


def test_create_merchant_with_a_drawn_zone(world, auth, client, session_factory):
    auth.login("supervisor")
    assert client.get("/merchants/new").status_code == 200
    form = {"name": "新商铺 new shop (generated)", "contact_number": "+86 139 1234 5678",
            "address": "x road 2 (generated)", "active": "y",
            "geometry": json.dumps(square(*SHOP, 0.0001)), "crs": "wgs84"}
    bad = client.post("/merchants/new", data={**form, "contact_number": "12345"})
    assert bad.status_code == 400 and "not a Chinese mobile number" in bad.get_data(as_text=True)
    nozone = client.post("/merchants/new", data={**form, "geometry": ""})
    assert nozone.status_code == 400 and "draw one on the map" in nozone.get_data(as_text=True)
    done = client.post("/merchants/new", data=form)
    assert done.status_code == 303
    with session_factory() as s:
        merchant = s.scalars(sa.select(Merchant).where(Merchant.name.like("新商铺%"))).one()
        assert merchant.contact_number == "13912345678"
        assert merchant.squad_id == world.squads["danghu"]
        edit = client.post(f"/merchants/{merchant.id}/edit",
                           data={**form, "contact_number": "13912340000"})
        assert edit.status_code == 303
    with session_factory() as s:
        assert s.get(Merchant, merchant.id).contact_number == "13912340000"
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action.in_(("merchant.create", "merchant.update")))) == 2


def test_outbox_page_and_run_button(world, auth, client, session_factory, app):
    with session_factory.begin() as s:
        scene = Scene(s)
        scene.photo(0, seen=True)
        scene.photo(12, seen=True)
        scene.finding.last_seen_utc = scene.finding.first_seen_utc = None
    # the button runs at the real time: the generated passes are too old to notify
    app.config["SHOPFRONT_RULES"] = ShopfrontRules(notify_max_age_s=10 * 365 * 86400.0)
    auth.login("supervisor")
    assert "The outbox is empty" in client.get("/merchants/outbox").get_data(as_text=True)
    run = client.post("/merchants/rules/run", follow_redirects=True)
    html = run.get_data(as_text=True)
    assert run.status_code == 200 and "1 notified" in html
    assert html.count('class="outbox-row"') == 1 and "13800138001" in html


@pytest.mark.browser
def test_draw_a_zone_in_chromium(live_server, driver, world, session_factory, tmp_path):
    """Register a merchant by drawing its zone (Geoman's create event), then see it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    _merchant(session_factory, name="红色商铺 red shop (generated)", violations=(1, 2, 3, 4, 5))
    wait = WebDriverWait(driver, 20)
    driver.get(f"{live_server}/login")
    wait.until(ec.presence_of_element_located((By.NAME, "username")))
    driver.find_element(By.NAME, "username").send_keys("supervisor")
    driver.find_element(By.NAME, "password").send_keys("supervisor-demo")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ec.url_changes(f"{live_server}/login"))

    driver.get(f"{live_server}/merchants/new")
    wait.until(lambda d: d.execute_script(
        "var el = document.getElementById('zone-map'); return !!(el.patrolZone && el.patrolZone.ready)"))
    assert driver.find_elements(By.CSS_SELECTOR, ".leaflet-pm-toolbar"), "Geoman's draw tools"
    driver.execute_script("""
        var z = document.getElementById('zone-map').patrolZone;
        var r = L.rectangle([[30.7039, 121.0184], [30.7041, 121.0186]]);
        r.addTo(z.map);
        z.map.fire('pm:create', {layer: r, shape: 'Rectangle'});""")
    drawn = json.loads(driver.find_element(By.ID, "geometry-input").get_attribute("value"))
    assert drawn["type"] == "Polygon" and len(drawn["coordinates"][0]) == 5
    driver.find_element(By.NAME, "name").send_keys("画的商铺 drawn shop (generated)")
    driver.find_element(By.NAME, "contact_number").send_keys("13800138009")
    driver.find_element(By.CSS_SELECTOR, "#merchant-form button[type=submit]").click()
    wait.until(ec.url_matches(r"/merchants/\d+$"))
    wait.until(lambda d: d.execute_script(
        "var el = document.querySelector('.zone-map'); return !!(el.patrolZone && el.patrolZone.ready)"))
    assert "画的商铺" in driver.find_element(By.TAG_NAME, "h1").text
    driver.save_screenshot(str(tmp_path / "merchant.png"))
    driver.get(f"{live_server}/merchants")
    assert len(driver.find_elements(By.CSS_SELECTOR, "tr.merchant-row")) == 2
    driver.save_screenshot(str(tmp_path / "merchants.png"))
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    with session_factory() as s:
        merchant = s.scalars(sa.select(Merchant).where(Merchant.name.like("画的商铺%"))).one()
        assert merchant.squad_id == world.squads["danghu"]
