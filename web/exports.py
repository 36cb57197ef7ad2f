"""Exports: findings and cases as CSV and GeoJSON, streamed; a case's evidence package as a zip
(no Flask here).

CSV is UTF-8 with a byte-order mark (Excel opens it as UTF-8 and shows the Chinese names),
comma-separated, one header row (:data:`FINDING_COLUMNS`, :data:`CASE_COLUMNS`), times ISO 8601
UTC, positions WGS84 degrees. GeoJSON is a FeatureCollection of Points (RFC 7946, WGS84) with
the same fields as properties. Both are generated row by row from a server-side cursor
(``yield_per``) so an export of 100,000 rows never sits whole in memory.

The evidence package (:func:`write_evidence_package`) holds, for one case: the photos its
finding was detected in (the original files from the data root), the finding's evidence crop,
the re-flight's after photos, the officers' evidence photos (case attachments),
``manifest.json`` (case, location, finding, detections, each
photo's position, camera and pose as vision used it (:class:`vision.models.PhotoGeoref`), the
flights that took them, re-flights, case history and audit entries, and the SHA-256 and size of
every file) and ``SHA256SUMS`` (``sha256sum -c`` format, covering the manifest too).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from flight_logs.models import Flight, Photo, Vehicle
from patrol.db import utcnow
from vision.models import Detection, Finding, PhotoGeoref
from web import cases as wf
from web.case_text import case_description, event_note
from web.models import AuditEvent, Case, CaseAttachment, CaseEvent, Grid, Squad, User
from web.models_reflight import Reflight

__all__ = [
    "BOM",
    "CASE_COLUMNS",
    "CaseFilters",
    "FINDING_COLUMNS",
    "FindingFilters",
    "case_records",
    "cases_statement",
    "csv_chunks",
    "evidence_manifest",
    "finding_records",
    "findings_statement",
    "geojson_chunks",
    "iter_evidence_package",
    "write_evidence_package",
]

BOM = "\ufeff"
BATCH = 500

FINDING_COLUMNS = ("id", "category", "status", "score", "lat_deg", "lon_deg", "radius_m",
                   "seen_count", "first_seen_utc", "last_seen_utc", "created_at", "reviewed_at",
                   "evidence_path", "case_id", "case_code", "case_status")
CASE_COLUMNS = ("id", "code", "source", "status", "class_code", "class_name_zh", "category",
                "category_name_zh", "category_name_en", "squad", "grid", "officer", "lat_deg",
                "lon_deg", "address", "created_at", "filed_at", "dispatched_at", "deadline_utc",
                "handled_at", "verified_at", "closed_at", "overdue", "closed_on_time",
                "rework_count", "reopen_count", "finding_id", "description")


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat()


# ------------------------------------------------------------------ statements
def _day_bounds(first_day: dt.date | None, last_day: dt.date | None, zone: str):
    tz = ZoneInfo(zone)
    start = None if first_day is None else dt.datetime.combine(first_day, dt.time(0), tz)
    end = None if last_day is None else dt.datetime.combine(
        last_day + dt.timedelta(days=1), dt.time(0), tz)
    return start, end


@dataclass(frozen=True)
class FindingFilters:
    """The findings queue's filters: ``status`` (None: every status), detector ``category``,
    lowest ``min_score``, local days ``first_day``..``last_day`` of the last sighting in
    ``timezone``."""

    status: str | None = "new"
    category: str | None = None
    min_score: float | None = None
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class CaseFilters:
    """The case list's filters: ``status`` (``open``, ``overdue``, ``all`` or a status),
    subclass ``category``, ``class_code``, ``squad_id``, ``grid_id``, local days of reporting
    ``first_day``..``last_day`` in ``timezone``; for an officer (``officer_id`` and
    ``officer_squad_id`` set) only their squad's cases, and with ``scope="mine"`` only those
    given to them or to nobody in particular."""

    status: str = "open"
    category: str | None = None
    class_code: str | None = None
    squad_id: int | None = None
    grid_id: int | None = None
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    timezone: str = "Asia/Shanghai"
    officer_id: int | None = None
    officer_squad_id: int | None = None
    scope: str | None = None


_FINDING_FIELDS = ("id", "category", "status", "score", "lat_deg", "lon_deg", "radius_m",
                   "seen_count", "first_seen_utc", "last_seen_utc", "created_at", "reviewed_at",
                   "evidence_path")


def findings_statement(filters: FindingFilters, *, outline: bool = False) -> sa.Select:
    """Findings (newest first) with the case each became: rows of the columns of
    :data:`FINDING_COLUMNS` (plus ``polygon`` with ``outline``), columns only (no ORM
    objects), so 100,000 rows stream quickly."""
    columns = [getattr(Finding, name) for name in _FINDING_FIELDS]
    if outline:
        columns.append(Finding.polygon)
    stmt = (sa.select(*columns, Case.id.label("case_id"), Case.code.label("case_code"),
                      Case.status.label("case_status"))
            .outerjoin(Case, Case.finding_id == Finding.id)
            .order_by(Finding.id.desc()))
    if filters.status:
        stmt = stmt.where(Finding.status == filters.status)
    if filters.category:
        stmt = stmt.where(Finding.category == filters.category)
    if filters.min_score is not None:
        stmt = stmt.where(Finding.score >= filters.min_score)
    start, end = _day_bounds(filters.first_day, filters.last_day, filters.timezone)
    if start is not None:
        stmt = stmt.where(Finding.last_seen_utc >= start)
    if end is not None:
        stmt = stmt.where(Finding.last_seen_utc < end)
    return stmt


def cases_statement(filters: CaseFilters, *, now: dt.datetime | None = None) -> sa.Select:
    """Cases (newest first) with squad name, grid code and officer: rows ``(Case, squad name,
    grid code, officer name)``; ``overdue`` is judged at ``now``."""
    officer = aliased(User)
    stmt = (sa.select(Case, Squad.name, Grid.code,
                      sa.func.coalesce(sa.func.nullif(officer.display_name, ""), officer.username))
            .outerjoin(Squad, Squad.id == Case.squad_id)
            .outerjoin(Grid, Grid.id == Case.grid_id)
            .outerjoin(officer, officer.id == Case.officer_id)
            .order_by(Case.created_at.desc(), Case.id.desc()))
    if filters.status == "open":
        stmt = stmt.where(Case.status.in_(wf.OPEN_STATUSES))
    elif filters.status == "overdue":
        stmt = stmt.where(wf.overdue_clause(now or utcnow()))
    elif filters.status != "all":
        stmt = stmt.where(Case.status == filters.status)
    for column, value in ((Case.category, filters.category), (Case.class_code, filters.class_code),
                          (Case.squad_id, filters.squad_id), (Case.grid_id, filters.grid_id)):
        if value:
            stmt = stmt.where(column == value)
    start, end = _day_bounds(filters.first_day, filters.last_day, filters.timezone)
    if start is not None:
        stmt = stmt.where(Case.created_at >= start)
    if end is not None:
        stmt = stmt.where(Case.created_at < end)
    if filters.officer_squad_id is not None or filters.officer_id is not None:
        stmt = stmt.where(Case.squad_id == filters.officer_squad_id)
        if filters.scope == "mine":
            stmt = stmt.where(sa.or_(Case.officer_id == filters.officer_id,
                                     Case.officer_id.is_(None)))
    return stmt


# ------------------------------------------------------------------ records
def finding_records(session: Session, stmt: sa.Select) -> Iterator[dict[str, Any]]:
    """One dict per row of :func:`findings_statement` (keys :data:`FINDING_COLUMNS`, and
    ``polygon`` when selected), read ``yield_per`` rows at a time; times ISO 8601."""
    times = ("first_seen_utc", "last_seen_utc", "created_at", "reviewed_at")
    for row in session.execute(stmt.execution_options(yield_per=BATCH)):
        rec = dict(row._mapping)
        for key in times:
            rec[key] = _iso(rec[key])
        yield rec


def case_records(session: Session, stmt: sa.Select, *,
                 now: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
    """One dict per row of :func:`cases_statement` (keys :data:`CASE_COLUMNS`).

    ``overdue`` as :func:`web.cases.overdue` at ``now``; ``closed_on_time``: closed by the
    deadline (None while not closed or without a deadline). ``description``: what the reporter
    wrote (empty for a drone case, whose finding is ``finding_id``).
    """
    now = now or utcnow()
    for c, squad, grid, officer in session.execute(stmt.execution_options(yield_per=BATCH)):
        closed = c.status == "closed" and c.closed_at is not None
        yield {"id": c.id, "code": c.code, "source": c.source, "status": c.status,
               "class_code": c.class_code, "class_name_zh": c.class_name_zh,
               "category": c.category, "category_name_zh": c.category_name_zh,
               "category_name_en": c.category_name_en, "squad": squad, "grid": grid,
               "officer": officer, "lat_deg": c.lat_deg, "lon_deg": c.lon_deg,
               "address": c.address, "created_at": _iso(c.created_at),
               "filed_at": _iso(c.filed_at), "dispatched_at": _iso(c.dispatched_at),
               "deadline_utc": _iso(c.deadline_utc), "handled_at": _iso(c.handled_at),
               "verified_at": _iso(c.verified_at), "closed_at": _iso(c.closed_at),
               "overdue": wf.overdue(c, now),
               "closed_on_time": (None if not closed or c.deadline_utc is None
                                  else c.closed_at <= c.deadline_utc),
               "rework_count": c.rework_count, "reopen_count": c.reopen_count,
               "finding_id": c.finding_id, "description": c.description}


# ------------------------------------------------------------------ CSV and GeoJSON
def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def csv_chunks(records: Iterable[dict[str, Any]], columns: Iterable[str]) -> Iterator[str]:
    """CSV text in chunks: the BOM and header first, then :data:`BATCH` rows a chunk.

    >>> "".join(csv_chunks([{"a": 1, "b": "暴露垃圾"}, {"a": None, "b": True}], ("a", "b")))
    '\\ufeffa,b\\r\\n1,暴露垃圾\\r\\n,true\\r\\n'
    """
    columns = tuple(columns)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    yield BOM + buf.getvalue()
    buf.seek(0)
    buf.truncate()
    n = 0
    for rec in records:
        writer.writerow([_cell(rec.get(c)) for c in columns])
        n += 1
        if n % BATCH == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


def geojson_chunks(records: Iterable[dict[str, Any]], *, kind: str) -> Iterator[str]:
    """A GeoJSON FeatureCollection of Points (``lon_deg``/``lat_deg``) in chunks; the other
    keys are the properties (``polygon``, when present, goes to the property ``outline``).

    >>> json.loads("".join(geojson_chunks([{"id": 1, "lon_deg": 121.0, "lat_deg": 30.7}],
    ...                                   kind="finding")))["features"][0]["geometry"]
    {'type': 'Point', 'coordinates': [121.0, 30.7]}
    """
    yield '{"type": "FeatureCollection", "name": ' + json.dumps(kind + "s") + ', "features": ['
    sep = ""
    batch: list[str] = []
    for rec in records:
        props = {k: v for k, v in rec.items() if k not in ("lon_deg", "lat_deg", "polygon")}
        if rec.get("polygon"):
            props["outline"] = rec["polygon"]
        props["kind"] = kind
        feature = {"type": "Feature", "id": rec.get("id"),
                   "geometry": {"type": "Point", "coordinates": [rec["lon_deg"], rec["lat_deg"]]},
                   "properties": props}
        batch.append(sep + json.dumps(feature, ensure_ascii=False))
        sep = ","
        if len(batch) >= BATCH:
            yield "".join(batch)
            batch = []
    yield "".join(batch) + "]}"


# ------------------------------------------------------------------ evidence package
def _data_file(data_dir: Path, stored_path: str | None) -> Path | None:
    """The regular file ``stored_path`` names inside the data root, else None (absent, or an
    escape from the root)."""
    if not stored_path:
        return None
    root = Path(data_dir).resolve()
    path = (root / stored_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _photo_entry(photo: Photo, georef: PhotoGeoref | None) -> dict[str, Any]:
    return {
        "id": photo.id, "original_name": photo.original_name, "photo_set": photo.photo_set,
        "archived_sha256": photo.sha256, "stored_path": photo.stored_path,
        "taken_utc": _iso(photo.taken_utc), "time_source": photo.time_source,
        "position": {"lat_deg": photo.lat_deg, "lon_deg": photo.lon_deg,
                     "alt_amsl_m": photo.alt_amsl_m, "alt_rel_m": photo.alt_rel_m,
                     "source": photo.position_source, "crs": "WGS84"},
        "camera": {"make": photo.camera_make, "model": photo.camera_model,
                   "focal_length_mm": photo.focal_length_mm,
                   "focal_length_35mm": photo.focal_length_35mm,
                   "width_px": photo.width_px, "height_px": photo.height_px},
        "gimbal": {"pitch_deg": photo.gimbal_pitch_deg, "yaw_deg": photo.gimbal_yaw_deg,
                   "roll_deg": photo.gimbal_roll_deg, "flight_yaw_deg": photo.flight_yaw_deg},
        "pose": None if georef is None else {
            "lat_deg": georef.lat_deg, "lon_deg": georef.lon_deg,
            "height_agl_m": georef.height_agl_m, "yaw_deg": georef.yaw_deg,
            "pitch_deg": georef.pitch_deg, "roll_deg": georef.roll_deg,
            "height_source": georef.height_source, "yaw_source": georef.yaw_source,
            "ground_elevation_m": georef.ground_elevation_m, "gsd_cm_px": georef.gsd_cm_px,
            "corrections": georef.corrections},
        "footprint": photo.footprint,
        "flight_id": photo.flight_id,
    }


def _flight_entry(flight: Flight, vehicle: str | None) -> dict[str, Any]:
    return {"id": flight.id, "vehicle": vehicle, "route_id": flight.route_id,
            "start_utc": _iso(flight.start_utc), "end_utc": _iso(flight.end_utc),
            "duration_s": flight.duration_s, "distance_m": flight.distance_m,
            "max_alt_rel_m": flight.max_alt_rel_m, "photo_count": flight.photo_count,
            "home": {"lat_deg": flight.home_lat_deg, "lon_deg": flight.home_lon_deg,
                     "alt_amsl_m": flight.home_alt_amsl_m}}


def evidence_manifest(session: Session, case: Case) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The manifest of ``case``'s evidence package without its file list, and the files to
    put in it as ``(path in the zip, stored path under the data root)``."""
    finding = session.get(Finding, case.finding_id) if case.finding_id else None
    files: list[tuple[str, str]] = []
    detections: list[Detection] = []
    if finding is not None:
        detections = list(session.scalars(sa.select(Detection).where(
            Detection.finding_id == finding.id).order_by(Detection.id)))
    reflights = list(session.scalars(sa.select(Reflight).where(Reflight.case_id == case.id)
                                     .order_by(Reflight.requested_at, Reflight.id)))
    photo_ids = sorted({d.photo_id for d in detections}
                       | {r.after_photo_id for r in reflights if r.after_photo_id is not None})
    photos = {p.id: p for p in session.scalars(sa.select(Photo).where(Photo.id.in_(photo_ids)))}
    georefs = {g.photo_id: g for g in session.scalars(
        sa.select(PhotoGeoref).where(PhotoGeoref.photo_id.in_(photo_ids)))}
    flight_ids = sorted({p.flight_id for p in photos.values() if p.flight_id is not None})
    flights = [_flight_entry(f, v) for f, v in session.execute(
        sa.select(Flight, Vehicle.name).join(Vehicle, Vehicle.id == Flight.vehicle_id)
        .where(Flight.id.in_(flight_ids)).order_by(Flight.start_utc))]

    photo_entries = []
    for pid in photo_ids:
        photo = photos[pid]
        entry = _photo_entry(photo, georefs.get(pid))
        name = PurePosixPath(photo.original_name or photo.stored_path).name
        entry["file"] = f"photos/{pid}_{name}"
        entry["role"] = ("after" if any(r.after_photo_id == pid for r in reflights) else "before")
        files.append((entry["file"], photo.stored_path))
        photo_entries.append(entry)

    users = {}

    def who(user_id: int | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in users:
            u = session.get(User, user_id)
            users[user_id] = None if u is None else u.username
        return users[user_id]

    finding_entry = None
    if finding is not None:
        finding_entry = {
            "id": finding.id, "category": finding.category, "status": finding.status,
            "score": finding.score, "lat_deg": finding.lat_deg, "lon_deg": finding.lon_deg,
            "radius_m": finding.radius_m, "outline": finding.polygon,
            "first_seen_utc": _iso(finding.first_seen_utc),
            "last_seen_utc": _iso(finding.last_seen_utc), "seen_count": finding.seen_count,
            "reviewed_at": _iso(finding.reviewed_at), "evidence_file": None}
        if finding.evidence_path:
            finding_entry["evidence_file"] = "evidence/" + PurePosixPath(finding.evidence_path).name
            files.append((finding_entry["evidence_file"], finding.evidence_path))

    attachments = []
    for a in session.scalars(sa.select(CaseAttachment).where(CaseAttachment.case_id == case.id)
                             .order_by(CaseAttachment.id)):
        name = PurePosixPath(a.original_name or a.stored_path).name
        entry = {"id": a.id, "file": f"attachments/{a.id}_{name}", "stage": a.stage,
                 "user": who(a.user_id), "uploaded_at": _iso(a.uploaded_at),
                 "original_name": a.original_name, "content_type": a.content_type,
                 "archived_sha256": a.sha256, "width_px": a.width_px, "height_px": a.height_px,
                 "event_id": a.event_id}
        files.append((entry["file"], a.stored_path))
        attachments.append(entry)
    events = list(session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)
                                  .order_by(CaseEvent.at, CaseEvent.id)))
    history = [{"id": e.id, "at": _iso(e.at), "user": who(e.user_id), "action": e.action,
                "from_status": e.from_status, "to_status": e.to_status, "note": event_note(e),
                "data": e.data}
               for e in events]
    targets = [sa.and_(AuditEvent.target_type == "case", AuditEvent.target_id == case.id)]
    if finding is not None:
        targets.append(sa.and_(AuditEvent.target_type == "finding",
                               AuditEvent.target_id == finding.id))
    audit = [{"at": _iso(a.at), "user": who(a.user_id), "action": a.action,
              "target": f"{a.target_type}/{a.target_id}", "note": a.note, "data": a.data}
             for a in session.scalars(sa.select(AuditEvent).where(sa.or_(*targets))
                                      .order_by(AuditEvent.at, AuditEvent.id))]
    squad = session.get(Squad, case.squad_id) if case.squad_id else None
    grid = session.get(Grid, case.grid_id) if case.grid_id else None
    manifest = {
        "format": "drone-patrol evidence package 1",
        "generated_utc": _iso(utcnow()),
        "case": {"id": case.id, "code": case.code, "source": case.source, "status": case.status,
                 "category": case.category, "category_name_zh": case.category_name_zh,
                 "category_name_en": case.category_name_en, "class_code": case.class_code,
                 "class_name_zh": case.class_name_zh, "address": case.address,
                 "description": case_description(case, events),
                 "squad": None if squad is None else squad.name,
                 "grid": None if grid is None else grid.code,
                 "officer": who(case.officer_id),
                 "created_at": _iso(case.created_at), "filed_at": _iso(case.filed_at),
                 "dispatched_at": _iso(case.dispatched_at), "deadline_utc": _iso(case.deadline_utc),
                 "handled_at": _iso(case.handled_at), "verified_at": _iso(case.verified_at),
                 "closed_at": _iso(case.closed_at), "rework_count": case.rework_count,
                 "reopen_count": case.reopen_count},
        "location": {"type": "Point", "coordinates": [case.lon_deg, case.lat_deg],
                     "crs": "WGS84 (EPSG:4326), longitude then latitude, degrees"},
        "finding": finding_entry,
        "detections": [{"id": d.id, "photo_id": d.photo_id,
                        "reference_photo_id": d.reference_photo_id, "detector": d.detector,
                        "category": d.category, "score": d.score, "bbox_px": d.bbox_px,
                        "outline": d.polygon, "lat_deg": d.lat_deg, "lon_deg": d.lon_deg,
                        "area_m2": d.area_m2} for d in detections],
        "photos": photo_entries,
        "attachments": attachments,
        "flights": flights,
        "reflights": [{"id": r.id, "route_id": r.route_id, "mode": r.mode,
                       "alt_rel_m": r.alt_rel_m, "requested_by": who(r.requested_by),
                       "requested_at": _iso(r.requested_at), "after_photo_id": r.after_photo_id}
                      for r in reflights],
        "history": history,
        "audit": audit,
    }
    return manifest, files


