"""Map layers: the cases and grids GeoJSON behind them, and the layers control in headless
Chromium (one entry per finding category, switching, remembered across reloads)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from vision.models import Finding
from web.cases import open_case_from_finding
from web.models import Grid, User


def _square(lon: float, lat: float, half_deg: float) -> dict:
    return {"type": "Polygon", "coordinates": [[
        [lon - half_deg, lat - half_deg], [lon + half_deg, lat - half_deg],
        [lon + half_deg, lat + half_deg], [lon - half_deg, lat + half_deg],
        [lon - half_deg, lat - half_deg]]]}


@pytest.fixture
def cases(session_factory, world) -> dict[str, str]:
    """Cases (codes) from the 当湖 and 钟埭 findings, filed by the supervisor."""
    with session_factory.begin() as s:
        supervisor = s.scalars(sa.select(User).where(User.username == "supervisor")).one()
        return {key: open_case_from_finding(s, s.get(Finding, world.findings[key]), supervisor).code
                for key in ("danghu", "zhongdai")}


def _features(client, path: str) -> list[dict]:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    return response.get_json()["features"]


def test_cases_layer_officers_see_their_squad_only(client, auth, world, cases):
    auth.login("supervisor")
    features = _features(client, "/api/cases.geojson")
    assert sorted(f["properties"]["code"] for f in features) == sorted(cases.values())
    danghu = next(f for f in features if f["properties"]["code"] == cases["danghu"])
    assert danghu["geometry"] == {"type": "Point", "coordinates": [121.0185, 30.7005]}
    assert danghu["properties"]["status"] and danghu["properties"]["squad"].startswith("当湖")
    assert danghu["properties"]["category_zh"] == "暴露垃圾"
    inside = _features(client, "/api/cases.geojson?bbox=121.0,30.69,121.03,30.71")
    assert [f["properties"]["code"] for f in inside] == [cases["danghu"]]
    auth.logout()

    auth.login("officer")   # 当湖 squad
    assert [f["properties"]["code"] for f in _features(client, "/api/cases.geojson")] == [cases["danghu"]]
    auth.logout()
    auth.login("officer2")  # 钟埭 squad
    assert [f["properties"]["code"] for f in _features(client, "/api/cases.geojson")] == [cases["zhongdai"]]
    auth.logout()
    auth.login("operator")
    assert client.get("/api/cases.geojson").status_code == 403
    assert "/api/cases.geojson" not in client.get("/map").get_data(as_text=True)


def test_grids_layer(client, auth, world, session_factory):
    with session_factory.begin() as s:
        s.add(Grid(code="T-0001", name="test grid (generated)", squad_id=world.squads["danghu"],
                   polygon=_square(121.0185, 30.7005, 0.002)))
    auth.login("officer")
    features = _features(client, "/api/grids.geojson")
    assert [(f["properties"]["code"], f["properties"]["squad"][:2]) for f in features] == [("T-0001", "当湖")]
    assert _features(client, f"/api/grids.geojson?squad={world.squads['zhongdai']}") == []
    page = client.get("/map").get_data(as_text=True)
    assert "/api/grids.geojson" in page and "/api/cases.geojson" in page


# ------------------------------------------------------------------ in the browser
PATHS = "return document.querySelectorAll('#map .leaflet-overlay-pane svg path').length"
CHECKED = """
return Array.prototype.map.call(document.querySelectorAll('.leaflet-control-layers-overlays label'),
  function (l) { return [l.textContent.trim(), l.querySelector('input').checked]; });
"""


@pytest.mark.browser
def test_layers_control_switches_categories_and_remembers(live_server, driver, world, settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 20)
    driver.get(f"{live_server}/login?next=/map")
    wait.until(ec.presence_of_element_located((By.NAME, "username")))
    driver.find_element(By.NAME, "username").send_keys("supervisor")
    driver.find_element(By.NAME, "password").send_keys("supervisor-demo")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    ready = "return !!(window.patrolMap && window.patrolMap.ready)"
    wait.until(lambda d: d.execute_script(ready))
    assert driver.execute_script("return window.patrolMap.errors") == []
    total = driver.execute_script(PATHS)
    entries = driver.execute_script(CHECKED)
    names = [name for name, _ in entries]
    # English here (the browser asks for it): categories by their taxonomy names, with counts
    assert any(n.startswith("Findings") and n.endswith("4") for n in names)
    garbage = next(i for i, n in enumerate(names) if n.lower().startswith("exposed garbage"))
    assert names[garbage].endswith("2"), "two exposed-garbage findings"
    def box(i):   # the control redraws its list when layers change: find the inputs afresh
        return driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays input")[i]

    assert all(box(i).rect["height"] >= 20 for i in range(len(names)))

    def paths(n):
        wait.until(lambda d: d.execute_script(PATHS) == n, f"{n} paths on the map")

    box(garbage).click()     # one category off
    paths(total - 2)
    findings = names.index(next(n for n in names if n.startswith("Findings")))
    assert box(findings).is_selected(), "on while another category is"
    box(findings).click()    # every finding off
    paths(total - 4)
    squads = names.index(next(n for n in names if n.startswith("Jurisdictions")))
    box(squads).click()      # jurisdictions off
    paths(total - 4 - 5)
    # the choice is saved just after the control has finished with the click (a zero timeout)
    stored_js = "return JSON.parse(localStorage.getItem('patrol.map.layers'))"
    wait.until(lambda d: (d.execute_script(stored_js) or {}).get("squads") is False, "the choice saved")
    stored = driver.execute_script(stored_js)
    assert stored["squads"] is False and stored["findings"] is False
    assert stored["findings:exposed_garbage"] is False and stored["areas"] is True
    before = driver.execute_script(CHECKED)

    driver.refresh()           # remembered
    wait.until(lambda d: d.execute_script(ready))
    assert driver.execute_script(CHECKED) == before
    assert driver.execute_script(PATHS) == total - 4 - 5

    box(findings).click()    # every category back
    paths(total - 5)
    assert all(checked for name, checked in driver.execute_script(CHECKED)
               if not name.startswith("Jurisdictions"))
