"""The small kernel every drone-patrol package stands on.

Settings (:mod:`patrol.settings`), the one declarative base and session factory
(:mod:`patrol.db`), geodesy helpers (:mod:`patrol.geodesy`) and the command line
(:mod:`patrol.cli`, the composition root). The kernel imports no domain package
except in the CLI and the Alembic environment, which wire them together.
"""

from patrol.errors import PatrolError
from patrol.settings import Settings

__all__ = ["PatrolError", "Settings", "__version__"]

__version__ = "0.1.0"
