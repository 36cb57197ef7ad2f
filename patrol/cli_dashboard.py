"""``patrol dashboard``: the console dashboard's figures (:mod:`web.dashboard`) on the command
line, as a text summary or JSON. A composition root like :mod:`patrol.cli`."""

from __future__ import annotations

import json

import click

__all__ = ["dashboard"]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


@click.command("dashboard")
@click.option("--from", "first_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First local day counted (YYYY-MM-DD).")
@click.option("--to", "last_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last local day counted (YYYY-MM-DD), included.")
@click.option("--squad", "squad_id", type=int, default=None, help="Only this squad's cases (id).")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as one JSON object.")
@click.pass_obj
def dashboard(settings, first_day, last_day, squad_id: int | None, as_json: bool) -> None:
    """Sorties, hours, km; findings and the valid report rate; cases handed over, in progress,
    closed, and the closure, timely-closure and rework rates (definitions: web/dashboard.py)."""
    from patrol.cli import _open
    from web.dashboard import dashboard as figures

    _, Session = _open(settings)
    with Session() as session:
        try:
            board = figures(session, first_day=first_day.date() if first_day else None,
                            last_day=last_day.date() if last_day else None,
                            timezone=settings.timezone, squad_id=squad_id)
        except ValueError as err:
            raise click.UsageError(str(err)) from err
    if as_json:
        click.echo(json.dumps(board.to_dict(), ensure_ascii=False))
        return
    c, f, fl = board.cases, board.findings_total, board.flights
    span = f"{board.first_day or 'start'} .. {board.last_day or 'now'} ({board.timezone})"
    click.echo(f"dashboard {span}")
    click.echo(f"flying    {fl.sorties} sorties, {fl.flight_hours:.1f} h, {fl.distance_km:.1f} km")
    click.echo(f"findings  {f.flagged} flagged, {f.confirmed} confirmed, {f.rejected} rejected, "
               f"{f.new} to review; valid report rate {_pct(f.valid_report_rate)}")
    click.echo(f"cases     {c.filed} handed over, {c.in_progress} in progress, {c.closed} closed "
               f"({c.closed_on_time} on time) of {c.due} due")
    click.echo(f"rates     closure {_pct(c.closure_rate)}, timely closure "
               f"{_pct(c.timely_closure_rate)}, rework {_pct(c.rework_rate)}")
    for g in board.by_squad:
        click.echo(f"  {g.label}: {g.cases.filed} handed over, {g.cases.closed} closed, timely "
                   f"{_pct(g.cases.timely_closure_rate)}")
