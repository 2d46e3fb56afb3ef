"""``db status`` and ``db check``: what the database is, and proof that it adds up.

Each check returns a list of problems (plain strings that spell out the
difference, e.g. "account a@b.se: cached 1200 != postings 1100"); an empty list
means it passed.  ``guards`` is in guards.py; ``chain``, ``keys`` and
``seal`` share one ordered scan of the postings (ledger_scan.py), made once
per run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, text
from sqlmodel import Session

from ..chain import Seal
from ..db import SCHEMA_HEAD, Database, display_url
from ..errors import DatabaseProblem
from ..models import (
    Account,
    Batch,
    CatalogItem,
    Contract,
    Lead,
    Partner,
    Posting,
    Quiz,
    QuizAward,
    Redemption,
    RuleVersion,
    Seller,
)
from . import guards, ledger_scan
from .contracts import Lookups
from .earning import Earning
from .rules import RuleBook

MAX_PROBLEMS_PER_CHECK = 50


@dataclass
class CheckResult:
    name: str
    description: str
    problems: list[str] = field(default_factory=list)
    more: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS_PER_CHECK:
            self.problems.append(problem)
        else:
            self.more += 1

    def as_dict(self) -> dict:
        return {
            "check": self.name,
            "description": self.description,
            "ok": self.ok,
            "problems": self.problems,
            "more_problems": self.more,
        }


def _account_names(session: Session) -> dict[int, str]:
    """Account id -> the seller's email or the partner's code (once per check run)."""
    cached = session.info.get("loyalty_account_names")
    if cached is not None:
        return cached
    rows = session.exec(
        select(Account.id, Seller.email, Partner.code)
        .outerjoin(Seller, Seller.id == Account.seller_id)
        .outerjoin(Partner, Partner.id == Account.partner_id)
    ).all()
    names = {aid: email or code for aid, email, code in rows}
    session.info["loyalty_account_names"] = names
    return names


PG_DESCRIPTIONS = {
    "integrity": "PostgreSQL: every index is valid and ready (PostgreSQL checks its own pages)",
    "foreign_keys": "PostgreSQL: every reference and CHECK is enforced, none was added NOT VALID",
}


def _integrity(session: Session, r: CheckResult, db: Database) -> None:
    if not db.is_sqlite:
        _pg_indexes(session, r)
        return
    for (msg,) in session.exec(text("PRAGMA integrity_check(100)")).all():
        for line in str(msg).splitlines():
            if line != "ok" and not line.startswith("*** in database"):
                r.add(f"integrity_check: {line}")


def _foreign_keys(session: Session, r: CheckResult, db: Database) -> None:
    if not db.is_sqlite:
        _pg_not_valid(session, r)
        return
    for row in session.exec(text("PRAGMA foreign_key_check")).all():
        r.add(f"foreign_key_check: table {row[0]} row {row[1]} points to a missing {row[2]}")


def _guards(session: Session, r: CheckResult, db: Database) -> None:
    guards.check(session, r.add, sqlite=db.is_sqlite)


def _pg_indexes(session: Session, r: CheckResult) -> None:
    """PostgreSQL checks its pages itself; an index left invalid (a failed
    CREATE INDEX CONCURRENTLY, a catalog edited by hand) is neither read nor,
    when not ready, kept up to date, and a unique one then enforces nothing."""
    for table, index in session.exec(
        text(
            "SELECT c.relname, i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class c ON c.oid = x.indrelid WHERE c.relnamespace = current_schema()::regnamespace "
            "AND NOT (x.indisvalid AND x.indisready AND x.indislive) ORDER BY 1, 2"
        )
    ).all():
        r.add(f"index {index} on {table} is not valid: rebuild it (REINDEX INDEX {index})")


def _pg_not_valid(session: Session, r: CheckResult) -> None:
    """PostgreSQL enforces every reference and CHECK itself, except one added
    NOT VALID, which never looked at the rows already there."""
    for table, name in session.exec(
        text(
            "SELECT c.relname, k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND NOT k.convalidated ORDER BY 1, 2"
        )
    ).all():
        r.add(f"constraint {name} on {table} is NOT VALID: existing rows were never checked")


def _balances(session: Session, r: CheckResult) -> None:
    names = _account_names(session)
    sums = (
        select(Posting.account_id, func.sum(Posting.points).label("total"))
        .group_by(Posting.account_id)
        .subquery()
    )
    rows = session.exec(
        select(Account.id, Account.balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != func.coalesce(sums.c.total, 0))
    ).all()
    for aid, cached, total in rows:
        r.add(f"account {names.get(aid, aid)}: cached {cached} != postings {total}")
    orphans = session.exec(
        select(func.count()).select_from(Posting).where(Posting.account_id.not_in(select(Account.id)))
    ).scalar()
    if orphans:
        r.add(f"{orphans} postings name an account that does not exist")


def _holds(session: Session, r: CheckResult) -> None:
    names = _account_names(session)
    pending = (
        select(Redemption.account_id, func.sum(Redemption.points).label("total"))
        .where(Redemption.status == "pending")
        .group_by(Redemption.account_id)
        .subquery()
    )
    rows = session.exec(
        select(Account.id, Account.held, func.coalesce(pending.c.total, 0))
        .outerjoin(pending, pending.c.account_id == Account.id)
        .where(Account.held != func.coalesce(pending.c.total, 0))
    ).all()
    for aid, held, total in rows:
        r.add(f"account {names.get(aid, aid)}: held {held} != pending redemptions {total}")
    for aid, held, _bal in session.exec(
        select(Account.id, Account.held, Account.balance).where(Account.held < 0)
    ).all():
        r.add(f"account {names.get(aid, aid)}: held {held} is negative")


def _stock(session: Session, r: CheckResult) -> None:
    pending = (
        select(Redemption.sku, func.sum(Redemption.quantity).label("qty"))
        .where(Redemption.status == "pending")
        .group_by(Redemption.sku)
        .subquery()
    )
    rows = session.exec(
        select(CatalogItem.sku, CatalogItem.reserved, func.coalesce(pending.c.qty, 0))
        .outerjoin(pending, pending.c.sku == CatalogItem.sku)
        .where(CatalogItem.reserved != func.coalesce(pending.c.qty, 0))
    ).all()
    for sku, reserved, qty in rows:
        r.add(f"catalog item {sku}: reserved {reserved} != pending quantity {qty}")
    for sku, stock, reserved in session.exec(
        select(CatalogItem.sku, CatalogItem.stock, CatalogItem.reserved).where(
            CatalogItem.stock.is_not(None), CatalogItem.stock < CatalogItem.reserved
        )
    ).all():
        r.add(f"catalog item {sku}: stock {stock} is below reserved {reserved}")


def _keys(session: Session, r: CheckResult) -> None:
    rows = session.exec(
        select(Posting.idem_key, func.count()).group_by(Posting.idem_key).having(func.count() > 1)
    ).all()
    for key, n in rows:
        r.add(f"idempotency key {key!r} is used by {n} postings")


def _contracts(session: Session, r: CheckResult) -> None:
    """Replay the earning rules over every contract's current row."""
    names = _account_names(session)
    earning = Earning.load(session)
    posted: dict[int, dict[int, int]] = {}
    for cpk, aid, total in session.exec(
        select(Posting.contract_pk, Posting.account_id, func.sum(Posting.points))
        .where(Posting.contract_pk.is_not(None))
        .group_by(Posting.contract_pk, Posting.account_id)
        .having(func.sum(Posting.points) != 0)
    ):
        posted.setdefault(cpk, {})[aid] = int(total)
    look = Lookups(session)
    c = Contract.__table__.c
    query = select(
        c.id,
        c.contract_id,
        c.partner_id,
        c.seller_id,
        c.start_date,
        c.amount_ore,
        c.product,
        c.status,
        c.posted_account_id,
        c.posted_seller_id,
        c.posted_value_date,
        c.posted_points,
    )
    for row in session.exec(query).yield_per(5000):
        expected = (
            earning.points(row.amount_ore, row.start_date, row.product) if row.status == "started" else 0
        )
        actual = posted.pop(row.id, {})
        if row.posted_points != expected:
            r.add(
                f"contract {row.contract_id}: earns {expected} by the rules in force on "
                f"{row.start_date} != recorded {row.posted_points}"
            )
        want = {row.posted_account_id: row.posted_points} if row.posted_points else {}
        if actual != want:
            have = ", ".join(f"{names.get(a, a)} {p}" for a, p in sorted(actual.items())) or "none"
            should = ", ".join(f"{names.get(a, a)} {p}" for a, p in want.items()) or "none"
            r.add(f"contract {row.contract_id}: net postings {have} != expected {should}")
        if row.posted_points:
            routed = look.routed(row.partner_id, row.seller_id)
            where = (row.posted_account_id, row.posted_seller_id, row.posted_value_date)
            if where != (routed, row.seller_id, row.start_date):
                r.add(
                    f"contract {row.contract_id}: points are in {names.get(row.posted_account_id)} "
                    f"(seller #{row.posted_seller_id}, valued {row.posted_value_date}), but its current "
                    f"row routes them to {names.get(routed) if routed else 'no account'} "
                    f"(seller #{row.seller_id}, valued {row.start_date})"
                )
    for cpk, accounts in posted.items():
        r.add(f"postings name contract #{cpk}, which does not exist ({accounts})")


