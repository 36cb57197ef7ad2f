"""Console fixtures: the app on the migrated test database, a logged-in client, a small
world to show, and the console served to headless Chromium (``live_server``, ``driver``).

The world: the demo squads (``web/data/demo_squads.geojson``) and demo users, plus a second
officer in the 钟埭 squad; a patrol area, a route and a flight track in Pinghu (generated
geometry); one real photo (Brighton Beach DJI_0018, bundled sample) at its EXIF position with
an evidence crop of it; and findings (generated) inside 当湖, inside 钟埭, in Duluth at the
photo, and outside every jurisdiction.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from werkzeug.serving import make_server

from flight_logs.models import Flight, FlightEvent, Photo, TrackPoint, Vehicle
from missions.models import PatrolArea, Route
from patrol.db import make_engine, make_session_factory, upgrade
from patrol.settings import Settings
from vision.models import Detection, Finding
from web import create_app, i18n
from web.models import Squad, User
from web.seed import create_user, load_squads, seed_demo_users

REPO = Path(__file__).resolve().parents[2]
DEMO_SQUADS = REPO / "web" / "data" / "demo_squads.geojson"
PHOTO_DIR = REPO / "flight_logs" / "samples" / "photos" / "brighton_beach_dji_fc300s"
T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.timezone.utc)

# Points (lon, lat) chosen inside / outside the demo jurisdictions.
IN_DANGHU = (121.0185, 30.7005)
IN_ZHONGDAI = (120.99, 30.70)
OUTSIDE = (121.20, 30.80)

PASSWORDS = {"admin": "admin-demo", "operator": "operator-demo", "supervisor": "supervisor-demo",
             "officer": "officer-demo", "officer2": "officer2-test"}


@dataclass(frozen=True)
class World:
    """Ids of what the ``world`` fixture put in the database."""

    squads: dict[str, int]  # "danghu", "zhongdai", "duluth" -> squad id
    users: dict[str, int]
    area_id: int
    route_id: int
    flight_id: int
    photo_id: int
    findings: dict[str, int]  # "danghu", "zhongdai", "duluth", "outside" -> finding id
    evidence_path: str


@pytest.fixture(autouse=True)
def english_by_default(monkeypatch):
    """Apps built here speak English unless asked (the assertions read the English msgids);
    the console's own default is Chinese (tests/web/test_i18n.py)."""
    monkeypatch.setattr(i18n, "DEFAULT_LOCALE", "en")


