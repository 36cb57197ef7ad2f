"""One MAVLink link: the one place that opens ``mavutil.mavlink_connection``.

Connection strings are pymavlink's: ``udpin:0.0.0.0:14550`` (listen; replies go to whoever
sent), ``udpout:HOST:PORT``, ``tcp:HOST:PORT`` (e.g. SITL's ``tcp:127.0.0.1:5760``),
``tcpin:HOST:PORT``, a serial device ``/dev/ttyUSB0`` (baud from ``baud`` or
``"/dev/ttyUSB0,57600"``). A link records every message it receives, and every message
sent through it, into a tlog (:class:`flight_logs.tlog.TlogWriter`), timestamped with the
same receive time it hands to the caller, so replaying the tlog gives the same flights.

pymavlink starts in MAVLink 1 and switches (process-wide) to MAVLink 2 at the first MAVLink 2
frame it receives, as ArduPilot sends; both are read.
"""

from __future__ import annotations

import select
import threading
import time
from pathlib import Path
from typing import Any, Callable

from pymavlink import mavutil

from flight_logs.tlog import TlogWriter
from telemetry.errors import TelemetryError

__all__ = ["GCS_COMPONENT_ID", "GCS_SYSTEM_ID", "Link"]

GCS_SYSTEM_ID = 255
#: MAV_COMP_ID_MISSIONPLANNER, the component id MAVProxy and Mission Planner use.
GCS_COMPONENT_ID = 190


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

    Raises
    ------
    TelemetryError
        The connection cannot be opened (bad string, port in use, nobody listening).
    """

    def __init__(self, url: str, *, tlog_path: Path | None = None, source_system: int = GCS_SYSTEM_ID,
                 source_component: int = GCS_COMPONENT_ID, baud: int = 57600,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self._wall_clock = wall_clock
        device, _, baud_text = url.partition(",") if not url.startswith(("udp", "tcp")) else (url, "", "")
        try:
            self.conn = mavutil.mavlink_connection(
                device, baud=int(baud_text or baud), source_system=source_system,
                source_component=source_component, autoreconnect=True, robust_parsing=True)
        except (OSError, ValueError) as err:
            raise TelemetryError(f"cannot open MAVLink link {url!r}: {err}") from err
        self.tlog = TlogWriter(tlog_path) if tlog_path is not None else None
        self._send_lock = threading.Lock()
        self.messages = 0
        self.bad_packets = 0
        self.bad_bytes = 0

    @property
    def mav(self) -> Any:
        """The pymavlink ``MAVLink`` object of the link: its ``*_encode`` methods build messages."""
        return self.conn.mav

    def fileno(self) -> int | None:
        """The socket/serial descriptor to wait on, or None."""
        fd = getattr(self.conn, "fd", None)
        return fd if isinstance(fd, int) and fd >= 0 else None

    def recv(self) -> tuple[Any, float] | None:
        """The next message and its receive time (UTC seconds), or None if none is waiting.

        Never blocks. Garbage comes back as a BAD_DATA message, counted in ``bad_packets``
        and ``bad_bytes`` and recorded like everything else.
        """
        msg = self.conn.recv_msg()
        if msg is None:
            return None
        t_us = int(self._wall_clock() * 1e6)
        if msg.get_type() == "BAD_DATA":
            self.bad_packets += 1
            self.bad_bytes += len(msg.data)
        else:
            self.messages += 1
        if self.tlog is not None:
            self.tlog.write(t_us, msg.get_msgbuf())
        return msg, t_us * 1.0e-6      # the float a tlog reader computes from the record

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
        """Send a message built with :attr:`mav` (``link.mav.command_long_encode(...)``) and record it."""
        with self._send_lock:
            self.conn.mav.send(msg)
            if self.tlog is not None:
                self.tlog.write(int(self._wall_clock() * 1e6), msg.get_msgbuf())

    def close(self) -> None:
        """Close the connection and the tlog."""
        try:
            self.conn.close()
        finally:
            if self.tlog is not None:
                self.tlog.close()
