"""The vehicle's clock: message times in UTC from the autopilot, not from the receiver.

A message is dated by the vehicle when it can be: SYSTEM_TIME gives the UTC time
(``time_unix_usec``, zero until the GPS has time) at a boot time (``time_boot_ms``), hence
the UTC time of boot; every message carrying ``time_boot_ms`` is then dated exactly, and the
others (HEARTBEAT, STATUSTEXT...) by extrapolating from the last dated message at the rate
the vehicle clock runs against the receive clock. Until the vehicle has UTC, the receive time
(the daemon's clock, or the tlog record timestamp) is used; so is it when the vehicle's UTC is
more than a year away from the receive time (old ArduPlane SITL builds report the year 2908).

So a flight simulated with ``--speedup 20`` is archived with its simulated duration, and a
live recording and the re-import of its tlog see the same times: the tlog keeps the receive
timestamps the daemon used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["VehicleClock"]

_REBOOT_BACKSTEP_S = 5.0     # time_boot_ms going back by more than this means a reboot
_RATE_WINDOW_S = 2.0         # receive-time span over which the clock rate is measured
_RATE_LIMITS = (0.01, 1000.0)
_MAX_EXTRAPOLATION_S = 10.0   # receive seconds beyond the last dated message, at most
_MAX_OFFSET_S = 366 * 86400.0  # a vehicle UTC further than this from the receive time is wrong


class VehicleClock:
    """Maps message receive times to the vehicle's UTC time (seconds since the Unix epoch).

    Feed it every message of one vehicle's autopilot, in order, with its receive time.

    Examples
    --------
    >>> from types import SimpleNamespace as M
    >>> clock = VehicleClock()
    >>> recv = 1_700_000_000.0                         # receive clock, UTC seconds
    >>> clock.observe(M(time_boot_ms=1000), recv)      # no UTC from the vehicle yet: receive time
    1700000000.0
    >>> st = M(time_unix_usec=1_700_000_040_000_000, time_boot_ms=10_000)
    >>> st.get_type = lambda: "SYSTEM_TIME"
    >>> clock.observe(st, recv + 9.0)                  # the vehicle's clock is 31 s ahead
    1700000040.0
    >>> clock.observe(M(time_boot_ms=12_000), recv + 11.0)     # dated by the vehicle
    1700000042.0
    >>> clock.observe(M(), recv + 11.5)                # undated: extrapolated at the measured rate
    1700000042.5
    """

    def __init__(self) -> None:
        self._utc_at_boot_s: float | None = None
        self._last_boot_s: float | None = None
        self._last_recv_s: float | None = None
        self._rate = 1.0
        self._rate_anchor: tuple[float, float] | None = None  # (recv_s, boot_s)
        self.rejected_utc = 0

    @property
    def has_utc(self) -> bool:
        """True once the vehicle has reported its UTC time (SYSTEM_TIME with time_unix_usec)."""
        return self._utc_at_boot_s is not None

    @property
    def rate(self) -> float:
        """Vehicle seconds per receive second (1 for real time, N for a simulation at speedup N)."""
        return self._rate

    def observe(self, msg: Any, t_recv_s: float) -> float:
        """Take in one autopilot message received at ``t_recv_s`` and return its UTC time (s)."""
        boot_ms = getattr(msg, "time_boot_ms", None)
        if boot_ms is not None:
            boot_s = boot_ms / 1e3
            if self._last_boot_s is not None and boot_s < self._last_boot_s - _REBOOT_BACKSTEP_S:
                self._utc_at_boot_s = None          # rebooted: wait for a new SYSTEM_TIME
                self._rate_anchor = None
            if getattr(msg, "time_unix_usec", 0) and msg.get_type() == "SYSTEM_TIME":
                utc_s = msg.time_unix_usec / 1e6
                if abs(utc_s - t_recv_s) <= _MAX_OFFSET_S:
                    self._utc_at_boot_s = utc_s - boot_s
                else:
                    self.rejected_utc += 1
            self._update_rate(t_recv_s, boot_s)
            self._last_boot_s, self._last_recv_s = boot_s, t_recv_s
            if self._utc_at_boot_s is not None:
                return self._utc_at_boot_s + boot_s
            return t_recv_s
        return self.at(t_recv_s)

    def at(self, t_recv_s: float) -> float:
        """UTC time (s) of an undated message received at ``t_recv_s`` (extrapolated)."""
        if self._utc_at_boot_s is None or self._last_boot_s is None:
            return t_recv_s
        ahead = min(max(0.0, t_recv_s - self._last_recv_s), _MAX_EXTRAPOLATION_S) * self._rate
        return self._utc_at_boot_s + self._last_boot_s + ahead

    def _update_rate(self, t_recv_s: float, boot_s: float) -> None:
        if self._rate_anchor is None:
            self._rate_anchor = (t_recv_s, boot_s)
            return
        recv0, boot0 = self._rate_anchor
        span = t_recv_s - recv0
        if span >= _RATE_WINDOW_S:
            lo, hi = _RATE_LIMITS
            self._rate = min(hi, max(lo, (boot_s - boot0) / span))
            self._rate_anchor = (t_recv_s, boot_s)
