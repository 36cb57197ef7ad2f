"""A case from finding to closure, walked through in headless Chromium the way the bureau's
people do it, in Chinese (the console's default language); and the main pages, photographed.

``test_case_walkthrough``: the supervisor finds the finding on the map, opens its evidence,
confirms it into a case of a chosen subclass, files it (the filing condition ticked) and
dispatches it to the squad's officer; the officer, on a tablet (768x1024, touch), finds it
under "Mine", asks for more time, which the supervisor grants (the deadline moves on); the
officer reports it handled with a note and a real photo (bundled Brighton Beach sample);
the supervisor returns it for rework once; the officer handles it again; the supervisor asks
for a re-flight (when the re-flight panel is there) and sees before and after, verifies and
closes. An officer of another squad neither sees nor opens the case. Every step is a click
on the page's own buttons and forms (CSRF on); the database is read only to check the trail
at the end. The one row written in between is the re-flight's photo (GENERATED: a copy of a
real bundled photo, as if the drone had flown the re-flight and the photo were imported).

More time is asked for before the first handling: the workflow takes extension requests only
while a case is dispatched (``web.cases.request_extension``).

``test_main_pages``: home, map with its layer control open, findings, cases, a case, the
dashboard (when present), merchants, a merchant, the SMS outbox, the taxonomy, admin users
and squads, fleet, fleet statistics, flights, planning and a route, over the test world plus
the demo grids and merchants (generated) and a few cases in several states.

Screenshots (PNG, the browser window) go to pytest's ``tmp_path``; with
``PATROL_SCREENSHOTS=1`` also to ``docs/screenshots/`` (``01-login.png``, ...; ``home.png``,
...), listed in ``docs/SCREENSHOTS.md``. Map tiles are not drawn: the test console has no
basemap (``PATROL_BASEMAP_URL`` unset), so maps show their vector layers on grey.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.support import Translations

from .conftest import PHOTO_DIR, REPO

pytestmark = pytest.mark.browser

DOCS_SHOTS = REPO / "docs" / "screenshots"
SAMPLES = REPO / "flight_logs" / "samples" / "photos"
HANDLE_PHOTO = PHOTO_DIR / "DJI_0020.JPG"          # real, bundled: the officer's evidence
REWORK_PHOTO = SAMPLES / "cuav_exif_samples" / "exifimg2018021100040450Z.jpg"  # real, bundled
AFTER_PHOTO = PHOTO_DIR / "DJI_0019.JPG"           # real file; its Photo row is GENERATED
DESKTOP = (1400, 900)
TABLET_PORTRAIT = (768, 1024)
MAPS = "#map, #plan-map, #fleet-map, #pick-map, .minimap, .zone-map"
"""The console's maps; each sets ``data-ready="true"`` once its layers are drawn."""
WHEN = "%Y-%m-%d %H:%M:%S UTC"

# The ZH catalogue, so the assertions read the page as a Chinese user sees it without
# copying the translations here.
_ZH = Translations.load(str(REPO / "web" / "translations"), ["zh"])


def zh(msgid: str, context: str | None = None, **params) -> str:
    """The Chinese text of a console msgid (the msgid itself when untranslated)."""
    text = _ZH.pgettext(context, msgid) if context else _ZH.gettext(msgid)
    return text % params if params else text


def zh_n(singular: str, plural: str, n: int) -> str:
    """The Chinese text of a plural msgid for ``n`` (``%(num)s`` filled, as Jinja's ngettext)."""
    return _ZH.ngettext(singular, plural, n) % {"num": n}


