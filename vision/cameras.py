"""Camera intrinsics of photos: a sensor table keyed by EXIF model, and a 35 mm fallback.

EXIF gives the focal length but rarely the sensor size, so the sensor width comes from a table
of the cameras the project has seen, with the manufacturers' figures:

=========  =======================================  =================================================
key        camera                                   source of the figures
=========  =======================================  =================================================
FC300S     DJI Phantom 3 Professional camera        DJI specs: 1/2.3-inch CMOS, 12.4 MP, 4000x3000,
                                                    FOV 94 deg, 20 mm (35 mm equiv.) f/2.8; EXIF
                                                    FocalLength 3.61 mm. A 1/2.3-inch type sensor
                                                    is 6.17 x 4.55 mm (4:3).
FC300X     DJI Phantom 3 Advanced camera            same sensor and lens as FC300S (DJI specs).
FC6310     DJI Phantom 4 Pro camera                 DJI specs: 1-inch CMOS 20 MP, 5472x3648, FOV 84
FC6310S    DJI Phantom 4 Pro V2.0 camera            deg, 8.8 mm / 24 mm (35 mm equiv.); 13.2 x 8.8 mm.
SEQUOIA    Parrot Sequoia RGB camera                Parrot specs: 16 MP, 4608x3456, 1.34 um pixels
                                                    (6.17 x 4.63 mm), focal length 4.88 mm; the
                                                    photos' EXIF FocalPlaneXResolution says the same.
IMX219     Raspberry Pi Camera Module v2            Raspberry Pi documentation: Sony IMX219, 3280x
                                                    2464, 1.12 um pixels, 3.68 x 2.76 mm, 3.04 mm
                                                    lens; tridge/cuav's own calibration
                                                    (cuav/data/PiCamV2/params_half.json: 1640x1232,
                                                    sensorwidth 3.68, fx 1329 px) agrees within 2%.
=========  =======================================  =================================================

An image is assumed to span the sensor's full width with square pixels (true of the 16:9 and
3:2 modes of these cameras, which crop the height), so the covered sensor height is
``sensor_width_mm * height_px / width_px``; portrait images span the full height instead.

When the model is not in the table, the EXIF 35 mm-equivalent focal length
(``FocalLengthIn35mmFilm``) fixes the field of view: the equivalent sensor has the 43.27 mm
diagonal of 36 x 24 mm film and the image's aspect ratio (CIPA DC-008 defines the equivalent
focal length by that diagonal). Only the ratio focal/sensor matters to georeferencing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from vision.errors import CameraUnknownError
from vision.georef import CameraIntrinsics

__all__ = ["SENSORS", "SensorSpec", "exif_focal_35mm", "intrinsics_for"]

FILM_DIAGONAL_MM = math.hypot(36.0, 24.0)


@dataclass(frozen=True)
class SensorSpec:
    """A camera's sensor and lens, from the manufacturer's figures.

    Parameters
    ----------
    name : str
        Camera name.
    sensor_width_mm, sensor_height_mm : float
        Full sensor size, mm.
    focal_length_mm : float
        Nominal focal length, mm (used when EXIF has none).
    native_width_px, native_height_px : int
        Full-resolution image size.
    """

    name: str
    sensor_width_mm: float
    sensor_height_mm: float
    focal_length_mm: float
    native_width_px: int
    native_height_px: int


SENSORS: dict[str, SensorSpec] = {
    "FC300S": SensorSpec("DJI Phantom 3 Professional (FC300S)", 6.17, 4.55, 3.61, 4000, 3000),
    "FC300X": SensorSpec("DJI Phantom 3 Advanced (FC300X)", 6.17, 4.55, 3.61, 4000, 3000),
    "FC6310": SensorSpec("DJI Phantom 4 Pro (FC6310)", 13.2, 8.8, 8.8, 5472, 3648),
    "FC6310S": SensorSpec("DJI Phantom 4 Pro V2.0 (FC6310S)", 13.2, 8.8, 8.8, 5472, 3648),
    "SEQUOIA": SensorSpec("Parrot Sequoia RGB", 6.17, 4.63, 4.88, 4608, 3456),
    "IMX219": SensorSpec("Raspberry Pi Camera Module v2 (Sony IMX219)", 3.68, 2.76, 3.04, 3280, 2464),
}


def _key(model: str | None) -> str:
    return (model or "").strip().upper()


def intrinsics_for(
    model: str | None,
    width_px: int,
    height_px: int,
    *,
    focal_length_mm: float | None = None,
    focal_35mm: float | None = None,
    source: str = "photo",
) -> CameraIntrinsics:
    """Intrinsics of an image from its camera model, EXIF focal length and size.

    Parameters
    ----------
    model : str or None
        EXIF ``Model`` (a key of :data:`SENSORS`, case-insensitive).
    width_px, height_px : int
        Size of the image as stored.
    focal_length_mm : float, optional
        EXIF ``FocalLength``; the table's nominal lens when None.
    focal_35mm : float, optional
        EXIF ``FocalLengthIn35mmFilm``, used when the model is not in the table.
    source : str
        Names the photo in error messages.

    Raises
    ------
    CameraUnknownError
        If the model is not in the table and no 35 mm-equivalent focal length is given.

    Examples
    --------
    >>> cam = intrinsics_for("FC300S", 4000, 2250, focal_length_mm=3.61)
    >>> round(cam.sensor_height_mm, 3), round(cam.gsd_cm_px(40.0), 2)
    (3.471, 1.71)
    >>> round(intrinsics_for("X5", 4000, 3000, focal_35mm=20).gsd_cm_px(40.0), 2)
    1.73
    """
    if not (width_px and height_px and width_px > 0 and height_px > 0):
        raise CameraUnknownError(f"{source}: image size unknown ({width_px} x {height_px} px)")
    spec = SENSORS.get(_key(model))
    if spec is not None:
        focal = focal_length_mm if focal_length_mm and focal_length_mm > 0 else spec.focal_length_mm
        if height_px > width_px:  # portrait: the long side of the sensor is vertical
            sh = spec.sensor_width_mm
            return CameraIntrinsics(focal, sh * width_px / height_px, sh, int(width_px), int(height_px))
        sw = spec.sensor_width_mm
        return CameraIntrinsics(focal, sw, sw * height_px / width_px, int(width_px), int(height_px))
    if focal_35mm and focal_35mm > 0:
        diag_px = math.hypot(width_px, height_px)
        sw = FILM_DIAGONAL_MM * width_px / diag_px
        sh = FILM_DIAGONAL_MM * height_px / diag_px
        return CameraIntrinsics(float(focal_35mm), sw, sh, int(width_px), int(height_px))
    known = ", ".join(sorted(SENSORS))
    raise CameraUnknownError(
        f"{source}: camera model {model!r} is not in the sensor table ({known}) and the photo has "
        "no EXIF FocalLengthIn35mmFilm: its field of view is unknown")


def exif_focal_35mm(path: Path | str) -> float | None:
    """EXIF ``FocalLengthIn35mmFilm`` of an image file, or None when absent (ExifRead).

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    import exifread

    with open(path, "rb") as f:
        tags = exifread.process_file(f, details=False, stop_tag="FocalLengthIn35mmFilm")
    tag = tags.get("EXIF FocalLengthIn35mmFilm")
    if tag is None:
        return None
    try:
        value = float(tag.values[0])
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    return value if value > 0 else None
