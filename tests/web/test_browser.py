"""The console in headless Chromium: log in, the map with its layers, the findings queue.

Runs the app with werkzeug's server on a free loopback port over the seeded world (the
``live_server`` and ``driver`` fixtures of ``conftest.py``); needs Debian's ``chromium`` and
``chromedriver`` (``make browser`` installs them).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SHOWS_AREA = """
    var m = window.patrolMap;
    return m.map.getZoom() >= 12 && m.map.getBounds().contains(m.layers.areas.getBounds());
"""
SHOWS_FINDING_NOT_AREA = """
    var m = window.patrolMap, id = arguments[0], at = null, view = m.map.getBounds();
    m.layers.findings.eachLayer(function (l) { if (l.feature.properties.id === id) { at = l.getLatLng(); } });
    return at !== null && view.contains(at) && !view.intersects(m.layers.areas.getBounds());
"""


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_map_and_findings_queue_in_chromium(live_server, driver, world, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(driver, 20)
    driver.get(f"{live_server}/map")
    wait.until(ec.presence_of_element_located((By.NAME, "username")))
    assert "/login?next=" in driver.current_url
    driver.find_element(By.NAME, "username").send_keys("supervisor")
    driver.find_element(By.NAME, "password").send_keys("supervisor-demo")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    wait.until(lambda d: d.execute_script("return !!(window.patrolMap && window.patrolMap.ready)"))
    counts = driver.execute_script("return window.patrolMap.counts")
    errors = driver.execute_script("return window.patrolMap.errors")
    assert errors == []
    assert counts == {"squads": 5, "grids": 0, "areas": 1, "photos": 1, "routes": 1, "tracks": 1,
                      "findings": len(world.findings), "cases": 0}
    paths = driver.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane svg path")
    # 5 jurisdictions + 1 area + 1 footprint + 1 route + 1 track + 4 finding markers
    assert len(paths) == sum(counts.values())
    overlays = driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays input")
    categories = driver.execute_script("return Object.keys(window.patrolMap.categories)")
    assert sorted(categories) == ["construction_waste", "exposed_garbage", "open_burning"]
    # one entry per layer, findings also one per category under theirs
    assert len(overlays) == len(counts) + len(categories) and all(box.is_selected() for box in overlays)
    overlays[0].click()  # jurisdictions off
    assert len(driver.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane svg path")) == \
        len(paths) - counts["squads"]
    site = driver.find_element(By.ID, "site-select")
    assert site.get_attribute("value") == "Pinghu", "opens on the site with patrol areas"
    wait.until(lambda d: d.execute_script(SHOWS_AREA))
    Select(site).select_by_value("Duluth")
    wait.until(lambda d: d.execute_script(SHOWS_FINDING_NOT_AREA, world.findings["duluth"]))
    assert driver.current_url.endswith("/map?site=Duluth")
    Select(site).select_by_value("Pinghu")
    wait.until(lambda d: d.execute_script(SHOWS_AREA))
    driver.save_screenshot(str(tmp_path / "map.png"))
    assert _severe(driver) == []

    driver.get(f"{live_server}/findings")
    rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.finding-row"))
    assert len(rows) == len(world.findings)
    image = driver.find_element(By.CSS_SELECTOR, "td.thumb img")
    wait.until(lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", image))
    assert driver.execute_script("return arguments[0].naturalWidth", image) == 320
    driver.save_screenshot(str(tmp_path / "findings.png"))
    assert _severe(driver) == []

    # confirm the Duluth finding from its row: a case with the evidence and a location map
    row = driver.find_element(By.ID, f"finding-{world.findings['duluth']}")
    row.find_element(By.CSS_SELECTOR, ".confirm-form button").click()
    flash = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".flash.success"))
    assert "Duluth parks squad" in flash.text
    assert len(driver.find_elements(By.CSS_SELECTOR, "tr.finding-row")) == len(world.findings) - 1
    driver.get(f"{live_server}/cases")
    driver.find_element(By.CSS_SELECTOR, "tr.case-row a").click()
    wait.until(lambda d: d.find_element(By.ID, "case-map").get_attribute("data-ready") == "true")
    assert driver.find_elements(By.CSS_SELECTOR, "#case-map .leaflet-overlay-pane path")
    assert len(driver.find_elements(By.CSS_SELECTOR, ".history-row")) == 1
    driver.save_screenshot(str(tmp_path / "case.png"))
    assert _severe(driver) == []

    # the flight page draws its track
    driver.get(f"{live_server}/flights/{world.flight_id}")
    wait.until(lambda d: d.find_element(By.ID, "flight-map").get_attribute("data-ready") == "true")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#flight-map .leaflet-overlay-pane path")) >= 2
    driver.save_screenshot(str(tmp_path / "flight.png"))
    assert _severe(driver) == []