@pytest.fixture
def app(settings, engine):
    """The console on the migrated test database; CSRF off unless a test turns it on."""
    app = create_app(settings, config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    yield app
    app.extensions["drone_patrol"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    """Log the test client in and out."""

    def __init__(self, client):
        self._client = client

    def login(self, username: str, password: str | None = None):
        return self._client.post("/login", data={
            "username": username, "password": password or PASSWORDS[username]})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


def _exif_position(name: str) -> tuple[float, float, float]:
    for line in (PHOTO_DIR / "EXIF_VERIFY.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["file"] == name:
            return rec["lon"], rec["lat"], float(rec["xmp"]["drone-dji:RelativeAltitude"])
    raise LookupError(name)


def _square(lon: float, lat: float, half_deg: float) -> dict:
    return {"type": "Polygon", "coordinates": [[
        [lon - half_deg, lat - half_deg], [lon + half_deg, lat - half_deg],
        [lon + half_deg, lat + half_deg], [lon - half_deg, lat + half_deg],
        [lon - half_deg, lat - half_deg]]]}


@pytest.fixture(scope="session")
def world_template(tmp_path_factory) -> tuple[Path, World]:
    """The world built once (password hashing is slow on purpose), copied into each test."""
    root = tmp_path_factory.mktemp("web-world") / "var"
    settings = Settings.for_directory(root)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        world = _build_world(make_session_factory(engine), settings)
    finally:
        engine.dispose()
    return root, world


@pytest.fixture
def settings(tmp_path, request) -> Settings:
    """A fresh data root; a copy of the world's when the test asks for ``world``."""
    root = tmp_path / "var"
    if "world" in request.fixturenames:
        template_root, _ = request.getfixturevalue("world_template")
        shutil.copytree(template_root, root)
    return Settings.for_directory(root)


@pytest.fixture
def world(world_template, settings) -> World:
    """The seeded world (module docstring) in this test's database; its ids."""
    return world_template[1]


def _build_world(session_factory, settings: Settings) -> World:
    photo_name = "DJI_0018.JPG"
    lon, lat, alt_rel = _exif_position(photo_name)
    stored_photo = Path("raw/photo/test") / photo_name.lower()
    (settings.data_dir / stored_photo).parent.mkdir(parents=True)
    shutil.copyfile(PHOTO_DIR / photo_name, settings.data_dir / stored_photo)
    evidence = Path("evidence") / "finding-duluth.png"
    (settings.data_dir / evidence).parent.mkdir(parents=True)
    with Image.open(PHOTO_DIR / photo_name) as img:
        img.draft("RGB", (1000, 563))
        w, h = img.size
        img.crop((w // 2 - 160, h // 2 - 120, w // 2 + 160, h // 2 + 120)).save(
            settings.data_dir / evidence)

    with session_factory.begin() as s:
        loaded = load_squads(s, DEMO_SQUADS)
        squads = {key: next(sq.id for sq in loaded if match in sq.name)
                  for key, match in (("danghu", "当湖"), ("zhongdai", "钟埭"), ("duluth", "Duluth"))}
        seed_demo_users(s)
        create_user(s, "officer2", PASSWORDS["officer2"], "officer",
                    squad=s.get(Squad, squads["zhongdai"]), display_name="Test officer 钟埭")
        users = dict(s.execute(sa.select(User.username, User.id)).all())

        hole = _square(121.0185, 30.7005, 0.0005)["coordinates"][0]
        area = PatrolArea(name="test old town (generated)", site="Pinghu", kind="area",
                          geometry={"type": "Polygon", "coordinates": [
                              _square(121.0185, 30.7005, 0.003)["coordinates"][0], hole]},
                          properties={"source": "generated"})
        s.add(area)
        s.flush()
        path = [[121.0160, 30.6980], [121.0210, 30.6980], [121.0210, 30.6990],
                [121.0160, 30.6990], [121.0160, 30.7000], [121.0210, 30.7000]]
        route = Route(name="test survey (generated)", pattern="survey", area_id=area.id,
                      path={"type": "LineString", "coordinates": path},
                      stats={"path_length_m": 1900.0, "photo_count": 12, "gsd_cm_px": 1.1})
        vehicle = Vehicle(key="test#1", name="test copter", system_id=1)
        s.add_all([route, vehicle])
        s.flush()
        flight = Flight(vehicle_id=vehicle.id, route_id=route.id, start_utc=T0,
                        end_utc=T0 + dt.timedelta(seconds=164), duration_s=164.0,
                        distance_m=1950.0, max_alt_rel_m=40.2, photo_count=1)
        s.add(flight)
        s.flush()
        for i, (plon, plat) in enumerate(path):
            s.add(TrackPoint(flight_id=flight.id, t_utc=T0 + dt.timedelta(seconds=20 * i),
                             lat_deg=plat, lon_deg=plon, alt_rel_m=40.0))
        s.add(FlightEvent(flight_id=flight.id, vehicle_id=vehicle.id, t_utc=T0, kind="armed",
                          message="Arming motors"))
        photo = Photo(sha256="0" * 64, stored_path=stored_photo.as_posix(),
                      original_name=photo_name, photo_set="brighton_beach_dji_fc300s",
                      taken_utc=T0, lat_deg=lat, lon_deg=lon, alt_rel_m=alt_rel,
                      position_source="exif", footprint=_square(lon, lat, 0.0003))
        s.add(photo)
        s.flush()
        findings = {}
        for key, (flon, flat), category, score in (
                ("danghu", IN_DANGHU, "exposed_garbage", 0.91),
                ("zhongdai", IN_ZHONGDAI, "construction_waste", 0.74),
                ("duluth", (lon, lat), "exposed_garbage", 0.66),
                ("outside", OUTSIDE, "open_burning", 0.55)):
            finding = Finding(category=category, lat_deg=flat, lon_deg=flon, score=score,
                              first_seen_utc=T0, last_seen_utc=T0 + dt.timedelta(minutes=30),
                              seen_count=2,
                              evidence_path=evidence.as_posix() if key == "duluth" else None)
            s.add(finding)
            s.flush()
            findings[key] = finding.id
        s.add(Detection(photo_id=photo.id, finding_id=findings["duluth"], detector="test",
                        category="exposed_garbage", score=0.66, bbox_px=[1840, 1005, 320, 240],
                        lat_deg=lat, lon_deg=lon))
        return World(squads=squads, users=users, area_id=area.id, route_id=route.id,
                     flight_id=flight.id, photo_id=photo.id, findings=findings,
                     evidence_path=evidence.as_posix())


# ------------------------------------------------------------------ headless browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def live_server(settings, engine, world):
    """The console served on 127.0.0.1:<free port> in a thread; yields its base URL."""
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions["drone_patrol"].engine.dispose()


@pytest.fixture
def driver(tmp_path, monkeypatch):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"headless browser test needs {CHROMIUM} and {CHROMEDRIVER} "
                    "(Debian packages chromium, chromium-driver; `make browser`)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1400,900",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})  # English msgids
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()
