"""COCO and YOLO readers: boxes in pixels, precise problems, derived LEVIR-CD boxes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.labels import (Box, LabelError, boxes_from_mask, derive_yolo_from_masks, map_classes, parse_class_map,
                           read_coco, read_labelled, read_yolo)


def _png(path: Path, w: int, h: int) -> Path:
    """Generated: a flat grey image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))
    return path


def _yolo(tmp_path: Path) -> Path:
    root = tmp_path / "yolo"
    _png(root / "images" / "a.png", 200, 100)
    _png(root / "images" / "b.png", 100, 100)
    _png(root / "images" / "empty.png", 50, 50)
    (root / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\nnames:\n  0: pile\n  1: shed\n")
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.4\n\n1 0.1 0.2 0.1 0.2\n")
    (root / "labels" / "b.txt").write_text("1 0.1 0.1 0.5 0.1 0.5 0.5\n")  # a triangle (segmentation line)
    return root


def test_yolo_boxes_in_pixels(tmp_path):
    s = read_yolo(_yolo(tmp_path))
    assert s.format == "yolo" and s.class_names == ("pile", "shed") and s.problems == []
    by_name = {im.path.name: im for im in s.images}
    assert sorted(by_name) == ["a.png", "b.png", "empty.png"]
    a = by_name["a.png"]
    assert (a.width_px, a.height_px) == (200, 100)
    assert a.boxes[0] == Box("pile", 80.0, 30.0, 40.0, 40.0)
    assert a.boxes[1].class_name == "shed"
    assert a.boxes[1].xywh == pytest.approx((10.0, 10.0, 20.0, 20.0))
    assert by_name["b.png"].boxes[0].xywh == pytest.approx((10.0, 10.0, 40.0, 40.0))
    assert by_name["empty.png"].boxes == ()
    assert s.n_boxes == 3


@pytest.mark.parametrize("line, problem", [
    ("0 0.5 0.5 0.2", "expected 'class cx cy w h'"),
    ("2 0.5 0.5 0.2 0.2", "class 2 is outside 0..1"),
    ("x 0.5 0.5 0.2 0.2", "class 'x' is not a whole number"),
    ("0 0.5 0.5 20 40", "normalised to 0-1"),
    ("0 0.5 0.5 0 0.1", "width and height must be positive"),
    ("0 0.5 abc 0.2 0.2", "coordinates must be numbers"),
])
def test_yolo_malformed_line_names_file_and_line_and_skips_only_that_image(tmp_path, line, problem):
    root = _yolo(tmp_path)
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.4\n" + line + "\n")
    s = read_yolo(root)
    assert [im.path.name for im in s.images] == ["b.png", "empty.png"]
    assert len(s.problems) == 1
    assert s.problems[0].startswith(f"{root / 'labels' / 'a.txt'}:2: ")
    assert problem in s.problems[0] and "image a.png skipped" in s.problems[0]


def test_yolo_unreadable_image_and_orphan_label_are_reported(tmp_path):
    root = _yolo(tmp_path)
    (root / "images" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "labels" / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    s = read_yolo(root)
    assert [im.path.name for im in s.images] == ["a.png", "b.png", "empty.png"]
    assert any("broken.jpg" in p and "not a readable image" in p for p in s.problems)
    assert any(p.startswith(str(root / "labels" / "ghost.txt")) and "without an image" in p for p in s.problems)


def test_yolo_names_from_classes_txt_and_errors(tmp_path):
    root = _yolo(tmp_path)
    (root / "data.yaml").unlink()
    with pytest.raises(LabelError, match="no data.yaml"):
        read_yolo(root)
    (root / "classes.txt").write_text("pile\nshed\n")
    assert read_yolo(root).class_names == ("pile", "shed")
    (root / "classes.txt").unlink()
    (root / "data.yaml").write_text("names: [pile, shed\n")
    with pytest.raises(LabelError, match=r"data\.yaml:\d+: invalid YAML"):
        read_yolo(root)
    (root / "data.yaml").write_text("names:\n  0: pile\n  2: shed\n")
    with pytest.raises(LabelError, match="number the classes"):
        read_yolo(root)


def _coco(tmp_path: Path) -> Path:
    root = tmp_path / "coco"
    _png(root / "images" / "one.png", 120, 80)
    _png(root / "images" / "two.png", 60, 60)
    data = {
        "images": [{"id": 1, "file_name": "one.png", "width": 120, "height": 80},
                   {"id": 2, "file_name": "two.png", "width": 60, "height": 60}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [10, 20, 30, 15], "iscrowd": 0},
                        {"id": 2, "image_id": 1, "category_id": 9, "bbox": [0.5, 1.5, 2, 3]}],
        "categories": [{"id": 7, "name": "pile"}, {"id": 9, "name": "shed"}],
    }
    (root / "annotations.json").write_text(json.dumps(data, indent=1))
    return root


def test_coco_boxes(tmp_path):
    s = read_labelled(_coco(tmp_path))
    assert s.format == "coco" and s.class_names == ("pile", "shed") and s.problems == []
    one, two = s.images
    assert one.path.name == "one.png" and one.boxes == (Box("pile", 10.0, 20.0, 30.0, 15.0),
                                                        Box("shed", 0.5, 1.5, 2.0, 3.0))
    assert two.boxes == ()


def test_coco_problems(tmp_path):
    root = _coco(tmp_path)
    path = root / "annotations.json"
    data = json.loads(path.read_text())
    data["annotations"].append({"image_id": 2, "category_id": 7, "bbox": [1, 2, 3]})
    data["annotations"].append({"image_id": 99, "category_id": 7, "bbox": [1, 2, 3, 4]})
    data["images"].append({"id": 3, "file_name": "missing.png", "width": 5, "height": 5})
    data["images"][0]["width"] = 121
    path.write_text(json.dumps(data))
    s = read_coco(path)
    assert s.images == []
    text = "\n".join(s.problems)
    assert f"{path}: annotations[2]: bbox must be [x, y, width, height]" in text and "two.png skipped" in text
    assert "annotations[3]: image_id 99 is not in 'images'" in text
    assert "missing.png: image file not found" in text
    assert "one.png is 120x80 px but declared 121x80" in text


def test_coco_invalid_json_names_line(tmp_path):
    root = _coco(tmp_path)
    path = root / "annotations.json"
    text = path.read_text().replace('"iscrowd": 0', '"iscrowd": 0,,')
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if ",," in t)
    with pytest.raises(LabelError, match=rf"annotations\.json:{line}:\d+: invalid JSON"):
        read_coco(path)


