"""DataFlash logs (ArduPilot's on-board ``.bin``, and its text form ``.log``): check and import.

A binary DataFlash log is a sequence of records, each ``0xA3 0x95 <type>`` followed by a
payload whose layout an earlier FMT record (type 128) declared; there is no checksum. The text
form has one record per line (``NAME, v1, v2, ...``), as Mission Planner exports it. pymavlink's
``DFReader_binary`` / ``DFReader_text`` parse both and date every record in UTC from the GPS
week and milliseconds (:func:`gps_to_utc_s` restates that with the right leap seconds).

:func:`import_dataflash` keeps the raw bytes by content hash, reads every record once, in
order, and restates the records the archive needs as the MAVLink messages the live path
carries (:class:`DataflashTranslator`), so the same :class:`~flight_logs.recorder.FlightRecorder`
segments flights on arm/disarm, decimates the track, sums distance and keeps camera positions:

=========================================  ===========================================
DataFlash record                            fed to the recorder as
=========================================  ===========================================
ARM ``ArmState``, EV ``Id`` 10/11,          HEARTBEAT (``base_mode`` bit
STAT ``Armed``; MODE ``ModeNum``            MAV_MODE_FLAG_SAFETY_ARMED, ``custom_mode``)
GPS with a GPS week (``GWk``/``Week``)      SYSTEM_TIME (the vehicle's UTC clock)
POS (or GPS with a 3D fix when no POS)      GLOBAL_POSITION_INT (speed from GPS, yaw ATT)
ORGN ``Type`` 1 (home)                      HOME_POSITION
CAM, or TRIG when no CAM of the same image  CAMERA_FEEDBACK (time from GPSWeek/GPSTime)
BAT ``RemPct`` (or ``CurrTot`` and the      BATTERY_STATUS ``battery_remaining``
BATT_CAPACITY parameter), CURR ``CurrTot``
MSG                                         STATUSTEXT (no severity: DataFlash has none)
=========================================  ===========================================

DataFlash has no checksum, so a corrupt file is read defensively: bytes that are not a whole
record of a declared type are skipped and counted, a FMT record that contradicts itself or an
earlier one is refused, a record whose ``TimeUS`` jumps by more than an hour is dropped, and a
position that would mean flying faster than 200 m/s horizontally or 100 m/s vertically from
its neighbours is not used for the track (each with a warning naming the file and offset).
"""

from __future__ import annotations

import calendar
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from pymavlink import DFReader
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from sqlalchemy.orm import Session

from flight_logs.errors import CorruptLogError
from flight_logs.models import LogFile
from flight_logs.modes import mode_number
from flight_logs.recorder import FlightRecorder
from flight_logs.store import file_sha256, store_file
from flight_logs.tlog import flights_of
from patrol.geodesy import distance_m

__all__ = ["DataflashImport", "DataflashTranslator", "check_dataflash", "gps_to_utc_s", "import_dataflash"]

_HEAD = b"\xa3\x95"
_FMT_TYPE = 0x80
_FMT_LEN = 89                        # header 3 + Type 1 + Length 1 + Name 4 + Format 16 + Columns 64
_SEARCH_FIRST_RECORD = 4096
_MAX_WARNED = 5
_TIME_JUMP_S = 3600.0                # a TimeUS this far from its neighbours is corrupt
_MAX_GROUND_SPEED_M_S = 200.0        # no ArduPilot vehicle flies faster: a fix implying it is corrupt
_MAX_CLIMB_M_S = 100.0
_POSITION_SLACK_M = 5.0
_GPS_EPOCH_UNIX_S = 315964800        # 1980-01-06T00:00:00Z
_WEEK_S = 604800
_EV_ARMED, _EV_DISARMED = 10, 11     # ArduPilot LogEvent::ARMED / DISARMED
_GPS_FIX_3D = 3
_UNKNOWN_MODE = -1
_MAX_HELD = 100_000                  # messages held while the arm state at the log start is unknown

# The vehicle type from the firmware banner (MSG, first word) or VER.BU (ArduPilot's
# APM_BUILD_* numbers), as pymavlink's DFReader reads them.
_FIRMWARE_TYPES = {"ArduCopter": mavlink.MAV_TYPE_QUADROTOR, "ArduPlane": mavlink.MAV_TYPE_FIXED_WING,
                   "ArduRover": mavlink.MAV_TYPE_GROUND_ROVER, "APMrover2": mavlink.MAV_TYPE_GROUND_ROVER,
                   "ArduSub": mavlink.MAV_TYPE_SUBMARINE, "Blimp": mavlink.MAV_TYPE_AIRSHIP,
                   "AntennaTracker": mavlink.MAV_TYPE_ANTENNA_TRACKER}
_BUILD_TYPES = {1: mavlink.MAV_TYPE_GROUND_ROVER, 2: mavlink.MAV_TYPE_QUADROTOR, 3: mavlink.MAV_TYPE_FIXED_WING,
                4: mavlink.MAV_TYPE_ANTENNA_TRACKER, 7: mavlink.MAV_TYPE_SUBMARINE, 12: mavlink.MAV_TYPE_AIRSHIP,
                13: mavlink.MAV_TYPE_HELICOPTER}

