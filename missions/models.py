"""Tables of the missions package: patrol areas and planned routes."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from patrol.db import Base, intpk, utcnow

__all__ = ["PatrolArea", "Route"]


class PatrolArea(Base):
    """A place patrolled: a survey area (Polygon/MultiPolygon with no-fly holes), a corridor
    (LineString with a width) or a hotspot (Point with an orbit radius).

    ``geometry`` is GeoJSON in WGS84; ``properties`` keeps what the source file said
    (``width_m``, ``radius_m``, ``source`` such as ``"hand-drawn"``, notes).
    """

    __tablename__ = "patrol_area"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    site: Mapped[str] = mapped_column(sa.String(100), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # "area" | "corridor" | "hotspot"
    geometry: Mapped[dict[str, Any]]
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    routes: Mapped[list["Route"]] = relationship(back_populates="area")

    def __repr__(self) -> str:
        return f"PatrolArea(id={self.id!r}, name={self.name!r}, kind={self.kind!r})"


class Route(Base):
    """A planned route: MAVLink mission items plus the statistics of the plan.

    ``items`` is the list of mission items as dicts (``command``, ``frame``, ``param1``..
    ``param4``, ``lat_deg``, ``lon_deg``, ``alt_m``, ``autocontinue``); ``stats`` holds
    ``path_length_m``, ``est_flight_time_s``, ``photo_count``, ``gsd_cm_px``,
    ``coverage_fraction``, ``sorties`` and the like. ``plan_path``/``waypoints_path`` are
    relative to the data root.

    ``fence`` is the geofence as a GeoJSON FeatureCollection (WGS84) of Polygons whose
    ``properties.inclusion`` is true for the inclusion polygon and false for the exclusions
    (no-fly zones); ``rally_points`` is a list of [lon, lat, alt_rel_m]. A battery sortie of a
    longer route has ``parent_id`` (that route), ``sortie_index`` (1-based) and
    ``sortie_count``; a whole route has them null.
    """

    __tablename__ = "route"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(200))
    pattern: Mapped[str] = mapped_column(sa.String(20))  # "survey" | "corridor" | "orbit"
    area_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("patrol_area.id"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    items: Mapped[list[Any]] = mapped_column(default=list)
    path: Mapped[dict[str, Any]] = mapped_column(default=dict)  # GeoJSON LineString, WGS84
    plan_path: Mapped[Optional[str]] = mapped_column(sa.String(500))
    waypoints_path: Mapped[Optional[str]] = mapped_column(sa.String(500))
    fence: Mapped[dict[str, Any]] = mapped_column(default=dict)  # GeoJSON FeatureCollection
    rally_points: Mapped[list[Any]] = mapped_column(default=list)  # [lon, lat, alt_rel_m]
    parent_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("route.id"), index=True)
    sortie_index: Mapped[Optional[int]]
    sortie_count: Mapped[Optional[int]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    area: Mapped[Optional[PatrolArea]] = relationship(back_populates="routes")
    parent: Mapped[Optional["Route"]] = relationship(back_populates="sorties",
                                                     remote_side="Route.id")
    sorties: Mapped[list["Route"]] = relationship(back_populates="parent",
                                                  order_by="Route.sortie_index")

    def __repr__(self) -> str:
        return f"Route(id={self.id!r}, name={self.name!r}, pattern={self.pattern!r})"
