"""The fleet's live feed as Server-Sent Events (``text/event-stream``).

Events (``data`` is one line of JSON):

- ``vehicle``: a vehicle's status as the daemon last wrote it (:mod:`telemetry.live`), sent
  for every vehicle when the stream opens and then whenever the daemon rewrites it;
- ``removed``: ``{"key": ...}``, a vehicle withdrawn from the live status;
- ``ready``: ``{"vehicles": n}``, after the opening snapshot;
- ``alarm``: an alarm event the daemon stored (:func:`telemetry.live.alarms_after`), with the
  event's database id as the SSE ``id``, so a reconnecting browser (``Last-Event-ID``) gets
  the alarms it missed and no others; a new stream starts with the most recent ones.

The source is polled every ``poll_s`` (0.5 s) with a short-lived session: a query of the
status rows' update times (full rows only of the changed ones) and an id-range query of
alarms. Comment lines (``: keepalive``) go out
after ``heartbeat_s`` of silence, so a closed connection is noticed by the server (the write
fails and the server closes the generator); a stream ends after ``max_s`` and the browser
reconnects after ``retry_ms`` (the ``retry:`` field), so one stream never holds a server
thread for ever.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import sessionmaker

from telemetry.live import StatusReader, alarms_after

__all__ = ["StreamOptions", "fleet_events", "sse"]


@dataclass(frozen=True)
class StreamOptions:
    """Timing of one stream, in seconds (``retry_ms`` in milliseconds)."""

    poll_s: float = 0.5
    heartbeat_s: float = 15.0
    max_s: float = 300.0
    retry_ms: int = 2000
    initial_alarms: int = 20


def sse(event: str | None, data: Any, *, event_id: int | None = None) -> str:
    """One Server-Sent Event: ``event:``, ``id:`` and ``data:`` (compact JSON) lines.

    >>> sse("vehicle", {"key": "a#1", "lat_deg": 30.7})
    'event: vehicle\\ndata: {"key":"a#1","lat_deg":30.7}\\n\\n'
    """
    lines = [] if event is None else [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def fleet_events(session_factory: sessionmaker, *, last_alarm_id: int | None = None,
                 options: StreamOptions = StreamOptions(),
                 to_display: Callable[[float, float], tuple[float, float]] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> Iterator[str]:
    """The text of the stream, one chunk per poll that found something (or a keep-alive).

    Parameters
    ----------
    session_factory : sessionmaker
        One short session per poll (none is held between polls).
    last_alarm_id : int, optional
        The browser's ``Last-Event-ID``: alarms after it are sent; None: the most recent
        ``options.initial_alarms``.
    to_display : callable, optional
        ``(lon, lat) -> (lon, lat)`` into the basemap's datum (GCJ-02); vehicles with a
        position then also carry ``map_lat_deg``, ``map_lon_deg``.
    """
    reader = StatusReader()
    deadline = clock() + options.max_s
    yield f"retry: {options.retry_ms}\n\n"
    last_sent = clock()
    first = True
    while True:
        with session_factory() as session:
            changes = reader.poll(session)
            alarms = alarms_after(session, last_alarm_id,
                                  limit=options.initial_alarms if last_alarm_id is None else 100)
        chunk = [sse("vehicle", _displayed(v, to_display)) for v in changes.updated]
        chunk += [sse("removed", {"key": k}) for k in changes.removed]
        for alarm in alarms:
            chunk.append(sse("alarm", alarm, event_id=alarm["id"]))
            last_alarm_id = alarm["id"]
        if last_alarm_id is None:
            last_alarm_id = 0  # no alarm stored yet: every later one is new
        if first:
            chunk.append(sse("ready", {"vehicles": len(changes.updated)}))
            first = False
        now = clock()
        if chunk:
            yield "".join(chunk)
            last_sent = now
        elif now - last_sent >= options.heartbeat_s:
            yield ": keepalive\n\n"
            last_sent = now
        if now >= deadline:
            return
        sleep(options.poll_s)


def _displayed(vehicle: dict[str, Any], to_display) -> dict[str, Any]:
    lat, lon = vehicle.get("lat_deg"), vehicle.get("lon_deg")
    if to_display is None or not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return vehicle
    map_lon, map_lat = to_display(lon, lat)
    return {**vehicle, "map_lat_deg": map_lat, "map_lon_deg": map_lon}
