"""The ledger's hash chain: one canonical tuple per posting (``chain.link``),
extended by every path that writes postings, and recomputed by ``db check``.

Each posting's hash is BLAKE2b-128 (person b"loyaltyctl.chain") of the
previous posting's hash followed by the canonical text of its logical tuple,
written out by hand below.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from hashlib import blake2b

import pytest
from factories import add_seller, create_quiz, import_contracts, load_catalog, small_program

from loyaltyctl import ledger
from loyaltyctl.chain import GENESIS, Seal, day, link
from loyaltyctl.errors import UsageProblem

PURE = pytest.mark.backend_independent("pure functions: the canonical text, the seal token")


def expected_link(prev: bytes, text: str) -> bytes:
    return blake2b(prev + text.encode(), digest_size=16, person=b"loyaltyctl.chain").digest()


@PURE
def test_the_canonical_text_of_a_posting_is_length_prefixed_fields_in_a_fixed_order():
    first = link(GENESIS, 3, 2600, "contract", "2026-01-10", "2026-11-22", "contract:C1:1:in", "tester", 1)
    assert first == expected_link(
        bytes(16), "3\n2600\n8:contract\n10:2026-01-10\n10:2026-11-22\n16:contract:C1:1:in\n6:tester\n1"
    )
    # no batch is an empty last field; text is UTF-8, lengths count characters
    second = link(first, 4, -500, "adjustment", "2026-11-22", "2026-11-22", "adjust:å", "jörg", None)
    assert second == expected_link(
        first, "4\n-500\n10:adjustment\n10:2026-11-22\n10:2026-11-22\n8:adjust:å\n4:jörg\n"
    )
    assert len(second) == 16


@PURE
def test_moving_text_from_one_field_to_the_next_changes_the_hash():
    a = link(GENESIS, 1, 10, "adjustment", "2026-11-22", "2026-11-22", "adjust:a\n4:b", "c", None)
    b = link(GENESIS, 1, 10, "adjustment", "2026-11-22", "2026-11-22", "adjust:a", "b\n1:c", None)
    assert a != b
    assert link(GENESIS, 1, 10, "quiz", "2026-11-22", "2026-11-22", "k", "x", 12) != link(
        GENESIS, 1, 10, "quiz", "2026-11-22", "2026-11-22", "k", "x", 1
    )
    assert link(bytes(16), 1, 10, "quiz", "d", "d", "k", "x", 1) != link(
        b"\x01" * 16, 1, 10, "quiz", "d", "d", "k", "x", 1
    )


@PURE
@pytest.mark.parametrize("bad", ["12", 1.5, None])
def test_points_that_are_not_an_integer_cannot_be_hashed(bad):
    with pytest.raises((ValueError, TypeError)):
        link(GENESIS, 1, bad, "quiz", "2026-11-22", "2026-11-22", "k", "x", None)


@PURE
def test_every_kind_of_posting_has_a_key_rule_for_db_check():
    from loyaltyctl.services.ledger_scan import KEY_RULES

    assert set(KEY_RULES) == set(ledger.KINDS)


@PURE
@pytest.mark.parametrize(
    ("key", "batch", "seller", "problem"),
    [
        ("transfer:7:3:out", 7, 3, None),
        ("transfer:7:3:in", 7, 3, None),
        ("transfer:8:3:out", 7, 3, "the key names batch 8 and seller #3, the posting batch 7 and seller #3"),
        ("transfer:7:4:in", 7, 3, "the key names batch 7 and seller #4, the posting batch 7 and seller #3"),
        ("transfer:7:3:sideways", 7, 3, "leg 'sideways' is not out or in"),
        ("transfer:7:3", 7, 3, "not a transfer key (transfer:BATCH:SELLER:out|in)"),
    ],
)
def test_a_mode_switch_transfer_key_names_its_batch_and_seller(key, batch, seller, problem):
    from loyaltyctl.services.ledger_scan import key_problem

    # The scanned row: id, account, points, kind, value date, booking date, key,
    # actor, batch, hash, reference, seller, ...
    row = (1, 2, 1000, "transfer", "2026-11-22", "2026-11-22", key, "x", batch, b"", "FLIP", seller)
    row += (None,) * 4
    assert key_problem(row) == problem


@PURE
def test_a_date_hashes_as_iso_text_whatever_the_driver_returns():
    from datetime import date

    assert day(date(2026, 1, 5)) == day("2026-01-05") == "2026-01-05"


@PURE
def test_a_seal_token_round_trips_and_a_mistyped_one_is_a_usage_error():
    seal = Seal(1000000, 1000123, bytes(range(16)))
    token = seal.token
    assert token.startswith("LS1_1000000_1000123_000102030405060708090a0b0c0d0e0f_")
    assert Seal.parse(token) == seal
    assert Seal.parse(f"  {token.upper()}\n") == seal  # pasted from a mail
    for wrong in (
        token.replace("1000123", "1000124"),  # a digit wrong: the check digits say so
        token[:-1] + ("0" if token[-1] != "0" else "1"),
        token.replace("_0001", "_0101"),
    ):
        with pytest.raises(UsageProblem, match="check digits do not match"):
            Seal.parse(wrong)
    for wrong in ("", "LS1_1_2", "XX1_1_2_00_abcd", f"LS1_x_2_{'00' * 16}_abcd", "LS1_1_2_zz_abcd"):
        with pytest.raises(UsageProblem, match="is not a seal"):
            Seal.parse(wrong)


# -- every writer extends the chain ------------------------------------------------------


def stored_chain(sql) -> list[tuple[int, bytes | None]]:
    return [
        (pid, None if h is None else bytes(h))
        for pid, h in sql("SELECT id, chain_hash FROM posting ORDER BY id")
    ]


def recomputed_chain(sql) -> list[tuple[int, bytes]]:
    """The chain worked out here, from each posting's stored content."""
    out, prev = [], GENESIS
    for pid, *content in sql(
        "SELECT id, account_id, points, kind, value_date, booking_date, idem_key, actor, batch_id "
        "FROM posting ORDER BY id"
    ):
        account, points, kind, value, booking, key, actor, batch = content
        prev = link(prev, account, points, kind, day(value), day(booking), key, actor, batch)
        out.append((pid, prev))
    return out


