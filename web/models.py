"""Tables of the console: users and roles, squads with their jurisdictions, cases and their
history (the GB/T 30428 workflow)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from patrol.db import Base, intpk, utcnow

__all__ = ["AuditEvent", "Case", "CaseEvent", "Grid", "ROLES", "Squad", "User"]

ROLES = ("admin", "operator", "supervisor", "officer")


class Squad(Base):
    """A squad (中队) and its jurisdiction: a GeoJSON (Multi)Polygon in WGS84."""

    __tablename__ = "squad"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    site: Mapped[str] = mapped_column(sa.String(100))
    jurisdiction: Mapped[dict[str, Any]]
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)

    users: Mapped[list["User"]] = relationship(back_populates="squad")
    cases: Mapped[list["Case"]] = relationship(back_populates="squad")
    grids: Mapped[list["Grid"]] = relationship(back_populates="squad", cascade="all, delete-orphan")


class Grid(Base):
    """A unit grid (单元网格, GB/T 30428.1) inside a squad's jurisdiction.

    ``code`` is the bureau's grid code (codes vary by city); ``polygon`` a GeoJSON Polygon in
    WGS84 degrees.
    """

    __tablename__ = "grid"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    squad_id: Mapped[int] = mapped_column(sa.ForeignKey("squad.id", ondelete="CASCADE"), index=True)
    polygon: Mapped[dict[str, Any]]

    squad: Mapped[Squad] = relationship(back_populates="grids")


class User(Base):
    """A console user; ``role`` is one of :data:`ROLES`; password stored as a salted hash."""

    __tablename__ = "user"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    role: Mapped[str] = mapped_column(sa.String(20))
    squad_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("squad.id"))
    active: Mapped[bool] = mapped_column(default=True)

    squad: Mapped[Optional[Squad]] = relationship(back_populates="users")

    # Flask-Login's user protocol
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class Case(Base):
    """A case (案件): ``status`` moves filed -> dispatched -> handled -> verified -> closed.

    ``code`` is the case number shown to people; ``deadline_utc`` the handling time limit.
    """

    __tablename__ = "case"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    finding_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("finding.id"), index=True)
    category: Mapped[str] = mapped_column(sa.String(60), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    squad_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("squad.id"), index=True)
    grid_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    officer_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"), index=True)
    lat_deg: Mapped[float]
    lon_deg: Mapped[float]
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deadline_utc: Mapped[Optional[dt.datetime]]
    closed_at: Mapped[Optional[dt.datetime]]

    squad: Mapped[Optional[Squad]] = relationship(back_populates="cases")
    grid: Mapped[Optional[Grid]] = relationship()
    officer: Mapped[Optional["User"]] = relationship(foreign_keys=[officer_id])
    events: Mapped[list["CaseEvent"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.at")


class CaseEvent(Base):
    """One step of a case's history: who moved it from which status to which, when, and why."""

    __tablename__ = "case_event"

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    from_status: Mapped[Optional[str]] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(sa.Text, default="")

    case: Mapped[Case] = relationship(back_populates="events")
    user: Mapped[Optional[User]] = relationship()


class AuditEvent(Base):
    """An entry of the audit trail: who did what to which object, when, and why.

    ``action`` is a dotted verb such as ``"finding.confirm"`` or ``"finding.reject"``;
    ``target_type``/``target_id`` name the object (``"finding"``, 42); ``data`` keeps the
    details (e.g. the case opened). Case steps are in :class:`CaseEvent`; this table holds the
    rest (finding reviews, reassignments).
    """

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_target", "target_type", "target_id"),)

    id: Mapped[intpk]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(sa.String(60))
    target_type: Mapped[str] = mapped_column(sa.String(40))
    target_id: Mapped[int]
    note: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    user: Mapped[Optional[User]] = relationship()
