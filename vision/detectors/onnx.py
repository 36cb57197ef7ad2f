"""A user's own YOLO-format object detector, exported to ONNX, run through ``cv2.dnn``.

Pre-processing (:func:`letterbox`) as Ultralytics does it: the working image is scaled by
``r = min(S / h, S / w)`` to fit the square network input ``S`` (default 640), centred, the
border filled with grey 114; pixels are scaled to 0-1 and BGR is swapped to RGB
(``cv2.dnn.blobFromImage``).

Output layouts (:func:`decode_yolo`), one image, boxes as centre x, centre y, width, height in
network-input pixels:

* **YOLOv5** (and v7): ``(1, N, 5 + nc)`` rows ``cx cy w h objectness class_1..class_nc``;
  a box's score is objectness x its best class score.
* **YOLOv8** (and v11): ``(1, 4 + nc, N)`` columns ``cx cy w h class_1..class_nc``, no
  objectness; the score is the best class score.

``layout="auto"`` tells them apart by the number of classes: a dimension of ``5 + nc``
is v5, of ``4 + nc`` is v8 (either orientation). Boxes scoring below ``conf_threshold``
are dropped, then per class non-maximum suppression (``cv2.dnn.NMSBoxesBatched``, IoU
above ``nms_iou`` suppresses the lower score), then boxes are mapped back through the
letterbox (:func:`unletterbox`) to working pixels, clipped to the image, and to stored
pixels and the ground by :func:`~vision.detectors.base.detection_from_contour`.

Class names -> categories: the model's class names come from ``names`` (a list, or a
``data.yaml`` / ``classes.txt`` file) or, without it, from the model's own metadata (the
``names`` entry of ``metadata_props``, a dict ``{0: 'person', ...}`` that Ultralytics writes
on export, read with the ``onnx`` package); ``class_map`` maps them to project categories
(a class named like a category maps to it). Classes left unmapped are ignored - a
general-purpose model knows many things (people, dogs) that are no city-management
problem - and listed in :attr:`OnnxDetector.ignored_classes`.

OpenCV 5.0's ONNX importer reads opsets 11-17 in our tests (Conv, Reshape, Add, Mul,
Transpose, GlobalAveragePool, Concat, Sigmoid); Ultralytics' default export (opset 17 for
recent versions) is within that range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.detectors.base import (CATEGORIES, CategoryConfig, Detection, DetectionContext, PhotoView,
                                   detection_from_contour, merge_category_config, register)
from vision.errors import DetectorError, GeoreferenceError
from vision.images import PhotoImage

__all__ = ["Letterbox", "OnnxDetector", "RawBox", "decode_yolo", "letterbox", "unletterbox"]


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the square network input.

    Parameters
    ----------
    ratio : float
        Network-input pixels per image pixel.
    pad_x, pad_y : float
        Border added on the left and top, network-input pixels.
    size : int
        Network input side, pixels.
    """

    ratio: float
    pad_x: float
    pad_y: float
    size: int


def letterbox(bgr: np.ndarray, size: int = 640, fill: int = 114) -> tuple[np.ndarray, Letterbox]:
    """Scale an image to fit a ``size`` square keeping its aspect, centred on grey ``fill``.

    Returns
    -------
    ndarray (size, size, 3) uint8, Letterbox

    >>> img, lb = letterbox(np.zeros((500, 1000, 3), np.uint8), 640)
    >>> lb, img.shape, int(img[0, 0, 0]), int(img[320, 320, 0])
    (Letterbox(ratio=0.64, pad_x=0.0, pad_y=160.0, size=640), (640, 640, 3), 114, 0)
    """
    h, w = bgr.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    resized = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
    pad_x, pad_y = (size - nw) / 2.0, (size - nh) / 2.0
    left, top = int(round(pad_x - 0.1)), int(round(pad_y - 0.1))
    out = cv2.copyMakeBorder(resized, top, size - nh - top, left, size - nw - left, cv2.BORDER_CONSTANT,
                             value=(fill, fill, fill))
    return out, Letterbox(r, float(left), float(top), size)


