"""Coverage-planning benchmark: our survey planner against a QGroundControl-style grid and the
Fields2Cover figures in ``../shared/bench/coverage``.

For every polygon (``../shared/bench/coverage/polygons/*.geojson`` plus the survey areas of
``missions/data/demo_areas.geojson``) and line spacing (40 m and 80 m) it plans:

* **ours**: :func:`missions.plan_survey` without a camera (``line_spacing_m``), no home, so the
  measured path is the pattern from the first pass to the last (``pattern_path_m``), as
  Fields2Cover's path has no legs from and to a home either;
* **qgc**: a QGroundControl-style single-angle grid, reimplemented from QGC's documented
  survey behaviour (https://docs.qgroundcontrol.com/master/en/qgc-user-guide/plan_view/pattern_survey.html
  and ``SurveyComplexItem::_rebuildTransectsPhase1`` in QGC's source): parallel transects one
  spacing apart across the polygon at the grid angle, each from its first to its last
  crossing of the outer ring (QGC does not cut transects at holes or concave notches, its
  issues #8909, #9596, #7263), flown alternately; no turnaround (as Fields2Cover ran with no
  headland). A QGC user picks the grid angle by hand; the baseline is given the best angle
  of 0-179 degrees in 1-degree steps, i.e. the best a careful user could do.

Measured as ``../shared/bench/coverage/README.md`` describes: coverage = area of the passes
buffered by half the spacing, intersected with the area minus holes, over that area; path
metres per covered hectare = path / (area * coverage / 10,000 m^2). ``inside_holes_m`` is the
length of the path inside no-fly zones (legal only for ours: 0). Planning time is CPU time of
the planning call on one core (``time.process_time``), best of three.

Run: ``make bench`` or ``.venv/bin/python benchmarks/coverage.py [--json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from missions import load_areas, plan_survey  # noqa: E402
from missions.plan import count_turns  # noqa: E402
from patrol.geodesy import LocalProjection  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench" / "coverage"
SPACINGS_M = (40.0, 80.0)


def _polygons(geom) -> list[Polygon]:
    return list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]


def qgc_grid(area_xy, spacing_m: float, angle_deg: float) -> list[list[tuple[float, float]]]:
    """QGroundControl-style transects over ``area_xy`` (projected metres) at ``angle_deg``
    (clockwise from grid north), flown alternately; one list of points per polygon part."""
    routes = []
    for poly in _polygons(area_xy):
        outer = Polygon(poly.exterior)
        origin = (outer.centroid.x, outer.centroid.y)
        rot = affinity.rotate(outer, angle_deg, origin=origin)  # transects along +y
        minx, miny, maxx, maxy = rot.bounds
        n = max(1, math.ceil((maxx - minx) / spacing_m))
        x0 = 0.5 * (minx + maxx) - 0.5 * (n - 1) * spacing_m
        lines = shapely.linestrings([[(x0 + k * spacing_m, miny - 1.0),
                                      (x0 + k * spacing_m, maxy + 1.0)] for k in range(n)])
        pts: list[tuple[float, float]] = []
        for k, clipped in enumerate(shapely.intersection(lines, rot)):
            if clipped.is_empty:
                continue
            ys = shapely.get_coordinates(clipped)[:, 1]
            x = x0 + k * spacing_m
            a, b = (x, float(ys.min())), (x, float(ys.max()))
            pts.extend([a, b] if len(pts) // 2 % 2 == 0 else [b, a])
        back = affinity.rotate(LineString(pts), -angle_deg, origin=origin) if len(pts) > 1 else None
        if back is not None:
            routes.append([tuple(c) for c in back.coords])
    return routes


def _qgc_best(area_xy, spacing_m: float) -> tuple[list[list[tuple[float, float]]], float]:
    best = None
    for angle in range(180):
        routes = qgc_grid(area_xy, spacing_m, float(angle))
        length = sum(LineString(r).length for r in routes) + _between(routes)
        if best is None or length < best[0]:
            best = (length, routes, float(angle))
    return best[1], best[2]


def _between(routes: list[list[tuple[float, float]]]) -> float:
    return sum(math.dist(a[-1], b[0]) for a, b in zip(routes, routes[1:]))


def measure(target, zones, passes: list[list[tuple[float, float]]], path: list[tuple[float, float]],
            spacing_m: float, area_m2: float) -> dict:
    """The README's figures for one route (projected metres)."""
    swaths = [LineString(p).buffer(0.5 * spacing_m) if len(p) > 1 else
              shapely.Point(p[0]).buffer(0.5 * spacing_m) for p in passes]
    covered = target.intersection(shapely.union_all(swaths)).area / target.area
    length = LineString(path).length
    inside = LineString(path).intersection(zones).length if not zones.is_empty else 0.0
    return {"path_m": round(length, 1), "coverage": round(covered, 5),
            "path_m_per_covered_ha": round(length / (area_m2 * covered / 1e4), 1),
            "turns": count_turns(path), "inside_holes_m": round(inside, 1)}


