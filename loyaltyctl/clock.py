"""Today's date and the acting user, in one place so tests and replays can pin them.

``LOYALTYCTL_TODAY=YYYY-MM-DD`` fixes "today" (the booking date of new postings
and the default of every date option).  It exists for tests, demos and for
re-running a missed nightly job as of the night it was meant for.
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
    """Timestamp for audit columns: UTC, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def default_actor() -> str:
    actor = os.environ.get("LOYALTYCTL_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): still say something true
        return f"uid:{os.getuid()}"