def unletterbox(xywh: np.ndarray, lb: Letterbox, width: int, height: int) -> np.ndarray:
    """Boxes ``(N, 4)`` x, y, w, h in network-input pixels -> image pixels, clipped to the image.

    >>> unletterbox(np.array([[320.0, 240.0, 64.0, 32.0]]), Letterbox(0.64, 0.0, 160.0, 640), 1000, 500)
    array([[500., 125., 100.,  50.]])
    """
    b = np.asarray(xywh, dtype=float).reshape(-1, 4)
    x0 = np.clip((b[:, 0] - lb.pad_x) / lb.ratio, 0, width)
    y0 = np.clip((b[:, 1] - lb.pad_y) / lb.ratio, 0, height)
    x1 = np.clip((b[:, 0] + b[:, 2] - lb.pad_x) / lb.ratio, 0, width)
    y1 = np.clip((b[:, 1] + b[:, 3] - lb.pad_y) / lb.ratio, 0, height)
    return np.column_stack([x0, y0, x1 - x0, y1 - y0])


@dataclass(frozen=True)
class RawBox:
    """A decoded box before the letterbox is undone.

    Parameters
    ----------
    class_id : int
    score : float
        0-1.
    xywh : tuple of float
        Top-left x, y, width, height in network-input pixels.
    """

    class_id: int
    score: float
    xywh: tuple[float, float, float, float]


def _layout(shape: tuple[int, ...], nc: int, layout: str) -> tuple[str, bool]:
    """(``"v5"`` or ``"v8"``, transposed?) for a 2-D output of ``shape``."""
    a, b = shape
    if layout == "v5":
        return "v5", a == 5 + nc and b != 5 + nc
    if layout == "v8":
        return "v8", not (a == 4 + nc and b != 4 + nc)
    if b == 5 + nc:
        return "v5", False
    if a == 4 + nc:
        return "v8", False
    if b == 4 + nc:
        return "v8", True
    if a == 5 + nc:
        return "v5", True
    raise DetectorError(f"output of shape {shape} fits neither YOLOv5 (N x {5 + nc}) nor YOLOv8 "
                        f"({4 + nc} x N) for {nc} classes; check the class names or give layout")


def decode_yolo(output: np.ndarray, n_classes: int, *, conf_threshold: float = 0.25, nms_iou: float = 0.45,
                layout: str = "auto") -> list[RawBox]:
    """Decode a YOLO output tensor and suppress overlaps (see the module docstring).

    Parameters
    ----------
    output : ndarray (1, A, B) or (A, B)
        The network's output for one image.
    n_classes : int
    conf_threshold : float
        Smallest score kept (0-1).
    nms_iou : float
        Boxes of the same class overlapping a better one by more than this IoU are dropped.
    layout : {"auto", "v5", "v8"}

    Returns
    -------
    list of RawBox
        Best score first.

    Raises
    ------
    DetectorError
        If the output's shape fits neither layout.
    """
    out = np.asarray(output, dtype=np.float32)
    while out.ndim > 2 and out.shape[0] == 1:
        out = out[0]
    if out.ndim != 2:
        raise DetectorError(f"expected one image's output (1, A, B), got shape {np.asarray(output).shape}")
    kind, transposed = _layout(out.shape, n_classes, layout)
    rows = out.T if kind == "v8" and not transposed or kind == "v5" and transposed else out
    if kind == "v5":
        cls = rows[:, 5:5 + n_classes]
        class_id = cls.argmax(axis=1) if n_classes else np.zeros(len(rows), int)
        score = rows[:, 4] * (cls[np.arange(len(rows)), class_id] if n_classes else 1.0)
    else:
        cls = rows[:, 4:4 + n_classes]
        class_id = cls.argmax(axis=1)
        score = cls[np.arange(len(rows)), class_id]
    keep = score >= conf_threshold
    if not keep.any():
        return []
    rows, score, class_id = rows[keep], score[keep], class_id[keep]
    boxes = np.column_stack([rows[:, 0] - rows[:, 2] / 2, rows[:, 1] - rows[:, 3] / 2, rows[:, 2], rows[:, 3]])
    idx = cv2.dnn.NMSBoxesBatched(boxes.tolist(), score.tolist(), class_id.tolist(), conf_threshold, nms_iou)
    idx = sorted(np.asarray(idx, dtype=int).ravel().tolist(), key=lambda i: -score[i])
    return [RawBox(int(class_id[i]), float(np.clip(score[i], 0.0, 1.0)), tuple(float(v) for v in boxes[i]))
            for i in idx]