def everything(db, cli) -> None:
    """Postings of every kind, through every write path of the CLI."""
    small_program(db)
    add_seller(db, "bea@bolt.se", "BOLT")
    import_contracts(  # the bulk path (SQLite's executemany, PostgreSQL's COPY)
        db,
        "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n"
        "C2,BOLT,britt@bolt.se,2026-10-06,300000,leasing,started\n"
        "C3,ACME,anna@acme.se,2026-10-07,300000,leasing,started\n",
    )
    import_contracts(db, "C2,BOLT,britt@bolt.se,2026-10-06,300000,leasing,cancelled\n", dry_run=True)
    import_contracts(  # one posting: the single-row path
        db, "C2,BOLT,britt@bolt.se,2026-10-06,350000,leasing,started\n"
    )
    create_quiz(db, "Q1")
    cli("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", "8", ok=True)
    cli(
        "quiz",
        "award",
        "Q1",
        "-",
        input="seller_email,correct,taken_on\nbritt@bolt.se,5,2026-11-22\n",
        ok=True,
    )
    cli("points", "adjust", "bo@bolt.se", "500", "--reason", "fair", ok=True)
    cli("points", "adjust", "ACME", "-100", "--reason", "typo", "--ref", "T-1", ok=True)
    cli("leads", "add", "--seller", "britt@bolt.se", "--company", "Cykel AB", ok=True)
    cli("leads", "accept", "1", ok=True)
    cli("leaderboard", "run", "--month", "2026-10", ok=True)
    from factories import REWARDS

    load_catalog(db, REWARDS)
    cli("redemptions", "request", "bo@bolt.se", "MUG", ok=True)
    cli("redemptions", "request", "britt@bolt.se", "MUG", ok=True)
    cli("redemptions", "approve", "R000001", "R000002", ok=True)  # two postings, two Ledgers, one transaction


def test_every_write_path_extends_the_chain(db, cli, sql):
    everything(db, cli)
    stored = stored_chain(sql)
    assert len(stored) >= 14 and all(h is not None for _, h in stored)
    assert stored == recomputed_chain(sql)
    got = json.loads(cli("db", "check", "-f", "json", ok=True).stdout)
    assert {c["check"]: c["ok"] for c in got["checks"]}["chain"] is True