class _Sink(io.RawIOBase):
    """A write-only, unseekable byte sink that hands out what was written (zipfile then
    writes a streamable archive, with data descriptors)."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        data = bytes(b)
        self._chunks.append(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def iter_evidence_package(session: Session, case: Case, data_dir: str | Path,
                          manifest_out: dict[str, Any] | None = None) -> Iterator[bytes]:
    """``case``'s evidence package as zip bytes, file by file (for streaming a download).

    Files are copied from the data root as archived (photos stored without recompression).
    A file the database names but the data root lacks (or that would lie outside it) is left
    out and listed under ``missing`` with the reason; the package is made all the same.
    The manifest's ``files`` lists each file's path in the zip, SHA-256 and size;
    ``SHA256SUMS`` adds the manifest's own hash. ``manifest_out``, when given, receives the
    manifest.
    """
    manifest, wanted = evidence_manifest(session, case)
    listed: list[dict[str, Any]] = []
    missing: list[dict[str, str]] = []
    seen: set[str] = set()
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, stored in wanted:
            if arcname in seen:
                continue
            seen.add(arcname)
            path = _data_file(Path(data_dir), stored)
            if path is None:
                missing.append({"file": arcname, "stored_path": stored,
                                "reason": "not found under the data root"})
                continue
            zf.write(path, arcname, compress_type=zipfile.ZIP_STORED)
            listed.append({"path": arcname, "sha256": _sha256(path),
                           "size_bytes": path.stat().st_size})
            yield sink.take()
        manifest["files"] = listed
        manifest["missing"] = missing
        body = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
        zf.writestr("manifest.json", body)
        sums = [(f["sha256"], f["path"]) for f in listed]
        sums.append((hashlib.sha256(body).hexdigest(), "manifest.json"))
        zf.writestr("SHA256SUMS", "".join(f"{h}  {p}\n" for h, p in sums))
    if manifest_out is not None:
        manifest_out.update(manifest)
    yield sink.take()


def write_evidence_package(session: Session, case: Case, data_dir: str | Path,
                           out: BinaryIO) -> dict[str, Any]:
    """Write ``case``'s evidence package (:func:`iter_evidence_package`) to ``out``; return
    its manifest."""
    manifest: dict[str, Any] = {}
    for chunk in iter_evidence_package(session, case, data_dir, manifest):
        out.write(chunk)
    return manifest
