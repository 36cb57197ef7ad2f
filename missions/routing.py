"""Transit legs that keep out of no-fly zones: shortest paths on a visibility graph.

All geometry here is in projected metres (UTM). The exclusions (no-fly zones) are grown by a
clearance margin; a leg is *free* when it stays out of the exclusions grown by half that
margin, so legs planned along the grown boundary keep a clear distance from the zones. When
the straight leg is not free, the leg follows the shortest path on the visibility graph of the
convex vertices of the exclusions grown by the full margin (Lozano-Perez & Wesley, "An
algorithm for planning collision-free paths among polyhedral obstacles", CACM 1979). The
graph's all-pairs shortest paths are computed once with SciPy's Dijkstra
(``scipy.sparse.csgraph.shortest_path``); a leg between two points then goes through the best
pair of graph nodes each of them sees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from missions.errors import MissionError

__all__ = ["FreeSpace"]

XY = tuple[float, float]


def _as_polygons(geom: BaseGeometry) -> list[Polygon]:
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]


class FreeSpace:
    """The plane minus no-fly zones, with shortest collision-free legs between points.

    Parameters
    ----------
    exclusions_xy : sequence of shapely Polygon/MultiPolygon
        No-fly zones in projected metres.
    margin_m : float
        Clearance kept from the zones (> 0). Passes are clipped by :attr:`blocked` (zones
        grown by ``margin_m``); legs must stay out of :attr:`keep_out` (grown by half of it).

    Raises
    ------
    MissionError
        If ``margin_m`` is not positive.
    """

    def __init__(self, exclusions_xy: Sequence[BaseGeometry], margin_m: float = 5.0) -> None:
        if not margin_m > 0.0:
            raise MissionError(f"no-fly margin must be > 0 m, got {margin_m!r}")
        self.margin_m = float(margin_m)
        zones = [g for g in exclusions_xy if g is not None and not g.is_empty]
        self.zones: BaseGeometry = shapely.union_all(zones) if zones else Polygon()
        self.blocked: BaseGeometry = self.zones.buffer(self.margin_m) if zones else Polygon()
        self.keep_out: BaseGeometry = self.zones.buffer(0.5 * self.margin_m) if zones else Polygon()
        shapely.prepare(self.keep_out)
        self._graph: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def empty(self) -> bool:
        """Whether there is no exclusion at all."""
        return self.zones.is_empty

    def is_free(self, a: XY, b: XY) -> bool:
        """Whether the straight leg ``a`` -> ``b`` stays out of :attr:`keep_out`."""
        if self.empty:
            return True
        if a == b:
            return not self.keep_out.intersects(Point(a))
        return not self.keep_out.intersects(LineString([a, b]))

    def contains(self, p: XY) -> bool:
        """Whether ``p`` lies inside :attr:`keep_out`."""
        return not self.empty and self.keep_out.intersects(Point(p))

    def path(self, a: XY, b: XY) -> list[XY]:
        """Shortest free polyline from ``a`` to ``b`` (both ends included).

        Raises
        ------
        MissionError
            If ``a`` or ``b`` lies in a no-fly zone (with half the margin) or no free path
            exists.
        """
        if self.is_free(a, b):
            return [a, b]
        self._check_points(np.array([a, b], dtype=float))
        nodes, dist, pred = self._all_pairs()
        via = self._via_nodes(np.array([a, b], dtype=float))
        total = via[0][:, None] + dist + via[1][None, :]
        if total.size == 0 or not np.isfinite(total.min()):
            raise MissionError(f"no leg around the no-fly zones from ({a[0]:.1f}, {a[1]:.1f}) "
                               f"to ({b[0]:.1f}, {b[1]:.1f})")
        i, j = np.unravel_index(int(np.argmin(total)), total.shape)
        chain = [int(j)]
        while chain[-1] != i:
            chain.append(int(pred[i, chain[-1]]))
        return [a] + [tuple(map(float, nodes[n])) for n in reversed(chain)] + [b]

    def path_length(self, a: XY, b: XY) -> float:
        """Length in metres of :meth:`path`."""
        if self.is_free(a, b):
            return math.dist(a, b)
        return float(self.distance_matrix(np.array([a, b], dtype=float))[0, 1])

    def distance_matrix(self, points: np.ndarray) -> np.ndarray:
        """Free leg lengths in metres between all pairs of ``points`` (array (P, 2)).

        Raises
        ------
        MissionError
            As :meth:`path`, when a point lies in a no-fly zone or two are not connected.
        """
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        diff = pts[:, None, :] - pts[None, :, :]
        dist = np.hypot(diff[..., 0], diff[..., 1])
        if self.empty or len(pts) < 2:
            return dist
        i, j = np.triu_indices(len(pts), 1)
        lines = shapely.linestrings(np.stack([pts[i], pts[j]], axis=1))
        blocked = shapely.intersects(lines, self.keep_out)
        if not blocked.any():
            return dist
        involved = np.unique(np.concatenate([i[blocked], j[blocked]]))
        self._check_points(pts[involved])
        _, node_dist, _ = self._all_pairs()
        via = self._via_nodes(pts[involved])                       # (m, N)
        reach = (via[:, :, None] + node_dist[None, :, :]).min(axis=1)  # (m, N)
        around = (reach[:, None, :] + via[None, :, :]).min(axis=2)    # (m, m)
        pos = {int(k): n for n, k in enumerate(involved)}
        for a, b in zip(i[blocked].tolist(), j[blocked].tolist()):
            d = around[pos[a], pos[b]]
            if not np.isfinite(d):
                raise MissionError("no leg around the no-fly zones between "
                                   f"({pts[a][0]:.1f}, {pts[a][1]:.1f}) and "
                                   f"({pts[b][0]:.1f}, {pts[b][1]:.1f})")
            dist[a, b] = dist[b, a] = d
        return dist

    # -- visibility graph ------------------------------------------------------------------
    def _check_points(self, pts: np.ndarray) -> None:
        inside = shapely.intersects(shapely.points(pts), self.keep_out)
        if inside.any():
            x, y = pts[int(np.argmax(inside))]
            raise MissionError(f"point ({x:.1f}, {y:.1f}) m lies within "
                               f"{0.5 * self.margin_m:.1f} m of a no-fly zone")

    def _via_nodes(self, pts: np.ndarray) -> np.ndarray:
        """Distance from each point to each visible graph node, inf where not visible: (P, N)."""
        nodes = self._all_pairs()[0]
        if not len(nodes):
            return np.full((len(pts), 0), np.inf)
        a = np.repeat(pts, len(nodes), axis=0)
        b = np.tile(nodes, (len(pts), 1))
        visible = ~shapely.intersects(shapely.linestrings(np.stack([a, b], axis=1)), self.keep_out)
        d = np.hypot(*(a - b).T)
        return np.where(visible, d, np.inf).reshape(len(pts), len(nodes))

    def _all_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Graph nodes (N, 2), shortest distances between them (N, N) and predecessors."""
        if self._graph is not None:
            return self._graph
        tol = 0.5
        grown = self.zones.buffer(self.margin_m + tol, quad_segs=4).simplify(tol)
        pts: list[XY] = []
        for poly in _as_polygons(grown):
            pts.extend(_convex_vertices(poly.exterior, pocket=False))
            for ring in poly.interiors:
                pts.extend(_convex_vertices(ring, pocket=True))
        nodes = np.array(pts, dtype=float).reshape(-1, 2)
        if len(nodes):
            nodes = nodes[~shapely.intersects(shapely.points(nodes), self.keep_out)]
        n = len(nodes)
        if n == 0:
            self._graph = (nodes, np.zeros((0, 0)), np.zeros((0, 0), dtype=int))
            return self._graph
        weights = np.zeros((n, n))
        if n > 1:
            i, j = np.triu_indices(n, 1)
            lines = shapely.linestrings(np.stack([nodes[i], nodes[j]], axis=1))
            ok = ~shapely.intersects(lines, self.keep_out)
            lengths = np.hypot(*(nodes[i] - nodes[j]).T)
            weights[i[ok], j[ok]] = weights[j[ok], i[ok]] = np.maximum(lengths[ok], 1e-9)
        dist, pred = shortest_path(csr_matrix(weights), method="D", directed=False,
                                   return_predecessors=True)
        self._graph = (nodes, dist, pred)
        return self._graph


def _convex_vertices(ring, *, pocket: bool) -> list[XY]:
    """Vertices of ``ring`` where the free side is convex (the only ones a shortest path uses)."""
    coords = np.asarray(ring.coords)[:-1]
    if len(coords) < 3:
        return [tuple(c) for c in coords]
    ccw = shapely.is_ccw(ring)
    prev = np.roll(coords, 1, axis=0)
    nxt = np.roll(coords, -1, axis=0)
    cross = (coords[:, 0] - prev[:, 0]) * (nxt[:, 1] - coords[:, 1]) - \
            (coords[:, 1] - prev[:, 1]) * (nxt[:, 0] - coords[:, 0])
    # For an exterior ring (obstacle on the inside) a convex corner turns the ring's way;
    # for an interior ring (obstacle outside, a pocket) it turns against it.
    convex = cross > 0 if ccw else cross < 0
    if pocket:
        convex = ~convex
    return [tuple(c) for c in coords[convex | (np.abs(cross) < 1e-9)]]
