"""``QGC WPL 110`` waypoint files (Mission Planner ``.waypoints``, MAVProxy, ArduPilot autotest).

Format: a first line ``QGC WPL 110``, then one line per mission item with 12 tab-separated
columns: seq, current, frame, command, param1-param4, x (latitude), y (longitude), z
(altitude), autocontinue. Item 0 is home. Reference: pymavlink ``mavwp.MAVWPLoader``
(``_read_waypoints_v110``) and the MAVLink file-format page
(https://mavlink.io/en/file_formats/).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from missions.errors import PlanFileError
from missions.items import MissionItem
from missions.mission_file import MissionFile
from missions.plan import RoutePlan

__all__ = ["WPL_HEADER", "format_waypoints", "write_waypoints", "read_waypoints",
           "parse_waypoints"]

WPL_HEADER = "QGC WPL 110"


def _num(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "nan"
    return repr(value)


def format_waypoints(items: Sequence[MissionItem]) -> str:
    """The text of a ``QGC WPL 110`` file for ``items`` (item 0 = home)."""
    lines = [WPL_HEADER]
    for seq, it in enumerate(items):
        cols = [str(seq), "1" if seq == 0 else "0", str(it.frame), str(it.command),
                _num(it.param1), _num(it.param2), _num(it.param3), _num(it.param4),
                _num(it.lat_deg), _num(it.lon_deg), _num(it.alt_m), "1" if it.autocontinue else "0"]
        lines.append("\t".join(cols))
    return "\n".join(lines) + "\n"


def write_waypoints(plan: RoutePlan | MissionFile | Sequence[MissionItem],
                    path: str | Path) -> Path:
    """Write a plan's (or a read mission's) items as a ``QGC WPL 110`` file; returns the path.

    The format holds the items only: a geofence and rally points are not written (see
    :func:`missions.convert.write_route`, which says so).
    """
    items = plan.items if isinstance(plan, (RoutePlan, MissionFile)) else list(plan)
    path = Path(path)
    path.write_text(format_waypoints(items), encoding="utf-8", newline="\n")
    return path


def parse_waypoints(text: str, source: str = "<text>") -> list[MissionItem]:
    """Mission items of ``QGC WPL 110`` text (columns separated by tabs or blanks).

    Raises
    ------
    PlanFileError
        Naming ``source`` and the line number of a bad header, a line without 12 columns, a
        value that is not a number, or a sequence number out of order.
    """
    lines = text.splitlines()
    if not lines or not lines[0].strip().startswith(WPL_HEADER):
        first = lines[0].strip()[:40] if lines else ""
        raise PlanFileError(f"{source}: line 1: expected header {WPL_HEADER!r}, got {first!r}")
    items: list[MissionItem] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        cols = [c.strip() for c in cols]
        if len(cols) != 12:
            raise PlanFileError(f"{source}: line {lineno}: expected 12 columns, got {len(cols)}")
        try:
            seq, _current, frame, command = (int(c) for c in cols[:4])
            p1, p2, p3, p4, lat, lon, alt = (float(c) for c in cols[4:11])
            autocontinue = int(float(cols[11]))
        except ValueError as err:
            raise PlanFileError(f"{source}: line {lineno}: not a number ({err})") from err
        if seq != len(items):
            raise PlanFileError(f"{source}: line {lineno}: sequence number {seq}, "
                                f"expected {len(items)}")
        items.append(MissionItem(command, frame, p1, p2, p3, p4, lat, lon, alt, bool(autocontinue)))
    if not items:
        raise PlanFileError(f"{source}: no mission items after the header")
    return items


def read_waypoints(path: str | Path) -> MissionFile:
    """Read a ``QGC WPL 110`` file.

    Raises
    ------
    PlanFileError
        If the file cannot be read or is malformed (with file name and line number).
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise PlanFileError(f"{path}: cannot read: {err}") from err
    items = parse_waypoints(text, str(path))
    home = items[0]
    return MissionFile(path=path, format="waypoints", items=items,
                       home_wgs84=(home.lon_deg, home.lat_deg, home.alt_m))
