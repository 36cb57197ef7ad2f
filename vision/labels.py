"""Labelled images in COCO or YOLO format: boxes with class names, read with precise errors.

Two readers return the same :class:`LabelledSet`:

* :func:`read_coco` - one COCO JSON file (``images`` with ``id``, ``file_name``, ``width``,
  ``height``; ``annotations`` with ``image_id``, ``category_id``, ``bbox = [x, y, w, h]`` in
  pixels from the top-left corner; ``categories`` with ``id``, ``name``), as written by
  COCO, CVAT, Label Studio and Roboflow. Image files are looked up next to the JSON file,
  then in its ``images/`` folder, then in the folder above.
* :func:`read_yolo` - a YOLO (Ultralytics / Darknet) folder: ``images/**`` with
  ``labels/**/<stem>.txt`` beside them in a mirrored tree (or ``.txt`` files next to the
  images); one object per line, ``class cx cy w h`` normalised to 0-1 by the image's width
  and height, or a segmentation polygon ``class x1 y1 x2 y2 ...`` (its bounding box is
  taken). Class names come from ``data.yaml`` (``names:`` as a list or ``{id: name}``) or
  ``classes.txt`` (one name per line). An image without a label file has no objects.

Errors: a file that cannot be used at all (invalid JSON, no class names) raises
:class:`LabelError` naming the file (and line); a malformed line or annotation, or an image
that cannot be read, makes that image's labels untrustworthy: the image is skipped and the
problem (``file:line: what``) is kept in :attr:`LabelledSet.problems`, and the rest is read.

Derived data: :func:`boxes_from_mask` and :func:`derive_yolo_from_masks` turn label masks
into YOLO boxes (one per connected component), used to derive a detection set from the
LEVIR-CD change masks (see ``benchmarks/vision_learned.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vision.errors import ImageReadError, VisionError
from vision.images import image_size

__all__ = [
    "IGNORE",
    "IMAGE_SUFFIXES",
    "Box",
    "LabelError",
    "LabelledImage",
    "LabelledSet",
    "boxes_from_mask",
    "box_iou",
    "derive_yolo_from_masks",
    "map_classes",
    "parse_class_map",
    "read_coco",
    "read_image",
    "read_labelled",
    "read_yolo",
    "write_yolo",
]

#: File suffixes taken for images (lower case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

#: Category value that drops a class (``--categories car=-``).
IGNORE = "-"


class LabelError(VisionError):
    """A label file or class map that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class Box:
    """An object's axis-aligned box in an image.

    Parameters
    ----------
    class_name : str
    x_px, y_px : float
        Top-left corner, pixels of the stored image (x right, y down).
    w_px, h_px : float
        Width and height, pixels (> 0).
    """

    class_name: str
    x_px: float
    y_px: float
    w_px: float
    h_px: float

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        return (self.x_px, self.y_px, self.w_px, self.h_px)


@dataclass(frozen=True)
class LabelledImage:
    """One image and its boxes.

    Parameters
    ----------
    path : Path
        The image file.
    width_px, height_px : int
        Size of the image as read from its header.
    boxes : tuple of Box
    label_path : Path or None
        The label file it came from (YOLO), or the COCO JSON.
    """

    path: Path
    width_px: int
    height_px: int
    boxes: tuple[Box, ...] = ()
    label_path: Path | None = None


