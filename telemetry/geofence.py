"""The geofence a vehicle holds, as the ground knows it, and the ground-side breach check.

A :class:`Geofence` is built from MAV_MISSION_TYPE_FENCE items (ArduPilot's polygon fence:
MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION/_EXCLUSION with param1 = the polygon's vertex
count on every vertex, MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION/_EXCLUSION with param1 = radius in
metres, MAV_CMD_NAV_FENCE_RETURN_POINT). The breach rule is ArduPilot's
(``AC_PolyFence_loader::breached``): a position breaches the fence when it is outside any
inclusion zone or inside any exclusion zone. Polygons are tested in latitude/longitude, as
ArduPilot does; circles by geodesic distance from their centre.

:class:`FenceWatcher` learns each vehicle's fence from the transfers seen on a link: an
upload sent by this ground station (MISSION_COUNT and MISSION_ITEM_INT out, then the
vehicle's MISSION_ACK accepting it) or a download the vehicle answers (its MISSION_COUNT and
MISSION_ITEM_INT in), and a MISSION_CLEAR_ALL the vehicle accepts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Sequence

from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import Point, Polygon

from missions.items import MissionItem
from patrol.geodesy import distance_m
from telemetry.mission_protocol import item_from_wire

__all__ = ["FenceWatcher", "Geofence"]

_M = mavlink
_FENCE = _M.MAV_MISSION_TYPE_FENCE
_POLY = {_M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION: True, _M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION: False}
_CIRCLE = {_M.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION: True, _M.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION: False}


@dataclass(frozen=True)
class Geofence:
    """Inclusion and exclusion zones of a vehicle's fence (WGS84).

    Attributes
    ----------
    polygons : tuple of (Polygon, bool)
        Shapely polygons in (lon, lat) degrees, each with ``True`` for inclusion.
    circles : tuple of (lon_deg, lat_deg, radius_m, bool)
        Circles, ``True`` for inclusion.
    """

    polygons: tuple[tuple[Polygon, bool], ...] = ()
    circles: tuple[tuple[float, float, float, bool], ...] = ()

    @classmethod
    def from_items(cls, items: Sequence[MissionItem]) -> "Geofence":
        """Build from fence items in upload order.

        Raises
        ------
        ValueError
            A polygon has fewer vertices than its param1 says, or fewer than 3.

        Examples
        --------
        >>> from missions.items import fence_vertex_item
        >>> ring = [(121.0, 30.7), (121.01, 30.7), (121.01, 30.71), (121.0, 30.71)]
        >>> fence = Geofence.from_items([fence_vertex_item(x, y, 4) for x, y in ring])
        >>> fence.breach(30.705, 121.005) is None, fence.breach(30.72, 121.005)
        (True, 'outside inclusion polygon 1')
        """
        polygons: list[tuple[Polygon, bool]] = []
        circles: list[tuple[float, float, float, bool]] = []
        i = 0
        while i < len(items):
            item = items[i]
            if item.command in _POLY:
                n = int(item.param1)
                ring = items[i:i + n]
                if n < 3 or len(ring) < n or any(v.command != item.command for v in ring):
                    raise ValueError(f"fence item {i}: polygon of {n} vertices is incomplete or mixed")
                polygons.append((Polygon([(v.lon_deg, v.lat_deg) for v in ring]), _POLY[item.command]))
                i += n
                continue
            if item.command in _CIRCLE:
                circles.append((item.lon_deg, item.lat_deg, float(item.param1), _CIRCLE[item.command]))
            i += 1
        return cls(tuple(polygons), tuple(circles))

    @property
    def empty(self) -> bool:
        """True when the fence has no zone (only a return point, or nothing)."""
        return not self.polygons and not self.circles

    def breach(self, lat_deg: float, lon_deg: float) -> str | None:
        """Why a position breaches the fence (``"outside inclusion polygon 1"``...), or None."""
        point = Point(lon_deg, lat_deg)
        for k, (poly, inclusion) in enumerate(self.polygons, 1):
            inside = poly.covers(point)
            if inclusion and not inside:
                return f"outside inclusion polygon {k}"
            if not inclusion and inside:
                return f"inside exclusion polygon {k}"
        for k, (lon, lat, radius_m, inclusion) in enumerate(self.circles, 1):
            inside = distance_m(lon, lat, lon_deg, lat_deg) <= radius_m
            if inclusion and not inside:
                return f"outside inclusion circle {k}"
            if not inclusion and inside:
                return f"inside exclusion circle {k}"
        return None


class _Transfer:
    def __init__(self, count: int) -> None:
        self.count = count
        self.items: dict[int, MissionItem] = {}

    def complete(self) -> list[MissionItem] | None:
        if len(self.items) < self.count:
            return None
        return [self.items[k] for k in range(self.count)]


class FenceWatcher:
    """The fence of each vehicle (system id) on one link, learnt from fence transfers.

    Feed it every message sent on the link (:meth:`sent`) and every message received
    (:meth:`received`); thread-safe (commands send from their own threads).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[int, _Transfer] = {}
        self._downloads: dict[int, _Transfer] = {}
        self._clearing: set[int] = set()
        self.fences: dict[int, Geofence] = {}

    def fence(self, system_id: int) -> Geofence | None:
        """The vehicle's fence, or None when unknown (or empty)."""
        fence = self.fences.get(system_id)
        return None if fence is None or fence.empty else fence

    def set(self, system_id: int, items: Sequence[MissionItem]) -> None:
        """Declare the vehicle's fence (items as uploaded). Raises ValueError for a malformed one."""
        with self._lock:
            self.fences[system_id] = Geofence.from_items(items)

    def sent(self, msg: Any) -> None:
        """A message this ground station sent on the link."""
        kind = msg.get_type()
        if getattr(msg, "mission_type", 0) != _FENCE or kind not in ("MISSION_COUNT", "MISSION_ITEM_INT",
                                                                     "MISSION_ITEM", "MISSION_CLEAR_ALL"):
            return
        with self._lock:
            target = msg.target_system
            if kind == "MISSION_COUNT":
                self._uploads[target] = _Transfer(msg.count)
            elif kind == "MISSION_CLEAR_ALL":
                self._clearing.add(target)
            elif target in self._uploads:
                self._uploads[target].items[msg.seq] = item_from_wire(msg)

    def received(self, msg: Any) -> None:
        """A message received on the link."""
        kind = msg.get_type()
        if getattr(msg, "mission_type", 0) != _FENCE or kind not in ("MISSION_ACK", "MISSION_COUNT",
                                                                     "MISSION_ITEM_INT", "MISSION_ITEM"):
            return
        sysid = msg.get_srcSystem()
        with self._lock:
            if kind == "MISSION_ACK":
                upload = self._uploads.pop(sysid, None)
                accepted = msg.type == _M.MAV_MISSION_ACCEPTED
                if accepted and sysid in self._clearing:
                    self.fences[sysid] = Geofence()
                self._clearing.discard(sysid)
                items = upload.complete() if upload is not None else None
                if accepted and items is not None:
                    self._install(sysid, items)
            elif kind == "MISSION_COUNT":
                self._downloads[sysid] = _Transfer(msg.count)
                if msg.count == 0:
                    self._install(sysid, [])
            elif sysid in self._downloads:
                download = self._downloads[sysid]
                download.items[msg.seq] = item_from_wire(msg)
                items = download.complete()
                if items is not None:
                    del self._downloads[sysid]
                    self._install(sysid, items)

    def _install(self, sysid: int, items: list[MissionItem]) -> None:
        try:
            self.fences[sysid] = Geofence.from_items(items)
        except ValueError:
            self.fences.pop(sysid, None)     # a fence the vehicle would not take either: unknown