def _leaderboard(session: Session, r: CheckResult) -> None:
    from .leaderboard import check

    for problem in check(session):
        r.add(problem)


def _postings_of(session: Session, kind: str, prefix: str) -> dict[str, Posting]:
    """Postings of a kind, or keyed like it, by idempotency key."""
    rows = session.exec(
        select(Posting).where((Posting.kind == kind) | Posting.idem_key.like(prefix + "%"))
    ).scalars()
    return {p.idem_key: p for p in rows}


def _quizzes(session: Session, r: CheckResult) -> None:
    """Every quiz award is correct x points_per_correct, posted once under its key."""
    names = _account_names(session)
    postings = _postings_of(session, "quiz", "quiz:")
    rows = session.exec(
        select(QuizAward, Quiz.code, Quiz.points_per_correct, Seller.email)
        .join(Quiz, Quiz.id == QuizAward.quiz_id)
        .join(Seller, Seller.id == QuizAward.seller_id)
        .order_by(Quiz.code, Seller.email)
    ).all()
    for award, code, per_correct, email in rows:
        want = award.correct * per_correct
        who = f"quiz {code}, {email}"
        if award.points != want:
            r.add(f"{who}: {award.correct} correct x {per_correct} = {want} != awarded {award.points}")
        key = f"quiz:{code}:{award.seller_id}"
        p = postings.pop(key, None)
        if p is None:
            if want:
                r.add(f"{who}: {award.correct} correct x {per_correct} = {want}, but no posting {key}")
            continue
        if p.kind != "quiz" or p.points != want:
            r.add(f"{who}: {award.correct} correct x {per_correct} = {want} != posted {p.points} ({p.kind})")
        if (p.seller_id, p.value_date) != (award.seller_id, award.taken_on):
            r.add(
                f"{who}: taken {award.taken_on} by seller #{award.seller_id} != posting valued "
                f"{p.value_date} for seller #{p.seller_id}"
            )
    for key, p in sorted(postings.items()):
        r.add(f"posting {key}: {p.points} points to {names.get(p.account_id)} that no quiz award explains")


