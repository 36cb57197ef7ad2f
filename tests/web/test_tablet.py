"""The console on a tablet, in headless Chromium: 1024x768 (landscape) and 768x1024 (portrait)
with touch emulation. On every main page nothing overflows sideways, controls are at least
44 px tall, the folded menu opens and navigates, and the map fills the width.

Screenshots go to pytest's ``tmp_path``; with ``PATROL_SCREENSHOTS=1`` they are written to
``docs/screenshots/`` instead (``map-tablet.png``, ``map-tablet-portrait.png``, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
VIEWPORTS = {"tablet": (1024, 768), "tablet-portrait": (768, 1024)}
MIN_TOUCH_PX = 44

# Elements wider than the page that are not inside a box scrolling on its own.
OVERFLOW = """
var root = document.documentElement, width = root.clientWidth, out = [];
function scrolls(el) {
  for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    var s = getComputedStyle(p);
    if (/(auto|scroll|hidden)/.test(s.overflowX) && p.scrollWidth > p.clientWidth) { return true; }
  }
  return false;
}
Array.prototype.forEach.call(document.body.querySelectorAll('*'), function (el) {
  var r = el.getBoundingClientRect();
  if (r.width && r.right > width + 1 && !scrolls(el) && out.length < 8) {
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
             (el.className && el.className.baseVal === undefined ? '.' + String(el.className).split(' ').join('.') : '') +
             ' right=' + Math.round(r.right));
  }
});
return {scrollWidth: root.scrollWidth, clientWidth: width, offenders: out};
"""

# Visible controls shorter than the touch minimum.
SMALL_CONTROLS = """
var min = arguments[0], out = [];
var sel = 'button, select, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), ' +
          '.nav a, .pager a, .lang-switch .lang, a.button, a.button-link, .leaflet-bar a';
