"""``loyaltyctl campaigns``: multipliers on earning for a period."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output import Format, render, render_one, say
from ._common import FormatOpt, parse_date_opt, state

app = typer.Typer(help="Campaigns: earn more for a few weeks or days.", no_args_is_help=True)


@app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name, e.g. 'Christmas 2026'.")],
    valid_from: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD), inclusive.")],
    valid_to: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD), inclusive.")],
    multiplier: Annotated[str, typer.Option("--multiplier", help="e.g. 1.5 or 2.")],
    product: Annotated[
        str | None, typer.Option("--product", help="Only contracts of this product (default: all).")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Add a campaign.  Refused if it would change points already earned."""
    from ..services import campaigns as svc

    st = state(ctx)
    start, end = parse_date_opt(valid_from, "--from"), parse_date_opt(valid_to, "--to")
    assert start is not None and end is not None
    r = st.write(
        lambda session: svc.add_campaign(
            session=session,
            name=name,
            valid_from=start,
            valid_to=end,
            multiplier=multiplier,
            product=product,
            actor=st.who(),
        )
    )
    if fmt is not Format.table:
        render_one(r, fmt)
    elif r["result"] == "created":
        typer.echo(
            f"campaign {r['name']!r}: x{r['multiplier']} from {r['from']} to {r['to']}"
            + (f" for {r['product']}" if r["product"] else "")
        )
    else:
        say(f"campaign {r['name']!r} exists with these terms; nothing changed")


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """List campaigns."""
    from ..services import campaigns as svc

    with state(ctx).database().session() as session:
        rows = svc.list_campaigns(session=session)
    render(rows, fmt, title="Campaigns")
