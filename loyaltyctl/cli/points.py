"""``loyaltyctl points``: the calculator, balances, history and adjustments."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output import Format, render, render_one, say
from ._common import FormatOpt, int_argument, parse_date_opt, state

app = typer.Typer(help="Points: calculate, look up, adjust.", no_args_is_help=True)


@app.command()
def calc(
    ctx: typer.Context,
    amount: Annotated[str, typer.Option("--amount", help="Financed amount in SEK, e.g. 250000.")],
    product: Annotated[str | None, typer.Option("--product", help="Product (for campaigns).")] = None,
    on: Annotated[str | None, typer.Option("--date", help="Start date YYYY-MM-DD (default: today).")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """What a contract would earn, before the deal is made."""
    from ..clock import today
    from ..errors import UsageProblem
    from ..importers.fields import FieldError, parse_cli_amount
    from ..services import points as svc

    try:
        value = parse_cli_amount(amount)
    except FieldError as exc:
        raise UsageProblem(f"--amount: {exc}") from None
    with state(ctx).database().session() as session:
        r = svc.calculate(
            session=session, amount=value, product=product, on=parse_date_opt(on, "--date") or today()
        )
    if fmt is not Format.table:
        render_one(r, fmt)
        return
    campaign = f" x {r['multiplier']} ({r['campaign']})" if r["campaign"] else ""
    lines = [
        f"Contract of {_sek(r['amount_sek'])} SEK"
        + (f", {r['product']}" if r["product"] else "")
        + f", starting {r['start_date']}:",
        f"  volume  {r['volume_points']:>10,} points  ({r['points_per_1000_sek']} per 1 000 SEK)",
        f"  count   {r['count_points']:>10,} points  (per started contract)",
    ]
    if campaign:
        lines.append(f"  campaign{campaign}")
    lines.append(
        f"  total   {r['points']:>10,} points  = {_sek(r['value_sek'])} SEK "
        f"at {r['point_value_sek']} SEK a point"
    )
    typer.echo("\n".join(line.replace(",", " ") if "points" in line else line for line in lines))


def _sek(text: str) -> str:
    whole, _, frac = text.partition(".")
    grouped = f"{int(whole):,}".replace(",", " ")
    return grouped + ("," + frac if frac and frac != "00" else "")


@app.command()
def balance(
    ctx: typer.Context,
    who: Annotated[
        str | None, typer.Argument(help="Seller email or partner code (default: every account).")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Balance as booked up to this date (YYYY-MM-DD).")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Balances: points, held by pending redemptions, available, and their value in SEK."""
    from ..services import points as svc

    with state(ctx).database().session() as session:
        rows = svc.balances(session=session, ref=who, on=parse_date_opt(on, "--on"))
    render(
        rows,
        fmt,
        title="Balances",
        columns=["account", "holder", "partner", "type", "balance", "held", "available", "value_sek"]
        if fmt is Format.table
        else None,
    )


@app.command()
def history(
    ctx: typer.Context,
    who: Annotated[str, typer.Argument(help="Seller email or partner code.")],
    date_from: Annotated[str | None, typer.Option("--from", help="First booking date.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last booking date.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Every posting of an account, by booking date, with the running balance."""
    from ..services import points as svc

    with state(ctx).database().session() as session:
        rows = svc.history(
            session=session,
            ref=who,
            date_from=parse_date_opt(date_from, "--from"),
            date_to=parse_date_opt(date_to, "--to"),
        )
    render(rows, fmt, title=f"History of {who}")


# ignore_unknown_options: a negative POINTS ("-200") is an argument, not an option.
@app.command(context_settings={"ignore_unknown_options": True})
def adjust(
    ctx: typer.Context,
    who: Annotated[str, typer.Argument(help="Seller email or partner code.")],
    points: Annotated[int, int_argument("points", help="Signed points, e.g. 500 or -200.", negative=True)],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown on the statement).")],
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref",
            help="Your reference; the same --ref is never posted twice "
            "(default: account, points, reason and day).",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Post a manual correction.  Re-running the same command does not post twice."""
    from ..services import points as svc

    st = state(ctx)
    r = st.write(
        lambda session: svc.adjust(
            session=session, ref=who, points=points, reason=reason, actor=st.who(), reference=ref
        )
    )
    if fmt is not Format.table:
        render_one(r, fmt)
        return
    if r["result"] == "posted":
        typer.echo(f"{r['account']}: {r['points']:+d} points posted; balance {r['balance']}")
    else:
        say(f"{r['account']}: already posted ({r['key']}); nothing changed")
