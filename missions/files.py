"""Read any supported mission file, choosing the reader by format, extension or content."""

from __future__ import annotations

from pathlib import Path

from missions.errors import PlanFileError
from missions.kml_route import read_route_kml
from missions.mission_file import MissionFile
from missions.qgc_plan import read_plan
from missions.wpl import WPL_HEADER, read_waypoints
from missions.wpml import is_wpml_package, read_wpml

__all__ = ["read_mission", "READ_FORMATS"]

#: Formats :func:`read_mission` reads.
READ_FORMATS = ("plan", "waypoints", "kml", "wpml")


def read_mission(path: str | Path, fmt: str | None = None, *,
                 alt_rel_m: float | None = None) -> MissionFile:
    """Read a mission: QGroundControl ``.plan``, ``QGC WPL 110`` (``.waypoints``, ``.txt``),
    KML/KMZ route or DJI WPML ``.kmz``.

    Parameters
    ----------
    path : str or Path
    fmt : {"plan", "waypoints", "kml", "wpml"}, optional
        The format; default from the extension (``.kmz``: a DJI WPML package when it holds
        ``wpmz/``, else a zipped KML), else from the content (a zip, JSON starting with ``{``,
        text starting with ``QGC WPL``, XML starting with ``<``).
    alt_rel_m : float, optional
        Altitude above home for a KML line without altitudes.

    Raises
    ------
    PlanFileError
        If the file cannot be read, is of none of the formats, or is malformed (the message
        names the file and the problem).
    """
    path = Path(path)
    if fmt is not None and fmt not in READ_FORMATS:
        raise PlanFileError(f"{path}: unknown mission file format {fmt!r}; one of "
                            f"{', '.join(READ_FORMATS)}")
    suffix = path.suffix.lower()
    if fmt is None:
        fmt = {".plan": "plan", ".waypoints": "waypoints", ".kml": "kml"}.get(suffix)
    if fmt is None:
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise PlanFileError(f"{path}: cannot read: {err.strerror or err}") from err
        head = raw[:64].decode("utf-8-sig", errors="replace").lstrip()
        if suffix == ".kmz" or raw[:2] == b"PK":
            fmt = "wpml" if is_wpml_package(raw) else "kml"
        elif head.startswith("{"):
            fmt = "plan"
        elif head.startswith(WPL_HEADER.rsplit(" ", 1)[0]):
            fmt = "waypoints"
        elif head.startswith("<"):
            fmt = "kml"
        else:
            raise PlanFileError(f"{path}: neither a QGroundControl .plan, a {WPL_HEADER!r} file, "
                                "a KML route nor a DJI WPML package")
    if fmt == "plan":
        return read_plan(path)
    if fmt == "waypoints":
        return read_waypoints(path)
    if fmt == "kml":
        return read_route_kml(path, alt_rel_m=alt_rel_m)
    return read_wpml(path)
