"""Contract import: the one rule, applied in one streaming pass.

After every import, the net points a contract has posted to each account equal
what its current row earns: its seller's account (or the partner's pool), its
amount, product and start date, with the rules and campaigns in force on that
start date; nothing unless it is started.  Any change posts the difference as
new postings, never an edit.

The contract row remembers where its points stand (``posted_account_id``,
``posted_seller_id``, ``posted_value_date``, ``posted_points``).  A change that
keeps account, seller and start date posts the delta; any other change reverses
the old points (valued on the old start date) and credits the new ones.  Each
change bumps the contract's ``revision``, which is part of every posting's
idempotency key: ``contract:<id>:<revision>:<leg>``.

Rows are read and validated one by one and written in chunks with Core bulk
statements inside the command's single transaction; lookups (partners,
sellers, accounts) are loaded once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import NamedTuple

from sqlalchemy import bindparam, insert, select, text, update
from sqlmodel import Session

from .. import ledger as _ledger
from ..clock import now, today
from ..errors import RowError
from ..identities import Lookalikes
from ..importers import fields as F
from ..importers.csv_source import CsvInput, Record, check_width
from ..ledger import Entry, Ledger, _processor, new_batch
from ..models import Account, Batch, Contract, Partner, Seller
from .accounts import AccountIds
from .batch import BatchSummary, RejectSink
from .earning import Earning

CONTRACT = Contract.__table__
REQUIRED = ("contract_id", "partner_code", "seller_email", "start_date", "amount", "product", "status")
STATUSES = ("registered", "started", "cancelled")
CHUNK_ROWS = 2000
# The re-import path (SQLite): records are read ahead in batches of this many,
# the stored contracts of their ids fetched at once, and a row whose fields
# are exactly its stored contract's canonical text is taken as that contract
# without parsing (see ``_Import.take_all``).  Off: every row is parsed.
_COMPARE_RAW = True
PREFETCH_ROWS = 2000
# Rows held at once (read ahead, or waiting in a chunk) are bounded by the
# input they came from as well as by their number: 2 000 rows with wide
# ignored columns (a line may be 1 MiB) would otherwise hold gigabytes.  The
# bytes read since a batch began are counted (CsvInput.bytes_read), which
# costs nothing per row.
HELD_BYTES = 4 << 20

_SELECT_EXISTING = select(
    CONTRACT.c.id,
    CONTRACT.c.contract_id,
    CONTRACT.c.partner_id,
    CONTRACT.c.seller_id,
    CONTRACT.c.start_date,
    CONTRACT.c.amount_ore,
    CONTRACT.c.product,
    CONTRACT.c.status,
    CONTRACT.c.revision,
    CONTRACT.c.posted_account_id,
    CONTRACT.c.posted_seller_id,
    CONTRACT.c.posted_value_date,
    CONTRACT.c.posted_points,
    CONTRACT.c.last_batch_id,
)


@dataclass(slots=True)
class Row:
    record: Record
    contract_id: str
    partner_id: int
    seller_id: int
    start_date: date
    amount_ore: int
    product: str
    status: str
    again: bool = False  # the id appeared in an earlier chunk of this file
    # Why this row may not credit points (an inactive seller, a suspended partner):
    # such a row may still leave its contract unchanged or take points back.
    blocked: RowError | None = None
    # The row was taken as an exact copy of its stored contract (the re-import
    # path): unchanged, nothing to compare.
    stored: bool = False

    def signature(self) -> tuple:
        return (self.partner_id, self.seller_id, self.start_date, self.amount_ore, self.product, self.status)


def _sek(ore: int) -> str:
    """Öre as SEK with two decimals: 123456 -> '1234.56' (integer arithmetic)."""
    whole, cents = divmod(abs(ore), 100)
    return f"{'-' if ore < 0 else ''}{whole}.{cents:02d}"


class Lookups:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.partners: dict[str, tuple[int, str, str]] = {
            code: (pid, mode, status)
            for pid, code, mode, status in session.exec(
                select(Partner.id, Partner.code, Partner.mode, Partner.status)
            )
        }
        self.partner_code = {pid: code for code, (pid, _, _) in self.partners.items()}
        self.partner_mode = {pid: mode for _, (pid, mode, _) in self.partners.items()}
        self.sellers: dict[str, tuple[int, int, bool]] = {
            email: (sid, pid, bool(active))
            for sid, email, pid, active in session.exec(
                select(Seller.id, Seller.email, Seller.partner_id, Seller.active)
            )
        }
        self.seller_email = {sid: email for email, (sid, _, _) in self.sellers.items()}
        self.accounts = AccountIds.load(session)
        self._twins: Lookalikes | None = None

    def twins(self) -> Lookalikes:
        """The sellers' addresses by confusable skeleton, built when a row
        first names an unknown seller (never on the rows that name a known one)."""
        if self._twins is None:
            self._twins = Lookalikes(self.sellers)
        return self._twins

    def routed(self, partner_id: int, seller_id: int) -> int | None:
        """The account the seller's points go to under the partner's current
        mode, if it exists (read-only; ``db check`` uses it)."""
        return self.accounts.earning(self.partner_mode[partner_id] == "pooled", partner_id, seller_id)

    def account_for(self, partner_id: int, seller_id: int) -> int:
        """The account the seller's points go to now (created if missing)."""
        aid = self.routed(partner_id, seller_id)
        if aid is None:
            if self.partner_mode[partner_id] == "pooled":
                account = Account(holder="partner", partner_id=partner_id, balance=0, held=0)
            else:
                account = Account(holder="seller", seller_id=seller_id, balance=0, held=0)
            self.session.add(account)
            self.session.flush()
            aid = self.accounts.opened(account)
        return aid


