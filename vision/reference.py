"""Passes over the ground, and the earlier photo of the same ground to compare against.

A **pass** is a straight run of photos: photos of one photo set and flight, in time order,
start a new pass where the course (bearing from the previous photo to the next) turns by
more than ``max_turn_deg`` or the time between two photos exceeds ``max_gap_s``. The
reference for change detection is a photo taken **before** the one analysed, on **another
pass** (or another flight or photo set), whose footprint covers at least
``min_overlap`` of the analysed photo's footprint; the best-covering comes first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from shapely.geometry import Polygon

from patrol.geodesy import WGS84, LocalProjection

__all__ = ["PassKey", "Placed", "assign_passes", "course_deg", "overlap_fraction", "pick_references"]


@dataclass(frozen=True)
class PassKey:
    """Identifies a pass: photo set, flight (or None) and the pass number within them."""

    photo_set: str
    flight_id: int | None
    number: int


@dataclass(frozen=True)
class Placed:
    """What reference picking needs of a photo: id, time, pass and footprint (WGS84)."""

    photo_id: int
    taken_utc: dt.datetime | None
    pass_key: PassKey | None
    footprint_wgs84: Polygon


def course_deg(lons: Sequence[float], lats: Sequence[float]) -> list[float | None]:
    """Course of each photo in a time-ordered run: bearing from the previous to the next photo.

    The first and last use their single neighbour; a lone photo gets None. Degrees clockwise
    from true north in [0, 360).

    >>> [round(c) for c in course_deg([0.0, 0.0, 0.001], [0.0, 0.001, 0.001])]
    [0, 45, 90]
    """
    n = len(lons)
    out: list[float | None] = []
    for i in range(n):
        a, b = max(i - 1, 0), min(i + 1, n - 1)
        if a == b:
            out.append(None)
            continue
        az, _, dist = WGS84.inv(lons[a], lats[a], lons[b], lats[b])
        out.append(float(az % 360.0) if dist > 0.5 else None)
    return out


def _turn(a: float, b: float) -> float:
    return abs((b - a + 180.0) % 360.0 - 180.0)


def assign_passes(photos: Sequence, *, max_turn_deg: float = 60.0, max_gap_s: float = 60.0) -> dict[int, PassKey]:
    """Split photos into passes (straight runs).

    Within each photo set and flight, photos are put in time order and the legs between
    consecutive photos are grouped into runs: a leg continues the run of the previous leg
    unless its bearing turns by more than ``max_turn_deg`` or it spans more than
    ``max_gap_s``. Each photo then joins the longer of the runs of its incoming and outgoing
    legs, so the photo at the end of a line stays with its line rather than with the short
    turning leg that follows.

    Parameters
    ----------
    photos : sequence of Photo
        Rows with ``id``, ``photo_set``, ``flight_id``, ``taken_utc``, ``lat_deg``, ``lon_deg``;
        photos without a time or position get no pass.

    Returns
    -------
    dict photo id -> PassKey
        Pass numbers count from 0 in time order within each set and flight.
    """
    groups: dict[tuple[str, int | None], list] = {}
    for p in photos:
        if p.taken_utc is None or p.lat_deg is None or p.lon_deg is None:
            continue
        groups.setdefault((p.photo_set, p.flight_id), []).append(p)
    out: dict[int, PassKey] = {}
    for (photo_set, flight_id), group in groups.items():
        group.sort(key=lambda p: (p.taken_utc, p.id))
        runs: list[int] = []  # run id of each leg (i -> i + 1); -1 for a gap
        run, last_bearing = 0, None
        for a, b in zip(group, group[1:]):
            if (b.taken_utc - a.taken_utc).total_seconds() > max_gap_s:
                runs.append(-1)
                run, last_bearing = run + 1, None
                continue
            az, _, dist = WGS84.inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)
            bearing = float(az % 360.0) if dist > 0.5 else None
            if bearing is not None and last_bearing is not None and _turn(last_bearing, bearing) > max_turn_deg:
                run += 1
            if bearing is not None:
                last_bearing = bearing
            runs.append(run)
        length = {r: runs.count(r) for r in set(runs) if r >= 0}
        chosen = []
        for i in range(len(group)):
            incoming = runs[i - 1] if i > 0 else -1
            outgoing = runs[i] if i < len(runs) else -1
            best = max((incoming, outgoing), key=lambda r: (length.get(r, 0), r == incoming))
            chosen.append(best if best >= 0 else ("alone", i))
        numbers: dict[object, int] = {}
        for p, key in zip(group, chosen):
            numbers.setdefault(key, len(numbers))
            out[p.id] = PassKey(photo_set, flight_id, numbers[key])
    return out


def overlap_fraction(target_wgs84: Polygon, other_wgs84: Polygon) -> float:
    """Share (0-1) of ``target``'s ground area that ``other`` covers (areas in UTM)."""
    proj = LocalProjection.for_geometry(target_wgs84)
    t = proj.project(target_wgs84)
    if t.area <= 0:
        return 0.0
    return float(t.intersection(proj.project(other_wgs84)).area / t.area)


def pick_references(target: Placed, candidates: Sequence[Placed], *, min_overlap: float = 0.3,
                    limit: int = 3) -> list[tuple[int, float]]:
    """Earlier photos of the same ground from other passes, best-covering first.

    Returns
    -------
    list of (photo_id, overlap_fraction)
        At most ``limit`` entries with overlap >= ``min_overlap``.
    """
    if target.taken_utc is None or target.pass_key is None:
        return []
    scored = []
    for c in candidates:
        if c.photo_id == target.photo_id or c.taken_utc is None or c.taken_utc >= target.taken_utc:
            continue
        if c.pass_key == target.pass_key:
            continue
        if not c.footprint_wgs84.intersects(target.footprint_wgs84):
            continue
        frac = overlap_fraction(target.footprint_wgs84, c.footprint_wgs84)
        if frac >= min_overlap:
            scored.append((c.photo_id, frac))
    scored.sort(key=lambda t: (-t[1], t[0]))
    return scored[:limit]

