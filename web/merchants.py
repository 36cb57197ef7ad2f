"""Shopfronts: merchants, the notify-then-escalate rule, and the three-colour code (三色管理).

The rule, for each finding of a shopfront category (:attr:`ShopfrontRules.categories`, e.g.
``street_vending`` 店外经营) lying in an active merchant's shopfront zone:

1. **Persistence.** Once it has been seen on two passes at least
   :attr:`ShopfrontRules.persistence_s` apart (default 10 min), and the later sighting is
   recent (:attr:`ShopfrontRules.notify_max_age_s`), the merchant is sent a text message
   through the SMS gateway with a deadline (default 15 min after sending): a
   :class:`~web.models_merchants.MerchantNotice`.
2. **Escalation.** If a pass after the deadline still sees it, a case is opened for the
   squad's officer (filed and dispatched through :mod:`web.cases`) and the merchant gets a
   :class:`~web.models_merchants.MerchantViolation`. If instead a pass after the deadline
   covers the spot and no longer sees it, the notice is ``cleared``; a later return starts a
   new notice.

Sightings are the capture times of the finding's detections' photos (``Photo.taken_utc``),
falling back to the finding's ``first_seen_utc``/``last_seen_utc``. A pass "covers the spot"
when an analysed photo's ground footprint holds the finding's position.

The colour (:func:`colour_history`): green at start, yellow at 3-4 violation points, red at
5 or more; after 30 days without a violation it goes one level down (red -> yellow with 3
points, yellow -> green with 0), and again after each further 30 clean days. The history is
kept in :class:`~web.models_merchants.MerchantColourChange`.

:func:`decide` and :func:`colour_history` are pure functions of times; :func:`run_shopfront_rules`
applies them to the database at ``now``. Times are timezone-aware UTC; functions take a
``session`` and never commit.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shapely
import sqlalchemy as sa
from flask_babel import gettext as _
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree
from sqlalchemy.orm import Session, selectinload

from flight_logs.models import Photo
from patrol.db import utcnow
from patrol.geodesy import LocalProjection
from vision.models import Detection, Finding, PhotoGeoref
from web.errors import WebError, WorkflowError
from web.models import AuditEvent, Case, User
from web.models_merchants import (COLOURS, Merchant, MerchantColourChange, MerchantNotice,
                                  MerchantViolation)
from web.places import to_geojson, check_polygon, grid_for_point
from web.sms import DEFAULT_GATEWAY, SmsGateway, gateway_name, load_gateway, normalise_mobile

__all__ = [
    "CLEAN_PERIOD_S",
    "DEFAULT_SHOPFRONT_CATEGORIES",
    "RED_AT",
    "SYSTEM_USERNAME",
    "YELLOW_AT",
    "ColourStep",
    "Decision",
    "MerchantIndex",
    "ShopfrontReport",
    "ShopfrontRules",
    "colour_for_points",
    "colour_history",
    "decide",
    "import_merchants",
    "persistent_pair",
    "run_shopfront_rules",
    "save_merchant",
    "sightings_of",
    "update_colours",
]

DEFAULT_SHOPFRONT_CATEGORIES = ("street_vending",)
"""Finding categories (detector labels) handled as shopfront problems unless configured
otherwise: street vending / business outside the shop (店外经营)."""

YELLOW_AT = 3
RED_AT = 5
CLEAN_PERIOD_S = 30 * 86400.0
SYSTEM_USERNAME = "shopfront-rules"
"""The console user the rule acts as when no ``actor`` is given: created inactive (it cannot
log in) so its steps carry a name in case histories and the audit trail."""

DEFAULT_SMS_TEMPLATE = ("【城市管理】{merchant}：无人机巡查于{seen}发现您的门前责任区存在{category}，"
                        "请于{deadline}前整改，逾期仍未整改将立案处理。")
"""Default notice text (Chinese: the recipients are the bureau's merchants). Placeholders:
``{merchant}``, ``{address}``, ``{category}``, ``{seen}``, ``{deadline}`` (local HH:MM)."""


# --- settings --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShopfrontRules:
    """Settings of the shopfront rule.

    Parameters
    ----------
    categories : tuple of str
        Finding categories that are shopfront problems (``PATROL_SHOPFRONT_CATEGORIES``,
        comma-separated).
    persistence_s : float
        Seconds between the two sightings that make a finding persistent
        (``PATROL_SHOPFRONT_PERSISTENCE_MIN``, minutes, default 10).
    deadline_s : float
        Seconds the merchant has after the message (``PATROL_SHOPFRONT_DEADLINE_MIN``,
        minutes, default 15).
    notify_max_age_s : float
        A notice is sent only while the latest sighting is at most this old
        (``PATROL_SHOPFRONT_MAX_AGE_MIN``, minutes, default 60): nobody is told to clear
        something seen last week.
    pass_gap_s : float
        A covering photo within this many seconds of a sighting belongs to the same pass
        (default 120 s).
    gateway : str
        Dotted path of the SMS gateway factory (``PATROL_SMS_GATEWAY``, default
        ``web.sms:OutboxGateway``).
    sms_template : str
        The notice text (``PATROL_SMS_TEMPLATE``); see :data:`DEFAULT_SMS_TEMPLATE`.
    timezone : str
        IANA zone of the times in the text (``PATROL_TIMEZONE``, default Asia/Shanghai).
    case_category : str or None
        The case category given to escalated cases (``PATROL_SHOPFRONT_CASE_CATEGORY``, a
        taxonomy code such as 店外经营's); None lets the taxonomy map the finding's label.
    """

    categories: tuple[str, ...] = DEFAULT_SHOPFRONT_CATEGORIES
    persistence_s: float = 600.0
    deadline_s: float = 900.0
    notify_max_age_s: float = 3600.0
    pass_gap_s: float = 120.0
    gateway: str = DEFAULT_GATEWAY
    sms_template: str = DEFAULT_SMS_TEMPLATE
    timezone: str = "Asia/Shanghai"
    case_category: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ShopfrontRules":
        """The rules from ``environ`` (default ``os.environ``); unset variables keep the
        defaults.

        >>> ShopfrontRules.from_env({"PATROL_SHOPFRONT_PERSISTENCE_MIN": "5"}).persistence_s
        300.0

        Raises
        ------
        WebError
            If a number is not a positive number, naming the variable.
        """
        env = os.environ if environ is None else environ
        changes: dict[str, Any] = {}
        if env.get("PATROL_SHOPFRONT_CATEGORIES"):
            changes["categories"] = tuple(
                c.strip() for c in env["PATROL_SHOPFRONT_CATEGORIES"].split(",") if c.strip())
        for var, name in (("PATROL_SHOPFRONT_PERSISTENCE_MIN", "persistence_s"),
                          ("PATROL_SHOPFRONT_DEADLINE_MIN", "deadline_s"),
                          ("PATROL_SHOPFRONT_MAX_AGE_MIN", "notify_max_age_s")):
            if env.get(var):
                try:
                    minutes = float(env[var])
                except ValueError:
                    minutes = -1.0
                if not minutes > 0:
                    raise WebError(f"{var}={env[var]!r} is not a positive number of minutes")
                changes[name] = minutes * 60.0
        for var, name in (("PATROL_SMS_GATEWAY", "gateway"),
                          ("PATROL_SMS_TEMPLATE", "sms_template"),
                          ("PATROL_TIMEZONE", "timezone"),
                          ("PATROL_SHOPFRONT_CASE_CATEGORY", "case_category")):
            if env.get(var):
                changes[name] = env[var]
        return cls(**changes)


# --- the rule, as a pure function --------------------------------------------------------------

def persistent_pair(sightings: Iterable[dt.datetime], persistence_s: float
                    ) -> tuple[dt.datetime, dt.datetime] | None:
    """The earliest pair of sightings at least ``persistence_s`` apart: (first, confirming).

    >>> t = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.timezone.utc)
    >>> m = lambda n: t + dt.timedelta(minutes=n)
    >>> persistent_pair([m(0), m(4), m(9)], 600) is None
    True
    >>> [p.strftime("%H:%M") for p in persistent_pair([m(12), m(0), m(4), m(30)], 600)]
    ['08:00', '08:12']
    """
    times = sorted(sightings)
    if not times:
        return None
    for t in times[1:]:
        if (t - times[0]).total_seconds() >= persistence_s:
            return times[0], t
    return None


@dataclass(frozen=True)
class Decision:
    """What the rule does for one finding in one zone at ``now``.

    ``action``: ``"none"`` (not persistent, or too old to notify), ``"notify"`` (send the
    message; ``first_seen``/``at`` are the two sightings), ``"wait"`` (notified, deadline not
    passed or no pass since), ``"escalate"`` (``at`` is the sighting after the deadline) or
    ``"clear"`` (``at`` is the covering pass after the deadline that no longer saw it).
    """

    action: str
    at: dt.datetime | None = None
    first_seen: dt.datetime | None = None
    reason: str = ""


def decide(sightings: Sequence[dt.datetime], *, now: dt.datetime, rules: ShopfrontRules,
           deadline: dt.datetime | None = None, passes: Sequence[dt.datetime] = (),
           since: dt.datetime | None = None) -> Decision:
    """The rule's step for one finding in one merchant's zone.

    Parameters
    ----------
    sightings : sequence of datetime
        When the finding was seen (UTC); those after ``now`` are not known yet.
    now : datetime
        The time of the run (UTC).
    rules : ShopfrontRules
    deadline : datetime, optional
        The pending notice's deadline; None when no notice is pending.
    passes : sequence of datetime
        Capture times of analysed photos whose footprint covers the finding's position.
    since : datetime, optional
        Sightings up to this time are ignored (a cleared notice's resolution).

    Examples
    --------
    >>> t = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.timezone.utc)
    >>> m = lambda n: t + dt.timedelta(minutes=n)
    >>> r = ShopfrontRules()
    >>> decide([m(0), m(5)], now=m(6), rules=r).action
    'none'
    >>> decide([m(0), m(12)], now=m(13), rules=r).action
    'notify'
    >>> decide([m(0), m(12), m(20)], now=m(21), rules=r, deadline=m(28)).action
    'wait'
    >>> decide([m(0), m(12), m(40)], now=m(41), rules=r, deadline=m(28)).at == m(40)
    True
    >>> decide([m(0), m(12)], now=m(41), rules=r, deadline=m(28), passes=[m(40)]).action
    'clear'
    """
    seen = sorted(s for s in sightings if s <= now and (since is None or s > since))
    if deadline is None:
        pair = persistent_pair(seen, rules.persistence_s)
        if pair is None:
            return Decision("none", reason="not seen on two passes "
                                           f"{rules.persistence_s / 60:g} min apart")
        if (now - seen[-1]).total_seconds() > rules.notify_max_age_s:
            return Decision("none", reason=f"last seen {seen[-1].isoformat()}, too long ago "
                                           "to notify")
        return Decision("notify", at=pair[1], first_seen=pair[0])
    later = [s for s in seen if s > deadline]
    gap = dt.timedelta(seconds=rules.pass_gap_s)
    misses = sorted(p for p in passes if deadline < p <= now
                    and not any(abs(p - s) <= gap for s in seen))
    if later and (not misses or later[0] <= misses[0]):
        return Decision("escalate", at=later[0], reason="still there after the deadline")
    if misses:
        return Decision("clear", at=misses[0], reason="a pass after the deadline no longer saw it")
    return Decision("wait", reason="no pass after the deadline yet")


# --- the three-colour code, as a pure function ---------------------------------------------------

def colour_for_points(points: int, *, yellow_at: int = YELLOW_AT, red_at: int = RED_AT) -> str:
    """``"green"`` below ``yellow_at`` violation points, ``"yellow"`` below ``red_at``, else
    ``"red"``.

    >>> [colour_for_points(n) for n in range(7)]
    ['green', 'green', 'green', 'yellow', 'yellow', 'red', 'red']
    """
    return "red" if points >= red_at else "yellow" if points >= yellow_at else "green"


@dataclass(frozen=True)
class ColourStep:
    """One change of colour: at ``at`` from ``from_colour`` (None at the start) to
    ``to_colour`` because of ``reason`` (``"start"``, ``"violation"``, ``"clean_period"``),
    with ``points`` violation points afterwards."""

    at: dt.datetime
    from_colour: str | None
    to_colour: str
    reason: str
    points: int


def colour_history(violations: Iterable[dt.datetime], *, start: dt.datetime, now: dt.datetime,
                   clean_period_s: float = CLEAN_PERIOD_S, yellow_at: int = YELLOW_AT,
                   red_at: int = RED_AT) -> list[ColourStep]:
    """A merchant's colour changes from ``start`` to ``now`` given its violation times.

    Each violation adds a point; the colour follows :func:`colour_for_points`. After
    ``clean_period_s`` without a violation (counted from the last violation or the last step
    down) the colour goes one level down and the points drop to that level's floor (yellow:
    ``yellow_at``, green: 0), so a merchant back on yellow turns red after
    ``red_at - yellow_at`` new violations; a clean period on green clears its points (so
    yellow means 3 violations without a 30-day gap between them). Violations after ``now``
    are not counted.

    Returns
    -------
    list of ColourStep
        The start (green) first, then every change in time order; the last one's
        ``to_colour`` is the colour at ``now``.

    Examples
    --------
    >>> t = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    >>> d = lambda n: t + dt.timedelta(days=n)
    >>> steps = colour_history([d(1), d(2), d(3), d(4), d(5)], start=t, now=d(95))
    >>> [(s.to_colour, s.reason, (s.at - t).days) for s in steps]
    [('green', 'start', 0), ('yellow', 'violation', 3), ('red', 'violation', 5), ('yellow', 'clean_period', 35), ('green', 'clean_period', 65)]
    """
    times = sorted(v for v in violations if v <= now)
    start = min([start, *times[:1]])
    period = dt.timedelta(seconds=clean_period_s)
    steps = [ColourStep(start, None, "green", "start", 0)]
    colour, points, mark = "green", 0, start

    def step_down(until: dt.datetime) -> None:
        nonlocal colour, points, mark
        if colour == "green" and mark + period <= until:
            points = 0  # a clean period on green forgets old points; no colour change
        while colour != "green" and mark + period <= until:
            mark = mark + period
            lower = COLOURS[COLOURS.index(colour) - 1]
            points = yellow_at if lower == "yellow" else 0
            steps.append(ColourStep(mark, colour, lower, "clean_period", points))
            colour = lower

    for t in times:
        step_down(t)
        points += 1
        mark = t
        new = colour_for_points(points, yellow_at=yellow_at, red_at=red_at)
        if new != colour:
            steps.append(ColourStep(t, colour, new, "violation", points))
            colour = new
    step_down(now)
    return steps


# --- merchants -------------------------------------------------------------------------------

def _audit(session: Session, user: User | None, action: str, target_type: str, target_id: int,
           *, now: dt.datetime, note: str = "", data: dict[str, Any] | None = None) -> None:
    session.add(AuditEvent(at=now, user_id=user.id if user is not None else None, action=action,
                           target_type=target_type, target_id=target_id, note=note,
                           data=data or {}))


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: give times in UTC with tzinfo")
    return now


def save_merchant(session: Session, *, name: str, contact_number: str, zone: dict[str, Any],
                  address: str = "", contact_name: str = "", note: str = "",
                  active: bool = True, merchant: Merchant | None = None,
                  properties: dict[str, Any] | None = None, user: User | None = None,
                  now: dt.datetime | None = None) -> Merchant:
    """Create a merchant (green from ``now``) or change ``merchant``; audited
    (``merchant.create`` / ``merchant.update``).

    The squad and unit grid are those holding the zone's representative point
    (:func:`web.cases.squad_for_point`, :func:`web.places.grid_for_point`).

    Parameters
    ----------
    contact_number : str
        A Chinese mobile number (normalised to 11 digits, :func:`web.sms.normalise_mobile`).
    zone : dict
        The shopfront zone, a GeoJSON (Multi)Polygon in WGS84.

    Raises
    ------
    WebError
        If the name is empty, the number is not a mobile number, or the zone is not a valid
        WGS84 (Multi)Polygon.
    """
    from web.cases import squad_for_point

    now = _now(now)
    name = name.strip()
    if not name:
        raise WebError(_("merchant: the name is empty"))
    try:
        number = normalise_mobile(contact_number)
    except WebError as err:
        raise WebError(_("merchant %(name)r: contact number %(error)s", name=name,
                         error=err)) from None
    geom = check_polygon(zone, f"merchant {name!r}: shopfront zone")
    point = geom.representative_point()
    squad = squad_for_point(session, point.x, point.y)
    grid = grid_for_point(session, point.x, point.y)
    values = dict(name=name, address=address.strip(), contact_name=contact_name.strip(),
                  contact_number=number, zone=to_geojson(geom), note=note.strip(), active=active,
                  squad_id=squad.id if squad else None, grid_id=grid.id if grid else None)
    if properties is not None:
        values["properties"] = properties
    if merchant is None:
        merchant = Merchant(created_at=now, colour="green", **values)
        merchant.colour_changes.append(MerchantColourChange(
            at=now, from_colour=None, to_colour="green", reason="start", points=0))
        session.add(merchant)
        session.flush()
        _audit(session, user, "merchant.create", "merchant", merchant.id, now=now,
               data={"name": name, "squad_id": values["squad_id"]})
    else:
        before = {k: getattr(merchant, k) for k in ("name", "address", "contact_number",
                                                     "active", "squad_id")}
        for key, value in values.items():
            setattr(merchant, key, value)
        session.flush()
        _audit(session, user, "merchant.update", "merchant", merchant.id, now=now,
               data={"before": before})
    return merchant


def import_merchants(session: Session, content: bytes | str, *, source: str = "upload",
                     user: User | None = None, now: dt.datetime | None = None) -> list[Merchant]:
    """Create or update (by name) the merchants of a GeoJSON FeatureCollection: each Feature's
    geometry is the shopfront zone, ``properties`` give ``name``, ``contact_number`` and
    optionally ``address``, ``contact_name``, ``note``; the rest is kept in
    ``Merchant.properties``. Every feature is checked before anything changes.

    Raises
    ------
    WebError
        Starting with ``source`` and naming every bad feature.
    """
    now = _now(now)
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WebError(_("%(source)s: cannot read the merchants GeoJSON: %(error)s",
                         source=source, error=err)) from err
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" \
            or not isinstance(features, list):
        raise WebError(_("%(source)s: expected a GeoJSON FeatureCollection of merchants",
                         source=source))
    problems, rows = [], []
    for i, feature in enumerate(features):
        props = dict((feature or {}).get("properties") or {}) if isinstance(feature, dict) else {}
        name = str(props.get("name") or "").strip()
        where = f"feature {i}" + (f" ({name})" if name else "")
        if not name:
            problems.append(_("%(where)s: properties.name is missing", where=where))
            continue
        try:
            normalise_mobile(str(props.get("contact_number") or ""))
            check_polygon(feature.get("geometry"), f"{where}: geometry")
        except WebError as err:
            problems.append(str(err) if "geometry" in str(err) else f"{where}: {err}")
            continue
        rows.append((name, feature["geometry"], props))
    names = [r[0] for r in rows]
    problems += [_("merchant name %(name)r appears twice", name=n) for n in sorted(set(names))
                 if names.count(n) > 1]
    if problems:
        raise WebError(f"{source}: " + "; ".join(problems))
    existing = {m.name: m for m in session.scalars(sa.select(Merchant)
                                                   .where(Merchant.name.in_(names)))}
    merchants = []
    for name, geometry, props in rows:
        fields = {k: str(props.pop(k, "") or "") for k in ("address", "contact_name", "note")}
        number = str(props.pop("contact_number"))
        props.pop("name")
        merchants.append(save_merchant(session, name=name, contact_number=number,
                                       zone=geometry, merchant=existing.get(name),
                                       properties=props, user=user, now=now, **fields))
    return merchants


class MerchantIndex:
    """Active merchants' shopfront zones in an R-tree: which merchant a finding belongs to.

    A finding belongs to the merchant whose zone holds its position (the smallest such zone,
    then the oldest merchant); failing that, to the zone its ground outline
    (``Finding.polygon``) overlaps most.
    """

    def __init__(self, merchants: Iterable[Merchant]) -> None:
        self.merchants = list(merchants)
        self._zones = [shape(m.zone) for m in self.merchants]
        self._tree = STRtree(self._zones) if self._zones else None

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """(min lon, min lat, max lon, max lat) of all zones, or None without merchants."""
        if not self._zones:
            return None
        return tuple(shapely.total_bounds(self._zones))

    def merchant_for(self, lon_deg: float, lat_deg: float,
                     outline: dict[str, Any] | None = None) -> Merchant | None:
        """The merchant of a finding at (lon, lat) with an optional GeoJSON outline."""
        if self._tree is None:
            return None
        point = Point(lon_deg, lat_deg)
        holders = [int(i) for i in self._tree.query(point) if self._zones[int(i)].covers(point)]
        if holders:
            best = min(holders, key=lambda i: (self._zones[i].area, self.merchants[i].id))
            return self.merchants[best]
        if outline:
            try:
                geom: BaseGeometry = shape(outline)
            except (ValueError, TypeError, AttributeError, KeyError):
                return None
            hits = [(self._zones[int(i)].intersection(geom).area, -self.merchants[int(i)].id,
                     int(i)) for i in self._tree.query(geom)
                    if self._zones[int(i)].intersects(geom)]
            hits = [h for h in hits if h[0] > 0]
            if hits:
                return self.merchants[max(hits)[2]]
        return None


def zone_area_m2(zone: dict[str, Any]) -> float:
    """Area of a GeoJSON zone in square metres (local UTM)."""
    geom = shape(zone)
    return float(LocalProjection.for_geometry(geom).project(geom).area)


# --- the runner ------------------------------------------------------------------------------

@dataclass
class ShopfrontReport:
    """What :func:`run_shopfront_rules` did at ``now``."""

    now: dt.datetime
    merchants: int = 0
    findings: int = 0
    notified: list[int] = field(default_factory=list)          # MerchantNotice ids
    sms_failed: list[str] = field(default_factory=list)        # "merchant: error"
    escalated: list[int] = field(default_factory=list)         # MerchantViolation ids
    cases: list[str] = field(default_factory=list)             # case codes opened or linked
    cleared: list[int] = field(default_factory=list)           # MerchantNotice ids
    waiting: int = 0
    colour_changes: list[tuple[int, str | None, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able numbers and lists (for the demo's report)."""
        return {"now": self.now.isoformat(), "merchants": self.merchants,
                "shopfront_findings": self.findings, "notified": len(self.notified),
                "sms_failed": self.sms_failed, "escalated": len(self.escalated),
                "cases": self.cases, "cleared": len(self.cleared), "waiting": self.waiting,
                "colour_changes": [list(c) for c in self.colour_changes],
                "problems": self.problems}

    def summary(self) -> str:
        """One line: ``3 merchants, 2 shopfront findings: 1 notified, 0 escalated ...``."""
        return (f"{self.merchants} merchants, {self.findings} shopfront findings in zones: "
                f"{len(self.notified)} notified, {len(self.escalated)} escalated "
                f"(cases {', '.join(self.cases) or 'none'}), {len(self.cleared)} cleared, "
                f"{self.waiting} waiting; {len(self.colour_changes)} colour changes"
                + (f"; SMS failed: {'; '.join(self.sms_failed)}" if self.sms_failed else "")
                + (f"; problems: {'; '.join(self.problems)}" if self.problems else ""))


