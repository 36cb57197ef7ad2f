"""The live side: MAVLink links, the telemetry daemon, vehicle state, commands, the simulator.

pymavlink is used here (and in ``flight_logs`` for reading logs), never in ``missions``.
``telemetry.sim`` holds the simulated ArduCopter; ``telemetry.dronekit_adapter`` the one
module importing dronekit.
"""

from telemetry.commands import (MissionRun, arm, command_long, disarm, fly_mission, set_mode, start_mission,
                                takeoff, wait_disarmed)
from telemetry.daemon import Daemon, run_daemon
from telemetry.errors import CommandRefused, LinkTimeout, MissionUploadError, TelemetryError
from telemetry.handle import Subscription, VehicleHandle
from telemetry.link import Link
from telemetry.mission_protocol import download_mission, upload_mission
from telemetry.routes import fly_route
from telemetry.state import VehicleState

__all__ = [
    "CommandRefused",
    "Daemon",
    "Link",
    "LinkTimeout",
    "MissionRun",
    "MissionUploadError",
    "Subscription",
    "TelemetryError",
    "VehicleHandle",
    "VehicleState",
    "arm",
    "command_long",
    "disarm",
    "download_mission",
    "fly_mission",
    "fly_route",
    "run_daemon",
    "set_mode",
    "start_mission",
    "takeoff",
    "upload_mission",
    "wait_disarmed",
]
