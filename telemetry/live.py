"""The fleet's live status as a console in another process reads it: the daemon's
``vehicle_status`` rows (:class:`telemetry.models.VehicleStatus`) and its stored alarms.

The daemon rewrites one row per vehicle a few times a second (``updated_utc`` changes with
each write) and stores every alarm transition as a :class:`~flight_logs.models.FlightEvent`
of a kind in :data:`ALARM_KINDS` (``alarm`` when raised or a one-off notice, ``alarm_cleared``).
A reader polls:

- :class:`StatusReader` reports the vehicles whose row was rewritten (or removed) since its
  last poll: one small query of ``(vehicle_id, updated_utc)``, then the full rows of the
  changed ones only;
- :func:`alarms_after` returns the alarm events after a given id (an indexed range scan).

A vehicle's status is a dict: the daemon's snapshot (:meth:`telemetry.state.VehicleState.as_dict`
without the daemon-local monotonic times) overlaid with the row's columns, plus ``key`` and
``name`` of the vehicle, ``updated_utc`` and ``last_message_utc`` as ISO 8601 UTC text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from flight_logs.models import FlightEvent, Vehicle
from telemetry.models import VehicleStatus

__all__ = ["ALARM_KINDS", "LiveChanges", "StatusReader", "alarms_after", "latest_states", "status_dict"]

ALARM_KINDS = ("alarm", "alarm_cleared")
_COLUMNS = ("vehicle_id", "link", "system_id", "flight_id", "link_ok", "armed", "mode", "lat_deg", "lon_deg",
            "alt_rel_m", "heading_deg", "groundspeed_m_s", "battery_remaining_pct", "alarms")
_LOCAL_ONLY = ("last_heartbeat_s", "last_position_s", "last_stream_s", "last_message_s", "sequences")


def _plain(value: Any) -> Any:
    """JSON-safe for browsers: NaN and infinities as None, datetimes as ISO text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def status_dict(row: VehicleStatus, key: str, name: str) -> dict[str, Any]:
    """One vehicle's live status as plain JSON-ready values (see the module docstring)."""
    out = {k: v for k, v in (row.snapshot or {}).items() if k not in _LOCAL_ONLY}
    out.update({c: getattr(row, c) for c in _COLUMNS})
    out.update(key=key, name=name, updated_utc=row.updated_utc, last_message_utc=row.last_message_utc)
    return _plain(out)


def _rows(session: Session, vehicle_ids: list[int] | None = None) -> list[dict[str, Any]]:
    stmt = (sa.select(VehicleStatus, Vehicle.key, Vehicle.name)
            .join(Vehicle, Vehicle.id == VehicleStatus.vehicle_id).order_by(Vehicle.key))
    if vehicle_ids is not None:
        stmt = stmt.where(VehicleStatus.vehicle_id.in_(vehicle_ids))
    return [status_dict(row, key, name) for row, key, name in session.execute(stmt)]


def latest_states(session: Session) -> list[dict[str, Any]]:
    """Every vehicle's last status the daemon wrote, ordered by vehicle key."""
    return _rows(session)


@dataclass
class LiveChanges:
    """What changed since the previous :meth:`StatusReader.poll`: statuses rewritten (dicts) and
    keys of vehicles whose status row is gone."""

    updated: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.updated or self.removed)


class StatusReader:
    """Polls the ``vehicle_status`` table for changes (one reader per console stream)."""

    def __init__(self) -> None:
        self._seen: dict[int, dt.datetime] = {}
        self._keys: dict[int, str] = {}

    def poll(self, session: Session) -> LiveChanges:
        """The changes since the last call (the first call reports every vehicle as updated)."""
        stamps = dict(session.execute(sa.select(VehicleStatus.vehicle_id, VehicleStatus.updated_utc)).all())
        changed = [vid for vid, t in stamps.items() if self._seen.get(vid) != t]
        changes = LiveChanges()
        for vid in set(self._seen) - set(stamps):
            del self._seen[vid]
            changes.removed.append(self._keys.pop(vid))
        if changed:
            changes.updated = _rows(session, changed)
            for status in changes.updated:
                vid = status["vehicle_id"]
                self._seen[vid], self._keys[vid] = stamps[vid], status["key"]
        changes.removed.sort()
        return changes


def alarms_after(session: Session, after_id: int | None, *, limit: int = 100) -> list[dict[str, Any]]:
    """Alarm events stored by the daemon (``FlightEvent.kind`` in :data:`ALARM_KINDS`), oldest first.

    Parameters
    ----------
    after_id : int or None
        Only events with a larger id; None: the ``limit`` most recent ones.
    limit : int
        At most this many events.

    Returns
    -------
    list of dict
        ``id``, ``kind`` (``alarm`` or ``alarm_cleared``), ``t_utc`` (ISO 8601), ``vehicle_key``,
        ``vehicle_name``, ``vehicle_id``, ``flight_id``, ``severity`` (MAV_SEVERITY or None),
        ``message`` and ``data`` (the daemon puts the alarm's ``code`` and ``transition`` there).
    """
    stmt = (sa.select(FlightEvent, Vehicle.key, Vehicle.name)
            .join(Vehicle, Vehicle.id == FlightEvent.vehicle_id)
            .where(FlightEvent.kind.in_(ALARM_KINDS)))
    if after_id is None:
        stmt = stmt.order_by(FlightEvent.id.desc()).limit(limit)
    else:
        stmt = stmt.where(FlightEvent.id > after_id).order_by(FlightEvent.id).limit(limit)
    rows = [{"id": e.id, "kind": e.kind, "t_utc": e.t_utc.isoformat(), "vehicle_key": key, "vehicle_name": name,
             "vehicle_id": e.vehicle_id, "flight_id": e.flight_id, "severity": e.severity,
             "message": e.message, "data": _plain(e.data or {})}
            for e, key, name in session.execute(stmt)]
    return sorted(rows, key=lambda r: r["id"])
