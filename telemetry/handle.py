"""A vehicle as the code that commands it sees it: send, and wait for the answer.

The daemon owns each link's receive loop; a command must not read the link itself. So a
caller *subscribes* to the message types it expects (a queue the loop fills with that
vehicle's messages), sends, then waits on its queue with a timeout::

    with handle.subscribe({"COMMAND_ACK", "STATUSTEXT"}) as sub:
        handle.send(handle.mav.command_long_encode(...))
        ack = sub.get(timeout_s=2.0, match=lambda m: m.get_type() == "COMMAND_ACK")

Subscribing before sending means no answer can slip past between the two.
"""

from __future__ import annotations

import queue
import time
from typing import Any, Callable, Iterable, Protocol

from telemetry.errors import LinkTimeout
from telemetry.state import VehicleState

__all__ = ["Subscription", "VehicleHandle"]


class Subscription:
    """Messages of given types from one vehicle, queued by the receive loop.

    Parameters
    ----------
    types : iterable of str
        MAVLink message names (``"COMMAND_ACK"``...).
    """

    def __init__(self, types: Iterable[str], *, on_close: Callable[["Subscription"], None] | None = None) -> None:
        self.types = frozenset(types)
        self._queue: queue.Queue = queue.Queue()
        self._on_close = on_close

    def offer(self, msg: Any) -> None:
        """Called by the receive loop with every message of the vehicle."""
        if msg.get_type() in self.types:
            self._queue.put(msg)

    def get(self, timeout_s: float, match: Callable[[Any], bool] | None = None, *,
            what: str | None = None) -> Any:
        """The next queued message satisfying ``match`` (others are dropped).

        Raises
        ------
        LinkTimeout
            None arrived within ``timeout_s`` seconds.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LinkTimeout(f"no {what or ' or '.join(sorted(self.types))} within {timeout_s:g} s")
            try:
                msg = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if match is None or match(msg):
                return msg

    def poll(self) -> list[Any]:
        """Every message queued so far, without waiting."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close(self)
            self._on_close = None

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Hub(Protocol):
    """What a handle needs from the daemon that owns the link."""

    def send(self, link: str, msg: Any) -> None: ...
    def mav(self, link: str) -> Any: ...
    def subscribe(self, link: str, system_id: int, types: Iterable[str]) -> Subscription: ...
    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool: ...


class VehicleHandle:
    """One vehicle (link, system id) of a running daemon.

    Attributes
    ----------
    link : str
        The link's connection string.
    target_system, target_component : int
        The vehicle's ids (component 1, the autopilot).
    state : VehicleState
        Live state, updated by the daemon's loop.
    """

    def __init__(self, hub: _Hub, link: str, state: VehicleState, *, target_component: int = 1) -> None:
        self._hub = hub
        self.link = link
        self.state = state
        self.target_system = state.system_id
        self.target_component = target_component

    @property
    def mav(self) -> Any:
        """The link's pymavlink ``MAVLink`` object, to build messages with its ``*_encode``."""
        return self._hub.mav(self.link)

    def send(self, msg: Any) -> None:
        """Send a message on the vehicle's link (recorded in the link's tlog)."""
        self._hub.send(self.link, msg)

    def subscribe(self, types: Iterable[str]) -> Subscription:
        """Queue this vehicle's messages of ``types`` from now on (use as a context manager)."""
        return self._hub.subscribe(self.link, self.target_system, types)

    def wait_until(self, predicate: Callable[[VehicleState], bool], timeout_s: float, what: str) -> None:
        """Wait until ``predicate(state)`` holds.

        Raises
        ------
        LinkTimeout
            It did not within ``timeout_s`` seconds (``what`` names the condition).
        """
        if not self._hub.wait_for(lambda: predicate(self.state), timeout_s):
            raise LinkTimeout(f"vehicle {self.target_system} on {self.link}: not {what} within {timeout_s:g} s")

    def __repr__(self) -> str:
        return f"VehicleHandle(link={self.link!r}, system_id={self.target_system})"
