"""Places: squads (中队) and their jurisdictions, unit grids (单元网格) inside them.

- :func:`grid_for_point` / :class:`GridIndex`: the grid holding a WGS84 point (the rule of
  :func:`web.cases.squad_for_point`: containment in lon/lat, a point on a shared edge goes to
  the smaller polygon, then the older row).
- :func:`check_polygon`, :func:`polygon_from_text`, :func:`polygon_from_upload`: one
  (Multi)Polygon from a drawn GeoJSON geometry or an uploaded GeoJSON/KML/KMZ file.
- :func:`save_squad`, :func:`save_grid`, :func:`delete_grid`: the admin's edits, checked (a
  grid lies inside its squad's jurisdiction and overlaps no other grid of it; a squad's new
  jurisdiction still holds its grids) and written to the audit trail.
- :func:`import_squads`, :func:`import_grids`: GeoJSON FeatureCollections, all checked before
  anything changes. :func:`grid_cells` cuts a jurisdiction into regular cells (the demo's
  generated grids).

Geometry is GeoJSON in WGS84 degrees; areas and overlaps are measured in metres in the local
UTM zone (:class:`patrol.geodesy.LocalProjection`). Functions take a ``session`` and never
commit.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import shapely
import sqlalchemy as sa
from flask_babel import gettext as _
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree
from sqlalchemy.orm import Session

from patrol.db import utcnow
from patrol.geodesy import LocalProjection, gcj02_to_wgs84
from web.errors import WebError
from web.models import AuditEvent, Grid, Squad, User

__all__ = [
    "EDGE_TOLERANCE_M",
    "OVERLAP_TOLERANCE_M2",
    "GridIndex",
    "check_polygon",
    "delete_grid",
    "grid_cells",
    "grid_for_point",
    "import_grids",
    "import_squads",
    "outside_part_m2",
    "polygon_from_text",
    "polygon_from_upload",
    "save_grid",
    "save_squad",
    "to_geojson",
]

EDGE_TOLERANCE_M = 0.5
"""How far (metres) a grid may stick out of its jurisdiction and still count as inside: drawn
and traced edges never coincide exactly."""

OVERLAP_TOLERANCE_M2 = 1.0
"""Overlap (square metres) tolerated between two grids of a squad (shared, retraced edges)."""


def _audit(session: Session, user: User | None, action: str, target_type: str, target_id: int,
           note: str = "", data: dict[str, Any] | None = None,
           now: dt.datetime | None = None) -> None:
    session.add(AuditEvent(at=now or utcnow(), user_id=user.id if user is not None else None,
                           action=action, target_type=target_type, target_id=target_id,
                           note=note, data=data or {}))


# --- polygons --------------------------------------------------------------------------------

def check_polygon(geometry: Any, where: str) -> BaseGeometry:
    """The shapely (Multi)Polygon of a GeoJSON geometry dict, checked.

    Parameters
    ----------
    geometry : dict
        A GeoJSON Polygon or MultiPolygon in WGS84 longitude/latitude degrees (a Feature is
        accepted and its geometry taken); a third coordinate is dropped.
    where : str
        What the geometry is, for messages (``"squad 'X': jurisdiction"``).

    Raises
    ------
    WebError
        ``"<where>: ..."`` if it is not a GeoJSON (Multi)Polygon, is empty, invalid
        (self-intersecting...), or has coordinates outside longitude/latitude ranges.

    >>> check_polygon({"type": "Point", "coordinates": [121, 30]}, "zone")
    Traceback (most recent call last):
    ...
    web.errors.WebError: zone: geometry is 'Point', not a Polygon or MultiPolygon
    """
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not isinstance(geometry, dict):
        raise WebError(_("%(where)s: not a GeoJSON geometry object", where=where))
    if geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise WebError(_("%(where)s: geometry is %(type)r, not a Polygon or MultiPolygon",
                         where=where, type=geometry.get("type")))
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError,
            shapely.errors.ShapelyError) as err:
        raise WebError(_("%(where)s: malformed coordinates: %(error)s", where=where,
                         error=err)) from err
    if geom.is_empty:
        raise WebError(_("%(where)s: the polygon is empty", where=where))
    if geom.has_z:
        geom = shapely.force_2d(geom)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise WebError(_("%(where)s: coordinates outside WGS84 longitude/latitude ranges "
                         "(bounds %(bounds)s); projected coordinates are not accepted",
                         where=where, bounds=tuple(round(v, 6) for v in geom.bounds)))
    if not geom.is_valid:
        raise WebError(_("%(where)s: invalid polygon: %(reason)s", where=where,
                         reason=shapely.is_valid_reason(geom)))
    return geom


def _gcj02_to_wgs84(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(
        geom, lambda xy: [gcj02_to_wgs84(float(x), float(y)) for x, y in xy])


def polygon_from_text(text: str, where: str, *, crs: str = "wgs84") -> dict[str, Any]:
    """A drawn geometry (GeoJSON text from the map editor) as a checked WGS84 GeoJSON dict.

    ``crs`` is the datum the map was drawn in: ``"wgs84"``, or ``"gcj02"`` when the console
    shows a Chinese basemap (converted to WGS84 here).

    Raises
    ------
    WebError
        If the text is empty or not JSON, or :func:`check_polygon` rejects it.
    """
    if not text or not text.strip():
        raise WebError(_("%(where)s: no polygon: draw one on the map or upload a file",
                         where=where))
    try:
        geometry = json.loads(text)
    except json.JSONDecodeError as err:
        raise WebError(_("%(where)s: the drawn geometry is not JSON: %(error)s", where=where,
                         error=err)) from err
    if isinstance(geometry, dict) and geometry.get("type") == "FeatureCollection":
        polys = [check_polygon(f, f"{where}: feature {i}")
                 for i, f in enumerate(geometry.get("features") or [])]
        if not polys:
            raise WebError(_("%(where)s: no polygon: draw one on the map or upload a file",
                             where=where))
        geom = shapely.union_all(polys) if len(polys) > 1 else polys[0]
    else:
        geom = check_polygon(geometry, where)
    if crs == "gcj02":
        geom = _gcj02_to_wgs84(geom)
    elif crs != "wgs84":
        raise WebError(_("%(where)s: unknown map datum %(crs)r (wgs84 or gcj02)", where=where,
                         crs=crs))
    return to_geojson(geom)


def polygon_from_upload(filename: str, content: bytes, where: str, *,
                        coordinates: str = "wgs84") -> dict[str, Any]:
    """The (Multi)Polygon of an uploaded GeoJSON/KML/KMZ file, as a WGS84 GeoJSON dict.

    The file is read by :func:`web.planning.areas_from_upload` (which converts GCJ-02 when
    ``coordinates="gcj02"``); all polygon features are joined (a jurisdiction in pieces
    becomes a MultiPolygon). Lines and points in the file are ignored.

    Raises
    ------
    WebError
        Naming the uploaded file: unsupported type, empty, too large, unreadable, or holding
        no polygon; or the joined polygon is invalid.
    """
    from web.planning import areas_from_upload

    specs = areas_from_upload(filename, content, coordinates=coordinates)
    polys = [s.geometry for s in specs if s.geometry.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        raise WebError(_("%(where)s: %(file)s: the file holds no polygon (found %(types)s)",
                         where=where, file=filename,
                         types=", ".join(sorted({s.geometry.geom_type for s in specs}))))
    geom = shapely.union_all(polys) if len(polys) > 1 else polys[0]
    return to_geojson(check_polygon(to_geojson(geom), f"{where}: {filename}"))


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """A plain-JSON GeoJSON dict (lists, not tuples) of a shapely geometry."""
    return json.loads(json.dumps(mapping(geom)))


def outside_part_m2(inner: BaseGeometry, outer: BaseGeometry) -> float:
    """Area (square metres, local UTM) of ``inner`` lying outside ``outer`` grown by
    :data:`EDGE_TOLERANCE_M`: 0 when ``inner`` lies inside.

    >>> sq = box(121.0, 30.7, 121.01, 30.71)
    >>> outside_part_m2(box(121.002, 30.702, 121.004, 30.704), sq)
    0.0
    >>> round(outside_part_m2(box(121.009, 30.702, 121.011, 30.704), sq) / 1e3)  # ~ 96 m x 222 m
    21
    """
    proj = LocalProjection.for_geometry(outer)
    inner_xy, outer_xy = proj.project(inner), proj.project(outer)
    return float(inner_xy.difference(outer_xy.buffer(EDGE_TOLERANCE_M)).area)


# --- squads ----------------------------------------------------------------------------------

def save_squad(session: Session, *, name: str, site: str, jurisdiction: dict[str, Any],
               squad: Squad | None = None, user: User | None = None,
               now: dt.datetime | None = None) -> Squad:
    """Create a squad, or change ``squad``'s name, site and jurisdiction; audited
    (``squad.create`` / ``squad.update``).

    Raises
    ------
    WebError
        If the name or site is empty, the name is taken by another squad, the jurisdiction is
        not a valid WGS84 (Multi)Polygon, or (when changing it) some of the squad's grids would
        lie outside the new jurisdiction (the message lists their codes).
    """
    name, site = name.strip(), site.strip()
    if not name:
        raise WebError(_("squad: the name is empty"))
    if not site:
        raise WebError(_("squad %(name)r: the site is empty", name=name))
    geom = check_polygon(jurisdiction, f"squad {name!r}: jurisdiction")
    other = session.scalar(sa.select(Squad.id).where(Squad.name == name))
    if other is not None and (squad is None or other != squad.id):
        raise WebError(_("squad %(name)r exists already", name=name))
    if squad is not None:
        outside = [g.code for g in squad.grids if outside_part_m2(shape(g.polygon), geom) > 0]
        if outside:
            raise WebError(_("squad %(name)r: grids %(codes)s would lie outside the new "
                             "jurisdiction; change or delete them first", name=name,
                             codes=", ".join(sorted(outside))))
    action = "squad.update" if squad is not None else "squad.create"
    before = {"name": squad.name, "site": squad.site} if squad is not None else {}
    if squad is None:
        squad = Squad(name=name, site=site, jurisdiction=to_geojson(geom), properties={})
        session.add(squad)
    else:
        squad.name, squad.site, squad.jurisdiction = name, site, to_geojson(geom)
    session.flush()
    _audit(session, user, action, "squad", squad.id, data={"name": name, "site": site,
                                                           "before": before}, now=now)
    return squad


def _check_feature(feature: object) -> str | None:
    """What is wrong with one squad feature, or None."""
    if not isinstance(feature, dict):
        return _("not a GeoJSON Feature object")
    props = feature.get("properties") or {}
    if not str(props.get("name") or "").strip():
        return _("properties.name (the squad's name) is missing")
    if not str(props.get("site") or "").strip():
        return _("properties.site is missing")
    try:
        check_polygon(feature.get("geometry") or {}, "geometry")
    except WebError as err:
        return str(err).removeprefix("geometry: ")
    return None


def _features(content: bytes | str, source: str, what: str) -> list[Any]:
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WebError(_("%(source)s: cannot read the %(what)s GeoJSON: %(error)s", source=source,
                         what=what, error=err)) from err
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise WebError(_("%(source)s: expected a GeoJSON FeatureCollection of %(what)s",
                         source=source, what=what))
    features = doc.get("features")
    if not isinstance(features, list):
        raise WebError(_("%(source)s: 'features' is not a list", source=source))
    return features


def import_squads(session: Session, content: bytes | str, *, source: str = "upload",
                  user: User | None = None) -> list[Squad]:
    """Create or update (by name) the squads of a GeoJSON FeatureCollection.

    Each Feature is one squad: ``properties.name`` (unique), ``properties.site``, and the
    jurisdiction as its (Multi)Polygon geometry in WGS84; the other properties are kept in
    ``Squad.properties``. The whole file is checked before anything changes; when a ``user``
    is given each squad is audited (``squad.import``).

    Returns
    -------
    list of Squad
        In file order.

    Raises
    ------
    WebError
        If the content is not a FeatureCollection, or any feature lacks a name or site or has
        no valid (Multi)Polygon, or a name appears twice, or an existing squad's grids would
        fall outside its new jurisdiction; the message starts with ``source`` and names every
        bad feature.
    """
    features = _features(content, source, "squads")
    problems = [f"feature {i}: {why}" for i, f in enumerate(features)
                if (why := _check_feature(f)) is not None]
    names = [str(f["properties"]["name"]).strip() for f in features] if not problems else []
    problems += [_("squad name %(name)r appears twice", name=n) for n in sorted(set(names))
                 if names.count(n) > 1]
    existing = {s.name: s for s in session.scalars(sa.select(Squad).where(Squad.name.in_(names)))}
    for name, feature in zip(names, features):
        squad = existing.get(name)
        if squad is not None:
            geom = shape(feature["geometry"])
            outside = [g.code for g in squad.grids if outside_part_m2(shape(g.polygon), geom) > 0]
            if outside:
                problems.append(_("squad %(name)r: grids %(codes)s would lie outside the new "
                                  "jurisdiction", name=name, codes=", ".join(sorted(outside))))
    if problems:
        raise WebError(f"{source}: " + "; ".join(problems))
    squads = []
    for name, feature in zip(names, features):
        props = dict(feature["properties"])
        props.pop("name")
        site = str(props.pop("site")).strip()
        squad = existing.get(name) or Squad(name=name)
        squad.site = site
        squad.jurisdiction = to_geojson(check_polygon(feature["geometry"], name))
        squad.properties = props
        session.add(squad)
        squads.append(squad)
    session.flush()
    if user is not None:
        for squad in squads:
            _audit(session, user, "squad.import", "squad", squad.id,
                   data={"name": squad.name, "source": source})
    return squads


# --- grids -----------------------------------------------------------------------------------

def _grid_problems(session: Session, *, code: str, squad: Squad, geom: BaseGeometry,
                   grid_id: int | None, pending: Sequence[tuple[str, BaseGeometry]] = ()
                   ) -> list[str]:
    """What prevents a grid ``code`` with polygon ``geom`` in ``squad`` (empty: nothing)."""
    problems = []
    other = session.scalar(sa.select(Grid.id).where(Grid.code == code))
    if other is not None and other != grid_id:
        problems.append(_("grid code %(code)r is used by another grid", code=code))
    jurisdiction = shape(squad.jurisdiction)
    outside = outside_part_m2(geom, jurisdiction)
    if outside > 0:
        problems.append(_("grid %(code)r is not inside the jurisdiction of squad %(squad)r: "
                          "%(area).0f m² lies outside it", code=code, squad=squad.name,
                          area=outside))
    proj = LocalProjection.for_geometry(jurisdiction)
    geom_xy = proj.project(geom)
    siblings = [(g.code, shape(g.polygon)) for g in squad.grids
                if g.id != grid_id and g.code != code] + list(pending)
    for sibling_code, sibling in siblings:
        if not sibling.intersects(geom):
            continue
        overlap = geom_xy.intersection(proj.project(sibling)).area
        if overlap > OVERLAP_TOLERANCE_M2:
            problems.append(_("grid %(code)r overlaps grid %(other)r by %(area).0f m²", code=code,
                              other=sibling_code, area=overlap))
    return problems


def save_grid(session: Session, *, code: str, name: str, squad: Squad,
              polygon: dict[str, Any], grid: Grid | None = None, user: User | None = None,
              now: dt.datetime | None = None) -> Grid:
    """Create a unit grid in ``squad``, or change ``grid``; audited (``grid.create`` /
    ``grid.update``).

    Parameters
    ----------
    code : str
        The bureau's grid code (unique; codes vary by city, none is assumed).
    polygon : dict
        GeoJSON Polygon (or MultiPolygon) in WGS84.

    Raises
    ------
    WebError
        If the code is empty or taken, the polygon is invalid, lies (more than
        :data:`EDGE_TOLERANCE_M` beyond the edge) outside the squad's jurisdiction, or overlaps
        another grid of the squad by more than :data:`OVERLAP_TOLERANCE_M2`.
    """
    code, name = code.strip(), name.strip()
    if not code:
        raise WebError(_("grid: the code is empty"))
    geom = check_polygon(polygon, f"grid {code!r}: polygon")
    problems = _grid_problems(session, code=code, squad=squad, geom=geom,
                              grid_id=grid.id if grid is not None else None)
    if problems:
        raise WebError("; ".join(problems))
    action = "grid.update" if grid is not None else "grid.create"
    before = ({"code": grid.code, "name": grid.name, "squad_id": grid.squad_id}
              if grid is not None else {})
    if grid is None:
        grid = Grid(code=code, name=name, squad=squad, polygon=to_geojson(geom))
        session.add(grid)
    else:
        grid.code, grid.name, grid.squad, grid.polygon = code, name, squad, to_geojson(geom)
    session.flush()
    _audit(session, user, action, "grid", grid.id,
           data={"code": code, "name": name, "squad_id": squad.id, "before": before}, now=now)
    return grid


def delete_grid(session: Session, grid: Grid, *, user: User | None = None,
                now: dt.datetime | None = None) -> None:
    """Delete a grid (cases keep their place; their ``grid_id`` is cleared); audited."""
    from web.models import Case

    session.execute(sa.update(Case).where(Case.grid_id == grid.id).values(grid_id=None))
    _audit(session, user, "grid.delete", "grid", grid.id,
           data={"code": grid.code, "name": grid.name, "squad_id": grid.squad_id}, now=now)
    session.delete(grid)
    session.flush()


def import_grids(session: Session, content: bytes | str, *, source: str = "upload",
                 user: User | None = None) -> list[Grid]:
    """Create or update (by code) the grids of a GeoJSON FeatureCollection.

    Each Feature is one grid: ``properties.code`` (unique), ``properties.name`` (optional),
    ``properties.squad`` (the squad's name; when absent, the squad whose jurisdiction holds
    the grid's representative point) and a Polygon/MultiPolygon geometry in WGS84. Every grid
    is checked as :func:`save_grid` does, against the stored grids and the file's other grids,
    before anything changes.

    Raises
    ------
    WebError
        Starting with ``source`` and listing every bad feature.
    """
    from web.cases import squad_for_point

    features = _features(content, source, "grids")
    problems: list[str] = []
    rows: list[tuple[str, str, Squad, BaseGeometry]] = []
    codes: list[str] = []
    for i, feature in enumerate(features):
        if not isinstance(feature, dict):
            problems.append(_("feature %(i)d: not a GeoJSON Feature object", i=i))
            continue
        props = feature.get("properties") or {}
        code = str(props.get("code") or "").strip()
        if not code:
            problems.append(_("feature %(i)d: properties.code (the grid code) is missing", i=i))
            continue
        codes.append(code)
        try:
            geom = check_polygon(feature.get("geometry") or {}, f"feature {i} ({code})")
        except WebError as err:
            problems.append(str(err))
            continue
        squad_name = str(props.get("squad") or "").strip()
        if squad_name:
            squad = session.scalars(sa.select(Squad).where(Squad.name == squad_name)).first()
            if squad is None:
                problems.append(_("feature %(i)d (%(code)s): no squad named %(squad)r", i=i,
                                  code=code, squad=squad_name))
                continue
        else:
            point = geom.representative_point()
            squad = squad_for_point(session, point.x, point.y)
            if squad is None:
                problems.append(_("feature %(i)d (%(code)s): outside every squad's jurisdiction "
                                  "(name the squad in properties.squad)", i=i, code=code))
                continue
        rows.append((code, str(props.get("name") or "").strip(), squad, geom))
    problems += [_("grid code %(code)r appears twice", code=c) for c in sorted(set(codes))
                 if codes.count(c) > 1]
    if not problems:
        existing = {g.code: g for g in session.scalars(sa.select(Grid).where(Grid.code.in_(codes)))}
        for i, (code, _name, squad, geom) in enumerate(rows):
            pending = [(c, g) for c, _n, s, g in rows[:i] if s is squad]
            grid = existing.get(code)
            problems += _grid_problems(session, code=code, squad=squad, geom=geom,
                                       grid_id=grid.id if grid is not None else None,
                                       pending=pending)
    if problems:
        raise WebError(f"{source}: " + "; ".join(problems))
    grids = []
    for code, name, squad, geom in rows:
        grid = existing.get(code) or Grid(code=code)
        grid.name, grid.squad, grid.polygon = name, squad, to_geojson(geom)
        session.add(grid)
        grids.append(grid)
    session.flush()
    if user is not None:
        for grid in grids:
            _audit(session, user, "grid.import", "grid", grid.id,
                   data={"code": grid.code, "squad_id": grid.squad_id, "source": source})
    return grids


def grid_cells(jurisdiction: dict[str, Any] | BaseGeometry, cell_m: float
               ) -> list[tuple[int, int, dict[str, Any]]]:
    """Cut a jurisdiction into square cells of ``cell_m`` metres (local UTM), clipped to it.

    Cells are aligned on the jurisdiction's south-west corner; a cell's part inside the
    jurisdiction is kept when it is at least a tenth of a cell (smaller slivers are dropped,
    so the cells cover the jurisdiction except those slivers).

    Returns
    -------
    list of (row, col, polygon)
        ``row`` counts from the south, ``col`` from the west (1-based); ``polygon`` a GeoJSON
        (Multi)Polygon in WGS84 lying inside the jurisdiction.

    Raises
    ------
    ValueError
        If ``cell_m`` is not positive.

    >>> cells = grid_cells(box(121.0, 30.70, 121.01, 30.71), 500.0)  # about 960 m x 1110 m
    >>> len(cells), cells[0][:2]
    (6, (1, 1))
    """
    if not cell_m > 0:
        raise ValueError(f"cell size must be positive, got {cell_m} m")
    geom = jurisdiction if isinstance(jurisdiction, BaseGeometry) else shape(jurisdiction)
    proj = LocalProjection.for_geometry(geom)
    geom_xy = proj.project(geom)
    minx, miny, maxx, maxy = geom_xy.bounds
    rows, cols = math.ceil((maxy - miny) / cell_m), math.ceil((maxx - minx) / cell_m)
    cells = []
    for r in range(rows):
        for c in range(cols):
            x0, y0 = minx + c * cell_m, miny + r * cell_m
            part = box(x0, y0, x0 + cell_m, y0 + cell_m).intersection(geom_xy)
            part = _polygonal(part)
            if part is None or part.area < 0.1 * cell_m * cell_m:
                continue
            # back to degrees, then shrunk by a centimetre so rounding never leaves it outside
            ll = _polygonal(proj.unproject(part.buffer(-0.01)))
            if ll is None:
                continue
            ll = shapely.set_precision(ll, 1e-7)
            cells.append((r + 1, c + 1, to_geojson(ll)))
    return cells


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygonal part of ``geom`` (a Polygon or MultiPolygon), or None."""
    if isinstance(geom, (Polygon, MultiPolygon)):
        return None if geom.is_empty else geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


# --- lookups ---------------------------------------------------------------------------------

class GridIndex:
    """The grids of the database in an R-tree, for many lookups in one go (exports,
    statistics, filing many cases): build once, then :meth:`grid_id_at` per point.

    Parameters
    ----------
    grids : iterable of Grid
        Usually ``session.scalars(select(Grid))``; their polygons are read once.
    """

    def __init__(self, grids: Iterable[Grid]) -> None:
        rows = [(shape(g.polygon), g.id, g) for g in grids]
        self._geoms = [r[0] for r in rows]
        self._ids = [r[1] for r in rows]
        self._grids = [r[2] for r in rows]
        self._areas = [g.area for g in self._geoms]
        self._tree = STRtree(self._geoms) if self._geoms else None

    @classmethod
    def from_session(cls, session: Session) -> "GridIndex":
        """The index of every grid in the database."""
        return cls(session.scalars(sa.select(Grid).order_by(Grid.id)))

    def _best(self, lon_deg: float, lat_deg: float) -> int | None:
        if self._tree is None:
            return None
        point = Point(lon_deg, lat_deg)
        hits = [int(i) for i in self._tree.query(point) if self._geoms[int(i)].covers(point)]
        if not hits:
            return None
        return min(hits, key=lambda i: (self._areas[i], self._ids[i]))

    def grid_id_at(self, lon_deg: float, lat_deg: float) -> int | None:
        """The id of the grid holding the WGS84 point, or None."""
        best = self._best(lon_deg, lat_deg)
        return None if best is None else self._ids[best]

    def grid_at(self, lon_deg: float, lat_deg: float) -> Grid | None:
        """The grid holding the WGS84 point, or None."""
        best = self._best(lon_deg, lat_deg)
        return None if best is None else self._grids[best]


def grid_for_point(session: Session, lon_deg: float, lat_deg: float) -> Grid | None:
    """The unit grid whose polygon holds a WGS84 point, or None outside every grid.

    Containment is tested in longitude/latitude (GeoJSON's straight edges, RFC 7946); a point
    on an edge shared by two grids belongs to the smaller one, then the older one. Only grids
    whose bounding box holds the point are read. For many points build a :class:`GridIndex`.

    Raises
    ------
    ValueError
        If the point is not a WGS84 position.
    """
    if not (-180.0 <= lon_deg <= 180.0 and -90.0 <= lat_deg <= 90.0):
        raise ValueError(f"not a WGS84 position: lon {lon_deg}, lat {lat_deg}")
    squad_ids = [s.id for s in session.scalars(sa.select(Squad))
                 if shape(s.jurisdiction).buffer(1e-5).covers(Point(lon_deg, lat_deg))]
    if not squad_ids:
        return None
    grids = session.scalars(sa.select(Grid).where(Grid.squad_id.in_(squad_ids))
                            .order_by(Grid.id))
    return GridIndex(grids).grid_at(lon_deg, lat_deg)
