"""``loyaltyctl sellers``: add, import, list, deactivate, reactivate."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output import Format, render
from ._common import (
    DryRunOpt,
    EncodingOpt,
    ForceRejectsOpt,
    FormatOpt,
    RejectsOpt,
    SkipInvalidOpt,
    parse_date_opt,
    report_change,
    run_import,
    state,
)

app = typer.Typer(help="Sellers: the salespeople at partners.", no_args_is_help=True)


@app.command()
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The seller's email (case-insensitive).")],
    partner: Annotated[str, typer.Option("--partner", help="Partner code.")],
    name: Annotated[str, typer.Option("--name", help="The seller's name.")],
    enrolled_on: Annotated[
        str | None, typer.Option("--enrolled-on", help="Enrolment date, YYYY-MM-DD (default: today).")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Add a seller to a partner.  Re-running with the same details changes nothing."""
    from ..services import sellers as svc

    with state(ctx).database().session(write=True) as session:
        result = svc.add(
            session=session,
            seller_in=svc.SellerIn(
                email=email,
                name=name,
                partner_code=partner,
                enrolled_on=parse_date_opt(enrolled_on, "--enrolled-on"),
            ),
        )
    _said(result, fmt)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="CSV file (email,name,partner_code[,enrolled_on]), - for stdin.")
    ],
    dry_run: DryRunOpt = False,
    skip_invalid: SkipInvalidOpt = False,
    rejects: RejectsOpt = None,
    force: ForceRejectsOpt = False,
    encoding: EncodingOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Create or update sellers from CSV (upsert by email)."""
    from ..services import sellers as svc

    run_import(
        ctx,
        path=file,
        encoding=encoding,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        rejects=rejects,
        force=force,
        fmt=fmt,
        service=svc.import_sellers,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner's.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List sellers (balance is empty for sellers of pooled partners: the pool holds it)."""
    from ..services import sellers as svc

    with state(ctx).database().session() as session:
        rows = svc.list_sellers(session=session, partner_code=partner)
    render(rows, fmt, title="Sellers")


@app.command()
def deactivate(ctx: typer.Context, email: str, fmt: FormatOpt = Format.table) -> None:
    """Deactivate a seller: new contracts for them are refused; points stay."""
    _active(ctx, email, False, fmt)


@app.command()
def reactivate(ctx: typer.Context, email: str, fmt: FormatOpt = Format.table) -> None:
    """Reactivate a seller."""
    _active(ctx, email, True, fmt)


def _active(ctx: typer.Context, email: str, active: bool, fmt: Format) -> None:
    from ..services import sellers as svc

    with state(ctx).database().session(write=True) as session:
        result = svc.set_active(session=session, email=email, active=active)
    _said(result, fmt)


def _said(result: dict, fmt: Format) -> None:
    report_change(result, fmt, noun="seller", key="email", created="added")
