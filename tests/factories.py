"""Build small programs quickly, through the services (no CLI)."""

from __future__ import annotations

import io
from datetime import date

from loyaltyctl.db import Database
from loyaltyctl.importers.csv_source import CsvInput
from loyaltyctl.services import contracts, partners, sellers

HEADER = "contract_id,partner_code,seller_email,start_date,amount,product,status\n"


def enroll(
    db: Database, code: str, *, mode: str = "individual", consent: bool = True, name: str | None = None
) -> None:
    with db.session(write=True) as s:
        partners.enroll(
            session=s,
            partner_in=partners.PartnerIn(
                code=code, name=name or f"Partner {code}", mode=mode, consent=consent
            ),
        )


def add_seller(db: Database, email: str, partner: str, *, enrolled_on: date | None = None) -> None:
    with db.session(write=True) as s:
        sellers.add(
            session=s,
            seller_in=sellers.SellerIn(
                email=email, name=email.split("@")[0].title(), partner_code=partner, enrolled_on=enrolled_on
            ),
        )


def at_schema(target: str, revision: str) -> None:
    """A new database (a path or a URL, not there yet or empty) left at an
    older ``revision``, as an older loyaltyctl made it (migrations are
    forward-only: there is no going back from the head)."""
    from alembic import command
    from alembic.config import Config

    from loyaltyctl.db import resolve_url

    old = Database(resolve_url(target))
    if old.sqlite_path is not None:
        old.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        old.sqlite_path.unlink(missing_ok=True)
        old.sqlite_path.touch(mode=0o600)
    cfg = Config()
    cfg.set_main_option("script_location", "loyaltyctl:migrations")
    with old.engine.execution_options(loyalty_write=True).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    old.dispose()


def csv_input(text: str | bytes, name: str = "contracts.csv", encoding: str | None = None) -> CsvInput:
    data = text.encode() if isinstance(text, str) else text
    return CsvInput(stream=io.BytesIO(data), name=name, encoding=encoding)


def import_contracts(
    db: Database, rows: str, *, header: str = HEADER, skip_invalid: bool = False, dry_run: bool = False
):
    """Import CSV text (rows without header unless header='') and return the summary."""
    with db.session(write=True, dry_run=dry_run) as s:
        return contracts.import_contracts(
            session=s, src=csv_input(header + rows), actor="tester", skip_invalid=skip_invalid
        )


def small_program(db: Database, *, enrolled_on: date | None = None) -> None:
    """Two partners: ACME pooled (anna, arne), BOLT individual (bo, britt); the
    sellers enrolled today unless ``enrolled_on``."""
    enroll(db, "ACME", mode="pooled")
    enroll(db, "BOLT", mode="individual")
    add_seller(db, "anna@acme.se", "ACME", enrolled_on=enrolled_on)
    add_seller(db, "arne@acme.se", "ACME", enrolled_on=enrolled_on)
    add_seller(db, "bo@bolt.se", "BOLT", enrolled_on=enrolled_on)
    add_seller(db, "britt@bolt.se", "BOLT", enrolled_on=enrolled_on)


def balance(db: Database, ref: str) -> int:
    from loyaltyctl.services import points

    with db.session() as s:
        rows = points.balances(session=s, ref=ref, on=None)
    assert len(rows) == 1, rows
    return rows[0]["balance"]


def build_program_db(path, contracts_csv: str = "", *, today: str) -> None:
    """A small program (see small_program) with some contracts, in a new database
    (a file or a URL): built once per module (conftest.build_template) and
    loaded into each test's database."""
    import os

    old = os.environ.get("LOYALTYCTL_TODAY")
    os.environ["LOYALTYCTL_TODAY"] = today
    try:
        from loyaltyctl.db import resolve_url

        database = Database(resolve_url(str(path)))
        database.init()
        small_program(database)
        if contracts_csv:
            import_contracts(database, contracts_csv)
        database.dispose()  # checkpoints the WAL into the file
    finally:
        if old is None:
            del os.environ["LOYALTYCTL_TODAY"]
        else:
            os.environ["LOYALTYCTL_TODAY"] = old


