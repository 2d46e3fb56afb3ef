"""The one rule, change by change: after every import the net points a contract
has posted to each account equal what its current row earns, and every change
is a new posting (never an edit).

Default rules: 10 points per 1 000 SEK, 100 points per started contract, so
250 000 SEK = 250 000 * 10 / 1000 + 100 = 2 500 + 100 = 2 600 points.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from factories import balance, import_contracts, small_program
from sqlalchemy import func, select

from loyaltyctl.errors import Refused
from loyaltyctl.models import Account, Batch, Contract, Partner, Posting, Seller
from loyaltyctl.services import campaigns, dbadmin, points, rules

START = "2026-01-10"


def row(
    cid="C1",
    partner="BOLT",
    seller="bo@bolt.se",
    start=START,
    amount="250000",
    product="leasing",
    status="started",
) -> str:
    return f"{cid},{partner},{seller},{start},{amount},{product},{status}\n"


def postings(db, contract_id: str | None = None) -> list[Posting]:
    with db.session() as s:
        q = select(Posting).order_by(Posting.id)
        if contract_id is not None:
            q = q.join(Contract, Contract.id == Posting.contract_pk).where(
                Contract.contract_id == contract_id
            )
        out = list(s.exec(q).scalars())
        s.expunge_all()  # keep the loaded values after the read-only rollback
        return out


def contract(db, contract_id: str = "C1") -> Contract:
    with db.session() as s:
        c = s.exec(select(Contract).where(Contract.contract_id == contract_id)).scalar_one()
        s.expunge_all()
        return c


def seller_sums(db) -> dict[str, int]:
    """Net points attributed to each seller (Posting.seller_id), by email."""
    with db.session() as s:
        rows = s.exec(
            select(Seller.email, func.sum(Posting.points))
            .join(Posting, Posting.seller_id == Seller.id)
            .group_by(Seller.email)
        ).all()
    return {email: int(total) for email, total in rows}


def account_id(db, ref: str) -> int:
    with db.session() as s:
        if "@" in ref:
            q = select(Account.id).join(Seller, Seller.id == Account.seller_id).where(Seller.email == ref)
        else:
            q = select(Account.id).join(Partner, Partner.id == Account.partner_id).where(Partner.code == ref)
        return s.exec(q).scalar_one()


def assert_consistent(db) -> None:
    with db.session() as s:
        results = dbadmin.check(session=s, db=db)
    failed = {r.name: r.problems for r in results if not r.ok}
    assert failed == {}


@pytest.fixture
def prog(db):
    small_program(db)
    return db


def test_new_started_contract_posts_once_valued_on_its_start_date(prog):
    s = import_contracts(prog, row())
    assert s.counts["new"] == 1 and s.counts["credited"] == 1
    # 250 000 * 10 / 1000 = 2 500 volume + 100 count = 2 600
    assert s.points_posted == 2600
    [p] = postings(prog)
    assert (p.points, p.kind, p.value_date, p.booking_date) == (
        2600,
        "contract",
        date(2026, 1, 10),
        date(2026, 11, 22),
    )
    assert p.idem_key == "contract:C1:1:in"
    assert p.account_id == account_id(prog, "bo@bolt.se")
    assert contract(prog).posted_points == 2600
    assert_consistent(prog)


def test_registered_contract_earns_nothing_until_started(prog):
    s = import_contracts(prog, row(status="registered"))
    assert s.counts["new"] == 1 and s.points_posted == 0
    assert postings(prog) == []
    assert balance(prog, "bo@bolt.se") == 0

    s = import_contracts(prog, row(status="started"))
    assert s.counts["credited"] == 1 and s.points_posted == 2600
    assert balance(prog, "bo@bolt.se") == 2600
    [p] = postings(prog)
    assert p.value_date == date(2026, 1, 10)
    assert_consistent(prog)


def test_reimporting_the_same_file_changes_nothing(prog):
    text = (
        row("C1")
        + row("C2", seller="britt@bolt.se", amount="100000")
        + row("C3", partner="ACME", seller="anna@acme.se", status="registered")
    )
    first = import_contracts(prog, text)
    assert first.counts["new"] == 3
    n_postings = len(postings(prog))
    with prog.session() as s:
        n_batches = s.exec(select(func.count()).select_from(Batch)).scalar()

    again = import_contracts(prog, text)
    assert again.counts == {
        "new": 0,
        "credited": 0,
        "reversed": 0,
        "corrected": 0,
        "updated": 0,
        "unchanged": 3,
    }
    assert again.points_posted == 0 and again.batch_id is None and not again.changed
    assert len(postings(prog)) == n_postings
    with prog.session() as s:
        assert s.exec(select(func.count()).select_from(Batch)).scalar() == n_batches
    assert contract(prog, "C1").revision == 1
    assert_consistent(prog)


def test_cancellation_reverses_the_points_on_the_old_start_date(prog):
    import_contracts(prog, row())
    s = import_contracts(prog, row(status="cancelled"))
    assert s.counts["reversed"] == 1 and s.points_posted == -2600
    assert balance(prog, "bo@bolt.se") == 0
    first, reversal = postings(prog)
    assert reversal.points == -2600
    assert reversal.value_date == date(2026, 1, 10)  # the old start date
    assert reversal.booking_date == date(2026, 11, 22)
    assert reversal.account_id == first.account_id
    assert first.points == 2600  # the original posting is untouched
    c = contract(prog)
    assert (c.status, c.revision, c.posted_points) == ("cancelled", 2, 0)
    assert_consistent(prog)


def test_cancelled_contract_started_again_earns_again(prog):
    import_contracts(prog, row())
    import_contracts(prog, row(status="cancelled"))
    # a later export (not the first file again, which would be refused as turning the clock back)
    s = import_contracts(prog, row(status="started") + row("C9", status="registered"))
    assert s.counts["credited"] == 1 and s.points_posted == 2600
    assert [p.points for p in postings(prog)] == [2600, -2600, 2600]
    assert balance(prog, "bo@bolt.se") == 2600
    keys = [p.idem_key for p in postings(prog)]
    assert len(set(keys)) == 3
    assert_consistent(prog)


def test_a_change_while_cancelled_posts_nothing(prog):
    import_contracts(prog, row())
    import_contracts(prog, row(status="cancelled"))
    s = import_contracts(prog, row(status="cancelled", amount="999000"))
    assert s.counts["updated"] == 1 and s.points_posted == 0
    assert len(postings(prog)) == 2
    assert contract(prog).revision == 3
    assert_consistent(prog)


def test_amount_corrections_up_and_down_post_the_difference(prog):
    import_contracts(prog, row(amount="250000"))  # 2 500 + 100 = 2 600
    up = import_contracts(prog, row(amount="300000"))  # 3 000 + 100 = 3 100: +500
    assert up.counts["corrected"] == 1 and up.points_posted == 500
    down = import_contracts(prog, row(amount="200000"))  # 2 000 + 100 = 2 100: -1 000
    assert down.counts["corrected"] == 1 and down.points_posted == -1000
    ps = postings(prog)
    assert [p.points for p in ps] == [2600, 500, -1000]
    assert {p.value_date for p in ps} == {date(2026, 1, 10)}
    assert {p.account_id for p in ps} == {account_id(prog, "bo@bolt.se")}
    assert balance(prog, "bo@bolt.se") == 2100  # 2 600 + 500 - 1 000
    assert contract(prog).posted_points == 2100
    assert_consistent(prog)


def test_amended_a_b_a_posts_every_change_under_distinct_keys(prog):
    import_contracts(prog, row(amount="250000"))  # A: 2 600
    import_contracts(prog, row(amount="300000"))  # B: 3 100 (+500)
    # A again, in a later export (other bytes than the first file): 2 600 (-500)
    s = import_contracts(prog, row(amount="250000") + row("C9", status="registered"))
    assert s.counts["corrected"] == 1 and s.points_posted == -500
    ps = postings(prog, "C1")
    assert [p.points for p in ps] == [2600, 500, -500]
    keys = [p.idem_key for p in ps]
    assert len(set(keys)) == 3, keys
    assert all(k.startswith("contract:C1:") for k in keys)
    assert contract(prog).revision == 3
    assert balance(prog, "bo@bolt.se") == 2600
    assert_consistent(prog)


def test_seller_change_in_an_individual_partner_moves_the_points(prog):
    import_contracts(prog, row(seller="bo@bolt.se"))
    s = import_contracts(prog, row(seller="britt@bolt.se"))
    assert s.counts["corrected"] == 1 and s.points_posted == 0  # -2 600 + 2 600
    assert balance(prog, "bo@bolt.se") == 0
    assert balance(prog, "britt@bolt.se") == 2600
    _, out, into = postings(prog)
    assert (out.points, out.account_id) == (-2600, account_id(prog, "bo@bolt.se"))
    assert (into.points, into.account_id) == (2600, account_id(prog, "britt@bolt.se"))
    assert out.value_date == into.value_date == date(2026, 1, 10)
    assert seller_sums(prog) == {"bo@bolt.se": 0, "britt@bolt.se": 2600}
    assert_consistent(prog)


def test_seller_change_in_a_pooled_partner_keeps_the_pool_and_moves_attribution(prog):
    import_contracts(prog, row(partner="ACME", seller="anna@acme.se"))
    assert balance(prog, "ACME") == 2600
    assert seller_sums(prog) == {"anna@acme.se": 2600}

    import_contracts(prog, row(partner="ACME", seller="arne@acme.se"))
    assert balance(prog, "ACME") == 2600  # -2 600 + 2 600 in the same pool
    assert seller_sums(prog) == {"anna@acme.se": 0, "arne@acme.se": 2600}
    pool = account_id(prog, "ACME")
    assert {p.account_id for p in postings(prog)} == {pool}
    assert_consistent(prog)


def test_pooled_partner_contract_points_go_to_the_pool(prog):
    import_contracts(prog, row(partner="ACME", seller="anna@acme.se"))
    [p] = postings(prog)
    assert p.account_id == account_id(prog, "ACME")
    with prog.session() as s:
        anna = s.exec(select(Seller.id).where(Seller.email == "anna@acme.se")).scalar_one()
        # no own account for a seller of a pooled partner
        assert s.exec(select(Account).where(Account.seller_id == anna)).first() is None
    assert p.seller_id == anna


def test_start_date_change_reverses_on_the_old_date_and_credits_on_the_new(prog):
    # points_per_contract is 200 from 2026-02-01 (set before anything is posted).
    with prog.session(write=True) as s:
        rules.set_rule(
            session=s, key="points_per_contract", value="200", valid_from=date(2026, 2, 1), actor="t"
        )
    import_contracts(prog, row(start="2026-01-10"))  # 2 500 + 100 = 2 600 (old rule)
    s = import_contracts(prog, row(start="2026-02-15"))  # 2 500 + 200 = 2 700 (new rule)
    assert s.counts["corrected"] == 1 and s.points_posted == 100  # -2 600 + 2 700
    _, out, into = postings(prog)
    assert (out.points, out.value_date) == (-2600, date(2026, 1, 10))
    assert (into.points, into.value_date) == (2700, date(2026, 2, 15))
    assert balance(prog, "bo@bolt.se") == 2700
    assert_consistent(prog)


def test_product_change_into_a_product_campaign(prog):
    with prog.session(write=True) as s:
        campaigns.add_campaign(
            session=s,
            name="Leasing March",
            valid_from=date(2026, 3, 1),
            valid_to=date(2026, 3, 31),
            multiplier="2",
            product="leasing",
            actor="t",
        )
    import_contracts(prog, row(start="2026-03-10", product="loan"))  # no campaign: 2 600
    assert balance(prog, "bo@bolt.se") == 2600
    s = import_contracts(prog, row(start="2026-03-10", product="leasing"))  # (2 500 + 100) * 2 = 5 200
    assert s.counts["corrected"] == 1 and s.points_posted == 2600  # 5 200 - 2 600
    ps = postings(prog)
    assert [p.points for p in ps] == [2600, 2600]
    assert ps[1].value_date == date(2026, 3, 10)
    assert balance(prog, "bo@bolt.se") == 5200
    assert_consistent(prog)


def test_cancellation_may_take_a_balance_negative_after_a_negative_adjustment(prog):
    import_contracts(prog, row())  # +2 600
    with prog.session(write=True) as s:
        points.adjust(
            session=s, ref="bo@bolt.se", points=-2000, reason="gift card", actor="t", reference=None
        )
    assert balance(prog, "bo@bolt.se") == 600  # 2 600 - 2 000
    import_contracts(prog, row(status="cancelled"))  # -2 600
    assert balance(prog, "bo@bolt.se") == -2000  # 600 - 2 600
    # ... but an adjustment still cannot take it (further) below zero
    with pytest.raises(Refused), prog.session(write=True) as s:
        points.adjust(session=s, ref="bo@bolt.se", points=-1, reason="more", actor="t", reference=None)
    assert balance(prog, "bo@bolt.se") == -2000
    assert_consistent(prog)


def test_reimporting_an_older_file_over_newer_changes_is_refused_unless_forced(prog):
    from factories import HEADER, csv_input

    from loyaltyctl.services import contracts as svc

    first = row(amount="250000")  # 2 600
    import_contracts(prog, first)
    import_contracts(prog, row(amount="300000"))  # 3 100: +500
    with pytest.raises(Refused, match="C1"):
        import_contracts(prog, first)  # the very same bytes as the first file
    assert [p.points for p in postings(prog)] == [2600, 500]
    with prog.session(write=True) as s:
        summary = svc.import_contracts(
            session=s, src=csv_input(HEADER + first), actor="t", skip_invalid=False, reapply=True
        )
    assert summary.points_posted == -500
    assert len({p.idem_key for p in postings(prog)}) == 3
    assert balance(prog, "bo@bolt.se") == 2600
    assert_consistent(prog)


def test_several_changes_in_one_file_each_post_their_difference(prog):
    import_contracts(
        prog,
        row("C1")
        + row("C2", seller="britt@bolt.se")
        + row("C3", partner="ACME", seller="anna@acme.se")
        + row("C4", status="registered"),
    )
    s = import_contracts(
        prog,
        row("C1", status="cancelled")  # -2 600
        + row("C2", seller="britt@bolt.se", amount="260000")  # 2 600 + 100 = 2 700: +100
        + row("C3", partner="ACME", seller="anna@acme.se")  # unchanged
        + row("C4", status="started")  # +2 600
        + row("C5", seller="britt@bolt.se", amount="1000"),  # 10 + 100 = 110
    )
    assert s.counts == {"new": 1, "credited": 2, "reversed": 1, "corrected": 1, "updated": 0, "unchanged": 1}
    assert s.points_posted == -2600 + 100 + 2600 + 110
    assert balance(prog, "bo@bolt.se") == 2600  # C1 0 + C4 2 600
    assert balance(prog, "britt@bolt.se") == 2700 + 110
    assert balance(prog, "ACME") == 2600
    assert_consistent(prog)


def test_a_partner_switching_to_pooled_mode_moves_its_contracts_points_to_the_pool(prog, cli, tmp_path):
    import_contracts(prog, row())  # bo: 2 600
    partners_csv = tmp_path / "partners.csv"
    partners_csv.write_text("code,name,mode,consent\nBOLT,Partner BOLT,pooled,yes\n", encoding="utf-8")
    cli("partners", "import", str(partners_csv), ok=True)
    import_contracts(prog, row() + row("C9", status="registered"))
    with prog.session() as s:
        rows = points.balances(session=s, ref="BOLT", on=None)
    # today: {"BOLT": 0, "bo@bolt.se": 2600, "britt@bolt.se": 0}
    assert {r["account"]: r["balance"] for r in rows if r["balance"]} == {"BOLT": 2600}


def test_a_pooled_partner_switching_to_individual_opens_its_sellers_accounts_and_moves_the_points(
    prog, cli, tmp_path
):
    # ACME pooled (anna, arne): anna's contract earns 2 600 into the pool.
    import_contracts(prog, row(partner="ACME", seller="anna@acme.se"))
    assert balance(prog, "ACME") == 2600
    partners_csv = tmp_path / "partners.csv"
    partners_csv.write_text(
        "code,name,mode,consent\nACME,Partner ACME,individual,yes\nCORP,Corp AB,pooled,no\n", encoding="utf-8"
    )
    summary = json.loads(cli("partners", "import", str(partners_csv), "-f", "json", ok=True).stdout)
    assert (summary["new"], summary["updated"], summary["unchanged"]) == (1, 1, 0)
    # Both sellers now hold an own account; the contract's points moved to anna's.
    with prog.session() as s:
        rows = points.balances(session=s, ref="ACME", on=None)
    assert {r["account"]: r["balance"] for r in rows} == {"ACME": 0, "anna@acme.se": 2600, "arne@acme.se": 0}
    assert balance(prog, "CORP") == 0  # the new pooled partner has its pool
    assert_consistent(prog)
