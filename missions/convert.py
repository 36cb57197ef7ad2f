"""Write a route to any mission file format, and convert mission files between formats.

Formats (:data:`FORMATS`), chosen from the file extension unless given:

=============  ============================  ==============================================
``plan``       ``.plan``                     QGroundControl plan: items, geofence polygons
                                             and circles, rally points
``waypoints``  ``.waypoints``, ``.txt``      ``QGC WPL 110``: items only
``kml``        ``.kml`` (``.kmz`` if asked)  KML route: items, fence, rally points, QGC
                                             complex items, photo positions (see
                                             :mod:`missions.kml_route`)
``wpml``       ``.kmz``                      DJI WPML package (see :mod:`missions.wpml`)
=============  ============================  ==============================================

Reading a ``.kmz`` looks inside: a ``wpmz/`` folder is a DJI WPML package, anything else a
zipped KML. Every item or parameter the target cannot carry is reported, naming the mission
items (``ConvertReport.dropped``); what it carries in another form is reported too
(``ConvertReport.approximated``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shapely.geometry import Polygon

from missions.errors import PlanFileError
from missions.files import read_mission
from missions.items import MissionItem
from missions.kml_route import route_kml
from missions.mission_file import MissionFile
from missions.plan import RoutePlan
from missions.qgc_plan import plan_document
from missions.route_source import Notes, RouteData, route_data, write_zip
from missions.wpl import format_waypoints
from missions.wpml import DEFAULT_AIRCRAFT, DjiAircraft, wpml_package

__all__ = ["FORMATS", "FORMAT_LABELS", "ConvertReport", "convert_mission", "format_for_path",
           "write_route"]

#: The formats :func:`write_route` and :func:`convert_mission` know.
FORMATS = ("plan", "waypoints", "kml", "wpml")
#: How notes name each format.
FORMAT_LABELS = {"plan": "QGroundControl .plan", "waypoints": "QGC WPL 110", "kml": "KML",
                 "wpml": "DJI WPML"}
_WRITE_EXTENSIONS = {".plan": "plan", ".waypoints": "waypoints", ".txt": "waypoints",
                     ".kml": "kml", ".kmz": "wpml"}


def format_for_path(path: str | Path, fmt: str | None = None) -> str:
    """The format a file is written in: ``fmt`` if given, else from the extension.

    >>> format_for_path("route.kmz"), format_for_path("route.kmz", "kml")
    ('wpml', 'kml')

    Raises
    ------
    PlanFileError
        If ``fmt`` is not one of :data:`FORMATS` or the extension says nothing.
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise PlanFileError(f"unknown mission file format {fmt!r}; one of "
                                f"{', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _WRITE_EXTENSIONS:
        raise PlanFileError(f"{path}: cannot tell the format from the extension "
                            f"{suffix or '(none)'!r}; use .plan, .waypoints, .txt, .kml or .kmz, "
                            f"or give the format ({', '.join(FORMATS)})")
    return _WRITE_EXTENSIONS[suffix]


def _drop_safety(data: RouteData, label: str, notes: Notes) -> None:
    for what, values in (("polygon", data.geofence_polygons), ("circle", data.geofence_circles)):
        if values:
            n = len(values)
            notes.drop(f"geofence: {n} {what}{'s' if n > 1 else ''} dropped: {label} has no "
                       "geofence")
    if data.rally_points:
        notes.drop(f"rally points: {len(data.rally_points)} dropped: {label} has no rally points")


def _drop_complex(data: RouteData, label: str, notes: Notes) -> None:
    for ci in data.complex_items:
        notes.drop(f"mission item {ci['index']}: {ci['type']} ComplexItem's polygon and settings "
                   f"dropped: {label} holds simple items only (the mission items "
                   "QGroundControl stored for it, if any, are written)")


def _write_plan(data: RouteData, path: Path, notes: Notes) -> None:
    doc = plan_document(data.items, hover_speed_m_s=data.speed_m_s,
                        geofence_polygons=data.geofence_polygons, rally_points=data.rally_points)
    doc["geoFence"]["circles"] = [
        {"circle": {"center": [lat, lon], "radius": radius}, "inclusion": bool(inclusion),
         "version": 1}
        for (lon, lat), radius, inclusion in data.geofence_circles]
    _drop_complex(data, FORMAT_LABELS["plan"], notes)
    path.write_text(json.dumps(doc, indent=4, sort_keys=True) + "\n", encoding="utf-8")


def _write(data: RouteData, path: Path, fmt: str, *, aircraft: str | DjiAircraft,
           template: str, default_speed_m_s: float) -> Notes:
    notes = Notes()
    if fmt == "plan":
        _write_plan(data, path, notes)
    elif fmt == "waypoints":
        _drop_safety(data, FORMAT_LABELS[fmt], notes)
        _drop_complex(data, FORMAT_LABELS[fmt], notes)
        path.write_text(format_waypoints(data.items), encoding="utf-8", newline="\n")
    elif fmt == "kml":
        text, notes = route_kml(data)
        if path.suffix.lower() == ".kmz":
            write_zip(path, {"doc.kml": text})
        else:
            path.write_bytes(text)
    else:
        files, notes = wpml_package(data, aircraft=aircraft, template=template,
                                    default_speed_m_s=default_speed_m_s)
        write_zip(path, files)
    return notes


def _write_notes(route: RoutePlan | MissionFile | Sequence[MissionItem], path: str | Path,
                 fmt: str | None, area: Polygon | None, aircraft: str | DjiAircraft,
                 template: str, default_speed_m_s: float) -> tuple[str, Notes]:
    path = Path(path)
    fmt = format_for_path(path, fmt)
    data = route_data(route, area=area)
    try:
        notes = _write(data, path, fmt, aircraft=aircraft, template=template,
                       default_speed_m_s=default_speed_m_s)
    except OSError as err:
        raise PlanFileError(f"{path}: cannot write: {err.strerror or err}") from err
    except PlanFileError as err:
        raise PlanFileError(f"{path}: {err}") from err
    return fmt, notes


def write_route(route: RoutePlan | MissionFile | Sequence[MissionItem], path: str | Path,
                fmt: str | None = None, *, area: Polygon | None = None,
                aircraft: str | DjiAircraft = DEFAULT_AIRCRAFT, template: str = "auto",
                default_speed_m_s: float = 5.0) -> list[str]:
    """Write a route to a mission file in any of :data:`FORMATS`.

    Parameters
    ----------
    route : RoutePlan, MissionFile or sequence of MissionItem
        A planned route (its geofence and rally points go along), a mission read from a file,
        or items with item 0 = home.
    path : str or Path
        The file to write.
    fmt : {"plan", "waypoints", "kml", "wpml"}, optional
        Default: from the extension (``.kmz`` is DJI WPML; ``fmt="kml"`` writes a zipped KML).
    area : shapely Polygon, optional
        The surveyed area of a survey RoutePlan, for the DJI ``mapping2d`` template (default:
        the plan's own).
    aircraft, template, default_speed_m_s
        DJI WPML only (:func:`missions.wpml.wpml_package`): aircraft key or
        :class:`~missions.wpml.DjiAircraft` (default ``"m30t"``), ``"auto"``/``"waypoint"``/
        ``"mapping2d"``, and the speed (m/s) written where the mission sets none.

    Returns
    -------
    list of str
        What the file could not carry: first what was dropped, then what was written in
        another form; each line names the mission items concerned. Empty when nothing was
        lost.

    Raises
    ------
    PlanFileError
        Unknown format or extension, a route the format cannot hold (WPML without a waypoint),
        or a file that cannot be written; the message names the file.
    """
    _, notes = _write_notes(route, path, fmt, area, aircraft, template, default_speed_m_s)
    return notes.all()


@dataclass
class ConvertReport:
    """What :func:`convert_mission` did.

    Attributes
    ----------
    src, dst : Path
    src_format, dst_format : str
        Formats of :data:`FORMATS`.
    items : int
        Mission items read (item 0, home, included).
    read_notes : list of str
        What reading the source expanded, skipped or assumed.
    dropped : list of str
        What the target format could not carry, naming the mission items.
    approximated : list of str
        What the target carries in another form (and how it reads back).
    """

    src: Path
    dst: Path
    src_format: str
    dst_format: str
    items: int
    read_notes: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    approximated: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as printable lines."""
        head = (f"{self.src} ({FORMAT_LABELS[self.src_format]}) -> {self.dst} "
                f"({FORMAT_LABELS[self.dst_format]}): {self.items} mission items")
        return ([head] + [f"read: {n}" for n in self.read_notes]
                + [f"dropped: {n}" for n in self.dropped]
                + [f"changed: {n}" for n in self.approximated])

    def __str__(self) -> str:
        return "\n".join(self.lines())


def convert_mission(src: str | Path, dst: str | Path, *, src_format: str | None = None,
                    dst_format: str | None = None, alt_rel_m: float | None = None,
                    aircraft: str | DjiAircraft = DEFAULT_AIRCRAFT, template: str = "auto",
                    default_speed_m_s: float = 5.0) -> ConvertReport:
    """Convert a mission file to another format, keeping all the target can carry.

    Parameters
    ----------
    src, dst : str or Path
        Source and target files.
    src_format, dst_format : {"plan", "waypoints", "kml", "wpml"}, optional
        Default: from the extension (and, for the source, its content).
    alt_rel_m : float, optional
        Altitude above home for a KML line without altitudes.
    aircraft, template, default_speed_m_s
        For a DJI WPML target, as :func:`write_route`.

    Returns
    -------
    ConvertReport
        ``str(report)`` prints the conversion with every dropped and changed item.

    Raises
    ------
    PlanFileError
        If the source cannot be read (naming the file and problem), or the target cannot be
        written or cannot hold the mission.
    """
    src, dst = Path(src), Path(dst)
    mission = read_mission(src, fmt=src_format, alt_rel_m=alt_rel_m)
    fmt, notes = _write_notes(mission, dst, dst_format, None, aircraft, template,
                              default_speed_m_s)
    return ConvertReport(src=src, dst=dst, src_format=mission.format, dst_format=fmt,
                         items=len(mission.items), read_notes=list(mission.notes),
                         dropped=notes.dropped, approximated=notes.approximated)
