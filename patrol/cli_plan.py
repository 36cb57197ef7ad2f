"""``patrol plan``: survey, corridor and orbit routes from area files, and mission-file conversion.

Part of the composition root (see :mod:`patrol.cli`): it reads the files, builds a
:class:`missions.request.PlanRequest`, and writes the route in the format asked for. The
statistics go to standard output (one JSON object with ``--stats-json``); what a format could
not carry goes to standard error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["plan"]

FORMATS = ("plan", "waypoints", "kml", "wpml")


def _lonlat(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected LON,LAT in degrees") from None
    return lon, lat


def _camera(name: str | None, custom: str | None):
    from missions import CAMERAS, Camera

    if custom is not None:
        try:
            sw, sh, f, w, h = (float(v) for v in custom.split(","))
        except ValueError:
            raise click.BadParameter(f"{custom!r}: expected SENSOR_W_MM,SENSOR_H_MM,FOCAL_MM,"
                                     "IMAGE_W_PX,IMAGE_H_PX", param_hint="--custom-camera") from None
        return Camera("custom", sw, sh, f, int(w), int(h))
    if name is None:
        return None
    if name not in CAMERAS:
        raise click.BadParameter(f"{name!r}; one of {', '.join(CAMERAS)}", param_hint="--camera")
    return CAMERAS[name]


def _common(fn):
    """Options every pattern shares."""
    options = [
        click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False,
                                                                      path_type=Path)),
        click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write the route here (format from the extension unless --format)."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default=None),
        click.option("--name", default=None, help="Which feature of INPUT (default: the first "
                                                  "of the pattern's kind)."),
        click.option("--no-fly", "no_fly_files", multiple=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="File of no-fly polygons (repeatable); polygons of INPUT with the "
                          "property no_fly=true are no-fly zones too."),
        click.option("--camera", default=None, help="Catalogue camera (see `patrol plan cameras`)."),
        click.option("--custom-camera", default=None, metavar="SW_MM,SH_MM,FOCAL_MM,W_PX,H_PX"),
        click.option("--alt-m", "alt_rel_m", type=float, default=None,
                     help="Altitude above take-off (m)."),
        click.option("--gsd-cm", "gsd_cm_px", type=float, default=None,
                     help="Ground sample distance (cm/px) instead of --alt-m."),
        click.option("--speed", "speed_m_s", type=float, default=None, help="Ground speed (m/s)."),
        click.option("--home", default=None, metavar="LON,LAT", help="Take-off point / dock."),
        click.option("--ceiling-m", type=float, default=120.0, show_default=True,
                     help="Altitude ceiling above take-off (m)."),
        click.option("--endurance-min", type=float, default=None,
                     help="Battery endurance (minutes): split into sorties keeping a reserve."),
        click.option("--reserve", type=float, default=0.2, show_default=True,
                     help="Fraction of the endurance kept at landing."),
        click.option("--stats-json", is_flag=True, help="Print the statistics as one JSON object."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _run(pattern: str, input_path: Path, out: Path | None, fmt: str | None, name: str | None,
         no_fly_files, camera: str | None, custom_camera: str | None, home: str | None,
         ceiling_m: float, endurance_min: float | None, reserve: float, stats_json: bool,
         planner_kwargs: dict[str, Any]) -> None:
    from missions import MissionError, load_areas
    from missions.convert import write_route
    from missions.request import PlanRequest, pick_target, run_plan

    try:
        target, zones = pick_target(load_areas(input_path), pattern, name)
        for path in no_fly_files:
            zones += [a.geometry for a in load_areas(path) if a.kind == "area"]
        req = PlanRequest(pattern, target, camera=_camera(camera, custom_camera), no_fly=zones,
                          home=_lonlat(home),
                          planner_kwargs={k: v for k, v in planner_kwargs.items() if v is not None},
                          endurance_min=endurance_min, reserve_fraction=reserve,
                          ceiling_alt_rel_m=ceiling_m)
        result = run_plan(req)
        written, notes = [], []
        if out is not None:
            if len(result.sorties) > 1:
                for k, sortie in enumerate(result.sorties, start=1):
                    path = out.with_name(f"{out.stem}-sortie{k}{out.suffix}")
                    notes += write_route(sortie, path, fmt)
                    written.append(path)
            else:
                notes += write_route(result.plan, out, fmt)
                written.append(out)
    except MissionError as err:
        raise click.ClickException(str(err)) from err
    stats = result.stats()
    stats.update({"name": target.name, "pattern": pattern, "problems": result.problems,
                  "files": [str(p) for p in written]})
    for note in dict.fromkeys(notes):
        click.echo(f"note: {note}", err=True)
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    if stats_json:
        click.echo(json.dumps(stats, ensure_ascii=False))
    else:
        click.echo(_summary(stats))
    if result.problems:
        sys.exit(2)


def _summary(s: dict[str, Any]) -> str:
    def fmt(key: str, label: str, unit: str = "", scale: float = 1.0, digits: int = 0) -> str | None:
        if s.get(key) is None:
            return None
        return f"{label}: {s[key] * scale:.{digits}f}{unit}"

    lines = [f"{s['pattern']} of {s['name']!r}", *filter(None, [
        fmt("path_length_m", "length", " m"),
        fmt("est_flight_time_s", "estimated flight time", " s"),
        fmt("photo_count", "photos"),
        fmt("gsd_cm_px", "GSD", " cm/px", digits=2),
        fmt("coverage_fraction", "coverage", " %", 100.0, 2),
        fmt("turns", "turns"),
        fmt("sorties", "sorties"),
        fmt("planning_ms", "planning", " ms", digits=1),
    ])]
    lines += [f"wrote {f}" for f in s["files"]]
    return "\n  ".join(lines)


@click.group()
def plan() -> None:
    """Plan survey, corridor and orbit routes; convert mission files."""


@plan.command()
@_common
@click.option("--front-overlap", type=float, default=0.75, show_default=True)
@click.option("--side-overlap", type=float, default=0.65, show_default=True)
@click.option("--line-spacing-m", type=float, default=None,
              help="Distance between passes, instead of the camera and side overlap.")
@click.option("--turnaround-m", type=float, default=0.0, show_default=True)
@click.option("--angle-deg", "sweep_angle_deg", type=float, default=None,
              help="Pass direction (degrees from north); default: the shortest route.")
@click.option("--photo-mode", type=click.Choice(["distance", "waypoint"]), default="distance",
              show_default=True, help="Trigger distance along passes, or capture at a waypoint "
                                      "per photo.")
def survey(input_path, out, fmt, name, no_fly_files, camera, custom_camera, alt_rel_m, gsd_cm_px,
           speed_m_s, home, ceiling_m, endurance_min, reserve, stats_json, front_overlap,
           side_overlap, line_spacing_m, turnaround_m, sweep_angle_deg, photo_mode) -> None:
    """Lawnmower survey of an area (Polygon/MultiPolygon; holes are no-fly zones)."""
    _run("survey", input_path, out, fmt, name, no_fly_files, camera, custom_camera, home,
         ceiling_m, endurance_min, reserve, stats_json, dict(
             alt_rel_m=alt_rel_m, gsd_cm_px=gsd_cm_px, speed_m_s=speed_m_s,
             front_overlap=front_overlap, side_overlap=side_overlap,
             line_spacing_m=line_spacing_m, turnaround_m=turnaround_m,
             sweep_angle_deg=sweep_angle_deg, photo_mode=photo_mode))


@plan.command()
@_common
@click.option("--width-m", type=float, default=None, help="Corridor width (default: the "
                                                          "feature's width_m).")
@click.option("--front-overlap", type=float, default=0.75, show_default=True)
@click.option("--side-overlap", type=float, default=0.65, show_default=True)
@click.option("--line-spacing-m", type=float, default=None)
def corridor(input_path, out, fmt, name, no_fly_files, camera, custom_camera, alt_rel_m,
             gsd_cm_px, speed_m_s, home, ceiling_m, endurance_min, reserve, stats_json, width_m,
             front_overlap, side_overlap, line_spacing_m) -> None:
    """Corridor scan along a road or river (LineString)."""
    _run("corridor", input_path, out, fmt, name, no_fly_files, camera, custom_camera, home,
         ceiling_m, endurance_min, reserve, stats_json, dict(
             width_m=width_m, alt_rel_m=alt_rel_m, gsd_cm_px=gsd_cm_px, speed_m_s=speed_m_s,
             front_overlap=front_overlap, side_overlap=side_overlap,
             line_spacing_m=line_spacing_m))


@plan.command()
@_common
@click.option("--radius-m", type=float, default=None, help="Orbit radius (default: the "
                                                           "feature's radius_m).")
@click.option("--photos-per-turn", type=int, default=12, show_default=True)
@click.option("--turns", type=int, default=1, show_default=True)
def orbit(input_path, out, fmt, name, no_fly_files, camera, custom_camera, alt_rel_m, gsd_cm_px,
          speed_m_s, home, ceiling_m, endurance_min, reserve, stats_json, radius_m,
          photos_per_turn, turns) -> None:
    """Orbit of a hotspot (Point) with the camera on it."""
    if gsd_cm_px is not None:
        raise click.BadParameter("an orbit is flown at --alt-m", param_hint="--gsd-cm")
    _run("orbit", input_path, out, fmt, name, no_fly_files, camera, custom_camera, home,
         ceiling_m, endurance_min, reserve, stats_json, dict(
             radius_m=radius_m, alt_rel_m=alt_rel_m, speed_m_s=speed_m_s,
             photos_per_turn=photos_per_turn, turns=turns))


@plan.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False,
                                                               path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Target format (default: from the extension; .kmz is DJI WPML).")
@click.option("--alt-m", "alt_rel_m", type=float, default=None,
              help="Altitude for KML lines that carry none.")
def convert(input_path: Path, out: Path, fmt: str | None, alt_rel_m: float | None) -> None:
    """Convert a mission file between .plan, .waypoints, .kml/.kmz and DJI WPML .kmz."""
    from missions import MissionError
    from missions.convert import convert_mission

    try:
        report = convert_mission(input_path, out, dst_format=fmt, alt_rel_m=alt_rel_m)
    except MissionError as err:
        raise click.ClickException(str(err)) from err
    click.echo(str(report))


@plan.command()
def cameras() -> None:
    """List the camera catalogue."""
    from missions import CAMERAS

    for key, cam in CAMERAS.items():
        click.echo(f"{key:24s} {cam.name}: {cam.sensor_width_mm} x {cam.sensor_height_mm} mm, "
                   f"f {cam.focal_length_mm} mm, {cam.image_width_px} x {cam.image_height_px} px")