def _parse(src: CsvInput, record: Record, look: Lookups, today_: date) -> Row | list[RowError]:
    width = check_width(src, record)
    if width is not None:
        return [_decimal_comma_in_comma_file(src, record) or width]
    v = record.values
    errors: list[RowError] = []

    def err(column: str, reason: str) -> None:
        errors.append(RowError(src.name, record.line, src.column_of(column), column, reason))

    def parse(column: str, fn: Callable[[str], object]) -> object:
        try:
            return fn(v[column])
        except F.FieldError as exc:
            err(column, str(exc))
            return None

    contract_id = parse("contract_id", lambda t: F.parse_text(t, max_len=64))
    code = parse("partner_code", lambda t: F.parse_code(t, what="partner code"))
    email = parse("seller_email", F.parse_email)
    start = parse("start_date", F.parse_date)
    amount = parse("amount", lambda t: F.parse_amount(t, decimal_comma=src.delimiter == ";"))
    product = parse("product", lambda t: F.parse_text(t, max_len=64))
    status = v["status"].strip().lower()
    if status not in STATUSES:
        err("status", f"{v['status']!r} is not a status (registered, started or cancelled)")

    partner = look.partners.get(code) if isinstance(code, str) else None
    if isinstance(code, str):
        if partner is None:
            err("partner_code", f"unknown partner {code}")
    seller = look.sellers.get(email) if isinstance(email, str) else None
    if isinstance(email, str):
        if seller is None:
            twin = look.twins().twin(email)
            look_alike = f" (it looks like the address of seller {twin}: a look-alike)" if twin else ""
            err("seller_email", f"unknown seller {email}{look_alike}")
        else:
            if partner is not None and seller[1] != partner[0]:
                err(
                    "seller_email",
                    f"seller {email} belongs to partner {look.partner_code[seller[1]]}, not {code}",
                )
    if status == "started" and isinstance(start, date) and start > today_:
        err("start_date", f"a started contract cannot start in the future ({start} > {today_})")
    if errors:
        return sorted(errors, key=lambda e: e.column)
    assert partner is not None and seller is not None and isinstance(amount, Decimal)
    blocked = None
    if partner[2] != "active":
        blocked = RowError(
            src.name,
            record.line,
            src.column_of("partner_code"),
            "partner_code",
            f"partner {code} is suspended",
        )
    elif not seller[2]:
        blocked = RowError(
            src.name,
            record.line,
            src.column_of("seller_email"),
            "seller_email",
            f"seller {email} is inactive",
        )
    return Row(
        blocked=blocked,
        record=record,
        contract_id=contract_id,
        partner_id=partner[0],
        seller_id=seller[0],
        start_date=start,
        amount_ore=int(amount * 100),
        product=product,
        status=status,
    )


# The fast path: a row of plain values (printable text, a known partner and
# seller, a plain point-decimal amount in a comma file) takes these few checks;
# any other row goes through ``_parse``, which names every problem.  The fast
# path accepts a subset of what ``_parse`` accepts, with the same values.
_PLAIN_AMOUNT = re.compile(r"([0-9]{1,10})(?:\.([0-9]{1,2}))?", re.ASCII)
_MAX_ORE = int(F.MAX_AMOUNT_SEK) * 100


class _FastParse:
    def __init__(self, src: CsvInput, look: Lookups, today_: date) -> None:
        self.src, self.look, self.today = src, look, today_
        cols = src.columns
        self.idx = tuple(cols[c] for c in REQUIRED)
        self.width = len(src.header)
        self.comma = src.delimiter == ","
        self.dates: dict[str, date] = {}

    def __call__(self, record: Record) -> Row | list[RowError]:
        f = record.fields
        if len(f) == self.width and self.comma:
            i_id, i_code, i_email, i_start, i_amount, i_product, i_status = self.idx
            cid = f[i_id].strip()
            code = f[i_code].strip().upper()
            product = f[i_product].strip()
            status = f[i_status].strip().lower()
            partner = self.look.partners.get(code)
            seller = self.look.sellers.get(f[i_email].strip().lower())
            m = _PLAIN_AMOUNT.fullmatch(f[i_amount])
            start = self._date(f[i_start])
            if (
                cid
                and product
                and len(cid) <= 64
                and len(product) <= 64
                and cid.isprintable()
                and product.isprintable()
                and cid[0] != "'"  # '=x: text columns take a formula guard off (full parse)
                and product[0] != "'"
                and status in STATUSES
                and partner is not None
                and seller is not None
                and seller[1] == partner[0]
                and m is not None
                and start is not None
                and not (status == "started" and start > self.today)
            ):
                frac = m.group(2) or ""
                ore = int(m.group(1)) * 100 + int(frac.ljust(2, "0") or 0)
                if 0 < ore <= _MAX_ORE:
                    if partner[2] == "active" and seller[2]:
                        return Row(record, cid, partner[0], seller[0], start, ore, product, status)
        return _parse(self.src, record, self.look, self.today)

    def _date(self, text: str) -> date | None:
        found = self.dates.get(text)
        if found is None and len(self.dates) < 10_000:
            try:
                found = F.parse_date(text)
            except F.FieldError:
                return None
            self.dates[text] = found
        return found


def _plain_text(text: object) -> bool:
    """Text ``_FastParse`` takes as it is (contract id, product)."""
    return (
        isinstance(text, str)
        and 0 < len(text) <= 64
        and text.isprintable()
        and text[0] != "'"
        and text == text.strip()
    )


_SPLIT_DECIMAL = re.compile(r"-?[0-9]+,[0-9]{1,2}", re.ASCII)


