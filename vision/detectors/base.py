"""The one detector interface: what a detector gets, what it returns, and how it is configured.

A detector is any object with a ``name`` and ``detect(photo_image, context) ->
list[Detection]``. It receives the photo's pixels at working scale (:class:`PhotoImage`) and a
:class:`DetectionContext` holding the photo row, its pose and intrinsics, its ground footprint
and, for change detection, views of reference photos of the same ground from earlier passes.
It returns :class:`Detection` values located on the ground; it never touches the database.

Categories are the event classes of GB/T 30428.2 in snake_case English (:data:`CATEGORIES`).
Each detector is configured per category with :class:`CategoryConfig` (enabled, minimum
score, minimum ground area); ``get_detector(name, categories={...}, **options)`` merges the
caller's values over the detector's defaults and rejects unknown names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np
from shapely.geometry import Polygon
from shapely.validation import make_valid

from patrol.geodesy import LocalProjection
from vision.errors import DetectorError
from vision.features import Features
from vision.georef import CameraIntrinsics, CameraPose, pixel_to_ground
from vision.images import PhotoImage

__all__ = [
    "CATEGORIES",
    "CategoryConfig",
    "Detection",
    "DetectionContext",
    "Detector",
    "PhotoView",
    "detection_from_contour",
    "detector_names",
    "get_detector",
    "merge_category_config",
    "register",
]

#: GB/T 30428.2 event classes a drone can see, snake_case English -> the standard's name.
CATEGORIES: Mapping[str, str] = MappingProxyType({
    "exposed_garbage": "暴露垃圾",
    "construction_waste": "积存垃圾渣土",
    "illegal_structure": "私搭乱建",
    "construction_dust": "工地扬尘",
    "open_burning": "露天焚烧",
    "street_vending": "店外经营 / 无照经营游商",
    "illegal_parking": "机动车/非机动车乱停放",
    "illegal_banner": "违章张贴悬挂",
    "water_litter": "水域不洁",
})


@dataclass(frozen=True)
class CategoryConfig:
    """Per-category settings of a detector.

    Parameters
    ----------
    enabled : bool
        Report this category at all.
    min_score : float
        Drop detections scoring below this (0-1).
    min_area_m2 : float
        Drop regions smaller than this on the ground, square metres.
    max_area_m2 : float
        Drop regions larger than this on the ground, square metres.
    """

    enabled: bool = True
    min_score: float = 0.0
    min_area_m2: float = 0.0
    max_area_m2: float = float("inf")

    def accepts(self, score: float, area_m2: float) -> bool:
        """True when a detection of this category passes the settings."""
        return self.enabled and score >= self.min_score and self.min_area_m2 <= area_m2 <= self.max_area_m2


def merge_category_config(defaults: Mapping[str, CategoryConfig],
                          overrides: Mapping[str, Mapping[str, Any] | CategoryConfig] | None,
                          *, detector: str) -> dict[str, CategoryConfig]:
    """Caller's per-category values over a detector's defaults.

    Raises
    ------
    DetectorError
        For a category the detector does not produce or a setting that does not exist.
    """
    merged = dict(defaults)
    known = {f.name for f in fields(CategoryConfig)}
    for category, value in (overrides or {}).items():
        if category not in defaults:
            raise DetectorError(
                f"detector {detector!r} has no category {category!r} (it reports {sorted(defaults)})")
        if isinstance(value, CategoryConfig):
            merged[category] = value
            continue
        unknown = set(value) - known
        if unknown:
            raise DetectorError(f"detector {detector!r}, category {category!r}: unknown settings {sorted(unknown)}")
        merged[category] = replace(defaults[category], **dict(value))
    return merged


@dataclass(frozen=True)
class PhotoView:
    """A georeferenced photo as detectors see it.

    Parameters
    ----------
    photo : flight_logs.models.Photo or any object with ``id``, ``taken_utc``, ``stored_path``
    image : PhotoImage
        Pixels at working scale.
    pose : CameraPose
    intrinsics : CameraIntrinsics
        Of the **stored** image (pixel coordinates of ``bbox_px``).
    footprint_wgs84 : shapely Polygon
    features : Features, optional
        Keypoints of ``image.pixels`` (working scale), computed once and shared.
    """

    photo: Any
    image: PhotoImage
    pose: CameraPose
    intrinsics: CameraIntrinsics
    footprint_wgs84: Polygon
    features: Features | None = None

    @property
    def photo_id(self) -> int | None:
        return getattr(self.photo, "id", None)

    def gsd_m_work(self) -> float:
        """Nadir ground sample distance of the working image, metres per pixel."""
        sx, _ = self.image.scale
        return self.intrinsics.gsd_cm_px(self.pose.height_agl_m) / 100.0 / sx


@dataclass(frozen=True)
class DetectionContext:
    """What a detector knows about the photo besides its pixels.

    Parameters
    ----------
    view : PhotoView
        The photo analysed.
    references : tuple of PhotoView
        Earlier photos of the same ground, best first (for change detection).
    """

    view: PhotoView
    references: tuple[PhotoView, ...] = ()

    @property
    def photo(self) -> Any:
        return self.view.photo

    @property
    def pose(self) -> CameraPose:
        return self.view.pose

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return self.view.intrinsics


@dataclass(frozen=True)
class Detection:
    """One detector hit in one photo, located on the ground.

    Parameters
    ----------
    category : str
        A key of :data:`CATEGORIES`.
    bbox_px : tuple of float
        ``(x, y, w, h)`` in the stored image's pixels.
    score : float
        Confidence 0-1 (a detector-specific calibration; see each detector).
    polygon_wgs84 : shapely Polygon
        Outline on the ground, WGS84 lon/lat.
    area_m2 : float
        Ground area of the outline, square metres (UTM).
    detector : str
        Name of the detector that made it.
    reference_photo_id : int or None
        The earlier photo compared against (change detection).
    details : mapping
        Detector-specific measurements (for review and evaluation).
    """

    category: str
    bbox_px: tuple[float, float, float, float]
    score: float
    polygon_wgs84: Polygon
    area_m2: float
    detector: str = ""
    reference_photo_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise DetectorError(f"unknown category {self.category!r}: use one of {sorted(CATEGORIES)}")
        if not 0.0 <= self.score <= 1.0:
            raise DetectorError(f"detection score must be in [0, 1], got {self.score!r}")

    @property
    def centre_lonlat(self) -> tuple[float, float]:
        """A point inside the ground outline (shapely ``representative_point``), lon/lat degrees."""
        p = self.polygon_wgs84.representative_point()
        return float(p.x), float(p.y)


@runtime_checkable
class Detector(Protocol):
    """A detector: a ``name`` and ``detect(photo_image, context)``."""

    name: str

    def detect(self, photo_image: PhotoImage, context: DetectionContext) -> list[Detection]:
        """Find problems in one photo; raise a VisionError subclass for a photo it cannot use."""
        ...


_REGISTRY: dict[str, Callable[..., Detector]] = {}


def register(name: str) -> Callable[[Callable[..., Detector]], Callable[..., Detector]]:
    """Class decorator: make a detector factory available as ``get_detector(name, ...)``.

    Raises
    ------
    DetectorError
        If the name is taken.
    """
    def wrap(factory: Callable[..., Detector]) -> Callable[..., Detector]:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise DetectorError(f"a detector named {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory
    return wrap


def detector_names() -> list[str]:
    """Names of the registered detectors, sorted."""
    return sorted(_REGISTRY)


def get_detector(name: str, **config: Any) -> Detector:
    """Build a registered detector with its configuration (``categories={...}`` and options).

    Raises
    ------
    DetectorError
        If no detector has that name or the configuration is invalid.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise DetectorError(f"no detector named {name!r} (registered: {detector_names()})") from None
    try:
        return factory(**config)
    except TypeError as err:
        raise DetectorError(f"detector {name!r}: bad configuration ({err})") from err


