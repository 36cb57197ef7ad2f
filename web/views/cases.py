"""Case pages: the list (filters, officers see their squad's), a new case entered by hand,
the case page with the steps the user may take, and the taxonomy file (admin).

Every POST checks the role (``role_required``) and, for officers, that the case is their
squad's (403 otherwise), then calls one function of :mod:`web.cases`; a refused step comes
back as a flash message on the case page.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user
from sqlalchemy.orm import selectinload

from flight_logs.models import Photo
from patrol.db import utcnow
from patrol.geodesy import gcj02_to_wgs84
from vision.models import Detection, Finding
from web import cases as wf
from web.auth import role_required
from web.case_evidence import StoredPhoto, store_case_photo
from web.case_text import case_description, event_note
from web.case_forms import (MAX_PHOTOS, AssignSquadForm, DispatchForm, ExtensionDecisionForm,
                            ExtensionRequestForm, FileCaseForm, NewCaseForm, NoteForm,
                            PhotoNoteForm, RequiredNoteForm, TaxonomyUploadForm, TransitionForm)
from web.case_rules import (case_rules, current_rules, replace_taxonomy, taxonomy_history,
                            taxonomy_path)
from web.cases import CASE_ROLES, CLOCK_STATUSES, OPEN_STATUSES, REVIEWER_ROLES, STATUSES
from web.database import console, get_session
from web.errors import WebError
from web.models import Case, CaseAttachment, CaseEvent, CaseExtension, Grid, Squad, User
from web.pagination import paginate
from web.taxonomy import TaxonomyError

bp = Blueprint("cases", __name__, url_prefix="/cases")

STATUS_FILTERS = ("open", "overdue", "all", *STATUSES)
ACTION_LABELS = {
    "report": lazy_pgettext("case status", "Reported"), "file": _l("Filed"), "cancel": _l("Not filed"),
    "dispatch": _l("Dispatched"), "handle": _l("Handled"), "verify": _l("Verified"),
    "rework": _l("Returned for rework"), "close": _l("Closed"), "reopen": _l("Reopened"),
    "suspend": _l("Suspended"), "resume": _l("Resumed"), "assign": _l("Assigned"),
    "note": _l("Note"), "extension_request": _l("More time asked for"),
    "extension_grant": _l("Extension granted"), "extension_deny": _l("Extension denied"),
    "reflight": _l("Re-flight"),
}
"""Timeline labels of the case events' actions."""

SCOPES = ("mine", "squad")
"""Officers' list scopes: cases given to them (or to their squad without an officer), or all
of their squad's."""


# ------------------------------------------------------------------ helpers
def _scope(stmt, scope: str | None = None):
    """Officers see only their own squad's cases; ``mine``: theirs or their squad's with no
    officer named."""
    if current_user.role != "officer":
        return stmt
    stmt = stmt.where(Case.squad_id == current_user.squad_id)
    if scope == "mine":
        stmt = stmt.where(sa.or_(Case.officer_id == current_user.id, Case.officer_id.is_(None)))
    return stmt


def _case_or_abort(case_id: int) -> Case:
    case = get_session().get(Case, case_id)
    if case is None:
        abort(404, _("Case %(id)s does not exist.", id=case_id))
    if current_user.role == "officer" and case.squad_id != current_user.squad_id:
        abort(403, _("Case %(code)s belongs to another squad.", code=case.code))
    return case


