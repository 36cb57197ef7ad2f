"""GENERATED DataFlash logs for the DataFlash import tests, written from the bundled real tlogs.

No real DataFlash log is in the project's data set (``../shared/data`` has tlogs only), so the
tests rewrite the messages of a real tlog as the DataFlash records ArduPilot logs for the same
quantities, with the record layouts of ArduPilot 4.x (``LogStructure.h``: GPS, POS, MODE, ARM,
EV, STAT, CAM, BAT, ORGN, MSG, PARM, ATT) packed by pymavlink's :class:`DFFormat`. The files are
**generated**: the flight is real, the file was not written by an autopilot. Their names say so.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from pymavlink import mavutil
from pymavlink.DFReader import DFFormat

_GPS_EPOCH_UNIX_S = 315964800          # 1980-01-06T00:00:00Z
_WEEK_S = 7 * 86400
_HEAD = b"\xa3\x95"

# name: (type id, DataFlash format, columns) as ArduPilot 4.x logs them
FORMATS = {
    "FMT": (128, "BBnNZ", "Type,Length,Name,Format,Columns"),
    "PARM": (64, "QNff", "TimeUS,Name,Value,Default"),
    "MSG": (91, "QZ", "TimeUS,Message"),
    "MODE": (92, "QMBB", "TimeUS,Mode,ModeNum,Rsn"),
    "ARM": (93, "QBIBB", "TimeUS,ArmState,ArmChecks,Forced,Method"),
    "EV": (94, "QB", "TimeUS,Id"),
    "STAT": (95, "QbfBBBBBB", "TimeUS,isFlying,isFlyProb,Armed,Safety,Crash,Still,Stage,Hit"),
    "GPS": (96, "QBBIHBcLLeffffB", "TimeUS,I,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U"),
    "POS": (97, "QLLfff", "TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt"),
    "ORGN": (98, "QBLLe", "TimeUS,Type,Lat,Lng,Alt"),
    "CAM": (99, "QBHIHLLeeeccC", "TimeUS,I,Img,GPSTime,GPSWeek,Lat,Lng,Alt,RelAlt,GPSAlt,R,P,Y"),
    "BAT": (100, "QBfffffcfBBB", "TimeUS,Inst,Volt,VoltR,Curr,CurrTot,EnrgTot,Temp,Res,RemPct,H,SH"),
    "ATT": (101, "QccccCCCCB", "TimeUS,DesRoll,Roll,DesPitch,Pitch,DesYaw,Yaw,ErrRP,ErrYaw,AEKF"),
    "VER": (102, "QBHBBBBIZHB", "TimeUS,BT,BST,Maj,Min,Pat,FWT,GH,FWS,APJ,BU"),
    "IMU": (103, "QBffffffIIfBBHH", "TimeUS,I,GyrX,GyrY,GyrZ,AccX,AccY,AccZ,EG,EA,T,GH,AH,GHz,AHz"),
    "BARO": (104, "QBfffcfIffB", "TimeUS,I,Alt,AltAMSL,Press,Temp,CRt,SMS,Offset,GndTemp,Health"),
    "RCOU": (105, "QHHHHHHHHHHHHHH", "TimeUS,C1,C2,C3,C4,C5,C6,C7,C8,C9,C10,C11,C12,C13,C14"),
    "VIBE": (106, "QBfffIII", "TimeUS,IMU,VibeX,VibeY,VibeZ,Clip,Clip1,Clip2"),
}
# VER.BU (build type) of ArduPilot for the HEARTBEAT types of the tlogs: Copter 2, Plane 3
BUILD_TYPE = {mavutil.mavlink.MAV_TYPE_QUADROTOR: 2, mavutil.mavlink.MAV_TYPE_FIXED_WING: 3}


def gps_week_ms(utc_s: float, leap_s: int) -> tuple[int, int]:
    """GPS week and milliseconds of week of a UTC time (GPS time = UTC + leap seconds)."""
    gps_s = utc_s + leap_s - _GPS_EPOCH_UNIX_S
    week = int(gps_s // _WEEK_S)
    return week, int(round((gps_s - week * _WEEK_S) * 1000))


class DataflashWriter:
    """Writes DataFlash records, binary (``.bin``) or text (``.log``, as Mission Planner exports)."""

    def __init__(self, path: Path, *, text: bool = False) -> None:
        self.path, self.text = Path(path), text
        self.formats = {name: DFFormat(tid, name, 0, fmt, cols) for name, (tid, fmt, cols) in FORMATS.items()}
        for f in self.formats.values():
            f.len = struct.calcsize(f.msg_struct) + 3
        self.out = open(path, "w" if text else "wb")
        self.records = 0
        for name in FORMATS:
            f = self.formats[name]
            self.write("FMT", f.type, f.len, name, f.format, ",".join(f.columns))

    def write(self, name: str, *values) -> None:
        """One record; values in the record's stored units (binary) — scaled for text logs."""
        f = self.formats[name]
        self.records += 1
        if self.text:
            shown = []
            for v, code in zip(values, f.format):
                mult = {"L": 1e-7, "e": 0.01, "c": 0.01, "C": 0.01, "E": 0.01}.get(code)
                shown.append(f"{v * mult:.7f}" if mult else str(v))
            self.out.write(", ".join([name, *shown]) + "\n")
            return
        packed = [v.encode() if isinstance(v, str) else v for v in values]
        self.out.write(_HEAD + bytes([f.type]) + struct.pack(f.msg_struct, *packed))

    def close(self) -> None:
        self.out.close()


