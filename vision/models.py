"""Tables of the vision package: detections in photos, merged into findings on the ground."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from patrol.db import Base, intpk, utcnow

__all__ = ["Detection", "Finding", "PhotoGeoref"]


class Finding(Base):
    """A problem on the ground, seen in one or more photos (its detections).

    ``status``: ``"new"`` (awaiting review), ``"confirmed"`` or ``"rejected"``.
    ``reviewed_at`` is when a supervisor confirmed or rejected it (who, and why, are in the
    console's audit trail). ``evidence_path`` is the crop relative to the data root, named by its content hash.
    Position WGS84 degrees; ``radius_m`` is the merge radius used.
    """

    __tablename__ = "finding"
    # console: the dashboard's count by category and status over a period (covering), and the
    # review queue's order (status, best score first) without sorting
    __table_args__ = (sa.Index("ix_finding_dashboard", "category", "status", "first_seen_utc",
                               "created_at"),
                      sa.Index("ix_finding_status_score", "status", "score", "id"))

    id: Mapped[intpk]
    category: Mapped[str] = mapped_column(sa.String(60), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="new", index=True)
    lat_deg: Mapped[float]
    lon_deg: Mapped[float]
    radius_m: Mapped[float] = mapped_column(default=5.0)
    score: Mapped[float]
    first_seen_utc: Mapped[Optional[dt.datetime]]
    last_seen_utc: Mapped[Optional[dt.datetime]]
    seen_count: Mapped[int] = mapped_column(default=1)
    evidence_path: Mapped[Optional[str]] = mapped_column(sa.String(500))
    polygon: Mapped[Optional[dict[str, Any]]]  # GeoJSON Polygon, WGS84
    reviewed_at: Mapped[Optional[dt.datetime]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    detections: Mapped[list["Detection"]] = relationship(back_populates="finding")


class Detection(Base):
    """One detector hit in one photo: ``bbox_px`` is ``[x, y, w, h]`` in image pixels,
    ``polygon`` its ground outline (GeoJSON, WGS84), ``lat_deg``/``lon_deg`` its centre."""

    __tablename__ = "detection"

    id: Mapped[intpk]
    photo_id: Mapped[int] = mapped_column(sa.ForeignKey("photo.id"), index=True)
    reference_photo_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("photo.id"))
    finding_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("finding.id"), index=True)
    detector: Mapped[str] = mapped_column(sa.String(60))
    category: Mapped[str] = mapped_column(sa.String(60))
    score: Mapped[float]
    bbox_px: Mapped[list[Any]]
    polygon: Mapped[Optional[dict[str, Any]]]
    lat_deg: Mapped[float]
    lon_deg: Mapped[float]
    area_m2: Mapped[Optional[float]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    finding: Mapped[Optional[Finding]] = relationship(back_populates="detections")


class PhotoGeoref(Base):
    """How vision placed a photo on the ground: the pose it used and where each part came from.

    ``height_source``: ``"alt_rel"`` (height above take-off), ``"ground_elevation_setting"``
    or ``"ground_elevation_estimate"`` (``alt_amsl_m`` minus ``ground_elevation_m``).
    ``yaw_source``: ``"gimbal"``, ``"flight"`` or ``"course"`` (between neighbouring photos).
    ``lat_deg``/``lon_deg`` are the camera position used (WGS84 degrees): the photo's own
    unless tie-point refinement moved it (None in rows written before they were kept).
    ``corrections`` lists what was changed from the photo's metadata and why (for example a
    yaw turned by 180 degrees when the image motion contradicts it). ``analysed_at`` is set
    when the detectors have run on the photo.
    """

    __tablename__ = "photo_georef"

    id: Mapped[intpk]
    photo_id: Mapped[int] = mapped_column(sa.ForeignKey("photo.id", ondelete="CASCADE"), unique=True)
    lat_deg: Mapped[Optional[float]]
    lon_deg: Mapped[Optional[float]]
    height_agl_m: Mapped[float]
    yaw_deg: Mapped[float]
    pitch_deg: Mapped[float]
    roll_deg: Mapped[float]
    height_source: Mapped[str] = mapped_column(sa.String(40))
    yaw_source: Mapped[str] = mapped_column(sa.String(20))
    ground_elevation_m: Mapped[Optional[float]]
    gsd_cm_px: Mapped[float]
    corrections: Mapped[list[Any]] = mapped_column(default=list)
    analysed_at: Mapped[Optional[dt.datetime]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
