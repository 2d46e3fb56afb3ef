"""``loyaltyctl leaderboard``: the monthly and yearly ranking and its bonuses."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..output import Format, is_terminal, render, render_one, say
from ._common import DryRunOpt, FormatOpt, int_option, state

app = typer.Typer(help="Leaderboard: who earned most in a month or year; bonuses.", no_args_is_help=True)

MonthOpt = Annotated[
    str | None, typer.Option("--month", help="The month, YYYY-MM, or last (the month before today's).")
]
YearOpt = Annotated[
    str | None, typer.Option("--year", help="The year, YYYY, or last (the year before today's).")
]
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
COLUMNS = ["rank", "seller", "name", "partner", "points", "bonus"]


@app.command()
def show(
    ctx: typer.Context,
    month: MonthOpt = None,
    year: YearOpt = None,
    top: Annotated[
        int, int_option("--top", help="Show ranks up to N, 1 to 1 000 000 (ties can add rows).")
    ] = 10,
    live: Annotated[
        bool, typer.Option("--live", help="Today's figures, also for a period already awarded.")
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """The ranking of a month or year: as awarded, or (not yet awarded, --live) today's figures."""
    from ..services import leaderboard as svc

    period = svc.period_of(month=month, year=year)
    with state(ctx).database().session() as session:
        r = svc.show(session=session, period=period, top=top, live=live)
    rows = r["rows"]
    if fmt is not Format.table:
        render(rows, fmt, columns=COLUMNS)
    else:
        if is_terminal(sys.stdout):
            rows = [{**row, "rank": f"{MEDALS.get(row['rank'], '  ')} {row['rank']}"} for row in rows]
        title = f"Leaderboard {r['period']} ({r['first_day']} to {r['last_day']})"
        render(
            rows,
            fmt,
            title=title,
            columns=COLUMNS,
            numeric=["rank"],
        )
    if r["awarded"]:
        shown = "as awarded" if r["source"] == "awarded" else "today's figures"
        diff = (
            "today's figures differ from the awarded ones" if r["differs"] else "today's figures are the same"
        )
        say(f"{r['period']} was awarded on {r['awarded_on']} (shown {shown}); {diff}")
    else:
        say(f"{r['period']} is not awarded yet: today's figures; bonus is what a run would award")


@app.command()
def run(
    ctx: typer.Context,
    month: MonthOpt = None,
    year: YearOpt = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Award an ended period before leaderboard_settle_days have passed."),
    ] = False,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Credit a period's bonuses (monthly: top 3; yearly: top 10), once.

    Running an awarded period again awards nothing, exits 0 and shows the stored result.
    """
    from ..services import leaderboard as svc

    period = svc.period_of(month=month, year=year)
    st = state(ctx)
    r = st.write(
        lambda session: svc.run(session=session, period=period, force=force, dry_run=dry_run, actor=st.who()),
        dry_run=dry_run,
    )
    r["dry_run"] = dry_run
    if fmt is Format.json:
        render_one(r, fmt)
    elif fmt is Format.csv:
        # One row per winner; period and result on every row, so a log of runs greps well.
        rows = [{"period": r["period"], "result": r["result"], **w} for w in r["winners"]]
        render(rows, fmt, columns=["period", "result", *COLUMNS])
    if fmt is not Format.table:
        return
    head = {
        "awarded": f"{r['period']}: awarded {r['bonus_points']} bonus points",
        "already awarded": f"{r['period']}: already awarded on {r['awarded_on']}; nothing changed",
        "would award": f"{r['period']}: dry run, nothing written: "
        f"would award {r['bonus_points']} bonus points",
    }[r["result"]]
    say(head)
    render(r["winners"], fmt, columns=COLUMNS)
