"""Errors of the console package::

    PatrolError
     +-- WebError            (console input: users, squads file)
          +-- WorkflowError  (a case or finding step not allowed: wrong status or role)
"""

from __future__ import annotations

from patrol.errors import PatrolError

__all__ = ["WebError", "WorkflowError"]


class WebError(PatrolError):
    """Base of the console's errors: bad users, squads files and the like."""


class WorkflowError(WebError):
    """A step of the case workflow that the case's status or the user's role does not allow."""
