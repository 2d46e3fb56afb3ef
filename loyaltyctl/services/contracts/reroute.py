"""A partner's mode changed: its contracts' points move to the account the new
mode routes them to."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from ...clock import now
from ...ledger import Entry, Ledger
from ...models import Contract
from .lookups import Lookups
from .rule import Place, legs, posting

CONTRACT = Contract.__table__


def reroute_partner(*, session: Session, partner_id: int, ledger: Ledger) -> int:
    """After a partner's mode changed: move each earning contract's points to the
    account the new mode routes them to (the partner's pool, or the seller's own
    account), as a reversal and a credit like any other change, so the one rule
    keeps holding.  The postings go to ``ledger`` (the switch's batch; see
    ``services/modes.py``, which moves the other points and writes the
    balances).  Returns how many contracts moved."""
    look = Lookups(session)
    mode = look.partner_mode[partner_id]
    memo = f"partner now {mode}: points move to the {'pool' if mode == 'pooled' else 'seller'}"
    c = CONTRACT.c
    rows = session.exec(
        select(
            c.id,
            c.contract_id,
            c.revision,
            c.posted_account_id,
            c.posted_seller_id,
            c.posted_value_date,
            c.posted_points,
        )
        .where(c.partner_id == partner_id, c.posted_points != 0)
        .order_by(c.id)
    ).all()
    entries: list[Entry] = []
    updates: list[dict] = []
    for row in rows:
        was = Place(row.posted_account_id, row.posted_seller_id, row.posted_value_date, row.posted_points)
        now_at = replace(was, account_id=look.account_for(partner_id, row.posted_seller_id))
        if now_at == was:
            continue
        revision = row.revision + 1
        for leg, spot, points in legs(was, now_at):
            entries.append(posting(row.contract_id, revision, leg, spot, points, memo, contract_pk=row.id))
        updates.append(
            {
                "_pk": row.id,
                "revision": revision,
                "posted_account_id": now_at.account_id,
                "last_batch_id": ledger.batch_id,
                "updated_at": now(),
            }
        )
    _update_contracts(session, updates)
    ledger.post_many(entries)
    return len(updates)


def _update_contracts(session: Session, changes: list[dict]) -> None:
    """One executemany UPDATE by primary key (``_pk``) for a list of changes."""
    if changes:
        session.exec(
            update(CONTRACT)
            .where(CONTRACT.c.id == bindparam("_pk"))
            .values({k: bindparam(k) for k in changes[0] if k != "_pk"}),
            params=changes,
        )
