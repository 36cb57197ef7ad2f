"""One view of a route for the file writers, and the notes a writer keeps of what it lost.

A route reaches the writers (:mod:`missions.kml_route`, :mod:`missions.wpml`,
:mod:`missions.convert`) as a planned :class:`~missions.plan.RoutePlan`, a
:class:`~missions.mission_file.MissionFile` read from disk, or a bare list of mission items
(item 0 = home). :func:`route_data` turns any of them into a :class:`RouteData`; each writer
records in a :class:`Notes` every item or parameter its format cannot carry (``dropped``) or
carries in another form (``approximated``), naming the mission item.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import Polygon

from missions.errors import PlanFileError
from missions.items import MissionItem
from missions.mission_file import MissionFile
from missions.plan import RoutePlan
from patrol.geodesy import WGS84

__all__ = ["RouteData", "SurveySettings", "Notes", "route_data", "item_ranges", "finite",
           "has_location", "write_zip", "num_text"]

LonLat = tuple[float, float]


@dataclass(frozen=True)
class SurveySettings:
    """What a survey template (DJI ``mapping2d``) needs to regenerate the survey.

    Attributes
    ----------
    area_wgs84 : shapely Polygon
        The surveyed area (lon/lat degrees); its holes are no-fly zones.
    alt_rel_m : float or None
        Flight height above take-off (m).
    front_overlap, side_overlap : float or None
        Photo overlaps as fractions 0-1 (None when the source does not say).
    direction_deg : float or None
        Direction of the survey lines, degrees clockwise from true north.
    source : str
        Where the settings came from (``"RoutePlan"`` or ``"QGC survey ComplexItem"``).
    """

    area_wgs84: Polygon
    alt_rel_m: float | None
    front_overlap: float | None
    side_overlap: float | None
    direction_deg: float | None
    source: str


@dataclass
class RouteData:
    """A route as the writers see it.

    Attributes
    ----------
    name : str
        Display name (plan pattern or file stem).
    items : list of MissionItem
        The mission, item 0 = home (MAV_FRAME_GLOBAL, altitude above mean sea level).
    geofence_polygons : list of (Polygon, bool)
        Fence polygons (WGS84) and whether each is an inclusion zone.
    geofence_circles : list of ((lon, lat), radius_m, bool)
    rally_points : list of (lon, lat, alt_rel_m)
    complex_items : list of dict
        QGroundControl ComplexItems of a read ``.plan`` (see :class:`MissionFile`).
    photo_positions_wgs84 : list of (lon, lat)
        Planned photo positions (RoutePlan only).
    survey : SurveySettings or None
        Survey settings when the route is a survey with a known area.
    speed_m_s : float or None
        The planned ground speed, if the source states one.
    """

    name: str
    items: list[MissionItem]
    geofence_polygons: list[tuple[Polygon, bool]] = field(default_factory=list)
    geofence_circles: list[tuple[LonLat, float, bool]] = field(default_factory=list)
    rally_points: list[tuple[float, float, float]] = field(default_factory=list)
    complex_items: list[dict[str, Any]] = field(default_factory=list)
    photo_positions_wgs84: list[LonLat] = field(default_factory=list)
    survey: SurveySettings | None = None
    speed_m_s: float | None = None

    @property
    def home(self) -> MissionItem:
        """Item 0."""
        return self.items[0]


def _plan_survey(plan: RoutePlan, area: Polygon | None) -> SurveySettings | None:
    if plan.pattern != "survey":
        return None
    for candidate in (area, getattr(plan, "area_wgs84", None),
                      getattr(plan, "fence_area_wgs84", None)):
        if candidate is not None:
            area = candidate
            break
    if not isinstance(area, Polygon) or area.is_empty:
        return None
    grid = plan.stats.get("sweep_angle_deg", plan.params.get("sweep_angle_deg"))
    return SurveySettings(
        area_wgs84=area, alt_rel_m=plan.stats.get("alt_rel_m", plan.params.get("alt_rel_m")),
        front_overlap=plan.params.get("front_overlap"),
        side_overlap=plan.params.get("side_overlap"),
        direction_deg=None if grid is None else _true_bearing(plan, area, float(grid)),
        source="RoutePlan")


def _true_bearing(plan: RoutePlan, area: Polygon, grid_deg: float) -> float:
    """The plan's sweep angle (clockwise from the UTM grid's north) as a bearing from true
    north at the area's centroid (they differ by the meridian convergence, about 1 degree
    per 2 degrees of longitude from the zone's central meridian at mid latitudes)."""
    c = area.centroid
    proj = plan.projection
    x, y = proj.to_xy(c.x, c.y)
    a = math.radians(grid_deg)
    lon2, lat2 = proj.to_lonlat(x + 1000.0 * math.sin(a), y + 1000.0 * math.cos(a))
    return float(WGS84.inv(c.x, c.y, lon2, lat2)[0]) % 360.0


