"""``db check`` proves the ledger adds up and names every mismatch; the database
itself keeps postings append-only and integral."""

from __future__ import annotations

import json

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
    db.dispose()  # raw connections below work on the database alone
    return db


def test_check_passes_on_a_good_database(prog, cli):
    with prog.session() as s:
        results = dbadmin.check(session=s, db=prog)
    assert [r.name for r in results] == [
        "integrity",
        "foreign_keys",
        "guards",
        "balances",
        "holds",
        "stock",
        "idempotency",
        "keys",
        "chain",
        "contracts",
        "quizzes",
        "leads",
        "leaderboard",
        "redemptions",
        "spendable",
    ]
    assert all(r.ok for r in results)
    r = cli("db", "check", ok=True)
    assert "FAIL" not in r.stdout
    got = json.loads(cli("db", "check", "-f", "json", ok=True).stdout)
    assert got["ok"] is True


def test_check_on_an_empty_database(db, cli):
    cli("db", "check", ok=True)


def test_a_tampered_cached_balance_is_named_with_both_numbers(prog, sql, cli):
    sql("UPDATE account SET balance = balance + 7")
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


def test_a_tampered_contract_is_found(prog, sql, cli):
    sql("UPDATE contract SET posted_points = posted_points + 1 WHERE contract_id = 'C1'")
    r = cli("db", "check")
    assert r.exit_code == 6
    assert "contract C1: earns 2600" in r.stdout and "recorded 2601" in r.stdout
    assert "FAIL contracts" in r.stdout
    assert "C2" not in r.stdout


def test_a_contract_changed_behind_the_ledgers_back_is_found(prog, sql, cli):
    # 300 000 SEK would earn 3 000 + 100 = 3 100, but 2 600 is posted and recorded
    sql("UPDATE contract SET amount_ore = 30000000 WHERE contract_id = 'C1'")
    r = cli("db", "check")
    assert r.exit_code == 6 and "contract C1: earns 3100" in r.stdout


def test_a_held_amount_without_redemptions_is_found(prog, sql, cli):
    sql("UPDATE account SET held = 5 WHERE holder = 'partner'")
    r = cli("db", "check")
    assert r.exit_code == 6 and "account ACME: held 5" in r.stdout


def test_db_status_shows_the_schema(prog, cli, backend):
    got = json.loads(cli("db", "status", "-f", "json", ok=True).stdout)
    assert (got["schema"], got["schema_head"], got["up_to_date"]) == (SCHEMA_HEAD, SCHEMA_HEAD, True)
    if backend == "sqlite":
        assert (got["backend"], got["journal_mode"]) == ("sqlite", "wal")
    else:
        assert got["backend"] == "postgresql" and "journal_mode" not in got
    assert (got["partners"], got["sellers"], got["contracts"], got["postings"]) == (2, 4, 2, 2)
    table = cli("db", "status", ok=True).stdout
    assert "schema" in table and SCHEMA_HEAD in table


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE posting SET points = points + 1",
        "DELETE FROM posting",
        "UPDATE posting SET memo = 'edited' WHERE id = 1",
    ],
)
def test_postings_are_append_only_in_the_database(prog, sql, statement):
    with pytest.raises(sql.errors, match="append-only"):
        sql(statement)
    assert sql("SELECT count(*), sum(points) FROM posting") == [(2, 3700)]


def test_rule_versions_are_append_only_too(prog, sql, cli):
    cli("rules", "set", "points_per_contract", "200", "--from", "2026-06-01", ok=True)
    with pytest.raises(sql.errors, match="append-only"):
        sql("UPDATE rule_version SET value = '300'")
    with pytest.raises(sql.errors, match="append-only"):
        sql("DELETE FROM rule_version")


def _insert_posting(sql, points) -> None:
    sql(
        "INSERT INTO posting (idem_key, account_id, points, kind, value_date, booking_date, booked_at, actor)"
        " VALUES ('raw:1', 1, ?, 'adjustment', '2026-11-22', '2026-11-22', '2026-11-22 10:00:00', 'x')",
        points,
    )


@pytest.mark.parametrize("bad", ["lots", "12abc", "1.5", 1.5, 0])
def test_the_database_refuses_points_that_are_not_a_nonzero_integer(prog, sql, backend, bad):
    if backend == "postgresql" and isinstance(bad, float):
        # A bigint column cannot hold 1.5 at all: PostgreSQL rounds a float parameter.
        _insert_posting(sql, bad)
        assert sql("SELECT points FROM posting WHERE idem_key = 'raw:1'") == [(2,)]
        return
    # SQLite: the CHECK constraint; PostgreSQL: bigint input syntax, or the CHECK for 0.
    with pytest.raises(sql.errors, match="CHECK constraint|check constraint|invalid input syntax"):
        _insert_posting(sql, bad)
    assert sql("SELECT count(*) FROM posting WHERE idem_key = 'raw:1'") == [(0,)]


def test_an_integer_written_as_text_is_stored_as_an_integer(prog, sql, backend):
    _insert_posting(sql, "12")  # SQLite: BIGINT affinity turns '12' into 12
    kind = "typeof(points)" if backend == "sqlite" else "pg_typeof(points)::text"
    want = "integer" if backend == "sqlite" else "bigint"
    assert sql(f"SELECT {kind}, points FROM posting WHERE idem_key = 'raw:1'") == [(want, 12)]


def test_holds_and_stock_must_match_the_pending_redemptions(db, sql, cli):
    from factories import rewards_program

    rewards_program(db)
    cli("redemptions", "request", "ACME", "MUG", "--qty", "2", ok=True)  # 2 x 500 = 1 000 held
    assert cli("db", "check").exit_code == 0
    sql("UPDATE account SET held = 900 WHERE holder = 'partner'")
    sql("UPDATE catalog_item SET reserved = 1 WHERE sku = 'MUG'")
    r = cli("db", "check")
    assert r.exit_code == 6
    assert "account ACME: held 900 != pending redemptions 1000" in r.stdout
    assert "catalog item MUG: reserved 1 != pending quantity 2" in r.stdout
