"""Raw files kept by content hash under the data root.

Layout: ``<data_dir>/raw/<kind>/<sha256[:2]>/<sha256><suffix>``. Storing the same bytes
twice writes nothing new, so importing a file again is harmless.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["file_sha256", "resolve_stored", "store_file"]

_CHUNK = 1 << 20


def file_sha256(path: Path | str) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def store_file(data_dir: Path, src: Path | str, kind: str, *, sha256: str | None = None) -> tuple[str, str]:
    """Copy ``src`` into the archive unless the same content is already there.

    Parameters
    ----------
    data_dir : Path
        The data root.
    src : Path
        The file to keep.
    kind : str
        Folder under ``raw/`` (``"tlog"``, ``"dataflash"``, ``"photo"``...).
    sha256 : str, optional
        The file's hash when the caller already has it.

    Returns
    -------
    (sha256, stored_path)
        ``stored_path`` is relative to ``data_dir`` (POSIX separators).

    Raises
    ------
    OSError
        If ``src`` cannot be read or the archive cannot be written.
    """
    src = Path(src)
    digest = sha256 or file_sha256(src)
    rel = Path("raw") / kind / digest[:2] / f"{digest}{src.suffix.lower()}"
    dest = Path(data_dir) / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return digest, rel.as_posix()


def resolve_stored(data_dir: Path, stored_path: str) -> Path:
    """Absolute path of an archived file; refuses paths that leave the data root.

    Raises
    ------
    ValueError
        If ``stored_path`` is absolute or climbs out of ``data_dir``.
    """
    root = Path(data_dir).resolve()
    path = (root / stored_path).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"{stored_path!r} is outside the data root {root}")
    return path
