"""What the simulated ArduCopter accepts, stores and returns per MAV_MISSION_TYPE.

The rules are ArduPilot's own (``libraries/GCS_MAVLink/MissionItemProtocol_Fence.cpp``,
``MissionItemProtocol_Rally.cpp``, ``MissionItemProtocol_Waypoints.cpp`` and
``libraries/AC_Fence/AC_PolyFence_loader.cpp``, ``validate_fence``):

- **Fence** items are MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION/EXCLUSION (param1 = the
  polygon's vertex count, on every vertex), MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION/EXCLUSION
  (param1 = radius, m) and MAV_CMD_NAV_FENCE_RETURN_POINT, in a global frame (else
  MAV_MISSION_UNSUPPORTED_FRAME; another command: MAV_MISSION_UNSUPPORTED). The whole fence is
  checked when the last item arrives: polygons of at least 3 vertices, each vertex of a polygon
  carrying the same type and count, at most one return point, valid latitude/longitude; a
  failure is a STATUSTEXT naming it, then "Fence validation failed" and MAV_MISSION_ERROR.
  It must then fit the fence storage (``fence_storage_space_required``: 4 header bytes, per
  polygon 2 + 8 per vertex, per circle 13, return point 9, and a 1-byte end marker, in
  :data:`missions.safety.FENCE_STORAGE_BYTES`), else "Fence exceeds storage size" and
  MAV_MISSION_ERROR. Stored as position + type (+ count or radius): read back with frame
  MAV_FRAME_GLOBAL, z 0.
- **Rally** points are MAV_CMD_NAV_RALLY_POINT in MAV_FRAME_GLOBAL_RELATIVE_ALT(_INT), the
  altitude kept as whole metres (ArduPilot's ``RallyLocation.alt`` is an int16); "Rally points
  received" when the upload completes.
- **Mission** items are stored as sent; "Flight plan received" when the upload completes.
"""

from __future__ import annotations

import math
from typing import Sequence

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.items import MissionItem
from missions.safety import FENCE_STORAGE_BYTES

__all__ = ["check_item", "complete", "download_error", "fence_storage_required", "stored_item", "validate_fence"]

_M = mavlink
MISSION, FENCE, RALLY = _M.MAV_MISSION_TYPE_MISSION, _M.MAV_MISSION_TYPE_FENCE, _M.MAV_MISSION_TYPE_RALLY

_FENCE_FRAMES = frozenset({_M.MAV_FRAME_GLOBAL, _M.MAV_FRAME_GLOBAL_INT, _M.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                           _M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, _M.MAV_FRAME_GLOBAL_TERRAIN_ALT,
                           _M.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT})
_POLYGONS = frozenset({_M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, _M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION})
_CIRCLES = frozenset({_M.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION, _M.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION})
_FENCE_COMMANDS = _POLYGONS | _CIRCLES | {_M.MAV_CMD_NAV_FENCE_RETURN_POINT}
_RALLY_FRAMES = frozenset({_M.MAV_FRAME_GLOBAL_RELATIVE_ALT, _M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT})
#: AC_PolyFenceType numbers, as ArduPilot's own messages print them.
_FENCE_TYPE = {_M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION: 98, _M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION: 97,
               _M.MAV_CMD_NAV_FENCE_RETURN_POINT: 95, _M.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION: 93,
               _M.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION: 92}
_DONE_TEXT = {MISSION: "Flight plan received", RALLY: "Rally points received"}


def _latlon_ok(item: MissionItem) -> bool:
    return -90.0 <= item.lat_deg <= 90.0 and -180.0 <= item.lon_deg <= 180.0


def check_item(mission_type: int, item: MissionItem) -> int:
    """MAV_MISSION_RESULT for one uploaded item (MAV_MISSION_ACCEPTED if the vehicle takes it).

    >>> from missions.items import waypoint_item
    >>> check_item(RALLY, waypoint_item(121.0, 30.7, 40.0)) == mavlink.MAV_MISSION_UNSUPPORTED
    True
    """
    if mission_type == FENCE:
        if item.frame not in _FENCE_FRAMES:
            return _M.MAV_MISSION_UNSUPPORTED_FRAME
        if item.command not in _FENCE_COMMANDS:
            return _M.MAV_MISSION_UNSUPPORTED
    elif mission_type == RALLY:
        if item.command != _M.MAV_CMD_NAV_RALLY_POINT:
            return _M.MAV_MISSION_UNSUPPORTED
        if item.frame not in _RALLY_FRAMES:
            return _M.MAV_MISSION_UNSUPPORTED_FRAME
        if not -90.0 <= item.lat_deg <= 90.0:
            return _M.MAV_MISSION_INVALID_PARAM5_X
        if not -180.0 <= item.lon_deg <= 180.0:
            return _M.MAV_MISSION_INVALID_PARAM6_Y
        if not -32768 <= item.alt_m <= 32767:
            return _M.MAV_MISSION_INVALID_PARAM7
    elif mission_type != MISSION:
        return _M.MAV_MISSION_UNSUPPORTED
    return _M.MAV_MISSION_ACCEPTED


