"""The mission protocol, vehicle side, for missions, geofences and rally points.

As ArduPilot's ``MissionItemProtocol`` runs it (one transfer state per MAV_MISSION_TYPE,
shared by every link):

- Upload: MISSION_COUNT -> MISSION_REQUEST for item 0 (MISSION_REQUEST, not
  MISSION_REQUEST_INT, as ArduCopter 4.6.3 asks in the SITL recording) -> each
  MISSION_ITEM_INT (or MISSION_ITEM) -> MISSION_REQUEST for the next -> MISSION_ACK. The last
  request is sent again after :data:`REQUEST_RESEND_S` without an item; 8 s without one
  cancels the upload ("Mission upload timeout", "Fence upload timeout" or "Rally upload
  timeout", then MAV_MISSION_OPERATION_CANCELLED). An item out of sequence is answered with
  MAV_MISSION_INVALID_SEQUENCE and the upload goes on; an item the vehicle cannot take ends it
  with the reason (:mod:`telemetry.sim.storage`); an item when no upload runs gets
  MAV_MISSION_ERROR; a MISSION_COUNT above the capacity gets MAV_MISSION_NO_SPACE; another
  ground station's MISSION_COUNT during an upload gets MAV_MISSION_DENIED.
- Download: MISSION_REQUEST_LIST -> MISSION_COUNT; MISSION_REQUEST_INT -> MISSION_ITEM_INT,
  MISSION_REQUEST -> MISSION_ITEM; refused with MAV_MISSION_DENIED while that type uploads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from missions.items import MissionItem
from telemetry.mission_protocol import item_from_wire
from telemetry.sim import storage

if TYPE_CHECKING:
    from telemetry.sim.protocol import Channel, SimProtocol

__all__ = ["MissionTransfers", "Upload", "tick_uploads"]

#: Wall seconds without an item before the request is sent again. ArduPilot waits 1 s plus its
#: stream slow-down (up to 2 s more on a congested radio); 1.5 s here keeps the simulator, which
#: shares the machine (often the process) with the ground station, from asking twice under load.
REQUEST_RESEND_S = 1.5
UPLOAD_TIMEOUT_S = 8.0     # ArduPilot: upload_timeout_ms = 8000 since the last item
_TIMEOUT_TEXT = {mavlink.MAV_MISSION_TYPE_MISSION: "Mission upload timeout",
                 mavlink.MAV_MISSION_TYPE_FENCE: "Fence upload timeout",
                 mavlink.MAV_MISSION_TYPE_RALLY: "Rally upload timeout"}
_TYPES = frozenset(_TIMEOUT_TEXT)


@dataclass
class Upload:
    """One upload in progress: who sends it, on which channel, and what has arrived (wall s)."""

    channel: "Channel"
    mission_type: int
    count: int
    peer: tuple[int, int]
    asked_at: float
    received_at: float
    items: list[MissionItem] = field(default_factory=list)

    def ask(self) -> None:
        self.channel.send(self.channel.mav.mission_request_encode(*self.peer, len(self.items), self.mission_type))


def tick_uploads(proto: "SimProtocol", now: float) -> None:
    """Ask again for a missing item after :data:`REQUEST_RESEND_S`; cancel after :data:`UPLOAD_TIMEOUT_S`."""
    for mission_type, up in list(proto.uploads.items()):
        if now - up.received_at > UPLOAD_TIMEOUT_S:
            del proto.uploads[mission_type]
            up.channel.send(up.channel.mav.statustext_encode(mavlink.MAV_SEVERITY_WARNING,
                                                             _TIMEOUT_TEXT[mission_type].encode()))
            up.channel.send(up.channel.mav.mission_ack_encode(*up.peer, mavlink.MAV_MISSION_OPERATION_CANCELLED,
                                                              mission_type))
        elif now - up.asked_at > REQUEST_RESEND_S:
            up.asked_at = now
            up.ask()


class MissionTransfers:
    """MISSION_* handlers of :class:`~telemetry.sim.protocol.Channel` (a mixin: it uses the
    channel's ``proto``, ``mav``, ``send`` and ``wall``)."""

    def _mission_ack(self, peer: tuple[int, int], result: int, mission_type: int) -> None:
        self.proto.send_events()            # the reason (STATUSTEXT) goes out before the ACK, as ArduPilot does
        self.send(self.mav.mission_ack_encode(*peer, result, mission_type))

    def _unsupported(self, peer: tuple[int, int], mission_type: int) -> bool:
        """Answer MAV_MISSION_UNSUPPORTED to a type other than mission, fence and rally."""
        if mission_type in _TYPES:
            return False
        self._mission_ack(peer, mavlink.MAV_MISSION_UNSUPPORTED, mission_type)
        return True

    def on_mission_count(self, msg: Any) -> None:
        mission_type = getattr(msg, "mission_type", 0)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        proto = self.proto
        if self._unsupported(peer, mission_type):
            return
        running = proto.uploads.get(mission_type)
        if running is not None and running.peer != peer:
            self._mission_ack(peer, mavlink.MAV_MISSION_DENIED, mission_type)
            return
        proto.uploads.pop(mission_type, None)          # the same ground station starts again
        limit = proto.max_items.get(mission_type)
        if limit is not None and msg.count > limit:
            proto.announce_text(mavlink.MAV_SEVERITY_WARNING, f"Only {limit} items are supported")
            self._mission_ack(peer, mavlink.MAV_MISSION_NO_SPACE, mission_type)
            return
        now = self.wall()
        up = Upload(self, mission_type, msg.count, peer, now, now)
        if msg.count == 0:
            self._finish(up)
            return
        proto.uploads[mission_type] = up
        up.ask()

    def on_mission_item(self, msg: Any) -> None:
        mission_type = getattr(msg, "mission_type", 0)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        if self._unsupported(peer, mission_type):
            return
        up = self.proto.uploads.get(mission_type)
        if up is None:
            self._mission_ack(peer, mavlink.MAV_MISSION_ERROR, mission_type)
            return
        if msg.seq != len(up.items):
            self._mission_ack(peer, mavlink.MAV_MISSION_INVALID_SEQUENCE, mission_type)
            return
        if peer != up.peer:
            self._mission_ack(peer, mavlink.MAV_MISSION_DENIED, mission_type)
            return
        item = item_from_wire(msg)
        result = storage.check_item(mission_type, item)
        if result != mavlink.MAV_MISSION_ACCEPTED:
            del self.proto.uploads[mission_type]
            self._mission_ack(peer, result, mission_type)
            return
        up.items.append(storage.stored_item(mission_type, item))
        up.asked_at = up.received_at = self.wall()
        if len(up.items) < up.count:
            up.ask()
            return
        del self.proto.uploads[mission_type]
        self._finish(up)

    def _finish(self, up: Upload) -> None:
        result, texts = storage.complete(up.mission_type, up.items)
        for severity, text in texts:
            self.proto.announce_text(severity, text)
        if result == mavlink.MAV_MISSION_ACCEPTED:
            self.proto.store_mission(up.mission_type, up.items)
        self._mission_ack(up.peer, result, up.mission_type)

    def _may_download(self, peer: tuple[int, int], mission_type: int) -> bool:
        """False (answered) for a type the vehicle lacks or one being uploaded (DENIED)."""
        if self._unsupported(peer, mission_type):
            return False
        if mission_type in self.proto.uploads:
            self._mission_ack(peer, mavlink.MAV_MISSION_DENIED, mission_type)
            return False
        return True

    def on_mission_request_list(self, msg: Any) -> None:
        mission_type = getattr(msg, "mission_type", 0)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        if not self._may_download(peer, mission_type):
            return
        self.send(self.mav.mission_count_encode(*peer, len(self.proto.items(mission_type)), mission_type))

    def on_mission_request(self, msg: Any) -> None:
        mission_type = getattr(msg, "mission_type", 0)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        if not self._may_download(peer, mission_type):
            return
        items = self.proto.items(mission_type)
        refused = storage.download_error(mission_type, msg.seq, len(items))
        if refused is not None:
            if mission_type == mavlink.MAV_MISSION_TYPE_MISSION:    # ArduPilot tells the true size first
                self.send(self.mav.mission_count_encode(*peer, len(items), mission_type))
            self._mission_ack(peer, refused, mission_type)
            return
        it = items[msg.seq]
        current = int(mission_type == mavlink.MAV_MISSION_TYPE_MISSION and msg.seq == self.vehicle.mission_seq)
        fields = (msg.seq, it.frame, it.command, current, int(it.autocontinue),
                  it.param1, it.param2, it.param3, it.param4)
        if msg.get_type() == "MISSION_REQUEST_INT":
            self.send(self.mav.mission_item_int_encode(*peer, *fields, int(round(it.lat_deg * 1e7)),
                                                       int(round(it.lon_deg * 1e7)), it.alt_m, mission_type))
        else:
            self.send(self.mav.mission_item_encode(*peer, *fields, it.lat_deg, it.lon_deg, it.alt_m, mission_type))

    def on_mission_clear_all(self, msg: Any) -> None:
        """Clear one type, or every type with MAV_MISSION_TYPE_ALL."""
        mission_type = getattr(msg, "mission_type", 0)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        types = _TYPES if mission_type == mavlink.MAV_MISSION_TYPE_ALL else {mission_type}
        if mission_type != mavlink.MAV_MISSION_TYPE_ALL and self._unsupported(peer, mission_type):
            return
        if types & self.proto.uploads.keys():
            self._mission_ack(peer, mavlink.MAV_MISSION_ERROR, mission_type)
            return
        for t in types:
            self.proto.store_mission(t, [])
        self._mission_ack(peer, mavlink.MAV_MISSION_ACCEPTED, mission_type)
