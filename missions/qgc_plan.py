"""QGroundControl ``.plan`` files (JSON): mission, geofence and rally points.

Written as QGroundControl writes them (keys sorted, 4-space indent): ``fileType`` "Plan",
``version`` 1, ``groundStation`` "QGroundControl"; ``mission`` version 2 with
``firmwareType`` 3 (MAV_AUTOPILOT_ARDUPILOTMEGA), ``vehicleType`` 2 (MAV_TYPE_QUADROTOR),
``plannedHomePosition`` [lat, lon, alt AMSL] and ``SimpleItem`` items (``command``,
``frame``, ``params`` [param1-4, lat, lon, alt] with NaN as ``null``, ``autoContinue``,
``doJumpId``); ``geoFence`` version 2 (polygons and circles, each version 1); ``rallyPoints``
version 2. Format reference:
https://docs.qgroundcontrol.com/master/en/qgc-dev-guide/file_formats/plan.html

The reader takes SimpleItems (the version-2 ``params`` of 7 and the older ``coordinate`` +
4 ``params``) and, of ComplexItems (survey, corridor scan, structure scan), keeps the polygon
or polyline and settings and expands the mission items QGroundControl stored inside a transect
item; whatever it cannot use is listed in ``MissionFile.notes``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import LineString, Polygon

from missions.errors import PlanFileError
from missions.items import MissionItem, home_item
from missions.mission_file import MissionFile
from missions.plan import RoutePlan

__all__ = ["write_plan", "read_plan", "plan_document"]

_ALTITUDE_MODE_RELATIVE = 1  # QGroundControl's "relative to launch" altitude mode
_ALTITUDE_FRAMES = {mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT: _ALTITUDE_MODE_RELATIVE}


def _json_num(value: float) -> float | int | None:
    value = float(value)
    if math.isnan(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 1e15 else value


def _simple_item(item: MissionItem, jump_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "autoContinue": bool(item.autocontinue),
        "command": int(item.command),
        "doJumpId": jump_id,
        "frame": int(item.frame),
        "params": [_json_num(v) for v in (item.param1, item.param2, item.param3, item.param4,
                                          item.lat_deg, item.lon_deg, item.alt_m)],
        "type": "SimpleItem",
    }
    if (item.has_position or item.command == mavlink.MAV_CMD_NAV_TAKEOFF) \
            and item.frame in _ALTITUDE_FRAMES:
        out.update({"AMSLAltAboveTerrain": None, "Altitude": _json_num(item.alt_m),
                    "AltitudeMode": _ALTITUDE_FRAMES[item.frame]})
    return out


def plan_document(plan: RoutePlan | Sequence[MissionItem], *, hover_speed_m_s: float | None = None,
                  cruise_speed_m_s: float = 15.0,
                  geofence_polygons: Sequence[tuple[Polygon, bool]] | None = None,
                  rally_points: Sequence[tuple[float, float, float]] | None = None
                  ) -> dict[str, Any]:
    """The ``.plan`` JSON document of a plan (or of items with item 0 = home).

    ``geofence_polygons`` defaults, for a RoutePlan, to its inclusion fence and its no-fly
    zones as exclusions; ``rally_points`` (lon, lat, alt_rel_m) to its rally points. Give
    ``[]`` to leave either out.
    """
    if isinstance(plan, RoutePlan):
        items = plan.items
        speed = hover_speed_m_s if hover_speed_m_s is not None else plan.stats.get("speed_m_s", 5.0)
        if geofence_polygons is None:
            geofence_polygons = ([(plan.geofence_inclusion_wgs84, True)]
                                 if plan.geofence_inclusion_wgs84 is not None else [])
            geofence_polygons += [(p, False) for p in plan.no_fly_wgs84]
        if rally_points is None:
            rally_points = plan.rally_points_wgs84
    else:
        items = list(plan)
        speed = hover_speed_m_s if hover_speed_m_s is not None else 5.0
    if not items:
        raise PlanFileError("a plan needs at least the home item")
    home = items[0]
    fences = []
    for poly, inclusion in geofence_polygons or []:
        ring = list(poly.exterior.coords)[:-1]
        fences.append({"inclusion": bool(inclusion),
                       "polygon": [[lat, lon] for lon, lat in ring], "version": 1})
    return {
        "fileType": "Plan",
        "geoFence": {"circles": [], "polygons": fences, "version": 2},
        "groundStation": "QGroundControl",
        "mission": {
            "cruiseSpeed": _json_num(cruise_speed_m_s),
            "firmwareType": mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
            "globalPlanAltitudeMode": _ALTITUDE_MODE_RELATIVE,
            "hoverSpeed": _json_num(speed),
            "items": [_simple_item(it, k) for k, it in enumerate(items[1:], start=1)],
            "plannedHomePosition": [home.lat_deg, home.lon_deg, _json_num(home.alt_m)],
            "vehicleType": mavlink.MAV_TYPE_QUADROTOR,
            "version": 2,
        },
        "rallyPoints": {"points": [[lat, lon, _json_num(alt)]
                                   for lon, lat, alt in rally_points or ()],
                        "version": 2},
        "version": 1,
    }


def write_plan(plan: RoutePlan | Sequence[MissionItem], path: str | Path, **kwargs: Any) -> Path:
    """Write a QGroundControl ``.plan`` file (``kwargs`` as :func:`plan_document`); returns
    the path."""
    path = Path(path)
    doc = plan_document(plan, **kwargs)
    path.write_text(json.dumps(doc, indent=4, sort_keys=True) + "\n", encoding="utf-8")
    return path


# --- reading ---------------------------------------------------------------------------------

def _num(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PlanFileError(f"{where}: {value!r} is not a number")
    return float(value)


def _read_simple(obj: dict[str, Any], where: str) -> MissionItem:
    try:
        command, frame = int(obj["command"]), int(obj["frame"])
    except (KeyError, TypeError, ValueError) as err:
        raise PlanFileError(f"{where}: field 'command'/'frame' missing or not an integer") from err
    params = obj.get("params")
    if not isinstance(params, list):
        raise PlanFileError(f"{where}: field 'params' missing or not a list")
    if len(params) == 7:
        values = [_num(v, f"{where}: params[{k}]") for k, v in enumerate(params)]
    elif (len(params) == 4 and isinstance(obj.get("coordinate"), list)
          and len(obj["coordinate"]) == 3):
        coord = [_num(v, f"{where}: coordinate[{k}]") for k, v in enumerate(obj["coordinate"])]
        values = [_num(v, f"{where}: params[{k}]") for k, v in enumerate(params)] + coord
    else:
        raise PlanFileError(f"{where}: field 'params' has {len(params)} values "
                            "(expected 7, or 4 with a 3-value 'coordinate')")
    return MissionItem(command, frame, *values, autocontinue=bool(obj.get("autoContinue", True)))


def _latlon_ring(points: Any, where: str) -> list[tuple[float, float]]:
    if not isinstance(points, list):
        raise PlanFileError(f"{where}: not a list of [lat, lon] points")
    out = []
    for k, p in enumerate(points):
        if not (isinstance(p, list) and len(p) >= 2):
            raise PlanFileError(f"{where}[{k}]: not a [lat, lon] point")
        out.append((_num(p[1], f"{where}[{k}]"), _num(p[0], f"{where}[{k}]")))
    return out


def _read_complex(obj: dict[str, Any], index: int, where: str,
                  out: MissionFile) -> list[MissionItem]:
    kind = str(obj.get("complexItemType", "?"))
    settings = {k: v for k, v in obj.items()
                if k not in ("polygon", "polyline", "TransectStyleComplexItem", "type")}
    geometry = None
    if isinstance(obj.get("polygon"), list) and len(obj["polygon"]) >= 3:
        geometry = Polygon(_latlon_ring(obj["polygon"], f"{where}: polygon"))
    elif isinstance(obj.get("polyline"), list) and len(obj["polyline"]) >= 2:
        geometry = LineString(_latlon_ring(obj["polyline"], f"{where}: polyline"))
    transect = obj.get("TransectStyleComplexItem")
    if isinstance(transect, dict):
        settings.update({k: v for k, v in transect.items()
                         if k not in ("Items", "VisualTransectPoints")})
    out.complex_items.append({"index": index, "type": kind, "geometry": geometry,
                              "settings": settings})
    stored = transect.get("Items") if isinstance(transect, dict) else None
    if isinstance(stored, list) and stored:
        items = [_read_simple(s, f"{where}: TransectStyleComplexItem.Items[{k}]")
                 for k, s in enumerate(stored)]
        out.notes.append(f"mission item {index}: {kind} ComplexItem expanded into its "
                         f"{len(items)} stored mission items")
        return items
    out.notes.append(f"mission item {index}: {kind} ComplexItem has no stored mission items; "
                     f"skipped (its {'polygon' if isinstance(geometry, Polygon) else 'polyline'} "
                     "and settings are in complex_items)" if geometry is not None else
                     f"mission item {index}: {kind} ComplexItem skipped (no geometry, no items)")
    return []


def read_plan(path: str | Path) -> MissionFile:
    """Read a QGroundControl ``.plan`` file.

    Raises
    ------
    PlanFileError
        If the file is not JSON (with line and column), not a Plan, or an item or field is
        malformed (naming the mission item index and field).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as err:
        raise PlanFileError(f"{path}: cannot read: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise PlanFileError(f"{path}: not UTF-8 text: {err}") from err
    except json.JSONDecodeError as err:
        raise PlanFileError(f"{path}: line {err.lineno} column {err.colno}: not valid JSON "
                            f"({err.msg})") from err
    if not isinstance(doc, dict) or doc.get("fileType") != "Plan":
        raise PlanFileError(f"{path}: field 'fileType' is not \"Plan\"")
    mission = doc.get("mission")
    if not isinstance(mission, dict) or not isinstance(mission.get("items"), list):
        raise PlanFileError(f"{path}: field 'mission.items' is missing or not a list")
    out = MissionFile(path=path, format="plan", items=[])
    home_pos = mission.get("plannedHomePosition")
    if isinstance(home_pos, list) and len(home_pos) >= 2:
        lat, lon = _num(home_pos[0], f"{path}: plannedHomePosition"), \
            _num(home_pos[1], f"{path}: plannedHomePosition")
        alt = _num(home_pos[2], f"{path}: plannedHomePosition") if len(home_pos) > 2 else 0.0
        out.home_wgs84 = (lon, lat, alt)
        items = [home_item(lon, lat, 0.0 if math.isnan(alt) else alt)]
    else:
        out.notes.append("no plannedHomePosition: item 0 (home) set to 0, 0")
        items = [home_item(0.0, 0.0, 0.0)]
    for index, obj in enumerate(mission["items"]):
        where = f"{path}: mission item {index}"
        if not isinstance(obj, dict):
            raise PlanFileError(f"{where}: not a JSON object")
        kind = obj.get("type")
        if kind == "SimpleItem":
            items.append(_read_simple(obj, where))
        elif kind == "ComplexItem":
            items.extend(_read_complex(obj, index, where, out))
        else:
            out.notes.append(f"mission item {index}: unknown type {kind!r}; skipped")
    out.items = items
    fence = doc.get("geoFence") if isinstance(doc.get("geoFence"), dict) else {}
    for k, poly in enumerate(fence.get("polygons") or []):
        ring = _latlon_ring(poly.get("polygon") if isinstance(poly, dict) else None,
                            f"{path}: geoFence.polygons[{k}].polygon")
        if len(ring) >= 3:
            out.geofence_polygons.append((Polygon(ring), bool(poly.get("inclusion", True))))
    for k, circ in enumerate(fence.get("circles") or []):
        try:
            c = circ["circle"]
            lat, lon = (_num(v, f"{path}: geoFence.circles[{k}]") for v in c["center"][:2])
            radius = _num(c["radius"], f"{path}: geoFence.circles[{k}]")
        except (KeyError, TypeError, IndexError, ValueError) as err:
            raise PlanFileError(f"{path}: geoFence.circles[{k}]: malformed circle") from err
        out.geofence_circles.append(((lon, lat), radius, bool(circ.get("inclusion", True))))
    rally = doc.get("rallyPoints") if isinstance(doc.get("rallyPoints"), dict) else {}
    for k, p in enumerate(rally.get("points") or []):
        if not (isinstance(p, list) and len(p) >= 3):
            raise PlanFileError(f"{path}: rallyPoints.points[{k}]: not [lat, lon, alt]")
        lat, lon, alt = (_num(v, f"{path}: rallyPoints.points[{k}]") for v in p[:3])
        out.rally_points.append((lon, lat, alt))
    return out
