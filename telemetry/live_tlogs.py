"""The daemon's live tlogs in the archive: registered while recording, moved into the content
store by hash when done, and those a killed daemon left behind found and archived.

A link writes its tlog under ``<data_dir>/live/`` and holds an exclusive ``flock`` on it
(:func:`telemetry.link.tlog_in_use`); its ``LogFile`` row (kind ``"live-tlog"``, no
``sha256`` yet, ``stored_path`` the live file) is written at the daemon's first flush and
kept current at every flush. Archiving hashes the file, stores it as ``raw/live-tlog/...``
(:func:`flight_logs.store.store_file`) and fills in ``sha256`` and ``stored_path``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from flight_logs.models import LogFile
from flight_logs.store import file_sha256, store_file
from telemetry.link import tlog_in_use

__all__ = ["archive_live_tlog", "archive_orphan_tlogs"]

log = logging.getLogger(__name__)


def archive_live_tlog(session_factory: sessionmaker, data_dir: Path, log_file_id: int, path: Path) -> None:
    """Move a live tlog into the content store (or drop it, and its row, when it is empty).

    Errors are logged, not raised: the file then stays where it is, still registered.
    """
    if not path.exists():
        return
    try:
        if path.stat().st_size == 0:         # nothing was heard on the link: no log to keep
            with session_factory.begin() as session:
                session.execute(sa.delete(LogFile).where(LogFile.id == log_file_id))
            path.unlink()
            return
        digest = file_sha256(path)
        with session_factory.begin() as session:
            if session.scalar(sa.select(LogFile.id).where(LogFile.sha256 == digest)) is not None:
                return             # the same bytes are archived already: keep the live copy
            digest, stored = store_file(data_dir, path, "live-tlog", sha256=digest)
            session.execute(sa.update(LogFile).where(LogFile.id == log_file_id).values(
                sha256=digest, stored_path=stored, size_bytes=path.stat().st_size))
        path.unlink()
    except (OSError, sa.exc.SQLAlchemyError):
        log.exception("telemetry daemon: could not archive %s; it stays where it is", path)


def archive_orphan_tlogs(session_factory: sessionmaker, data_dir: Path, ours: set[Path]) -> list[int]:
    """Archive the live tlogs registered by earlier daemons that no link holds any more (the
    daemon was killed before it could archive them); ``ours`` are the paths of this daemon's
    links, left alone. Returns the ``LogFile`` ids archived."""
    try:
        with session_factory() as session:
            rows = session.execute(sa.select(LogFile.id, LogFile.stored_path)
                                   .where(LogFile.kind == "live-tlog", LogFile.sha256.is_(None))).all()
    except sa.exc.SQLAlchemyError:
        log.exception("telemetry daemon: cannot look for live tlogs left by an earlier daemon")
        return []
    mine = {p.resolve() for p in ours}
    done = []
    for log_file_id, stored_path in rows:
        path = data_dir / stored_path
        try:
            if path.resolve() in mine or not path.is_file() or tlog_in_use(path):
                continue
        except OSError:
            continue
        log.info("telemetry daemon: archiving %s, left by an earlier daemon", path)
        archive_live_tlog(session_factory, data_dir, log_file_id, path)
        done.append(log_file_id)
    return done
