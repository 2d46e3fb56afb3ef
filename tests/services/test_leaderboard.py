"""The leaderboard: what counts, standard competition ranking with shared
prizes, award once, settle days, late postings, the pooled case, db check."""

from __future__ import annotations

from datetime import date

import pytest
from factories import balance, contract, import_contracts, posting_keys, small_program

from loyaltyctl.errors import Refused, UsageProblem
from loyaltyctl.services import dbadmin, leaderboard, leads, points, sellers

OCT = leaderboard.period_of(month="2026-10", year=None)


@pytest.fixture
def prog(db):
    small_program(db, enrolled_on=date(2026, 1, 1))  # ACME pooled (anna, arne), BOLT individual (bo, britt)
    return db


def show(db, period=OCT, **kw):
    with db.session() as s:
        return leaderboard.show(session=s, period=period, top=kw.pop("top", 10), live=kw.pop("live", False))


def run(db, period=OCT, force=False, dry_run=False):
    with db.session(write=True, dry_run=dry_run) as s:
        return leaderboard.run(session=s, period=period, force=force, dry_run=dry_run, actor="t")


def ranking(result):
    return [(r["rank"], r["seller"], r["points"], r["bonus"]) for r in result["rows"]]


def test_competition_ranking_1_2_2_4_and_the_pool_gets_its_sellers_bonus(prog):
    import_contracts(
        prog,
        contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000)  # 4000 + 100 = 4100
        + contract("C2", "BOLT", "britt@bolt.se", "2026-10-06", 300000)  # 3000 + 100 = 3100
        + contract("C3", "ACME", "anna@acme.se", "2026-10-31", 300000)  # 3100, last day counts
        + contract("C4", "ACME", "arne@acme.se", "2026-10-01", 200000)  # 2000 + 100 = 2100
        + contract("C5", "BOLT", "bo@bolt.se", "2026-11-01", 900000)  # November: not counted
        + contract("C6", "BOLT", "bo@bolt.se", "2026-10-07", 100000, status="registered"),  # not started: 0
    )
    # 4100 > 3100 = 3100 > 2100: ranks 1, 2, 2, 4; prizes 5000, 3000, 3000 (both at 2), none at 4.
    expected = [
        (1, "bo@bolt.se", 4100, 5000),
        (2, "anna@acme.se", 3100, 3000),
        (2, "britt@bolt.se", 3100, 3000),
        (4, "arne@acme.se", 2100, 0),
    ]
    assert ranking(show(prog)) == expected
    r = run(prog)
    assert (r["result"], r["bonus_points"]) == ("awarded", 11000)  # 5000 + 3000 + 3000
    assert balance(prog, "bo@bolt.se") == 4100 + 9100 + 5000  # C1 + C5 + bonus = 18 200
    assert balance(prog, "britt@bolt.se") == 3100 + 3000
    assert balance(prog, "ACME") == 3100 + 2100 + 3000  # anna's bonus goes to the pool: 8 200
    keys = posting_keys(prog, "bonus:2026-10:")
    assert sorted(keys.values()) == [(3000, "2026-10-31"), (3000, "2026-10-31"), (5000, "2026-10-31")]
    shown = show(prog)
    assert (shown["awarded"], shown["source"], shown["differs"]) == (True, "awarded", False)
    assert ranking(shown) == expected
    assert ranking(show(prog, top=1)) == expected[:1]
    assert ranking(show(prog, top=2)) == expected[:3]  # the tie at 2 adds a row


def test_two_tied_first_both_get_the_first_prize_and_the_next_is_third(prog):
    import_contracts(
        prog,
        contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 300000)  # 3100
        + contract("C2", "BOLT", "britt@bolt.se", "2026-10-06", 300000)  # 3100
        + contract("C3", "ACME", "anna@acme.se", "2026-10-07", 200000)  # 2100
        + contract("C4", "ACME", "arne@acme.se", "2026-10-08", 100000),  # 1100
    )
    assert ranking(show(prog)) == [
        (1, "bo@bolt.se", 3100, 5000),
        (1, "britt@bolt.se", 3100, 5000),
        (3, "anna@acme.se", 2100, 1000),
        (4, "arne@acme.se", 1100, 0),
    ]


def test_what_counts_contracts_net_quizzes_leads_not_adjustments_or_bonuses(prog):
    from factories import award_quiz, create_quiz

    import_contracts(prog, contract("C1", "BOLT", "britt@bolt.se", "2026-11-02", 300000))
    import_contracts(prog, contract("C1", "BOLT", "britt@bolt.se", "2026-11-02", 300000, status="cancelled"))
    create_quiz(prog, "Q1", questions=10, points=50)
    award_quiz(prog, "Q1", "seller_email,correct,taken_on\narne@acme.se,6,2026-11-03\n")  # 6 x 50 = 300
    with prog.session(write=True) as s:
        t = leads.add(session=s, email="arne@acme.se", company="X AB", org_number=None, note=None, actor="t")
        leads.accept(session=s, lead_id=t["id"], actor="t")  # 1000, valued today 2026-11-22
        points.adjust(session=s, ref="bo@bolt.se", points=9000, reason="goodwill", actor="t", reference=None)
    nov = leaderboard.period_of(month="2026-11", year=None)
    # britt: 3100 - 3100 = 0 (does not rank); arne 300 + 1000 = 1300; bo's adjustment does not count.
    assert ranking(show(prog, nov)) == [(1, "arne@acme.se", 1300, 5000)]


