"""The map's layers as GeoJSON FeatureCollections (WGS84), built from the database.

One function per layer, each taking a ``session`` and filters; :func:`to_display_crs` shifts
a collection onto a GCJ-02 basemap when the settings say the basemap is a Chinese web map.
Properties carry what the popups show; datetimes are ISO 8601 UTC strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, load_only

from flight_logs.models import Flight, Photo, TrackPoint, Vehicle
from missions.models import PatrolArea, Route
from patrol.geodesy import wgs84_to_gcj02
from vision.models import Finding
from web.models import Case, Grid, Squad

__all__ = [
    "DISPLAY_CRS",
    "areas_collection",
    "cases_collection",
    "feature_collection",
    "findings_collection",
    "grids_collection",
    "photos_collection",
    "routes_collection",
    "squads_collection",
    "to_display_crs",
    "tracks_collection",
]

DISPLAY_CRS = ("wgs84", "gcj02")

BBox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat (degrees)

MAP_LIMIT = 1000
"""Most features a point layer (findings, cases, photos) returns, newest first; ``truncated``
says when more matched (narrow with ``bbox``, ``status``...). 1,000 points are ~0.4 MB of
GeoJSON, built in ~50 ms (benchmarks/web.py: with 100,000 findings the unbounded 5,000 took
~300 ms and 2 MB per layer)."""


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def feature_collection(features: Iterable[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """``{"type": "FeatureCollection", "features": [...]}`` plus foreign members."""
    return {"type": "FeatureCollection", "features": list(features), **members}


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def areas_collection(session: Session, *, site: str | None = None) -> dict[str, Any]:
    """Patrol areas: survey polygons (with no-fly holes), corridors, hotspots."""
    stmt = sa.select(PatrolArea).order_by(PatrolArea.site, PatrolArea.name)
    if site:
        stmt = stmt.where(PatrolArea.site == site)
    return feature_collection(
        _feature(a.geometry, id=a.id, name=a.name, site=a.site, kind=a.kind,
                 source=a.properties.get("source"), width_m=a.properties.get("width_m"),
                 radius_m=a.properties.get("radius_m"))
        for a in session.scalars(stmt))


def squads_collection(session: Session, *, site: str | None = None) -> dict[str, Any]:
    """Squads' jurisdictions (中队辖区)."""
    stmt = sa.select(Squad).order_by(Squad.site, Squad.name)
    if site:
        stmt = stmt.where(Squad.site == site)
    return feature_collection(
        _feature(s.jurisdiction, id=s.id, name=s.name, site=s.site,
                 source=s.properties.get("source"))
        for s in session.scalars(stmt))


def grids_collection(session: Session, *, squad_id: int | None = None) -> dict[str, Any]:
    """Unit grids (单元网格) inside the squads' jurisdictions, with their squad's name."""
    stmt = (sa.select(Grid, Squad.name, Squad.site).join(Squad, Grid.squad_id == Squad.id)
            .order_by(Grid.code))
    if squad_id is not None:
        stmt = stmt.where(Grid.squad_id == squad_id)
    return feature_collection(
        _feature(g.polygon, id=g.id, code=g.code, name=g.name, squad=squad_name, site=site)
        for g, squad_name, site in session.execute(stmt) if g.polygon)