def _cpu_ms(fn, repeat: int = 3):
    best, out = None, None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        ms = (time.process_time() - t0) * 1000.0
        best = ms if best is None else min(best, ms)
    return out, round(best, 1)


def run_case(name: str, area, spacing_m: float, f2c: dict | None) -> dict:
    """Plan one polygon at one spacing with both planners and measure them."""
    proj = LocalProjection.for_geometry(area.geometry)
    area_xy = proj.project(area.geometry)
    zones = shapely.union_all([Polygon(r) for p in _polygons(area_xy) for r in p.interiors])
    target = area_xy
    plan, ms = _cpu_ms(lambda: plan_survey(area, None, alt_rel_m=60.0, line_spacing_m=spacing_m))
    xy = lambda pts: [tuple(map(float, proj.to_xy(*p))) for p in pts]  # noqa: E731
    passes = [xy(p) for p in plan.passes_wgs84]
    path = xy(plan.path_wgs84)
    # the pattern: from the start of the first pass to the end of the last (no home legs)
    first = min(range(len(path)), key=lambda i: math.dist(path[i], passes[0][0]))
    last = max(i for i in range(len(path)) if math.dist(path[i], passes[-1][-1]) < 0.01)
    ours = measure(target, zones, passes, path[first:last + 1], spacing_m, target.area)
    ours["planning_ms"] = ms
    (routes, angle), qms = _cpu_ms(lambda: _qgc_best(area_xy, spacing_m), repeat=1)
    qpath = [p for r in routes for p in r]
    qpasses = [r[i:i + 2] for r in routes for i in range(0, len(r) - 1, 2)]
    qgc = measure(target, zones, qpasses, qpath, spacing_m, target.area)
    qgc.update({"angle_deg": angle, "planning_ms": qms})
    row = {"polygon": name, "spacing_m": spacing_m, "area_ha": round(target.area / 1e4, 1),
           "ours": ours, "qgc": qgc}
    if f2c is not None:
        per_ha = f2c["path_length_m"] / (f2c["area_m2"] * f2c["covered_fraction"] / 1e4)
        row["f2c"] = {"path_m": f2c["path_length_m"], "coverage": f2c["covered_fraction"],
                      "path_m_per_covered_ha": round(per_ha, 1), "turns": f2c["turn_count"],
                      "inside_holes_m": f2c.get("path_inside_holes_m"),
                      "planning_ms": f2c["planning_time_ms"]}
        row["ratio_to_f2c"] = round(ours["path_m_per_covered_ha"] / per_ha, 3)
    return row


def cases():
    """(name, AreaSpec, Fields2Cover runs by spacing) for every benchmark polygon."""
    runs = {}
    if (BENCH / "fields2cover_results.json").exists():
        for r in json.loads((BENCH / "fields2cover_results.json").read_text())["runs"]:
            runs[(Path(r["input"]).stem, float(r["swath_width_m"]))] = r
    for path in sorted((BENCH / "polygons").glob("*.geojson")):
        for area in load_areas(path):
            yield path.stem, area, runs
    for area in load_areas(ROOT / "missions" / "data" / "demo_areas.geojson"):
        if area.kind == "area":
            yield area.name, area, runs


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    head = ("| polygon | spacing m | area ha | ours path m | ours covered | ours m/covered ha "
            "| ours turns | ours ms | QGC-style m/covered ha (covered, in holes m) "
            "| F2C m/covered ha (covered) | ours / F2C |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        o, q, f = r["ours"], r["qgc"], r.get("f2c")
        lines.append(
            f"| {r['polygon']} | {r['spacing_m']:.0f} | {r['area_ha']} | {o['path_m']:.0f} | "
            f"{o['coverage']:.4f} | {o['path_m_per_covered_ha']:.0f} | {o['turns']} | "
            f"{o['planning_ms']:.0f} | {q['path_m_per_covered_ha']:.0f} ({q['coverage']:.3f}, "
            f"{q['inside_holes_m']:.0f}) | "
            + (f"{f['path_m_per_covered_ha']:.0f} ({f['coverage']:.3f}) | {r['ratio_to_f2c']:.3f} |"
               if f else "- | - |"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per case")
    args = parser.parse_args(argv)
    if not (BENCH / "polygons").is_dir():
        print(f"benchmark polygons not found at {BENCH / 'polygons'}", file=sys.stderr)
        return 1
    rows = []
    for name, area, runs in cases():
        for spacing in SPACINGS_M:
            row = run_case(name, area, spacing, runs.get((name, spacing)))
            rows.append(row)
            if args.json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
    if not args.json:
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
