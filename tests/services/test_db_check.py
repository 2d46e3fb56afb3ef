"""``db check`` proves the ledger adds up and names every mismatch; the database
itself keeps postings append-only and integral."""

from __future__ import annotations

import json
import sqlite3

import pytest
from factories import import_contracts, small_program

from loyaltyctl.db import SCHEMA_HEAD
from loyaltyctl.services import dbadmin

CONTRACTS = (
    "C1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n"  # bo: 2 600
    "C2,ACME,anna@acme.se,2026-01-11,100000,leasing,started\n"  # ACME pool: 1 100
)


@pytest.fixture
def prog(db):
    small_program(db)
    import_contracts(db, CONTRACTS)
    db.dispose()  # raw sqlite3 connections below work on the file alone
    return db


def raw(db_path, sql: str, *params) -> None:
    con = sqlite3.connect(db_path, isolation_level=None)
    try:
        con.execute(sql, params)
    finally:
        con.close()


def test_check_passes_on_a_good_database(prog, cli):
    with prog.session() as s:
        results = dbadmin.check(session=s, db=prog)
    assert [r.name for r in results] == [
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
    assert all(r.ok for r in results)
    r = cli("db", "check", ok=True)
    assert "FAIL" not in r.stdout
    got = json.loads(cli("db", "check", "-f", "json", ok=True).stdout)
    assert got["ok"] is True


def test_check_on_an_empty_database(db, cli):
    cli("db", "check", ok=True)


def test_a_tampered_cached_balance_is_named_with_both_numbers(prog, db_path, cli):
    raw(db_path, "UPDATE account SET balance = balance + 7")
    r = cli("db", "check")
    assert r.exit_code == 6
    # bo: 2 600 + 7 = 2 607 cached, 2 600 in postings; the pool: 1 100 + 7 = 1 107
    assert "account bo@bolt.se: cached 2607 != postings 2600" in r.stdout
    assert "account ACME: cached 1107 != postings 1100" in r.stdout
    assert "account britt@bolt.se: cached 7 != postings 0" in r.stdout
    assert "FAIL balances" in r.stdout
    assert "db check failed: balances" in r.stderr
    got = json.loads(cli("db", "check", "-f", "json").stdout)
    assert got["ok"] is False
    assert [c["check"] for c in got["checks"] if not c["ok"]] == ["balances"]


def test_a_tampered_contract_is_found(prog, db_path, cli):
    raw(db_path, "UPDATE contract SET posted_points = posted_points + 1 WHERE contract_id = 'C1'")
    r = cli("db", "check")
    assert r.exit_code == 6
    assert "contract C1: earns 2600" in r.stdout and "recorded 2601" in r.stdout
    assert "FAIL contracts" in r.stdout
    assert "C2" not in r.stdout


def test_a_contract_changed_behind_the_ledgers_back_is_found(prog, db_path, cli):
    # 300 000 SEK would earn 3 000 + 100 = 3 100, but 2 600 is posted and recorded
    raw(db_path, "UPDATE contract SET amount_ore = 30000000 WHERE contract_id = 'C1'")
    r = cli("db", "check")
    assert r.exit_code == 6 and "contract C1: earns 3100" in r.stdout


def test_a_held_amount_without_redemptions_is_found(prog, db_path, cli):
    raw(db_path, "UPDATE account SET held = 5 WHERE holder = 'partner'")
    r = cli("db", "check")
    assert r.exit_code == 6 and "account ACME: held 5" in r.stdout


def test_db_status_shows_the_schema(prog, cli):
    got = json.loads(cli("db", "status", "-f", "json", ok=True).stdout)
    assert (got["schema"], got["schema_head"], got["up_to_date"]) == (SCHEMA_HEAD, SCHEMA_HEAD, True)
    assert (got["backend"], got["journal_mode"]) == ("sqlite", "wal")
    assert (got["partners"], got["sellers"], got["contracts"], got["postings"]) == (2, 4, 2, 2)
    table = cli("db", "status", ok=True).stdout
    assert "schema" in table and SCHEMA_HEAD in table


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE posting SET points = points + 1",
        "DELETE FROM posting",
        "UPDATE posting SET memo = 'edited' WHERE id = 1",
    ],
)
def test_postings_are_append_only_in_the_database(prog, db_path, sql):
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw(db_path, sql)
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT count(*), sum(points) FROM posting").fetchone() == (2, 3700)
    con.close()


def test_rule_versions_are_append_only_too(prog, db_path, cli):
    cli("rules", "set", "points_per_contract", "200", "--from", "2026-06-01", ok=True)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw(db_path, "UPDATE rule_version SET value = '300'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw(db_path, "DELETE FROM rule_version")


def _insert_posting(db_path, points) -> None:
    raw(
        db_path,
        "INSERT INTO posting (idem_key, account_id, points, kind, value_date, booking_date, booked_at, actor)"
        " VALUES ('raw:1', 1, ?, 'adjustment', '2026-11-22', '2026-11-22', '2026-11-22 10:00:00', 'x')",
        points,
    )


@pytest.mark.parametrize("bad", ["lots", "12abc", 1.5, 0])
def test_the_database_refuses_points_that_are_not_a_nonzero_integer(prog, db_path, bad):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
        _insert_posting(db_path, bad)


def test_an_integer_written_as_text_is_stored_as_an_integer(prog, db_path):
    _insert_posting(db_path, "12")  # BIGINT affinity turns '12' into 12
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT typeof(points) FROM posting WHERE idem_key = 'raw:1'").fetchone() == (
        "integer",
    )
    con.close()


def test_holds_and_stock_must_match_the_pending_redemptions(db, db_path, cli):
    from factories import rewards_program

    rewards_program(db)
    cli("redemptions", "request", "ACME", "MUG", "--qty", "2", ok=True)  # 2 x 500 = 1 000 held
    assert cli("db", "check").exit_code == 0
    raw(db_path, "UPDATE account SET held = 900 WHERE holder = 'partner'")
    raw(db_path, "UPDATE catalog_item SET reserved = 1 WHERE sku = 'MUG'")
    r = cli("db", "check")
    assert r.exit_code == 6
    assert "account ACME: held 900 != pending redemptions 1000" in r.stdout
    assert "catalog item MUG: reserved 1 != pending quantity 2" in r.stdout
