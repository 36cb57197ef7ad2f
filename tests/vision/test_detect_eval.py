"""Detection evaluation: the matching rule, the report, and the `patrol vision` commands."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from patrol.cli import main
from vision.detect_eval import Prediction, evaluate_detector, match_boxes, nadir_view
from vision.detectors import Detection
from vision.images import PhotoImage
from vision.labels import Box, LabelledImage, read_yolo, write_yolo


def test_greedy_by_score_not_by_overlap():
    truths = [("pile", (0, 0, 10, 10))]
    # the better-scored box overlaps less but still >= 0.5: it takes the labelled box
    preds = [Prediction("pile", (0, 0, 10, 10), 0.5), Prediction("pile", (2, 0, 10, 10), 0.9)]
    assert match_boxes(preds, truths) == {"pile": {"tp": 1, "fp": 1, "fn": 0}}
    # below the IoU threshold nothing matches: a false positive and a false negative
    assert match_boxes([Prediction("pile", (5, 5, 10, 10), 0.9)], truths) == {"pile": {"tp": 0, "fp": 1, "fn": 1}}
    # exactly 0.5 counts
    assert match_boxes([Prediction("pile", (0, 0, 10, 20), 0.9)], truths) == {"pile": {"tp": 1, "fp": 0, "fn": 0}}
    # the right place with the wrong category is both a miss and a false alarm
    assert match_boxes([Prediction("shed", (0, 0, 10, 10), 0.9)], truths) == \
        {"pile": {"tp": 0, "fp": 0, "fn": 1}, "shed": {"tp": 0, "fp": 1, "fn": 0}}


def test_each_labelled_box_is_matched_once():
    truths = [("pile", (0, 0, 10, 10)), ("pile", (11, 0, 10, 10))]
    preds = [Prediction("pile", (0, 0, 10, 10), 0.9), Prediction("pile", (1, 0, 10, 10), 0.8),
             Prediction("pile", (11, 0, 10, 10), 0.7)]
    assert match_boxes(preds, truths, iou_threshold=0.5) == {"pile": {"tp": 2, "fp": 1, "fn": 0}}


class _Fixed:
    """A stand-in detector returning fixed boxes (stored pixels) per image name."""

    name = "fixed"

    def __init__(self, boxes):
        self.boxes = boxes

    def detect(self, image, context):
        out = []
        for category, bbox, score in self.boxes.get(image.path.name, []):
            out.append(Detection(category, bbox, score, context.view.footprint_wgs84, 1.0, self.name))
        return out


def _folder(tmp_path: Path) -> Path:
    images = []
    for name, boxes in (("a.png", [Box("pile", 10, 10, 20, 20), Box("car", 50, 50, 10, 20)]),
                        ("b.png", [Box("pile", 30, 30, 20, 10)])):
        path = tmp_path / "src" / name
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), np.full((100, 120, 3), 90, np.uint8))  # generated
        images.append(LabelledImage(path, 120, 100, tuple(boxes)))
    return write_yolo(images, tmp_path / "labelled", ["pile", "car"])


def test_report_counts_and_scores(tmp_path):
    data = read_yolo(_folder(tmp_path))
    detector = _Fixed({"a.png": [("construction_waste", (11, 10, 20, 20), 0.9),
                                 ("construction_waste", (80, 0, 10, 10), 0.4),
                                 ("illegal_parking", (50, 50, 10, 20), 0.8)],
                       "b.png": []})
    report = evaluate_detector(detector, data, class_map={"pile": "construction_waste", "car": "illegal_parking"},
                               gsd_m=0.1, per_image=True)
    assert report["detector"] == "fixed" and report["images"] == 2 and report["iou_threshold"] == 0.5
    waste = report["categories"]["construction_waste"]
    assert (waste["tp"], waste["fp"], waste["fn"]) == (1, 1, 1)
    assert waste["precision"] == 0.5 and waste["recall"] == 0.5 and waste["f1"] == 0.5
    assert report["categories"]["illegal_parking"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                                        "tp": 1, "fp": 0, "fn": 0}
    assert report["overall"]["tp"] == 2 and report["overall"]["fp"] == 1 and report["overall"]["fn"] == 1
    assert [r["image"] for r in report["per_image"]] == ["a.png", "b.png"]
    # dropping a class removes its labels from the reckoning
    dropped = evaluate_detector(detector, data, class_map={"pile": "construction_waste", "car": "-"})
    assert "illegal_parking" in dropped["categories"] and dropped["categories"]["illegal_parking"]["fp"] == 1


def test_nadir_view_scale():
    image = PhotoImage(np.zeros((100, 200, 3), np.uint8), 400, 200, Path("x.png"))
    view = nadir_view(image, 0.05)
    assert view.gsd_m_work() == pytest.approx(0.1)  # working pixels are half-size
    from patrol.geodesy import LocalProjection
    area = LocalProjection.for_geometry(view.footprint_wgs84).project(view.footprint_wgs84).area
    assert area == pytest.approx(400 * 200 * 0.05 ** 2, rel=5e-3)  # UTM scale error at lon 0 (zone edge) ~0.2%


def _onnx_model(path: Path, rows: np.ndarray) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    out = rows[None].astype(np.float32)
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(out.shape))
    nodes = [helper.make_node("GlobalAveragePool", ["images"], ["g"]),
             helper.make_node("Conv", ["g", "w", "b"], ["c"]),
             helper.make_node("Reshape", ["c", "shape"], ["r"]),
             helper.make_node("Add", ["r", "const"], ["output0"])]
    inits = [numpy_helper.from_array(np.zeros((1, 3, 1, 1), np.float32), "w"),
             numpy_helper.from_array(np.zeros(1, np.float32), "b"),
             numpy_helper.from_array(np.ones(3, np.int64), "shape"), numpy_helper.from_array(out, "const")]
    model = helper.make_model(helper.make_graph(nodes, "fixed", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_cli_eval_detect_with_an_onnx_model(tmp_path):
    folder = _folder(tmp_path)
    # generated model: one pile box at a.png's labelled pile (120 x 100 image -> ratio 640/120,
    # 26.67 px of grey above): centre (20, 20) image px -> (106.67, 133.33) input px, 20 px -> 106.67
    r, pad = 640 / 120, (640 - 100 * 640 / 120) / 2
    rows = np.array([[20 * r, 20 * r + pad, 20 * r, 20 * r, 0.9, 0.95, 0.01]])
    model = _onnx_model(tmp_path / "fixed.onnx", rows)
    result = CliRunner().invoke(main, ["vision", "eval", "detect", str(folder), "--model", str(model), "--json",
                                       "--categories", "pile=construction_waste,car=-"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["detector"] == "onnx"
    # the same box is found on both images (the model ignores its input): a.png TP, b.png FP (b's pile
    # is elsewhere: FN)
    assert report["categories"]["construction_waste"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                                           "tp": 1, "fp": 1, "fn": 1}
    only_a = CliRunner().invoke(main, ["vision", "eval", "detect", str(folder), "--model", str(model), "--json",
                                       "--categories", "pile=construction_waste,car=-", "--images", "a.*"])
    assert json.loads(only_a.output)["overall"]["f1"] == 1.0

