"""Console users managed by an admin: create, change role or squad, deactivate, reset the
password; every change is in the audit trail (``AuditEvent``, target ``user``).

Passwords are stored as werkzeug's salted hashes (scrypt), as :func:`web.seed.create_user`
does; the audit trail never holds a password. Guards against locking the console: an admin
cannot deactivate or demote themself, and the last active admin stays. Functions take a
``session`` and never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from patrol.db import utcnow
from web.errors import WebError
from web.models import ROLES, AuditEvent, Squad, User

__all__ = ["PASSWORD_MIN_LENGTH", "add_user", "change_user", "hash_password", "reset_password",
           "set_active"]

PASSWORD_MIN_LENGTH = 8
"""Shortest password an admin may set (the demo's seeded passwords are longer)."""


def hash_password(password: str) -> str:
    """werkzeug's salted hash of ``password`` (scrypt); WebError if it is empty."""
    if not password:
        raise WebError(_("empty password"))
    return generate_password_hash(password)


def _check_password(username: str, password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise WebError(_("user %(name)r: the password needs at least %(n)d characters",
                         name=username, n=PASSWORD_MIN_LENGTH))


def _audit(session: Session, actor: User, action: str, user: User, data: dict[str, Any],
           now: dt.datetime | None, note: str = "") -> AuditEvent:
    entry = AuditEvent(at=now or utcnow(), user_id=actor.id, action=action, target_type="user",
                       target_id=user.id, note=note, data=data)
    session.add(entry)
    return entry


def _check_admin(actor: User) -> None:
    if actor.role != "admin":
        raise WebError(_("user %(name)r (%(role)s) may not manage users: only admins may",
                         name=actor.username, role=actor.role))


def _other_active_admins(session: Session, user: User) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True), User.id != user.id)) or 0


def add_user(session: Session, actor: User, *, username: str, password: str, role: str,
             squad: Squad | None = None, display_name: str = "",
             now: dt.datetime | None = None) -> User:
    """Create a user as admin ``actor``; audited as ``user.create`` (role, squad).

    Raises
    ------
    WebError
        If ``actor`` is not an admin, the username is empty or taken, the role unknown, an
        officer has no squad, or the password is shorter than :data:`PASSWORD_MIN_LENGTH`.
    """
    from web.seed import create_user

    _check_admin(actor)
    _check_password(username, password)
    user = create_user(session, username, password, role, squad=squad,
                       display_name=display_name.strip())
    _audit(session, actor, "user.create", user,
           {"username": user.username, "role": role, "squad_id": squad.id if squad else None},
           now)
    return user


def change_user(session: Session, actor: User, user: User, *, role: str,
                squad: Squad | None, display_name: str | None = None,
                now: dt.datetime | None = None) -> AuditEvent | None:
    """Change ``user``'s role, squad and display name; audited as ``user.update`` with the
    fields before and after (None when nothing changed).

    A squad is kept only for officers (other roles see every squad's work).

    Raises
    ------
    WebError
        If ``actor`` is not an admin, the role is unknown, an officer has no squad, or the
        change would leave no active admin (an admin demoting themself or the last admin).
    """
    _check_admin(actor)
    if role not in ROLES:
        raise WebError(_("user %(name)r: unknown role %(role)r; roles: %(roles)s",
                         name=user.username, role=role, roles=", ".join(ROLES)))
    if role == "officer" and squad is None:
        raise WebError(_("officer %(name)r needs a squad", name=user.username))
    if role != "officer":
        squad = None
    if user.role == "admin" and role != "admin":
        if user.id == actor.id:
            raise WebError(_("you cannot take the admin role from yourself; ask another admin"))
        if user.active and not _other_active_admins(session, user):
            raise WebError(_("user %(name)r is the last active admin", name=user.username))
    before = {"role": user.role, "squad_id": user.squad_id, "display_name": user.display_name}
    user.role, user.squad = role, squad
    if display_name is not None:
        user.display_name = display_name.strip()
    session.flush()
    after = {"role": user.role, "squad_id": user.squad_id, "display_name": user.display_name}
    if after == before:
        return None
    return _audit(session, actor, "user.update", user, {"before": before, "after": after}, now)


def set_active(session: Session, actor: User, user: User, active: bool, *, note: str = "",
               now: dt.datetime | None = None) -> AuditEvent | None:
    """Deactivate (cannot log in; history kept) or reactivate ``user``; audited as
    ``user.deactivate`` / ``user.activate`` (None when it already was so).

    Raises
    ------
    WebError
        If ``actor`` is not an admin, deactivates themself, or the last active admin.
    """
    _check_admin(actor)
    if user.active == active:
        return None
    if not active:
        if user.id == actor.id:
            raise WebError(_("you cannot deactivate yourself"))
        if user.role == "admin" and not _other_active_admins(session, user):
            raise WebError(_("user %(name)r is the last active admin", name=user.username))
    user.active = active
    session.flush()
    return _audit(session, actor, "user.activate" if active else "user.deactivate", user,
                  {"username": user.username}, now, note=note)


def reset_password(session: Session, actor: User, user: User, password: str, *,
                   now: dt.datetime | None = None) -> AuditEvent:
    """Give ``user`` a new password (hashed); audited as ``user.password_reset`` (without it).

    Raises
    ------
    WebError
        If ``actor`` is not an admin or the password is shorter than
        :data:`PASSWORD_MIN_LENGTH`.
    """
    _check_admin(actor)
    _check_password(user.username, password)
    user.password_hash = hash_password(password)
    session.flush()
    return _audit(session, actor, "user.password_reset", user, {"username": user.username}, now)
