"""The daemon's live events for one consumer (a Server-Sent Events connection, a test).

The daemon calls its listeners from its receive loop (:meth:`telemetry.daemon.Daemon.add_listener`);
a listener must return at once. :class:`LiveFeed` is such a listener: a bounded queue the
consumer drains from its own thread. When the consumer falls behind, the oldest events are
dropped (counted in ``dropped``), so a slow browser never slows the recording.

Events are JSON-ready dicts with a ``type``:

- ``"vehicle"``: ``vehicle`` is the vehicle's snapshot (:meth:`~telemetry.daemon.Daemon.snapshot`);
  sent at most every ``publish_interval_s`` per vehicle while it sends messages;
- ``"alarm"``: ``alarm`` (:meth:`telemetry.alarms.Alarm.as_dict`), with ``key``, ``link``,
  ``system_id``, ``t_utc`` (ISO 8601), ``in_flight`` and ``flight_id`` (None until the
  flight's row is written, at most a flush interval after the arming);
- ``"link"``: ``link`` (URL), ``connected`` (bool), ``reason``.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

__all__ = ["LiveFeed"]


class LiveFeed:
    """A bounded queue of daemon events; call it (it is a listener) and :meth:`get` from elsewhere.

    Parameters
    ----------
    maxsize : int
        Events kept at most; beyond, the oldest is dropped.

    Examples
    --------
    >>> feed = LiveFeed(maxsize=2)
    >>> for n in range(3):
    ...     feed({"type": "link", "n": n})
    >>> [feed.get(0.1)["n"], feed.get(0.1)["n"]], feed.dropped, feed.get(0.01)
    ([1, 2], 1, None)
    """

    def __init__(self, maxsize: int = 1000) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._lock = threading.Lock()
        self.dropped = 0

    def __call__(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (never blocks)."""
        with self._lock:
            while True:
                try:
                    self._queue.put_nowait(event)
                    return
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass

    def get(self, timeout_s: float) -> dict[str, Any] | None:
        """The next event, or None if none came within ``timeout_s`` seconds."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def drain(self) -> list[dict[str, Any]]:
        """Every event queued now, without waiting."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out
