"""Imports that span several chunks, with numbers worked out by hand, on both
backends: what each chunk writes holds together, a bad row after chunks were
written leaves nothing, a repeated id is caught across chunks, a re-run writes
nothing.  And on SQLite, the store's rows are stored as SQLAlchemy stores them.

small_program: ACME pooled (anna, arne), BOLT individual (bo, britt).  A
started contract of A SEK earns floor(A x 10 / 1000) + 100.
"""

from __future__ import annotations

import pytest
from factories import HEADER, csv_input, small_program
from sqlalchemy import func, select

from loyaltyctl.db import Database
from loyaltyctl.errors import RowsRejected
from loyaltyctl.models import Account, Batch, Contract, Partner, Posting, Seller
from loyaltyctl.services import contracts
from loyaltyctl.services.dbadmin import check

FIRST = HEADER + (
    "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n"  # bo 4 100
    "C2,BOLT,britt@bolt.se,2026-10-06,300000,leasing,started\n"  # britt 3 100
    "C3,ACME,anna@acme.se,2026-10-07,300000,leasing,started\n"  # ACME pool 3 100
    "C4,ACME,arne@acme.se,2026-10-08,200000,leasing,registered\n"  # nothing yet
    "C5,BOLT,bo@bolt.se,2026-10-09,100000,leasing,started\n"  # bo 1 100
    "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n"  # again, same values, a later chunk
)
CHANGES = HEADER + (
    "C1,BOLT,bo@bolt.se,2026-10-05,500000,leasing,started\n"  # 5 100: +1 000 to bo
    "C2,BOLT,britt@bolt.se,2026-10-06,300000,leasing,cancelled\n"  # -3 100 britt
    "C3,ACME,anna@acme.se,2026-10-07,300000,leasing,started\n"  # unchanged
    "C4,ACME,arne@acme.se,2026-10-08,200000,leasing,started\n"  # +2 100 to the pool
    "C5,BOLT,britt@bolt.se,2026-10-09,100000,leasing,started\n"  # -1 100 bo, +1 100 britt
    "C6,ACME,anna@acme.se,2026-11-01,150000,leasing,started\n"  # new: +1 600 to the pool
)
AFTER_FIRST = {"ACME": 3100, "bo@bolt.se": 4100 + 1100, "britt@bolt.se": 3100}
AFTER_CHANGES = {"ACME": 3100 + 2100 + 1600, "bo@bolt.se": 5100, "britt@bolt.se": 1100}


@pytest.fixture
def prog(db):
    small_program(db)
    return db


def run(db: Database, text: str, *, chunk_rows: int = 2, **kw):
    dry_run = kw.pop("dry_run", False)
    with db.session(write=True, dry_run=dry_run) as s:
        return contracts.import_contracts(
            session=s, src=csv_input(text), actor="tester", skip_invalid=False, chunk_rows=chunk_rows, **kw
        )


def state(db: Database) -> dict:
    """Everything the import writes, without ids."""
    with db.session() as s:
        names = {
            aid: email or code
            for aid, email, code in s.exec(
                select(Account.id, Seller.email, Partner.code)
                .outerjoin(Seller, Seller.id == Account.seller_id)
                .outerjoin(Partner, Partner.id == Account.partner_id)
            )
        }
        return {
            "balances": {names[a]: b for a, b in s.exec(select(Account.id, Account.balance)).all() if b},
            "contracts": sorted(
                s.exec(
                    select(
                        Contract.contract_id,
                        Contract.status,
                        Contract.amount_ore,
                        Contract.revision,
                        Contract.posted_points,
                        Contract.posted_value_date,
                    )
                ).all()
            ),
            "postings": sorted(
                (key, names[a], p, vd.isoformat())
                for key, a, p, vd in s.exec(
                    select(Posting.idem_key, Posting.account_id, Posting.points, Posting.value_date)
                ).all()
            ),
            "batches": s.exec(select(func.count()).select_from(Batch)).scalar_one(),
            "problems": [p for r in check(session=s, db=db) for p in r.problems],
        }


