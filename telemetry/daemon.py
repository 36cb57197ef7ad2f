"""The telemetry daemon: holds MAVLink links, records everything, keeps vehicles' state and alarms.

A thin loop around :meth:`Daemon.step`: wait (with a timeout) until a link is readable, take
what arrived, hand each message to the link's :class:`~flight_logs.recorder.LinkRecorder`
(flights, tracks, events, camera positions), to the vehicle's
:class:`~telemetry.state.VehicleState` and :class:`~telemetry.alarms.AlarmMonitor`, and to
waiting commands; once a second make the tlogs durable (fsync) and then write the recorders'
rows, alarms included (``FlightEvent`` kinds ``alarm`` and ``alarm_cleared``), and the
``vehicle_status`` rows in one ``with session_factory.begin()``. So after a crash the tlog
holds at least what the database holds, and both hold everything received up to the last
flush.

**Vehicles** are keyed by link and system id (``Vehicle.key`` ``"<link URL>#<system id>"``). On
a new vehicle (its autopilot's first HEARTBEAT) the daemon asks for data streams
(REQUEST_DATA_STREAM, MAV_DATA_STREAM_ALL, as MAVProxy does; a fresh ArduPilot link sends
little else until asked) and for HOME_POSITION (MAV_CMD_REQUEST_MESSAGE), and asks again
while they do not come; and it looks for a flight of the vehicle left open in the archive by
an interrupted recording, to continue it if the vehicle is still armed
(:meth:`~flight_logs.recorder.FlightRecorder.resume`).

**Links** fail and come back: a failed link is closed and reopened after a delay that doubles
from ``reconnect_initial_s`` up to ``reconnect_max_s`` (the connect runs in a thread of its
own, so a TCP connect waiting on a silent host never stalls the other links); its tlog stays
open. Garbage on a link is counted and dropped (:class:`~telemetry.link.Link`).

**Live state** goes out three ways: :meth:`Daemon.snapshot` (in this process), listeners
(:meth:`Daemon.add_listener`, events as :mod:`telemetry.feed` describes; the console's
Server-Sent Events feed), and one ``vehicle_status`` row per vehicle
(:class:`telemetry.models.VehicleStatus`) rewritten every ``status_interval_s``, for a console
running in another process, or on another host, with the same database.

Each link's tlog is written under ``<data_dir>/live/`` and registered at once as a
``LogFile`` of kind ``"live-tlog"``; when the daemon stops it is moved into the content
store (``raw/live-tlog/``) with its SHA-256. A daemon starting archives the live tlogs that
an earlier daemon, killed, left behind (those no running link holds).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
import select
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from sqlalchemy.orm import Session, sessionmaker

from flight_logs.models import LogFile
from flight_logs.modes import mode_name
from flight_logs.recorder import FlightRecorder, LinkRecorder, open_flight_of
from missions.items import MissionItem
from telemetry.alarms import Alarm, AlarmMonitor
from telemetry.config import DaemonConfig, LinkConfig
from telemetry.errors import LinkTimeout, TelemetryError
from telemetry.geofence import FenceWatcher
from telemetry.handle import Subscription, VehicleHandle
from telemetry.link import Backoff, Link, LinkDown
from telemetry.live_tlogs import archive_live_tlog, archive_orphan_tlogs
from telemetry.models import VehicleStatus
from telemetry.state import VehicleState

__all__ = ["Daemon", "run_daemon"]

log = logging.getLogger(__name__)

_BATCH = 2000                      # messages taken from one link per step, at most
_STREAM_RETRY_S = 5.0              # re-ask for streams after this long without position data
_HOME_RETRY_S = 2.0                # ask for HOME_POSITION this often until it comes
_GCS_HEARTBEAT_S = 1.0
_TICK_S = 0.2                      # time-based alarms (link loss) of every vehicle, this often
_PUBLISH_S = 0.1                   # a vehicle's snapshot to the listeners at most this often
_MODE_COMMANDS = {mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH: "RTL", mavlink.MAV_CMD_NAV_LAND: "LAND"}


def _iso(t_s: float) -> str:
    return dt.datetime.fromtimestamp(t_s, dt.timezone.utc).isoformat()


@dataclass
class _Vehicle:
    """What the daemon keeps of one vehicle."""

    state: VehicleState
    monitor: AlarmMonitor
    recorder: FlightRecorder
    evaluate_due: bool = True          # heard since its alarm conditions were last checked
    publish_due: bool = True           # changed since its snapshot last went to the listeners
    status_due: bool = True            # changed since its vehicle_status row was last written
    published_s: float = float("-inf")

    def changed(self) -> None:
        self.evaluate_due = self.publish_due = self.status_due = True


@dataclass
class _Slot:
    """One link and what the daemon keeps about it."""

    config: LinkConfig
    link: Any
    router: LinkRecorder
    tlog_path: Path
    backoff: Backoff
    fences: FenceWatcher = field(default_factory=FenceWatcher)
    log_file_id: int | None = None
    vehicles: dict[int, _Vehicle] = field(default_factory=dict)
    asked_streams_s: dict[int, float] = field(default_factory=dict)
    asked_home_s: dict[int, float] = field(default_factory=dict)
    commanded: dict[int, tuple[str, float]] = field(default_factory=dict)
    retry_at: float = float("-inf")
    opener: threading.Thread | None = None
    errors: int = 0

    @property
    def url(self) -> str:
        return self.config.url


class Daemon:
    """MAVLink links -> tlogs, flights, alarms and live vehicle state.

    Parameters
    ----------
    session_factory : sessionmaker
        The application's session factory; the daemon opens one transaction per flush.
    data_dir : Path
        The data root (tlogs go to ``live/`` then ``raw/live-tlog/``).
    links : sequence of str or LinkConfig
        pymavlink connection strings (``udpin:127.0.0.1:14550``, ``tcp:127.0.0.1:5760``...)
        or configured links, added to ``config.links``.
    config : DaemonConfig, optional
        Links, signing, alarm thresholds and timings (:mod:`telemetry.config`).
    clock : callable
        Monotonic seconds (default ``time.monotonic``): timeouts, the flush period, link loss.
    wall_clock : callable
        UTC seconds (default ``time.time``): receive timestamps of the tlog and the recorder.
    stream_rate_hz : int, optional
        Rate asked for every data stream (MAV_DATA_STREAM_ALL); default ``config.stream_rate_hz``.
    flush_interval_s : float, optional
        Period of tlog fsync and database writes (at most 1 s for the archive's promise);
        default ``config.flush_interval_s``.
    wait_s : float
        Longest wait for a link to become readable in one step.
    vehicle_name : str, optional
        Name for new vehicle rows of links without a configured name (default their key
        ``"<link>#<system id>"``).
    link_factory : callable
        ``link_factory(url, tlog_path=..., wall_clock=..., signing=..., baud=..., connect=False)``
        -> an unopened :class:`~telemetry.link.Link` (or an object with its interface).
    wait_for_links : bool
        A link that cannot be opened at start is retried with backoff like a failed one
        (the fleet daemon) instead of failing :meth:`open` (a one-vehicle flight).

    Raises
    ------
    TelemetryError
        No link.
    """

    def __init__(self, session_factory: sessionmaker, data_dir: Path, links: Sequence[str | LinkConfig] = (), *,
                 config: DaemonConfig | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, stream_rate_hz: int | None = None,
                 flush_interval_s: float | None = None, wait_s: float = 0.05, vehicle_name: str | None = None,
                 link_factory: Callable[..., Any] = Link, wait_for_links: bool = False) -> None:
        config = (config or DaemonConfig()).with_links([u for u in links if isinstance(u, str)])
        extra = tuple(c for c in links if isinstance(c, LinkConfig) and c.url not in {x.url for x in config.links})
        self.config = dataclasses.replace(config, links=config.links + extra)
        if not self.config.links:
            raise TelemetryError("the daemon needs at least one link")
        self._session_factory = session_factory
        self.data_dir = Path(data_dir)
        self.urls = [c.url for c in self.config.links]
        self._clock = clock
        self._wall_clock = wall_clock
        self.stream_rate_hz = stream_rate_hz if stream_rate_hz is not None else self.config.stream_rate_hz
        self.flush_interval_s = flush_interval_s if flush_interval_s is not None else self.config.flush_interval_s
        self.status_interval_s = min(self.config.status_interval_s, self.flush_interval_s)
        self.wait_s = wait_s
        self.vehicle_name = vehicle_name
        self.wait_for_links = wait_for_links
        self._link_factory = link_factory
        self._slots: dict[str, _Slot] = {}
        self._subs: dict[tuple[str, int], list[Subscription]] = {}
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_flush_s: float | None = None
        self._last_status_s = float("-inf")
        self._last_tick_s = float("-inf")
        self._last_heartbeat_s = float("-inf")
        self._error: BaseException | None = None
        self._closing = False
        self.flush_errors = 0
        self.status_errors = 0
        self.listener_errors = 0
        self.dispatch_errors = 0
        self.alarms_raised = 0

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Open every link and its tlog (done by :meth:`start` and :meth:`run`).

        Raises
        ------
        TelemetryError
            A link cannot be opened and ``wait_for_links`` is off (the links opened are closed).
        """
        if self._slots:
            return
        stamp = dt.datetime.fromtimestamp(self._wall_clock(), dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        now = self._clock()
        for cfg in self.config.links:
            safe = re.sub(r"[^A-Za-z0-9.]+", "_", cfg.url).strip("_")
            path = self.data_dir / "live" / f"{stamp}_{safe}.tlog"
            link = self._link_factory(cfg.url, tlog_path=path, wall_clock=self._wall_clock, signing=cfg.signing,
                                      baud=cfg.baud, connect=False)
            router = LinkRecorder(cfg.url, vehicle_name=cfg.name or self.vehicle_name,
                                  on_new_recorder=self._resume_open_flight)
            slot = self._slots[cfg.url] = _Slot(config=cfg, link=link, router=router, tlog_path=path,
                                                 backoff=Backoff(self.config.reconnect_initial_s,
                                                                 self.config.reconnect_max_s))
            try:
                link.open()
            except TelemetryError as err:
                if not self.wait_for_links:
                    self._abandon()
                    raise
                log.warning("telemetry daemon: %s; retrying", err)
                slot.retry_at = now + slot.backoff.next_delay()
            else:
                self._connected(slot)
        self._last_flush_s = now
        archive_orphan_tlogs(self._session_factory, self.data_dir, {slot.tlog_path for slot in self._slots.values()})

    def _abandon(self) -> None:
        """Opening failed: close what was opened and remove the empty tlogs."""
        for slot in self._slots.values():
            slot.link.close()
            try:
                if slot.tlog_path.exists() and slot.tlog_path.stat().st_size == 0:
                    slot.tlog_path.unlink()
            except OSError:
                pass
        self._slots.clear()

    def start(self) -> None:
        """Open the links and run the receive loop in a background thread."""
        self.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run_thread, name="telemetry-daemon", daemon=True)
        self._thread.start()

    def _run_thread(self) -> None:
        try:
            self.run(self._stop)
        except BaseException as err:          # surfaced to waiting callers and by stop()
            self._error = err
            log.exception("telemetry daemon stopped by an error")
            with self._changed:
                self._changed.notify_all()

    def run(self, stop: threading.Event) -> None:
        """Run the loop in this thread until ``stop`` is set, then flush, close and archive the tlogs."""
        self.open()
        try:
            while not stop.is_set():
                self.wait_readable(self.wait_s)
                self.step()
        finally:
            self.close()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the background loop, flush everything and archive the tlogs.

        Raises
        ------
        TelemetryError
            The loop had died of an error (chained), or did not stop within ``timeout_s``.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise TelemetryError(f"the telemetry daemon did not stop within {timeout_s:g} s")
            self._thread = None
        if self._error is not None:
            raise TelemetryError(f"the telemetry daemon failed: {self._error}") from self._error

    def close(self) -> None:
        """Final flush (the ``vehicle_status`` rows then say ``link_ok`` False: nobody listens any
        more); close the links; move each tlog into the archive with its hash."""
        self._closing = True
        try:
            self.flush()
        finally:
            for slot in self._slots.values():
                if slot.opener is not None:
                    slot.opener.join(2.0)
                slot.link.close()
            self._archive_tlogs()

    # ------------------------------------------------------------------ the loop
    def wait_readable(self, timeout_s: float) -> None:
        """Wait until some link may have data, at most ``timeout_s`` seconds (``select`` on the
        links' descriptors; a short sleep for links without one)."""
        slots = [s for s in self._slots.values() if s.link.is_open]
        if len(slots) == 1:
            slots[0].link.wait_readable(timeout_s)
            return
        fds = [fd for fd in (s.link.fileno() for s in slots) if fd is not None]
        if fds and len(fds) == len(slots):
            try:
                select.select(fds, [], [], timeout_s)
                return
            except (OSError, ValueError):
                pass
        time.sleep(min(timeout_s, 0.01))

    def step(self) -> int:
        """Take what every link has received, then do what is due. Returns messages taken."""
        taken = 0
        now = self._clock()
        for slot in self._slots.values():
            if slot.opener is not None and not slot.opener.is_alive():
                self._opened(slot, now)
            if not slot.link.is_open:
                if slot.opener is None and now >= slot.retry_at:
                    slot.opener = threading.Thread(target=self._try_open, args=(slot.link,), daemon=True,
                                                   name=f"telemetry-connect {slot.url}")
                    slot.opener.start()
                continue
            try:
                with self._lock:
                    for _ in range(_BATCH):
                        got = slot.link.recv()
                        if got is None:
                            break
                        taken += 1
                        try:
                            self._dispatch(slot, got[0], got[1], now)
                        except Exception:        # one odd message must not stop the recording
                            self.dispatch_errors += 1
                            if self.dispatch_errors <= 10:
                                log.exception("telemetry daemon: %s: message %s not taken in", slot.url, got[0])
                self._ask(slot, now)
            except LinkDown as err:
                self._link_down(slot, now, str(err))
        tick = now - self._last_tick_s >= _TICK_S
        if tick:
            self._last_tick_s = now
        self._evaluate(now, every=tick)
        if taken:
            with self._changed:
                self._changed.notify_all()
        if self._listeners:
            self._publish_vehicles(now)
        if now - self._last_heartbeat_s >= _GCS_HEARTBEAT_S:
            self._last_heartbeat_s = now
            self._heartbeat()
        if now - self._last_flush_s >= self.flush_interval_s:
            self._last_flush_s = self._last_status_s = now
            self.flush()
        elif now - self._last_status_s >= self.status_interval_s:
            self._last_status_s = now
            self._write_status_alone()
        return taken

    def _heartbeat(self) -> None:
        """A ground station's HEARTBEAT on every link, once a second (as MAVProxy and QGC send):
        a ``udpout:`` peer learns where to answer, and the vehicle that a GCS is there."""
        for slot in self._slots.values():
            if not slot.link.is_open:
                continue
            try:
                slot.link.send(slot.link.mav.heartbeat_encode(mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID,
                                                              0, 0, mavlink.MAV_STATE_ACTIVE))
            except LinkDown as err:
                self._link_down(slot, self._clock(), str(err))

    def _dispatch(self, slot: _Slot, msg: Any, t_recv_s: float, now: float) -> None:
        if msg.get_type() == "BAD_DATA":
            return
        slot.fences.received(msg)
        rec = slot.router.handle(msg, t_recv_s)
        if rec is None:
            return
        sysid = rec.system_id
        veh = slot.vehicles.get(sysid)
        if veh is None:
            veh = slot.vehicles[sysid] = _Vehicle(VehicleState(link=slot.url, system_id=sysid),
                                                  AlarmMonitor(self.config.alarms), rec)
        veh.state.update(msg, now, t_recv_s)
        veh.changed()
        notices = veh.monitor.on_message(msg, veh.state, now,
                                         commanded=lambda mode: self._was_commanded(slot, sysid, mode, now))
        for alarm in notices:
            self._alarm(slot, veh, alarm, rec.last_s)
        for sub in self._subs.get((slot.url, sysid), ()):
            sub.offer(msg)

    def _evaluate(self, now: float, *, every: bool) -> None:
        """Alarm conditions of the vehicles heard in this step (of all of them on a tick)."""
        wall = None
        for slot in self._slots.values():
            for sysid, veh in slot.vehicles.items():
                if not (every or veh.evaluate_due):
                    continue
                veh.evaluate_due = False
                changes = veh.monitor.evaluate(veh.state, now, slot.fences.fence(sysid))
                if not changes:
                    continue
                if wall is None:
                    wall = self._wall_clock()
                with self._lock:
                    for alarm in changes:
                        self._alarm(slot, veh, alarm, veh.recorder.vehicle_time(wall))

    def _alarm(self, slot: _Slot, veh: _Vehicle, alarm: Alarm, t_s: float | None) -> None:
        rec = veh.recorder
        kind = "alarm_cleared" if alarm.transition == "cleared" else "alarm"
        rec.add_event(kind, alarm.message, t_s=t_s, severity=alarm.severity,
                      data={"code": alarm.code, "transition": alarm.transition, **alarm.data})
        veh.publish_due = veh.status_due = True
        if alarm.transition != "cleared":
            self.alarms_raised += 1
        log.log(logging.WARNING if alarm.transition != "cleared" else logging.INFO,
                "vehicle %s: %s %s: %s", rec.vehicle_key, alarm.code, alarm.transition, alarm.message)
        if self._listeners:
            self._emit({"type": "alarm", "key": rec.vehicle_key, "link": slot.url, "system_id": rec.system_id,
                        "flight_id": rec.flight_id, "in_flight": rec.in_flight,
                        "t_utc": _iso(t_s if t_s is not None else self._wall_clock()),
                        "alarm": alarm.as_dict()})

    def _ask(self, slot: _Slot, now: float) -> None:
        """Ask new or silent vehicles for their data streams and home position."""
        for sysid, veh in slot.vehicles.items():
            state = veh.state
            if state.last_heartbeat_s is None:
                continue
            asked = slot.asked_streams_s.get(sysid)
            flowing = state.last_stream_s is not None and now - state.last_stream_s < _STREAM_RETRY_S
            if asked is None or (not flowing and now - asked >= _STREAM_RETRY_S):
                slot.asked_streams_s[sysid] = now
                mav = slot.link.mav
                slot.link.send(mav.request_data_stream_encode(
                    sysid, 0, mavlink.MAV_DATA_STREAM_ALL, self.stream_rate_hz, 1))
            if state.home is None and now - slot.asked_home_s.get(sysid, -1e9) >= _HOME_RETRY_S:
                slot.asked_home_s[sysid] = now
                mav = slot.link.mav
                slot.link.send(mav.command_long_encode(
                    sysid, 0, mavlink.MAV_CMD_REQUEST_MESSAGE, 0,
                    mavlink.MAVLINK_MSG_ID_HOME_POSITION, 0, 0, 0, 0, 0, 0))

    # ------------------------------------------------------------------ links failing
    def _link_down(self, slot: _Slot, now: float, reason: str) -> None:
        slot.errors += 1
        delay = slot.backoff.next_delay()
        slot.retry_at = now + delay
        log.warning("telemetry daemon: %s; reconnecting in %.1f s", reason, delay)
        for veh in slot.vehicles.values():
            veh.state.restart_sequences()
        self._emit({"type": "link", "link": slot.url, "connected": False, "reason": reason})

    def _opened(self, slot: _Slot, now: float) -> None:
        """The thread opening a link that was down has finished: connected, or try again later."""
        slot.opener = None
        if slot.link.is_open:
            slot.backoff.reset()
            slot.asked_streams_s.clear()
            slot.asked_home_s.clear()
            self._connected(slot)
        else:
            slot.retry_at = now + slot.backoff.next_delay()

    def _connected(self, slot: _Slot) -> None:
        log.info("telemetry daemon: link %s connected", slot.url)
        self._emit({"type": "link", "link": slot.url, "connected": True, "reason": "connected"})

    @staticmethod
    def _try_open(link: Any) -> None:
        try:
            link.open()
        except TelemetryError as err:
            log.info("telemetry daemon: %s", err)

    # ------------------------------------------------------------------ live state out
    def add_listener(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``listener(event)`` from the receive loop with every live event (:mod:`telemetry.feed`).

        The listener must return at once and not raise (errors are logged and counted in
        ``listener_errors``); a :class:`~telemetry.feed.LiveFeed` is one. Returns the function
        that removes it.
        """
        with self._lock:
            self._listeners = [*self._listeners, listener]

        def remove() -> None:
            with self._lock:
                self._listeners = [fn for fn in self._listeners if fn is not listener]
        return remove

    def _emit(self, event: dict[str, Any]) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                self.listener_errors += 1
                if self.listener_errors == 1:
                    log.exception("telemetry daemon: a live-feed listener failed (only the first is logged)")

    def _publish_vehicles(self, now: float) -> None:
        with self._lock:
            due = [(slot, veh) for slot in self._slots.values() for veh in slot.vehicles.values()
                   if veh.publish_due and now - veh.published_s >= _PUBLISH_S]
            events = []
            for slot, veh in due:
                veh.published_s = now
                veh.publish_due = False
                events.append({"type": "vehicle", "vehicle": self._vehicle_snapshot(slot, veh, now)})
        for event in events:
            self._emit(event)

    def _vehicle_snapshot(self, slot: _Slot, veh: _Vehicle, now: float) -> dict[str, Any]:
        rec = veh.recorder
        out = veh.state.as_dict(now)
        out.update({
            "key": rec.vehicle_key, "vehicle_id": rec.vehicle_id, "name": rec.vehicle_name,
            "link_name": slot.config.name, "flight_id": rec.flight_id, "in_flight": rec.in_flight,
            "t_utc": _iso(self._wall_clock()),
            "last_message_utc": None if veh.state.last_message_utc_s is None else _iso(veh.state.last_message_utc_s),
            "link_ok": slot.link.is_open and "link_lost" not in veh.monitor.active,
            "alarms": [a.as_dict() for a in veh.monitor.active.values()],
            "fence_known": slot.fences.fence(veh.state.system_id) is not None,
            "link_stats": slot.link.stats(),
        })
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        """The live state of every vehicle on every link, JSON-ready.

        Each dict has the :class:`~telemetry.state.VehicleState` fields (position, altitude,
        heading, speed, mode, armed, battery, GPS fix and satellites, EKF, mission progress,
        link quality from sequence numbers, ages of the last HEARTBEAT, position and message)
        and ``key``, ``vehicle_id``, ``name``, ``link_name``, ``flight_id``, ``in_flight``,
        ``t_utc`` (ISO 8601), ``last_message_utc``, ``link_ok``, ``alarms`` (active ones),
        ``fence_known`` and ``link_stats`` (the link's counters: messages, bad bytes,
        unsigned frames rejected, reconnections...).
        """
        with self._lock:
            now = self._clock()
            return [self._vehicle_snapshot(slot, veh, now) for slot in self._slots.values()
                    for veh in slot.vehicles.values()]

    def links(self) -> list[dict[str, Any]]:
        """Counters of every link (:meth:`telemetry.link.Link.stats`), with ``name`` and ``log_file_id``."""
        with self._lock:
            return [{**slot.link.stats(), "name": slot.config.name, "log_file_id": slot.log_file_id}
                    for slot in self._slots.values()]

    # ------------------------------------------------------------------ database
    def flush(self) -> None:
        """Make the tlogs durable, then write the recorders' pending rows and the vehicles'
        status in one transaction."""
        for slot in self._slots.values():
            slot.link.sync()
        registered = {url: slot.log_file_id for url, slot in self._slots.items()}
        try:
            with self._session_factory.begin() as session:
                for slot in self._slots.values():
                    self._register_tlog(session, slot)
                    slot.router.flush(session)
                self._write_status(session, every=True)
        except sa.exc.SQLAlchemyError:
            self.flush_errors += 1
            log.exception("telemetry daemon: database write failed; the rows are kept for the next flush")
            for url, slot in self._slots.items():
                slot.log_file_id = registered[url]
                slot.router.log_file_id = registered[url]
                slot.router.rolled_back()

    def _write_status_alone(self) -> None:
        try:
            with self._session_factory.begin() as session:
                self._write_status(session, every=False)
        except sa.exc.SQLAlchemyError:
            self.status_errors += 1
            log.exception("telemetry daemon: vehicle_status write failed")

    def _write_status(self, session: Session, *, every: bool) -> None:
        """Rewrite the ``vehicle_status`` row of each vehicle whose state changed (all with ``every``)."""
        now = self._clock()
        wall = dt.datetime.fromtimestamp(self._wall_clock(), dt.timezone.utc)
        for slot in self._slots.values():
            for veh in slot.vehicles.values():
                rec = veh.recorder
                if rec.vehicle_id is None or not (every or veh.status_due):
                    continue
                veh.status_due = False
                snap = self._vehicle_snapshot(slot, veh, now)
                snap["link_ok"] = snap["link_ok"] and not self._closing
                state = veh.state
                values = dict(
                    link=slot.url, system_id=state.system_id, flight_id=rec.flight_id, updated_utc=wall,
                    last_message_utc=None if state.last_message_utc_s is None else
                    dt.datetime.fromtimestamp(state.last_message_utc_s, dt.timezone.utc),
                    link_ok=snap["link_ok"], armed=state.armed, mode=state.mode, lat_deg=state.lat_deg,
                    lon_deg=state.lon_deg, alt_rel_m=state.alt_rel_m, heading_deg=state.heading_deg,
                    groundspeed_m_s=state.groundspeed_m_s, battery_remaining_pct=state.battery_remaining_pct,
                    alarms=snap["alarms"], snapshot=_json_safe(snap))
                updated = session.execute(sa.update(VehicleStatus).where(VehicleStatus.vehicle_id == rec.vehicle_id)
                                          .values(**values))
                if updated.rowcount == 0:
                    session.add(VehicleStatus(vehicle_id=rec.vehicle_id, **values))
                    session.flush()

    def _register_tlog(self, session: Session, slot: _Slot) -> None:
        link = slot.link
        size = link.tlog.bytes_written if link.tlog is not None else 0
        if slot.log_file_id is None:
            row = LogFile(kind="live-tlog", sha256=None, original_name=slot.tlog_path.name,
                          stored_path=slot.tlog_path.relative_to(self.data_dir).as_posix(),
                          size_bytes=size, messages=link.messages, bad_bytes=link.bad_bytes)
            session.add(row)
            session.flush()
            slot.log_file_id = row.id
            slot.router.log_file_id = row.id
        else:
            session.execute(sa.update(LogFile).where(LogFile.id == slot.log_file_id).values(
                size_bytes=size, messages=link.messages, bad_bytes=link.bad_bytes))

    def _resume_open_flight(self, rec: FlightRecorder) -> None:
        """A new vehicle: continue (or close) the flight an interrupted recording left open."""
        try:
            with self._session_factory() as session:
                opened = open_flight_of(session, rec.vehicle_key)
        except sa.exc.SQLAlchemyError:
            log.exception("telemetry daemon: cannot look for an open flight of %s", rec.vehicle_key)
            return
        if opened is not None:
            log.info("telemetry daemon: %s has flight %d open in the archive", rec.vehicle_key, opened.flight_id)
            rec.resume(opened, within_s=self.config.resume_within_s)

    def _archive_tlogs(self) -> None:
        for slot in self._slots.values():
            if slot.log_file_id is not None:
                archive_live_tlog(self._session_factory, self.data_dir, slot.log_file_id, slot.tlog_path)

    # ------------------------------------------------------------------ for commands
    def send(self, link: str, msg: Any) -> None:
        """Send a message on a link (recorded in its tlog).

        Mode commands and geofence transfers are noted: a failsafe mode this ground station
        asked for raises no alarm, and the fence uploaded is checked on the ground.

        Raises
        ------
        LinkDown
            The link is down.
        """
        slot = self._slot(link)
        slot.fences.sent(msg)            # before sending: the answer may be taken in before send returns
        commanded = self._commanded_mode(slot, msg)
        if commanded is not None:
            slot.commanded[commanded[0]] = (commanded[1], self._clock())
        slot.link.send(msg)

    def _commanded_mode(self, slot: _Slot, msg: Any) -> tuple[int, str] | None:
        """(target system, mode name) of a message asking for a flight mode, else None."""
        kind = msg.get_type()
        target = getattr(msg, "target_system", None)
        if kind not in ("COMMAND_LONG", "COMMAND_INT", "SET_MODE") or target is None:
            return None
        if kind == "SET_MODE":
            custom = msg.custom_mode
        elif msg.command == mavlink.MAV_CMD_DO_SET_MODE:
            custom = int(msg.param2)
        elif msg.command in _MODE_COMMANDS:
            return target, _MODE_COMMANDS[msg.command]
        else:
            return None
        veh = slot.vehicles.get(target)
        if veh is None or veh.state.mav_type is None:
            return None
        return target, mode_name(veh.state.mav_type, veh.state.autopilot, 0, custom)

    def _was_commanded(self, slot: _Slot, sysid: int, mode: str, now: float) -> bool:
        asked = slot.commanded.get(sysid)
        return asked is not None and asked[0] == mode and now - asked[1] <= self.config.alarms.mode_command_window_s

    def set_fence(self, link: str, system_id: int, items: Sequence[MissionItem]) -> None:
        """Declare the geofence a vehicle holds (MAV_MISSION_TYPE_FENCE items), for the ground
        check, when it was not uploaded through this daemon.

        Raises
        ------
        TelemetryError
            Unknown link, or a malformed fence.
        """
        try:
            self._slot(link).fences.set(system_id, items)
        except ValueError as err:
            raise TelemetryError(f"vehicle {system_id} on {link}: {err}") from err

    def mav(self, link: str) -> Any:
        """The pymavlink ``MAVLink`` object of a link (message encoders)."""
        return self._slot(link).link.mav

    def subscribe(self, link: str, system_id: int, types: Iterable[str]) -> Subscription:
        """Queue the messages of ``types`` the loop receives from a vehicle (see :mod:`telemetry.handle`)."""
        key = (link, system_id)
        sub = Subscription(types, on_close=lambda s: self._unsubscribe(key, s))
        with self._lock:
            self._subs[key] = [*self._subs.get(key, ()), sub]
        return sub

    def _unsubscribe(self, key: tuple[str, int], sub: Subscription) -> None:
        with self._lock:
            self._subs[key] = [s for s in self._subs.get(key, ()) if s is not sub]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until ``predicate()`` is true (checked after each step that received messages).

        Raises
        ------
        TelemetryError
            The loop died while waiting.
        """
        deadline = self._clock() + timeout_s
        with self._changed:
            while True:
                if self._error is not None:
                    raise TelemetryError(f"the telemetry daemon failed: {self._error}") from self._error
                if predicate():
                    return True
                left = deadline - self._clock()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.5))

    def vehicles(self) -> list[VehicleState]:
        """Snapshots of every vehicle seen on every link."""
        with self._lock:
            return [v.state.snapshot() for slot in self._slots.values() for v in slot.vehicles.values()]

    def wait_vehicle(self, timeout_s: float, *, link: str | None = None,
                     system_id: int | None = None) -> VehicleHandle:
        """Wait for a vehicle's HEARTBEAT and return its handle.

        Parameters
        ----------
        timeout_s : float
            Longest wait, seconds.
        link, system_id : optional
            Which vehicle (default: the first one heard).

        Raises
        ------
        LinkTimeout
            No (matching) vehicle within ``timeout_s``.
        """
        found: list[tuple[str, VehicleState]] = []

        def seen() -> bool:
            for slot in self._slots.values():
                if link is not None and slot.url != link:
                    continue
                for sysid, veh in slot.vehicles.items():
                    if veh.state.last_heartbeat_s is not None and system_id in (None, sysid):
                        found.append((slot.url, veh.state))
                        return True
            return False

        if not self.wait_for(seen, timeout_s):
            raise LinkTimeout(f"no vehicle heard on {link or ', '.join(self.urls)} within {timeout_s:g} s")
        url, state = found[0]
        return VehicleHandle(self, url, state)

    def recorder(self, link: str, system_id: int):
        """The :class:`~flight_logs.recorder.FlightRecorder` of a vehicle, or None."""
        return self._slot(link).router.recorders.get(system_id)

    def log_file_id(self, link: str) -> int | None:
        """``LogFile.id`` of a link's tlog (after the first flush)."""
        return self._slot(link).log_file_id

    def _slot(self, link: str) -> _Slot:
        try:
            return self._slots[link]
        except KeyError:
            raise TelemetryError(f"no open link {link!r} (open: {', '.join(self._slots) or 'none'})") from None


def _json_safe(value: Any) -> Any:
    """NaN and infinities as None, so every JSON reader takes the snapshot."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def run_daemon(session_factory: sessionmaker, data_dir: Path, links: Sequence[str | LinkConfig] = (),
               **options: Any) -> Daemon:
    """Run a :class:`Daemon` in the foreground until SIGTERM or SIGINT (the CLI's ``patrol daemon``),
    then flush, close and archive; returns the stopped daemon (its counters).

    ``options`` go to :class:`Daemon` (``config``, ``wait_for_links``...).
    """
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        daemon = Daemon(session_factory, data_dir, links, **options)
        daemon.run(stop)
        return daemon
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
