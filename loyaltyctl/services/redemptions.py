"""Redemptions: spending points on catalog items.

A request holds its points (``account.held``) and its stock (``reserved``) at
once, at the price of the day; available = balance - held.  Approval posts a
``redemption`` posting of -points (idempotency key ``redemption:ID``), releases
the hold and consumes the stock; rejection releases both.  Deciding a request
the same way twice changes nothing; the other way is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session

from ..clock import now, today
from ..errors import NotFound, Refused, UsageProblem
from ..importers import fields as F
from ..importers.csv_source import CsvInput, Record
from ..ledger import Entry, Ledger, new_batch
from ..models import Account, CatalogItem, Partner, Redemption, Seller
from .accounts import AccountIds, holder_account, resolve
from .batch import BatchSummary, RejectSink, RowProblems, Upserts, field_error, parse_row
from .catalog import find_item, parse_sku

REDEMPTION = Redemption.__table__
ACCOUNT = Account.__table__
CATALOG_ITEM = CatalogItem.__table__

STATUSES = ("pending", "approved", "rejected")
REQUIRED = ("request_id", "account", "sku", "quantity")
OPTIONAL = ("requested_at",)


def _quantity(text: str) -> int:
    value = F.parse_whole(text)
    if value <= 0:
        raise F.FieldError("must be at least 1")
    if value > 1_000_000:
        raise F.FieldError("is more than 1 000 000")
    return value


def _request_id(text: str) -> str:
    return F.parse_code(text, what="request id")


def _account_ref(text: str) -> str:
    value = F.unneutralise(text.strip())
    if not value:
        raise F.FieldError("empty")
    return value


PARSERS = {
    "request_id": _request_id,
    "account": _account_ref,
    "sku": parse_sku,
    "quantity": _quantity,
    "requested_at": F.parse_date,
}
DEFAULTS: dict[str, object] = {"requested_at": None}


def lock_account(account_id: int):
    """The availability check's query.  It locks the account row until the
    command's transaction ends (``FOR UPDATE``), so two requests on one account
    cannot both pass the check on a server database; on SQLite (which renders
    no ``FOR UPDATE``) the command already holds the write lock from its first
    statement (``BEGIN IMMEDIATE``)."""
    return select(Account.balance, Account.held).where(Account.id == account_id).with_for_update()


def lock_item(sku: str):
    """The stock check's query, locked like ``lock_account``."""
    return (
        select(CatalogItem)
        .where(CatalogItem.sku == sku)
        .with_for_update()
        .execution_options(populate_existing=True)  # the row as it is now
    )


def _available(session: Session, account_id: int) -> tuple[int, int]:
    balance, held = session.exec(lock_account(account_id)).one()
    return int(balance), int(held)


def _next_id(session: Session) -> str:
    n = int(session.exec(select(func.count()).select_from(Redemption)).scalar()) + 1
    while session.get(Redemption, f"R{n:06d}") is not None:
        n += 1
    return f"R{n:06d}"


class Problem(Exception):
    """Why one request cannot be made: the column to blame and the reason."""

    def __init__(self, column: str, reason: str, exit_code: int = 4) -> None:
        super().__init__(reason)
        self.column, self.reason, self.exit_code = column, reason, exit_code


# The checks a request meets, shared by ``redemptions request`` (one request,
# a query each) and ``redemptions import`` (values loaded once, see _FileRequests).
def _conflict(rid: str, quantity: int, sku: str) -> Problem:
    return Problem("request_id", f"request {rid} exists for {quantity} x {sku} on another account or item")


def _no_item(session: Session, sku: str) -> Problem:
    try:
        find_item(session, sku)  # raises the explaining NotFound
    except NotFound as exc:
        return Problem("sku", exc.message, exc.exit_code)
    raise AssertionError(f"catalog item {sku} exists")  # pragma: no cover - the caller did not find it


def _check_active(item) -> None:
    if not item.active:
        raise Problem("sku", f"{item.sku} is not available (inactive)")


def _check_enough(ref: str, item, quantity: int, balance: int, held: int, reserved: int) -> int:
    """Points and stock for ``quantity`` of an active ``item``; returns the cost."""
    cost = item.points * quantity
    if cost > balance - held:
        raise Problem(
            "quantity",
            f"{ref} has {balance - held} points available (balance {balance}, held {held}); "
            f"{quantity} x {item.sku} costs {cost}",
        )
    if item.stock is not None and reserved + quantity > item.stock:
        raise Problem(
            "quantity",
            f"{item.sku} has {item.stock - reserved} in stock not reserved; {quantity} requested",
        )
    return cost


