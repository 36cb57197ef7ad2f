"""Routes as KML/KMZ (Google Earth): write a mission for viewing, read it (or a drawn line) back.

Written document (OGC KML 2.2, https://docs.ogc.org/is/12-007r2/12-007r2.html):

- ``Route``: the flown path as a LineString, ``altitudeMode`` ``relativeToGround``: home at
  0 m, the take-off climb, every NAV item with a position at its altitude, the return or
  landing. MAVLink altitudes are above home (take-off), KML's ``relativeToGround`` is above
  the terrain under each vertex: the two agree over flat ground only, so the line is a picture
  of the route, not a terrain-checked one.
- ``Home``: item 0 at its altitude above mean sea level (``absolute``).
- Folder ``mission_items``: one Placemark per mission item, named ``"<index> <MAV_CMD name>"``,
  a Point where the item has a place, and the item's fields in ``ExtendedData`` (``seq``,
  ``command``, ``frame``, ``param1``-``param4``, ``x`` = latitude, ``y`` = longitude,
  ``z`` = altitude, ``autocontinue``) written with full float precision, so reading the file
  back gives the very same items.
- Folder ``photos``: the planned photo positions of a :class:`~missions.plan.RoutePlan`.
- Folder ``geofence``: fence polygons (inclusion/exclusion) and circles (drawn as 72-gons,
  centre and radius in ``ExtendedData``); folder ``rally_points``; folder ``complex_items``:
  the polygon or polyline and settings of QGroundControl ComplexItems.

KMZ is the same document zipped as ``doc.kml`` (the KMZ convention,
https://developers.google.com/kml/documentation/kmzarchives).

Reading: a file with a ``mission_items`` folder gives back its items, fence, rally points and
complex items exactly; any other KML gives a route from its LineString(s): home at the first
vertex, then each vertex a MAV_CMD_NAV_WAYPOINT at its altitude (``relativeToGround`` ->
MAV_FRAME_GLOBAL_RELATIVE_ALT, ``absolute`` -> MAV_FRAME_GLOBAL; a clamped line has no
altitude and needs ``alt_rel_m``).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import LineString, Point, Polygon

from missions.areas import _children, _descendants, _local
from missions.errors import PlanFileError
from missions.items import MissionItem, command_name, home_item, waypoint_item
from missions.mission_file import MissionFile
from missions.plan import RoutePlan
from missions.route_source import (
    Notes,
    RouteData,
    finite,
    has_location,
    num_text,
    route_data,
    write_zip,
)
from patrol.geodesy import LocalProjection

__all__ = ["KML_NS", "route_kml", "write_route_kml", "read_route_kml", "kml_bytes_of"]

KML_NS = "http://www.opengis.net/kml/2.2"
_RELATIVE_FRAMES = {mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                    mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
                    mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT, mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT}
_ABSOLUTE_FRAMES = {mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_INT}
_ITEM_FIELDS = ("seq", "command", "frame", "param1", "param2", "param3", "param4",
                "x", "y", "z", "autocontinue")
_CIRCLE_SIDES = 72


def _coord(lon: float, lat: float, alt: float | None = None) -> str:
    return f"{num_text(lon)},{num_text(lat)}" + ("" if alt is None else f",{num_text(alt)}")


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrib: str) -> ET.Element:
    elem = ET.SubElement(parent, tag, attrib)
    if text is not None:
        elem.text = str(text)
    return elem


def _extended(parent: ET.Element, values: dict[str, Any]) -> None:
    ext = _sub(parent, "ExtendedData")
    for key, value in values.items():
        _sub(_sub(ext, "Data", name=key), "value", value)


def _style(doc: ET.Element, sid: str, *, line: str | None = None, width: float = 2.0,
           poly: str | None = None, icon_scale: float | None = None,
           icon_color: str | None = None) -> None:
    style = _sub(doc, "Style", id=sid)
    if icon_scale is not None:
        icon = _sub(style, "IconStyle")
        if icon_color:
            _sub(icon, "color", icon_color)
        _sub(icon, "scale", icon_scale)
    if line is not None:
        ls = _sub(style, "LineStyle")
        _sub(ls, "color", line)
        _sub(ls, "width", width)
    if poly is not None:
        _sub(_sub(style, "PolyStyle"), "color", poly)


def _placemark(parent: ET.Element, name: str, style: str | None = None,
               description: str | None = None) -> ET.Element:
    pm = _sub(parent, "Placemark")
    _sub(pm, "name", name)
    if description:
        _sub(pm, "description", description)
    if style:
        _sub(pm, "styleUrl", f"#{style}")
    return pm


def _point(pm: ET.Element, lon: float, lat: float, alt: float | None, mode: str) -> None:
    pt = _sub(pm, "Point")
    _sub(pt, "altitudeMode", mode)
    _sub(pt, "coordinates", _coord(lon, lat, alt))


def _polygon(pm: ET.Element, poly: Polygon) -> None:
    pg = _sub(pm, "Polygon")
    _sub(pg, "tessellate", 1)
    _sub(pg, "altitudeMode", "clampToGround")
    for tag, ring in [("outerBoundaryIs", poly.exterior)] + [
            ("innerBoundaryIs", r) for r in poly.interiors]:
        lr = _sub(_sub(pg, tag), "LinearRing")
        _sub(lr, "coordinates", " ".join(_coord(x, y) for x, y, *_ in ring.coords))


def _frame_name(frame: int) -> str:
    entry = mavlink.enums["MAV_FRAME"].get(frame)
    return entry.name if entry is not None else f"MAV_FRAME {frame}"


def _alt_rel(item: MissionItem, home: MissionItem) -> float:
    """Altitude of a located item above home (m)."""
    if item.frame in _ABSOLUTE_FRAMES and finite(home.alt_m):
        return item.alt_m - home.alt_m
    return item.alt_m


def flown_path(items: Sequence[MissionItem]) -> list[tuple[float, float, float]]:
    """The path a copter flies through ``items``: (lon, lat, alt above home in m) vertices.

    Home at 0 m, a climb at the take-off, each located NAV item at its altitude, and for
    MAV_CMD_NAV_RETURN_TO_LAUNCH / MAV_CMD_NAV_LAND the way back down.
    """
    home = items[0]
    pts = [(home.lon_deg, home.lat_deg, 0.0)]
    for item in items[1:]:
        lon, lat, alt = pts[-1]
        if item.command == mavlink.MAV_CMD_NAV_TAKEOFF:
            lon, lat = (item.lon_deg, item.lat_deg) if has_location(item) else (lon, lat)
            pts.append((lon, lat, _alt_rel(item, home)))
        elif item.command == mavlink.MAV_CMD_NAV_LAND:
            if has_location(item):
                pts.append((item.lon_deg, item.lat_deg, alt))
            pts.append((pts[-1][0], pts[-1][1], 0.0))
        elif item.command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            pts += [(home.lon_deg, home.lat_deg, alt), (home.lon_deg, home.lat_deg, 0.0)]
        elif item.has_position and has_location(item):
            pts.append((item.lon_deg, item.lat_deg, _alt_rel(item, home)))
    return pts


def _item_description(item: MissionItem) -> str:
    params = ", ".join(f"param{k} {num_text(v)}" for k, v in enumerate(
        (item.param1, item.param2, item.param3, item.param4), start=1))
    return (f"{command_name(item.command)} ({item.command}), frame {_frame_name(item.frame)}, "
            f"{params}, x {num_text(item.lat_deg)}, y {num_text(item.lon_deg)}, "
            f"z {num_text(item.alt_m)}")


def _circle(center: tuple[float, float], radius_m: float) -> Polygon:
    proj = LocalProjection.for_point(*center)
    return proj.unproject(Point(proj.to_xy(*center)).buffer(radius_m, quad_segs=_CIRCLE_SIDES // 4))


def route_kml(route: RoutePlan | MissionFile | RouteData | Sequence[MissionItem], *,
              name: str | None = None) -> tuple[bytes, Notes]:
    """The KML document of a route (see the module notes) and what it could not carry.

    Parameters
    ----------
    route : RoutePlan, MissionFile, RouteData or sequence of MissionItem
        Items with item 0 = home.
    name : str, optional
        Document name (default: the route's).

    Returns
    -------
    (bytes, Notes)
        UTF-8 KML, and the notes (empty: KML carries every item, fence, rally point and
        complex item).
    """
    data = route if isinstance(route, RouteData) else route_data(route)
    notes = Notes()
    root = ET.Element("kml", xmlns=KML_NS)
    doc = _sub(root, "Document")
    _sub(doc, "name", name or data.name)
    _style(doc, "route", line="ff0000ff", width=3)
    _style(doc, "home", icon_scale=1.2, icon_color="ff00ffff")
    _style(doc, "item", icon_scale=0.8, icon_color="ffffffff")
    _style(doc, "photo", icon_scale=0.4, icon_color="ff00ff00")
    _style(doc, "inclusion", line="ff00ff00", poly="2000ff00")
    _style(doc, "exclusion", line="ff0000ff", poly="600000ff")
    _style(doc, "rally", icon_scale=1.0, icon_color="ffff8000")

    items = data.items
    home = items[0]
    route_pm = _placemark(doc, "Route", "route", f"{len(items)} mission items")
    line = _sub(route_pm, "LineString")
    _sub(line, "tessellate", 1)
    _sub(line, "altitudeMode", "relativeToGround")
    _sub(line, "coordinates", " ".join(_coord(*p) for p in flown_path(items)))

    home_pm = _placemark(doc, "Home", "home", "item 0: home, altitude above mean sea level")
    _point(home_pm, home.lon_deg, home.lat_deg, home.alt_m if finite(home.alt_m) else 0.0,
           "absolute")

    folder = _sub(doc, "Folder", id="mission_items")
    _sub(folder, "name", "Mission items")
    for seq, item in enumerate(items):
        label = "home" if seq == 0 else command_name(item.command)
        pm = _placemark(folder, f"{seq} {label}", "item", _item_description(item))
        _extended(pm, {"seq": seq, "command": item.command, "frame": item.frame,
                       "param1": num_text(item.param1), "param2": num_text(item.param2),
                       "param3": num_text(item.param3), "param4": num_text(item.param4),
                       "x": num_text(item.lat_deg), "y": num_text(item.lon_deg),
                       "z": num_text(item.alt_m),
                       "autocontinue": int(bool(item.autocontinue))})
        if has_location(item):
            mode = "absolute" if item.frame in _ABSOLUTE_FRAMES else "relativeToGround"
            _point(pm, item.lon_deg, item.lat_deg, item.alt_m if finite(item.alt_m) else 0.0,
                   mode)

    if data.photo_positions_wgs84:
        photos = _sub(doc, "Folder", id="photos")
        _sub(photos, "name", f"Photos ({len(data.photo_positions_wgs84)})")
        for k, (lon, lat) in enumerate(data.photo_positions_wgs84):
            _point(_placemark(photos, f"photo {k}", "photo"), lon, lat, None, "clampToGround")

    if data.geofence_polygons or data.geofence_circles:
        fence = _sub(doc, "Folder", id="geofence")
        _sub(fence, "name", "Geofence")
        for k, (poly, inclusion) in enumerate(data.geofence_polygons):
            kind = "inclusion" if inclusion else "exclusion"
            pm = _placemark(fence, f"fence polygon {k} ({kind})", kind)
            _extended(pm, {"fence": kind, "shape": "polygon"})
            _polygon(pm, poly)
        for k, ((lon, lat), radius, inclusion) in enumerate(data.geofence_circles):
            kind = "inclusion" if inclusion else "exclusion"
            pm = _placemark(fence, f"fence circle {k} ({kind}, {radius:g} m)", kind)
            _extended(pm, {"fence": kind, "shape": "circle", "center_lon": num_text(lon),
                           "center_lat": num_text(lat), "radius_m": num_text(radius)})
            _polygon(pm, _circle((lon, lat), radius))

    if data.rally_points:
        rally = _sub(doc, "Folder", id="rally_points")
        _sub(rally, "name", "Rally points")
        for k, (lon, lat, alt) in enumerate(data.rally_points):
            _point(_placemark(rally, f"rally point {k}", "rally"), lon, lat, alt,
                   "relativeToGround")

    if data.complex_items:
        cx = _sub(doc, "Folder", id="complex_items")
        _sub(cx, "name", "QGroundControl complex items")
        for ci in data.complex_items:
            pm = _placemark(cx, f"mission item {ci['index']}: {ci['type']}", "inclusion")
            _extended(pm, {"complex_item_type": ci["type"], "index": ci["index"],
                           "settings": json.dumps(ci.get("settings") or {}, sort_keys=True)})
            geom = ci.get("geometry")
            if isinstance(geom, Polygon):
                _polygon(pm, geom)
            elif isinstance(geom, LineString):
                ls = _sub(pm, "LineString")
                _sub(ls, "tessellate", 1)
                _sub(ls, "coordinates", " ".join(_coord(x, y) for x, y, *_ in geom.coords))

    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True), notes


def write_route_kml(route: RoutePlan | MissionFile | RouteData | Sequence[MissionItem],
                    path: str | Path, *, kmz: bool | None = None,
                    name: str | None = None) -> list[str]:
    """Write a route as KML, or KMZ (``doc.kml`` zipped) when ``kmz`` or the path ends in
    ``.kmz``.

    Returns
    -------
    list of str
        What the file could not carry (KML carries everything: empty).
    """
    path = Path(path)
    text, notes = route_kml(route, name=name)
    if kmz if kmz is not None else path.suffix.lower() == ".kmz":
        write_zip(path, {"doc.kml": text})
    else:
        path.write_bytes(text)
    return notes.all()


# --- reading ---------------------------------------------------------------------------------

def kml_bytes_of(path: Path, raw: bytes) -> bytes:
    """The KML document of a KML file, or of a KMZ (``doc.kml``, else its first ``.kml``).

    Raises
    ------
    PlanFileError
        If a KMZ is not a readable zip or holds no KML document (a DJI WPML package, which
        holds only ``wpmz/``, is named as such).
    """
    if raw[:2] != b"PK":
        return raw
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            names = zf.namelist()
            kmls = [n for n in names if n.lower().endswith(".kml") and not n.startswith("wpmz/")]
            if not kmls:
                if any(n.startswith("wpmz/") for n in names):
                    raise PlanFileError(f"{path}: a DJI WPML package (wpmz/), not a KML route; "
                                        "read it as format 'wpml'")
                raise PlanFileError(f"{path}: KMZ holds no .kml document (found: "
                                    f"{', '.join(names[:5]) or 'nothing'})")
            return zf.read("doc.kml" if "doc.kml" in kmls else kmls[0])
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise PlanFileError(f"{path}: not a valid KMZ (zip) file: {err}") from err


def _text(elem, name: str) -> str | None:
    found = _children(elem, name)
    return (found[0].text or "").strip() if found else None


def _data(pm) -> dict[str, str]:
    out = {}
    for ext in _children(pm, "ExtendedData"):
        for data in _descendants(ext, "Data"):
            value = _children(data, "value")
            out[data.get("name", "")] = ((value[0].text if value else data.text) or "").strip()
    return out


def _parse_coords(text: str | None, path: Path, where: str) -> list[tuple[float, ...]]:
    if not text or not text.strip():
        raise PlanFileError(f"{path}: {where}: <coordinates> is missing or empty")
    out = []
    for token in text.split():
        try:
            values = tuple(float(v) for v in token.split(","))
        except ValueError as err:
            raise PlanFileError(f"{path}: {where}: bad coordinate {token!r} "
                                "(expected lon,lat[,alt])") from err
        if len(values) < 2 or not all(math.isfinite(v) for v in values):
            raise PlanFileError(f"{path}: {where}: bad coordinate {token!r} "
                                "(expected lon,lat[,alt])")
        if not (abs(values[0]) <= 180.0 and abs(values[1]) <= 90.0):
            raise PlanFileError(f"{path}: {where}: coordinate {token!r} is not WGS84 "
                                "lon,lat degrees")
        out.append(values)
    return out


def _coords_of(elem, path: Path, where: str) -> list[tuple[float, ...]]:
    nodes = _descendants(elem, "coordinates")
    return _parse_coords(nodes[0].text if nodes else None, path, where)


def _altitude_mode(elem) -> str:
    for node in elem.iter():
        if _local(node.tag) == "altitudeMode" and node.text:
            return node.text.strip()
    return "clampToGround"


def _folder(root, fid: str):
    return next((f for f in _descendants(root, "Folder") if f.get("id") == fid), None)


def _read_items(folder, path: Path) -> list[MissionItem]:
    rows = []
    for pm in _children(folder, "Placemark"):
        data = _data(pm)
        where = f"{path}: mission_items Placemark {(_text(pm, 'name') or '?')!r}"
        missing = [f for f in _ITEM_FIELDS if f not in data]
        if missing:
            raise PlanFileError(f"{where}: ExtendedData lacks {', '.join(missing)}")
        try:
            seq, command, frame = (int(data[f]) for f in ("seq", "command", "frame"))
            p = [float(data[f]) for f in ("param1", "param2", "param3", "param4", "x", "y", "z")]
            auto = bool(int(data["autocontinue"]))
        except ValueError as err:
            raise PlanFileError(f"{where}: ExtendedData value is not a number ({err})") from err
        rows.append((seq, MissionItem(command, frame, *p, autocontinue=auto)))
    rows.sort(key=lambda r: r[0])
    if not rows:
        raise PlanFileError(f"{path}: folder mission_items holds no items")
    seqs = [r[0] for r in rows]
    if seqs != list(range(len(rows))):
        raise PlanFileError(f"{path}: mission_items sequence numbers {seqs[:10]} are not "
                            "0, 1, 2, ...")
    return [r[1] for r in rows]


def _read_extras(root, path: Path, out: MissionFile) -> None:
    fence = _folder(root, "geofence")
    for pm in _children(fence, "Placemark") if fence is not None else []:
        data = _data(pm)
        where = f"geofence Placemark {(_text(pm, 'name') or '?')!r}"
        inclusion = data.get("fence", "inclusion") != "exclusion"
        if data.get("shape") == "circle":
            try:
                center = (float(data["center_lon"]), float(data["center_lat"]))
                radius = float(data["radius_m"])
            except (KeyError, ValueError) as err:
                raise PlanFileError(f"{path}: {where}: circle centre/radius missing or not a "
                                    "number") from err
            out.geofence_circles.append((center, radius, inclusion))
            continue
        outer = [_children(b, "LinearRing") for b in _descendants(pm, "outerBoundaryIs")]
        if not outer or not outer[0]:
            raise PlanFileError(f"{path}: {where}: no Polygon outerBoundaryIs")
        shell = [c[:2] for c in _coords_of(outer[0][0], path, where)]
        holes = [[c[:2] for c in _coords_of(r, path, where)]
                 for b in _descendants(pm, "innerBoundaryIs") for r in _children(b, "LinearRing")]
        out.geofence_polygons.append((Polygon(shell, holes), inclusion))
    rally = _folder(root, "rally_points")
    for pm in _children(rally, "Placemark") if rally is not None else []:
        lon, lat, *alt = _coords_of(pm, path, f"rally Placemark {_text(pm, 'name')!r}")[0]
        out.rally_points.append((lon, lat, alt[0] if alt else 0.0))
    cx = _folder(root, "complex_items")
    for pm in _children(cx, "Placemark") if cx is not None else []:
        data = _data(pm)
        where = f"complex_items Placemark {(_text(pm, 'name') or '?')!r}"
        try:
            settings = json.loads(data.get("settings") or "{}")
            index = int(data["index"])
        except (KeyError, ValueError) as err:
            raise PlanFileError(f"{path}: {where}: index/settings malformed ({err})") from err
        geom = None
        if _descendants(pm, "Polygon"):
            geom = Polygon([c[:2] for c in _coords_of(_descendants(pm, "outerBoundaryIs")[0],
                                                      path, where)])
        elif _descendants(pm, "LineString"):
            geom = LineString([c[:2] for c in _coords_of(pm, path, where)])
        out.complex_items.append({"index": index, "type": data.get("complex_item_type", "?"),
                                  "geometry": geom, "settings": settings})


def _line_route(root, path: Path, alt_rel_m: float | None, out: MissionFile) -> None:
    lines = [pm for pm in _descendants(root, "Placemark") if _descendants(pm, "LineString")]
    if not lines:
        polys = len(_descendants(root, "Polygon"))
        hint = (f" (it holds {polys} Polygon(s): load it as a patrol area)" if polys else "")
        raise PlanFileError(f"{path}: no LineString to read as a route{hint}")
    vertices: list[tuple[float, float, float]] = []
    frame = None
    for pm in lines:
        name = _text(pm, "name") or "?"
        for ls in _descendants(pm, "LineString"):
            where = f"LineString of Placemark {name!r}"
            mode = _altitude_mode(ls)
            coords = _coords_of(ls, path, where)
            if mode in ("relativeToGround", "relativeToSeaFloor", "absolute") and \
                    all(len(c) > 2 for c in coords):
                this = (mavlink.MAV_FRAME_GLOBAL if mode == "absolute"
                        else mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT)
                pts = [(c[0], c[1], c[2]) for c in coords]
            elif alt_rel_m is not None:
                this = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT
                pts = [(c[0], c[1], float(alt_rel_m)) for c in coords]
                out.notes.append(f"{where}: altitudeMode {mode} (no flight altitude); every "
                                 f"vertex set to {alt_rel_m:g} m above home")
            else:
                raise PlanFileError(f"{path}: {where}: altitudeMode {mode} gives no flight "
                                    "altitude; give an altitude above home (alt_rel_m)")
            if frame is not None and this != frame:
                raise PlanFileError(f"{path}: {where}: altitudeMode {mode} differs from the "
                                    "previous line's; cannot join them into one route")
            frame = this
            vertices += pts
    if len(lines) > 1:
        out.notes.append(f"{len(lines)} LineStrings joined in document order into one route")
    lon0, lat0, _ = vertices[0]
    out.notes.append("no home in the file: item 0 (home) set at the first vertex, altitude "
                     "0 m above mean sea level")
    items = [home_item(lon0, lat0, 0.0)]
    for lon, lat, alt in vertices:
        wp = waypoint_item(lon, lat, alt)
        items.append(wp if frame == mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT
                     else MissionItem(wp.command, frame, lat_deg=lat, lon_deg=lon, alt_m=alt))
    out.items = items


def read_route_kml(path: str | Path, *, alt_rel_m: float | None = None) -> MissionFile:
    """Read a route from a KML or KMZ file.

    Parameters
    ----------
    path : str or Path
        A KML written by :func:`write_route_kml` (items, fence, rally points and complex
        items come back exactly), or any KML with LineString(s) (Google Earth, a web map).
    alt_rel_m : float, optional
        Flight altitude above home for lines without altitudes (``clampToGround``).

    Returns
    -------
    MissionFile
        ``format="kml"``.

    Raises
    ------
    PlanFileError
        Naming the file and the problem: unreadable or truncated KMZ, XML that is not
        well-formed, no LineString route (an area file), bad or out-of-range coordinates, a
        line without altitudes and no ``alt_rel_m``, malformed ExtendedData.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise PlanFileError(f"{path}: cannot read: {err.strerror or err}") from err
    text = kml_bytes_of(path, raw)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise PlanFileError(f"{path}: not well-formed KML: {err}") from err
    if _local(root.tag) != "kml":
        raise PlanFileError(f"{path}: root element is <{_local(root.tag)}>, not <kml>")
    out = MissionFile(path=path, format="kml", items=[])
    items_folder = _folder(root, "mission_items")
    if items_folder is not None:
        out.items = _read_items(items_folder, path)
        home = out.items[0]
        out.home_wgs84 = (home.lon_deg, home.lat_deg, home.alt_m)
        _read_extras(root, path, out)
    else:
        _line_route(root, path, alt_rel_m, out)
    return out
