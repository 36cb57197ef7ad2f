"""The MAVLink mission protocol, ground-station side: upload and download.

Upload: MISSION_COUNT -> the vehicle asks for each item with MISSION_REQUEST_INT (or with
the older MISSION_REQUEST, which ArduCopter 4.6.3 still sends even when MISSION_ITEM_INT is
what it gets) -> MISSION_ITEM_INT -> ... -> MISSION_ACK (MAV_MISSION_ACCEPTED).
Download: MISSION_REQUEST_LIST -> MISSION_COUNT -> MISSION_REQUEST_INT per item ->
MISSION_ITEM_INT -> MISSION_ACK from us.

Items are :class:`missions.items.MissionItem` (degrees, metres); the conversion to the wire
(``x``/``y`` in degE7) happens here, at the edge. Every wait has a timeout; a lost message
is asked for again up to ``retries`` times (https://mavlink.io/en/services/mission.html).

The ``channel`` is a :class:`~telemetry.handle.VehicleHandle` (or anything with ``mav``,
``send``, ``subscribe``, ``target_system`` and ``target_component``).
"""

from __future__ import annotations

from typing import Any, Sequence

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.items import MissionItem
from telemetry.errors import LinkTimeout, MissionUploadError

__all__ = ["download_mission", "item_from_wire", "item_to_wire_fields", "mission_result_name", "upload_mission"]

_REQUESTS = ("MISSION_REQUEST_INT", "MISSION_REQUEST")


def mission_result_name(result: int) -> str:
    """MAV_MISSION_RESULT name of ``result``.

    >>> mission_result_name(0), mission_result_name(13)
    ('MAV_MISSION_ACCEPTED', 'MAV_MISSION_INVALID_SEQUENCE')
    """
    entry = mavlink.enums["MAV_MISSION_RESULT"].get(result)
    return entry.name if entry is not None else f"MAV_MISSION_RESULT {result}"


def item_to_wire_fields(item: MissionItem) -> dict[str, Any]:
    """MISSION_ITEM_INT fields of an item: ``x``/``y`` degE7 (rounded), ``z`` metres.

    >>> from missions.items import waypoint_item
    >>> f = item_to_wire_fields(waypoint_item(121.0187089, 30.7006796, 40.0))
    >>> f["x"], f["y"], f["z"], f["frame"], f["command"]
    (307006796, 1210187089, 40.0, 3, 16)
    """
    return {
        "frame": int(item.frame), "command": int(item.command), "current": 0,
        "autocontinue": int(bool(item.autocontinue)),
        "param1": float(item.param1), "param2": float(item.param2),
        "param3": float(item.param3), "param4": float(item.param4),
        "x": int(round(item.lat_deg * 1e7)), "y": int(round(item.lon_deg * 1e7)), "z": float(item.alt_m),
    }


def item_from_wire(msg: Any) -> MissionItem:
    """MISSION_ITEM_INT (degE7) or MISSION_ITEM (degrees) -> :class:`MissionItem`."""
    scale = 1e7 if msg.get_type() == "MISSION_ITEM_INT" else 1.0
    return MissionItem(command=msg.command, frame=msg.frame, param1=msg.param1, param2=msg.param2,
                       param3=msg.param3, param4=msg.param4, lat_deg=msg.x / scale, lon_deg=msg.y / scale,
                       alt_m=float(msg.z), autocontinue=bool(msg.autocontinue))


def _encode(encoder: Any, *fields: Any, mission_type: int) -> Any:
    """Call a pymavlink ``*_encode`` with ``mission_type`` when the link speaks MAVLink 2.

    A MAVLink 1 link (pymavlink's v1.0 dialect, until the vehicle's first MAVLink 2 frame)
    has no ``mission_type`` extension field; only missions (type 0) travel there.
    """
    if "mission_type" in encoder.__code__.co_varnames:
        return encoder(*fields, mission_type)
    if mission_type != mavlink.MAV_MISSION_TYPE_MISSION:
        raise MissionUploadError("MAV_MISSION_UNSUPPORTED", "fence and rally transfers need MAVLink 2")
    return encoder(*fields)


def _item_int(channel: Any, seq: int, item: MissionItem, mission_type: int) -> Any:
    f = item_to_wire_fields(item)
    return _encode(channel.mav.mission_item_int_encode,
                   channel.target_system, channel.target_component, seq, f["frame"], f["command"], f["current"],
                   f["autocontinue"], f["param1"], f["param2"], f["param3"], f["param4"], f["x"], f["y"], f["z"],
                   mission_type=mission_type)


