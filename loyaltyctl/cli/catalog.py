"""``loyaltyctl catalog``: the rewards points can buy."""

from __future__ import annotations

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
    int_option,
    run_import,
    state,
)

app = typer.Typer(help="The reward catalog: what points can buy.", no_args_is_help=True)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="CSV file (sku,name,points[,stock][,active]), - for stdin.")],
    dry_run: DryRunOpt = False,
    skip_invalid: SkipInvalidOpt = False,
    rejects: RejectsOpt = None,
    force: ForceRejectsOpt = False,
    encoding: EncodingOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Create or update catalog items from CSV (upsert by sku; blank stock = unlimited)."""
    from ..services import catalog as svc

    run_import(
        ctx,
        path=file,
        encoding=encoding,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        rejects=rejects,
        force=force,
        fmt=fmt,
        service=svc.import_catalog,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    search: Annotated[
        str | None, typer.Option("--search", help="Only items whose name or sku contains this.")
    ] = None,
    max_points: Annotated[
        int | None, int_option("--max-points", help="Only items costing at most N points.")
    ] = None,
    all_items: Annotated[bool, typer.Option("--all", help="Include inactive items.")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """List the active catalog items by name."""
    from ..services import catalog as svc

    with state(ctx).database().session() as session:
        rows = svc.list_items(session=session, search=search, max_points=max_points, all_items=all_items)
    render(
        rows,
        fmt,
        title="Catalog",
        columns=["sku", "name", "points", "stock", "reserved", "available", "active"],
    )


@app.command()
def show(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The item's sku.")],
    fmt: FormatOpt = Format.table,
) -> None:
    """One catalog item, with its stock and what pending requests reserve."""
    from ..services import catalog as svc

    with state(ctx).database().session() as session:
        row = svc.show(session=session, sku=sku)
    render_one(row, fmt)