# ------------------------------------------------------------------ browser helpers
class Browser:
    """The driver with the walkthrough's habits: settle before looking, photograph each page,
    collect console errors per page."""

    def __init__(self, driver, base: str, tmp_path: Path, prefix_numbers: bool = True):
        from selenium.webdriver.support.ui import WebDriverWait

        self.d = driver
        self.base = base
        self.wait = WebDriverWait(driver, 30)
        self.tmp = tmp_path / "screenshots"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.docs = DOCS_SHOTS if os.environ.get("PATROL_SCREENSHOTS") == "1" else None
        self.numbered = prefix_numbers
        self.n = 0
        self.shots: list[str] = []
        self.errors: list[str] = []

    # -- looking
    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def text(self, selector: str) -> str:
        return self.css(selector).text.strip()

    def status(self) -> int:
        return self.d.execute_script(
            "return performance.getEntriesByType('navigation')[0].responseStatus || 200")

    def settle(self, page: str) -> None:
        """Wait for the page, its maps and charts, and the images in view."""
        wait = self.wait
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        wait.until(lambda d: d.execute_script("""
            return Array.prototype.every.call(document.querySelectorAll(arguments[0]),
                                              function (m) { return m.dataset.ready === 'true'; });""",
                                              MAPS), f"{page}: a map did not get ready")
        wait.until(lambda d: d.execute_script("""
            return Array.prototype.every.call(document.querySelectorAll('canvas'), function (c) {
              return c.closest('.leaflet-container') || c.dataset.ready === 'true'; });"""),
                   f"{page}: a chart was not drawn")
        wait.until(lambda d: d.execute_script("""
            var h = window.innerHeight;
            return Array.prototype.every.call(document.images, function (i) {
              var r = i.getBoundingClientRect();
              return r.bottom < 0 || r.top > h || !r.width || i.complete; });"""),
                   f"{page}: images in view did not load")

    def shot(self, name: str, at: str | None = None, expected: tuple[str, ...] = (),
             full_page: bool = False) -> str:
        """Photograph the window as ``NN-name.png`` (or ``name.png``), scrolled to the element
        ``at`` (CSS selector) if given, or the whole page (``full_page``); the file name.
        Console errors of the page are kept, except those containing an ``expected`` text."""
        if at:
            self.d.execute_script("""
                var el = document.querySelector(arguments[0]), bar = document.getElementById('topbar');
                window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY
                                   - (bar ? bar.offsetHeight : 0) - 12);""", at)
        self.settle(name)
        self.n += 1
        fname = f"{self.n:02d}-{name}.png" if self.numbered else f"{name}.png"
        if full_page:
            size = self.d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            png = self.d.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True, "clip": {
                    "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
            (self.tmp / fname).write_bytes(base64.b64decode(png["data"]))
        else:
            self.d.save_screenshot(str(self.tmp / fname))
        if self.docs is not None:
            self.docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.tmp / fname, self.docs / fname)
        self.shots.append(fname)
        self.errors += [f"{fname}: {e['message']}" for e in self.d.get_log("browser")
                        if e["level"] == "SEVERE" and not any(x in e["message"] for x in expected)]
        return fname

    # -- acting
    def go(self, path: str) -> None:
        self.d.get(self.base + path)
        self.settle(path)

    def click(self, element) -> None:
        """Click and wait for the next page when the click leaves this one."""
        old = self.d.find_element("tag name", "html")
        element.click()
        try:
            self.wait.until(lambda d: _stale(old))
        finally:
            self.settle("after click")

    def submit(self, form_selector: str, button: str = "button[type=submit]", **fields) -> None:
        """Fill the fields of a form (textarea/input by name) and press its button."""
        form = self.css(form_selector)
        for name, value in fields.items():
            box = form.find_element("css selector", f"[name={name}]")
            box.clear()
            box.send_keys(value)
        self.click(form.find_element("css selector", button))

    def flash(self) -> str:
        """The success message at the top of the page (fails with whatever else is shown)."""
        ok = self.all(".flash.success")
        assert ok, f"no success message: {[f.text for f in self.all('.flash')]}"
        return ok[0].text.strip()

    def viewport(self, size: tuple[int, int], *, touch: bool) -> None:
        width, height = size
        if touch:
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
        else:
            self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            self.d.set_window_size(width, height)
        self.d.execute_cdp_cmd("Emulation.setTouchEmulationEnabled",
                               {"enabled": touch, "maxTouchPoints": 5 if touch else 1})

    def chinese(self) -> None:
        """The browser asks for Chinese (Accept-Language zh-CN), like the bureau's."""
        ua = self.d.execute_script("return navigator.userAgent")
        self.d.execute_cdp_cmd("Emulation.setUserAgentOverride",
                               {"userAgent": ua, "acceptLanguage": "zh-CN,zh"})

    def login(self, username: str, password: str, shot: str | None = None) -> None:
        from selenium.webdriver.common.by import By

        self.d.get(self.base + "/login")
        self.wait.until(lambda d: d.find_elements(By.NAME, "username"))
        assert self.css("html").get_attribute("lang") == "zh-CN"
        self.css("input[name=username]").send_keys(username)
        self.css("input[name=password]").send_keys(password)
        if shot:
            self.shot(shot)
        self.click(self.css("form.stack button[type=submit]"))
        assert self.all("#nav-toggle"), f"{username} is not logged in: {self.d.current_url}"

    def open_menu(self) -> None:
        toggle = self.css("#nav-toggle")
        if toggle.is_displayed() and toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
            self.wait.until(lambda d: self.css("#topbar-menu").is_displayed())

    def nav(self, label: str) -> None:
        """Follow the main menu's link named ``label`` (opening the folded menu first)."""
        self.open_menu()
        links = [a for a in self.all("#topbar-menu .nav a") if a.text.strip() == label]
        assert links, f"no menu entry {label!r}"
        self.click(links[0])

    def logout(self) -> None:
        self.open_menu()
        self.click(self.css("#topbar-menu form[action$='/logout'] button"))
        assert "/login" in self.d.current_url


