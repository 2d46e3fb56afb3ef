"""The import's plan: what each new or changed row of a chunk does.

Given the rows that differ from their stored contract (or have none), the plan
says for each: rejected (it would credit points through an inactive seller or
a suspended partner), ``new`` (and ``credited`` when it earns), or, for an
existing contract, ``credited``, ``reversed``, ``corrected`` or ``updated``;
the contract's state after the row; and the postings (``rule.legs``) that take
its points from where they stand to where the row says they belong.  The plan
is values; the store writes them, the ledger posts them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ...errors import RowError
from ...ledger import Entry
from .rule import NOWHERE, Place, Row, Stored, credit_memo, describe, legs, needs_active, outcome, posting


@dataclass
class Plan:
    new: list[Stored] = field(default_factory=list)  # contracts to insert, ids assigned
    changed: list[Stored] = field(default_factory=list)  # contracts to update: their new state
    entries: list[Entry] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # new, credited, reversed, corrected, updated
    rejected: list[tuple[Row, RowError]] = field(default_factory=list)
    # (batch that last changed a contract, its contract id), for contracts changed again
    touched: list[tuple[int, str]] = field(default_factory=list)


def plan(
    rows: list[tuple[Row, Stored | None]],
    *,
    place: Callable[[Row], Place],
    email_of: Callable[[int], str | None],
    new_ids: Iterator[int],
    batch: Callable[[], int],
) -> Plan:
    """The plan for rows that differ from their stored contract (``None``: no
    contract yet).  ``place`` says where a row's points belong; ``new_ids``
    gives new contracts their ids; ``batch`` gives the import's batch id (and
    is called only once something is to be written)."""
    out = Plan()
    counts: dict[str, int] = dict.fromkeys(("new", "credited", "reversed", "corrected", "updated"), 0)
    inserts, entries = out.new, out.entries
    batch_id = None
    for row, old in rows:
        new = place(row)
        was = None if old is None else old.place()
        if row.blocked is not None and needs_active(was, new):
            out.rejected.append((row, row.blocked))
            continue
        if batch_id is None:
            batch_id = batch()
        if old is None:
            pk = next(new_ids)
            counts["new"] += 1
            inserts.append(_state(pk, row, new, 1, batch_id))
            if new.points:
                counts["credited"] += 1
                entries.append(
                    posting(row.contract_id, 1, "in", new, new.points, credit_memo(row), contract_pk=pk)
                )
            continue
        assert was is not None
        revision = old.revision + 1
        if old.last_batch_id is not None:
            out.touched.append((old.last_batch_id, row.contract_id))
        why = describe(old, row, email_of)
        for leg, spot, points in legs(was, new):
            entries.append(posting(row.contract_id, revision, leg, spot, points, why, contract_pk=old.id))
        counts[outcome(was, new)] += 1
        out.changed.append(_state(old.id, row, new, revision, batch_id))
    out.counts = counts
    return out


def _state(pk: int, row: Row, at: Place, revision: int, batch_id: int) -> Stored:
    """A contract's state after ``row``, its points standing at ``at``."""
    return Stored(
        pk,
        row.contract_id,
        row.partner_id,
        row.seller_id,
        row.start_date,
        row.amount_ore,
        row.product,
        row.status,
        revision,
        at.account_id,
        at.seller_id,
        at.value_date,
        at.points,
        batch_id,
    )


def placer(account_for: Callable[[int, int], int], points: Callable[..., int]) -> Callable[[Row], Place]:
    """Where a row's points belong under the current rules and mode: nowhere
    unless started; else the account ``account_for`` the seller (the seller's
    own or the partner's pool), ``points`` for its amount, valued on the start
    date."""

    def place(row: Row) -> Place:
        if row.status != "started":
            return NOWHERE
        day = row.start_date
        return Place(
            account_for(row.partner_id, row.seller_id),
            row.seller_id,
            day,
            points(row.amount_ore, day, row.product),
        )

    return place
