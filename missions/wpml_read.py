"""Read DJI WPML packages (``wpmz/waylines.wpml`` + ``wpmz/template.kml``) as MAVLink items.

The inverse of the table in :mod:`missions.wpml`: each waypoint becomes a
MAV_CMD_NAV_WAYPOINT (a curved pass-through one a MAV_CMD_NAV_SPLINE_WAYPOINT), its ``hover``
a hold time, its ``smoothTransition`` heading the yaw (param4), a change of ``waypointSpeed``
a MAV_CMD_DO_CHANGE_SPEED; ``reachPoint`` actions become the items after it, distance and
timed photo spans MAV_CMD_DO_SET_CAM_TRIGG_DIST / MAV_CMD_IMAGE_START_CAPTURE on and off,
``towardPOI`` spans MAV_CMD_DO_SET_ROI_LOCATION ... MAV_CMD_DO_SET_ROI_NONE, ``finishAction``
the last item. What has no MAVLink equivalent is listed in ``MissionFile.notes``.
Spec: DJI Cloud API "DJI WPML", waylines.wpml and common elements
(https://developer.dji.com/doc/cloud-api-tutorial/en/api-reference/dji-wpml/waylines-wpml.html).
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import Polygon

from missions.areas import _children, _descendants, _local
from missions.errors import PlanFileError
from missions.items import (
    MissionItem,
    cam_trigg_dist_item,
    change_speed_item,
    home_item,
    roi_location_item,
    roi_none_item,
    rtl_item,
    takeoff_item,
)
from missions.mission_file import MissionFile
from missions.wpml_compile import (
    CURVE_TURN,
    MOUNT_MODE_MAVLINK_TARGETING,
    STOP_TURN,
    TEMPLATE_KML,
    WAYLINES_WPML,
    Span,
    aim_pitch,
)

__all__ = ["read_wpml", "is_wpml_package"]


def is_wpml_package(raw: bytes) -> bool:
    """Whether the bytes are a zip holding a ``wpmz/`` folder (a DJI WPML package)."""
    if raw[:2] != b"PK":
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            return any(n.startswith("wpmz/") for n in zf.namelist())
    except (zipfile.BadZipFile, zlib.error, EOFError):
        return False


def _wtext(elem, name: str) -> str | None:
    found = _children(elem, name)
    return (found[0].text or "").strip() if found else None


def _wnum(elem, name: str, where: str, default: float | None = None) -> float:
    text = _wtext(elem, name)
    if text is None or text == "":
        if default is not None:
            return default
        raise PlanFileError(f"{where}: <wpml:{name}> is missing")
    try:
        value = float(text)
    except ValueError as err:
        raise PlanFileError(f"{where}: <wpml:{name}> {text!r} is not a number") from err
    if not math.isfinite(value):
        raise PlanFileError(f"{where}: <wpml:{name}> {text!r} is not a finite number")
    return value


def _triple(text: str, where: str) -> tuple[float, float, float]:
    try:
        a, b, c = (float(v) for v in text.split(","))
    except ValueError as err:
        raise PlanFileError(f"{where}: {text!r} is not 'lat,lon,alt'") from err
    if not (abs(a) <= 90 and abs(b) <= 180):
        raise PlanFileError(f"{where}: {text!r} is not WGS84 lat,lon degrees")
    return a, b, c


def _parse_xml(zf: zipfile.ZipFile, name: str, path: Path):
    try:
        raw = zf.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise PlanFileError(f"{path}: {name}: cannot be unzipped ({err})") from err
    try:
        return ET.fromstring(raw)
    except ET.ParseError as err:
        raise PlanFileError(f"{path}: {name}: not well-formed XML: {err}") from err


@dataclass
class _ReadWaypoint:
    lon: float
    lat: float
    height: float
    speed: float
    curve: bool
    heading_mode: str
    heading_angle: float
    poi: tuple[float, float, float] | None
    reach: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _actions(group, where: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for act in _children(group, "action"):
        func = _wtext(act, "actionActuatorFunc")
        if not func:
            raise PlanFileError(f"{where}: <wpml:action> without actionActuatorFunc")
        params = {}
        for par in _children(act, "actionActuatorFuncParam"):
            params = {_local(c.tag): (c.text or "").strip() for c in par}
        out.append((func, params))
    return out


def _read_folder(folder, path: Path, k: int, notes: list[str]
                 ) -> tuple[list[_ReadWaypoint], list[Span], int]:
    where0 = f"{path}: {WAYLINES_WPML}: wayline {k}"
    auto_speed = _wnum(folder, "autoFlightSpeed", where0, default=math.nan)
    mode = _wtext(folder, "executeHeightMode") or "relativeToStartPoint"
    frame = {"relativeToStartPoint": mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
             "WGS84": mavlink.MAV_FRAME_GLOBAL,
             "realTimeFollowSurface": mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT}.get(mode)
    if frame is None:
        raise PlanFileError(f"{where0}: executeHeightMode {mode!r} is not relativeToStartPoint, "
                            "WGS84 or realTimeFollowSurface")
    if mode == "WGS84":
        notes.append(f"wayline {k}: ellipsoid heights (WGS84) read as MAV_FRAME_GLOBAL "
                     "altitudes (the geoid undulation is not applied)")
    elif mode == "realTimeFollowSurface":
        notes.append(f"wayline {k}: heights above the surface read as "
                     "MAV_FRAME_GLOBAL_TERRAIN_ALT")
    rows = []
    groups = []
    for pm in _children(folder, "Placemark"):
        index_text = _wtext(pm, "index")
        where = f"{where0} waypoint {index_text if index_text is not None else '?'}"
        try:
            index = int(index_text or "")
        except ValueError as err:
            raise PlanFileError(f"{where}: <wpml:index> missing or not an integer") from err
        coords = _descendants(pm, "coordinates")
        token = (coords[0].text or "").strip() if coords else ""
        try:
            lon, lat, *_ = (float(v) for v in token.split(","))
        except ValueError as err:
            raise PlanFileError(f"{where}: bad coordinates {token!r} (expected "
                                "longitude,latitude)") from err
        if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
            raise PlanFileError(f"{where}: coordinates {token!r} are not WGS84 lon,lat degrees")
        height = _wnum(pm, "executeHeight", where)
        speed = _wnum(pm, "waypointSpeed", where, default=auto_speed)
        if not math.isfinite(speed) or speed <= 0:
            raise PlanFileError(f"{where}: no waypointSpeed and no autoFlightSpeed")
        turn = (_wtext(_children(pm, "waypointTurnParam")[0], "waypointTurnMode")
                if _children(pm, "waypointTurnParam") else STOP_TURN)
        straight = _wtext(pm, "useStraightLine")
        head = _children(pm, "waypointHeadingParam")
        head_mode = (_wtext(head[0], "waypointHeadingMode") or "followWayline") if head else \
            "followWayline"
        angle = _wnum(head[0], "waypointHeadingAngle", where, default=0.0) if head else 0.0
        poi = None
        if head_mode == "towardPOI":
            lat_p, lon_p, alt_p = _triple(_wtext(head[0], "waypointPoiPoint") or "",
                                          f"{where}: waypointPoiPoint")
            poi = (lon_p, lat_p, alt_p)
        rows.append((index, _ReadWaypoint(lon, lat, height, speed,
                                          turn == CURVE_TURN and straight != "1",
                                          head_mode, angle, poi)))
        for group in _children(pm, "actionGroup"):
            gwhere = f"{where}: actionGroup {_wtext(group, 'actionGroupId')}"
            start = int(_wnum(group, "actionGroupStartIndex", gwhere))
            end = int(_wnum(group, "actionGroupEndIndex", gwhere))
            trig = _children(group, "actionTrigger")
            ttype = _wtext(trig[0], "actionTriggerType") if trig else None
            tparam = _wnum(trig[0], "actionTriggerParam", gwhere, default=0.0) if trig else 0.0
            groups.append((start, end, ttype, tparam, _actions(group, gwhere), gwhere))
    rows.sort(key=lambda r: r[0])
    indices = [r[0] for r in rows]
    if indices != list(range(len(rows))):
        raise PlanFileError(f"{where0}: waypoint indices {indices[:12]} are not 0, 1, 2, ...")
    wps = [r[1] for r in rows]
    spans = []
    for start, end, ttype, tparam, acts, gwhere in groups:
        if not (0 <= start <= end < len(wps)):
            raise PlanFileError(f"{gwhere}: waypoint range {start}-{end} outside 0-{len(wps) - 1}")
        if ttype == "reachPoint":
            for i in range(start, end + 1):
                wps[i].reach.extend(acts)
        elif ttype in ("multipleDistance", "multipleTiming") and \
                [a[0] for a in acts] == ["takePhoto"] and tparam > 0:
            spans.append(Span(ttype, start, end, tparam))
        else:
            notes.append(f"wayline {k} waypoints {start}-{end}: {ttype} action group "
                         f"({', '.join(a[0] for a in acts)}) has no MAVLink equivalent; dropped")
    for func in [_local(c.tag) for c in folder if _local(c.tag) == "startActionGroup"]:
        notes.append(f"wayline {k}: {func} (actions before the wayline) dropped")
    return wps, spans, frame


def _mission_item_for_action(func: str, params: dict[str, str], where: str,
                             notes: list[str]) -> MissionItem | None:
    def num(key: str, default: float = 0.0) -> float:
        try:
            return float(params.get(key, default))
        except ValueError as err:
            raise PlanFileError(f"{where}: {func} {key} {params.get(key)!r} is not a "
                                "number") from err

    mission = mavlink.MAV_FRAME_MISSION
    if func == "takePhoto":
        return MissionItem(mavlink.MAV_CMD_IMAGE_START_CAPTURE, mission, param3=1.0)
    if func == "startRecord":
        return MissionItem(mavlink.MAV_CMD_VIDEO_START_CAPTURE, mission)
    if func == "stopRecord":
        return MissionItem(mavlink.MAV_CMD_VIDEO_STOP_CAPTURE, mission)
    if func == "gimbalRotate":
        angles = [num(f"gimbal{a}RotateAngle") if params.get(f"gimbal{a}RotateEnable") == "1"
                  else 0.0 for a in ("Pitch", "Roll", "Yaw")]
        if params.get("gimbalRotateMode") == "absoluteAngle" and \
                params.get("gimbalYawRotateEnable") == "1":
            notes.append(f"{where}: gimbalRotate yaw relative to north read as relative to the "
                         "aircraft (MAV_CMD_DO_MOUNT_CONTROL)")
        return MissionItem(mavlink.MAV_CMD_DO_MOUNT_CONTROL, mission, *angles,
                           alt_m=MOUNT_MODE_MAVLINK_TARGETING)
    if func == "rotateYaw":
        direction = -1.0 if params.get("aircraftPathMode") == "counterClockwise" else 1.0
        return MissionItem(mavlink.MAV_CMD_CONDITION_YAW, mission,
                           param1=num("aircraftHeading") % 360.0, param3=direction)
    notes.append(f"{where}: action {func} has no MAVLink equivalent; dropped")
    return None


def _items_of(wps: list[_ReadWaypoint], spans: list[Span], frame: int, base: int,
              speed: float | None, notes: list[str]) -> tuple[list[MissionItem], float | None]:
    """MAVLink items of one wayline (see the module table); returns them and the speed."""
    items: list[MissionItem] = []
    starts = {(s.trigger, s.start): s for s in spans}
    ends = {(s.trigger, s.end) for s in spans}
    for i, wp in enumerate(wps):
        where = f"waypoint {base + i}"
        reach = list(wp.reach)
        hovers = [a for a in reach if a[0] == "hover"]
        if hovers and reach[0][0] != "hover":
            notes.append(f"{where}: hover after other actions read as a hold before them")
        try:
            hold = float(sum(float(a[1].get("hoverTime") or 0.0) for a in hovers))
        except ValueError as err:
            raise PlanFileError(f"{where}: hover hoverTime is not a number") from err
        reach = [a for a in reach if a[0] != "hover"]
        param4 = wp.heading_angle if wp.heading_mode in ("smoothTransition", "fixed") else 0.0
        command = (mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT if wp.curve
                   else mavlink.MAV_CMD_NAV_WAYPOINT)
        items.append(MissionItem(command, frame, param1=hold, param4=param4,
                                 lat_deg=wp.lat, lon_deg=wp.lon, alt_m=wp.height))
        if speed is None or wp.speed != speed:
            items.append(change_speed_item(wp.speed))
            speed = wp.speed
        prev_poi = wps[i - 1].poi if i else None
        roi_opens = wp.poi is not None and wp.poi != prev_poi
        if roi_opens:  # the camera-aiming gimbalRotate written with the ROI is part of it
            aim = aim_pitch(wp.lon, wp.lat, wp.height, wp.poi)
            for k, (func, params) in enumerate(reach):
                if func == "gimbalRotate" and params.get("gimbalPitchRotateEnable") == "1" and \
                        params.get("gimbalYawRotateEnable") != "1" and \
                        abs(float(params.get("gimbalPitchRotateAngle", "nan")) - aim) < 1e-6:
                    del reach[k]
                    break
        closing, opening = [], []
        photos = sum(1 for a in reach if a[0] == "takePhoto")
        dist_start = starts.get(("multipleDistance", i))
        dist_end = ("multipleDistance", i) in ends
        if dist_end and (dist_start is None or photos >= 2):
            # a pass ending here (with its end photo); a restart here needs no separate stop
            now = photos > 0
            photos -= now
            closing.append(cam_trigg_dist_item(0.0, trigger_now=now))
        if dist_start is not None:
            now = photos > 0
            photos -= now
            opening.append(cam_trigg_dist_item(dist_start.param, trigger_now=now))
        if ("multipleTiming", i) in ends and ("multipleTiming", i) not in starts:
            closing.append(MissionItem(mavlink.MAV_CMD_IMAGE_STOP_CAPTURE,
                                       mavlink.MAV_FRAME_MISSION))
        timing = starts.get(("multipleTiming", i))
        if timing is not None:
            opening.append(MissionItem(mavlink.MAV_CMD_IMAGE_START_CAPTURE,
                                       mavlink.MAV_FRAME_MISSION, param2=timing.param))
        if prev_poi is not None and wp.poi != prev_poi:
            closing.append(roi_none_item())
        if roi_opens:
            opening.insert(0, roi_location_item(wp.poi[0], wp.poi[1], wp.poi[2]))
        for func, params in reach:
            if func == "takePhoto":
                if photos <= 0:
                    continue
                photos -= 1
            item = _mission_item_for_action(func, params, where, notes)
            if item is not None:
                items.append(item)
        items += closing + opening
    return items, speed


def read_wpml(path: str | Path) -> MissionFile:
    """Read a DJI WPML package (``wpmz/waylines.wpml``, and ``wpmz/template.kml`` for home).

    Returns
    -------
    MissionFile
        ``format="wpml"``: home (``takeOffRefPoint``, else the first waypoint at 0 m),
        MAV_CMD_NAV_TAKEOFF to ``takeOffSecurityHeight``, then per waypoint the items of the
        module table; a mapping2d template's polygon and settings as a ``survey`` complex item.

    Raises
    ------
    PlanFileError
        Naming the file and the problem: not a zip (or truncated), no
        ``wpmz/waylines.wpml``, XML that is not well-formed, a waypoint with bad coordinates,
        a missing or non-numeric height, indices that are not 0, 1, 2, ...
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise PlanFileError(f"{path}: cannot read: {err.strerror or err}") from err
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise PlanFileError(f"{path}: not a valid KMZ (zip) file: {err}") from err
    with zf:
        names = zf.namelist()
        if WAYLINES_WPML not in names:
            raise PlanFileError(f"{path}: DJI WPML package has no {WAYLINES_WPML} (found: "
                                f"{', '.join(names[:6]) or 'nothing'})")
        wroot = _parse_xml(zf, WAYLINES_WPML, path)
        troot = _parse_xml(zf, TEMPLATE_KML, path) if TEMPLATE_KML in names else None
    out = MissionFile(path=path, format="wpml", items=[])
    notes = out.notes
    docs = _descendants(wroot, "Document")
    if _local(wroot.tag) != "kml" or not docs:
        raise PlanFileError(f"{path}: {WAYLINES_WPML}: not a <kml><Document>")
    doc = docs[0]
    configs = _children(doc, "missionConfig")
    config = configs[0] if configs else None
    folders = _children(doc, "Folder")
    if not folders:
        raise PlanFileError(f"{path}: {WAYLINES_WPML}: no wayline <Folder>")
    waylines = [_read_folder(f, path, k, notes) for k, f in enumerate(folders)]
    if not any(wps for wps, _, _ in waylines):
        raise PlanFileError(f"{path}: {WAYLINES_WPML}: no waypoint Placemark")
    if len(waylines) > 1:
        notes.append(f"{len(waylines)} waylines joined into one mission")

    ref = None
    tconfig = None
    if troot is not None:
        tdocs = _descendants(troot, "Document")
        tconfig = _children(tdocs[0], "missionConfig") if tdocs else []
        tconfig = tconfig[0] if tconfig else None
    for cfg in (tconfig, config):
        text = _wtext(cfg, "takeOffRefPoint") if cfg is not None else None
        if text:
            ref = _triple(text, f"{path}: takeOffRefPoint")
            break
    first = next(wps[0] for wps, _, _ in waylines if wps)
    if ref is not None:
        lat, lon, alt = ref
        out.home_wgs84 = (lon, lat, alt)
    else:
        lon, lat, alt = first.lon, first.lat, 0.0
        notes.append("no takeOffRefPoint: item 0 (home) set at the first waypoint, 0 m")
    items = [home_item(lon, lat, alt)]
    where = f"{path}: {WAYLINES_WPML}: missionConfig"
    if config is not None and _wtext(config, "takeOffSecurityHeight"):
        items.append(takeoff_item(lon, lat, _wnum(config, "takeOffSecurityHeight", where)))
    speed = None
    if config is not None and _wtext(config, "globalTransitionalSpeed"):
        transitional = _wnum(config, "globalTransitionalSpeed", where)
        if transitional > 0:
            items.append(change_speed_item(transitional))
            speed = transitional
    base = 0
    for wps, spans, frame in waylines:
        more, speed = _items_of(wps, spans, frame, base, speed, notes)
        items += more
        base += len(wps)
    finish = (_wtext(config, "finishAction") if config is not None else None) or "noAction"
    if finish == "goHome":
        items.append(rtl_item())
    elif finish == "autoLand":
        items.append(MissionItem(mavlink.MAV_CMD_NAV_LAND, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT))
    elif finish == "gotoFirstWaypoint":
        wp0 = next(i for i in items if i.command in (mavlink.MAV_CMD_NAV_WAYPOINT,
                                                     mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT))
        items.append(MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT, wp0.frame, lat_deg=wp0.lat_deg,
                                 lon_deg=wp0.lon_deg, alt_m=wp0.alt_m))
        notes.append("finishAction gotoFirstWaypoint read as a last waypoint at the first one")
    out.items = items
    if troot is not None:
        _read_mapping2d(troot, path, out)
    return out


