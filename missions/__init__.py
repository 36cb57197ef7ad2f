"""Mission planning: patrol areas, camera model, survey/corridor/orbit routes, mission files.

The public surface is listed in ``__all__``; everything works in WGS84 lon/lat at the edges
and in the area's UTM zone inside (:class:`patrol.geodesy.LocalProjection`). Errors derive
from :class:`MissionError`.
"""

from missions.areas import AREA_KINDS, AreaSpec, load_areas
from missions.camera import CAMERAS, Camera
from missions.corridor import plan_corridor
from missions.errors import AreaFileError, MissionError, PlanFileError, PlanValidationError
from missions.files import read_mission
from missions.items import MissionItem, command_name
from missions.mission_file import MissionFile
from missions.orbit import plan_orbit
from missions.plan import RoutePlan
from missions.qgc_plan import read_plan, write_plan
from missions.store import area_spec, save_area, save_route
from missions.survey import plan_survey
from missions.validate import plan_problems, validate_plan
from missions.wpl import read_waypoints, write_waypoints

__all__ = [
    "AREA_KINDS",
    "AreaFileError",
    "AreaSpec",
    "CAMERAS",
    "Camera",
    "MissionError",
    "MissionFile",
    "MissionItem",
    "PlanFileError",
    "PlanValidationError",
    "RoutePlan",
    "area_spec",
    "command_name",
    "load_areas",
    "plan_corridor",
    "plan_orbit",
    "plan_problems",
    "plan_survey",
    "read_mission",
    "read_plan",
    "read_waypoints",
    "save_area",
    "save_route",
    "validate_plan",
    "write_plan",
    "write_waypoints",
]
