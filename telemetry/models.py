"""Tables of the live side: the latest state of each vehicle, for a console in another process.

The daemon keeps one :class:`VehicleStatus` row per vehicle and rewrites it at most every
``status_interval_s`` (0.25 s by default) and at every flush; a console that does not run
the daemon itself reads these rows (a primary-key lookup per vehicle, or one scan of a small
table) instead of parsing MAVLink. The whole snapshot
(:meth:`telemetry.daemon.Daemon.snapshot`) is in ``snapshot``; the columns beside it are the
ones worth filtering or sorting on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from patrol.db import Base

__all__ = ["VehicleStatus"]


class VehicleStatus(Base):
    """The latest live state of one vehicle (``flight_logs.models.Vehicle``).

    ``link_ok`` is False once no HEARTBEAT came for the link-loss time; ``alarms`` lists the
    active alarms (``telemetry.alarms.Alarm.as_dict``); ``updated_utc`` is when the daemon
    wrote the row, ``last_message_utc`` when it last heard the vehicle.
    """

    __tablename__ = "vehicle_status"

    vehicle_id: Mapped[int] = mapped_column(sa.ForeignKey("vehicle.id", ondelete="CASCADE"), primary_key=True)
    link: Mapped[str] = mapped_column(sa.String(300))
    system_id: Mapped[int]
    flight_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("flight.id", ondelete="SET NULL"))
    updated_utc: Mapped[dt.datetime] = mapped_column(index=True)
    last_message_utc: Mapped[Optional[dt.datetime]]
    link_ok: Mapped[bool] = mapped_column(default=True)
    armed: Mapped[bool] = mapped_column(default=False)
    mode: Mapped[Optional[str]] = mapped_column(sa.String(40))
    lat_deg: Mapped[Optional[float]]
    lon_deg: Mapped[Optional[float]]
    alt_rel_m: Mapped[Optional[float]]
    heading_deg: Mapped[Optional[float]]
    groundspeed_m_s: Mapped[Optional[float]]
    battery_remaining_pct: Mapped[Optional[float]]
    alarms: Mapped[list[Any]] = mapped_column(default=list)
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