# GPS - UTC in seconds from each date (UTC) on: IERS Bulletin C (leap seconds 1999-2017;
# none announced since). pymavlink's DFReader assumes 18 s for every date.
_LEAP_SECONDS = [(calendar.timegm((1999, 1, 1, 0, 0, 0)), 13), (calendar.timegm((2006, 1, 1, 0, 0, 0)), 14),
                 (calendar.timegm((2009, 1, 1, 0, 0, 0)), 15), (calendar.timegm((2012, 7, 1, 0, 0, 0)), 16),
                 (calendar.timegm((2015, 7, 1, 0, 0, 0)), 17), (calendar.timegm((2017, 1, 1, 0, 0, 0)), 18)]


def gps_to_utc_s(week: int, ms: float) -> float:
    """UTC seconds since the Unix epoch of a GPS week number and time of week (ms).

    GPS time runs ahead of UTC by the leap seconds inserted since 1980 (13 s in 1999 ... 18 s
    since 2017-01-01, IERS Bulletin C); times before 1999 use 13 s. ArduPilot logs the GPS
    week (``GWk``, or ``Week``) and milliseconds of the week (``GMS``, or ``TimeMS``).

    >>> import datetime as dt
    >>> dt.datetime.fromtimestamp(gps_to_utc_s(2445, 582465731), dt.timezone.utc).isoformat()
    '2026-11-21T17:47:27.731000+00:00'
    >>> dt.datetime.fromtimestamp(gps_to_utc_s(1913, 260553000), dt.timezone.utc).isoformat()  # 17 s in 2016
    '2016-09-07T00:22:16+00:00'
    """
    gps_s = _GPS_EPOCH_UNIX_S + week * _WEEK_S + ms / 1e3
    for start_utc_s, leap_s in reversed(_LEAP_SECONDS):
        if gps_s - leap_s >= start_utc_s:
            return gps_s - leap_s
    return gps_s - _LEAP_SECONDS[0][1]


# ------------------------------------------------------------------------------ checking
def _fmt_problem(formats: dict, type_id: int, length: int | None, name: str, fmt: str, columns: str,
                 key: Any) -> str | None:
    """Why a FMT record cannot be right, or None: unknown format characters, a Length that is not
    the size of its format, a name that is not printable, or a type redefined as another record."""
    if not name or not name.isascii() or not name.isprintable():
        return f"record name {name!r} is not printable ASCII"
    bad = [c for c in fmt if c not in DFReader.FORMAT_TO_STRUCT]
    if bad or not fmt:
        return f"format {fmt!r} of {name} has unknown format characters {''.join(bad)!r}"
    if length is not None:
        size = struct.calcsize("<" + "".join(DFReader.FORMAT_TO_STRUCT[c][0] for c in fmt)) + 3
        if size != length:
            return f"Length {length} of {name} is not the size of its format {fmt!r} ({size})"
    if len(columns.split(",")) != len(fmt):
        return f"{name} declares {len(fmt)} fields but {len(columns.split(','))} column names"
    old = formats.get(key)
    if old is not None and key != "FMT" and type_id != _FMT_TYPE and (old.name != name or old.format != fmt):
        return f"type {type_id} already declared as {old.name} ({old.format}), redeclared as {name} ({fmt})"
    return None


