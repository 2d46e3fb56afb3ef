"""``loyaltyctl redemptions``: requests to spend points, and the office's decisions."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output import Format, render, say
from ._common import (
    DryRunOpt,
    FormatOpt,
    ImportOptions,
    import_options,
    int_option,
    run_import,
    state,
)

app = typer.Typer(help="Redemptions: spend points on catalog items.", no_args_is_help=True)

LIST_COLUMNS = ["id", "account", "partner", "sku", "quantity", "points", "status", "requested_at", "reason"]


@app.command()
def request(
    ctx: typer.Context,
    account: Annotated[
        str, typer.Argument(help="The seller's email (individual mode) or the partner code (pooled).")
    ],
    sku: Annotated[str, typer.Argument(help="The catalog item.")],
    qty: Annotated[int, int_option("--qty", help="How many.", min=1)] = 1,
    request_id: Annotated[
        str | None, typer.Option("--id", help="Name the request yourself: a re-run then changes nothing.")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Request a reward: holds its points and stock at once, and prints the request id."""
    from ..services import redemptions as svc

    st = state(ctx)
    row = st.write(
        lambda session: svc.request(
            session=session, ref=account, sku=sku, quantity=qty, actor=st.who(), request_id=request_id
        )
    )
    if fmt is Format.table:
        typer.echo(row["id"])
        verb = "already requested" if row["result"] == "unchanged" else "requested"
        say(
            f"{verb} {row['quantity']} x {row['sku']} for {row['points']} points; "
            f"{row['available']} available"
        )
    else:
        render([row], fmt)


@app.command("import")
@import_options
def import_(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="CSV file (request_id,account,sku,quantity[,requested_at]), - for stdin.")
    ],
    options: ImportOptions = ImportOptions(),
) -> None:
    """Import redemption requests (idempotent by request_id)."""
    from ..services import redemptions as svc

    run_import(ctx, file, options, svc.import_requests, actor=state(ctx).who())


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, approved or rejected (default: all).")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List redemption requests, oldest first."""
    from ..services import redemptions as svc

    with state(ctx).database().session() as session:
        rows = svc.list_requests(session=session, status=status)
    render(rows, fmt, title="Redemptions", columns=None if fmt is Format.json else LIST_COLUMNS)


@app.command()
def review(ctx: typer.Context) -> None:
    """Go through the pending requests, oldest first: approve, reject, skip or quit.

    Each decision is committed as it is made.  Needs a terminal."""
    from ..errors import Interrupted, UsageProblem
    from . import _prompt

    if not _prompt.interactive():
        raise UsageProblem(
            "redemptions review needs a terminal; "
            "use `redemptions approve ID...` or `redemptions reject ID... --reason TEXT`"
        )
    from ..services import redemptions as svc

    db = state(ctx).database()
    with db.session() as session:
        queue = svc.pending_ids(session=session)
        confirm_above = svc.confirm_above(session=session)
    if not queue:
        say("no pending requests")
        return
    done = {"approved": 0, "rejected": 0, "skipped": 0}
    try:
        for n, rid in enumerate(queue, 1):
            outcome = _review_one(ctx, rid, f"[{n}/{len(queue)}]", confirm_above)
            if outcome == "quit":
                break
            if outcome in done:
                done[outcome] += 1
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted: {_counts(done)} (decisions already taken are kept; the request on screen "
            "was not decided)"
        ) from None
    say(_counts(done))


def _counts(done: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in done.items())


def _review_one(ctx: typer.Context, rid: str, place: str, confirm_above: int) -> str:
    """Show one request and ask what to do: ``approved``, ``rejected``,
    ``skipped``, ``quit``, or ``gone`` (decided elsewhere meanwhile).  The
    answers are taken before the transaction, so a retry of it asks nothing
    again."""
    from functools import partial

    from ..errors import LoyaltyError
    from ..services import redemptions as svc
    from . import _prompt

    st = state(ctx)
    db = st.database()
    with db.session() as session:
        r = svc.show(session=session, rid=rid)
    if r["status"] != "pending":
        return "gone"
    short = max(0, r["points"] - r["balance"])
    what = f"{r['quantity']} x {r['sku']} {r['item'] or ''}".rstrip()
    typer.echo(
        f"\n{place} {r['id']}  requested {r['requested_at'][:10]}\n"
        f"  holder:    {r['holder']} ({r['account']}), partner {r['partner']}\n"
        f"  balance:   {r['balance']} points, available {r['available']}\n"
        f"  item:      {what}\n"
        f"  cost:      {r['points']} points"
    )
    if short:
        typer.echo(
            f"  short:     {short} points: the balance no longer covers the cost (points taken back "
            "since the request); approving is refused, reject it"
        )
    answer = _prompt.choose(f"{r['id']}:", [("a", "approve"), ("r", "reject"), ("s", "skip"), ("q", "quit")])
    if answer == "q":
        return "quit"
    if answer == "s":
        return "skipped"
    reason = None
    if answer == "r":
        reason = _prompt.ask_text("reason:").strip()
        while not reason:
            say("a reason is required (the holder is told); Ctrl-C stops the review")
            reason = _prompt.ask_text("reason:").strip()
    if answer == "a" and not short and r["points"] > confirm_above:
        question = f"approve {r['points']} points from {r['account']} for {what}?"
        if not _prompt.confirm(question):
            say(f"{r['id']}: not approved, skipped")
            return "skipped"
    decide = partial(svc.decide, ids=[rid], approve=answer == "a", actor=st.who(), reason=reason)
    try:
        row = st.write(decide)[0]
    except LoyaltyError as exc:
        say(f"{r['id']}: {exc.message}")
        if exc.hint:
            say(f"hint: {exc.hint}")
        return "skipped"
    typer.echo(f"{r['id']}: {row['status']}")
    return row["status"]


@app.command()
def approve(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Request ids.")],
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Approve requests: debit the points, consume the stock (all or nothing)."""
    _decide(ctx, ids, True, None, fmt, dry_run)


@app.command()
def reject(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Request ids.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded and shown).")],
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Reject requests: release the held points and stock (all or nothing)."""
    _decide(ctx, ids, False, reason, fmt, dry_run)


def _decide(
    ctx: typer.Context, ids: list[str], approve: bool, reason: str | None, fmt: Format, dry_run: bool
) -> None:
    from ..services import redemptions as svc

    st = state(ctx)
    rows = st.write(
        lambda session: svc.decide(session=session, ids=ids, approve=approve, actor=st.who(), reason=reason),
        dry_run=dry_run,
    )
    if dry_run:
        say("dry run, nothing written")
    render(
        rows,
        fmt,
        columns=None if fmt is Format.json else ["id", "account", "sku", "points", "status", "result"],
    )
