"""Where a photo was taken, from the flight it was taken on: pure functions, no I/O.

Two sources, tried in this order by the photo import:

- :func:`locate_from_camera_feedback` - the autopilot's own record of each shot
  (MAVLink ``CAMERA_FEEDBACK``, stored as :class:`~flight_logs.models.CameraPosition`),
  matched to the photo by time within a tolerance;
- :func:`interpolate_track` - the flight track (``GLOBAL_POSITION_INT`` fixes, stored as
  :class:`~flight_logs.models.TrackPoint`) interpolated linearly at the capture time.

Both take the rows as ORM objects or plain tuples (:class:`TrackSample`,
:class:`CameraSample` field order), and a ``clock_offset_s`` added to the photo's time
before matching, for a camera clock that runs behind (positive) or ahead (negative) of the
autopilot's time base. All times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["CameraSample", "GeoFix", "TrackSample", "interpolate_track", "locate_from_camera_feedback"]


class TrackSample(NamedTuple):
    """One track fix, the fields of :class:`~flight_logs.models.TrackPoint` in order."""

    t_utc: dt.datetime
    lat_deg: float
    lon_deg: float
    alt_rel_m: float
    alt_amsl_m: float | None = None
    heading_deg: float | None = None


class CameraSample(NamedTuple):
    """One shot as the autopilot reported it (``CAMERA_FEEDBACK``), vehicle attitude in degrees."""

    t_utc: dt.datetime
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float | None
    alt_rel_m: float | None
    roll_deg: float | None = None
    pitch_deg: float | None = None
    yaw_deg: float | None = None
    img_idx: int | None = None


@dataclass(frozen=True)
class GeoFix:
    """A photo's position found from its flight.

    Attributes
    ----------
    lat_deg, lon_deg : float
        WGS84 degrees.
    alt_rel_m, alt_amsl_m : float or None
        Above home and above mean sea level, metres.
    heading_deg : float or None
        Vehicle heading (yaw), degrees clockwise from north in [0, 360).
    source : str
        ``"camera_feedback"`` or ``"track"`` (the values of ``Photo.position_source``).
    t_utc : datetime
        Time of the fix: the matched shot's, or the interpolation time.
    dt_s : float
        Seconds from the photo's (offset-corrected) time to the nearest sample used:
        the matched shot, or the nearer of the two bracketing track fixes.
    roll_deg, pitch_deg : float or None
        Vehicle attitude at the shot (camera feedback only).
    img_idx : int or None
        The autopilot's image index (camera feedback only).
    """

    lat_deg: float
    lon_deg: float
    alt_rel_m: float | None
    alt_amsl_m: float | None
    heading_deg: float | None
    source: str
    t_utc: dt.datetime
    dt_s: float
    roll_deg: float | None = None
    pitch_deg: float | None = None
    img_idx: int | None = None


def locate_from_camera_feedback(taken_utc: dt.datetime, camera_positions: Iterable[Any], *,
                                tolerance_s: float, clock_offset_s: float = 0.0) -> GeoFix | None:
    """The shot nearest in time to a photo, if it is within ``tolerance_s``.

    Parameters
    ----------
    taken_utc : datetime
        The photo's capture time, timezone-aware.
    camera_positions : iterable
        :class:`~flight_logs.models.CameraPosition` rows, or tuples in
        :class:`CameraSample` order.
    tolerance_s : float
        Largest accepted time difference, seconds.
    clock_offset_s : float
        Seconds added to ``taken_utc`` before matching.

    Returns
    -------
    GeoFix or None
        The nearest shot (the earlier one on a tie), or None if none is close enough.

    Raises
    ------
    ValueError
        If a time is naive.

    Examples
    --------
    >>> t0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.timezone.utc)
    >>> shots = [(t0 + dt.timedelta(seconds=s), 30.7 + s * 1e-5, 121.0, 45.0, 40.0, 0, 0, 90, i)
    ...          for i, s in enumerate((0, 3, 6))]
    >>> fix = locate_from_camera_feedback(t0 + dt.timedelta(seconds=3.4), shots, tolerance_s=1)
    >>> fix.img_idx, round(fix.lat_deg, 5), round(fix.dt_s, 1)
    (1, 30.70003, 0.4)
    >>> locate_from_camera_feedback(t0 + dt.timedelta(seconds=4.5), shots, tolerance_s=1) is None
    True
    """
    t = _aware(taken_utc) + dt.timedelta(seconds=clock_offset_s)
    best: CameraSample | None = None
    best_dt = math.inf
    for row in camera_positions:
        s = _camera_sample(row)
        d = abs((_aware(s.t_utc) - t).total_seconds())
        if d < best_dt or (d == best_dt and best is not None and s.t_utc < best.t_utc):
            best, best_dt = s, d
    if best is None or best_dt > tolerance_s:
        return None
    return GeoFix(lat_deg=best.lat_deg, lon_deg=best.lon_deg, alt_rel_m=best.alt_rel_m,
                  alt_amsl_m=best.alt_amsl_m, heading_deg=_wrap360(best.yaw_deg), source="camera_feedback",
                  t_utc=best.t_utc, dt_s=best_dt, roll_deg=best.roll_deg, pitch_deg=best.pitch_deg,
                  img_idx=best.img_idx)


def interpolate_track(taken_utc: dt.datetime, track_points: Iterable[Any], *,
                      clock_offset_s: float = 0.0, max_gap_s: float | None = 10.0) -> GeoFix | None:
    """The track position at a photo's time, interpolated between the two fixes around it.

    Latitude, longitude (across the antimeridian the short way), both altitudes and the
    heading (along the shorter arc) are interpolated linearly in time; over the second or
    so between fixes this differs from the geodesic by far less than GPS noise.

    Parameters
    ----------
    taken_utc : datetime
        The photo's capture time, timezone-aware.
    track_points : iterable
        :class:`~flight_logs.models.TrackPoint` rows, or tuples in :class:`TrackSample`
        order; any order (they are sorted by time).
    clock_offset_s : float
        Seconds added to ``taken_utc`` before matching.
    max_gap_s : float or None
        Refuse to interpolate across a gap in the track longer than this (seconds), a
        telemetry dropout; None accepts any gap.

    Returns
    -------
    GeoFix or None
        None outside the track's time window (before its first fix or after its last) or
        inside a gap longer than ``max_gap_s``. ``alt_amsl_m`` and ``heading_deg`` are None
        when either bracketing fix lacks them.

    Raises
    ------
    ValueError
        If a time is naive.

    Examples
    --------
    >>> t0 = dt.datetime(2018, 8, 5, 1, 0, tzinfo=dt.timezone.utc)
    >>> track = [(t0, -35.0, 149.0, 50.0, 600.0, 350.0),
    ...          (t0 + dt.timedelta(seconds=2), -35.0002, 149.0004, 60.0, 610.0, 10.0)]
    >>> fix = interpolate_track(t0 + dt.timedelta(seconds=0.5), track)
    >>> round(fix.lat_deg, 6), round(fix.lon_deg, 6), fix.alt_rel_m, fix.heading_deg
    (-35.00005, 149.0001, 52.5, 355.0)
    >>> interpolate_track(t0 + dt.timedelta(seconds=3), track) is None
    True
    """
    t = _aware(taken_utc) + dt.timedelta(seconds=clock_offset_s)
    samples = sorted((_track_sample(p) for p in track_points), key=lambda s: s.t_utc)
    if not samples or t < samples[0].t_utc or t > samples[-1].t_utc:
        return None
    i = bisect_left([s.t_utc for s in samples], t)
    b = samples[i]
    if b.t_utc == t:
        return _track_fix(b, b, 0.0, t)
    a = samples[i - 1]
    span_s = (b.t_utc - a.t_utc).total_seconds()
    if max_gap_s is not None and span_s > max_gap_s:
        return None
    return _track_fix(a, b, (t - a.t_utc).total_seconds() / span_s, t)


def _track_fix(a: TrackSample, b: TrackSample, f: float, t: dt.datetime) -> GeoFix:
    dlon = (b.lon_deg - a.lon_deg + 180.0) % 360.0 - 180.0
    lon = a.lon_deg + f * dlon
    lon = lon - 360.0 if lon >= 180.0 else lon + 360.0 if lon < -180.0 else lon
    alt_amsl = None if a.alt_amsl_m is None or b.alt_amsl_m is None else _lerp(a.alt_amsl_m, b.alt_amsl_m, f)
    heading = None
    if a.heading_deg is not None and b.heading_deg is not None:
        heading = _wrap360(a.heading_deg + f * ((b.heading_deg - a.heading_deg + 180.0) % 360.0 - 180.0))
    dt_s = min((t - a.t_utc).total_seconds(), (b.t_utc - t).total_seconds())
    return GeoFix(lat_deg=_lerp(a.lat_deg, b.lat_deg, f), lon_deg=lon,
                  alt_rel_m=_lerp(a.alt_rel_m, b.alt_rel_m, f), alt_amsl_m=alt_amsl, heading_deg=heading,
                  source="track", t_utc=t, dt_s=abs(dt_s))


def _lerp(a: float, b: float, f: float) -> float:
    return a + f * (b - a)


def _wrap360(deg: float | None) -> float | None:
    return None if deg is None else round(deg % 360.0, 9)


def _aware(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t!r}: give times in UTC with tzinfo")
    return t


def _track_sample(row: Any) -> TrackSample:
    if isinstance(row, TrackSample):
        s = row
    elif isinstance(row, tuple):
        s = TrackSample(*row)
    else:
        s = TrackSample(row.t_utc, row.lat_deg, row.lon_deg, row.alt_rel_m,
                        getattr(row, "alt_amsl_m", None), getattr(row, "heading_deg", None))
    _aware(s.t_utc)
    return s


def _camera_sample(row: Any) -> CameraSample:
    if isinstance(row, CameraSample):
        return row
    if isinstance(row, tuple):
        return CameraSample(*row)
    return CameraSample(row.t_utc, row.lat_deg, row.lon_deg, row.alt_amsl_m, row.alt_rel_m,
                        getattr(row, "roll_deg", None), getattr(row, "pitch_deg", None),
                        getattr(row, "yaw_deg", None), getattr(row, "img_idx", None))
