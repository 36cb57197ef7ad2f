"""One MAVLink link: the one place that opens ``mavutil.mavlink_connection``.

Connection strings are pymavlink's: ``udpin:0.0.0.0:14550`` (listen; replies go to whoever
sent), ``udpout:HOST:PORT``, ``tcp:HOST:PORT`` (e.g. SITL's ``tcp:127.0.0.1:5760``),
``tcpin:HOST:PORT``, a serial device ``/dev/ttyUSB0`` (baud from ``baud`` or
``"/dev/ttyUSB0,57600"``). A link records every message it receives, and every message
sent through it, into a tlog (:class:`flight_logs.tlog.TlogWriter`), timestamped with the
same receive time it hands to the caller, so replaying the tlog gives the same flights. The
tlog is held with an exclusive ``flock`` while the link has it open (:func:`tlog_in_use`).

**Versions.** A link parses MAVLink 1 and 2 frames alike (pymavlink's MAVLink 2 parser reads
both; the link switches to it at once instead of at the first MAVLink 2 frame). It sends
MAVLink 2, except to a system whose last frame was MAVLink 1 (and without signing).

**Garbage and signing.** Bytes that are no valid frame are counted (``bad_packets``,
``bad_bytes``) and written, as pymavlink hands them over (a BAD_DATA run), to a second tlog
under ``rejected/`` beside the link's tlog, never to the link's tlog: a reader of a tlog
would take garbage starting with a frame marker as a frame and lose the records after it
(pymavlink's own tlog writer leaves BAD_DATA out too), and re-importing the tlog must give
what the daemon accepted. With a :class:`~telemetry.config.SigningConfig`, outgoing frames are
signed (pymavlink's ``setup_signing``) and incoming signatures checked. When signing is
required, an unsigned frame, or one whose signature fails, is rejected: counted
(``unsigned_rejected``, ``bad_signatures``) and written to the ``rejected/`` tlog. When not
required, unsigned frames are accepted (pymavlink then also accepts a frame whose signature
fails; ``bad_signatures`` counts them).

**Failures.** A link that fails (TCP closed or reset, serial device gone, a socket error) is
closed and :class:`LinkDown` raised; :meth:`Link.open` opens it again (the daemon retries with
backoff, :class:`Backoff`). The tlog stays open across reconnections.
"""

from __future__ import annotations

import fcntl
import select
import threading
import time
from pathlib import Path
from typing import Any, Callable

from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.tlog import TlogWriter
from telemetry.config import SigningConfig
from telemetry.errors import TelemetryError

__all__ = ["Backoff", "GCS_COMPONENT_ID", "GCS_SYSTEM_ID", "Link", "LinkDown", "tlog_in_use"]

GCS_SYSTEM_ID = 255
#: MAV_COMP_ID_MISSIONPLANNER, the component id MAVProxy and Mission Planner use.
GCS_COMPONENT_ID = 190
_MAGIC_V1, _MAGIC_V2 = 0xFE, 0xFD
_SIGNED = mavlink.MAVLINK_IFLAG_SIGNED
_INVALID_SIGNATURE = "Invalid signature"


class LinkDown(TelemetryError):
    """The link failed or is closed (the message names it and why)."""


class Backoff:
    """Delays between reconnection attempts: ``initial_s``, doubling up to ``max_s``.

    >>> b = Backoff(0.5, 4.0)
    >>> [b.next_delay() for _ in range(5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    >>> b.reset(); b.next_delay()
    0.5
    """

    def __init__(self, initial_s: float = 0.5, max_s: float = 30.0, factor: float = 2.0) -> None:
        if not 0 < initial_s <= max_s or factor < 1:
            raise ValueError(f"backoff needs 0 < initial_s <= max_s and factor >= 1 "
                             f"(got {initial_s}, {max_s}, {factor})")
        self.initial_s, self.max_s, self.factor = initial_s, max_s, factor
        self._next = initial_s

    def next_delay(self) -> float:
        """The delay before the next attempt, seconds (and grow it)."""
        delay = self._next
        self._next = min(self.max_s, self._next * self.factor)
        return delay

    def reset(self) -> None:
        """A connection succeeded: start again from ``initial_s``."""
        self._next = self.initial_s


def tlog_in_use(path: Path | str) -> bool:
    """True while a :class:`Link` (in any process) holds the tlog at ``path`` open.

    Raises
    ------
    OSError
        The file cannot be opened.
    """
    with open(path, "rb") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return False


