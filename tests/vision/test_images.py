"""Working-scale decoding (vision.images): DCT scaling, then a resize only when still too long."""

import cv2
import numpy as np
import pytest

from vision.errors import ImageReadError
from vision.images import load_photo_image


def _write_jpeg(path, width, height):
    # generated test image: a smooth gradient with a bright square at a known place
    y, x = np.mgrid[0:height, 0:width]
    img = np.dstack([(x * 255 // width), (y * 255 // height), np.full_like(x, 90)]).astype(np.uint8)
    img[height // 4:height // 2, width // 4:width // 2] = 255
    assert cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])


@pytest.mark.parametrize("size, expected", [
    ((4000, 2250), (1000, 563)),   # 1/4 decode already within bounds (DJI FC300S)
    ((2600, 1800), (1000, 692)),   # 1/2 decode is 1300 long: resized to 1000
    ((1640, 1232), (1000, 751)),   # full-size decode above the maximum: resized
    ((820, 616), (820, 616)),      # smaller than the minimum (CUAV samples): full size
])
def test_working_size(tmp_path, size, expected):
    path = tmp_path / "photo.jpg"
    _write_jpeg(path, *size)
    image = load_photo_image(path)
    assert (image.width_px, image.height_px) == expected
    assert (image.full_width_px, image.full_height_px) == size


def test_resized_image_keeps_the_mapping_to_stored_pixels(tmp_path):
    path = tmp_path / "photo.jpg"
    _write_jpeg(path, 2600, 1800)
    image = load_photo_image(path)
    # the bright square's centre, found in working pixels, maps back to its stored position
    ys, xs = np.nonzero(image.pixels.min(axis=2) > 240)
    u, v = image.to_full(xs.mean(), ys.mean())
    assert abs(float(u) - (2600 / 4 + 2600 / 2) / 2) < 6
    assert abs(float(v) - (1800 / 4 + 1800 / 2) / 2) < 6
    unresized = load_photo_image(path, max_long_side_px=None)
    assert unresized.width_px == 1300


def test_unreadable_file_names_the_file(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"not a jpeg")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        load_photo_image(path)
