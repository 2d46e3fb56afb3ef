"""The contract import on PostgreSQL: rows go through COPY into staging tables
(``services/contracts_pg.py``), with the same validation, idempotency and
all-or-nothing as on SQLite.  The same files are imported into both backends
and must give the same contracts, postings and balances."""

from __future__ import annotations

import pytest
from factories import HEADER, csv_input, small_program
from sqlalchemy import func, select

from loyaltyctl.db import Database
from loyaltyctl.errors import RowsRejected
from loyaltyctl.models import Account, Batch, Contract, Partner, Posting, Seller
from loyaltyctl.services import contracts, contracts_pg
from loyaltyctl.services.dbadmin import check

# It compares the two backends itself (its own SQLite file and a fresh PostgreSQL
# database), so it runs once, not once per backend.
pytestmark = pytest.mark.sqlite_only("compares SQLite and PostgreSQL itself")

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
def pg(pg_url):
    database = Database(pg_url)
    database.init()
    small_program(database)
    yield database
    database.dispose()


@pytest.fixture
def lite(tmp_path):
    """A SQLite program of its own (whatever backend the suite runs on)."""
    database = Database(f"sqlite:///{tmp_path / 'lite.db'}")
    database.init()
    small_program(database)
    yield database
    database.dispose()


@pytest.fixture
def staged(monkeypatch) -> list[int]:
    """How many chunks went through the PostgreSQL staging path."""
    calls: list[int] = []
    real = contracts_pg.PgStage.stage

    def counting(self, rows, select_existing):
        calls.append(len(rows))
        return real(self, rows, select_existing)

    monkeypatch.setattr(contracts_pg.PgStage, "stage", counting)
    return calls


def run(db: Database, text: str, *, chunk_rows: int = 2, **kw):
    dry_run = kw.pop("dry_run", False)
    with db.session(write=True, dry_run=dry_run) as s:
        return contracts.import_contracts(
            session=s, src=csv_input(text), actor="tester", skip_invalid=False, chunk_rows=chunk_rows, **kw
        )


def state(db: Database) -> dict:
    """Everything the import writes, without ids that may differ between backends."""
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
            "balances": {names[a]: b for a, b in s.exec(select(Account.id, Account.balance)).all()},
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
            "checks": [(r.name, r.problems) for r in check(session=s, db=db) if r.name != "integrity"],
        }


def balances(db: Database) -> dict:
    return {k: v for k, v in state(db)["balances"].items() if k in AFTER_FIRST}


def test_the_same_files_give_the_same_ledger_on_sqlite_and_postgres(lite, pg, staged):
    results = {}
    for name, database in (("sqlite", lite), ("postgres", pg)):
        first = run(database, FIRST)
        changes = run(database, CHANGES)
        results[name] = (first.counts, first.points_posted, changes.counts, changes.points_posted)
        assert balances(database) == AFTER_CHANGES
    assert staged == [2, 2, 2, 2, 2, 2]  # FIRST: C1 C2 | C3 C4 | C5 C1-again; CHANGES: 3 chunks too
    first_counts, first_points, change_counts, change_points = results["postgres"]
    assert results["sqlite"] == results["postgres"]
    assert first_points == 4100 + 3100 + 3100 + 1100
    assert first_counts == {
        "new": 5,
        "credited": 4,
        "reversed": 0,
        "corrected": 0,
        "updated": 0,
        "unchanged": 1,
    }
    assert change_counts == {
        "new": 1,
        "credited": 2,
        "reversed": 1,
        "corrected": 2,
        "updated": 0,
        "unchanged": 1,
    }
    assert change_points == 1000 - 3100 + 2100 + 1600
    assert balances(pg) == AFTER_CHANGES
    assert state(lite) == state(pg)
    assert all(not problems for _, problems in state(pg)["checks"])


def test_postgres_reimport_writes_nothing_and_a_bad_last_row_leaves_it_unchanged(pg, staged):
    run(pg, FIRST)
    before = state(pg)
    assert balances(pg) == AFTER_FIRST

    again = run(pg, FIRST)
    assert not again.changed and again.points_posted == 0 and again.batch_id is None
    assert state(pg) == before  # no batch, no posting, no contract change

    bad_last = CHANGES + "C7,BOLT,nobody@bolt.se,2026-10-10,100000,leasing,started\n"
    with pytest.raises(RowsRejected) as err:
        run(pg, bad_last)  # three chunks were copied and applied before the bad row was met
    assert [str(e) for e in err.value.errors] == [
        "contracts.csv:8:3: seller_email: unknown seller nobody@bolt.se"
    ]
    assert state(pg) == before

    # The same id with other values in a later chunk is caught across chunks.
    dup = CHANGES + "C1,BOLT,bo@bolt.se,2026-10-05,999999,leasing,started\n"
    with pytest.raises(RowsRejected) as err:
        run(pg, dup)
    assert "contracts.csv:8:1: contract_id: contract C1 appears earlier in this file with other values" in [
        str(e) for e in err.value.errors
    ]
    assert state(pg) == before

    dry = run(pg, CHANGES, dry_run=True)
    assert dry.points_posted == 1600
    assert state(pg) == before

    run(pg, CHANGES)
    assert balances(pg) == AFTER_CHANGES
    assert run(pg, CHANGES).changed is False
    assert state(pg)["batches"] == 2
    # FIRST twice, bad_last (its bad row never reaches a chunk), dup (its own chunk), dry run, CHANGES twice
    assert len(staged) == 3 + 3 + 3 + 4 + 3 + 3 + 3
