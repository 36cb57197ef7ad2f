"""Evidence photos of cases: checked, then kept under the data root by content hash.

An upload is accepted when Pillow reads it as a JPEG, PNG or WebP image of at most
:data:`MAX_PHOTO_BYTES`; it is stored as ``raw/case_photo/<sha256[:2]>/<sha256>.<ext>``
(:func:`flight_logs.store.store_file`), so the same photo uploaded twice is kept once. The
console serves it from the data root only (``/files/...``).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from flight_logs.store import store_file
from web.errors import WebError

__all__ = ["EvidenceError", "MAX_PHOTO_BYTES", "PHOTO_FORMATS", "StoredPhoto", "store_case_photo"]

MAX_PHOTO_BYTES = 25 * 1024 * 1024
"""Largest accepted photo, bytes (a 48 MP phone JPEG is 10-20 MB)."""

MAX_PHOTO_PIXELS = 120_000_000
"""Largest accepted photo, pixels (guards against decompression bombs)."""

PHOTO_FORMATS = {"JPEG": (".jpg", "image/jpeg"), "MPO": (".jpg", "image/jpeg"),
                 "PNG": (".png", "image/png"),
                 "WEBP": (".webp", "image/webp")}
"""Pillow format -> (stored suffix, MIME type). MPO is a JPEG with more images appended (CIPA
DC-007): what DJI drones and many phones write; Pillow reports it as "MPO"."""

KIND = "case_photo"


class EvidenceError(WebError):
    """An upload that is not an acceptable photo (the message names the file and why)."""


@dataclass(frozen=True)
class StoredPhoto:
    """A photo kept in the data root: ``stored_path`` is relative to it (POSIX)."""

    sha256: str
    stored_path: str
    original_name: str
    content_type: str
    size_bytes: int
    width_px: int
    height_px: int


def store_case_photo(data_dir: Path | str, content: bytes, original_name: str) -> StoredPhoto:
    """Check ``content`` is a photo and keep it under ``data_dir`` by its SHA-256.

    Parameters
    ----------
    data_dir : Path
        The data root.
    content : bytes
        The uploaded file.
    original_name : str
        The name the user's device gave it (kept for display only; never used as a path).

    Raises
    ------
    EvidenceError
        If the file is empty, larger than :data:`MAX_PHOTO_BYTES` or
        :data:`MAX_PHOTO_PIXELS`, or not a JPEG, PNG or WebP image.
    OSError
        If the data root cannot be written.
    """
    name = Path(original_name or "photo").name[:300]
    if not content:
        raise EvidenceError(f"{name}: the file is empty")
    if len(content) > MAX_PHOTO_BYTES:
        raise EvidenceError(f"{name}: {len(content) / 1e6:.1f} MB is more than the "
                            f"{MAX_PHOTO_BYTES / 1e6:.0f} MB a photo may have")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as img:
                fmt, (width, height) = img.format, img.size
                if width * height > MAX_PHOTO_PIXELS:
                    raise EvidenceError(f"{name}: {width}x{height} pixels is more than "
                                        f"{MAX_PHOTO_PIXELS:,} pixels")
                img.verify()
    except EvidenceError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise EvidenceError(f"{name}: not a readable image ({err})") from err
    if fmt not in PHOTO_FORMATS:
        raise EvidenceError(f"{name}: {fmt} images are not accepted; send JPEG, PNG or WebP")
    suffix, mime = PHOTO_FORMATS[fmt]
    digest = hashlib.sha256(content).hexdigest()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".upload-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        _, stored = store_file(data_dir, tmp, KIND, sha256=digest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return StoredPhoto(sha256=digest, stored_path=stored, original_name=name, content_type=mime,
                       size_bytes=len(content), width_px=width, height_px=height)
