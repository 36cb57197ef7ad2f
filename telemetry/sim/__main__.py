"""``python -m telemetry.sim --home LAT,LON,ALT --speedup 20 (--listen tcpin:... | --out udpout:...)``."""

from __future__ import annotations

import argparse
import sys

from telemetry.errors import TelemetryError
from telemetry.sim.faults import parse_drop
from telemetry.sim.server import run_sim


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the simulated ArduCopter until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m telemetry.sim",
                                     description="Simulated ArduCopter speaking MAVLink 2 like SITL (generated data).")
    parser.add_argument("--home", default="30.7005,121.0185,5", help="LAT,LON,ALT_AMSL_M of the take-off point")
    parser.add_argument("--speedup", type=float, default=1.0, help="simulated seconds per wall second")
    parser.add_argument("--listen", help="tcpin:HOST:PORT (like SITL's 5760) or udpin:HOST:PORT")
    parser.add_argument("--out", help="udpout:HOST:PORT of a ground station")
    parser.add_argument("--sysid", type=int, default=1, help="MAVLink system id")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="set an ArduCopter parameter, e.g. WPNAV_SPEED=500 (repeatable)")
    parser.add_argument("--drop", action="append", default=[], metavar="in|out:MESSAGE:N",
                        help="lose the Nth MESSAGE received (in) or sent (out) on each connection, "
                             "e.g. out:MISSION_REQUEST:2 (repeatable; to test retries)")
    args = parser.parse_args(argv)
    params = {}
    for text in args.param:
        name, _, value = text.partition("=")
        try:
            params[name.strip().upper()] = float(value)
        except ValueError:
            parser.error(f"--param {text!r}: give NAME=VALUE")
    try:
        lat, lon, alt = (float(v) for v in args.home.split(","))
    except ValueError:
        parser.error(f"--home {args.home!r}: give LAT,LON,ALT_AMSL_M")
    try:
        drop = [parse_drop(text) for text in args.drop]
    except TelemetryError as err:
        parser.error(f"--drop: {err}")
    if not (args.listen or args.out):
        parser.error("give --listen tcpin:HOST:PORT and/or --out udpout:HOST:PORT")

    def ready(addresses: list[str]) -> None:
        print("simulated ArduCopter on " + " ".join(addresses), flush=True)

    run_sim((lat, lon, alt), speedup=args.speedup, listen=args.listen, out=args.out, system_id=args.sysid,
            ready=ready, params=params, drop=drop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
