"""A planned route (:class:`RoutePlan`) and the builder that turns legs into mission items.

The builder works in projected metres (UTM, :class:`patrol.geodesy.LocalProjection`): the
route patterns hand it transits, camera passes and points of interest; it emits the MAVLink
items (home, take-off, speed, waypoints, camera trigger distance, ROI, return to launch), the
flown polyline and the photo positions, and converts them to WGS84 once at the end.

Flight-time estimate: path length / speed, plus for every turn sharper than
:data:`TURN_MIN_DEG` the time lost braking to a stop and accelerating again (speed / acceleration),
plus the climb to take-off altitude and the final descent. The rates are ArduCopter's defaults
(Copter parameter list, https://ardupilot.org/copter/docs/parameters.html): WPNAV_ACCEL
250 cm/s/s, WPNAV_SPEED_UP 250 cm/s, WPNAV_SPEED_DN 150 cm/s, LAND_SPEED 50 cm/s below
LAND_ALT_LOW 10 m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from missions.errors import MissionError
from missions.items import (
    MissionItem,
    cam_trigg_dist_item,
    change_speed_item,
    image_capture_item,
    home_item,
    roi_location_item,
    roi_none_item,
    rtl_item,
    takeoff_item,
    waypoint_item,
)
from missions.routing import FreeSpace
from patrol.geodesy import LocalProjection, path_length_m

__all__ = ["RoutePlan", "RouteBuilder", "PHOTO_MODES", "TURN_MIN_DEG", "FENCE_MARGIN_M", "count_turns",
           "estimate_flight_time_s", "footprint_rectangles", "heading_deg", "photos_along"]

XY = tuple[float, float]
LonLat = tuple[float, float]

#: A change of heading above this at a waypoint counts as a turn (degrees).
TURN_MIN_DEG = 30.0
_ACCEL_M_S2 = 2.5
_CLIMB_M_S = 2.5
_DESCENT_M_S = 1.5
_LAND_M_S = 0.5
_LAND_ALT_LOW_M = 10.0
#: How photos are taken: ``"distance"`` (MAV_CMD_DO_SET_CAM_TRIGG_DIST on along each pass)
#: or ``"waypoint"`` (a waypoint at every photo position, MAV_CMD_IMAGE_START_CAPTURE there:
#: the vehicle need not support distance triggering, at the price of more items).
PHOTO_MODES = ("distance", "waypoint")
#: Default distance in metres the geofence inclusion polygon keeps around the area and path.
FENCE_MARGIN_M = 30.0


@dataclass
class RoutePlan:
    """A planned route.

    Attributes
    ----------
    pattern : str
        ``"survey"``, ``"corridor"`` or ``"orbit"``.
    items : list of MissionItem
        The mission; item 0 is home (ArduPilot convention).
    path_wgs84 : list of (lon, lat)
        The flown polyline in degrees, home to home, transits included.
    photo_positions_wgs84 : list of (lon, lat)
        Where the camera fires (trigger distance along each pass, plus both ends).
    photo_headings_deg : list of float
        Track heading at each photo, degrees clockwise from north.
    footprint_m : (across_m, along_m) or None
        Ground footprint of one photo (None without a camera model).
    passes_wgs84 : list of list of (lon, lat)
        The stretches flown with the camera on (survey/corridor passes, orbit loop).
    stats : dict
        ``path_length_m`` (home to home), ``pattern_path_m`` (from the start of the first
        pass to the end of the last), ``est_flight_time_s``, ``photo_count``, ``gsd_cm_px``,
        ``alt_rel_m``, ``line_spacing_m``, ``trigger_distance_m``, ``coverage_fraction``,
        ``turns``, ``sorties`` (1, or how many :func:`missions.sorties.split_sorties` cut the
        route into), ``planning_ms`` and pattern-specific figures; a figure that does not
        apply (no camera, an orbit's coverage) is absent rather than None. A sortie also has
        ``sortie_index`` (1-based) and ``sortie_count``.
    params : dict
        The inputs the plan was made with (camera, altitudes, overlaps, speed ...).
    home_wgs84 : (lon, lat)
        Home (take-off and return point).
    epsg : int
        The projected CRS the plan was computed in.
    no_fly_wgs84 : list of shapely Polygon
        The no-fly zones the plan keeps out of (area holes and the given zones).
    geofence_inclusion_wgs84 : shapely Polygon or None
        Inclusion fence: the area and the whole flown path grown by a margin
        (:data:`FENCE_MARGIN_M` unless :func:`missions.safety.apply_safety` is given another).
    rally_points_wgs84 : list of (lon, lat, alt_rel_m)
        Rally points (home first, then points spread along the route outside the no-fly
        zones; :func:`missions.safety.apply_safety`).
    fence_area_wgs84 : shapely geometry or None
        What the inclusion fence must contain besides the path (the survey area, the corridor,
        the orbit circle), kept so the fence can be redrawn with another margin.
    """

    pattern: str
    items: list[MissionItem]
    path_wgs84: list[LonLat]
    photo_positions_wgs84: list[LonLat]
    photo_headings_deg: list[float]
    footprint_m: tuple[float, float] | None
    passes_wgs84: list[list[LonLat]]
    stats: dict[str, Any]
    params: dict[str, Any]
    home_wgs84: LonLat
    epsg: int
    no_fly_wgs84: list[Polygon] = field(default_factory=list)
    geofence_inclusion_wgs84: Polygon | None = None
    rally_points_wgs84: list[tuple[float, float, float]] = field(default_factory=list)
    fence_area_wgs84: BaseGeometry | None = None

    @property
    def projection(self) -> LocalProjection:
        """The projection the plan was computed in."""
        return LocalProjection(self.epsg)

    def footprints_wgs84(self) -> list[Polygon]:
        """Ground footprint rectangle of every photo (WGS84), oriented along the track."""
        if self.footprint_m is None or not self.photo_positions_wgs84:
            return []
        proj = self.projection
        xy = np.column_stack(proj.to_xy(*np.asarray(self.photo_positions_wgs84).T))
        polys = footprint_rectangles(xy, self.photo_headings_deg, *self.footprint_m)
        return [proj.unproject(p) for p in polys]


def footprint_rectangles(xy: np.ndarray, headings_deg: Sequence[float], across_m: float,
                         along_m: float) -> list[Polygon]:
    """Footprint rectangles (projected metres) centred at ``xy`` (N, 2), long axis ``along_m``
    on the track heading (degrees clockwise from north)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    t = np.radians(np.asarray(headings_deg, dtype=float))
    # unit vectors along the track (heading clockwise from north) and across it, (N, 2)
    along = np.column_stack([np.sin(t), np.cos(t)]) * (0.5 * along_m)
    across = np.column_stack([np.cos(t), -np.sin(t)]) * (0.5 * across_m)
    corners = np.stack([xy - across - along, xy + across - along, xy + across + along,
                        xy - across + along, xy - across - along], axis=1)
    return list(shapely.polygons(corners))


def heading_deg(a: XY, b: XY) -> float:
    """Grid heading from ``a`` to ``b``, degrees clockwise from north in [0, 360).

    >>> heading_deg((0, 0), (10, 0)), heading_deg((0, 0), (0, -10))
    (90.0, 180.0)
    """
    return math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360.0


def count_turns(path_xy: Sequence[XY], min_deg: float = TURN_MIN_DEG) -> int:
    """Number of vertices of a polyline where the heading changes by more than ``min_deg``.

    >>> count_turns([(0, 0), (0, 100), (40, 100), (40, 0), (40, -50), (45, -100)])
    2
    """
    pts = [p for i, p in enumerate(path_xy) if i == 0 or math.dist(p, path_xy[i - 1]) > 0.01]
    turns = 0
    for a, b, c in zip(pts, pts[1:], pts[2:]):
        d = abs((heading_deg(b, c) - heading_deg(a, b) + 180.0) % 360.0 - 180.0)
        turns += d > min_deg
    return turns


def estimate_flight_time_s(path_m: float, turns: int, speed_m_s: float,
                           takeoff_alt_m: float, alt_rel_m: float) -> float:
    """Flight-time estimate in seconds (see the module notes for the model and its sources).

    >>> estimate_flight_time_s(1000.0, 2, 10.0, 50.0, 50.0)  # 100 + 8 + 20 + 26.7 + 20
    174.66666666666669
    """
    cruise = path_m / speed_m_s
    turning = turns * speed_m_s / _ACCEL_M_S2
    climb = takeoff_alt_m / _CLIMB_M_S + max(0.0, alt_rel_m - takeoff_alt_m) / _CLIMB_M_S
    high = max(0.0, alt_rel_m - _LAND_ALT_LOW_M)
    descent = high / _DESCENT_M_S + min(alt_rel_m, _LAND_ALT_LOW_M) / _LAND_M_S
    return cruise + turning + climb + descent


def photos_along(coords: Sequence[XY], trigger_m: float) -> tuple[list[XY], list[float]]:
    """Photo positions and headings along a polyline: one at the start, one every
    ``trigger_m`` metres travelled, one at the end (MAV_CMD_DO_SET_CAM_TRIGG_DIST with
    "trigger once immediately" when switched on and off)."""
    line = LineString(coords)
    total = line.length
    if total < 1e-6:
        return [tuple(coords[0])], [0.0]
    dists = list(np.arange(0.0, total, trigger_m))
    if total - dists[-1] > 1e-3:
        dists.append(total)
    cum = np.concatenate([[0.0], np.cumsum([math.dist(a, b) for a, b in zip(coords, coords[1:])])])
    pos, heads = [], []
    for d in dists:
        p = line.interpolate(d)
        seg = min(int(np.searchsorted(cum, d, side="right")) - 1, len(coords) - 2)
        while seg > 0 and cum[seg + 1] - cum[seg] < 1e-9:
            seg -= 1
        pos.append((p.x, p.y))
        heads.append(heading_deg(coords[seg], coords[seg + 1]))
    return pos, heads


class RouteBuilder:
    """Accumulates a route in projected metres and emits mission items.

    Parameters
    ----------
    proj : LocalProjection
        The projection of the work.
    free : FreeSpace
        No-fly zones; transits go around them.
    home_xy : (x, y)
        Home in projected metres.
    alt_rel_m, takeoff_alt_m : float
        Cruise and take-off altitude above home (m).
    speed_m_s : float
        Ground speed set by MAV_CMD_DO_CHANGE_SPEED.
    """

    def __init__(self, proj: LocalProjection, free: FreeSpace, *, home_xy: XY, alt_rel_m: float,
                 takeoff_alt_m: float, speed_m_s: float, home_wgs84: LonLat | None = None,
                 photo_mode: str = "distance") -> None:
        if photo_mode not in PHOTO_MODES:
            raise MissionError(f"photo_mode must be one of {', '.join(PHOTO_MODES)}, "
                               f"got {photo_mode!r}")
        self.photo_mode = photo_mode
        self.proj, self.free = proj, free
        self.home_xy = (float(home_xy[0]), float(home_xy[1]))
        self.home_wgs84 = home_wgs84 if home_wgs84 is not None else tuple(
            float(v) for v in proj.to_lonlat(*self.home_xy))
        self.alt_rel_m, self.takeoff_alt_m, self.speed_m_s = alt_rel_m, takeoff_alt_m, speed_m_s
        self._items: list[MissionItem | tuple] = [
            ("home", *self.home_xy, 0.0, self.home_wgs84),
            ("takeoff", *self.home_xy, takeoff_alt_m, self.home_wgs84),
            change_speed_item(speed_m_s),
        ]
        self.path: list[XY] = [self.home_xy]
        self.photos: list[XY] = []
        self.headings: list[float] = []
        self.passes: list[list[XY]] = []
        self._pattern_span: list[int] = []  # path indices of the first pass start, last pass end

    @property
    def position(self) -> XY:
        return self.path[-1]

    def waypoint(self, xy: XY) -> None:
        """Fly straight to ``xy`` (the caller knows the leg is free)."""
        xy = (float(xy[0]), float(xy[1]))
        if math.dist(xy, self.position) < 0.01:
            return
        self._items.append(("wp", *xy, self.alt_rel_m, None))
        self.path.append(xy)

    def transit_to(self, xy: XY) -> None:
        """Fly to ``xy`` by the shortest leg that keeps out of the no-fly zones."""
        for p in self.free.path(self.position, (float(xy[0]), float(xy[1])))[1:]:
            self.waypoint(p)

    def camera_pass(self, coords: Sequence[XY], trigger_m: float | None, *,
                    lead_in: XY | None = None, lead_out: XY | None = None,
                    final_photo: bool = True) -> None:
        """Fly a pass with the camera on (a photo every ``trigger_m`` metres, and at both ends;
        by distance trigger or at a waypoint per photo, as the builder's ``photo_mode`` says).

        ``lead_in``/``lead_out`` are turnaround points flown before/after with the camera off;
        ``final_photo=False`` switches the camera off without the photo at the end (a closed
        loop, whose end is its start).
        Legs inside the pass are not re-checked: the pattern clipped them out of the zones.
        """
        coords = [(float(x), float(y)) for x, y in coords]
        if lead_in is not None:
            self.transit_to(lead_in)
            self.waypoint(coords[0])
        else:
            self.transit_to(coords[0])
        if not self._pattern_span:
            self._pattern_span.append(len(self.path) - 1)
        length = sum(math.dist(a, b) for a, b in zip(coords, coords[1:]))
        if trigger_m and self.photo_mode == "waypoint":
            pos, heads = photos_along(coords, trigger_m) if length >= 1e-3 else ([coords[0]], [0.0])
            if not final_photo and len(pos) > 1 and math.dist(pos[-1], coords[-1]) < 1e-3:
                pos, heads = pos[:-1], heads[:-1]
            for p in pos:
                self.waypoint(p)
                self._items.append(image_capture_item())
            self.waypoint(coords[-1])
            self.photos.extend(pos)
            self.headings.extend(heads)
        elif trigger_m:
            if length < 1e-3:
                self._items.append(cam_trigg_dist_item(0.0, trigger_now=True))
                pos, heads = [coords[0]], [0.0]
            else:
                self._items.append(cam_trigg_dist_item(trigger_m, trigger_now=True))
                for c in coords[1:]:
                    self.waypoint(c)
                self._items.append(cam_trigg_dist_item(0.0, trigger_now=final_photo))
                pos, heads = photos_along(coords, trigger_m)
                if not final_photo and len(pos) > 1 and math.dist(pos[-1], coords[-1]) < 1e-3:
                    pos, heads = pos[:-1], heads[:-1]
            self.photos.extend(pos)
            self.headings.extend(heads)
        else:
            for c in coords[1:]:
                self.waypoint(c)
        self.passes.append(coords)
        if lead_out is not None:
            self.waypoint(lead_out)
        self._pattern_span[1:] = [len(self.path) - 1]

    def roi(self, xy: XY, alt_rel_m: float = 0.0, lonlat: LonLat | None = None) -> None:
        """Point the camera at ``xy`` (MAV_CMD_DO_SET_ROI_LOCATION); ``lonlat`` if known exactly."""
        self._items.append(("roi", float(xy[0]), float(xy[1]), alt_rel_m, lonlat))

    def roi_none(self) -> None:
        """Stop pointing at a region of interest."""
        self._items.append(roi_none_item())

    def finish(self) -> tuple[list[MissionItem], list[LonLat], list[LonLat], list[float],
                              list[list[LonLat]]]:
        """Return home around the zones, append RTL, convert to WGS84.

        Returns ``(items, path_wgs84, photo_positions_wgs84, photo_headings_deg, passes_wgs84)``.
        """
        self.transit_to(self.home_xy)
        self._items.append(rtl_item())
        pending = [(i, it) for i, it in enumerate(self._items) if isinstance(it, tuple)]
        xy = np.array([[it[1], it[2]] for _, it in pending])
        lon, lat = self.proj.to_lonlat(xy[:, 0], xy[:, 1])
        makers = {"home": lambda lo, la, z: home_item(lo, la, z),
                  "takeoff": takeoff_item, "wp": waypoint_item, "roi": roi_location_item}
        items = list(self._items)
        for (i, it), lo, la in zip(pending, lon, lat):
            lo, la = it[4] if it[4] is not None else (float(lo), float(la))
            items[i] = makers[it[0]](lo, la, it[3])
        path = self._lonlat(self.path)
        path[0] = path[-1] = self.home_wgs84
        return (items, path, self._lonlat(self.photos), list(self.headings),
                [self._lonlat(p) for p in self.passes])

    def _lonlat(self, pts: Sequence[XY]) -> list[LonLat]:
        if not pts:
            return []
        arr = np.asarray(pts, dtype=float)
        lon, lat = self.proj.to_lonlat(arr[:, 0], arr[:, 1])
        return [(float(a), float(b)) for a, b in zip(lon, lat)]

    def base_stats(self) -> dict[str, Any]:
        """Figures every pattern reports (call after :meth:`finish`)."""
        length = path_length_m(self._lonlat(self.path))
        turns = count_turns(self.path)
        first, last = (self._pattern_span + [0, 0])[:2] if self._pattern_span else (0, 0)
        pattern = path_length_m(self._lonlat(self.path[first:last + 1])) if last > first else 0.0
        return {
            "path_length_m": round(length, 1),
            "pattern_path_m": round(pattern, 1),
            "est_flight_time_s": round(estimate_flight_time_s(
                length, turns, self.speed_m_s, self.takeoff_alt_m, self.alt_rel_m), 1),
            "photo_count": len(self.photos),
            "turns": turns,
            "alt_rel_m": self.alt_rel_m,
            "speed_m_s": self.speed_m_s,
            "sorties": 1,
        }
