"""Re-flight verification: fly over a case's place once more and show before and after.

During verification (核查) a supervisor asks for a re-flight of the case location:
:func:`request_reflight` plans a one-photo mission over the point, stores it as a route
(:func:`missions.store.save_route`, so ``patrol fly --route ID`` or the console flies it), and
links it to the case (:class:`~web.models_reflight.Reflight`), with an entry in the case
history and the audit trail. Two mission shapes (:data:`MODES`):

- ``"waypoint"`` (default): home, take-off, a waypoint over the case point at the re-flight
  altitude with one MAV_CMD_IMAGE_START_CAPTURE (one image) there, return to launch. A nadir
  photo centred on the point, like the survey photos the finding came from.
- ``"orbit"``: the orbit pattern (:func:`missions.request.run_plan`) around the point with one
  photo per turn, the camera on the point (MAV_CMD_DO_SET_ROI_LOCATION): an oblique view.

Home is the take-off point of the flight that took the finding's photo (the dock), else the
case point itself. The altitude comes from the console's settings (``REFLIGHT_ALT_REL_M``)
unless the supervisor gives one; the plan is checked against the ceiling
(``REFLIGHT_CEILING_ALT_REL_M``, default :data:`missions.validate.CEILING_ALT_REL_M`) and any
problem refuses the request.

The "after" photo is found by :func:`match_after_photo`: the first archived photo taken after
the request (import time when it has no capture time) whose ground footprint (GeoJSON
Polygon, WGS84, from vision's georeferencing) covers the case location. The "before" is the
finding's evidence crop and the photos its detections were made in.

Functions take a ``session`` and only add and flush; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import Point, shape
from sqlalchemy.orm import Session

from flight_logs.models import Flight, Photo
from missions.areas import AreaSpec
from missions.errors import MissionError
from missions.items import waypoint_item
from missions.plan import RouteBuilder, RoutePlan
from missions.request import PlanRequest, run_plan
from missions.routing import FreeSpace
from missions.safety import apply_safety
from missions.store import save_route
from missions.validate import CEILING_ALT_REL_M, plan_problems
from patrol.db import utcnow
from patrol.geodesy import LocalProjection
from vision.models import Detection, Finding
from web.errors import WebError, WorkflowError
from web.models import AuditEvent, Case, CaseEvent, User
from web.models_reflight import Reflight

__all__ = [
    "DEFAULT_ALT_REL_M",
    "MODES",
    "ORBIT_RADIUS_M",
    "REFLIGHT_ROLES",
    "ReflightPanel",
    "before_photos",
    "match_after_photo",
    "plan_reflight",
    "reflight_panel",
    "request_reflight",
    "verification_statuses",
]

MODES = ("waypoint", "orbit")
DEFAULT_ALT_REL_M = 40.0
"""Re-flight altitude above take-off (m) when the settings give none."""
ORBIT_RADIUS_M = 20.0
"""Radius of the one-photo orbit (m)."""
SPEED_M_S = 5.0
REFLIGHT_ROLES = frozenset({"supervisor", "admin"})
SEARCH_HALF_DEG = 0.01
"""Half-size of the box (degrees, about 1 km) around the case in which after photos are
looked for before testing their footprints."""


def verification_statuses() -> frozenset[str]:
    """Statuses in which a case waits for verification (核查): where the workflow's ``verify``
    and ``rework`` steps start (read from :data:`web.cases.TRANSITIONS`)."""
    from web.cases import TRANSITIONS

    return frozenset(t.from_status for t in TRANSITIONS
                     if getattr(t, "action", None) in ("verify", "rework"))


def plan_reflight(lon_deg: float, lat_deg: float, *, alt_rel_m: float, mode: str = "waypoint",
                  home: tuple[float, float] | None = None,
                  ceiling_alt_rel_m: float = CEILING_ALT_REL_M,
                  name: str = "re-flight") -> RoutePlan:
    """A one-photo mission over a WGS84 point.

    Parameters
    ----------
    lon_deg, lat_deg : float
        The case location, WGS84 degrees.
    alt_rel_m : float
        Altitude above take-off (m).
    mode : {"waypoint", "orbit"}
        See the module notes.
    home : (lon, lat), optional
        Take-off and return point; default the case point.
    ceiling_alt_rel_m : float
        Highest altitude allowed above take-off (m).
    name : str
        Name of the hotspot in the orbit's parameters.

    Returns
    -------
    RoutePlan
        ``stats["photo_count"]`` is 1; geofence and rally points set.

    Raises
    ------
    WebError
        Unknown mode, a position that is not WGS84, an altitude not above 0, a plan over
        the ceiling or otherwise unsafe (the problems named), or the planner's refusal.
    """
    if mode not in MODES:
        raise WebError(f"re-flight mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not (-180.0 <= lon_deg <= 180.0 and -90.0 <= lat_deg <= 90.0):
        raise WebError(f"not a WGS84 position: lon {lon_deg}, lat {lat_deg}")
    if not alt_rel_m > 0:
        raise WebError(f"re-flight altitude must be > 0 m, got {alt_rel_m!r}")
    home = (float(lon_deg), float(lat_deg)) if home is None else home
    try:
        if mode == "orbit":
            target = AreaSpec(name=name, site="", kind="hotspot", geometry=Point(lon_deg, lat_deg),
                              properties={"radius_m": ORBIT_RADIUS_M})
            result = run_plan(PlanRequest(
                "orbit", target, home=home, ceiling_alt_rel_m=ceiling_alt_rel_m,
                planner_kwargs={"alt_rel_m": alt_rel_m, "photos_per_turn": 1, "turns": 1,
                                "speed_m_s": SPEED_M_S}))
            plan, problems = result.plan, result.problems
        else:
            plan = _waypoint_plan(lon_deg, lat_deg, alt_rel_m, home)
            problems = plan_problems(plan, ceiling_alt_rel_m=ceiling_alt_rel_m)
    except MissionError as err:
        raise WebError(f"re-flight over ({lat_deg:.6f}, {lon_deg:.6f}) cannot be planned: {err}") from err
    if problems:
        raise WebError("re-flight plan refused: " + "; ".join(problems))
    return plan


def _waypoint_plan(lon: float, lat: float, alt_rel_m: float,
                   home: tuple[float, float] | None) -> RoutePlan:
    proj = LocalProjection.for_point(lon, lat)
    point_xy = tuple(float(v) for v in proj.to_xy(lon, lat))
    home_xy = point_xy if home is None else tuple(float(v) for v in proj.to_xy(*home))
    builder = RouteBuilder(proj, FreeSpace([]), home_xy=home_xy, alt_rel_m=alt_rel_m,
                           takeoff_alt_m=alt_rel_m, speed_m_s=SPEED_M_S,
                           home_wgs84=None if home is None else (float(home[0]), float(home[1])),
                           photo_mode="waypoint")
    # one photo at the point: a pass of zero length with any trigger distance
    builder.camera_pass([point_xy], trigger_m=1.0)
    items, path, photos, headings, passes = builder.finish()
    # The vehicle replaces home by where it armed and a copter climbs where it stands, so the
    # point is always flown to: a waypoint over it right before the capture.
    k = next(i for i, it in enumerate(items) if it.command == mavlink.MAV_CMD_IMAGE_START_CAPTURE)
    if items[k - 1].command != mavlink.MAV_CMD_NAV_WAYPOINT or k - 1 == 0:
        items.insert(k, waypoint_item(lon, lat, alt_rel_m))
    stats = builder.base_stats()
    params = {"center": [lon, lat], "alt_rel_m": alt_rel_m, "speed_m_s": SPEED_M_S,
              "photo_mode": "waypoint", "home": list(home) if home else None,
              "purpose": "re-flight"}
    plan = RoutePlan(pattern="waypoint", items=items, path_wgs84=path,
                     photo_positions_wgs84=photos, photo_headings_deg=headings, footprint_m=None,
                     passes_wgs84=passes, stats=stats, params=params,
                     home_wgs84=builder.home_wgs84, epsg=proj.epsg)
    return apply_safety(plan, Point(point_xy).buffer(ORBIT_RADIUS_M))


def before_photos(session: Session, finding_id: int | None) -> list[Photo]:
    """The photos a finding's detections were made in, oldest first (empty without one)."""
    if finding_id is None:
        return []
    return list(session.scalars(
        sa.select(Photo).where(Photo.id.in_(  # not DISTINCT: PostgreSQL has no json equality
            sa.select(Detection.photo_id).where(Detection.finding_id == finding_id)))
        .order_by(Photo.taken_utc, Photo.id)))