def _reserve(
    session: Session,
    *,
    ref: str,
    sku: str,
    quantity: int,
    rid: str | None,
    requested_at: datetime | None,
    actor: str,
) -> tuple[str, Redemption]:
    """Check, then hold points and stock for one request.  Raises ``Problem``
    (nothing written) or returns ("new"|"unchanged", redemption)."""
    try:
        holder = resolve(session, ref)
        acc = holder_account(session, holder)
    except (NotFound, Refused) as exc:
        raise Problem("account", exc.message, exc.exit_code) from None
    if rid is not None:
        found = session.get(Redemption, rid)
        if found is not None:
            if (found.account_id, found.sku, found.quantity) == (acc.id, sku, quantity):
                return "unchanged", found
            raise _conflict(rid, found.quantity, found.sku)
    item = session.exec(lock_item(sku)).scalar_one_or_none()
    if item is None:
        raise _no_item(session, sku)
    _check_active(item)
    balance, held = _available(session, acc.id)
    cost = _check_enough(holder.ref, item, quantity, balance, held, item.reserved)
    red = Redemption(
        id=rid or _next_id(session),
        account_id=acc.id,
        sku=item.sku,
        quantity=quantity,
        unit_points=item.points,
        points=cost,
        status="pending",
        requested_at=requested_at or now(),
        actor=actor,
    )
    session.add(red)
    session.exec(update(Account).where(Account.id == acc.id).values(held=Account.held + cost))
    session.exec(
        update(CatalogItem).where(CatalogItem.id == item.id).values(reserved=CatalogItem.reserved + quantity)
    )
    session.flush()
    session.expire(item)
    return "new", red


def request(
    *, session: Session, ref: str, sku: str, quantity: int, actor: str, request_id: str | None = None
) -> dict:
    if quantity <= 0:
        raise UsageProblem("--qty must be at least 1")
    rid = None
    if request_id is not None:
        try:
            rid = _request_id(request_id)
        except F.FieldError as exc:
            raise UsageProblem(f"--id {request_id!r}: {exc}") from None
    try:
        outcome, red = _reserve(
            session,
            ref=ref,
            sku=sku.strip().upper(),
            quantity=quantity,
            rid=rid,
            requested_at=None,
            actor=actor,
        )
    except Problem as p:
        err = NotFound(p.reason) if p.exit_code == 3 else Refused(p.reason)
        raise err from None
    return {**_one(session, red.id), "result": "requested" if outcome == "new" else "unchanged"}


class _Stock:
    """A catalog item as the checks of a file see it: ``reserved`` counts the
    rows of the file taken so far."""

    __slots__ = ("id", "sku", "points", "stock", "reserved", "active")

    def __init__(self, id: int, sku: str, points: int, stock: int | None, reserved: int, active: bool):
        self.id, self.sku, self.points, self.stock = id, sku, int(points), stock
        self.reserved, self.active = int(reserved), active


class _Row(NamedTuple):
    rid: str
    ref: str  # the holder as a message names it
    account_id: int
    sku: str
    quantity: int
    at: datetime | None


# Keys per IN (...) lookup (under SQLite's 999 parameters).
_CHUNK = 500


def _chunks(keys: list) -> Iterator[list]:
    for i in range(0, len(keys), _CHUNK):
        yield keys[i : i + _CHUNK]


