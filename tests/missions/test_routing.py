import math

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, box

from missions import MissionError
from missions.routing import FreeSpace

WALL = box(-10, -100, 10, 100)


def test_straight_leg_when_nothing_is_in_the_way():
    free = FreeSpace([WALL], margin_m=5.0)
    assert free.path((-50, 150), (50, 150)) == [(-50, 150), (50, 150)]


def test_leg_goes_around_the_zone_by_the_shorter_side():
    free = FreeSpace([WALL], margin_m=5.0)
    a, b = (-50.0, 60.0), (50.0, 60.0)
    path = free.path(a, b)
    line = LineString(path)
    assert not line.intersects(WALL.buffer(2.5))  # keeps half the margin at least
    assert all(y > 100 for _, y in path[1:-1])  # round the north end, the nearer one
    # no longer than hugging the wall's grown corners, at least the straight line
    corners = [a, (-15.5, 105.5), (15.5, 105.5), b]
    bound = sum(math.dist(p, q) for p, q in zip(corners, corners[1:]))
    assert math.dist(a, b) < line.length <= bound + 1.0
    assert free.path_length(a, b) == pytest.approx(line.length)


def test_distance_matrix_matches_the_legs():
    free = FreeSpace([WALL, box(60, -20, 80, 20)], margin_m=5.0)
    pts = np.array([(-50, 0), (50, 0), (120, 0), (-50, 150)], dtype=float)
    dist = free.distance_matrix(pts)
    assert np.allclose(dist, dist.T)
    for i in range(len(pts)):
        for j in range(len(pts)):
            if i != j:
                assert dist[i, j] == pytest.approx(free.path_length(tuple(pts[i]), tuple(pts[j])))
                assert dist[i, j] >= math.dist(pts[i], pts[j]) - 1e-9


def test_points_inside_a_zone_are_refused():
    free = FreeSpace([WALL], margin_m=5.0)
    with pytest.raises(MissionError, match="of a no-fly zone"):
        free.path((0.0, 0.0), (50.0, 0.0))
    with pytest.raises(MissionError, match="margin"):
        FreeSpace([WALL], margin_m=0.0)


def test_enclosed_point_has_no_leg():
    ring = box(-100, -100, 100, 100).difference(box(-80, -80, 80, 80))
    free = FreeSpace([ring], margin_m=5.0)
    with pytest.raises(MissionError, match="no leg around the no-fly zones"):
        free.path((0.0, 0.0), (200.0, 0.0))
    assert free.path((0.0, 0.0), (50.0, 50.0)) == [(0.0, 0.0), (50.0, 50.0)]


def test_no_zones_means_free_everywhere():
    free = FreeSpace([], margin_m=5.0)
    assert free.empty and free.is_free((0, 0), (1000, 1000))
    assert shapely.is_empty(free.blocked)
