"""Pages of a query: the rows of one page and the total, for paginated tables."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

__all__ = ["Page", "paginate"]


@dataclass(frozen=True)
class Page:
    """Rows ``items`` of page ``number`` (1-based) of ``total`` rows, ``per_page`` a page."""

    items: list[Any]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1).

        >>> Page([], 1, 25, 51).pages
        3
        """
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(session: Session, stmt: sa.Select, number: int, per_page: int, *,
             scalars: bool = True) -> Page:
    """Run page ``number`` of ``stmt`` (ordered by the caller); pages past the end clamp.

    ``scalars`` returns the first column's objects, else whole rows.
    """
    if per_page < 1:
        raise ValueError(f"per_page must be >= 1, got {per_page}")
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    pages = max(1, math.ceil(total / per_page))
    number = min(max(1, number), pages)
    paged = stmt.limit(per_page).offset((number - 1) * per_page)
    items = list(session.scalars(paged)) if scalars else list(session.execute(paged))
    return Page(items=items, number=number, per_page=per_page, total=total)
