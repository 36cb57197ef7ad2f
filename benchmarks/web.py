"""Console benchmark: every page and API/export request with 100,000 findings in the database.

**Fill** (generated data, seed 6): the demo squads, grids, merchants and users
(``web/data``), then, inside the 当湖 and 钟埭 jurisdictions (Pinghu), over the 12 months before
``--as-of``: ``--findings`` findings (detector categories weighted as a city's mix; 30 % new,
45 % confirmed, 25 % rejected) with 1-3 detections each in photos (one photo per 4 findings,
footprints and poses) of flights (one per 50 findings, 60 track points each) by 4 vehicles;
a case for every confirmed finding, in every workflow status (70 % closed, most on time; 8 %
reworked), with its history (report, file, dispatch, handle, rework, verify, close) and the
audit trail of reviews and steps; 200 re-flights. Rows go in by the thousand through
SQLAlchemy Core ``insert`` (the schema is the real one, migrated by Alembic), then ``ANALYZE``
(SQLite) or ``VACUUM ANALYZE`` (PostgreSQL: what autovacuum does after a bulk load).

**Measure**: the console app (``web.create_app``) through Flask's test client, logged in as a
supervisor (as an admin, operator or officer where the supervisor gets 403; officers also
measured on their own pages). Every GET route of the app without arguments, those with an id
(a case with a long history, a finding, a flight, a route, ...), and query variants that
stress the lists (deep pages, every status, overdue, bounding boxes). Each URL: one warm-up,
then ``--runs`` timed requests; median and max wall time in ms, the median CPU time of the
measuring thread (the app and SQLite run in it: what the request costs, whatever else the
machine is doing; PostgreSQL's own work is not in it), status, bytes. Exports are
streamed: the median is the time to the first chunk (what a browser waits before the download
starts); "full" is the whole file, read once. Target: no page slower than 200 ms.

Backends: a SQLite file (WAL, as the console runs by default) and, when a server answers at
``--pg-url`` (default ``postgresql+psycopg2://postgres@127.0.0.1:5432/test``), a throw-away
PostgreSQL database created next to it and dropped afterwards.

Run: ``make bench`` or ``.venv/bin/python benchmarks/web.py [--findings 100000] [--runs 5]
[--no-pg] [--json]``. Times are wall-clock on a shared machine: upper bounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from shapely.geometry import shape  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from flight_logs.models import Flight, Photo, TrackPoint, Vehicle  # noqa: E402
from missions.models import Route  # noqa: E402
from patrol.db import make_engine, make_session_factory, upgrade  # noqa: E402
from patrol.settings import Settings  # noqa: E402
from vision.models import Detection, Finding, PhotoGeoref  # noqa: E402
from web.models import AuditEvent, Case, CaseEvent, Grid, Squad, User  # noqa: E402
from web.models_reflight import Reflight  # noqa: E402
from web.seed import DATA_DIR, DEMO_USERS, load_squads, seed_demo_places, seed_demo_users  # noqa: E402

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TARGET_MS = 200.0
UTC = dt.timezone.utc
CHUNK = 5000
PASSWORDS = {u: p for u, p, *_ in DEMO_USERS}
ROLE_USER = {"supervisor": "supervisor", "admin": "admin", "operator": "operator",
             "officer": "officer"}
CATEGORIES = {"exposed_garbage": 0.30, "construction_waste": 0.15, "illegal_parking": 0.15,
              "street_vending": 0.10, "illegal_structure": 0.08, "construction_dust": 0.07,
              "illegal_banner": 0.07, "water_litter": 0.05, "open_burning": 0.03}
SKIP_ENDPOINTS = {"static", "auth.logout", "fleet.stream"}


# ---------------------------------------------------------------------------- fill
def _insert(session, model, rows: list[dict]) -> None:
    columns = set(model.__table__.columns.keys())
    for k in range(0, len(rows), CHUNK):
        session.execute(sa.insert(model), [{c: v for c, v in r.items() if c in columns}
                                           for r in rows[k:k + CHUNK]])


def _square(lon: float, lat: float, half: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - half], [lon + half, lat - half],
                                                [lon + half, lat + half], [lon - half, lat + half],
                                                [lon - half, lat - half]]]}


def fill(session_factory, n_findings: int, as_of: dt.datetime, data_dir: Path) -> dict:
    """Fill the database (module notes); returns the row counts and sample ids."""
    from web.taxonomy import load_taxonomy

    rng = np.random.default_rng(6)
    taxonomy = load_taxonomy(DATA_DIR / "taxonomy.yaml")
    with session_factory.begin() as s:
        load_squads(s, DATA_DIR / "demo_squads.geojson")
        seed_demo_users(s)
        seed_demo_places(s, now=as_of)
    with session_factory() as s:
        squads = list(s.scalars(sa.select(Squad).where(
            sa.or_(Squad.name.contains("当湖"), Squad.name.contains("钟埭"))).order_by(Squad.id)))
        grids = list(s.scalars(sa.select(Grid).where(Grid.squad_id.in_([q.id for q in squads]))))
        users = dict(s.execute(sa.select(User.username, User.id)).all())
        officers = {q.id: [uid for uid, sq in s.execute(
            sa.select(User.id, User.squad_id).where(User.role == "officer", User.squad_id == q.id))]
            for q in squads}
    # places: random points inside the two Pinghu jurisdictions
    polys = [shape(q.jurisdiction) for q in squads]
    union = shapely.union_all(polys)
    minx, miny, maxx, maxy = union.bounds
    pts_lon, pts_lat = [], []
    while len(pts_lon) < n_findings:
        lon = rng.uniform(minx, maxx, n_findings)
        lat = rng.uniform(miny, maxy, n_findings)
        inside = shapely.contains_xy(union, lon, lat)
        pts_lon.extend(lon[inside])
        pts_lat.extend(lat[inside])
    lon = np.array(pts_lon[:n_findings])
    lat = np.array(pts_lat[:n_findings])
    squad_of = np.full(n_findings, -1)
    for q, poly in zip(squads, polys):
        squad_of[(squad_of < 0) & shapely.contains_xy(poly, lon, lat)] = q.id
    grid_of = np.full(n_findings, -1)
    for g in grids:
        grid_of[(grid_of < 0) & shapely.contains_xy(shape(g.polygon), lon, lat)] = g.id

    start = as_of - dt.timedelta(days=365)
    # vehicles, flights, track, photos
    n_flights = max(1, n_findings // 50)
    n_photos = max(1, n_findings // 4)
    vehicles = [{"id": i + 1, "key": f"bench#{i + 1}", "name": f"dock {i + 1} copter (generated)",
                 "system_id": i + 1} for i in range(4)]
    flight_t = sorted(start + dt.timedelta(seconds=float(x))
                      for x in rng.uniform(0, 365 * 86400, n_flights))
    home = [(121.0185 + 0.01 * (i % 4), 30.7005 + 0.005 * (i % 3)) for i in range(n_flights)]
    flights, track = [], []
    for i, t in enumerate(flight_t):
        dur = float(rng.uniform(900, 1500))
        flights.append({"id": i + 1, "vehicle_id": 1 + i % 4, "start_utc": t,
                        "end_utc": t + dt.timedelta(seconds=dur), "duration_s": dur,
                        "distance_m": dur * 7.5, "max_alt_rel_m": 60.0, "max_dist_home_m": 900.0,
                        "photo_count": n_photos // n_flights, "battery_used_pct": 55.0,
                        "home_lon_deg": home[i][0], "home_lat_deg": home[i][1]})
        for k in range(60):
            track.append({"flight_id": i + 1, "t_utc": t + dt.timedelta(seconds=dur * k / 60),
                          "lat_deg": home[i][1] + 0.004 * math.sin(k / 10),
                          "lon_deg": home[i][0] + 0.004 * math.cos(k / 10), "alt_rel_m": 60.0})
    photo_flight = rng.integers(0, n_flights, n_photos)
    photo_idx = rng.integers(0, n_findings, n_photos)   # each photo near some finding
    photos, georefs = [], []
    for i in range(n_photos):
        f = int(photo_flight[i])
        plon, plat = float(lon[photo_idx[i]]), float(lat[photo_idx[i]])
        photos.append({"id": i + 1, "sha256": f"{i + 1:064x}", "stored_path": f"raw/photo/bench/{i + 1}.jpg",
                       "original_name": f"DJI_{i + 1:05d}.JPG", "photo_set": f"bench-{f + 1}",
                       "flight_id": f + 1, "taken_utc": flight_t[f] + dt.timedelta(seconds=60 + i % 600),
                       "time_source": "exif_gps", "lat_deg": plat, "lon_deg": plon,
                       "alt_amsl_m": 65.0, "alt_rel_m": 60.0, "gimbal_pitch_deg": -90.0,
                       "gimbal_yaw_deg": 0.0, "width_px": 4000, "height_px": 3000,
                       "camera_make": "DJI", "camera_model": "FC300S", "position_source": "exif",
                       "footprint": _square(plon, plat, 0.0004)})
        georefs.append({"photo_id": i + 1, "height_agl_m": 60.0, "yaw_deg": 0.0, "pitch_deg": -90.0,
                        "roll_deg": 0.0, "height_source": "alt_rel", "yaw_source": "gimbal",
                        "gsd_cm_px": 2.6, "corrections": [], "analysed_at": flight_t[int(photo_flight[i])]})
    # findings and detections
    cats = list(CATEGORIES)
    cat_idx = rng.choice(len(cats), n_findings, p=np.array(list(CATEGORIES.values())) /
                         sum(CATEGORIES.values()))
    status_draw = rng.uniform(0, 1, n_findings)
    seen = [start + dt.timedelta(seconds=float(x)) for x in rng.uniform(0, 365 * 86400, n_findings)]
    findings, detections = [], []
    det_id = 0
    for i in range(n_findings):
        st = "new" if status_draw[i] < 0.30 else ("confirmed" if status_draw[i] < 0.75 else "rejected")
        findings.append({"id": i + 1, "category": cats[cat_idx[i]], "status": st,
                         "lat_deg": float(lat[i]), "lon_deg": float(lon[i]), "radius_m": 5.0,
                         "score": float(rng.uniform(0.3, 0.99)), "first_seen_utc": seen[i],
                         "last_seen_utc": seen[i] + dt.timedelta(days=float(rng.uniform(0, 3))),
                         "seen_count": int(rng.integers(1, 4)), "created_at": seen[i],
                         "reviewed_at": None if st == "new" else seen[i] + dt.timedelta(hours=2),
                         "polygon": _square(float(lon[i]), float(lat[i]), 0.00003)})
        for _ in range(int(rng.integers(1, 4))):
            det_id += 1
            detections.append({"id": det_id, "photo_id": int(rng.integers(1, n_photos + 1)),
                               "finding_id": i + 1, "detector": "bench", "category": cats[cat_idx[i]],
                               "score": findings[-1]["score"], "bbox_px": [100, 100, 80, 60],
                               "lat_deg": float(lat[i]), "lon_deg": float(lon[i]),
                               "created_at": seen[i]})
    # cases, their history and the audit trail
    cases, events, audits = [], [], []
    sup = users["supervisor"]
    statuses = ["closed", "handled", "verified", "dispatched", "suspended", "filed", "reported",
                "cancelled"]
    weights = np.array([0.70, 0.05, 0.03, 0.12, 0.02, 0.03, 0.03, 0.02])
    ev_id = 0

    def event(case_id, action, frm, to, at, user):
        nonlocal ev_id
        ev_id += 1
        events.append({"id": ev_id, "case_id": case_id, "user_id": user, "action": action,
                       "from_status": frm, "to_status": to, "at": at, "note": "", "data": {}})
        audits.append({"at": at, "user_id": user, "action": f"case.{action}", "target_type": "case",
                       "target_id": case_id, "note": "", "data": {}})

    for f in findings:
        if f["status"] != "new":
            audits.append({"at": f["reviewed_at"], "user_id": sup,
                           "action": "finding.confirm" if f["status"] == "confirmed" else "finding.reject",
                           "target_type": "finding", "target_id": f["id"], "note": "", "data": {}})
        if f["status"] != "confirmed":
            continue
        cid = len(cases) + 1
        i = f["id"] - 1
        squad = int(squad_of[i]) if squad_of[i] > 0 else None
        st = statuses[int(rng.choice(len(statuses), p=weights))]
        t = f["reviewed_at"]
        sub = taxonomy.for_detector(f["category"])
        limit_h = 4.0 if sub is None or sub.time_limit.unit != "working_days" else 8.0 * sub.time_limit.value
        officer = (officers.get(squad) or [None])[0] if squad else None
        case = {"id": cid, "code": f"B-{cid:06d}", "finding_id": f["id"], "source": "drone",
                "category": sub.code if sub else f["category"],
                "category_name_zh": sub.name_zh if sub else "", "category_name_en": sub.name_en if sub else "",
                "class_code": sub.event_class.code if sub and sub.event_class else "",
                "class_name_zh": sub.event_class.name_zh if sub and sub.event_class else "",
                "status": st, "squad_id": squad, "grid_id": int(grid_of[i]) if grid_of[i] > 0 else None,
                "officer_id": officer, "reporter_id": sup, "lat_deg": f["lat_deg"], "lon_deg": f["lon_deg"],
                "description": f"generated case of finding {f['id']}", "created_at": t,
                "time_limit": sub.time_limit.value if sub else 4.0, "time_unit": sub.time_limit.unit if sub else "working_hours",
                "time_limit_s": limit_h * 3600, "extension_s": 0.0, "suspended_s": 0.0,
                "rework_count": 0, "reopen_count": 0}
        event(cid, "report", None, "reported", t, sup)
        if st in ("cancelled",):
            event(cid, "cancel", "reported", "cancelled", t + dt.timedelta(minutes=20), sup)
        if st not in ("reported", "cancelled"):
            case["filed_at"] = t + dt.timedelta(minutes=10)
            event(cid, "file", "reported", "filed", case["filed_at"], sup)
        if st not in ("reported", "cancelled", "filed"):
            case["dispatched_at"] = t + dt.timedelta(minutes=30)
            case["deadline_utc"] = case["dispatched_at"] + dt.timedelta(hours=limit_h * 1.6)
            event(cid, "dispatch", "filed", "dispatched", case["dispatched_at"], sup)
        if st == "suspended":
            case["deadline_utc"] = None
            case["suspended_at"] = t + dt.timedelta(hours=1)
            event(cid, "suspend", "dispatched", "suspended", case["suspended_at"], sup)
        if st in ("handled", "verified", "closed"):
            late = rng.uniform() < 0.12
            took = limit_h * (rng.uniform(1.7, 3.0) if late else rng.uniform(0.2, 1.2))
            handled = case["dispatched_at"] + dt.timedelta(hours=took)
            if rng.uniform() < 0.08:
                case["rework_count"] = 1
                event(cid, "handle", "dispatched", "handled", handled - dt.timedelta(minutes=40), officer)
                event(cid, "rework", "handled", "dispatched", handled - dt.timedelta(minutes=30), sup)
            case["handled_at"] = handled
            event(cid, "handle", "dispatched", "handled", handled, officer)
        if st in ("verified", "closed"):
            case["verified_at"] = case["handled_at"] + dt.timedelta(minutes=20)
            event(cid, "verify", "handled", "verified", case["verified_at"], sup)
        if st == "closed":
            case["closed_at"] = case["verified_at"] + dt.timedelta(minutes=5)
            event(cid, "close", "verified", "closed", case["closed_at"], sup)
        cases.append(case)
    # re-flights of cases at verification
    waiting = [c for c in cases if c["status"] == "handled"][:200]
    routes = [{"id": k + 1, "name": f"re-flight {c['code']} #1", "pattern": "waypoint", "params": {},
               "stats": {"photo_count": 1}, "items": [], "path": {}, "fence": {}, "rally_points": [],
               "created_at": c["handled_at"]} for k, c in enumerate(waiting)]
    reflights = [{"case_id": c["id"], "route_id": k + 1, "mode": "waypoint", "alt_rel_m": 40.0,
                  "requested_by": sup, "requested_at": c["handled_at"] + dt.timedelta(minutes=5),
                  "note": ""} for k, c in enumerate(waiting)]

    t0 = time.perf_counter()
    with session_factory.begin() as s:
        for model, rows in ((Vehicle, vehicles), (Flight, flights), (TrackPoint, track),
                            (Photo, photos), (PhotoGeoref, georefs), (Finding, findings),
                            (Detection, detections), (Case, cases), (CaseEvent, events),
                            (AuditEvent, audits), (Route, routes), (Reflight, reflights)):
            _insert(s, model, rows)
    if session_factory.kw["bind"].dialect.name == "postgresql":
        with session_factory.kw["bind"].begin() as conn:
            for table in ("vehicle", "flight", "photo", "finding", "detection", "case",
                          "case_event", "route"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                     f"(SELECT max(id) FROM \"{table}\"))"))
        # what autovacuum does to a table that has taken a bulk load: statistics and the
        # visibility map (index-only scans)
        with session_factory.kw["bind"].connect().execution_options(
                isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        with session_factory.kw["bind"].begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    fill_s = time.perf_counter() - t0
    long_case = max((c for c in cases if c["status"] == "closed"), key=lambda c: c["rework_count"])
    open_case = next(c for c in cases if c["status"] == "dispatched" and c["squad_id"])
    return {
        "fill_s": round(fill_s, 1),
        "rows": {"findings": len(findings), "detections": len(detections), "photos": len(photos),
                 "flights": len(flights), "track_points": len(track), "cases": len(cases),
                 "case_events": len(events), "audit_events": len(audits), "reflights": len(reflights)},
        "samples": {"case_id": long_case["id"], "open_case_id": open_case["id"],
                    "finding_id": findings[len(findings) // 2]["id"], "flight_id": n_flights // 2,
                    "route_id": 1, "photo_id": 1, "vehicle_id": 1, "squad_id": squads[0].id,
                    "grid_id": grids[0].id if grids else None, "user_id": users["officer"],
                    "reflight_case_id": waiting[0]["id"] if waiting else long_case["id"],
                    "officer_squad_id": squads[0].id},
    }


# ---------------------------------------------------------------------------- measure
def _clients(app):
    clients = {}
    for role, username in ROLE_USER.items():
        c = app.test_client()
        r = c.post("/login", data={"username": username, "password": PASSWORDS[username]})
        if r.status_code not in (302, 303):
            raise RuntimeError(f"login as {username} failed: {r.status_code}")
        clients[role] = c
    return clients


def _urls(app, samples: dict) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(url, forced role or None) for every GET route we can fill, and the skipped ones."""
    urls: list[tuple[str, str | None]] = []
    skipped = []
    names = {"case_id": samples["case_id"], "finding_id": samples["finding_id"],
             "flight_id": samples["flight_id"], "route_id": samples["route_id"],
             "photo_id": samples["photo_id"], "vehicle_id": samples["vehicle_id"],
             "squad_id": samples["squad_id"], "grid_id": samples["grid_id"],
             "user_id": samples["user_id"]}
    with app.test_request_context():
        from flask import url_for

        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS \
                    or rule.endpoint.startswith("i18n."):
                continue
            args = {}
            for a in rule.arguments:
                if names.get(a) is None:
                    break
                args[a] = names[a]
            else:
                if rule.endpoint == "files.serve":
                    continue
                urls.append((url_for(rule.endpoint, **args), None))
                continue
            skipped.append(rule.rule)
    extra = [
        "/cases?status=all", "/cases?status=closed", "/cases?status=overdue", "/cases?status=all&page=400",
        f"/cases?status=all&squad={samples['squad_id']}", "/findings?status=confirmed",
        "/findings?status=rejected&page=1000", "/findings?status=new&category=exposed_garbage",
        "/api/findings.geojson", "/api/findings.geojson?status=new",
        "/api/findings.geojson?bbox=121.00,30.69,121.03,30.71", "/api/photos.geojson",
        "/api/tracks.geojson", "/dashboard?from=2026-01-01&to=2026-03-31",
        f"/dashboard?squad={samples['squad_id']}", f"/cases/{samples['open_case_id']}",
        f"/cases/{samples['reflight_case_id']}",
    ]
    urls += [(u, None) for u in extra]
    urls += [(u, "officer") for u in ("/", "/cases", "/cases?scope=squad", "/cases?status=all",
                                      "/exports/cases.csv?status=all")]
    return list(dict.fromkeys(urls)), skipped


