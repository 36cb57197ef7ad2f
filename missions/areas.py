"""Patrol areas from GeoJSON and KML files.

An :class:`AreaSpec` is one place to patrol, in WGS84 longitude/latitude:

- ``kind="area"``: a Polygon or MultiPolygon to survey; its holes are no-fly zones;
- ``kind="corridor"``: a LineString with ``properties["width_m"]``;
- ``kind="hotspot"``: a Point with ``properties["radius_m"]`` to orbit.

GeoJSON may be a FeatureCollection, a single Feature, a bare geometry, or a bare JSON array of
Features (as some web-map exports are). KML is read with ``xml.etree`` (Placemarks with Polygon
- outer and inner boundaries -, LineString, Point, or MultiGeometry of polygons); ``.kmz`` is
the zipped form. Data traced from Chinese web maps is GCJ-02: pass ``coordinates="gcj02"`` and
it is converted to WGS84 on the way in.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from missions.errors import AreaFileError
from patrol.geodesy import gcj02_to_wgs84

__all__ = ["AreaSpec", "AREA_KINDS", "load_areas", "area_from_geojson"]

#: Geometry types each kind accepts.
AREA_KINDS: dict[str, tuple[str, ...]] = {
    "area": ("Polygon", "MultiPolygon"),
    "corridor": ("LineString",),
    "hotspot": ("Point",),
}
_KIND_OF_TYPE = {t: k for k, types in AREA_KINDS.items() for t in types}


@dataclass(frozen=True)
class AreaSpec:
    """One patrol area as read from a file.

    Parameters
    ----------
    name : str
        Unique name (``properties["name"]``, else ``"<file stem> #<index>"``).
    site : str
        Site or city the area belongs to (``properties["site"]``, else ``""``).
    kind : str
        ``"area"``, ``"corridor"`` or ``"hotspot"`` (see :data:`AREA_KINDS`).
    geometry : shapely geometry
        WGS84 lon/lat degrees.
    properties : dict
        Everything the source said about the feature (``width_m``, ``radius_m``, notes...).
    """

    name: str
    site: str
    kind: str
    geometry: BaseGeometry
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def holes(self) -> list[Polygon]:
        """The no-fly holes of an area, as WGS84 polygons (empty for other kinds)."""
        polys = _polygons(self.geometry)
        return [Polygon(ring) for p in polys for ring in p.interiors]

    @property
    def width_m(self) -> float | None:
        """Corridor width in metres, if given."""
        return _number(self.properties.get("width_m"))

    @property
    def radius_m(self) -> float | None:
        """Hotspot orbit radius in metres, if given."""
        return _number(self.properties.get("radius_m"))

    def geojson(self) -> dict[str, Any]:
        """The geometry as a GeoJSON dict."""
        return dict(mapping(self.geometry))


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return []


def load_areas(path: str | Path, *, coordinates: str = "wgs84") -> list[AreaSpec]:
    """Read the patrol areas of a GeoJSON (``.geojson``/``.json``), KML or KMZ file.

    Parameters
    ----------
    path : str or Path
        The file; the format is chosen by extension, else by content.
    coordinates : {"wgs84", "gcj02"}
        Datum of the file's coordinates; GCJ-02 is converted to WGS84.

    Returns
    -------
    list of AreaSpec
        One per feature/Placemark, in file order.

    Raises
    ------
    AreaFileError
        If the file cannot be read or parsed, or a feature has no or an invalid geometry, a
        kind that does not fit its geometry, coordinates outside lon/lat ranges, or a
        corridor/hotspot without a positive ``width_m``/``radius_m``. The message names the
        file, the feature index and name, and the field.
    """
    path = Path(path)
    if coordinates not in ("wgs84", "gcj02"):
        raise AreaFileError(f"{path}: unknown coordinate datum {coordinates!r} (wgs84 or gcj02)")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise AreaFileError(f"{path}: cannot read: {err.strerror or err}") from err
    suffix = path.suffix.lower()
    if suffix == ".kmz" or raw[:2] == b"PK":
        features = _kml_features(path, _kmz_document(path, raw))
    elif suffix == ".kml" or raw.lstrip()[:1] == b"<":
        features = _kml_features(path, raw)
    else:
        features = _geojson_features(path, raw)
    if not features:
        raise AreaFileError(f"{path}: no features found")
    specs = []
    seen: set[str] = set()
    for index, (geom_obj, props) in enumerate(features):
        spec = area_from_geojson(geom_obj, props, where=f"{path}: feature {index}",
                                 default_name=f"{path.stem} #{index}", coordinates=coordinates)
        if spec.name in seen:
            raise AreaFileError(f"{path}: feature {index}: name {spec.name!r} is used twice")
        seen.add(spec.name)
        specs.append(spec)
    return specs


def area_from_geojson(geometry: Any, properties: dict[str, Any] | None = None, *,
                      where: str = "area", default_name: str = "area",
                      coordinates: str = "wgs84") -> AreaSpec:
    """Build and check one :class:`AreaSpec` from a GeoJSON geometry dict and properties.

    Raises
    ------
    AreaFileError
        As :func:`load_areas`, prefixed with ``where``.
    """
    props = dict(properties or {})
    name = str(props.get("name") or default_name)
    label = f"{where} ({name!r})"
    if not isinstance(geometry, dict) or "type" not in geometry:
        raise AreaFileError(f"{label}: field 'geometry' is missing or not a GeoJSON geometry")
    try:
        geom = shape(geometry)
    except Exception as err:  # shapely raises several types for malformed coordinates
        raise AreaFileError(f"{label}: field 'geometry.coordinates' is malformed: {err}") from err
    if geom.is_empty:
        raise AreaFileError(f"{label}: geometry is empty")
    if geom.has_z:
        geom = shapely.force_2d(geom)
    _check_lonlat(geom, label)
    if coordinates == "gcj02":
        geom = shapely.transform(geom, _gcj_to_wgs, interleaved=True)
    gtype = geom.geom_type
    kind = str(props.get("kind") or _KIND_OF_TYPE.get(gtype, ""))
    if kind not in AREA_KINDS:
        raise AreaFileError(f"{label}: field 'properties.kind' is {kind!r}; "
                            f"expected one of {sorted(AREA_KINDS)}")
    if gtype not in AREA_KINDS[kind]:
        raise AreaFileError(f"{label}: a {kind} needs a {' or '.join(AREA_KINDS[kind])} "
                            f"geometry, got {gtype}")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise AreaFileError(f"{label}: invalid {gtype}: {reason}")
    if kind == "corridor" and not (_number(props.get("width_m")) or 0) > 0:
        raise AreaFileError(f"{label}: a corridor needs 'properties.width_m' > 0 "
                            f"(got {props.get('width_m')!r})")
    if kind == "hotspot" and not (_number(props.get("radius_m")) or 0) > 0:
        raise AreaFileError(f"{label}: a hotspot needs 'properties.radius_m' > 0 "
                            f"(got {props.get('radius_m')!r})")
    site = str(props.get("site") or "")
    return AreaSpec(name=name, site=site, kind=kind, geometry=geom, properties=props)


def _gcj_to_wgs(coords: np.ndarray) -> np.ndarray:
    return np.array([gcj02_to_wgs84(float(x), float(y)) for x, y in coords])


def _check_lonlat(geom: BaseGeometry, label: str) -> None:
    coords = shapely.get_coordinates(geom)
    if not len(coords):
        raise AreaFileError(f"{label}: geometry has no coordinates")
    bad = (~(abs(coords[:, 0]) <= 180.0)) | (~(abs(coords[:, 1]) <= 90.0))
    if bad.any():
        x, y = coords[bad.argmax()]
        raise AreaFileError(f"{label}: coordinate ({x}, {y}) is not WGS84 lon/lat degrees "
                            "(projected coordinates are not accepted)")


# --- GeoJSON ---------------------------------------------------------------------------------

def _geojson_features(path: Path, raw: bytes) -> list[tuple[Any, dict[str, Any]]]:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AreaFileError(f"{path}: not valid GeoJSON: {err}") from err
    if isinstance(data, list):
        items: Iterable[Any] = data
    elif isinstance(data, dict) and data.get("type") == "FeatureCollection":
        items = data.get("features")
        if not isinstance(items, list):
            raise AreaFileError(f"{path}: FeatureCollection field 'features' is not a list")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        items = [data]
    elif isinstance(data, dict) and data.get("type") in _KIND_OF_TYPE:
        return [(data, {})]
    else:
        raise AreaFileError(f"{path}: not a GeoJSON FeatureCollection, Feature, geometry "
                            "or array of Features")
    out = []
    for index, feature in enumerate(items):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise AreaFileError(f"{path}: feature {index}: not a GeoJSON Feature")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise AreaFileError(f"{path}: feature {index}: field 'properties' is not an object")
        out.append((feature.get("geometry"), props))
    return out


# --- KML -------------------------------------------------------------------------------------

def _kmz_document(path: Path, raw: bytes) -> bytes:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise AreaFileError(f"{path}: KMZ holds no .kml document")
            name = "doc.kml" if "doc.kml" in names else names[0]
            return zf.read(name)
    except zipfile.BadZipFile as err:
        raise AreaFileError(f"{path}: not a valid KMZ (zip) file: {err}") from err


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(elem, name: str):
    return [c for c in elem if _local(c.tag) == name]


def _descendants(elem, name: str):
    return [c for c in elem.iter() if _local(c.tag) == name]


def _kml_coords(elem, path: Path, where: str) -> list[list[float]]:
    nodes = _descendants(elem, "coordinates")
    if not nodes or not (nodes[0].text or "").strip():
        raise AreaFileError(f"{path}: {where}: <coordinates> is missing or empty")
    out = []
    for token in nodes[0].text.split():
        try:
            values = [float(v) for v in token.split(",")]
        except ValueError as err:
            raise AreaFileError(f"{path}: {where}: bad coordinate {token!r}") from err
        if len(values) < 2:
            raise AreaFileError(f"{path}: {where}: bad coordinate {token!r} (need lon,lat)")
        out.append(values[:2])
    return out


def _kml_polygon(elem, path: Path, where: str) -> dict[str, Any]:
    outer = _children(elem, "outerBoundaryIs")
    if not outer:
        raise AreaFileError(f"{path}: {where}: <Polygon> has no <outerBoundaryIs>")
    rings = [_kml_coords(outer[0], path, where + " outerBoundaryIs")]
    for k, inner in enumerate(_children(elem, "innerBoundaryIs")):
        for ring in _descendants(inner, "LinearRing"):
            rings.append(_kml_coords(ring, path, f"{where} innerBoundaryIs {k}"))
    return {"type": "Polygon", "coordinates": rings}


def _kml_geometry(placemark, path: Path, where: str) -> dict[str, Any]:
    for elem in placemark:
        tag = _local(elem.tag)
        if tag == "Polygon":
            return _kml_polygon(elem, path, where)
        if tag == "LineString":
            return {"type": "LineString", "coordinates": _kml_coords(elem, path, where)}
        if tag == "Point":
            return {"type": "Point", "coordinates": _kml_coords(elem, path, where)[0]}
        if tag == "MultiGeometry":
            polys = [_kml_polygon(p, path, where)["coordinates"]
                     for p in _children(elem, "Polygon")]
            if not polys:
                raise AreaFileError(f"{path}: {where}: <MultiGeometry> holds no <Polygon>")
            return {"type": "MultiPolygon", "coordinates": polys}
    raise AreaFileError(f"{path}: {where}: Placemark has no Polygon, LineString, Point "
                        "or MultiGeometry")


def _kml_features(path: Path, raw: bytes) -> list[tuple[Any, dict[str, Any]]]:
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as err:
        raise AreaFileError(f"{path}: not well-formed KML: {err}") from err
    out = []
    for index, placemark in enumerate(_descendants(root, "Placemark")):
        props: dict[str, Any] = {}
        for child in placemark:
            tag = _local(child.tag)
            if tag in ("name", "description") and child.text:
                props[tag] = child.text.strip()
            elif tag == "ExtendedData":
                for data in _descendants(child, "Data") + _descendants(child, "SimpleData"):
                    key = data.get("name")
                    value_nodes = _children(data, "value")
                    text = value_nodes[0].text if value_nodes else data.text
                    if key:
                        props[key] = _kml_value(text)
        where = f"feature {index} ({props.get('name', '')!r})"
        out.append((_kml_geometry(placemark, path, where), props))
    return out


def _kml_value(text: str | None) -> Any:
    if text is None:
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text