class Link:
    """A MAVLink connection with its tlog.

    Parameters
    ----------
    url : str
        pymavlink connection string (see module docstring).
    tlog_path : Path, optional
        Where to record (appended; folders created). None records nothing.
    source_system, source_component : int
        Our ids on the link (ground station: 255/190).
    baud : int
        Serial speed when ``url`` is a serial device without ``,BAUD``.
    wall_clock : callable
        UTC seconds now (default ``time.time``), the receive timestamp.
    signing : SigningConfig, optional
        MAVLink 2 signing key and whether unsigned frames are rejected.
    connect : bool
        Open the connection now (default); otherwise call :meth:`open`.

    Raises
    ------
    TelemetryError
        ``connect`` and the connection cannot be opened (bad string, port in use, nobody listening).
    """

    def __init__(self, url: str, *, tlog_path: Path | None = None, source_system: int = GCS_SYSTEM_ID,
                 source_component: int = GCS_COMPONENT_ID, baud: int = 57600,
                 wall_clock: Callable[[], float] = time.time, signing: SigningConfig | None = None,
                 connect: bool = True) -> None:
        self.url = url
        self.signing = signing
        self._wall_clock = wall_clock
        self._source = (source_system, source_component)
        self._device, _, baud_text = url.partition(",") if not url.startswith(("udp", "tcp")) else (url, "", "")
        try:
            self._baud = int(baud_text or baud)
        except ValueError:
            raise TelemetryError(f"MAVLink link {url!r}: baud {baud_text!r} is not a number") from None
        self.conn: Any = None
        self._encoder = mavlink.MAVLink(None, srcSystem=source_system, srcComponent=source_component)
        self._send_lock = threading.Lock()
        self.tlog_path = Path(tlog_path) if tlog_path is not None else None
        self.tlog: TlogWriter | None = None
        self.rejected_tlog: TlogWriter | None = None
        self._lock_file = None
        if self.tlog_path is not None:
            self.tlog = TlogWriter(self.tlog_path)
            self._lock_file = open(self.tlog_path, "ab")
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.v1_systems: set[int] = set()
        self.messages = 0
        self.message_bytes = 0
        self.unknown_messages = 0
        self.bad_packets = 0
        self.bad_bytes = 0
        self.unsigned_rejected = 0
        self.signed_messages = 0
        self._bad_signatures_closed = 0
        self.connects = 0
        self.disconnects = 0
        self.last_error: str | None = None
        if connect:
            self.open()

    # ------------------------------------------------------------------ connection
    @property
    def is_open(self) -> bool:
        """True while the connection is up."""
        return self.conn is not None

    def open(self) -> None:
        """Open (or reopen) the connection; blocks while connecting (a TCP connect).

        Raises
        ------
        TelemetryError
            The connection cannot be opened (the message names the link and the reason).
        """
        if self.conn is not None:
            return
        try:
            conn = mavutil.mavlink_connection(
                self._device, baud=self._baud, source_system=self._source[0], source_component=self._source[1],
                autoreconnect=False, robust_parsing=True, retries=0)
        except (OSError, ValueError) as err:
            self.last_error = str(err)
            raise TelemetryError(f"cannot open MAVLink link {self.url!r}: {err}") from err
        if conn.WIRE_PROTOCOL_VERSION != "2.0":
            conn.auto_mavlink_version(bytes([_MAGIC_V2]))     # the MAVLink 2 parser, which reads MAVLink 1 too
        conn.first_byte = False

        def failed(*_: Any) -> None:
            raise LinkDown(f"MAVLink link {self.url!r}: connection closed by the peer")

        conn.handle_eof = conn.handle_disconnect = failed       # instead of pymavlink's print and blocking retry
        if self.signing is not None:
            allow = None if self.signing.require else (lambda mav, msg_id: True)
            conn.setup_signing(self.signing.key, sign_outgoing=True, allow_unsigned_callback=allow)
        self.conn = conn
        self.connects += 1
        self.last_error = None

    def disconnect(self, reason: str, *, failure: bool = True) -> None:
        """Close the connection (not the tlog), counted in ``disconnects`` when a ``failure``;
        :meth:`open` reopens it."""
        with self._send_lock:
            conn, self.conn = self.conn, None
        if conn is None:
            return
        if failure:
            self.disconnects += 1
            self.last_error = reason
        self._bad_signatures_closed += conn.mav.signing.badsig_count
        try:
            conn.close()
        except OSError:
            pass

    @property
    def bad_signatures(self) -> int:
        """Signed frames whose signature failed (rejected when signing is required)."""
        conn = self.conn
        return self._bad_signatures_closed + (conn.mav.signing.badsig_count if conn is not None else 0)

    @property
    def mav(self) -> Any:
        """The pymavlink ``MAVLink`` object of the link: its ``*_encode`` methods build messages."""
        conn = self.conn
        return conn.mav if conn is not None else self._encoder

    def fileno(self) -> int | None:
        """The socket/serial descriptor to wait on, or None."""
        fd = getattr(self.conn, "fd", None)
        return fd if isinstance(fd, int) and fd >= 0 else None

    # ------------------------------------------------------------------ traffic
    def recv(self) -> tuple[Any, float] | None:
        """The next message and its receive time (UTC seconds), or None if none is waiting.

        Never blocks. Garbage comes back as a BAD_DATA message, counted in ``bad_packets``
        and ``bad_bytes``; a frame rejected for its signature comes back as BAD_DATA too,
        counted apart. Both are kept in the ``rejected/`` tlog, out of the link's tlog.

        Raises
        ------
        LinkDown
            The connection failed or is closed (it is closed; reopen with :meth:`open`).
        """
        conn = self.conn
        if conn is None:
            raise LinkDown(f"MAVLink link {self.url!r} is down ({self.last_error or 'not open'})")
        try:
            msg = conn.recv_msg()
        except LinkDown as err:
            self.disconnect(str(err))
            raise
        except OSError as err:
            self.disconnect(str(err))
            raise LinkDown(f"MAVLink link {self.url!r}: {err}") from err
        if msg is None:
            return None
        t_us = int(self._wall_clock() * 1e6)
        frame = msg.get_msgbuf()
        if msg.get_type() == "BAD_DATA":
            if msg.reason == _INVALID_SIGNATURE:
                signed = len(frame) > 2 and frame[0] == _MAGIC_V2 and frame[2] & _SIGNED
                if not signed:
                    self.unsigned_rejected += 1
            else:
                self.bad_packets += 1
                self.bad_bytes += len(msg.data)
            self._reject(t_us, frame)
            return msg, t_us * 1.0e-6
        else:
            self.messages += 1
            self.message_bytes += len(frame)
            if getattr(msg, "_signed", False):
                self.signed_messages += 1
            if msg.get_msgId() < 0:          # a message id pymavlink does not know: its CRC cannot be checked
                self.unknown_messages += 1
            elif frame[0] == _MAGIC_V1:
                self.v1_systems.add(msg.get_srcSystem())
            elif self.v1_systems:
                self.v1_systems.discard(msg.get_srcSystem())
        if self.tlog is not None:
            self.tlog.write(t_us, frame)
        return msg, t_us * 1.0e-6      # the float a tlog reader computes from the record

    def _reject(self, t_us: int, frame: bytes) -> None:
        if self.tlog_path is None:
            return
        if self.rejected_tlog is None:
            self.rejected_tlog = TlogWriter(self.tlog_path.parent / "rejected" / self.tlog_path.name)
        self.rejected_tlog.write(t_us, frame)

    def wait_readable(self, timeout_s: float) -> None:
        """Block until data may be waiting or ``timeout_s`` passes."""
        fd = self.fileno()
        if fd is None:
            time.sleep(min(timeout_s, 0.01))
            return
        try:
            select.select([fd], [], [], timeout_s)
        except (OSError, ValueError):    # descriptor closed by a reconnect: try again next time
            time.sleep(min(timeout_s, 0.01))

    def send(self, msg: Any) -> None:
        """Send a message built with :attr:`mav` (``link.mav.command_long_encode(...)``) and record it.

        Raises
        ------
        LinkDown
            The link is down (the message is not sent), or failed while sending.
        """
        with self._send_lock:
            conn = self.conn
            if conn is None:
                raise LinkDown(f"MAVLink link {self.url!r} is down ({self.last_error or 'not open'}): "
                               f"{msg.get_type()} not sent")
            v1 = self.signing is None and self._to_v1(msg)
            try:
                conn.mav.send(msg, force_mavlink1=v1)
            except LinkDown as err:
                failure: Exception | None = err
            except OSError as err:
                failure = LinkDown(f"MAVLink link {self.url!r}: {err}")
            else:
                failure = None
                if self.tlog is not None:
                    self.tlog.write(int(self._wall_clock() * 1e6), msg.get_msgbuf())
        if failure is not None:
            self.disconnect(str(failure))
            raise failure

    def _to_v1(self, msg: Any) -> bool:
        """Send as MAVLink 1 to a target system whose last frame was MAVLink 1."""
        return bool(self.v1_systems) and getattr(msg, "target_system", None) in self.v1_systems

    def sync(self) -> None:
        """Make the tlogs durable (flush and fsync)."""
        for tlog in (self.tlog, self.rejected_tlog):
            if tlog is not None:
                tlog.sync()

    def stats(self) -> dict[str, Any]:
        """Counters of the link (JSON-ready)."""
        return {"url": self.url, "connected": self.is_open, "messages": self.messages,
                "message_bytes": self.message_bytes, "unknown_messages": self.unknown_messages,
                "bad_packets": self.bad_packets, "bad_bytes": self.bad_bytes,
                "signing": None if self.signing is None else ("required" if self.signing.require else "optional"),
                "signed_messages": self.signed_messages, "unsigned_rejected": self.unsigned_rejected,
                "bad_signatures": self.bad_signatures, "connects": self.connects, "disconnects": self.disconnects,
                "last_error": self.last_error, "mavlink1_systems": sorted(self.v1_systems)}

    def close(self) -> None:
        """Close the connection and the tlogs (and release the tlog's lock)."""
        try:
            self.disconnect("closed", failure=False)
        finally:
            for tlog in (self.tlog, self.rejected_tlog):
                if tlog is not None:
                    tlog.close()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None
