"""Files of the data root (photos, evidence crops, plans, logs) for logged-in users.

Only paths inside the data root, with a known file type, are served: the root also holds
the database and the secret key, which never leave it. Anything else is 404.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory
from werkzeug.security import safe_join

from web.database import console

bp = Blueprint("files", __name__, url_prefix="/files")

SERVED_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff",  # photos, evidence crops
    ".plan", ".waypoints", ".kml", ".kmz", ".geojson",  # mission files
    ".tlog", ".bin",  # raw logs
})


def resolve_served(data_dir: Path, stored_path: str) -> Path | None:
    """The file under ``data_dir`` that ``stored_path`` names, if it may be served, else None.

    Refuses ``..`` escapes, absolute paths, hidden files, symlinks leading out of the root
    and suffixes not in :data:`SERVED_SUFFIXES`.
    """
    joined = safe_join(str(data_dir), stored_path)
    if joined is None:
        return None
    path = Path(joined)
    root = Path(data_dir).resolve()
    if any(part.startswith(".") for part in Path(stored_path).parts):
        return None
    if path.suffix.lower() not in SERVED_SUFFIXES or not path.is_file():
        return None
    if not path.resolve().is_relative_to(root):
        return None
    return path


@bp.get("/<path:stored_path>")
def serve(stored_path: str):
    """A file of the data root by its stored (relative) path; 404 if it may not be served."""
    data_dir = console().settings.data_dir
    if resolve_served(data_dir, stored_path) is None:
        abort(404)
    return send_from_directory(data_dir, stored_path, max_age=3600)
