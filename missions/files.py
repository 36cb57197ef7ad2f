"""Read any supported mission file, choosing the reader by extension or content."""

from __future__ import annotations

from pathlib import Path

from missions.errors import PlanFileError
from missions.mission_file import MissionFile
from missions.qgc_plan import read_plan
from missions.wpl import WPL_HEADER, read_waypoints

__all__ = ["read_mission"]


def read_mission(path: str | Path) -> MissionFile:
    """Read a QGroundControl ``.plan`` or a ``QGC WPL 110`` file (``.waypoints``, ``.txt``).

    The content decides when the extension does not: JSON starting with ``{`` is a plan, text
    starting with ``QGC WPL`` a waypoint list.

    Raises
    ------
    PlanFileError
        If the file cannot be read, is of neither format, or is malformed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".plan":
        return read_plan(path)
    if suffix == ".waypoints":
        return read_waypoints(path)
    try:
        head = path.read_bytes()[:64].decode("utf-8-sig", errors="replace").lstrip()
    except OSError as err:
        raise PlanFileError(f"{path}: cannot read: {err.strerror or err}") from err
    if head.startswith("{"):
        return read_plan(path)
    if head.startswith(WPL_HEADER.rsplit(" ", 1)[0]):
        return read_waypoints(path)
    raise PlanFileError(f"{path}: neither a QGroundControl .plan nor a {WPL_HEADER!r} file")
