"""``points balance``, ``points history`` and ``points adjust`` through the CLI.

small_program: ACME pooled (anna, arne), BOLT individual (bo, britt).
250 000 SEK = 250 000 * 10 / 1000 + 100 = 2 600 points; 100 000 SEK = 1 100.
"""

from __future__ import annotations

import json

import pytest
from factories import balance, import_contracts, small_program

HEADER = "contract_id,partner_code,seller_email,start_date,amount,product,status\n"


@pytest.fixture
def prog(db):
    small_program(db)
    import_contracts(
        db,
        "C1,ACME,anna@acme.se,2026-01-10,250000,leasing,started\n"  # pool: 2 600
        "C2,ACME,arne@acme.se,2026-01-11,100000,leasing,started\n"  # pool: 1 100
        "C3,BOLT,bo@bolt.se,2026-01-12,250000,leasing,started\n"  # bo: 2 600
        "C4,BOLT,britt@bolt.se,2026-01-13,100000,leasing,started\n",  # britt: 1 100
    )
    return db


def as_json(result) -> object:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


# -- balance -----------------------------------------------------------------


def test_a_pooled_partners_seller_has_no_balance_of_their_own(prog, cli):
    r = cli("points", "balance", "anna@acme.se")
    assert r.exit_code == 4
    assert "ACME" in r.stderr and "pooled" in r.stderr
    assert "hint:" in r.stderr and "partner code ACME" in r.stderr
    assert r.stdout == ""


def test_balance_of_a_pooled_partner_is_its_pool(prog, cli):
    rows = as_json(cli("points", "balance", "ACME", "-f", "json"))
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("account", "balance", "held", "available")} == {
        "account": "ACME",
        "balance": 3700,
        "held": 0,
        "available": 3700,  # 2 600 + 1 100
    }
    assert rows[0]["type"] == "pooled"
    assert rows[0]["value_sek"] == "370.00"  # 3 700 * 0.10


def test_balance_of_an_individual_partner_lists_its_sellers(prog, cli):
    rows = as_json(cli("points", "balance", "bolt", "-f", "json"))
    assert [(r["account"], r["balance"]) for r in rows] == [("bo@bolt.se", 2600), ("britt@bolt.se", 1100)]
    table = cli("points", "balance", "BOLT", ok=True).stdout
    assert "bo@bolt.se" in table and "britt@bolt.se" in table and "2 600" in table


def test_balance_json_is_a_list_of_objects_with_integer_amounts(prog, cli):
    rows = as_json(cli("points", "balance", "--format", "json"))
    assert isinstance(rows, list) and len(rows) == 3  # ACME pool, bo, britt
    for r in rows:
        for key in ("balance", "held", "available"):
            assert type(r[key]) is int, (key, r)
        assert isinstance(r["account"], str)
        assert r["available"] == r["balance"] - r["held"]
    assert {r["account"]: r["balance"] for r in rows} == {
        "ACME": 3700,
        "bo@bolt.se": 2600,
        "britt@bolt.se": 1100,
    }
    assert as_json(cli("points", "balance", "bo@bolt.se", "-f", "json"))[0]["balance"] == 2600


def test_balance_of_unknown_references(prog, cli):
    assert cli("points", "balance", "nobody@acme.se").exit_code == 3
    assert cli("points", "balance", "NOPE").exit_code == 3
    assert cli("points", "balance", "--on", "22/11/2026").exit_code == 2


def test_balance_on_a_date_counts_what_was_booked_by_then(db, cli, monkeypatch):
    small_program(db)
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-20")
    import_contracts(db, "C1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n")  # +2 600
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-21")
    cli("points", "adjust", "bo@bolt.se", "500", "--reason", "fair bonus", ok=True)  # +500
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-22")
    import_contracts(db, "C1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,cancelled\n")  # -2 600

    def on(day):
        return as_json(cli("points", "balance", "bo@bolt.se", "--on", day, "-f", "json"))[0]["balance"]

    assert on("2026-11-19") == 0
    assert on("2026-11-20") == 2600
    assert on("2026-11-21") == 3100  # 2 600 + 500
    assert on("2026-11-22") == 500  # 3 100 - 2 600
    assert balance(db, "bo@bolt.se") == 500
    everyone = as_json(cli("points", "balance", "--on", "2026-11-20", "-f", "json"))
    assert {r["account"]: r["balance"] for r in everyone} == {
        "bo@bolt.se": 2600,
        "britt@bolt.se": 0,
        "ACME": 0,
    }


