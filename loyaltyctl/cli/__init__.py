"""The ``loyaltyctl`` command line: one Typer app per noun, joined here.

This is the only place where errors become exit codes: every ``LoyaltyError``
prints one line (plus a hint) on stderr; database driver errors, OS errors and
anything unexpected are mapped too, so no traceback reaches a user
(``LOYALTYCTL_DEBUG=1`` shows it, for developers).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

# Plain (not boxed) help and usage errors when nobody is watching a terminal:
# cron mail and log files stay readable.  Must be decided before typer loads.
if not (sys.stderr.isatty() and sys.stdout.isatty()):
    os.environ.setdefault("TYPER_USE_RICH", "0")

import typer  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from .. import __version__  # noqa: E402
from ..errors import EXIT_DATABASE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_IO, LoyaltyError  # noqa: E402
from . import (  # noqa: E402
    campaigns,
    catalog,
    contracts,
    dbcmd,
    leaderboard,
    leads,
    partners,
    points,
    quiz,
    redemptions,
    report,
    rules,
    sellers,
    statements,
)
from ._common import State  # noqa: E402


def debug() -> bool:
    """``LOYALTYCTL_DEBUG`` set to a true-ish value (1, true, yes, on, y; any
    case): tracebacks for developers.  Unset, empty, 0, false, no, off or
    anything else: none."""
    return os.environ.get("LOYALTYCTL_DEBUG", "").strip().lower() in ("1", "true", "yes", "on", "y")


def _report(exc: BaseException, db: str | None = None) -> int:
    """One line on stderr for any failure; returns the exit code.  No
    password of a database URL ever reaches it (``db.scrub``)."""
    from ..output import say as _say

    def say(text: str) -> None:
        from ..db import scrub

        _say(scrub(text))

    if isinstance(exc, LoyaltyError):
        if not exc.said:
            say(f"error: {exc.message}")
            if exc.hint:
                say(f"hint: {exc.hint}")
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        say("error: interrupted; nothing was written (the transaction was rolled back)")
        return EXIT_INTERRUPTED
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        say(f"error: {name}{exc.strerror or exc}")
        return EXIT_IO
    try:
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError
    except ImportError:  # pragma: no cover
        DBAPIError = SQLAlchemyError = ()
    import sqlite3

    if isinstance(exc, DBAPIError | sqlite3.Error):
        from ..db import describe_db_error, resolve_url

        return _report(describe_db_error(exc, resolve_url(db)))
    if isinstance(exc, SQLAlchemyError):
        say(f"error: database: {str(exc).splitlines()[0]}")
        return EXIT_DATABASE
    say(
        f"internal error: {type(exc).__name__}: {exc} "
        "(a bug in loyaltyctl; nothing was committed; LOYALTYCTL_DEBUG=1 shows the traceback)"
    )
    return EXIT_INTERNAL


class LoyaltyGroup(TyperGroup):
    """The root group: runs every command inside the error mapping.  (A
    transaction the database gives up on is run again where it is opened:
    ``_common.retried``.)"""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # `loyaltyctl ... | head`: the reader left; that is not an error.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except Exception as exc:
            if debug():
                raise
            if type(exc).__module__.startswith(("click", "typer")):
                raise
            raise typer.Exit(_report(exc, getattr(ctx.find_root().obj, "db", None))) from None
        except KeyboardInterrupt as exc:
            raise typer.Exit(_report(exc)) from None
        finally:
            _dispose(ctx)


def _dispose(ctx) -> None:
    """Close the command's database connections (a server keeps them otherwise)."""
    st = ctx.find_root().obj
    database = getattr(st, "_database", None)
    if database is not None:
        database.dispose()


app = typer.Typer(
    cls=LoyaltyGroup,
    name="loyaltyctl",
    help="Run the partner loyalty program: contracts in, points out, nothing lost.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loyaltyctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="LOYALTYCTL_DB",
            show_envvar=True,
            help="Database file or SQLAlchemy URL (default: ~/.local/share/loyaltyctl/loyalty.db).",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar="LOYALTYCTL_ACTOR",
            help="Who is acting, recorded on every posting (default: the OS user).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    ctx.obj = State(db=db, actor=actor)


app.add_typer(partners.app, name="partners")
app.add_typer(sellers.app, name="sellers")
app.add_typer(contracts.app, name="contracts")
app.add_typer(points.app, name="points")
app.add_typer(rules.app, name="rules")
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(dbcmd.app, name="db")
app.add_typer(quiz.app, name="quiz")
app.add_typer(leads.app, name="leads")
app.add_typer(leaderboard.app, name="leaderboard")
app.add_typer(catalog.app, name="catalog")
app.add_typer(redemptions.app, name="redemptions")
app.add_typer(statements.app, name="statements")
app.add_typer(report.app, name="report")


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="loyaltyctl")
    except SystemExit:
        raise
    except BaseException as exc:  # errors raised outside a command (parsing, start-up)
        if debug():
            raise
        sys.exit(_report(exc))
