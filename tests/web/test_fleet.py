"""The fleet pages: statistics (table, chart data, CSV) on the bundled real tlogs imported into the
test world, roles, and the live feed (Server-Sent Events) from the daemon's ``vehicle_status``
rows and alarm events: with Flask's test client, under waitress in its own process, and in
headless Chromium. The live vehicle's statuses are GENERATED (written here as the daemon would)."""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import io
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from flight_logs.importer import import_paths
from flight_logs.models import Flight, FlightEvent, TrackPoint, Vehicle
from flight_logs.stats import CSV_COLUMNS
from patrol.db import utcnow
from telemetry.models import VehicleStatus
from web import create_app
from web.cases import squad_for_point
from web.fleet_stats import NO_SQUAD, fleet_statistics, squads_of_points
from web.models import Squad

LINK = "udpin:127.0.0.1:14550"
KEY = f"{LINK}#1"
PAGES = ("/fleet", "/fleet/stats", "/fleet/stats.csv")
STREAM_CONFIG = {"TESTING": True, "WTF_CSRF_ENABLED": False, "FLEET_POLL_S": 0.05, "FLEET_HEARTBEAT_S": 1.0,
                 "FLEET_STREAM_MAX_S": 30.0}


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def archive(world, settings, session_factory, samples):
    """The test world plus every bundled real tlog (and the cuav SITL photos) imported."""
    results = import_paths(session_factory, settings.data_dir, [samples / "telemetry"])
    assert not [r for r in results if r["error"]]
    return world


