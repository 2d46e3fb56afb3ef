"""What the command modules share: options, the database handle and its
transactions, input files, rejects files, progress and batch summaries.  Only
typer is imported at the top, so ``loyaltyctl --help`` stays fast."""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, TypeVar

import typer

from ..errors import FileProblem, UsageProblem
from ..output import Format, is_terminal, render_one, say

if TYPE_CHECKING:
    from ..db import Database
    from ..errors import RowError
    from ..importers.csv_source import CsvInput, Record
    from ..services.batch import BatchSummary

T = TypeVar("T")

# A transaction the database gave up on (PostgreSQL: a serialization failure or
# deadlock, SQLSTATE 40001/40P01) runs again, at most this many times in all.
MAX_ATTEMPTS = 3


@dataclass
class State:
    db: str | None = None
    actor: str | None = None
    _database: Database | None = None

    def database(self) -> Database:
        if self._database is None:
            from ..db import Database, resolve_url

            self._database = Database(resolve_url(self.db))
        return self._database

    def who(self) -> str:
        from ..clock import default_actor

        return self.actor or default_actor()

    def write(self, work: Callable[..., T], *, dry_run: bool = False) -> T:
        """``work(session=...)`` in one write transaction, committed unless
        ``dry_run``; run again when the database gives up on it (``retried``)."""
        db = self.database()

        def attempt() -> T:
            with db.session(write=True, dry_run=dry_run) as session:
                return work(session=session)

        return retried(attempt)


def retried(attempt: Callable[[], T], *, again: bool = True) -> T:
    """``attempt()``, which runs one transaction; when the database gave up on
    it (a serialization failure or deadlock: rolled back, nothing written), run
    it again, ``MAX_ATTEMPTS`` times in all.  ``again=False`` (its input was
    stdin, which cannot be read twice): once only."""
    import time

    for n in range(1, MAX_ATTEMPTS + 1):
        try:
            return attempt()
        except Exception as exc:
            if not again or n == MAX_ATTEMPTS or not _retryable(exc):
                raise
        time.sleep(0.05 * n)
    raise AssertionError("unreachable")  # pragma: no cover


def _retryable(exc: BaseException) -> bool:
    from ..errors import LoyaltyError

    if isinstance(exc, LoyaltyError):
        return exc.retryable
    from ..db import is_retryable

    return is_retryable(exc)


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = State()
    return root.obj


FormatOpt = Annotated[
    Format,
    typer.Option("--format", "-f", help="Output format: table, csv or json.", case_sensitive=False),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")]
SkipInvalidOpt = Annotated[
    bool,
    typer.Option("--skip-invalid", help="Apply the valid rows, reject the others (exit code stays 1)."),
]
RejectsOpt = Annotated[
    Path | None,
    typer.Option(
        "--rejects", help="With --skip-invalid: write rejected rows and reasons here.", dir_okay=False
    ),
]
ForceRejectsOpt = Annotated[
    bool, typer.Option("--force", help="With --rejects: replace an existing rejects file (else exit 7).")
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding", help="Read the file in this encoding (default: UTF-8, falling back to Windows-1252)."
    ),
]


@dataclass(frozen=True)
class ImportOptions:
    """The options every CSV import command takes (``import_options``)."""

    dry_run: bool = False
    skip_invalid: bool = False
    rejects: Path | None = None
    force: bool = False
    encoding: str | None = None
    fmt: Format = Format.table


# name, annotation (type and typer option), default: declared here once.
_IMPORT_OPTIONS = (
    ("dry_run", DryRunOpt, False),
    ("skip_invalid", SkipInvalidOpt, False),
    ("rejects", RejectsOpt, None),
    ("force", ForceRejectsOpt, False),
    ("encoding", EncodingOpt, None),
    ("fmt", FormatOpt, Format.table),
)


