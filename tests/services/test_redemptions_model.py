"""Redemptions against a model: a seeded random run of requests, approvals and
rejections (through the services, one transaction each, as the CLI does), after
which every balance, hold and stock equals what a plain-Python model computed,
and ``db check`` passes."""

from __future__ import annotations

import random

import pytest
from factories import rewards_program

from loyaltyctl.errors import LoyaltyError
from loyaltyctl.models import CatalogItem
from loyaltyctl.services import dbadmin, points, redemptions

PRICES = {"MUG": 500, "TRIP": 3000}


@pytest.mark.slow  # random runs against a model
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_requests_and_decisions_match_the_model(db, seed):
    rewards_program(db)  # ACME 3 700, bo 2 600, britt 0; MUG 500 x 3, TRIP 3 000 unlimited
    with db.session(write=True) as s:  # + 10 000 each: 13 700 and 12 600
        for ref in ("ACME", "bo@bolt.se"):
            points.adjust(session=s, ref=ref, points=10_000, reason="top-up", actor="t", reference=None)
    rng = random.Random(seed)
    balance = {"ACME": 13_700, "bo@bolt.se": 12_600, "britt@bolt.se": 0}
    held = dict.fromkeys(balance, 0)
    stock, reserved = 3, 0  # MUG only; TRIP is unlimited
    pending: dict[str, tuple[str, str, int]] = {}
    seen = {"approved": 0, "rejected": 0, "refused": 0}
    for _ in range(60):
        if pending and rng.random() < 0.5:
            rid = rng.choice(sorted(pending))
            approve = rng.random() < 0.6
            ref, sku, qty = pending.pop(rid)
            seen["approved" if approve else "rejected"] += 1
            with db.session(write=True) as s:
                redemptions.decide(session=s, ids=[rid], approve=approve, actor="t", reason="no")
            cost = PRICES[sku] * qty
            held[ref] -= cost
            if approve:
                balance[ref] -= cost
            if sku == "MUG":
                reserved -= qty
                stock -= qty if approve else 0
            continue
        ref = rng.choice(sorted(balance))
        sku = rng.choice(sorted(PRICES))
        qty = rng.randint(1, 2)
        cost = PRICES[sku] * qty
        fits = cost <= balance[ref] - held[ref] and (sku != "MUG" or reserved + qty <= stock)
        try:
            with db.session(write=True) as s:
                rid = redemptions.request(session=s, ref=ref, sku=sku, quantity=qty, actor="t")["id"]
        except LoyaltyError:
            assert not fits, (ref, sku, qty)
            seen["refused"] += 1
            continue
        assert fits, (ref, sku, qty)
        pending[rid] = (ref, sku, qty)
        held[ref] += cost
        if sku == "MUG":
            reserved += qty
    assert all(seen.values()), seen  # the run exercised every path
    with db.session() as s:
        accounts = {a["account"]: a for a in _balances(s)}
        for ref in balance:
            assert (accounts[ref]["balance"], accounts[ref]["held"]) == (balance[ref], held[ref]), ref
        mug = s.exec(CatalogItem.__table__.select().where(CatalogItem.sku == "MUG")).one()
        assert (mug.stock, mug.reserved) == (stock, reserved)
        assert all(r.ok for r in dbadmin.check(session=s, db=db)), [
            r.problems for r in dbadmin.check(session=s, db=db)
        ]


def _balances(session) -> list[dict]:
    return points.balances(session=session, ref=None, on=None)
