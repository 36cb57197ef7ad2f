"""Boustrophedon transects of an area, and their grouping into cells.

Works in a *sweep frame*: projected metres rotated so that the passes run along +y. The area
is cut into strips one line spacing wide; each strip's part of the area gives a pass along
the strip's centre line from the lowest to the highest y of that part (so the footprints cover
the strip's whole width up to the area's edge, not just the centre line), clipped out of the
grown no-fly zones. Passes in neighbouring strips whose y-ranges overlap one-to-one form a
*cell* (boustrophedon cellular decomposition, Choset & Pignon, "Coverage path planning: the
boustrophedon cellular decomposition", FSR 1997, derived here from the passes themselves): a
cell is flown back and forth in one go; cells are then ordered by :mod:`missions.ordering`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = ["SweepFrame", "Sweep", "strip_sweeps", "fill_sweeps", "group_cells"]

XY = tuple[float, float]

#: Parts of a strip smaller than this (m^2) are slivers and get no pass of their own.
MIN_PIECE_M2 = 1.0
#: Shortest pass (m); shorter intervals are widened to it.
MIN_PASS_M = 1.0
#: Widths are rounded down by this much before counting strips (projection noise, m).
WIDTH_TOL_M = 0.01


@dataclass(frozen=True)
class SweepFrame:
    """Rotation between projected metres and the sweep frame.

    ``bearing_deg`` is the direction of the passes, clockwise from grid north (0-180);
    rotating the world counter-clockwise by it about ``origin`` makes the passes run along +y.
    """

    bearing_deg: float
    origin: XY

    def to_sweep(self, geom: BaseGeometry) -> BaseGeometry:
        """World geometry -> sweep frame."""
        return affinity.rotate(geom, self.bearing_deg, origin=self.origin)

    def to_world_xy(self, pts: np.ndarray) -> np.ndarray:
        """Sweep-frame points, array (N, 2) -> world, array (N, 2)."""
        t = math.radians(-self.bearing_deg)
        c, s = math.cos(t), math.sin(t)
        d = np.asarray(pts, dtype=float) - self.origin
        return np.column_stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]]) + self.origin


@dataclass(frozen=True)
class Sweep:
    """One pass in the sweep frame: x = const, from y0 to y1 (y0 <= y1).

    ``strip`` is the strip index for passes of the regular grid, ``None`` for fill passes;
    ``gaps`` are
    the stretches (y_a, y_b) inside (y0, y1) where the line crosses a no-fly zone: the pass
    is flown as its :attr:`segments` with the camera on, and the vehicle goes around the
    zone between them (cheaper than splitting the cell there and coming back later).
    """

    x: float
    y0: float
    y1: float
    strip: int | None
    gaps: tuple[tuple[float, float], ...] = ()

    @cached_property
    def segments(self) -> list[tuple[float, float]]:
        """The stretches (y_a, y_b) flown with the camera on, in increasing y."""
        ends = [self.y0, *(y for gap in self.gaps for y in gap), self.y1]
        return list(zip(ends[::2], ends[1::2]))

    @cached_property
    def length(self) -> float:
        """Metres flown with the camera on (the gaps excluded)."""
        return sum(b - a for a, b in self.segments)


def _parts(geom: BaseGeometry) -> list[BaseGeometry]:
    if geom.is_empty:
        return []
    return list(getattr(geom, "geoms", [geom]))


def _intervals(pieces: BaseGeometry | np.ndarray, inset_m: float = 0.0
               ) -> list[list[tuple[float, float]]]:
    """For each strip piece, the y-intervals (lo, hi) its passes span.

    Parts of a piece that overlap in y share one interval (a pass on the strip's centre line
    covers both); each interval is shrunk by ``inset_m`` at both ends, down to a single point
    in its middle, and widened to at least :data:`MIN_PASS_M`.
    """
    pieces = np.atleast_1d(pieces)
    parts, index = shapely.get_parts(pieces, return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) >= MIN_PIECE_M2)
    bounds = shapely.bounds(parts[keep])
    spans: list[list[tuple[float, float]]] = [[] for _ in range(len(pieces))]
    for i, (_, lo, _, hi) in zip(index[keep], bounds):
        spans[i].append((lo, hi))
    out = []
    for piece_spans in spans:
        merged: list[list[float]] = []
        for lo, hi in sorted(piece_spans):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        intervals = []
        for lo, hi in merged:
            if hi - lo > 2.0 * inset_m:
                lo, hi = lo + inset_m, hi - inset_m
            else:
                lo = hi = 0.5 * (lo + hi)
            if hi - lo < MIN_PASS_M:
                mid = 0.5 * (lo + hi)
                lo, hi = mid - 0.5 * MIN_PASS_M, mid + 0.5 * MIN_PASS_M
            intervals.append((lo, hi))
        out.append(intervals)
    return out


def _clip(rows: list[tuple[float, float, float, int | None]], blocked: BaseGeometry,
          chain: bool = True) -> list[Sweep]:
    """Passes along x = const from ``lo`` to ``hi`` for each row ``(x, lo, hi, strip)``,
    with the stretches inside ``blocked`` as their gaps (one vectorised difference)."""
    if not rows:
        return []
    arr = np.array([r[:3] for r in rows], dtype=float)
    lines = shapely.linestrings(np.stack([arr[:, [0, 1]], arr[:, [0, 2]]], axis=1))
    if not blocked.is_empty:
        shapely.prepare(blocked)
        hit = shapely.intersects(lines, blocked)
        lines[hit] = shapely.difference(lines[hit], blocked)
    parts, index = shapely.get_parts(lines, return_index=True)
    bounds = shapely.bounds(parts)
    spans: list[list[tuple[float, float]]] = [[] for _ in rows]
    for i, (_, lo, _, hi) in zip(index, bounds):
        if hi - lo > 1e-6:
            spans[i].append((lo, hi))
    out = []
    for (x, _, _, strip), row_spans in zip(rows, spans):
        if row_spans:
            row_spans.sort()
            if chain:
                gaps = tuple((a[1], b[0]) for a, b in zip(row_spans, row_spans[1:]))
                out.append(Sweep(float(x), row_spans[0][0], row_spans[-1][1], strip, gaps))
            else:
                out.extend(Sweep(float(x), lo, hi, strip) for lo, hi in row_spans)
    return out


def strip_sweeps(target: BaseGeometry, blocked: BaseGeometry, spacing_m: float,
                 inset_m: float = 0.0, chain: bool = True) -> list[Sweep]:
    """The regular passes over ``target`` (sweep frame), clipped out of ``blocked``.

    Strips are centred on the target's x-extent: ``n = ceil(width / spacing)`` strips. Each
    pass stops ``inset_m`` short of its strip part's ends (the photo footprint reaches beyond
    the last photo); a part shorter than twice that gets a single photo in its middle.
    ``chain`` keeps a pass whole across the zones it crosses (:attr:`Sweep.gaps`); otherwise
    each free stretch is a pass of its own, and the cells split there.
    """
    minx, miny, maxx, maxy = target.bounds
    n = max(1, math.ceil((maxx - minx - WIDTH_TOL_M) / spacing_m))
    x0 = 0.5 * (minx + maxx) - 0.5 * n * spacing_m
    lefts = x0 + spacing_m * np.arange(n)
    # clip_by_rect is GEOS's fast rectangle clip (its output may be invalid for concave
    # shapes, which is harmless here: only each part's bounds and area are used).
    pieces = np.array([shapely.clip_by_rect(target, left, miny - 1.0, left + spacing_m, maxy + 1.0)
                       for left in lefts])
    rows = [(lefts[i] + 0.5 * spacing_m, lo, hi, i)
            for i, intervals in enumerate(_intervals(pieces, inset_m)) for lo, hi in intervals]
    return _clip(rows, blocked, chain)


def fill_sweeps(residual: BaseGeometry, blocked: BaseGeometry, spacing_m: float,
                min_area_m2: float, inset_m: float = 0.0,
                cover: Callable[[list[Sweep]], BaseGeometry] | None = None,
                opening_m: float = 0.0) -> list[Sweep]:
    """Extra passes over the parts of ``residual`` (uncovered target, sweep frame) larger
    than ``min_area_m2``, each gap gridded on its own x-extent.

    A gap against a no-fly zone often lies where the strip's centre line is blocked; the pass
    may then move sideways as long as its strip still spans the gap's part. ``cover(sweeps)``
    gives the ground they cover; the position covering most of the gap wins (the centre when
    nothing is blocked). The residual is first opened (eroded, then dilated) by
    ``opening_m``: slivers thinner than twice that, where no pass fits anyway (between a zone
    and the area's edge), are dropped and stop joining the gaps on either side.
    """
    out: list[Sweep] = []
    if opening_m > 0:
        residual = residual.buffer(-opening_m).buffer(opening_m).intersection(residual)
    for gap in _parts(residual):
        if not isinstance(gap, Polygon) or gap.area < min_area_m2:
            continue
        minx, miny, maxx, maxy = gap.bounds
        n = max(1, math.ceil((maxx - minx - WIDTH_TOL_M) / spacing_m))
        x0 = 0.5 * (minx + maxx) - 0.5 * n * spacing_m
        for k in range(n):
            left = x0 + k * spacing_m
            piece = gap.intersection(shapely.box(left, miny - 1, left + spacing_m, maxy + 1))
            if piece.is_empty:
                continue
            intervals = _intervals(piece, inset_m)[0]
            centre = left + 0.5 * spacing_m
            best = _clip([(centre, lo, hi, None) for lo, hi in intervals], blocked)
            if cover is not None and not blocked.is_empty:
                px0, _, px1, _ = piece.bounds
                lo, hi = px1 - 0.5 * spacing_m, px0 + 0.5 * spacing_m
                best_area = _covered(piece, best, cover)
                for x in np.linspace(lo, hi, 7) if hi > lo else []:
                    cand = _clip([(x, lo, hi, None) for lo, hi in intervals], blocked)
                    area = _covered(piece, cand, cover)
                    if area > best_area + 1e-6:
                        best, best_area = cand, area
            out.extend(best)
    return out


def _covered(piece: BaseGeometry, sweeps: list[Sweep], cover) -> float:
    if not sweeps:
        return 0.0
    return piece.intersection(shapely.union_all(cover(sweeps))).area


def group_cells(sweeps: list[Sweep]) -> list[list[Sweep]]:
    """Group passes into cells of consecutive strips flown back and forth.

    A pass continues the cell of a pass in the previous strip when their y-ranges overlap and
    neither overlaps any other pass of the other strip; otherwise it starts a new cell. Fill
    passes (``strip is None``) are cells of one pass.
    """
    by_strip: dict[int, list[Sweep]] = {}
    cells: list[list[Sweep]] = []
    for s in sweeps:
        if s.strip is None:
            cells.append([s])
        else:
            by_strip.setdefault(s.strip, []).append(s)
    open_cells: dict[int, int] = {}  # index of a pass in the previous strip -> cell index
    prev: list[Sweep] = []
    prev_strip = None
    for strip in sorted(by_strip):
        cur = sorted(by_strip[strip], key=lambda s: s.y0)
        if prev_strip is None or strip != prev_strip + 1:
            prev, open_cells = [], {}
        links: dict[int, list[int]] = {j: [] for j in range(len(cur))}
        back: dict[int, list[int]] = {i: [] for i in range(len(prev))}
        for i, p in enumerate(prev):
            for j, q in enumerate(cur):
                if min(p.y1, q.y1) - max(p.y0, q.y0) > 0.0:
                    links[j].append(i)
                    back[i].append(j)
        new_open: dict[int, int] = {}
        for j, q in enumerate(cur):
            if len(links[j]) == 1 and len(back[links[j][0]]) == 1 and links[j][0] in open_cells:
                c = open_cells[links[j][0]]
                cells[c].append(q)
            else:
                cells.append([q])
                c = len(cells) - 1
            new_open[j] = c
        prev, open_cells, prev_strip = cur, new_open, strip
    return cells
