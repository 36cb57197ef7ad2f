"""The ``patrol vision`` commands: analyse archived photos, train and evaluate detectors.

A composition root like :mod:`patrol.cli`. Subcommands living in other modules attach
themselves to :data:`vision` or :data:`eval_group` and are imported at the bottom.

* ``patrol vision analyse`` - georeference photos of the archive, run the detectors and merge
  their detections into findings (:func:`vision.analyse_photos`), then reopen closed cases
  whose finding was seen again (``web.cases.link_recurrences``, when the console has it).
* ``patrol vision detectors`` - the registered detectors, their categories and defaults.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

__all__ = ["analyse", "detectors_cmd", "eval_group", "vision"]


@click.group()
def vision() -> None:
    """Georeference photos, run the detectors, train and evaluate them."""


@vision.group("eval")
def eval_group() -> None:
    """Precision, recall and F1 of the detectors on labelled real data."""


def _pairs(values: tuple[str, ...], option: str, convert) -> dict:
    """``("SET=VALUE", ...)`` -> ``{SET: convert(VALUE)}``; a malformed item is a usage error."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.UsageError(f"{option} {item!r}: expected PHOTO_SET=VALUE")
        try:
            out[key.strip()] = convert(value.strip())
        except ValueError as err:
            raise click.UsageError(f"{option} {item!r}: {err}") from err
    return out


def _link_recurrences(session, settings) -> dict:
    """Reopen closed cases seen again (``web.cases.link_recurrences``) when the console has it."""
    try:
        import web.cases as cases
    except ImportError as err:  # the console is optional for vision
        return {"available": False, "reason": f"web.cases cannot be imported ({err})"}
    if not hasattr(cases, "link_recurrences"):
        return {"available": False, "reason": "web.cases has no link_recurrences"}
    kwargs = {}
    try:
        from web.case_rules import case_rules

        kwargs["rules"] = case_rules(settings.data_dir, timezone=settings.timezone)
    except ImportError:
        pass
    from patrol.errors import PatrolError

    try:
        with session.begin_nested():  # a case that cannot be reopened leaves the analysis stored
            reopened = cases.link_recurrences(session, **kwargs)
    except PatrolError as err:
        return {"available": True, "reopened": 0, "cases": [], "error": f"linking recurrences failed: {err}"}
    rows = [asdict(r) if hasattr(r, "__dataclass_fields__") else r for r in reopened or []]
    return {"available": True, "reopened": len(rows),
            "cases": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
                      if isinstance(r, dict) else str(r) for r in rows]}


