"""Telemetry logs (``.tlog``): check, write, and import them as flights.

A tlog is a sequence of records, each an 8-byte big-endian timestamp (microseconds since the
Unix epoch, UTC, when the ground station received or sent the message) followed by one raw
MAVLink v1 (magic 0xFE) or v2 (magic 0xFD) frame. This is what MAVProxy, Mission Planner,
QGroundControl and pymavlink's ``mavlogfile`` read and write.

:func:`import_tlog` checks the structure before accepting a file, keeps the raw bytes by
content hash, parses every record with pymavlink (``robust_parsing``: garbage comes back as
BAD_DATA, counted and skipped), and replays the messages through the same
:class:`~flight_logs.recorder.LinkRecorder` the live daemon uses. :class:`TlogWriter` is
the daemon's side: it appends records and makes them durable at least once a second.
"""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from pymavlink import mavutil
from sqlalchemy.orm import Session

from flight_logs.errors import CorruptLogError
from flight_logs.models import Flight, LogFile
from flight_logs.recorder import LinkRecorder
from flight_logs.store import file_sha256, store_file

__all__ = ["TlogImport", "TlogWriter", "check_tlog", "flights_of", "import_tlog"]

_TIMESTAMP = struct.Struct(">Q")
_MAGIC_V1, _MAGIC_V2 = 0xFE, 0xFD
_V1_OVERHEAD = 8                 # magic, len, seq, sysid, compid, msgid + 2 CRC
_V2_OVERHEAD = 12                # magic, len, incompat, compat, seq, sysid, compid, msgid[3] + 2 CRC
_V2_SIGNATURE = 13
_PLAUSIBLE_US = (946684800 * 10**6, 4102444800 * 10**6)   # 2000-01-01 .. 2100-01-01 UTC
_SEARCH_FIRST_RECORD = 4096      # bytes scanned for the first valid record
_MAX_WARNED_BAD = 5
_TIME_JUMP_S = 3600.0            # a record timestamp this far from its neighbours is corrupt


@dataclass
class TlogImport:
    """What :func:`import_tlog` did with one file.

    Attributes
    ----------
    path : Path
        The file given.
    log_file : LogFile
        Its archive row (the existing one when the same bytes were imported before).
    messages : int
        MAVLink messages read (BAD_DATA not counted).
    bad_bytes : int
        Bytes skipped as garbage (in ``bad_packets`` BAD_DATA runs).
    flights : list of Flight
        Flights found (segmented on arm/disarm), in start order.
    warnings : list of str
        What was wrong but could be read around (bad packets with their offsets, a truncated
        last record, a log that ends while armed, an earlier import of the same bytes).
    bad_packets : int
        Number of BAD_DATA runs.
    already_imported : bool
        True when the bytes were in the archive already (nothing new was created).
    """

    path: Path
    log_file: LogFile
    messages: int
    bad_bytes: int
    flights: list[Flight]
    warnings: list[str] = field(default_factory=list)
    bad_packets: int = 0
    already_imported: bool = False


def _frame_length(buf: bytes, offset: int) -> int | None:
    """Length of the MAVLink frame starting at ``offset`` from its header, or None."""
    if offset + 3 > len(buf):
        return None
    magic, payload = buf[offset], buf[offset + 1]
    if magic == _MAGIC_V1:
        return _V1_OVERHEAD + payload
    if magic == _MAGIC_V2:
        signed = buf[offset + 2] & 0x01
        return _V2_OVERHEAD + payload + (_V2_SIGNATURE if signed else 0)
    return None


def _record_at(buf: bytes, offset: int) -> int | None:
    """Length of a plausible tlog record at ``offset`` (timestamp + frame header), or None."""
    if offset + _TIMESTAMP.size + 1 > len(buf):
        return None
    (usec,) = _TIMESTAMP.unpack_from(buf, offset)
    if not _PLAUSIBLE_US[0] <= usec <= _PLAUSIBLE_US[1]:
        return None
    frame = _frame_length(buf, offset + _TIMESTAMP.size)
    return None if frame is None else _TIMESTAMP.size + frame


