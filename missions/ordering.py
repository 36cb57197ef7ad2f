"""Order the cells of a survey: which cell next, and from which corner.

Each cell can be flown four ways (start from its first or last strip, first pass up or
down); each way has an entry point, an exit point and an internal length. Choosing the order
and the ways is a small generalised travelling-salesman problem. It is solved by trying every
cell as the first one with nearest-neighbour construction, then improving the order by 2-opt
and relocation moves; for every order tried, the best way of flying each cell follows exactly
from a dynamic programme along the order (Viterbi over the four ways).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Run", "order_runs", "sequence_cost"]

#: Cells tried first at each end of the list when ordering for a quick estimate.
QUICK_STARTS = 2


@dataclass(frozen=True)
class Run:
    """One way of flying one cell.

    ``entry``/``exit`` index the point table of the distance matrix; ``internal_m`` is the
    length flown inside the cell (passes, turnarounds and the turns between passes).
    ``payload`` is whatever the caller needs to fly it.
    """

    cell: int
    entry: int
    exit: int
    internal_m: float
    payload: object = None


class _Tables:
    """Per-cell arrays of the runs, and the leg lengths between every pair of cells' runs."""

    def __init__(self, options: Sequence[Sequence[Run]], dist: np.ndarray,
                 start: int | None, end: int | None) -> None:
        width = max(len(o) for o in options)
        k = len(options)
        entry = np.zeros((k, width), dtype=int)
        exit_ = np.zeros((k, width), dtype=int)
        internal = np.full((k, width), np.inf)
        for c, runs in enumerate(options):
            for v, run in enumerate(runs):
                entry[c, v], exit_[c, v], internal[c, v] = run.entry, run.exit, run.internal_m
        self.options = options
        self.internal = internal
        # legs[a, b, u, v]: from the exit of run u of cell a to the entry of run v of cell b
        self.legs = dist[exit_[:, None, :, None], entry[None, :, None, :]]
        self.first = dist[start, entry] if start is not None else np.zeros((k, width))
        self.last = dist[exit_, end] if end is not None else np.zeros((k, width))

    def cost(self, seq: Sequence[int]) -> float:
        c = self.first[seq[0]] + self.internal[seq[0]]
        for a, b in zip(seq, seq[1:]):
            c = (c[:, None] + self.legs[a, b]).min(axis=0) + self.internal[b]
        return float((c + self.last[seq[-1]]).min())

    def costs(self, seqs: np.ndarray) -> np.ndarray:
        """:meth:`cost` of many orders at once, ``seqs`` (M, k) -> (M,)."""
        c = self.first[seqs[:, 0]] + self.internal[seqs[:, 0]]
        for p in range(1, seqs.shape[1]):
            a, b = seqs[:, p - 1], seqs[:, p]
            c = (c[:, :, None] + self.legs[a, b]).min(axis=1) + self.internal[b]
        return (c + self.last[seqs[:, -1]]).min(axis=1)

    def best(self, seq: Sequence[int]) -> tuple[float, list[Run]]:
        c = self.first[seq[0]] + self.internal[seq[0]]
        back = []
        for a, b in zip(seq, seq[1:]):
            m = c[:, None] + self.legs[a, b]
            back.append(m.argmin(axis=0))
            c = m.min(axis=0) + self.internal[b]
        c = c + self.last[seq[-1]]
        v = int(c.argmin())
        total = float(c[v])
        chosen = [v]
        for ptr in reversed(back):
            v = int(ptr[v])
            chosen.append(v)
        chosen.reverse()
        return total, [self.options[cell][v] for cell, v in zip(seq, chosen)]


def sequence_cost(seq: Sequence[int], options: Sequence[Sequence[Run]], dist: np.ndarray,
                  start: int | None, end: int | None) -> float:
    """Total length of flying the cells in order ``seq``, each the best way."""
    return _Tables(options, dist, start, end).cost(seq)


def _nearest_neighbour(first: int, tables: _Tables) -> list[int]:
    k = len(tables.options)
    seq = [first]
    left = set(range(k)) - {first}
    while left:
        cur = seq[-1]
        cand = sorted(left)
        # cheapest leg from any run of the current cell into any run of a candidate cell
        step = (tables.legs[cur, cand].min(axis=1) + tables.internal[cand]).min(axis=1)
        nxt = cand[int(step.argmin())]
        seq.append(nxt)
        left.discard(nxt)
    return seq


def order_runs(options: Sequence[Sequence[Run]], dist: np.ndarray, *, start: int | None,
               end: int | None, improve: bool = True, max_rounds: int = 100
               ) -> tuple[float, list[Run]]:
    """Order the cells and choose how to fly each.

    Parameters
    ----------
    options : sequence of sequence of Run
        ``options[c]``: the ways of flying cell ``c`` (``Run.cell == c``).
    dist : ndarray (P, P)
        Leg lengths in metres between the points that runs and ``start``/``end`` index.
    start, end : int or None
        Point index the route starts from / returns to (home), or None for an open end.
    improve : bool
        Try every cell first and improve the order by the best 2-opt or relocation move,
        repeatedly, until none helps; otherwise (a quick estimate) nearest-neighbour from the
        first and last :data:`QUICK_STARTS` cells only.

    Returns
    -------
    (total_m, runs)
        The route length (without the legs the caller adds) and the chosen runs in order.
    """
    k = len(options)
    if k == 0:
        return 0.0, []
    tables = _Tables(options, dist, start, end)
    best_cost, best_seq = None, None
    # A quick estimate starts only from the cells at either end of the list (the first and
    # last strips): nearest-neighbour from every cell costs O(k^3).
    firsts = range(k) if improve or k <= 2 * QUICK_STARTS else \
        [*range(QUICK_STARTS), *range(k - QUICK_STARTS, k)]
    for first in firsts:
        seq = _nearest_neighbour(first, tables)
        cost = tables.cost(seq)
        if best_cost is None or cost < best_cost:
            best_cost, best_seq = cost, seq
    seq = list(best_seq)
    if improve and k > 2:
        pairs = [(i, j) for i in range(k - 1) for j in range(i + 1, k)]
        moves = [(i, j) for i in range(k) for j in range(k) if i != j]
        for _ in range(max_rounds):
            cands = [seq[:i] + seq[i:j + 1][::-1] + seq[j + 1:] for i, j in pairs]
            for i, j in moves:
                cand = seq[:i] + seq[i + 1:]
                cand.insert(j, seq[i])
                cands.append(cand)
            costs = tables.costs(np.array(cands))
            m = int(costs.argmin())
            if not costs[m] < best_cost - 1e-6:
                break
            seq, best_cost = cands[m], float(costs[m])
    return tables.best(seq)
