"""A tile classifier trained with OpenCV's ml module on labelled boxes (COCO or YOLO).

What a tile is: a square window of ``tile_px`` stored-image pixels (or ``tile_m`` metres
on the ground at the training images' ground sample distance ``gsd_m``). Every tile is
resampled to :data:`TILE_PX` (32) pixels - the *canonical scale* - before its features are
computed, so a model trained at one resolution slides over photos at another by resizing
the photo, not the model.

Features of a tile (:func:`tile_features`, 366 values):

* **HOG** (Dalal & Triggs 2005) through ``cv2.HOGDescriptor``: 32 px window, 16 px blocks
  moving by 8 px, 8 px cells, 9 orientation bins (324 values), computed on the whole
  canonical image at the tile positions (so gradients at a tile's edge see its neighbours,
  in training and detection alike);
* **colour**: normalised histograms of hue (12 bins), saturation (4) and value (4) in HSV,
  and of L* (4), a* (6), b* (6) in CIE L*a*b* (OpenCV 8-bit scales), plus the tile's
  L*a*b* means and standard deviations /255, from integral images.

Training (:func:`train_tile_classifier`): per class, *positive* tiles are the grid
positions (a quarter tile apart) where the class's boxes cover at least ``pos_overlap`` of
the tile, or where the tile holds at least half of a box smaller than it; *negative* tiles
lie at least a quarter tile away from every box, sampled at random (seeded) to
``neg_per_pos`` times the positives. Buildings, piles, vehicles that are in the image but
not labelled can therefore be drawn as negatives: complete labels matter. Features are
standardised (training mean and deviation). One binary model per class (one-vs-rest):
``cv2.ml.SVM`` (C-SVC, RBF kernel, C = 1 and gamma = 1 / number of features by default -
``trainAuto``'s grid search took over ten minutes on 7,000 tiles here) or ``cv2.ml.Boost``
(Real AdaBoost, 100 depth-2 trees by default). A model's raw
output (SVM decision value; Boost sum of weak responses) becomes a 0-1 score by Platt's
sigmoid (Platt 1999), fitted on the training tiles' raw outputs - a monotone score, only
roughly a probability.

Saved as ``<out>.json`` (the sidecar: feature settings, tile size, class names and their
categories, standardisation, Platt parameters, what it was trained on) and one OpenCV ml
file per class, ``<out>.<index>.yml`` (``cv2.ml`` ``save``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.errors import DetectorError, ImageReadError, VisionError
from vision.labels import LabelledImage, LabelledSet, map_classes, read_image

__all__ = [
    "FORMAT",
    "TILE_PX",
    "FeatureSettings",
    "TileModel",
    "TrainingError",
    "evaluate_tiles",
    "tile_features",
    "train_tile_classifier",
]

#: Canonical tile side, pixels (the HOG window).
TILE_PX = 32
#: Grid step of tile positions at canonical scale, pixels (HOG block stride; a quarter tile).
GRID_PX = 8
#: ``format`` value of the sidecar JSON.
FORMAT = "drone-patrol tile classifier"


class TrainingError(VisionError):
    """Training cannot proceed: no usable images, no positive tiles for a class, bad settings."""


@dataclass(frozen=True)
class FeatureSettings:
    """Bins of the colour histograms (the HOG layout is fixed by :data:`TILE_PX`)."""

    hue_bins: int = 12
    sat_bins: int = 4
    val_bins: int = 4
    l_bins: int = 4
    a_bins: int = 6
    b_bins: int = 6

    @property
    def size(self) -> int:
        """Length of a feature vector."""
        return _HOG.getDescriptorSize() + self.hue_bins + self.sat_bins + self.val_bins + self.l_bins \
            + self.a_bins + self.b_bins + 6


_HOG = cv2.HOGDescriptor((TILE_PX, TILE_PX), (16, 16), (GRID_PX, GRID_PX), (8, 8), 9)


def _window_sums(ii: np.ndarray, xs: np.ndarray, ys: np.ndarray, t: int) -> np.ndarray:
    return ii[ys + t, xs + t] - ii[ys, xs + t] - ii[ys + t, xs] + ii[ys, xs]


def tile_features(canonical_bgr: np.ndarray, positions: np.ndarray,
                  settings: FeatureSettings = FeatureSettings()) -> np.ndarray:
    """Features of the :data:`TILE_PX`-square tiles at ``positions`` of a canonical-scale image.

    Parameters
    ----------
    canonical_bgr : ndarray (H, W, 3) uint8
        The image resized so that one tile is :data:`TILE_PX` pixels.
    positions : ndarray (N, 2) int
        Top-left corners ``(x, y)``, multiples of :data:`GRID_PX`, tiles inside the image.
    settings : FeatureSettings

    Returns
    -------
    ndarray (N, settings.size) float32
    """
    positions = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
    n = len(positions)
    if n == 0:
        return np.zeros((0, settings.size), np.float32)
    gray = cv2.cvtColor(canonical_bgr, cv2.COLOR_BGR2GRAY)
    hog = _HOG.compute(gray, (GRID_PX, GRID_PX), (0, 0), [tuple(map(int, p)) for p in positions])
    hog = np.asarray(hog, np.float32).reshape(n, -1)
    xs, ys, t = positions[:, 0], positions[:, 1], TILE_PX
    area = float(t * t)
    hsv = cv2.cvtColor(canonical_bgr, cv2.COLOR_BGR2HSV)
    lab = cv2.cvtColor(canonical_bgr, cv2.COLOR_BGR2Lab)
    parts = [hog]
    for channel, bins, top in ((hsv[..., 0], settings.hue_bins, 180), (hsv[..., 1], settings.sat_bins, 256),
                               (hsv[..., 2], settings.val_bins, 256), (lab[..., 0], settings.l_bins, 256),
                               (lab[..., 1], settings.a_bins, 256), (lab[..., 2], settings.b_bins, 256)):
        idx = np.minimum(channel.astype(np.int32) * bins // top, bins - 1)
        hist = np.empty((n, bins), np.float32)
        for b in range(bins):
            ii = cv2.integral((idx == b).astype(np.uint8))
            hist[:, b] = _window_sums(ii, xs, ys, t) / area
        parts.append(hist)
    s, sq = cv2.integral2(lab.astype(np.float64))[:2]
    mean = np.stack([_window_sums(s[..., c], xs, ys, t) for c in range(3)], axis=1) / area
    mean_sq = np.stack([_window_sums(sq[..., c], xs, ys, t) for c in range(3)], axis=1) / area
    std = np.sqrt(np.maximum(mean_sq - mean ** 2, 0.0))
    parts += [(mean / 255.0).astype(np.float32), (std / 255.0).astype(np.float32)]
    return np.hstack(parts).astype(np.float32)


def _grid(height: int, width: int, step: int = GRID_PX) -> np.ndarray:
    ys = np.arange(0, height - TILE_PX + 1, step)
    xs = np.arange(0, width - TILE_PX + 1, step)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()]).astype(np.int64)


def _to_canonical(pixels: np.ndarray, factor: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    size = (max(int(round(w * factor)), TILE_PX), max(int(round(h * factor)), TILE_PX))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _fit_platt(raw: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid ``p = 1 / (1 + exp(A f + B))`` by maximum likelihood with his target smoothing."""
    from scipy.optimize import minimize

    n_pos, n_neg = int(labels.sum()), int(len(labels) - labels.sum())
    target = np.where(labels > 0, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    scale = float(np.std(raw)) or 1.0

    def loss(ab):
        z = -(ab[0] * raw / scale + ab[1])
        log_p = -np.logaddexp(0.0, -z)
        log_1p = -np.logaddexp(0.0, z)
        return -float(np.sum(target * log_p + (1 - target) * log_1p))

    corr = np.corrcoef(raw, labels)[0, 1] if np.std(raw) > 0 else 1.0
    start = np.array([-1.0 if corr >= 0 else 1.0, 0.0])
    res = minimize(loss, start, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    return float(res.x[0] / scale), float(res.x[1])


@dataclass
class TileModel:
    """A trained tile classifier: one cv2.ml binary model per class, with its sidecar settings.

    Parameters
    ----------
    kind : str
        ``"svm"`` or ``"boost"``.
    class_names : tuple of str
        The classes it scores, in order.
    categories : dict
        Class name -> project category.
    tile_px : float
        Tile side in the training images' stored pixels.
    tile_m : float or None
        Tile side on the ground, metres (when the training GSD was given).
    gsd_m : float or None
        Ground sample distance of the training images, metres per pixel.
    mean, std : ndarray (D,)
        Feature standardisation.
    models : list
        ``cv2.ml.SVM`` / ``cv2.ml.Boost`` per class.
    platt : list of (A, B)
        Platt sigmoid per class (score = 1 / (1 + exp(A raw + B))).
    features : FeatureSettings
    training : dict
        What it was trained on (for the record).
    """

    kind: str
    class_names: tuple[str, ...]
    categories: dict[str, str]
    tile_px: float
    tile_m: float | None
    gsd_m: float | None
    mean: np.ndarray
    std: np.ndarray
    models: list
    platt: list[tuple[float, float]]
    features: FeatureSettings = field(default_factory=FeatureSettings)
    training: dict = field(default_factory=dict)
    path: Path | None = None

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Scores 0-1 of tiles' features, ndarray (N, n_classes) float64."""
        x = ((features - self.mean) / self.std).astype(np.float32)
        out = np.zeros((len(x), len(self.models)))
        if len(x) == 0:
            return out
        for j, (model, (a, b)) in enumerate(zip(self.models, self.platt)):
            _, raw = model.predict(x, flags=cv2.ml.STAT_MODEL_RAW_OUTPUT)
            out[:, j] = _sigmoid(-(a * raw.ravel().astype(np.float64) + b))
        return out

    def factor_for(self, tile_image_px: float) -> float:
        """Resize factor to canonical scale for an image in which a tile is ``tile_image_px`` pixels."""
        return TILE_PX / float(tile_image_px)

    def scan(self, pixels: np.ndarray, tile_image_px: float, *,
             stride: float = 0.25) -> tuple[np.ndarray, np.ndarray, float]:
        """Score every tile of an image on a grid.

        Parameters
        ----------
        pixels : ndarray (H, W, 3) uint8 BGR
        tile_image_px : float
            Tile side in this image's pixels.
        stride : float
            Grid step as a fraction of the tile, rounded to quarter tiles (0.25 - 1).

        Returns
        -------
        positions : ndarray (N, 2) float
            Tiles' top-left corners in ``pixels``' coordinates.
        scores : ndarray (N, n_classes)
        tile_image_px : float
            Tile side in ``pixels``' coordinates (after rounding of the canonical resize).
        """
        factor = self.factor_for(tile_image_px)
        canonical = _to_canonical(pixels, factor)
        step = int(np.clip(round(stride * 4), 1, 4)) * GRID_PX
        positions = _grid(*canonical.shape[:2], step=step)
        scores = self.probabilities(tile_features(canonical, positions, self.features))
        fx = canonical.shape[1] / pixels.shape[1]
        fy = canonical.shape[0] / pixels.shape[0]
        pos = np.column_stack([positions[:, 0] / fx, positions[:, 1] / fy]) if len(positions) else np.zeros((0, 2))
        return pos, scores, TILE_PX / fx

    def save(self, out: Path | str) -> list[Path]:
        """Write ``<out>.json`` and ``<out>.<i>.yml`` per class (``out`` may end in ``.json``).

        Returns
        -------
        list of Path
            The files written, sidecar first.
        """
        base = Path(out)
        if base.suffix.lower() == ".json":
            base = base.with_suffix("")
        base.parent.mkdir(parents=True, exist_ok=True)
        written = [base.with_name(base.name + ".json")]
        classes = []
        for i, (name, model, (a, b)) in enumerate(zip(self.class_names, self.models, self.platt)):
            path = base.with_name(f"{base.name}.{i}.yml")
            model.save(str(path))
            written.append(path)
            classes.append({"name": name, "category": self.categories[name], "file": path.name, "platt": [a, b]})
        sidecar = {"format": FORMAT, "version": 1, "kind": self.kind, "tile_px": self.tile_px, "tile_m": self.tile_m,
                   "gsd_m": self.gsd_m, "tile_canonical_px": TILE_PX, "features": asdict(self.features),
                   "classes": classes, "mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std],
                   "training": self.training}
        written[0].write_text(json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        self.path = written[0]
        return written

    @classmethod
    def load(cls, path: Path | str) -> "TileModel":
        """Read a model saved by :meth:`save` (the sidecar ``.json``, or its base name).

        Raises
        ------
        DetectorError
            Naming the file: missing, not a tile-classifier sidecar, or a model file that
            OpenCV cannot read.
        """
        path = Path(path)
        if path.suffix.lower() != ".json":
            path = path.with_name(path.name + ".json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DetectorError(f"{path}: tile model not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DetectorError(f"{path}: not a readable tile-model sidecar ({err})") from err
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DetectorError(f"{path}: not a {FORMAT} sidecar (no format: {FORMAT!r})")
        try:
            loader = {"svm": cv2.ml.SVM_load, "boost": cv2.ml.Boost_load}[data["kind"]]
            models, platt, names, categories = [], [], [], {}
            for entry in data["classes"]:
                file = path.parent / entry["file"]
                if not file.is_file():
                    raise DetectorError(f"{path}: model file {file} is missing")
                try:
                    models.append(loader(str(file)))
                except cv2.error as err:
                    raise DetectorError(f"{file}: OpenCV could not read the {data['kind']} model ({err})") from err
                platt.append((float(entry["platt"][0]), float(entry["platt"][1])))
                names.append(entry["name"])
                categories[entry["name"]] = entry["category"]
            features = FeatureSettings(**data["features"])
            mean, std = np.asarray(data["mean"], np.float64), np.asarray(data["std"], np.float64)
            if len(mean) != features.size or len(std) != features.size:
                raise DetectorError(f"{path}: standardisation has {len(mean)} values, features {features.size}")
            return cls(kind=data["kind"], class_names=tuple(names), categories=categories,
                       tile_px=float(data["tile_px"]), tile_m=data.get("tile_m"), gsd_m=data.get("gsd_m"),
                       mean=mean, std=std, models=models, platt=platt, features=features,
                       training=data.get("training", {}), path=path)
        except (KeyError, TypeError, ValueError) as err:
            raise DetectorError(f"{path}: malformed tile-model sidecar ({err!r})") from err


# ---------------------------------------------------------------- sampling tiles


@dataclass
class _ImageTiles:
    image: LabelledImage
    positions: np.ndarray                      # canonical (N, 2)
    labels: np.ndarray                         # class index, -1 negative, -2 ignored


def _label_tiles(im: LabelledImage, factor: float, class_index: Mapping[str, int], *, pos_overlap: float,
                 canonical_shape: tuple[int, int]) -> _ImageTiles:
    h, w = canonical_shape
    positions = _grid(h, w)
    labels = np.full(len(positions), -1, np.int64)
    if len(positions) == 0:
        return _ImageTiles(im, positions, labels)
    t = TILE_PX
    margin = t // 4
    near = np.zeros((h + 1, w + 1), np.uint8)
    coverage = {c: np.zeros((h, w), np.uint8) for c in set(class_index.values())}
    xs, ys = positions[:, 0], positions[:, 1]
    small_hits: dict[int, np.ndarray] = {c: np.zeros(len(positions), bool) for c in coverage}
    for box in im.boxes:
        x0, y0 = box.x_px * factor, box.y_px * factor
        x1, y1 = (box.x_px + box.w_px) * factor, (box.y_px + box.h_px) * factor
        cv2.rectangle(near, (int(x0) - margin, int(y0) - margin),
                      (int(np.ceil(x1)) + margin, int(np.ceil(y1)) + margin), 1, thickness=-1)
        c = class_index.get(box.class_name)
        if c is None:
            continue
        cv2.rectangle(coverage[c], (int(round(x0)), int(round(y0))), (int(round(x1)) - 1, int(round(y1)) - 1), 1,
                      thickness=-1)
        box_area = (x1 - x0) * (y1 - y0)
        if box_area < t * t:
            iw = np.clip(np.minimum(xs + t, x1) - np.maximum(xs, x0), 0, None)
            ih = np.clip(np.minimum(ys + t, y1) - np.maximum(ys, y0), 0, None)
            small_hits[c] |= iw * ih >= 0.5 * box_area
    near_ii = cv2.integral(near[:h, :w])
    touching = _window_sums(near_ii, xs, ys, t) > 0
    labels[touching] = -2
    best = np.zeros(len(positions))
    for c, cov in coverage.items():
        frac = _window_sums(cv2.integral(cov), xs, ys, t) / float(t * t)
        hit = (frac >= pos_overlap) | small_hits[c]
        score = np.where(hit, frac + small_hits[c], 0.0)
        take = hit & (score > best)
        labels[take] = c
        best[take] = score[take]
    return _ImageTiles(im, positions, labels)


def _sample(set_: LabelledSet, class_index: Mapping[str, int], tile_px: float, *, pos_overlap: float,
            neg_per_pos: float, max_pos_per_class: int, rng: np.random.Generator,
            note: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray, dict]:
    factor = TILE_PX / tile_px
    per_image: list[_ImageTiles] = []
    for im in set_.images:
        h, w = max(int(round(im.height_px * factor)), TILE_PX), max(int(round(im.width_px * factor)), TILE_PX)
        per_image.append(_label_tiles(im, factor, class_index, pos_overlap=pos_overlap, canonical_shape=(h, w)))
    chosen: list[list[int]] = [[] for _ in per_image]
    counts: dict[str, int] = {}
    n_pos = 0
    for name, c in class_index.items():
        where = [(i, j) for i, t in enumerate(per_image) for j in np.flatnonzero(t.labels == c)]
        if len(where) > max_pos_per_class:
            where = [where[k] for k in sorted(rng.choice(len(where), max_pos_per_class, replace=False))]
        for i, j in where:
            chosen[i].append(int(j))
        counts[name] = len(where)
        n_pos += len(where)
    negatives = [(i, j) for i, t in enumerate(per_image) for j in np.flatnonzero(t.labels == -1)]
    n_neg = min(len(negatives), int(round(neg_per_pos * max(n_pos, 1))))
    for k in sorted(rng.choice(len(negatives), n_neg, replace=False)) if n_neg else []:
        i, j = negatives[k]
        chosen[i].append(int(j))
    feats, labels = [], []
    for tiles, idx in zip(per_image, chosen):
        if not idx:
            continue
        try:
            pixels = read_image(tiles.image.path)
        except ImageReadError as err:
            note(f"{err}; skipped")
            continue
        canonical = _to_canonical(pixels, factor)
        idx = np.asarray(sorted(set(idx)))
        feats.append(tile_features(canonical, tiles.positions[idx]))
        labels.append(tiles.labels[idx])
    if not feats:
        return np.zeros((0, FeatureSettings().size), np.float32), np.zeros(0, np.int64), counts
    return np.vstack(feats), np.concatenate(labels), {**counts, "negatives": int(np.sum(np.concatenate(labels) == -1))}


def _resolve_tile(tile_px: float | None, tile_m: float | None, gsd_m: float | None) -> tuple[float, float | None]:
    if (tile_px is None) == (tile_m is None):
        raise TrainingError("give the tile size either in pixels (tile_px) or in metres (tile_m, with gsd_m)")
    if tile_m is not None:
        if not gsd_m or gsd_m <= 0:
            raise TrainingError("tile_m needs the training images' ground sample distance gsd_m (metres per pixel)")
        if tile_m <= 0:
            raise TrainingError(f"tile_m must be positive, got {tile_m}")
        return tile_m / gsd_m, float(tile_m)
    if tile_px <= 0:
        raise TrainingError(f"tile_px must be positive, got {tile_px}")
    return float(tile_px), (float(tile_px) * gsd_m if gsd_m else None)


def train_tile_classifier(labelled: LabelledSet, *, class_map: Mapping[str, str] | None = None,
                          kind: str = "svm", tile_px: float | None = None, tile_m: float | None = None,
                          gsd_m: float | None = None, pos_overlap: float = 0.5, neg_per_pos: float = 2.0,
                          max_pos_per_class: int = 4000, seed: int = 0, svm_c: float = 1.0,
                          boost_weak_count: int = 100, note: Callable[[str], None] = lambda _: None) -> TileModel:
    """Train one binary tile classifier per class (see the module docstring).

    Parameters
    ----------
    labelled : LabelledSet
        From :func:`vision.labels.read_labelled`.
    class_map : mapping, optional
        Class name -> category (``"-"`` drops a class), see :func:`vision.labels.map_classes`.
    kind : {"svm", "boost"}
    tile_px : float, optional
        Tile side in the training images' pixels; or
    tile_m : float, optional
        Tile side on the ground, metres (needs ``gsd_m``).
    gsd_m : float, optional
        Training images' ground sample distance, metres per pixel.
    pos_overlap : float
        Share of a tile a box must cover for a positive (0-1).
    neg_per_pos : float
        Negative tiles drawn per positive.
    max_pos_per_class : int
        Positive tiles kept per class at most (random subset).
    seed : int
        Seed of the random sampling.
    svm_c : float
        SVM soft-margin parameter C (RBF gamma is 1 / number of features, on standardised features).
    boost_weak_count : int
        Number of Boost trees.
    note : callable
        Receives a line per image that could not be read.

    Returns
    -------
    TileModel
        Not yet saved (call :meth:`TileModel.save`).

    Raises
    ------
    TrainingError
        Bad tile settings, unknown ``kind``, no images, or a class without positive tiles.
    LabelError
        Classes that map to no category (named).
    """
    if kind not in ("svm", "boost"):
        raise TrainingError(f"model kind must be 'svm' or 'boost', got {kind!r}")
    tile, tile_m_value = _resolve_tile(tile_px, tile_m, gsd_m)
    mapping = map_classes(labelled.class_names, class_map)
    kept = [n for n in labelled.class_names if mapping.get(n)]
    if not kept:
        raise TrainingError(f"{labelled.root}: every class is dropped by the class map; nothing to learn")
    if not labelled.images:
        raise TrainingError(f"{labelled.root}: no usable labelled images")
    class_index = {n: i for i, n in enumerate(kept)}
    rng = np.random.default_rng(seed)
    x, y, counts = _sample(labelled, class_index, tile, pos_overlap=pos_overlap, neg_per_pos=neg_per_pos,
                           max_pos_per_class=max_pos_per_class, rng=rng, note=note)
    empty = [n for n in kept if counts.get(n, 0) == 0]
    if empty:
        raise TrainingError(f"{labelled.root}: no positive tiles for {', '.join(empty)} at a tile of {tile:.1f} px "
                            "(boxes too few or too small for the tile?)")
    if counts.get("negatives", 0) == 0:
        raise TrainingError(f"{labelled.root}: no negative tiles away from the boxes; the boxes cover the images")
    mean = x.mean(axis=0).astype(np.float64)
    std = x.std(axis=0).astype(np.float64)
    std[std < 1e-6] = 1.0
    xs = ((x - mean) / std).astype(np.float32)
    models, platt = [], []
    for name, c in class_index.items():
        target = (y == c).astype(np.int32)
        model = _fit(kind, xs, target, c=svm_c, weak_count=boost_weak_count)
        _, raw = model.predict(xs, flags=cv2.ml.STAT_MODEL_RAW_OUTPUT)
        models.append(model)
        platt.append(_fit_platt(raw.ravel().astype(np.float64), target.astype(np.float64)))
    training = {"source": str(labelled.root), "format": labelled.format, "images": len(labelled.images),
                "params": {"svm_c": svm_c} if kind == "svm" else {"boost_weak_count": boost_weak_count, "max_depth": 2},
                "image_names": [im.path.name for im in labelled.images], "tiles": counts,
                "pos_overlap": pos_overlap, "neg_per_pos": neg_per_pos, "seed": seed}
    return TileModel(kind=kind, class_names=tuple(kept), categories={n: mapping[n] for n in kept}, tile_px=tile,
                     tile_m=tile_m_value, gsd_m=gsd_m, mean=mean, std=std, models=models, platt=platt,
                     training=training)


def _fit(kind: str, x: np.ndarray, target: np.ndarray, *, c: float = 1.0, gamma: float | None = None,
         weak_count: int = 100, max_depth: int = 2):
    if kind == "svm":
        model = cv2.ml.SVM_create()
        model.setType(cv2.ml.SVM_C_SVC)
        model.setKernel(cv2.ml.SVM_RBF)
        model.setC(c)
        model.setGamma(gamma if gamma is not None else 1.0 / x.shape[1])
        model.setTermCriteria((cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 10000, 1e-4))
        model.train(x, cv2.ml.ROW_SAMPLE, target)
    else:
        model = cv2.ml.Boost_create()
        model.setBoostType(cv2.ml.BOOST_REAL)
        model.setWeakCount(weak_count)
        model.setMaxDepth(max_depth)
        model.setUseSurrogates(False)
        var_type = np.array([cv2.ml.VAR_ORDERED] * x.shape[1] + [cv2.ml.VAR_CATEGORICAL], np.uint8)
        model.train(cv2.ml.TrainData_create(x, cv2.ml.ROW_SAMPLE, target, varType=var_type))
    return model


def evaluate_tiles(model: TileModel, labelled: LabelledSet, *, class_map: Mapping[str, str] | None = None,
                   threshold: float = 0.5, neg_per_pos: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """Tile-level accuracy of a model on labelled images it was not trained on.

    Tiles are drawn as in training (positives on boxes, negatives away from them,
    ``neg_per_pos`` negatives per positive) and scored; a tile is called positive for a
    class when its score is at least ``threshold``.

    Returns
    -------
    dict
        Per class ``{"tp", "fp", "fn", "tn", "tpr", "tnr", "balanced_accuracy"}``
        (balanced accuracy = (TPR + TNR) / 2; chance is 0.5).
    """
    mapping = map_classes(labelled.class_names, class_map) if class_map is not None else \
        {n: model.categories.get(n) for n in labelled.class_names}
    class_index = {n: model.class_names.index(n) for n in labelled.class_names
                   if mapping.get(n) and n in model.class_names}
    x, y, _ = _sample(labelled, class_index, model.tile_px, pos_overlap=0.5, neg_per_pos=neg_per_pos,
                      max_pos_per_class=100000, rng=np.random.default_rng(seed), note=lambda _: None)
    probs = model.probabilities(x)
    out: dict[str, Any] = {}
    for name, c in class_index.items():
        truth = y == c
        called = probs[:, c] >= threshold
        tp, fn = int(np.sum(called & truth)), int(np.sum(~called & truth))
        fp, tn = int(np.sum(called & ~truth)), int(np.sum(~called & ~truth))
        tpr = tp / (tp + fn) if tp + fn else 0.0
        tnr = tn / (tn + fp) if tn + fp else 0.0
        out[name] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "tpr": round(tpr, 4), "tnr": round(tnr, 4),
                     "balanced_accuracy": round((tpr + tnr) / 2, 4)}
    return out
