"""MAVLink wire units -> SI values with units in their names: the one place that converts them.

Every reader of live or recorded telemetry (the flight recorder, the daemon's vehicle state)
goes through these functions, so ``degE7``, ``mm``, ``cdeg`` and ``cm/s`` never leak past
this module. The field units are those of the MAVLink common and ardupilotmega message
definitions (``fieldunits_by_name`` of pymavlink's generated classes).

Each function takes a decoded pymavlink message (anything with the message's field names as
attributes) and returns a small frozen value, or ``None`` where the message says "unknown".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CameraShot",
    "Fix",
    "Home",
    "attitude_deg",
    "battery_remaining_pct",
    "battery_voltage_v",
    "fix_from_global_position_int",
    "gps_status",
    "home_from_home_position",
    "shot_from_camera_feedback",
]

_UINT16_MAX = 65535


@dataclass(frozen=True, slots=True)
class Fix:
    """A fused position of the vehicle (GLOBAL_POSITION_INT).

    Attributes
    ----------
    lat_deg, lon_deg : float
        WGS84 degrees.
    alt_amsl_m : float
        Altitude above mean sea level, metres.
    alt_rel_m : float
        Altitude above home, metres.
    heading_deg : float or None
        Vehicle heading 0-360 degrees from true north; None when the vehicle says unknown.
    groundspeed_m_s : float
        Horizontal speed over ground, m/s.
    climb_m_s : float
        Vertical speed, m/s, positive up.
    """

    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    alt_rel_m: float
    heading_deg: float | None
    groundspeed_m_s: float
    climb_m_s: float


@dataclass(frozen=True, slots=True)
class Home:
    """The vehicle's home (HOME_POSITION): WGS84 degrees and metres above mean sea level."""

    lat_deg: float
    lon_deg: float
    alt_amsl_m: float


@dataclass(frozen=True, slots=True)
class CameraShot:
    """A photo as the autopilot reported it (CAMERA_FEEDBACK).

    ``time_unix_s`` is the capture time the vehicle stamped (UTC seconds), None when zero.
    Angles are the vehicle attitude in degrees at the trigger; ``yaw_deg`` 0-360 from north.
    """

    img_idx: int
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    alt_rel_m: float
    roll_deg: float
    pitch_deg: float
    yaw_deg: float
    time_unix_s: float | None


def fix_from_global_position_int(msg: Any) -> Fix | None:
    """GLOBAL_POSITION_INT -> :class:`Fix`; None while the EKF has no origin (lat = lon = 0).

    ``lat``/``lon`` degE7, ``alt``/``relative_alt`` mm, ``vx``/``vy``/``vz`` cm/s (NED),
    ``hdg`` cdeg (65535 = unknown).

    >>> from types import SimpleNamespace as M
    >>> f = fix_from_global_position_int(M(lat=307005002, lon=1210185002, alt=45070,
    ...     relative_alt=40009, vx=955, vy=-9, vz=-100, hdg=35953))
    >>> (f.lat_deg, f.lon_deg, f.alt_amsl_m, f.alt_rel_m, f.heading_deg, round(f.groundspeed_m_s, 3), f.climb_m_s)
    (30.7005002, 121.0185002, 45.07, 40.009, 359.53, 9.55, 1.0)
    >>> fix_from_global_position_int(M(lat=0, lon=0, alt=0, relative_alt=0, vx=0, vy=0, vz=0, hdg=0)) is None
    True
    """
    if msg.lat == 0 and msg.lon == 0:
        return None
    return Fix(
        lat_deg=msg.lat / 1e7,
        lon_deg=msg.lon / 1e7,
        alt_amsl_m=msg.alt / 1e3,
        alt_rel_m=msg.relative_alt / 1e3,
        heading_deg=None if msg.hdg == _UINT16_MAX else msg.hdg / 1e2,
        groundspeed_m_s=math.hypot(msg.vx, msg.vy) / 1e2,
        climb_m_s=-msg.vz / 1e2,
    )


