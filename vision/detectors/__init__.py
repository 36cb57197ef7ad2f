"""Detectors behind one interface (:mod:`vision.detectors.base`), registered by name.

Importing this package registers the built-in detectors: ``change`` (between passes) and
``colour`` (colour/texture rules).
"""

from vision.detectors.base import (CATEGORIES, CategoryConfig, Detection, DetectionContext, Detector,
                                   PhotoView, detection_from_contour, detector_names, get_detector,
                                   merge_category_config, register)
from vision.detectors.change import ChangeDetector, ChangeRule
from vision.detectors.change_maps import change_distance, change_mask
from vision.detectors.colour import ColourRule, ColourRuleDetector
from vision.detectors.onnx import OnnxDetector  # noqa: E402,F401  (registers "onnx")
from vision.detectors.tiles import TileDetector  # noqa: E402,F401  (registers "tiles")

__all__ = [
    "CATEGORIES",
    "CategoryConfig",
    "ChangeDetector",
    "ChangeRule",
    "ColourRule",
    "ColourRuleDetector",
    "Detection",
    "DetectionContext",
    "Detector",
    "PhotoView",
    "change_distance",
    "change_mask",
    "detection_from_contour",
    "detector_names",
    "get_detector",
    "merge_category_config",
    "register",
]