def stored_item(mission_type: int, item: MissionItem) -> MissionItem:
    """The item as the vehicle keeps it and returns it on download."""
    if mission_type == FENCE:
        p1 = float(int(item.param1)) if item.command in _POLYGONS else float(item.param1)   # uint8 count
        return MissionItem(item.command, _M.MAV_FRAME_GLOBAL, param1=p1, lat_deg=item.lat_deg,
                           lon_deg=item.lon_deg, alt_m=0.0, autocontinue=False)
    if mission_type == RALLY:
        return MissionItem(item.command, _M.MAV_FRAME_GLOBAL_RELATIVE_ALT, lat_deg=item.lat_deg,
                           lon_deg=item.lon_deg, alt_m=float(math.trunc(item.alt_m)), autocontinue=False)
    return item


def validate_fence(items: Sequence[MissionItem]) -> str | None:
    """The STATUSTEXT ArduPilot sends for the first problem of a fence, or None if it is valid.

    >>> from pymavlink.dialects.v20 import ardupilotmega as m
    >>> v = [MissionItem(m.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, 0, param1=4, lat_deg=30.7, lon_deg=121.0)] * 3
    >>> validate_fence(v)
    'Incorrect item count'
    """
    expecting, left, count, seen_return = None, 0, 0, False
    for item in items:
        kind = _FENCE_TYPE[item.command]
        if item.command in _POLYGONS:
            n = int(item.param1)
            if n < 3:
                return f"Invalid vertex count ({n})"
            if left == 0:
                expecting, left, count = kind, n, n
            elif kind != expecting:
                return f"Received incorrect vertex type (want={expecting} got={kind})"
            elif n != count:
                return f"Unexpected vertex count want={count} got={n}"
            left -= 1
        elif left:
            return f"Received incorrect type (want={expecting} got={kind})"
        elif item.command in _CIRCLES and not item.param1 > 0:
            return "Non-positive circle radius"
        elif item.command == _M.MAV_CMD_NAV_FENCE_RETURN_POINT:
            if seen_return:
                return "Multiple return points"
            seen_return = True
        if not _latlon_ok(item):
            return "Bad lat or lon"
    return "Incorrect item count" if left else None


def fence_storage_required(items: Sequence[MissionItem]) -> int:
    """Bytes of fence storage a valid fence takes, without the end marker (ArduPilot's
    ``AC_PolyFence_loader::fence_storage_space_required``).

    >>> from pymavlink.dialects.v20 import ardupilotmega as m
    >>> square = [MissionItem(m.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, 0, param1=4)] * 4
    >>> fence_storage_required(square + [MissionItem(m.MAV_CMD_NAV_FENCE_RETURN_POINT, 0)])
    47
    """
    need, i = 4, 0
    while i < len(items):
        item = items[i]
        if item.command in _POLYGONS:
            need += 2 + 8 * int(item.param1)
            i += int(item.param1)
            continue
        need += 13 if item.command in _CIRCLES else 9
        i += 1
    return need


def complete(mission_type: int, items: Sequence[MissionItem], *,
             fence_storage_bytes: int = FENCE_STORAGE_BYTES) -> tuple[int, list[tuple[int, str]]]:
    """End of an upload: (MAV_MISSION_RESULT, STATUSTEXTs to send first as (severity, text))."""
    if mission_type == FENCE:
        problem = validate_fence(items)
        if problem is not None:
            severity = _M.MAV_SEVERITY_INFO if problem == "Incorrect item count" else _M.MAV_SEVERITY_WARNING
            return _M.MAV_MISSION_ERROR, [(severity, problem), (_M.MAV_SEVERITY_WARNING, "Fence validation failed")]
        need = fence_storage_required(items)
        if need > fence_storage_bytes:
            return _M.MAV_MISSION_ERROR, [(_M.MAV_SEVERITY_WARNING, "Fence exceeds storage size")]
        if need + 1 > fence_storage_bytes:           # no room for the end marker: the write fails
            return _M.MAV_MISSION_ERROR, []
        return _M.MAV_MISSION_ACCEPTED, []
    return _M.MAV_MISSION_ACCEPTED, [(_M.MAV_SEVERITY_INFO, _DONE_TEXT[mission_type])]


def download_error(mission_type: int, seq: int, count: int) -> int | None:
    """MAV_MISSION_RESULT refusing a MISSION_REQUEST(_INT) for item ``seq`` of ``count``, or None.

    ArduPilot answers a mission request past the end with MAV_MISSION_ERROR (item 0, home, is
    always readable), a fence request with MAV_MISSION_INVALID_SEQUENCE past ``count`` and
    MAV_MISSION_ERROR at it, a rally request with MAV_MISSION_INVALID_SEQUENCE.
    """
    if 0 <= seq < count or (mission_type == MISSION and seq == 0):
        return None
    if mission_type == FENCE and seq == count:
        return _M.MAV_MISSION_ERROR
    return _M.MAV_MISSION_ERROR if mission_type == MISSION else _M.MAV_MISSION_INVALID_SEQUENCE
