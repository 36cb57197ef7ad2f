"""Forms of the findings queue and the case pages (Flask-WTF, each carrying the CSRF token).

The templates write the inputs themselves (several forms per page); these classes validate
what is posted. Subclass codes are checked against the taxonomy in use by the views (it can
change while the console runs), not here.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import BooleanField, FloatField, IntegerField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional

from web.cases import STATUSES

__all__ = [
    "AssignSquadForm",
    "ConfirmFindingForm",
    "DispatchForm",
    "ExtensionDecisionForm",
    "ExtensionRequestForm",
    "FileCaseForm",
    "NewCaseForm",
    "NoteForm",
    "PhotoNoteForm",
    "RequiredNoteForm",
    "TaxonomyUploadForm",
    "TransitionForm",
]

NOTE_MAX = 2000
CODE_MAX = 60
MAX_PHOTOS = 10
"""Photos accepted in one post."""


class ConfirmFindingForm(FlaskForm):
    """Confirm a finding into a case of a subclass (``category`` is the older field name)."""

    subclass = StringField(_l("Subclass"), validators=[Optional(), Length(max=CODE_MAX)])
    category = StringField(_l("Category"), validators=[Optional(), Length(max=CODE_MAX)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])


class NoteForm(FlaskForm):
    """A step with an optional note (verify, close, resume)."""

    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])


class RequiredNoteForm(FlaskForm):
    """A step that needs a reason (rework, suspend, cancel, reopen)."""

    note = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=NOTE_MAX)])


class PhotoNoteForm(FlaskForm):
    """A note with evidence photos (handling, a progress note)."""

    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])
    photos = MultipleFileField(_l("Photos"))


class FileCaseForm(FlaskForm):
    """File (立案): the filing condition acknowledged, optionally another subclass."""

    filing_acknowledged = BooleanField(_l("The filing condition holds"))
    subclass = StringField(_l("Subclass"), validators=[Optional(), Length(max=CODE_MAX)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])


class DispatchForm(FlaskForm):
    """Dispatch (派遣) to a squad and optionally one of its officers (ids; the view checks)."""

    squad_id = IntegerField(_l("Squad"), validators=[Optional()])
    officer_id = IntegerField(_l("Officer"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])


class AssignSquadForm(FlaskForm):
    """Give a case to a squad and optionally one of its officers."""

    squad_id = IntegerField(_l("Squad"), validators=[DataRequired()])
    officer_id = IntegerField(_l("Officer"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])


class ExtensionRequestForm(FlaskForm):
    """An officer asks for more time (in the case's unit: hours or working days)."""

    amount = FloatField(_l("Amount"), validators=[DataRequired(),
                                                  NumberRange(min=0.01, max=10000)])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=NOTE_MAX)])


class ExtensionDecisionForm(FlaskForm):
    """A supervisor grants (optionally another amount) or denies a request."""

    decision = StringField(_l("Decision"), validators=[DataRequired(), AnyOf(("grant", "deny"))])
    amount = FloatField(_l("Amount"), validators=[Optional(), NumberRange(min=0.01, max=10000)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])


class TransitionForm(FlaskForm):
    """Move a case to a status by the workflow's step (the generic endpoint)."""

    to_status = StringField(_l("To"), validators=[DataRequired(), AnyOf(STATUSES)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])
    filing_acknowledged = BooleanField(_l("The filing condition holds"))


class NewCaseForm(FlaskForm):
    """A case entered by hand: subclass, WGS84 position (or in the basemap's datum, ``crs``),
    address, description, photos."""

    subclass = StringField(_l("Subclass"), validators=[DataRequired(), Length(max=CODE_MAX)])
    lat = FloatField(_l("Latitude"), validators=[InputRequired(message=_l("Click the map or "
                                                                           "give the latitude")),
                                                 NumberRange(min=-90, max=90)])
    lon = FloatField(_l("Longitude"), validators=[InputRequired(message=_l("Click the map or "
                                                                            "give the longitude")),
                                                  NumberRange(min=-180, max=180)])
    crs = StringField(validators=[Optional(), AnyOf(("wgs84", "gcj02"))])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[DataRequired(),
                                                               Length(max=NOTE_MAX)])
    photos = MultipleFileField(_l("Photos"))


class TaxonomyUploadForm(FlaskForm):
    """A taxonomy YAML file to check and put in use."""

    file = FileField(_l("Taxonomy file"), validators=[FileRequired()])
