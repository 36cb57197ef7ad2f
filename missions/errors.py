"""Errors of the missions package.

::

    patrol.errors.PatrolError
     +-- MissionError               (any planning or mission-file problem)
          +-- AreaFileError         (a GeoJSON/KML area file is malformed or its geometry invalid)
          +-- PlanFileError         (a .plan / .waypoints file is malformed)
          +-- PlanValidationError   (a plan enters a no-fly zone or exceeds the ceiling)

Every message names the file, feature, line or mission item at fault.
"""

from __future__ import annotations

from patrol.errors import PatrolError

__all__ = ["MissionError", "AreaFileError", "PlanFileError", "PlanValidationError"]


class MissionError(PatrolError):
    """Base of the missions package's errors (bad areas, plans, files, parameters)."""


class AreaFileError(MissionError):
    """A patrol-area file (GeoJSON, KML) is malformed or holds an invalid geometry."""


class PlanFileError(MissionError):
    """A mission file (QGroundControl ``.plan``, ``QGC WPL 110``) is malformed."""


class PlanValidationError(MissionError):
    """A plan breaks a safety rule; ``problems`` lists each one with where it happens."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [])