def sightings_of(session: Session, findings: Sequence[Finding]) -> dict[int, list[dt.datetime]]:
    """Finding id -> sorted sighting times: its detections' photo capture times, or the
    finding's first/last seen times when no detection has a timed photo."""
    times: dict[int, set[dt.datetime]] = defaultdict(set)
    ids = [f.id for f in findings]
    for start in range(0, len(ids), 500):
        rows = session.execute(
            sa.select(Detection.finding_id, Photo.taken_utc)
            .join(Photo, Photo.id == Detection.photo_id)
            .where(Detection.finding_id.in_(ids[start:start + 500]),
                   Photo.taken_utc.is_not(None)))
        for finding_id, taken in rows:
            times[finding_id].add(taken)
    out = {}
    for f in findings:
        seen = times.get(f.id) or {t for t in (f.first_seen_utc, f.last_seen_utc) if t}
        out[f.id] = sorted(seen)
    return out


def _covering_passes(session: Session, finding: Finding, after: dt.datetime,
                     now: dt.datetime) -> list[dt.datetime]:
    """Capture times (after ``after``, up to ``now``) of analysed photos whose footprint holds
    the finding's position."""
    point = Point(finding.lon_deg, finding.lat_deg)
    rows = session.execute(
        sa.select(Photo.taken_utc, Photo.footprint)
        .join(PhotoGeoref, PhotoGeoref.photo_id == Photo.id)
        .where(PhotoGeoref.analysed_at.is_not(None), Photo.taken_utc > after,
               Photo.taken_utc <= now, Photo.footprint.is_not(None),
               Photo.lat_deg.between(finding.lat_deg - 0.01, finding.lat_deg + 0.01),
               Photo.lon_deg.between(finding.lon_deg - 0.01, finding.lon_deg + 0.01)))
    passes = []
    for taken, footprint in rows:
        try:
            if footprint and shape(footprint).covers(point):
                passes.append(taken)
        except (ValueError, TypeError, AttributeError, KeyError):
            continue
    return sorted(passes)