def test_class_maps():
    assert parse_class_map("building=illegal_structure, car=-") == {"building": "illegal_structure", "car": "-"}
    with pytest.raises(LabelError, match="expected class=category"):
        parse_class_map("building")
    assert map_classes(["building", "car"], {"building": "illegal_structure", "car": "-"}) == \
        {"building": "illegal_structure", "car": None}
    with pytest.raises(LabelError, match="classes with no category: tree, car"):
        map_classes(["building", "tree", "car"], {"building": "illegal_structure"})
    with pytest.raises(LabelError, match=r"unknown categories in building=houses"):
        map_classes(["building"], {"building": "houses"})
    with pytest.raises(LabelError, match="not classes of the data: bus"):
        map_classes(["building"], {"building": "illegal_structure", "bus": "illegal_parking"})


def test_class_map_file(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("building: illegal_structure\ncar: '-'\n")
    assert parse_class_map(path) == {"building": "illegal_structure", "car": "-"}
    with pytest.raises(LabelError, match="not found"):
        parse_class_map(tmp_path / "nope.json")


def test_boxes_from_mask():
    mask = np.zeros((20, 30), np.uint8)
    mask[2:6, 3:10] = 255
    mask[10:19, 20:22] = 255
    mask[0, 29] = 255
    assert boxes_from_mask(mask, "b", min_area_px=2) == [Box("b", 3.0, 2.0, 7.0, 4.0), Box("b", 20.0, 10.0, 2.0, 9.0)]


def test_derived_levir_boxes(shared_data, tmp_path):
    """Boxes derived from the real LEVIR-CD change masks (not redistributable: read in place)."""
    src = shared_data / "change_detection" / "levir_cd_samples"
    s = derive_yolo_from_masks(src / "B", src / "label", tmp_path / "derived_levir", class_name="building",
                               min_area_px=20)
    assert "DERIVED" in (tmp_path / "derived_levir" / "README.txt").read_text()
    assert (tmp_path / "derived_levir" / "images" / "test_2_0000_0000.png").is_symlink()
    masks = sorted((src / "label").glob("*.png"))
    assert len(s.images) == len(masks) and s.problems == []
    for im in s.images:
        mask = cv2.imread(str(src / "label" / im.path.name), cv2.IMREAD_GRAYSCALE)
        n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
        big = stats[1:][stats[1:, 4] >= 20]
        assert len(im.boxes) == len(big)
        for b in im.boxes:  # every box is tight around labelled pixels
            x, y, w, h = (int(round(v)) for v in b.xywh)
            crop = mask[y:y + h, x:x + w] > 0
            assert crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()
    assert s.n_boxes > 80
