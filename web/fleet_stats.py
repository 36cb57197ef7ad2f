"""Flight statistics per vehicle, squad or fleet, as the console and ``patrol stats`` show them.

Squad attribution: a flight belongs to the squad whose jurisdiction holds its **take-off
point** (home position, else first track fix; see :mod:`flight_logs.stats`). Vehicles carry
no squad (a dock's aircraft can be moved; the jurisdiction flown from is what the bureau
reports). The rule is :func:`web.cases.squad_for_point`'s: containment in longitude/latitude,
a point on a shared border goes to the smaller jurisdiction, then the older squad. Flights
taking off outside every jurisdiction (or with no position at all) form the group
:data:`NO_SQUAD`.

The database sums per take-off point and period; each distinct point is then assigned once
(vectorised with shapely) and the partial sums added, so the figures are exact.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import shape
from sqlalchemy.orm import Session

from flight_logs.stats import DEFAULT_TIMEZONE, StatsRow, combine, flight_stats
from web.models import Squad

__all__ = ["BY", "NO_SQUAD", "fleet_statistics", "squads_of_points"]

BY = ("vehicle", "squad", "fleet")
NO_SQUAD = "(outside every jurisdiction)"


def squads_of_points(session: Session, points: list[tuple[float, float]]) -> list[Squad | None]:
    """The squad holding each ``(lat_deg, lon_deg)`` point (WGS84), or None outside every one.

    Same rule as :func:`web.cases.squad_for_point`, for many points at once.
    """
    if not points:
        return []
    lat = np.array([p[0] for p in points], dtype=float)
    lon = np.array([p[1] for p in points], dtype=float)
    best_area = np.full(len(points), np.inf)
    best: list[Squad | None] = [None] * len(points)
    for squad in session.scalars(sa.select(Squad).order_by(Squad.id)):
        geom = shape(squad.jurisdiction)
        inside = shapely.intersects_xy(geom, lon, lat)  # covers: boundary points count
        better = inside & (geom.area < best_area)       # strictly smaller: the older squad keeps ties
        for i in np.flatnonzero(better):
            best[i] = squad
        best_area[better] = geom.area
    return best


def fleet_statistics(session: Session, *, by: str = "fleet", period: str = "month",
                     first_day: dt.date | None = None, last_day: dt.date | None = None,
                     timezone: str = DEFAULT_TIMEZONE) -> list[StatsRow]:
    """Statistics by ``"vehicle"``, ``"squad"`` or ``"fleet"``; see :func:`flight_logs.stats.flight_stats`.

    For squads, each row's ``group`` is the squad name and ``group_key`` its id (None for
    :data:`NO_SQUAD`).

    Raises
    ------
    ValueError
        If ``by`` is not one of :data:`BY`, or as :func:`~flight_logs.stats.flight_stats`.
    """
    if by not in BY:
        raise ValueError(f"statistics group by one of {', '.join(BY)}, not {by!r}")
    if by != "squad":
        return flight_stats(session, by=by, period=period, first_day=first_day, last_day=last_day,
                            timezone=timezone)
    rows = flight_stats(session, by="takeoff", period=period, first_day=first_day, last_day=last_day,
                        timezone=timezone)
    points = sorted({r.group_key for r in rows if r.group_key is not None})
    holder = {None: None, **dict(zip(points, squads_of_points(session, points)))}

    def regroup(row: StatsRow):
        squad = holder[row.group_key]
        return (row.period, NO_SQUAD, None) if squad is None else (row.period, squad.name, squad.id)

    return combine(rows, regroup)
