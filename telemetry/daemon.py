"""The telemetry daemon: holds MAVLink links, records everything, keeps vehicles' state.

A thin loop around :meth:`Daemon.step`: wait (with a timeout) until a link is readable, take
what arrived, hand each message to the link's :class:`~flight_logs.recorder.LinkRecorder`
(flights, tracks, events, camera positions), to the vehicle's
:class:`~telemetry.state.VehicleState` and to waiting commands; once a second make the
tlogs durable and write the recorders' rows in one ``with session_factory.begin()``.

On a new vehicle (its autopilot's first HEARTBEAT) the daemon asks for data streams
(REQUEST_DATA_STREAM, MAV_DATA_STREAM_ALL, as MAVProxy does; a fresh ArduPilot link sends
little else until asked) and for HOME_POSITION (MAV_CMD_REQUEST_MESSAGE), and asks again
while they do not come.

Each link's tlog is written under ``<data_dir>/live/`` and registered at once as a
``LogFile`` of kind ``"live-tlog"``; when the daemon stops it is moved into the content
store (``raw/live-tlog/``) with its SHA-256.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import select
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from sqlalchemy.orm import sessionmaker

from flight_logs.models import LogFile
from flight_logs.recorder import LinkRecorder
from flight_logs.store import file_sha256, store_file
from telemetry.errors import LinkTimeout, TelemetryError
from telemetry.handle import Subscription, VehicleHandle
from telemetry.link import Link
from telemetry.state import VehicleState

__all__ = ["Daemon", "run_daemon"]

log = logging.getLogger(__name__)

_BATCH = 2000                      # messages taken from one link per step, at most
_STREAM_RETRY_S = 5.0              # re-ask for streams after this long without position data
_HOME_RETRY_S = 2.0                # ask for HOME_POSITION this often until it comes
_GCS_HEARTBEAT_S = 1.0


@dataclass
class _Slot:
    """One link and what the daemon keeps about it."""

    url: str
    link: Link
    router: LinkRecorder
    tlog_path: Path
    log_file_id: int | None = None
    states: dict[int, VehicleState] = field(default_factory=dict)
    asked_streams_s: dict[int, float] = field(default_factory=dict)
    asked_home_s: dict[int, float] = field(default_factory=dict)
    errors: int = 0


class Daemon:
    """MAVLink links -> tlogs, flights and live vehicle state.

    Parameters
    ----------
    session_factory : sessionmaker
        The application's session factory; the daemon opens one transaction per flush.
    data_dir : Path
        The data root (tlogs go to ``live/`` then ``raw/live-tlog/``).
    links : list of str
        pymavlink connection strings (``udpin:127.0.0.1:14550``, ``tcp:127.0.0.1:5760``...).
    clock : callable
        Monotonic seconds (default ``time.monotonic``): timeouts and the flush period.
    wall_clock : callable
        UTC seconds (default ``time.time``): receive timestamps of the tlog and the recorder.
    stream_rate_hz : int
        Rate asked for every data stream (MAV_DATA_STREAM_ALL).
    flush_interval_s : float
        Period of tlog fsync and database writes (at most 1 s for the archive's promise).
    wait_s : float
        Longest wait for a link to become readable in one step.
    vehicle_name : str, optional
        Name for new vehicle rows (default their key ``"<link>#<system id>"``).
    link_factory : callable
        ``link_factory(url, tlog_path=..., wall_clock=...)`` -> :class:`~telemetry.link.Link`.
    """

    def __init__(self, session_factory: sessionmaker, data_dir: Path, links: list[str], *,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 stream_rate_hz: int = 4, flush_interval_s: float = 1.0, wait_s: float = 0.05,
                 vehicle_name: str | None = None, link_factory: Callable[..., Link] = Link) -> None:
        if not links:
            raise TelemetryError("the daemon needs at least one link")
        self._session_factory = session_factory
        self.data_dir = Path(data_dir)
        self.urls = list(links)
        self._clock = clock
        self._wall_clock = wall_clock
        self.stream_rate_hz = stream_rate_hz
        self.flush_interval_s = flush_interval_s
        self.wait_s = wait_s
        self.vehicle_name = vehicle_name
        self._link_factory = link_factory
        self._slots: dict[str, _Slot] = {}
        self._subs: dict[tuple[str, int], list[Subscription]] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_flush_s: float | None = None
        self._last_heartbeat_s = float("-inf")
        self._error: BaseException | None = None
        self.flush_errors = 0

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Open every link and its tlog (done by :meth:`start` and :meth:`run`)."""
        stamp = dt.datetime.fromtimestamp(self._wall_clock(), dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        for url in self.urls:
            if url in self._slots:
                continue
            safe = re.sub(r"[^A-Za-z0-9.]+", "_", url).strip("_")
            path = self.data_dir / "live" / f"{stamp}_{safe}.tlog"
            link = self._link_factory(url, tlog_path=path, wall_clock=self._wall_clock)
            self._slots[url] = _Slot(url=url, link=link, tlog_path=path,
                                     router=LinkRecorder(url, vehicle_name=self.vehicle_name))
        self._last_flush_s = self._clock()

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
        """Run the loop in this thread until ``stop`` is set, then close and archive the tlogs."""
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
        """Final flush; close the links; move each tlog into the archive with its hash."""
        try:
            self.flush()
        finally:
            for slot in self._slots.values():
                slot.link.close()
            self._archive_tlogs()

    # ------------------------------------------------------------------ the loop
    def wait_readable(self, timeout_s: float) -> None:
        """Wait until some link may have data, at most ``timeout_s`` seconds (``select`` on the
        links' descriptors; a short sleep for links without one)."""
        slots = list(self._slots.values())
        if len(slots) == 1:
            slots[0].link.wait_readable(timeout_s)
            return
        fds = [fd for fd in (s.link.fileno() for s in slots) if fd is not None]
        if fds:
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
            try:
                for _ in range(_BATCH):
                    got = slot.link.recv()
                    if got is None:
                        break
                    taken += 1
                    self._dispatch(slot, got[0], got[1], now)
                self._ask(slot, now)
            except OSError as err:            # a link down (pymavlink reconnects TCP): keep the others going
                slot.errors += 1
                log.warning("telemetry daemon: link %s: %s", slot.url, err)
        if taken:
            with self._changed:
                self._changed.notify_all()
        if now - self._last_heartbeat_s >= _GCS_HEARTBEAT_S:
            self._last_heartbeat_s = now
            self._heartbeat()
        if now - self._last_flush_s >= self.flush_interval_s:
            self._last_flush_s = now
            self.flush()
        return taken

    def _heartbeat(self) -> None:
        """A ground station's HEARTBEAT on every link, once a second (as MAVProxy and QGC send):
        a ``udpout:`` peer learns where to answer, and the vehicle that a GCS is there."""
        for slot in self._slots.values():
            try:
                slot.link.send(slot.link.mav.heartbeat_encode(mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID,
                                                              0, 0, mavlink.MAV_STATE_ACTIVE))
            except OSError as err:
                slot.errors += 1
                log.warning("telemetry daemon: link %s: %s", slot.url, err)

    def _dispatch(self, slot: _Slot, msg: Any, t_recv_s: float, now: float) -> None:
        if msg.get_type() == "BAD_DATA":
            return
        rec = slot.router.handle(msg, t_recv_s)
        if rec is None:
            return
        sysid = rec.system_id
        state = slot.states.get(sysid)
        if state is None:
            with self._lock:
                state = slot.states[sysid] = VehicleState(link=slot.url, system_id=sysid)
        state.update(msg, now)
        for sub in self._subs.get((slot.url, sysid), ()):
            sub.offer(msg)

    def _ask(self, slot: _Slot, now: float) -> None:
        """Ask new or silent vehicles for their data streams and home position."""
        for sysid, state in slot.states.items():
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

    def flush(self) -> None:
        """Make the tlogs durable, then write the recorders' pending rows in one transaction."""
        for slot in self._slots.values():
            if slot.link.tlog is not None:
                slot.link.tlog.sync()
        registered = {url: slot.log_file_id for url, slot in self._slots.items()}
        try:
            with self._session_factory.begin() as session:
                for slot in self._slots.values():
                    self._register_tlog(session, slot)
                    slot.router.flush(session)
        except sa.exc.SQLAlchemyError:
            self.flush_errors += 1
            log.exception("telemetry daemon: database write failed; the rows are kept for the next flush")
            for url, slot in self._slots.items():
                slot.log_file_id = registered[url]
                slot.router.log_file_id = registered[url]
                slot.router.rolled_back()

    def _register_tlog(self, session, slot: _Slot) -> None:
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

    def _archive_tlogs(self) -> None:
        for slot in self._slots.values():
            path = slot.tlog_path
            if slot.log_file_id is None or not path.exists():
                continue
            try:
                if path.stat().st_size == 0:         # nothing was heard on the link: no log to keep
                    with self._session_factory.begin() as session:
                        session.execute(sa.delete(LogFile).where(LogFile.id == slot.log_file_id))
                    path.unlink()
                    continue
                digest = file_sha256(path)
                with self._session_factory.begin() as session:
                    if session.scalar(sa.select(LogFile.id).where(LogFile.sha256 == digest)) is not None:
                        continue             # the same bytes are archived already: keep the live copy
                    digest, stored = store_file(self.data_dir, path, "live-tlog", sha256=digest)
                    session.execute(sa.update(LogFile).where(LogFile.id == slot.log_file_id).values(
                        sha256=digest, stored_path=stored, size_bytes=path.stat().st_size))
                path.unlink()
            except (OSError, sa.exc.SQLAlchemyError):
                log.exception("telemetry daemon: could not archive %s; it stays where it is", path)

    # ------------------------------------------------------------------ for commands
    def send(self, link: str, msg: Any) -> None:
        """Send a message on a link (recorded in its tlog)."""
        self._slot(link).link.send(msg)

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
            return [s.snapshot() for slot in self._slots.values() for s in slot.states.values()]

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
                for sysid, state in slot.states.items():
                    if state.last_heartbeat_s is not None and system_id in (None, sysid):
                        found.append((slot.url, state))
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


def run_daemon(session_factory: sessionmaker, data_dir: Path, links: list[str], **options: Any) -> None:
    """Run a :class:`Daemon` in the foreground until SIGTERM or SIGINT (the CLI's ``patrol daemon``)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        Daemon(session_factory, data_dir, links, **options).run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
