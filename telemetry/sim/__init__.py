"""A simulated ArduCopter speaking the ArduPilot subset of MAVLink 2, for demos and tests.

Its behaviour on the wire follows ArduCopter 4.6.3 SITL (see ``../shared/SITL_NOTES.md`` and
the bundled recording); everything it produces is generated data. Run it with
``python -m telemetry.sim`` or :func:`run_sim`.
"""

from telemetry.sim.server import SimServer, run_sim
from telemetry.sim.vehicle import SimConfig, SimVehicle

__all__ = ["SimConfig", "SimServer", "SimVehicle", "run_sim"]
