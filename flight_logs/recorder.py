"""The flight recorder: a state machine fed with a vehicle's MAVLink messages, making flights.

The same recorder serves the live daemon and the import of a tlog, so both end in the same
flights. :meth:`FlightRecorder.handle` is pure (no database): it segments flights on
arm/disarm (HEARTBEAT ``base_mode`` bit MAV_MODE_FLAG_SAFETY_ARMED), keeps a decimated track
(one GLOBAL_POSITION_INT fix per ``track_interval_s`` of vehicle time; the full rate stays
in the tlog), collects events (armed, disarmed, mode, mission_item_reached, statustext,
home_set) and camera positions (CAMERA_FEEDBACK), and keeps the flight's summaries current.
Everything is dated on the vehicle's clock (:class:`~flight_logs.timebase.VehicleClock`).
:meth:`FlightRecorder.flush` writes what is pending with the caller's session.

:class:`LinkRecorder` routes the messages of one link or log to one recorder per vehicle
(system id), recognised by the HEARTBEAT of its autopilot (component 1).

A live recording that stopped without the disarm (the daemon killed, power lost) leaves its
flight open in the archive; :func:`open_flight_of` finds it and :meth:`FlightRecorder.resume`
continues it when the vehicle is heard armed again, or closes it when heard disarmed.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from flight_logs.mavlink_units import (Fix, Home, battery_remaining_pct, fix_from_global_position_int,
                                       home_from_home_position, shot_from_camera_feedback)
from flight_logs.models import CameraPosition, Flight, FlightEvent, TrackPoint, Vehicle
from flight_logs.modes import is_armed, is_vehicle_heartbeat, mode_name
from flight_logs.timebase import VehicleClock
from patrol.geodesy import distance_m

__all__ = ["FlightRecorder", "LinkRecorder", "OpenFlight", "StatusTextAssembler", "open_flight_of"]

_AUTOPILOT_COMPONENT = 1
_HOME_MOVED_M = 1.0            # a HOME_POSITION further than this from the last one is news
_STATUSTEXT_CHUNK = 50         # STATUSTEXT.text length; shorter chunks end a chunked text
_CAMERA_TIME_TOLERANCE_S = 86400.0


def _utc(t_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_s, dt.timezone.utc)


class StatusTextAssembler:
    """Whole STATUSTEXT texts from a vehicle's messages, MAVLink 2 chunks joined.

    A STATUSTEXT longer than the 50-character ``text`` field is sent in chunks sharing a
    non-zero ``id`` (``chunk_seq`` counting up); a chunk shorter than 50 characters ends it.

    >>> from types import SimpleNamespace as M
    >>> texts = StatusTextAssembler()
    >>> texts.feed(M(text="x" * 50, id=7)) is None, texts.feed(M(text="yz", id=7)) == "x" * 50 + "yz"
    (True, True)
    >>> texts.feed(M(text=b"PreArm: Need Position Estimate\\x00", id=0))
    'PreArm: Need Position Estimate'
    """

    def __init__(self) -> None:
        self._chunks: dict[int, list[str]] = {}

    def feed(self, msg: Any) -> str | None:
        """The whole text once ``msg`` completes one, else None."""
        text = msg.text if isinstance(msg.text, str) else bytes(msg.text).decode("utf-8", "replace")
        text = text.rstrip("\x00")
        text_id = getattr(msg, "id", 0)
        if not text_id:
            return text
        chunks = self._chunks.setdefault(text_id, [])
        chunks.append(text)
        if len(text) >= _STATUSTEXT_CHUNK:
            return None
        return "".join(self._chunks.pop(text_id))


@dataclass
class _FlightAcc:
    """A flight being recorded (or closed but not yet written)."""

    start_s: float
    last_s: float
    end_s: float | None = None
    db_id: int | None = None
    home: Home | None = None
    distance_m: float = 0.0
    max_alt_rel_m: float = 0.0
    max_dist_home_m: float = 0.0
    photo_count: int = 0
    battery_first_pct: float | None = None
    battery_last_pct: float | None = None
    track_last_s: float | None = None
    track_last_fix: Fix | None = None
    last_fix: Fix | None = None
    last_fix_s: float | None = None
    dirty: bool = True
    resumed_from_s: float | None = None       # a flight continued from the archive: its last recorded time
    battery_used_before_pct: float = 0.0

    def summary(self) -> dict[str, Any]:
        end = self.end_s if self.end_s is not None else self.last_s
        used = None
        if self.battery_first_pct is not None and self.battery_last_pct is not None:
            used = max(0.0, self.battery_first_pct - self.battery_last_pct)
        return {
            "start_utc": _utc(self.start_s),
            "end_utc": None if self.end_s is None else _utc(self.end_s),
            "duration_s": max(0.0, end - self.start_s),
            "distance_m": self.distance_m,
            "max_alt_rel_m": self.max_alt_rel_m,
            "max_dist_home_m": self.max_dist_home_m,
            "photo_count": self.photo_count,
            "battery_used_pct": used,
            "home_lat_deg": self.home.lat_deg if self.home else None,
            "home_lon_deg": self.home.lon_deg if self.home else None,
            "home_alt_amsl_m": self.home.alt_amsl_m if self.home else None,
        }


@dataclass(frozen=True)
class OpenFlight:
    """A flight the archive holds as still armed (``end_utc`` None): where a recording of the
    vehicle stopped without its disarm (the daemon was killed, the machine lost power).

    Times are UTC seconds on the vehicle clock; ``last_s`` is the last time recorded
    (start + duration), ``last_fix``/``last_fix_s`` the last stored track point.
    """

    flight_id: int
    start_s: float
    last_s: float
    distance_m: float = 0.0
    max_alt_rel_m: float = 0.0
    max_dist_home_m: float = 0.0
    photo_count: int = 0
    battery_used_pct: float | None = None
    home: Home | None = None
    last_fix: Fix | None = None
    last_fix_s: float | None = None
    mode: str | None = None


def open_flight_of(session: Session, vehicle_key: str) -> OpenFlight | None:
    """The vehicle's latest flight still open in the archive (no ``end_utc``), or None."""
    row = session.scalars(sa.select(Flight).join(Vehicle).where(Vehicle.key == vehicle_key, Flight.end_utc.is_(None))
                          .order_by(Flight.start_utc.desc(), Flight.id.desc()).limit(1)).first()
    if row is None:
        return None
    point = session.scalars(sa.select(TrackPoint).where(TrackPoint.flight_id == row.id)
                            .order_by(TrackPoint.t_utc.desc(), TrackPoint.id.desc()).limit(1)).first()
    mode = session.scalar(sa.select(FlightEvent.message).where(FlightEvent.flight_id == row.id,
                                                               FlightEvent.kind == "mode")
                          .order_by(FlightEvent.t_utc.desc(), FlightEvent.id.desc()).limit(1))
    fix = fix_s = None
    if point is not None:
        fix = Fix(point.lat_deg, point.lon_deg, point.alt_amsl_m if point.alt_amsl_m is not None else math.nan,
                  point.alt_rel_m, point.heading_deg, point.groundspeed_m_s or 0.0, 0.0)
        fix_s = point.t_utc.timestamp()
    home = None
    if row.home_lat_deg is not None and row.home_lon_deg is not None:
        home = Home(row.home_lat_deg, row.home_lon_deg, row.home_alt_amsl_m if row.home_alt_amsl_m is not None
                    else math.nan)
    start = row.start_utc.timestamp()
    return OpenFlight(flight_id=row.id, start_s=start, last_s=start + row.duration_s, distance_m=row.distance_m,
                      max_alt_rel_m=row.max_alt_rel_m, max_dist_home_m=row.max_dist_home_m,
                      photo_count=row.photo_count, battery_used_pct=row.battery_used_pct, home=home,
                      last_fix=fix, last_fix_s=fix_s, mode=mode)