def test_the_core_insert_path_writes_the_same_rows_and_chain_as_the_bulk_path(db, sql):
    """The same entries posted at once (on SQLite the driver's executemany)
    and one at a time (a Core insert each; on PostgreSQL both are Core
    inserts), each in a transaction rolled back: the same rows, hashes
    included, chained from the ledger's head."""
    from sqlalchemy import text

    small_program(db)
    import_contracts(db, "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n")
    accounts = [aid for (aid,) in sql("SELECT id FROM account ORDER BY id")]
    head = stored_chain(sql)[-1][1]
    entries = [
        ledger.Entry(
            idem_key=f"adjust:test:{i}",
            account_id=accounts[i % len(accounts)],
            points=(-1) ** i * (100 + i),
            kind="adjustment",
            value_date=date(2026, 1, 1 + i),
            reference=f"T-{i}" if i % 2 else None,
            memo="both paths",
        )
        for i in range(6)
    ]
    columns = (
        "idem_key, account_id, seller_id, contract_pk, points, kind, value_date, booking_date, booked_at, "
        "reference, memo, actor, batch_id, chain_hash"
    )

    def written(one_at_a_time: bool) -> list[tuple]:
        with db.session(write=True, dry_run=True) as s:
            posts = ledger.Ledger(s, actor="tester", booking_date=date(2026, 11, 22))
            posts.booked_at = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
            for batch in [[e] for e in entries] if one_at_a_time else [entries]:
                posts.post_many(batch)
            return [
                tuple(r)
                for r in s.exec(text(f"SELECT {columns} FROM posting WHERE memo = 'both paths' ORDER BY id"))
            ]

    bulk, core = written(False), written(True)
    assert len(bulk) == 6 and bulk == core
    prev = head
    for e, row in zip(entries, core, strict=True):
        prev = link(
            prev,
            e.account_id,
            e.points,
            e.kind,
            e.value_date.isoformat(),
            "2026-11-22",
            e.idem_key,
            "tester",
            None,
        )
        assert bytes(row[-1]) == prev
    assert sql("SELECT count(*) FROM posting WHERE memo = 'both paths'") == [(0,)]  # both rolled back


def test_a_mode_switch_moves_points_as_chained_postings(db, cli, sql):
    small_program(db)
    import_contracts(
        db,
        "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n"
        "C2,BOLT,britt@bolt.se,2026-10-06,300000,leasing,started\n",
    )
    cli("partners", "import", "-", input="code,name,mode,consent\nBOLT,Partner BOLT,pooled,yes\n", ok=True)
    kinds = sql("SELECT idem_key FROM posting ORDER BY id")
    assert len(kinds) == 6  # two credits, then an out and an in for each contract
    assert stored_chain(sql) == recomputed_chain(sql)
    cli("db", "check", ok=True)


def test_a_seal_made_now_holds_after_more_postings(db, cli, sql):
    small_program(db)
    import_contracts(db, "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n")
    r = cli("db", "seal", ok=True)
    seal = r.stdout.strip()
    assert "sealed 1 postings up to #1" in r.stderr
    assert Seal.parse(seal) == Seal(1, 1, recomputed_chain(sql)[-1][1])
    got = json.loads(cli("db", "seal", "-f", "json", ok=True).stdout)
    assert got == {"seal": seal, "postings": 1, "last_id": 1, "hash": recomputed_chain(sql)[-1][1].hex()}
    cli("points", "adjust", "bo@bolt.se", "500", "--reason", "fair", ok=True)
    r = cli("db", "check", "--seal", seal, ok=True)
    assert "ok   seal: nothing up to posting #1 (1 postings) was changed, removed or inserted" in r.stdout
    got = json.loads(cli("db", "check", "--seal", seal, "-f", "json", ok=True).stdout)
    names = [c["check"] for c in got["checks"]]
    assert names[names.index("chain") + 1] == "seal" and got["ok"] is True


def test_an_empty_ledger_has_a_seal_too(db, cli):
    seal = cli("db", "seal", ok=True).stdout.strip()
    assert Seal.parse(seal) == Seal(0, 0, GENESIS)
    cli("db", "check", "--seal", seal, ok=True)
    small_program(db)
    import_contracts(db, "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n")
    cli("db", "check", "--seal", seal, ok=True)  # nothing sealed, nothing to prove


