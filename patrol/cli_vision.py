"""The ``patrol vision`` commands: analyse archived photos, train and evaluate detectors.

A composition root like :mod:`patrol.cli`. Subcommands living in other modules attach
themselves to :data:`vision` or :data:`eval_group` and are imported at the bottom.
"""

from __future__ import annotations

import click

__all__ = ["eval_group", "vision"]


@click.group()
def vision() -> None:
    """Georeference photos, run the detectors, train and evaluate them."""


@vision.group("eval")
def eval_group() -> None:
    """Precision, recall and F1 of the detectors on labelled real data."""


# Subcommands defined in their own modules (imported for their side effect of registering).
