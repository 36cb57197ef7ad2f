"""The simulated vehicle's MAVLink side: what it answers, streams and announces, per channel.

A :class:`Channel` is one ground-station connection (like one SERIALn port of ArduPilot): its
own sequence numbers and stream rates. It answers as ArduCopter 4.6.3 does in the SITL
recording: COMMAND_ACK for every COMMAND_LONG/COMMAND_INT (unknown commands
MAV_RESULT_UNSUPPORTED), the mission protocol for missions, geofences and rally points
(:mod:`telemetry.sim.transfers`), data streams only once asked for (REQUEST_DATA_STREAM,
MAV_CMD_SET_MESSAGE_INTERVAL), HOME_POSITION on MAV_CMD_REQUEST_MESSAGE, and the parameter
protocol (for dronekit). Chosen messages can be lost on purpose (:mod:`telemetry.sim.faults`).

:class:`SimProtocol` ties the channels to one :class:`~telemetry.sim.vehicle.SimVehicle`:
HEARTBEAT at 1 Hz of simulated time and the vehicle's events go to every channel; the
transfers in progress (one per mission type, as in ArduPilot) are its too.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.modes import mode_number
from missions.items import MissionItem
from telemetry.sim import messages
from telemetry.sim.faults import DropRule, Dropper
from telemetry.sim.transfers import MissionTransfers, Upload, tick_uploads
from telemetry.sim.vehicle import SimVehicle

__all__ = ["Channel", "SimProtocol"]

_COMPONENT = mavlink.MAV_COMP_ID_AUTOPILOT1
_FORCE_DISARM = 21196
_VERSION = 0x04060380            # the behaviour modelled: ArduCopter 4.6.3 (FIRMWARE_VERSION_TYPE_OFFICIAL)
_CAPABILITIES = (mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT | mavlink.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
                 | mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_INT | mavlink.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
                 | mavlink.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
                 | mavlink.MAV_PROTOCOL_CAPABILITY_MAVLINK2 | mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
                 | mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY)


class _Sink:
    """The file-like object pymavlink's ``MAVLink.send`` writes packed frames to."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self.write = write