def test_inactive_sellers_are_left_out_and_the_others_rank_without_them(prog):
    import_contracts(
        prog,
        contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000)  # 4100
        + contract("C2", "BOLT", "britt@bolt.se", "2026-10-06", 300000),  # 3100
    )
    with prog.session(write=True) as s:
        sellers.set_active(session=s, email="bo@bolt.se", active=False)
    assert ranking(show(prog)) == [(1, "britt@bolt.se", 3100, 5000)]


def test_award_once_rerun_is_a_no_op_and_a_late_posting_changes_nothing(prog):
    import_contracts(prog, contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000))  # 4100
    assert run(prog, dry_run=True)["result"] == "would award"
    assert posting_keys(prog, "bonus:") == {}
    assert run(prog)["result"] == "awarded"
    # A contract for October arrives late: arne 9100 would now be first.
    import_contracts(prog, contract("C9", "ACME", "arne@acme.se", "2026-10-20", 900000))
    again = run(prog)
    assert (again["result"], [w["seller"] for w in again["winners"]]) == ("already awarded", ["bo@bolt.se"])
    assert len(posting_keys(prog, "bonus:")) == 1
    assert balance(prog, "bo@bolt.se") == 4100 + 5000
    assert balance(prog, "ACME") == 9100  # no bonus for the late-comer
    shown = show(prog)
    assert (shown["differs"], ranking(shown)) == (True, [(1, "bo@bolt.se", 4100, 5000)])
    assert ranking(show(prog, live=True))[0] == (1, "arne@acme.se", 9100, 5000)
    with prog.session() as s:
        board = next(r for r in dbadmin.check(session=s, db=prog) if r.name == "leaderboard")
    assert board.ok, board.problems


def test_settle_days_refusal_names_the_date_and_force_overrides(prog, monkeypatch):
    import_contracts(prog, contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000))
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-04")
    with pytest.raises(Refused, match="can be awarded from 2026-11-05"):  # 2026-10-31 + 5 days
        run(prog)
    nov = leaderboard.period_of(month="2026-11", year=None)
    with pytest.raises(Refused, match="has not ended"):
        run(prog, nov, force=True)
    assert run(prog, force=True)["result"] == "awarded"


def test_the_year_end_awards_the_top_ten_valued_on_new_years_eve(prog, monkeypatch):
    import_contracts(
        prog,
        contract("C1", "BOLT", "bo@bolt.se", "2026-03-05", 400000)  # 4100
        + contract("C2", "ACME", "anna@acme.se", "2026-11-06", 300000),  # 3100
    )
    year = leaderboard.period_of(month=None, year="2026")
    with pytest.raises(Refused, match="has not ended"):
        run(prog, year)
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2027-01-05")  # 2026-12-31 + 5
    assert run(prog, year)["bonus_points"] == 20000 + 15000
    assert sorted(posting_keys(prog, "bonus:2026:").values()) == [
        (15000, "2026-12-31"),
        (20000, "2026-12-31"),
    ]


def test_db_check_finds_a_bonus_posting_without_award(prog):
    with prog.session(write=True) as s:
        from loyaltyctl.ledger import Entry, Ledger
        from loyaltyctl.services.accounts import find_seller, seller_account

        acc = seller_account(s, find_seller(s, "bo@bolt.se"))
        Ledger(s, actor="t").post(Entry("bonus:2026-09:1", acc.id, 700, "bonus", OCT.first))
    with prog.session() as s:
        board = next(r for r in dbadmin.check(session=s, db=prog) if r.name == "leaderboard")
    assert board.problems == ["bonus:2026-09:1: a bonus posting that no stored leaderboard award explains"]


def test_a_run_that_loses_the_race_on_the_unique_period_returns_the_stored_result(prog, monkeypatch):
    # Simulates another process committing between our check and our insert (on
    # PostgreSQL; SQLite's write lock serialises the two before the check).
    import_contracts(prog, contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000))  # 4100
    assert run(prog)["result"] == "awarded"
    real = leaderboard.stored_run
    calls = []

    def first_none(session, period):
        calls.append(period.key)
        return None if len(calls) == 1 else real(session, period)

    monkeypatch.setattr(leaderboard, "stored_run", first_none)
    again = run(prog)
    assert (again["result"], again["bonus_points"]) == ("already awarded", 5000)
    assert len(posting_keys(prog, "bonus:")) == 1 and balance(prog, "bo@bolt.se") == 4100 + 5000
    with prog.session() as s:
        from sqlalchemy import func, select

        from loyaltyctl.models import Batch

        assert (
            s.exec(select(func.count()).select_from(Batch).where(Batch.command == "leaderboard run")).scalar()
            == 1
        )


