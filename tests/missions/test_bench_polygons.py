"""The coverage benchmark's polygons (../shared/bench/coverage) at 40 m line spacing."""

import pytest

from missions import load_areas, plan_survey, validate_plan

NAMES = ["block_two_holes", "convex_park", "l_block", "riverbank_strip", "town_area",
         "two_blocks_multi"]


@pytest.mark.parametrize("name", NAMES)
def test_bench_polygon_is_covered_without_entering_holes(bench_polygons, geometry, name):
    (area,) = load_areas(bench_polygons / f"{name}.geojson")
    plan = plan_survey(area, None, alt_rel_m=60.0, line_spacing_m=40.0)
    g = geometry(area.geometry)
    coverage = g.swath_coverage(plan, 40.0)
    assert coverage >= 0.99
    assert plan.stats["coverage_fraction"] == pytest.approx(coverage, abs=1e-3)
    assert g.zone_entries(plan) == []
    validate_plan(plan)