@dataclass
class _Pending:
    """Rows waiting for :meth:`FlightRecorder.flush`: (flight or None, column values)."""

    track: list[tuple[_FlightAcc, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[_FlightAcc | None, dict[str, Any]]] = field(default_factory=list)
    cameras: list[tuple[_FlightAcc, dict[str, Any]]] = field(default_factory=list)


class FlightRecorder:
    """Flights, tracks, events and camera positions of ONE vehicle, from its messages.

    Parameters
    ----------
    vehicle_key : str
        ``Vehicle.key``, ``"<link or log>#<system id>"``; the vehicle row is fetched or
        created by this key at the first flush.
    system_id : int
        The vehicle's MAVLink system id.
    vehicle_name : str, optional
        ``Vehicle.name`` when the row is created (default: the key).
    log_file_id : int, optional
        ``LogFile.id`` the flights are recorded in (set it before the first flush).
    track_interval_s : float
        Decimation of the stored track: the first fix in each interval of this many seconds
        of vehicle time is kept (default 1 s), and the last fix before the disarm.

    Notes
    -----
    Give it every message from the vehicle's system id (all components; only the autopilot's
    HEARTBEAT, component 1, drives arming and modes) with the receive time in UTC seconds.
    Not thread-safe: one thread feeds and flushes it.
    """

    def __init__(self, vehicle_key: str, system_id: int, *, vehicle_name: str | None = None,
                 log_file_id: int | None = None, track_interval_s: float = 1.0) -> None:
        self.vehicle_key = vehicle_key
        self.system_id = system_id
        self.vehicle_name = vehicle_name or vehicle_key
        self.log_file_id = log_file_id
        self.track_interval_s = track_interval_s
        self.clock = VehicleClock()
        self.mav_type: int | None = None
        self.autopilot: int | None = None
        self.armed: bool | None = None
        self.mode: str | None = None
        self.home: Home | None = None
        self.last_s: float | None = None
        self.vehicle_id: int | None = None
        self.flight_ids: list[int] = []
        self.dropped_camera_feedback = 0
        self._battery_pct: float | None = None
        self._flight: _FlightAcc | None = None
        self._unflushed: list[_FlightAcc] = []
        self._pending = _Pending()
        self._inflight: tuple[_Pending, list[_FlightAcc], list[int]] | None = None
        self._texts = StatusTextAssembler()
        self._open: tuple[OpenFlight, float] | None = None
        self._handlers: dict[str, Callable[[Any, float], None]] = {
            "HEARTBEAT": self.on_heartbeat,
            "GLOBAL_POSITION_INT": self.on_global_position_int,
            "HOME_POSITION": self.on_home_position,
            "CAMERA_FEEDBACK": self.on_camera_feedback,
            "MISSION_ITEM_REACHED": self.on_mission_item_reached,
            "STATUSTEXT": self.on_statustext,
            "SYS_STATUS": self.on_sys_status,
            "BATTERY_STATUS": self.on_battery_status,
        }

    # ------------------------------------------------------------------ feeding
    @property
    def in_flight(self) -> bool:
        """True between an armed and a disarmed HEARTBEAT."""
        return self._flight is not None

    @property
    def flight_id(self) -> int | None:
        """``Flight.id`` of the flight in progress once written (None before, or when not flying)."""
        return self._flight.db_id if self._flight is not None else None

    def handle(self, msg: Any, t_recv_s: float) -> None:
        """Take in one message of this vehicle, received at ``t_recv_s`` (UTC seconds)."""
        if msg.get_srcComponent() == _AUTOPILOT_COMPONENT:
            had_utc = self.clock.has_utc
            t = self.clock.observe(msg, t_recv_s)
            if not had_utc and self.clock.has_utc:
                self._rebase(t - t_recv_s)
        else:
            t = self.clock.at(t_recv_s)
        self.last_s = t
        if self._flight is not None:
            self._flight.last_s = max(self._flight.last_s, t)
            self._flight.dirty = True
        handler = self._handlers.get(msg.get_type())
        if handler is not None:
            handler(msg, t)

    def resume(self, flight: OpenFlight, *, within_s: float = 600.0) -> None:
        """Continue ``flight`` (open in the archive) if the vehicle is still armed when first heard.

        Call before the first message. At the vehicle's first HEARTBEAT: armed, and at most
        ``within_s`` seconds after the flight's last recorded time, the flight goes on (same
        row; event ``recording_resumed``); disarmed, or armed later than that, the flight is
        closed at its last recorded time (event ``log_end``), and an armed vehicle starts a
        new one.
        """
        self._open = (flight, within_s)

    def on_heartbeat(self, msg: Any, t: float) -> None:
        if not is_vehicle_heartbeat(msg):
            return
        self.mav_type, self.autopilot = msg.type, msg.autopilot
        mode = mode_name(msg.type, msg.autopilot, msg.base_mode, msg.custom_mode)
        armed = is_armed(msg.base_mode)
        if self._open is not None:
            opened, within_s = self._open
            self._open = None
            if armed and t - opened.last_s <= within_s:
                self._continue(opened, t)
                self.armed = True
            else:
                self._close_open(opened, armed)
        if armed and not self.armed:
            self._start_flight(t, mode, at_first_sight=self.armed is None)
        if mode != self.mode:
            self._event(t, "mode", mode, data={"custom_mode": msg.custom_mode, "base_mode": msg.base_mode,
                                                 "previous": self.mode})
            self.mode = mode
        if not armed and self.armed:
            self._end_flight(t)
        self.armed = armed

    def on_global_position_int(self, msg: Any, t: float) -> None:
        fix = fix_from_global_position_int(msg)
        flight = self._flight
        if fix is None or flight is None or t < flight.start_s:   # measured before the arming
            return
        flight.last_fix, flight.last_fix_s = fix, t
        flight.max_alt_rel_m = max(flight.max_alt_rel_m, fix.alt_rel_m)
        if flight.home is None:
            flight.home = Home(fix.lat_deg, fix.lon_deg, fix.alt_amsl_m - fix.alt_rel_m)
        # one fix per interval of the vehicle clock (the first fix in each interval)
        if flight.track_last_s is None or t // self.track_interval_s > flight.track_last_s // self.track_interval_s:
            self._keep_fix(flight, fix, t)

    def on_home_position(self, msg: Any, t: float) -> None:
        home = home_from_home_position(msg)
        if home is None:
            return
        moved = self.home is None or distance_m(self.home.lon_deg, self.home.lat_deg,
                                                home.lon_deg, home.lat_deg) > _HOME_MOVED_M
        changed = moved or abs(home.alt_amsl_m - self.home.alt_amsl_m) > _HOME_MOVED_M
        self.home = home
        if self._flight is not None:
            self._flight.home = home
        if changed:
            self._event(t, "home_set", f"home {home.lat_deg:.7f}, {home.lon_deg:.7f}, {home.alt_amsl_m:.1f} m AMSL",
                        data={"lat_deg": home.lat_deg, "lon_deg": home.lon_deg, "alt_amsl_m": home.alt_amsl_m})

    def on_camera_feedback(self, msg: Any, t: float) -> None:
        flight = self._flight
        if flight is None:
            self.dropped_camera_feedback += 1
            return
        shot = shot_from_camera_feedback(msg)
        taken = shot.time_unix_s       # the trigger time the vehicle stamped, when on its UTC clock
        if taken is None or not self.clock.has_utc or abs(taken - t) > _CAMERA_TIME_TOLERANCE_S:
            taken = t
        flight.photo_count += 1
        self._pending.cameras.append((flight, {
            "t_s": taken, "img_idx": shot.img_idx, "lat_deg": shot.lat_deg, "lon_deg": shot.lon_deg,
            "alt_amsl_m": shot.alt_amsl_m, "alt_rel_m": shot.alt_rel_m, "roll_deg": shot.roll_deg,
            "pitch_deg": shot.pitch_deg, "yaw_deg": shot.yaw_deg}))

    def on_mission_item_reached(self, msg: Any, t: float) -> None:
        self._event(t, "mission_item_reached", f"mission item {msg.seq} reached", data={"seq": msg.seq})

    def on_statustext(self, msg: Any, t: float) -> None:
        text = self._texts.feed(msg)
        if text is not None:
            self._event(t, "statustext", text, severity=msg.severity)

    def on_sys_status(self, msg: Any, t: float) -> None:
        self._battery(battery_remaining_pct(msg))

    def on_battery_status(self, msg: Any, t: float) -> None:
        if msg.id == 0:
            self._battery(battery_remaining_pct(msg))

    def add_event(self, kind: str, message: str, *, t_s: float | None = None, severity: int | None = None,
                  data: dict[str, Any] | None = None) -> None:
        """Record an event that is not in the vehicle's messages (an alarm of the daemon).

        ``t_s`` is UTC seconds on the vehicle clock (:meth:`vehicle_time`); default the time of
        the last message. The event belongs to the flight in progress, if any.

        Raises
        ------
        ValueError
            No ``t_s`` and no message taken yet.
        """
        when = t_s if t_s is not None else self.last_s
        if when is None:
            raise ValueError(f"vehicle {self.system_id}: no time for event {kind!r} before any message")
        self._event(when, kind, message, severity=severity, data=data)

    def vehicle_time(self, t_recv_s: float) -> float:
        """UTC seconds on the vehicle clock of receive time ``t_recv_s`` (extrapolated)."""
        return self.clock.at(t_recv_s)

    def finish(self) -> list[str]:
        """End of a log: close a flight still armed at its last message (event ``log_end``).

        Returns the warnings to report (empty when every flight ended with a disarm).
        """
        flight = self._flight
        if flight is None:
            return []
        end = flight.last_s
        self._event(end, "log_end", "log ends while armed; flight closed at the last message")
        self._close(flight, end)
        self._flight = None
        return [f"vehicle {self.system_id}: log ends while armed; "
                f"flight from {_utc(flight.start_s).isoformat()} closed at its last message"]

    # ------------------------------------------------------------------ writing
    def flush(self, session: Session) -> None:
        """Write the pending flights, track points, events and camera positions.

        Uses the caller's ``session`` and transaction (never commits). The vehicle row is
        fetched or created by key at each call. If the caller's transaction then fails, call
        :meth:`rolled_back` and the same rows are written again by the next flush.
        """
        pending, unflushed = self._pending, self._unflushed
        self._inflight = (pending, unflushed, list(self.flight_ids))
        self._pending = _Pending()
        self._unflushed = [self._flight] if self._flight is not None else []
        vehicle_id = self._vehicle_id(session)
        for flight in unflushed:
            if flight.db_id is None:
                row = Flight(vehicle_id=vehicle_id, log_file_id=self.log_file_id, **flight.summary())
                session.add(row)
                session.flush()
                flight.db_id = row.id
                self.flight_ids.append(row.id)
            elif flight.dirty:
                session.execute(sa.update(Flight).where(Flight.id == flight.db_id).values(**flight.summary()))
            flight.dirty = False
        self._insert(session, TrackPoint, pending.track, None)
        self._insert(session, CameraPosition, pending.cameras, None)
        self._insert(session, FlightEvent, pending.events, vehicle_id)

    def rolled_back(self) -> None:
        """The transaction of the last :meth:`flush` failed: keep its rows for the next one."""
        if self._inflight is None:
            return
        pending, unflushed, flight_ids = self._inflight
        self._inflight = None
        known = set(flight_ids)
        for flight in unflushed:
            if flight.db_id is not None and flight.db_id not in known:
                flight.db_id = None          # its INSERT was rolled back
            flight.dirty = True
        self.flight_ids = flight_ids
        self.vehicle_id = None
        for name in ("track", "events", "cameras"):
            getattr(self._pending, name)[:0] = getattr(pending, name)
        self._unflushed = unflushed + [f for f in self._unflushed if f not in unflushed]

    @staticmethod
    def _insert(session: Session, model: type, rows: list, vehicle_id: int | None) -> None:
        if not rows:
            return
        values = []
        for flight, row in rows:
            row = dict(row, flight_id=None if flight is None else flight.db_id)
            row["t_utc"] = _utc(row.pop("t_s"))
            if vehicle_id is not None:
                row["vehicle_id"] = vehicle_id
            values.append(row)
        session.execute(sa.insert(model), values)

    def _vehicle_id(self, session: Session) -> int:
        vehicle = session.scalar(sa.select(Vehicle).where(Vehicle.key == self.vehicle_key))
        if vehicle is None:
            vehicle = Vehicle(key=self.vehicle_key, name=self.vehicle_name, system_id=self.system_id,
                              mav_type=self.mav_type, autopilot=self.autopilot)
            session.add(vehicle)
            session.flush()
        elif self.mav_type is not None and (vehicle.mav_type, vehicle.autopilot) != (self.mav_type, self.autopilot):
            vehicle.mav_type, vehicle.autopilot = self.mav_type, self.autopilot
        self.vehicle_id = vehicle.id
        return vehicle.id

    # ------------------------------------------------------------------ internals
    def _rebase(self, delta_s: float) -> None:
        """The vehicle clock just became known: move what was dated by receive time onto it.

        Happens when a log starts in flight, before the first SYSTEM_TIME. Rows already
        written (a live link flushes every second) keep their receive times.
        """
        for _, row in (*self._pending.track, *self._pending.events, *self._pending.cameras):
            row["t_s"] += delta_s
        flight = self._flight
        if flight is not None and flight.resumed_from_s is not None:
            # continued from the archive: its times are on the vehicle clock already
            flight.last_s = max(flight.resumed_from_s, flight.last_s + delta_s)
        elif flight is not None:
            flight.start_s += delta_s
            flight.last_s += delta_s
            if flight.track_last_s is not None:
                flight.track_last_s += delta_s
            if flight.last_fix_s is not None:
                flight.last_fix_s += delta_s
        if self.last_s is not None:
            self.last_s += delta_s

    def _from_archive(self, opened: OpenFlight) -> _FlightAcc:
        flight = _FlightAcc(start_s=opened.start_s, last_s=opened.last_s, db_id=opened.flight_id, home=opened.home,
                            distance_m=opened.distance_m, max_alt_rel_m=opened.max_alt_rel_m,
                            max_dist_home_m=opened.max_dist_home_m, photo_count=opened.photo_count,
                            track_last_s=opened.last_fix_s, track_last_fix=opened.last_fix,
                            last_fix=opened.last_fix, last_fix_s=opened.last_fix_s,
                            resumed_from_s=opened.last_s, battery_used_before_pct=opened.battery_used_pct or 0.0)
        self._unflushed.append(flight)
        self.flight_ids.append(opened.flight_id)
        return flight

    def _continue(self, opened: OpenFlight, t: float) -> None:
        flight = self._from_archive(opened)
        flight.last_s = max(flight.last_s, t)
        self._flight = flight
        self.mode = opened.mode
        self._event(t, "recording_resumed",
                    "recording resumed; the vehicle was still armed: same flight",
                    data={"gap_s": round(max(0.0, t - opened.last_s), 3), "flight_id": opened.flight_id})

    def _close_open(self, opened: OpenFlight, armed: bool) -> None:
        flight = self._from_archive(opened)
        why = "armed again too long after" if armed else "disarmed when heard again after"
        self._pending.events.append((flight, {
            "t_s": opened.last_s, "kind": "log_end", "severity": None, "data": {"flight_id": opened.flight_id},
            "message": f"recording interrupted; the vehicle was {why} it; flight closed at its last recorded message"}))
        self._close(flight, opened.last_s)

    def _start_flight(self, t: float, mode: str, *, at_first_sight: bool) -> None:
        flight = _FlightAcc(start_s=t, last_s=t, home=self.home,
                            battery_first_pct=self._battery_pct, battery_last_pct=self._battery_pct)
        self._flight = flight
        self._unflushed.append(flight)
        message = "armed (already armed when first seen)" if at_first_sight else "armed"
        self._event(t, "armed", message, data={"mode": mode, "already_armed": at_first_sight})

    def _end_flight(self, t: float) -> None:
        flight = self._flight
        self._event(t, "disarmed", "disarmed", data={"mode": self.mode})
        self._close(flight, t)
        self._flight = None

    def _close(self, flight: _FlightAcc, t: float) -> None:
        if flight.last_fix is not None and flight.last_fix_s != flight.track_last_s:
            self._keep_fix(flight, flight.last_fix, flight.last_fix_s)
        flight.end_s = max(t, flight.start_s)
        flight.last_s = flight.end_s
        flight.dirty = True

    def _keep_fix(self, flight: _FlightAcc, fix: Fix, t: float) -> None:
        prev = flight.track_last_fix
        if prev is not None:
            flight.distance_m += distance_m(prev.lon_deg, prev.lat_deg, fix.lon_deg, fix.lat_deg)
        if flight.home is not None:
            flight.max_dist_home_m = max(flight.max_dist_home_m, distance_m(
                flight.home.lon_deg, flight.home.lat_deg, fix.lon_deg, fix.lat_deg))
        flight.track_last_s, flight.track_last_fix = t, fix
        self._pending.track.append((flight, {
            "t_s": t, "lat_deg": fix.lat_deg, "lon_deg": fix.lon_deg, "alt_rel_m": fix.alt_rel_m,
            "alt_amsl_m": fix.alt_amsl_m, "heading_deg": fix.heading_deg, "groundspeed_m_s": fix.groundspeed_m_s}))

    def _battery(self, pct: float | None) -> None:
        if pct is None:
            return
        self._battery_pct = pct
        flight = self._flight
        if flight is not None:
            if flight.battery_first_pct is None:
                flight.battery_first_pct = pct + flight.battery_used_before_pct
            flight.battery_last_pct = pct

    def _event(self, t: float, kind: str, message: str, *, severity: int | None = None,
               data: dict[str, Any] | None = None) -> None:
        self._pending.events.append((self._flight, {
            "t_s": t, "kind": kind, "severity": severity, "message": message, "data": data or {}}))


class LinkRecorder:
    """Routes the messages of one link or log to a :class:`FlightRecorder` per vehicle.

    A vehicle is a system id whose autopilot (component 1) sent a vehicle HEARTBEAT; the
    ground station's system id 255 and non-vehicle HEARTBEATs never make one. Messages of a
    system id seen before its first HEARTBEAT are skipped.

    Parameters
    ----------
    key_prefix : str
        Link URL or log identity; vehicle keys are ``"<key_prefix>#<system id>"``.
    vehicle_name : str, optional
        Name given to new vehicle rows (``"<vehicle_name> #<system id>"`` when the link
        carries several vehicles; default the key).
    log_file_id : int, optional
        ``LogFile.id`` of the recording (can be set later with :attr:`log_file_id`).
    track_interval_s : float
        Track decimation of each recorder, seconds.
    on_new_recorder : callable, optional
        Called with each new :class:`FlightRecorder` before its first message (the live
        daemon uses it to :meth:`~FlightRecorder.resume` a flight left open in the archive).
    """

    def __init__(self, key_prefix: str, *, vehicle_name: str | None = None, log_file_id: int | None = None,
                 track_interval_s: float = 1.0,
                 on_new_recorder: Callable[[FlightRecorder], None] | None = None) -> None:
        self.key_prefix = key_prefix
        self.vehicle_name = vehicle_name
        self.track_interval_s = track_interval_s
        self.on_new_recorder = on_new_recorder
        self.recorders: dict[int, FlightRecorder] = {}
        self._log_file_id = log_file_id

    @property
    def log_file_id(self) -> int | None:
        return self._log_file_id

    @log_file_id.setter
    def log_file_id(self, value: int | None) -> None:
        self._log_file_id = value
        for rec in self.recorders.values():
            rec.log_file_id = value

    def recorder_for(self, msg: Any) -> FlightRecorder | None:
        """The recorder of the message's vehicle, creating it at its first vehicle HEARTBEAT."""
        sysid = msg.get_srcSystem()
        rec = self.recorders.get(sysid)
        if rec is None and is_vehicle_heartbeat(msg):
            name = None
            if self.vehicle_name:
                name = self.vehicle_name if not self.recorders else f"{self.vehicle_name} #{sysid}"
            rec = FlightRecorder(f"{self.key_prefix}#{sysid}", sysid, vehicle_name=name,
                                 log_file_id=self._log_file_id, track_interval_s=self.track_interval_s)
            self.recorders[sysid] = rec
            if self.on_new_recorder is not None:
                self.on_new_recorder(rec)
        return rec

    def handle(self, msg: Any, t_recv_s: float) -> FlightRecorder | None:
        """Route one message (received at ``t_recv_s``, UTC seconds); returns its recorder."""
        rec = self.recorder_for(msg)
        if rec is not None:
            rec.handle(msg, t_recv_s)
        return rec

    def flush(self, session: Session) -> None:
        """Flush every vehicle's recorder with the caller's session."""
        for rec in self.recorders.values():
            rec.flush(session)

    def rolled_back(self) -> None:
        """The transaction of the last flush failed: every recorder keeps its rows for the next."""
        for rec in self.recorders.values():
            rec.rolled_back()

    def finish(self) -> list[str]:
        """End of a log: close flights still armed; returns the warnings."""
        warnings: list[str] = []
        for rec in self.recorders.values():
            warnings += rec.finish()
        return warnings

    @property
    def flight_ids(self) -> list[int]:
        """Ids of the flights written so far, all vehicles."""
        return [fid for rec in self.recorders.values() for fid in rec.flight_ids]