def test_a_stored_rule_outside_todays_limits_is_still_read_as_it_is(prog):
    # A version written before `rules set` checked the order of prizes must not
    # make the database unreadable: the check is for new versions only.
    from datetime import UTC, datetime

    from loyaltyctl.models import RuleVersion
    from loyaltyctl.services import rules

    with prog.session(write=True) as s:
        s.add(
            RuleVersion(
                key="monthly_bonus",
                value="1000,3000",
                valid_from=OCT.first,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                actor="old",
            )
        )
    import_contracts(
        prog,
        contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000)  # 4100
        + contract("C2", "BOLT", "britt@bolt.se", "2026-10-06", 300000),  # 3100
    )
    assert ranking(show(prog)) == [(1, "bo@bolt.se", 4100, 1000), (2, "britt@bolt.se", 3100, 3000)]
    with pytest.raises(UsageProblem, match="prizes may not increase"), prog.session(write=True) as s:
        rules.set_rule(session=s, key="monthly_bonus", value="1000,3000", valid_from=OCT.last, actor="t")


def consent(db, code: str, given: bool) -> None:
    from factories import csv_input

    from loyaltyctl.services import partners

    text = f"code,name,consent\n{code},Partner {code},{'yes' if given else 'no'}\n"
    with db.session(write=True) as s:
        partners.import_partners(session=s, src=csv_input(text, name="p.csv"), skip_invalid=False, actor="t")


FOUR = (
    contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000)  # 4100
    + contract("C2", "ACME", "anna@acme.se", "2026-10-06", 300000)  # 3100
    + contract("C3", "ACME", "arne@acme.se", "2026-10-07", 200000)  # 2100
    + contract("C4", "BOLT", "britt@bolt.se", "2026-10-08", 100000)  # 1100
)


@pytest.mark.parametrize("period", [OCT, leaderboard.period_of(month=None, year="2026")])
def test_a_pooled_partner_without_consent_earns_as_a_company_but_its_people_are_not_ranked(
    prog, monkeypatch, period
):
    """ACME (pooled) withdraws consent: its contracts still earn into its pool,
    but anna and arne are neither ranked nor named nor awarded; bo and britt
    rank 1 and 2 without them."""
    import_contracts(prog, FOUR)
    consent(prog, "ACME", False)
    assert balance(prog, "ACME") == 3100 + 2100
    prizes = [5000, 3000] if period is OCT else [20000, 15000]
    assert ranking(show(prog, period)) == [
        (1, "bo@bolt.se", 4100, prizes[0]),
        (2, "britt@bolt.se", 1100, prizes[1]),
    ]
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2027-01-06")
    r = run(prog, period)
    assert [(w["seller"], w["bonus"]) for w in r["winners"]] == [
        ("bo@bolt.se", prizes[0]),
        ("britt@bolt.se", prizes[1]),
    ]
    assert balance(prog, "ACME") == 3100 + 2100  # no bonus in the pool
    assert set(posting_keys(prog, f"bonus:{period.key}:")) == {
        f"bonus:{period.key}:{sid}" for sid in seller_ids(prog, "bo@bolt.se", "britt@bolt.se")
    }
    with prog.session() as s:
        assert all(c.ok for c in dbadmin.check(session=s, db=prog))


def seller_ids(db, *emails: str) -> list[int]:
    from sqlalchemy import select

    from loyaltyctl.models import Seller

    with db.session() as s:
        return list(s.exec(select(Seller.id).where(Seller.email.in_(emails))).scalars())


def test_an_awarded_ranking_names_nobody_of_a_partner_that_withdrew_consent(prog, cli, monkeypatch):
    import_contracts(prog, FOUR)
    run(prog)  # with consent: bo 5000, anna 3000 (to ACME's pool), arne 1000 (to the pool)
    consent(prog, "ACME", False)
    shown = show(prog)
    assert (shown["source"], shown["differs"]) == ("awarded", True)
    assert [
        (r["rank"], r["seller"], r["name"], r["partner"], r["points"], r["bonus"]) for r in shown["rows"]
    ] == [
        (1, "bo@bolt.se", "Bo", "BOLT", 4100, 5000),
        (2, None, None, "ACME", 3100, 3000),
        (3, None, None, "ACME", 2100, 1000),
        (4, "britt@bolt.se", "Britt", "BOLT", 1100, 0),
    ]
    assert ranking(show(prog, live=True)) == [(1, "bo@bolt.se", 4100, 5000), (2, "britt@bolt.se", 1100, 3000)]
    out = cli("leaderboard", "show", "--month", "2026-10", "-f", "csv", ok=True).stdout
    assert "anna" not in out.lower() and "arne" not in out.lower()
    again = cli("leaderboard", "run", "--month", "2026-10", "-f", "json", ok=True).stdout
    assert "anna" not in again.lower() and "arne" not in again.lower()
    with prog.session() as s:
        assert all(c.ok for c in dbadmin.check(session=s, db=prog))
