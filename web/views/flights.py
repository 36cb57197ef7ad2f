"""Flights: the archive's list and each flight's track, statistics and events."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from flight_logs.models import CameraPosition, Flight, FlightEvent, Photo, TrackPoint
from missions.models import Route
from web.database import get_session
from web.pagination import paginate

bp = Blueprint("flights", __name__, url_prefix="/flights")

EVENTS_SHOWN = 500


@bp.get("")
def index():
    """All flights, newest first: vehicle, start, duration, distance, max altitude, photos."""
    stmt = (sa.select(Flight).options(selectinload(Flight.vehicle), selectinload(Flight.log_file))
            .order_by(Flight.start_utc.desc(), Flight.id.desc()))
    page = paginate(get_session(), stmt, request.args.get("page", 1, type=int),
                    current_app.config["PER_PAGE"])
    return render_template("flights/list.html", page=page)


@bp.get("/<int:flight_id>")
def detail(flight_id: int):
    """One flight: track and photos on a map, statistics, events."""
    session = get_session()
    flight = session.get(Flight, flight_id)
    if flight is None:
        abort(404, _("Flight %(id)s does not exist.", id=flight_id))
    count = lambda model, col: session.scalar(  # noqa: E731
        sa.select(sa.func.count()).select_from(model).where(col == flight_id))
    events_total = count(FlightEvent, FlightEvent.flight_id)
    events = list(session.scalars(sa.select(FlightEvent).where(FlightEvent.flight_id == flight_id)
                                  .order_by(FlightEvent.t_utc, FlightEvent.id).limit(EVENTS_SHOWN)))
    route = session.get(Route, flight.route_id) if flight.route_id else None
    return render_template(
        "flights/detail.html", flight=flight, route=route, events=events,
        events_total=events_total, track_points=count(TrackPoint, TrackPoint.flight_id),
        camera_positions=count(CameraPosition, CameraPosition.flight_id),
        photos=count(Photo, Photo.flight_id),
        layers={"tracks": url_for("api.tracks", flight=flight_id),
                "photos": url_for("api.photos", flight=flight_id),
                **({"routes": url_for("api.routes", id=route.id)} if route else {})})
