"""The console's forms (Flask-WTF, each carrying the CSRF token).

The templates write the inputs themselves (several forms per page); these classes validate
what is posted. Choices are checked with ``AnyOf`` rather than ``SelectField``.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from web.cases import CATEGORIES, STATUSES

__all__ = ["AssignSquadForm", "ConfirmFindingForm", "LoginForm", "RejectFindingForm",
           "TransitionForm"]

NOTE_MAX = 2000


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class ConfirmFindingForm(FlaskForm):
    """Confirm a finding as a case of a category."""

    category = StringField("Category", validators=[DataRequired(), AnyOf(list(CATEGORIES))])
    note = TextAreaField("Note", validators=[Optional(), Length(max=NOTE_MAX)])


class RejectFindingForm(FlaskForm):
    """Reject a finding (false alarm), with an optional reason."""

    note = TextAreaField("Reason", validators=[Optional(), Length(max=NOTE_MAX)])


class TransitionForm(FlaskForm):
    """Move a case to its next status, with a note."""

    to_status = StringField("To", validators=[DataRequired(), AnyOf(STATUSES)])
    note = TextAreaField("Note", validators=[Optional(), Length(max=NOTE_MAX)])


class AssignSquadForm(FlaskForm):
    """Give a case to a squad (by id; the view checks it exists)."""

    squad_id = IntegerField("Squad", validators=[DataRequired()])
    note = TextAreaField("Note", validators=[Optional(), Length(max=NOTE_MAX)])