def check_dataflash(path: Path | str) -> tuple[str, int]:
    """Check that a file is a DataFlash log; return its form and the offset of its first FMT.

    A binary log starts with FMT records (``A3 95 80``, 89 bytes each); a text log has a
    ``FMT,`` record in its first 4 KiB. Junk before the first FMT (up to 4 KiB) is tolerated.

    Returns
    -------
    (form, offset)
        ``form`` is ``"binary"`` or ``"text"``.

    Raises
    ------
    CorruptLogError
        Empty, shorter than one FMT record (truncated), or no FMT record in its first 4 KiB
        (wrong type: the message shows the first bytes); names the file.
    OSError
        The file cannot be read.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(_SEARCH_FIRST_RECORD + _FMT_LEN)
    if not head:
        raise CorruptLogError(f"{path}: empty file (0 bytes), not a DataFlash log")
    binary = head.find(_HEAD + bytes([_FMT_TYPE]), 0, _SEARCH_FIRST_RECORD)
    text = head.find(b"FMT,", 0, _SEARCH_FIRST_RECORD)
    if binary >= 0 and (text < 0 or binary < text):
        if size - binary < _FMT_LEN:
            raise CorruptLogError(f"{path}: truncated: the first FMT record at offset {binary} needs "
                                  f"{_FMT_LEN} bytes, the file ends at {size}")
        return "binary", binary
    if text >= 0:
        return "text", text
    if size < _FMT_LEN:
        raise CorruptLogError(f"{path}: truncated or not a DataFlash log: {size} bytes, shorter than one "
                              f"FMT record ({_FMT_LEN} bytes); starts with {head[:8].hex(' ')}")
    raise CorruptLogError(
        f"{path}: not a DataFlash log: no FMT record (binary A3 95 80, or text 'FMT,') in the first "
        f"{min(size, _SEARCH_FIRST_RECORD)} bytes (file starts with {head[:8].hex(' ')})")


# ------------------------------------------------------------------------------ reading
class _BinaryReader(DFReader.DFReader_binary):
    """pymavlink's binary reader, read once in order: no type index (its indexer stops at the
    first unknown type and prints every bad byte), resynchronised on the next record header of
    a declared type (a fast search, nothing printed), and FMT records checked before use."""

    def init_arrays(self, progress_callback=None) -> None:
        self.offsets = [[] for _ in range(256)]
        self.counts = [0] * 256
        self._count = 0
        self.name_to_id, self.id_to_name = {}, {}
        self.offset = 0
        self.refused: list[tuple[int, str]] = []    # (offset, reason) of FMT records refused
        self.add_errors: list[tuple[int, str]] = []
        self._refused_at: set[int] = set()

    init_arrays_fast = init_arrays

    def _parse_next(self):
        data, formats = self.data_map, self.formats
        while True:
            pos = self.offset
            while True:
                pos = data.find(_HEAD, pos)
                if pos < 0 or self.data_len - pos < 3:
                    pos = self.data_len
                    break
                mtype = data[pos + 2]
                if mtype in formats and not (mtype == _FMT_TYPE and self._bad_fmt(pos)):
                    break
                pos += 1
            self.offset, self.remaining = pos, self.data_len - pos
            if pos >= self.data_len:
                return None
            m = super()._parse_next()
            if m is None or hasattr(m, "_timestamp"):
                return m
            # _add_msg failed: the record is skipped (its bytes counted as bad by the caller)

    def _bad_fmt(self, pos: int) -> bool:
        """Check the FMT record at ``pos`` before pymavlink builds a format from it."""
        if self.data_len - pos < _FMT_LEN:
            return False                    # a truncated last record: pymavlink stops there
        fmt_fmt = self.formats[_FMT_TYPE]
        type_id, length, name, fmt, columns = struct.unpack(fmt_fmt.msg_struct, self.data_map[pos + 3:pos + _FMT_LEN])
        text = [DFReader.null_term(v) for v in (name, fmt, columns)]
        problem = _fmt_problem(self.formats, type_id, length, *text, key=type_id)
        if problem and pos not in self._refused_at:
            self._refused_at.add(pos)
            self.refused.append((pos, problem))
        return problem is not None

    def _add_msg(self, m) -> None:
        try:
            super()._add_msg(m)
        except Exception as err:          # noqa: BLE001 - pymavlink raises anything on corrupt values
            self.add_errors.append((self.offset - m.fmt.len, f"{m.fmt.name}: {err}"))
            if "_timestamp" in m.__dict__:
                del m.__dict__["_timestamp"]


class _TextReader(DFReader.DFReader_text):
    """pymavlink's text reader, read once in order, skipping (and noting) lines it cannot use:
    unknown record names, undecodable bytes, values that are not numbers, bad FMT lines."""

    def init_arrays(self, progress_callback=None) -> None:
        self.offsets, self.counts, self._count = {}, {}, 0
        self.offset = 0
        self.refused: list[tuple[int, str]] = []
        self.add_errors: list[tuple[int, str]] = []
        self._refused_at: set[int] = set()

    def _parse_next(self):
        data = self.data_map
        while self.offset < self.data_len:
            start = self.offset
            end = data.find(b"\n", start)
            end = self.data_len if end < 0 else end
            line = data[start:end]
            name = line.split(b",", 1)[0].strip()
            try:
                known = name.decode("ascii") in self.formats
            except UnicodeDecodeError:
                known = False
            if not known or (name == b"FMT" and self._bad_fmt(start, line)):
                self.offset = end + 1
                continue
            try:
                m = super()._parse_next()
            except Exception as err:      # noqa: BLE001 - bytes and values as they come
                self.offset = end + 1
                if start not in self._refused_at:
                    self.add_errors.append((start, f"{name.decode('ascii', 'replace')}: {err}"))
                continue
            return m
        return None

    def _bad_fmt(self, start: int, line: bytes) -> bool:
        try:
            parts = line.decode("ascii").rstrip().split(self.delimiter)
            if self.delimiter == ",":
                parts = parts[:5] + [",".join(parts[5:])]
            type_id, name, fmt, columns = int(parts[1]), parts[3], parts[4], parts[5]
            problem = _fmt_problem(self.formats, type_id, None, name, fmt, columns, key=name)
        except (UnicodeDecodeError, ValueError, IndexError) as err:
            problem = f"unreadable FMT line ({err})"
        if problem and start not in self._refused_at:
            self._refused_at.add(start)
            self.refused.append((start, problem))
        return problem is not None


def _open_reader(path: Path, form: str):
    reader = (_BinaryReader if form == "binary" else _TextReader)(str(path))
    reader.refused.clear()             # what the clock search found is found again by the real pass
    reader.add_errors.clear()
    reader._refused_at.clear()
    return reader


@dataclass
class _Accounting:
    """Bad bytes and where: runs of skipped bytes and records dropped, with offsets."""

    path: Path
    bad_bytes: int = 0
    runs: int = 0
    warnings: list[str] = field(default_factory=list)

    def skip(self, offset: int, length: int, why: str) -> None:
        if length <= 0:
            return
        self.bad_bytes += length
        self.runs += 1
        if self.runs <= _MAX_WARNED:
            self.warnings.append(f"{self.path}: {length} bad bytes at offset {offset} ({why})")


def _records(reader, form: str, acct: _Accounting) -> Iterator[tuple[Any, int, int]]:
    """Every record pymavlink reads, in file order, with its start and end offsets; the bytes
    between records go to ``acct``."""
    data = reader.data_map
    binary = form == "binary"
    last_end = 0 if binary else max(reader.offset, 0)
    if not binary and last_end:
        acct.skip(0, last_end, "before the first FMT line")
    refused_seen = errors_seen = 0
    while True:
        m = reader.recv_msg()
        if m is None:
            break
        end = reader.offset
        start = end - m.fmt.len if binary else data.rfind(b"\n", 0, end - 1) + 1
        if start > last_end:
            gap = data[last_end:start]
            if binary or gap.strip():
                why = "not a record of a declared type"
                for at, reason in reader.refused[refused_seen:]:
                    if last_end <= at < start:
                        why = f"FMT record refused: {reason}"
                for at, reason in reader.add_errors[errors_seen:]:
                    if last_end <= at < start:
                        why = f"record unreadable: {reason}"
                refused_seen, errors_seen = len(reader.refused), len(reader.add_errors)
                acct.skip(last_end, start - last_end, why)
        last_end = end
        yield m, start, end
    size = reader.data_len
    tail = size - last_end
    if tail > 0 and (binary or data[last_end:size].strip()):
        acct.bad_bytes += tail
        if data[last_end:last_end + 2] == _HEAD if binary else data.find(b"\n", last_end) < 0:
            acct.warnings.append(f"{acct.path}: truncated: the last record at offset {last_end} is incomplete "
                                 f"({tail} bytes)")
        else:
            acct.warnings.append(f"{acct.path}: {tail} bytes after the last whole record at offset {last_end} "
                                 f"are not records (skipped)")


# ------------------------------------------------------------------------------ translating
class _Msg:
    """A DataFlash record restated as the MAVLink message the recorder reads: MAVLink's message
    name, field names and wire units (degE7, mm, cm/s, cdeg), from the vehicle's autopilot."""

    def __init__(self, kind: str, **fields: Any) -> None:
        self._kind = kind
        self.__dict__.update(fields)

    def get_type(self) -> str:
        return self._kind

    def get_srcSystem(self) -> int:
        return 1                 # the recorder keys the vehicle itself; any vehicle system id will do

    def get_srcComponent(self) -> int:
        return mavlink.MAV_COMP_ID_AUTOPILOT1