class Channel(MissionTransfers):
    """One connection to a ground station.

    Parameters
    ----------
    proto : SimProtocol
        The vehicle's protocol (shared state).
    write : callable
        Sends bytes to this ground station.
    """

    def __init__(self, proto: "SimProtocol", write: Callable[[bytes], None]) -> None:
        self.proto = proto
        self.vehicle = proto.vehicle
        self.mav = mavlink.MAVLink(_Sink(write), srcSystem=proto.system_id, srcComponent=_COMPONENT)
        self.mav.robust_parsing = True
        self.wall = proto.wall_clock
        self.dropper = Dropper(proto.drop)
        self.intervals: dict[str, float] = {}     # message name -> simulated seconds
        self.next_due: dict[str, float] = {}
        self.received = 0
        self.bad_packets = 0
        self._handlers: dict[str, Callable[[Any], None]] = {
            "REQUEST_DATA_STREAM": self.on_request_data_stream, "COMMAND_LONG": self.on_command_long,
            "COMMAND_INT": self.on_command_int, "SET_MODE": self.on_set_mode,
            "MISSION_COUNT": self.on_mission_count, "MISSION_ITEM_INT": self.on_mission_item,
            "MISSION_ITEM": self.on_mission_item, "MISSION_REQUEST_LIST": self.on_mission_request_list,
            "MISSION_REQUEST_INT": self.on_mission_request, "MISSION_REQUEST": self.on_mission_request,
            "MISSION_SET_CURRENT": self.on_mission_set_current, "MISSION_CLEAR_ALL": self.on_mission_clear_all,
            "PARAM_REQUEST_LIST": self.on_param_request_list, "PARAM_REQUEST_READ": self.on_param_request_read,
            "PARAM_SET": self.on_param_set, "TIMESYNC": self.on_timesync,
        }

    # ------------------------------------------------------------------ input
    def receive(self, data: bytes) -> None:
        """Bytes from the ground station: parse and answer every message."""
        for msg in self.mav.parse_buffer(data) or ():
            if msg.get_type() == "BAD_DATA":
                self.bad_packets += 1
                continue
            if self.dropper.lose("in", msg.get_type()):
                continue
            self.received += 1
            target = getattr(msg, "target_system", 0)
            if target not in (0, self.proto.system_id):
                continue
            handler = self._handlers.get(msg.get_type())
            if handler is not None:
                handler(msg)

    def send(self, msg: Any | None) -> None:
        """Send ``msg`` (None: nothing) to this ground station, unless a drop rule loses it."""
        if msg is not None and not self.dropper.lose("out", msg.get_type()):
            self.mav.send(msg)

    def _ack(self, msg: Any, command: int, result: int) -> None:
        self.proto.send_events()         # the reason (STATUSTEXT) goes out before the refusal, as ArduPilot does
        self.send(self.mav.command_ack_encode(command, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent()))

    # ------------------------------------------------------------------ streams
    def on_request_data_stream(self, msg: Any) -> None:
        groups = messages.STREAM_GROUPS.keys() if msg.req_stream_id == mavlink.MAV_DATA_STREAM_ALL \
            else [msg.req_stream_id]
        for group in groups:
            for name in messages.STREAM_GROUPS.get(group, ()):
                self._set_interval(name, 1.0 / msg.req_message_rate if msg.start_stop and msg.req_message_rate > 0
                                   else None)

    def _set_interval(self, name: str, interval_s: float | None) -> None:
        if interval_s is None:
            self.intervals.pop(name, None)
        else:
            self.intervals[name] = interval_s
            self.next_due.setdefault(name, self.vehicle.t_s)

    def tick(self) -> None:
        """Send the streamed messages that are due (at most one of each per call)."""
        now = self.vehicle.t_s
        for name, interval in list(self.intervals.items()):
            due = self.next_due.get(name, now)
            if now + 1e-9 >= due:
                self.send(messages.ENCODERS[name](self.mav, self.vehicle))
                self.next_due[name] = max(due + interval, now)

    # ------------------------------------------------------------------ commands
    def on_command_long(self, msg: Any) -> None:
        params = (msg.param1, msg.param2, msg.param3, msg.param4, msg.param5, msg.param6, msg.param7)
        self._ack(msg, msg.command, self._command(msg.command, params))

    def on_command_int(self, msg: Any) -> None:
        params = (msg.param1, msg.param2, msg.param3, msg.param4, msg.x / 1e7, msg.y / 1e7, msg.z)
        self._ack(msg, msg.command, self._command(msg.command, params))

    def on_set_mode(self, msg: Any) -> None:
        self._ack(msg, mavlink.MAVLINK_MSG_ID_SET_MODE, self.vehicle.set_mode(msg.custom_mode))

    def _command(self, command: int, p: tuple[float, ...]) -> int:
        v, modes = self.vehicle, self.proto.mode_numbers
        if command == mavlink.MAV_CMD_COMPONENT_ARM_DISARM:
            return v.arm() if p[0] == 1 else v.disarm(force=int(p[1]) == _FORCE_DISARM)
        if command == mavlink.MAV_CMD_DO_SET_MODE:
            if not int(p[0]) & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
                return mavlink.MAV_RESULT_UNSUPPORTED
            return v.set_mode(int(p[1]))
        if command == mavlink.MAV_CMD_NAV_TAKEOFF:
            return v.takeoff(p[6])
        if command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            return v.set_mode(modes["RTL"])
        if command == mavlink.MAV_CMD_NAV_LAND:
            return v.set_mode(modes["LAND"])
        if command == mavlink.MAV_CMD_MISSION_START:
            return v.set_mode(modes["AUTO"])
        if command == mavlink.MAV_CMD_DO_SET_MISSION_CURRENT:
            return mavlink.MAV_RESULT_ACCEPTED if v.set_current(int(p[0])) else mavlink.MAV_RESULT_DENIED
        if command == mavlink.MAV_CMD_DO_CHANGE_SPEED:
            if p[1] <= 0:
                return mavlink.MAV_RESULT_DENIED
            v.speed_m_s = float(p[1])
            return mavlink.MAV_RESULT_ACCEPTED
        if command == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST:
            v.trigg_dist_m = max(0.0, float(p[0]))
            if p[2] == 1:
                v.take_photo()
            return mavlink.MAV_RESULT_ACCEPTED
        if command == mavlink.MAV_CMD_DO_DIGICAM_CONTROL:
            v.take_photo()
            return mavlink.MAV_RESULT_ACCEPTED
        if command == mavlink.MAV_CMD_SET_MESSAGE_INTERVAL:
            return self._message_interval(int(p[0]), p[1])
        if command == mavlink.MAV_CMD_REQUEST_MESSAGE:
            return self._request_message(int(p[0]))
        if command == mavlink.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES:
            return self._request_message(mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
        return mavlink.MAV_RESULT_UNSUPPORTED

    def _message_interval(self, msg_id: int, interval_us: float) -> int:
        name = self.proto.names_by_id.get(msg_id)
        if name not in messages.ENCODERS:
            return mavlink.MAV_RESULT_DENIED
        if interval_us < 0:
            self._set_interval(name, None)
        else:
            self._set_interval(name, interval_us / 1e6 if interval_us > 0 else 0.25)
        return mavlink.MAV_RESULT_ACCEPTED

    def _request_message(self, msg_id: int) -> int:
        if msg_id == mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION:
            self.send(self.mav.autopilot_version_encode(_CAPABILITIES, _VERSION, 0, 0, 0, list(b"dpsim\0\0\0"),
                                                        [0] * 8, [0] * 8, 0, 0, 0))
            return mavlink.MAV_RESULT_ACCEPTED
        name = self.proto.names_by_id.get(msg_id)
        if name not in messages.ENCODERS:
            return mavlink.MAV_RESULT_DENIED
        self.send(messages.ENCODERS[name](self.mav, self.vehicle))   # None (not sent) while unknown
        return mavlink.MAV_RESULT_ACCEPTED

    # ------------------------------------------------------------------ missions
    def on_mission_set_current(self, msg: Any) -> None:
        self.vehicle.set_current(msg.seq)
        self.send(messages.mission_current(self.mav, self.vehicle))

    # ------------------------------------------------------------------ parameters
    def _param_value(self, name: str) -> Any:
        names = self.proto.param_names
        return self.mav.param_value_encode(name.encode(), float(self.vehicle.params[name]),
                                           mavlink.MAV_PARAM_TYPE_REAL32, len(names), names.index(name))

    def on_param_request_list(self, msg: Any) -> None:
        for name in self.proto.param_names:
            self.send(self._param_value(name))

    def on_param_request_read(self, msg: Any) -> None:
        name = msg.param_id.rstrip("\x00") if isinstance(msg.param_id, str) else ""
        names = self.proto.param_names
        if msg.param_index >= 0:
            name = names[msg.param_index] if msg.param_index < len(names) else ""
        if name in self.vehicle.params:
            self.send(self._param_value(name))

    def on_param_set(self, msg: Any) -> None:
        name = msg.param_id.rstrip("\x00")
        if name in self.vehicle.params:
            self.vehicle.params[name] = float(msg.param_value)
            self.send(self._param_value(name))

    def on_timesync(self, msg: Any) -> None:
        if msg.tc1 == 0:
            self.send(self.mav.timesync_encode(int(self.vehicle.t_s * 1e9), msg.ts1))


class SimProtocol:
    """The vehicle's MAVLink presence across all its channels.

    Parameters
    ----------
    vehicle : SimVehicle
        The simulated vehicle.
    system_id : int
        Its MAVLink system id (component 1, the autopilot).
    drop : iterable of DropRule
        Messages each channel loses on purpose (:mod:`telemetry.sim.faults`).
    max_items : mapping, optional
        MAV_MISSION_TYPE -> most items the vehicle stores (a larger MISSION_COUNT is answered
        MAV_MISSION_NO_SPACE); unlimited for the types not given.
    wall_clock : callable
        Monotonic wall seconds, for the transfers' timeouts (the ground station's run on wall
        time too, whatever the simulation speed-up).
    """

    def __init__(self, vehicle: SimVehicle, *, system_id: int = 1, drop: Iterable[DropRule] = (),
                 max_items: Mapping[int, int] | None = None,
                 wall_clock: Callable[[], float] = time.monotonic) -> None:
        self.vehicle = vehicle
        self.system_id = system_id
        self.drop = tuple(drop)
        self.max_items = dict(max_items or {})
        self.wall_clock = wall_clock
        self.channels: list[Channel] = []
        self.uploads: dict[int, Upload] = {}      # MAV_MISSION_TYPE -> upload in progress
        self.missions: dict[int, list[MissionItem]] = {}
        self.param_names = sorted(vehicle.params)
        self.names_by_id = {msg_id: cls.msgname for msg_id, cls in mavlink.mavlink_map.items()}
        self.mode_numbers = {name: mode_number(vehicle.mav_type, name) for name in ("AUTO", "RTL", "LAND")}
        self._next_heartbeat = 0.0

    def add_channel(self, write: Callable[[bytes], None]) -> Channel:
        """A new ground-station connection sending through ``write``."""
        channel = Channel(self, write)
        self.channels.append(channel)
        return channel

    def remove_channel(self, channel: Channel) -> None:
        """The connection closed: forget it and the uploads it was sending."""
        self.channels = [c for c in self.channels if c is not channel]
        self.uploads = {t: up for t, up in self.uploads.items() if up.channel is not channel}

    def store_mission(self, mission_type: int, items: list[MissionItem]) -> None:
        if mission_type == mavlink.MAV_MISSION_TYPE_MISSION:
            self.vehicle.set_mission(items)
        else:
            self.missions[mission_type] = list(items)

    def items(self, mission_type: int) -> list[MissionItem]:
        """The stored mission, fence or rally items (the mission always starts with home)."""
        if mission_type == mavlink.MAV_MISSION_TYPE_MISSION:
            return self.vehicle.mission
        return self.missions.get(mission_type, [])

    def announce_text(self, severity: int, text: str) -> None:
        self.vehicle.say(severity, text)

    def send_events(self) -> None:
        """Send what the vehicle has to say (STATUSTEXT, MISSION_ITEM_REACHED...) to every channel."""
        v = self.vehicle
        events, v.outbox = v.outbox, []
        for channel in self.channels:
            for kind, payload in events:
                channel.send(self._event(channel.mav, kind, payload))

    def tick(self) -> None:
        """After the vehicle stepped: send its events, the HEARTBEAT when due, and due streams."""
        v = self.vehicle
        self.send_events()
        if v.t_s + 1e-9 >= self._next_heartbeat:
            self._next_heartbeat = max(self._next_heartbeat + 1.0, v.t_s)
            for channel in self.channels:
                channel.send(messages.heartbeat(channel.mav, v))
        for channel in self.channels:
            channel.tick()
        tick_uploads(self, self.wall_clock())

    def _event(self, mav: Any, kind: str, payload: Any) -> Any:
        v = self.vehicle
        if kind == "statustext":
            severity, text = payload
            return mav.statustext_encode(severity, text.encode()[:50])
        if kind == "mission_item_reached":
            return mav.mission_item_reached_encode(payload)
        if kind == "camera_feedback":
            return messages.camera_feedback(mav, v, payload)
        if kind == "home_position":
            return messages.home_position(mav, v)
        if kind == "gps_global_origin":
            return messages.gps_global_origin(mav, v)
        raise ValueError(f"unknown vehicle event {kind!r}")
