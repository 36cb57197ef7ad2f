"""The ``patrol`` command line: the composition root that wires the packages together.

Each command builds its settings from the environment, opens the database and calls the
domain functions; packages are imported inside the commands that need them, so the kernel
itself depends on none of them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from patrol.settings import Settings

__all__ = ["main"]


def _open(settings: Settings):
    from patrol.db import make_engine, make_session_factory, upgrade

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    return engine, make_session_factory(engine)


@click.group()
@click.version_option(package_name="drone-patrol")
@click.pass_context
def main(ctx: click.Context) -> None:
    """drone-patrol: plan, fly, record, detect and close city-management cases."""
    ctx.obj = Settings.from_env()


# ---------------------------------------------------------------------------- database
@main.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_obj
def db_upgrade(settings: Settings, revision: str) -> None:
    """Create or migrate the schema of PATROL_DATABASE_URL."""
    from patrol.db import upgrade

    upgrade(settings.database_url, revision)
    click.echo(f"database at {settings.database_url} is at {revision}")


# ---------------------------------------------------------------------------- demo
@main.command()
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Start the console when the pipeline is done.")
@click.option("--connect", metavar="URL", default=None,
              help="Fly a real SITL or aircraft at this MAVLink connection string "
                   "(e.g. tcp:127.0.0.1:5760) instead of the simulated vehicle.")
@click.option("--speedup", type=float, default=25.0, show_default=True,
              help="Simulation rate of the simulated vehicle.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
def demo(settings: Settings, serve: bool, connect: str | None, speedup: float, host: str,
         port: int, as_json: bool) -> None:
    """Plan, fly, import, detect on the bundled real data, then serve the console."""
    from patrol.demo import run_demo

    report = run_demo(settings, connect=connect, speedup=speedup, quiet=as_json)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        click.echo(report.summary())
    if serve:
        _serve(settings, host, port, logins=report.logins)


# ---------------------------------------------------------------------------- console
def _serve(settings: Settings, host: str, port: int, logins=()) -> None:
    from waitress import serve

    from web import create_app

    app = create_app(settings)
    click.echo(f"\nConsole: http://{host}:{port}/   (Ctrl-C to stop)")
    for username, password, role in logins:
        click.echo(f"  login {username:<11} password {password:<14} role {role}")
    serve(app, host=host, port=port, threads=8, ident="drone-patrol")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
@click.pass_obj
def serve_cmd(settings: Settings, host: str, port: int) -> None:
    """Serve the console (waitress WSGI server)."""
    _open(settings)[0].dispose()
    _serve(settings, host, port)


# ---------------------------------------------------------------------------- import
@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option("--utc-offset-h", type=float, default=None,
              help="UTC offset of photo clocks that record local time without a zone (DJI).")
@click.option("--clock-offset-s", type=float, default=0.0, show_default=True,
              help="Seconds added to photo capture times before matching them to a track.")
@click.pass_obj
def import_cmd(settings: Settings, paths: tuple[Path, ...], as_json: bool, utc_offset_h: float | None,
               clock_offset_s: float) -> None:
    """Import tlogs and photo folders into the archive (idempotent)."""
    from flight_logs.importer import import_paths

    _, Session = _open(settings)
    emit = None if as_json else click.echo
    results = import_paths(Session, settings.data_dir, paths, local_utc_offset_h=utc_offset_h,
                           clock_offset_s=clock_offset_s, progress=emit)
    if as_json:
        for r in results:
            click.echo(json.dumps(r, ensure_ascii=False))
    if all(r["error"] for r in results):
        sys.exit(1)


# ---------------------------------------------------------------------------- live side
@main.command()
@click.option("--home", default="30.7005,121.0185,5", show_default=True,
              help="LAT,LON,ALT_AMSL_M of the simulated vehicle's home.")
@click.option("--speedup", type=float, default=1.0, show_default=True)
@click.option("--listen", default=None, help="Serve like SITL, e.g. tcpin:127.0.0.1:5760.")
@click.option("--out", default=None, help="Send to a ground station, e.g. udpout:127.0.0.1:14550.")
def sim(home: str, speedup: float, listen: str | None, out: str | None) -> None:
    """Run the simulated ArduCopter (ArduPilot-like on the wire)."""
    from telemetry.sim import run_sim

    lat, lon, alt = (float(v) for v in home.split(","))
    run_sim(home=(lat, lon, alt), speedup=speedup, listen=listen, out=out)


@main.command()
@click.option("--link", "links", multiple=True, required=True, metavar="URL",
              help="MAVLink connection string (repeatable): udpin:0.0.0.0:14550, tcp:HOST:PORT, /dev/ttyUSB0,57600 ...")
@click.pass_obj
def daemon(settings: Settings, links: tuple[str, ...]) -> None:
    """Hold MAVLink links, record every byte to tlogs and flights to the archive."""
    from telemetry import run_daemon

    _, Session = _open(settings)
    run_daemon(Session, settings.data_dir, list(links))


@main.command()
@click.option("--connect", "url", required=True, metavar="URL", help="MAVLink connection string.")
@click.option("--route", "route_id", type=int, required=True, help="Id of a stored route.")
@click.option("--takeoff-alt-m", type=float, default=None, help="Default: the route's altitude.")
@click.option("--timeout-s", type=float, default=3600.0, show_default=True)
@click.pass_obj
def fly(settings: Settings, url: str, route_id: int, takeoff_alt_m: float | None, timeout_s: float) -> None:
    """Upload a stored route and fly it in AUTO (recording the flight)."""
    from telemetry.routes import fly_route

    _, Session = _open(settings)
    flight = fly_route(Session, settings.data_dir, url, route_id, takeoff_alt_m=takeoff_alt_m,
                       timeout_s=timeout_s, progress=click.echo)
    click.echo(json.dumps(flight, ensure_ascii=False))


if __name__ == "__main__":
    main()