def _finite(*values: Any) -> bool:
    try:
        for v in values:
            if not math.isfinite(v):
                return False
    except TypeError:
        return False
    return True


@dataclass
class _Position:
    t: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    alt_rel_m: float


class DataflashTranslator:
    """Restates DataFlash records as MAVLink messages for one :class:`FlightRecorder`.

    Parameters
    ----------
    recorder : FlightRecorder
        The vehicle's recorder (pure; nothing is written until its ``flush``).
    path : Path
        The log, for the warnings.

    Notes
    -----
    Nothing reaches the recorder until both the arm state and the flight mode are known (at
    most 100,000 messages are held), so a log that starts armed (ArduPilot logs only while
    armed by default) is one flight from its first record: a first ARM/EV record that disarms
    means the vehicle was armed before it. The arm state comes from the best source the log
    has: ARM records, else EV ids 10/11, else STAT's Armed flag (ArduPlane).
    Feed records in file order with :meth:`handle`, then call :meth:`finish`.
    """

    def __init__(self, recorder: FlightRecorder, path: Path) -> None:
        self.recorder = recorder
        self.path = path
        self.mav_type = mavlink.MAV_TYPE_FIXED_WING
        self.vehicle_identified = False
        self.system_id: int | None = None
        self.params: dict[str, float] = {}
        self.warnings: list[str] = []
        self.gps_time_seen = False
        self.implausible_positions = 0
        self._armed: bool | None = None
        self._arm_source_rank = 99           # ARM 0 < EV 1 < STAT 2: a better source, once seen, rules
        self._mode: int | None = None
        self._initial_armed: bool | None = None
        self._first_mode: int | None = None
        self._first: tuple[float, int] | None = None       # (t, boot_ms) of the first dated record
        self._buffer: list[tuple[str, Any, float, int]] | None = []
        self._have_pos = False
        self._gps: Any = None                # last GPS record (speed, course, climb)
        self._yaw_cdeg: int | None = None
        self._home_amsl_m: float | None = None
        self._last_pos: _Position | None = None
        self._last_raw_pos: _Position | None = None
        self._images_seen: set[tuple[int, int]] = set()
        self._img_count = 0
        self._handlers = {
            "ARM": self._on_arm, "EV": self._on_ev, "STAT": self._on_stat, "MODE": self._on_mode,
            "GPS": self._on_gps, "POS": self._on_pos, "ORGN": self._on_orgn, "CAM": self._on_cam,
            "TRIG": self._on_cam, "BAT": self._on_bat, "CURR": self._on_bat, "MSG": self._on_msg,
            "ATT": self._on_att, "PARM": self._on_parm, "VER": self._on_ver,
        }

    # -------------------------------------------------------------- input
    def handle(self, m: Any, t: float, boot_ms: int) -> None:
        """One record, dated ``t`` (UTC s, pymavlink's clock) and ``boot_ms`` (its TimeUS/1000)."""
        if self._first is None:
            self._first = (t, boot_ms)
        handler = self._handlers.get(m.get_type())
        if handler is not None:
            handler(m, t, boot_ms)

    def finish(self) -> list[str]:
        """End of the log: release what waited for the arm state or mode; return the warnings."""
        if self._buffer is not None:
            if self._armed is None:
                self.warnings.append(f"{self.path}: no arming record (ARM, EV 10/11 or STAT.Armed): "
                                     f"no flight can be segmented")
            self._release()
        if not self.vehicle_identified and self._mode is not None:
            self.warnings.append(f"{self.path}: vehicle type not identified (no VER or firmware MSG "
                                 f"record): modes named as ArduPlane's")
        if not self.gps_time_seen:
            self.warnings.append(f"{self.path}: no GPS time (no GPS record with a week number): "
                                 f"times are seconds since boot, not UTC")
        if self.implausible_positions > _MAX_WARNED:
            self.warnings.append(f"{self.path}: {self.implausible_positions - _MAX_WARNED} more "
                                 f"implausible positions not used")
        return self.warnings + [f"{self.path}: {w}" for w in self.recorder.finish()]

    # -------------------------------------------------------------- arm state and mode
    def _set_armed(self, armed: bool, *, transition: bool, rank: int, t: float, boot_ms: int) -> None:
        """An arming record: a transition (ARM, EV) to ``armed``, or the state itself (STAT)."""
        if rank > self._arm_source_rank:
            return
        self._arm_source_rank = rank
        if self._armed is None:
            self._initial_armed = self._armed = (not armed) if transition else armed
        if armed != self._armed:
            self._armed = armed
            self._emit("heartbeat", None, t, boot_ms)
        elif self._buffer is not None and self._mode is not None:
            self._release()

    def _on_arm(self, m: Any, t: float, boot_ms: int) -> None:
        self._set_armed(bool(m.ArmState), transition=True, rank=0, t=t, boot_ms=boot_ms)

    def _on_ev(self, m: Any, t: float, boot_ms: int) -> None:
        if m.Id in (_EV_ARMED, _EV_DISARMED):
            self._set_armed(m.Id == _EV_ARMED, transition=True, rank=1, t=t, boot_ms=boot_ms)

    def _on_stat(self, m: Any, t: float, boot_ms: int) -> None:
        armed = getattr(m, "Armed", None)
        if armed is not None:
            self._set_armed(bool(armed), transition=False, rank=2, t=t, boot_ms=boot_ms)

    def _on_mode(self, m: Any, t: float, boot_ms: int) -> None:
        number = getattr(m, "ModeNum", None)
        if number is None:
            mode = m.Mode
            number = mode if isinstance(mode, int) else mode_number(self.mav_type, str(mode))
            if number is None and str(mode).strip().lstrip("-").isdigit():
                number = int(mode)
        number = _UNKNOWN_MODE if number is None else int(number)
        if self._first_mode is None:
            self._first_mode = number
        if number != self._mode:
            self._mode = number
            self._emit("heartbeat", None, t, boot_ms)

    def _heartbeat(self, armed: bool | None, mode: int | None) -> _Msg:
        base = mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        if armed:
            base |= mavlink.MAV_MODE_FLAG_SAFETY_ARMED
        return _Msg("HEARTBEAT", type=self.mav_type, autopilot=mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
                    base_mode=base, custom_mode=_UNKNOWN_MODE if mode is None else mode,
                    system_status=mavlink.MAV_STATE_ACTIVE)

    # -------------------------------------------------------------- time, position, home
    def _on_gps(self, m: Any, t: float, boot_ms: int) -> None:
        if getattr(m, "I", 0) not in (0, None):
            return
        self._gps = m
        week = getattr(m, "GWk", None)
        ms = getattr(m, "GMS", None)
        if week is None:
            week, ms = getattr(m, "Week", 0), getattr(m, "TimeMS", 0)
        if week and _finite(ms) and 0 <= ms < _WEEK_S * 1000:
            self.gps_time_seen = True
            self._emit("msg", _Msg("SYSTEM_TIME", time_unix_usec=int(gps_to_utc_s(week, ms) * 1e6),
                                   time_boot_ms=boot_ms), t, boot_ms)
        if self._have_pos or getattr(m, "Status", 0) < _GPS_FIX_3D:
            return
        alt_amsl = float(m.Alt)
        if self._home_amsl_m is None and self._armed:
            self._home_amsl_m = alt_amsl
        rel = getattr(m, "RelAlt", None)
        if rel is None:
            rel = alt_amsl - self._home_amsl_m if self._home_amsl_m is not None else 0.0
        self._position(m.Lat, m.Lng, alt_amsl, float(rel), t, boot_ms)

    def _on_pos(self, m: Any, t: float, boot_ms: int) -> None:
        self._have_pos = True
        rel = getattr(m, "RelHomeAlt", None)
        if rel is None:
            rel = getattr(m, "RelAlt", None)
        if rel is None:
            rel = m.Alt - self._home_amsl_m if self._home_amsl_m is not None else 0.0
        self._position(m.Lat, m.Lng, float(m.Alt), float(rel), t, boot_ms)

    def _position(self, lat: float, lon: float, alt_amsl: float, alt_rel: float, t: float, boot_ms: int) -> None:
        if not (_finite(lat, lon, alt_amsl, alt_rel) and abs(lat) <= 90 and abs(lon) <= 180) or lat == lon == 0:
            return
        here = _Position(t, lat, lon, alt_amsl, alt_rel)
        if not (self._consistent(self._last_pos, here) or self._consistent(self._last_raw_pos, here)):
            self._last_raw_pos = here
            self.implausible_positions += 1
            if self.implausible_positions <= _MAX_WARNED:
                self.warnings.append(f"{self.path}: implausible position {lat:.7f}, {lon:.7f}, {alt_amsl:.1f} m "
                                     f"({alt_rel:.1f} m above home) at TimeUS {boot_ms * 1000} not used "
                                     f"(faster than {_MAX_GROUND_SPEED_M_S:.0f} m/s horizontally or "
                                     f"{_MAX_CLIMB_M_S:.0f} m/s vertically from its neighbours)")
            return
        self._last_pos = self._last_raw_pos = here
        gps = self._gps
        speed = float(getattr(gps, "Spd", 0.0) or 0.0) if gps is not None else 0.0
        course = math.radians(float(getattr(gps, "GCrs", 0.0) or 0.0)) if gps is not None else 0.0
        climb_down = float(getattr(gps, "VZ", 0.0) or 0.0) if gps is not None else 0.0
        if not _finite(speed, course, climb_down):
            speed = course = climb_down = 0.0
        self._emit("msg", _Msg(
            "GLOBAL_POSITION_INT", time_boot_ms=boot_ms, lat=int(round(lat * 1e7)), lon=int(round(lon * 1e7)),
            alt=int(round(alt_amsl * 1e3)), relative_alt=int(round(alt_rel * 1e3)),
            vx=int(round(speed * math.cos(course) * 100)), vy=int(round(speed * math.sin(course) * 100)),
            vz=int(round(climb_down * 100)), hdg=self._yaw_cdeg if self._yaw_cdeg is not None else 65535), t, boot_ms)

    @staticmethod
    def _consistent(prev: _Position | None, here: _Position) -> bool:
        if prev is None:
            return True
        dt_s = max(abs(here.t - prev.t), 0.1)
        horizontal = distance_m(prev.lon_deg, prev.lat_deg, here.lon_deg, here.lat_deg)
        vertical = _MAX_CLIMB_M_S * dt_s + _POSITION_SLACK_M
        return (horizontal <= _MAX_GROUND_SPEED_M_S * dt_s + _POSITION_SLACK_M
                and abs(here.alt_amsl_m - prev.alt_amsl_m) <= vertical
                and abs(here.alt_rel_m - prev.alt_rel_m) <= vertical)

    def _on_att(self, m: Any, t: float, boot_ms: int) -> None:
        yaw = getattr(m, "Yaw", None)
        if _finite(yaw):
            self._yaw_cdeg = int(round((yaw % 360.0) * 100)) % 36000

    def _on_orgn(self, m: Any, t: float, boot_ms: int) -> None:
        if getattr(m, "Type", None) != 1 or not _finite(m.Lat, m.Lng, m.Alt) or m.Lat == m.Lng == 0:
            return
        self._home_amsl_m = float(m.Alt)
        self._emit("msg", _Msg("HOME_POSITION", time_boot_ms=boot_ms, latitude=int(round(m.Lat * 1e7)),
                               longitude=int(round(m.Lng * 1e7)), altitude=int(round(m.Alt * 1e3))), t, boot_ms)

    # -------------------------------------------------------------- camera, battery, text
    def _on_cam(self, m: Any, t: float, boot_ms: int) -> None:
        img = getattr(m, "Img", None)
        if img is not None:
            key = (int(getattr(m, "I", 0) or 0), int(img))
            if key in self._images_seen:          # TRIG then CAM of the same image: one photo
                return
            self._images_seen.add(key)
        lat, lon = m.Lat, m.Lng
        if not (_finite(lat, lon) and abs(lat) <= 90 and abs(lon) <= 180) or lat == lon == 0:
            return
        self._img_count += 1
        week, ms = getattr(m, "GPSWeek", 0), getattr(m, "GPSTime", 0)
        taken_us = int(gps_to_utc_s(week, ms) * 1e6) if week and _finite(ms) else 0
        roll, pitch, yaw = (getattr(m, a, None) if getattr(m, a, None) is not None else getattr(m, b, 0.0)
                            for a, b in (("R", "Roll"), ("P", "Pitch"), ("Y", "Yaw")))
        alt = float(getattr(m, "Alt", 0.0))
        rel = float(getattr(m, "RelAlt", alt))
        self._emit("msg", _Msg(
            "CAMERA_FEEDBACK", time_usec=taken_us, target_system=0, cam_idx=int(getattr(m, "I", 0) or 0),
            img_idx=int(img) if img is not None else self._img_count, lat=int(round(lat * 1e7)),
            lng=int(round(lon * 1e7)), alt_msl=alt, alt_rel=rel, roll=float(roll), pitch=float(pitch),
            yaw=float(yaw), foc_len=0.0, flags=0, completed_captures=self._img_count), t, boot_ms)

    def _on_bat(self, m: Any, t: float, boot_ms: int) -> None:
        instance = getattr(m, "Inst", None)
        if instance is None:
            instance = getattr(m, "Instance", 0)
        if instance not in (0, None):
            return
        pct = getattr(m, "RemPct", None)
        if not (_finite(pct) and 0 <= pct <= 100):
            used, capacity = getattr(m, "CurrTot", None), self.params.get("BATT_CAPACITY")
            if not (_finite(used) and capacity and capacity > 0):
                return
            pct = max(0.0, 100.0 * (1.0 - used / capacity))
        self._emit("msg", _Msg("BATTERY_STATUS", id=0, battery_remaining=int(round(pct))), t, boot_ms)

    def _on_msg(self, m: Any, t: float, boot_ms: int) -> None:
        text = str(m.Message)
        if not self.vehicle_identified:
            self._identify_from_text(text)
        self._emit("msg", _Msg("STATUSTEXT", time_boot_ms=boot_ms, severity=None, text=text, id=0), t, boot_ms)

    def _identify_from_text(self, text: str) -> None:
        mav_type = _FIRMWARE_TYPES.get(text.split(" ", 1)[0])
        if mav_type is not None:
            self.mav_type, self.vehicle_identified = mav_type, True

    def _on_ver(self, m: Any, t: float, boot_ms: int) -> None:
        build = _BUILD_TYPES.get(getattr(m, "BU", None))
        if build is not None:
            self.mav_type, self.vehicle_identified = build, True

    def _on_parm(self, m: Any, t: float, boot_ms: int) -> None:
        name, value = str(m.Name), m.Value
        if _finite(value):
            self.params[name] = float(value)
            if name == "SYSID_THISMAV" and 1 <= value <= 254:
                self.system_id = int(value)

    # -------------------------------------------------------------- to the recorder
    def _emit(self, kind: str, msg: _Msg | None, t: float, boot_ms: int) -> None:
        """Feed one message (or a HEARTBEAT of the current state), or hold it until the state at the
        start of the log is known."""
        if self._buffer is None:
            self._feed(msg if kind == "msg" else self._heartbeat(self._armed, self._mode), t, boot_ms)
            return
        self._buffer.append((kind, msg if kind == "msg" else (self._armed, self._mode), t, boot_ms))
        if self._armed is not None and self._mode is not None:
            self._release()
        elif len(self._buffer) >= _MAX_HELD:
            self.warnings.append(f"{self.path}: no arming record in the first {_MAX_HELD} messages (up to "
                                 f"TimeUS {boot_ms * 1000}): taken as disarmed until one comes")
            self._release()

    def _feed(self, msg: _Msg, t: float, boot_ms: int) -> None:
        if msg.get_type() == "HEARTBEAT":
            msg.time_boot_ms = boot_ms
        self.recorder.handle(msg, t)

    def _release(self) -> None:
        """The arm state and mode are known (or the log ended): feed the state at the first record,
        then what was held, filling the unknown state with the first one known."""
        buffered, self._buffer = self._buffer, None
        initial_armed = bool(self._initial_armed)
        first_mode = self._first_mode if self._first_mode is not None else _UNKNOWN_MODE
        if self._first is not None:
            t0, boot0 = self._first
            self._feed(self._heartbeat(initial_armed, first_mode), t0, boot0)
        for kind, payload, t, boot_ms in buffered:
            if kind == "msg":
                self._feed(payload, t, boot_ms)
            else:
                armed, mode = payload
                self._feed(self._heartbeat(initial_armed if armed is None else armed,
                                           first_mode if mode is None else mode), t, boot_ms)
        if self._armed is None:
            self._armed = initial_armed


