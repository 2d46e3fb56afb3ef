"""``loyaltyctl report``: the points liability and the program's figures."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output import Format
from ._common import FormatOpt, int_option, parse_date_opt, state

app = typer.Typer(help="Reports: liability and program figures.", no_args_is_help=True)


@app.command()
def liability(
    ctx: typer.Context,
    on: Annotated[
        str | None, typer.Option("--on", help="As booked up to this date (default: today).")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Points outstanding and held, and their value in SEK, per partner and in total."""
    from ..services import reports as svc

    with state(ctx).database().session() as session:
        data = svc.liability(session=session, on=parse_date_opt(on, "--on"))
    _show(data, fmt, f"Points liability on {data['on']} (1 point = {data['point_value_sek']} SEK)")


@app.command()
def program(
    ctx: typer.Context,
    year: Annotated[int, int_option("--year", help="The year, YYYY.", min=2000, max=2999)],
    month: Annotated[str | None, typer.Option("--month", help="One month of that year, YYYY-MM.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Contracts, points earned by kind, redeemed, cost per 1 000 SEK financed,
    active sellers and quiz participants, per partner and in total."""
    from ..services import reports as svc

    with state(ctx).database().session() as session:
        data = svc.program(session=session, year=year, month=month)
    _show(data, fmt, f"Program {data['period_from']} to {data['period_to']}")


def _show(data: dict, fmt: Format, title: str) -> None:
    """JSON: the whole object (partners and total apart); table and CSV: one
    row per partner and a TOTAL row."""
    from ..output import render, to_json

    if fmt is Format.json:
        typer.echo(to_json(data))
        return
    rows = [*data["partners"], data["total"]]
    money = [k for k in rows[0] if k.endswith(("_sek", "_per_1000"))]  # right-aligned, like the points
    render(rows, fmt, title=title, numeric=money)