def _summary(report, recurrences: dict, selected: str) -> str:
    lines = [f"{selected}: {report.photos_total} photo(s)",
             f"  georeferenced {report.photos_georeferenced}, analysed {report.photos_analysed} "
             f"({report.photos_compared} against an earlier pass), skipped {report.photos_skipped} "
             "(analysed before; --reanalyse runs them again)",
             f"  detections {report.detections}"
             + (" (" + ", ".join(f"{c} {n}" for c, n in report.detections_by_category.items()) + ")"
                if report.detections_by_category else ""),
             f"  findings: {report.findings_new} new, {report.findings_updated} merged into existing ones"]
    if recurrences.get("available"):
        lines.append(f"  closed cases reopened because their finding was seen again: {recurrences['reopened']}"
                     + "".join(f"\n    case {c['case_code']} (finding {c['finding_id']}, seen "
                               f"{c['last_seen_utc']})" for c in recurrences["cases"] if isinstance(c, dict)))
    if recurrences.get("error"):
        lines.append(f"  problem: {recurrences['error']}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    if report.problems:
        lines.append(f"  problems ({len(report.problems)}):")
        lines += [f"    photo {p.photo_id} ({p.name}) [{p.stage}]: {p.message}" for p in report.problems]
    lines.append(f"  {report.seconds:.1f} s, {report.photos_per_s:.2f} photos/s")
    return "\n".join(lines)


def _detector_config(options: tuple[str, ...], names: tuple[str, ...]) -> dict[str, dict]:
    """``("onnx.model=m.onnx", ...)`` -> ``{"onnx": {"model": "m.onnx"}}``, values read as YAML.

    Raises click.UsageError naming the option when it is malformed or names a detector not run.
    """
    import yaml

    config: dict[str, dict] = {}
    for item in options:
        key, sep, value = item.partition("=")
        name, dot, setting = key.strip().partition(".")
        if not (sep and dot and name and setting):
            raise click.UsageError(f"--detector-option {item!r}: expected NAME.KEY=VALUE")
        if name not in names:
            raise click.UsageError(f"--detector-option {item!r}: detector {name!r} is not among "
                                   f"--detectors ({', '.join(names)})")
        try:
            config.setdefault(name, {})[setting] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise click.UsageError(f"--detector-option {item!r}: value is not YAML: {err}") from err
    return config


@vision.command("analyse")
@click.option("--photo-set", "photo_sets", multiple=True, metavar="NAME",
              help="Photos of this photo set (repeatable).")
@click.option("--flight", "flights", multiple=True, type=int, metavar="ID",
              help="Photos of this flight (repeatable); with --photo-set, photos matching both.")
@click.option("--all", "all_photos", is_flag=True, help="Every photo of the archive.")
@click.option("--detectors", default=None, metavar="NAME,...",
              help="Detectors to run (see `patrol vision detectors`; default: change,colour).")
@click.option("--detector-option", "detector_options", multiple=True, metavar="NAME.KEY=VALUE",
              help="A detector setting (repeatable; VALUE read as YAML), e.g. tiles.model=model.json, "
                   "onnx.model=yolo.onnx, onnx.names=[car,truck], onnx.class_map={car: illegal_parking}.")
@click.option("--reanalyse", is_flag=True, help="Run the detectors again on photos analysed before.")
@click.option("--camera", "cameras", multiple=True, metavar="SET=MODEL",
              help="Sensor-table camera of a photo set whose EXIF names none (repeatable; the bundled "
                   "sets' are known).")
@click.option("--ground-elevation", "grounds", multiple=True, metavar="SET=METRES",
              help="Ground elevation under a photo set without relative altitude, in its GPS altitude's "
                   "reference (repeatable; estimated from overlapping photos otherwise).")
@click.option("--workers", type=int, default=None, help="Threads reading photos (default: one per CPU).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: the analysis report (photos, detections by category, findings new and "
                   "updated, problems with photo, stage and message) and the reopened cases.")
@click.pass_obj
def analyse(settings, photo_sets: tuple[str, ...], flights: tuple[int, ...], all_photos: bool,
            detectors: str | None, detector_options: tuple[str, ...], reanalyse: bool, cameras: tuple[str, ...], grounds: tuple[str, ...],
            workers: int | None, as_json: bool) -> None:
    """Georeference archived photos, run the detectors and merge detections into findings.

    Exits with status 1 only when nothing could be analysed (no photo matches, or every
    photo failed); problems with single photos are listed and the rest carries on.
    """
    import sqlalchemy as sa

    from flight_logs.models import Photo
    from patrol.cli import _open
    from patrol.demo import CAMERAS_BY_SET, GROUND_ELEVATION_BY_SET
    from vision import DetectorError, analyse_photos, detector_names
    from vision.pipeline import DEFAULT_DETECTORS

    if not (all_photos or photo_sets or flights):
        raise click.UsageError("say which photos: --photo-set NAME, --flight ID or --all")
    if all_photos and (photo_sets or flights):
        raise click.UsageError("--all goes alone, without --photo-set or --flight")
    names = tuple(n.strip() for n in detectors.split(",") if n.strip()) if detectors else DEFAULT_DETECTORS
    unknown = [n for n in names if n not in detector_names()]
    if unknown or not names:
        raise click.UsageError(f"--detectors: unknown {', '.join(unknown) or '(none given)'}; "
                               f"registered: {', '.join(detector_names())}")
    detector_config = _detector_config(detector_options, names)
    camera_by_set = {**CAMERAS_BY_SET, **_pairs(cameras, "--camera", str)}
    ground_by_set = {**GROUND_ELEVATION_BY_SET, **_pairs(grounds, "--ground-elevation", float)}
    _, Session = _open(settings)
    selected = "all photos" if all_photos else " and ".join(
        part for part in (("photo set(s) " + ", ".join(photo_sets)) if photo_sets else "",
                          ("flight(s) " + ", ".join(map(str, flights))) if flights else "") if part)
    progress = None if as_json else (lambda text: click.echo(f"  {text}", err=True))
    with Session.begin() as session:
        query = sa.select(Photo.id)
        if photo_sets:
            query = query.where(Photo.photo_set.in_(photo_sets))
        if flights:
            query = query.where(Photo.flight_id.in_(flights))
        ids = list(session.scalars(query).all())
        if not ids:
            raise click.ClickException(f"no photos in the archive for {selected}")
        try:
            report = analyse_photos(session, settings.data_dir, photo_ids=None if all_photos else ids,
                                    detectors=names, detector_config=detector_config,
                                    cameras_by_set=camera_by_set,
                                    ground_elevation_by_set=ground_by_set, reanalyse=reanalyse,
                                    workers=workers, progress=progress)
        except DetectorError as err:
            raise click.ClickException(str(err)) from err
        recurrences = _link_recurrences(session, settings)
    if as_json:
        click.echo(json.dumps({"selected": selected, **report.as_dict(), "recurrences": recurrences},
                              ensure_ascii=False, default=str))
    else:
        click.echo(_summary(report, recurrences, selected))
    if report.photos_analysed == 0 and report.photos_skipped == 0:
        sys.exit(1)


@vision.command("detectors")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: detector name -> categories with enabled, min_score, min_area_m2, "
                   "max_area_m2 (or the error that keeps it from being built with its defaults).")
def detectors_cmd(as_json: bool) -> None:
    """The registered detectors, the categories each reports and its default thresholds."""
    from vision import CATEGORIES, VisionError, detector_names, get_detector

    out: dict[str, dict] = {}
    for name in detector_names():
        try:
            det = get_detector(name)
        except (VisionError, OSError, ValueError) as err:
            out[name] = {"error": f"needs configuration: {err}"}
            continue
        cats = getattr(det, "categories", {}) or {}
        out[name] = {"categories": {c: {"name": CATEGORIES.get(c, c), **{k: (None if v == float("inf") else v)
                                                                          for k, v in asdict(cfg).items()}}
                                    for c, cfg in cats.items()}}
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    for name, info in out.items():
        click.echo(name)
        if "error" in info:
            click.echo(f"  {info['error']}")
            continue
        for cat, cfg in info["categories"].items():
            top = "-" if cfg["max_area_m2"] is None else f"{cfg['max_area_m2']:g}"
            click.echo(f"  {cat:<20} {cfg['name']:<14} {'enabled' if cfg['enabled'] else 'disabled':<8} "
                       f"min score {cfg['min_score']:g}, area {cfg['min_area_m2']:g}-{top} m2")


# Subcommands defined in their own modules (imported for their side effect of registering).
import patrol.cli_vision_change  # noqa: E402,F401
import patrol.cli_vision_learn  # noqa: E402,F401
