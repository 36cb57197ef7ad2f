"""Vision: georeferencing photos, detectors behind one interface, findings on the ground.

Entry point: :func:`analyse_photos` (georeference, detect, merge into findings). Building
blocks: :mod:`vision.georef` (pixel <-> ground), :mod:`vision.cameras` (sensor table),
:mod:`vision.calibration` (checks from overlapping photos), :mod:`vision.reference`
(passes, reference photos), :mod:`vision.detectors` (the interface and the ``change`` and
``colour`` detectors), :mod:`vision.findings` (merging, evidence crops). Errors derive from
:class:`VisionError`. The tables are in :mod:`vision.models`.
"""

from vision.calibration import GroundElevation, PairMatch, estimate_ground_elevation, find_flipped_photos
from vision.cameras import SENSORS, intrinsics_for
from vision.detectors import (CATEGORIES, CategoryConfig, DetectionContext, Detector, PhotoView, detector_names,
                              get_detector, register)
from vision.errors import (CameraUnknownError, DetectorError, GeoreferenceError, ImageReadError,
                           RegistrationError, VisionError)
from vision.findings import MERGE_RADIUS_M, MergeResult, merge_detections
from vision.georef import CameraIntrinsics, CameraPose, footprint, ground_to_pixel, pixel_to_ground
from vision.images import PhotoImage, load_photo_image
from vision.pipeline import AnalysisReport, PhotoProblem, analyse_photos
from vision.placement import Placement, place_photo_set

__all__ = [
    "AnalysisReport",
    "CATEGORIES",
    "CameraIntrinsics",
    "CameraPose",
    "CameraUnknownError",
    "CategoryConfig",
    "DetectionContext",
    "Detector",
    "DetectorError",
    "GeoreferenceError",
    "GroundElevation",
    "ImageReadError",
    "MERGE_RADIUS_M",
    "MergeResult",
    "PairMatch",
    "PhotoImage",
    "PhotoProblem",
    "PhotoView",
    "Placement",
    "RegistrationError",
    "SENSORS",
    "VisionError",
    "analyse_photos",
    "detector_names",
    "estimate_ground_elevation",
    "find_flipped_photos",
    "footprint",
    "get_detector",
    "ground_to_pixel",
    "intrinsics_for",
    "load_photo_image",
    "merge_detections",
    "pixel_to_ground",
    "place_photo_set",
    "register",
]