# -- history -----------------------------------------------------------------


def test_history_with_running_balance_and_date_range(db, cli, monkeypatch):
    small_program(db)
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-20")
    import_contracts(db, "C1,ACME,anna@acme.se,2026-01-10,250000,leasing,started\n")  # +2 600
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-21")
    import_contracts(db, "C1,ACME,anna@acme.se,2026-01-10,300000,leasing,started\n")  # +500
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-22")
    cli("points", "adjust", "ACME", "100", "--reason", "welcome", ok=True)  # +100

    rows = as_json(cli("points", "history", "ACME", "-f", "json"))
    assert [(r["booking_date"], r["kind"], r["points"], r["balance"]) for r in rows] == [
        ("2026-11-20", "contract", 2600, 2600),
        ("2026-11-21", "contract", 500, 3100),
        ("2026-11-22", "adjustment", 100, 3200),
    ]
    assert rows[0]["value_date"] == rows[1]["value_date"] == "2026-01-10"
    assert rows[0]["seller"] == "anna@acme.se"  # attributed to the seller in the pool
    assert rows[2]["memo"] == "welcome"

    middle = as_json(
        cli("points", "history", "ACME", "--from", "2026-11-21", "--to", "2026-11-21", "-f", "json")
    )
    assert [(r["points"], r["balance"]) for r in middle] == [(500, 3100)]  # opening 2 600
    assert cli("points", "history", "anna@acme.se").exit_code == 4


def test_history_of_an_individual_partner_covers_its_sellers_accounts(prog, cli):
    rows = as_json(cli("points", "history", "BOLT", "-f", "json"))
    assert [(r["account"], r["seller"], r["points"], r["balance"]) for r in rows] == [
        ("bo@bolt.se", "bo@bolt.se", 2600, 2600),
        ("britt@bolt.se", "britt@bolt.se", 1100, 3700),  # running over both accounts
    ]
    only_bo = as_json(cli("points", "history", "bo@bolt.se", "-f", "json"))
    assert [(r["points"], r["balance"]) for r in only_bo] == [(2600, 2600)]


# -- adjust ------------------------------------------------------------------


def test_adjust_needs_a_reason(prog, cli):
    assert cli("points", "adjust", "bo@bolt.se", "100").exit_code == 2
    r = cli("points", "adjust", "bo@bolt.se", "100", "--reason", "   ")
    assert r.exit_code == 2 and "reason" in r.stderr
    assert cli("points", "adjust", "bo@bolt.se", "0", "--reason", "nothing").exit_code == 2
    assert balance(prog, "bo@bolt.se") == 2600


def test_adjust_posts_and_is_idempotent_per_day(prog, cli, monkeypatch):
    r = cli("points", "adjust", "bo@bolt.se", "150", "--reason", "trade fair", ok=True)
    assert "+150" in r.stdout and "balance 2750" in r.stdout  # 2 600 + 150
    r = cli("points", "adjust", "bo@bolt.se", "150", "--reason", "trade fair")
    assert r.exit_code == 0 and "already posted" in r.stderr
    assert balance(prog, "bo@bolt.se") == 2750
    # another day, the same words are a new adjustment
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-23")
    cli("points", "adjust", "bo@bolt.se", "150", "--reason", "trade fair", ok=True)
    assert balance(prog, "bo@bolt.se") == 2900


