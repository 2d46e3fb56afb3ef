"""Effective-dated rules and campaigns: what a contract earns is fixed by the
rules and campaigns in force on its start date, and neither may be changed
under points already earned.

Default rules: 10 points per 1 000 SEK, 100 per started contract, 0.10 SEK a point.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from factories import balance, import_contracts, small_program
from sqlalchemy import func, select

from loyaltyctl.errors import Refused
from loyaltyctl.models import Campaign, RuleVersion
from loyaltyctl.services import campaigns, dbadmin, rules


def row(cid, start, amount="250000", product="leasing", seller="bo@bolt.se", partner="BOLT") -> str:
    return f"{cid},{partner},{seller},{start},{amount},{product},started\n"


def earned(db, cid: str) -> int:
    from loyaltyctl.models import Contract

    with db.session() as s:
        return s.exec(select(Contract.posted_points).where(Contract.contract_id == cid)).scalar_one()


def set_rule(db, key, value, valid_from):
    with db.session(write=True) as s:
        return rules.set_rule(
            session=s, key=key, value=value, valid_from=date.fromisoformat(valid_from), actor="t"
        )


def add_campaign(db, name, valid_from, valid_to, multiplier, product=None):
    with db.session(write=True) as s:
        return campaigns.add_campaign(
            session=s,
            name=name,
            valid_from=date.fromisoformat(valid_from),
            valid_to=date.fromisoformat(valid_to),
            multiplier=multiplier,
            product=product,
            actor="t",
        )


def assert_consistent(db) -> None:
    with db.session() as s:
        assert [r.problems for r in dbadmin.check(session=s, db=db) if not r.ok] == []


@pytest.fixture
def prog(db):
    small_program(db)
    return db


# -- rules -------------------------------------------------------------------


def test_default_rules(db):
    with db.session() as s:
        shown = {
            r["key"]: (r["value"], r["source"]) for r in rules.show_rules(session=s, on=date(2026, 1, 1))
        }
    assert shown == {
        "points_per_1000_sek": ("10", "default"),
        "points_per_contract": ("100", "default"),
        "point_value_sek": ("0.10", "default"),
        "welcome_quiz_days": ("90", "default"),
        "lead_points": ("1000", "default"),
        "monthly_bonus": ("5000,3000,1000", "default"),
        "yearly_bonus": ("20000,15000,10000,8000,6000,5000,4000,3000,2000,1000", "default"),
        "leaderboard_settle_days": ("5", "default"),
        "review_confirm_points": ("10000", "default"),
    }


def test_engagement_rules_may_start_before_the_last_contract_value_date(prog):
    import_contracts(prog, row("C1", "2026-06-01"))
    with pytest.raises(Refused):
        set_rule(prog, "points_per_contract", "200", "2026-06-01")
    assert set_rule(prog, "lead_points", "1500", "2026-05-01")["result"] == "created"


def test_a_bonus_list_rule_round_trips_as_text(db):
    with db.session(write=True) as s:
        r = rules.set_rule(
            session=s, key="monthly_bonus", value=" 6000, 4000 ,2000", valid_from=date(2026, 1, 1), actor="t"
        )
    assert r["value"] == "6000,4000,2000"
    with db.session() as s:
        assert rules.load_rulebook(s).value("monthly_bonus", date(2026, 2, 1)) == (6000, 4000, 2000)


def test_rules_are_effective_dated_by_contract_start_date(prog):
    assert set_rule(prog, "points_per_1000_sek", "20", "2026-06-01")["result"] == "created"
    import_contracts(prog, row("C1", "2026-05-31") + row("C2", "2026-06-01"))
    assert earned(prog, "C1") == 2600  # old rule: 250 000 * 10 / 1000 + 100 = 2 600
    assert earned(prog, "C2") == 5100  # new rule: 250 000 * 20 / 1000 + 100 = 5 100
    assert balance(prog, "bo@bolt.se") == 7700
    assert_consistent(prog)


def test_rules_show_on_a_date(prog, cli):
    cli("rules", "set", "points_per_contract", "150", "--from", "2026-06-01", ok=True)
    before = json.loads(cli("rules", "show", "--on", "2026-05-31", "-f", "json", ok=True).stdout)
    after = json.loads(cli("rules", "show", "--on", "2026-06-01", "-f", "json", ok=True).stdout)
    b = {r["key"]: r for r in before}
    a = {r["key"]: r for r in after}
    assert (b["points_per_contract"]["value"], b["points_per_contract"]["source"]) == ("100", "default")
    assert (a["points_per_contract"]["value"], a["points_per_contract"]["valid_from"]) == (
        "150",
        "2026-06-01",
    )
    assert a["points_per_1000_sek"]["value"] == "10"


def test_a_rule_version_on_or_before_a_posted_value_date_is_refused(prog, cli):
    import_contracts(prog, row("C1", "2026-03-10"))  # 2 600, value date 2026-03-10
    for day in ("2026-03-10", "2026-03-09", "2025-01-01"):
        r = cli("rules", "set", "points_per_contract", "200", "--from", day)
        assert r.exit_code == 4, (day, r.stderr)
        assert "2026-03-10" in r.stderr
    with prog.session() as s:
        assert s.exec(select(func.count()).select_from(RuleVersion)).scalar() == 0
    r = cli("rules", "set", "points_per_contract", "200", "--from", "2026-03-11", ok=True)
    assert "200" in r.stdout
    assert earned(prog, "C1") == 2600
    import_contracts(prog, row("C2", "2026-03-11"))  # 2 500 + 200 = 2 700
    assert earned(prog, "C2") == 2700
    assert_consistent(prog)


def test_a_reversal_still_blocks_rules_on_its_value_date(prog, cli):
    import_contracts(prog, row("C1", "2026-03-10"))
    import_contracts(prog, row("C1", "2026-03-10").replace("started", "cancelled"))
    # C1 earns 0 now, but re-starting it later must earn what it earned before
    assert cli("rules", "set", "points_per_contract", "200", "--from", "2026-03-01").exit_code == 4


def test_rules_set_usage_errors(db, cli):
    r = cli("rules", "set", "points_per_week", "5", "--from", "2026-01-01")
    assert r.exit_code == 3 and "points_per_week" in r.stderr
    for key, value in [
        ("points_per_contract", "abc"),
        ("points_per_contract", "1.5"),
        ("points_per_1000_sek", "ten"),
        ("point_value_sek", "x"),
        ("point_value_sek", "0.123456"),
    ]:
        r = cli("rules", "set", key, value, "--from", "2026-01-01")
        assert r.exit_code == 2, (key, value, r.stderr)
    assert cli("rules", "set", "points_per_contract", "5", "--from", "2026-13-01").exit_code == 2
    assert "Traceback" not in r.stderr


def test_setting_the_identical_version_again_is_a_no_op(prog, cli):
    cli("rules", "set", "point_value_sek", "0.12", "--from", "2026-06-01", ok=True)
    import_contracts(prog, row("C1", "2026-07-01"))  # posted after the version's date
    r = cli("rules", "set", "point_value_sek", "0.120", "--from", "2026-06-01")
    assert r.exit_code == 0, r.stderr
    assert "nothing changed" in r.stderr
    with prog.session() as s:
        assert s.exec(select(func.count()).select_from(RuleVersion)).scalar() == 1
    # a different value on the same date would change earned value: refused
    assert cli("rules", "set", "point_value_sek", "0.15", "--from", "2026-06-01").exit_code == 4


# -- campaigns ---------------------------------------------------------------


def test_campaign_multiplies_inclusive_of_both_ends(prog):
    add_campaign(prog, "April", "2026-04-01", "2026-04-30", "2")
    import_contracts(
        prog,
        row("C1", "2026-03-31") + row("C2", "2026-04-01") + row("C3", "2026-04-30") + row("C4", "2026-05-01"),
    )
    # (2 500 + 100) * 2 = 5 200 inside, 2 600 outside
    assert [earned(prog, c) for c in ("C1", "C2", "C3", "C4")] == [2600, 5200, 5200, 2600]
    assert_consistent(prog)


def test_the_highest_multiplier_wins_among_overlapping_campaigns(prog):
    add_campaign(prog, "Spring", "2026-04-01", "2026-04-30", "1.5")
    add_campaign(prog, "Mid-April", "2026-04-10", "2026-04-20", "2")
    add_campaign(prog, "Small", "2026-04-01", "2026-04-30", "1.25")
    import_contracts(prog, row("C1", "2026-04-05") + row("C2", "2026-04-15"))
    assert earned(prog, "C1") == 3900  # 2 600 * 1.5 (beats 1.25)
    assert earned(prog, "C2") == 5200  # 2 600 * 2 (beats 1.5 and 1.25)


def test_floor_is_applied_after_multiplying(prog):
    add_campaign(prog, "Spring", "2026-04-01", "2026-04-30", "1.5")
    add_campaign(prog, "May", "2026-05-01", "2026-05-31", "1.15")
    import_contracts(prog, row("C1", "2026-04-05", amount="250100") + row("C2", "2026-05-05"))
    # C1: 250 100 * 10 / 1000 = 2 501 + 100 = 2 601; * 1.5 = 3 901.5 -> 3 901 (floor, not 3 902)
    assert earned(prog, "C1") == 3901
    # C2: 2 600 * 1.15 = 2 990 exactly (binary floats would give 2 989.999... -> 2 989)
    assert earned(prog, "C2") == 2990
    assert_consistent(prog)


def test_volume_points_are_floored(prog):
    import_contracts(prog, row("C1", "2026-04-05", amount="1999.99"))
    # 1 999.99 * 10 / 1000 = 19.9999 -> 19, + 100 = 119
    assert earned(prog, "C1") == 119


def test_product_campaign_applies_only_to_its_product(prog):
    add_campaign(prog, "Leasing", "2026-04-01", "2026-04-30", "2", product="leasing")
    import_contracts(
        prog, row("C1", "2026-04-05", product="leasing") + row("C2", "2026-04-05", product="loan")
    )
    assert earned(prog, "C1") == 5200  # 2 600 * 2
    assert earned(prog, "C2") == 2600  # no campaign for loans


def test_a_campaign_over_already_earned_dates_is_refused(prog, cli):
    import_contracts(prog, row("C1", "2026-04-15", product="leasing"))
    r = cli("campaigns", "add", "Late", "--from", "2026-04-01", "--to", "2026-04-30", "--multiplier", "2")
    assert r.exit_code == 4, r.stderr
    assert "2026-04-15" in r.stderr
    r = cli(
        "campaigns",
        "add",
        "Late leasing",
        "--from",
        "2026-04-15",
        "--to",
        "2026-04-15",
        "--multiplier",
        "2",
        "--product",
        "leasing",
    )
    assert r.exit_code == 4
    # another product's campaign, or dates after the last earned one, change nothing earned
    cli(
        "campaigns",
        "add",
        "Loans",
        "--from",
        "2026-04-01",
        "--to",
        "2026-04-30",
        "--multiplier",
        "2",
        "--product",
        "loan",
        ok=True,
    )
    cli("campaigns", "add", "May", "--from", "2026-04-16", "--to", "2026-05-31", "--multiplier", "2", ok=True)
    assert earned(prog, "C1") == 2600
    assert_consistent(prog)


def test_same_campaign_again_is_a_no_op_other_terms_are_refused(prog, cli):
    args = ["campaigns", "add", "Xmas", "--from", "2026-12-01", "--to", "2026-12-24", "--multiplier", "1.5"]
    cli(*args, ok=True)
    r = cli(*args)
    assert r.exit_code == 0 and "nothing changed" in r.stderr
    r = cli("campaigns", "add", "Xmas", "--from", "2026-12-01", "--to", "2026-12-24", "--multiplier", "2")
    assert r.exit_code == 4 and "other terms" in r.stderr
    with prog.session() as s:
        assert s.exec(select(func.count()).select_from(Campaign)).scalar() == 1
    listed = json.loads(cli("campaigns", "list", "-f", "json", ok=True).stdout)
    assert listed == [
        {"name": "Xmas", "from": "2026-12-01", "to": "2026-12-24", "multiplier": "1.5", "product": None}
    ]


def test_campaign_usage_errors(db, cli):
    base = ["campaigns", "add", "X", "--from", "2026-12-01", "--to", "2026-12-24", "--multiplier"]
    for bad in ("0", "abc", "11", "1.00001"):
        r = cli(*base, bad)
        assert r.exit_code == 2, (bad, r.stderr)
    r = cli("campaigns", "add", "X", "--from", "2026-12-24", "--to", "2026-12-01", "--multiplier", "2")
    assert r.exit_code == 2


# -- the calculator ----------------------------------------------------------


def test_points_calc_without_campaign(db, cli):
    r = cli("points", "calc", "--amount", "250000", "--date", "2026-01-10", "-f", "json", ok=True)
    got = json.loads(r.stdout)
    assert {
        k: got[k] for k in ("volume_points", "count_points", "multiplier", "campaign", "points", "value_sek")
    } == {
        "volume_points": 2500,  # 250 000 * 10 / 1000
        "count_points": 100,
        "multiplier": "1",
        "campaign": None,
        "points": 2600,
        "value_sek": "260.00",  # 2 600 * 0.10
    }


def test_points_calc_with_a_product_campaign(prog, cli):
    cli(
        "campaigns",
        "add",
        "Leasing boost",
        "--from",
        "2026-04-01",
        "--to",
        "2026-04-30",
        "--multiplier",
        "1.5",
        "--product",
        "leasing",
        ok=True,
    )
    r = cli(
        "points",
        "calc",
        "--amount",
        "250100",
        "--product",
        "leasing",
        "--date",
        "2026-04-15",
        "-f",
        "json",
        ok=True,
    )
    got = json.loads(r.stdout)
    # 250 100 * 10 / 1000 = 2 501; (2 501 + 100) * 1.5 = 3 901.5 -> 3 901; 3 901 * 0.10 = 390.10
    assert (
        got["volume_points"],
        got["count_points"],
        got["multiplier"],
        got["campaign"],
        got["points"],
        got["value_sek"],
    ) == (2501, 100, "1.5", "Leasing boost", 3901, "390.10")
    other = json.loads(
        cli(
            "points",
            "calc",
            "--amount",
            "250100",
            "--product",
            "loan",
            "--date",
            "2026-04-15",
            "-f",
            "json",
            ok=True,
        ).stdout
    )
    assert (other["points"], other["campaign"]) == (2601, None)
    table = cli(
        "points", "calc", "--amount", "250100", "--product", "leasing", "--date", "2026-04-15", ok=True
    ).stdout
    assert "3 901" in table and "Leasing boost" in table
    # the calculator agrees with the import
    import_contracts(prog, row("C1", "2026-04-15", amount="250100"))
    assert earned(prog, "C1") == 3901


def test_points_calc_uses_the_rules_of_the_date(db, cli):
    cli("rules", "set", "points_per_1000_sek", "20", "--from", "2026-06-01", ok=True)
    cli("rules", "set", "point_value_sek", "0.05", "--from", "2026-06-01", ok=True)
    got = json.loads(
        cli("points", "calc", "--amount", "250000", "--date", "2026-06-01", "-f", "json", ok=True).stdout
    )
    # 250 000 * 20 / 1000 = 5 000 + 100 = 5 100; 5 100 * 0.05 = 255.00
    assert (got["volume_points"], got["points"], got["value_sek"]) == (5000, 5100, "255.00")
    assert cli("points", "calc", "--amount", "0").exit_code == 2
    assert cli("points", "calc", "--amount", "lots").exit_code == 2
