"""Tables of the console: users and roles, squads with their jurisdictions, cases and their
history (the GB/T 30428 workflow)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from patrol.db import Base, intpk, utcnow

__all__ = ["AuditEvent", "Case", "CaseAttachment", "CaseEvent", "CaseExtension", "Grid", "ROLES",
           "Squad", "User"]

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
    """A case (案件) of the GB/T 30428 workflow.

    ``status`` moves reported -> filed -> dispatched -> handled -> verified -> closed (see
    :mod:`web.cases`); ``suspended`` stops the clock of a dispatched case, ``cancelled`` ends
    a report that is not filed (不予立案). ``code`` is the case number shown to people.

    ``category`` is the code of the taxonomy subclass (小类) the case is filed under, with the
    names of the subclass and of its class (大类) as they were at filing, so later edits of
    the taxonomy file do not rewrite old cases. ``source`` says how it was reported
    (``drone``, ``manual``, ``merchant``...).

    The clock starts at dispatch: ``time_limit_s`` is the subclass's limit in seconds of its
    clock (working time for ``working_hours``/``working_days``, calendar time for
    ``urgent_hours``), ``extension_s`` the extensions granted, ``suspended_s`` the clock time
    spent suspended; ``deadline_utc`` = dispatch + all three on that clock (None before
    dispatch and while suspended). ``rework_count`` and ``reopen_count`` count returns for
    rework and reopenings.
    """

    __tablename__ = "case"
    __table_args__ = (sa.Index("ix_case_status_deadline", "status", "deadline_utc"),
                      # covers the dashboard's one GROUP BY over the cases filed in a period
                      sa.Index("ix_case_dashboard", "squad_id", "grid_id", "category", "filed_at",
                               "status", "closed_at", "deadline_utc", "verified_at",
                               "rework_count", "reopen_count"),
                      sa.Index("ix_case_filed_at", "filed_at"))

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    finding_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("finding.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(20), default="drone")
    category: Mapped[str] = mapped_column(sa.String(60), index=True)
    category_name_zh: Mapped[str] = mapped_column(sa.String(200), default="")
    category_name_en: Mapped[str] = mapped_column(sa.String(200), default="")
    class_code: Mapped[str] = mapped_column(sa.String(60), default="")
    class_name_zh: Mapped[str] = mapped_column(sa.String(200), default="")
    class_name_en: Mapped[str] = mapped_column(sa.String(200), default="")
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    squad_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("squad.id"), index=True)
    grid_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    officer_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"), index=True)
    reporter_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    lat_deg: Mapped[float]
    lon_deg: Mapped[float]
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    filed_at: Mapped[Optional[dt.datetime]]
    dispatched_at: Mapped[Optional[dt.datetime]]
    handled_at: Mapped[Optional[dt.datetime]]
    verified_at: Mapped[Optional[dt.datetime]]
    closed_at: Mapped[Optional[dt.datetime]]
    time_limit: Mapped[Optional[float]]
    time_unit: Mapped[str] = mapped_column(sa.String(20), default="")
    time_limit_s: Mapped[Optional[float]]
    extension_s: Mapped[float] = mapped_column(default=0.0)
    suspended_s: Mapped[float] = mapped_column(default=0.0)
    suspended_at: Mapped[Optional[dt.datetime]]
    deadline_utc: Mapped[Optional[dt.datetime]]
    rework_count: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0)

    squad: Mapped[Optional[Squad]] = relationship(back_populates="cases")
    grid: Mapped[Optional[Grid]] = relationship()
    officer: Mapped[Optional["User"]] = relationship(foreign_keys=[officer_id])
    reporter: Mapped[Optional["User"]] = relationship(foreign_keys=[reporter_id])
    events: Mapped[list["CaseEvent"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.at")
    attachments: Mapped[list["CaseAttachment"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseAttachment.id")
    extensions: Mapped[list["CaseExtension"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseExtension.id")


class CaseEvent(Base):
    """One step of a case's history: who took which ``action`` (``report``, ``file``,
    ``dispatch``, ``handle``, ``rework``, ``extension_request``, ``note``...), moving it from
    which status to which (equal when the status stays), when, with what note; ``data``
    keeps the details (squad, officer, deadline, extension, the finding seen again)."""

    __tablename__ = "case_event"

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(sa.String(30), default="")
    from_status: Mapped[Optional[str]] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    case: Mapped[Case] = relationship(back_populates="events")
    user: Mapped[Optional[User]] = relationship()
    attachments: Mapped[list["CaseAttachment"]] = relationship(back_populates="event")


class CaseAttachment(Base):
    """An evidence photo of a case, kept under the data root by content hash
    (``raw/case_photo/<sha[:2]>/<sha>.<ext>``); ``stage`` is the step it was added at
    (``report``, ``handle``, ``note``, ``verify``)."""

    __tablename__ = "case_attachment"

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("case_event.id",
                                                                  ondelete="SET NULL"))
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    stage: Mapped[str] = mapped_column(sa.String(20))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    stored_path: Mapped[str] = mapped_column(sa.String(500))
    original_name: Mapped[str] = mapped_column(sa.String(300), default="")
    content_type: Mapped[str] = mapped_column(sa.String(60))
    size_bytes: Mapped[int]
    width_px: Mapped[int]
    height_px: Mapped[int]
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="attachments")
    event: Mapped[Optional[CaseEvent]] = relationship(back_populates="attachments")
    user: Mapped[Optional[User]] = relationship()


class CaseExtension(Base):
    """An officer's request for more time (延期) and the supervisor's decision.

    ``amount`` is in ``unit`` (``hours`` or ``days``: working days for a limit in working
    days, else hours of the case's clock); ``status`` is ``pending``, ``granted`` or
    ``denied``; ``granted_s`` the clock seconds added to the case's deadline.
    """

    __tablename__ = "case_extension"

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    amount: Mapped[float]
    unit: Mapped[str] = mapped_column(sa.String(10))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default="pending", index=True)
    decided_by: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[Optional[dt.datetime]]
    granted_amount: Mapped[Optional[float]]
    granted_s: Mapped[Optional[float]]
    decision_note: Mapped[str] = mapped_column(sa.Text, default="")

    case: Mapped[Case] = relationship(back_populates="extensions")
    requester: Mapped[Optional[User]] = relationship(foreign_keys=[requested_by])
    decider: Mapped[Optional[User]] = relationship(foreign_keys=[decided_by])


class AuditEvent(Base):
    """An entry of the audit trail: who did what to which object, when, and why.

    ``action`` is a dotted verb such as ``"finding.confirm"`` or ``"finding.reject"``;
    ``target_type``/``target_id`` name the object (``"finding"``, 42); ``data`` keeps the
    details (e.g. the case opened). Every case step is here too (``case.file``,
    ``case.dispatch``...; ``target_type`` ``"case"``), besides the case's own
    :class:`CaseEvent` timeline.
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
