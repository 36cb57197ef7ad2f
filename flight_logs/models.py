"""Tables of the flight archive: raw files, vehicles, flights, tracks, events, photos.

The raw file (tlog, DataFlash log, photo) is the record; the database keeps what the file
does not say (ids, links between things) and summaries derived from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from patrol.db import Base, intpk, utcnow

__all__ = ["CameraPosition", "Flight", "FlightEvent", "LogFile", "Photo", "TrackPoint", "Vehicle"]


class LogFile(Base):
    """A raw file kept by content hash under the data root (``stored_path`` is relative).

    ``kind``: ``"tlog"``, ``"dataflash"``, ``"live-tlog"`` (recorded by the daemon).
    """

    __tablename__ = "log_file"

    id: Mapped[intpk]
    sha256: Mapped[Optional[str]] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    original_name: Mapped[str] = mapped_column(sa.String(500))
    stored_path: Mapped[str] = mapped_column(sa.String(500))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    messages: Mapped[int] = mapped_column(default=0)
    bad_bytes: Mapped[int] = mapped_column(default=0)
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    flights: Mapped[list["Flight"]] = relationship(back_populates="log_file")


class Vehicle(Base):
    """One aircraft as seen on one link: ``key`` is ``"<link or log>#<system id>"``."""

    __tablename__ = "vehicle"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    system_id: Mapped[int]
    mav_type: Mapped[Optional[int]]  # MAV_TYPE of its HEARTBEAT
    autopilot: Mapped[Optional[int]]  # MAV_AUTOPILOT of its HEARTBEAT

    flights: Mapped[list["Flight"]] = relationship(back_populates="vehicle")


class Flight(Base):
    """One flight, from arming to disarming (``end_utc`` None while still armed).

    Summaries: ``duration_s``, ``distance_m`` (along the track, geodesic), ``max_alt_rel_m``
    (above home), ``max_dist_home_m``, ``photo_count`` and ``battery_used_pct``.
    """

    __tablename__ = "flight"

    id: Mapped[intpk]
    vehicle_id: Mapped[int] = mapped_column(sa.ForeignKey("vehicle.id"), index=True)
    log_file_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("log_file.id"), index=True)
    route_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("route.id"))
    start_utc: Mapped[dt.datetime] = mapped_column(index=True)
    end_utc: Mapped[Optional[dt.datetime]]
    duration_s: Mapped[float] = mapped_column(default=0.0)
    distance_m: Mapped[float] = mapped_column(default=0.0)
    max_alt_rel_m: Mapped[float] = mapped_column(default=0.0)
    max_dist_home_m: Mapped[float] = mapped_column(default=0.0)
    photo_count: Mapped[int] = mapped_column(default=0)
    battery_used_pct: Mapped[Optional[float]]
    home_lat_deg: Mapped[Optional[float]]
    home_lon_deg: Mapped[Optional[float]]
    home_alt_amsl_m: Mapped[Optional[float]]

    vehicle: Mapped[Vehicle] = relationship(back_populates="flights")
    log_file: Mapped[Optional[LogFile]] = relationship(back_populates="flights")
    track: Mapped[list["TrackPoint"]] = relationship(
        back_populates="flight", cascade="all, delete-orphan", order_by="TrackPoint.t_utc")
    events: Mapped[list["FlightEvent"]] = relationship(
        back_populates="flight", cascade="all, delete-orphan", order_by="FlightEvent.t_utc")
    camera_positions: Mapped[list["CameraPosition"]] = relationship(
        back_populates="flight", cascade="all, delete-orphan", order_by="CameraPosition.t_utc")


class TrackPoint(Base):
    """A decimated track fix (the full rate stays in the tlog)."""

    __tablename__ = "track_point"

    id: Mapped[intpk]
    flight_id: Mapped[int] = mapped_column(sa.ForeignKey("flight.id", ondelete="CASCADE"), index=True)
    t_utc: Mapped[dt.datetime]
    lat_deg: Mapped[float]
    lon_deg: Mapped[float]
    alt_rel_m: Mapped[float]
    alt_amsl_m: Mapped[Optional[float]]
    heading_deg: Mapped[Optional[float]]
    groundspeed_m_s: Mapped[Optional[float]]

    flight: Mapped[Flight] = relationship(back_populates="track")


class FlightEvent(Base):
    """Something that happened: ``kind`` is ``"armed"``, ``"disarmed"``, ``"mode"``,
    ``"mission_item_reached"``, ``"statustext"``, ``"alarm"``, ...; ``severity`` is the
    MAV_SEVERITY (0 emergency .. 7 debug) where one applies."""

    __tablename__ = "flight_event"

    id: Mapped[intpk]
    flight_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("flight.id", ondelete="CASCADE"), index=True)
    vehicle_id: Mapped[int] = mapped_column(sa.ForeignKey("vehicle.id"), index=True)
    t_utc: Mapped[dt.datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    severity: Mapped[Optional[int]]
    message: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    flight: Mapped[Optional[Flight]] = relationship(back_populates="events")


class CameraPosition(Base):
    """A photo taken as the autopilot reported it (MAVLink CAMERA_FEEDBACK)."""

    __tablename__ = "camera_position"

    id: Mapped[intpk]
    flight_id: Mapped[int] = mapped_column(sa.ForeignKey("flight.id", ondelete="CASCADE"), index=True)
    t_utc: Mapped[dt.datetime]
    img_idx: Mapped[int]
    lat_deg: Mapped[float]
    lon_deg: Mapped[float]
    alt_amsl_m: Mapped[float]
    alt_rel_m: Mapped[float]
    roll_deg: Mapped[float]
    pitch_deg: Mapped[float]
    yaw_deg: Mapped[float]

    flight: Mapped[Flight] = relationship(back_populates="camera_positions")


class Photo(Base):
    """A photo kept by content hash, with where and how it was taken.

    ``position_source``: ``"exif"`` (EXIF GPS), ``"camera_feedback"`` (matched to a
    CAMERA_FEEDBACK by time) or ``"track"`` (flight track interpolated at the capture time).
    Angles in degrees: gimbal pitch -90 is nadir; yaw clockwise from true north.
    ``footprint`` (GeoJSON Polygon, WGS84) is filled by vision's georeferencing.
    """

    __tablename__ = "photo"

    id: Mapped[intpk]
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    stored_path: Mapped[str] = mapped_column(sa.String(500))
    original_name: Mapped[str] = mapped_column(sa.String(500))
    photo_set: Mapped[str] = mapped_column(sa.String(200), index=True)
    flight_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("flight.id"), index=True)
    taken_utc: Mapped[Optional[dt.datetime]] = mapped_column(index=True)
    # Where taken_utc came from: "exif_gps", "exif_offset", "exif_local" or "file_name".
    time_source: Mapped[Optional[str]] = mapped_column(sa.String(20))
    lat_deg: Mapped[Optional[float]]
    lon_deg: Mapped[Optional[float]]
    alt_amsl_m: Mapped[Optional[float]]
    alt_rel_m: Mapped[Optional[float]]
    gimbal_pitch_deg: Mapped[Optional[float]]
    gimbal_yaw_deg: Mapped[Optional[float]]
    gimbal_roll_deg: Mapped[Optional[float]]
    flight_yaw_deg: Mapped[Optional[float]]
    width_px: Mapped[Optional[int]]
    height_px: Mapped[Optional[int]]
    camera_make: Mapped[Optional[str]] = mapped_column(sa.String(100))
    camera_model: Mapped[Optional[str]] = mapped_column(sa.String(100))
    focal_length_mm: Mapped[Optional[float]]
    focal_length_35mm: Mapped[Optional[float]]  # EXIF FocalLengthIn35mmFilm
    position_source: Mapped[Optional[str]] = mapped_column(sa.String(30))
    footprint: Mapped[Optional[dict[str, Any]]]
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
