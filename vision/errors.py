"""Errors of the vision package.

::

    patrol.errors.PatrolError
     +-- VisionError                 (base of everything vision raises on purpose)
          +-- GeoreferenceError      (a photo lacks position, height or a usable attitude)
          +-- CameraUnknownError     (no sensor size: unknown model and no 35 mm focal length)
          +-- ImageReadError         (the photo file is missing or not a decodable image)
          +-- RegistrationError      (two photos could not be aligned by feature matching)
          +-- DetectorError          (unknown detector, bad detector configuration)
"""

from patrol.errors import PatrolError

__all__ = [
    "CameraUnknownError",
    "DetectorError",
    "GeoreferenceError",
    "ImageReadError",
    "RegistrationError",
    "VisionError",
]


class VisionError(PatrolError):
    """Base class of the vision package's errors; the message names the photo and the fault."""


class GeoreferenceError(VisionError):
    """A photo cannot be placed on the ground (no position, no height, ray above the horizon)."""


class CameraUnknownError(GeoreferenceError):
    """The camera's sensor size is unknown: model not in the sensor table, no 35 mm focal length."""


class ImageReadError(VisionError):
    """The image file is missing, unreadable or not a decodable image."""


class RegistrationError(VisionError):
    """Two images could not be registered (too few features, matches or RANSAC inliers)."""


class DetectorError(VisionError):
    """A detector name is not registered, or its configuration is invalid."""