def _percent(value: Any) -> float | None:
    return float(value) / 100.0 if isinstance(value, (int, float)) and 0 <= value < 100 else None


def _qgc_survey(complex_items: Sequence[dict[str, Any]]) -> SurveySettings | None:
    for ci in complex_items:
        if ci.get("type") != "survey" or not isinstance(ci.get("geometry"), Polygon):
            continue
        settings = ci.get("settings") or {}
        cam = settings.get("CameraCalc") if isinstance(settings.get("CameraCalc"), dict) else {}
        alt = cam.get("DistanceToSurface")
        angle = settings.get("angle")
        return SurveySettings(
            area_wgs84=ci["geometry"],
            alt_rel_m=float(alt) if isinstance(alt, (int, float)) else None,
            front_overlap=_percent(cam.get("FrontalOverlap")),
            side_overlap=_percent(cam.get("SideOverlap")),
            direction_deg=float(angle) if isinstance(angle, (int, float)) else None,
            source="QGC survey ComplexItem")
    return None


def route_data(route: RoutePlan | MissionFile | Sequence[MissionItem], *,
               area: Polygon | None = None,
               rally_points: Sequence[tuple[float, float, float]] | None = None) -> RouteData:
    """The :class:`RouteData` of a RoutePlan, a MissionFile or a list of items.

    Parameters
    ----------
    route : RoutePlan, MissionFile or sequence of MissionItem
        For a RoutePlan the geofence is its inclusion fence plus its no-fly zones as
        exclusions, and its rally points are ``rally_points`` or the plan's
        ``rally_points_wgs84`` attribute if it has one.
    area : shapely Polygon, optional
        The surveyed area of a survey RoutePlan (default: its ``area_wgs84`` attribute if it
        has one, else its ``fence_area_wgs84``, which for a survey is the area); a Polygon
        enables the DJI ``mapping2d`` template. A MissionFile's area is its QGC
        survey ComplexItem's polygon.
    rally_points : sequence of (lon, lat, alt_rel_m), optional
        Rally points overriding the route's own.

    Raises
    ------
    PlanFileError
        If the route has no items (item 0, home, is required).
    """
    if isinstance(route, RoutePlan):
        fences = ([(route.geofence_inclusion_wgs84, True)]
                  if route.geofence_inclusion_wgs84 is not None else [])
        fences += [(p, False) for p in route.no_fly_wgs84]
        rally = list(rally_points if rally_points is not None
                     else getattr(route, "rally_points_wgs84", None) or [])
        data = RouteData(name=f"{route.pattern} route", items=list(route.items),
                         geofence_polygons=fences, rally_points=rally,
                         photo_positions_wgs84=list(route.photo_positions_wgs84),
                         survey=_plan_survey(route, area),
                         speed_m_s=route.stats.get("speed_m_s", route.params.get("speed_m_s")))
    elif isinstance(route, MissionFile):
        data = RouteData(name=route.path.stem, items=list(route.items),
                         geofence_polygons=list(route.geofence_polygons),
                         geofence_circles=list(route.geofence_circles),
                         rally_points=list(rally_points if rally_points is not None
                                           else route.rally_points),
                         complex_items=list(route.complex_items),
                         survey=_qgc_survey(route.complex_items))
    else:
        data = RouteData(name="mission", items=list(route),
                         rally_points=list(rally_points or []))
    if not data.items:
        raise PlanFileError("a route needs at least item 0 (home)")
    return data


