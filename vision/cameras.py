"""Camera intrinsics of photos: the sensor table keyed by EXIF model, and a 35 mm fallback.

EXIF gives the focal length but rarely the sensor size. The sensor figures come from the
missions package's camera catalogue (:data:`missions.camera.CAMERAS`, one source of truth,
each entry citing the manufacturer's specifications), looked up by the EXIF ``Model`` the
camera writes; cameras the catalogue does not hold are added here with their sources:

=========  ===================================  ==================================================
EXIF model camera                               figures
=========  ===================================  ==================================================
FC300S,    DJI Phantom 3 Pro / Advanced          catalogue ``dji-phantom3-fc300s``: 1/2.3" 6.17 x
FC300X                                           4.55 mm, 3.61 mm lens (DJI specs: FOV 94 deg, 20 mm
                                                 equivalent)
FC6310,    DJI Phantom 4 Pro / Pro V2.0          catalogue ``dji-phantom4pro``: 1" 13.2 x 8.8 mm,
FC6310S                                          8.8 mm lens (DJI specs: FOV 84 deg, 24 mm equiv.)
Sequoia    Parrot Sequoia RGB                    catalogue ``parrot-sequoia-rgb``: 6.175 x 4.631 mm,
                                                 4.88 mm (Parrot specs; EXIF focal-plane resolution)
IMX219     Raspberry Pi Camera Module v2         here: Sony IMX219, 3280x2464, 1.12 um pixels =
                                                 3.68 x 2.76 mm, 3.04 mm lens (Raspberry Pi camera
                                                 hardware documentation); tridge/cuav's calibration
                                                 ``cuav/data/PiCamV2/params_half.json`` (1640x1232,
                                                 sensorwidth 3.68, fx 1329 px) agrees within 2%.
=========  ===================================  ==================================================

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
from types import MappingProxyType

from missions.camera import CAMERAS, Camera
from vision.errors import CameraUnknownError
from vision.georef import CameraIntrinsics

__all__ = ["SENSORS", "intrinsics_for"]

FILM_DIAGONAL_MM = math.hypot(36.0, 24.0)

_IMX219 = Camera("Raspberry Pi Camera Module v2 (Sony IMX219)", 3.68, 2.76, 3.04, 3280, 2464)

#: EXIF ``Model`` (upper case) -> camera with its sensor and nominal lens.
SENSORS: MappingProxyType[str, Camera] = MappingProxyType({
    "FC300S": CAMERAS["dji-phantom3-fc300s"],
    "FC300X": CAMERAS["dji-phantom3-fc300s"],
    "FC6310": CAMERAS["dji-phantom4pro"],
    "FC6310S": CAMERAS["dji-phantom4pro"],
    "SEQUOIA": CAMERAS["parrot-sequoia-rgb"],
    "IMX219": _IMX219,
})


def intrinsics_for(
    model: str | None,
    width_px: int | None,
    height_px: int | None,
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
        EXIF ``FocalLength``; the camera's nominal lens when None.
    focal_35mm : float, optional
        EXIF ``FocalLengthIn35mmFilm``, used when the model is not in the table.
    source : str
        Names the photo in error messages.

    Raises
    ------
    CameraUnknownError
        If the image size is unknown, or the model is not in the table and no 35 mm-equivalent
        focal length is given.

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
    spec = SENSORS.get((model or "").strip().upper())
    if spec is not None:
        focal = focal_length_mm if focal_length_mm and focal_length_mm > 0 else spec.focal_length_mm
        long_mm = max(spec.sensor_width_mm, spec.sensor_height_mm)
        if height_px > width_px:  # portrait: the long side of the sensor is vertical
            return CameraIntrinsics(focal, long_mm * width_px / height_px, long_mm, int(width_px), int(height_px))
        return CameraIntrinsics(focal, long_mm, long_mm * height_px / width_px, int(width_px), int(height_px))
    if focal_35mm and focal_35mm > 0:
        diag_px = math.hypot(width_px, height_px)
        return CameraIntrinsics(float(focal_35mm), FILM_DIAGONAL_MM * width_px / diag_px,
                                FILM_DIAGONAL_MM * height_px / diag_px, int(width_px), int(height_px))
    known = ", ".join(sorted(SENSORS))
    raise CameraUnknownError(
        f"{source}: camera model {model!r} is not in the sensor table ({known}) and the photo has "
        "no EXIF FocalLengthIn35mmFilm, so its field of view is unknown (give the photo set's "
        "camera model explicitly)")
