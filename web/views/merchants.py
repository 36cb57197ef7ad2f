"""Merchants and their shopfront zones, the three-colour code, and the SMS outbox.

URLs: ``/merchants`` (list: colour, squad, search), ``/merchants/new``, ``/merchants/<id>``
(zone, notices sent, violations, colour history), ``/merchants/<id>/edit``,
``/merchants/outbox`` (messages the default gateway kept), ``POST /merchants/rules/run``
(apply the shopfront rule now). Supervisors and admins manage; officers see their squad's
merchants. The rules' settings come from ``app.config["SHOPFRONT_RULES"]`` (a
:class:`web.merchants.ShopfrontRules`) or the environment.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from vision.models import Finding
from web.auth import role_required
from web.database import get_session
from web.errors import WebError
from web.merchants import ShopfrontRules, run_shopfront_rules, save_merchant, zone_area_m2
from web.models import Case, Grid, Squad
from web.models_merchants import (COLOURS, Merchant, MerchantColourChange, MerchantNotice,
                                  MerchantViolation, SmsOutbox)
from web.pagination import paginate
from web.views.admin import (ImportForm, PolygonForm, _form_errors, display, display_geometry,
                             map_config, posted_polygon)

__all__ = ["bp"]

bp = Blueprint("merchants", __name__, url_prefix="/merchants")

MANAGERS = ("supervisor", "admin")
VIEWERS = (*MANAGERS, "officer")
COLOUR_LABELS = {"green": _l("green"), "yellow": _l("yellow"), "red": _l("red")}
REASON_LABELS = {"start": _l("start"), "violation": _l("violation"),
                 "clean_period": _l("30 days without a violation")}
NOTICE_LABELS = {"notified": _l("notified"), "cleared": _l("cleared"),
                 "escalated": _l("escalated to a case")}


class MerchantForm(PolygonForm):
    """A merchant: name, address, contact, mobile number, note, active, shopfront zone."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=100)])
    contact_number = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=30)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    active = BooleanField(_l("Active"), default=True)


def _scope(stmt):
    """Officers see only their own squad's merchants."""
    if current_user.role == "officer":
        return stmt.where(Merchant.squad_id == current_user.squad_id)
    return stmt


def _merchant_or_abort(merchant_id: int) -> Merchant:
    merchant = get_session().get(Merchant, merchant_id)
    if merchant is None:
        abort(404, _("%(what)s %(id)s does not exist.", what=_("Merchant"), id=merchant_id))
    if current_user.role == "officer" and merchant.squad_id != current_user.squad_id:
        abort(403, _("This merchant belongs to another squad."))
    return merchant


def _feature(geometry: dict[str, Any], kind: str, label: str = "") -> dict[str, Any]:
    return {"type": "Feature", "properties": {"kind": kind, "label": label}, "geometry": geometry}


@bp.app_template_filter("colour_label")
def colour_label(colour: str | None) -> str:
    """A colour's name in the console's language."""
    return str(COLOUR_LABELS.get(colour or "", colour or "—"))


@bp.app_template_filter("colour_reason")
def colour_reason(reason: str) -> str:
    """Why a colour changed, in the console's language."""
    return str(REASON_LABELS.get(reason, reason))


@bp.app_template_filter("notice_label")
def notice_label(status: str) -> str:
    """A notice's status in the console's language."""
    return str(NOTICE_LABELS.get(status, status))