def test_a_file_over_several_chunks_posts_what_each_row_earns(prog):
    first = run(prog, FIRST)  # chunks: C1 C2 | C3 C4 | C5 C1-again
    assert first.points_posted == 4100 + 3100 + 3100 + 1100
    assert first.counts == {
        "new": 5,
        "credited": 4,
        "reversed": 0,
        "corrected": 0,
        "updated": 0,
        "unchanged": 1,
    }
    assert state(prog)["balances"] == AFTER_FIRST
    changes = run(prog, CHANGES)
    assert changes.counts == {
        "new": 1,
        "credited": 2,
        "reversed": 1,
        "corrected": 2,
        "updated": 0,
        "unchanged": 1,
    }
    assert changes.points_posted == 1000 - 3100 + 2100 + 1600
    after = state(prog)
    assert after["balances"] == AFTER_CHANGES
    assert ("contract:C5:2:out", "bo@bolt.se", -1100, "2026-10-09") in after["postings"]
    assert ("contract:C5:2:in", "britt@bolt.se", 1100, "2026-10-09") in after["postings"]
    assert ("contract:C1:2:delta", "bo@bolt.se", 1000, "2026-10-05") in after["postings"]
    assert after["problems"] == []


def test_a_re_run_writes_nothing_and_a_bad_last_row_leaves_everything_as_it_was(prog):
    run(prog, FIRST)
    before = state(prog)
    assert before["balances"] == AFTER_FIRST

    again = run(prog, FIRST)
    assert not again.changed and again.points_posted == 0 and again.batch_id is None
    assert state(prog) == before  # no batch, no posting, no contract change

    bad_last = CHANGES + "C7,BOLT,nobody@bolt.se,2026-10-10,100000,leasing,started\n"
    with pytest.raises(RowsRejected) as err:
        run(prog, bad_last)  # three chunks were written before the bad row was met
    assert [str(e) for e in err.value.errors] == [
        "contracts.csv:8:3: seller_email: unknown seller nobody@bolt.se"
    ]
    assert state(prog) == before

    # The same id with other values in a later chunk is caught across chunks,
    # naming the line of its first row.
    dup = CHANGES + "C1,BOLT,bo@bolt.se,2026-10-05,999999,leasing,started\n"
    with pytest.raises(RowsRejected) as err:
        run(prog, dup)
    assert [str(e) for e in err.value.errors] == [
        "contracts.csv:8:1: contract_id: contract C1 appears on line 2 with other values"
    ]
    assert state(prog) == before

    dry = run(prog, CHANGES, dry_run=True)
    assert dry.points_posted == 1600
    assert state(prog) == before

    run(prog, CHANGES)
    assert state(prog)["balances"] == AFTER_CHANGES
    assert run(prog, CHANGES).changed is False
    assert state(prog)["batches"] == 2


@pytest.mark.parametrize("chunk_rows", [1, 2, 2000])
def test_a_repeated_row_counts_once_and_rejects_go_in_file_order(prog, chunk_rows):
    """With --skip-invalid: the first C1 row counts; the same row again is
    unchanged; C1 with other values and C9 for an unknown seller are rejected,
    and the rejects file lists them in the file's order whatever the chunks."""
    text = HEADER + (
        "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n"  # line 2
        "C9,BOLT,nobody@bolt.se,2026-10-05,400000,leasing,started\n"  # 3: unknown seller
        "C1,BOLT,bo@bolt.se,2026-10-05,500000,leasing,started\n"  # 4: other values
        "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n"  # 5: the same
        "C2,BOLT,britt@bolt.se,2026-10-06,100000,leasing,started\n"  # 6
    )
    seen = []
    with prog.session(write=True) as s:
        summary = contracts.import_contracts(
            session=s,
            src=csv_input(text),
            actor="tester",
            skip_invalid=True,
            chunk_rows=chunk_rows,
            on_reject=lambda src, record, errors: seen.append((record.line, [e.reason for e in errors])),
        )
    assert seen == [
        (3, ["unknown seller nobody@bolt.se"]),
        (4, ["contract C1 appears on line 2 with other values"]),
    ]
    assert (summary.counts["new"], summary.counts["unchanged"], summary.rejected) == (2, 1, 2)
    assert state(prog)["balances"] == {"bo@bolt.se": 4100, "britt@bolt.se": 1100}