@dataclass
class LabelledSet:
    """Images with boxes from one COCO file or YOLO folder.

    Parameters
    ----------
    root : Path
        The folder (YOLO) or JSON file (COCO) read.
    format : str
        ``"coco"`` or ``"yolo"``.
    class_names : tuple of str
        All class names the labels declare, in declaration order.
    images : list of LabelledImage
        The usable images, sorted by path.
    problems : list of str
        ``file[:line]: problem`` for every skipped image or label.
    """

    root: Path
    format: str
    class_names: tuple[str, ...]
    images: list[LabelledImage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def subset(self, keep) -> "LabelledSet":
        """A copy holding only the images for which ``keep(image)`` is true."""
        return LabelledSet(self.root, self.format, self.class_names, [im for im in self.images if keep(im)],
                           list(self.problems))

    @property
    def n_boxes(self) -> int:
        return sum(len(im.boxes) for im in self.images)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when either is empty).

    >>> box_iou((0, 0, 10, 10), (5, 0, 10, 10))
    0.3333333333333333
    >>> box_iou((0, 0, 10, 10), (20, 20, 5, 5))
    0.0
    """
    ax1, ay1, ax2, ay2 = a[0], a[1], a[0] + a[2], a[1] + a[3]
    bx1, by1, bx2, by2 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def read_image(path: Path | str) -> np.ndarray:
    """Decode an image in full, BGR uint8 (H, W, 3), EXIF orientation ignored (labels refer to
    the stored pixel layout).

    Raises
    ------
    ImageReadError
        If the file is missing or OpenCV cannot decode it.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: image file not found")
    pixels = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if pixels is None:
        raise ImageReadError(f"{path}: OpenCV could not decode the image")
    return pixels


# ---------------------------------------------------------------- COCO


def _coco_json(path: Path) -> Path:
    if path.is_file():
        return path
    candidates = sorted(p for p in list(path.glob("*.json")) + list(path.glob("annotations/*.json"))
                        if _looks_like_coco(p))
    if not candidates:
        raise LabelError(f"{path}: no COCO JSON file (with 'images' and 'annotations') in it or in annotations/")
    if len(candidates) > 1:
        raise LabelError(f"{path}: several COCO JSON files ({', '.join(p.name for p in candidates)}); name one")
    return candidates[0]


def _looks_like_coco(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:200000]
    except OSError:
        return False
    return '"annotations"' in head and '"images"' in head


