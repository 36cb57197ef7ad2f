"""Does the simulated vehicle answer like ArduCopter 4.6.3 SITL? Compared with the real recording.

The recording (``flight_logs/samples/telemetry/arducopter_sitl_pinghu_survey``) holds both
directions of a session with the real firmware. The simulated vehicle is driven the same way
(the daemon on ``tcp:`` as against SITL's port 5760, the recording's own mission uploaded,
armed while its pre-arm checks still fail, flown in AUTO); then the same exchanges are taken
out of both tlogs by the same code and compared: answers, message fields and value ranges,
never hard-coded numbers.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.models import LogFile
from flight_logs.modes import mode_number
from flight_logs.store import resolve_stored
from patrol.db import make_engine, make_session_factory, upgrade
from patrol.geodesy import distance_m
from patrol.settings import Settings
from telemetry.commands import fly_mission, set_mode, takeoff
from telemetry.daemon import Daemon
from telemetry.link import Link
from telemetry.mission_protocol import item_from_wire

GCS = 255
QUAD = mavlink.MAV_TYPE_QUADROTOR


def exchanges(msgs: list) -> dict:
    """The exchanges compared, taken out of a two-way tlog (vehicle = system 1 component 1)."""
    vehicle = [m for m in msgs if m.get_type() != "BAD_DATA" and m.get_srcSystem() == 1 and m.get_srcComponent() == 1]
    out = {"heartbeats": [m for m in vehicle if m.get_type() == "HEARTBEAT"],
           "camera": [m for m in vehicle if m.get_type() == "CAMERA_FEEDBACK"],
           "system_time": [m for m in vehicle if m.get_type() == "SYSTEM_TIME" and m.time_unix_usec],
           "types": {m.get_type() for m in vehicle}, "upload": [], "arming": []}
    upload = None
    arming = None
    for m in msgs:
        kind = m.get_type()
        src = m.get_srcSystem() if kind != "BAD_DATA" else None
        if src == GCS and kind == "MISSION_COUNT":
            upload = out["upload"] = []
        elif src == 1 and upload is not None and kind in ("MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"):
            upload.append((kind, m.seq if kind != "MISSION_ACK" else m.type))
            if kind == "MISSION_ACK":
                upload = None
        if src == GCS and kind == "COMMAND_LONG" and m.command == mavlink.MAV_CMD_COMPONENT_ARM_DISARM and m.param1 == 1:
            arming = {"texts": []}
        elif src == 1 and arming is not None and kind == "STATUSTEXT":
            arming["texts"].append((m.severity, m.text))
        elif src == 1 and arming is not None and kind == "COMMAND_ACK" and m.command == mavlink.MAV_CMD_COMPONENT_ARM_DISARM:
            arming["result"] = m.result
            out["arming"].append(arming)
            arming = None
    return out


@pytest.fixture(scope="module")
def recording(samples, read_tlog) -> list:
    """Every message of the real ArduCopter 4.6.3 SITL session, both directions."""
    return read_tlog(samples / "telemetry" / "arducopter_sitl_pinghu_survey" / "survey_camera.tlog")


@pytest.fixture(scope="module")
def simulated(recording, sim_tcp, read_tlog, tmp_path_factory) -> list:
    """Fly the recording's own mission on the simulated vehicle through the daemon over TCP,
    then RTL and LAND by command; return the messages of the daemon's tlog."""
    settings = Settings.for_directory(tmp_path_factory.mktemp("fidelity"))
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    items = [item_from_wire(m) for m in recording if m.get_type() == "MISSION_ITEM_INT"]
    url = sim_tcp(25.0)
    daemon = Daemon(session_factory, settings.data_dir, [url])
    daemon.start()
    try:
        handle = daemon.wait_vehicle(20)
        fly_mission(handle, items, takeoff_alt_m=40.0, timeout_s=60)
        takeoff(handle, 5.0, climb_timeout_s=30)          # again, to try RTL and LAND by name
        set_mode(handle, "RTL")
        handle.wait_until(lambda s: (s.alt_rel_m or 0) > 14.0, 30, "climbing to RTL_ALT")
        set_mode(handle, "LAND")
        handle.wait_until(lambda s: not s.armed, 30, "landed")
    finally:
        daemon.stop()
    with session_factory() as session:
        stored = session.scalars(sa.select(LogFile.stored_path)).one()
    engine.dispose()
    return read_tlog(resolve_stored(settings.data_dir, stored))


def test_mission_upload_answered_with_mission_request_then_accepted(recording, simulated):
    real, sim = exchanges(recording)["upload"], exchanges(simulated)["upload"]
    assert real[0] == ("MISSION_REQUEST", 0) and real[-1] == ("MISSION_ACK", mavlink.MAV_MISSION_ACCEPTED)
    assert sim == real                                # the same 11 items: the same requests, the same ACK


def test_arming_refused_with_failed_and_prearm_text_until_ready(recording, simulated):
    for attempts in (exchanges(recording)["arming"], exchanges(simulated)["arming"]):
        results = [a["result"] for a in attempts]
        assert results[-1] == mavlink.MAV_RESULT_ACCEPTED
        refused = [a for a in attempts if a["result"] != mavlink.MAV_RESULT_ACCEPTED]
        assert refused and {a["result"] for a in refused} == {mavlink.MAV_RESULT_FAILED}
    real = {t for a in exchanges(recording)["arming"] for t in a["texts"]}
    sim_refused = [a for a in exchanges(simulated)["arming"] if a["result"] == mavlink.MAV_RESULT_FAILED]
    for attempt in sim_refused:                        # each refusal explained before its COMMAND_ACK
        assert attempt["texts"] and set(attempt["texts"]) <= real