def write_dataflash_from_tlog(tlog: Path, out: Path, *, leap_s: int, arm_source: str = "ARM",
                              text: bool = False) -> dict:
    """Rewrite the autopilot's messages of a real tlog as a GENERATED DataFlash log.

    ``TimeUS`` is the autopilot's ``time_boot_ms`` (extrapolated by receive time for messages
    without it); GPS week/ms come from SYSTEM_TIME's UTC with ``leap_s`` leap seconds (the tlog
    record time when SYSTEM_TIME is more than a year off it).
    ``arm_source``: ``"ARM"`` (ArduPilot 4.x), ``"EV"`` (ids 10/11, older Copter) or
    ``"STAT"`` (ArduPlane's Armed flag). Returns what was written, for the tests to compare.
    """
    log = mavutil.mavlink_connection(str(tlog), robust_parsing=True)
    w = DataflashWriter(out, text=text)
    vehicle = None
    boot_ms = last_recv = None
    utc_at_boot_s = None
    armed = mode = None
    summary = {"records": 0, "arm_changes": [], "cam": 0, "modes": []}
    have_battery_status = False
    origins: dict = {}
    while (m := log.recv_match()) is not None:
        kind = m.get_type()
        if kind == "BAD_DATA" or m.get_srcComponent() != 1 or m.get_srcSystem() in (0, 255):
            continue
        if vehicle is None:
            if kind != "HEARTBEAT":
                continue
            vehicle = m.get_srcSystem()
            w.write("PARM", 0, "SYSID_THISMAV", float(vehicle), 1.0)
            w.write("VER", 0, 0, 0, 0, 0, 0, 0, 0, "", 0, BUILD_TYPE[m.type])
        if m.get_srcSystem() != vehicle:
            continue
        if getattr(m, "time_boot_ms", None) is not None:
            boot_ms = m.time_boot_ms
        elif boot_ms is not None:
            boot_ms += int(round((m._timestamp - last_recv) * 1000))
        last_recv = m._timestamp
        if boot_ms is None:
            continue
        us = boot_ms * 1000
        if kind == "SYSTEM_TIME" and m.time_unix_usec:
            utc_s = m.time_unix_usec / 1e6
            if abs(utc_s - m._timestamp) > 366 * 86400:    # old ArduPlane SITL says year 2908: use the
                utc_s = m._timestamp                       # ground station's clock, as the archive does
            utc_at_boot_s = utc_s - m.time_boot_ms / 1e3
        elif kind == "HEARTBEAT":
            now_armed = bool(m.base_mode & 128)
            if m.custom_mode != mode:
                w.write("MODE", us, m.custom_mode, m.custom_mode, 0)
                summary["modes"].append(m.custom_mode)
                mode = m.custom_mode
            if now_armed != armed and (armed is not None or now_armed):   # ARM/EV log transitions only
                summary["arm_changes"].append((now_armed, us))
                if arm_source == "ARM":
                    w.write("ARM", us, int(now_armed), 0, 0, 0)
                elif arm_source == "EV":
                    w.write("EV", us, 10 if now_armed else 11)
            armed = now_armed
            if arm_source == "STAT":
                w.write("STAT", us, 0, 0.0, int(now_armed), 0, 0, 0, 0, 0)
        elif kind == "STATUSTEXT":
            w.write("MSG", us, m.text)
        elif kind == "GPS_RAW_INT":
            week, ms = (0, 0)
            if utc_at_boot_s is not None and m.fix_type >= 2:
                week, ms = gps_week_ms(utc_at_boot_s + boot_ms / 1e3, leap_s)
            w.write("GPS", us, 0, m.fix_type, ms, week, m.satellites_visible, min(m.eph, 32767),
                    m.lat, m.lon, m.alt // 10, m.vel / 100, m.cog / 100, 0.0, 0.0, 1)
        elif kind == "GLOBAL_POSITION_INT":
            if m.lat or m.lon:
                w.write("POS", us, m.lat, m.lon, m.alt / 1e3, m.relative_alt / 1e3, m.relative_alt / 1e3)
        elif kind in ("HOME_POSITION", "GPS_GLOBAL_ORIGIN"):       # ArduPilot logs ORGN when it is set
            origin = (1 if kind == "HOME_POSITION" else 0, m.latitude, m.longitude, m.altitude // 10)
            if origin != origins.get(kind):
                w.write("ORGN", us, *origin)
                origins[kind] = origin
        elif kind == "CAMERA_FEEDBACK":
            week, ms = gps_week_ms(m.time_usec / 1e6, leap_s)
            w.write("CAM", us, m.cam_idx, m.img_idx, ms, week, m.lat, m.lng, int(m.alt_msl * 100),
                    int(m.alt_rel * 100), int(m.alt_msl * 100), int(m.roll * 100), int(m.pitch * 100),
                    int((m.yaw % 360) * 100))
            summary["cam"] += 1
        elif kind == "BATTERY_STATUS" and m.id == 0:
            have_battery_status = True
            rem = 255 if m.battery_remaining < 0 else m.battery_remaining
            w.write("BAT", us, 0, 0.0, 0.0, m.current_battery / 100, float(m.current_consumed),
                    m.energy_consumed / 36.0, 0, 0.0, rem, 0, 0)
        elif kind == "SYS_STATUS" and not have_battery_status:
            rem = 255 if m.battery_remaining < 0 else m.battery_remaining
            w.write("BAT", us, 0, m.voltage_battery / 1e3, 0.0, m.current_battery / 100, 0.0, 0.0, 0, 0.0,
                    rem, 0, 0)
        elif kind in ("RAW_IMU", "SCALED_IMU2", "SCALED_IMU3"):
            imu = {"RAW_IMU": 0, "SCALED_IMU2": 1, "SCALED_IMU3": 2}[kind]
            w.write("IMU", us, imu, m.xgyro / 1e3, m.ygyro / 1e3, m.zgyro / 1e3, m.xacc * 9.80665e-3,
                    m.yacc * 9.80665e-3, m.zacc * 9.80665e-3, 0, 0, 25.0, 1, 1, 400, 400)
        elif kind == "SCALED_PRESSURE":
            w.write("BARO", us, 0, 0.0, 0.0, m.press_abs * 100, m.temperature, 0.0, boot_ms, 0.0, 0.0, 1)
        elif kind == "SERVO_OUTPUT_RAW":
            w.write("RCOU", us, *(getattr(m, f"servo{i}_raw") for i in range(1, 15)))
        elif kind == "VIBRATION":
            w.write("VIBE", us, 0, m.vibration_x, m.vibration_y, m.vibration_z, m.clipping_0, m.clipping_1,
                    m.clipping_2)
        elif kind == "ATTITUDE":
            r, p, y = (round(v * 5729.578) for v in (m.roll, m.pitch, m.yaw))
            w.write("ATT", us, r, r, p, p, y % 36000, y % 36000, 0, 0, 0)
    log.close()
    w.close()
    summary["records"] = w.records
    summary["system_id"] = vehicle
    return summary


@pytest.fixture(scope="session", name="gps_week_ms")
def gps_week_ms_fixture():
    """:func:`gps_week_ms` (UTC seconds, leap seconds) -> (GPS week, ms of week)."""
    return gps_week_ms


@pytest.fixture(scope="session")
def generated_logs(samples, tmp_path_factory):
    """Writes GENERATED DataFlash logs from a bundled tlog, once per session.

    ``generated_logs(tlog, leap_s=..., arm_source=..., text=...)`` returns ``(path, summary)``;
    the file is named ``generated_<tlog folder>_<arm source>.bin`` (``.log`` for text).
    """
    folder = tmp_path_factory.mktemp("generated_dataflash")
    made: dict = {}

    def make(tlog: str, *, leap_s: int, arm_source: str = "ARM", text: bool = False) -> tuple[Path, dict]:
        key = (tlog, leap_s, arm_source, text)
        if key not in made:
            out = folder / f"generated_{tlog.split('/')[0]}_{arm_source}.{'log' if text else 'bin'}"
            made[key] = out, write_dataflash_from_tlog(samples / "telemetry" / tlog, out, leap_s=leap_s,
                                                        arm_source=arm_source, text=text)
        return made[key]

    return make
