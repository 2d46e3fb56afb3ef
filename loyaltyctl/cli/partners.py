"""``loyaltyctl partners``: enrol, import, list, show, suspend, reactivate."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from ..output import Format, render, render_one
from ._common import (
    DryRunOpt,
    EncodingOpt,
    ForceRejectsOpt,
    FormatOpt,
    RejectsOpt,
    SkipInvalidOpt,
    report_change,
    run_import,
    state,
)

app = typer.Typer(help="Partners (resellers) and how their staff take part.", no_args_is_help=True)


class Mode(StrEnum):
    individual = "individual"
    pooled = "pooled"


LIST_COLUMNS = ["code", "name", "mode", "consent", "status", "sellers", "points"]


@app.command()
def enroll(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Partner code (case-insensitive, stored upper case).")],
    name: Annotated[str, typer.Option("--name", help="The partner's name.")],
    mode: Annotated[
        Mode,
        typer.Option("--mode", help="individual: each seller holds an account; pooled: one team account."),
    ] = Mode.individual,
    consent: Annotated[
        bool, typer.Option("--consent/--no-consent", help="The partner consents to its staff taking part.")
    ] = False,
    email: Annotated[str | None, typer.Option("--email", help="Contact email.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Enrol a partner.  Re-running with the same details changes nothing."""
    from ..services import partners as svc

    with state(ctx).database().session(write=True) as session:
        result = svc.enroll(
            session=session,
            partner_in=svc.PartnerIn(code=code, name=name, mode=mode.value, consent=consent, email=email),
        )
    _said(result, fmt)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="CSV file (code,name,mode,consent,email), - for stdin.")],
    dry_run: DryRunOpt = False,
    skip_invalid: SkipInvalidOpt = False,
    rejects: RejectsOpt = None,
    force: ForceRejectsOpt = False,
    encoding: EncodingOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Create or update partners from CSV (upsert by code)."""
    from ..services import partners as svc

    run_import(
        ctx,
        path=file,
        encoding=encoding,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        rejects=rejects,
        force=force,
        fmt=fmt,
        service=svc.import_partners,
        actor=state(ctx).who(),
    )


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """List partners with their active sellers and the points they hold."""
    from ..services import partners as svc

    with state(ctx).database().session() as session:
        rows = svc.list_partners(session=session)
    render(rows, fmt, columns=LIST_COLUMNS if fmt is Format.table else None, title="Partners")


@app.command()
def show(ctx: typer.Context, code: str, fmt: FormatOpt = Format.table) -> None:
    """Show one partner."""
    from ..services import partners as svc

    with state(ctx).database().session() as session:
        row = svc.show_partner(session=session, code=code)
    render_one(row, fmt, title=f"Partner {row['code']}")


@app.command()
def suspend(ctx: typer.Context, code: str, fmt: FormatOpt = Format.table) -> None:
    """Suspend a partner: its contracts are refused until it is reactivated."""
    _status(ctx, code, "suspended", fmt)


@app.command()
def reactivate(ctx: typer.Context, code: str, fmt: FormatOpt = Format.table) -> None:
    """Reactivate a suspended partner."""
    _status(ctx, code, "active", fmt)


def _status(ctx: typer.Context, code: str, status: str, fmt: Format) -> None:
    from ..services import partners as svc

    with state(ctx).database().session(write=True) as session:
        result = svc.set_status(session=session, code=code, status=status)
    _said(result, fmt)


def _said(result: dict, fmt: Format) -> None:
    report_change(result, fmt, noun="partner", key="code", created="enrolled")