Array.prototype.forEach.call(document.querySelectorAll(sel), function (el) {
  var r = el.getBoundingClientRect(), s = getComputedStyle(el);
  if (!r.width || !r.height || s.visibility === 'hidden' || el.closest('[hidden]')) { return; }
  if (r.height < min - 0.5) {
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' +
             (el.textContent || el.value || el.name || '').trim().slice(0, 30) + '" ' + Math.round(r.height) + 'px');
  }
});
return out;
"""


def _shot(driver, tmp_path: Path, name: str) -> None:
    out = REPO / "docs" / "screenshots" if os.environ.get("PATROL_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out / f"{name}.png"))


def _viewport(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})


def _login(driver, base: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(f"{base}/lang/zh?next=/login")
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.NAME, "username")))
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "nav-toggle"))


def _open_case(settings, world) -> int:
    """A case dispatched to the 当湖 squad (whose officer is ``officer``), from its finding."""
    from patrol.db import make_engine, make_session_factory
    from vision.models import Finding
    from web.cases import dispatch_case, open_case_from_finding
    from web.models import User

    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as s:
            supervisor = s.scalars(sa.select(User).where(User.username == "supervisor")).one()
            case = open_case_from_finding(s, s.get(Finding, world.findings["danghu"]), supervisor)
            dispatch_case(s, case, supervisor, note="generated for the tablet test")
            s.flush()
            return case.id
    finally:
        engine.dispose()


def _ready(driver, page: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 20)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    for map_id in ("map", "flight-map", "case-map", "fleet-map", "plan-map", "route-map"):
        if driver.find_elements("id", map_id) and map_id in ("map", "flight-map", "case-map", "plan-map"):
            wait.until(lambda d: d.find_element("id", map_id).get_attribute("data-ready") == "true",
                       f"{page}: #{map_id} did not get ready")


def _check_page(driver, page: str, width: int) -> list[str]:
    problems = []
    over = driver.execute_script(OVERFLOW)
    if over["scrollWidth"] > over["clientWidth"]:
        problems.append(f"{page} @{width}px overflows sideways: {over}")
    small = driver.execute_script(SMALL_CONTROLS, MIN_TOUCH_PX)
    if small:
        problems.append(f"{page} @{width}px controls under {MIN_TOUCH_PX} px: {small[:6]}")
    return problems


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_console_on_a_tablet(live_server, driver, world, settings, tmp_path, viewport):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    width, height = VIEWPORTS[viewport]
    case_id = _open_case(settings, world)
    _viewport(driver, width, height)
    wait = WebDriverWait(driver, 20)

    # the login page, in Chinese; the viewport meta makes the layout as wide as the screen
    driver.get(f"{live_server}/lang/zh?next=/login")
    assert driver.execute_script("return window.innerWidth") == width
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    problems = _check_page(driver, "login", width)
    _shot(driver, tmp_path, f"login-{viewport}")

    pages = {
        "supervisor": {"home": "/", "map": "/map", "findings": "/findings", "cases": "/cases",
                       "case": f"/cases/{case_id}", "flights": "/flights",
                       "flight": f"/flights/{world.flight_id}", "fleet": "/fleet",
                       "fleet-stats": "/fleet/stats", "dashboard": "/dashboard"},
        "officer": {"officer-cases": "/cases", "officer-case": f"/cases/{case_id}",
                    "officer-map": "/map"},
        "admin": {"planning": "/planning", "route": f"/planning/routes/{world.route_id}"},
    }
    passwords = {"supervisor": "supervisor-demo", "officer": "officer-demo", "admin": "admin-demo"}
    for user, urls in pages.items():
        _login(driver, live_server, user, passwords[user])
        for page, path in urls.items():
            driver.get(live_server + path)
            status = driver.execute_script(
                "return performance.getEntriesByType('navigation')[0].responseStatus || 200")
            if status == 404 and page == "dashboard":
                continue   # the performance dashboard is optional here
            assert status == 200, f"{page}: HTTP {status}"
            _ready(driver, page)
            problems += _check_page(driver, page, width)
            _shot(driver, tmp_path, f"{page}-{viewport}")
    assert not problems, "\n".join(problems)

    # the folded menu: closed, opens with its button, and takes the officer to the map
    _login(driver, live_server, "officer", "officer-demo")
    driver.get(f"{live_server}/cases")
    toggle = driver.find_element(By.ID, "nav-toggle")
    menu = driver.find_element(By.ID, "topbar-menu")
    assert toggle.is_displayed() and not menu.is_displayed()
    assert toggle.rect["height"] >= MIN_TOUCH_PX and toggle.rect["width"] >= MIN_TOUCH_PX
    toggle.click()
    assert menu.is_displayed() and toggle.get_attribute("aria-expanded") == "true"
    _shot(driver, tmp_path, f"menu-{viewport}")
    assert not driver.execute_script(OVERFLOW)["offenders"]
    links = {a.text: a for a in menu.find_elements(By.CSS_SELECTOR, ".nav a")}
    assert "地图" in links and "案件" in links and "线索" not in links, "officers do not review findings"
    links["地图"].click()
    wait.until(lambda d: d.current_url.endswith("/map"))
    _ready(driver, "map")
    assert not driver.find_element(By.ID, "topbar-menu").is_displayed(), "closed on the new page"

    # the map fills the width below the bar and most of the height
    box = driver.execute_script("return document.getElementById('map').getBoundingClientRect().toJSON()")
    assert box["left"] == 0 and box["width"] == width
    assert box["top"] + box["height"] >= height - 2 and box["height"] > height / 2
    # the language switch in the menu turns the page English and back
    driver.find_element(By.ID, "nav-toggle").click()
    driver.find_element(By.CSS_SELECTOR, ".lang-switch a[hreflang=en]").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    assert "/map" in driver.current_url
    _ready(driver, "map")
    assert not _check_page(driver, "map (English)", width)
    driver.find_element(By.ID, "nav-toggle").click()
    assert "Map" in driver.find_element(By.ID, "topbar-menu").text