def _dock_home(session: Session, case: Case) -> tuple[float, float] | None:
    """(lon, lat) of the take-off point of the flight that saw the finding, if known."""
    if case.finding_id is None:
        return None
    row = session.execute(
        sa.select(Flight.home_lon_deg, Flight.home_lat_deg)
        .join(Photo, Photo.flight_id == Flight.id)
        .join(Detection, Detection.photo_id == Photo.id)
        .where(Detection.finding_id == case.finding_id, Flight.home_lat_deg.is_not(None),
               Flight.home_lon_deg.is_not(None))
        .order_by(Photo.taken_utc.desc()).limit(1)).first()
    return None if row is None else (float(row[0]), float(row[1]))


def request_reflight(session: Session, case: Case, user: User, *, data_dir: str | Path,
                     alt_rel_m: float = DEFAULT_ALT_REL_M, mode: str = "waypoint",
                     ceiling_alt_rel_m: float = CEILING_ALT_REL_M, note: str = "",
                     now: dt.datetime | None = None) -> Reflight:
    """Plan, store and link a re-flight of ``case``'s location.

    Parameters
    ----------
    session : Session
    case : Case
        A case waiting for verification (:func:`verification_statuses`).
    user : User
        A supervisor or admin.
    data_dir : str or Path
        The data root (the route's ``.plan``/``.waypoints`` files go under ``plans/``).
    alt_rel_m : float
        Altitude above take-off (m).
    mode : {"waypoint", "orbit"}
    ceiling_alt_rel_m : float
        The altitude ceiling the plan is checked against (m).
    note : str
        The supervisor's remark.
    now : datetime, optional
        Timezone-aware request time (default now).

    Returns
    -------
    Reflight
        Added and flushed, with its route; a :class:`~web.models.CaseEvent` (status
        unchanged) and an :class:`~web.models.AuditEvent` ``case.reflight`` record it.

    Raises
    ------
    WorkflowError
        If the user may not ask for it or the case is not waiting for verification.
    WebError
        If the mission cannot be planned safely (:func:`plan_reflight`).
    OSError
        If the mission files cannot be written.
    """
    now = utcnow() if now is None else now
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: give times in UTC with tzinfo")
    if user.role not in REFLIGHT_ROLES:
        raise WorkflowError(f"user {user.username!r} ({user.role}) may not ask for a re-flight: "
                            f"only {', '.join(sorted(REFLIGHT_ROLES))} may")
    waiting = verification_statuses()
    if case.status not in waiting:
        raise WorkflowError(f"case {case.code} is {case.status}: a re-flight is asked for during "
                            f"verification ({', '.join(sorted(waiting))})")
    count = session.scalar(sa.select(sa.func.count()).select_from(Reflight)
                           .where(Reflight.case_id == case.id)) or 0
    name = f"re-flight {case.code} #{count + 1}"
    plan = plan_reflight(case.lon_deg, case.lat_deg, alt_rel_m=alt_rel_m, mode=mode,
                         home=_dock_home(session, case), ceiling_alt_rel_m=ceiling_alt_rel_m,
                         name=name)
    route = save_route(session, plan, name=name, data_dir=data_dir)
    reflight = Reflight(case_id=case.id, route_id=route.id, mode=mode, alt_rel_m=float(alt_rel_m),
                        requested_by=user.id, requested_at=now, note=note)
    session.add(reflight)
    session.add(CaseEvent(case_id=case.id, user_id=user.id, action="reflight",
                          from_status=case.status, to_status=case.status, at=now,
                          note=note.strip(), data={"route_id": route.id, "mode": mode,
                                                   "alt_rel_m": float(alt_rel_m)}))
    session.flush()
    session.add(AuditEvent(at=now, user_id=user.id, action="case.reflight", target_type="case",
                           target_id=case.id, note=note,
                           data={"reflight_id": reflight.id, "route_id": route.id, "mode": mode,
                                 "alt_rel_m": float(alt_rel_m)}))
    session.flush()
    return reflight


