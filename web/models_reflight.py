"""The re-flight table: a case at verification linked to the one-photo route flown over its
place, and to the photo that came back (the "after" beside the finding's "before")."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flight_logs.models import Photo
from missions.models import Route
from patrol.db import Base, intpk, utcnow
from web.models import Case, User

__all__ = ["Reflight"]


class Reflight(Base):
    """A re-flight asked for during a case's verification (核查).

    ``route_id`` is the one-photo mission over the case location (``mode``: ``"waypoint"``,
    one MAV_CMD_IMAGE_START_CAPTURE at the point, or ``"orbit"``, a one-photo orbit with the
    camera on the point), flown at ``alt_rel_m`` metres above take-off. ``after_photo_id`` is
    the first archived photo taken after ``requested_at`` whose ground footprint covers the
    case location, set when it is found (``after_found_at``).
    """

    __tablename__ = "case_reflight"

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), index=True)
    route_id: Mapped[int] = mapped_column(sa.ForeignKey("route.id"), index=True)
    mode: Mapped[str] = mapped_column(sa.String(20))
    alt_rel_m: Mapped[float]
    requested_by: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    after_photo_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("photo.id"))
    after_found_at: Mapped[Optional[dt.datetime]]

    case: Mapped[Case] = relationship()
    route: Mapped[Route] = relationship()
    requester: Mapped[Optional[User]] = relationship()
    after_photo: Mapped[Optional[Photo]] = relationship()
