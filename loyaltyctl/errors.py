"""One exception family for the whole tool, and its mapping to exit codes.

Services raise these; the CLI edge (``loyaltyctl.cli``) turns any of them into a
one-line message on stderr and the exit code below.  Nothing else may reach a
user, so unexpected exceptions are mapped too (see ``cli.main``).

Exit codes (documented in the README):

====  ==========================================================================
0     success (also: a re-run that had nothing left to do)
1     invalid input data: rows rejected, a file that cannot be read as CSV
2     usage error: unknown command, bad option or option value
3     not found: unknown partner, seller, account, campaign
4     refused by a program rule: insufficient points, a rule that would change
      earned points, a conflicting re-use of an id
5     the database stayed busy (locked by another process) past the timeout
6     database problem: cannot open, corrupt, schema older/newer than this tool,
      ``db check`` found a mismatch
7     file system problem: a file cannot be read or written, disk full
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_REFUSED = 4
EXIT_BUSY = 5
EXIT_DATABASE = 6
EXIT_IO = 7
EXIT_INTERRUPTED = 130


class LoyaltyError(Exception):
    """Base of every error a user may see.  ``str(err)`` is the one-line message."""

    exit_code = 1
    # True for a transaction the database gave up on (serialization failure,
    # deadlock): the whole command may be run again (see cli.LoyaltyGroup).
    retryable = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class InvalidInput(LoyaltyError):
    exit_code = EXIT_INVALID_INPUT


class UsageProblem(LoyaltyError):
    exit_code = EXIT_USAGE


class NotFound(LoyaltyError):
    exit_code = EXIT_NOT_FOUND


class Refused(LoyaltyError):
    exit_code = EXIT_REFUSED


class DatabaseBusy(LoyaltyError):
    exit_code = EXIT_BUSY


class DatabaseProblem(LoyaltyError):
    exit_code = EXIT_DATABASE


class FileProblem(LoyaltyError):
    exit_code = EXIT_IO


class Interrupted(LoyaltyError):
    """Ctrl-C where a command can say more than "nothing was written" (an
    interactive queue whose earlier decisions are committed)."""

    exit_code = EXIT_INTERRUPTED


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem with one field (or the whole row) of an input file.

    Rendered as ``file:line:column: reason`` like a compiler message, so editors
    and ``grep`` can jump to it.  ``column`` is 1-based; 0 means the whole row.
    """

    source: str
    line: int
    column: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}:{self.column}"
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {what}{self.reason}"

    def as_dict(self) -> dict:
        return {
            "file": self.source,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "reason": self.reason,
        }


class RowsRejected(InvalidInput):
    """An all-or-nothing batch met invalid rows: nothing was written."""

    def __init__(self, errors: list[RowError], summary: object | None = None) -> None:
        rows = getattr(summary, "rejected", None)
        n = rows if isinstance(rows, int) and rows else len({(e.source, e.line) for e in errors})
        super().__init__(
            f"{n} invalid row{'s' if n != 1 else ''}: nothing was written",
            hint="fix the rows, or pass --skip-invalid --rejects FILE to apply the valid ones",
        )
        self.errors = errors
        self.summary = summary