EXPORTS = ("/exports/findings.csv?status=all", "/exports/findings.geojson?status=all",
           "/exports/cases.csv?status=all", "/exports/cases.geojson?status=all")


def _time_one(client, url: str, *, stream: bool, full: bool = False
              ) -> tuple[float, float, float | None, int, int]:
    """(wall ms to the response or, streamed, its first chunk; CPU ms of this thread to the
    same point; wall ms of the whole body when streamed and ``full``; status; bytes read)."""
    c0, t0 = time.thread_time(), time.perf_counter()
    if stream:
        r = client.get(url, buffered=False)
        it = iter(r.response)
        first = next(it, b"")
        t_first, c_first = time.perf_counter() - t0, time.thread_time() - c0
        size = len(first) + (sum(len(c) for c in it) if full else 0)
        r.close()
        return (t_first * 1000, c_first * 1000,
                (time.perf_counter() - t0) * 1000 if full else None, r.status_code, size)
    r = client.get(url)
    ms, cpu = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
    return ms, cpu, None, r.status_code, len(r.data)


def measure(app, samples: dict, runs: int, only: str | None = None) -> tuple[list[dict], list[str]]:
    clients = _clients(app)
    urls, skipped = _urls(app, samples)
    urls += [(u, None) for u in EXPORTS]
    urls.append((f"/exports/cases/{samples['case_id']}/evidence.zip", None))
    urls = list(dict.fromkeys(urls))
    if only:
        urls = [(u, r) for u, r in urls if only in u]
    rows = []
    for url, forced in urls:
        stream = url.startswith("/exports/")
        roles = [forced] if forced else ["supervisor", "admin", "operator", "officer"]
        for role in roles:
            _, _, _, status, _ = _time_one(clients[role], url, stream=stream)   # warm-up
            if status != 403:
                break
        times, cpus, fulls, size = [], [], [], 0
        for k in range(runs):
            # streamed downloads are read whole once (the last run), else to their first chunk
            ms, cpu, full, status, size = _time_one(clients[role], url, stream=stream,
                                                    full=k == runs - 1)
            times.append(ms)
            cpus.append(cpu)
            if full is not None:
                fulls.append(full)
        row = {"url": url, "role": role, "status": status, "bytes": size,
               "median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
               "cpu_median_ms": round(statistics.median(cpus), 1)}
        if fulls:
            row["full_median_ms"] = round(statistics.median(fulls), 1)
        rows.append(row)
    return rows, skipped


