"""The simulated vehicle's state on the wire: one encoder per MAVLink message it streams.

Each encoder takes the channel's pymavlink ``MAVLink`` object and the
:class:`~telemetry.sim.vehicle.SimVehicle` and returns a message, converting SI units to the
message's (degE7, mm, cm/s, cdeg, mV, cA) as the MAVLink definitions state. Field choices
follow the ArduCopter 4.6.3 SITL recording where it shows them (for instance
GLOBAL_POSITION_INT all zeros before the GPS fix, GPS fix type 6 with 10 satellites,
BATTERY_STATUS cell voltages 65535).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.sim.vehicle import SimVehicle

__all__ = ["ENCODERS", "STREAM_GROUPS", "camera_feedback", "home_position", "gps_global_origin", "sensors"]

_S = mavlink
_SENSORS = (_S.MAV_SYS_STATUS_SENSOR_3D_GYRO | _S.MAV_SYS_STATUS_SENSOR_3D_ACCEL | _S.MAV_SYS_STATUS_SENSOR_3D_MAG
            | _S.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE | _S.MAV_SYS_STATUS_SENSOR_GPS
            | _S.MAV_SYS_STATUS_SENSOR_ANGULAR_RATE_CONTROL | _S.MAV_SYS_STATUS_SENSOR_ATTITUDE_STABILIZATION
            | _S.MAV_SYS_STATUS_SENSOR_YAW_POSITION | _S.MAV_SYS_STATUS_SENSOR_Z_ALTITUDE_CONTROL
            | _S.MAV_SYS_STATUS_SENSOR_XY_POSITION_CONTROL | _S.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
            | _S.MAV_SYS_STATUS_SENSOR_RC_RECEIVER | _S.MAV_SYS_STATUS_AHRS | _S.MAV_SYS_STATUS_SENSOR_BATTERY
            | _S.MAV_SYS_STATUS_PREARM_CHECK)
_EKF_READY = (_S.EKF_ATTITUDE | _S.EKF_VELOCITY_HORIZ | _S.EKF_VELOCITY_VERT | _S.EKF_POS_HORIZ_REL
              | _S.EKF_POS_HORIZ_ABS | _S.EKF_POS_VERT_ABS | _S.EKF_PRED_POS_HORIZ_REL | _S.EKF_PRED_POS_HORIZ_ABS)
_EKF_GPS = _S.EKF_ATTITUDE | _S.EKF_VELOCITY_HORIZ | _S.EKF_VELOCITY_VERT | _S.EKF_POS_VERT_ABS | _S.EKF_CONST_POS_MODE
_FULL_VOLTAGE_MV = 12600
_HJ_PER_MAH = 3.6 * 12.6 / 100     # energy_consumed (hJ) of a mAh at the 3S pack's 12.6 V


def _boot_ms(v: SimVehicle) -> int:
    return int(v.t_s * 1000.0) & 0xFFFFFFFF


def _e7(deg: float) -> int:
    return int(round(deg * 1e7))


def sensors(v: SimVehicle) -> tuple[int, int, int]:
    """SYS_STATUS (present, enabled, health) bitmasks of MAV_SYS_STATUS_SENSOR."""
    health = _SENSORS
    if not v.gps_ok:
        health &= ~_S.MAV_SYS_STATUS_SENSOR_GPS
    if not v.ready_to_arm:
        health &= ~_S.MAV_SYS_STATUS_PREARM_CHECK
    return _SENSORS, _SENSORS, health


def heartbeat(mav: Any, v: SimVehicle) -> Any:
    return mav.heartbeat_encode(v.mav_type, v.autopilot, v.base_mode, v.custom_mode, v.system_status, 3)


def global_position_int(mav: Any, v: SimVehicle) -> Any:
    if not v.gps_ok:
        return mav.global_position_int_encode(_boot_ms(v), 0, 0, 0, 0, 0, 0, 0, 0)
    lat, lon = v.lat_lon_deg
    return mav.global_position_int_encode(
        _boot_ms(v), _e7(lat), _e7(lon), int(round(v.alt_amsl_m * 1000)), int(round(v.alt_rel_m * 1000)),
        int(round(v.v_north_m_s * 100)), int(round(v.v_east_m_s * 100)), int(round(-v.vz * 100)),
        int(round(v.yaw_deg * 100)) % 36000)


def local_position_ned(mav: Any, v: SimVehicle) -> Any | None:
    if not v.ready_to_arm or v.home_xy is None:
        return None
    north, east = v.offset_from_home_m()
    return mav.local_position_ned_encode(_boot_ms(v), north, east, -v.alt_rel_m, v.v_north_m_s, v.v_east_m_s, -v.vz)


def attitude(mav: Any, v: SimVehicle) -> Any:
    yaw = math.radians((v.yaw_deg + 180.0) % 360.0 - 180.0)
    return mav.attitude_encode(_boot_ms(v), 0.0, math.radians(v.pitch_deg), yaw, 0.0, 0.0, 0.0)


def vfr_hud(mav: Any, v: SimVehicle) -> Any:
    throttle = (40 if v.flying else 10) if v.armed else 0
    return mav.vfr_hud_encode(v.groundspeed_m_s, v.groundspeed_m_s, int(v.yaw_deg) % 360, throttle,
                              v.alt_amsl_m, v.vz)


def sys_status(mav: Any, v: SimVehicle) -> Any:
    present, enabled, health = sensors(v)
    volts = _FULL_VOLTAGE_MV - int(15 * (100 - v.battery_remaining_pct))
    return mav.sys_status_encode(present, enabled, health, 0, volts, int(round(v.current_a * 100)),
                                 v.battery_remaining_pct, 0, 0, 0, 0, 0, 0)


def battery_status(mav: Any, v: SimVehicle) -> Any:
    return mav.battery_status_encode(
        0, _S.MAV_BATTERY_FUNCTION_UNKNOWN, _S.MAV_BATTERY_TYPE_UNKNOWN, 32767, [65535] * 10,
        int(round(v.current_a * 100)), int(v.battery_used_mah), int(v.battery_used_mah * _HJ_PER_MAH),
        v.battery_remaining_pct, 0, _S.MAV_BATTERY_CHARGE_STATE_OK)


def gps_raw_int(mav: Any, v: SimVehicle) -> Any:
    if not v.gps_ok:
        return mav.gps_raw_int_encode(0, _S.GPS_FIX_TYPE_NO_GPS, 0, 0, 0, 65535, 65535, 0, 0, 0)
    lat, lon = v.lat_lon_deg
    cog = int(round(math.degrees(math.atan2(v.v_east_m_s, v.v_north_m_s)) * 100)) % 36000 \
        if v.groundspeed_m_s > 0.1 else 0
    alt_mm = int(round(v.alt_amsl_m * 1000))
    return mav.gps_raw_int_encode(int(v.t_s * 1e6), _S.GPS_FIX_TYPE_RTK_FIXED, _e7(lat), _e7(lon), alt_mm,
                                  121, 200, int(round(v.groundspeed_m_s * 100)), cog, 10, alt_mm, 300, 300, 0, 0, 0)


def system_time(mav: Any, v: SimVehicle) -> Any:
    utc = v.utc_s
    return mav.system_time_encode(0 if utc is None else int(round(utc * 1e6)), _boot_ms(v))


def mission_current(mav: Any, v: SimVehicle) -> Any:
    auto = int(v.mode == "AUTO")
    return mav.mission_current_encode(v.mission_seq, v.mission_total, v.mission_state, auto)


def nav_controller_output(mav: Any, v: SimVehicle) -> Any:
    dx, dy = v.target_xy[0] - v.x_m, v.target_xy[1] - v.y_m
    bearing = int(round(math.degrees(math.atan2(dx, dy)))) % 360
    alt_error = v.target_alt_rel_m - v.alt_rel_m
    return mav.nav_controller_output_encode(0.0, v.pitch_deg, bearing, bearing, int(math.hypot(dx, dy)),
                                            alt_error, 0.0, 0.0)


def ekf_status_report(mav: Any, v: SimVehicle) -> Any:
    flags = _EKF_READY if v.ready_to_arm else (_EKF_GPS if v.gps_ok else _S.EKF_UNINITIALIZED)
    return mav.ekf_status_report_encode(flags, 0.01, 0.01, 0.01, 0.01, 0.0, 0.0)


def rc_channels(mav: Any, v: SimVehicle) -> Any:
    return mav.rc_channels_encode(_boot_ms(v), 8, 1500, 1500, 1000, 1500, 1800, 1000, 1000, 1800,
                                  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255)


def servo_output_raw(mav: Any, v: SimVehicle) -> Any:
    pwm = (1550 if v.flying else 1100) if v.armed else 1000
    return mav.servo_output_raw_encode(int(v.t_s * 1e6) & 0xFFFFFFFF, 0, pwm, pwm, pwm, pwm, 0, 0, 0, 0)


def scaled_pressure(mav: Any, v: SimVehicle) -> Any:
    press_hpa = 1013.25 * (1.0 - 2.25577e-5 * v.alt_amsl_m) ** 5.25588    # standard atmosphere
    return mav.scaled_pressure_encode(_boot_ms(v), press_hpa, 0.0, 2558)


def home_position(mav: Any, v: SimVehicle) -> Any | None:
    """HOME_POSITION, or None while the vehicle has no home."""
    if v.home_xy is None:
        return None
    lon, lat = v.proj.to_lonlat(*v.home_xy)
    return mav.home_position_encode(_e7(lat), _e7(lon), int(round(v.home_amsl_m * 1000)), 0.0, 0.0, 0.0,
                                    [math.nan] * 4, 0.0, 0.0, 0.0, int(v.t_s * 1e6))


def gps_global_origin(mav: Any, v: SimVehicle) -> Any | None:
    """GPS_GLOBAL_ORIGIN (the EKF origin, at home), or None before it is set."""
    if v.home_xy is None:
        return None
    lon, lat = v.proj.to_lonlat(*v.home_xy)
    return mav.gps_global_origin_encode(_e7(lat), _e7(lon), int(round(v.ground_amsl_m * 1000)), int(v.t_s * 1e6))


def camera_feedback(mav: Any, v: SimVehicle, shot: dict[str, Any]) -> Any:
    """CAMERA_FEEDBACK for a photo the vehicle took (fields as SITL fills them)."""
    return mav.camera_feedback_encode(shot["time_usec"], 0, 0, shot["img_idx"], _e7(shot["lat_deg"]),
                                      _e7(shot["lon_deg"]), shot["alt_msl"], shot["alt_rel"], shot["roll"],
                                      shot["pitch"], shot["yaw"], 0.0, _S.CAMERA_FEEDBACK_PHOTO, 0)


#: Streamed messages by name.
ENCODERS: dict[str, Callable[[Any, SimVehicle], Any]] = {
    "GLOBAL_POSITION_INT": global_position_int, "LOCAL_POSITION_NED": local_position_ned,
    "ATTITUDE": attitude, "VFR_HUD": vfr_hud, "SYS_STATUS": sys_status, "BATTERY_STATUS": battery_status,
    "GPS_RAW_INT": gps_raw_int, "SYSTEM_TIME": system_time, "MISSION_CURRENT": mission_current,
    "NAV_CONTROLLER_OUTPUT": nav_controller_output, "EKF_STATUS_REPORT": ekf_status_report,
    "RC_CHANNELS": rc_channels, "SERVO_OUTPUT_RAW": servo_output_raw, "SCALED_PRESSURE": scaled_pressure,
    "HOME_POSITION": home_position, "GPS_GLOBAL_ORIGIN": gps_global_origin, "HEARTBEAT": heartbeat,
}

#: ArduPilot's stream groups (MAV_DATA_STREAM -> messages), the subset this vehicle sends.
STREAM_GROUPS: dict[int, tuple[str, ...]] = {
    _S.MAV_DATA_STREAM_RAW_SENSORS: ("SCALED_PRESSURE",),
    _S.MAV_DATA_STREAM_EXTENDED_STATUS: ("SYS_STATUS", "MISSION_CURRENT", "GPS_RAW_INT", "NAV_CONTROLLER_OUTPUT"),
    _S.MAV_DATA_STREAM_RC_CHANNELS: ("RC_CHANNELS", "SERVO_OUTPUT_RAW"),
    _S.MAV_DATA_STREAM_POSITION: ("GLOBAL_POSITION_INT", "LOCAL_POSITION_NED"),
    _S.MAV_DATA_STREAM_EXTRA1: ("ATTITUDE",),
    _S.MAV_DATA_STREAM_EXTRA2: ("VFR_HUD",),
    _S.MAV_DATA_STREAM_EXTRA3: ("SYSTEM_TIME", "BATTERY_STATUS", "EKF_STATUS_REPORT"),
}