class _FileRequests:
    """A file of requests, with the checks of ``_reserve`` in file order: what
    the run needs is loaded once (sellers, partners, accounts, the file's
    existing requests, the items and accounts it spends, locked as ``_reserve``
    locks them), each row is checked against running values (a request taken
    earlier in the file holds its points and stock for the rows after it), and
    the new requests and their holds are written in a few statements at
    ``flush()``."""

    def __init__(self, session: Session, actor: str) -> None:
        self.session = session
        self.actor = actor
        self.sellers = {r.email: r for r in session.exec(select(Seller.id, Seller.email, Seller.partner_id))}
        self.partners = {r.id: r for r in session.exec(select(Partner.id, Partner.code, Partner.mode)).all()}
        self.codes = {r.code: r for r in self.partners.values()}
        self.accounts = AccountIds.load(session)
        self.existing: dict[str, tuple[int, str, int]] = {}
        self.items: dict[str, _Stock] = {}
        self.available: dict[int, list[int]] = {}  # account id -> [balance, held]
        self.new: list[dict] = []

    def holder(self, ref: str) -> tuple[str, int]:
        """``resolve`` + ``holder_account`` from the loaded dicts: the holder's
        name and account id.  Anything but a plain hit (an unknown name, a
        refusal, an account not opened yet) asks them, for their message or
        their new account."""
        if "@" in ref:
            seller = self.sellers.get(ref.strip().lower())
            if seller is not None and self.partners[seller.partner_id].mode != "pooled":
                found = self.accounts.own.get(seller.id)
                if found is not None:
                    return seller.email, found
        else:
            partner = self.codes.get(ref.strip().upper())
            if partner is not None and partner.mode == "pooled":
                found = self.accounts.pool.get(partner.id)
                if found is not None:
                    return partner.code, found
        try:
            holder = resolve(self.session, ref)
            acc = holder_account(self.session, holder)
        except (NotFound, Refused) as exc:
            raise Problem("account", exc.message, exc.exit_code) from None
        return holder.ref, self.accounts.opened(acc)

    def load(self, rows: list[_Row]) -> None:
        """The file's existing requests; then, locked, the items and accounts
        that ``_reserve`` would lock: the items of the rows whose request is
        not stored yet, and the accounts of those whose item is active."""
        session = self.session
        for chunk in _chunks(sorted({r.rid for r in rows})):
            for rid, account_id, sku, quantity in session.exec(
                select(Redemption.id, Redemption.account_id, Redemption.sku, Redemption.quantity).where(
                    Redemption.id.in_(chunk)
                )
            ).all():
                self.existing[rid] = (account_id, sku, quantity)
        asks = [r for r in rows if r.rid not in self.existing]
        for chunk in _chunks(sorted({r.sku for r in asks})):
            query = select(
                CatalogItem.id,
                CatalogItem.sku,
                CatalogItem.points,
                CatalogItem.stock,
                CatalogItem.reserved,
                CatalogItem.active,
            ).where(CatalogItem.sku.in_(chunk))
            for row in session.exec(query.order_by(CatalogItem.id).with_for_update()).all():
                self.items[row.sku] = _Stock(*row)
        spend = sorted(
            {r.account_id for r in asks if (item := self.items.get(r.sku)) is not None and item.active}
        )
        for chunk in _chunks(spend):
            query = select(Account.id, Account.balance, Account.held).where(Account.id.in_(chunk))
            for acc_id, balance, held in session.exec(query.order_by(Account.id).with_for_update()).all():
                self.available[acc_id] = [int(balance), int(held)]

    def take(self, row: _Row) -> str:
        """Check one request against the running values; ``new`` (held for the
        rows after it) or ``unchanged``.  Raises ``Problem``."""
        found = self.existing.get(row.rid)
        if found is not None:
            if found == (row.account_id, row.sku, row.quantity):
                return "unchanged"
            raise _conflict(row.rid, found[2], found[1])
        item = self.items.get(row.sku)
        if item is None:
            raise _no_item(self.session, row.sku)
        _check_active(item)
        money = self.available[row.account_id]
        cost = _check_enough(row.ref, item, row.quantity, money[0], money[1], item.reserved)
        money[1] += cost
        item.reserved += row.quantity
        self.existing[row.rid] = (row.account_id, item.sku, row.quantity)
        self.new.append(
            {
                "id": row.rid,
                "account_id": row.account_id,
                "sku": item.sku,
                "quantity": row.quantity,
                "unit_points": item.points,
                "points": cost,
                "status": "pending",
                "requested_at": row.at or now(),
                "decided_at": None,
                "reason": None,
                "actor": self.actor,
            }
        )
        return "new"

    def flush(self) -> None:
        if not self.new:
            return
        session = self.session
        session.exec(insert(REDEMPTION), params=self.new)
        held: dict[int, int] = defaultdict(int)
        reserved: dict[str, int] = defaultdict(int)
        for red in self.new:
            held[red["account_id"]] += red["points"]
            reserved[red["sku"]] += red["quantity"]
        session.exec(
            update(ACCOUNT)
            .where(ACCOUNT.c.id == bindparam("_id"))
            .values(held=ACCOUNT.c.held + bindparam("_d")),
            params=[{"_id": acc, "_d": d} for acc, d in sorted(held.items())],
        )
        session.exec(
            update(CATALOG_ITEM)
            .where(CATALOG_ITEM.c.id == bindparam("_id"))
            .values(reserved=CATALOG_ITEM.c.reserved + bindparam("_d")),
            params=[{"_id": self.items[sku].id, "_d": d} for sku, d in sorted(reserved.items())],
        )
        self.new = []


