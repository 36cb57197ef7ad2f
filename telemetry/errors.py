"""Errors of the live side::

    patrol.errors.PatrolError
     +-- TelemetryError            links, vehicles, protocol exchanges
          +-- LinkTimeout          no answer (or no vehicle) within the time allowed
          +-- CommandRefused       COMMAND_ACK with a result other than MAV_RESULT_ACCEPTED
          +-- MissionUploadError   MISSION_ACK other than MAV_MISSION_ACCEPTED, or no answer
"""

from __future__ import annotations

from patrol.errors import PatrolError

__all__ = ["CommandRefused", "LinkTimeout", "MissionUploadError", "TelemetryError"]


class TelemetryError(PatrolError):
    """A link, vehicle or MAVLink exchange failed; the message names the link or vehicle."""


class LinkTimeout(TelemetryError):
    """Nothing (or not the expected message) arrived within the time allowed."""


class CommandRefused(TelemetryError):
    """The vehicle answered a COMMAND_LONG with a result other than MAV_RESULT_ACCEPTED.

    Attributes
    ----------
    command : str
        The MAV_CMD name, e.g. ``"MAV_CMD_COMPONENT_ARM_DISARM"``.
    result : str
        The MAV_RESULT name, e.g. ``"MAV_RESULT_FAILED"``.
    statustext : str or None
        The vehicle's last explanation (STATUSTEXT such as ``"PreArm: Need Position Estimate"``).
    """

    def __init__(self, command: str, result: str, statustext: str | None = None) -> None:
        self.command, self.result, self.statustext = command, result, statustext
        why = f": {statustext}" if statustext else ""
        super().__init__(f"{command} refused with {result}{why}")


class MissionUploadError(TelemetryError):
    """A mission transfer failed: ``result`` is the MAV_MISSION_RESULT name (or ``"TIMEOUT"``)."""

    def __init__(self, result: str, detail: str = "") -> None:
        self.result = result
        super().__init__(f"mission transfer failed: {result}" + (f" ({detail})" if detail else ""))
