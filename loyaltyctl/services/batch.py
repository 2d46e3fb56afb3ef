"""What every batch command shares: row problems, rejects, the summary.

A batch is all-or-nothing by default: any invalid row and nothing is written
(the caller's transaction rolls back), every problem is listed.  With
``skip_invalid`` the valid rows apply and each rejected row goes to the
``on_reject`` callback (the CLI writes them to ``--rejects FILE``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import RowError, RowsRejected
from ..importers.csv_source import CsvInput, Record

# Problems kept in memory for the report; the count covers them all.
MAX_LISTED_ERRORS = 1000

RejectSink = Callable[[CsvInput, Record, list[RowError]], None]


class RowProblems(Exception):
    """Raised by a row handler: the row is invalid for these reasons."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class BatchSummary:
    command: str
    source: str
    counts: dict[str, int]
    rows: int = 0
    rejected: int = 0
    problems: int = 0  # all problems found; `errors` keeps the first MAX_LISTED_ERRORS
    points_posted: int = 0
    encoding: str = "utf-8"
    delimiter: str = ","
    dry_run: bool = False
    committed: bool = False
    posts_points: bool = False  # a batch that writes ledger postings (shows points_posted)
    batch_id: int | None = None
    ignored_columns: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def reject(
        self, src: CsvInput, record: Record, errors: list[RowError], on_reject: RejectSink | None
    ) -> None:
        self.rejected += 1
        self.problems += len(errors)
        room = MAX_LISTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])
        if on_reject is not None:
            on_reject(src, record, errors)

    @property
    def changed(self) -> bool:
        return any(v for k, v in self.counts.items() if k != "unchanged") or bool(self.points_posted)

    def finish(self, *, skip_invalid: bool) -> BatchSummary:
        """Raise (so the transaction rolls back) when all-or-nothing met problems."""
        self.errors.sort(key=lambda e: (e.line, e.column))
        if self.rejected and not skip_invalid:
            raise RowsRejected(self.errors, summary=self)
        return self

    def as_dict(self) -> dict:
        return {
            "command": self.command,
            "source": self.source,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "rows": self.rows,
            **self.counts,
            "rejected": self.rejected,
            "problems": self.problems,
            "points_posted": self.points_posted,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "batch_id": self.batch_id,
            "ignored_columns": self.ignored_columns,
            "notes": self.notes,
            "errors": [e.as_dict() for e in self.errors],
        }

    def start(self, src: CsvInput) -> None:
        self.encoding = src.encoding_used
        self.delimiter = src.delimiter
        self.ignored_columns = list(src.ignored_columns)


def field_error(src: CsvInput, record: Record, column: str, reason: str) -> RowError:
    return RowError(src.name, record.line, src.column_of(column), column, reason)


def parse_row(
    src: CsvInput,
    record: Record,
    parsers: dict[str, Callable[[str], object]],
    defaults: dict[str, object] | None = None,
) -> dict[str, object]:
    """Parse the known columns of a record; collect every field problem at once."""
    from ..importers.csv_source import check_width
    from ..importers.fields import FieldError

    width = check_width(src, record)
    if width is not None:
        raise RowProblems([width])
    out: dict[str, object] = {}
    errors: list[RowError] = []
    for column, parse in parsers.items():
        raw = record.values.get(column)
        if raw is None or (defaults is not None and column in defaults and raw.strip() == ""):
            if defaults is not None and column in defaults:
                out[column] = defaults[column]
                continue
            raw = ""
        try:
            out[column] = parse(raw)
        except FieldError as exc:
            errors.append(field_error(src, record, column, str(exc)))
    if errors:
        raise RowProblems(errors)
    return out


class Upserts:
    """The loop a small upsert import shares (partners, sellers)::

    run = Upserts("partners import", src, on_reject)
    for record in src.records(REQUIRED, OPTIONAL):
        with run.row(record):
            item = ...parse...
            run.once(record, "code", item.code, (item.name, ...))
            run.count(apply(item))   # or raise RowProblems
    return run.finish(skip_invalid=...)
    """

    def __init__(self, command: str, src: CsvInput, on_reject: RejectSink | None) -> None:
        self.summary = BatchSummary(command, src.name, counts={"new": 0, "updated": 0, "unchanged": 0})
        self.src = src
        self.on_reject = on_reject
        self._seen: dict[str, tuple] = {}

    @contextmanager
    def row(self, record: Record) -> Iterator[None]:
        """One record: a ``RowProblems`` raised inside rejects it, and the loop goes on."""
        self.summary.rows += 1
        try:
            yield
        except RowProblems as problems:
            self.summary.reject(self.src, record, problems.errors, self.on_reject)

    def once(self, record: Record, column: str, key: str, values: tuple) -> None:
        """The same key twice in one file must carry the same values."""
        if key in self._seen and self._seen[key] != values:
            raise RowProblems(
                [
                    field_error(
                        self.src, record, column, f"{key} appears twice in this file with different values"
                    )
                ]
            )
        self._seen[key] = values

    def count(self, outcome: str) -> None:
        self.summary.counts[outcome] += 1

    def finish(self, *, skip_invalid: bool) -> BatchSummary:
        self.summary.start(self.src)
        return self.summary.finish(skip_invalid=skip_invalid)