def _decimal_comma_in_comma_file(src: CsvInput, record: Record) -> RowError | None:
    """``...,12,50,...`` in a comma file: one field too many, and the amount and
    the next field read together as a decimal-comma number.  Name the amount."""
    if src.delimiter != "," or len(record.fields) != len(src.header) + 1:
        return None
    i = src.columns["amount"]
    joined = ",".join(record.fields[i : i + 2])
    if not _SPLIT_DECIMAL.fullmatch(joined):
        return None
    return RowError(
        src.name,
        record.line,
        i + 1,
        "amount",
        f"{joined!r} is not an amount (comma files use a point as decimal mark and no thousands "
        "separator: write 12.50)",
    )


def _describe(old, new: Row, look: Lookups) -> str:
    """What changed, in words, for the postings' memo."""
    parts = []
    if old.status != new.status:
        parts.append(f"{old.status} -> {new.status}")
    if old.amount_ore != new.amount_ore:
        parts.append(f"amount {_sek(old.amount_ore)} -> {_sek(new.amount_ore)}")
    if old.seller_id != new.seller_id:
        parts.append(
            f"seller {look.seller_email.get(old.seller_id)} -> {look.seller_email.get(new.seller_id)}"
        )
    if old.start_date != new.start_date:
        parts.append(f"start {old.start_date} -> {new.start_date}")
    if old.product != new.product:
        parts.append(f"product {old.product} -> {new.product}")
    return ", ".join(parts) or "rules"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a contract's points stand in the ledger."""

    account_id: int | None
    seller_id: int | None
    value_date: date | None
    points: int

    def same_spot(self, other: Place) -> bool:
        return (self.account_id, self.seller_id, self.value_date) == (
            other.account_id,
            other.seller_id,
            other.value_date,
        )


NOWHERE = Place(None, None, None, 0)


def legs(old: Place, new: Place) -> list[tuple[str, Place, int]]:
    """The postings that take a contract's points from ``old`` to ``new``, as
    (leg, place, points): the difference where the place stays (or only one
    side has points), else a reversal out of the old place and a credit in."""
    if not old.points and not new.points:
        return []
    if not old.points:
        return [("delta", new, new.points)]
    if not new.points:
        return [("delta", old, -old.points)]
    if old.same_spot(new):
        return [("delta", new, new.points - old.points)] if new.points != old.points else []
    return [("out", old, -old.points), ("in", new, new.points)]


def posting(
    contract_id: str,
    revision: int,
    leg: str,
    at: Place,
    points: int,
    memo: str,
    contract_pk: int | None = None,
) -> Entry:
    """A contract posting, keyed ``contract:<id>:<revision>:<leg>``."""
    assert at.account_id is not None and at.value_date is not None
    return Entry(
        idem_key=f"contract:{contract_id}:{revision}:{leg}",
        account_id=at.account_id,
        points=points,
        kind="contract",
        value_date=at.value_date,
        seller_id=at.seller_id,
        contract_pk=contract_pk,
        reference=contract_id,
        memo=memo,
    )


def outcome(old: Place, new: Place) -> str:
    """How the summary counts a change of an existing contract."""
    if not old.points and new.points:
        return "credited"
    if old.points and not new.points:
        return "reversed"
    if old.points and (new.points != old.points or not old.same_spot(new)):
        return "corrected"
    return "updated"


def import_contracts(
    *,
    session: Session,
    src: CsvInput,
    actor: str,
    skip_invalid: bool,
    on_reject: RejectSink | None = None,
    chunk_rows: int = CHUNK_ROWS,
    command: str = "contracts import",
    reapply: bool = False,
) -> BatchSummary:
    """Import a contracts file (see the module docstring).  Returns the summary;
    raises ``RowsRejected`` (after which the caller rolls back) when a row is
    invalid and ``skip_invalid`` is off."""
    run = _Import(session=session, src=src, actor=actor, on_reject=on_reject, command=command)
    records = src.records(REQUIRED)
    if run.raw is None or not _COMPARE_RAW:
        for record in records:
            run.take(record)
            if run.full(chunk_rows):
                run.flush()
    else:
        while True:
            # Read a batch ahead; a file problem met while reading it stops the
            # import only after the rows before it were taken, as row by row.
            pending: list[Record] = []
            failure: Exception | None = None
            more, start = False, src.bytes_read
            try:
                for record in records:
                    pending.append(record)
                    if len(pending) >= PREFETCH_ROWS or src.bytes_read - start >= HELD_BYTES:
                        more = True
                        break
            except Exception as exc:
                failure = exc
            run.take_all(pending, chunk_rows)
            if failure is not None:
                raise failure
            if not more:
                break
    run.flush()
    return run.close(reapply=reapply, skip_invalid=skip_invalid)