def system_user(session: Session) -> User:
    """The inactive console user :data:`SYSTEM_USERNAME` the rule acts as (created on first
    use, with an unusable password hash: it cannot log in)."""
    user = session.scalars(sa.select(User).where(User.username == SYSTEM_USERNAME)).one_or_none()
    if user is None:
        user = User(username=SYSTEM_USERNAME, display_name="Shopfront rules (automatic)",
                    password_hash="!", role="supervisor", active=False)
        session.add(user)
        session.flush()
    return user


def _category_name(key: str) -> str:
    from web import cases

    try:
        category = cases.category_for(key)
    except (KeyError, LookupError, ValueError):
        return key
    return getattr(category, "name_zh", None) or getattr(category, "name_en", None) or key


def _sms_text(rules: ShopfrontRules, merchant: Merchant, category: str, seen: dt.datetime,
              deadline: dt.datetime) -> str:
    try:
        zone = ZoneInfo(rules.timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise WebError(f"shopfront rules: time zone {rules.timezone!r} is not a known IANA "
                       "time zone (e.g. Asia/Shanghai)") from err
    try:
        return rules.sms_template.format(
            merchant=merchant.name, address=merchant.address, category=_category_name(category),
            seen=seen.astimezone(zone).strftime("%H:%M"),
            deadline=deadline.astimezone(zone).strftime("%H:%M"))
    except (KeyError, IndexError, ValueError) as err:
        raise WebError(f"SMS template {rules.sms_template!r}: {err!r}; placeholders are "
                       "{merchant}, {address}, {category}, {seen}, {deadline}") from err


def _file_case(session: Session, finding: Finding, actor: User, note: str,
               now: dt.datetime, category: str | None = None) -> tuple[Case, list[str]]:
    """Adapter to :mod:`web.cases`: the case of ``finding`` (an open one is reused; else the
    finding is confirmed into a new case), dispatched to its squad when it has one.

    Returns the case and what could not be done (a dispatch the workflow refused).
    """
    from web import cases

    existing = session.scalars(sa.select(Case).where(Case.finding_id == finding.id)
                               .order_by(Case.id.desc())).first()
    if existing is not None and existing.status != "closed":
        return existing, []
    if finding.status != "new":  # confirmed earlier and closed, or rejected: a new review
        finding.status = "new"
    case = cases.open_case_from_finding(session, finding, actor, category=category, note=note,
                                        now=now)
    problems = []
    if case.squad_id is not None:
        try:
            cases.advance_case(session, case, "dispatched", actor, note=note, now=now)
        except WorkflowError as err:
            problems.append(_("case %(code)s filed but not dispatched: %(error)s", code=case.code,
                               error=err))
    return case, problems


def update_colours(session: Session, now: dt.datetime | None = None, *,
                   merchants: Iterable[Merchant] | None = None) -> list[MerchantColourChange]:
    """Bring each merchant's colour and colour history up to ``now`` (:func:`colour_history`
    over its violations); returns the new history rows.

    A stored history that is not a prefix of the computed one (violations back-dated, or
    thresholds changed) is rewritten.
    """
    now = _now(now)
    if merchants is None:
        merchants = session.scalars(sa.select(Merchant).order_by(Merchant.id)
                                    .options(selectinload(Merchant.colour_changes)))
    merchants = list(merchants)
    violations: dict[int, list[dt.datetime]] = defaultdict(list)
    for merchant_id, at in session.execute(
            sa.select(MerchantViolation.merchant_id, MerchantViolation.at)
            .where(MerchantViolation.merchant_id.in_([m.id for m in merchants]))):
        violations[merchant_id].append(at)
    added = []
    for merchant in merchants:
        steps = colour_history(violations.get(merchant.id, []), start=merchant.created_at,
                               now=now)
        stored = merchant.colour_changes  # ordered by time
        key = [(s.at, s.from_colour, s.to_colour, s.reason, s.points) for s in steps]
        have = [(c.at, c.from_colour, c.to_colour, c.reason, c.points) for c in stored]
        if have != key[:len(have)]:
            stored.clear()  # delete-orphan: the old rows go
            have = []
        for s in steps[len(have):]:
            row = MerchantColourChange(at=s.at, from_colour=s.from_colour, to_colour=s.to_colour,
                                       reason=s.reason, points=s.points)
            stored.append(row)
            added.append(row)
        merchant.colour = steps[-1].to_colour
    session.flush()
    return added


def run_shopfront_rules(session: Session, now: dt.datetime | None = None, *,
                        rules: ShopfrontRules | None = None, gateway: SmsGateway | None = None,
                        actor: User | None = None) -> ShopfrontReport:
    """Apply the shopfront rule (module docstring) at ``now`` to every shopfront finding in an
    active merchant's zone, then bring the colours up to ``now``.

    Run it after each vision analysis (and now and then, for the clean-period steps down);
    running it twice at the same ``now`` does nothing the second time.

    Parameters
    ----------
    session : Session
        Flushed, not committed: the caller commits (the outbox rows with the rest).
    now : datetime, optional
        The time of the run, UTC (default: now). Sightings after it are ignored, so a past
        run can be replayed.
    rules : ShopfrontRules, optional
        Default ``ShopfrontRules.from_env()``.
    gateway : SmsGateway, optional
        Default: the factory named by ``rules.gateway`` called with ``session``.
    actor : User, optional
        Who files and dispatches the cases (a supervisor or admin); default the inactive
        :func:`system_user`.

    Returns
    -------
    ShopfrontReport
        Counts and ids of what was done; SMS and workflow failures are listed in it (the
        notice is still stored, with the gateway's error), not raised.

    Raises
    ------
    WebError
        If the gateway setting cannot be loaded or the SMS template is malformed.
    """
    now = _now(now)
    rules = rules or ShopfrontRules.from_env()
    report = ShopfrontReport(now=now)
    merchants = list(session.scalars(sa.select(Merchant).where(Merchant.active.is_(True))
                                     .order_by(Merchant.id)))
    report.merchants = len(merchants)
    index = MerchantIndex(merchants)
    bounds = index.bounds
    if bounds is not None and rules.categories:
        pad = 0.001  # about 100 m: outlines reaching into a zone from outside it
        findings = list(session.scalars(
            sa.select(Finding).where(
                Finding.category.in_(rules.categories), Finding.status != "rejected",
                Finding.lon_deg.between(bounds[0] - pad, bounds[2] + pad),
                Finding.lat_deg.between(bounds[1] - pad, bounds[3] + pad))
            .order_by(Finding.id)))
        pairs = [(f, m) for f in findings
                 if (m := index.merchant_for(f.lon_deg, f.lat_deg, f.polygon)) is not None]
        report.findings = len(pairs)
        if pairs:
            _apply(session, pairs, now, rules, gateway, actor, report)
    changes = update_colours(session, now)
    report.colour_changes = [(c.merchant_id, c.from_colour, c.to_colour) for c in changes
                             if c.from_colour is not None]
    session.flush()
    return report


def _apply(session: Session, pairs: list[tuple[Finding, Merchant]], now: dt.datetime,
           rules: ShopfrontRules, gateway: SmsGateway | None, actor: User | None,
           report: ShopfrontReport) -> None:
    sightings = sightings_of(session, [f for f, _ in pairs])
    latest: dict[tuple[int, int], MerchantNotice] = {}
    for notice in session.scalars(
            sa.select(MerchantNotice)
            .where(MerchantNotice.finding_id.in_([f.id for f, _ in pairs]))
            .order_by(MerchantNotice.notified_at, MerchantNotice.id)):
        latest[(notice.merchant_id, notice.finding_id)] = notice
    for finding, merchant in pairs:
        notice = latest.get((merchant.id, finding.id))
        if notice is not None and notice.status == "escalated":
            continue
        pending = notice if notice is not None and notice.status == "notified" else None
        since = notice.resolved_at if notice is not None and notice.status == "cleared" else None
        passes = (_covering_passes(session, finding, pending.deadline_utc, now)
                  if pending is not None else [])
        decision = decide(sightings[finding.id], now=now, rules=rules,
                          deadline=pending.deadline_utc if pending else None,
                          passes=passes, since=since)
        if decision.action == "notify":
            if gateway is None:
                gateway = load_gateway(rules.gateway, session)
            _notify(session, merchant, finding, decision, now, rules, gateway, report)
        elif decision.action == "escalate":
            actor = actor or system_user(session)
            _escalate(session, merchant, finding, pending, decision, now, actor, report,
                      rules.case_category)
        elif decision.action == "clear":
            pending.status, pending.resolved_at = "cleared", decision.at
            report.cleared.append(pending.id)
            _audit(session, None, "merchant.notice_cleared", "merchant", merchant.id, now=now,
                   data={"notice_id": pending.id, "finding_id": finding.id,
                         "pass_utc": decision.at.isoformat()})
        elif decision.action == "wait":
            report.waiting += 1


def _notify(session: Session, merchant: Merchant, finding: Finding, decision: Decision,
            now: dt.datetime, rules: ShopfrontRules, gateway: SmsGateway,
            report: ShopfrontReport) -> None:
    deadline = now + dt.timedelta(seconds=rules.deadline_s)
    text = _sms_text(rules, merchant, finding.category, decision.at, deadline)
    message_id, error = None, ""
    try:
        with session.begin_nested():
            message_id = str(gateway.send(merchant.contact_number, text))
    except Exception as err:  # noqa: BLE001 - any gateway failure is recorded, the run goes on
        error = f"{type(err).__name__}: {err}"
        report.sms_failed.append(f"{merchant.name}: {error}")
    notice = MerchantNotice(
        merchant_id=merchant.id, finding_id=finding.id, category=finding.category,
        first_seen_utc=decision.first_seen, confirmed_seen_utc=decision.at, notified_at=now,
        deadline_utc=deadline, sms_number=merchant.contact_number, sms_text=text,
        sms_gateway=gateway_name(gateway), sms_message_id=message_id, sms_error=error,
        status="notified")
    session.add(notice)
    session.flush()
    report.notified.append(notice.id)
    _audit(session, None, "merchant.notify", "merchant", merchant.id, now=now,
           note=error, data={"notice_id": notice.id, "finding_id": finding.id,
                             "deadline_utc": deadline.isoformat(), "message_id": message_id})


def _escalate(session: Session, merchant: Merchant, finding: Finding, notice: MerchantNotice,
              decision: Decision, now: dt.datetime, actor: User, report: ShopfrontReport,
              category: str | None) -> None:
    note = (f"shopfront rule: merchant {merchant.name} ({merchant.contact_number}) was notified "
            f"at {notice.notified_at:%Y-%m-%d %H:%M} UTC with a deadline of "
            f"{notice.deadline_utc:%H:%M} UTC; still seen at {decision.at:%H:%M} UTC")
    try:
        with session.begin_nested():
            case, problems = _file_case(session, finding, actor, note, now, category)
    except WebError as err:
        case, problems = None, [f"finding {finding.id}: no case opened: {err}"]
    report.problems += problems
    violation = MerchantViolation(merchant_id=merchant.id, notice_id=notice.id,
                                  finding_id=finding.id, case_id=case.id if case else None,
                                  category=finding.category, at=decision.at, note=note)
    session.add(violation)
    notice.status, notice.resolved_at = "escalated", decision.at
    notice.case_id = case.id if case else None
    session.flush()
    report.escalated.append(violation.id)
    if case is not None:
        report.cases.append(case.code)
    _audit(session, None, "merchant.violation", "merchant", merchant.id, now=now, note=note,
           data={"violation_id": violation.id, "notice_id": notice.id, "finding_id": finding.id,
                 "case_id": case.id if case else None})
