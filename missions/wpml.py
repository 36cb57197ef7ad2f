"""DJI WPML route packages (``.kmz`` with ``wpmz/template.kml`` + ``wpmz/waylines.wpml``).

The format is DJI's WayPoint Markup Language, an extension of KML 2.2 (namespaces
``http://www.opengis.net/kml/2.2`` and ``http://www.dji.com/wpmz/1.0.2``) that DJI Pilot 2,
DJI FlightHub 2 and the DJI Dock (Cloud API) execute. Specification: DJI Cloud API,
"DJI WPML" - overview, template.kml, waylines.wpml and common elements,
https://developer.dji.com/doc/cloud-api-tutorial/en/api-reference/dji-wpml/overview.html
(source: github.com/dji-sdk/Cloud-API-Doc, ``docs/en/60.api-reference/00.dji-wpml/``).

Package layout (names fixed by the spec)::

    route.kmz
    `-- wpmz/
        |-- template.kml    the editable template (``waypoint`` or ``mapping2d``)
        `-- waylines.wpml   the executable wayline the aircraft flies

``waylines.wpml`` is always our planned route, waypoint by waypoint, so a dock flies exactly
the legs we planned around the no-fly zones. ``template.kml`` is ``mapping2d`` for a survey
whose area is known (polygon, overlaps, height, direction) so an operator can re-open it as a
mapping mission in Pilot 2 / FlightHub 2, else ``waypoint`` (the same waypoints). DJI's
mapping planner knows nothing of our no-fly zones: a route *regenerated* from a mapping2d
template must be checked again; the waylines as written need not.

MAVLink -> WPML (``waylines.wpml`` Folder, one ``Placemark`` per waypoint):

==================================  ==========================================================
item 0 (home)                       ``takeOffRefPoint`` (lat,lon,alt; template.kml only)
MAV_CMD_NAV_TAKEOFF                 ``takeOffSecurityHeight`` (m above take-off, [2, 1500])
MAV_CMD_NAV_WAYPOINT                Placemark: ``executeHeight`` (``executeHeightMode``
                                    ``relativeToStartPoint``; AMSL altitudes
                                    minus home's), turn mode
                                    ``toPointAndStopWithDiscontinuityCurvature`` (the aircraft
                                    flies the straight legs we planned, corners not cut);
                                    param1 hold -> ``hover`` action; param4 yaw ->
                                    ``smoothTransition`` heading
MAV_CMD_NAV_SPLINE_WAYPOINT         Placemark, ``toPointAndPassWithContinuityCurvature``
MAV_CMD_NAV_LOITER_TIME             Placemark + ``hover`` (read back as a waypoint with hold)
MAV_CMD_DO_CHANGE_SPEED             ``waypointSpeed`` of the legs after it (WPML's speed is per
                                    leg, "from this waypoint to the next");
                                    ``globalTransitionalSpeed`` before the first waypoint
MAV_CMD_DO_SET_CAM_TRIGG_DIST       one ``multipleDistance`` action group (``takePhoto`` every
                                    param1 m) from the waypoint it follows to the waypoint
                                    where it is switched off; param3 "trigger once now" ->
                                    ``reachPoint`` ``takePhoto`` there
MAV_CMD_IMAGE_START_CAPTURE         one photo: ``reachPoint`` ``takePhoto``; an interval with
                                    no count: ``multipleTiming`` group up to
                                    MAV_CMD_IMAGE_STOP_CAPTURE
MAV_CMD_VIDEO_START/STOP_CAPTURE    ``startRecord`` / ``stopRecord``
MAV_CMD_DO_MOUNT_CONTROL            ``gimbalRotate`` (pitch, roll, yaw relative to the aircraft)
MAV_CMD_CONDITION_YAW (absolute)    ``rotateYaw``
MAV_CMD_DO_SET_ROI_LOCATION ...     heading ``towardPOI`` (``waypointPoiPoint``) on the legs
MAV_CMD_DO_SET_ROI_NONE             until ROI_NONE, and a ``gimbalRotate`` pitching the camera
                                    at the point where the ROI starts (WPML aims the nose
                                    only)
MAV_CMD_NAV_RETURN_TO_LAUNCH (last) ``finishAction`` ``goHome``
MAV_CMD_NAV_LAND (last)             ``finishAction`` ``autoLand``
anything else                       dropped, and said so
==================================  ==========================================================

Distance-triggered photos: the spec's ``actionTrigger`` ``multipleDistance`` ("same distance
trigger", ``actionTriggerParam`` in metres, over ``actionGroupStartIndex`` ..
``actionGroupEndIndex``) is the documented way to have the aircraft itself fire ``takePhoto``
along a pass, with no stop per photo (a ``reachPoint`` photo per planned position would need a
waypoint, and a halt, at each). It is what MAVLink-to-DJI bridges compile
MAV_CMD_DO_SET_CAM_TRIGG_DIST to for DJI's wayline engine (e.g. the Lyrebird project's
"native" executor), and DJI Pilot 2's own mapping routes likewise arm capture once over a
waypoint range (with a timed trigger). One group per camera pass keeps transits photo-free, as
the MAVLink on/off pair does. Not verified here on a dock: whether the first distance photo
fires at 0 m; if it does, the ``reachPoint`` photo at the pass start duplicates it (one extra
photo, never a gap).

``takeOffRefPoint`` carries home's altitude as the mission gives it (above mean sea level);
the spec asks for an ellipsoid height, but the point is for planning reference only and every
height flown is ``relativeToStartPoint``.

Reading maps the same table backwards. A WPML mission always takes off and always has a
speed, so the items read back start home, MAV_CMD_NAV_TAKEOFF, MAV_CMD_DO_CHANGE_SPEED even if
the source had neither.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from shapely.geometry import Polygon

from missions.errors import PlanFileError
from missions.items import MissionItem
from missions.kml_route import KML_NS
from missions.mission_file import MissionFile
from missions.plan import RoutePlan
from missions.route_source import Notes, RouteData, finite, num_text, route_data, write_zip
from missions.wpml_compile import (
    CURVE_TURN,
    STOP_TURN,
    TEMPLATE_KML,
    WAYLINES_WPML,
    WPML_NS,
    Span,
    Wayline,
    Waypoint,
    compile_wayline,
)
from missions.wpml_read import is_wpml_package, read_wpml

__all__ = ["WPML_NS", "DjiAircraft", "DJI_AIRCRAFT", "DEFAULT_AIRCRAFT", "wpml_package",
           "write_wpml", "read_wpml", "is_wpml_package"]


@dataclass(frozen=True)
class DjiAircraft:
    """A DJI aircraft and its camera as WPML enumerates them (``droneInfo``/``payloadInfo``).

    Values from the Cloud API "Common Elements" page (``wpml:droneEnumValue``,
    ``wpml:droneSubEnumValue``, ``wpml:payloadEnumValue``).
    """

    name: str
    drone_enum: int
    drone_sub_enum: int
    payload_enum: int


#: Aircraft a DJI Dock or Pilot 2 flies WPML routes with (Cloud API "Common Elements").
DJI_AIRCRAFT: dict[str, DjiAircraft] = {
    "m30": DjiAircraft("Matrice 30", 67, 0, 52),
    "m30t": DjiAircraft("Matrice 30T", 67, 1, 53),
    "m3e": DjiAircraft("Mavic 3 Enterprise", 77, 0, 66),
    "m3t": DjiAircraft("Mavic 3 Thermal", 77, 1, 67),
    "m3m": DjiAircraft("Mavic 3 Multispectral", 77, 2, 68),
}
#: The default: the M30T, the aircraft of the DJI Dock (first generation).
DEFAULT_AIRCRAFT = "m30t"


# --- XML -------------------------------------------------------------------------------------

def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    elem = ET.SubElement(parent, tag)
    if text is not None:
        elem.text = text if isinstance(text, str) else (
            str(text) if isinstance(text, int) else num_text(text))
    return elem


def _w(parent: ET.Element, name: str, text: Any = None) -> ET.Element:
    return _sub(parent, f"wpml:{name}", text)


def _root() -> tuple[ET.Element, ET.Element]:
    root = ET.Element("kml", {"xmlns": KML_NS, "xmlns:wpml": WPML_NS})
    return root, _sub(root, "Document")


def _mission_config(doc: ET.Element, wl: Wayline, aircraft: DjiAircraft, *,
                    template: bool) -> None:
    cfg = _w(doc, "missionConfig")
    _w(cfg, "flyToWaylineMode", "safely")
    _w(cfg, "finishAction", wl.finish)
    _w(cfg, "exitOnRCLost", "goContinue")
    _w(cfg, "executeRCLostAction", "goBack")
    _w(cfg, "takeOffSecurityHeight", float(wl.takeoff_height))
    if template and finite(wl.home.lat_deg) and finite(wl.home.lon_deg):
        alt = wl.home.alt_m if finite(wl.home.alt_m) else 0.0
        _w(cfg, "takeOffRefPoint",
           f"{num_text(wl.home.lat_deg)},{num_text(wl.home.lon_deg)},{num_text(alt)}")
    _w(cfg, "globalTransitionalSpeed", float(wl.transitional_speed))
    if not template:
        heights = [wp.height for wp in wl.waypoints] + [wl.takeoff_height]
        _w(cfg, "globalRTHHeight", float(max(heights)))
    drone = _w(cfg, "droneInfo")
    _w(drone, "droneEnumValue", aircraft.drone_enum)
    _w(drone, "droneSubEnumValue", aircraft.drone_sub_enum)
    payload = _w(cfg, "payloadInfo")
    _w(payload, "payloadEnumValue", aircraft.payload_enum)
    _w(payload, "payloadPositionIndex", 0)


def _action_xml(group: ET.Element, action_id: int, func: str, params: dict[str, Any]) -> None:
    act = _w(group, "action")
    _w(act, "actionId", action_id)
    _w(act, "actionActuatorFunc", func)
    par = _w(act, "actionActuatorFuncParam")
    if func in ("takePhoto", "startRecord"):
        _w(par, "payloadPositionIndex", 0)
        _w(par, "fileSuffix", "patrol")
        _w(par, "useGlobalPayloadLensIndex", 1)
    elif func == "stopRecord":
        _w(par, "payloadPositionIndex", 0)
    elif func == "hover":
        _w(par, "hoverTime", float(params["hoverTime"]))
    elif func == "rotateYaw":
        _w(par, "aircraftHeading", float(params["heading"]))
        _w(par, "aircraftPathMode", params["path"])
    elif func == "gimbalRotate":
        _w(par, "gimbalHeadingYawBase", "north")
        _w(par, "gimbalRotateMode", params["mode"])
        for axis in ("pitch", "roll", "yaw"):
            value = params[axis]
            _w(par, f"gimbal{axis.title()}RotateEnable", int(value is not None))
            _w(par, f"gimbal{axis.title()}RotateAngle", float(value or 0.0))
        _w(par, "gimbalRotateTimeEnable", 0)
        _w(par, "gimbalRotateTime", 0)
        _w(par, "payloadPositionIndex", 0)


class _Groups:
    def __init__(self) -> None:
        self.next_id = 0

    def add(self, parent: ET.Element, start: int, end: int, trigger: str, param: float | None,
            actions: Sequence[tuple[str, dict[str, Any]]]) -> None:
        group = _w(parent, "actionGroup")
        _w(group, "actionGroupId", self.next_id)
        self.next_id += 1
        _w(group, "actionGroupStartIndex", start)
        _w(group, "actionGroupEndIndex", end)
        _w(group, "actionGroupMode", "sequence")
        trig = _w(group, "actionTrigger")
        _w(trig, "actionTriggerType", trigger)
        if param is not None:
            _w(trig, "actionTriggerParam", float(param))
        for k, (func, params) in enumerate(actions):
            _action_xml(group, k, func, params)


def _heading_xml(parent: ET.Element, wp: Waypoint, name: str = "waypointHeadingParam") -> None:
    head = _w(parent, name)
    mode, angle = wp.heading
    _w(head, "waypointHeadingMode", mode)
    _w(head, "waypointHeadingAngle", float(angle))
    poi = wp.poi or (0.0, 0.0, 0.0)
    _w(head, "waypointPoiPoint", f"{num_text(poi[1])},{num_text(poi[0])},{num_text(poi[2])}")
    _w(head, "waypointHeadingPathMode", "followBadArc")


def _placemarks(folder: ET.Element, wl: Wayline, *, template: bool) -> None:
    groups = _Groups()
    spans_at: dict[int, list[Span]] = {}
    for span in wl.spans:
        spans_at.setdefault(span.start, []).append(span)
    for index, wp in enumerate(wl.waypoints):
        pm = _sub(folder, "Placemark")
        _sub(_sub(pm, "Point"), "coordinates", f"{num_text(wp.lon)},{num_text(wp.lat)}")
        _w(pm, "index", index)
        if template:
            _w(pm, "ellipsoidHeight", float(wp.height))
            _w(pm, "height", float(wp.height))
            _w(pm, "useGlobalHeight", 0)
            _w(pm, "useGlobalSpeed", 0)
        else:
            _w(pm, "executeHeight", float(wp.height))
        _w(pm, "waypointSpeed", float(wp.speed))
        if template:
            _w(pm, "useGlobalHeadingParam", 0)
        _heading_xml(pm, wp)
        if template:
            _w(pm, "useGlobalTurnParam", 0)
        turn = _w(pm, "waypointTurnParam")
        _w(turn, "waypointTurnMode", CURVE_TURN if wp.curve else STOP_TURN)
        _w(turn, "waypointTurnDampingDist", 0)
        if wp.curve:
            _w(pm, "useStraightLine", 0)
        if wp.actions:
            groups.add(pm, index, index, "reachPoint", None, wp.actions)
        for span in spans_at.get(index, []):
            groups.add(pm, span.start, span.end, span.trigger, span.param, [("takePhoto", {})])


def _payload_param(folder: ET.Element) -> None:
    par = _w(folder, "payloadParam")
    _w(par, "payloadPositionIndex", 0)
    _w(par, "imageFormat", "wide")


def _template_folder(doc: ET.Element, wl: Wayline, data: RouteData, kind: str) -> None:
    folder = _sub(doc, "Folder")
    _w(folder, "templateType", kind)
    _w(folder, "templateId", 0)
    coord = _w(folder, "waylineCoordinateSysParam")
    _w(coord, "coordinateMode", "WGS84")
    _w(coord, "heightMode", "relativeToStartPoint")
    _w(coord, "positioningType", "GPS")
    auto_speed = wl.waypoints[0].speed
    if kind == "mapping2d":
        survey = data.survey
        height = float(survey.alt_rel_m)
        _w(coord, "globalShootHeight", height)
        _w(coord, "surfaceFollowModeEnable", 0)
        _w(folder, "autoFlightSpeed", float(auto_speed))
        _payload_param(folder)
        pm = _sub(folder, "Placemark")
        _w(pm, "caliFlightEnable", 0)
        _w(pm, "elevationOptimizeEnable", 0)
        _w(pm, "smartObliqueEnable", 0)
        _w(pm, "shootType", "distance")
        _w(pm, "direction", int(round(survey.direction_deg or 0.0)) % 360)
        _w(pm, "margin", 0)
        overlap = _w(pm, "overlap")
        _w(overlap, "orthoCameraOverlapH", int(round(100 * survey.front_overlap)))
        _w(overlap, "orthoCameraOverlapW", int(round(100 * survey.side_overlap)))
        _w(pm, "ellipsoidHeight", height)
        _w(pm, "height", height)
        ring = _sub(_sub(_sub(pm, "Polygon"), "outerBoundaryIs"), "LinearRing")
        _sub(ring, "coordinates", " ".join(f"{num_text(x)},{num_text(y)},0"
                                           for x, y, *_ in survey.area_wgs84.exterior.coords))
        head = _w(pm, "mappingHeadingParam")
        _w(head, "mappingHeadingMode", "followWayline")
        _w(pm, "gimbalPitchMode", "fixed")
        _w(pm, "gimbalPitchAngle", -90)
        return
    _w(folder, "autoFlightSpeed", float(auto_speed))
    _w(folder, "globalHeight", float(wl.waypoints[0].height))
    _w(folder, "gimbalPitchMode", "manual")
    glob = Waypoint(0.0, 0.0, 0.0, 0.0)
    _heading_xml(folder, glob, "globalWaypointHeadingParam")
    _w(folder, "globalWaypointTurnMode", STOP_TURN)
    _w(folder, "globalUseStraightLine", 0)
    _placemarks(folder, wl, template=True)
    _payload_param(folder)


def _template_kind(data: RouteData, template: str, notes: Notes) -> str:
    if template not in ("auto", "waypoint", "mapping2d"):
        raise PlanFileError(f"unknown WPML template {template!r} (auto, waypoint, mapping2d)")
    if template == "waypoint":
        return "waypoint"
    survey = data.survey
    missing = None
    if survey is None:
        missing = "the route is not a survey with a known area (RoutePlan.area_wgs84)"
    else:
        absent = [name for name in ("alt_rel_m", "front_overlap", "side_overlap")
                  if getattr(survey, name) is None]
        if absent:
            missing = f"the {survey.source} does not give {', '.join(absent)}"
    if missing is not None:
        if template == "mapping2d" or survey is not None:
            notes.approx(f"template.kml is a waypoint template, not mapping2d: {missing}")
        return "waypoint"
    holes = len(survey.area_wgs84.interiors)
    zones = sum(1 for _, inclusion in data.geofence_polygons if not inclusion)
    if holes or zones:
        notes.drop(f"mapping2d template: the {zones or holes} no-fly zone(s) in and around the "
                   "area are not in it (DJI's mapping planner does not take them); the "
                   "waylines keep out of them, a route regenerated from the template may not")
    if survey.direction_deg is None:
        notes.approx("mapping2d template: cells have different sweep angles; direction 0 "
                     "written")
    return "mapping2d"


def wpml_package(route: RoutePlan | MissionFile | RouteData | Sequence[MissionItem], *,
                 aircraft: str | DjiAircraft = DEFAULT_AIRCRAFT, template: str = "auto",
                 default_speed_m_s: float = 5.0, area: Polygon | None = None
                 ) -> tuple[dict[str, bytes], Notes]:
    """The files of a DJI WPML package for a route, and what they could not carry.

    Parameters
    ----------
    route : RoutePlan, MissionFile, RouteData or sequence of MissionItem
        Items with item 0 = home.
    aircraft : str or DjiAircraft
        A key of :data:`DJI_AIRCRAFT` (default ``"m30t"``: droneEnumValue 67, sub 1, payload
        53) or an explicit :class:`DjiAircraft`.
    template : {"auto", "waypoint", "mapping2d"}
        ``auto``: mapping2d for a survey with a known area, polygon, height and overlaps;
        else waypoint.
    default_speed_m_s : float
        Speed written where the mission sets none (m/s).
    area : shapely Polygon, optional
        Surveyed area of a survey RoutePlan (see :func:`missions.route_source.route_data`).

    Returns
    -------
    (dict, Notes)
        ``{"wpmz/template.kml": bytes, "wpmz/waylines.wpml": bytes}`` and the notes.

    Raises
    ------
    PlanFileError
        If the mission has no waypoint, or ``aircraft``/``template`` is unknown.
    """
    if isinstance(aircraft, str):
        if aircraft.lower() not in DJI_AIRCRAFT:
            raise PlanFileError(f"unknown DJI aircraft {aircraft!r}; one of "
                                f"{', '.join(sorted(DJI_AIRCRAFT))}")
        aircraft = DJI_AIRCRAFT[aircraft.lower()]
    if not default_speed_m_s > 0:
        raise PlanFileError(f"default speed must be > 0 m/s, got {default_speed_m_s!r}")
    data = route if isinstance(route, RouteData) else route_data(route, area=area)
    notes = Notes()
    wl = compile_wayline(data, notes, default_speed_m_s)
    if data.geofence_polygons:
        n = len(data.geofence_polygons)
        notes.drop(f"geofence: {n} polygon{'s' if n > 1 else ''} dropped: DJI WPML has no "
                   "geofence")
    if data.geofence_circles:
        n = len(data.geofence_circles)
        notes.drop(f"geofence: {n} circle{'s' if n > 1 else ''} dropped: DJI WPML has no "
                   "geofence")
    if data.rally_points:
        n = len(data.rally_points)
        notes.drop(f"rally points: {n} dropped: DJI WPML has none (the aircraft returns to "
                   "its dock or home)")
    kind = _template_kind(data, template, notes)
    for ci in data.complex_items:
        if not (kind == "mapping2d" and ci.get("type") == "survey"):
            notes.drop(f"mission item {ci['index']}: {ci['type']} ComplexItem's polygon and "
                       f"settings dropped: a DJI {kind} template does not hold them (the "
                       "mission items QGroundControl stored for it, if any, are written)")

    now_ms = int(time.time() * 1000)
    troot, tdoc = _root()
    _w(tdoc, "author", "drone-patrol")
    _w(tdoc, "createTime", now_ms)
    _w(tdoc, "updateTime", now_ms)
    _mission_config(tdoc, wl, aircraft, template=True)
    _template_folder(tdoc, wl, data, kind)

    wroot, wdoc = _root()
    _mission_config(wdoc, wl, aircraft, template=False)
    folder = _sub(wdoc, "Folder")
    _w(folder, "templateId", 0)
    _w(folder, "executeHeightMode", "relativeToStartPoint")
    _w(folder, "waylineId", 0)
    _w(folder, "autoFlightSpeed", float(wl.waypoints[0].speed))
    _placemarks(folder, wl, template=False)
    files = {}
    for name, root in ((TEMPLATE_KML, troot), (WAYLINES_WPML, wroot)):
        ET.indent(root)
        files[name] = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return files, notes


def write_wpml(route: RoutePlan | MissionFile | RouteData | Sequence[MissionItem],
               path: str | Path, **opts: Any) -> list[str]:
    """Write a DJI WPML ``.kmz`` package (``opts`` as :func:`wpml_package`).

    Returns
    -------
    list of str
        What the package could not carry: dropped items and parameters, then those written in
        another form, each naming the mission items.
    """
    files, notes = wpml_package(route, **opts)
    write_zip(path, files)
    return notes.all()
