"""``loyaltyctl quiz``: knowledge quizzes and the points their results earn."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output import Format, render, say
from ._common import (
    DryRunOpt,
    EncodingOpt,
    ForceRejectsOpt,
    FormatOpt,
    RejectsOpt,
    SkipInvalidOpt,
    int_option,
    parse_date_opt,
    report_change,
    run_import,
    state,
)

app = typer.Typer(help="Quizzes: create them, award results; points follow.", no_args_is_help=True)


@app.command()
def create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Quiz code, e.g. Q2026-11.")],
    title: Annotated[str, typer.Option("--title", help="What the quiz is about.")],
    questions: Annotated[int, int_option("--questions", help="Number of questions (5 to 10).")],
    points_per_correct: Annotated[
        int, int_option("--points-per-correct", help="Points for each correct answer (1 to 100 000).")
    ],
    welcome: Annotated[
        bool, typer.Option("--welcome", help="Make it the welcome quiz for new sellers (only one is).")
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Create a quiz.  Running the same command again changes nothing."""
    from ..services import quizzes as svc

    st = state(ctx)
    with st.database().session(write=True) as session:
        r = svc.create(
            session=session,
            code=code,
            title=title,
            questions=questions,
            points_per_correct=points_per_correct,
            welcome=welcome,
            actor=st.who(),
        )
    report_change(r, fmt, noun="quiz", key="code", created="created")


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """Every quiz, with how many sellers were awarded and the points."""
    from ..services import quizzes as svc

    with state(ctx).database().session() as session:
        rows = svc.list_quizzes(session=session)
    render(rows, fmt, title="Quizzes")


@app.command()
def show(ctx: typer.Context, code: str, fmt: FormatOpt = Format.table) -> None:
    """One quiz and its awards so far."""
    from ..output import render_one
    from ..services import quizzes as svc

    with state(ctx).database().session() as session:
        r = svc.show(session=session, code=code)
    render_one(r, fmt, title=f"Quiz {r['code']}")


@app.command()
def award(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Quiz code.")],
    file: Annotated[
        str | None,
        typer.Argument(help="CSV file (seller_email,correct[,taken_on]), - for stdin."),
    ] = None,
    seller: Annotated[str | None, typer.Option("--seller", help="Award one seller (email).")] = None,
    correct: Annotated[
        int | None,
        int_option("--correct", help="With --seller: correct answers (0 to the quiz's questions)."),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option("--date", help="With --seller: the day it was taken, YYYY-MM-DD (default: today)."),
    ] = None,
    dry_run: DryRunOpt = False,
    skip_invalid: SkipInvalidOpt = False,
    rejects: RejectsOpt = None,
    force: ForceRejectsOpt = False,
    encoding: EncodingOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Award quiz results: points = correct x points per correct, valued on the day taken.

    A seller is awarded once per quiz: the same result again changes nothing, a
    different one is refused.  A file is all-or-nothing unless --skip-invalid.
    """
    from ..errors import UsageProblem
    from ..services import quizzes as svc

    st = state(ctx)
    if file is not None:
        if seller is not None or correct is not None or on is not None:
            raise UsageProblem("give a FILE or --seller/--correct/--date, not both")
        run_import(
            ctx,
            path=file,
            encoding=encoding,
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            rejects=rejects,
            force=force,
            fmt=fmt,
            service=svc.import_awards,
            code=code,
            actor=st.who(),
        )
        return
    if seller is None or correct is None:
        raise UsageProblem("give a FILE, or --seller EMAIL --correct K")
    if skip_invalid or rejects is not None:
        raise UsageProblem("--skip-invalid and --rejects go with a FILE")
    taken_on = parse_date_opt(on, "--date")
    with st.database().session(write=True, dry_run=dry_run) as session:
        r = svc.award_one(
            session=session, code=code, email=seller, correct=correct, taken_on=taken_on, actor=st.who()
        )
    r["dry_run"] = dry_run
    if fmt is not Format.table:
        from ..output import render_one

        render_one(r, fmt)
        return
    head = "dry run, nothing written: " if dry_run else ""
    if r["result"] == "awarded":
        typer.echo(
            f"{head}{r['seller']}: quiz {r['quiz']}, {r['correct']} correct, "
            f"{r['points_posted']:+d} points (valued {r['taken_on']})"
        )
    else:
        say(f"{r['seller']}: already awarded quiz {r['quiz']} for {r['correct']} correct; nothing changed")
