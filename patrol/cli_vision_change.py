"""``patrol vision eval change DIR``: the change detector against the plain baseline on labelled pairs.

A composition root (see :mod:`patrol.cli_vision`); the work is done by
:func:`vision.change_eval.evaluate_change_folder`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from patrol.cli_vision import eval_group

__all__ = ["change"]

#: Ground sample distance of LEVIR-CD (Google Earth imagery resampled to 0.5 m per pixel).
LEVIR_GSD_M = 0.5


def _gsd_from_folder(root: Path) -> float | None:
    meta = root / "gsd.json"
    if not meta.is_file():
        return None
    try:
        value = float(json.loads(meta.read_text())["gsd_m"])
    except (ValueError, KeyError, TypeError) as err:
        raise click.ClickException(f"{meta}: expected {{\"gsd_m\": <metres per pixel>}} ({err})") from err
    if not value > 0:
        raise click.ClickException(f"{meta}: gsd_m must be positive, got {value}")
    return value


def _line(label: str, s: dict) -> str:
    return (f"  {label:<16} P {s['precision']:.3f}  R {s['recall']:.3f}  F1 {s['f1']:.3f}  "
            f"({s['counts']['flagged']} flagged, {s['counts']['labelled']} labelled)")


@eval_group.command("change")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--gsd-m", type=float, default=None,
              help="Ground sample distance of the images, metres per pixel. Default: FOLDER/gsd.json "
                   "({\"gsd_m\": ...}) when present, else 0.5 (LEVIR-CD).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A change-detector option (JSON value), e.g. --option threshold=12; repeatable. "
                   "Default: the patrol defaults with max_parallax_m=0 (orthoimages).")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--per-pair", is_flag=True, help="With --json, include each pair's scores.")
def change(folder: Path, gsd_m: float | None, options: tuple[str, ...], as_json: bool, per_pair: bool) -> None:
    """Pixel and region precision/recall/F1 of the change detector and the plain baseline.

    FOLDER holds A/ (before), B/ (after) and label/ (255 = change), matched by file name;
    a labelled region is found when more than 30% of it is flagged, a flagged region is false
    when less than 30% of it is labelled change. The top-level pixel/region scores are the
    detector's; "baseline" holds the baseline's from the same run.
    """
    from patrol.errors import PatrolError
    from vision.change_eval import ORTHO_OPTIONS, evaluate_change_folder
    from vision.detectors import get_detector

    source = "option"
    if gsd_m is None:
        gsd_m = _gsd_from_folder(folder)
        source = "gsd.json"
    if gsd_m is None:
        gsd_m, source = LEVIR_GSD_M, "default (LEVIR-CD 0.5 m/px)"
    if not gsd_m > 0:
        raise click.BadParameter(f"must be positive, got {gsd_m}", param_hint="--gsd-m")
    config = dict(ORTHO_OPTIONS)
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--option")
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    try:
        detector = get_detector("change", **config)
        report = evaluate_change_folder(folder, gsd_m=gsd_m, detector=detector)
    except (PatrolError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    out = report.as_dict()
    out["gsd_m"], out["gsd_source"], out["folder"], out["detector_options"] = gsd_m, source, str(folder), config
    if not per_pair:
        out.pop("per_pair")
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{folder}: {out['pairs']} labelled pairs at {gsd_m} m/px ({source})")
    for who in ("ours", "baseline"):
        click.echo(_line(f"{who} pixel", out[who]["pixel"]))
        click.echo(_line(f"{who} region", out[who]["region"]))
    for category, s in out["ours_by_category"].items():
        click.echo(_line(f"  {category[:14]}", s["region"]))
    for s in out["skipped"]:
        click.echo(f"  skipped {s['name']}: {s['reason']}")
    for e in out["errors"]:
        click.echo(f"  error {e['name']}: {e['error']}", err=True)