def _stale(element) -> bool:
    """Whether ``element`` left the page. While the next page replaces the document,
    ChromeDriver may answer "Node with given id does not belong to the document" instead of
    a stale-element error: that is the same thing."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise


# ------------------------------------------------------------------ the case page, read
def timeline(b: Browser) -> list[dict]:
    """The History card of the case page: label, who, when (UTC), note, thumbnails."""
    rows = []
    for li in b.all("ol.timeline li.history-row"):
        action = next((c[len("action-"):] for c in li.get_attribute("class").split()
                       if c.startswith("action-")), "")
        notes = li.find_elements("css selector", ".note")
        rows.append({
            "action": action,
            "label": li.find_element("css selector", ".what b").text.strip(),
            "who": li.find_element("css selector", ".who").text.strip(),
            "when": dt.datetime.strptime(li.find_element("css selector", ".when").text.strip(),
                                         WHEN).replace(tzinfo=dt.timezone.utc),
            "note": notes[0].text.strip() if notes else "",
            "thumbs": len(li.find_elements("css selector", ".thumbs img")),
        })
    return rows


TIMELINE_LABELS = {
    "report": zh("Reported", "case status"), "file": zh("Filed"), "dispatch": zh("Dispatched"),
    "extension_request": zh("More time asked for"), "extension_grant": zh("Extension granted"),
    "handle": zh("Handled"), "rework": zh("Returned for rework"), "reflight": zh("Re-flight"),
    "verify": zh("Verified"), "close": zh("Closed"),
}
"""What the History card calls each step, in Chinese."""


def case_status(b: Browser) -> str:
    return b.text("h1 .badge[class*=status-]")


def deadline(b: Browser) -> dt.datetime:
    """The deadline on the case page (local time, minutes)."""
    return dt.datetime.strptime(b.text("#deadline"), "%Y-%m-%d %H:%M")


def step_forms(b: Browser) -> set[str]:
    return {f.get_attribute("data-action") for f in b.all("#actions form.step-form")}


def check_last(b: Browser, action: str, who: str, since: dt.datetime, *, note: str = "",
               thumbs: int = 0) -> dict:
    """The newest timeline entry is ``action`` by ``who`` (display name and role), at a time
    between ``since`` and now, with ``note``."""
    last = timeline(b)[-1]
    assert last["action"] == action, timeline(b)
    assert last["label"] == TIMELINE_LABELS[action], last
    assert who in last["who"], last
    now = dt.datetime.now(dt.timezone.utc)
    assert since.replace(microsecond=0) <= last["when"] <= now, (since, last["when"], now)
    if note:
        assert note in last["note"], last
    assert last["thumbs"] == thumbs, last
    return last


# ------------------------------------------------------------------ fixtures
def _user(session, username: str):
    from web.models import User

    return session.scalars(sa.select(User).where(User.username == username)).one()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _reflight_photo_arrives(session_factory, settings, case_id: int) -> int:
    """The re-flight flown and its photo imported (GENERATED row): a copy of a real bundled
    photo at the case point, taken now, its footprint (30 m square) covering the point."""
    from flight_logs.models import Photo
    from patrol.db import utcnow
    from web.models import Case

    stored = Path("raw/photo/reflight-generated") / AFTER_PHOTO.name.lower()
    (settings.data_dir / stored).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(AFTER_PHOTO, settings.data_dir / stored)
    with session_factory.begin() as s:
        case = s.get(Case, case_id)
        lon, lat, half = case.lon_deg, case.lat_deg, 0.00015
        photo = Photo(sha256=_sha256(AFTER_PHOTO), stored_path=stored.as_posix(),
                      original_name=AFTER_PHOTO.name, photo_set="reflight (generated)",
                      taken_utc=utcnow(), lat_deg=lat, lon_deg=lon, alt_rel_m=40.0,
                      position_source="exif", footprint={"type": "Polygon", "coordinates": [[
                          [lon - half, lat - half], [lon + half, lat - half],
                          [lon + half, lat + half], [lon - half, lat + half],
                          [lon - half, lat - half]]]})
        s.add(photo)
        s.flush()
        return photo.id


# ------------------------------------------------------------------ the walkthrough
def test_case_walkthrough(live_server, driver, world, settings, session_factory, tmp_path):
    from selenium.webdriver.support.ui import Select

    from web.case_rules import case_rules, clock_add
    from web.models import Case, CaseAttachment, CaseEvent, CaseExtension
    from web.taxonomy import clock_seconds

    rules = case_rules(settings.data_dir, timezone=settings.timezone)
    # the supervisor judges the heap to be accumulated waste rather than loose garbage: the
    # subclass the taxonomy gives the detector's construction_waste label
    subclass = rules.taxonomy.subclasses_for("construction_waste")[0]
    assert subclass.time_limit.unit == "working_days", "the extension below is in working days"
    finding_id = world.findings["duluth"]
    with session_factory() as s:
        officer = _user(s, "officer-duluth")
        officer_name, supervisor_name = officer.display_name, _user(s, "supervisor").display_name
    sup_who = f"{supervisor_name} ({zh('Supervisor')})"
    off_who = f"{officer_name} ({zh('Officer')})"

    b = Browser(driver, live_server, tmp_path)
    b.viewport(DESKTOP, touch=False)
    b.chinese()
    t_start = dt.datetime.now(dt.timezone.utc)

    # ---- supervisor: the finding on the map, its evidence, the queue
    b.login("supervisor", "supervisor-demo", shot="login")
    b.go("/map?site=Duluth")
    marker = driver.execute_script("""
        var found = null;
        window.patrolMap.layers.findings.eachLayer(function (l) {
          if (l.feature.properties.id === arguments[0]) { found = l.getElement(); } });
        return found;""".replace("arguments[0]", str(finding_id)))
    assert marker is not None, "the finding is on the map"
    marker.click()
    popup = b.wait.until(lambda d: d.find_element("css selector", ".leaflet-popup-content"))
    # the popup is in view once Leaflet has panned the map to it
    b.wait.until(lambda d: zh("Finding #%(id)s", id=finding_id) in popup.text)
    thumb = popup.find_element("css selector", "img.popup-thumb")
    b.wait.until(lambda d: d.execute_script("return arguments[0].complete && "
                                            "arguments[0].naturalWidth", thumb))
    b.shot("map-finding")
    b.click(popup.find_element("link text", zh("review in the queue")))
    assert b.d.current_url.endswith("/findings")
    row = b.css(f"#finding-{finding_id}")
    assert row.find_element("css selector", "td.thumb img").get_attribute("naturalWidth") == "320"
    b.shot("findings")

    # the evidence, full size, in its own tab
    queue_tab = driver.current_window_handle
    row.find_element("css selector", "td.thumb a").click()
    b.wait.until(lambda d: len(d.window_handles) == 2)
    driver.switch_to.window(next(h for h in driver.window_handles if h != queue_tab))
    b.wait.until(lambda d: d.execute_script(
        "var i = document.images[0]; return i && i.complete && i.naturalWidth"))
    assert world.evidence_path in driver.current_url
    b.shot("finding-evidence", expected=("/favicon.ico ",))  # a bare image: no icon link
    driver.close()
    driver.switch_to.window(queue_tab)

    # ---- confirm into a case of the chosen subclass
    row = b.css(f"#finding-{finding_id}")
    Select(row.find_element("css selector", ".confirm-form select[name=subclass]")) \
        .select_by_value(subclass.code)
    row.find_element("css selector", ".confirm-form input[name=note]").send_keys("建筑垃圾堆放，需清运")
    b.click(row.find_element("css selector", ".confirm-form button"))
    flash = b.flash()
    code = re.search(r"C-\d{8}-\d{4}", flash).group(0)
    assert "Duluth parks squad" in flash
    assert not b.all(f"#finding-{finding_id}"), "it left the queue"
    b.shot("finding-confirmed")

    b.nav(zh("Cases"))
    case_link = next(a for a in b.all("tr.case-row td a") if a.text == code)
    b.shot("cases")
    b.click(case_link)
    case_url = driver.current_url
    case_id = int(case_url.rsplit("/", 1)[1])
    assert case_status(b) == zh("Reported", "case status")
    assert subclass.code in b.text("p.lead") and subclass.name_zh in b.text("p.lead")
    assert b.text("#filing-condition") == subclass.filing_condition
    assert b.all(".gallery img"), "the evidence crop and the drone photo"
    assert zh("The clock starts when the case is dispatched.") in b.text("#case-clock")
    assert [r["action"] for r in timeline(b)] == ["report"]
    check_last(b, "report", sup_who, t_start, note="建筑垃圾堆放，需清运")
    assert {"file", "cancel"} <= step_forms(b)
    b.shot("case-reported")

    # ---- file (立案): the filing condition holds
    form = b.css("form[data-action=file]")
    assert Select(form.find_element("css selector", "select[name=subclass]")) \
        .first_selected_option.get_attribute("value") == subclass.code
    form.find_element("css selector", "input[name=filing_acknowledged]").click()
    t = dt.datetime.now(dt.timezone.utc)
    b.submit("form[data-action=file]", note="现场渣土约2立方米，符合立案条件")
    assert b.flash() == zh("Case %(code)s filed.", code=code)
    assert case_status(b) == zh("Filed")
    check_last(b, "file", sup_who, t, note="符合立案条件")
    b.shot("case-filed", at="#actions")

    # ---- dispatch (派遣) to the Duluth squad's officer
    form = b.css("form[data-action=dispatch]")
    squad = Select(form.find_element("css selector", "select[name=squad_id]"))
    assert squad.first_selected_option.text.startswith("Duluth parks squad"), "the squad holding it"
    Select(form.find_element("css selector", "select[name=officer_id]")).select_by_visible_text(
        officer_name)
    t = dt.datetime.now(dt.timezone.utc)
    b.submit("form[data-action=dispatch]", note="请今日内安排清运")
    assert b.flash() == zh("Case %(code)s dispatched.", code=code)
    assert case_status(b) == zh("Dispatched")
    check_last(b, "dispatch", sup_who, t, note="请今日内安排清运")
    first_deadline = deadline(b)
    assert "1" in b.text("#case-clock") and zh("Time left") in b.text("#case-clock")
    b.shot("case-dispatched")
    b.logout()

    # ---- officer, on a tablet: Mine, the case, ask for more time
    b.viewport(TABLET_PORTRAIT, touch=True)
    b.login("officer-duluth", "officer-duluth-demo")
    b.nav(zh("Cases"))
    assert b.css(".tabs a.active").text == zh("Mine")
    rows = b.all("tr.case-row")
    assert [r.find_element("css selector", "td a").text for r in rows] == [code]
    b.shot("officer-cases")
    b.click(rows[0].find_element("css selector", "td a"))
    assert case_status(b) == zh("Dispatched")
    assert step_forms(b) >= {"handle", "extension-request", "note"}
    assert not {"verify", "close", "rework", "dispatch"} & step_forms(b), "not the officer's steps"
    b.shot("officer-case", at="#actions")
    t = dt.datetime.now(dt.timezone.utc)
    b.submit("form[data-action=extension-request]", amount="1", reason="渣土量大，需调派铲车，明日清运")
    assert b.flash() == zh("More time asked for on case %(code)s.", code=code)
    check_last(b, "extension_request", off_who, t, note="需调派铲车")
    assert b.text("tr.extension-row.status-pending td:nth-child(5)") == zh("pending")
    b.shot("officer-extension-asked", at="table.extensions")
    b.logout()

    # ---- supervisor grants it: the deadline moves on by one working day
    b.viewport(DESKTOP, touch=False)
    b.login("supervisor", "supervisor-demo")
    b.go(f"/cases/{case_id}")
    assert "渣土量大" in b.text("form[data-action=extension-decide]")
    b.shot("case-extension-asked", at="#actions")
    t = dt.datetime.now(dt.timezone.utc)
    b.submit("form[data-action=extension-decide]", button="button[value=grant]",
             note="同意延期一个工作日")
    assert b.flash() == zh("Extension granted on case %(code)s.", code=code)
    check_last(b, "extension_grant", sup_who, t, note="同意延期")
    assert deadline(b) > first_deadline, "the extension moves the deadline on"
    assert b.css("tr.extension-row").get_attribute("class").split()[-1] == "status-granted"
    b.shot("case-extension-granted")
    b.logout()

    # ---- officer handles it: note and a photo
    b.viewport(TABLET_PORTRAIT, touch=True)
    b.login("officer-duluth", "officer-duluth-demo")
    b.go(f"/cases/{case_id}")
    b.css("form[data-action=handle] input[name=photos]").send_keys(str(HANDLE_PHOTO))
    t = dt.datetime.now(dt.timezone.utc)
    b.submit("form[data-action=handle]", note="已组织清运，现场已清理")
    assert b.flash() == zh("Case %(code)s reported handled.", code=code)
    assert case_status(b) == zh("Handled")
    check_last(b, "handle", off_who, t, note="现场已清理", thumbs=1)
    assert len(b.all(".gallery figure.attachment.stage-handle")) == 1
    b.shot("officer-case-handled", at=".gallery")
    b.logout()

    # ---- supervisor returns it for rework
    b.viewport(DESKTOP, touch=False)
    b.login("supervisor", "supervisor-demo")
    b.go(f"/cases/{case_id}")
    assert {"verify", "rework"} <= step_forms(b)
    t = dt.datetime.now(dt.timezone.utc)
    b.submit("form[data-action=rework]", note="照片显示路边仍有少量渣土，请再次清理")
    assert b.flash() == zh("Case %(code)s returned for rework.", code=code)
    assert case_status(b) == zh("Dispatched")
    check_last(b, "rework", sup_who, t, note="请再次清理")
    assert zh_n("Returned for rework once.", "Returned for rework %(num)s times.", 1) \
        in b.text("#case-clock")
    b.shot("case-rework", at="ol.timeline")
    b.logout()

    # ---- officer handles it again
    b.viewport(TABLET_PORTRAIT, touch=True)
    b.login("officer-duluth", "officer-duluth-demo")
    b.nav(zh("Cases"))
    row = b.css("tr.case-row")
    assert row.find_element("css selector", ".badge.rework").text.endswith("1")
    b.click(row.find_element("css selector", "td a"))
    b.css("form[data-action=handle] input[name=photos]").send_keys(str(REWORK_PHOTO))
    t = dt.datetime.now(dt.timezone.utc)
    b.submit("form[data-action=handle]", note="剩余渣土已清运完毕")
    assert case_status(b) == zh("Handled")
    check_last(b, "handle", off_who, t, note="清运完毕", thumbs=1)
    b.shot("officer-case-handled-again", at="ol.timeline")
    b.logout()

    # ---- supervisor: re-flight (when the panel is there), verify, close
    b.viewport(DESKTOP, touch=False)
    b.login("supervisor", "supervisor-demo")
    b.go(f"/cases/{case_id}")
    reflight = bool(b.all("#reflight-form"))
    if reflight:
        t = dt.datetime.now(dt.timezone.utc)
        b.submit("#reflight-form", note="复飞核查")
        check_last(b, "reflight", sup_who, t, note="复飞核查")
        assert b.css("#before-image").get_attribute("naturalWidth") == "320"
        assert b.all("#after-waiting"), "waiting for the re-flight photo"
        b.shot("case-reflight-asked", at="#reflight")
        photo_id = _reflight_photo_arrives(session_factory, settings, case_id)
        b.go(f"/cases/{case_id}")
        after = b.css("#after-image")
        b.wait.until(lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", after))
        assert AFTER_PHOTO.name in after.get_attribute("alt")
        b.shot("case-before-after", at="#reflight")
    t = dt.datetime.now(dt.timezone.utc)
    b.submit("form[data-action=verify]", note="复核现场已清理干净")
    assert b.flash() == zh("Case %(code)s verified.", code=code)
    assert case_status(b) == zh("Verified")
    check_last(b, "verify", sup_who, t, note="清理干净")
    b.shot("case-verified", at="#actions")
    t = dt.datetime.now(dt.timezone.utc)
    b.submit("form[data-action=close]", note="结案")
    assert b.flash() == zh("Case %(code)s closed.", code=code)
    assert case_status(b) == zh("Closed")
    check_last(b, "close", sup_who, t, note="结案")
    assert step_forms(b) == {"reopen"}, "nothing left to do but reopen if it comes back"
    steps = ["report", "file", "dispatch", "extension_request", "extension_grant", "handle",
             "rework", "handle", *(["reflight"] if reflight else []), "verify", "close"]
    shown = timeline(b)
    assert [r["action"] for r in shown] == steps
    assert [r["when"] for r in shown] == sorted(r["when"] for r in shown)
    assert zh("Closed on time.") in b.text("#case-clock")
    b.shot("case-closed", full_page=True)
    b.logout()

    # ---- an officer of another squad: not listed, not opened
    b.login("officer", "officer-demo")
    b.go("/cases?status=all&scope=squad")
    assert code not in b.text("main"), "another squad's case is not listed"
    b.shot("other-officer-cases")
    b.go("/map?site=Duluth")
    assert driver.execute_script("return window.patrolMap.counts.cases") == 0, "nor on the map"
    driver.get(f"{live_server}/cases/{case_id}")
    assert b.status() == 403
    page = b.text("main")
    assert zh("Case %(code)s belongs to another squad.", code=code) in page
    assert subclass.name_zh not in page and "渣土" not in page, "nothing of the case is shown"
    b.shot("other-officer-forbidden", expected=(f"/cases/{case_id} - Failed to load resource: "
                                                "the server responded with a status of 403",))

    # ---- the trail in the database
    with session_factory() as s:
        case = s.get(Case, case_id)
        events = list(s.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id)
                                .order_by(CaseEvent.at, CaseEvent.id)))
        users = {e.user.username if e.user else None for e in events}
        assert [e.action for e in events] == steps
        assert [(e.from_status, e.to_status) for e in events if e.action not in
                ("extension_request", "extension_grant", "reflight")] == [
            (None, "reported"), ("reported", "filed"), ("filed", "dispatched"),
            ("dispatched", "handled"), ("handled", "dispatched"), ("dispatched", "handled"),
            ("handled", "verified"), ("verified", "closed")]
        by = {e.action: e.user.username for e in events}
        assert by["handle"] == by["extension_request"] == "officer-duluth"
        assert {by[a] for a in by if a not in ("handle", "extension_request")} == {"supervisor"}
        assert users == {"supervisor", "officer-duluth"}
        assert all(t_start.replace(microsecond=0) <= e.at for e in events)
        assert (case.status, case.category, case.rework_count) == ("closed", subclass.code, 1)
        assert case.squad_id == world.squads["duluth"] and case.officer.username == "officer-duluth"
        assert case.closed_at is not None and case.closed_at <= case.deadline_utc
        ext = s.scalars(sa.select(CaseExtension).where(CaseExtension.case_id == case_id)).one()
        assert (ext.status, ext.amount, ext.unit, ext.granted_amount) == ("granted", 1.0, "days", 1.0)
        one_day = clock_seconds(1, "working_days", rules.calendar.day_seconds)
        assert case.extension_s == ext.granted_s == one_day
        assert case.deadline_utc == clock_add(rules.calendar, "working", case.dispatched_at,
                                              case.time_limit_s + one_day)
        photos = list(s.scalars(sa.select(CaseAttachment).where(CaseAttachment.case_id == case_id)
                                .order_by(CaseAttachment.id)))
        assert [(p.stage, p.sha256, p.original_name) for p in photos] == [
            ("handle", _sha256(HANDLE_PHOTO), HANDLE_PHOTO.name),
            ("handle", _sha256(REWORK_PHOTO), REWORK_PHOTO.name)]
        assert all((settings.data_dir / p.stored_path).is_file() for p in photos)
        handles = [e for e in events if e.action == "handle"]
        assert [[a.id for a in e.attachments] for e in handles] == [[p.id] for p in photos]
        if reflight:
            from web.models_reflight import Reflight

            rf = s.scalars(sa.select(Reflight).where(Reflight.case_id == case_id)).one()
            assert rf.after_photo_id == photo_id
            assert rf.requested_by == next(e.user_id for e in events if e.action == "reflight")
    assert not b.errors, "\n".join(b.errors)


# ------------------------------------------------------------------ the main pages
@pytest.fixture
def busy_world(world, settings, session_factory):
    """The world plus the demo's grids and merchants (generated), cases in several states
    and one shopfront notice in the SMS outbox (generated passes over a demo merchant)."""
    from flight_logs.models import Photo
    from shapely.geometry import shape

    from patrol.db import utcnow
    from vision.models import Detection, Finding, PhotoGeoref
    from web.case_rules import case_rules
    from web.cases import dispatch_case, handle_case, open_case_from_finding
    from web.merchants import ShopfrontRules, run_shopfront_rules
    from web.models_merchants import Merchant
    from web.seed import seed_demo_places

    rules = case_rules(settings.data_dir, timezone=settings.timezone)
    now = utcnow()
    with session_factory.begin() as s:
        seed_demo_places(s, now=now)
        sup, off = _user(s, "supervisor"), _user(s, "officer")
        danghu = open_case_from_finding(s, s.get(Finding, world.findings["danghu"]), sup,
                                        rules=rules)
        dispatch_case(s, danghu, sup, note="generated for the screenshots", rules=rules)
        handle_case(s, danghu, off, note="generated: cleared")
        open_case_from_finding(s, s.get(Finding, world.findings["zhongdai"]), sup, rules=rules)
        open_case_from_finding(s, s.get(Finding, world.findings["duluth"]), sup, file=False,
                               rules=rules)

        merchant = s.scalars(sa.select(Merchant).order_by(Merchant.id)).first()
        shop_rules = ShopfrontRules()
        centre = shape(merchant.zone).centroid
        lon, lat = centre.x, centre.y
        finding = Finding(category=shop_rules.categories[0], lat_deg=lat, lon_deg=lon, score=0.8,
                          first_seen_utc=now - dt.timedelta(minutes=14),
                          last_seen_utc=now - dt.timedelta(minutes=1), seen_count=2)
        s.add(finding)
        s.flush()
        for i, minutes in enumerate((14, 1)):
            taken = now - dt.timedelta(minutes=minutes)
            photo = Photo(sha256=hashlib.sha256(f"shopfront-{i}".encode()).hexdigest(),
                          stored_path=f"raw/photo/generated/shopfront-{i}.jpg",
                          original_name=f"shopfront-{i}.jpg (generated)", photo_set="generated",
                          taken_utc=taken, lat_deg=lat, lon_deg=lon,
                          footprint={"type": "Polygon", "coordinates": [[
                              [lon - 5e-4, lat - 5e-4], [lon + 5e-4, lat - 5e-4],
                              [lon + 5e-4, lat + 5e-4], [lon - 5e-4, lat + 5e-4],
                              [lon - 5e-4, lat - 5e-4]]]})
            s.add(photo)
            s.flush()
            s.add(PhotoGeoref(photo_id=photo.id, height_agl_m=40, yaw_deg=0, pitch_deg=-90,
                              roll_deg=0, height_source="alt_rel", yaw_source="gimbal",
                              gsd_cm_px=1.0, analysed_at=taken))
            s.add(Detection(photo_id=photo.id, finding_id=finding.id, detector="generated",
                            category=finding.category, score=0.8, bbox_px=[0, 0, 10, 10],
                            lat_deg=lat, lon_deg=lon))
        s.flush()
        report = run_shopfront_rules(s, now, rules=shop_rules)
        assert report.notified, f"the generated passes notify the merchant: {report.summary()}"
        return {"case_id": danghu.id, "merchant_id": merchant.id}


def test_main_pages(live_server, driver, world, busy_world, tmp_path):
    b = Browser(driver, live_server, tmp_path, prefix_numbers=False)
    b.viewport(DESKTOP, touch=False)
    b.chinese()
    problems = []

    def page(path: str, name: str, optional: bool = False) -> None:
        driver.get(live_server + path)
        status = b.status()
        if optional and status == 404:
            return
        if status != 200:
            problems.append(f"{path}: HTTP {status}")
            return
        assert b.css("html").get_attribute("lang") == "zh-CN", path
        b.shot(name)

    b.login("supervisor", "supervisor-demo")
    page("/", "home")
    driver.get(live_server + "/map")
    b.settle("map")
    counts = driver.execute_script("return window.patrolMap.counts")
    assert counts["cases"] == 3 and counts["grids"] > 0, counts
    control = b.css(".leaflet-control-layers")
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element(control).perform()   # the layer list opens on hover
    b.wait.until(lambda d: "leaflet-control-layers-expanded" in control.get_attribute("class"))
    b.shot("map-layers")
    page("/findings", "findings")
    page("/cases", "cases")
    page(f"/cases/{busy_world['case_id']}", "case")
    page("/cases/new", "case-new")
    page("/dashboard", "dashboard", optional=True)
    page("/merchants", "merchants")
    page(f"/merchants/{busy_world['merchant_id']}", "merchant")
    page("/merchants/outbox", "outbox")
    assert b.all(".outbox-row"), "the generated notice is in the outbox"
    page("/fleet", "fleet")
    page("/fleet/stats", "fleet-stats")
    page("/flights", "flights")
    page(f"/flights/{world.flight_id}", "flight")
    b.logout()

    b.login("admin", "admin-demo")
    page("/admin/users", "admin-users")
    page("/admin/squads", "admin-squads")
    page("/cases/taxonomy", "taxonomy")
    page("/planning", "planning")
    page(f"/planning/routes/{world.route_id}", "route")
    b.logout()
    assert not problems, "\n".join(problems)
    assert not b.errors, "\n".join(b.errors)
