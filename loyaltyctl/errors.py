"""One exception family for the whole tool, and its mapping to exit codes.

Services raise these; the CLI edge (``loyaltyctl.cli``) turns any of them into a
one-line message on stderr and the exit code below.  Nothing else may reach a
user, so unexpected exceptions are mapped too (see ``cli.main``).

``EXIT_CODES`` is the one table of exit codes and what they mean: the command
reference (docs/commands.md, ``make docs``) is generated from it, and the test
suite fails when a code changes without its documentation.
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
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

# Every exit code loyaltyctl gives, and what it means (rendered in docs/commands.md).
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success, including a re-run that had nothing left to do",
    EXIT_INVALID_INPUT: "invalid input: rows rejected (also with `--skip-invalid`), "
    "a file that cannot be read as CSV",
    EXIT_USAGE: "usage: unknown command or option, a bad option value",
    EXIT_NOT_FOUND: "not found: unknown partner, seller, contract, rule",
    EXIT_REFUSED: "refused by a program rule: not enough points (also an approval whose points a "
    "clawback took back), a rule or campaign that would "
    "change earned points, an id re-used with other values, a quiz result already awarded "
    "otherwise, a leaderboard period that has not ended or settled (the message names the "
    "day it can run from)",
    EXIT_BUSY: "busy: another loyaltyctl run held the database's write lock past the busy "
    "timeout (`LOYALTYCTL_BUSY_TIMEOUT`, default 30 s); nothing was written, run it again",
    EXIT_DATABASE: "database problem: cannot open, corrupt, schema out of date or newer than "
    "the tool, `db check` failed",
    EXIT_IO: "file problem: an input file missing or unreadable, an output that cannot be written, disk full",
    EXIT_INTERNAL: "a bug in loyaltyctl (nothing was committed)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); the command's transaction was rolled back "
    "(`redemptions review` keeps the decisions taken before)",
}


class LoyaltyError(Exception):
    """Base of every error a user may see.  ``str(err)`` is the one-line message."""

    exit_code = 1
    # True for a transaction the database gave up on (serialization failure,
    # deadlock): it may be run again (see cli._common.retried).
    retryable = False
    # True when the command has already said what went wrong (the rows it
    # rejected): only the exit code is left to give.
    said = False

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


class RowsSkipped(InvalidInput):
    """``--skip-invalid`` applied the valid rows and rejected the others, which
    are listed with the summary: exit 1, so that cron notices."""

    said = True

    def __init__(self, rejected: int) -> None:
        super().__init__(
            f"{rejected} row{'s' if rejected != 1 else ''} rejected; the valid rows were applied"
        )
        self.rejected = rejected