def _read_names(names: Sequence[str] | str | Path) -> list[str]:
    if isinstance(names, (str, Path)):
        path = Path(names)
        if path.suffix.lower() in (".yaml", ".yml"):
            return _yolo_names_file(path)
        if not path.is_file():
            raise DetectorError(f"{path}: class-names file not found")
        found = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not found:
            raise DetectorError(f"{path}: no class names in it")
        return found
    return [str(n) for n in names]


def _metadata_names(path: Path) -> list[str]:
    """Class names from the model's ``names`` metadata entry (Ultralytics export)."""
    import ast

    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # onnx raises protobuf's DecodeError and others for a damaged file
        raise DetectorError(f"{path}: could not read the model's metadata ({err})") from err
    props = {p.key: p.value for p in model.metadata_props}
    if "names" not in props:
        raise DetectorError(f"{path}: the model's metadata has no class names (Ultralytics exports write "
                            "'names'); give names (a list, data.yaml or classes.txt)")
    try:
        names = ast.literal_eval(props["names"])
    except (ValueError, SyntaxError) as err:
        raise DetectorError(f"{path}: the model's 'names' metadata is not a dict or list ({err})") from err
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names, key=int)]
    if not isinstance(names, (list, tuple)) or not names:
        raise DetectorError(f"{path}: the model's 'names' metadata is empty or not a dict or list")
    return [str(n) for n in names]


def _yolo_names_file(path: Path) -> list[str]:
    import yaml

    if not path.is_file():
        raise DetectorError(f"{path}: class-names file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise DetectorError(f"{path}: invalid YAML ({err})") from err
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names, key=int)]
    if not isinstance(names, list) or not names:
        raise DetectorError(f"{path}: no 'names' list in it")
    return [str(n) for n in names]