def match_after_photo(session: Session, reflight: Reflight) -> Photo | None:
    """The re-flight's after photo, found now if not yet (and stored on ``reflight``).

    The first photo (by capture time, else import time) taken at or after the request whose
    footprint covers the case location; None while there is none.
    """
    if reflight.after_photo_id is not None:
        return session.get(Photo, reflight.after_photo_id)
    case = session.get(Case, reflight.case_id)
    since = reflight.requested_at
    when = sa.func.coalesce(Photo.taken_utc, Photo.imported_at)
    candidates = session.scalars(
        sa.select(Photo)
        .where(sa.or_(Photo.taken_utc >= since,
                      sa.and_(Photo.taken_utc.is_(None), Photo.imported_at >= since)),
               Photo.footprint.is_not(None),
               Photo.lat_deg.between(case.lat_deg - SEARCH_HALF_DEG, case.lat_deg + SEARCH_HALF_DEG),
               Photo.lon_deg.between(case.lon_deg - SEARCH_HALF_DEG, case.lon_deg + SEARCH_HALF_DEG))
        .order_by(when, Photo.id).limit(500))
    point = Point(case.lon_deg, case.lat_deg)
    for photo in candidates:
        try:
            covers = shape(photo.footprint).covers(point)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a malformed footprint is not a match
        if covers:
            reflight.after_photo_id = photo.id
            reflight.after_found_at = utcnow()
            session.flush()
            return photo
    return None


