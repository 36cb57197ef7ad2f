"""Administration (admin role only): users, squads (中队) and their jurisdictions, unit grids
(单元网格). Thin views over :mod:`web.accounts` and :mod:`web.places`; every change is audited
there.

URLs: ``/admin/users`` (list, ``/new``, ``/<id>``: role and squad, active, password),
``/admin/squads`` (list, ``/new``, ``/<id>``, ``/import``), ``/admin/squads/<id>/grids/new``,
``/admin/grids/<id>`` (edit, ``/delete``), ``/admin/grids/import``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from shapely.geometry import shape
from sqlalchemy.orm import selectinload
from wtforms import (HiddenField, IntegerField, PasswordField, StringField, TextAreaField)
from wtforms.validators import (AnyOf, DataRequired, EqualTo, Length, Optional, Regexp)

from web.accounts import PASSWORD_MIN_LENGTH, add_user, change_user, reset_password, set_active
from web.auth import role_required
from web.database import console, get_session
from web.errors import WebError
from web.geojson import feature_collection, to_display_crs
from web.models import ROLES, AuditEvent, Case, Grid, Squad, User
from web.pagination import paginate
from web.places import (delete_grid, import_grids, import_squads, polygon_from_text,
                        polygon_from_upload, save_grid, save_squad)
from web.views.mapview import site_choice

__all__ = ["bp", "map_config", "posted_polygon"]

bp = Blueprint("admin", __name__, url_prefix="/admin")

USERNAME_RE = r"^[A-Za-z0-9_.@-]+$"


# --- forms -----------------------------------------------------------------------------------

class UserCreateForm(FlaskForm):
    """A new user: username, display name, role, squad (officers), initial password."""

    username = StringField(_l("Username"), validators=[
        DataRequired(), Length(max=80),
        Regexp(USERNAME_RE, message=_l("Letters, digits and _ . @ - only."))])
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=200)])
    role = StringField(_l("Role"), validators=[DataRequired(), AnyOf(ROLES)])
    squad_id = IntegerField(_l("Squad"), validators=[Optional()])
    password = PasswordField(_l("Initial password"), validators=[
        DataRequired(), Length(min=PASSWORD_MIN_LENGTH, max=200)])


class UserEditForm(FlaskForm):
    """Role, squad and display name of a user."""

    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=200)])
    role = StringField(_l("Role"), validators=[DataRequired(), AnyOf(ROLES)])
    squad_id = IntegerField(_l("Squad"), validators=[Optional()])


class UserActiveForm(FlaskForm):
    """Deactivate (``active=0``) or reactivate (``active=1``) a user."""

    active = StringField(validators=[DataRequired(), AnyOf(("0", "1"))])
    note = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


class PasswordResetForm(FlaskForm):
    """A new password, typed twice."""

    password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=PASSWORD_MIN_LENGTH, max=200)])
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


class PolygonForm(FlaskForm):
    """The polygon part of a form: the drawn GeoJSON, the map's datum, the upload's datum."""

    geometry = HiddenField()
    crs = HiddenField(default="wgs84", validators=[Optional(), AnyOf(("wgs84", "gcj02"))])
    upload_gcj02 = StringField(validators=[Optional()])


class SquadForm(PolygonForm):
    """Name, site and jurisdiction of a squad."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    site = StringField(_l("Site"), validators=[DataRequired(), Length(max=100)])


