"""Reading photos at a working scale for the detectors (the I/O edge of the package).

Detectors work on a downscaled copy: the JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg's
DCT scaling (``cv2.IMREAD_REDUCED_COLOR_*``), which is several times faster than decoding the
full image and resizing. The factor is the largest that keeps the long side at or above
``min_long_side_px`` (default 1000): a 4000 x 2250 DJI photo is read at 1000 x 563 (1/4), a
4608 x 3456 Sequoia photo at 1152 x 864 (1/4), an 820 x 616 frame at full size. DCT scaling
only halves, so a decode whose long side is still above ``max_long_side_px`` (default 1250) is
resized (``cv2.INTER_AREA``) to ``min_long_side_px``: a 5472 x 3648 (20 MP) photo decodes at
1368 x 912 and works at 1000 x 667, a 1640 x 1232 frame at 1000 x 751. The work of every
later stage grows with the pixel count, so it stays about the same per photo whatever the
sensor; the detectors' figures in docs/BENCHMARKS.md were measured at these working sizes.
The EXIF orientation flag is ignored so that pixels stay in the sensor's layout, which the
attitude refers to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.errors import ImageReadError

__all__ = ["PhotoImage", "image_size", "load_photo_image"]

_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}


@dataclass(frozen=True)
class PhotoImage:
    """A photo's pixels at working scale and the size of the stored image.

    Parameters
    ----------
    pixels : ndarray (H, W, 3) uint8
        BGR pixels at working scale.
    full_width_px, full_height_px : int
        Size of the stored image.
    path : Path
        The image file.
    """

    pixels: np.ndarray
    full_width_px: int
    full_height_px: int
    path: Path

    @property
    def width_px(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height_px(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def scale(self) -> tuple[float, float]:
        """Working pixels per stored pixel along x and y."""
        return self.width_px / self.full_width_px, self.height_px / self.full_height_px

    def to_full(self, u_px, v_px) -> tuple[np.ndarray, np.ndarray]:
        """Working-scale pixel coordinates -> stored-image pixel coordinates."""
        sx, sy = self.scale
        return np.asarray(u_px, dtype=float) / sx, np.asarray(v_px, dtype=float) / sy

    def to_work(self, u_px, v_px) -> tuple[np.ndarray, np.ndarray]:
        """Stored-image pixel coordinates -> working-scale pixel coordinates."""
        sx, sy = self.scale
        return np.asarray(u_px, dtype=float) * sx, np.asarray(v_px, dtype=float) * sy


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels of an image file, from its header (Pillow, no decode).

    Raises
    ------
    ImageReadError
        If the file is missing or not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except FileNotFoundError as err:
        raise ImageReadError(f"{path}: image file not found") from err
    except (UnidentifiedImageError, OSError) as err:
        raise ImageReadError(f"{path}: not a readable image ({err})") from err


def load_photo_image(path: Path | str, *, min_long_side_px: int = 1000,
                     max_long_side_px: int | None = 1250) -> PhotoImage:
    """Decode a photo at the smallest JPEG scale keeping ``min_long_side_px`` on its long side.

    Parameters
    ----------
    path : Path or str
        Image file (JPEG for the DCT-scaled decode; other formats are decoded in full).
    min_long_side_px : int
        Smallest acceptable long side of the working image.
    max_long_side_px : int or None
        Largest long side kept as decoded; a longer one is resized to ``min_long_side_px``
        (None: never resize).

    Returns
    -------
    PhotoImage

    Raises
    ------
    ImageReadError
        If the file is missing or cannot be decoded.
    """
    path = Path(path)
    width, height = image_size(path)
    long_side = max(width, height)
    factor = 1
    for f in (8, 4, 2):
        if long_side / f >= min_long_side_px:
            factor = f
            break
    pixels = cv2.imread(str(path), _REDUCED[factor] | cv2.IMREAD_IGNORE_ORIENTATION)
    if pixels is None or pixels.ndim != 3:
        raise ImageReadError(f"{path}: OpenCV could not decode the image")
    h, w = pixels.shape[:2]
    if max_long_side_px is not None and max(w, h) > max(max_long_side_px, min_long_side_px):
        k = min_long_side_px / max(w, h)
        pixels = cv2.resize(pixels, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    return PhotoImage(pixels=pixels, full_width_px=width, full_height_px=height, path=path)

