"""Who is the vehicle, is it armed, and what is its flight mode called (from HEARTBEAT).

Mode names come from pymavlink's tables (``mavutil.mode_mapping_bynumber`` for ArduPilot
vehicle types, ``mavutil.interpret_px4_mode`` for PX4), never from a copy of them here.
"""

from __future__ import annotations

from typing import Any

from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

__all__ = ["GCS_SYSTEM_ID", "is_armed", "is_vehicle_heartbeat", "mode_name", "mode_number"]

#: The system id ground stations use by convention (MAVProxy, QGroundControl, this project).
GCS_SYSTEM_ID = 255

_NOT_VEHICLES = frozenset({mavlink.MAV_TYPE_GCS, mavlink.MAV_TYPE_ONBOARD_CONTROLLER,
                           mavlink.MAV_TYPE_GIMBAL, mavlink.MAV_TYPE_ADSB, mavlink.MAV_TYPE_CAMERA})


def is_vehicle_heartbeat(msg: Any) -> bool:
    """True for a HEARTBEAT of a vehicle's autopilot: component 1 (MAV_COMP_ID_AUTOPILOT1),
    not the ground station's system id 255, not a GCS/camera/gimbal type, a real autopilot.

    Cameras and other components of the same system send HEARTBEATs of their own with other
    component ids; ground stations send them with type MAV_TYPE_GCS.
    """
    return (msg.get_type() == "HEARTBEAT"
            and msg.get_srcComponent() == mavlink.MAV_COMP_ID_AUTOPILOT1
            and msg.get_srcSystem() not in (0, GCS_SYSTEM_ID)
            and msg.type not in _NOT_VEHICLES
            and msg.autopilot != mavlink.MAV_AUTOPILOT_INVALID)


def is_armed(base_mode: int) -> bool:
    """Bit MAV_MODE_FLAG_SAFETY_ARMED (128) of HEARTBEAT.base_mode.

    >>> is_armed(217), is_armed(89)
    (True, False)
    """
    return bool(base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)


def mode_name(mav_type: int, autopilot: int, base_mode: int, custom_mode: int) -> str:
    """Flight mode name from a HEARTBEAT's fields.

    ArduPilot custom modes are named by the table for the vehicle type (MAV_TYPE); PX4 modes
    by pymavlink's PX4 decoder; anything else is ``"Mode(<n>)"``.

    >>> mode_name(mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, 217, 3)
    'AUTO'
    >>> mode_name(mavlink.MAV_TYPE_FIXED_WING, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, 217, 10)
    'AUTO'
    >>> mode_name(mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, 81, 99)
    'Mode(99)'
    """
    if autopilot == mavlink.MAV_AUTOPILOT_PX4:
        return mavutil.interpret_px4_mode(base_mode, custom_mode)
    table = mavutil.mode_mapping_bynumber(mav_type) or {}
    return table.get(custom_mode, f"Mode({custom_mode})")


def mode_number(mav_type: int, name: str) -> int | None:
    """ArduPilot custom mode number of ``name`` (case-insensitive) for a vehicle type, or None.

    >>> mode_number(mavlink.MAV_TYPE_QUADROTOR, "guided"), mode_number(mavlink.MAV_TYPE_QUADROTOR, "RTL")
    (4, 6)
    """
    table = mavutil.mode_mapping_byname(mav_type) or {}
    return table.get(name.upper())
