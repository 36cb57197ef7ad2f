"""Tables of the shopfront rules: merchants and their shopfront zones, the notices sent to
them, their violations and three-colour history, and the SMS outbox.

The logic is in :mod:`web.merchants` (rules, colours) and :mod:`web.sms` (gateways).
Geometry is GeoJSON in WGS84 degrees; times are UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from patrol.db import Base, intpk, utcnow

__all__ = ["COLOURS", "Merchant", "MerchantColourChange", "MerchantNotice",
           "MerchantViolation", "NOTICE_STATUSES", "SmsOutbox"]

COLOURS = ("green", "yellow", "red")
"""The three-colour code (三色管理), best first."""

NOTICE_STATUSES = ("notified", "cleared", "escalated")
"""A notice is sent (``notified``), then either a later pass no longer sees the problem
(``cleared``) or still sees it after the deadline (``escalated``: a case and a violation)."""


class Merchant(Base):
    """A shop with its shopfront zone (门前责任区) and contact number.

    ``zone`` is a GeoJSON (Multi)Polygon in WGS84; ``contact_number`` a Chinese mobile number
    (11 digits, ``1[3-9]...``). ``squad_id``/``grid_id`` are the squad and unit grid holding
    the zone's representative point, set when the merchant is saved. ``colour`` is the current
    three-colour level (:data:`COLOURS`), its history in :class:`MerchantColourChange`.
    """

    __tablename__ = "merchant"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    contact_name: Mapped[str] = mapped_column(sa.String(100), default="")
    contact_number: Mapped[str] = mapped_column(sa.String(20))
    zone: Mapped[dict[str, Any]]
    squad_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("squad.id", ondelete="SET NULL"), index=True)
    grid_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    colour: Mapped[str] = mapped_column(sa.String(10), default="green", index=True)
    active: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    notices: Mapped[list["MerchantNotice"]] = relationship(
        back_populates="merchant", cascade="all, delete-orphan",
        order_by=lambda: [MerchantNotice.notified_at, MerchantNotice.id])
    violations: Mapped[list["MerchantViolation"]] = relationship(
        back_populates="merchant", cascade="all, delete-orphan",
        order_by=lambda: [MerchantViolation.at, MerchantViolation.id])
    colour_changes: Mapped[list["MerchantColourChange"]] = relationship(
        back_populates="merchant", cascade="all, delete-orphan",
        order_by=lambda: [MerchantColourChange.at, MerchantColourChange.id])


class MerchantNotice(Base):
    """A rectification notice: a shopfront finding in the merchant's zone was seen on two
    passes ``persistence`` apart, so an SMS went out with a deadline.

    ``first_seen_utc``/``confirmed_seen_utc`` are the two sightings that made it persistent;
    ``sms_message_id`` is the gateway's id (None when sending failed, ``sms_error`` says why).
    ``status`` is one of :data:`NOTICE_STATUSES`; ``resolved_at`` the sighting time that
    cleared or escalated it; ``case_id`` the case opened on escalation. After a ``cleared``
    notice, the same finding seen again starts a new notice.
    """

    __tablename__ = "merchant_notice"

    id: Mapped[intpk]
    merchant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("merchant.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int] = mapped_column(sa.ForeignKey("finding.id"), index=True)
    category: Mapped[str] = mapped_column(sa.String(60))
    first_seen_utc: Mapped[dt.datetime]
    confirmed_seen_utc: Mapped[dt.datetime]
    notified_at: Mapped[dt.datetime]
    deadline_utc: Mapped[dt.datetime]
    sms_number: Mapped[str] = mapped_column(sa.String(20))
    sms_text: Mapped[str] = mapped_column(sa.Text)
    sms_gateway: Mapped[str] = mapped_column(sa.String(200))
    sms_message_id: Mapped[Optional[str]] = mapped_column(sa.String(100))
    sms_error: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default="notified", index=True)
    resolved_at: Mapped[Optional[dt.datetime]]
    case_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("case.id", ondelete="SET NULL"))

    merchant: Mapped[Merchant] = relationship(back_populates="notices")


class MerchantViolation(Base):
    """A violation: the problem was still there on a pass after the notice's deadline.

    ``at`` is that sighting's time (UTC); ``case_id`` the case opened for the officer.
    """

    __tablename__ = "merchant_violation"

    id: Mapped[intpk]
    merchant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("merchant.id", ondelete="CASCADE"), index=True)
    notice_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("merchant_notice.id", ondelete="SET NULL"))
    finding_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("finding.id"))
    case_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("case.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(sa.String(60))
    at: Mapped[dt.datetime] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(sa.Text, default="")

    merchant: Mapped[Merchant] = relationship(back_populates="violations")


class MerchantColourChange(Base):
    """One step of a merchant's three-colour history.

    ``from_colour`` is None for the start (green). ``reason`` is ``"start"``,
    ``"violation"`` or ``"clean_period"`` (a level down after the clean period);
    ``points`` the violation points after the change (see :func:`web.merchants.colour_history`).
    """

    __tablename__ = "merchant_colour_change"

    id: Mapped[intpk]
    merchant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("merchant.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    from_colour: Mapped[Optional[str]] = mapped_column(sa.String(10))
    to_colour: Mapped[str] = mapped_column(sa.String(10))
    reason: Mapped[str] = mapped_column(sa.String(20))
    points: Mapped[int] = mapped_column(default=0)

    merchant: Mapped[Merchant] = relationship(back_populates="colour_changes")


class SmsOutbox(Base):
    """A text message written by :class:`web.sms.OutboxGateway` instead of being sent.

    ``to_number`` is the recipient, ``text`` the message; the console shows the outbox at
    ``/merchants/outbox``.
    """

    __tablename__ = "sms_outbox"

    id: Mapped[intpk]
    to_number: Mapped[str] = mapped_column(sa.String(20), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
