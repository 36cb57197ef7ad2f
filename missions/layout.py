"""Survey layouts: passes at a sweep angle over one or more regions, flown in the best order.

A :class:`Part` is a region covered by passes at one sweep angle
(:func:`missions.transects.strip_sweeps`, gaps filled by :func:`~missions.transects.fill_sweeps`).
:func:`route_parts` turns the cells of every part into the ways they can be flown
(:class:`missions.ordering.Run`) and orders them into one route around the no-fly zones.

:func:`single_angle_layout` searches the angle for the whole area. :func:`decomposed_layout`
cuts the area into pieces, each swept at the angle that suits it (a reach of a bending river
strip along its own axis): greedily, the cut through a reflex vertex along one of its edges
that most shortens the estimated route is made, and the pieces are cut again, while a cut
gains at least :data:`CUT_MIN_GAIN` (in the spirit of Huang, "Optimal line-sweep-based
decompositions for coverage algorithms", ICRA 2001, which also cuts at reflex vertices and
minimises a per-piece sweep cost). Touching pieces that chose the same angle are merged back;
the caller keeps whichever of the two routes is shorter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.ops
from shapely import affinity
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from missions.ordering import Run, order_runs
from missions.routing import FreeSpace
from missions.transects import Sweep, SweepFrame, fill_sweeps, group_cells, strip_sweeps

__all__ = ["Part", "Layout", "LayoutSpec", "candidate_angles", "make_part", "route_parts",
           "single_angle_layout", "decomposed_layout"]

XY = tuple[float, float]

#: How many of the best angles (by the quick estimate) are planned in full.
REFINE_ANGLES = 3
#: Gaps smaller than this fraction of spacing^2 are left (slivers against a zone).
FILL_MIN_GAP = 0.02
#: Passes end this fraction of the along-track footprint short of the area's edge, so the
#: last photo's footprint still reaches 10% of a footprint beyond it.
END_INSET = 0.4
#: Without a camera a pass sweeps its swath (the pass buffered by half the spacing), whose
#: round end reaches half a spacing beyond the pass end: passes stop this fraction of the
#: spacing short of the area's edge. A square end then leaves 0.0023 spacing^2 uncovered in
#: its two corners (the strip end outside the half-disc) and saves 0.15 spacing of flight.
SWATH_END_INSET = 0.15


@dataclass(frozen=True)
class LayoutSpec:
    """What every layout of one survey shares (projected metres)."""

    free: FreeSpace
    spacing_m: float
    footprint_m: tuple[float, float] | None
    turnaround_m: float
    home_xy: XY | None

    @property
    def inset_m(self) -> float:
        if self.footprint_m is not None:
            return END_INSET * self.footprint_m[1]
        return SWATH_END_INSET * self.spacing_m


@dataclass
class Part:
    """A region covered by passes at one sweep angle."""

    frame: SweepFrame
    sweeps: list[Sweep]
    cells: list[list[Sweep]]

    @property
    def angle(self) -> float:
        return self.frame.bearing_deg

    def to_world(self, geom: BaseGeometry) -> BaseGeometry:
        return affinity.rotate(geom, -self.frame.bearing_deg, origin=self.frame.origin)


@dataclass
class Layout:
    """Parts and the chosen runs, in flight order; ``total_m`` is the route length."""

    parts: list[Part]
    runs: list[Run]
    total_m: float

    @property
    def cells(self) -> int:
        return sum(len(p.cells) for p in self.parts)

    @property
    def sweeps(self) -> int:
        return sum(len(p.sweeps) for p in self.parts)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


def _close(a: float, b: float, tol: float = 1.0) -> bool:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d) <= tol


def candidate_angles(region: BaseGeometry, max_edges: int = 24, regular_step: int | None = 15
                     ) -> list[float]:
    """Sweep angles worth trying: the directions of the longest edges of the region (and of
    its minimum rotated rectangle), and every ``regular_step`` degrees."""
    edges: list[tuple[float, float]] = []
    rings = [r for p in _polygons(region) for r in (p.exterior, *p.interiors)]
    rings.append(shapely.minimum_rotated_rectangle(region).exterior)
    for ring in rings:
        c = np.asarray(ring.coords)
        d = np.diff(c, axis=0)
        for (dx, dy), length in zip(d, np.hypot(d[:, 0], d[:, 1])):
            if length > 1.0:
                edges.append((length, math.degrees(math.atan2(dx, dy)) % 180.0))
    edges.sort(reverse=True)
    angles: list[float] = []
    for _, a in edges:
        if not any(_close(a, b) for b in angles):
            angles.append(a)
        if len(angles) >= max_edges:
            break
    if regular_step:
        for a in range(0, 180, regular_step):
            if not any(_close(a, b) for b in angles):
                angles.append(float(a))
    return angles


def cover_geoms(sweeps: Sequence[Sweep], spec: LayoutSpec):
    """What each pass covers, in its sweep frame: the union of its photo footprints (one
    rectangle, photos being closer than a footprint), or its swath without a camera."""
    seg = np.array([(s.x, a, b) for s in sweeps for a, b in s.segments]).reshape(-1, 3)
    x, ya, yb = seg.T
    if spec.footprint_m is not None:
        across, along = spec.footprint_m
        return shapely.box(x - 0.5 * across, ya - 0.5 * along, x + 0.5 * across, yb + 0.5 * along)
    lines = shapely.linestrings(np.stack([np.column_stack([x, ya]), np.column_stack([x, yb])], 1))
    return shapely.buffer(lines, 0.5 * spec.spacing_m)


def covered_world(layout: Layout, spec: LayoutSpec) -> BaseGeometry:
    """Ground covered by a layout, in projected metres."""
    return shapely.union_all([part.to_world(shapely.union_all(cover_geoms(part.sweeps, spec)))
                              for part in layout.parts if part.sweeps])


def make_part(region: BaseGeometry, angle: float, origin: XY, spec: LayoutSpec, *,
              fill: bool, chain: bool = True) -> Part:
    """Passes over ``region`` (projected metres) at sweep angle ``angle``; ``fill`` adds
    passes over the gaps left against the no-fly zones."""
    frame = SweepFrame(angle % 180.0, origin)
    region_r = frame.to_sweep(region)
    free = spec.free
    blocked_r = frame.to_sweep(free.blocked) if not free.empty else free.blocked
    sweeps = strip_sweeps(region_r, blocked_r, spec.spacing_m, spec.inset_m, chain)
    if fill and sweeps:
        for _ in range(2):
            covered = shapely.union_all(cover_geoms(sweeps, spec))
            residual = region_r.difference(covered)
            if residual.area <= 1e-4 * region_r.area:
                break
            extra = fill_sweeps(residual, blocked_r, spec.spacing_m,
                                FILL_MIN_GAP * spec.spacing_m ** 2, spec.inset_m,
                                cover=lambda sw: cover_geoms(sw, spec),
                                opening_m=0.5 * free.margin_m)
            if not extra:
                break
            sweeps = sweeps + extra
    return Part(frame, sweeps, group_cells(sweeps))


def _extension(blocked_r: BaseGeometry, x: float, y: float, sign: float, length: float) -> float:
    """How far a pass end at (x, y) extends by up to ``length`` along ``sign`` * y before
    the grown zones."""
    if length <= 0.0:
        return 0.0
    seg = LineString([(x, y), (x, y + sign * length)])
    if blocked_r.is_empty or not blocked_r.intersects(seg):
        return length
    free = seg.difference(blocked_r)
    for part in getattr(free, "geoms", [free]):
        if not part.is_empty and part.distance(shapely.Point(x, y)) < 1e-6:
            return part.length
    return 0.0


def _cell_runs(cell_index: int, cell: list[Sweep], frame: SweepFrame, blocked_r: BaseGeometry,
               turnaround_m: float, final_leg, point_index) -> list[Run]:
    """The four ways of flying a cell (from its first or last pass, first pass up or down).

    Each run's payload is the list of passes in flight order, each an array (4, 2) of world
    points: turnaround start, pass start, pass end, turnaround end. Starting from the last
    pass is the reverse flight of starting from the first, so of the four ways only two are
    built and measured; ``final_leg(a, b)`` is the length of the leg between two passes
    (around the zones).
    """
    ext = np.array([(_extension(blocked_r, s.x, s.y0, -1.0, turnaround_m),
                     _extension(blocked_r, s.x, s.y1, +1.0, turnaround_m)) if turnaround_m > 0
                    else (0.0, 0.0) for s in cell]).reshape(-1, 2)
    flown = sum(s.length for s in cell) + float(ext.sum())
    chained = any(s.gaps for s in cell)
    if not chained:  # the common case, vectorised: one leg (4 points) per pass
        x = np.array([s.x for s in cell])
        y = np.array([(s.y0, s.y0, s.y1, s.y1) for s in cell]) + \
            np.column_stack([-ext[:, 0], np.zeros((len(cell), 2)), ext[:, 1]])
    runs = []
    for first_up in (True, False):
        if chained:
            pts = []
            for k, (s, (e_lo, e_hi)) in enumerate(zip(cell, ext)):
                ys = [y for a, b in s.segments for y in (a, a, b, b)]
                ys[0], ys[-1] = s.y0 - e_lo, s.y1 + e_hi
                pts.extend((s.x, y) for y in (ys if first_up == (k % 2 == 0) else ys[::-1]))
            pts = np.array(pts)
        else:
            flip = (np.arange(len(cell)) % 2 == 0) != first_up
            ys = np.where(flip[:, None], y[:, ::-1], y)
            pts = np.column_stack([np.repeat(x, 4), ys.ravel()])
        legs = frame.to_world_xy(pts).reshape(-1, 4, 2)
        ends, starts = legs[:-1, -1], legs[1:, 0]
        between = sum(final_leg(tuple(a), tuple(b)) for a, b in zip(ends, starts))
        first, last = point_index(tuple(legs[0, 0])), point_index(tuple(legs[-1, -1]))
        runs.append(Run(cell_index, first, last, flown + between, list(legs)))
        runs.append(Run(cell_index, last, first, flown + between, list(legs[::-1, ::-1])))
    return runs


def _quick_runs(cell_index: int, cell: list[Sweep], turnaround_m: float, point_index
                ) -> list[Run]:
    """The ways of flying a cell for a quick estimate, in the sweep frame (distances are the
    same as in the world): straight legs, gaps flown straight, no payload."""
    x = np.array([s.x for s in cell])
    lo = np.array([s.y0 for s in cell]) - turnaround_m
    hi = np.array([s.y1 for s in cell]) + turnaround_m
    flown = float((hi - lo).sum())
    runs = []
    for first_up in (True, False):
        up = (np.arange(len(cell)) % 2 == 0) == first_up
        entry, exit_ = np.where(up, lo, hi), np.where(up, hi, lo)
        internal = flown + float(np.hypot(np.diff(x), entry[1:] - exit_[:-1]).sum())
        a, b = point_index((x[0], entry[0])), point_index((x[-1], exit_[-1]))
        runs += [Run(cell_index, a, b, internal), Run(cell_index, b, a, internal)]
    return runs


def route_parts(parts: Sequence[Part], spec: LayoutSpec, *, final: bool,
                closed: bool = True) -> Layout:
    """Order every cell of ``parts`` into one route.

    ``final`` measures legs around the zones and improves the order; otherwise (a quick
    estimate for comparing angles, of a single part) legs are straight and the order greedy. ``closed`` returns
    to home when there is one (without, the pattern is an open route).
    """
    table: dict[XY, int] = {}
    pts: list[XY] = []

    def point_index(p: XY) -> int:
        key = (round(float(p[0]), 3), round(float(p[1]), 3))
        if key not in table:
            table[key] = len(pts)
            pts.append(key)
        return table[key]

    free = spec.free
    home = spec.home_xy if closed else None
    options: list[list[Run]] = []
    if not final:  # one part, estimated in its sweep frame
        (part,) = parts
        if home is not None:
            home = tuple(part.frame.to_sweep(shapely.Point(home)).coords[0])
        home_i = point_index(home) if home is not None else None
        for cell in part.cells:
            options.append(_quick_runs(len(options), cell, spec.turnaround_m, point_index))
    else:
        home_i = point_index(home) if home is not None else None
        for part in parts:
            blocked_r = part.frame.to_sweep(free.blocked) if not free.empty else free.blocked
            for cell in part.cells:
                options.append(_cell_runs(len(options), cell, part.frame, blocked_r,
                                          spec.turnaround_m, free.path_length, point_index))
    if not options:
        return Layout(list(parts), [], 0.0)
    points = np.array(pts, dtype=float).reshape(-1, 2)
    if final:
        dist = free.distance_matrix(points)
    else:
        diff = points[:, None, :] - points[None, :, :]
        dist = np.hypot(diff[..., 0], diff[..., 1])
    # Without a home the vehicle launches at the first pass: the pattern is ordered as an
    # open route and the leg back to the launch point is added by the route builder.
    total, runs = order_runs(options, dist, start=home_i, end=home_i, improve=final)
    return Layout(list(parts), runs, total)


def single_angle_layout(target: BaseGeometry, spec: LayoutSpec, origin: XY,
                        sweep_angle_deg: float | None) -> Layout:
    """The best layout sweeping the whole target at one angle (``sweep_angle_deg`` if given)."""
    if sweep_angle_deg is not None:
        angles = [float(sweep_angle_deg) % 180.0]
    else:
        quick = [(route_parts([make_part(target, a, origin, spec, fill=False)], spec,
                              final=False).total_m, a) for a in candidate_angles(target)]
        angles = [a for _, a in sorted(quick)[:REFINE_ANGLES]]
    layouts = []
    for a in angles:
        part = make_part(target, a, origin, spec, fill=True)
        layouts.append(route_parts([part], spec, final=True))
        if any(s.gaps for s in part.sweeps):  # also try splitting the cells at the zones
            split = make_part(target, a, origin, spec, fill=True, chain=False)
            layouts.append(route_parts([split], spec, final=True))
    return min(layouts, key=lambda lay: lay.total_m)


#: A cut must shorten the estimated route by this fraction to be kept.
CUT_MIN_GAIN = 0.01
#: Estimated transit between two pieces of a decomposition, in line spacings.
CUT_PENALTY_SPACINGS = 2.0


class _Estimator:
    """Quick route-length estimates of regions at their best angle, cached by geometry."""

    def __init__(self, spec: LayoutSpec, origin: XY) -> None:
        self.spec, self.origin = spec, origin
        self._cache: dict[bytes, tuple[float, float]] = {}

    def best(self, region: BaseGeometry) -> tuple[float, float]:
        """(estimated length m, angle deg) of the best single-angle layout of ``region``."""
        key = shapely.to_wkb(shapely.normalize(region), output_dimension=2)
        if key not in self._cache:
            scores = [(route_parts([make_part(region, a, self.origin, self.spec, fill=False)],
                                   self.spec, final=False, closed=False).total_m, a)
                      for a in candidate_angles(region, max_edges=4, regular_step=45)]
            self._cache[key] = min(scores)
        return self._cache[key]


def _reflex_cuts(poly: Polygon) -> list[LineString]:
    """Cuts through the polygon from each reflex vertex along the extensions of its two edges."""
    poly = shapely.geometry.polygon.orient(poly, sign=1.0)  # region on the left of every ring
    minx, miny, maxx, maxy = poly.bounds
    reach = 2.0 * math.hypot(maxx - minx, maxy - miny)
    cuts = []
    for ring in (poly.exterior, *poly.interiors):
        c = np.asarray(ring.coords)[:-1]
        prev, nxt = np.roll(c, 1, axis=0), np.roll(c, -1, axis=0)
        cross = (c[:, 0] - prev[:, 0]) * (nxt[:, 1] - c[:, 1]) - \
                (c[:, 1] - prev[:, 1]) * (nxt[:, 0] - c[:, 0])
        for k in np.flatnonzero(cross < -1e-6):
            for d in (c[k] - prev[k], c[k] - nxt[k]):
                norm = math.hypot(*d)
                if norm < 1e-6:
                    continue
                ray = LineString([c[k], c[k] + d / norm * reach])
                inside = ray.intersection(poly)
                for seg in getattr(inside, "geoms", [inside]):
                    if isinstance(seg, LineString) and seg.length > 1.0 and \
                            shapely.Point(c[k]).distance(seg) < 1e-6:
                        a, b = np.asarray(seg.coords)[[0, -1]]
                        far = b if math.dist(a, c[k]) < math.dist(b, c[k]) else a
                        cuts.append(LineString([c[k], far + d / norm * 0.01]))
    return cuts


def _decompose(poly: Polygon, est: _Estimator, depth: int = 0) -> list[tuple[BaseGeometry, float]]:
    """Greedy decomposition: keep cutting at reflex vertices while the estimate improves."""
    base, angle = est.best(poly)
    if depth >= 8:
        return [(poly, angle)]
    min_area = est.spec.spacing_m ** 2
    penalty = CUT_PENALTY_SPACINGS * est.spec.spacing_m
    best = None
    for cut in _reflex_cuts(poly):
        pieces = [g for g in getattr(shapely.ops.split(poly, cut), "geoms", [])
                  if isinstance(g, Polygon)]
        if len(pieces) < 2 or min(p.area for p in pieces) < min_area:
            continue
        cost = sum(est.best(p)[0] for p in pieces) + penalty * (len(pieces) - 1)
        if cost < base * (1.0 - CUT_MIN_GAIN) and (best is None or cost < best[0]):
            best = (cost, pieces)
    if best is None:
        return [(poly, angle)]
    return [r for piece in best[1] for r in _decompose(piece, est, depth + 1)]


def decomposed_layout(target: BaseGeometry, single: Layout, spec: LayoutSpec, origin: XY
                      ) -> Layout | None:
    """Cut the target at reflex vertices into pieces swept at their own angles (see the
    module notes); None when no cut pays off.

    Each part of a MultiPolygon is decomposed on its own. Touching pieces that chose the same
    angle are merged again before the final route.
    """
    est = _Estimator(spec, origin)
    regions: list[tuple[BaseGeometry, float]] = []
    for poly in _polygons(target):
        regions.extend(_decompose(poly, est))
    if len(regions) == 1 and _close(regions[0][1], single.parts[0].angle):
        return None
    group = list(range(len(regions)))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i in range(len(regions)):
        for j in range(i + 1, len(regions)):
            if _close(regions[i][1], regions[j][1]) and regions[i][0].distance(regions[j][0]) < 1.0:
                group[root(j)] = root(i)
    merged: dict[int, list[int]] = {}
    for i in range(len(regions)):
        merged.setdefault(root(i), []).append(i)
    parts = []
    for members in merged.values():
        region = shapely.union_all([regions[i][0] for i in members])
        angle = regions[max(members, key=lambda i: regions[i][0].area)][1]
        parts.append(make_part(region, angle, origin, spec, fill=True))
    if len(parts) == 1 and _close(parts[0].angle, single.parts[0].angle):
        return None
    return route_parts(parts, spec, final=True)
