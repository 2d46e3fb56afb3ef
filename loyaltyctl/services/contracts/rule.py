"""The one rule, as pure values: a contract as a file states it (``Row``), as
the database holds it (``Stored``), where its points stand (``Place``), and the
postings that take them from one place to another (``legs``).

After every import, the net points a contract has posted to each account equal
what its current row earns: its seller's account (or the partner's pool), its
amount, product and start date, with the rules and campaigns in force on that
start date (``services/earning.py``); nothing unless it is started.  Any change
posts the difference as new postings, never an edit.  A change that keeps
account, seller and start date posts the delta; any other change reverses the
old points (valued on the old start date) and credits the new ones.  Each
change bumps the contract's ``revision``, which is part of every posting's
idempotency key: ``contract:<id>:<revision>:<leg>``.

Nothing here reads or writes the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from ...errors import RowError
from ...importers.csv_source import Record
from ...ledger import Entry


@dataclass(slots=True)
class Row:
    """A contract as one line of a file states it, every field checked."""

    record: Record
    contract_id: str
    partner_id: int
    seller_id: int
    start_date: date
    amount_ore: int
    product: str
    status: str
    # Why this row may not credit points (an inactive seller, a suspended
    # partner): such a row may still leave its contract unchanged or take
    # points back.
    blocked: RowError | None = None

    def signature(self) -> tuple:
        """The values a contract is compared by (``Stored.signature``)."""
        return (self.partner_id, self.seller_id, self.start_date, self.amount_ore, self.product, self.status)


class Stored(NamedTuple):
    """A contract as the database holds it (``store.STORED_COLUMNS``)."""

    id: int
    contract_id: str
    partner_id: int
    seller_id: int
    start_date: date
    amount_ore: int
    product: str
    status: str
    revision: int
    posted_account_id: int | None
    posted_seller_id: int | None
    posted_value_date: date | None
    posted_points: int
    last_batch_id: int | None

    def signature(self) -> tuple:
        return self[2:8]

    def place(self) -> Place:
        return Place(
            self.posted_account_id, self.posted_seller_id, self.posted_value_date, self.posted_points
        )


@dataclass(frozen=True, slots=True)
class Place:
    """Where a contract's points stand in the ledger."""

    account_id: int | None
    seller_id: int | None
    value_date: date | None
    points: int

    def same_spot(self, other: Place) -> bool:
        return (self.account_id, self.seller_id, self.value_date) == (
            other.account_id,
            other.seller_id,
            other.value_date,
        )


NOWHERE = Place(None, None, None, 0)


def legs(old: Place, new: Place) -> list[tuple[str, Place, int]]:
    """The postings that take a contract's points from ``old`` to ``new``, as
    (leg, place, points): the difference where the place stays (or only one
    side has points), else a reversal out of the old place and a credit in."""
    if not old.points and not new.points:
        return []
    if not old.points:
        return [("delta", new, new.points)]
    if not new.points:
        return [("delta", old, -old.points)]
    if old.same_spot(new):
        return [("delta", new, new.points - old.points)] if new.points != old.points else []
    return [("out", old, -old.points), ("in", new, new.points)]


def outcome(old: Place, new: Place) -> str:
    """How the summary counts a change of an existing contract."""
    if not old.points and new.points:
        return "credited"
    if old.points and not new.points:
        return "reversed"
    if old.points and (new.points != old.points or not old.same_spot(new)):
        return "corrected"
    return "updated"


def needs_active(old: Place | None, new: Place) -> bool:
    """Whether a change needs an active seller and partner: a new contract, or
    one that credits points (more of them, or in another place).  Unchanged
    rows and cancellations go through, so points can always be taken back."""
    return old is None or bool(new.points and (new.points > old.points or not old.same_spot(new)))


def posting(
    contract_id: str,
    revision: int,
    leg: str,
    at: Place,
    points: int,
    memo: str,
    contract_pk: int | None = None,
) -> Entry:
    """A contract posting, keyed ``contract:<id>:<revision>:<leg>``."""
    assert at.account_id is not None and at.value_date is not None
    return Entry(
        idem_key=f"contract:{contract_id}:{revision}:{leg}",
        account_id=at.account_id,
        points=points,
        kind="contract",
        value_date=at.value_date,
        seller_id=at.seller_id,
        contract_pk=contract_pk,
        reference=contract_id,
        memo=memo,
    )


def sek(ore: int) -> str:
    """Öre as SEK with two decimals: 123456 -> '1234.56' (integer arithmetic)."""
    whole, cents = divmod(abs(ore), 100)
    return f"{'-' if ore < 0 else ''}{whole}.{cents:02d}"


def credit_memo(row: Row) -> str:
    """The memo of a new contract's first credit: ``leasing 250000.00 SEK``."""
    return f"{row.product} {sek(row.amount_ore)} SEK"


def describe(old: Stored, new: Row, email_of: Callable[[int], str | None]) -> str:
    """What changed, in words, for the postings' memo."""
    parts = []
    if old.status != new.status:
        parts.append(f"{old.status} -> {new.status}")
    if old.amount_ore != new.amount_ore:
        parts.append(f"amount {sek(old.amount_ore)} -> {sek(new.amount_ore)}")
    if old.seller_id != new.seller_id:
        parts.append(f"seller {email_of(old.seller_id)} -> {email_of(new.seller_id)}")
    if old.start_date != new.start_date:
        parts.append(f"start {old.start_date} -> {new.start_date}")
    if old.product != new.product:
        parts.append(f"product {old.product} -> {new.product}")
    return ", ".join(parts) or "rules"
