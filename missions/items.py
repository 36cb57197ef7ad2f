"""MAVLink mission items as plain values, and builders for the commands the planner uses.

A :class:`MissionItem` carries the fields of MISSION_ITEM_INT in physical units (degrees and
metres rather than degE7); the conversion to the wire happens in the telemetry package. The
command and frame numbers come from pymavlink's ``ardupilotmega`` dialect, never redefined.

ArduPilot convention: item 0 of a mission is home (a MAV_CMD_NAV_WAYPOINT in
MAV_FRAME_GLOBAL); the vehicle overwrites it with its real home on arming.

Geofence and rally items travel over the same protocol with MAV_MISSION_TYPE_FENCE and
MAV_MISSION_TYPE_RALLY and have no home item. ArduPilot's fence loader
(``libraries/GCS_MAVLink/MissionItemProtocol_Fence.cpp``) takes polygon vertices as
MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION/_EXCLUSION with param1 = the polygon's vertex count
on every vertex (stored as a uint8, at least 3), consecutive vertices of one polygon, the ring
not closed, in a global frame; its rally loader (``MissionItemProtocol_Rally.cpp``) takes
MAV_CMD_NAV_RALLY_POINT with an int16 altitude in metres.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.errors import MissionError

__all__ = [
    "MissionItem",
    "NAV_COMMANDS_WITH_POSITION",
    "command_name",
    "home_item",
    "takeoff_item",
    "waypoint_item",
    "change_speed_item",
    "cam_trigg_dist_item",
    "roi_location_item",
    "roi_none_item",
    "rtl_item",
    "fence_vertex_item",
    "fence_return_point_item",
    "rally_point_item",
]

#: NAV commands whose x/y/z are a position the vehicle flies to.
NAV_COMMANDS_WITH_POSITION = frozenset({
    mavlink.MAV_CMD_NAV_WAYPOINT,
    mavlink.MAV_CMD_NAV_LOITER_UNLIM,
    mavlink.MAV_CMD_NAV_LOITER_TURNS,
    mavlink.MAV_CMD_NAV_LOITER_TIME,
    mavlink.MAV_CMD_NAV_LAND,
    mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT,
    mavlink.MAV_CMD_NAV_LOITER_TO_ALT,
})


def command_name(command: int) -> str:
    """MAV_CMD name of ``command`` as the MAVLink spec spells it, or ``MAV_CMD <n>``.

    >>> command_name(16)
    'MAV_CMD_NAV_WAYPOINT'
    """
    entry = mavlink.enums["MAV_CMD"].get(command)
    return entry.name if entry is not None else f"MAV_CMD {command}"


@dataclass(frozen=True)
class MissionItem:
    """One MAVLink mission item.

    Parameters
    ----------
    command : int
        MAV_CMD number (``mavlink.MAV_CMD_NAV_WAYPOINT`` ...).
    frame : int
        MAV_FRAME number; waypoints use MAV_FRAME_GLOBAL_RELATIVE_ALT (``alt_m`` above home),
        home uses MAV_FRAME_GLOBAL (``alt_m`` above mean sea level), DO commands
        MAV_FRAME_MISSION.
    param1, param2, param3, param4 : float
        Command parameters as the MAV_CMD defines them (NaN where the spec allows it).
    lat_deg, lon_deg : float
        WGS84 position in degrees (x and y of the item); 0 for commands without one.
    alt_m : float
        z of the item in metres, in the reference the frame names.
    autocontinue : bool
        Continue to the next item when this one completes.
    """

    command: int
    frame: int
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    alt_m: float = 0.0
    autocontinue: bool = True

    @property
    def has_position(self) -> bool:
        """Whether the item is a NAV command flown to its lat/lon."""
        return self.command in NAV_COMMANDS_WITH_POSITION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN parameters become ``None``)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and math.isnan(value):
                out[key] = None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MissionItem":
        """The inverse of :meth:`to_dict`; ``None`` parameters become NaN.

        Raises
        ------
        MissionError
            If ``command`` or ``frame`` is missing or a value is not a number.
        """
        try:
            kwargs: dict[str, Any] = {"command": int(data["command"]), "frame": int(data["frame"])}
            for key in ("param1", "param2", "param3", "param4", "lat_deg", "lon_deg", "alt_m"):
                value = data.get(key, 0.0)
                kwargs[key] = math.nan if value is None else float(value)
            kwargs["autocontinue"] = bool(data.get("autocontinue", True))
        except (KeyError, TypeError, ValueError) as err:
            raise MissionError(f"not a mission item: {data!r} ({err})") from err
        return cls(**kwargs)


def home_item(lon_deg: float, lat_deg: float, alt_amsl_m: float = 0.0) -> MissionItem:
    """Item 0: home, a waypoint in MAV_FRAME_GLOBAL (the vehicle overwrites it)."""
    return MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_FRAME_GLOBAL,
                       lat_deg=lat_deg, lon_deg=lon_deg, alt_m=alt_amsl_m)


def takeoff_item(lon_deg: float, lat_deg: float, alt_rel_m: float) -> MissionItem:
    """MAV_CMD_NAV_TAKEOFF to ``alt_rel_m`` above home (a copter climbs where it stands)."""
    return MissionItem(mavlink.MAV_CMD_NAV_TAKEOFF, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                       lat_deg=lat_deg, lon_deg=lon_deg, alt_m=alt_rel_m)


def waypoint_item(lon_deg: float, lat_deg: float, alt_rel_m: float) -> MissionItem:
    """MAV_CMD_NAV_WAYPOINT at ``alt_rel_m`` above home, no hold, default acceptance radius."""
    return MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                       lat_deg=lat_deg, lon_deg=lon_deg, alt_m=alt_rel_m)


def change_speed_item(speed_m_s: float) -> MissionItem:
    """MAV_CMD_DO_CHANGE_SPEED: ground speed (param1 = 1) ``speed_m_s``, throttle unchanged."""
    if not speed_m_s > 0.0:
        raise MissionError(f"speed must be > 0 m/s, got {speed_m_s!r}")
    return MissionItem(mavlink.MAV_CMD_DO_CHANGE_SPEED, mavlink.MAV_FRAME_MISSION,
                       param1=1.0, param2=float(speed_m_s), param3=-1.0)


def cam_trigg_dist_item(distance_m: float, *, trigger_now: bool = True) -> MissionItem:
    """MAV_CMD_DO_SET_CAM_TRIGG_DIST: a photo every ``distance_m`` metres (0 = stop).

    ``trigger_now`` sets param3 = 1, one photo immediately (as QGroundControl's survey does at
    both ends of a transect).
    """
    if distance_m < 0.0:
        raise MissionError(f"trigger distance must be >= 0 m, got {distance_m!r}")
    return MissionItem(mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, mavlink.MAV_FRAME_MISSION,
                       param1=float(distance_m), param3=1.0 if trigger_now else 0.0)


def image_capture_item() -> MissionItem:
    """MAV_CMD_IMAGE_START_CAPTURE for one image (param3 = 1) where the vehicle is: the photo
    of a "capture at each waypoint" survey (ArduPilot 4.1+ runs it as a mission command)."""
    return MissionItem(mavlink.MAV_CMD_IMAGE_START_CAPTURE, mavlink.MAV_FRAME_MISSION,
                       param3=1.0)


def roi_location_item(lon_deg: float, lat_deg: float, alt_rel_m: float = 0.0) -> MissionItem:
    """MAV_CMD_DO_SET_ROI_LOCATION: point the vehicle and camera at a place
    (``alt_rel_m`` above home)."""
    return MissionItem(mavlink.MAV_CMD_DO_SET_ROI_LOCATION, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                       lat_deg=lat_deg, lon_deg=lon_deg, alt_m=alt_rel_m)


def roi_none_item() -> MissionItem:
    """MAV_CMD_DO_SET_ROI_NONE: stop pointing at a region of interest."""
    return MissionItem(mavlink.MAV_CMD_DO_SET_ROI_NONE, mavlink.MAV_FRAME_MISSION)


def rtl_item() -> MissionItem:
    """MAV_CMD_NAV_RETURN_TO_LAUNCH."""
    return MissionItem(mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, mavlink.MAV_FRAME_MISSION)


def fence_vertex_item(lon_deg: float, lat_deg: float, vertex_count: int, *,
                      inclusion: bool = True) -> MissionItem:
    """One vertex of a geofence polygon: MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION (or
    _EXCLUSION), param1 = ``vertex_count`` of its polygon, MAV_FRAME_GLOBAL (as QGroundControl
    sends fence items; ArduPilot ignores the altitude).

    Raises
    ------
    MissionError
        If ``vertex_count`` is outside 3..255 (ArduPilot stores it in a uint8 and rejects
        polygons of fewer than 3 vertices).
    """
    if not 3 <= int(vertex_count) <= 255:
        raise MissionError(f"a fence polygon needs 3 to 255 vertices, got {vertex_count}")
    command = (mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION if inclusion
               else mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
    return MissionItem(command, mavlink.MAV_FRAME_GLOBAL, param1=float(int(vertex_count)),
                       lat_deg=lat_deg, lon_deg=lon_deg)


def fence_return_point_item(lon_deg: float, lat_deg: float) -> MissionItem:
    """MAV_CMD_NAV_FENCE_RETURN_POINT: where the vehicle goes on a fence breach (ArduPlane;
    ArduCopter ignores it and returns to launch or the nearest rally point)."""
    return MissionItem(mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT, mavlink.MAV_FRAME_GLOBAL,
                       lat_deg=lat_deg, lon_deg=lon_deg)


def rally_point_item(lon_deg: float, lat_deg: float, alt_rel_m: float) -> MissionItem:
    """MAV_CMD_NAV_RALLY_POINT at ``alt_rel_m`` above home (MAV_FRAME_GLOBAL_RELATIVE_ALT, the
    frame every ArduPilot version accepts for rally points).

    Raises
    ------
    MissionError
        If the altitude does not fit ArduPilot's int16 metres.
    """
    if not -32768.0 <= alt_rel_m <= 32767.0:
        raise MissionError(f"rally point altitude {alt_rel_m!r} m is out of range")
    return MissionItem(mavlink.MAV_CMD_NAV_RALLY_POINT, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                       lat_deg=lat_deg, lon_deg=lon_deg, alt_m=float(alt_rel_m))