@pytest.mark.sqlite_only("how SQLite stores dates and timestamps (text)")
def test_the_sqlite_store_writes_values_as_sqlalchemy_writes_them(prog, sql):
    """The store writes with the driver's executemany; what it stores reads
    back through SQLAlchemy as written, in the format SQLAlchemy itself uses
    (an adjustment's posting is written by SQLAlchemy Core)."""
    from loyaltyctl.services import points

    run(prog, FIRST)
    run(prog, CHANGES)
    with prog.session(write=True) as s:
        points.adjust(session=s, ref="bo@bolt.se", points=5, reason="fair", actor="tester", reference=None)
    assert sql(
        "SELECT DISTINCT typeof(start_date), length(start_date), typeof(posted_value_date), "
        "typeof(updated_at), length(updated_at) FROM contract WHERE posted_points > 0"
    ) == [("text", 10, "text", "text", 26)]
    shapes = sql(
        "SELECT DISTINCT kind, typeof(value_date), length(value_date), length(booking_date), "
        "length(booked_at) FROM posting ORDER BY kind"
    )
    assert shapes == [("adjustment", "text", 10, 10, 26), ("contract", "text", 10, 10, 26)]
    assert sql("SELECT start_date, posted_value_date FROM contract WHERE contract_id = 'C1'") == [
        ("2026-10-05", "2026-10-05")
    ]
    with prog.session() as s:
        c1 = s.exec(select(Contract).where(Contract.contract_id == "C1")).scalar_one()
        assert (c1.start_date.isoformat(), c1.amount_ore, c1.revision, c1.posted_points) == (
            "2026-10-05",
            50_000_000,
            2,
            5100,
        )


@pytest.mark.sqlite_only("the SQLite store compares by the columns as stored")
def test_an_unchanged_file_is_compared_as_stored_and_writes_nothing(prog, monkeypatch):
    """The first file again, some fields spelled otherwise (spaces, case) and
    its partner BOLT suspended since: every row is its contract, unchanged (a
    blocked row that changes nothing is no problem), and no stored contract is
    read whole; only a row that differs is."""
    from loyaltyctl.services import partners
    from loyaltyctl.services.contracts import store_sqlite

    run(prog, FIRST)  # before the spy
    with prog.session(write=True) as s:
        partners.set_status(session=s, code="BOLT", status="suspended")
    before = state(prog)
    read_whole: list[str] = []
    whole = store_sqlite.SqliteStore._stored
    monkeypatch.setattr(
        store_sqlite.SqliteStore, "_stored", lambda self, r: read_whole.append(r[1]) or whole(self, r)
    )
    spelled = (
        FIRST.replace("C3,ACME,anna@acme.se", " C3 ,acme,ANNA@acme.se")
        .replace("C5,BOLT", "C5, bolt")
        .replace("registered", "Registered")
    )
    again = run(prog, spelled)
    assert (again.counts["unchanged"], again.rejected, again.batch_id) == (6, 0, None)
    assert state(prog) == before
    assert read_whole == []
    changed = HEADER + (
        "C3,ACME,anna@acme.se,2026-10-07,350000,leasing,started\n"
        "C4,ACME,arne@acme.se,2026-10-08,200000,leasing,started\n"
        "C5,BOLT,bo@bolt.se,2026-10-09,100000,leasing,started\n"
        "C6,ACME,anna@acme.se,2026-11-01,150000,leasing,started\n"
    )
    counts = run(prog, changed, dry_run=True).counts
    assert [counts[k] for k in ("corrected", "credited", "new", "unchanged")] == [1, 2, 1, 1]
    assert read_whole == ["C3", "C4"]  # the rows that differ (C5 is unchanged, C6 new)