def test_negative_adjust_cannot_take_available_below_zero(prog, cli):
    r = cli("points", "adjust", "--reason", "correction", "--", "bo@bolt.se", "-2601")
    assert r.exit_code == 4, r.stderr
    assert "2600" in r.stderr
    assert balance(prog, "bo@bolt.se") == 2600
    r = cli("points", "adjust", "--reason", "correction", "-f", "json", "--", "bo@bolt.se", "-2600")
    assert as_json(r)["balance"] == 0  # down to exactly zero is fine
    assert cli("points", "adjust", "--reason", "more", "--", "bo@bolt.se", "-1").exit_code == 4


def test_negative_points_can_be_written_as_documented(prog, cli):
    r = cli("points", "adjust", "bo@bolt.se", "-200", "--reason", "correction")
    assert r.exit_code == 0, r.stderr
    assert balance(prog, "bo@bolt.se") == 2400


def test_adjust_with_a_reference(prog, cli):
    args = ["points", "adjust", "ACME", "300", "--reason", "quiz win", "--ref", "QUIZ-7"]
    cli(*args, ok=True)
    r = cli(*args)
    assert r.exit_code == 0 and "already posted" in r.stderr
    r = cli("points", "adjust", "ACME", "400", "--reason", "quiz win", "--ref", "QUIZ-7")
    assert r.exit_code == 4 and "QUIZ-7" in r.stderr
    r = cli("points", "adjust", "bo@bolt.se", "300", "--reason", "quiz win", "--ref", "QUIZ-7")
    assert r.exit_code == 4
    assert balance(prog, "ACME") == 4000  # 3 700 + 300
    assert balance(prog, "bo@bolt.se") == 2600


def test_adjust_needs_a_single_account(prog, cli):
    r = cli("points", "adjust", "arne@acme.se", "10", "--reason", "x")
    assert r.exit_code == 4 and "ACME" in r.stderr
    r = cli("points", "adjust", "BOLT", "10", "--reason", "x")
    assert r.exit_code == 4 and "individual" in r.stderr
    assert cli("points", "adjust", "ghost@bolt.se", "10", "--reason", "x").exit_code == 3


def test_a_negative_value_in_a_csv_export_stays_a_number(prog, db, cli):
    """britt spends her 1 100 points, then C4 is cancelled: her balance is
    -1 100, worth -110.00 SEK.  In CSV that is the number -110.00, not the
    text '-110.00: only text cells get the formula guard."""
    cli("points", "adjust", "britt@bolt.se", "-1100", "--reason", "spent", ok=True)
    import_contracts(db, "C4,BOLT,britt@bolt.se,2026-01-13,100000,leasing,cancelled\n")
    (row,) = as_json(cli("points", "balance", "britt@bolt.se", "-f", "json"))
    assert (row["balance"], row["value_sek"]) == (-1100, "-110.00")
    lines = cli("points", "balance", "britt@bolt.se", "-f", "csv", ok=True).stdout.splitlines()
    header, cells = lines[0].split(","), lines[1].split(",")
    assert dict(zip(header, cells, strict=True))["value_sek"] == "-110.00"
    assert dict(zip(header, cells, strict=True))["balance"] == "-1100"


@pytest.mark.backend_independent("the CSV cell rule")
def test_text_cells_keep_their_guard_and_numbers_need_none():
    from loyaltyctl.importers.fields import neutralise, unneutralise

    for number in ("-100.00", "-5", "-0.50", "1200"):
        assert neutralise(number) == number
    for text in ("-5 points", "-1e3", "-", "--", "-=1", "=SUM(A1)", "+46 70", "@x", "'-5"):
        assert neutralise(text).startswith("'") and unneutralise(neutralise(text)) == text


@pytest.mark.backend_independent("a usage error, before any database is opened")
def test_a_date_option_before_2000_is_a_usage_error(cli):
    r = cli("points", "balance", "--on", "1999-12-31")
    assert (r.exit_code, r.stderr) == (
        2,
        "error: --on '1999-12-31' is before 2000-01-01 (the program has no earlier dates)\n",
    )