# ------------------------------------------------------------------------------ importing
@dataclass
class DataflashImport:
    """What :func:`import_dataflash` did with one file.

    Attributes
    ----------
    path : Path
        The file given.
    form : str
        ``"binary"`` (``.bin``) or ``"text"`` (``.log``).
    log_file : LogFile
        Its archive row (the existing one when the same bytes were imported before).
    messages : int
        DataFlash records read (FMT, PARM and every other type; records dropped as corrupt
        are not counted).
    bad_bytes : int
        Bytes skipped: not a whole record of a declared type, refused FMT records, records
        with an implausible ``TimeUS``, a truncated last record or trailing junk.
    flights : list of Flight
        Flights found (segmented on arm/disarm), in start order.
    warnings : list of str
        What was wrong but could be read around, each naming the file and the offset or field.
    bad_runs : int
        Number of separate runs of bad bytes.
    already_imported : bool
        True when the bytes were in the archive already (nothing new was created).
    """

    path: Path
    form: str
    log_file: LogFile
    messages: int
    bad_bytes: int
    flights: list
    warnings: list[str] = field(default_factory=list)
    bad_runs: int = 0
    already_imported: bool = False


def import_dataflash(session: Session, data_dir: Path, path: Path | str, *, vehicle_name: str | None = None,
                     track_interval_s: float = 1.0) -> DataflashImport:
    """Import a DataFlash log (binary ``.bin`` or text ``.log``): archive it, read every record,
    and record its flights with the same :class:`FlightRecorder` as a tlog or a live link.

    Parameters
    ----------
    session : Session
        The caller's session (this function flushes, never commits).
    data_dir : Path
        The data root; the raw file goes to ``raw/dataflash/`` under its SHA-256.
    path : Path
        The log.
    vehicle_name : str, optional
        Name of the vehicle. With a name, the vehicle is keyed ``"<vehicle_name>#<system id>"``
        (logs of the same aircraft share a vehicle); without, ``"dataflash:<sha256[:12]>#<id>"``.
        The system id is the log's SYSID_THISMAV parameter (1 when absent).
    track_interval_s : float
        Track decimation, seconds of vehicle time (the full rate stays in the raw file).

    Returns
    -------
    DataflashImport
        Counts, flights and warnings. Importing the same bytes again creates nothing and
        returns the existing rows with ``already_imported`` set.

    Raises
    ------
    CorruptLogError
        Empty file, wrong type, truncated before its first FMT record, or not one record
        readable; the message names the file and the offset.
    OSError
        The file cannot be read or the archive written.
    """
    path = Path(path)
    form, start = check_dataflash(path)
    sha = file_sha256(path)
    existing = session.scalar(sa.select(LogFile).where(LogFile.sha256 == sha))
    if existing is not None:
        return DataflashImport(path=path, form=form, log_file=existing, messages=existing.messages,
                               bad_bytes=existing.bad_bytes, flights=flights_of(session, existing.id),
                               already_imported=True,
                               warnings=[f"{path}: already in the archive as log file {existing.id} "
                                         f"({existing.original_name}); nothing new imported"])
    recorder = FlightRecorder("", 1, track_interval_s=track_interval_s)
    translator = DataflashTranslator(recorder, path)
    acct = _Accounting(path)
    messages = _replay(path, form, translator, acct)
    if messages == 0:
        why = acct.warnings[-1].removeprefix(f"{path}: ") if acct.warnings else "nothing after the FMT records"
        raise CorruptLogError(f"{path}: no DataFlash record could be read ({acct.bad_bytes} bad bytes from "
                              f"offset {start}; {why})")
    system_id = translator.system_id or 1
    recorder.system_id = system_id
    warnings = acct.warnings + translator.finish()
    recorder.vehicle_key = f"{vehicle_name or f'dataflash:{sha[:12]}'}#{system_id}"
    recorder.vehicle_name = vehicle_name or f"{path.parent.name}/{path.name}"
    if not translator.vehicle_identified:
        recorder.mav_type = None
    digest, stored = store_file(data_dir, path, "dataflash", sha256=sha)
    log_file = LogFile(sha256=digest, kind="dataflash", original_name=path.name, stored_path=stored,
                       size_bytes=path.stat().st_size, messages=messages, bad_bytes=acct.bad_bytes)
    session.add(log_file)
    session.flush()
    recorder.log_file_id = log_file.id
    recorder.flush(session)
    return DataflashImport(path=path, form=form, log_file=log_file, messages=messages, bad_bytes=acct.bad_bytes,
                           flights=flights_of(session, log_file.id), warnings=warnings, bad_runs=acct.runs)


