"""The Flask extensions, created unbound here and bound to an app by :func:`web.create_app`."""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

__all__ = ["csrf", "login_manager"]

login_manager = LoginManager()
csrf = CSRFProtect()
