"""``db check`` names every failure: each check is broken on purpose through raw
SQL (dropping an append-only trigger only where the tampering needs it) and the
test asserts the named check, its message with both numbers, exit 6 and the
JSON shape.

The program every test starts from (today 2026-11-22, default rules):

    contracts  C1 bo    2026-10-05  400 000 SEK  4 000 + 100 = 4 100
               C2 britt 2026-10-06  300 000 SEK                3 100
               C3 anna  2026-10-07  300 000 SEK  (ACME pool)   3 100
               C4 arne  2026-10-08  200 000 SEK  (ACME pool)   2 100
    quiz Q1    10 questions x 50; bo 8 correct                   400
    lead #1    britt, accepted (lead_points 1 000)             1 000
    leaderboard 2026-10: bo 5 000, anna 3 000 (pool), britt 3 000
    catalog    MUG 500 (stock 3), TRIP 3 000
    R000001    ACME 2 x MUG approved                          -1 000
    R000002    bo TRIP rejected
    R000003    britt 1 x MUG pending (500 held)

    bo 4 100 + 400 + 5 000 = 9 500; britt 3 100 + 1 000 + 3 000 = 7 100 (500 held);
    ACME 3 100 + 2 100 + 3 000 - 1 000 = 7 200.
"""

from __future__ import annotations

import json

import pytest
from conftest import TODAY, Cli, build_template, connect
from factories import REWARDS, balance, contract, import_contracts, load_catalog, small_program

from loyaltyctl.db import Database, resolve_url

ALL_CHECKS = [
    "integrity",
    "foreign_keys",
    "balances",
    "holds",
    "stock",
    "idempotency",
    "contracts",
    "quizzes",
    "leads",
    "leaderboard",
    "redemptions",
]


@pytest.fixture(scope="module")
def template(backend, request, tmp_path_factory):
    """The program above, built once through the CLI; each test gets a copy."""
    return build_template(backend, request, tmp_path_factory, _build)


def _build(path: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOYALTYCTL_DB", str(path))
        mp.setenv("LOYALTYCTL_TODAY", TODAY)
        mp.setenv("LOYALTYCTL_ACTOR", "tester")
        db = Database(resolve_url(str(path)))
        db.init()
        small_program(db)
        import_contracts(
            db,
            contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000)
            + contract("C2", "BOLT", "britt@bolt.se", "2026-10-06", 300000)
            + contract("C3", "ACME", "anna@acme.se", "2026-10-07", 300000)
            + contract("C4", "ACME", "arne@acme.se", "2026-10-08", 200000),
        )
        load_catalog(db, REWARDS)
        cli = Cli()
        for args in (
            ("quiz", "create", "Q1", "--title", "Leasing", "--questions", "10", "--points-per-correct", "50"),
            ("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", "8"),
            ("leads", "add", "--seller", "britt@bolt.se", "--company", "Cykel AB"),
            ("leads", "accept", "1"),
            ("leaderboard", "run", "--month", "2026-10"),
            ("redemptions", "request", "ACME", "MUG", "--qty", "2"),
            ("redemptions", "request", "bo@bolt.se", "TRIP"),
            ("redemptions", "request", "britt@bolt.se", "MUG"),
            ("redemptions", "approve", "R000001"),
            ("redemptions", "reject", "R000002", "--reason", "out of season"),
        ):
            cli(*args, ok=True)
        assert (balance(db, "bo@bolt.se"), balance(db, "britt@bolt.se"), balance(db, "ACME")) == (
            9500,
            7100,
            7200,
        )
        db.dispose()  # checkpoints the WAL into the file


@pytest.fixture
def prog(template, _isolated, db_url):
    """The program's database URL."""
    template.load(_isolated)
    return db_url


