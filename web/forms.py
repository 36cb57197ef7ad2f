"""The console's forms (Flask-WTF, each carrying the CSRF token).

The templates write the inputs themselves (several forms per page); these classes validate
what is posted. Choices are checked with ``AnyOf`` rather than ``SelectField``.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

__all__ = ["LoginForm", "RejectFindingForm"]  # case forms: web.case_forms

NOTE_MAX = 2000


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class RejectFindingForm(FlaskForm):
    """Reject a finding (false alarm), with an optional reason."""

    note = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=NOTE_MAX)])
