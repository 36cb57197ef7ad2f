"""Mission planning: patrol areas, camera model, survey/corridor/orbit routes, mission files.

The public surface is listed in ``__all__``; everything works in WGS84 lon/lat at the edges
and in the area's UTM zone inside (:class:`patrol.geodesy.LocalProjection`). Errors derive
from :class:`MissionError`.
"""

from missions.areas import AREA_KINDS, AreaSpec, load_areas
from missions.camera import CAMERAS, Camera
from missions.convert import FORMATS, ConvertReport, convert_mission, write_route
from missions.corridor import plan_corridor
from missions.errors import AreaFileError, MissionError, PlanFileError, PlanValidationError
from missions.files import read_mission
from missions.items import MissionItem, command_name
from missions.kml_route import read_route_kml, write_route_kml
from missions.mission_file import MissionFile
from missions.orbit import plan_orbit
from missions.plan import RoutePlan
from missions.qgc_plan import read_plan, write_plan
from missions.safety import apply_safety, fence_items, rally_items
from missions.sorties import split_sorties
from missions.store import area_spec, save_area, save_route, save_sorties
from missions.survey import plan_survey
from missions.validate import plan_problems, validate_plan
from missions.wpl import read_waypoints, write_waypoints
from missions.wpml import DJI_AIRCRAFT, DjiAircraft, read_wpml, write_wpml

__all__ = [
    "AREA_KINDS",
    "AreaFileError",
    "AreaSpec",
    "CAMERAS",
    "Camera",
    "ConvertReport",
    "DJI_AIRCRAFT",
    "DjiAircraft",
    "FORMATS",
    "MissionError",
    "MissionFile",
    "MissionItem",
    "PlanFileError",
    "PlanValidationError",
    "RoutePlan",
    "apply_safety",
    "area_spec",
    "command_name",
    "convert_mission",
    "fence_items",
    "load_areas",
    "plan_corridor",
    "plan_orbit",
    "plan_problems",
    "plan_survey",
    "rally_items",
    "read_mission",
    "read_plan",
    "read_route_kml",
    "read_waypoints",
    "read_wpml",
    "save_area",
    "save_route",
    "save_sorties",
    "split_sorties",
    "validate_plan",
    "write_plan",
    "write_route",
    "write_route_kml",
    "write_waypoints",
    "write_wpml",
]
