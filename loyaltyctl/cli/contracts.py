"""``loyaltyctl contracts``: import contracts from the contract system."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output import Format, render_one
from ._common import (
    FormatOpt,
    ImportOptions,
    import_options,
    run_import,
    state,
)

app = typer.Typer(help="Contracts: import them; points follow.", no_args_is_help=True)


@app.command("import")
@import_options
def import_(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            help="CSV file (contract_id,partner_code,seller_email,start_date,amount,product,status), "
            "- for stdin."
        ),
    ],
    options: ImportOptions = ImportOptions(),
    reapply: Annotated[
        bool,
        typer.Option(
            "--reapply",
            help="Re-apply a file imported before even where later imports changed its contracts.",
        ),
    ] = False,
) -> None:
    """Import contracts (upsert by contract_id) and post the points they earn.

    All-or-nothing: one invalid row and nothing is written.  Re-importing a file
    changes nothing.  A changed row posts the difference as new postings.
    """
    from ..services import contracts as svc

    st = state(ctx)
    run_import(ctx, file, options, svc.import_contracts, actor=st.who(), reapply=reapply)


@app.command()
def show(ctx: typer.Context, contract_id: str, fmt: FormatOpt = Format.table) -> None:
    """Show a contract as last imported, with the points it holds in the ledger."""
    from ..services import contracts as svc

    with state(ctx).database().session() as session:
        row = svc.show_contract(session=session, contract_id=contract_id)
    render_one(row, fmt, title=f"Contract {contract_id}")
