"""``patrol plan``, run as an operator runs it: real area files in, mission files out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from missions import read_mission, validate_plan
from missions.validate import plan_problems

REPO = Path(__file__).resolve().parents[2]
DEMO_AREAS = REPO / "missions" / "data" / "demo_areas.geojson"
TOWN = REPO.parent / "shared" / "bench" / "coverage" / "polygons" / "town_area.geojson"
HOME = "121.0185,30.7005"


def _plan(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "patrol.cli", "plan", *map(str, args)], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=120)


def test_survey_stats_json_and_plan_file(tmp_path):
    out = tmp_path / "old-town.plan"
    run = _plan(tmp_path, "survey", DEMO_AREAS, "--camera", "dji-phantom4pro", "--alt-m", "80",
                "--home", HOME, "--out", out, "--stats-json")
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stdout)
    for key in ("path_length_m", "coverage_fraction", "planning_ms", "turns", "sorties",
                "est_flight_time_s", "photo_count", "gsd_cm_px"):
        assert key in stats, key
    assert stats["name"] == "Pinghu old town block" and stats["sorties"] == 1
    assert stats["coverage_fraction"] >= 0.995 and stats["photo_count"] > 0
    mission = read_mission(out)
    assert len(mission.items) > 10 and mission.geofence_polygons and mission.rally_points
    assert not (tmp_path / "var").exists()  # planning needs no data root


def test_line_spacing_sets_the_passes_directly(tmp_path):
    if not TOWN.exists():
        pytest.skip(f"{TOWN} is absent (the coverage benchmark's polygons)")
    run = _plan(tmp_path, "survey", TOWN, "--line-spacing-m", "80", "--alt-m", "60", "--stats-json")
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stdout)
    assert stats["line_spacing_m"] == 80.0 and "photo_count" in stats
    assert stats["coverage_fraction"] >= 0.995 and stats["files"] == []


def test_endurance_splits_into_sortie_files_that_each_fly(tmp_path):
    out = tmp_path / "old-town.waypoints"
    run = _plan(tmp_path, "survey", DEMO_AREAS, "--camera", "dji-phantom4pro", "--alt-m", "80",
                "--home", HOME, "--endurance-min", "10", "--out", out, "--stats-json")
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stdout)
    assert stats["sorties"] >= 2 and len(stats["files"]) == stats["sorties"]
    for path in stats["files"]:
        items = read_mission(path).items
        validate_plan(items)
        assert items[-1].command == 20  # MAV_CMD_NAV_RETURN_TO_LAUNCH
    assert "geofence" in run.stderr  # the .waypoints format cannot carry it: said so


def test_corridor_and_orbit_in_every_format(tmp_path):
    for pattern, fmt, suffix in (("corridor", "kml", ".kml"), ("orbit", "wpml", ".kmz"),
                                 ("orbit", "plan", ".plan")):
        out = tmp_path / f"{pattern}{suffix}"
        run = _plan(tmp_path, pattern, DEMO_AREAS, "--camera", "dji-phantom4pro", "--alt-m", "60",
                    "--home", HOME, "--out", out, "--format", fmt, "--stats-json")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["photo_count"] > 0
        assert len(read_mission(out).items) > 3


def test_convert_says_what_the_target_cannot_carry(tmp_path):
    plan_file = tmp_path / "old-town.plan"
    assert _plan(tmp_path, "survey", DEMO_AREAS, "--camera", "dji-phantom4pro", "--alt-m", "80",
                 "--home", HOME, "--out", plan_file).returncode == 0
    run = _plan(tmp_path, "convert", plan_file, "--out", tmp_path / "old-town.waypoints")
    assert run.returncode == 0, run.stderr
    assert "dropped: geofence" in run.stdout and "rally" in run.stdout
    assert len(read_mission(tmp_path / "old-town.waypoints").items) == len(
        read_mission(plan_file).items)


def test_ceiling_violation_exits_non_zero_saying_where(tmp_path):
    run = _plan(tmp_path, "survey", DEMO_AREAS, "--camera", "dji-phantom4pro", "--alt-m", "150",
                "--home", HOME, "--stats-json")
    assert run.returncode == 2
    assert "problem:" in run.stderr and "ceiling" in run.stderr.lower()
    assert json.loads(run.stdout)["problems"]


@pytest.mark.parametrize("content, message", [
    ('{"type": "FeatureCollection", "features": [', "bad.geojson"),
    ('{"type": "FeatureCollection", "features": []}', "bad.geojson"),
])
def test_bad_area_file_is_named(tmp_path, content, message):
    bad = tmp_path / "bad.geojson"
    bad.write_text(content)
    run = _plan(tmp_path, "survey", bad, "--line-spacing-m", "40", "--alt-m", "60")
    assert run.returncode == 1 and message in run.stderr


def test_unknown_feature_name_lists_the_choices(tmp_path):
    run = _plan(tmp_path, "survey", DEMO_AREAS, "--name", "nowhere", "--line-spacing-m", "40",
                "--alt-m", "60")
    assert run.returncode == 1 and "Pinghu old town block" in run.stderr


def test_no_fly_file_keeps_the_route_out(tmp_path):
    from shapely.geometry import mapping

    from missions import load_areas

    area = next(a for a in load_areas(DEMO_AREAS) if a.name == "Pinghu old town block")
    c = area.geometry.representative_point()
    zone_poly = c.buffer(0.0008, cap_style="square")  # ~80 x 90 m, a made-up school
    zone = tmp_path / "zone.geojson"
    zone.write_text(json.dumps({"type": "Feature", "properties": {"name": "school"},
                                "geometry": mapping(zone_poly)}))
    out = tmp_path / "r.plan"
    run = _plan(tmp_path, "survey", DEMO_AREAS, "--camera", "dji-phantom4pro", "--alt-m", "80",
                "--home", HOME, "--no-fly", zone, "--out", out, "--stats-json")
    assert run.returncode == 0, run.stderr
    items = read_mission(out).items
    assert plan_problems(items, no_fly=[zone_poly]) == []
    assert plan_problems(items, no_fly=[area.geometry.buffer(-0.0005)]) != []  # the check bites