def _leads(session: Session, r: CheckResult) -> None:
    """Every accepted lead has one lead posting of lead_points as of its acceptance; no other lead has one."""
    names = _account_names(session)
    postings = _postings_of(session, "lead", "lead:")
    versions = list(session.exec(select(RuleVersion).where(RuleVersion.key == "lead_points")).scalars())
    rows = session.exec(
        select(Lead, Seller.email).join(Seller, Seller.id == Lead.seller_id).order_by(Lead.id)
    ).all()
    for lead, email in rows:
        key = f"lead:{lead.id}"
        p = postings.pop(key, None)
        who = f"lead #{lead.id} ({email})"
        if lead.status != "accepted":
            if p is not None:
                r.add(f"{who}: {lead.status}, but it has a lead posting {key} of {p.points}")
            continue
        assert lead.decided_on is not None
        # The rule as it stood when the lead was accepted (a later, back-dated
        # version does not change points already credited).
        known = [v for v in versions if p is None or v.created_at <= p.booked_at]
        want = RuleBook(known).int("lead_points", lead.decided_on)
        if lead.points != want:
            r.add(f"{who}: lead_points on {lead.decided_on} is {want} != recorded {lead.points}")
        if p is None:
            if want:
                r.add(f"{who}: accepted on {lead.decided_on} for {want} points, but no posting {key}")
            continue
        if p.kind != "lead" or p.points != want or p.seller_id != lead.seller_id:
            r.add(
                f"{who}: lead_points on {lead.decided_on} is {want} != posted {p.points} "
                f"({p.kind}, seller #{p.seller_id})"
            )
    for key, p in sorted(postings.items()):
        r.add(f"posting {key}: {p.points} points to {names.get(p.account_id)} that no accepted lead explains")