@bp.get("")
@role_required(*VIEWERS)
def index():
    """Merchants filtered by colour, squad and a search of name, address or number."""
    session = get_session()
    colour = request.args.get("colour") or None
    if colour is not None and colour not in COLOURS:
        abort(400, _("colour must be one of %(colours)s", colours=", ".join(COLOURS)))
    squad_id = request.args.get("squad", type=int)
    q = (request.args.get("q") or "").strip()
    state = request.args.get("state", "active")
    if state not in ("active", "inactive", "all"):
        abort(400, _("state must be active, inactive or all"))
    stmt = _scope(sa.select(Merchant).options(selectinload(Merchant.notices))
                  .order_by(Merchant.name, Merchant.id))
    counts_stmt = _scope(sa.select(Merchant.colour, sa.func.count()).group_by(Merchant.colour)
                         .where(Merchant.active.is_(True)))
    if colour:
        stmt = stmt.where(Merchant.colour == colour)
    if squad_id:
        stmt = stmt.where(Merchant.squad_id == squad_id)
    if state != "all":
        stmt = stmt.where(Merchant.active.is_(state == "active"))
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(sa.or_(Merchant.name.ilike(like), Merchant.address.ilike(like),
                                 Merchant.contact_number.like(like)))
    page = paginate(session, stmt, request.args.get("page", 1, type=int),
                    current_app.config["PER_PAGE"])
    squads = [] if current_user.role == "officer" else \
        list(session.scalars(sa.select(Squad).order_by(Squad.site, Squad.name)))
    squad_names = {s.id: s.name for s in squads}
    if current_user.role == "officer" and current_user.squad is not None:
        squad_names[current_user.squad_id] = current_user.squad.name
    violation_counts = dict(session.execute(
        sa.select(MerchantViolation.merchant_id, sa.func.count())
        .where(MerchantViolation.merchant_id.in_([m.id for m in page.items]))
        .group_by(MerchantViolation.merchant_id)).all())
    return render_template("merchants/list.html", page=page, colour=colour, colours=COLOURS,
                           squad_id=squad_id, squads=squads, squad_names=squad_names, q=q,
                           state=state, colour_counts=dict(session.execute(counts_stmt).all()),
                           violation_counts=violation_counts,
                           can_manage=current_user.role in MANAGERS)


@bp.get("/<int:merchant_id>")
@role_required(*VIEWERS)
def detail(merchant_id: int):
    """A merchant: zone on the map, notices sent, violations, colour history."""
    session = get_session()
    merchant = _merchant_or_abort(merchant_id)
    notices = list(session.scalars(sa.select(MerchantNotice)
                                   .where(MerchantNotice.merchant_id == merchant.id)
                                   .order_by(MerchantNotice.notified_at.desc(),
                                             MerchantNotice.id.desc())))
    violations = list(session.scalars(sa.select(MerchantViolation)
                                      .where(MerchantViolation.merchant_id == merchant.id)
                                      .order_by(MerchantViolation.at.desc(),
                                                MerchantViolation.id.desc())))
    history = list(session.scalars(sa.select(MerchantColourChange)
                                   .where(MerchantColourChange.merchant_id == merchant.id)
                                   .order_by(MerchantColourChange.at.desc(),
                                             MerchantColourChange.id.desc())))
    case_ids = {v.case_id for v in violations if v.case_id} | {n.case_id for n in notices
                                                                if n.case_id}
    cases = {c.id: c for c in session.scalars(sa.select(Case).where(Case.id.in_(case_ids)))}
    finding_ids = {n.finding_id for n in notices}
    findings = list(session.scalars(sa.select(Finding).where(Finding.id.in_(finding_ids))))
    context = [_feature(merchant.zone, merchant.colour, merchant.name)]
    context += [_feature({"type": "Point", "coordinates": [f.lon_deg, f.lat_deg]}, "finding",
                         f"#{f.id} {f.category}") for f in findings]
    squad = session.get(Squad, merchant.squad_id) if merchant.squad_id else None
    grid = session.get(Grid, merchant.grid_id) if merchant.grid_id else None
    return render_template("merchants/detail.html", merchant=merchant, notices=notices,
                           violations=violations, history=history, cases=cases, squad=squad,
                           grid=grid, context=display(context), map_config=map_config(),
                           area_m2=zone_area_m2(merchant.zone),
                           can_manage=current_user.role in MANAGERS)


def _form_page(merchant: Merchant | None, form: MerchantForm, status: int = 200,
               geometry: dict[str, Any] | None = None):
    session = get_session()
    others = session.scalars(sa.select(Merchant).where(Merchant.active.is_(True))
                             .order_by(Merchant.id).limit(500))
    context = [_feature(m.zone, "zone", m.name) for m in others
               if merchant is None or m.id != merchant.id]
    context += [_feature(s.jurisdiction, "jurisdiction", s.name)
                for s in session.scalars(sa.select(Squad).order_by(Squad.id))]
    geometry = geometry or (merchant.zone if merchant is not None else None)
    return render_template("merchants/form.html", merchant=merchant, form=form,
                           context=display(context), geometry=display_geometry(geometry),
                           map_config=map_config()), status


