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


def _viterbi(seq: Sequence[int], options: Sequence[Sequence[Run]], dist: np.ndarray,
             start: int | None, end: int | None) -> tuple[float, list[Run]]:
    prev_cost: list[float] = []
    back: list[list[int]] = []
    for pos, cell in enumerate(seq):
        runs = options[cell]
        costs, ptrs = [], []
        for run in runs:
            if pos == 0:
                c = (dist[start, run.entry] if start is not None else 0.0) + run.internal_m
                costs.append(c)
                ptrs.append(-1)
            else:
                prev_runs = options[seq[pos - 1]]
                best, arg = min((prev_cost[u] + dist[pr.exit, run.entry], u)
                                for u, pr in enumerate(prev_runs))
                costs.append(best + run.internal_m)
                ptrs.append(arg)
        prev_cost = costs
        back.append(ptrs)
    last_runs = options[seq[-1]]
    total, v = min((prev_cost[u] + (dist[r.exit, end] if end is not None else 0.0), u)
                   for u, r in enumerate(last_runs))
    chosen: list[Run] = []
    for pos in range(len(seq) - 1, -1, -1):
        chosen.append(options[seq[pos]][v])
        v = back[pos][v]
    chosen.reverse()
    return float(total), chosen


def sequence_cost(seq: Sequence[int], options: Sequence[Sequence[Run]], dist: np.ndarray,
                  start: int | None, end: int | None) -> float:
    """Total length of flying the cells in order ``seq``, each the best way."""
    return _viterbi(seq, options, dist, start, end)[0]


def _nearest_neighbour(first: int, options, dist, start) -> list[int]:
    seq = [first]
    left = set(range(len(options))) - {first}
    cur_runs = options[first]
    while left:
        best = None
        for cell in left:
            for run in options[cell]:
                d = min(dist[r.exit, run.entry] for r in cur_runs) + run.internal_m
                if best is None or d < best[0]:
                    best = (d, cell)
        seq.append(best[1])
        left.discard(best[1])
        cur_runs = options[best[1]]
    return seq


def order_runs(options: Sequence[Sequence[Run]], dist: np.ndarray, *, start: int | None,
               end: int | None, improve: bool = True, max_rounds: int = 20) -> tuple[float, list[Run]]:
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
        Run 2-opt and relocation moves after the construction.

    Returns
    -------
    (total_m, runs)
        The route length (without the legs the caller adds) and the chosen runs in order.
    """
    k = len(options)
    if k == 0:
        return 0.0, []
    candidates = range(k) if k <= 12 or improve else [0]
    best_cost, best_seq = None, None
    for first in candidates:
        seq = _nearest_neighbour(first, options, dist, start)
        cost = sequence_cost(seq, options, dist, start, end)
        if best_cost is None or cost < best_cost:
            best_cost, best_seq = cost, seq
    seq = list(best_seq)
    if improve and k > 1:
        for _ in range(max_rounds):
            improved = False
            for i in range(k - 1):
                for j in range(i + 1, k):
                    cand = seq[:i] + seq[i:j + 1][::-1] + seq[j + 1:]
                    c = sequence_cost(cand, options, dist, start, end)
                    if c < best_cost - 1e-6:
                        seq, best_cost, improved = cand, c, True
            for i in range(k):
                for j in range(k):
                    if i == j:
                        continue
                    cand = seq[:i] + seq[i + 1:]
                    cand.insert(j, seq[i])
                    c = sequence_cost(cand, options, dist, start, end)
                    if c < best_cost - 1e-6:
                        seq, best_cost, improved = cand, c, True
            if not improved:
                break
    return _viterbi(seq, options, dist, start, end)