def _redemptions(session: Session, r: CheckResult) -> None:
    """Every approved redemption has its debit posting; no pending or rejected one has."""
    names = _account_names(session)
    postings = _postings_of(session, "redemption", "redemption:")
    for red in session.exec(select(Redemption).order_by(Redemption.id)).scalars():
        key = f"redemption:{red.id}"
        p = postings.pop(key, None)
        who = f"redemption {red.id} ({names.get(red.account_id)})"
        if red.status != "approved":
            if p is not None:
                r.add(f"{who}: {red.status}, but it has a debit posting {key} of {p.points}")
            continue
        if p is None:
            r.add(f"{who}: approved for {red.points} points, but there is no debit posting {key}")
        elif (p.kind, p.account_id, p.points) != ("redemption", red.account_id, -red.points):
            r.add(
                f"{who}: debit of {-red.points} to {names.get(red.account_id)} != posted {p.points} "
                f"to {names.get(p.account_id)} ({p.kind})"
            )
    for key, p in sorted(postings.items()):
        r.add(f"posting {key}: {p.points} points to {names.get(p.account_id)} that no approval explains")


_SCAN = "loyalty_ledger_scan"
_SEAL = "loyalty_seal"


def scan_of(session: Session) -> ledger_scan.Scan:
    """The ordered scan of the postings (chain, keys, seal), made once per check run."""
    found = session.info.get(_SCAN)
    if found is None:
        found = session.info[_SCAN] = ledger_scan.scan(session.connection(), seal=session.info.get(_SEAL))
    return found


def _take(problems: ledger_scan.Problems | None, r: CheckResult) -> None:
    if problems is not None:
        for p in problems.items:
            r.add(p)
        r.more += problems.more


def _chain(session: Session, r: CheckResult) -> None:
    _take(scan_of(session).chain, r)


def _key_content(session: Session, r: CheckResult) -> None:
    _take(scan_of(session).keys, r)


def _seal(session: Session, r: CheckResult) -> None:
    _take(scan_of(session).seal, r)


def _spendable(session: Session, r: CheckResult) -> None:
    """Points spent or held beyond a balance only where a contract clawback took
    them back (see ``services/modes.py``)."""
    from .modes import check

    for problem in check(session):
        r.add(problem)


CHECKS: list[tuple[str, str, Callable]] = [
    ("integrity", "SQLite integrity_check: the file's pages and indexes are sound", _integrity),
    ("foreign_keys", "SQLite foreign_key_check: every reference points to a row", _foreign_keys),
    (
        "guards",
        "the append-only and whole-number triggers and CHECK constraints are as the migrations create them",
        _guards,
    ),
    ("balances", "every cached balance equals the sum of its postings", _balances),
    ("holds", "held points equal the pending redemptions", _holds),
    ("stock", "reserved stock equals the pending redemptions' quantities", _stock),
    ("idempotency", "every posting's idempotency key is unique", _keys),
    ("keys", "every posting's idempotency key agrees with its content, kind by kind", _key_content),
    ("chain", "every posting's hash follows from its content and the posting before it", _chain),
    ("seal", "nothing up to the sealed posting was changed, removed or inserted", _seal),
    ("contracts", "every contract's net points equal what the rules give for its current row", _contracts),
    ("quizzes", "every quiz award is correct x points_per_correct, posted once", _quizzes),
    ("leads", "every accepted lead has one posting of lead_points as of its acceptance", _leads),
    ("leaderboard", "every awarded period's stored awards match its bonus postings", _leaderboard),
    ("redemptions", "every approved redemption has its debit posting, no other has one", _redemptions),
    (
        "spendable",
        "no partner's people can spend more than they earned less what they spent and hold",
        _spendable,
    ),
]


