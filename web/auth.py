"""Login and logout, roles, and the login gate in front of every page.

Every endpoint needs a logged-in, active user except the login page and static files;
:func:`role_required` narrows a view to some roles (403 otherwise). Passwords are checked
against werkzeug's salted hashes.
"""

from __future__ import annotations

import secrets
from functools import cache, wraps
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from web.database import get_session
from web.extensions import login_manager
from web.forms import LoginForm
from web.models import User
from web.responses import error_response, wants_json_response

__all__ = ["PUBLIC_ENDPOINTS", "bp", "init_app", "role_required"]

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "i18n.set_language"})


def role_required(*roles: str):
    """Decorator: the view is for users with one of ``roles``; others get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403, _("This page is for %(roles)s; you are %(role)s.", roles=", ".join(roles),
                             role=current_user.role))
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    return user if user is not None and user.active else None


def _unauthorized():
    if wants_json_response():
        return error_response(401, _("login required"))
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return login_manager.unauthorized()


def _safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (no scheme, host or ``//``), else None."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return None
    return target


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def init_app(app: Flask) -> None:
    """Bind Flask-Login's callbacks and put the login gate in front of every request."""
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.login_view = "auth.login"
    app.before_request(_require_login)
    app.register_blueprint(bp)


@bp.route("/login", methods=("GET", "POST"))
def login():
    """Log in with username and password."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(form.next.data) or url_for("home.index"))
    if form.validate_on_submit():
        user = get_session().scalars(
            sa.select(User).where(User.username == form.username.data.strip())).one_or_none()
        # Check a hash even for an unknown user, so timing does not tell which names exist.
        stored = user.password_hash if user is not None else _dummy_hash()
        if not check_password_hash(stored, form.password.data) or user is None or not user.active:
            flash(_("Wrong username or password."), "error")
            return render_template("login.html", form=form), 401
        login_user(user)
        return redirect(_safe_next(form.next.data) or url_for("home.index"))
    return render_template("login.html", form=form), (400 if form.errors else 200)


@bp.route("/logout", methods=("POST",))
def logout():
    """Log out (POST with the CSRF token)."""
    logout_user()
    flash(_("Logged out."), "info")
    return redirect(url_for("auth.login"))