class _Import:
    """One run of the contract import: reads rows into chunks, then plans and
    writes each chunk with bulk statements."""

    def __init__(
        self, *, session: Session, src: CsvInput, actor: str, on_reject: RejectSink | None, command: str
    ) -> None:
        self.session = session
        self.src = src
        self.actor = actor
        self.on_reject = on_reject
        self.command = command
        self.today = today()
        self.stamp = now()
        self.look = Lookups(session)
        self.earning = Earning.load(session)
        # The batch row is written with the first change: an import that
        # changes nothing writes nothing.
        self.ledger = Ledger(session, actor=actor, batch_id=None, booking_date=self.today)
        self.summary = BatchSummary(
            command,
            src.name,
            counts={"new": 0, "credited": 0, "reversed": 0, "corrected": 0, "updated": 0, "unchanged": 0},
            posts_points=True,
        )
        self.counts = self.summary.counts
        # PostgreSQL (psycopg): the same plan, written with COPY into staging tables.
        self.pg = _pg_stage(session)
        if self.pg is not None:
            self.ledger.insert_rows = self.pg.insert_postings
        else:
            self.seen = _SeenIds(session)
        # batch that last changed a contract -> contracts this import changes again
        self.touched: dict[int, list[str]] = {}
        self.chunk: dict[str, Row] = {}
        self.chunk_from = 0  # src.bytes_read when the chunk was last written
        self.fast: _FastParse | None = None
        self.raw = _RawWriter.open(session)
        # The re-import path: the stored contracts of the records read ahead
        # (``_RawWriter.existing`` columns), by contract id, and the ids looked
        # up (one not in ``pre`` is not stored); a flush that changes a
        # contract drops it from both.
        self.pre: dict[str, tuple] | None = None
        self.pre_ids: set[str] = set()
        self._days: dict[str, date | None] = {}
        self._texts: dict[str, bool] = {}
        self._plain: dict[int, tuple[int, str, str]] | None = None

    # -- reading ----------------------------------------------------------------
    def reject(self, record: Record, errors: list[RowError]) -> None:
        self.summary.reject(self.src, record, errors, self.on_reject)

    def id_error(self, record: Record, reason: str) -> RowError:
        return RowError(self.src.name, record.line, self.src.column_of("contract_id"), "contract_id", reason)

    def take_all(self, records: list[Record], chunk_rows: int) -> None:
        """``take`` each record (flushing full chunks), the stored contracts of
        their ids fetched first in one statement."""
        if not records:
            return
        self.prefetch(records)
        try:
            for record in records:
                self.take(record)
                if self.full(chunk_rows):
                    self.flush()
        finally:
            self.pre, self.pre_ids = None, set()

    def prefetch(self, records: list[Record]) -> None:
        src = self.src
        if src.delimiter != "," or self.raw is None:
            return
        width, i_id = len(src.header), src.columns["contract_id"]
        ids = [r.fields[i_id] for r in records if len(r.fields) == width]
        self.pre, complete = self.raw.stored_rows(ids) if ids else ({}, True)
        # Rows read with all of ``existing``'s columns also serve ``flush``.
        self.pre_ids = set(ids) if complete else set()
        self._width, self._i_id = width, i_id
        self._idx = tuple(src.columns[c] for c in REQUIRED[1:])
        self._sellers()

    def _copy(self, record: Record, r: tuple) -> Row | None:
        """The row, if its fields are exactly what a plain row that ``_FastParse``
        takes as an unchanged copy of stored contract ``r`` (``_RawWriter.
        existing`` columns) holds.  No row is such a copy of a contract of
        a suspended partner, an inactive seller or one now in another partner,
        of a started contract now in the future, or of odd stored text."""
        f = record.fields
        i_code, i_email, i_start, i_amount, i_product, i_status = self._idx
        cid, pid, sid, day, ore, product, status = r[1:8]
        who = self._plain.get(sid)
        if (
            who is None
            or who[0] != pid
            or f[i_code] != who[1]
            or f[i_email] != who[2]
            or f[i_start] != day
            or f[i_product] != product
            or f[i_status] != status
            or not 0 < ore <= _MAX_ORE
            or f[i_amount] != f"{ore // 100}.{ore % 100:02d}"
        ):
            return None
        start = self._days.get(day, False)
        if start is False:
            try:
                start = F.parse_date(day) if isinstance(day, str) else None
            except F.FieldError:
                start = None
            self._days[day] = start
        ok = self._texts.get(product)
        if ok is None:
            ok = self._texts[product] = _plain_text(product)
        if (
            start is None
            or not ok
            or status not in STATUSES
            or (status == "started" and start > self.today)
            or not _plain_text(cid)
        ):
            return None
        return Row(record, cid, pid, sid, start, ore, product, status, stored=True)

    def _sellers(self) -> dict[int, tuple[int, str, str]]:
        """Seller id -> (partner id, partner code, seller email) for the active
        sellers of active partners, found by ``_FastParse`` under that code and
        email as they are (stripped; codes upper case, emails lower case)."""
        if self._plain is None:
            look = self.look
            self._plain = {}
            for email, (sid, pid, active) in look.sellers.items():
                code = look.partner_code.get(pid)
                if code is None or not active or look.partners[code][2] != "active":
                    continue
                if code == code.strip().upper() and email == email.strip().lower():
                    self._plain[sid] = (pid, code, email)
        return self._plain

    def take(self, record: Record) -> None:
        self.summary.rows += 1
        parsed = None
        pre = self.pre
        if pre is not None:
            f = record.fields
            if len(f) == self._width:
                stored = pre.get(f[self._i_id])
                if stored is not None:
                    parsed = self._copy(record, stored)
        if parsed is None:
            if self.fast is None:
                self.fast = _FastParse(self.src, self.look, self.today)
            parsed = self.fast(record)
        if isinstance(parsed, list):
            self.reject(record, parsed)
            return
        first = self.chunk.get(parsed.contract_id)
        if first is None:
            self.chunk[parsed.contract_id] = parsed
        elif first.signature() == parsed.signature():
            self.counts["unchanged"] += 1
        else:
            self.reject(
                record,
                [
                    self.id_error(
                        record,
                        f"contract {parsed.contract_id} appears on line {first.record.line} "
                        "with other values",
                    )
                ],
            )

    # -- writing ----------------------------------------------------------------
    def place(self, row: Row) -> Place:
        """Where the row's points belong under the current rules and mode."""
        if row.status != "started":
            return NOWHERE
        return Place(
            self.look.account_for(row.partner_id, row.seller_id),
            row.seller_id,
            row.start_date,
            self.earning.points(row.amount_ore, row.start_date, row.product),
        )

    def full(self, chunk_rows: int) -> bool:
        """The chunk holds ``chunk_rows`` rows, or rows from ``HELD_BYTES`` of
        input: time to write it."""
        return len(self.chunk) >= chunk_rows or self.src.bytes_read - self.chunk_from >= HELD_BYTES

    def flush(self) -> None:
        rows = list(self.chunk.values())
        self.chunk.clear()
        self.chunk_from = self.src.bytes_read
        if not rows:
            return
        if self.pg is None and self.raw is not None and _COMPARE_RAW:
            self.flush_compared(rows)
            return
        if self.pg is not None:
            again, existing = self.pg.stage(rows, _SELECT_EXISTING)
        else:
            ids = [r.contract_id for r in rows]
            again = self.seen.before(ids)
            self.seen.add([i for i in ids if i not in again])
            existing = self.existing(ids)
        changed = []
        if self.raw is not None:
            # Compare with the stored values as they are (dates as stored text):
            # an unchanged row converts nothing.
            signature, stored = self.raw.stored_signature, self.raw.convert
        else:
            signature, stored = Row.signature, tuple
        unchanged = 0
        for row in rows:
            old = existing.get(row.contract_id)
            if old is not None and old[2:8] == signature(row):
                unchanged += 1
            else:
                changed.append((row, None if old is None else _Stored(*stored(old))))
        self.counts["unchanged"] += unchanged
        if not changed:
            return  # the re-import path: nothing to plan, nothing to write
        self.write(changed, again)

    def flush_compared(self, rows: list[Row]) -> None:
        """``flush`` on the re-import path (SQLite's driver): rows taken as their
        stored contract are unchanged without a look; the others are compared
        as ``flush`` compares them."""
        assert self.raw is not None
        raw = self.raw
        ids = [r.contract_id for r in rows]
        pre, looked = self.pre or {}, self.pre_ids
        need = [r.contract_id for r in rows if not r.stored and r.contract_id not in looked]
        existing = raw.existing(need) if need else {}
        changed = []
        unchanged = 0
        signature, stored = raw.stored_signature, raw.convert
        for row in rows:
            if row.stored:
                unchanged += 1
                continue
            cid = row.contract_id
            old = pre.get(cid) if cid in looked else existing.get(cid)
            if old is not None and old[2:8] == signature(row):
                unchanged += 1
            else:
                changed.append((row, None if old is None else _Stored(*stored(old))))
        self.counts["unchanged"] += unchanged
        # Only a changed contract that exists asks whether its id came earlier.
        again = self.seen.before([row.contract_id for row, old in changed if old is not None])
        self.seen.add_new(ids)
        if not changed:
            return
        for row, _ in changed:  # stored contracts read ahead are stale now
            pre.pop(row.contract_id, None)
            looked.discard(row.contract_id)
        self.write(changed, again)

    def write(self, changed: list[tuple[Row, _Stored | None]], again: set[str]) -> None:
        """Plan and write a chunk's new and changed contracts."""
        if self.summary.batch_id is None:
            self.summary.batch_id = self.ledger.batch_id = new_batch(
                self.session, command=self.command, actor=self.actor, source=self.src.name
            )
        inserts: list[dict] = []
        updates: list[dict] = []
        entries: list[Entry] = []
        # New contracts get their ids here, so their postings can name them at once.
        next_pk = self.raw.next_contract_pk() if self.raw is not None else None
        pg_pks = (
            iter(self.pg.reserve_ids(sum(old is None for _, old in changed))) if self.pg is not None else None
        )
        for row, old in changed:
            new = self.place(row)
            was = (
                NOWHERE
                if old is None
                else Place(
                    old.posted_account_id, old.posted_seller_id, old.posted_value_date, old.posted_points
                )
            )
            if row.blocked is not None and (
                old is None or (new.points and (new.points > was.points or not was.same_spot(new)))
            ):
                # New contracts and new points need an active seller and partner;
                # unchanged rows and cancellations still go through.
                self.reject(row.record, [row.blocked])
                continue
            if old is None:
                self.counts["new"] += 1
                pk = None
                if next_pk is not None:
                    # The driver's insert takes a plain tuple (ids assigned here).
                    pk = next_pk
                    next_pk += 1
                    inserts.append(self.raw.contract_row(pk, row, new, self.summary.batch_id, self.stamp))
                else:
                    values = self.contract_values(row, new, revision=1)
                    if pg_pks is not None:  # PostgreSQL: an id reserved from the sequence
                        pk = values["id"] = next(pg_pks)
                    inserts.append(values)
                if new.points:
                    self.counts["credited"] += 1
                    entries.append(
                        posting(
                            row.contract_id,
                            1,
                            "in",
                            new,
                            new.points,
                            f"{row.product} {_sek(row.amount_ore)} SEK",
                            contract_pk=pk,
                        )
                    )
                continue
            if row.contract_id in again:
                self.reject(
                    row.record,
                    [
                        self.id_error(
                            row.record,
                            f"contract {row.contract_id} appears earlier in this file with other values",
                        )
                    ],
                )
                continue
            revision = old.revision + 1
            if old.last_batch_id is not None:
                self.touched.setdefault(old.last_batch_id, []).append(row.contract_id)
            why = _describe(old, row, self.look)
            for leg, spot, points in legs(was, new):
                entries.append(posting(row.contract_id, revision, leg, spot, points, why, contract_pk=old.id))
            self.counts[outcome(was, new)] += 1
            updates.append({"_pk": old.id, **self.contract_values(row, new, revision=revision)})
        if inserts:
            if self.pg is not None:
                # Ids reserved from the sequence above: COPY straight into contract.
                self.pg.insert_contracts(inserts)
            elif self.raw is not None:
                # Ids assigned here (the write lock is held since BEGIN IMMEDIATE),
                # one driver-level executemany: no per-row SQLAlchemy work.
                self.raw.insert_contracts(inserts)
            else:
                self.session.exec(insert(CONTRACT), params=inserts)
                missing = [e.reference for e in entries if e.contract_pk is None]
                if missing:
                    pks = dict(
                        self.session.exec(
                            select(CONTRACT.c.contract_id, CONTRACT.c.id).where(
                                CONTRACT.c.contract_id.in_(missing)
                            )
                        ).all()
                    )
                    entries = [
                        e if e.contract_pk is not None else replace(e, contract_pk=pks[e.reference])
                        for e in entries
                    ]
        if self.pg is not None:
            self.pg.update_contracts(updates)
        elif self.raw is not None:
            self.raw.update_contracts(updates)
        else:
            _update_contracts(self.session, updates)
        self.ledger.post_many(entries)

    def existing(self, ids: list[str]) -> dict:
        """The stored state of the chunk's contracts that exist, by contract id."""
        if self.raw is not None:
            return self.raw.existing(ids)
        return {
            r.contract_id: tuple(r)
            for r in self.session.exec(_SELECT_EXISTING.where(CONTRACT.c.contract_id.in_(ids)))
        }

    def contract_values(self, row: Row, at: Place, *, revision: int) -> dict:
        return {
            "contract_id": row.contract_id,
            "partner_id": row.partner_id,
            "seller_id": row.seller_id,
            "start_date": row.start_date,
            "amount_ore": row.amount_ore,
            "product": row.product,
            "status": row.status,
            "revision": revision,
            "posted_account_id": at.account_id,
            "posted_seller_id": at.seller_id,
            "posted_value_date": at.value_date,
            "posted_points": at.points,
            "last_batch_id": self.summary.batch_id,
            "updated_at": self.stamp,
        }

    def close(self, *, reapply: bool, skip_invalid: bool) -> BatchSummary:
        self.ledger.flush()
        if self.raw is not None and self.summary.batch_id is not None:
            # Fresh statistics for the query planner where SQLite sees the need;
            # analysis_limit keeps that a sample, not a full scan of the ledger.
            self.raw.cur.execute("PRAGMA analysis_limit = 1000")
            self.raw.cur.execute("PRAGMA optimize")
        summary = self.summary
        summary.start(self.src)
        summary.points_posted = self.ledger.posted_points
        _close_batch(self.session, summary, self.src, touched=self.touched, reapply=reapply)
        if self.src.encoding_used == "cp1252" and not self.src.encoding:
            summary.notes.append("the file is not UTF-8: read as Windows-1252 (Excel's ANSI CSV)")
        return summary.finish(skip_invalid=skip_invalid)


