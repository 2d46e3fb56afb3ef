"""``loyaltyctl db``: schema version, upgrades, the ledger check, backups and copies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import DatabaseProblem, UsageProblem
from ..output import Format, render, render_one, say
from ._common import DryRunOpt, FormatOpt, state

app = typer.Typer(
    help="The database: init, status, upgrade, check, seal, backup, copy.", no_args_is_help=True
)


@app.command()
def init(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """Create a new program database (the only command that does); an existing,
    up-to-date one is left as it is."""
    r = state(ctx).database().init()
    if fmt is not Format.table:
        render_one(r, fmt)
    elif r["created"]:
        say(f"created database {r['database']} (schema {r['schema']})")
    else:
        say(
            f"note: database {r['database']} already exists and is up to date (schema {r['schema']}); "
            "nothing changed"
        )


@app.command()
def status(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """Where the database is, its schema version and what it holds."""
    from ..services import dbadmin

    db = state(ctx).database()
    with db.session() as session:
        r = dbadmin.status(session=session, db=db)
    render_one(r, fmt, title="Database")


@app.command()
def upgrade(ctx: typer.Context) -> None:
    """Bring an older database's schema up to date (`db init` creates a new one)."""
    db = state(ctx).database()
    before, after = db.upgrade()
    if before == after:
        say(f"schema is up to date ({after})")
    else:
        say(f"schema upgraded from {before} to {after}")


@app.command()
def check(
    ctx: typer.Context,
    seal: Annotated[
        str | None,
        typer.Option(
            "--seal",
            metavar="SEAL",
            help="A seal from `db seal`: also prove that no posting up to it was changed, removed "
            "or inserted since.",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Prove the ledger adds up; exit 6 on any mismatch, naming each."""
    from ..chain import Seal
    from ..services import dbadmin

    sealed = Seal.parse(seal) if seal is not None else None
    db = state(ctx).database()
    with db.session() as session:
        results = dbadmin.check(session=session, db=db, seal=sealed)
    failed = [r for r in results if not r.ok]
    if fmt is Format.table:
        for r in results:
            mark = "ok  " if r.ok else "FAIL"
            typer.echo(f"{mark} {r.name}: {r.description}")
            for p in r.problems:
                typer.echo(f"     {p}")
            if r.more:
                typer.echo(f"     ... and {r.more} more")
    else:
        rows = [r.as_dict() for r in results]
        if fmt is Format.json:
            render_one({"ok": not failed, "checks": rows}, fmt)
        else:
            render([{**x, "problems": "; ".join(x["problems"])} for x in rows], fmt)
    if failed:
        names = ", ".join(r.name for r in failed)
        if any(r.name == "integrity" for r in failed):
            from ..db import display_url

            raise DatabaseProblem(
                f"database {display_url(db.url)} is corrupt: db check failed: {names}",
                hint=f"{db.restore_hint()}; nothing was changed",
            )
        raise DatabaseProblem(
            f"db check failed: {names}",
            hint=f"{db.restore_hint()}, or ask the developers; nothing was changed",
        )


@app.command("seal")
def seal_(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """Print the ledger's seal (postings, last id, chain hash): keep it outside the database."""
    from ..services import dbadmin

    db = state(ctx).database()
    with db.session() as session:
        head = dbadmin.seal(session=session)
    if fmt is Format.table:
        typer.echo(head.token)
        say(
            f"sealed {head.count} postings up to #{head.last_id}; keep the seal outside the database "
            "and prove it later with `loyaltyctl db check --seal SEAL`"
        )
    else:
        render_one(head.as_dict(), fmt)


@app.command()
def backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The copy to write.", dir_okay=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """A consistent copy of the database, made safely while others write."""
    from ..services import dbadmin

    r = dbadmin.backup(db=state(ctx).database(), target=path, force=force)
    if fmt is Format.table:
        say(f"backed up {r['database']} to {r['backup']} ({r['size_bytes']} bytes)")
    else:
        render_one(r, fmt)


@app.command()
def copy(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL|PATH",
            help="The database to fill: a SQLAlchemy URL (postgresql+psycopg://user@host/dbname) or a "
            "SQLite file.  It must be new or empty.",
        ),
    ],
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Copy the whole program to another, empty database and verify the copy."""
    from ..db import Database, resolve_url
    from ..services import dbcopy

    if not to.strip():
        raise UsageProblem("--to needs a database URL or file")
    source = state(ctx).database()
    target = Database(resolve_url(to.strip()))
    try:
        r = dbcopy.copy_database(source=source, target=target, dry_run=dry_run)
    finally:
        target.dispose()
    if fmt is Format.json:
        render_one(r.as_dict(), fmt)
    else:
        render(r.tables, fmt, title="Rows per table")
    if dry_run:
        say(
            f"dry run: would copy {r.rows} rows ({r.accounts} accounts, {r.balance_total} points) "
            f"from {r.source} to {r.target} ({r.target_was}); nothing was written"
        )
    else:
        say(
            f"copied {r.rows} rows ({r.accounts} accounts, {r.balance_total} points, {r.held_total} held) "
            f"from {r.source} to {r.target}; counts, balances, the seal and db check agree (seal {r.seal})"
        )
