"""The main job, ``patrol demo``: one patrol loop on the bundled real data.

Part of the command line's composition root (with :mod:`patrol.cli`): it wires the domain
packages together and owns the sessions. Steps:

1. **Plan** - load the demo patrol areas, plan a survey, a corridor and an orbit, write each
   as a QGroundControl ``.plan`` and ``QGC WPL 110`` file under the data root, store them.
2. **Fly** - start the telemetry daemon on a UDP port and the simulated vehicle (or connect
   to ``--connect URL``), upload the survey, fly it in AUTO, record tlog and flight.
3. **Import** - the bundled real tlogs and photo sets (EXIF/XMP, or geotagged from a track).
4. **Detect** - georeference every photo, run the detectors, merge detections into findings.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path


from patrol.db import make_engine, make_session_factory, upgrade
from patrol.settings import Settings

__all__ = ["DemoReport", "run_demo", "DEMO_HOME"]

DEMO_HOME = (30.7005, 121.0185, 5.0)  # lat, lon, alt AMSL m: the real SITL recording's home
SURVEY_AREA = "Pinghu old town block"
CORRIDOR = "Pinghu river corridor"
HOTSPOT = "Pinghu construction-site hotspot"
CAMERA = "dji-phantom4pro"
SURVEY_ALT_REL_M = 80.0
CORRIDOR_ALT_REL_M = 80.0
ORBIT_ALT_REL_M = 60.0
SIM_VEHICLE_NAME = "simulated ArduCopter (demo)"
# Bundled photo sets: (folder, photo set name, UTC offset of the camera clock where EXIF has
# local time only). The DJI set was shot in Duluth in June (CDT, UTC-5; the shadows agree).
PHOTO_SETS = (
    ("photos/brighton_beach_dji_fc300s", "brighton_beach_dji_fc300s", -5.0),
    ("photos/garfield_park_sequoia_rgb", "garfield_park_sequoia_rgb", None),
    ("photos/cuav_exif_samples", "cuav_exif_samples", None),
    ("telemetry/cuav_sitl_plane_with_images/images", "cuav_sitl_plane_images", None),
)
# What the cuav photos' EXIF does not say. The SITL images are 1640x1232 frames of the
# Raspberry Pi camera v2 (Sony IMX219) that tridge/cuav calibrated in
# cuav/data/PiCamV2/params_half.json; the two EXIF samples (820x616, a quarter frame) are
# assumed to come from the same camera. cuav's tests state their altitudes are above ground.
CAMERAS_BY_SET = {"cuav_sitl_plane_images": "IMX219", "cuav_exif_samples": "IMX219"}
GROUND_ELEVATION_BY_SET = {"cuav_exif_samples": 0.0}


def _data_file(package: str, *parts: str) -> Path:
    return Path(str(resources.files(package).joinpath(*parts)))


@dataclass
class DemoReport:
    """What the demo did, with the time each step took (seconds, wall clock)."""

    routes: list[dict] = field(default_factory=list)
    flight: dict | None = None
    imports: list[dict] = field(default_factory=list)
    analysis: dict = field(default_factory=dict)
    cases: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    step_s: dict[str, float] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["logins"] = [{"username": u, "password": p, "role": r} for u, p, r in self.logins]
        return d

    def summary(self) -> str:
        lines = ["", "Summary"]
        for r in self.routes:
            s = r["stats"]
            lines.append(f"  route {r['name']!r} ({r['pattern']}): {s['path_length_m']:.0f} m, "
                         f"{s.get('photo_count', 0)} photos, ~{s['est_flight_time_s'] / 60:.1f} min"
                         f", files {r['plan_path']} / {r['waypoints_path']}")
        if self.flight:
            f = self.flight
            lines.append(f"  flown: flight #{f['id']} {f['duration_s']:.0f} s, {f['distance_m']:.0f} m, "
                         f"max {f['max_alt_rel_m']:.0f} m, {f['photo_count']} camera positions, "
                         f"tlog {f['tlog']}")
        for i in self.imports:
            if i["error"]:
                lines.append(f"  import {i['path']}: ERROR {i['error']}")
            elif i["kind"] == "photos":
                lines.append(f"  import {i['path']}: {i['photos']} photos, {i['located']} located")
            else:
                lines.append(f"  import {i['path']}: {i['messages']} messages, {i['bad_bytes']} bad bytes,"
                             f" {len(i['flights'])} flight(s)")
        a = self.analysis
        if a:
            lines.append(f"  detect: {a['photos_georeferenced']} photos georeferenced, "
                         f"{a['photos_compared']} compared with an earlier pass, {a['detections']} "
                         f"detections, {a['findings_new']} new findings, {a['photos_per_s']:.1f} photos/s")
            if a["problems"]:
                lines.append(f"  detect: {len(a['problems'])} photo(s) with a problem, first: "
                             f"{a['problems'][0]['name']}: {a['problems'][0]['message']}")
        c = self.cases
        if c:
            f = c["dashboard"]["cases"]
            pct = lambda x: "-" if x is None else f"{100 * x:.0f}%"
            lines.append(f"  cases (scripted review): {f['filed']} handed over, {f['in_progress']} in progress, "
                         f"{f['closed']} closed, {f['overdue_open']} overdue; closure rate {pct(f['closure_rate'])}, "
                         f"timely-closure rate {pct(f['timely_closure_rate'])}, rework rate {pct(f['rework_rate'])}; "
                         f"{len(c['review']['rejected'])} findings rejected; shopfront rules: {c['shopfront']}")
        t = self.totals
        lines.append(f"  archive: {t.get('flights', 0)} flights, {t.get('photos', 0)} photos, "
                     f"{t.get('findings', 0)} findings awaiting review, {t.get('squads', 0)} squads")
        lines.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.step_s.items()))
        return "\n".join(lines)


class _Progress:
    """One line per step, timed."""

    def __init__(self, report: DemoReport, quiet: bool, total: int = 4):
        self.report, self.quiet, self.total, self.n = report, quiet, total, 0

    @contextlib.contextmanager
    def step(self, name: str, what: str):
        self.n += 1
        self.say(f"[{self.n}/{self.total}] {what}")
        t0 = time.perf_counter()
        yield
        self.report.step_s[name] = time.perf_counter() - t0
        self.say(f"      done in {self.report.step_s[name]:.1f} s")

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)


def run_demo(settings: Settings, *, connect: str | None = None, speedup: float = 25.0,
             quiet: bool = False) -> DemoReport:
    """Run steps 1-4 of the demo on the bundled data into ``settings``' data root.

    Re-running is safe: areas, squads and users are upserted, files are archived by content
    hash, and photos already analysed are not analysed again; each run flies one more sortie.

    Parameters
    ----------
    settings : Settings
        Data root and database.
    connect : str, optional
        MAVLink connection string of a real SITL or aircraft; default: start the simulated
        vehicle and have the daemon listen for it on a free loopback UDP port.
    speedup : float
        Simulation rate of the simulated vehicle (ignored with ``connect``).
    quiet : bool
        No progress lines.
    """
    report = DemoReport()
    progress = _Progress(report, quiet, total=5)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    Session = make_session_factory(engine)
    try:
        report.logins = _seed_people(Session)
        with progress.step("plan", "Plan: survey, corridor and orbit routes"):
            report.routes = _plan(Session, settings.data_dir, progress)
        with progress.step("fly", "Fly: daemon + " + (connect or "simulated vehicle") + ", survey in AUTO"):
            survey = next(r for r in report.routes if r["pattern"] == "survey")
            report.flight = _fly(Session, settings.data_dir, survey["id"], connect, speedup, progress)
        with progress.step("import", "Import: bundled real tlogs and photos"):
            report.imports = _import(Session, settings.data_dir, progress)
        with progress.step("detect", "Detect: georeference photos, run detectors, merge findings"):
            report.analysis = _detect(Session, settings.data_dir, progress)
        with progress.step("cases", "Cases: scripted review of the new findings, shopfront rules, dashboard"):
            report.cases = _cases(Session, settings, progress)
        report.totals = _totals(Session)
    finally:
        engine.dispose()
    return report


def _seed_people(Session) -> list[tuple[str, str, str]]:
    from web.seed import load_squads, seed_demo_places, seed_demo_users

    with Session.begin() as session:
        load_squads(session, _data_file("web", "data", "demo_squads.geojson"))
        seed_demo_places(session)  # generated unit grids and merchants
        return seed_demo_users(session)


def _plan(Session, data_dir: Path, progress: _Progress) -> list[dict]:
    from missions import CAMERAS, load_areas, plan_corridor, plan_orbit, plan_survey, save_area, save_route

    areas = {a.name: a for a in load_areas(_data_file("missions", "data", "demo_areas.geojson"))}
    camera = CAMERAS[CAMERA]
    home = (DEMO_HOME[1], DEMO_HOME[0])
    corridor, hotspot = areas[CORRIDOR], areas[HOTSPOT]
    plans = [
        (areas[SURVEY_AREA], f"{SURVEY_AREA} survey",
         plan_survey(areas[SURVEY_AREA].geometry, camera, alt_rel_m=SURVEY_ALT_REL_M,
                     front_overlap=0.75, side_overlap=0.65, home=home)),
        (corridor, f"{CORRIDOR} scan",
         plan_corridor(corridor.geometry, float(corridor.properties["width_m"]), camera,
                       alt_rel_m=CORRIDOR_ALT_REL_M, front_overlap=0.75, side_overlap=0.65, home=home)),
        (hotspot, f"{HOTSPOT} orbit",
         plan_orbit(hotspot.geometry, float(hotspot.properties["radius_m"]),
                    alt_rel_m=ORBIT_ALT_REL_M, camera=camera, home=home)),
    ]
    out = []
    with Session.begin() as session:
        for spec in areas.values():
            save_area(session, spec)
        for spec, name, plan in plans:
            area = save_area(session, spec)
            route = save_route(session, plan, name=name, data_dir=data_dir, area=area)
            session.flush()
            out.append({"id": route.id, "name": name, "pattern": route.pattern, "stats": route.stats,
                        "plan_path": route.plan_path, "waypoints_path": route.waypoints_path})
            s = route.stats
            coverage = (f"coverage {100 * s['coverage_fraction']:.1f}%  "
                        if "coverage_fraction" in s else "")
            progress.say(f"      {route.pattern:<8} {s['path_length_m']:7.0f} m  "
                         f"{s.get('photo_count', 0):4d} photos  GSD {s['gsd_cm_px']:.2f} cm/px  "
                         f"{coverage}-> {route.plan_path}")
    return out


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fly(Session, data_dir: Path, route_id: int, connect: str | None, speedup: float,
         progress: _Progress) -> dict:
    from telemetry.routes import fly_route

    sim, options = None, {}
    if connect is None:
        options["vehicle_name"] = SIM_VEHICLE_NAME  # one vehicle across runs, whatever the port
        port = _free_udp_port()
        connect = f"udpin:127.0.0.1:{port}"
        lat, lon, alt = DEMO_HOME
        sim = subprocess.Popen(
            [sys.executable, "-m", "telemetry.sim", "--home", f"{lat},{lon},{alt}",
             "--speedup", str(speedup), "--out", f"udpout:127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return fly_route(Session, data_dir, connect, route_id, progress=_FlightLines(progress), **options)
    finally:
        if sim is not None:
            sim.terminate()
            try:
                sim.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sim.kill()


class _FlightLines:
    """Progress of a flight in a few lines: every step and warning, each 10th item reached."""

    def __init__(self, progress: _Progress):
        self.progress, self.reached = progress, 0

    def __call__(self, text: str) -> None:
        if text.startswith(("vehicle: Mission:", "vehicle: Reached command")):
            return
        if text.startswith("mission item "):
            self.reached += 1
            if self.reached % 10:
                return
            text = f"{text} ({self.reached} waypoints so far)"
        self.progress.say(f"      {text}")


def _import(Session, data_dir: Path, progress: _Progress) -> list[dict]:
    from flight_logs.importer import import_paths

    samples = _data_file("flight_logs", "samples")
    say = lambda text: progress.say(f"      {text}")
    # Logs first: the cuav SITL images have no EXIF and are geotagged from that log's track.
    results = import_paths(Session, data_dir, sorted((samples / "telemetry").glob("*/*.tlog")), progress=say)
    for folder, photo_set, utc_offset_h in PHOTO_SETS:
        results += import_paths(Session, data_dir, [samples / folder], photo_set=photo_set,
                                local_utc_offset_h=utc_offset_h, progress=say)
    for r in results:
        r["path"] = Path(r["path"]).relative_to(samples).as_posix()
    return results


def _detect(Session, data_dir: Path, progress: _Progress) -> dict:
    from vision import analyse_photos

    with Session.begin() as session:
        report = analyse_photos(session, data_dir, cameras_by_set=CAMERAS_BY_SET,
                                ground_elevation_by_set=GROUND_ELEVATION_BY_SET,
                                progress=lambda t: progress.say(f"      {t}"))
    return report.as_dict()


def _cases(Session, settings: Settings, progress: _Progress) -> dict:
    from patrol.db import utcnow
    from web.case_rules import case_rules
    from web.cases import link_recurrences
    from web.dashboard import dashboard
    from web.demo_review import play_demo_review
    from web.merchants import run_shopfront_rules

    now = utcnow()
    rules = case_rules(settings.data_dir, timezone=settings.timezone)
    with Session.begin() as session:
        reopened = link_recurrences(session, now, rules=rules)
        review = play_demo_review(session, now=now, rules=rules)
        shopfront = run_shopfront_rules(session, now)
    with Session() as session:
        figures = dashboard(session, timezone=settings.timezone, as_of=now)
    out = {"review": review.as_dict(), "reopened": [r.case_code for r in reopened],
           "shopfront": shopfront.summary(), "dashboard": {
               "cases": figures.cases.to_dict(),
               "findings": [asdict(f) for f in figures.findings],
               "flights": asdict(figures.flights)}}
    progress.say(f"      {sum(map(len, review.cases.values()))} cases, {len(review.rejected)} findings rejected"
                 f" (scripted); {shopfront.summary()}")
    return out


def _totals(Session) -> dict:
    import sqlalchemy as sa

    from flight_logs.models import Flight, Photo
    from vision.models import Finding
    from web.models import Squad

    with Session() as session:
        count = lambda model, *where: session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
        return {"flights": count(Flight), "photos": count(Photo),
                "findings": count(Finding, Finding.status == "new"), "squads": count(Squad)}
