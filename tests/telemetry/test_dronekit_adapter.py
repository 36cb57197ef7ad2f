"""DroneKit (through the adapter) against the simulated vehicle, over TCP as against SITL."""

from __future__ import annotations

import pytest

from patrol.geodesy import distance_m

dronekit_adapter = pytest.importorskip("telemetry.dronekit_adapter")


def test_dronekit_connects_uploads_and_flies(sim_tcp, short_survey, home):
    url = sim_tcp(20.0)
    vehicle = dronekit_adapter.connect(url, timeout_s=30)
    lines: list[str] = []
    try:
        assert vehicle.mode.name == "STABILIZE"
        assert vehicle.parameters["WPNAV_SPEED"] == 1000          # DroneKit loaded the parameter table
        dronekit_adapter.fly_mission(vehicle, short_survey, takeoff_alt_m=30, timeout_s=60, progress=lines.append)
        assert not vehicle.armed
        here = vehicle.location.global_frame
        assert distance_m(home[1], home[0], here.lon, here.lat) < 3.0      # back home after the RTL
        vehicle.commands.download()
        vehicle.commands.wait_ready(timeout=10)
        assert vehicle.commands.count == len(short_survey) - 1      # DroneKit hides item 0 (home)
        assert [c.command for c in vehicle.commands] == [i.command for i in short_survey[1:]]
    finally:
        vehicle.close()
    assert lines[-1] == "dronekit: landed and disarmed"
