"""Learned tiles on real imagery: boxes derived from LEVIR-CD, a two-fold split by image.

**Data** (derived, generated on each run, never stored in the repository: LEVIR-CD is not
redistributable): ``../shared/data/change_detection/levir_cd_samples`` has 256 x 256 px
Google Earth after-images ``B/`` (0.5 m/px) and ``label/`` masks of the buildings that were
built between the two dates. :func:`vision.labels.derive_yolo_from_masks` turns each mask's
8-connected components (>= 20 px) into YOLO boxes of class ``building`` on ``B/``, mapped to
the category ``illegal_structure`` (new structures). An image whose mask is empty is left
out (``train_386_0512_0768``: its buildings were all there before, an empty change mask
says nothing about where buildings are). ``test_113_0256`` has no mask. That leaves 10
images, 104 boxes.

**Split**: by image, alternating in sorted file-name order: fold 1 trains on names 1, 3,
5, ... and tests on 2, 4, 6, ...; fold 2 the other way round. Every image is tested once,
by a model that never saw it; the totals sum both folds' counts.

The ``tiles`` detector's defaults ``threshold`` (0.7) and ``core`` (1 tile) were chosen on
fold 1 (a sweep with the boost model); fold 2 is the figure nothing was tuned on.

**What is measured**, per fold and in total, for ``svm`` and ``boost`` models (8 m tiles,
defaults of :func:`vision.training.train_tile_classifier` and of the ``tiles`` detector):
tile balanced accuracy on the held-out images (chance 0.5), and ``patrol vision eval
detect``'s box precision / recall / F1 (IoU >= 0.5, greedy by score), also at IoU >= 0.3.
The ``colour`` detector (hand-made rules; its blue-roof rule also reports
``illegal_structure``) runs on the same images as a reference. Training and detection
times are wall-clock on a shared 2-core machine (upper bounds).

Caveat: LEVIR-CD marks only *new* buildings. Buildings already standing in ``A/`` are in
``B/`` unlabelled: in training they can be drawn as negative tiles, in evaluation a box on
one counts as a false positive. Precision here is therefore a lower bound.

Run: ``.venv/bin/python benchmarks/vision_learned.py [--keep DIR] [--models svm,boost]``;
prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vision.detect_eval import evaluate_detector  # noqa: E402
from vision.detectors import get_detector  # noqa: E402
from vision.labels import derive_yolo_from_masks  # noqa: E402
from vision.training import evaluate_tiles, train_tile_classifier  # noqa: E402

LEVIR = REPO.parent / "shared" / "data" / "change_detection" / "levir_cd_samples"
CLASS_MAP = {"building": "illegal_structure"}
GSD_M = 0.5
TILE_M = 8.0


def _sum(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0) + b.get(k, 0) for k in ("tp", "fp", "fn")}


def _prf(c: dict) -> dict:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), **c}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="Write the derived YOLO set and models here.")
    parser.add_argument("--models", default="svm,boost")
    args = parser.parse_args()
    if not LEVIR.is_dir():
        sys.exit(f"{LEVIR} is absent: the LEVIR-CD samples live only in ../shared/data")
    work = args.keep or Path(tempfile.mkdtemp(prefix="vision_learned_"))
    data = derive_yolo_from_masks(LEVIR / "B", LEVIR / "label", work / "derived_levir_buildings_yolo",
                                  class_name="building", min_area_px=20, skip_empty=True)
    names = sorted(im.path.name for im in data.images)
    folds = [(names[0::2], names[1::2]), (names[1::2], names[0::2])]
    out: dict = {"data": {"images": len(names), "boxes": data.n_boxes, "gsd_m": GSD_M, "tile_m": TILE_M,
                          "folds": [{"train": tr, "test": te} for tr, te in folds]}, "models": {}}
    for kind in [k.strip() for k in args.models.split(",") if k.strip()]:
        rows = []
        tot = {"iou_0.5": {"tp": 0, "fp": 0, "fn": 0}, "iou_0.3": {"tp": 0, "fp": 0, "fn": 0}}
        tiles_tot = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        for k, (train_names, test_names) in enumerate(folds, start=1):
            train = data.subset(lambda im: im.path.name in train_names)
            test = data.subset(lambda im: im.path.name in test_names)
            t0 = time.perf_counter()
            model = train_tile_classifier(train, class_map=CLASS_MAP, kind=kind, tile_m=TILE_M, gsd_m=GSD_M)
            t_train = time.perf_counter() - t0
            model.save(work / f"{kind}_fold{k}")
            tiles = evaluate_tiles(model, test)["building"]
            for key in tiles_tot:
                tiles_tot[key] += tiles[key]
            det = get_detector("tiles", model=model)
            t0 = time.perf_counter()
            r5 = evaluate_detector(det, test, class_map=CLASS_MAP, gsd_m=GSD_M)
            t_det = (time.perf_counter() - t0) / max(len(test.images), 1)
            r3 = evaluate_detector(det, test, class_map=CLASS_MAP, gsd_m=GSD_M, iou_threshold=0.3)
            c5, c3 = r5["categories"]["illegal_structure"], r3["categories"]["illegal_structure"]
            tot["iou_0.5"] = _sum(tot["iou_0.5"], c5)
            tot["iou_0.3"] = _sum(tot["iou_0.3"], c3)
            rows.append({"fold": k, "train_tiles": model.training["tiles"], "train_s": round(t_train, 1),
                         "detect_s_per_image": round(t_det, 2), "tiles_balanced_accuracy": tiles["balanced_accuracy"],
                         "tiles": tiles, "iou_0.5": c5, "iou_0.3": c3})
        tpr = tiles_tot["tp"] / max(tiles_tot["tp"] + tiles_tot["fn"], 1)
        tnr = tiles_tot["tn"] / max(tiles_tot["tn"] + tiles_tot["fp"], 1)
        out["models"][kind] = {"folds": rows, "total": {"tiles_balanced_accuracy": round((tpr + tnr) / 2, 4),
                                                        "iou_0.5": _prf(tot["iou_0.5"]),
                                                        "iou_0.3": _prf(tot["iou_0.3"])}}
    colour = get_detector("colour")
    r = evaluate_detector(colour, data, class_map=CLASS_MAP, gsd_m=GSD_M)
    out["reference_colour_detector"] = {"iou_0.5": r["categories"]["illegal_structure"]}
    out["work_dir"] = str(work)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