def _boot_ms(m: Any, time_fields: dict) -> int | None:
    """The record's time since boot in ms: ``TimeUS`` (ArduPilot 3.3+), else ``TimeMS``, else the
    GPS record's ``T`` of older logs; None for records without one (FMT, FMTU, UNIT, MULT).
    ``time_fields`` caches the field to read per format."""
    fmt = m.fmt
    try:
        time_field = time_fields[fmt]
    except KeyError:
        time_field = time_fields[fmt] = next(((n, s) for n, s in (("TimeUS", 1e-3), ("TimeMS", 1.0), ("T", 1.0))
                                             if n in fmt.colhash), None)
    if time_field is None:
        return None
    value = getattr(m, time_field[0])
    if not _finite(value):
        raise ValueError(f"{time_field[0]} is {value!r}")
    return int(value * time_field[1])


def _replay(path: Path, form: str, translator: DataflashTranslator, acct: _Accounting) -> int:
    """Read every record into ``translator``; returns the number of records read."""
    try:
        reader = _open_reader(path, form)
    except OSError:
        raise
    except Exception as err:            # noqa: BLE001 - pymavlink's reader fails in many ways
        raise CorruptLogError(f"{path}: cannot be read as a {form} DataFlash log ({type(err).__name__}: "
                              f"{err})") from err
    messages = 0
    time_fields: dict = {}
    last_ms: int | None = None
    jumped_to: int | None = None
    handle = translator.handle
    try:
        for m, offset, end in _records(reader, form, acct):
            try:
                boot_ms = _boot_ms(m, time_fields)
                if boot_ms is not None:
                    if last_ms is not None and abs(boot_ms - last_ms) > _TIME_JUMP_S * 1e3:
                        # one record far off its neighbours has a corrupt time; two in a row agree
                        confirmed = jumped_to is not None and abs(boot_ms - jumped_to) <= _TIME_JUMP_S * 1e3
                        jumped_to = boot_ms
                        if not confirmed:
                            acct.skip(offset, end - offset, f"{m.get_type()} record with an implausible TimeUS "
                                                      f"{boot_ms * 1000}")
                            continue
                    else:
                        jumped_to = None
                    last_ms = boot_ms
                    handle(m, m._timestamp, boot_ms)
            except (ValueError, TypeError, OverflowError, AttributeError) as err:
                acct.skip(offset, end - offset, f"{m.get_type()} record unreadable: {_bad_field(m) or err}")
                continue
            messages += 1
    finally:
        reader.close()
    return messages


def _bad_field(m: Any) -> str | None:
    """The first field of a record whose value cannot be read, as ``"field 'Lat' = '3x.5'"``."""
    for i, name in enumerate(m.fmt.columns):
        try:
            getattr(m, name)
        except (ValueError, TypeError, OverflowError):
            return f"field {name!r} = {m._elements[i]!r}"
    return None
