"""The MAVLink mission protocol, ground-station side: upload and download.

Upload: MISSION_COUNT -> the vehicle asks for each item with MISSION_REQUEST_INT (or with
the older MISSION_REQUEST, which ArduCopter 4.6.3 still sends even when MISSION_ITEM_INT is
what it gets) -> MISSION_ITEM_INT -> ... -> MISSION_ACK (MAV_MISSION_ACCEPTED).
Download: MISSION_REQUEST_LIST -> MISSION_COUNT -> MISSION_REQUEST_INT per item ->
MISSION_ITEM_INT -> MISSION_ACK from us.

The same exchanges carry the geofence (``mission_type`` MAV_MISSION_TYPE_FENCE: polygon
vertices MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION/EXCLUSION with param1 = the polygon's
vertex count, circles, a return point) and the rally points (MAV_MISSION_TYPE_RALLY,
MAV_CMD_NAV_RALLY_POINT); ArduPilot takes them over MAVLink 2 only (``mission_type`` is a
MAVLink 2 extension field), as MISSION_ITEM_INT.

Items are :class:`missions.items.MissionItem` (degrees, metres); the conversion to the wire
(``x``/``y`` in degE7) happens here, at the edge. Every wait has a timeout; a lost message
is asked for again up to ``retries`` times (https://mavlink.io/en/services/mission.html).

The ``channel`` is a :class:`~telemetry.handle.VehicleHandle` (or anything with ``mav``,
``send``, ``subscribe``, ``target_system`` and ``target_component``).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.items import MissionItem
from telemetry.errors import LinkTimeout, MissionUploadError

__all__ = ["download_mission", "item_from_wire", "item_to_wire_fields", "mission_result_name",
           "upload_fence_and_rally", "upload_mission"]

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


_TYPE_NAMES = {mavlink.MAV_MISSION_TYPE_MISSION: "mission", mavlink.MAV_MISSION_TYPE_FENCE: "geofence",
               mavlink.MAV_MISSION_TYPE_RALLY: "rally points"}


def _what(mission_type: int) -> str:
    return _TYPE_NAMES.get(mission_type, f"MAV_MISSION_TYPE {mission_type}")


def _same_positions(sent: Sequence[MissionItem], stored: Sequence[MissionItem], mission_type: int) -> bool:
    """Whether the vehicle stores what was sent: same count, commands and positions (degE7).

    The vehicle rewrites the rest as it keeps it (ArduPilot: home as mission item 0, fence
    items in MAV_FRAME_GLOBAL at z 0, rally altitudes in whole metres), so only these are compared.
    """
    if len(sent) != len(stored):
        return False
    first = 1 if mission_type == mavlink.MAV_MISSION_TYPE_MISSION else 0
    for a, b in zip(sent[first:], stored[first:]):
        fa, fb = item_to_wire_fields(a), item_to_wire_fields(b)
        if (fa["command"], fa["x"], fa["y"]) != (fb["command"], fb["x"], fb["y"]):
            return False
    return True


def _vehicle_holds(channel: Any, items: Sequence[MissionItem], mission_type: int, timeout_s: float,
                   retries: int) -> bool:
    """Whether a download gives back ``items`` (:func:`_same_positions`); False if it fails."""
    try:
        stored = download_mission(channel, mission_type=mission_type, timeout_s=timeout_s, retries=retries)
    except MissionUploadError:
        return False
    return _same_positions(items, stored, mission_type)


def upload_mission(channel: Any, items: Sequence[MissionItem], *,
                   mission_type: int = mavlink.MAV_MISSION_TYPE_MISSION,
                   timeout_s: float = 2.0, retries: int = 5) -> None:
    """Upload ``items`` (seq 0..n-1; for ArduPilot mission item 0 is home) and wait for MISSION_ACK.

    A lost message is recovered: on ``timeout_s`` of silence the last message is sent again.
    ArduPilot answers an item it already holds with MAV_MISSION_INVALID_SEQUENCE and asks for
    the next one itself, so one such answer per item sent twice is not an error. If the
    MAV_MISSION_ACCEPTED of the last item is lost, ArduPilot answers the resent last item with
    MAV_MISSION_ERROR (no upload running any more); the stored items are then downloaded and
    compared (:func:`download_mission`) before the upload is called failed.

    Parameters
    ----------
    channel : VehicleHandle
        The vehicle.
    items : sequence of MissionItem
        The mission as stored (ArduPilot overwrites item 0 with its home), or the geofence
        (MAV_CMD_NAV_FENCE_* items) or rally points (MAV_CMD_NAV_RALLY_POINT).
    mission_type : int
        MAV_MISSION_TYPE: MAV_MISSION_TYPE_MISSION, _FENCE or _RALLY (the last two need a
        MAVLink 2 link, as ArduPilot does).
    timeout_s : float
        Wait for each answer, seconds; on silence the last message is sent again.
    retries : int
        Resends allowed per step before giving up.

    Raises
    ------
    MissionUploadError
        MISSION_ACK other than MAV_MISSION_ACCEPTED (``result`` is its name; the message adds
        the vehicle's STATUSTEXT explanation when it sent one, e.g. "Fence validation
        failed"), no answer after ``retries`` (``result`` ``"TIMEOUT"``), or a fence or rally
        upload on a MAVLink 1 link (``"MAV_MISSION_UNSUPPORTED"``).
    """
    count, what = len(items), _what(mission_type)
    mav = channel.mav
    count_msg = _encode(mav.mission_count_encode, channel.target_system, channel.target_component, count,
                        mission_type=mission_type)
    with channel.subscribe({*_REQUESTS, "MISSION_ACK", "STATUSTEXT"}) as sub:
        sent_items: set[int] = set()
        duplicates = 0                     # items sent more than once: each may earn an INVALID_SEQUENCE
        texts: list[str] = []              # the vehicle's STATUSTEXTs since our last message

        def send(msg: Any, *, again: bool = False) -> float:
            nonlocal last_sent, resent
            last_sent, resent = msg, again
            texts.clear()
            channel.send(msg)
            return time.monotonic() + timeout_s

        last_sent, resent, misses = count_msg, False, 0
        deadline = send(count_msg)
        while True:
            try:
                msg = sub.get(max(0.0, deadline - time.monotonic()),
                              lambda m: m.get_type() == "STATUSTEXT" or getattr(m, "mission_type", 0) == mission_type,
                              what="MISSION_REQUEST_INT, MISSION_REQUEST or MISSION_ACK")
            except LinkTimeout:
                misses += 1
                if misses > retries:
                    done = f"{len(sent_items)} of {count} items sent"
                    raise MissionUploadError("TIMEOUT", f"{what}: no answer after {retries} resends; {done}") from None
                duplicates += last_sent is not count_msg
                deadline = send(last_sent, again=True)
                continue
            kind = msg.get_type()
            if kind == "STATUSTEXT":
                texts.append(msg.text)
                continue
            misses = 0
            if kind == "MISSION_ACK":
                if msg.type == mavlink.MAV_MISSION_ACCEPTED:
                    if len(sent_items) < count:
                        raise MissionUploadError("MAV_MISSION_ACCEPTED",
                                                 f"{what} accepted after only {len(sent_items)} of {count} items")
                    return
                all_sent = count > 0 and len(sent_items) == count
                if resent and all_sent and _vehicle_holds(channel, items, mission_type, timeout_s, retries):
                    return                     # the ACCEPTED was lost; the vehicle holds the items
                if msg.type == mavlink.MAV_MISSION_INVALID_SEQUENCE and duplicates > 0:
                    duplicates -= 1            # a repeated item crossed the vehicle's next request
                    continue
                why = f"; vehicle: {'; '.join(texts)}" if texts else ""
                raise MissionUploadError(mission_result_name(msg.type),
                                         f"{what} upload after {len(sent_items)} of {count} items{why}")
            seq = msg.seq
            if not 0 <= seq < count:
                raise MissionUploadError("MAV_MISSION_INVALID_SEQUENCE",
                                         f"vehicle asked for {what} item {seq} of {count}")
            duplicates += seq in sent_items
            sent_items.add(seq)
            deadline = send(_item_int(channel, seq, items[seq], mission_type))


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


def upload_fence_and_rally(channel: Any, fence_items: Sequence[MissionItem] | None = None,
                           rally_items: Sequence[MissionItem] | None = None, *, timeout_s: float = 2.0,
                           retries: int = 5, progress: Callable[[str], None] | None = None) -> None:
    """Upload a geofence and rally points (MAV_MISSION_TYPE_FENCE, then MAV_MISSION_TYPE_RALLY).

    ``None`` leaves what the vehicle holds of that type; an empty list clears it. Uploading a
    fence does not enable it: ArduPilot enforces it once FENCE_ENABLE is 1.

    Raises
    ------
    MissionUploadError
        As :func:`upload_mission` (e.g. MAV_MISSION_ERROR with "Fence validation failed").
    """
    say = progress or (lambda _: None)
    for items, mission_type in ((fence_items, mavlink.MAV_MISSION_TYPE_FENCE),
                                (rally_items, mavlink.MAV_MISSION_TYPE_RALLY)):
        if items is not None:
            upload_mission(channel, items, mission_type=mission_type, timeout_s=timeout_s, retries=retries)
            say(f"{_what(mission_type)} uploaded ({len(items)} items)")