def cases_collection(session: Session, *, squad_id: int | None = None,
                     bbox: BBox | None = None, limit: int = MAP_LIMIT) -> dict[str, Any]:
    """Cases as Points at their location (newest first, at most ``limit``; ``truncated`` says
    whether more matched), with status, category, squad and deadline; ``squad_id`` narrows
    them to one squad (an officer's view)."""
    stmt = (sa.select(Case, Squad.name).outerjoin(Squad, Case.squad_id == Squad.id)
            .options(load_only(Case.id, Case.code, Case.category, Case.category_name_zh,
                               Case.category_name_en, Case.status, Case.finding_id,
                               Case.lat_deg, Case.lon_deg, Case.created_at, Case.deadline_utc,
                               Case.closed_at))
            .order_by(Case.id.desc()))
    if squad_id is not None:
        stmt = stmt.where(Case.squad_id == squad_id)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        stmt = stmt.where(Case.lon_deg.between(min_lon, max_lon),
                          Case.lat_deg.between(min_lat, max_lat))
    rows = session.execute(stmt.limit(limit + 1)).all()
    return feature_collection(
        (_feature({"type": "Point", "coordinates": [c.lon_deg, c.lat_deg]}, id=c.id, code=c.code,
                  category=c.category, category_zh=c.category_name_zh or None,
                  category_en=c.category_name_en or None, status=c.status, squad=squad_name,
                  finding_id=c.finding_id, created=_iso(c.created_at),
                  deadline=_iso(c.deadline_utc), closed=_iso(c.closed_at))
         for c, squad_name in rows[:limit]),
        truncated=len(rows) > limit)


def routes_collection(session: Session, *, site: str | None = None,
                      route_id: int | None = None) -> dict[str, Any]:
    """Planned routes as LineStrings (``Route.path``); routes without a path are left out."""
    stmt = (sa.select(Route, PatrolArea.site).outerjoin(PatrolArea, Route.area_id == PatrolArea.id)
            .order_by(Route.id))
    if site:
        stmt = stmt.where(PatrolArea.site == site)
    if route_id is not None:
        stmt = stmt.where(Route.id == route_id)
    return feature_collection(
        _feature(r.path, id=r.id, name=r.name, pattern=r.pattern, site=site_,
                 path_length_m=r.stats.get("path_length_m"),
                 photo_count=r.stats.get("photo_count"), gsd_cm_px=r.stats.get("gsd_cm_px"),
                 created=_iso(r.created_at))
        for r, site_ in session.execute(stmt) if r.path and r.path.get("coordinates"))


def tracks_collection(session: Session, *, flight_id: int | None = None,
                      limit: int = 200) -> dict[str, Any]:
    """Flown tracks, one LineString per flight (the ``limit`` most recent flights).

    Flights with fewer than two track points are left out.
    """
    fstmt = (sa.select(Flight, Vehicle.name).join(Vehicle, Flight.vehicle_id == Vehicle.id)
             .order_by(Flight.start_utc.desc()).limit(limit))
    if flight_id is not None:
        fstmt = fstmt.where(Flight.id == flight_id)
    flights = {f.id: (f, vname) for f, vname in session.execute(fstmt)}
    if not flights:
        return feature_collection([])
    pts = session.execute(
        sa.select(TrackPoint.flight_id, TrackPoint.lon_deg, TrackPoint.lat_deg)
        .where(TrackPoint.flight_id.in_(flights)).order_by(TrackPoint.flight_id, TrackPoint.t_utc))
    features = []
    for fid, rows in groupby(pts, key=lambda r: r[0]):
        coords = [[lon, lat] for _, lon, lat in rows]
        if len(coords) < 2:
            continue
        f, vname = flights[fid]
        features.append(_feature(
            {"type": "LineString", "coordinates": coords}, id=f.id, vehicle=vname,
            start=_iso(f.start_utc), duration_s=f.duration_s, distance_m=f.distance_m,
            max_alt_rel_m=f.max_alt_rel_m, photo_count=f.photo_count))
    return feature_collection(features)


