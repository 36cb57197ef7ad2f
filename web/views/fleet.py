"""The fleet: live map of the vehicles (Server-Sent Events) and flight statistics with CSV.

Pages for operators, supervisors and admins:

- ``GET /fleet``: live map, vehicle table and alarms, fed by ``/api/fleet/stream``;
- ``GET /api/fleet/stream``: the live feed (:mod:`web.fleet_stream`), ``text/event-stream``;
  at most ``FLEET_MAX_STREAMS`` at once (503 with ``Retry-After`` beyond, so page requests
  always find a server thread), each ending after ``FLEET_STREAM_MAX_S``;
- ``GET /fleet/stats``: sorties, flight hours, km, photos and battery per vehicle, squad or
  fleet by local day or month (``by``, ``period``, ``from``, ``to``), table and chart;
- ``GET /fleet/stats.csv``: the same rows as CSV.
"""

from __future__ import annotations

import datetime as dt
import io
import threading

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _

from flight_logs.stats import period_labels, totals, write_csv
from patrol.geodesy import wgs84_to_gcj02
from web.auth import role_required
from web.database import console, get_session
from web.fleet_stats import BY, fleet_statistics
from web.fleet_stream import StreamOptions, fleet_events
from web.geojson import DISPLAY_CRS
from web.views.mapview import map_layers, site_choice

bp = Blueprint("fleet", __name__)

ROLES = ("operator", "supervisor", "admin")
STREAM_SLOTS_KEY = "drone_patrol.fleet_streams"
DEFAULTS = {"FLEET_MAX_STREAMS": 4, "FLEET_POLL_S": 0.5, "FLEET_HEARTBEAT_S": 15.0,
            "FLEET_STREAM_MAX_S": 300.0, "FLEET_RETRY_MS": 2000}
CHART_MAX_PERIODS = 400
STATS_PERIODS = ("month", "day")


@bp.record_once
def _setup(state) -> None:
    app: Flask = state.app
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    app.extensions[STREAM_SLOTS_KEY] = threading.BoundedSemaphore(int(app.config["FLEET_MAX_STREAMS"]))


# ------------------------------------------------------------------ live
@bp.get("/fleet")
@role_required(*ROLES)
def live():
    """The live fleet map, with jurisdictions, grids, patrol areas and routes as layers."""
    settings = console().settings
    layers = {k: v for k, v in map_layers().items() if k in ("squads", "grids", "areas", "routes")}
    sites, site = site_choice(request.args.get("site"))
    return render_template("fleet/live.html", stream_url=url_for("fleet.stream"), sites=sites, site=site,
                           squads_url=url_for("api.squads"), layers=layers,
                           basemap_url=settings.basemap_url or "",
                           display_crs=settings.basemap_crs if settings.basemap_url else "wgs84")


@bp.get("/api/fleet/stream")
@role_required(*ROLES)
def stream():
    """Server-Sent Events of vehicle states and alarms (see :mod:`web.fleet_stream`).

    ``crs=gcj02`` adds positions in the basemap's datum; ``Last-Event-ID`` (sent by the
    browser on reconnect) resumes the alarms after that id.
    """
    crs = request.args.get("crs", "wgs84")
    if crs not in DISPLAY_CRS:
        abort(400, f"crs must be one of {', '.join(DISPLAY_CRS)}, got {crs!r}")
    raw_last = request.headers.get("Last-Event-ID", "").strip()
    last_alarm_id = int(raw_last) if raw_last.isdigit() else None
    cfg = current_app.config
    options = StreamOptions(poll_s=float(cfg["FLEET_POLL_S"]), heartbeat_s=float(cfg["FLEET_HEARTBEAT_S"]),
                            max_s=float(cfg["FLEET_STREAM_MAX_S"]), retry_ms=int(cfg["FLEET_RETRY_MS"]))
    slots: threading.BoundedSemaphore = current_app.extensions[STREAM_SLOTS_KEY]
    if not slots.acquire(blocking=False):
        response = Response("too many live streams open; retry shortly\n", status=503, mimetype="text/plain")
        response.headers["Retry-After"] = "5"
        return response
    state = console()
    events = fleet_events(state.session_factory, last_alarm_id=last_alarm_id,
                          options=options, to_display=wgs84_to_gcj02 if crs == "gcj02" else None)
    response = Response(events, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"   # no proxy buffering (nginx)
    response.call_on_close(slots.release)
    return response


# ------------------------------------------------------------------ statistics
def _day_arg(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        abort(400, _("%(name)s must be a date YYYY-MM-DD, got %(value)s", name=name, value=repr(raw)))


def _query() -> dict:
    by = request.args.get("by", "squad")
    period = request.args.get("period", "month")
    if by not in BY:
        abort(400, f"by must be one of {', '.join(BY)}, got {by!r}")
    if period not in STATS_PERIODS:
        abort(400, f"period must be one of {', '.join(STATS_PERIODS)}, got {period!r}")
    first, last = _day_arg("from"), _day_arg("to")
    if first and last and last < first:
        abort(400, _("to (%(last)s) is before from (%(first)s)", last=last, first=first))
    return {"by": by, "period": period, "first_day": first, "last_day": last}


def _rows(query: dict):
    return fleet_statistics(get_session(), timezone=console().settings.timezone, **query)


def _chart(rows) -> dict:
    """Chart.js data: one dataset per group over every period from the first to the last."""
    if not rows:
        return {"labels": [], "datasets": []}
    labels = period_labels(rows[0].period, rows[-1].period)
    if len(labels) > CHART_MAX_PERIODS:
        labels = sorted({r.period for r in rows})
    index = {p: i for i, p in enumerate(labels)}
    groups: dict = {}
    for r in rows:
        g = groups.setdefault((r.group, r.group_key), {
            "label": r.group, "sorties": [0] * len(labels), "flight_hours": [0.0] * len(labels),
            "distance_km": [0.0] * len(labels), "photos": [0] * len(labels)})
        i = index[r.period]
        g["sorties"][i] += r.sorties
        g["flight_hours"][i] = round(g["flight_hours"][i] + r.flight_hours, 3)
        g["distance_km"][i] = round(g["distance_km"][i] + r.distance_km, 3)
        g["photos"][i] += r.photos
    return {"labels": labels, "datasets": list(groups.values())}


@bp.get("/fleet/stats")
@role_required(*ROLES)
def stats():
    """Statistics table and chart."""
    query = _query()
    rows = _rows(query)
    args = {k: v for k, v in request.args.items() if k in ("by", "period", "from", "to") and v}
    return render_template("fleet/stats.html", rows=rows, total=totals(rows), chart=_chart(rows),
                           query=query, by_choices=BY, period_choices=STATS_PERIODS,
                           timezone=console().settings.timezone,
                           csv_url=url_for("fleet.stats_csv", **args))


@bp.get("/fleet/stats.csv")
@role_required(*ROLES)
def stats_csv():
    """The statistics as CSV (``text/csv``, a download named after the query)."""
    query = _query()
    out = io.StringIO()
    write_csv(_rows(query), out, timezone=console().settings.timezone)
    span = "_".join(str(d) for d in (query["first_day"], query["last_day"]) if d) or "all"
    name = f"flight-stats_{query['by']}_{query['period']}_{span}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