class _SeenIds:
    """Contract ids met earlier in this file, for the duplicate check across
    chunks.  Kept in a temporary table, so memory stays flat however long the
    file is, and the program database is not written."""

    TABLE = "loyaltyctl_import_seen"

    def __init__(self, session: Session) -> None:
        self.session = session
        # SQLite: one b-tree (the key) rather than a rowid table and its index.
        lite = session.connection().dialect.name == "sqlite"
        session.exec(
            text(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.TABLE} (contract_id VARCHAR(64) PRIMARY KEY)"
                + (" WITHOUT ROWID" if lite else "")
            )
        )
        session.exec(text(f"DELETE FROM {self.TABLE}"))
        self._select = text(f"SELECT contract_id FROM {self.TABLE} WHERE contract_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        self._insert = text(f"INSERT INTO {self.TABLE} (contract_id) VALUES (:id)")

    def before(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        conn = self.session.connection()
        if conn.dialect.name == "sqlite" and _ledger.DRIVER_BULK:
            # The driver's cursor: SQLAlchemy would compile an expanding IN of
            # a chunk's 2 000 ids anew for every chunk.
            cur = conn.connection.dbapi_connection.cursor()
            try:
                marks = ", ".join("?" * len(ids))
                cur.execute(f"SELECT contract_id FROM {self.TABLE} WHERE contract_id IN ({marks})", ids)
                return {r[0] for r in cur.fetchall()}
            finally:
                cur.close()
        return set(self.session.exec(self._select, params={"ids": ids}).scalars())

    def add(self, ids: list[str]) -> None:
        if not ids:
            return
        conn = self.session.connection()
        if conn.dialect.name == "sqlite" and _ledger.DRIVER_BULK:
            cur = conn.connection.dbapi_connection.cursor()
            cur.executemany(f"INSERT INTO {self.TABLE} (contract_id) VALUES (?)", [(i,) for i in ids])
            cur.close()
        else:
            self.session.exec(self._insert, params=[{"id": i} for i in ids])

    def add_new(self, ids: list[str]) -> None:
        """``add`` on SQLite's driver, ids met before skipped by the table."""
        if ids:
            cur = self.session.connection().connection.dbapi_connection.cursor()
            try:
                cur.executemany(f"INSERT OR IGNORE INTO {self.TABLE} (contract_id) VALUES (?)", zip(ids))
            finally:
                cur.close()


def _pg_stage(session: Session):
    from ..pgbulk import uses_psycopg

    if not uses_psycopg(session):
        return None
    from .contracts_pg import PgStage

    return PgStage(session)


def _update_contracts(session: Session, changes: list[dict]) -> None:
    """One executemany UPDATE by primary key (``_pk``) for a list of changes."""
    if changes:
        session.exec(
            update(CONTRACT)
            .where(CONTRACT.c.id == bindparam("_pk"))
            .values({k: bindparam(k) for k in changes[0] if k != "_pk"}),
            params=changes,
        )


class _Stored(NamedTuple):
    """A contract as stored (the columns of ``_SELECT_EXISTING``)."""

    id: int
    contract_id: str
    partner_id: int
    seller_id: int
    start_date: date
    amount_ore: int
    product: str
    status: str
    revision: int
    posted_account_id: int | None
    posted_seller_id: int | None
    posted_value_date: date | None
    posted_points: int
    last_batch_id: int | None


class _RawWriter:
    """The hot path on SQLite: the driver's own cursor, inside the session's
    transaction (same connection, same BEGIN IMMEDIATE), for the chunked
    lookups and inserts of the contract import.  Values are stored exactly as
    SQLAlchemy stores them (its own bind processors do the conversion)."""

    def __init__(self, session: Session, dbapi) -> None:
        self.session = session
        self.cur = dbapi.cursor()
        # A bigger page cache for this connection (default 2 MB): the posting
        # and contract indexes of a large program no longer fit in 2 MB.
        self.cur.execute("PRAGMA cache_size = -32768")
        dialect = session.get_bind().dialect
        self._stamp = _processor(CONTRACT.c.updated_at, dialect)
        self._day = _processor(CONTRACT.c.start_date, dialect)
        cols = [c.name for c in _SELECT_EXISTING.selected_columns]
        self._select = f"SELECT {', '.join(cols)} FROM contract WHERE contract_id IN "
        self._select_range = (
            f"SELECT {', '.join(cols[:8])} FROM contract WHERE contract_id >= ? AND contract_id <= ? LIMIT ?"
        )
        self._dates: dict[str, date] = {}
        self._texts: dict[date, str] = {}
        self._stamp_for: object = None
        self._stamp_text: str | None = None
        self._insert_cols = [
            "id",
            "contract_id",
            "partner_id",
            "seller_id",
            "start_date",
            "amount_ore",
            "product",
            "status",
            "revision",
            "posted_account_id",
            "posted_seller_id",
            "posted_value_date",
            "posted_points",
            "last_batch_id",
            "updated_at",
        ]
        self._insert = (
            f"INSERT INTO contract ({', '.join(self._insert_cols)}) "
            f"VALUES ({', '.join('?' * len(self._insert_cols))})"
        )

    @classmethod
    def open(cls, session: Session) -> _RawWriter | None:
        conn = session.connection()
        if conn.dialect.name != "sqlite" or not _ledger.DRIVER_BULK:
            return None
        return cls(session, conn.connection.dbapi_connection)

    def _date(self, text: str | None) -> date | None:
        if text is None:
            return None
        found = self._dates.get(text)
        if found is None:
            found = self._dates[text] = date.fromisoformat(text)
        return found

    def existing(self, ids: list[str]) -> dict[str, tuple]:
        """The columns of ``_SELECT_EXISTING`` as stored (dates as text): compare
        with ``stored_signature``, convert with ``convert``."""
        self.cur.execute(self._select + f"({', '.join('?' * len(ids))})", ids)
        return {r[1]: r for r in self.cur.fetchall()}

    def stored_rows(self, ids: list[str]) -> tuple[dict[str, tuple], bool]:
        """The stored contracts of the ids of records read ahead, by contract
        id, and whether with all of ``existing``'s columns.  Ids in ascending
        order (a file re-imported as exported): a range scan of the index for
        the first eight columns (some stored ids between them too), when the
        range holds no more than about twice as many contracts.  Else
        ``existing`` (an IN list), which ``flush`` then needs not repeat."""
        if len(ids) > 1 and all(a < b for a, b in zip(ids, islice(ids, 1, None), strict=False)):
            limit = 2 * len(ids) + 1
            self.cur.execute(self._select_range, (ids[0], ids[-1], limit))
            rows = self.cur.fetchall()
            if len(rows) < limit:
                return {r[1]: r for r in rows}, False
        return self.existing(ids), True

    def stored_signature(self, row: Row) -> tuple:
        """``row.signature()`` as the database stores it (the date as SQLAlchemy
        writes it), to compare with columns 2-7 of an ``existing`` row."""
        return (
            row.partner_id,
            row.seller_id,
            self._day_text(row.start_date),
            row.amount_ore,
            row.product,
            row.status,
        )

    def convert(self, r: tuple) -> tuple:
        """An ``existing`` row with its dates as dates."""
        when = self._date
        return (*r[:4], when(r[4]), *r[5:11], when(r[11]), *r[12:])

    def next_contract_pk(self) -> int:
        self.cur.execute("SELECT coalesce(max(id), 0) + 1 FROM contract")
        return int(self.cur.fetchone()[0])

    def _day_text(self, d: date) -> str:
        text = self._texts.get(d)
        if text is None:
            text = self._texts[d] = self._day(d)
        return text

    def contract_row(self, pk: int, row: Row, at: Place, batch_id: int | None, stamp) -> tuple:
        """A new contract (revision 1) as the tuple ``insert_contracts`` writes:
        the values of ``_Import.contract_values`` in ``_insert_cols`` order,
        converted as SQLAlchemy converts them."""
        if self._stamp_for is not stamp:
            self._stamp_for, self._stamp_text = stamp, self._stamp(stamp)
        return (
            pk,
            row.contract_id,
            row.partner_id,
            row.seller_id,
            self._day_text(row.start_date),
            row.amount_ore,
            row.product,
            row.status,
            1,
            at.account_id,
            at.seller_id,
            None if at.value_date is None else self._day_text(at.value_date),
            at.points,
            batch_id,
            self._stamp_text,
        )

    def insert_contracts(self, rows: list[tuple]) -> None:
        self.cur.executemany(self._insert, rows)

    def update_contracts(self, changes: list[dict]) -> None:
        """``_update_contracts`` on the driver: one executemany UPDATE by
        primary key (``_pk``), values converted as SQLAlchemy converts them
        (SQLAlchemy would build every row's parameters in Python, 30-40 µs each)."""
        if not changes:
            return
        cols = [k for k in changes[0] if k != "_pk"]
        sql = f"UPDATE contract SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
        day, stamps = self._day_text, {}
        dates = [i for i, c in enumerate(cols) if c in ("start_date", "posted_value_date")]
        stamp_at = cols.index("updated_at") if "updated_at" in cols else None
        rows = []
        for change in changes:
            v = [change[c] for c in cols]
            for i in dates:
                if v[i] is not None:
                    v[i] = day(v[i])
            if stamp_at is not None:
                d = v[stamp_at]
                text = stamps.get(d)
                if text is None:
                    text = stamps[d] = self._stamp(d)
                v[stamp_at] = text
            v.append(change["_pk"])
            rows.append(v)
        self.cur.executemany(sql, rows)


def _close_batch(
    session: Session, summary: BatchSummary, src: CsvInput, *, touched: dict[int, list[str]], reapply: bool
) -> None:
    """Record the file's digest and summary; note an identical earlier file.

    Re-running a file imported before is harmless, but only while nothing
    newer came in: if it would change contracts that a *later* batch changed
    (a cancellation that came after it, say), it would turn the clock back.
    That is refused unless ``reapply``.
    """
    import json

    earlier = (
        session.exec(
            select(Batch.id, Batch.started_at)
            .where(Batch.source_sha256 == src.sha256, Batch.command == summary.command)
            .order_by(Batch.id.desc())
            .limit(1)
        ).first()
        if src.sha256
        else None
    )
    if earlier is not None and summary.changed and not reapply:
        later = sorted(cid for bid, cids in touched.items() if bid > earlier.id for cid in cids)
        if later:
            from ..errors import Refused

            shown = ", ".join(later[:5]) + (f" and {len(later) - 5} more" if len(later) > 5 else "")
            raise Refused(
                f"{src.name} was imported before (batch {earlier.id}, {earlier.started_at:%Y-%m-%d %H:%M}); "
                f"since then later imports changed {len(later)} of its contracts ({shown}), "
                "and importing it again would undo those changes; nothing was written",
                hint="import the newest file instead, or pass --reapply to re-apply this one",
            )
    if earlier is not None and not summary.changed:
        summary.notes.append(
            f"this file was imported before (batch {earlier.id}, {earlier.started_at:%Y-%m-%d %H:%M})"
        )
    if summary.batch_id is not None:
        session.exec(
            update(Batch)
            .where(Batch.id == summary.batch_id)
            .values(
                source_sha256=src.sha256,
                summary=json.dumps({k: v for k, v in summary.as_dict().items() if k != "errors"}),
            )
        )


def show_contract(*, session: Session, contract_id: str) -> dict:
    from sqlalchemy import func

    from ..errors import NotFound
    from ..models import Posting

    c = session.exec(select(Contract).where(Contract.contract_id == contract_id.strip())).scalar()
    if c is None:
        raise NotFound(f"no contract {contract_id.strip()!r}")
    partner = session.get(Partner, c.partner_id)
    seller = session.get(Seller, c.seller_id)
    postings = session.exec(
        select(func.count(), func.coalesce(func.sum(Posting.points), 0)).where(Posting.contract_pk == c.id)
    ).one()
    return {
        "contract_id": c.contract_id,
        "partner": partner.code if partner else None,
        "seller": seller.email if seller else None,
        "start_date": c.start_date.isoformat(),
        "amount_sek": _sek(c.amount_ore),
        "product": c.product,
        "status": c.status,
        "revision": c.revision,
        "points": c.posted_points,
        "postings": int(postings[0]),
        "net_posted": int(postings[1]),
    }


def reroute_partner(*, session: Session, partner_id: int, ledger: Ledger) -> int:
    """After a partner's mode changed: move each earning contract's points to the
    account the new mode routes them to (the partner's pool, or the seller's own
    account), as a reversal and a credit like any other change, so the one rule
    keeps holding.  The postings go to ``ledger`` (the switch's batch; see
    ``services/modes.py``, which moves the other points).  Returns how many
    contracts moved."""
    look = Lookups(session)
    mode = look.partner_mode[partner_id]
    memo = f"partner now {mode}: points move to the {'pool' if mode == 'pooled' else 'seller'}"
    c = CONTRACT.c
    rows = session.exec(
        select(
            c.id,
            c.contract_id,
            c.revision,
            c.posted_account_id,
            c.posted_seller_id,
            c.posted_value_date,
            c.posted_points,
        )
        .where(c.partner_id == partner_id, c.posted_points != 0)
        .order_by(c.id)
    ).all()
    entries: list[Entry] = []
    updates: list[dict] = []
    for row in rows:
        was = Place(row.posted_account_id, row.posted_seller_id, row.posted_value_date, row.posted_points)
        now_at = replace(was, account_id=look.account_for(partner_id, row.posted_seller_id))
        if now_at == was:
            continue
        revision = row.revision + 1
        for leg, spot, points in legs(was, now_at):
            entries.append(posting(row.contract_id, revision, leg, spot, points, memo, contract_pk=row.id))
        updates.append(
            {
                "_pk": row.id,
                "revision": revision,
                "posted_account_id": now_at.account_id,
                "last_batch_id": ledger.batch_id,
                "updated_at": now(),
            }
        )
    _update_contracts(session, updates)
    ledger.post_many(entries)
    return len(updates)
