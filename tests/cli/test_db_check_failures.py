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
from factories import REWARDS, balance, contract, import_contracts, load_catalog, rebuild_chain, small_program

from loyaltyctl.db import Database, resolve_url

ALL_CHECKS = [
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
    "spendable",  # broken on purpose in tests/services/test_mode_switch.py (a switch of old, by raw SQL)
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
    """Tamper with the database behind loyaltyctl's back, covering the tracks
    as a careful editor would: a trigger dropped for the edit (``DROP TRIGGER
    t_no_delete``, SQLite's name) is put back after it, exactly as it was, so
    that the ``guards`` check passes and the test shows what the other checks
    find.  On PostgreSQL the statement disables ``t_append_only`` instead and
    enables it again after the edit."""
    from loyaltyctl.services.guards import sqlite_triggers

    reenable = []
    out = []
    for sql in statements:
        if sql.startswith("DROP TRIGGER "):
            name = sql.split()[2]
            if url.startswith("sqlite"):
                out.append(sql)
                reenable.append(sqlite_triggers()[name][1])
            else:
                table = name.rsplit("_no_", 1)[0]
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
    # The rebuilt table has no append-only trigger and no CHECK either (on
    # SQLite too: the old triggers went with posting_old), the new rows have
    # no chain hash, and their keys are no adjustment's.
    out = failing(cli, "guards", "idempotency", "keys", "chain")
    assert "idempotency key 'adjust:twice' is used by 2 postings" in out
    if backend == "sqlite":
        assert (
            "trigger posting_no_update is not as the migrations create it: posting rows can be changed" in out
        )
        assert "CHECK constraint ck_posting_points_int on posting is missing" in out
    else:
        assert "append-only trigger posting_append_only is missing: posting rows can be changed" in out
    assert "posting #100 'adjust:twice' has no chain hash: it was not written by loyaltyctl" in out
    assert "posting #102 'adjust:other': not an adjustment key (adjust:REF or adjust:HOLDER:DAY:HASH)" in out


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
    # the posting after the removed one no longer follows the one before it
    out = failing(cli, "chain", "quizzes")
    assert "quiz Q1, bo@bolt.se: 8 correct x 50 = 400, but no posting quiz:Q1:3" in out
    assert problems(cli, "chain") == [
        "posting #6 'lead:1': its hash does not match its content and posting #4: "
        "it was changed, or a posting before it was removed or inserted"
    ]


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
    out = failing(cli, "chain", "leads")
    assert "lead #1 (britt@bolt.se): accepted on 2026-11-22 for 1000 points, but no posting lead:1" in out
    assert "posting #7 'bonus:2026-10:3': its hash does not match its content and posting #5" in out


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


# -- the ledger's history: guards, keys, chain, seal --------------------------------------
#
# Postings of the program above, by id: 1-4 contracts C1-C4, 5 quiz:Q1:3 (bo),
# 6 lead:1 (britt), 7-9 the bonuses of 2026-10, 10 redemption:R000001 (ACME).


BO = "(SELECT id FROM account WHERE seller_id = (SELECT id FROM seller WHERE email = 'bo@bolt.se'))"


def test_dropping_the_append_only_triggers_is_named(prog, cli, backend):
    # The issue: on SQLite this passed db check.
    with connect(prog) as con:
        if backend == "sqlite":
            con.execute("DROP TRIGGER posting_no_update")
            con.execute("DROP TRIGGER posting_no_delete")
        else:
            con.execute("DROP TRIGGER posting_append_only ON posting")
    out = failing(cli, "guards")
    if backend == "sqlite":
        assert "trigger posting_no_update is missing: posting rows can be changed" in out
        assert "trigger posting_no_delete is missing: posting rows can be changed" in out
    else:
        assert "append-only trigger posting_append_only is missing: posting rows can be changed" in out


def test_an_adjustment_raised_from_500_to_50000_behind_dropped_triggers(prog, cli, backend):
    # The second case, as it was done: the trigger dropped and left
    # dropped, the posting raised, the cached balance raised to match.
    cli("points", "adjust", "bo@bolt.se", "500", "--reason", "goodwill", ok=True)
    with connect(prog) as con:
        con.execute(
            "DROP TRIGGER posting_no_update"
            if backend == "sqlite"
            else "ALTER TABLE posting DISABLE TRIGGER posting_append_only"
        )
        con.execute("UPDATE posting SET points = 50000 WHERE kind = 'adjustment'")
        con.execute(f"UPDATE account SET balance = balance + 49500 WHERE id = {BO}")
    out = failing(cli, "guards", "keys", "chain")
    assert "posting #11 'adjust:bo@bolt.se:2026-11-22:" in out
    assert "50000 points, reason 'goodwill' on 2026-11-22" in out
    assert "the adjustment was changed after it was made" in out
    assert "posting #11 'adjust:bo@bolt.se:2026-11-22:" in "".join(problems(cli, "chain"))


def test_the_adjustment_key_catches_the_raise_even_when_the_chain_is_rebuilt(prog, cli):
    cli("points", "adjust", "bo@bolt.se", "500", "--reason", "goodwill", ok=True)
    raw(
        prog,
        "DROP TRIGGER posting_no_update",
        "UPDATE posting SET points = 50000 WHERE kind = 'adjustment'",
        f"UPDATE account SET balance = balance + 49500 WHERE id = {BO}",
    )
    rebuild_chain(prog)
    out = failing(cli, "keys")
    assert "the adjustment was changed after it was made" in out


def test_a_rebuilt_chain_passes_db_check_but_not_the_seal(prog, cli, sub):
    # An adjustment named by --ref carries no hash of its content in its key:
    # raised, with triggers, balances and the whole chain rebuilt, every check
    # passes.  The seal kept outside the database does not.
    cli("points", "adjust", "bo@bolt.se", "500", "--reason", "goodwill", "--ref", "G-7", ok=True)
    seal = cli("db", "seal", ok=True).stdout.strip()
    assert seal.startswith("LS1_11_11_")
    cli("points", "adjust", "britt@bolt.se", "100", "--reason", "later", ok=True)  # after the seal
    raw(
        prog,
        "DROP TRIGGER posting_no_update",
        "UPDATE posting SET points = 50000 WHERE idem_key = 'adjust:G-7'",
        f"UPDATE account SET balance = balance + 49500 WHERE id = {BO}",
    )
    rebuild_chain(prog)
    cli("db", "check", ok=True)
    r = sub("db", "check", "--seal", seal, "--format", "json")  # a real process, as cron runs it
    assert r.returncode == 6
    assert r.stderr.decode().splitlines()[0] == "error: db check failed: seal"
    got = json.loads(r.stdout)
    assert [c["check"] for c in got["checks"] if not c["ok"]] == ["seal"]
    (found,) = [c["problems"] for c in got["checks"] if c["check"] == "seal"]
    assert len(found) == 1 and found[0].startswith("the postings up to #11 hash to ")
    assert found[0].endswith(
        f", the seal says {seal.split('_')[3]}: a posting up to the seal was changed, removed or inserted"
    )


def test_a_posting_removed_before_the_seal_and_the_chain_rebuilt(prog, cli):
    seal = cli("db", "seal", ok=True).stdout.strip()
    raw(
        prog,
        "DROP TRIGGER posting_no_delete",
        "DELETE FROM posting WHERE idem_key = 'lead:1'",
        "DELETE FROM lead",
        "UPDATE account SET balance = balance - 1000"
        " WHERE seller_id = (SELECT id FROM seller WHERE email = 'britt@bolt.se')",
    )
    rebuild_chain(prog)
    cli("db", "check", ok=True)  # a lead that never was: everything adds up
    r = cli("db", "check", "--seal", seal)
    assert r.exit_code == 6 and r.stderr.startswith("error: db check failed: seal\n")
    found = problems_with_seal(cli, seal)
    assert len(found) == 2
    assert found[0] == "9 postings up to #10, the seal counted 10: postings were removed"
    assert found[1].startswith("the postings up to #10 hash to ")


def test_the_newest_posting_removed_after_it_was_sealed(prog, cli):
    cli("points", "adjust", "bo@bolt.se", "500", "--reason", "goodwill", ok=True)
    seal = cli("db", "seal", ok=True).stdout.strip()
    raw(
        prog,
        "DROP TRIGGER posting_no_delete",
        "DELETE FROM posting WHERE kind = 'adjustment'",
        f"UPDATE account SET balance = balance - 500 WHERE id = {BO}",
    )
    cli("db", "check", ok=True)  # the chain before it is whole: only the seal knows
    assert problems_with_seal(cli, seal) == [
        "posting #11, the last the seal covers, is missing (10 postings up to it, the seal counted 11): "
        "postings were removed"
    ]


def problems_with_seal(cli, seal: str) -> list[str]:
    got = json.loads(cli("db", "check", "--seal", seal, "--format", "json").stdout)
    return next(c["problems"] for c in got["checks"] if c["check"] == "seal")


@pytest.mark.parametrize(
    ("edit", "also", "message"),
    [
        (
            "UPDATE posting SET idem_key = 'contract:C1:2:in' WHERE idem_key = 'contract:C1:1:in'",
            (),
            "posting #1 'contract:C1:2:in': revision 2 is not one contract C1 reached (it is at revision 1)",
        ),
        (
            "UPDATE posting SET contract_pk = (SELECT id FROM contract WHERE contract_id = 'C2') "
            "WHERE idem_key = 'contract:C1:1:in'",
            ("contracts",),
            "posting #1 'contract:C1:1:in': the key names contract C1, the posting belongs to contract C2",
        ),
        (
            "UPDATE posting SET reference = 'C2' WHERE idem_key = 'contract:C1:1:in'",
            (),
            "posting #1 'contract:C1:1:in': the key names contract C1, the posting's reference is 'C2'",
        ),
        (
            "UPDATE posting SET seller_id = (SELECT id FROM seller WHERE email = 'britt@bolt.se') "
            "WHERE kind = 'quiz'",
            ("quizzes",),
            "posting #5 'quiz:Q1:3': the key names quiz Q1 and seller #3, the posting 'Q1' and seller #4",
        ),
        (
            "UPDATE posting SET reference = 'lead #2' WHERE kind = 'lead'",
            (),
            "posting #6 'lead:1': the key names lead #1, the posting 'lead #2'",
        ),
        (
            "UPDATE posting SET value_date = '2026-11-30' WHERE idem_key = 'bonus:2026-10:3'",
            (),
            "posting #7 'bonus:2026-10:3': period 2026-10 ends on 2026-10-31, "
            "the posting is valued 2026-11-30",
        ),
        (
            "UPDATE posting SET reference = 'R000002' WHERE kind = 'redemption'",
            (),
            "posting #10 'redemption:R000001': the key names request R000001, the posting 'R000002'",
        ),
        (
            "UPDATE posting SET kind = 'bonus' WHERE kind = 'lead'",
            ("leads",),
            "posting #6 'lead:1': a bonus posting's key starts with 'bonus:'",
        ),
    ],
    ids=[
        "contract-revision",
        "contract-moved",
        "contract-reference",
        "quiz",
        "lead",
        "bonus",
        "redemption",
        "kind",
    ],
)
def test_a_key_that_does_not_agree_with_its_posting(prog, cli, edit, also, message):
    # The chain is rebuilt after each edit: only the keys (and the domain
    # check that looks at the same thing) tell.
    raw(prog, "DROP TRIGGER posting_no_update", edit)
    rebuild_chain(prog)
    out = failing(cli, *sorted(("keys", *also), key=ALL_CHECKS.index))
    assert message in out


def test_db_seal_refuses_a_ledger_whose_chain_is_broken(prog, cli):
    raw(prog, "DROP TRIGGER posting_no_update", "UPDATE posting SET actor = 'mallory' WHERE id = 2")
    out = failing(cli, "chain")
    assert "posting #2 'contract:C2:1:in': its hash does not match its content and posting #1" in out
    r = cli("db", "seal")
    assert r.exit_code == 6 and r.stdout == ""
    assert r.stderr.startswith(
        "error: the ledger's hash chain is broken (1 problem, the first: posting #2 'contract:C2:1:in': "
        "its hash does not match its content and posting #1: it was changed, or a posting before it was "
        "removed or inserted); no seal was made\n"
    )
