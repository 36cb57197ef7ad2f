"""Re-flight verification on the case page (:mod:`web.reflight`).

- ``POST /cases/<id>/reflight`` (supervisors, admins; CSRF): plan and store a one-photo
  mission over the case location and link it to the case; back to the case page.
- The template global ``reflight_panel(case)`` gives ``templates/cases/_reflight.html`` the
  case's re-flights, the before and the after photo (matched when it has come in), and
  whether the user may ask for one.

Config: ``REFLIGHT_ALT_REL_M`` (default :data:`web.reflight.DEFAULT_ALT_REL_M`) and
``REFLIGHT_CEILING_ALT_REL_M`` (default :data:`missions.validate.CEILING_ALT_REL_M`), metres
above take-off.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import FloatField, StringField, TextAreaField
from wtforms.validators import AnyOf, Length, NumberRange, Optional

from missions.validate import CEILING_ALT_REL_M
from web.auth import role_required
from web.database import console, get_session
from web.errors import WebError
from web.models import Case
from web.reflight import DEFAULT_ALT_REL_M, MODES, REFLIGHT_ROLES, reflight_panel, request_reflight

bp = Blueprint("reflight", __name__)

CASE_ROLES = ("admin", "officer", "supervisor")


class ReflightForm(FlaskForm):
    """Ask for a re-flight: mission shape, altitude (m above take-off; empty: the default)."""

    mode = StringField("Mode", validators=[Optional(), AnyOf(MODES)])
    alt_rel_m = FloatField("Altitude", validators=[Optional(), NumberRange(min=1.0, max=1000.0)])
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)])


@bp.record_once
def _setup(state) -> None:
    app: Flask = state.app
    app.config.setdefault("REFLIGHT_ALT_REL_M", DEFAULT_ALT_REL_M)
    app.config.setdefault("REFLIGHT_CEILING_ALT_REL_M", CEILING_ALT_REL_M)
    app.add_template_global(_panel, "reflight_panel")


def _panel(case: Case):
    """The re-flight panel of ``case`` for the current user (commits a newly matched photo)."""
    session = get_session()
    panel = reflight_panel(session, case, current_user,
                           default_alt_rel_m=float(current_app.config["REFLIGHT_ALT_REL_M"]))
    if panel.found_now:
        session.commit()
    return panel


@bp.post("/cases/<int:case_id>/reflight")
@role_required(*sorted(REFLIGHT_ROLES))
def request_one(case_id: int):
    """Ask for a re-flight of the case location."""
    session = get_session()
    case = session.get(Case, case_id)
    if case is None:
        abort(404, _("Case %(id)s does not exist.", id=case_id))
    form = ReflightForm()
    back = redirect(url_for("cases.detail", case_id=case_id), code=303)
    if not form.validate():
        abort(400, "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
    alt = form.alt_rel_m.data or float(current_app.config["REFLIGHT_ALT_REL_M"])
    try:
        reflight = request_reflight(
            session, case, current_user, data_dir=console().settings.data_dir, alt_rel_m=alt,
            mode=form.mode.data or "waypoint", note=form.note.data or "",
            ceiling_alt_rel_m=float(current_app.config["REFLIGHT_CEILING_ALT_REL_M"]))
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return back
    session.commit()
    flash(_("Re-flight of case %(code)s planned: route %(route)s. Fly it with the route's page "
            "or `patrol fly --route %(route)s`.", code=case.code, route=reflight.route_id),
          "success")
    return back