def check_tlog(path: Path | str) -> int:
    """Check that a file is a tlog; return the offset of its first record.

    The first record must be a plausible timestamp (years 2000-2100) followed by a MAVLink
    frame header, whole, and followed by another record or the end of the file; junk before
    it (up to 4 KiB) is tolerated.

    Raises
    ------
    CorruptLogError
        The file is empty, holds no record at its start (wrong type: the message shows the
        first bytes), or ends inside its first record (truncated), naming file and offset.
    OSError
        The file cannot be read.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(_SEARCH_FIRST_RECORD + 300)
    size = path.stat().st_size
    if not head:
        raise CorruptLogError(f"{path}: empty file (0 bytes), not a tlog")
    if size < _TIMESTAMP.size + _V1_OVERHEAD:
        raise CorruptLogError(f"{path}: truncated: {size} bytes, shorter than one tlog record "
                              f"(8-byte timestamp + MAVLink frame of at least {_V1_OVERHEAD} bytes)")
    for offset in range(0, min(len(head), _SEARCH_FIRST_RECORD)):
        length = _record_at(head, offset)
        if length is None:
            continue
        end = offset + length
        if end > size:
            raise CorruptLogError(
                f"{path}: truncated: the first record at offset {offset} needs {length} bytes, "
                f"the file ends at {size}")
        if end == size or end + _TIMESTAMP.size >= len(head) or _record_at(head, end) is not None:
            return offset
    raise CorruptLogError(
        f"{path}: not a tlog: no 8-byte timestamp followed by a MAVLink frame in the first "
        f"{min(size, _SEARCH_FIRST_RECORD)} bytes (file starts with {head[:8].hex(' ')})")


def import_tlog(session: Session, data_dir: Path, path: Path | str, *,
                vehicle_name: str | None = None) -> TlogImport:
    """Import a tlog: archive its bytes, read every message, and record its flights.

    Parameters
    ----------
    session : Session
        The caller's session (this function flushes, never commits).
    data_dir : Path
        The data root; the raw file goes to ``raw/tlog/`` under its SHA-256.
    path : Path
        The ``.tlog`` file.
    vehicle_name : str, optional
        Name of the vehicle(s) in the log. With a name, vehicles are keyed
        ``"<vehicle_name>#<system id>"`` so logs of the same aircraft share a vehicle;
        without, ``"tlog:<sha256[:12]>#<system id>"``.

    Returns
    -------
    TlogImport
        Counts, flights and warnings. Importing the same bytes again creates nothing and
        returns the existing rows with ``already_imported`` set.

    Raises
    ------
    CorruptLogError
        Empty file, wrong type, truncated before its first whole record, or not one MAVLink
        message readable (the message names the file and the offset).
    OSError
        The file cannot be read or the archive written.
    """
    path = Path(path)
    start = check_tlog(path)
    sha = file_sha256(path)
    existing = session.scalar(sa.select(LogFile).where(LogFile.sha256 == sha))
    if existing is not None:
        return TlogImport(path=path, log_file=existing, messages=existing.messages, bad_bytes=existing.bad_bytes,
                          flights=flights_of(session, existing.id), already_imported=True,
                          warnings=[f"{path}: already in the archive as log file {existing.id} "
                                    f"({existing.original_name}); nothing new imported"])
    prefix = vehicle_name if vehicle_name else f"tlog:{sha[:12]}"
    router = LinkRecorder(prefix, vehicle_name=vehicle_name or f"{path.parent.name}/{path.name}")
    messages, bad_bytes, bad_packets, warnings = _replay(path, start, router)
    if messages == 0:
        raise CorruptLogError(f"{path}: no MAVLink message could be read "
                              f"({bad_bytes} bad bytes from offset {start})")
    warnings += router.finish()
    digest, stored = store_file(data_dir, path, "tlog", sha256=sha)
    log_file = LogFile(sha256=digest, kind="tlog", original_name=path.name, stored_path=stored,
                       size_bytes=path.stat().st_size, messages=messages, bad_bytes=bad_bytes)
    session.add(log_file)
    session.flush()
    router.log_file_id = log_file.id
    router.flush(session)
    return TlogImport(path=path, log_file=log_file, messages=messages, bad_bytes=bad_bytes,
                      flights=flights_of(session, log_file.id), warnings=warnings, bad_packets=bad_packets)


def _replay(path: Path, start: int, router: LinkRecorder) -> tuple[int, int, int, list[str]]:
    """Parse every record from ``start`` into ``router``: (messages, bad bytes, bad packets, warnings)."""
    warnings: list[str] = []
    if start:
        warnings.append(f"{path}: {start} bytes before the first record skipped")
    size = path.stat().st_size
    log = mavutil.mavlogfile(str(path), robust_parsing=True)
    try:
        log.f.seek(start)
        messages = bad_bytes = bad_packets = bad_times = 0
        end_of_good = start
        handle = router.handle
        last_t: float | None = None
        jumped_to: float | None = None
        while True:
            offset = log.f.tell()
            msg = log.recv_msg()
            if msg is None:
                break
            if msg.get_type() == "BAD_DATA":
                bad_packets += 1
                bad_bytes += len(msg.data)
                if bad_packets <= _MAX_WARNED_BAD:
                    warnings.append(f"{path}: {len(msg.data)} bad bytes in the record at offset {offset} "
                                    f"({msg.reason})")
                continue
            messages += 1
            end_of_good = log.f.tell()
            t = msg._timestamp
            if last_t is not None and abs(t - last_t) > _TIME_JUMP_S:
                # One record far off its neighbours has a corrupt timestamp; a jump that the
                # next record confirms is real (a log appended to on another day).
                confirmed = jumped_to is not None and abs(t - jumped_to) <= _TIME_JUMP_S
                jumped_to = t
                if not confirmed:
                    bad_times += 1
                    if bad_times <= _MAX_WARNED_BAD:
                        warnings.append(f"{path}: implausible timestamp in the record at offset {offset}; "
                                        f"dated as the record before it")
                    t = last_t
            else:
                jumped_to = None
            last_t = t
            handle(msg, t)
    finally:
        log.close()
    if bad_packets > _MAX_WARNED_BAD:
        warnings.append(f"{path}: {bad_packets - _MAX_WARNED_BAD} more bad packets")
    if 0 < size - end_of_good and messages:
        tail = size - end_of_good
        with open(path, "rb") as f:
            f.seek(end_of_good)
            head = f.read(300)
        if _record_at(head, 0) is not None:
            warnings.append(f"{path}: truncated: the last record at offset {end_of_good} is incomplete "
                            f"({tail} bytes); kept the {messages} messages before it")
    return messages, bad_bytes, bad_packets, warnings


def flights_of(session: Session, log_file_id: int) -> list[Flight]:
    """The flights recorded in a log file, in start order."""
    return list(session.scalars(sa.select(Flight).where(Flight.log_file_id == log_file_id)
                                .order_by(Flight.start_utc, Flight.id)))


class TlogWriter:
    """Appends tlog records (timestamp + raw frame) to a file, durable once a second.

    Thread-safe: the daemon's receive loop and command senders write through one writer.

    Parameters
    ----------
    path : Path
        The tlog to append to (created with its folders).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "ab")
        self._lock = threading.Lock()
        self.records = 0
        self.bytes_written = 0

    def write(self, t_us: int, frame: bytes) -> None:
        """Append one record: ``t_us`` UTC microseconds, ``frame`` the raw MAVLink bytes."""
        record = _TIMESTAMP.pack(t_us) + bytes(frame)
        with self._lock:
            self._f.write(record)
            self.records += 1
            self.bytes_written += len(record)

    def sync(self) -> None:
        """Flush Python's buffer and fsync the file (call at least once a second)."""
        with self._lock:
            if not self._f.closed:
                self._f.flush()
                os.fsync(self._f.fileno())

    def close(self) -> None:
        """Sync and close the file."""
        self.sync()
        with self._lock:
            self._f.close()