def import_requests(
    *, session: Session, src: CsvInput, skip_invalid: bool, actor: str, on_reject: RejectSink | None = None
) -> BatchSummary:
    run = Upserts("redemptions import", src, on_reject)
    run.summary.counts = {"new": 0, "unchanged": 0}
    reqs = _FileRequests(session, actor)
    # First pass, in file order: each row parsed and its holder found (the
    # checks that need no stored request, item or balance), or its problems.
    rows: list[tuple[Record, _Row | RowProblems]] = []
    for record in src.records(REQUIRED, OPTIONAL):
        try:
            v = parse_row(src, record, PARSERS, DEFAULTS)
            run.once(record, "request_id", v["request_id"], (v["account"], v["sku"], v["quantity"]))
            when = v["requested_at"]
            if when is not None and when > today():
                raise RowProblems([field_error(src, record, "requested_at", f"{when} is in the future")])
            at = datetime(when.year, when.month, when.day, tzinfo=UTC) if when is not None else None
            try:
                ref, account_id = reqs.holder(v["account"])
            except Problem as p:
                raise RowProblems([field_error(src, record, p.column, p.reason)]) from None
            rows.append((record, _Row(v["request_id"], ref, account_id, v["sku"], v["quantity"], at)))
        except RowProblems as problems:
            rows.append((record, problems))
    reqs.load([row for _, row in rows if isinstance(row, _Row)])
    # Second pass, in file order: the checks against running values.
    for record, row in rows:
        with run.row(record):
            if isinstance(row, RowProblems):
                raise row
            try:
                outcome = reqs.take(row)
            except Problem as p:
                raise RowProblems([field_error(src, record, p.column, p.reason)]) from None
            run.count(outcome)
    reqs.flush()
    return run.finish(skip_invalid=skip_invalid)


def _load(session: Session, ids: list[str], *, lock: bool = True) -> list[Redemption]:
    out, seen = [], set()
    for raw in ids:
        rid = raw.strip().upper()
        if rid in seen:
            continue
        seen.add(rid)
        # Locked until the command ends (FOR UPDATE; SQLite: BEGIN IMMEDIATE),
        # so two approvers cannot both decide one request.
        query = select(Redemption).where(Redemption.id == rid)
        red = session.exec(query.with_for_update() if lock else query).scalar_one_or_none()
        if red is None:
            raise NotFound(f"no redemption request {rid!r}", hint="`loyaltyctl redemptions list` shows them")
        out.append(red)
    if not out:
        raise UsageProblem("name at least one request id")
    return out


def shortfall(session: Session, red: Redemption) -> int:
    """How many points the account's balance lacks for approving ``red`` (0: none).

    A request held its points when it was made, but a contract cancelled or
    changed since may have taken them back (a clawback): approval never takes a
    balance below zero.  The balance is read afresh and locked (an approval
    earlier in the same command has already been debited)."""
    balance, _held = _available(session, red.account_id)
    return max(0, red.points - balance)