class GridForm(PolygonForm):
    """Code, name, squad and polygon of a unit grid."""

    code = StringField(_l("Grid code"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    squad_id = IntegerField(_l("Squad"), validators=[DataRequired()])


class ImportForm(FlaskForm):
    """A GeoJSON FeatureCollection of squads or grids (the file comes in ``request.files``)."""


# --- helpers (also used by the merchants pages) ------------------------------------------------

def map_config() -> dict[str, str]:
    """The map's basemap and datum for the zone editor (``data-config``)."""
    settings = console().settings
    return {"crs": settings.basemap_crs if settings.basemap_url else "wgs84",
            "basemapUrl": settings.basemap_url or ""}


def display(features: list[dict[str, Any]]) -> dict[str, Any]:
    """Features as a FeatureCollection in the map's datum."""
    return to_display_crs(feature_collection(features), map_config()["crs"])


def display_geometry(geometry: dict[str, Any] | None) -> dict[str, Any] | None:
    """One WGS84 geometry in the map's datum (for the editable layer)."""
    if not geometry:
        return None
    return display([{"type": "Feature", "properties": {}, "geometry": geometry}])[
        "features"][0]["geometry"]


def posted_polygon(form: PolygonForm, where: str, *, required: bool = True
                   ) -> dict[str, Any] | None:
    """The polygon of a posted form: the uploaded file (``zone_file``) when one was sent, else
    the geometry drawn on the map; None when neither and not ``required``.

    Raises
    ------
    WebError
        From :func:`web.places.polygon_from_upload` / :func:`web.places.polygon_from_text`.
    """
    upload = request.files.get("zone_file")
    if upload is not None and upload.filename:
        coordinates = "gcj02" if form.upload_gcj02.data else "wgs84"
        return polygon_from_upload(upload.filename, upload.read(), where,
                                   coordinates=coordinates)
    text = form.geometry.data or ""
    if not text.strip() and not required:
        return None
    return polygon_from_text(text, where, crs=form.crs.data or "wgs84")


def _feature(geometry: dict[str, Any], kind: str, label: str = "", **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"kind": kind, "label": label, **properties},
            "geometry": geometry}


def _form_errors(form: FlaskForm) -> str:
    return "; ".join(f"{getattr(form, k).label.text}: {', '.join(str(e) for e in v)}"
                     for k, v in form.errors.items())


def _squads(session) -> list[Squad]:
    return list(session.scalars(sa.select(Squad).order_by(Squad.site, Squad.name)))


def _get_or_404(model, object_id: int, what: str):
    obj = get_session().get(model, object_id)
    if obj is None:
        abort(404, _("%(what)s %(id)s does not exist.", what=what, id=object_id))
    return obj


# --- users -----------------------------------------------------------------------------------

@bp.get("/")
@role_required("admin")
def index():
    """The administration's first page: users."""
    return redirect(url_for("admin.users"))


@bp.get("/users")
@role_required("admin")
def users():
    """Users, filtered by role and active state, paginated."""
    session = get_session()
    role = request.args.get("role") or None
    state = request.args.get("state", "active")
    if role is not None and role not in ROLES:
        abort(400, _("role must be one of %(roles)s", roles=", ".join(ROLES)))
    if state not in ("active", "inactive", "all"):
        abort(400, _("state must be active, inactive or all"))
    stmt = sa.select(User).options(selectinload(User.squad)).order_by(User.username)
    if role:
        stmt = stmt.where(User.role == role)
    if state != "all":
        stmt = stmt.where(User.active.is_(state == "active"))
    page = paginate(session, stmt, request.args.get("page", 1, type=int), 50)
    return render_template("admin/users.html", page=page, role=role, state=state, roles=ROLES)


@bp.route("/users/new", methods=("GET", "POST"))
@role_required("admin")
def user_new():
    """Create a user with an initial password."""
    session = get_session()
    form = UserCreateForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            squad = session.get(Squad, form.squad_id.data) if form.squad_id.data else None
            try:
                user = add_user(session, current_user, username=form.username.data,
                                password=form.password.data, role=form.role.data, squad=squad,
                                display_name=form.display_name.data or "")
            except WebError as err:
                session.rollback()
                flash(str(err), "error")
                status = 400
            else:
                session.commit()
                flash(_("User %(name)s created.", name=user.username), "success")
                return redirect(url_for("admin.user_detail", user_id=user.id), code=303)
        else:
            flash(_form_errors(form), "error")
            status = 400
    return render_template("admin/user_new.html", form=form, roles=ROLES,
                           squads=_squads(session), min_length=PASSWORD_MIN_LENGTH), status


@bp.get("/users/<int:user_id>")
@role_required("admin")
def user_detail(user_id: int):
    """A user: role and squad, activation, password reset, and the audit of changes."""
    session = get_session()
    user = _get_or_404(User, user_id, _("User"))
    audit = list(session.scalars(
        sa.select(AuditEvent).options(selectinload(AuditEvent.user))
        .where(AuditEvent.target_type == "user", AuditEvent.target_id == user.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(50)))
    squads = _squads(session)
    return render_template("admin/user_detail.html", user=user, roles=ROLES, squads=squads,
                           squad_names={s.id: s.name for s in squads}, audit=audit,
                           min_length=PASSWORD_MIN_LENGTH)


def _user_action(user_id: int, form: FlaskForm, action) -> Any:
    session = get_session()
    user = _get_or_404(User, user_id, _("User"))
    if not form.validate():
        flash(_form_errors(form), "error")
        return redirect(url_for("admin.user_detail", user_id=user.id), code=303)
    try:
        message = action(session, user)
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return redirect(url_for("admin.user_detail", user_id=user.id), code=303)
    session.commit()
    flash(message, "success")
    return redirect(url_for("admin.user_detail", user_id=user.id), code=303)


@bp.post("/users/<int:user_id>")
@role_required("admin")
def user_update(user_id: int):
    """Change role, squad and display name."""
    form = UserEditForm()

    def act(session, user):
        squad = session.get(Squad, form.squad_id.data) if form.squad_id.data else None
        change_user(session, current_user, user, role=form.role.data, squad=squad,
                    display_name=form.display_name.data or "")
        return _("User %(name)s saved.", name=user.username)

    return _user_action(user_id, form, act)


@bp.post("/users/<int:user_id>/active")
@role_required("admin")
def user_active(user_id: int):
    """Deactivate or reactivate."""
    form = UserActiveForm()

    def act(session, user):
        active = form.active.data == "1"
        set_active(session, current_user, user, active, note=form.note.data or "")
        return (_("User %(name)s is active again.", name=user.username) if active
                else _("User %(name)s is deactivated.", name=user.username))

    return _user_action(user_id, form, act)


@bp.post("/users/<int:user_id>/password")
@role_required("admin")
def user_password(user_id: int):
    """Set a new password."""
    form = PasswordResetForm()

    def act(session, user):
        reset_password(session, current_user, user, form.password.data)
        return _("New password set for %(name)s.", name=user.username)

    return _user_action(user_id, form, act)


# --- squads ----------------------------------------------------------------------------------

@bp.get("/squads")
@role_required("admin")
def squads():
    """Squads with their site and counts of grids, officers and open cases."""
    session = get_session()
    rows = _squads(session)
    grid_counts = dict(session.execute(
        sa.select(Grid.squad_id, sa.func.count()).group_by(Grid.squad_id)).all())
    officer_counts = dict(session.execute(
        sa.select(User.squad_id, sa.func.count()).where(User.role == "officer",
                                                         User.active.is_(True))
        .group_by(User.squad_id)).all())
    case_counts = dict(session.execute(
        sa.select(Case.squad_id, sa.func.count()).where(Case.status != "closed")
        .group_by(Case.squad_id)).all())
    features = [_feature(s.jurisdiction, "jurisdiction", s.name, site=s.site) for s in rows]
    sites, site = site_choice(request.args.get("site"))
    return render_template("admin/squads.html", squads=rows, grid_counts=grid_counts,
                           sites=sites, site=site,
                           officer_counts=officer_counts, case_counts=case_counts,
                           context=display(features), map_config=map_config(),
                           import_form=ImportForm())


def _squad_page(squad: Squad | None, form: SquadForm, status: int = 200,
                geometry: dict[str, Any] | None = None):
    session = get_session()
    context = []
    for other in _squads(session):
        if squad is None or other.id != squad.id:
            context.append(_feature(other.jurisdiction, "jurisdiction", other.name))
    grids = list(squad.grids) if squad is not None else []
    context += [_feature(g.polygon, "grid", f"{g.code} {g.name}") for g in grids]
    geometry = geometry or (squad.jurisdiction if squad is not None else None)
    return render_template("admin/squad_form.html", squad=squad, form=form,
                           grids=sorted(grids, key=lambda g: g.code),
                           context=display(context), geometry=display_geometry(geometry),
                           map_config=map_config()), status


def _save_squad_from(form: SquadForm, squad: Squad | None):
    session = get_session()
    if not form.validate():
        flash(_form_errors(form), "error")
        return _squad_page(squad, form, 400)
    name = form.name.data
    drawn = None
    try:
        drawn = posted_polygon(form, _("squad %(name)s: jurisdiction", name=name))
        saved = save_squad(session, name=name, site=form.site.data, jurisdiction=drawn,
                           squad=squad, user=current_user)
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return _squad_page(squad if squad is None else session.get(Squad, squad.id), form, 400,
                           geometry=drawn)
    session.commit()
    flash(_("Squad %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("admin.squad_edit", squad_id=saved.id), code=303)


@bp.route("/squads/new", methods=("GET", "POST"))
@role_required("admin")
def squad_new():
    """Create a squad with its jurisdiction drawn on the map or uploaded (GeoJSON/KML/KMZ)."""
    form = SquadForm()
    if request.method == "POST":
        return _save_squad_from(form, None)
    return _squad_page(None, form)


@bp.route("/squads/<int:squad_id>", methods=("GET", "POST"))
@role_required("admin")
def squad_edit(squad_id: int):
    """Change a squad's name, site or jurisdiction; its grids are listed and shown."""
    squad = _get_or_404(Squad, squad_id, _("Squad"))
    form = SquadForm(obj=squad) if request.method == "GET" else SquadForm()
    if request.method == "POST":
        return _save_squad_from(form, squad)
    return _squad_page(squad, form)


def _import(kind: str):
    session = get_session()
    form = ImportForm()
    if not form.validate():
        abort(400, _form_errors(form) or _("The form expired; try again."))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a GeoJSON file to import."), "error")
        return redirect(url_for("admin.squads"), code=303)
    importer = import_squads if kind == "squads" else import_grids
    try:
        rows = importer(session, upload.read(), source=upload.filename, user=current_user)
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return redirect(url_for("admin.squads"), code=303)
    session.commit()
    flash(_("%(count)d %(kind)s imported from %(file)s.", count=len(rows),
            kind=_("squads") if kind == "squads" else _("grids"), file=upload.filename),
          "success")
    return redirect(url_for("admin.squads"), code=303)


@bp.post("/squads/import")
@role_required("admin")
def squads_import():
    """Create or update squads from a GeoJSON FeatureCollection (name, site, polygon)."""
    return _import("squads")


@bp.post("/grids/import")
@role_required("admin")
def grids_import():
    """Create or update grids from a GeoJSON FeatureCollection (code, name, squad, polygon)."""
    return _import("grids")


# --- grids -----------------------------------------------------------------------------------

def _grid_page(grid: Grid | None, squad: Squad, form: GridForm, status: int = 200,
               geometry: dict[str, Any] | None = None):
    session = get_session()
    context = [_feature(squad.jurisdiction, "jurisdiction", squad.name)]
    context += [_feature(g.polygon, "grid", f"{g.code} {g.name}") for g in squad.grids
                if grid is None or g.id != grid.id]
    geometry = geometry or (grid.polygon if grid is not None else None)
    return render_template("admin/grid_form.html", grid=grid, squad=squad, form=form,
                           squads=_squads(session), context=display(context),
                           geometry=display_geometry(geometry), map_config=map_config()), status


def _save_grid_from(form: GridForm, grid: Grid | None, squad: Squad):
    session = get_session()
    if not form.validate():
        flash(_form_errors(form), "error")
        return _grid_page(grid, squad, form, 400)
    target = session.get(Squad, form.squad_id.data)
    if target is None:
        abort(400, _("%(what)s %(id)s does not exist.", what=_("Squad"), id=form.squad_id.data))
    drawn = None
    try:
        drawn = posted_polygon(form, _("grid %(code)s: polygon", code=form.code.data))
        saved = save_grid(session, code=form.code.data, name=form.name.data or "",
                          squad=target, polygon=drawn, grid=grid, user=current_user)
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        grid = session.get(Grid, grid.id) if grid is not None else None
        return _grid_page(grid, session.get(Squad, squad.id), form, 400, geometry=drawn)
    session.commit()
    flash(_("Grid %(code)s saved.", code=saved.code), "success")
    return redirect(url_for("admin.squad_edit", squad_id=saved.squad_id), code=303)


@bp.route("/squads/<int:squad_id>/grids/new", methods=("GET", "POST"))
@role_required("admin")
def grid_new(squad_id: int):
    """Create a unit grid inside the squad's jurisdiction."""
    squad = _get_or_404(Squad, squad_id, _("Squad"))
    form = GridForm() if request.method == "POST" else GridForm(squad_id=squad.id)
    if request.method == "POST":
        return _save_grid_from(form, None, squad)
    return _grid_page(None, squad, form)


@bp.route("/grids/<int:grid_id>", methods=("GET", "POST"))
@role_required("admin")
def grid_edit(grid_id: int):
    """Change a grid's code, name, squad or polygon."""
    grid = _get_or_404(Grid, grid_id, _("Grid"))
    form = GridForm() if request.method == "POST" else GridForm(obj=grid)
    if request.method == "POST":
        return _save_grid_from(form, grid, grid.squad)
    return _grid_page(grid, grid.squad, form)


@bp.post("/grids/<int:grid_id>/delete")
@role_required("admin")
def grid_delete(grid_id: int):
    """Delete a grid (its cases keep their place)."""
    session = get_session()
    grid = _get_or_404(Grid, grid_id, _("Grid"))
    if not ImportForm().validate():
        abort(400, _("The form expired; try again."))
    squad_id, code = grid.squad_id, grid.code
    delete_grid(session, grid, user=current_user)
    session.commit()
    flash(_("Grid %(code)s deleted.", code=code), "success")
    return redirect(url_for("admin.squad_edit", squad_id=squad_id), code=303)


def jurisdiction_area_km2(squad: Squad) -> float:
    """Area of a squad's jurisdiction in km² (local UTM), for the list."""
    from patrol.geodesy import LocalProjection

    geom = shape(squad.jurisdiction)
    return LocalProjection.for_geometry(geom).project(geom).area / 1e6


bp.add_app_template_filter(jurisdiction_area_km2, "area_km2")
