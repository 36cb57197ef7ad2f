"""Storing patrol areas and routes: database rows plus the mission files under the data root.

Functions take the caller's ``session`` and only add and flush; the caller commits.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlalchemy.orm import Session

from missions.areas import AreaSpec
from missions.models import PatrolArea, Route
from missions.plan import RoutePlan
from missions.qgc_plan import write_plan
from missions.wpl import write_waypoints

__all__ = ["save_area", "area_spec", "save_route", "slugify", "PLANS_DIR"]

#: Folder under the data root that holds the written mission files.
PLANS_DIR = "plans"


def slugify(name: str) -> str:
    """A file-name-safe form of ``name`` (letters of any script, digits, dashes).

    >>> slugify("Pinghu old town block / survey")
    'pinghu-old-town-block-survey'
    """
    text = unicodedata.normalize("NFKC", name).lower()
    slug = re.sub(r"[^\w]+", "-", text).strip("-_")
    return slug or "route"


def save_area(session: Session, spec: AreaSpec) -> PatrolArea:
    """Insert or update (by name) the patrol area of ``spec``; returns the flushed row."""
    area = session.scalars(sa.select(PatrolArea).where(PatrolArea.name == spec.name)).one_or_none()
    if area is None:
        area = PatrolArea(name=spec.name)
        session.add(area)
    area.site = spec.site
    area.kind = spec.kind
    area.geometry = dict(mapping(spec.geometry))
    area.properties = dict(spec.properties)
    session.flush()
    return area


def area_spec(area: PatrolArea) -> AreaSpec:
    """The :class:`AreaSpec` of a stored patrol area."""
    return AreaSpec(name=area.name, site=area.site, kind=area.kind,
                    geometry=shape(area.geometry), properties=dict(area.properties or {}))


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def save_route(session: Session, plan: RoutePlan, *, name: str, data_dir: str | Path,
               area: PatrolArea | None = None) -> Route:
    """Store a planned route: write ``<data_dir>/plans/<slug>.plan`` and ``.waypoints`` and
    insert or update (by name) its :class:`Route` row.

    Parameters
    ----------
    session : Session
        The caller's session (flushed, not committed).
    plan : RoutePlan
        The route.
    name : str
        Route name; the file names are its :func:`slugify` form.
    data_dir : str or Path
        The data root; stored paths are relative to it.
    area : PatrolArea, optional
        The patrol area the route serves.

    Returns
    -------
    Route
        With ``items`` as dicts, ``path`` a GeoJSON LineString (WGS84), ``stats`` and
        ``params`` from the plan.

    Raises
    ------
    OSError
        If the files cannot be written.
    """
    data_dir = Path(data_dir)
    folder = data_dir / PLANS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    slug = slugify(name)
    plan_file = write_plan(plan, folder / f"{slug}.plan")
    wpl_file = write_waypoints(plan, folder / f"{slug}.waypoints")
    route = session.scalars(sa.select(Route).where(Route.name == name)).first()
    if route is None:
        route = Route(name=name)
        session.add(route)
    route.pattern = plan.pattern
    route.area = area
    route.params = _json_ready(plan.params)
    route.stats = _json_ready(plan.stats)
    route.items = [item.to_dict() for item in plan.items]
    route.path = {"type": "LineString", "coordinates": [list(p) for p in plan.path_wgs84]}
    route.plan_path = plan_file.relative_to(data_dir).as_posix()
    route.waypoints_path = wpl_file.relative_to(data_dir).as_posix()
    session.flush()
    return route