def findings_collection(session: Session, *, status: str | None = None,
                        bbox: BBox | None = None, finding_id: int | None = None,
                        limit: int = MAP_LIMIT) -> dict[str, Any]:
    """Findings as Points (newest first, at most ``limit``), with the case they became.

    ``truncated`` (a foreign member) says whether more findings matched than were returned.
    """
    stmt = (sa.select(Finding, Case.id, Case.code, Case.status)
            .outerjoin(Case, Case.finding_id == Finding.id)
            .options(load_only(Finding.id, Finding.category, Finding.status, Finding.score,
                               Finding.seen_count, Finding.first_seen_utc, Finding.last_seen_utc,
                               Finding.evidence_path, Finding.lat_deg, Finding.lon_deg))
            .order_by(Finding.id.desc()))
    if status:
        stmt = stmt.where(Finding.status == status)
    if finding_id is not None:
        stmt = stmt.where(Finding.id == finding_id)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        stmt = stmt.where(Finding.lon_deg.between(min_lon, max_lon),
                          Finding.lat_deg.between(min_lat, max_lat))
    rows = session.execute(stmt.limit(limit + 1)).all()
    return feature_collection(
        (_feature({"type": "Point", "coordinates": [f.lon_deg, f.lat_deg]}, id=f.id,
                  category=f.category, status=f.status, score=f.score, seen_count=f.seen_count,
                  first_seen=_iso(f.first_seen_utc), last_seen=_iso(f.last_seen_utc),
                  evidence_path=f.evidence_path, case_id=case_id, case_code=code,
                  case_status=case_status)
         for f, case_id, code, case_status in rows[:limit]),
        truncated=len(rows) > limit)


def photos_collection(session: Session, *, flight_id: int | None = None,
                      limit: int = MAP_LIMIT) -> dict[str, Any]:
    """Photos: their ground footprint Polygon when georeferenced, else their position Point
    (newest first, at most ``limit``; ``truncated`` says whether more matched)."""
    stmt = (sa.select(Photo).where(Photo.lat_deg.is_not(None), Photo.lon_deg.is_not(None))
            .order_by(Photo.taken_utc.desc(), Photo.id.desc()).limit(limit + 1))
    if flight_id is not None:
        stmt = stmt.where(Photo.flight_id == flight_id)
    photos = list(session.scalars(stmt))
    return feature_collection((
        _feature(p.footprint or {"type": "Point", "coordinates": [p.lon_deg, p.lat_deg]},
                 id=p.id, name=p.original_name, photo_set=p.photo_set, flight_id=p.flight_id,
                 taken=_iso(p.taken_utc), alt_rel_m=p.alt_rel_m, stored_path=p.stored_path,
                 position_source=p.position_source, lat_deg=p.lat_deg, lon_deg=p.lon_deg)
        for p in photos[:limit]), truncated=len(photos) > limit)


def _map_positions(coords: Any, fn: Callable[[float, float], tuple[float, float]]) -> Any:
    if coords and isinstance(coords[0], (int, float)):
        return [*fn(coords[0], coords[1]), *coords[2:]]
    return [_map_positions(c, fn) for c in coords]


def _map_geometry(geometry: dict[str, Any] | None, fn) -> dict[str, Any] | None:
    if not geometry:
        return geometry
    if geometry["type"] == "GeometryCollection":
        return {**geometry, "geometries": [_map_geometry(g, fn) for g in geometry["geometries"]]}
    return {**geometry, "coordinates": _map_positions(geometry["coordinates"], fn)}


def to_display_crs(collection: dict[str, Any], crs: str) -> dict[str, Any]:
    """The collection in the basemap's datum: unchanged for ``"wgs84"``, shifted for ``"gcj02"``.

    Raises
    ------
    ValueError
        If ``crs`` is not one of :data:`DISPLAY_CRS`.

    Examples
    --------
    >>> fc = feature_collection([_feature({"type": "Point", "coordinates": [121.0185, 30.7005]})])
    >>> shifted = to_display_crs(fc, "gcj02")["features"][0]["geometry"]["coordinates"]
    >>> [round(v, 4) for v in shifted]  # GCJ-02 is offset by a few hundred metres here
    [121.0229, 30.6982]
    >>> to_display_crs(fc, "wgs84") is fc
    True
    """
    if crs not in DISPLAY_CRS:
        raise ValueError(f"display CRS {crs!r} is not one of {DISPLAY_CRS}")
    if crs == "wgs84":
        return collection
    return {**collection, "features": [
        {**f, "geometry": _map_geometry(f["geometry"], wgs84_to_gcj02)}
        for f in collection["features"]]}
