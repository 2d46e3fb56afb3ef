"""The database itself guards the ledger, whatever program writes to it: the
append-only tables refuse UPDATE and DELETE, and points columns refuse a value
that is not a whole number (``CHECK (x = CAST(x AS BIGINT))``).

Everything here goes through a plain sqlite3 connection, around loyaltyctl,
inside a transaction that is rolled back after each test."""

from __future__ import annotations

import sqlite3

import pytest

from loyaltyctl.db import Database, resolve_url

pytestmark = pytest.mark.sqlite_only(
    "SQLite column affinity and migration 0005's guard triggers (PostgreSQL's bigint columns refuse "
    "such values themselves; its append-only trigger: test_db_check, test_postgresql)"
)

SEED = [
    "INSERT INTO partner (id, code, name, mode, consent, status, created_at)"
    " VALUES (1, 'ACME', 'Acme', 'individual', 1, 'active', '2026-01-01 00:00:00')",
    "INSERT INTO seller (id, email, name, partner_id, active, enrolled_on, created_at)"
    " VALUES (1, 'anna@acme.se', 'Anna', 1, 1, '2026-01-01', '2026-01-01 00:00:00')",
    "INSERT INTO account (id, holder, seller_id, balance, held) VALUES (1, 'seller', 1, 100, 0)",
    "INSERT INTO posting (id, idem_key, account_id, seller_id, points, kind, value_date, booking_date,"
    " booked_at, actor) VALUES (1, 'adjust:seed', 1, 1, 100, 'adjustment', '2026-01-01', '2026-01-01',"
    " '2026-01-01 00:00:00', 'x')",
    "INSERT INTO rule_version (id, key, value, valid_from, created_at, actor)"
    " VALUES (1, 'lead_points', '500', '2026-01-01', '2026-01-01 00:00:00', 'x')",
    "INSERT INTO quiz (id, code, title, questions, points_per_correct, welcome, created_at, actor)"
    " VALUES (1, 'Q1', 'Quiz', 5, 10, 0, '2026-01-01 00:00:00', 'x')",
    "INSERT INTO quiz_award (id, quiz_id, seller_id, correct, taken_on, points, created_at)"
    " VALUES (1, 1, 1, 3, '2026-01-01', 30, '2026-01-01 00:00:00')",
    "INSERT INTO leaderboard_run (id, period, first_day, last_day, run_on, forced, created_at, actor)"
    " VALUES (1, '2026-01', '2026-01-01', '2026-01-31', '2026-02-10', 0, '2026-02-10 00:00:00', 'x')",
    "INSERT INTO leaderboard_award (id, run_id, rank, seller_id, partner_id, account_id, points, bonus)"
    " VALUES (1, 1, 1, 1, 1, 1, 100, 5000)",
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    path = tmp_path_factory.mktemp("guards") / "loyalty.db"
    db = Database(resolve_url(str(path)))
    db.init()
    db.dispose()
    con = sqlite3.connect(path, isolation_level=None)
    for sql in SEED:
        con.execute(sql)
    yield con
    con.close()


@pytest.fixture
def con(seeded):
    seeded.execute("BEGIN")
    yield seeded
    seeded.execute("ROLLBACK")


APPEND_ONLY = [
    ("posting", "points = points + 1", "postings are append-only"),
    ("posting", "memo = 'edited'", "postings are append-only"),
    ("posting", "idem_key = 'adjust:other'", "postings are append-only"),
    ("rule_version", "value = '900'", "rule versions are append-only"),
    ("quiz_award", "points = 40", "quiz_award rows are append-only"),
    ("leaderboard_run", "run_on = '2026-02-11'", "leaderboard_run rows are append-only"),
    ("leaderboard_award", "bonus = 1", "leaderboard_award rows are append-only"),
]


@pytest.mark.parametrize(("table", "change", "message"), APPEND_ONLY)
def test_append_only_tables_refuse_an_update(con, table, change, message):
    with pytest.raises(sqlite3.IntegrityError, match=message):
        con.execute(f"UPDATE {table} SET {change}")
    assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)


@pytest.mark.parametrize("table", sorted({t for t, _, _ in APPEND_ONLY}))
def test_append_only_tables_refuse_a_delete(con, table):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute(f"DELETE FROM {table}")
    assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)


def test_the_ledger_still_adds_up_after_the_refusals(con):
    for sql in ("UPDATE posting SET points = 1", "DELETE FROM posting WHERE id = 1"):
        with pytest.raises(sqlite3.IntegrityError):
            con.execute(sql)
    assert con.execute("SELECT sum(points) FROM posting WHERE account_id = 1").fetchone() == (100,)


# (table, column, an UPDATE that sets the column to ?)
POINTS_COLUMNS = [
    ("posting", "points", "INSERT INTO posting (idem_key, account_id, points, kind, value_date, booking_date,"
     " booked_at, actor) VALUES ('adjust:new', 1, ?, 'adjustment', '2026-01-02', '2026-01-02',"
     " '2026-01-02 00:00:00', 'x')"),
    ("account", "balance", "UPDATE account SET balance = ? WHERE id = 1"),
    ("account", "held", "UPDATE account SET held = ? WHERE id = 1"),
    ("contract", "posted_points", "INSERT INTO contract (contract_id, partner_id, seller_id, start_date,"
     " amount_ore, product, status, revision, posted_points, updated_at) VALUES ('C1', 1, 1, '2026-01-01',"
     " 100, 'leasing', 'started', 1, ?, '2026-01-01 00:00:00')"),
    ("contract", "amount_ore", "INSERT INTO contract (contract_id, partner_id, seller_id, start_date,"
     " amount_ore, product, status, revision, posted_points, updated_at) VALUES ('C1', 1, 1, '2026-01-01',"
     " ?, 'leasing', 'started', 1, 0, '2026-01-01 00:00:00')"),
    ("catalog_item", "points", "INSERT INTO catalog_item (sku, name, points, reserved, active, updated_at)"
     " VALUES ('MUG', 'Mug', ?, 0, 1, '2026-01-01 00:00:00')"),
]  # fmt: skip