def test_heartbeat_identity_and_mode_numbers(recording, simulated):
    real, sim = exchanges(recording)["heartbeats"], exchanges(simulated)["heartbeats"]
    assert {(h.type, h.autopilot) for h in sim} == {(h.type, h.autopilot) for h in real} == {
        (QUAD, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA)}
    # base_mode values (armed bit 128 and the rest) seen in the recording are the simulator's too
    assert {h.base_mode for h in real} <= {h.base_mode for h in sim}
    armed_modes = lambda hbs: {h.custom_mode for h in hbs if h.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED}
    assert armed_modes(real) <= armed_modes(sim)
    assert {mode_number(QUAD, n) for n in ("GUIDED", "AUTO")} == armed_modes(real)
    assert {mode_number(QUAD, n) for n in ("GUIDED", "AUTO", "RTL", "LAND")} <= armed_modes(sim)
    assert [mode_number(QUAD, n) for n in ("GUIDED", "AUTO", "RTL", "LAND")] == [4, 3, 6, 9]   # SITL_NOTES


def test_streamed_messages_are_ones_the_real_vehicle_sends(recording, simulated):
    real, sim = exchanges(recording)["types"], exchanges(simulated)["types"]
    core = {"HEARTBEAT", "GLOBAL_POSITION_INT", "ATTITUDE", "VFR_HUD", "SYS_STATUS", "BATTERY_STATUS",
            "GPS_RAW_INT", "SYSTEM_TIME", "MISSION_CURRENT", "HOME_POSITION", "GPS_GLOBAL_ORIGIN",
            "EKF_STATUS_REPORT", "CAMERA_FEEDBACK", "MISSION_ITEM_REACHED", "STATUSTEXT", "COMMAND_ACK",
            "MISSION_REQUEST", "MISSION_ACK"}
    assert core <= real and core <= sim
    assert sim <= real                               # nothing the real firmware does not send


def test_camera_feedback_fields_and_ranges(recording, simulated):
    real, sim = exchanges(recording)["camera"], exchanges(simulated)["camera"]
    assert sim[0].get_fieldnames() == real[0].get_fieldnames()
    assert len(sim) == pytest.approx(len(real), abs=2)             # same mission, same trigger distance
    assert [m.img_idx for m in sim] == list(range(1, len(sim) + 1))
    for field in ("target_system", "cam_idx", "flags", "completed_captures", "foc_len"):
        assert {getattr(m, field) for m in sim} <= {getattr(m, field) for m in real}

    def span(msgs, field):
        values = [getattr(m, field) for m in msgs]
        return min(values), max(values)

    lo, hi = span(real, "alt_rel")
    assert lo - 1.5 <= span(sim, "alt_rel")[0] and span(sim, "alt_rel")[1] <= hi + 1.5
    lo, hi = span(real, "pitch")
    assert lo - 5 <= span(sim, "pitch")[0] and span(sim, "pitch")[1] <= max(hi, 0) + 5
    assert all(0 <= m.yaw < 360 for m in sim)
    # photos where the real ones were: each simulated photo near some real one
    for m in sim:
        nearest = min(distance_m(m.lng / 1e7, m.lat / 1e7, r.lng / 1e7, r.lat / 1e7) for r in real)
        assert nearest < 15.0
    # time_usec is the vehicle's UTC, as SYSTEM_TIME tells it, in both
    for msgs, times in ((real, exchanges(recording)["system_time"]), (sim, exchanges(simulated)["system_time"])):
        utc_at_boot = {round(t.time_unix_usec / 1e6 - t.time_boot_ms / 1e3) for t in times}
        assert len(utc_at_boot) == 1
        first, last = times[0].time_unix_usec, times[-1].time_unix_usec
        assert all(first <= m.time_usec <= last for m in msgs)


def test_streams_come_only_when_asked(sim_tcp, recording):
    """Like SITL, a fresh link hears little but HEARTBEAT until it asks for data streams."""
    link = Link(sim_tcp(50.0))
    try:
        def listen(seconds: float) -> set[str]:
            seen: set[str] = set()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                got = link.recv()
                if got is None:
                    link.wait_readable(0.01)
                else:
                    seen.add(got[0].get_type())
            return seen

        quiet = listen(0.6)                              # 30 s of simulated time
        assert "HEARTBEAT" in quiet and quiet <= {"HEARTBEAT", "STATUSTEXT", "HOME_POSITION", "GPS_GLOBAL_ORIGIN"}
        link.send(link.mav.command_long_encode(1, 0, mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, 0,
                                               mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, 200_000, 0, 0, 0, 0, 0))
        one = listen(0.3) - quiet
        assert one == {"GLOBAL_POSITION_INT", "COMMAND_ACK"}
        link.send(link.mav.request_data_stream_encode(1, 0, mavlink.MAV_DATA_STREAM_ALL, 4, 1))
        everything = listen(0.3)
        assert {"SYS_STATUS", "ATTITUDE", "VFR_HUD", "GPS_RAW_INT", "SYSTEM_TIME", "BATTERY_STATUS"} <= everything
        assert everything <= exchanges(recording)["types"]
    finally:
        link.close()