def test_a_mistyped_seal_is_exit_2_and_checks_nothing(db, cli):
    r = cli("db", "check", "--seal", "LS1_1_1_00")
    assert r.exit_code == 2 and "is not a seal printed by `loyaltyctl db seal`" in r.stderr
    assert r.stdout == ""


# -- migration 0008 --------------------------------------------------------------------


def at_0007_with_postings(url: str, n: int) -> None:
    """A database left at schema 0007 holding ``n`` adjustments (+1 to +n
    points to one seller's account), written as loyaltyctl 0007 wrote them."""
    from conftest import connect
    from factories import at_schema

    at_schema(url, "0007")
    with connect(url) as con:
        con.execute(
            "INSERT INTO partner (code, name, mode, consent, status, created_at) "
            "VALUES ('BOLT', 'Bolt AB', 'individual', ?, 'active', '2026-01-01 09:00:00')",
            (True,),
        )
        con.execute(
            "INSERT INTO seller (email, name, partner_id, active, enrolled_on, created_at) "
            "VALUES ('bo@bolt.se', 'Bo', 1, ?, '2026-01-01', '2026-01-01 09:00:00')",
            (True,),
        )
        con.execute(
            "INSERT INTO account (holder, seller_id, balance, held) VALUES ('seller', 1, ?, 0)",
            (n * (n + 1) // 2,),
        )
        con.execute(
            "INSERT INTO batch (command, actor, started_at) "
            "VALUES ('points adjust', 'office', '2026-11-01 09:00:00')"
        )
        for i in range(1, n + 1):
            con.execute(
                "INSERT INTO posting (idem_key, account_id, seller_id, points, kind, value_date, "
                "booking_date, booked_at, reference, memo, actor, batch_id) "
                "VALUES (?, 1, 1, ?, 'adjustment', ?, ?, '2026-11-01 09:00:00', ?, 'fair', 'office', ?)",
                (f"adjust:R{i}", i, f"2026-11-{i % 28 + 1:02d}", "2026-11-01", f"R{i}", 1 if i % 2 else None),
            )


def test_migration_0008_chains_the_postings_already_there(fresh_db, cli):
    from conftest import raw_sql

    from loyaltyctl.db import resolve_url

    target = fresh_db()
    url = resolve_url(target)
    at_0007_with_postings(url, 7)
    r = cli("--db", target, "db", "upgrade", ok=True)
    assert "schema upgraded from 0007 to 0008" in r.stderr

    def sql(statement, *params):
        return raw_sql(url, statement, *params)

    assert stored_chain(sql) == recomputed_chain(sql) and len(stored_chain(sql)) == 7
    # the append-only trigger is back, exactly as before (guards), and the ledger adds up
    got = json.loads(cli("--db", target, "db", "check", "-f", "json", ok=True).stdout)
    assert all(c["ok"] for c in got["checks"])
    with pytest.raises(Exception, match="append-only"):
        sql("UPDATE posting SET points = 100 WHERE id = 1")
    # and the chain goes on from the migrated head
    cli("--db", target, "points", "adjust", "bo@bolt.se", "5", "--reason", "after", ok=True)
    assert stored_chain(sql) == recomputed_chain(sql) and len(stored_chain(sql)) == 8
    cli("--db", target, "db", "check", ok=True)


def test_migration_0008_reads_and_hashes_in_chunks_in_id_order(db):
    """The migration's reader, with chunks of 3: the same chain as one pass."""
    import importlib.util
    from pathlib import Path

    import loyaltyctl.migrations as migrations

    path = Path(migrations.__file__).parent / "versions" / "0008_chain.py"
    spec = importlib.util.spec_from_file_location("m0008", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    small_program(db)
    import_contracts(
        db,
        "".join(f"C{i},BOLT,bo@bolt.se,2026-10-{i:02d},{100000 + i},leasing,started\n" for i in range(1, 9)),
    )
    module.CHUNK = 3
    with db.engine.connect() as conn:
        chunks = list(module._chunks(conn))
        stored = [
            (bytes(h), pid)
            for pid, h in conn.exec_driver_sql("SELECT id, chain_hash FROM posting ORDER BY id")
        ]
    assert [len(c) for c in chunks] == [3, 3, 2]
    assert [pair for chunk in chunks for pair in chunk] == stored