@pytest.mark.parametrize("bad", ["lots", "12abc", "", 1.5, "7.25"])
@pytest.mark.parametrize(("table", "column", "sql"), POINTS_COLUMNS, ids=lambda x: x if " " not in x else "")
def test_points_columns_refuse_anything_but_a_whole_number(con, table, column, sql, bad):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        con.execute(sql, (bad,))


@pytest.mark.parametrize(("table", "column", "sql"), POINTS_COLUMNS, ids=lambda x: x if " " not in x else "")
def test_a_whole_number_written_as_text_lands_as_an_integer(con, table, column, sql):
    con.execute(sql, ("1200",))  # INTEGER affinity converts it: no text ever lands
    got = con.execute(f"SELECT typeof({column}), {column} FROM {table} WHERE {column} = 1200").fetchall()
    assert got == [("integer", 1200)]


# Points and item-count columns added with quizzes, leads, the leaderboard and
# the reward shop (0002, 0003) are guarded by triggers (0005): SQLite applies
# the INTEGER affinity first, so '1200' lands as 1200 and only what cannot be a
# whole number is refused.
LATER_SEED = [
    "INSERT INTO seller (id, email, name, partner_id, active, enrolled_on, created_at)"
    " VALUES (2, 'arne@acme.se', 'Arne', 1, 1, '2026-01-01', '2026-01-01 00:00:00')",
    "INSERT INTO lead (id, seller_id, company, status, points, created_on, created_at, actor)"
    " VALUES (1, 1, 'Cykel AB', 'pending', 0, '2026-01-01', '2026-01-01 00:00:00', 'x')",
    "INSERT INTO catalog_item (id, sku, name, points, stock, reserved, active, updated_at)"
    " VALUES (1, 'MUG', 'Mug', 100, 5, 0, 1, '2026-01-01 00:00:00')",
    "INSERT INTO redemption (id, account_id, sku, quantity, unit_points, points, status, requested_at, actor)"
    " VALUES ('R1', 1, 'MUG', 1, 100, 100, 'pending', '2026-01-01 00:00:00', 'x')",
]
LATER = [
    ("quiz", "points_per_correct", "UPDATE quiz SET points_per_correct = ? WHERE id = 1"),
    ("quiz_award", "points", "INSERT INTO quiz_award (quiz_id, seller_id, correct, taken_on, points,"
     " created_at) VALUES (1, 2, 3, '2026-01-01', ?, '2026-01-01 00:00:00')"),
    ("quiz_award", "correct", "INSERT INTO quiz_award (quiz_id, seller_id, correct, taken_on, points,"
     " created_at) VALUES (1, 2, ?, '2026-01-01', 30, '2026-01-01 00:00:00')"),
    ("lead", "points", "UPDATE lead SET status = 'accepted', points = ? WHERE id = 1"),
    ("leaderboard_award", "bonus", "INSERT INTO leaderboard_award (run_id, rank, seller_id, partner_id,"
     " points, bonus) VALUES (1, 2, 2, 1, 10, ?)"),
    ("leaderboard_award", "points", "INSERT INTO leaderboard_award (run_id, rank, seller_id, partner_id,"
     " points, bonus) VALUES (1, 2, 2, 1, ?, 10)"),
    ("catalog_item", "stock", "UPDATE catalog_item SET stock = ? WHERE id = 1"),
    ("catalog_item", "reserved", "UPDATE catalog_item SET reserved = ? WHERE id = 1"),
    ("redemption", "unit_points", "UPDATE redemption SET unit_points = ?, points = 1200 WHERE id = 'R1'"),
    ("redemption", "points", "UPDATE redemption SET points = ?, unit_points = 1200 WHERE id = 'R1'"),
]  # fmt: skip


@pytest.fixture
def later(con):
    for sql in LATER_SEED:
        con.execute(sql)
    return con


@pytest.mark.parametrize("bad", ["lots", "12abc", "", 1.5, "7.25"])
@pytest.mark.parametrize(("table", "column", "sql"), LATER, ids=lambda x: x if " " not in x else "")
def test_later_points_columns_refuse_anything_but_a_whole_number(later, table, column, sql, bad):
    with pytest.raises(sqlite3.IntegrityError, match=f"{table}: .*must be whole numbers"):
        later.execute(sql, (bad,))


@pytest.mark.parametrize(("table", "column", "sql"), LATER, ids=lambda x: x if " " not in x else "")
def test_later_points_columns_take_a_whole_number_written_as_text(later, table, column, sql):
    if table == "catalog_item":  # stock >= reserved
        later.execute("UPDATE catalog_item SET stock = 5000 WHERE id = 1")
    later.execute(sql, ("1200",))
    got = later.execute(f"SELECT typeof({column}), {column} FROM {table} WHERE {column} = 1200").fetchall()
    assert got == [("integer", 1200)]


def test_a_null_stock_still_means_unlimited(later):
    later.execute("UPDATE catalog_item SET stock = NULL WHERE id = 1")
    assert later.execute("SELECT stock FROM catalog_item").fetchone() == (None,)