def _decide(session: Session, red: Redemption, *, approve: bool, reason: str | None, actor: str) -> str:
    """Decide one pending request; ``unchanged`` if it was already decided this way."""
    want = "approved" if approve else "rejected"
    if red.status == want:
        return "unchanged"
    if red.status != "pending":
        raise Refused(
            f"request {red.id} was already {red.status} on {red.decided_at:%Y-%m-%d}; it cannot be {want}",
            hint="a decided request stays decided; a correction is `points adjust`",
        )
    if approve:
        short = shortfall(session, red)
        if short:
            account = _one(session, red.id)["account"]
            raise Refused(
                f"request {red.id} ({account}) costs {red.points} points, but the balance is "
                f"{red.points - short}: approving it would leave -{short} (points it held were taken "
                "back since it was made, e.g. by a cancelled contract); nothing was approved",
                hint=f"reject it: loyaltyctl redemptions reject {red.id} --reason TEXT",
            )
    item = session.exec(lock_item(red.sku)).scalar()
    if approve:
        acc = session.get(Account, red.account_id)
        assert acc is not None
        batch = new_batch(session, command="redemptions approve", actor=actor, source=red.id)
        ledger = Ledger(session, actor=actor, batch_id=batch)
        name = item.name if item is not None else red.sku
        ledger.post(
            Entry(
                idem_key=f"redemption:{red.id}",
                account_id=red.account_id,
                points=-red.points,
                kind="redemption",
                value_date=today(),
                seller_id=acc.seller_id,  # a seller's own account: the points were theirs
                reference=red.id,
                memo=f"{red.quantity} x {red.sku} {name}"[:500],
            )
        )
    session.exec(update(Account).where(Account.id == red.account_id).values(held=Account.held - red.points))
    if item is not None:
        values = {"reserved": CatalogItem.reserved - red.quantity}
        if approve and item.stock is not None:
            values["stock"] = CatalogItem.stock - red.quantity
        session.exec(update(CatalogItem).where(CatalogItem.id == item.id).values(**values))
        session.expire(item)
    red.status = want
    red.decided_at = now()
    red.reason = reason
    red.actor = actor
    session.add(red)
    session.flush()
    return want


def decide(
    *, session: Session, ids: list[str], approve: bool, actor: str, reason: str | None = None
) -> list[dict]:
    """All or nothing: the caller's one transaction rolls back on any refusal."""
    if not approve:
        reason = (reason or "").strip()
        if not reason:
            raise UsageProblem("--reason must say why (the holder is told)")
        if len(reason) > 500:
            raise UsageProblem("--reason has at most 500 characters")
    out = []
    for red in _load(session, ids):
        result = _decide(session, red, approve=approve, reason=reason, actor=actor)
        out.append({**_one(session, red.id), "result": result})
    return out


_ROWS = (
    select(
        Redemption,
        Account.holder,
        Account.balance,
        Account.held,
        Seller.email,
        Seller.name.label("seller_name"),
        Partner.code,
        Partner.name.label("partner_name"),
        CatalogItem.name.label("item_name"),
    )
    .join(Account, Account.id == Redemption.account_id)
    .outerjoin(Seller, Seller.id == Account.seller_id)
    .join(Partner, Partner.id == func.coalesce(Account.partner_id, Seller.partner_id))
    .outerjoin(CatalogItem, CatalogItem.sku == Redemption.sku)
)


def _as_dict(row) -> dict:
    red: Redemption = row[0]
    seller = row.holder == "seller"
    return {
        "id": red.id,
        "account": row.email if seller else row.code,
        "holder": row.seller_name if seller else row.partner_name,
        "partner": row.code,
        "sku": red.sku,
        "item": row.item_name,
        "quantity": red.quantity,
        "unit_points": red.unit_points,
        "points": red.points,
        "status": red.status,
        "requested_at": red.requested_at.isoformat(),
        "decided_at": red.decided_at.isoformat() if red.decided_at else None,
        "reason": red.reason,
        "actor": red.actor,
        "balance": int(row.balance),
        "available": int(row.balance) - int(row.held),
    }


def _one(session: Session, rid: str) -> dict:
    return _as_dict(session.exec(_ROWS.where(Redemption.id == rid)).one())


def list_requests(*, session: Session, status: str | None = None) -> list[dict]:
    query = _ROWS.order_by(Redemption.requested_at, Redemption.id)
    if status:
        if status not in STATUSES:
            raise UsageProblem(f"--status {status!r}: one of " + ", ".join(STATUSES))
        query = query.where(Redemption.status == status)
    return [_as_dict(r) for r in session.exec(query).all()]


def pending_ids(*, session: Session) -> list[str]:
    """The review queue, oldest first."""
    return list(
        session.exec(
            select(Redemption.id)
            .where(Redemption.status == "pending")
            .order_by(Redemption.requested_at, Redemption.id)
        ).scalars()
    )


def show(*, session: Session, rid: str) -> dict:
    red = _load(session, [rid], lock=False)  # a read: no row lock (nor a write transaction)
    return _one(session, red[0].id)


def confirm_above(*, session: Session) -> int:
    """``redemptions review`` asks to confirm an approval costing more points
    than this (the rule ``review_confirm_points`` in force today)."""
    from .rules import load_rulebook

    return load_rulebook(session).int("review_confirm_points", today())