def detection_from_contour(view: PhotoView, contour_work_px: np.ndarray, *, category: str, score: float,
                           detector: str, reference_photo_id: int | None = None,
                           details: Mapping[str, Any] | None = None) -> Detection:
    """A :class:`Detection` from a region outline in working-scale pixels.

    The outline is simplified (Douglas-Peucker, 1 working pixel), mapped to stored-image
    pixels for ``bbox_px`` and projected to the ground for the polygon and its area.

    Parameters
    ----------
    contour_work_px : ndarray (N, 1, 2) or (N, 2)
        OpenCV contour in the working image.

    Raises
    ------
    GeoreferenceError
        If the outline's rays miss the ground.
    """
    pts = cv2.approxPolyDP(contour_work_px.reshape(-1, 1, 2).astype(np.int32), 1.0, True).reshape(-1, 2)
    if len(pts) < 3:
        pts = contour_work_px.reshape(-1, 2)
    x, y, w, h = cv2.boundingRect(contour_work_px.reshape(-1, 1, 2).astype(np.int32))
    u, v = view.image.to_full(pts[:, 0].astype(float), pts[:, 1].astype(float))
    bx, by = view.image.to_full(np.array([x, x + w], float), np.array([y, y + h], float))
    lon, lat = pixel_to_ground(view.pose, view.intrinsics, u, v)
    poly = Polygon(np.column_stack([lon, lat]))
    if not poly.is_valid:
        fixed = make_valid(poly)
        polys = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type == "Polygon"]
        poly = max(polys, key=lambda g: g.area) if polys else poly.convex_hull
    area = float(LocalProjection.for_geometry(poly).project(poly).area)
    return Detection(category=category, bbox_px=(float(bx[0]), float(by[0]), float(bx[1] - bx[0]), float(by[1] - by[0])),
                     score=float(np.clip(score, 0.0, 1.0)), polygon_wgs84=poly, area_m2=area, detector=detector,
                     reference_photo_id=reference_photo_id, details=dict(details or {}))
