"""One planning request, from whichever front end (command line, console), to a checked route.

A :class:`PlanRequest` names the pattern, its target (area, centre line or hotspot), camera,
no-fly zones, home, planner options, ceiling and battery endurance; :func:`run_plan` plans
it, validates the route (:func:`missions.validate.plan_problems`) and splits it into sorties
(:func:`missions.sorties.split_sorties`). :func:`pick_target` chooses the target and the
extra no-fly zones from the features of an area file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry

from missions.areas import AreaSpec
from missions.camera import Camera
from missions.corridor import plan_corridor
from missions.errors import MissionError
from missions.orbit import plan_orbit
from missions.plan import RoutePlan
from missions.sorties import DEFAULT_RESERVE_FRACTION, split_sorties
from missions.survey import plan_survey
from missions.validate import CEILING_ALT_REL_M, plan_problems

__all__ = ["PATTERNS", "PlanRequest", "PlanResult", "pick_target", "run_plan"]

#: Pattern name -> the area kind it plans over (:data:`missions.areas.AREA_KINDS`).
PATTERNS = {"survey": "area", "corridor": "corridor", "orbit": "hotspot"}

#: Feature properties that mark a polygon of an area file as a no-fly zone.
NO_FLY_FLAGS = ("no_fly", "nofly", "no-fly")


@dataclass(frozen=True)
class PlanRequest:
    """A planning request, in WGS84.

    Attributes
    ----------
    pattern : str
        ``"survey"``, ``"corridor"`` or ``"orbit"``.
    target : AreaSpec
        The area (survey), centre line (corridor, ``properties["width_m"]``) or hotspot
        (orbit, ``properties["radius_m"]``).
    camera : Camera or None
        Without one, ``planner_kwargs["line_spacing_m"]`` sets the passes; no photos.
    no_fly : list of shapely Polygon/MultiPolygon
        No-fly zones besides the area's holes.
    home : (lon, lat) or None
        Take-off and return point (a dock).
    planner_kwargs : dict
        Further keyword arguments of the pattern's planner (``alt_rel_m``, ``gsd_cm_px``,
        overlaps, ``speed_m_s``, ``turnaround_m``, ``sweep_angle_deg``, ``line_spacing_m``,
        ``photos_per_turn`` ...).
    endurance_min : float or None
        Flight endurance of one battery (minutes); None plans a single sortie.
    reserve_fraction : float
        Fraction of the endurance kept at landing.
    ceiling_alt_rel_m : float
        Highest altitude allowed above take-off (m).
    """

    pattern: str
    target: AreaSpec
    camera: Camera | None = None
    no_fly: Sequence[BaseGeometry] = ()
    home: tuple[float, float] | None = None
    planner_kwargs: dict[str, Any] = field(default_factory=dict)
    endurance_min: float | None = None
    reserve_fraction: float = DEFAULT_RESERVE_FRACTION
    ceiling_alt_rel_m: float = CEILING_ALT_REL_M


@dataclass
class PlanResult:
    """A planned, checked route.

    Attributes
    ----------
    request : PlanRequest
    plan : RoutePlan
        The whole route (``stats["sorties"]`` says into how many sorties it was cut).
    sorties : list of RoutePlan
        The sorties in flying order (``[plan]`` when no endurance was given).
    problems : list of str
        Validation problems of the route and of each sortie (empty when it is safe to fly).
    planning_ms : float
        Wall time of planning, checking and splitting.
    """

    request: PlanRequest
    plan: RoutePlan
    sorties: list[RoutePlan]
    problems: list[str]
    planning_ms: float

    def stats(self) -> dict[str, Any]:
        """The route's statistics with ``sorties`` (count) and ``planning_ms`` filled in."""
        out = dict(self.plan.stats)
        out["sorties"] = len(self.sorties)
        out.setdefault("planning_ms", self.planning_ms)
        return out


def pick_target(areas: Sequence[AreaSpec], pattern: str, name: str | None = None
                ) -> tuple[AreaSpec, list[BaseGeometry]]:
    """The target of ``pattern`` among the features of an area file, and its no-fly zones.

    Polygons whose properties set one of :data:`NO_FLY_FLAGS` are no-fly zones, not targets.
    The target is the feature called ``name``, else the first of the pattern's kind.

    Raises
    ------
    MissionError
        Unknown pattern, no feature of the right kind, or no feature called ``name``.
    """
    if pattern not in PATTERNS:
        raise MissionError(f"unknown pattern {pattern!r}; one of {', '.join(PATTERNS)}")
    zones = [a for a in areas if a.kind == "area" and _flagged(a)]
    candidates = [a for a in areas if a.kind == PATTERNS[pattern] and a not in zones]
    if name is not None:
        named = [a for a in candidates if a.name == name]
        if not named:
            have = ", ".join(repr(a.name) for a in candidates) or "none"
            raise MissionError(f"no {PATTERNS[pattern]} called {name!r} (there are: {have})")
        candidates = named
    if not candidates:
        raise MissionError(f"a {pattern} needs a {PATTERNS[pattern]} feature "
                           f"({' or '.join(_geometry_types(pattern))}); the file has none")
    return candidates[0], [z.geometry for z in zones]


def _flagged(area: AreaSpec) -> bool:
    return any(str(area.properties.get(k, "")).lower() in ("1", "true", "yes")
               for k in NO_FLY_FLAGS)


def _geometry_types(pattern: str) -> tuple[str, ...]:
    from missions.areas import AREA_KINDS

    return AREA_KINDS[PATTERNS[pattern]]


def run_plan(req: PlanRequest) -> PlanResult:
    """Plan ``req``'s route, check it, and split it into sorties.

    Raises
    ------
    MissionError
        From the planner (bad parameters, nothing to survey, home in a no-fly zone, a
        corridor without width or an orbit without radius) or the sortie split (endurance
        too short for one leg).
    """
    t0 = time.perf_counter()
    common: dict[str, Any] = {"camera": req.camera, "no_fly": list(req.no_fly), "home": req.home}
    kwargs = {**common, **req.planner_kwargs}
    if req.pattern == "survey":
        plan = plan_survey(req.target, **kwargs)
    elif req.pattern == "corridor":
        width = kwargs.pop("width_m", None) or req.target.width_m
        if width is None:
            raise MissionError(f"corridor {req.target.name!r} has no width: give width_m")
        plan = plan_corridor(req.target, width, **kwargs)
    elif req.pattern == "orbit":
        radius = kwargs.pop("radius_m", None) or req.target.radius_m
        if radius is None:
            raise MissionError(f"hotspot {req.target.name!r} has no radius: give radius_m")
        plan = plan_orbit(req.target, radius, **kwargs)
    else:
        raise MissionError(f"unknown pattern {req.pattern!r}; one of {', '.join(PATTERNS)}")
    problems = plan_problems(plan, ceiling_alt_rel_m=req.ceiling_alt_rel_m)
    sorties = [plan]
    if req.endurance_min is not None:
        sorties = split_sorties(plan, req.endurance_min, reserve_fraction=req.reserve_fraction)
        if len(sorties) > 1:
            for k, sortie in enumerate(sorties, start=1):
                problems += [f"sortie {k}: {p}" for p in
                             plan_problems(sortie, ceiling_alt_rel_m=req.ceiling_alt_rel_m)]
    return PlanResult(req, plan, sorties, problems,
                      round((time.perf_counter() - t0) * 1000.0, 1))