def check(*, session: Session, db: Database, seal: Seal | None = None) -> list[CheckResult]:
    """Every check, in order; ``seal`` adds the ``seal`` check (``db check --seal``)."""
    results = []
    from sqlalchemy.exc import DBAPIError

    session.info.pop("loyalty_account_names", None)  # read afresh for this run
    session.info.pop(_SCAN, None)
    session.info[_SEAL] = seal
    for name, description, fn in CHECKS:
        if name == "seal":
            if seal is None:
                continue
            description = (
                f"nothing up to posting #{seal.last_id} ({seal.count} postings) was changed, removed "
                "or inserted since the seal"
            )
        if not db.is_sqlite:
            description = PG_DESCRIPTIONS.get(name, description)
        r = CheckResult(name, description)
        try:
            if name in ("integrity", "foreign_keys", "guards"):
                fn(session, r, db)
            else:
                fn(session, r)
        except DBAPIError as exc:  # a damaged page: report it and go on with the next check
            r.add(f"could not run: {str(exc.orig or exc).splitlines()[0]}")
        results.append(r)
    return results


def seal(*, session: Session) -> Seal:
    """The chain's head, recomputed from every posting's content; refused
    (exit 6) when the chain does not hold: a seal must vouch for a ledger
    that is whole."""
    found = ledger_scan.scan(session.connection(), keys=False)
    if not found.chain_ok:
        n = len(found.chain.items) + found.chain.more
        raise DatabaseProblem(
            f"the ledger's hash chain is broken ({n} problem{'s' if n != 1 else ''}, the first: "
            f"{found.chain.items[0]}); no seal was made",
            hint="`loyaltyctl db check` names every problem; restore from a backup",
        )
    return found.head


def status(*, session: Session, db: Database) -> dict:
    def count(model) -> int:
        return int(session.exec(select(func.count()).select_from(model)).scalar())

    rev = session.exec(text("SELECT version_num FROM alembic_version")).scalar()
    out = {
        "database": display_url(db.url),
        "backend": "sqlite" if db.is_sqlite else db.engine.dialect.name,
        "schema": rev,
        "schema_head": SCHEMA_HEAD,
        "up_to_date": rev == SCHEMA_HEAD,
        "partners": count(Partner),
        "sellers": count(Seller),
        "accounts": count(Account),
        "contracts": count(Contract),
        "postings": count(Posting),
        "batches": count(Batch),
    }
    path = db.sqlite_path
    if path is not None and path.exists():
        out["size_bytes"] = path.stat().st_size
        out["journal_mode"] = session.exec(text("PRAGMA journal_mode")).scalar()
    return out


def backup(*, db: Database, target: Path, force: bool = False) -> dict:
    """A consistent copy of a SQLite database, made while others may write.

    ``VACUUM INTO`` reads one snapshot (a read transaction; in WAL mode writers
    go on meanwhile) into ``TARGET.partial`` (created 0600), which is fsynced
    and renamed to ``TARGET``.  Works on any schema version (back up before
    ``db upgrade``); refuses PostgreSQL (use ``pg_dump``)."""
    import sqlite3

    from ..errors import FileProblem, NotFound, Refused
    from ..safe_files import partial_path

    source = db.sqlite_path
    if not db.is_sqlite:
        raise Refused(
            f"db backup copies SQLite databases; for {display_url(db.url)} use pg_dump "
            "(e.g. pg_dump --format=custom --file=loyalty.dump DBNAME)"
        )
    if source is None:
        raise Refused("db backup needs a database file, not an in-memory database")
    if not source.exists():
        raise db.missing()
    if not source.is_file():
        raise NotFound(f"database {source} is not a file; nothing to back up")
    target = Path(target).absolute()
    if target.exists() and target.resolve() == source.resolve():
        raise FileProblem(f"{target} is the database itself; name another file")
    with db.translate_errors(), partial_path(target, force=force) as partial:
        raw = db.engine.raw_connection()  # autocommit (see db.py): VACUUM runs outside a transaction
        try:
            raw.driver_connection.execute("VACUUM INTO ?", (str(partial),))
        except sqlite3.OperationalError as exc:
            low = str(exc).lower()
            if "full" in low or "disk i/o" in low:  # writing the copy failed, not reading the database
                raise FileProblem(
                    f"{target}: cannot write, disk full or file too large ({exc}); nothing was written"
                ) from None
            raise
        finally:
            raw.close()
    return {
        "database": str(source),
        "backup": str(target),
        "size_bytes": target.stat().st_size,
    }