def _valid_or_400(form):
    if not form.validate():
        abort(400, "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in form.errors.items()))
    return form


def _zone() -> ZoneInfo:
    return ZoneInfo(console().settings.timezone)


def _day(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        abort(400, _("%(name)s must be a date YYYY-MM-DD, got %(value)r", name=name, value=value))


def _photos(field_name: str = "photos") -> list[StoredPhoto]:
    """The uploaded photos of this request, checked and kept in the data root."""
    files = [f for f in request.files.getlist(field_name) if f and f.filename]
    if len(files) > MAX_PHOTOS:
        raise WebError(_("at most %(n)d photos at a time", n=MAX_PHOTOS))
    data_dir = console().settings.data_dir
    return [store_case_photo(data_dir, f.read(), f.filename) for f in files]


def _run(case: Case, fn, success: str):
    """Run a workflow step; commit and flash ``success``, or roll back and flash the error."""
    session = get_session()
    try:
        fn()
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return redirect(url_for("cases.detail", case_id=case.id), code=303)
    session.commit()
    flash(success, "success")
    return redirect(url_for("cases.detail", case_id=case.id), code=303)


def local_time(value: dt.datetime | None) -> str:
    """``2026-05-06 14:00`` in the bureau's time zone (``PATROL_TIMEZONE``), ``—`` for None."""
    if value is None:
        return "—"
    return value.astimezone(_zone()).strftime("%Y-%m-%d %H:%M")


def format_clock(seconds: float | None, clock: str) -> str:
    """``"3 h 20 min"`` of working time (or of plain time for urgent limits), ``—`` for None."""
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    minutes = int(round(abs(seconds) / 60))
    h, m = divmod(minutes, 60)
    text = _("%(h)d h %(m)02d min", h=h, m=m) if h else _("%(m)d min", m=m)
    kind = _("working time") if clock == "working" else _("calendar time")
    return f"{sign}{text} ({kind})"


# ------------------------------------------------------------------ list
@bp.get("")
@role_required(*CASE_ROLES)
def index():
    """Cases newest first, filtered by status (``open`` default, ``overdue``), subclass,
    class, squad, grid, dates of reporting (local days) and, for officers, scope."""
    status = request.args.get("status", "open")
    if status not in STATUS_FILTERS:
        abort(400, _("status must be one of %(values)s", values=", ".join(STATUS_FILTERS)))
    scope = None
    if current_user.role == "officer":
        scope = request.args.get("scope", "mine")
        if scope not in SCOPES:
            abort(400, _("scope must be one of %(values)s", values=", ".join(SCOPES)))
    category = request.args.get("category") or None
    class_code = request.args.get("class") or None
    squad_id = request.args.get("squad", type=int)
    grid_id = request.args.get("grid", type=int)
    first, last = _day(request.args.get("from"), "from"), _day(request.args.get("to"), "to")
    now = utcnow()
    stmt = _scope(sa.select(Case).options(selectinload(Case.squad), selectinload(Case.grid),
                                          selectinload(Case.officer))
                  .order_by(Case.created_at.desc(), Case.id.desc()), scope)
    if status == "open":
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
    elif status == "overdue":
        stmt = stmt.where(wf.overdue_clause(now))
    elif status != "all":
        stmt = stmt.where(Case.status == status)
    if category:
        stmt = stmt.where(Case.category == category)
    if class_code:
        stmt = stmt.where(Case.class_code == class_code)
    if squad_id:
        stmt = stmt.where(Case.squad_id == squad_id)
    if grid_id:
        stmt = stmt.where(Case.grid_id == grid_id)
    zone = _zone()
    if first:
        stmt = stmt.where(Case.created_at >= dt.datetime.combine(first, dt.time(0), zone))
    if last:
        stmt = stmt.where(Case.created_at < dt.datetime.combine(last + dt.timedelta(days=1),
                                                                dt.time(0), zone))
    session = get_session()
    page = paginate(session, stmt, request.args.get("page", 1, type=int),
                    current_app.config["PER_PAGE"])
    overdue_count = session.scalar(_scope(sa.select(sa.func.count()).select_from(Case)
                                          .where(wf.overdue_clause(now)), scope))
    squads = [] if current_user.role == "officer" else \
        list(session.scalars(sa.select(Squad).order_by(Squad.site, Squad.name)))
    grid_stmt = sa.select(Grid).order_by(Grid.code)
    if current_user.role == "officer":
        grid_stmt = grid_stmt.where(Grid.squad_id == current_user.squad_id)
    elif squad_id:
        grid_stmt = grid_stmt.where(Grid.squad_id == squad_id)
    rules = current_rules()
    remaining = {c.id: wf.remaining_seconds(c, now, rules) for c in page.items}
    return render_template(
        "cases/list.html", page=page, status=status, scope=scope, scopes=SCOPES,
        category=category, class_code=class_code, squad_id=squad_id, grid_id=grid_id,
        date_from=request.args.get("from", ""), date_to=request.args.get("to", ""),
        status_filters=STATUS_FILTERS, squads=squads, grids=list(session.scalars(grid_stmt)),
        taxonomy=rules.taxonomy, now=now, overdue_count=overdue_count, remaining=remaining,
        format_clock=format_clock, case_clock=wf.case_clock, is_overdue=wf.overdue,
        local_time=local_time)


@bp.get("/overdue")
@role_required(*CASE_ROLES)
def overdue_list():
    """The overdue cases (the list with ``status=overdue``)."""
    return redirect(url_for("cases.index", status="overdue", **{
        k: v for k, v in request.args.items() if k != "status"}))


# ------------------------------------------------------------------ new case by hand
@bp.route("/new", methods=("GET", "POST"))
@role_required(*REVIEWER_ROLES)
def new():
    """A case entered by hand: click the map or type the position, pick the subclass,
    describe it, add photos. Creates a reported case."""
    rules = current_rules()
    form = NewCaseForm()
    settings = console().settings
    status = 200
    if request.method == "POST":
        if form.validate():
            session = get_session()
            lat, lon = form.lat.data, form.lon.data
            if form.crs.data == "gcj02":
                lon, lat = gcj02_to_wgs84(lon, lat)
            try:
                photos = _photos()
                case = wf.report_case(session, current_user, subclass=form.subclass.data,
                                      lat_deg=lat, lon_deg=lon,
                                      description=form.description.data,
                                      address=form.address.data or "", source="manual",
                                      photos=photos, rules=rules)
            except WebError as err:
                session.rollback()
                flash(str(err), "error")
                status = 400
            else:
                session.commit()
                flash(_("Case %(code)s reported.", code=case.code), "success")
                return redirect(url_for("cases.detail", case_id=case.id), code=303)
        else:
            status = 400
    return render_template(
        "cases/new.html", form=form, taxonomy=rules.taxonomy,
        basemap_url=settings.basemap_url or "",
        display_crs=settings.basemap_crs if settings.basemap_url else "wgs84"), status


# ------------------------------------------------------------------ the case page
@bp.get("/<int:case_id>")
@role_required(*CASE_ROLES)
def detail(case_id: int):
    """A case: details, deadline and remaining working time, map, evidence, timeline,
    extensions, and the steps the user may take."""
    session = get_session()
    case = _case_or_abort(case_id)
    rules = current_rules()
    now = utcnow()
    finding = session.get(Finding, case.finding_id) if case.finding_id else None
    photos = []
    if finding is not None:
        photos = list(session.scalars(
            sa.select(Photo).where(Photo.id.in_(  # not DISTINCT: PostgreSQL has no json equality
                sa.select(Detection.photo_id).where(Detection.finding_id == finding.id)))
            .order_by(Photo.taken_utc)))
    history = list(session.scalars(
        sa.select(CaseEvent).where(CaseEvent.case_id == case.id)
        .options(selectinload(CaseEvent.user), selectinload(CaseEvent.attachments))
        .order_by(CaseEvent.at, CaseEvent.id)))
    attachments = list(session.scalars(
        sa.select(CaseAttachment).where(CaseAttachment.case_id == case.id)
        .order_by(CaseAttachment.id)))
    extensions = list(session.scalars(
        sa.select(CaseExtension).where(CaseExtension.case_id == case.id)
        .options(selectinload(CaseExtension.requester), selectinload(CaseExtension.decider))
        .order_by(CaseExtension.id)))
    reviewer = current_user.role in REVIEWER_ROLES
    squads, officers = [], []
    if reviewer and case.status not in wf.DONE_STATUSES:
        squads = list(session.scalars(sa.select(Squad).order_by(Squad.site, Squad.name)))
        officers = list(session.scalars(
            sa.select(User).where(User.role == "officer", User.active.is_(True))
            .order_by(User.squad_id, User.username)))
    acting = wf.may_act_on(case, current_user)
    pending = next((e for e in extensions if e.status == "pending"), None)
    map_features = [{"type": "Feature", "properties": {"kind": "case", "label": case.code},
                     "geometry": {"type": "Point", "coordinates": [case.lon_deg, case.lat_deg]}}]
    if finding is not None and finding.polygon:
        map_features.append({"type": "Feature", "properties": {"kind": "finding"},
                             "geometry": finding.polygon})
    if case.grid is not None:
        map_features.append({"type": "Feature", "properties": {"kind": "squad",
                                                                "label": case.grid.code},
                             "geometry": case.grid.polygon})
    if case.squad is not None:
        map_features.append({"type": "Feature", "properties": {"kind": "squad",
                                                                "label": case.squad.name},
                             "geometry": case.squad.jurisdiction})
    remaining = wf.remaining_seconds(case, now, rules)
    return render_template(
        "cases/detail.html", case=case, finding=finding, photos=photos, history=history,
        attachments=attachments, extensions=extensions, pending=pending,
        transitions={t.action: t for t in wf.allowed_transitions(case, current_user)},
        squads=squads, officers=officers, map_features=map_features, now=now,
        subclass=rules.taxonomy.get(case.category), taxonomy=rules.taxonomy,
        clock=wf.case_clock(case), remaining=remaining,
        remaining_text=format_clock(remaining, wf.case_clock(case)),
        overdue=wf.overdue(case, now), reviewer=reviewer,
        can_note=acting and case.status not in wf.DONE_STATUSES,
        can_request_extension=(acting and current_user.role in wf.HANDLER_ROLES
                               and case.status == "dispatched" and pending is None),
        can_decide_extension=reviewer and pending is not None,
        extension_unit=("days" if case.time_unit == "working_days" else "hours"),
        clock_statuses=CLOCK_STATUSES, action_labels=ACTION_LABELS, format_clock=format_clock,
        local_time=local_time, description=case_description(case, history),
        event_note=event_note)


@bp.post("/<int:case_id>/file")
@role_required(*REVIEWER_ROLES)
def file(case_id: int):
    """File (立案): needs ``filing_acknowledged``; ``subclass`` may change the subclass."""
    case = _case_or_abort(case_id)
    form = _valid_or_400(FileCaseForm())
    return _run(case, lambda: wf.file_case(
        get_session(), case, current_user, filing_acknowledged=bool(form.filing_acknowledged.data),
        subclass=form.subclass.data or None, note=form.note.data or ""),
        _("Case %(code)s filed.", code=case.code))


@bp.post("/<int:case_id>/dispatch")
@role_required(*REVIEWER_ROLES)
def dispatch(case_id: int):
    """Dispatch (派遣) to ``squad_id`` (default: the case's) and optionally ``officer_id``."""
    session = get_session()
    case = _case_or_abort(case_id)
    form = _valid_or_400(DispatchForm())
    squad = officer = None
    if form.squad_id.data:
        squad = session.get(Squad, form.squad_id.data) or abort(
            400, _("squad %(id)s does not exist", id=form.squad_id.data))
    if form.officer_id.data:
        officer = session.get(User, form.officer_id.data) or abort(
            400, _("user %(id)s does not exist", id=form.officer_id.data))
    return _run(case, lambda: wf.dispatch_case(session, case, current_user, squad=squad,
                                               officer=officer, note=form.note.data or ""),
                _("Case %(code)s dispatched.", code=case.code))


def _simple(action: str, fn, form_cls, message):
    """A POST endpoint running ``fn(session, case, user, note=...)``; ``message(code)`` is
    the flash on success."""

    def view(case_id: int):
        case = _case_or_abort(case_id)
        form = _valid_or_400(form_cls())
        return _run(case, lambda: fn(get_session(), case, current_user,
                                     note=form.note.data or ""), message(case.code))

    view.__name__ = action
    view.__doc__ = f"The {action} step of :mod:`web.cases` (note from the form)."
    return view


_SIMPLE_STEPS = {
    "verify": (wf.verify_case, NoteForm,
               lambda code: _("Case %(code)s verified.", code=code)),
    "close": (wf.close_case, NoteForm,
              lambda code: _("Case %(code)s closed.", code=code)),
    "resume": (wf.resume_case, NoteForm,
               lambda code: _("Case %(code)s resumed; the deadline moved on.", code=code)),
    "rework": (wf.return_for_rework, RequiredNoteForm,
               lambda code: _("Case %(code)s returned for rework.", code=code)),
    "suspend": (wf.suspend_case, RequiredNoteForm,
                lambda code: _("Case %(code)s suspended; its clock stopped.", code=code)),
    "cancel": (wf.cancel_case, RequiredNoteForm,
               lambda code: _("Case %(code)s will not be filed.", code=code)),
    "reopen": (wf.reopen_case, RequiredNoteForm,
               lambda code: _("Case %(code)s reopened.", code=code)),
}
for _action, (_fn, _form, _message) in _SIMPLE_STEPS.items():
    bp.add_url_rule(f"/<int:case_id>/{_action}", endpoint=_action, methods=("POST",),
                    view_func=role_required(*REVIEWER_ROLES)(_simple(_action, _fn, _form,
                                                                     _message)))


@bp.post("/<int:case_id>/handle")
@role_required(*wf.HANDLER_ROLES)
def handle(case_id: int):
    """Report the case handled (处置), with a note and evidence photos (``photos``)."""
    case = _case_or_abort(case_id)
    form = _valid_or_400(PhotoNoteForm())
    return _run(case, lambda: wf.handle_case(get_session(), case, current_user,
                                             note=form.note.data or "", photos=_photos()),
                _("Case %(code)s reported handled.", code=case.code))


@bp.post("/<int:case_id>/note")
@role_required(*CASE_ROLES)
def note(case_id: int):
    """Add a note and photos to the timeline."""
    case = _case_or_abort(case_id)
    form = _valid_or_400(PhotoNoteForm())
    return _run(case, lambda: wf.add_case_note(get_session(), case, current_user,
                                               note=form.note.data or "", photos=_photos()),
                _("Note added to case %(code)s.", code=case.code))


@bp.post("/<int:case_id>/extension")
@role_required(*wf.HANDLER_ROLES)
def request_extension(case_id: int):
    """Ask for more time (``amount`` in the case's unit, ``reason``)."""
    case = _case_or_abort(case_id)
    form = _valid_or_400(ExtensionRequestForm())
    return _run(case, lambda: wf.request_extension(get_session(), case, current_user,
                                                   amount=form.amount.data,
                                                   reason=form.reason.data or ""),
                _("More time asked for on case %(code)s.", code=case.code))


@bp.post("/<int:case_id>/extension/<int:extension_id>")
@role_required(*REVIEWER_ROLES)
def decide_extension(case_id: int, extension_id: int):
    """Grant (``decision=grant``, optional ``amount``) or deny a pending request."""
    session = get_session()
    case = _case_or_abort(case_id)
    extension = session.get(CaseExtension, extension_id)
    if extension is None or extension.case_id != case.id:
        abort(404, _("Case %(code)s has no extension request %(id)s.", code=case.code,
                     id=extension_id))
    form = _valid_or_400(ExtensionDecisionForm())
    grant = form.decision.data == "grant"
    return _run(case, lambda: wf.decide_extension(session, extension, current_user, grant=grant,
                                                  amount=form.amount.data,
                                                  note=form.note.data or ""),
                _("Extension granted on case %(code)s.", code=case.code) if grant
                else _("Extension denied on case %(code)s.", code=case.code))


@bp.post("/<int:case_id>/assign")
@role_required(*REVIEWER_ROLES)
def assign(case_id: int):
    """Give the case to another squad (and optionally one of its officers)."""
    session = get_session()
    case = _case_or_abort(case_id)
    form = _valid_or_400(AssignSquadForm())
    squad = session.get(Squad, form.squad_id.data)
    if squad is None:
        abort(400, _("squad %(id)s does not exist", id=form.squad_id.data))
    officer = None
    if form.officer_id.data:
        officer = session.get(User, form.officer_id.data) or abort(
            400, _("user %(id)s does not exist", id=form.officer_id.data))
    return _run(case, lambda: wf.assign_squad(session, case, squad, current_user, officer=officer,
                                              note=form.note.data or ""),
                _("Case %(code)s assigned to %(squad)s.", code=case.code, squad=squad.name))


@bp.post("/<int:case_id>/advance")
@role_required(*CASE_ROLES)
def advance(case_id: int):
    """Take the workflow step to ``to_status`` (the generic endpoint; each step also has its
    own above)."""
    case = _case_or_abort(case_id)
    form = _valid_or_400(TransitionForm())
    details = {}
    if form.to_status.data == "filed":
        details["filing_acknowledged"] = bool(form.filing_acknowledged.data)
    return _run(case, lambda: wf.advance_case(get_session(), case, form.to_status.data,
                                              current_user, note=form.note.data or "",
                                              **details),
                _("Case %(code)s is now %(status)s.", code=case.code,
                  status=form.to_status.data))


# ------------------------------------------------------------------ the taxonomy file
@bp.route("/taxonomy", methods=("GET", "POST"))
@role_required(*CASE_ROLES)
def taxonomy():
    """The taxonomy in use (everyone on the case pages may read it); admins upload a new file,
    checked before it replaces the old one (which is kept)."""
    settings = console().settings
    form = TaxonomyUploadForm()
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        if current_user.role != "admin":
            abort(403, _("Only an administrator may replace the taxonomy."))
        if not form.validate():
            abort(400, "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in form.errors.items()))
        upload = form.file.data
        try:
            tax, kept = replace_taxonomy(settings.data_dir, upload.read(), now=utcnow(),
                                         source_name=upload.filename or "upload")
        except TaxonomyError as err:
            problems, status = err.problems, 400
            flash(_("The taxonomy was not replaced: %(n)d problem(s) in %(file)s.",
                    n=len(err.problems), file=upload.filename or "upload"), "error")
        except OSError as err:
            status = 500
            flash(_("The taxonomy could not be written: %(err)s", err=str(err)), "error")
        else:
            session = get_session()
            from web.models import AuditEvent

            session.add(AuditEvent(at=utcnow(), user_id=current_user.id,
                                   action="taxonomy.replace", target_type="taxonomy",
                                   target_id=0, note=upload.filename or "",
                                   data={"sha256": tax.sha256, "file": tax.source,
                                         "kept": str(kept) if kept else None,
                                         "subclasses": len(tax.subclasses)}))
            session.commit()
            flash(_("Taxonomy replaced: %(n)d subclasses.", n=len(tax.subclasses)), "success")
            return redirect(url_for("cases.taxonomy"), code=303)
    path = taxonomy_path(settings.data_dir)
    error = None
    try:
        tax = case_rules(settings.data_dir, timezone=settings.timezone).taxonomy
    except WebError as err:
        tax, error = None, str(err)
    return render_template("cases/taxonomy.html", taxonomy=tax, error=error, form=form,
                           problems=problems, path=path,
                           history=taxonomy_history(settings.data_dir)[:10]), status


@bp.get("/taxonomy/download")
@role_required(*CASE_ROLES)
def taxonomy_download():
    """The taxonomy file in use, as it is on disk."""
    path = taxonomy_path(console().settings.data_dir)
    return send_file(path, mimetype="application/yaml", as_attachment=True,
                     download_name="taxonomy.yaml", max_age=0)