def run_backend(url: str | None, args, label: str) -> dict:
    as_of = dt.datetime(2026, 11, 20, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="patrol-bench-web-") as tmp:
        root = Path(args.data_dir) if args.data_dir and url is None else Path(tmp) / "var"
        settings = Settings.for_directory(root)
        if url is not None:
            settings = Settings(data_dir=settings.data_dir, database_url=url,
                                secret_key=settings.secret_key)
        marker = settings.data_dir / "bench-filled.json"
        upgrade(settings.database_url)
        if url is None and marker.exists():
            filled = json.loads(marker.read_text())   # --data-dir kept from an earlier run
        else:
            engine = make_engine(settings.database_url)
            try:
                filled = fill(make_session_factory(engine), args.findings, as_of, settings.data_dir)
            finally:
                engine.dispose()
            if url is None and args.data_dir:
                marker.write_text(json.dumps(filled))
        from web import create_app

        app = create_app(settings, config={"TESTING": False, "WTF_CSRF_ENABLED": False})
        try:
            rows, skipped = measure(app, filled["samples"], args.runs, args.only)
        finally:
            app.extensions["drone_patrol"].engine.dispose()
    pages = [r for r in rows if not r["url"].startswith("/exports/")]
    slow = [r for r in pages if r["median_ms"] > TARGET_MS]
    return {"backend": label, **filled, "requests": rows, "skipped_routes": skipped,
            "pages": len(pages), "pages_over_target": len(slow),
            "slowest_page": max(pages, key=lambda r: r["median_ms"]) if pages else None}