def upload_mission(channel: Any, items: Sequence[MissionItem], *,
                   mission_type: int = mavlink.MAV_MISSION_TYPE_MISSION,
                   timeout_s: float = 2.0, retries: int = 5) -> None:
    """Upload ``items`` (seq 0..n-1; for ArduPilot item 0 is home) and wait for MISSION_ACK.

    Parameters
    ----------
    channel : VehicleHandle
        The vehicle.
    items : sequence of MissionItem
        The mission as stored (ArduPilot overwrites item 0 with its home).
    mission_type : int
        MAV_MISSION_TYPE (mission, fence or rally).
    timeout_s : float
        Wait for each answer, seconds; on silence the last message is sent again.
    retries : int
        Resends allowed per step before giving up.

    Raises
    ------
    MissionUploadError
        MISSION_ACK other than MAV_MISSION_ACCEPTED (``result`` is its name), or no answer
        after ``retries`` (``result`` ``"TIMEOUT"``).
    """
    count = len(items)
    mav = channel.mav
    count_msg = _encode(mav.mission_count_encode, channel.target_system, channel.target_component, count,
                        mission_type=mission_type)
    with channel.subscribe({*_REQUESTS, "MISSION_ACK"}) as sub:
        last_sent, sent_items, misses = count_msg, set(), 0
        channel.send(count_msg)
        while True:
            try:
                msg = sub.get(timeout_s, lambda m: getattr(m, "mission_type", 0) == mission_type,
                              what="MISSION_REQUEST_INT, MISSION_REQUEST or MISSION_ACK")
            except LinkTimeout:
                misses += 1
                if misses > retries:
                    done = f"{len(sent_items)} of {count} items sent"
                    raise MissionUploadError("TIMEOUT", f"no answer after {retries} resends; {done}") from None
                channel.send(last_sent)
                continue
            misses = 0
            if msg.get_type() == "MISSION_ACK":
                if msg.type != mavlink.MAV_MISSION_ACCEPTED:
                    raise MissionUploadError(mission_result_name(msg.type),
                                             f"after {len(sent_items)} of {count} items")
                if len(sent_items) < count and count > 0:
                    raise MissionUploadError("MAV_MISSION_ACCEPTED",
                                             f"accepted after only {len(sent_items)} of {count} items")
                return
            seq = msg.seq
            if not 0 <= seq < count:
                raise MissionUploadError("MAV_MISSION_INVALID_SEQUENCE", f"vehicle asked for item {seq} of {count}")
            last_sent = _item_int(channel, seq, items[seq], mission_type)
            sent_items.add(seq)
            channel.send(last_sent)


def download_mission(channel: Any, *, mission_type: int = mavlink.MAV_MISSION_TYPE_MISSION,
                     timeout_s: float = 2.0, retries: int = 5) -> list[MissionItem]:
    """Download the vehicle's mission (item 0 is home on ArduPilot).

    Raises
    ------
    MissionUploadError
        A step went unanswered after ``retries`` resends (``result`` ``"TIMEOUT"``), or the
        vehicle answered with a MISSION_ACK error.
    """
    mav = channel.mav
    ts, tc = channel.target_system, channel.target_component
    with channel.subscribe({"MISSION_COUNT", "MISSION_ITEM_INT", "MISSION_ITEM", "MISSION_ACK"}) as sub:
        def ask(request: Any, accept) -> Any:
            for _ in range(retries + 1):
                channel.send(request)
                try:
                    msg = sub.get(timeout_s, lambda m: getattr(m, "mission_type", 0) == mission_type
                                  and (m.get_type() == "MISSION_ACK" or accept(m)))
                except LinkTimeout:
                    continue
                if msg.get_type() == "MISSION_ACK":
                    raise MissionUploadError(mission_result_name(msg.type), "during download")
                return msg
            raise MissionUploadError("TIMEOUT", f"no answer to {request.get_type()} after {retries} resends")

        count = ask(_encode(mav.mission_request_list_encode, ts, tc, mission_type=mission_type),
                    lambda m: m.get_type() == "MISSION_COUNT").count
        items = []
        for seq in range(count):
            msg = ask(_encode(mav.mission_request_int_encode, ts, tc, seq, mission_type=mission_type),
                      lambda m, seq=seq: m.get_type() in ("MISSION_ITEM_INT", "MISSION_ITEM") and m.seq == seq)
            items.append(item_from_wire(msg))
        channel.send(_encode(mav.mission_ack_encode, ts, tc, mavlink.MAV_MISSION_ACCEPTED, mission_type=mission_type))
        return items
