"""What a mission file holds once read: items, home, geofence, rally points, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import Polygon

from missions.items import MissionItem

__all__ = ["MissionFile"]


@dataclass
class MissionFile:
    """A mission read from a QGroundControl ``.plan`` or a ``QGC WPL 110`` file.

    Attributes
    ----------
    path : Path
        The file read.
    format : str
        ``"plan"`` or ``"waypoints"``.
    items : list of MissionItem
        The mission with item 0 = home (ArduPilot convention; for a ``.plan`` it is made from
        ``plannedHomePosition``).
    home_wgs84 : (lon, lat, alt_amsl_m) or None
        Home as the file gives it.
    geofence_polygons : list of (Polygon, bool)
        Fence polygons (WGS84) and whether each is an inclusion zone.
    geofence_circles : list of ((lon, lat), radius_m, bool)
        Fence circles and whether each is an inclusion zone.
    rally_points : list of (lon, lat, alt_rel_m)
    complex_items : list of dict
        QGroundControl complex items (survey, corridor scan, structure scan): ``index``,
        ``type``, ``geometry`` (shapely, WGS84) and ``settings`` (the item's other fields).
    notes : list of str
        What was expanded, skipped or assumed while reading.
    """

    path: Path
    format: str
    items: list[MissionItem]
    home_wgs84: tuple[float, float, float] | None = None
    geofence_polygons: list[tuple[Polygon, bool]] = field(default_factory=list)
    geofence_circles: list[tuple[tuple[float, float], float, bool]] = field(default_factory=list)
    rally_points: list[tuple[float, float, float]] = field(default_factory=list)
    complex_items: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
