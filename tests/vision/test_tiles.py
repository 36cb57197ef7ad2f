"""Tile classifier training and the ``tiles`` detector: generated scenes and derived LEVIR-CD boxes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from patrol.cli import main
from vision.detect_eval import evaluate_detector, nadir_view
from vision.detectors import DetectionContext, get_detector
from vision.errors import DetectorError
from vision.images import PhotoImage
from vision.labels import Box, LabelError, LabelledImage, LabelledSet, derive_yolo_from_masks, read_yolo, write_yolo
from vision.training import TileModel, TrainingError, evaluate_tiles, tile_features, train_tile_classifier

GSD_M = 0.25  # generated scenes: 4 px per metre


def _scene(seed: int, n_roofs: int = 4) -> tuple[np.ndarray, list[Box]]:
    """Generated: blurred green-brown ground noise with grey gabled roofs (8-12 m, ridge line,
    shadow on one side), the kind of texture and colour a tile classifier should tell apart."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (256, 256, 3))
    ground = cv2.GaussianBlur(noise, (0, 0), 3) * 60 + np.array([60, 110, 95])
    img = np.clip(ground + rng.normal(0, 6, ground.shape), 0, 255).astype(np.uint8)
    boxes: list[Box] = []
    tries = 0
    while len(boxes) < n_roofs and tries < 200:
        tries += 1
        w, h = (int(v) for v in rng.integers(32, 49, 2))
        x, y = (int(v) for v in rng.integers(4, 256 - 52, 2))
        if any(x < b.x_px + b.w_px + 8 and b.x_px < x + w + 8 and y < b.y_px + b.h_px + 8 and b.y_px < y + h + 8
               for b in boxes):
            continue
        tone = int(rng.integers(120, 170))
        img[y:y + h, x:x + w] = (tone, tone, tone + 5)
        img[y:y + h // 2, x:x + w] = (tone + 25, tone + 25, tone + 30)          # sunlit slope
        img[y + h // 2 - 1:y + h // 2 + 1, x:x + w] = (70, 70, 75)               # ridge
        img[y + h:min(y + h + 4, 256), x + 3:x + w] = (40, 50, 45)              # shadow
        boxes.append(Box("roof", float(x), float(y), float(w), float(h)))
    return img, boxes


def _generated_set(folder: Path, seeds) -> Path:
    images = []
    (folder / "src").mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        img, boxes = _scene(seed)
        path = folder / "src" / f"generated_{seed}.png"
        cv2.imwrite(str(path), img)
        images.append(LabelledImage(path, 256, 256, tuple(boxes)))
    return write_yolo(images, folder / "yolo", ["roof"], note="generated scenes (tests/vision/test_tiles.py)")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiles")
    train = read_yolo(_generated_set(base / "train", range(6)))
    test = read_yolo(_generated_set(base / "test", range(100, 103)))
    model = train_tile_classifier(train, class_map={"roof": "illegal_structure"}, kind="boost", tile_m=4.0,
                                  gsd_m=GSD_M, boost_weak_count=40)
    return {"base": base, "train": train, "test": test, "model": model}


def test_features_shape_and_locality():
    img, _ = _scene(1)
    pos = np.array([[0, 0], [64, 32], [224, 224]])
    f = tile_features(img, pos)
    assert f.shape == (3, 366) and np.isfinite(f).all()
    # a tile's features depend on its own pixels: changing another region leaves them alone
    other = img.copy()
    other[150:, :100] = 0
    assert np.allclose(tile_features(other, pos), f)
    other[230:240, 230:240] = 0  # inside the third tile
    changed = tile_features(other, pos)
    assert np.allclose(changed[:2], f[:2]) and not np.allclose(changed[2], f[2])


def test_generated_roofs_are_found(generated):
    tiles = evaluate_tiles(generated["model"], generated["test"])["roof"]
    assert tiles["balanced_accuracy"] > 0.9
    det = get_detector("tiles", model=generated["model"])
    report = evaluate_detector(det, generated["test"], class_map={"roof": "illegal_structure"}, gsd_m=GSD_M)
    s = report["categories"]["illegal_structure"]
    assert s["tp"] + s["fn"] == generated["test"].n_boxes
    assert s["recall"] >= 0.75 and s["precision"] >= 0.6


def test_detections_are_georeferenced_and_configurable(generated):
    im = generated["test"].images[0]
    image = PhotoImage(cv2.imread(str(im.path)), 256, 256, im.path)
    view = nadir_view(image, GSD_M)
    found = get_detector("tiles", model=generated["model"]).detect(image, DetectionContext(view))
    assert found and all(d.category == "illegal_structure" and d.detector == "tiles" for d in found)
    best = found[0]
    x, y, w, h = best.bbox_px
    assert 0.3 * w * h * GSD_M ** 2 < best.area_m2 < 1.5 * w * h * GSD_M ** 2
    off = get_detector("tiles", model=generated["model"], categories={"illegal_structure": {"enabled": False}})
    assert off.detect(image, DetectionContext(view)) == []
    big = get_detector("tiles", model=generated["model"], categories={"illegal_structure": {"min_area_m2": 1e4}})
    assert big.detect(image, DetectionContext(view)) == []
    # the tile follows the ground: at half the GSD the same photo's roofs are half the size in metres
    half = nadir_view(image, GSD_M / 2)
    det = get_detector("tiles", model=generated["model"])
    assert det.tile_work_px(half) == pytest.approx(2 * det.tile_work_px(view))
    with pytest.raises(DetectorError, match="stride"):
        get_detector("tiles", model=generated["model"], stride=2.0)


def test_save_and_load_round_trip(generated, tmp_path):
    model = generated["model"]
    written = model.save(tmp_path / "roofs.json")
    assert [p.name for p in written] == ["roofs.json", "roofs.0.yml"]
    sidecar = json.loads(written[0].read_text())
    assert sidecar["classes"][0]["name"] == "roof" and sidecar["classes"][0]["category"] == "illegal_structure"
    assert sidecar["tile_m"] == 4.0 and sidecar["gsd_m"] == GSD_M and sidecar["tile_px"] == 16.0
    loaded = TileModel.load(tmp_path / "roofs")
    img, _ = _scene(7)
    x = tile_features(img, np.array([[0, 0], [32, 64], [128, 128]]))
    assert np.allclose(loaded.probabilities(x), model.probabilities(x))
    (tmp_path / "roofs.0.yml").unlink()
    with pytest.raises(DetectorError, match="roofs.0.yml is missing"):
        TileModel.load(written[0])
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(DetectorError, match="not a drone-patrol tile classifier"):
        TileModel.load(tmp_path / "other.json")


def test_training_errors(generated):
    train = generated["train"]
    with pytest.raises(LabelError, match="classes with no category: roof"):
        train_tile_classifier(train, tile_px=16)
    with pytest.raises(TrainingError, match="needs the training images' ground sample distance"):
        train_tile_classifier(train, class_map={"roof": "illegal_structure"}, tile_m=4.0)
    with pytest.raises(TrainingError, match="either in pixels"):
        train_tile_classifier(train, class_map={"roof": "illegal_structure"})
    with pytest.raises(TrainingError, match="'svm' or 'boost'"):
        train_tile_classifier(train, class_map={"roof": "illegal_structure"}, tile_px=16, kind="forest")
    no_boxes = LabelledSet(train.root, "yolo", ("roof",), [replace(im, boxes=()) for im in train.images])
    with pytest.raises(TrainingError, match="no positive tiles for roof"):
        train_tile_classifier(no_boxes, class_map={"roof": "illegal_structure"}, tile_px=16)
    with pytest.raises(TrainingError, match="no negative tiles"):
        train_tile_classifier(train, class_map={"roof": "illegal_structure"}, tile_px=200)
    with pytest.raises(TrainingError, match="no usable labelled images"):
        train_tile_classifier(train.subset(lambda im: False), class_map={"roof": "illegal_structure"}, tile_px=16)


def test_svm_model_trains_too(generated):
    model = train_tile_classifier(generated["train"], class_map={"roof": "illegal_structure"}, kind="svm",
                                  tile_px=16, max_pos_per_class=300)
    assert evaluate_tiles(model, generated["test"])["roof"]["balanced_accuracy"] > 0.85


def test_cli_train_then_eval_and_errors(tmp_path):
    train_dir = _generated_set(tmp_path / "train", range(3))
    test_dir = _generated_set(tmp_path / "test", range(100, 102))
    runner = CliRunner()
    out = tmp_path / "models" / "roofs"
    result = runner.invoke(main, ["vision", "train", str(train_dir), "--out", str(out), "--model", "boost",
                                  "--tile-m", "4", "--gsd-m", "0.25", "--categories", "roof=illegal_structure"])
    assert result.exit_code == 0, result.output
    assert "roof -> illegal_structure" in result.output
    assert (tmp_path / "models" / "roofs.json").is_file() and (tmp_path / "models" / "roofs.0.yml").is_file()
    result = runner.invoke(main, ["vision", "eval", "detect", str(test_dir), "--model", str(out) + ".json", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["detector"] == "tiles" and report["gsd_m"] == 0.25
    assert report["categories"]["illegal_structure"]["recall"] >= 0.5
    # unknown class names are named
    bad = runner.invoke(main, ["vision", "train", str(train_dir), "--out", str(out), "--tile-px", "16"])
    assert bad.exit_code != 0 and "classes with no category: roof" in bad.output
    both = runner.invoke(main, ["vision", "eval", "detect", str(test_dir), "--json"])
    assert both.exit_code != 0 and "exactly one of --model and --detector" in both.output
    # a malformed label line is reported, the rest evaluated
    label = next((test_dir / "labels").glob("*.txt"))
    label.write_text("0 0.5 0.5\n")
    result = runner.invoke(main, ["vision", "eval", "detect", str(test_dir), "--model", str(out) + ".json", "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["images"] == 1 and any(f"{label}:1:" in p for p in report["skipped"])


# ---------------------------------------------------------------- real data (derived LEVIR-CD boxes)


def test_levir_buildings_beat_chance_on_held_out_images(shared_data, tmp_path):
    """Real imagery: boxes derived from LEVIR-CD's new-building masks (0.5 m/px). Trained on
    LEVIR's own train/val images, tested on its test images. LEVIR labels only *new*
    buildings, so standing ones are unlabelled: they are drawn as negatives and count as
    false here, which keeps figures low; chance is 0.5 balanced accuracy, and a detector
    that knows nothing covers labelled pixels in proportion to their share of the images."""
    src = shared_data / "change_detection" / "levir_cd_samples"
    data = derive_yolo_from_masks(src / "B", src / "label", tmp_path / "derived_levir", class_name="building",
                                  skip_empty=True)
    train = data.subset(lambda im: not im.path.name.startswith("test_"))
    test = data.subset(lambda im: im.path.name.startswith("test_"))
    model = train_tile_classifier(train, class_map={"building": "illegal_structure"}, kind="boost", tile_m=8.0,
                                  gsd_m=0.5, max_pos_per_class=1500, boost_weak_count=50)
    tiles = evaluate_tiles(model, test)["building"]
    assert tiles["balanced_accuracy"] > 0.57, tiles  # measured 0.61
    det = get_detector("tiles", model=model)
    hit = flagged = labelled = total = 0
    for im in test.images:
        image = PhotoImage(cv2.imread(str(im.path)), im.width_px, im.height_px, im.path)
        found = det.detect(image, DetectionContext(nadir_view(image, 0.5)))
        d = np.zeros((im.height_px, im.width_px), bool)
        for f in found:
            x, y, w, h = (int(round(v)) for v in f.bbox_px)
            d[y:y + h, x:x + w] = True
        truth = cv2.imread(str(src / "label" / im.path.name), cv2.IMREAD_GRAYSCALE) > 0
        hit += int((d & truth).sum())
        flagged += int(d.sum())
        labelled += int(truth.sum())
        total += truth.size
    prior = labelled / total
    assert flagged > 0 and hit / flagged > 1.5 * prior, (hit / flagged, prior)  # measured 0.38 vs 0.18