def _pg_database(admin_url: str):
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except Exception as err:  # any driver error: no server to measure
        admin.dispose()
        return None, None, f"no PostgreSQL at {admin_url}: {type(err).__name__}"
    name = f"patrol_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return admin, name, None


def _table(result: dict) -> str:
    lines = [f"{result['backend']}: filled {result['rows']} in {result['fill_s']} s",
             f"{'median ms':>9} {'max ms':>8} {'cpu ms':>7} {'full ms':>8} {'status':>6} {'bytes':>9}  role        url"]
    for r in result["requests"]:
        full = f"{r['full_median_ms']:8.1f}" if "full_median_ms" in r else " " * 8
        flag = " *" if r["median_ms"] > TARGET_MS and not r["url"].startswith("/exports/") else ""
        lines.append(f"{r['median_ms']:9.1f} {r['max_ms']:8.1f} {r['cpu_median_ms']:7.1f} {full} {r['status']:6d} "
                     f"{r['bytes']:9d}  {r['role']:<10}  {r['url']}{flag}")
    lines.append(f"pages over {TARGET_MS:.0f} ms: {result['pages_over_target']} of {result['pages']}"
                 f"; skipped routes (no sample id): {', '.join(result['skipped_routes']) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--data-dir", default=None,
                        help="keep the SQLite data root here and reuse it when filled already "
                             "(for profiling; PostgreSQL is always a fresh database)")
    parser.add_argument("--only", default=None, help="measure only URLs containing this text")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    results = []
    if not args.no_sqlite:
        results.append(run_backend(None, args, "sqlite"))
        if not args.json:
            print(_table(results[-1]), flush=True)
    if not args.no_pg:
        admin, name, problem = _pg_database(args.pg_url)
        if problem:
            results.append({"backend": "postgresql", "skipped": problem})
            if not args.json:
                print(problem)
        else:
            try:
                url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
                results.append(run_backend(url, args, "postgresql"))
                if not args.json:
                    print(_table(results[-1]), flush=True)
            finally:
                with admin.connect() as c:
                    c.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                admin.dispose()
    if args.json:
        print(json.dumps({"findings": args.findings, "runs": args.runs, "target_ms": TARGET_MS,
                          "results": results}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
