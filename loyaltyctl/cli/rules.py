"""``loyaltyctl rules``: the program's earning rules, as effective-dated versions."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output import Format, render, render_one, say
from ._common import FormatOpt, parse_date_opt, state

app = typer.Typer(help="Program rules (effective-dated; earned points never change).", no_args_is_help=True)


@app.command()
def show(
    ctx: typer.Context,
    on: Annotated[str | None, typer.Option("--on", help="Rules in force on this date.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """The rules in force on a date (default today)."""
    from ..clock import today
    from ..services import rules as svc

    with state(ctx).database().session() as session:
        rows = svc.show_rules(session=session, on=parse_date_opt(on, "--on") or today())
    render(rows, fmt, title="Rules")


@app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Rule key, e.g. points_per_contract.")],
    value: Annotated[str, typer.Argument(help="New value.")],
    valid_from: Annotated[str, typer.Option("--from", help="First day it applies (YYYY-MM-DD).")],
    fmt: FormatOpt = Format.table,
) -> None:
    """Add a version of a rule from a date on.  Refused if it would change earned points."""
    from ..services import rules as svc

    st = state(ctx)
    start = parse_date_opt(valid_from, "--from")
    assert start is not None
    r = st.write(
        lambda session: svc.set_rule(session=session, key=key, value=value, valid_from=start, actor=st.who())
    )
    if fmt is not Format.table:
        render_one(r, fmt)
    elif r["result"] == "created":
        typer.echo(f"{r['key']} = {r['value']} from {r['valid_from']}")
    else:
        say(f"{r['key']} is already {r['value']} from {r['valid_from']}; nothing changed")