def home_from_home_position(msg: Any) -> Home | None:
    """HOME_POSITION (``latitude``/``longitude`` degE7, ``altitude`` mm AMSL) -> :class:`Home`.

    None when the position is all zeros (no home).

    >>> from types import SimpleNamespace as M
    >>> home_from_home_position(M(latitude=307005000, longitude=1210185000, altitude=5070))
    Home(lat_deg=30.7005, lon_deg=121.0185, alt_amsl_m=5.07)
    """
    if msg.latitude == 0 and msg.longitude == 0:
        return None
    return Home(lat_deg=msg.latitude / 1e7, lon_deg=msg.longitude / 1e7, alt_amsl_m=msg.altitude / 1e3)


def shot_from_camera_feedback(msg: Any) -> CameraShot:
    """CAMERA_FEEDBACK -> :class:`CameraShot`.

    ``lat``/``lng`` degE7, ``alt_msl``/``alt_rel`` m, ``roll``/``pitch``/``yaw`` deg,
    ``time_usec`` UTC microseconds (0 = unknown). Yaw is wrapped into 0-360.

    >>> from types import SimpleNamespace as M
    >>> s = shot_from_camera_feedback(M(img_idx=3, lat=307008000, lng=1210187120, alt_msl=45.07,
    ...     alt_rel=40.0, roll=-1.53, pitch=-29.53, yaw=-0.5, time_usec=1795283258056397))
    >>> (s.img_idx, s.lat_deg, s.lon_deg, s.yaw_deg, s.time_unix_s)
    (3, 30.7008, 121.018712, 359.5, 1795283258.056397)
    """
    return CameraShot(
        img_idx=int(msg.img_idx),
        lat_deg=msg.lat / 1e7,
        lon_deg=msg.lng / 1e7,
        alt_amsl_m=float(msg.alt_msl),
        alt_rel_m=float(msg.alt_rel),
        roll_deg=float(msg.roll),
        pitch_deg=float(msg.pitch),
        yaw_deg=float(msg.yaw) % 360.0,
        time_unix_s=msg.time_usec / 1e6 if msg.time_usec else None,
    )


def battery_remaining_pct(msg: Any) -> float | None:
    """``battery_remaining`` of SYS_STATUS or BATTERY_STATUS in percent; None when -1 (unknown).

    >>> from types import SimpleNamespace as M
    >>> battery_remaining_pct(M(battery_remaining=62)), battery_remaining_pct(M(battery_remaining=-1))
    (62.0, None)
    """
    value = msg.battery_remaining
    return None if value is None or value < 0 else float(value)


def battery_voltage_v(msg: Any) -> float | None:
    """SYS_STATUS ``voltage_battery`` (mV; 0 or 65535 = unknown) in volts.

    >>> from types import SimpleNamespace as M
    >>> battery_voltage_v(M(voltage_battery=12600)), battery_voltage_v(M(voltage_battery=65535))
    (12.6, None)
    """
    mv = msg.voltage_battery
    return None if mv in (0, _UINT16_MAX) else mv / 1e3


def gps_status(msg: Any) -> tuple[int, int | None]:
    """GPS_RAW_INT -> (``fix_type`` as GPS_FIX_TYPE, satellites visible or None when 255)."""
    sats = msg.satellites_visible
    return int(msg.fix_type), (None if sats == 255 else int(sats))


def attitude_deg(msg: Any) -> tuple[float, float, float]:
    """ATTITUDE ``roll``/``pitch``/``yaw`` (rad) -> degrees (yaw wrapped into 0-360).

    >>> from types import SimpleNamespace as M
    >>> [round(v, 3) for v in attitude_deg(M(roll=0.0, pitch=-math.pi / 6, yaw=-math.pi / 2))]
    [0.0, -30.0, 270.0]
    """
    return math.degrees(msg.roll), math.degrees(msg.pitch), math.degrees(msg.yaw) % 360.0
