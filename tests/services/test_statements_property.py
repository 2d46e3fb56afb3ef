"""Statements reconcile with the ledger, for any ledger and any period:
opening = everything booked before the period, entries = exactly what was
booked in it (oldest first), closing = opening + entries = everything booked
up to the period's end.  Each example runs in a rolled-back transaction."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from factories import small_program
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from loyaltyctl.ledger import Entry, Ledger
from loyaltyctl.models import Account
from loyaltyctl.services import statements

DAY0 = date(2026, 9, 1)


@pytest.fixture
def db_with_accounts(db):
    """ACME (pooled) holds one account, BOLT's sellers bo and britt one each."""
    small_program(db)
    return db


postings = st.lists(
    st.tuples(
        st.integers(0, 2),  # which account
        st.integers(-5_000, 5_000).filter(bool),  # points (never 0)
        st.integers(0, 90),  # booking day
        st.integers(-30, 30),  # value date relative to the booking day
    ),
    max_size=40,
)


@pytest.mark.slow  # a hypothesis property
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=postings, start=st.integers(0, 90), length=st.integers(0, 45))
def test_opening_plus_entries_is_closing_for_every_account(db_with_accounts, rows, start, length):
    db = db_with_accounts
    date_from = DAY0 + timedelta(days=start)
    date_to = date_from + timedelta(days=length)
    with db.session(write=True, dry_run=True) as s:
        ids = list(s.exec(select(Account.id).order_by(Account.id)).scalars())
        refs = {_ref(s, a): a for a in ids}
        assert sorted(refs) == ["ACME", "bo@bolt.se", "britt@bolt.se"]
        booked = []
        for n, (which, points, day, shift) in enumerate(rows):
            booking = DAY0 + timedelta(days=day)
            ledger = Ledger(s, actor="t", booking_date=booking)
            ledger.post_many(
                [
                    Entry(
                        idem_key=f"prop:{n}",
                        account_id=ids[which],
                        points=points,
                        kind="adjustment",
                        value_date=booking + timedelta(days=shift),
                        reference=f"P{n}",
                    )
                ]
            )
            ledger.flush()
            booked.append((ids[which], points, booking, f"P{n}"))
        docs = statements.statements(session=s, date_from=date_from, date_to=date_to)
        assert sorted(d["account"] for d in docs) == sorted(refs)
        for doc in docs:
            acc = refs[doc["account"]]
            mine = [b for b in booked if b[0] == acc]
            opening = sum(p for _, p, d, _ in mine if d < date_from)
            # By booking date, then in the order they were posted.
            inside = sorted((d, int(ref[1:]), p) for _, p, d, ref in mine if date_from <= d <= date_to)
            assert doc["opening_balance"] == opening
            assert [(e["date"], e["reference"], e["points"]) for e in doc["entries"]] == [
                (d.isoformat(), f"P{n}", p) for d, n, p in inside
            ]
            assert doc["closing_balance"] == doc["opening_balance"] + sum(e["points"] for e in doc["entries"])
            assert doc["closing_balance"] == sum(p for _, p, d, _ in mine if d <= date_to)


def _ref(session, account_id: int) -> str:
    from loyaltyctl.models import Partner, Seller

    acc = session.get(Account, account_id)
    if acc.seller_id is not None:
        return session.get(Seller, acc.seller_id).email
    return session.get(Partner, acc.partner_id).code