def item_ranges(indices: Sequence[int]) -> str:
    """``"item 3"`` or ``"items 2-5, 9"`` for mission item indices.

    >>> item_ranges([9, 2, 3, 4, 5]), item_ranges([7])
    ('items 2-5, 9', 'item 7')
    """
    idx = sorted(set(indices))
    parts, start = [], None
    for k, i in enumerate(idx):
        if start is None:
            start = i
        if k + 1 == len(idx) or idx[k + 1] != i + 1:
            parts.append(str(start) if start == i else f"{start}-{i}")
            start = None
    return ("item " if len(idx) == 1 else "items ") + ", ".join(parts)


class Notes:
    """What a writer (or reader) could not keep exactly, grouped by message.

    ``drop(message, item)`` and ``approx(message, item)`` collect the mission item indices
    that share a message, so a survey with 400 waypoints gives one line, not 400.

    >>> n = Notes()
    >>> for i in (3, 4, 5):
    ...     n.drop("MAV_CMD_NAV_WAYPOINT param2 (acceptance radius): no WPML equivalent", i)
    >>> n.drop("geofence: 2 polygons dropped: QGC WPL 110 has no geofence")
    >>> n.dropped
    ['items 3-5: MAV_CMD_NAV_WAYPOINT param2 (acceptance radius): no WPML equivalent', \
'geofence: 2 polygons dropped: QGC WPL 110 has no geofence']
    """

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], list[int]] = {}

    def _add(self, kind: str, message: str, item: int | None) -> None:
        indices = self._groups.setdefault((kind, message), [])
        if item is not None:
            indices.append(int(item))

    def drop(self, message: str, item: int | None = None) -> None:
        """Something the format cannot carry at all."""
        self._add("dropped", message, item)

    def approx(self, message: str, item: int | None = None) -> None:
        """Something carried in another form (read back differently)."""
        self._add("approximated", message, item)

    def _lines(self, kind: str) -> list[str]:
        return [f"{item_ranges(idx)}: {msg}" if idx else msg
                for (k, msg), idx in self._groups.items() if k == kind]

    @property
    def dropped(self) -> list[str]:
        """One line per message: what was dropped, with the items concerned."""
        return self._lines("dropped")

    @property
    def approximated(self) -> list[str]:
        """One line per message: what was carried in another form."""
        return self._lines("approximated")

    def all(self) -> list[str]:
        """Dropped lines, then approximated lines."""
        return self.dropped + self.approximated


def finite(value: float) -> bool:
    """Whether ``value`` is a finite number (not NaN or infinite)."""
    return isinstance(value, (int, float)) and math.isfinite(value)


def has_location(item: MissionItem) -> bool:
    """Whether the item's x/y is a place: a NAV command with a position, a take-off or a
    MAV_CMD_DO_SET_ROI_LOCATION, with finite coordinates other than (0, 0) (MAVLink's
    "here")."""
    located = item.has_position or item.command in (mavlink.MAV_CMD_NAV_TAKEOFF,
                                                    mavlink.MAV_CMD_DO_SET_ROI_LOCATION)
    return (located and finite(item.lat_deg) and finite(item.lon_deg)
            and (item.lat_deg, item.lon_deg) != (0.0, 0.0))


def write_zip(path: str | Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (archive name -> content) as a deflated zip (KMZ); returns the path."""
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return path


def num_text(value: float) -> str:
    """Full-precision text of a number for XML files (``repr``, so it reads back to the same
    float; NaN as ``nan``).

    >>> num_text(30.7005), num_text(80), num_text(float("nan"))
    ('30.7005', '80.0', 'nan')
    """
    value = float(value)
    return "nan" if math.isnan(value) else repr(value)
