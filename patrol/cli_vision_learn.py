"""``patrol vision train`` and ``patrol vision eval detect``: learned detectors on labelled images.

A composition root (see :mod:`patrol.cli_vision`); the work is done by
:func:`vision.training.train_tile_classifier` and :func:`vision.detect_eval.evaluate_detector`,
the labels are read by :func:`vision.labels.read_labelled` (COCO or YOLO).
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import click

from patrol.cli_vision import eval_group, vision

__all__ = ["detect", "train"]


def _select(labelled, patterns: tuple[str, ...], excludes: tuple[str, ...]):
    if not patterns and not excludes:
        return labelled
    return labelled.subset(lambda im: (not patterns or any(fnmatch.fnmatch(im.path.name, p) for p in patterns))
                           and not any(fnmatch.fnmatch(im.path.name, p) for p in excludes))


def _read(folder: Path, patterns, excludes):
    from vision.labels import read_labelled

    labelled = _select(read_labelled(folder), patterns, excludes)
    for problem in labelled.problems:
        click.echo(f"warning: {problem}", err=True)
    return labelled


def _option_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@vision.command("train")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Model base name: writes OUT.json (settings) and OUT.<i>.yml (one OpenCV ml model per class).")
@click.option("--model", "kind", type=click.Choice(["svm", "boost"]), default="boost", show_default=True,
              help="cv2.ml.SVM (RBF) or cv2.ml.Boost (Real AdaBoost).")
@click.option("--tile-m", type=float, default=None, help="Tile side on the ground, metres (needs --gsd-m).")
@click.option("--tile-px", type=float, default=None, help="Tile side in the images' pixels.")
@click.option("--gsd-m", type=float, default=None, help="Ground sample distance of the images, metres per pixel.")
@click.option("--categories", "class_map", default=None,
              help="Class name -> category: 'building=illegal_structure,car=-' or a JSON/YAML file "
                   "('-' drops a class). Classes named like a category need no entry.")
@click.option("--images", "patterns", multiple=True, help="Only images whose file name matches (glob; repeatable).")
@click.option("--exclude", "excludes", multiple=True, help="Leave out images whose file name matches (glob).")
@click.option("--neg-per-pos", type=float, default=2.0, show_default=True, help="Negative tiles per positive.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the tile sampling.")
def train(folder: Path, out: Path, kind: str, tile_m: float | None, tile_px: float | None, gsd_m: float | None,
          class_map: str | None, patterns: tuple[str, ...], excludes: tuple[str, ...], neg_per_pos: float,
          seed: int) -> None:
    """Train a tile classifier on the COCO or YOLO labels in FOLDER and save it.

    Positive tiles lie on labelled boxes, negative tiles away from every box; features are
    HOG and HSV/L*a*b* colour histograms. Use the model with `patrol vision eval detect
    --model OUT.json` or the `tiles` detector.
    """
    from patrol.errors import PatrolError
    from vision.labels import parse_class_map
    from vision.training import train_tile_classifier

    try:
        labelled = _read(folder, patterns, excludes)
        model = train_tile_classifier(labelled, class_map=parse_class_map(class_map), kind=kind, tile_px=tile_px,
                                      tile_m=tile_m, gsd_m=gsd_m, neg_per_pos=neg_per_pos, seed=seed,
                                      note=lambda line: click.echo(f"warning: {line}", err=True))
        written = model.save(out)
    except PatrolError as err:
        raise click.ClickException(str(err)) from err
    tiles = model.training["tiles"]
    click.echo(f"trained {kind} on {len(labelled.images)} images: "
               + ", ".join(f"{k} {v}" for k, v in tiles.items()) + f" tiles of {model.tile_px:g} px"
               + (f" ({model.tile_m:g} m)" if model.tile_m else ""))
    for name in model.class_names:
        click.echo(f"  {name} -> {model.categories[name]}")
    click.echo("wrote " + ", ".join(str(p) for p in written))


@eval_group.command("detect")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A tile model (.json from `patrol vision train`) or a YOLO-format .onnx model.")
@click.option("--detector", "detector_name", default=None, help="A registered detector by name (e.g. colour).")
@click.option("--categories", "class_map", default=None,
              help="Label class name -> category ('a=cat,b=-' or a JSON/YAML file); for --model *.onnx also the "
                   "model's class map. Default for a tile model: its own.")
@click.option("--names", "names", default=None,
              help="Class names of an .onnx model (data.yaml or classes.txt). Default: the labels' class names.")
@click.option("--gsd-m", type=float, default=None,
              help="Ground sample distance of the images, metres per pixel. Default: the tile model's training "
                   "GSD, else 1.")
@click.option("--iou", "iou_threshold", type=float, default=0.5, show_default=True,
              help="Smallest IoU for a detection to match a labelled box.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Detector option (value read as JSON when it parses), e.g. threshold=0.6; repeatable.")
@click.option("--images", "patterns", multiple=True, help="Only images whose file name matches (glob; repeatable).")
@click.option("--exclude", "excludes", multiple=True, help="Leave out images whose file name matches (glob).")
@click.option("--per-image", is_flag=True, help="With --json, include each image's counts.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def detect(folder: Path, model_path: Path | None, detector_name: str | None, class_map: str | None,
           names: str | None, gsd_m: float | None, iou_threshold: float, options: tuple[str, ...],
           patterns: tuple[str, ...], excludes: tuple[str, ...], per_image: bool, as_json: bool) -> None:
    """Precision, recall and F1 per category of one detector's boxes on COCO/YOLO-labelled images.

    A detection is a true positive when it matches, best score first, a labelled box of its
    category not matched yet with IoU >= --iou (0.5); other detections are false positives,
    unmatched labelled boxes false negatives.
    """
    from patrol.errors import PatrolError
    from vision.detect_eval import evaluate_detector
    from vision.detectors import get_detector
    from vision.labels import parse_class_map

    if (model_path is None) == (detector_name is None):
        raise click.UsageError("give exactly one of --model and --detector")
    config = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--option {item!r}: expected KEY=VALUE")
        config[key.strip()] = _option_value(value.strip())
    try:
        labelled = _read(folder, patterns, excludes)
        mapping = parse_class_map(class_map)
        if model_path is not None and model_path.suffix.lower() == ".onnx":
            detector = get_detector("onnx", model=model_path, names=names or list(labelled.class_names),
                                    class_map={k: v for k, v in mapping.items()} or None, **config)
            label_map = mapping
        elif model_path is not None:
            from vision.training import TileModel

            model = TileModel.load(model_path)
            detector = get_detector("tiles", model=model, **config)
            label_map = {n: c for n, c in model.categories.items() if n in labelled.class_names} | mapping
            if gsd_m is None:
                gsd_m = model.gsd_m
        else:
            detector = get_detector(detector_name, **config)
            label_map = mapping
        report = evaluate_detector(detector, labelled, class_map=label_map, iou_threshold=iou_threshold,
                                   gsd_m=gsd_m or 1.0, per_image=per_image,
                                   note=lambda line: click.echo(f"warning: {line}", err=True))
    except PatrolError as err:
        raise click.ClickException(str(err)) from err
    if model_path is not None:
        report["model"] = str(model_path)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    click.echo(f"{report['detector']} on {report['images']} images of {report['data']} "
               f"(IoU >= {iou_threshold:g}, GSD {report['gsd_m']:g} m/px)")
    for label, s in list(report["categories"].items()) + [("overall", report["overall"])]:
        click.echo(f"  {label:<20} P {s['precision']:.3f}  R {s['recall']:.3f}  F1 {s['f1']:.3f}  "
                   f"(TP {s['tp']}, FP {s['fp']}, FN {s['fn']})")
