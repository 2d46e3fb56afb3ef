"""Today's date and the acting user, in one place so tests and replays can pin them.

``LOYALTYCTL_TODAY=YYYY-MM-DD`` fixes "today" (the booking date of new postings
and the default of every date option) and the date of every timestamp the tool
records (a redemption's requested_at and decided_at, a batch's start, ...).
It exists for tests, demos and for re-running a missed nightly job as of the
night it was meant for.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, date, datetime


def today() -> date:
    pinned = os.environ.get("LOYALTYCTL_TODAY")
    if pinned:
        try:
            return date.fromisoformat(pinned)
        except ValueError:
            from .errors import UsageProblem

            raise UsageProblem(f"LOYALTYCTL_TODAY={pinned!r} is not a date (YYYY-MM-DD)") from None
    return date.today()


def now() -> datetime:
    """Timestamp for audit columns: UTC, whole seconds.

    With ``LOYALTYCTL_TODAY`` set it is that day at the current UTC time of day,
    so a replayed night, the demo and the tests record the day they act on
    (and timestamps taken in one run still follow each other)."""
    real = datetime.now(UTC).replace(microsecond=0)
    if os.environ.get("LOYALTYCTL_TODAY"):
        return datetime.combine(today(), real.timetz())
    return real


def default_actor() -> str:
    actor = os.environ.get("LOYALTYCTL_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): still say something true
        return f"uid:{os.getuid()}"
