"""Lost messages on demand: the simulated link drops chosen messages, to test retries.

A rule names a direction (``in``: from the ground station to the vehicle, ``out``: from the
vehicle), a MAVLink message name and which occurrence of it to lose, counted per channel
from 1: ``out:MISSION_REQUEST:3`` loses the third MISSION_REQUEST the vehicle sends on each
connection; ``in:MISSION_ITEM_INT:2`` makes the vehicle never hear the second MISSION_ITEM_INT.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.errors import TelemetryError

__all__ = ["DropRule", "Dropper", "parse_drop"]

_NAMES = frozenset(cls.msgname for cls in mavlink.mavlink_map.values())


@dataclass(frozen=True)
class DropRule:
    """Lose occurrence ``nth`` (from 1) of message ``msg_type`` going ``direction`` (``in``/``out``)."""

    direction: str
    msg_type: str
    nth: int


def parse_drop(text: str) -> DropRule:
    """``"out:MISSION_REQUEST:3"`` -> :class:`DropRule`.

    Raises
    ------
    TelemetryError
        Not ``in|out:MESSAGE_NAME:N`` with a MAVLink message name and N >= 1.

    >>> parse_drop("in:mission_item_int:2")
    DropRule(direction='in', msg_type='MISSION_ITEM_INT', nth=2)
    """
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in ("in", "out") or not parts[2].isdigit() or int(parts[2]) < 1 \
            or parts[1].upper() not in _NAMES:
        raise TelemetryError(f"drop rule {text!r}: give in|out:MESSAGE_NAME:N (N from 1), e.g. out:MISSION_REQUEST:2")
    return DropRule(parts[0], parts[1].upper(), int(parts[2]))


class Dropper:
    """Counts one channel's messages and says which to lose."""

    def __init__(self, rules: Iterable[DropRule] = ()) -> None:
        self.rules = frozenset(rules)
        self._seen: Counter = Counter()
        self.dropped: list[tuple[str, str, int]] = []

    def lose(self, direction: str, msg_type: str) -> bool:
        """Count this message; True if a rule says it is lost."""
        if not self.rules:
            return False
        self._seen[direction, msg_type] += 1
        n = self._seen[direction, msg_type]
        if DropRule(direction, msg_type, n) in self.rules:
            self.dropped.append((direction, msg_type, n))
            return True
        return False