@register("onnx")
class OnnxDetector:
    """A YOLO-format ONNX model through ``cv2.dnn`` (see the module docstring).

    Parameters
    ----------
    model : str or Path
        The ``.onnx`` file.
    names : sequence of str, or path to data.yaml / classes.txt
        The model's class names, in output order.
    class_map : mapping, optional
        Class name -> category; classes named like a category map to it; others are ignored.
    categories : mapping, optional
        Per-category :class:`CategoryConfig` overrides (the categories are the mapped ones).
    input_size : int
        Network input side, pixels (default 640).
    conf_threshold, nms_iou : float
        Score threshold and NMS overlap (defaults 0.25, 0.45).
    layout : {"auto", "v5", "v8"}

    Raises
    ------
    DetectorError
        If the model cannot be read, or the class map names unknown classes or categories,
        or maps no class at all.
    """

    name = "onnx"

    def __init__(self, *, model: str | Path, names: Sequence[str] | str | Path | None = None,
                 class_map: Mapping[str, str] | None = None, categories: Mapping[str, Any] | None = None,
                 input_size: int = 640, conf_threshold: float = 0.25, nms_iou: float = 0.45,
                 layout: str = "auto") -> None:
        self.model_path = Path(model)
        if not self.model_path.is_file():
            raise DetectorError(f"{self.model_path}: ONNX model not found")
        try:
            self.net = cv2.dnn.readNetFromONNX(str(self.model_path))
        except cv2.error as err:
            raise DetectorError(f"{self.model_path}: cv2.dnn could not load the model ({err})") from err
        if layout not in ("auto", "v5", "v8"):
            raise DetectorError(f"layout must be auto, v5 or v8, got {layout!r}")
        self.class_names = _read_names(names) if names is not None else _metadata_names(self.model_path)
        mapping = dict(class_map or {})
        stray = sorted(set(mapping) - set(self.class_names))
        if stray:
            raise DetectorError(f"{self.model_path}: class map names classes the model does not have: {stray}")
        bad = sorted(f"{k}={v}" for k, v in mapping.items() if v != "-" and v not in CATEGORIES)
        if bad:
            raise DetectorError(f"{self.model_path}: unknown categories in the class map: {bad}")
        self.class_categories: dict[int, str] = {}
        for i, n in enumerate(self.class_names):
            category = mapping.get(n, n if n in CATEGORIES else None)
            if category and category != "-":
                self.class_categories[i] = category
        if not self.class_categories:
            raise DetectorError(f"{self.model_path}: no class maps to a category (classes: {self.class_names[:10]}"
                                f"{'...' if len(self.class_names) > 10 else ''}); give class_map")
        self.ignored_classes = [n for i, n in enumerate(self.class_names) if i not in self.class_categories]
        defaults = {c: CategoryConfig() for c in self.class_categories.values()}
        self.categories = merge_category_config(defaults, categories, detector=self.name)
        self.input_size = int(input_size)
        self.conf_threshold = float(conf_threshold)
        self.nms_iou = float(nms_iou)
        self.layout = layout

    def raw_boxes(self, pixels: np.ndarray) -> tuple[list[RawBox], Letterbox]:
        """Run the network on BGR pixels: decoded, suppressed boxes in network-input pixels."""
        boxed, lb = letterbox(pixels, self.input_size)
        blob = cv2.dnn.blobFromImage(boxed, 1.0 / 255.0, (self.input_size, self.input_size), swapRB=True, crop=False)
        self.net.setInput(blob)
        try:
            output = self.net.forward()
        except cv2.error as err:
            raise DetectorError(f"{self.model_path}: inference failed ({err})") from err
        return decode_yolo(output, len(self.class_names), conf_threshold=self.conf_threshold,
                           nms_iou=self.nms_iou, layout=self.layout), lb

    def detect(self, photo_image: PhotoImage, context: DetectionContext) -> list[Detection]:
        """Detections of the mapped, enabled classes; ``bbox_px`` in stored-image pixels.

        Boxes whose outline does not reach the ground (above the horizon of an oblique
        photo) are left out.
        """
        view = context.view
        if photo_image is not view.image:
            view = PhotoView(view.photo, photo_image, view.pose, view.intrinsics, view.footprint_wgs84)
        pixels = photo_image.pixels
        boxes, lb = self.raw_boxes(pixels)
        out: list[Detection] = []
        for box in boxes:
            category = self.class_categories.get(box.class_id)
            if category is None or not self.categories[category].enabled:
                continue
            x, y, w, h = unletterbox(np.array([box.xywh]), lb, pixels.shape[1], pixels.shape[0])[0]
            if w <= 0 or h <= 0:
                continue
            contour = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)
            try:
                det = detection_from_contour(view, np.round(contour), category=category, score=box.score,
                                             detector=self.name,
                                             details={"class": self.class_names[box.class_id]})
            except GeoreferenceError:
                continue
            fx, fy = photo_image.scale
            det = Detection(det.category, (x / fx, y / fy, w / fx, h / fy), det.score, det.polygon_wgs84,
                            det.area_m2, det.detector, None, det.details)
            if self.categories[category].accepts(det.score, det.area_m2):
                out.append(det)
        return out
