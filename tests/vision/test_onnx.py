"""The ``onnx`` detector on tiny ONNX models built here with the ``onnx`` package.

The models (generated, never stored) ignore most of their input and emit a chosen tensor,
so that decoding, non-maximum suppression and the letterbox mapping are checked against
known numbers; one model's score is the mean of an input channel, which checks the
pre-processing (grey 114 border, 1/255 scaling, BGR -> RGB). Built at opset 13 and 17:
OpenCV 5.0's importer loads both.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from flight_logs.models import Photo  # noqa: E402
from vision.detectors import DetectionContext, PhotoView, get_detector  # noqa: E402
from vision.detectors.onnx import Letterbox, decode_yolo, letterbox, unletterbox  # noqa: E402
from vision.errors import DetectorError  # noqa: E402
from vision.georef import CameraIntrinsics, CameraPose, footprint  # noqa: E402
from vision.images import PhotoImage  # noqa: E402

SIZE = 640
NAMES = ["garbage", "shed"]
CLASS_MAP = {"garbage": "exposed_garbage", "shed": "illegal_structure"}

#: YOLOv5 rows: cx cy w h objectness p(garbage) p(shed), network-input pixels.
V5_ROWS = np.array([
    [320, 240, 64, 32, 0.9, 0.9, 0.1],    # A: garbage 0.81
    [324, 242, 64, 32, 0.8, 0.9, 0.05],   # overlaps A (IoU ~0.8), garbage 0.72: suppressed
    [320, 240, 64, 32, 0.9, 0.1, 0.8],    # A's place, shed 0.72: kept (NMS is per class)
    [100, 400, 40, 40, 0.5, 0.6, 0.1],    # garbage 0.30: kept
    [500, 300, 50, 50, 0.2, 0.9, 0.0],    # garbage 0.18: below the 0.25 threshold
], np.float32)


def _constant_model(path: Path, output: np.ndarray, *, opset: int = 17, size: int = SIZE) -> Path:
    """Generated ONNX: output = Conv(GlobalAveragePool(images); zero weights) + constant."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))
    nodes = [helper.make_node("GlobalAveragePool", ["images"], ["g"]),
             helper.make_node("Conv", ["g", "w", "b"], ["c"]),
             helper.make_node("Reshape", ["c", "shape"], ["r"]),
             helper.make_node("Add", ["r", "const"], ["output0"])]
    inits = [numpy_helper.from_array(np.zeros((1, 3, 1, 1), np.float32), "w"),
             numpy_helper.from_array(np.zeros(1, np.float32), "b"),
             numpy_helper.from_array(np.ones(output.ndim, np.int64), "shape"),
             numpy_helper.from_array(output.astype(np.float32), "const")]
    return _save(path, helper.make_graph(nodes, "constant_yolo", [x], [y], inits), opset)