def _read_mapping2d(troot, path: Path, out: MissionFile) -> None:
    for folder in _descendants(troot, "Folder"):
        if _wtext(folder, "templateType") != "mapping2d":
            continue
        where = f"{path}: {TEMPLATE_KML}: mapping2d template"
        pm = _children(folder, "Placemark")
        rings = _descendants(pm[0], "LinearRing") if pm else []
        if not rings:
            out.notes.append("mapping2d template without a Polygon: not read")
            return
        text = " ".join((c.text or "") for c in _descendants(rings[0], "coordinates"))
        try:
            shell = [tuple(float(v) for v in tok.split(",")[:2]) for tok in text.split()]
        except ValueError as err:
            raise PlanFileError(f"{where}: bad Polygon coordinates") from err
        overlap = _children(pm[0], "overlap")
        settings: dict[str, Any] = {"complexItemType": "survey", "source": "DJI mapping2d",
                                    "angle": _wnum(pm[0], "direction", where, default=0.0)}
        cam: dict[str, Any] = {"DistanceToSurface": _wnum(pm[0], "height", where, default=0.0),
                               "DistanceToSurfaceRelative": True}
        if overlap:
            cam["FrontalOverlap"] = _wnum(overlap[0], "orthoCameraOverlapH", where, default=0.0)
            cam["SideOverlap"] = _wnum(overlap[0], "orthoCameraOverlapW", where, default=0.0)
        settings["CameraCalc"] = cam
        out.complex_items.append({"index": 1, "type": "survey", "geometry": Polygon(shell),
                                  "settings": settings})
        return