def import_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give an import command the options every CSV import shares, declared
    here once (as sqlite-utils' ``output_options`` decorator does):
    ``--dry-run``, ``--skip-invalid``, ``--rejects`` (and ``--force`` to
    replace an existing rejects file), ``--encoding`` and ``--format``.  The
    command takes them together as its parameter ``options: ImportOptions``;
    they are listed where that parameter stands."""
    signature = inspect.signature(command, eval_str=True)
    keyword = inspect.Parameter.KEYWORD_ONLY
    params: list[inspect.Parameter] = []
    after = False  # parameters after ``options`` become keyword-only, as the shared ones are
    for param in signature.parameters.values():
        if param.name == "options":
            params += [
                inspect.Parameter(name, keyword, default=default, annotation=annotation)
                for name, annotation, default in _IMPORT_OPTIONS
            ]
            after = True
        else:
            params.append(param.replace(kind=keyword) if after else param)
    names = [name for name, _, _ in _IMPORT_OPTIONS]

    @functools.wraps(command)
    def with_options(*args, **kwargs):
        options = ImportOptions(**{name: kwargs.pop(name) for name in names})
        return command(*args, options=options, **kwargs)

    with_options.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    with_options.__annotations__ = {p.name: p.annotation for p in params}
    return with_options


def parse_date_opt(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    # Strictly YYYY-MM-DD in ASCII digits: date.fromisoformat alone would also
    # take ISO week dates (2026-W01-1) and, on newer Pythons, other digits.
    if len(value) != 10 or not value.isascii() or value[4] != "-" or value[7] != "-":
        raise UsageProblem(f"{name} {value!r} is not a date (YYYY-MM-DD)")
    try:
        if not (value[:4] + value[5:7] + value[8:]).isdigit():
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise UsageProblem(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None
    from ..importers.fields import FieldError, in_range

    try:
        return in_range(day, value)
    except FieldError as exc:
        raise UsageProblem(f"{name} {exc}") from None


# Whole numbers on the command line: ASCII digits only, a '-' in front only where
# a negative value makes sense.  Python's int() (and typer's own int) would also
# take "+3", " 2", "1_000", "1.0" or other scripts' digits ("５", "١").
_DIGITS = re.compile(r"[0-9]+")
_SIGNED_DIGITS = re.compile(r"-?[0-9]+")


def _grouped(n: int) -> str:
    """1 000 000 as the messages write it; years (2000) stay ungrouped."""
    return f"{n:,}".replace(",", " ") if abs(n) >= 10_000 else str(n)


class WholeNumber:
    """typer ``parser=`` for an int option or argument.  ``name`` is how the
    message names it (``--top``, ``ID``); ``minimum``/``maximum`` replace
    typer's ``min``/``max``, which a parser bypasses.  A bad value is a
    ``UsageProblem``: ``error: --top '1_0': ...``, exit 2."""

    def __init__(
        self, name: str, *, minimum: int | None = None, maximum: int | None = None, negative: bool = False
    ) -> None:
        self.name = name
        self.minimum = minimum
        self.maximum = maximum
        self.negative = negative
        self.__name__ = "int"  # the type name typer shows when it names a parser

    def __call__(self, value: str | int) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            n = value  # a default
        else:
            pattern = _SIGNED_DIGITS if self.negative else _DIGITS
            if not isinstance(value, str) or not pattern.fullmatch(value):
                rule = "digits 0-9, with '-' in front if negative" if self.negative else "digits 0-9 only"
                raise UsageProblem(f"{self.name} {value!r}: a whole number in {rule}")
            try:
                n = int(value)
            except ValueError:  # more digits than int() takes (4 300)
                raise UsageProblem(f"{self.name}: a number of {len(value)} digits is too long") from None
        low, high = self.minimum, self.maximum
        if (low is not None and n < low) or (high is not None and n > high):
            if low is not None and high is not None:
                bounds = f"from {_grouped(low)} to {_grouped(high)}"
            elif low is not None:
                bounds = f"of at least {_grouped(low)}"
            else:
                bounds = f"of at most {_grouped(high)}"  # type: ignore[arg-type]
            raise UsageProblem(f"{self.name} {n}: must be a whole number {bounds}")
        return n


def int_option(
    *decls: str,
    help: str,
    min: int | None = None,
    max: int | None = None,
    negative: bool = False,
    **kwargs,
):
    """``typer.Option`` for a whole number (see ``WholeNumber``); ``min``/``max``
    are checked by the parser and still shown in ``--help``."""
    parser = WholeNumber(decls[0], minimum=min, maximum=max, negative=negative)
    return typer.Option(*decls, help=help, min=min, max=max, parser=parser, **kwargs)


def int_argument(name: str, *, help: str, negative: bool = False, **kwargs):
    """``typer.Argument`` for a whole number; ``name`` as usage and errors show it."""
    return typer.Argument(metavar=name, help=help, parser=WholeNumber(name, negative=negative), **kwargs)


@contextmanager
def open_input(path: str) -> Iterator[tuple[BinaryIO, str, int | None]]:
    """``-`` is stdin.  Yields (binary stream, display name, size if known)."""
    if path == "-":
        yield sys.stdin.buffer, "<stdin>", None
        return
    try:
        f = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileProblem(f"{path}: is a directory") from None
    except OSError as exc:
        raise FileProblem(f"{path}: cannot read ({exc.strerror})") from None
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
        except OSError:
            size = None
        yield f, path, size


class RejectsWriter:
    """Rejected rows with their reasons, as CSV that can be fixed and imported
    again: the original header and delimiter, plus an ``error`` column (which the
    import ignores).  A field that would run as a spreadsheet formula gets a
    leading ``'``, which a text column takes off again on import.  Written
    through ``safe_files.AtomicFile`` (a private 0600 temp file, fsynced and
    renamed into place; removed on failure), so a crash or a full disk never
    leaves half a file; a run that rejects nothing leaves a header-only file.
    An existing file is kept, and the import refused before it starts (exit
    7), unless ``--force``; a symbolic link there is refused even then."""

    def __init__(self, path: Path, *, force: bool = False) -> None:
        from ..safe_files import check_target

        check_target(path, force=force)  # before the import: an existing file is kept (exit 7)
        self.path = path
        self.force = force
        self._file = None
        self._writer = None
        self._width = 0
        self.count = 0

    def _open(self, src: CsvInput) -> None:
        import csv

        from ..safe_files import AtomicFile

        self._file = AtomicFile(self.path, force=self.force, text=True)
        self._file.open()
        self._writer = csv.writer(self._file, delimiter=src.delimiter, lineterminator="\r\n")
        self._width = len(src.header)
        self._writer.writerow([*src.header, "error"])

    def __call__(self, src: CsvInput, record: Record, errors: list[RowError]) -> None:
        if self._writer is None:
            self._open(src)
        from ..importers.fields import neutralise_raw

        # Safe to open in a spreadsheet; a text column reads back the same.
        fields = [neutralise_raw(f) for f in record.fields] + [""] * (self._width - len(record.fields))
        reason = "; ".join(
            f"line {e.line}, column {e.column}: " + (f"{e.field}: " if e.field else "") + e.reason
            for e in errors
        )
        self._writer.writerow([*fields, reason])  # type: ignore[union-attr]
        self.count += 1

    def commit(self, src: CsvInput) -> None:
        if self._file is None:
            self._open(src)
        assert self._file is not None
        self._file.commit()
        self._file = None

    def discard(self) -> None:
        if self._file is not None:
            self._file.discard()
            self._file = None


@contextmanager
def progress_for(name: str, size: int | None):
    """A progress callback (bytes read); a bar only when a person is watching:
    stdin, stdout and stderr all terminals (never under cron or in a pipe)."""
    if not (is_terminal(sys.stderr) and is_terminal(sys.stdout) and _stdin_is_terminal()):
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task(f"reading {name}", total=size)
        yield lambda n: bar.update(task, completed=n)


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def run_import(ctx: typer.Context, path: str, options: ImportOptions, service, **kwargs) -> None:
    """The shape every CSV import command shares: open, stream, one
    transaction (run again when the database gives up on it, the file read
    again from the start; never stdin), rejects, summary.  Rejected rows with
    ``--skip-invalid`` end in ``RowsSkipped`` (exit 1)."""
    from ..errors import RowsRejected, RowsSkipped
    from ..importers.csv_source import CsvInput

    rejects = options.rejects
    if rejects is not None and not options.skip_invalid:
        raise UsageProblem("--rejects goes with --skip-invalid")
    if rejects is not None and path != "-" and Path(path).resolve() == rejects.resolve():
        raise UsageProblem("--rejects names the input file; it would be overwritten")
    if options.force and rejects is None:
        raise UsageProblem("--force goes with --rejects (it replaces an existing rejects file)")
    db = state(ctx).database()

    def attempt() -> tuple[BatchSummary, CsvInput, RejectsWriter | None]:
        writer = RejectsWriter(rejects, force=options.force) if rejects is not None else None
        try:
            with open_input(path) as (stream, name, size), progress_for(name, size) as tick:
                src = CsvInput(stream=stream, name=name, encoding=options.encoding, on_progress=tick)
                with db.session(write=True, dry_run=options.dry_run) as session:
                    summary = service(
                        session=session,
                        src=src,
                        skip_invalid=options.skip_invalid,
                        on_reject=writer,
                        **kwargs,
                    )
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        return summary, src, writer

    try:
        summary, src, writer = retried(attempt, again=path != "-")
    except RowsRejected as exc:
        if options.fmt is not Format.table and exc.summary is not None:
            exc.summary.dry_run = options.dry_run  # type: ignore[attr-defined]
            exc.summary.batch_id = None  # type: ignore[attr-defined]
            exc.summary.points_posted = 0  # type: ignore[attr-defined]
            render_one(exc.summary.as_dict(), options.fmt)  # type: ignore[attr-defined]
        for err in exc.errors:
            say(str(err))
        if exc.summary is not None:
            _more(exc.summary)  # type: ignore[arg-type]
        raise
    summary.dry_run = options.dry_run
    summary.committed = not options.dry_run
    if options.dry_run:
        summary.batch_id = None  # rolled back
    if writer is not None:
        writer.commit(src)
    print_summary(summary, options.fmt)
    if summary.rejected:
        raise RowsSkipped(summary.rejected)


def _more(summary: BatchSummary) -> None:
    if summary.problems > len(summary.errors):
        say(
            f"(only the first {len(summary.errors)} of {summary.problems} problems are listed; "
            f"{summary.rejected} rows were rejected)"
        )


def print_summary(summary: BatchSummary, fmt: Format) -> None:
    for err in summary.errors:
        say(str(err))
    _more(summary)
    if fmt is not Format.table:
        data = summary.as_dict()
        render_one(data, fmt)
        return
    parts = [f"{summary.rows} rows"]
    parts += [f"{n} {k}" for k, n in summary.counts.items()]
    parts.append(f"{summary.rejected} rejected")
    if summary.posts_points:
        posted = summary.points_posted
        parts.append(f"{posted:+d} points posted" if posted else "0 points posted")
    head = "dry run, nothing written: " if summary.dry_run else ""
    sys.stdout.write(f"{summary.source}: {head}" + ", ".join(parts) + "\n")
    for note in summary.notes:
        say(f"note: {note}")
    if summary.ignored_columns:
        say("note: ignored columns: " + ", ".join(summary.ignored_columns))
    if not summary.changed and not summary.rejected and summary.rows:
        say("nothing changed: every row matches the database")


def report_change(result: dict, fmt: Format, *, noun: str, key: str, created: str) -> None:
    """Print the outcome of a single create/update command: JSON/CSV as is, or a
    line on stderr ("partner ACME: enrolled") and the record as a table."""
    if fmt is not Format.table:
        render_one(result, fmt)
        return
    word = {"new": created, "unchanged": "unchanged (already so)", "updated": "updated"}
    say(f"{noun} {result[key]}: {word.get(result['result'], result['result'])}")
    render_one({k: v for k, v in result.items() if k != "result"}, fmt)