@dataclass
class ReflightPanel:
    """What the case page shows about re-flights.

    ``reflights`` newest first; ``after`` the latest re-flight's after photo (None while it
    is not flown); ``before_evidence_path`` the finding's crop (relative to the data root) and
    ``before_photo`` its first photo; ``can_request`` whether the user may ask for one now.
    """

    reflights: list[Reflight] = field(default_factory=list)
    after: Photo | None = None
    before_evidence_path: str | None = None
    before_photo: Photo | None = None
    can_request: bool = False
    modes: tuple[str, ...] = MODES
    default_alt_rel_m: float = DEFAULT_ALT_REL_M
    found_now: bool = False

    @property
    def latest(self) -> Reflight | None:
        return self.reflights[0] if self.reflights else None


def reflight_panel(session: Session, case: Case, user: User, *,
                   default_alt_rel_m: float = DEFAULT_ALT_REL_M) -> ReflightPanel:
    """The re-flights of ``case`` for its page, matching an after photo if one has come in
    (``found_now`` says a match was stored: the caller commits)."""
    panel = ReflightPanel(default_alt_rel_m=default_alt_rel_m)
    panel.reflights = list(session.scalars(
        sa.select(Reflight).where(Reflight.case_id == case.id)
        .order_by(Reflight.requested_at.desc(), Reflight.id.desc())))
    panel.can_request = user.role in REFLIGHT_ROLES and case.status in verification_statuses()
    if not panel.reflights:
        return panel
    latest = panel.reflights[0]
    had = latest.after_photo_id
    panel.after = match_after_photo(session, latest)
    panel.found_now = had is None and panel.after is not None
    finding = session.get(Finding, case.finding_id) if case.finding_id else None
    if finding is not None:
        panel.before_evidence_path = finding.evidence_path
        photos = before_photos(session, finding.id)
        panel.before_photo = photos[0] if photos else None
    return panel