def _save_from(form: MerchantForm, merchant: Merchant | None):
    session = get_session()
    if not form.validate():
        flash(_form_errors(form), "error")
        return _form_page(merchant, form, 400)
    drawn = None
    try:
        drawn = posted_polygon(form, _("merchant %(name)s: shopfront zone", name=form.name.data))
        saved = save_merchant(session, name=form.name.data, address=form.address.data or "",
                              contact_name=form.contact_name.data or "",
                              contact_number=form.contact_number.data, zone=drawn,
                              note=form.note.data or "", active=bool(form.active.data),
                              merchant=merchant, user=current_user)
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        merchant = session.get(Merchant, merchant.id) if merchant is not None else None
        return _form_page(merchant, form, 400, geometry=drawn)
    session.commit()
    flash(_("Merchant %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("merchants.detail", merchant_id=saved.id), code=303)


@bp.route("/new", methods=("GET", "POST"))
@role_required(*MANAGERS)
def new():
    """Register a merchant with its shopfront zone drawn or uploaded."""
    form = MerchantForm()
    if request.method == "POST":
        return _save_from(form, None)
    return _form_page(None, form)


@bp.route("/<int:merchant_id>/edit", methods=("GET", "POST"))
@role_required(*MANAGERS)
def edit(merchant_id: int):
    """Change a merchant's details or zone."""
    merchant = _merchant_or_abort(merchant_id)
    if request.method == "POST":
        return _save_from(MerchantForm(), merchant)
    return _form_page(merchant, MerchantForm(obj=merchant))


@bp.get("/outbox")
@role_required(*MANAGERS)
def outbox():
    """Text messages the default gateway kept instead of sending, newest first."""
    session = get_session()
    stmt = sa.select(SmsOutbox).order_by(SmsOutbox.created_at.desc(), SmsOutbox.id.desc())
    number = (request.args.get("number") or "").strip()
    if number:
        digits = "".join(c for c in number if c.isdigit())
        stmt = stmt.where(SmsOutbox.to_number.like(f"%{digits}%"))
    page = paginate(session, stmt, request.args.get("page", 1, type=int),
                    current_app.config["PER_PAGE"])
    numbers = {row.to_number for row in page.items}
    merchants = {m.contact_number: m for m in session.scalars(
        sa.select(Merchant).where(Merchant.contact_number.in_(numbers)))}
    return render_template("merchants/outbox.html", page=page, merchants=merchants,
                           number=number, rules=_rules(), form=ImportForm())


def _rules() -> ShopfrontRules:
    rules = current_app.config.get("SHOPFRONT_RULES")
    return rules if isinstance(rules, ShopfrontRules) else ShopfrontRules.from_env()


@bp.post("/rules/run")
@role_required(*MANAGERS)
def run_rules():
    """Apply the shopfront rule now (normally run after each vision analysis)."""
    session = get_session()
    if not ImportForm().validate():
        abort(400, _("The form expired; try again."))
    try:
        report = run_shopfront_rules(session, rules=_rules())
    except WebError as err:
        session.rollback()
        flash(str(err), "error")
        return redirect(url_for("merchants.outbox"), code=303)
    session.commit()
    flash(_("Shopfront rules applied: %(merchants)d merchants, %(findings)d findings in their "
            "zones; %(notified)d notified, %(escalated)d escalated to cases, %(cleared)d "
            "cleared, %(colours)d colour changes.", merchants=report.merchants,
            findings=report.findings, notified=len(report.notified),
            escalated=len(report.escalated), cleared=len(report.cleared),
            colours=len(report.colour_changes)), "success")
    for problem in report.sms_failed + report.problems:
        flash(problem, "error")
    return redirect(url_for("merchants.outbox"), code=303)