def _publish(session_factory, lat: float, lon: float, *, heading_deg: float = 90.0) -> None:
    """Write the live vehicle's ``vehicle_status`` row as the daemon does (GENERATED values)."""
    with session_factory.begin() as s:
        vehicle = s.scalars(sa.select(Vehicle).where(Vehicle.key == KEY)).one_or_none()
        if vehicle is None:
            vehicle = Vehicle(key=KEY, name="dock 1 copter", system_id=1)
            s.add(vehicle)
            s.flush()
        now = utcnow()
        values = dict(link=LINK, system_id=1, updated_utc=now, last_message_utc=now, link_ok=True, armed=True,
                      mode="AUTO", lat_deg=lat, lon_deg=lon, alt_rel_m=40.0, heading_deg=heading_deg,
                      groundspeed_m_s=8.0, battery_remaining_pct=76.0, alarms=[],
                      snapshot={"gps_fix_type": 3, "satellites_visible": 14, "mission_seq": 3, "mission_total": 12,
                                "packet_loss_pct": 0.4, "battery_voltage_v": 15.2, "last_heartbeat_s": 1234.5})
        row = s.get(VehicleStatus, vehicle.id)
        if row is None:
            s.add(VehicleStatus(vehicle_id=vehicle.id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)


def _withdraw(session_factory) -> None:
    with session_factory.begin() as s:
        s.execute(sa.delete(VehicleStatus))


# ------------------------------------------------------------------ statistics
def _takeoff(session, flight: Flight) -> tuple[float, float]:
    if flight.home_lat_deg is not None:
        return flight.home_lon_deg, flight.home_lat_deg
    lat, lon = session.execute(sa.select(TrackPoint.lat_deg, TrackPoint.lon_deg)
                               .where(TrackPoint.flight_id == flight.id).order_by(TrackPoint.t_utc).limit(1)).one()
    return lon, lat


def test_squad_statistics_follow_the_case_rule_and_sum_the_flights(archive, session):
    flights = list(session.scalars(sa.select(Flight)))
    assert len(flights) == 5   # the world's generated flight and the 4 real ones
    expected: dict = {}
    for f in flights:
        squad = squad_for_point(session, *_takeoff(session, f))
        month = f.start_utc.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
        e = expected.setdefault((month, squad.name if squad else NO_SQUAD), [0, 0.0, 0.0, 0])
        e[0] += 1
        e[1] += f.duration_s
        e[2] += f.distance_m
        e[3] += f.photo_count
    rows = fleet_statistics(session, by="squad", period="month")
    assert {(r.period, r.group): [r.sorties, pytest.approx(r.flight_s), pytest.approx(r.distance_m), r.photos]
            for r in rows} == expected
    names = {r.group for r in rows}
    assert any("当湖" in n for n in names) and "Canberra test-range squad" in names and NO_SQUAD not in names
    canberra = [r for r in rows if r.group == "Canberra test-range squad"]
    assert [(r.period, r.sorties) for r in canberra] == [("2016-09", 1), ("2018-08", 2)]


def test_squads_of_points_border_goes_to_the_smaller_jurisdiction(world, session):
    squads = {s.id: s for s in session.scalars(sa.select(Squad))}
    danghu, zhongdai = squads[world.squads["danghu"]], squads[world.squads["zhongdai"]]
    border = (30.70, 121.005)        # the shared edge of the two hand-drawn Pinghu jurisdictions
    got = squads_of_points(session, [border, (30.7005, 121.0185), (30.80, 121.20)])
    assert got[0] is squad_for_point(session, border[1], border[0])
    assert got[0] in (danghu, zhongdai)
    assert got[1] is danghu and got[2] is None


def test_stats_page_table_chart_and_totals(client, auth, archive):
    auth.login("supervisor")
    page = _text(client.get("/fleet/stats?by=squad&period=month"))
    assert len(re.findall(r'<tr class="stats-row">', page)) == 4
    assert 'id="total-sorties">5<' in page
    chart = json.loads(re.search(r'<script type="application/json" id="stats-data">(.*?)</script>', page, re.S)[1])
    assert chart["labels"][0] == "2016-09" and chart["labels"][-1] == "2026-11"
    assert len(chart["labels"]) == 12 * 10 + 3   # every month from 2016-09 to 2026-11, gaps included
    assert sum(sum(d["sorties"]) for d in chart["datasets"]) == 5
    assert "Asia/Shanghai" in page and 'href="/fleet/stats.csv?by=squad&amp;period=month"' in page
    day_page = _text(client.get("/fleet/stats?by=vehicle&period=day&from=2026-11-22&to=2026-11-22"))
    assert re.findall(r'<td class="mono">([\d-]+)</td>', day_page) == ["2026-11-22"]
    assert "No flights in this period." in _text(client.get("/fleet/stats?from=2030-01-01"))


def test_stats_csv_download(client, auth, archive, session):
    auth.login("operator")
    response = client.get("/fleet/stats.csv?by=vehicle&period=day&from=2018-08-01&to=2018-08-31")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="flight-stats_vehicle_day_2018-08-01_2018-08-31.csv"'
    records = list(csv.DictReader(io.StringIO(_text(response))))
    assert tuple(records[0]) == CSV_COLUMNS
    rows = fleet_statistics(session, by="vehicle", period="day", first_day=dt.date(2018, 8, 1),
                            last_day=dt.date(2018, 8, 31))
    assert [(r["period"], r["group"], int(r["sorties"]), r["distance_km"], r["photo_files"]) for r in records] == [
        (r.period, r.group, r.sorties, f"{r.distance_km:.3f}", str(r.photo_files)) for r in rows]
    assert [(r["period"], r["photo_files"]) for r in records] == [("2018-08-05", "18"), ("2018-08-08", "0")]


@pytest.mark.parametrize("query, message", [
    ("by=dock", "by must be one of vehicle, squad, fleet"),
    ("period=week", "period must be one of month, day"),
    ("from=2026-13-01", "from must be a date YYYY-MM-DD"),
    ("from=2026-05-02&to=2026-05-01", "to (2026-05-01) is before from (2026-05-02)"),
])
def test_stats_bad_query_is_400_naming_the_parameter(client, auth, world, query, message):
    auth.login("admin")
    for path in ("/fleet/stats", "/fleet/stats.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400 and message in _text(response)


def test_fleet_pages_are_for_operators_supervisors_and_admins(client, auth, world):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/api/fleet/stream").status_code == 401   # the API answers in JSON, no redirect
    auth.login("officer")
    for path in PAGES + ("/api/fleet/stream",):
        assert client.get(path).status_code == 403
    for role in ("operator", "supervisor", "admin"):
        auth.logout()
        auth.login(role)
        for path in PAGES:
            assert client.get(path).status_code == 200, (role, path)
        assert 'href="/fleet"' in _text(client.get("/"))
    auth.logout()
    auth.login("officer")
    assert 'href="/fleet"' not in _text(client.get("/"))


# ------------------------------------------------------------------ live feed, test client
def _events(chunks) -> list[dict]:
    """Server-Sent Events parsed from text chunks: dicts with event, id, data (JSON) or comment."""
    out = []
    for block in "".join(chunks).split("\n\n"):
        if not block.strip():
            continue
        ev: dict = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            if line.startswith(":"):
                ev["comment"] = line[1:].strip()
            elif name == "data":
                ev["data"] = json.loads(value)
            else:
                ev[name] = value
        out.append(ev)
    return out


class Stream:
    """An open event stream read chunk by chunk (the stream ends by itself after FLEET_STREAM_MAX_S)."""

    def __init__(self, response):
        assert response.status_code == 200 and response.mimetype == "text/event-stream"
        self.response = response
        self._chunks = iter(response.response)

    def until(self, predicate) -> list[dict]:
        seen: list[dict] = []
        for chunk in self._chunks:
            seen += _events([chunk.decode() if isinstance(chunk, bytes) else chunk])
            if any(predicate(e) for e in seen):
                return seen
        raise AssertionError(f"the stream ended without the event; saw {seen}")

    def close(self):
        self.response.close()


@pytest.fixture
def stream_app(settings, engine, world):
    app = create_app(settings, config=dict(STREAM_CONFIG, FLEET_MAX_STREAMS=1))
    yield app
    app.extensions["drone_patrol"].engine.dispose()


def _login(app, role="operator"):
    client = app.test_client()
    client.post("/login", data={"username": role, "password": f"{role}-demo"})
    return client


def test_stream_pushes_vehicle_changes_and_alarms(stream_app, session_factory, world):
    _publish(session_factory, 30.7005, 121.0185)
    client = _login(stream_app)
    stream = Stream(client.get("/api/fleet/stream", buffered=False))
    try:
        first = stream.until(lambda e: e.get("event") == "ready")
        assert first[0] == {"retry": "2000"}
        [vehicle] = [e["data"] for e in first if e.get("event") == "vehicle"]
        assert vehicle["key"] == KEY and (vehicle["lat_deg"], vehicle["lon_deg"]) == (30.7005, 121.0185)
        assert vehicle["mode"] == "AUTO" and vehicle["armed"] is True and vehicle["updated_utc"].endswith("+00:00")
        assert vehicle["name"] == "dock 1 copter" and vehicle["mission_total"] == 12 and vehicle["packet_loss_pct"] == 0.4
        assert "last_heartbeat_s" not in vehicle, "the daemon's monotonic times mean nothing to a browser"
        assert [e["data"] for e in first if e.get("event") == "ready"] == [{"vehicles": 1}]

        _publish(session_factory, 30.7010, 121.0195, heading_deg=45.0)
        moved = stream.until(lambda e: e.get("event") == "vehicle")
        [update] = [e["data"] for e in moved if e.get("event") == "vehicle"]
        assert (update["lat_deg"], update["lon_deg"], update["heading_deg"]) == (30.7010, 121.0195, 45.0)

        with session_factory.begin() as s:
            vehicle_id = s.scalars(sa.select(Vehicle.id).where(Vehicle.key == "test#1")).one()
            alarm = FlightEvent(vehicle_id=vehicle_id, t_utc=dt.datetime(2026, 5, 1, 8, 1, tzinfo=dt.timezone.utc),
                                kind="alarm", severity=2, message="battery critical 14%",
                                data={"code": "battery_critical", "transition": "raised"})
            s.add(alarm)
            s.flush()
            alarm_id = alarm.id
        got = stream.until(lambda e: e.get("event") == "alarm")
        [pushed] = [e for e in got if e.get("event") == "alarm"]
        assert pushed["id"] == str(alarm_id)
        assert pushed["data"]["message"] == "battery critical 14%" and pushed["data"]["severity"] == 2
        assert pushed["data"]["vehicle_name"] == "test copter" and pushed["data"]["kind"] == "alarm"
        assert pushed["data"]["data"] == {"code": "battery_critical", "transition": "raised"}

        _withdraw(session_factory)
        gone = stream.until(lambda e: e.get("event") == "removed")
        assert [e["data"] for e in gone if e.get("event") == "removed"] == [{"key": KEY}]
    finally:
        stream.close()

    # a reconnecting browser sends Last-Event-ID: the alarm is not sent again, a newer one is
    resumed = Stream(client.get("/api/fleet/stream", buffered=False, headers={"Last-Event-ID": str(alarm_id)}))
    try:
        opening = resumed.until(lambda e: e.get("event") == "ready")
        assert not [e for e in opening if e.get("event") in ("alarm", "vehicle")]
        with session_factory.begin() as s:
            s.add(FlightEvent(vehicle_id=vehicle_id, t_utc=dt.datetime(2026, 5, 1, 8, 2, tzinfo=dt.timezone.utc),
                              kind="alarm", severity=4, message="link lost"))
            s.add(FlightEvent(vehicle_id=vehicle_id, t_utc=dt.datetime(2026, 5, 1, 8, 2, tzinfo=dt.timezone.utc),
                              kind="mode", message="RTL"))
            s.add(FlightEvent(vehicle_id=vehicle_id, t_utc=dt.datetime(2026, 5, 1, 8, 3, tzinfo=dt.timezone.utc),
                              kind="alarm_cleared", severity=6, message="link back"))
        later = resumed.until(lambda e: e.get("event") == "alarm" and e["data"]["kind"] == "alarm_cleared")
        assert [e["data"]["message"] for e in later if e.get("event") == "alarm"] == ["link lost", "link back"]
    finally:
        resumed.close()

    # a fresh page gets the most recent alarms at once
    fresh = Stream(client.get("/api/fleet/stream", buffered=False))
    try:
        opening = fresh.until(lambda e: e.get("event") == "ready")
        assert [e["data"]["message"] for e in opening if e.get("event") == "alarm"] == [
            "battery critical 14%", "link lost", "link back"]
    finally:
        fresh.close()


def test_stream_keepalive_and_slot_limit(stream_app, world):
    client, other = _login(stream_app), _login(stream_app, "supervisor")
    stream = Stream(client.get("/api/fleet/stream", buffered=False))
    try:
        stream.until(lambda e: e.get("event") == "ready")
        assert stream.until(lambda e: "comment" in e)[-1] == {"comment": "keepalive"}
        refused = other.get("/api/fleet/stream")
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        assert other.get("/fleet/stats").status_code == 200, "pages are served while the stream is open"
    finally:
        stream.close()
    again = Stream(other.get("/api/fleet/stream", buffered=False))
    again.close()
    assert other.get("/api/fleet/stream?crs=mars").status_code == 400


def test_stream_in_gcj02_adds_map_positions(stream_app, session_factory, world):
    _publish(session_factory, 30.7005, 121.0185)
    stream = Stream(_login(stream_app).get("/api/fleet/stream?crs=gcj02", buffered=False))
    try:
        [v] = [e["data"] for e in stream.until(lambda e: e.get("event") == "ready") if e.get("event") == "vehicle"]
    finally:
        stream.close()
    assert v["lat_deg"] == 30.7005 and v["map_lat_deg"] != v["lat_deg"]
    assert abs(v["map_lat_deg"] - v["lat_deg"]) < 0.01 and abs(v["map_lon_deg"] - v["lon_deg"]) < 0.01


# ------------------------------------------------------------------ live feed under waitress
SERVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from waitress import create_server
    from patrol.settings import Settings
    from web import create_app

    app = create_app(Settings.for_directory(Path(sys.argv[1])), config={
        "WTF_CSRF_ENABLED": False, "FLEET_MAX_STREAMS": 1, "FLEET_POLL_S": 0.1,
        "FLEET_HEARTBEAT_S": 0.2, "FLEET_STREAM_MAX_S": float(sys.argv[2])})
    server = create_server(app, host="127.0.0.1", port=0, threads=3)
    print(server.effective_port, flush=True)
    server.run()
""")


@pytest.fixture
def waitress_console(settings, engine, world):
    """``start(stream_max_s)``: the console under waitress (3 threads, 1 stream at most) in its own
    process on a free loopback port; returns the port."""
    procs = []

    def start(stream_max_s: float) -> int:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(settings.data_dir), str(stream_max_s)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        procs.append(proc)
        return int(proc.stdout.readline())

    yield start
    for proc in procs:
        proc.terminate()
        proc.communicate(timeout=20)


class Http:
    """A logged-in HTTP/1.1 client of the console on loopback (one connection per request)."""

    def __init__(self, port: int, role: str = "operator"):
        self.port = port
        self.cookie = ""
        self.opened: list[http.client.HTTPConnection] = []
        r = self.request("POST", "/login", f"username={role}&password={role}-demo",
                         {"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 302, r.status
        self.cookie = r.getheader("Set-Cookie").split(";")[0]
        r.read()

    def request(self, method, path, body=None, headers=None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        self.opened.append(conn)
        conn.request(method, path, body=body, headers={**(headers or {}), "Cookie": self.cookie})
        return conn.getresponse()

    def get(self, path) -> int:
        """Status of a GET (an event stream is read to its end)."""
        r = self.request("GET", path)
        r.read()
        self.opened.pop().close()
        return r.status

    def close(self) -> None:
        for conn in self.opened:
            conn.close()
        self.opened.clear()


def _read_event(response, name: str) -> dict:
    """Read lines of an open event stream until an event called ``name``; its data."""
    event = None
    while True:
        line = response.readline()
        if not line:
            raise AssertionError(f"the stream ended before a {name!r} event")
        line = line.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == name:
            return json.loads(line[6:])


def test_stream_under_waitress_serves_pages_limits_streams_and_ends(waitress_console, session_factory):
    _publish(session_factory, 30.7005, 121.0185)
    port = waitress_console(3.0)
    op, sup = Http(port), Http(port, "supervisor")
    try:
        stream = op.request("GET", "/api/fleet/stream")
        assert stream.status == 200 and stream.getheader("Content-Type").startswith("text/event-stream")
        assert _read_event(stream, "vehicle")["lat_deg"] == 30.7005
        _read_event(stream, "ready")
        assert sup.get("/fleet/stats") == 200, "other requests are served while a stream is open"
        assert sup.get("/api/fleet/stream") == 503, "streams beyond FLEET_MAX_STREAMS are refused"
        _publish(session_factory, 30.7012, 121.0190)
        assert _read_event(stream, "vehicle")["lat_deg"] == 30.7012
        rest = stream.read()               # the stream ends by itself after FLEET_STREAM_MAX_S
        assert b": keepalive" in rest
        op.close()
        deadline = time.monotonic() + 20   # its slot is released when waitress closes the response
        while (status := sup.get("/api/fleet/stream")) == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200
    finally:
        op.close()
        sup.close()


def test_stream_under_waitress_frees_the_slot_of_a_vanished_client(waitress_console):
    port = waitress_console(600.0)         # longer than this test may wait: only the disconnect frees it
    op, sup = Http(port), Http(port, "supervisor")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as dropped:
            dropped.sendall(f"GET /api/fleet/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {op.cookie}\r\n\r\n"
                            .encode())
            received = b""
            while b"event: ready" not in received:
                received += dropped.recv(65536)
            assert received.startswith(b"HTTP/1.1 200")
            assert sup.get("/api/fleet/stream") == 503
        # gone without a word: the next keep-alive write fails, waitress closes the response
        deadline = time.monotonic() + 20
        while (status := sup.request("GET", "/api/fleet/stream").status) == 503 and time.monotonic() < deadline:
            sup.close()
            time.sleep(0.2)
        assert status == 200
    finally:
        op.close()
        sup.close()


# ------------------------------------------------------------------ headless browser
MARKER_AT = """
    var f = window.patrolFleet, m = f && f.markers[arguments[0]];
    if (!m) { return null; }
    var p = m.getLatLng();
    return [p.lat, p.lng];
"""


@pytest.mark.browser
def test_fleet_map_marker_moves_in_chromium(live_server, driver, session_factory, world, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    _publish(session_factory, 30.7005, 121.0185)
    wait = WebDriverWait(driver, 20)
    driver.get(f"{live_server}/fleet")
    wait.until(ec.presence_of_element_located((By.NAME, "username")))
    driver.find_element(By.NAME, "username").send_keys("operator")
    driver.find_element(By.NAME, "password").send_keys("operator-demo")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    wait.until(lambda d: d.execute_script(MARKER_AT, KEY) is not None)
    assert driver.execute_script(MARKER_AT, KEY) == [30.7005, 121.0185]
    row = driver.find_element(By.CSS_SELECTOR, "tr.vehicle-row")
    assert "dock 1 copter" in row.text and "AUTO" in row.text and "3/12" in row.text
    assert driver.find_elements(By.CSS_SELECTOR, ".leaflet-marker-pane .vehicle-icon.armed")

    _publish(session_factory, 30.7010, 121.0195, heading_deg=180.0)
    wait.until(lambda d: d.execute_script(MARKER_AT, KEY) == [30.7010, 121.0195])
    icon = driver.find_element(By.CSS_SELECTOR, ".leaflet-marker-pane .vehicle-icon svg")
    assert "rotate(180deg)" in icon.get_attribute("style")
    assert driver.execute_script("return window.patrolFleet.errors") == []
    driver.save_screenshot(str(tmp_path / "fleet.png"))
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []

    driver.get(f"{live_server}/fleet/stats?by=squad")
    wait.until(lambda d: d.find_element(By.ID, "stats-chart").get_attribute("data-ready") == "true")
    assert driver.execute_script("return window.patrolStatsChart.data.labels") == ["2026-05"]
    driver.save_screenshot(str(tmp_path / "stats.png"))
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


# ------------------------------------------------------------------ patrol stats
def _patrol(settings, *args, **env_extra) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATROL_DATA_DIR": str(settings.data_dir), **env_extra}
    env.pop("PATROL_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "patrol.cli", "stats", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_patrol_stats_command(archive, settings, session, tmp_path):
    out = tmp_path / "squads.csv"
    proc = _patrol(settings, "--by", "squad", "--period", "month", "--csv", str(out))
    assert proc.returncode == 0, proc.stderr
    title, *table, saved = proc.stdout.splitlines()
    assert title == "flights by squad and month (Asia/Shanghai local time)"
    assert table[0].split()[:3] == ["period", "squad", "sorties"] and len(table) == 2 + 4 + 2
    assert table[-1].split() == ["total", "all", "5", "0.22", "8.1", "24", "18", "59", "(3)"]
    assert saved == f"CSV: {out} (4 rows)"
    rows = fleet_statistics(session, by="squad", period="month")
    records = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["period"], r["group"], int(r["sorties"]), r["flight_hours"]) for r in records] == [
        (r.period, r.group, r.sorties, f"{r.flight_hours:.3f}") for r in rows]

    utc = _patrol(settings, "--by", "fleet", "--period", "day", "--from", "2026-11-21", "--to", "2026-11-21",
                  "--csv", "-", PATROL_TIMEZONE="UTC")
    assert utc.returncode == 0, utc.stderr
    [record] = list(csv.DictReader(io.StringIO(utc.stdout)))
    assert (record["period"], record["timezone"], record["sorties"], record["photos"]) == ("2026-11-21", "UTC", "1", "23")

    backwards = _patrol(settings, "--from", "2026-11-22", "--to", "2026-11-01")
    assert backwards.returncode == 2 and "the last day 2026-11-01 is before the first day 2026-11-22" in backwards.stderr
    unknown = _patrol(settings, "--timezone", "Asia/Pinghu")
    assert unknown.returncode == 2 and "unknown time zone 'Asia/Pinghu'" in unknown.stderr
    bad_env = _patrol(settings, PATROL_TIMEZONE="Mars/Olympus")
    assert bad_env.returncode != 0 and "PATROL_TIMEZONE='Mars/Olympus' is not a known IANA time zone" in bad_env.stderr
