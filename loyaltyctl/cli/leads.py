"""``loyaltyctl leads``: sellers' tips about companies that may become partners."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output import Format, render, render_one, say
from ._common import FormatOpt, int_argument, state

app = typer.Typer(help="Lead tips: record, accept (points follow), reject.", no_args_is_help=True)


def _report(r: dict, fmt: Format, done: str) -> None:
    if fmt is not Format.table:
        render_one(r, fmt)
        return
    if r["result"] == "unchanged":
        say(f"lead #{r['id']}: already {r['status']}; nothing changed")
    else:
        say(f"lead #{r['id']}: {done}")
    render_one({k: v for k, v in r.items() if k != "result"}, fmt)


@app.command()
def add(
    ctx: typer.Context,
    seller: Annotated[str, typer.Option("--seller", help="Email of the seller giving the tip.")],
    company: Annotated[str, typer.Option("--company", help="The company's name.")],
    org_number: Annotated[
        str | None, typer.Option("--org-number", help="Organisation number (one tip per number is paid).")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Free text.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Record a tip (status pending).  The same tip again changes nothing."""
    from ..services import leads as svc

    st = state(ctx)
    r = st.write(
        lambda session: svc.add(
            session=session, email=seller, company=company, org_number=org_number, note=note, actor=st.who()
        )
    )
    _report(r, fmt, "recorded (pending)")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="Only tips with this status: pending, accepted, rejected.")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Every tip, oldest first."""
    from ..services import leads as svc

    with state(ctx).database().session() as session:
        rows = svc.list_leads(session=session, status=status)
    render(
        rows,
        fmt,
        title="Lead tips",
        columns=[
            "id",
            "seller",
            "company",
            "org_number",
            "status",
            "points",
            "created_on",
            "decided_on",
            "reason",
        ]
        if fmt is Format.table
        else None,
    )


@app.command()
def accept(
    ctx: typer.Context,
    lead_id: Annotated[int, int_argument("ID", help="The tip's id (see `leads list`).")],
    fmt: FormatOpt = Format.table,
) -> None:
    """The company became a partner: credit the tipping seller lead_points (once)."""
    from ..services import leads as svc

    st = state(ctx)
    r = st.write(lambda session: svc.accept(session=session, lead_id=lead_id, actor=st.who()))
    _report(r, fmt, f"accepted; {r['seller']} credited {r['points']} points")


@app.command()
def reject(
    ctx: typer.Context,
    lead_id: Annotated[int, int_argument("ID", help="The tip's id (see `leads list`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown in `leads list`).")],
    fmt: FormatOpt = Format.table,
) -> None:
    """Reject a tip; no points."""
    from ..services import leads as svc

    st = state(ctx)
    r = st.write(lambda session: svc.reject(session=session, lead_id=lead_id, reason=reason, actor=st.who()))
    _report(r, fmt, "rejected")
