"""Camera model: GSD, ground footprint, line spacing and trigger distance; a small catalogue.

The formulas are the standard pinhole photogrammetry relations for a nadir camera over flat
ground, as in OpenDroneMap's ``opendm/gsd.py`` (``calculate_gsd``) and Pix4D's GSD
calculator::

    GSD [cm/px]      = sensor_width_mm * alt_m * 100 / (focal_length_mm * image_width_px)
    footprint [m]    = sensor_size_mm * alt_m / focal_length_mm          (per image axis)
    line spacing [m] = footprint_across * (1 - side_overlap)
    trigger dist [m] = footprint_along * (1 - front_overlap)

Orientation convention: the image **width** lies across the track and the image height along
it (the usual landscape mounting of QGroundControl's survey), so the across-track footprint
comes from ``sensor_width_mm`` and the along-track one from ``sensor_height_mm``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from missions.errors import MissionError

__all__ = ["Camera", "CAMERAS"]


def _check_overlap(name: str, value: float) -> None:
    if not (0.0 <= value < 1.0) or math.isnan(value):
        raise MissionError(f"{name} must be a fraction in [0, 1), got {value!r}")


def _check_alt(alt_rel_m: float) -> None:
    if not alt_rel_m > 0.0:
        raise MissionError(f"altitude above home must be > 0 m, got {alt_rel_m!r}")


@dataclass(frozen=True)
class Camera:
    """A nadir frame camera.

    Parameters
    ----------
    name : str
        Display name.
    sensor_width_mm, sensor_height_mm : float
        Sensor size in millimetres (width along the image's long side).
    focal_length_mm : float
        Real (not 35 mm-equivalent) focal length in millimetres.
    image_width_px, image_height_px : int
        Image size in pixels.

    Raises
    ------
    MissionError
        If a dimension is not positive.

    Examples
    --------
    >>> cam = Camera("1-inch 20 MP", 13.2, 8.8, 8.8, 5472, 3648)
    >>> round(cam.gsd_cm_px(100.0), 2)
    2.74
    >>> round(cam.alt_for_gsd_m(2.74), 1)
    100.0
    >>> [round(v, 1) for v in cam.footprint_m(80.0)]
    [120.0, 80.0]
    >>> round(cam.line_spacing_m(80.0, 0.65), 1), round(cam.trigger_distance_m(80.0, 0.75), 1)
    (42.0, 20.0)
    """

    name: str
    sensor_width_mm: float
    sensor_height_mm: float
    focal_length_mm: float
    image_width_px: int
    image_height_px: int

    def __post_init__(self) -> None:
        for field_name in ("sensor_width_mm", "sensor_height_mm", "focal_length_mm",
                           "image_width_px", "image_height_px"):
            value = getattr(self, field_name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise MissionError(
                    f"camera {self.name!r}: {field_name} must be > 0, got {value!r}")

    def gsd_cm_px(self, alt_rel_m: float) -> float:
        """Ground sampling distance in cm/px at ``alt_rel_m`` metres above flat ground."""
        _check_alt(alt_rel_m)
        return (self.sensor_width_mm * alt_rel_m * 100.0
                / (self.focal_length_mm * self.image_width_px))

    def alt_for_gsd_m(self, gsd_cm_px: float) -> float:
        """Altitude above ground in metres giving ``gsd_cm_px`` (inverse of :meth:`gsd_cm_px`)."""
        if not gsd_cm_px > 0.0:
            raise MissionError(f"GSD must be > 0 cm/px, got {gsd_cm_px!r}")
        return (gsd_cm_px * self.focal_length_mm * self.image_width_px
                / (self.sensor_width_mm * 100.0))

    def footprint_m(self, alt_rel_m: float) -> tuple[float, float]:
        """Ground footprint ``(across_m, along_m)`` of one nadir image at ``alt_rel_m``."""
        _check_alt(alt_rel_m)
        return (self.sensor_width_mm * alt_rel_m / self.focal_length_mm,
                self.sensor_height_mm * alt_rel_m / self.focal_length_mm)

    def line_spacing_m(self, alt_rel_m: float, side_overlap: float) -> float:
        """Distance in metres between adjacent survey lines for ``side_overlap`` (fraction 0-1)."""
        _check_overlap("side_overlap", side_overlap)
        return self.footprint_m(alt_rel_m)[0] * (1.0 - side_overlap)

    def trigger_distance_m(self, alt_rel_m: float, front_overlap: float) -> float:
        """Distance in metres between photos along a line for ``front_overlap`` (fraction 0-1)."""
        _check_overlap("front_overlap", front_overlap)
        return self.footprint_m(alt_rel_m)[1] * (1.0 - front_overlap)


#: Common patrol cameras with the manufacturers' published figures (see each comment).
CAMERAS: dict[str, Camera] = {
    # DJI Phantom 4 Pro / Pro V2.0 (FC6310): 1" CMOS 20 MP, lens FOV 84 deg, 8.8 mm (24 mm
    # equivalent), 5472x3648 at 3:2 - DJI specs, https://www.dji.com/phantom-4-pro/info.
    # A 1" type sensor is 13.2 x 8.8 mm (the figure OpenDroneMap's gsd.py doctest uses).
    "dji-phantom4pro": Camera("DJI Phantom 4 Pro (FC6310)", 13.2, 8.8, 8.8, 5472, 3648),
    # DJI Phantom 3 Professional / Advanced (FC300X / FC300S): Sony EXMOR 1/2.3" 12.4 MP,
    # FOV 94 deg, 20 mm equivalent, 4000x3000 at 4:3 - DJI specs,
    # https://www.dji.com/phantom-3-pro/info. Real focal length 3.61 mm as written in the EXIF
    # of the bundled FC300S photos (flight_logs/samples/photos/brighton_beach_dji_fc300s, which
    # were shot in 16:9 mode, 4000x2250); 1/2.3" type sensor 6.17 x 4.55 mm.
    "dji-phantom3-fc300s": Camera("DJI Phantom 3 Pro/Advanced (FC300X/FC300S)",
                                  6.17, 4.55, 3.61, 4000, 3000),
    # Parrot Sequoia RGB: 16 MP, 4608x3456 - Parrot Sequoia specifications,
    # https://www.parrot.com/en/shop/accessories-spare-parts/other-drones/sequoia. Focal
    # length 4.88 mm and focal-plane resolution 746.27 px/mm (-> 6.175 x 4.631 mm) from the
    # EXIF of the bundled Sequoia photos (flight_logs/samples/photos/garfield_park_sequoia_rgb);
    # QGroundControl's CameraMetaData.json lists 6.17 x 4.63 mm, 4.9 mm.
    "parrot-sequoia-rgb": Camera("Parrot Sequoia RGB", 6.175, 4.631, 4.88, 4608, 3456),
    # DJI Mavic 3 Enterprise (M3E) wide camera: 4/3 CMOS 20 MP, FOV 84 deg, 24 mm equivalent,
    # 5280x3956 - DJI specs, https://enterprise.dji.com/mavic-3-enterprise/specs. Four Thirds
    # sensor 17.3 x 13.0 mm; real focal length 12.0 mm derived from the published 84 deg
    # diagonal FOV (21.64 mm diagonal / (2 tan 42 deg)), matching the 24 mm equivalent.
    "dji-mavic3e-wide": Camera("DJI Mavic 3 Enterprise wide (M3E)", 17.3, 13.0, 12.0, 5280, 3956),
}
