"""Settings, read from the environment once by the entry point and passed down.

Nothing here runs at import. ``Settings.from_env()`` is called by the CLI; tests build a
``Settings`` directly.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["Settings"]

DEFAULT_DATA_DIR = "./var"
DEFAULT_TIMEZONE = "Asia/Shanghai"
SECRET_KEY_FILE = "secret_key"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how to reach the database.

    Parameters
    ----------
    data_dir : Path
        The data root (``PATROL_DATA_DIR``, default ``./var``): raw logs by id, photos,
        plans, evidence crops, the SQLite file and the generated secret key.
    database_url : str
        SQLAlchemy URL (``PATROL_DATABASE_URL``); default ``sqlite:///<data_dir>/patrol.sqlite3``.
        ``postgresql+psycopg2://...`` selects PostgreSQL.
    secret_key : str
        Flask session key (``PATROL_SECRET_KEY``); when unset, generated once and kept in
        ``<data_dir>/secret_key`` so sessions survive restarts.
    basemap_url : str or None
        Optional XYZ tile URL template for the console map (``PATROL_BASEMAP_URL``); without
        it the map shows the vector layers on a blank background and needs no internet.
    basemap_crs : str
        ``"wgs84"`` (default) or ``"gcj02"`` when the basemap is a Chinese web map, so the
        console shifts vector layers onto it (``PATROL_BASEMAP_CRS``).
    timezone : str
        The bureau's IANA time zone (``PATROL_TIMEZONE``, default ``Asia/Shanghai``): the
        local days and months of flight statistics.
    """

    data_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    basemap_url: str | None = None
    basemap_crs: str = "wgs84"
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from ``environ`` (default ``os.environ``), creating the data root.

        Raises
        ------
        OSError
            If the data root cannot be created or the secret key file cannot be written.
        ValueError
            If ``PATROL_TIMEZONE`` is not a known IANA time zone.
        """
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("PATROL_DATA_DIR", DEFAULT_DATA_DIR)).expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        url = env.get("PATROL_DATABASE_URL") or f"sqlite:///{data_dir / 'patrol.sqlite3'}"
        key = env.get("PATROL_SECRET_KEY") or _stored_secret_key(data_dir)
        return cls(
            data_dir=data_dir,
            database_url=url,
            secret_key=key,
            basemap_url=env.get("PATROL_BASEMAP_URL") or None,
            basemap_crs=env.get("PATROL_BASEMAP_CRS", "wgs84").lower(),
            timezone=_time_zone_name(env.get("PATROL_TIMEZONE") or DEFAULT_TIMEZONE),
        )

    @classmethod
    def for_directory(cls, data_dir: Path | str, **changes) -> "Settings":
        """Settings for a self-contained data root (SQLite inside it): tests and the demo."""
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        base = cls(
            data_dir=data_dir,
            database_url=f"sqlite:///{data_dir / 'patrol.sqlite3'}",
            secret_key=_stored_secret_key(data_dir),
        )
        return replace(base, **changes)


def _time_zone_name(name: str) -> str:
    """``name`` when it is an IANA time zone this system knows; ValueError naming it otherwise."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"PATROL_TIMEZONE={name!r} is not a known IANA time zone "
                         f"(e.g. {DEFAULT_TIMEZONE})") from err
    return name


def _stored_secret_key(data_dir: Path) -> str:
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.write_text(key)
    return key
