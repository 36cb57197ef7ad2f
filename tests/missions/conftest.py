"""Fixtures of the missions tests: the demo areas, the benchmark polygons, geometry checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon

from missions.areas import load_areas
from patrol.geodesy import LocalProjection

REPO = Path(__file__).resolve().parents[2]
DEMO_AREAS = REPO / "missions" / "data" / "demo_areas.geojson"
DATA = REPO / "tests" / "data" / "missions"
BENCH = REPO.parent / "shared" / "bench" / "coverage"

#: The demo's home: the ArduCopter SITL home of the bundled real recording.
DEMO_HOME = (121.0185, 30.7005)


@pytest.fixture(scope="session")
def demo_areas():
    """The demo's patrol areas by name."""
    return {a.name: a for a in load_areas(DEMO_AREAS)}


@pytest.fixture(scope="session")
def demo_home():
    return DEMO_HOME


@pytest.fixture(scope="session")
def mission_data() -> Path:
    """``tests/data/missions``: real files written by QGroundControl and Mission Planner."""
    return DATA


@pytest.fixture(scope="session")
def bench_polygons() -> Path:
    """``../shared/bench/coverage/polygons``; skips with the reason when absent."""
    folder = BENCH / "polygons"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the coverage benchmark inputs live only in ../shared")
    return folder


def _polygons(geom):
    return list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]


class Geometry:
    """Checks made independently of the planner, with shapely in the area's UTM zone."""

    def __init__(self, area_wgs84, no_fly_wgs84=()):
        self.proj = LocalProjection.for_geometry(area_wgs84)
        self.area = self.proj.project(area_wgs84)
        holes = [Polygon(r) for p in _polygons(self.area) for r in p.interiors]
        self.zones = shapely.union_all(holes + [self.proj.project(z) for z in no_fly_wgs84])
        self.target = self.area.difference(self.zones)

    def xy(self, lonlat):
        return [tuple(self.proj.to_xy(lon, lat)) for lon, lat in lonlat]

    def footprint_coverage(self, plan) -> float:
        covered = shapely.union_all([self.proj.project(f) for f in plan.footprints_wgs84()])
        return self.target.intersection(covered).area / self.target.area

    def swath_coverage(self, plan, spacing_m: float) -> float:
        """The benchmark README's measure: passes buffered by half the spacing."""
        swaths = [LineString(self.xy(p)).buffer(0.5 * spacing_m) if len(p) > 1
                  else shapely.Point(self.xy(p)[0]).buffer(0.5 * spacing_m)
                  for p in plan.passes_wgs84]
        return self.target.intersection(shapely.union_all(swaths)).area / self.target.area

    def legs(self, plan) -> list[LineString]:
        pts = self.xy(plan.path_wgs84)
        return [LineString([a, b]) for a, b in zip(pts, pts[1:]) if a != b]

    def zone_entries(self, plan) -> list[str]:
        """Every waypoint or leg of the flown path that touches a no-fly zone."""
        bad = []
        if self.zones.is_empty:
            return bad
        for k, p in enumerate(self.xy(plan.path_wgs84)):
            if self.zones.intersects(shapely.Point(p)):
                bad.append(f"waypoint {k}")
        for k, leg in enumerate(self.legs(plan)):
            if self.zones.intersects(leg):
                bad.append(f"leg {k}: {leg.intersection(self.zones).length:.1f} m inside")
        return bad


@pytest.fixture
def geometry():
    """``geometry(area_wgs84, no_fly_wgs84=())`` -> independent coverage and zone checks."""
    return Geometry


@pytest.fixture(scope="session")
def demo_plans(demo_areas):
    """The demo's three routes (1-inch camera; survey and corridor at 80 m, orbit at 70 m)."""
    from missions import CAMERAS, plan_corridor, plan_orbit, plan_survey

    cam = CAMERAS["dji-phantom4pro"]
    return {
        "survey": plan_survey(demo_areas["Pinghu old town block"], cam, alt_rel_m=80.0,
                              home=DEMO_HOME),
        "corridor": plan_corridor(demo_areas["Pinghu river corridor"], 60, cam, alt_rel_m=80.0,
                                  home=DEMO_HOME),
        "orbit": plan_orbit(demo_areas["Pinghu construction-site hotspot"].geometry, 60.0,
                            alt_rel_m=70.0, home=DEMO_HOME, photos_per_turn=12),
    }
