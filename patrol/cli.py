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
    if ctx.invoked_subcommand != "plan":  # planning works on files alone: no data root
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
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per file: path, kind, messages, bad_bytes, flights (start, end in "
                   "ISO 8601 UTC, duration_s, distance_m, max_alt_rel_m), warnings, error.")
@click.option("--utc-offset-h", type=float, default=None,
              help="UTC offset of photo clocks that record local time without a zone (DJI).")
@click.option("--clock-offset-s", type=float, default=0.0, show_default=True,
              help="Seconds added to photo capture times before matching them to a track.")
@click.pass_obj
def import_cmd(settings: Settings, paths: tuple[Path, ...], as_json: bool, utc_offset_h: float | None,
               clock_offset_s: float) -> None:
    """Import tlogs, DataFlash logs (.bin, .log) and photo folders into the archive (idempotent).

    Exits with status 1 only when nothing could be read from any of PATHS.
    """
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
@click.option("--link", "links", multiple=True, metavar="URL",
              help="MAVLink connection string (repeatable): udpin:0.0.0.0:14550, tcp:HOST:PORT, /dev/ttyUSB0,57600 ...")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="TOML (or YAML) file: links with names and MAVLink 2 signing keys, alarm thresholds, timings.")
@click.pass_obj
def daemon(settings: Settings, links: tuple[str, ...], config_path: Path | None) -> None:
    """Hold MAVLink links, record every byte to tlogs and flights, alarms and live vehicle status
    to the archive, until SIGTERM or SIGINT. Failed links are reopened with backoff."""
    import logging

    from patrol.errors import PatrolError
    from telemetry import run_daemon
    from telemetry.config import DaemonConfig, load_config

    try:
        config = (load_config(config_path) if config_path is not None else DaemonConfig()).with_links(list(links))
    except PatrolError as err:
        raise click.ClickException(str(err)) from err
    if not config.links:
        raise click.UsageError("give --link URL (repeatable) or --config FILE with [[links]]")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    _, Session = _open(settings)
    try:
        stopped = run_daemon(Session, settings.data_dir, config=config, wait_for_links=True)
    except PatrolError as err:
        raise click.ClickException(str(err)) from err
    for link in stopped.links():
        click.echo(json.dumps(link, ensure_ascii=False))


@main.command()
@click.option("--connect", "url", required=True, metavar="URL", help="MAVLink connection string.")
@click.option("--route", "route_id", type=int, default=None, help="Id of a stored route.")
@click.option("--plan", "plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A mission file (.plan, .waypoints) to fly without storing a route.")
@click.option("--via", type=click.Choice(["pymavlink", "dronekit"]), default="pymavlink", show_default=True,
              help="Fly through the project's daemon (pymavlink) or through DroneKit.")
@click.option("--mission-only", is_flag=True,
              help="With --plan: upload only the mission items, leaving the vehicle's geofence and rally "
                   "points as they are.")
@click.option("--takeoff-alt-m", type=float, default=None, help="Default: the mission's altitude.")
@click.option("--timeout-s", type=float, default=3600.0, show_default=True)
@click.pass_obj
def fly(settings: Settings, url: str, route_id: int | None, plan_path: Path | None, via: str, mission_only: bool,
        takeoff_alt_m: float | None, timeout_s: float) -> None:
    """Upload a stored route (or a mission file) with its geofence and rally points, fly it in
    AUTO and archive the recorded flight."""
    from patrol.errors import PatrolError
    from telemetry.routes import fly_file, fly_route

    if (route_id is None) == (plan_path is None):
        raise click.UsageError("give either --route ID or --plan FILE")
    if mission_only and plan_path is None:
        raise click.UsageError("--mission-only goes with --plan FILE")
    _, Session = _open(settings)
    options = dict(via=via, takeoff_alt_m=takeoff_alt_m, timeout_s=timeout_s, progress=click.echo)
    try:
        if route_id is not None:
            flight = fly_route(Session, settings.data_dir, url, route_id, **options)
        else:
            flight = fly_file(Session, settings.data_dir, url, plan_path, mission_only=mission_only, **options)
    except PatrolError as err:
        raise click.ClickException(str(err)) from err
    click.echo(json.dumps(flight, ensure_ascii=False))


from patrol.cli_plan import plan  # noqa: E402  (the `patrol plan` group)

main.add_command(plan)

from patrol.cli_vision import vision  # noqa: E402  (the `patrol vision` group)

main.add_command(vision)

from patrol.cli_dashboard import dashboard  # noqa: E402  (`patrol dashboard`)

main.add_command(dashboard)


# ---------------------------------------------------------------------------- statistics
@main.command()
@click.option("--by", type=click.Choice(["vehicle", "squad", "fleet"]), default="fleet", show_default=True,
              help="Group flights per vehicle, per squad (whose jurisdiction holds the take-off point) or all.")
@click.option("--period", type=click.Choice(["day", "month"]), default="month", show_default=True,
              help="Local calendar day or month of the take-off.")
@click.option("--from", "first_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First local day counted (YYYY-MM-DD).")
@click.option("--to", "last_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last local day counted (YYYY-MM-DD), included.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Also write the rows as CSV to this file ('-': CSV to stdout instead of the table).")
@click.option("--timezone", default=None, help="IANA time zone of the days and months (default PATROL_TIMEZONE, "
              "else Asia/Shanghai).")
@click.pass_obj
def stats(settings: Settings, by: str, period: str, first_day, last_day, csv_path: Path | None,
          timezone: str | None) -> None:
    """Sorties, flight hours, kilometres, photos and battery used, by local day or month."""
    from flight_logs.stats import text_table, write_csv
    from web.fleet_stats import fleet_statistics

    zone = timezone or settings.timezone
    _, Session = _open(settings)
    with Session() as session:
        try:
            rows = fleet_statistics(session, by=by, period=period, timezone=zone,
                                    first_day=first_day.date() if first_day else None,
                                    last_day=last_day.date() if last_day else None)
        except ValueError as err:
            raise click.UsageError(str(err)) from err
    if csv_path is not None and str(csv_path) == "-":
        write_csv(rows, sys.stdout, timezone=zone)
        return
    click.echo(f"flights by {by} and {period} ({zone} local time)")
    click.echo(text_table(rows, group_title=by))
    if csv_path is not None:
        with open(csv_path, "w", encoding="utf-8", newline="") as out:
            write_csv(rows, out, timezone=zone)
        click.echo(f"CSV: {csv_path} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