def raw(url: str, *statements: str) -> None:
    """Tamper with the database behind loyaltyctl's back.  On PostgreSQL,
    ``DROP TRIGGER t_no_delete`` (SQLite's name) disables ``t_append_only``
    for the statements that follow and enables it again after them."""
    reenable = []
    if not url.startswith("sqlite"):
        out = []
        for sql in statements:
            if sql.startswith("DROP TRIGGER "):
                table = sql.split()[2].rsplit("_no_", 1)[0]
                out.append(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
                reenable.append(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
            else:
                out.append(sql)
        statements = (*out, *reenable)
    with connect(url) as con:
        for sql in statements:
            con.execute(sql)


def failing(cli, *expected: str) -> str:
    """Run db check (in-process for the table, a real process for JSON); assert
    exit 6 and that exactly these checks fail; return the table output."""
    r = cli("db", "check")
    assert r.exit_code == 6, (r.stdout, r.stderr)
    # A failed integrity check is corruption, and the first line says so.
    corrupt = "is corrupt: " if "integrity" in expected else ""
    first = r.stderr.splitlines()[0]
    assert first.startswith("error: ") and first.endswith(
        f"{corrupt}db check failed: {', '.join(expected)}"
    ), r.stderr
    for name in expected:
        assert f"FAIL {name}: " in r.stdout
    p = cli("db", "check", "--format", "json")
    assert p.exit_code == 6
    got = json.loads(p.stdout)
    assert set(got) == {"ok", "checks"} and got["ok"] is False
    assert [c["check"] for c in got["checks"]] == ALL_CHECKS
    for c in got["checks"]:
        assert set(c) == {"check", "description", "ok", "problems", "more_problems"}
        assert c["ok"] is (c["check"] not in expected)
        assert (c["problems"] == []) is c["ok"]
    return r.stdout


def problems(cli, name: str) -> list[str]:
    got = json.loads(cli("db", "check", "--format", "json").stdout)
    return next(c["problems"] for c in got["checks"] if c["check"] == name)


def test_the_untouched_program_passes_every_check(prog, cli):
    r = cli("db", "check", ok=True)
    assert r.stdout.count("ok   ") == len(ALL_CHECKS)
    got = json.loads(cli("db", "check", "--format", "json", ok=True).stdout)
    assert got["ok"] is True and all(c["ok"] for c in got["checks"])


@pytest.mark.sqlite_only("rewrites sqlite_master (PRAGMA writable_schema)")
def test_integrity_check_finds_an_index_that_does_not_match_its_table(prog, cli):
    # Declare the seller index on another column than it was built on: every
    # entry is then "missing" from the index as SQLite now understands it.
    raw(
        prog,
        "PRAGMA writable_schema = ON",
        "UPDATE sqlite_master SET sql = 'CREATE INDEX ix_seller_partner_id ON seller (enrolled_on)'"
        " WHERE name = 'ix_seller_partner_id'",
    )
    failing(cli, "integrity")
    found = problems(cli, "integrity")
    assert found and all(p.startswith("integrity_check: ") for p in found)
    assert any("ix_seller_partner_id" in p for p in found)


@pytest.mark.sqlite_only("a raw SQLite connection does not enforce foreign keys; PostgreSQL always does")
def test_foreign_key_check_names_the_row_and_the_missing_parent(prog, cli):
    # raw sqlite3 connections do not enforce foreign keys; loyaltyctl's do
    raw(prog, "UPDATE lead SET seller_id = 99 WHERE id = 1")
    failing(cli, "foreign_keys", "leads")
    assert problems(cli, "foreign_keys") == ["foreign_key_check: table lead row 1 points to a missing seller"]


def test_a_cached_balance_off_by_100(prog, cli, sub):
    raw(prog, "UPDATE account SET balance = balance + 100 WHERE holder = 'partner'")
    out = failing(cli, "balances")
    assert "account ACME: cached 7300 != postings 7200" in out
    # the real thing: a process with pipes, exit 6, one error line, JSON on stdout
    p = sub("db", "check", "--format", "json")
    assert p.returncode == 6
    assert p.stderr.decode().splitlines()[0] == "error: db check failed: balances"
    assert b"Traceback" not in p.stderr
    got = json.loads(p.stdout)
    assert got["ok"] is False
    assert [c["problems"] for c in got["checks"] if not c["ok"]] == [
        ["account ACME: cached 7300 != postings 7200"]
    ]


def test_held_points_that_no_pending_request_explains(prog, cli):
    raw(
        prog,
        "UPDATE account SET held = 0 WHERE seller_id = (SELECT id FROM seller WHERE email LIKE 'britt%')",
    )
    out = failing(cli, "holds")
    assert "account britt@bolt.se: held 0 != pending redemptions 500" in out


def test_reserved_stock_that_no_pending_request_explains(prog, cli):
    raw(prog, "UPDATE catalog_item SET reserved = 0 WHERE sku = 'MUG'")
    out = failing(cli, "stock")
    assert "catalog item MUG: reserved 0 != pending quantity 1" in out


def test_a_duplicated_idempotency_key(prog, cli, backend):
    # The schema refuses a duplicate key (UNIQUE), so rebuild the table without
    # its constraints, then book +10 twice under one key and -20 under another:
    # the balances still add up, only the key is doubled.
    raw(
        prog,
        "ALTER TABLE posting RENAME TO posting_old",
        "CREATE TABLE posting AS SELECT * FROM posting_old",
        *[
            "INSERT INTO posting (id, idem_key, account_id, points, kind, value_date, booking_date,"
            f" booked_at, actor) VALUES ({100 + i}, '{key}', 1, {pts}, 'adjustment', '2026-11-22',"
            " '2026-11-22', '2026-11-22 10:00:00', 'x')"
            for i, (key, pts) in enumerate(
                [("adjust:twice", 10), ("adjust:twice", 10), ("adjust:other", -20)]
            )
        ],
    )
    if backend == "sqlite":
        out = failing(cli, "idempotency")
    else:  # the rebuilt table has no append-only trigger either, and integrity says so
        out = failing(cli, "integrity", "idempotency")
        assert "append-only trigger posting_append_only is missing: posting rows can be changed" in out
    assert "idempotency key 'adjust:twice' is used by 2 postings" in out


def test_contract_points_that_do_not_match_the_rules(prog, cli):
    # C2 recorded and posted 3 100, but 350 000 SEK earns 3 500 + 100 = 3 600
    raw(prog, "UPDATE contract SET amount_ore = 35000000 WHERE contract_id = 'C2'")
    out = failing(cli, "contracts")
    assert "contract C2: earns 3600 by the rules in force on 2026-10-06 != recorded 3100" in out


def test_a_quiz_award_that_is_not_correct_times_points_per_correct(prog, cli):
    raw(prog, "UPDATE quiz SET points_per_correct = 60")
    out = failing(cli, "quizzes")
    assert "quiz Q1, bo@bolt.se: 8 correct x 60 = 480 != awarded 400" in out
    assert "quiz Q1, bo@bolt.se: 8 correct x 60 = 480 != posted 400 (quiz)" in out


def test_a_quiz_award_whose_posting_is_gone(prog, cli):
    raw(
        prog,
        "DROP TRIGGER posting_no_delete",
        "DELETE FROM posting WHERE idem_key LIKE 'quiz:%'",
        "UPDATE account SET balance = balance - 400"
        " WHERE seller_id = (SELECT id FROM seller WHERE email LIKE 'bo@%')",
    )
    out = failing(cli, "quizzes")
    assert "quiz Q1, bo@bolt.se: 8 correct x 50 = 400, but no posting quiz:Q1:3" in out


def test_a_quiz_posting_without_an_award(prog, cli):
    raw(
        prog,
        "DROP TRIGGER quiz_award_no_delete",
        "DELETE FROM quiz_award",
    )
    out = failing(cli, "quizzes")
    assert "posting quiz:Q1:3: 400 points to bo@bolt.se that no quiz award explains" in out


def test_a_lead_posting_for_a_lead_that_is_not_accepted(prog, cli):
    raw(prog, "UPDATE lead SET status = 'rejected', reason = 'oops' WHERE id = 1")
    out = failing(cli, "leads")
    assert "lead #1 (britt@bolt.se): rejected, but it has a lead posting lead:1 of 1000" in out


def test_an_accepted_lead_paid_other_than_lead_points_as_of_acceptance(prog, cli):
    # A version of lead_points = 2 000 that was in the rules before the lead was
    # accepted: the lead should have earned 2 000, not the 1 000 recorded and posted.
    raw(
        prog,
        "INSERT INTO rule_version (key, value, valid_from, created_at, actor)"
        " VALUES ('lead_points', '2000', '2026-01-01', '2026-01-01 00:00:00.000000', 'x')",
    )
    out = failing(cli, "leads")
    assert "lead #1 (britt@bolt.se): lead_points on 2026-11-22 is 2000 != recorded 1000" in out
    assert "lead #1 (britt@bolt.se): lead_points on 2026-11-22 is 2000 != posted 1000" in out


def test_a_lead_points_version_written_after_acceptance_changes_nothing(prog, cli):
    # back-dated, but written later than the lead was credited: not a mismatch
    raw(
        prog,
        "INSERT INTO rule_version (key, value, valid_from, created_at, actor)"
        " VALUES ('lead_points', '2000', '2026-01-01', '2099-01-01 00:00:00.000000', 'x')",
    )
    cli("db", "check", ok=True)


def test_an_accepted_lead_without_its_posting(prog, cli):
    raw(
        prog,
        "DROP TRIGGER posting_no_delete",
        "DELETE FROM posting WHERE idem_key = 'lead:1'",
        "UPDATE account SET balance = balance - 1000"
        " WHERE seller_id = (SELECT id FROM seller WHERE email LIKE 'britt@%')",
    )
    out = failing(cli, "leads")
    assert "lead #1 (britt@bolt.se): accepted on 2026-11-22 for 1000 points, but no posting lead:1" in out


def test_a_leaderboard_award_that_differs_from_its_bonus_posting(prog, cli):
    raw(
        prog,
        "DROP TRIGGER leaderboard_award_no_update",
        "UPDATE leaderboard_award SET bonus = 4000 WHERE rank = 1",
    )
    out = failing(cli, "leaderboard")
    assert "bonus:2026-10:3: awarded 4000 points to account #" in out and "!= posted 5000" in out


def test_an_approved_redemption_without_its_debit(prog, cli):
    raw(prog, "UPDATE redemption SET status = 'approved' WHERE id = 'R000002'")
    out = failing(cli, "redemptions")
    assert "redemption R000002 (bo@bolt.se): approved for 3000 points, but there is no debit posting" in out


def test_a_rejected_redemption_with_a_debit(prog, cli):
    raw(prog, "UPDATE redemption SET status = 'rejected', reason = 'x' WHERE id = 'R000001'")
    out = failing(cli, "redemptions")
    assert (
        "redemption R000001 (ACME): rejected, but it has a debit posting redemption:R000001 of -1000" in out
    )


def test_a_debit_of_the_wrong_size(prog, cli):
    # the request says 2 x 500 = 1 000; pretend it was 3 x 500 (stock is not
    # looked at for decided requests)
    raw(prog, "UPDATE redemption SET quantity = 3, points = 1500 WHERE id = 'R000001'")
    out = failing(cli, "redemptions")
    assert "redemption R000001 (ACME): debit of -1500 to ACME != posted -1000 to ACME (redemption)" in out
