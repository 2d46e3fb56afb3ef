"""The import's one rule, checked against a model on random histories.

Hypothesis writes a sequence of contract files over a handful of contract ids
(statuses, amounts, sellers in both a pooled and an individual partner, dates,
products, a campaign) and imports them one after another.  After every import:

* each account's balance equals what a small model, computed here from the
  formula and nothing else, says the current rows earn;
* the points attributed to each seller (what leaderboards count) match too;
* `db check` passes;
* importing the same file again posts nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from factories import HEADER, import_contracts, small_program
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from loyaltyctl.db import Database
from loyaltyctl.models import Posting, Seller
from loyaltyctl.services import campaigns, dbadmin, points

SELLERS = {"anna@acme.se": "ACME", "arne@acme.se": "ACME", "bo@bolt.se": "BOLT", "britt@bolt.se": "BOLT"}
POOLED = {"ACME"}
DATES = [date(2026, 3, 1), date(2026, 6, 20), date(2026, 6, 25), date(2026, 9, 30)]
CAMPAIGN = (date(2026, 6, 15), date(2026, 6, 28))  # x1.5 on leasing only


def earns(amount_ore: int, day: date, product: str, status: str) -> int:
    if status != "started":
        return 0
    base = amount_ore * 10 // 100_000 + 100  # floor(amount * 10 / 1000) + 100
    if product == "leasing" and CAMPAIGN[0] <= day <= CAMPAIGN[1]:
        return base * 3 // 2  # floor(base * 1.5)
    return base


rows = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["K1", "K2", "K3", "K4"]),
        "seller": st.sampled_from(sorted(SELLERS)),
        "day": st.sampled_from(DATES),
        "amount_ore": st.integers(min_value=1, max_value=300_000_000),
        "product": st.sampled_from(["leasing", "loan"]),
        "status": st.sampled_from(["registered", "started", "started", "cancelled"]),
    }
)
files = st.lists(st.lists(rows, min_size=1, max_size=4, unique_by=lambda r: r["id"]), min_size=1, max_size=6)


def as_csv(file: list[dict]) -> str:
    return "".join(
        f"{r['id']},{SELLERS[r['seller']]},{r['seller']},{r['day']},{r['amount_ore'] // 100}."
        f"{r['amount_ore'] % 100:02d},{r['product']},{r['status']}\n"
        for r in file
    )


@pytest.mark.slow  # a hypothesis property over whole import histories
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=files)
def test_balances_follow_the_current_rows(new_test_db, history):
    db = Database(new_test_db())
    try:
        small_program(db)
        with db.session(write=True) as s:
            campaigns.add_campaign(
                session=s,
                name="Midsommar",
                valid_from=CAMPAIGN[0],
                valid_to=CAMPAIGN[1],
                multiplier="1.5",
                product="leasing",
                actor="t",
            )
        current: dict[str, dict] = {}
        for n, file in enumerate(history):
            # Make each file distinct bytes, so re-applying one is a new file, not a rewind.
            text = HEADER + as_csv(file) + "\n" * n
            import_contracts(db, text, header="")
            for r in file:
                current[r["id"]] = r
            expected_accounts: dict[str, int] = defaultdict(int)
            expected_sellers: dict[str, int] = defaultdict(int)
            for r in current.values():
                p = earns(r["amount_ore"], r["day"], r["product"], r["status"])
                partner = SELLERS[r["seller"]]
                expected_accounts[partner if partner in POOLED else r["seller"]] += p
                expected_sellers[r["seller"]] += p
            with db.session() as s:
                actual = {
                    row["account"]: row["balance"] for row in points.balances(session=s, ref=None, on=None)
                }
                attributed = dict(
                    s.exec(
                        select(Seller.email, func.sum(Posting.points))
                        .join(Seller, Seller.id == Posting.seller_id)
                        .group_by(Seller.email)
                    ).all()
                )
                problems = [p for r in dbadmin.check(session=s, db=db) for p in r.problems]
            assert {k: v for k, v in actual.items() if v} == {k: v for k, v in expected_accounts.items() if v}
            assert {k: v for k, v in attributed.items() if v} == {
                k: v for k, v in expected_sellers.items() if v
            }
            assert problems == []
            again = import_contracts(db, text, header="")
            assert again.points_posted == 0 and not again.changed
    finally:
        db.dispose()