def copy_db(src, dst) -> None:
    import shutil
    from pathlib import Path

    for suffix in ("", "-wal"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")


def catalog_csv(n: int) -> str:
    """n items: sku I0001.., name "Item 0001".., points 1..n, unlimited stock."""
    return "sku,name,points\n" + "".join(f"I{i:04d},Item {i:04d},{i}\n" for i in range(1, n + 1))


def load_catalog(db: Database, text: str) -> None:
    from loyaltyctl.services import catalog

    with db.session(write=True) as s:
        catalog.import_catalog(session=s, src=csv_input(text, name="catalog.csv"), skip_invalid=False)


REWARDS = "sku,name,points,stock\nMUG,Mug,500,3\nTRIP,Weekend trip,3000,\n"


def rewards_program(db: Database) -> None:
    """small_program with points: ACME pool 2 600 + 1 100 = 3 700, bo 2 600;
    catalog MUG 500 points (3 in stock), TRIP 3 000 points (unlimited)."""
    small_program(db)
    import_contracts(
        db,
        "C1,ACME,anna@acme.se,2026-01-10,250000,leasing,started\n"  # 250 000 * 10 / 1000 + 100 = 2 600
        "C2,ACME,arne@acme.se,2026-01-11,100000,leasing,started\n"  # 100 000 * 10 / 1000 + 100 = 1 100
        "C3,BOLT,bo@bolt.se,2026-01-12,250000,leasing,started\n",  # 2 600
    )
    load_catalog(db, REWARDS)


# -- engagement (quizzes, leads, leaderboard) ---------------------------------


def contract(cid: str, partner: str, email: str, start: str, amount: int, status: str = "started") -> str:
    """One contracts-CSV row.  Earns amount / 100 + 100 points when started
    (10 points per 1 000 SEK plus 100 per contract, the default rules)."""
    return f"{cid},{partner},{email},{start},{amount},leasing,{status}\n"


def create_quiz(
    db: Database, code: str, *, questions: int = 10, points: int = 50, welcome: bool = False
) -> None:
    from loyaltyctl.services import quizzes

    with db.session(write=True) as s:
        quizzes.create(
            session=s,
            code=code,
            title=f"Quiz {code}",
            questions=questions,
            points_per_correct=points,
            welcome=welcome,
            actor="tester",
        )


def award_quiz(db: Database, code: str, rows: str, *, skip_invalid: bool = False, dry_run: bool = False):
    """Award quiz results from CSV text (header included) and return the summary."""
    from loyaltyctl.services import quizzes

    with db.session(write=True, dry_run=dry_run) as s:
        return quizzes.import_awards(
            session=s,
            src=csv_input(rows, name="quiz.csv"),
            code=code,
            actor="tester",
            skip_invalid=skip_invalid,
        )


def posting_keys(db: Database, prefix: str) -> dict[str, tuple[int, str]]:
    """Postings whose idempotency key starts with ``prefix``: key -> (points, value date)."""
    from sqlalchemy import select

    from loyaltyctl.models import Posting

    with db.session() as s:
        rows = s.exec(
            select(Posting.idem_key, Posting.points, Posting.value_date).where(
                Posting.idem_key.like(prefix + "%")
            )
        ).all()
    return {k: (p, v.isoformat()) for k, p, v in rows}


def rebuild_chain(url: str) -> None:
    """What an editor who knows the algorithm does after an edit: every
    posting's hash computed again from the content as it now is, with the
    append-only trigger out of the way and put back after."""
    from conftest import connect

    from loyaltyctl.chain import GENESIS, day, link
    from loyaltyctl.services.guards import sqlite_triggers

    sqlite = url.startswith("sqlite")
    with connect(url) as con:
        rows = con.execute(
            "SELECT id, account_id, points, kind, value_date, booking_date, idem_key, actor, batch_id "
            "FROM posting ORDER BY id"
        ).fetchall()
        con.execute(
            "DROP TRIGGER posting_no_update"
            if sqlite
            else "ALTER TABLE posting DISABLE TRIGGER posting_append_only"
        )
        prev = GENESIS
        for pid, account, points, kind, value, booking, key, actor, batch in rows:
            prev = link(prev, account, points, kind, day(value), day(booking), key, actor, batch)
            con.execute("UPDATE posting SET chain_hash = ? WHERE id = ?", (prev, pid))
        con.execute(
            sqlite_triggers()["posting_no_update"][1]
            if sqlite
            else "ALTER TABLE posting ENABLE TRIGGER posting_append_only"
        )
