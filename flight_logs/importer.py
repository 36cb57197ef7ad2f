"""``patrol import``: archive any mix of tlogs, DataFlash logs and photo folders, one
transaction per item.

A bad file is reported with its reason and the rest carries on; what was stored before is
untouched because each file is imported in its own transaction. Every log's result has the
same keys (``path``, ``messages``, ``bad_bytes``, ``flights``...), also when it failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from flight_logs.dataflash import import_dataflash
from flight_logs.errors import ArchiveError
from flight_logs.models import Flight
from flight_logs.photos import import_photo_folder
from flight_logs.tlog import import_tlog

__all__ = ["import_paths", "flight_summary"]

TLOG_SUFFIXES = {".tlog"}
DATAFLASH_SUFFIXES = {".bin", ".log"}
JPEG_SUFFIXES = {".jpg", ".jpeg"}


def flight_summary(flight: Flight) -> dict:
    """A flight as JSON: ``start``/``end`` ISO 8601 UTC, durations in s, distances in m."""
    return {
        "id": flight.id,
        "start": flight.start_utc.isoformat(),
        "end": flight.end_utc.isoformat() if flight.end_utc else None,
        "duration_s": round(flight.duration_s, 1),
        "distance_m": round(flight.distance_m, 1),
        "max_alt_rel_m": round(flight.max_alt_rel_m, 1),
        "photo_count": flight.photo_count,
    }


def _log_kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "tlog" if suffix in TLOG_SUFFIXES else "dataflash" if suffix in DATAFLASH_SUFFIXES else None


def _expand(paths: Iterable[Path]) -> list[tuple[str, Path]]:
    """(kind, path) items: logs first, then photo folders, so photos can find their flight."""
    logs: list[tuple[str, Path]] = []
    folders: list[Path] = []
    other: list[tuple[str, Path]] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            found = [(kind, p) for p in files if (kind := _log_kind(p))]
            jpeg_dirs = sorted({p.parent for p in files if p.suffix.lower() in JPEG_SUFFIXES})
            logs += found
            folders += jpeg_dirs
            if not found and not jpeg_dirs:
                other.append(("unknown", path))
        elif kind := _log_kind(path):
            logs.append((kind, path))
        else:
            other.append(("unknown", path))
    return list(dict.fromkeys(logs)) + [("photos", p) for p in dict.fromkeys(folders)] + other


def import_paths(session_factory: sessionmaker, data_dir: Path, paths: Iterable[Path], *,
                 photo_set: str | None = None, local_utc_offset_h: float | None = None,
                 clock_offset_s: float = 0.0, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Import files and folders into the archive; one result dict per log or photo folder.

    Folders are searched for logs (``.tlog``; DataFlash ``.bin`` and ``.log``) and for folders
    holding JPEGs. Logs are imported before photos, so a photo without EXIF position finds the
    flight covering its capture time (or a CAMERA_FEEDBACK/CAM record) and is geotagged from it.

    Parameters
    ----------
    session_factory : sessionmaker
        Each item is imported in its own ``session_factory.begin()`` transaction.
    data_dir : Path
        The data root.
    paths : iterable of Path
        Files and folders.
    photo_set : str, optional
        Name of the photo set for every photo folder found (default: each folder's name).
    local_utc_offset_h : float, optional
        UTC offset (hours) of photo clocks that record local time without a zone (DJI).
    clock_offset_s : float
        Seconds added to photo capture times before matching them to a track.
    progress : callable, optional
        Called with one line of text per item.

    Returns
    -------
    list of dict
        Every dict has ``path``, ``kind`` (``"tlog"``, ``"dataflash"``, ``"photos"`` or
        ``"unknown"``), ``error`` (None or the reason, naming the file and the offset or field)
        and ``warnings``. Logs and unrecognised files add ``messages``, ``bad_bytes``,
        ``flights`` (:func:`flight_summary`; zeros and an empty list when nothing could be
        read) and ``already_imported``; DataFlash logs add ``form`` (``"binary"``/``"text"``).
        Photo folders add ``photos``, ``new``, ``located`` and ``skipped`` (file and reason).
    """
    results = []
    for kind, path in _expand(paths):
        result: dict = {"path": str(path), "kind": kind, "error": None, "warnings": []}
        if kind != "photos":
            result.update(messages=0, bad_bytes=0, flights=[], already_imported=False)
        try:
            with session_factory.begin() as session:
                if kind in ("tlog", "dataflash"):
                    r = (import_tlog if kind == "tlog" else import_dataflash)(session, data_dir, path)
                    result.update(messages=r.messages, bad_bytes=r.bad_bytes, warnings=r.warnings,
                                  flights=[flight_summary(f) for f in r.flights],
                                  already_imported=r.already_imported)
                    if kind == "dataflash":
                        result["form"] = r.form
                elif kind == "photos":
                    r = import_photo_folder(session, data_dir, path, photo_set=photo_set,
                                            clock_offset_s=clock_offset_s,
                                            local_utc_offset_h=local_utc_offset_h)
                    result.update(photos=len(r.photos), new=r.new_count, located=r.located_count,
                                  skipped=[list(s) for s in r.skipped], warnings=r.warnings)
                else:
                    raise ArchiveError(f"{path}: neither a log (.tlog, DataFlash .bin/.log) nor a folder "
                                       f"of JPEG photos")
        except (ArchiveError, OSError) as err:
            result["error"] = str(err)
        if progress:
            progress(_line(result))
        results.append(result)
    return results


def _line(r: dict, max_warnings: int = 5) -> str:
    """One item's result as text: its counts, then its warnings indented (at most ``max_warnings``)."""
    if r["error"]:
        return f"{r['path']}: ERROR {r['error']}"
    if r["kind"] == "photos":
        line = f"{Path(r['path']).name}: {r['photos']} photos ({r['new']} new, {r['located']} located)"
    else:
        line = (f"{Path(r['path']).name}: {r['messages']} messages, {r['bad_bytes']} bad bytes, "
                f"{len(r['flights'])} flight(s)" + (" (already in the archive)" if r.get("already_imported") else ""))
    warnings = r["warnings"]
    shown = [f"\n  warning: {w}" for w in warnings[:max_warnings]]
    if len(warnings) > max_warnings:
        shown.append(f"\n  ... and {len(warnings) - max_warnings} more warnings (--json lists them all)")
    return line + "".join(shown)