def _channel_mean_model(path: Path, channel: int, box: tuple[float, float, float, float]) -> Path:
    """Generated ONNX, YOLOv8 layout (1, 5, 1): a fixed box whose one class score is the mean
    of input channel ``channel`` (0 = R after the BGR -> RGB swap)."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 5, 1])
    weights = np.zeros((1, 3, 1, 1), np.float32)
    weights[0, channel] = 1.0
    nodes = [helper.make_node("GlobalAveragePool", ["images"], ["g"]),
             helper.make_node("Conv", ["g", "w", "b"], ["c"]),
             helper.make_node("Reshape", ["c", "shape"], ["score"]),
             helper.make_node("Concat", ["box", "score"], ["output0"], axis=1)]
    inits = [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.zeros(1, np.float32), "b"),
             numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape"),
             numpy_helper.from_array(np.array(box, np.float32).reshape(1, 4, 1), "box")]
    return _save(path, helper.make_graph(nodes, "channel_mean", [x], [y], inits), 17)


def _save(path: Path, graph, opset: int) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="drone-patrol tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _view(pixels: np.ndarray) -> PhotoView:
    """A nadir photo 1000 x 500 px at 2 cm/px (stored = working size)."""
    h, w = pixels.shape[:2]
    cam = CameraIntrinsics(10.0, 10.0, 10.0 * h / w, w, h)
    pose = CameraPose(30.7, 121.0, 0.02 * cam.fx_px)
    photo = Photo(id=1, original_name="generated.jpg", taken_utc=dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc))
    return PhotoView(photo, PhotoImage(pixels, w, h, Path("generated.jpg")), pose, cam, footprint(pose, cam))


def _detect(detector, pixels):
    view = _view(pixels)
    return detector.detect(view.image, DetectionContext(view))


@pytest.mark.parametrize("opset", [13, 17])
def test_v5_boxes_land_where_the_output_says_and_nms_suppresses(tmp_path, opset):
    model = _constant_model(tmp_path / "v5.onnx", V5_ROWS[None], opset=opset)
    det = get_detector("onnx", model=model, names=NAMES, class_map=CLASS_MAP)
    found = _detect(det, np.zeros((500, 1000, 3), np.uint8))
    got = sorted((d.category, round(d.score, 3), tuple(round(v, 1) for v in d.bbox_px)) for d in found)
    # letterbox of 1000 x 500 into 640: ratio 0.64, 160 px grey above; x = (cx - w/2) / 0.64,
    # y = (cy - h/2 - 160) / 0.64
    assert got == [
        ("exposed_garbage", 0.3, (125.0, 343.8, 62.5, 62.5)),
        ("exposed_garbage", 0.81, (450.0, 100.0, 100.0, 50.0)),
        ("illegal_structure", 0.72, (450.0, 100.0, 100.0, 50.0)),
    ]
    garbage = max(found, key=lambda d: d.score)
    assert garbage.area_m2 == pytest.approx(100 * 50 * 0.02 ** 2, rel=0.05)  # 2 m x 1 m at 2 cm/px
    assert garbage.details["class"] == "garbage" and garbage.detector == "onnx"


def test_v8_layout_without_objectness(tmp_path):
    rows = V5_ROWS[:, [0, 1, 2, 3, 5, 6]].copy()  # cx cy w h p(garbage) p(shed)
    model = _constant_model(tmp_path / "v8.onnx", rows.T[None])  # (1, 4 + nc, N)
    det = get_detector("onnx", model=model, names=NAMES, class_map=CLASS_MAP, conf_threshold=0.5)
    found = _detect(det, np.zeros((500, 1000, 3), np.uint8))
    # garbage: A (0.9) and its overlapping neighbour (0.9): one is kept; row 3 0.6; row 4 0.9
    # (no objectness to lower it now); shed: row 2 0.8
    by_cat = {}
    for d in found:
        by_cat.setdefault(d.category, []).append(round(d.score, 2))
    assert sorted(by_cat["exposed_garbage"]) == [0.6, 0.9, 0.9]
    assert by_cat["illegal_structure"] == [0.8]


def test_decode_both_orientations_and_nms_threshold():
    out = V5_ROWS[None]
    plain = decode_yolo(out, 2)
    assert [(b.class_id, round(b.score, 2)) for b in plain] == [(0, 0.81), (1, 0.72), (0, 0.3)]
    assert plain[0].xywh == (288.0, 224.0, 64.0, 32.0)
    transposed = decode_yolo(out[0].T[None], 2, layout="auto")
    assert [(b.class_id, round(b.score, 2)) for b in transposed] == [(0, 0.81), (1, 0.72), (0, 0.3)]
    # with an IoU limit above the pair's overlap (~0.79), both garbage boxes survive
    loose = decode_yolo(out, 2, nms_iou=0.9)
    assert sorted((b.class_id, round(b.score, 2)) for b in loose) == [(0, 0.3), (0, 0.72), (0, 0.81), (1, 0.72)]
    with pytest.raises(DetectorError, match="fits neither"):
        decode_yolo(np.zeros((1, 9, 9), np.float32), 2)


def test_letterbox_maps_back_for_tall_images():
    img, lb = letterbox(np.zeros((1000, 400, 3), np.uint8), 640)
    assert lb == Letterbox(0.64, 192.0, 0.0, 640)
    assert (img[:, :192] == 114).all() and (img[:, 192:448] == 0).all() and (img[:, 448:] == 114).all()
    back = unletterbox(np.array([[192.0 + 64, 320.0, 32.0, 64.0]]), lb, 400, 1000)
    assert back.tolist() == [[100.0, 500.0, 50.0, 100.0]]
    # a box reaching into the grey border is clipped to the image
    clipped = unletterbox(np.array([[150.0, -10.0, 100.0, 50.0]]), lb, 400, 1000)
    assert clipped.tolist() == [[0.0, 0.0, pytest.approx(90.625), pytest.approx(62.5)]]


@pytest.mark.parametrize("bgr, expected", [((0, 0, 255), 0.5 + 0.5 * 114 / 255),   # red fills the R channel
                                            ((255, 0, 0), 0.5 * 114 / 255)])       # blue leaves it empty
def test_preprocessing_grey_border_scale_and_rgb(tmp_path, bgr, expected):
    model = _channel_mean_model(tmp_path / "mean.onnx", 0, (320, 320, 64, 64))
    det = get_detector("onnx", model=model, names=["shed"], class_map={"shed": "illegal_structure"},
                       conf_threshold=0.05)
    pixels = np.zeros((500, 1000, 3), np.uint8)
    pixels[:] = bgr
    found = _detect(det, pixels)
    assert len(found) == 1
    assert found[0].score == pytest.approx(expected, abs=0.01)


def test_class_map_rules(tmp_path):
    model = _constant_model(tmp_path / "v5.onnx", V5_ROWS[None])
    only_sheds = get_detector("onnx", model=model, names=NAMES, class_map={"shed": "illegal_structure"})
    assert only_sheds.ignored_classes == ["garbage"]
    assert [d.category for d in _detect(only_sheds, np.zeros((500, 1000, 3), np.uint8))] == ["illegal_structure"]
    off = get_detector("onnx", model=model, names=NAMES, class_map=CLASS_MAP,
                       categories={"exposed_garbage": {"enabled": False}})
    assert {d.category for d in _detect(off, np.zeros((500, 1000, 3), np.uint8))} == {"illegal_structure"}
    with pytest.raises(DetectorError, match="unknown categories"):
        get_detector("onnx", model=model, names=NAMES, class_map={"shed": "sheds"})
    with pytest.raises(DetectorError, match="does not have"):
        get_detector("onnx", model=model, names=NAMES, class_map={"car": "illegal_parking"})
    with pytest.raises(DetectorError, match="no class maps"):
        get_detector("onnx", model=model, names=NAMES)
    with pytest.raises(DetectorError, match="not found"):
        get_detector("onnx", model=tmp_path / "missing.onnx", names=NAMES, class_map=CLASS_MAP)
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="could not load"):
        get_detector("onnx", model=tmp_path / "broken.onnx", names=NAMES, class_map=CLASS_MAP)


def test_names_from_data_yaml(tmp_path):
    model = _constant_model(tmp_path / "v5.onnx", V5_ROWS[None])
    (tmp_path / "data.yaml").write_text("names:\n  0: garbage\n  1: shed\n")
    det = get_detector("onnx", model=model, names=tmp_path / "data.yaml", class_map=CLASS_MAP)
    assert det.class_names == NAMES


def test_names_from_the_model_metadata(tmp_path):
    model = _constant_model(tmp_path / "v5.onnx", V5_ROWS[None])
    proto = onnx.load(str(model))
    onnx.helper.set_model_props(proto, {"names": "{0: 'garbage', 1: 'shed'}", "stride": "32"})
    onnx.save(proto, str(model))
    det = get_detector("onnx", model=model, class_map=CLASS_MAP)
    assert det.class_names == NAMES
    bare = _constant_model(tmp_path / "bare.onnx", V5_ROWS[None])
    with pytest.raises(DetectorError, match="bare.onnx: the model's metadata has no class names"):
        get_detector("onnx", model=bare, class_map=CLASS_MAP)