def _find_image(json_path: Path, file_name: str) -> Path:
    base = json_path.parent
    for folder in (base, base / "images", base.parent, base.parent / "images"):
        candidate = folder / file_name
        if candidate.is_file():
            return candidate
    return base / file_name


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def read_coco(path: Path | str) -> LabelledSet:
    """Read a COCO detection file (see the module docstring).

    Parameters
    ----------
    path : Path or str
        The JSON file, or a folder holding exactly one (directly or in ``annotations/``).

    Returns
    -------
    LabelledSet
        Images with their boxes; images with a malformed annotation, a missing or unreadable
        file, or a size that differs from the JSON's are skipped and listed in ``problems``.

    Raises
    ------
    LabelError
        Invalid JSON (with line and column), or missing/malformed ``images`` or ``categories``.
    """
    json_path = _coco_json(Path(path))
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise LabelError(f"{json_path}:{err.lineno}:{err.colno}: invalid JSON ({err.msg})") from err
    except (OSError, UnicodeDecodeError) as err:
        raise LabelError(f"{json_path}: cannot read ({err})") from err
    if not isinstance(data, dict):
        raise LabelError(f"{json_path}: the top level must be an object with images, annotations, categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise LabelError(f"{json_path}: '{key}' must be a list")
    categories: dict[int, str] = {}
    for i, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or not isinstance(cat.get("id"), int) or not isinstance(cat.get("name"), str):
            raise LabelError(f"{json_path}: categories[{i}] needs an integer 'id' and a string 'name'")
        if cat["id"] in categories:
            raise LabelError(f"{json_path}: categories[{i}]: id {cat['id']} is used twice")
        categories[cat["id"]] = cat["name"]
    problems: list[str] = []
    images: dict[int, dict] = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or not isinstance(im.get("id"), int) or not isinstance(im.get("file_name"), str):
            problems.append(f"{json_path}: images[{i}] needs an integer 'id' and a string 'file_name'; skipped")
            continue
        images[im["id"]] = {"entry": im, "boxes": [], "bad": None}
    for i, ann in enumerate(data["annotations"]):
        where = f"{json_path}: annotations[{i}]"
        if not isinstance(ann, dict):
            problems.append(f"{where}: not an object; skipped")
            continue
        target = images.get(ann.get("image_id"))
        if target is None:
            problems.append(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'; annotation skipped")
            continue
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
            target["bad"] = target["bad"] or f"{where}: bbox must be [x, y, width, height] numbers, got {bbox!r}"
            continue
        if bbox[2] <= 0 or bbox[3] <= 0:
            target["bad"] = target["bad"] or f"{where}: bbox width and height must be positive, got {bbox!r}"
            continue
        name = categories.get(ann.get("category_id"))
        if name is None:
            target["bad"] = target["bad"] or f"{where}: category_id {ann.get('category_id')!r} is not in 'categories'"
            continue
        target["boxes"].append(Box(name, *(float(v) for v in bbox)))
    out: list[LabelledImage] = []
    for info in images.values():
        entry = info["entry"]
        if info["bad"]:
            problems.append(f"{info['bad']}; image {entry['file_name']} skipped")
            continue
        image_path = _find_image(json_path, entry["file_name"])
        try:
            w, h = image_size(image_path)
        except ImageReadError as err:
            problems.append(f"{err}; skipped")
            continue
        declared = (entry.get("width"), entry.get("height"))
        if all(isinstance(v, int) for v in declared) and declared != (w, h):
            problems.append(f"{json_path}: image {entry['file_name']} is {w}x{h} px but declared "
                            f"{declared[0]}x{declared[1]}; skipped")
            continue
        out.append(LabelledImage(image_path, w, h, tuple(info["boxes"]), json_path))
    out.sort(key=lambda im: str(im.path))
    return LabelledSet(json_path, "coco", tuple(categories[k] for k in sorted(categories)), out, problems)


# ---------------------------------------------------------------- YOLO


def _yolo_names(root: Path) -> tuple[list[str], Path]:
    for candidate in (root / "data.yaml", root / "dataset.yaml", root / "data.yml"):
        if candidate.is_file():
            import yaml

            try:
                data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            except yaml.YAMLError as err:
                mark = getattr(err, "problem_mark", None)
                line = f":{mark.line + 1}" if mark is not None else ""
                raise LabelError(f"{candidate}{line}: invalid YAML ({err})") from err
            names = data.get("names") if isinstance(data, dict) else None
            if isinstance(names, dict):
                try:
                    keys = sorted(int(k) for k in names)
                except (TypeError, ValueError) as err:
                    raise LabelError(f"{candidate}: 'names' keys must be class numbers ({err})") from err
                if keys != list(range(len(keys))):
                    raise LabelError(f"{candidate}: 'names' must number the classes 0..{len(keys) - 1}, got {keys}")
                names = [names[k] if k in names else names[str(k)] for k in keys]
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise LabelError(f"{candidate}: 'names' must be a list of class names or {{number: name}}")
            return names, candidate
    for candidate in (root / "classes.txt", root / "labels" / "classes.txt", root / "obj.names"):
        if candidate.is_file():
            names = [line.strip() for line in candidate.read_text(encoding="utf-8").splitlines() if line.strip()]
            if not names:
                raise LabelError(f"{candidate}: no class names in it")
            return names, candidate
    raise LabelError(f"{root}: no data.yaml (with 'names') or classes.txt naming the YOLO classes")


def _parse_yolo_file(label_path: Path, names: Sequence[str], width: int, height: int) -> tuple[list[Box], str | None]:
    boxes: list[Box] = []
    try:
        text = label_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return [], f"{label_path}: cannot read ({err})"
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        where = f"{label_path}:{lineno}"
        if len(tokens) != 5 and (len(tokens) < 7 or len(tokens) % 2 == 0):
            return [], (f"{where}: expected 'class cx cy w h' (5 values) or 'class x1 y1 x2 y2 x3 y3 ...', "
                        f"got {len(tokens)} values")
        try:
            cls = int(tokens[0])
        except ValueError:
            return [], f"{where}: class {tokens[0]!r} is not a whole number"
        if not 0 <= cls < len(names):
            return [], f"{where}: class {cls} is outside 0..{len(names) - 1} ({len(names)} names)"
        try:
            values = np.array([float(t) for t in tokens[1:]])
        except ValueError:
            return [], f"{where}: coordinates must be numbers, got {' '.join(tokens[1:])!r}"
        if not np.all(np.isfinite(values)) or values.min() < -1e-3 or values.max() > 1 + 1e-3:
            return [], f"{where}: coordinates must be normalised to 0-1, got {' '.join(tokens[1:])!r}"
        if len(tokens) == 5:
            cx, cy, w, h = values
            if w <= 0 or h <= 0:
                return [], f"{where}: width and height must be positive, got {w:g} {h:g}"
            x0, y0 = cx - w / 2, cy - h / 2
        else:
            xs, ys = values[0::2], values[1::2]
            x0, y0, w, h = xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()
            if w <= 0 or h <= 0:
                return [], f"{where}: the polygon has no area"
        boxes.append(Box(names[cls], float(x0 * width), float(y0 * height), float(w * width), float(h * height)))
    return boxes, None


def read_yolo(root: Path | str) -> LabelledSet:
    """Read a YOLO folder (see the module docstring).

    Parameters
    ----------
    root : Path or str
        The folder holding ``data.yaml`` or ``classes.txt`` and ``images/`` + ``labels/``
        (or images with their ``.txt`` files side by side).

    Returns
    -------
    LabelledSet
        Images with boxes in pixels; images whose label file has a malformed line (reported
        as ``file:line: problem``) or that cannot be read are skipped and listed in
        ``problems``, as are label files without an image.

    Raises
    ------
    LabelError
        No class names, or a ``data.yaml`` that is not valid YAML (with its line).
    """
    root = Path(root)
    if not root.is_dir():
        raise LabelError(f"{root}: not a folder")
    names, _ = _yolo_names(root)
    image_root = root / "images" if (root / "images").is_dir() else root
    label_root = root / "labels" if (root / "labels").is_dir() else None
    problems: list[str] = []
    out: list[LabelledImage] = []
    used_labels: set[Path] = set()
    for image_path in sorted(p for p in image_root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        rel = image_path.relative_to(image_root).with_suffix(".txt")
        label_path = label_root / rel if label_root is not None else image_path.with_suffix(".txt")
        try:
            w, h = image_size(image_path)
        except ImageReadError as err:
            problems.append(f"{err}; skipped")
            used_labels.add(label_path)
            continue
        boxes: list[Box] = []
        if label_path.is_file():
            used_labels.add(label_path)
            boxes, problem = _parse_yolo_file(label_path, names, w, h)
            if problem:
                problems.append(f"{problem}; image {image_path.name} skipped")
                continue
        out.append(LabelledImage(image_path, w, h, tuple(boxes), label_path if label_path.is_file() else None))
    label_files = (label_root.rglob("*.txt") if label_root is not None else image_root.rglob("*.txt"))
    for orphan in sorted(set(label_files) - used_labels):
        if orphan.name in ("classes.txt", "README.txt", "LICENSE.txt"):
            continue
        problems.append(f"{orphan}: label file without an image; ignored")
    return LabelledSet(root, "yolo", tuple(names), out, problems)


def read_labelled(path: Path | str) -> LabelledSet:
    """Read a COCO JSON file or a COCO/YOLO folder, whichever ``path`` holds.

    A ``.json`` file is COCO; a folder with ``data.yaml``/``classes.txt`` or a ``labels/``
    folder is YOLO; a folder with one COCO JSON file (directly or in ``annotations/``) is COCO.

    Raises
    ------
    LabelError
        When the folder is neither, or as :func:`read_coco` / :func:`read_yolo`.
    """
    path = Path(path)
    if path.is_file():
        return read_coco(path)
    if not path.is_dir():
        raise LabelError(f"{path}: no such file or folder")
    if any((path / n).is_file() for n in ("data.yaml", "dataset.yaml", "data.yml", "classes.txt", "obj.names")) \
            or (path / "labels").is_dir():
        return read_yolo(path)
    return read_coco(path)


# ---------------------------------------------------------------- class names -> categories


def parse_class_map(spec: str | Path | Mapping[str, str] | None) -> dict[str, str]:
    """A class-name -> category map from ``"a=cat1,b=cat2"``, a JSON/YAML file or a mapping.

    >>> parse_class_map("building=illegal_structure, car=-")
    {'building': 'illegal_structure', 'car': '-'}

    Raises
    ------
    LabelError
        A malformed entry or file (named).
    """
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {str(k): str(v) for k, v in spec.items()}
    text = str(spec)
    path = Path(text)
    if "=" not in text and path.suffix.lower() in (".json", ".yaml", ".yml"):
        if not path.is_file():
            raise LabelError(f"{path}: class map file not found")
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML
        except yaml.YAMLError as err:
            raise LabelError(f"{path}: invalid JSON/YAML ({err})") from err
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise LabelError(f"{path}: expected a mapping of class name -> category")
        return {str(k): v for k, v in data.items()}
    out: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, category = part.partition("=")
        if not sep or not name.strip() or not category.strip():
            raise LabelError(f"class map entry {part!r}: expected class=category (category '-' drops the class)")
        out[name.strip()] = category.strip()
    return out


def map_classes(class_names: Iterable[str], mapping: Mapping[str, str] | None) -> dict[str, str | None]:
    """Each class name's project category (a key of ``vision.detectors.CATEGORIES``), or None
    for a class mapped to ``"-"`` (dropped).

    A class named like a category maps to it unless the mapping says otherwise.

    >>> map_classes(["building", "illegal_parking"], {"building": "illegal_structure"})
    {'building': 'illegal_structure', 'illegal_parking': 'illegal_parking'}

    Raises
    ------
    LabelError
        Naming every class that maps to no category, every category that does not exist,
        and every mapped name that is not a class.
    """
    from vision.detectors.base import CATEGORIES

    mapping = dict(mapping or {})
    names = list(dict.fromkeys(class_names))
    out: dict[str, str | None] = {}
    unmapped, bad = [], []
    for name in names:
        category = mapping.get(name, name if name in CATEGORIES else None)
        if category is None:
            unmapped.append(name)
        elif category == IGNORE:
            out[name] = None
        elif category not in CATEGORIES:
            bad.append(f"{name}={category}")
        else:
            out[name] = category
    stray = sorted(set(mapping) - set(names))
    errors = []
    if unmapped:
        errors.append(f"classes with no category: {', '.join(unmapped)} (map them with name=category or name=-)")
    if bad:
        errors.append(f"unknown categories in {', '.join(bad)} (categories: {', '.join(sorted(CATEGORIES))})")
    if stray:
        errors.append(f"mapped names that are not classes of the data: {', '.join(stray)}")
    if errors:
        raise LabelError("; ".join(errors))
    return out


# ---------------------------------------------------------------- derived labels


def boxes_from_mask(mask: np.ndarray, class_name: str, *, min_area_px: int = 1) -> list[Box]:
    """One box per 8-connected component of a label mask (non-zero = object).

    Parameters
    ----------
    mask : ndarray (H, W)
    class_name : str
    min_area_px : int
        Components with fewer pixels are dropped (label specks).

    >>> m = np.zeros((10, 10), np.uint8); m[2:4, 3:7] = 255; m[8, 8] = 255
    >>> boxes_from_mask(m, "building", min_area_px=2)
    [Box(class_name='building', x_px=3.0, y_px=2.0, w_px=4.0, h_px=2.0)]
    """
    n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    return [Box(class_name, float(stats[i, 0]), float(stats[i, 1]), float(stats[i, 2]), float(stats[i, 3]))
            for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_area_px]


def write_yolo(images: Iterable[LabelledImage], out_dir: Path | str, class_names: Sequence[str], *,
               link_images: bool = True, note: str | None = None) -> Path:
    """Write images and boxes as a YOLO folder: ``data.yaml``, ``images/``, ``labels/``.

    Parameters
    ----------
    images : iterable of LabelledImage
    out_dir : Path or str
        Created if missing; existing files of the same name are replaced.
    class_names : sequence of str
        Class numbering.
    link_images : bool
        Symlink the images (True) rather than copy them.
    note : str, optional
        Written to ``README.txt`` (provenance).

    Returns
    -------
    Path
        ``out_dir``.
    """
    import shutil

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    index = {n: i for i, n in enumerate(class_names)}
    names_yaml = "\n".join(f"  {i}: {json.dumps(n)}" for i, n in enumerate(class_names))
    (out / "data.yaml").write_text(f"path: .\ntrain: images\nval: images\nnames:\n{names_yaml}\n", encoding="utf-8")
    if note:
        (out / "README.txt").write_text(note.rstrip() + "\n", encoding="utf-8")
    for im in images:
        target = out / "images" / im.path.name
        if target.exists() or target.is_symlink():
            target.unlink()
        if link_images:
            target.symlink_to(im.path.resolve())
        else:
            shutil.copyfile(im.path, target)
        lines = []
        for b in im.boxes:
            cx, cy = (b.x_px + b.w_px / 2) / im.width_px, (b.y_px + b.h_px / 2) / im.height_px
            w, h = b.w_px / im.width_px, b.h_px / im.height_px
            lines.append(f"{index[b.class_name]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        (out / "labels" / f"{im.path.stem}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return out


def derive_yolo_from_masks(image_dir: Path | str, mask_dir: Path | str, out_dir: Path | str, *,
                           class_name: str, min_area_px: int = 20, skip_empty: bool = False,
                           note: str = "") -> LabelledSet:
    """Derive a YOLO set from label masks: each mask's connected components become boxes of
    ``class_name`` on the image of the same file name.

    Used on LEVIR-CD (``label/`` masks of changed buildings over the ``B/`` after-images:
    boxes of new buildings). Images without a mask are left out; the images are symlinked,
    not copied (the source's licence may forbid redistribution).

    Parameters
    ----------
    image_dir, mask_dir : Path or str
    out_dir : Path or str
        Receives ``data.yaml``, ``images/`` (links), ``labels/`` and ``README.txt``.
    class_name : str
    min_area_px : int
        Components smaller than this are dropped (mask specks), pixels.
    skip_empty : bool
        Leave out images whose mask has no component. For change masks: an empty change
        mask says nothing changed, not that the image holds no object of the class.
    note : str
        Provenance written to ``README.txt`` after a line saying the labels are derived.

    Returns
    -------
    LabelledSet
        As read back with :func:`read_yolo`.

    Raises
    ------
    LabelError
        If no image has a mask.
    """
    image_dir, mask_dir = Path(image_dir), Path(mask_dir)
    images: list[LabelledImage] = []
    for mask_path in sorted(p for p in mask_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        image_path = image_dir / mask_path.name
        if not image_path.is_file():
            continue
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise LabelError(f"{mask_path}: OpenCV could not decode the mask")
        w, h = image_size(image_path)
        if mask.shape != (h, w):
            raise LabelError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} px, image {w}x{h}")
        boxes = boxes_from_mask(mask, class_name, min_area_px=min_area_px)
        if boxes or not skip_empty:
            images.append(LabelledImage(image_path, w, h, tuple(boxes)))
    if not images:
        raise LabelError(f"{mask_dir}: no mask has an image of the same name in {image_dir}")
    text = (f"DERIVED labels (generated mechanically, not hand-drawn): one '{class_name}' box per 8-connected "
            f"component (>= {min_area_px} px) of the masks in {mask_dir}, on the images of {image_dir}"
            f"{' (images with an empty mask left out)' if skip_empty else ''} "
            f"(vision.labels.derive_yolo_from_masks). Images are links to the source; its licence applies.\n{note}")
    write_yolo(images, out_dir, [class_name], note=text)
    return read_yolo(out_dir)
