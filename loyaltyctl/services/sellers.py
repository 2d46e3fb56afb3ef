"""Sellers: the salespeople at partners who write contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from ..clock import now, today
from ..errors import Refused, UsageProblem
from ..identities import Lookalikes, lookalike_reason
from ..importers import fields as F
from ..importers.csv_source import CsvInput
from ..models import Account, Partner, Seller
from .accounts import find_partner, find_seller, seller_account, seller_lookalikes
from .batch import BatchSummary, RejectSink, RowProblems, Upserts, field_error, parse_row

SELLER = Seller.__table__
ACCOUNT = Account.__table__

REQUIRED = ("email", "name", "partner_code")
OPTIONAL = ("enrolled_on",)
ALIASES = {"partner": "partner_code"}  # as `sellers list` writes it, so its CSV imports back


@dataclass(frozen=True)
class SellerIn:
    email: str
    name: str
    partner_code: str
    enrolled_on: date | None = None


PARSERS = {
    "email": F.parse_email,
    "name": lambda t: F.parse_text(t, max_len=200),
    "partner_code": lambda t: F.parse_code(t, what="partner code"),
    "enrolled_on": F.parse_date,
}
DEFAULTS: dict[str, object] = {"enrolled_on": None}


def _check_partner(partner: Partner) -> str | None:
    if partner.status != "active":
        return f"partner {partner.code} is suspended"
    if partner.mode == "individual" and not partner.consent:
        return (
            f"partner {partner.code} has not consented to its staff taking part "
            f"(individual mode needs consent)"
        )
    return None


@dataclass(slots=True)
class _Stored:
    """What an import needs of a stored (or just added) seller."""

    partner_id: int
    name: str
    enrolled_on: date
    id: int | None  # None until the batch's new sellers are written


def _partners(session: Session, query) -> dict[str, Partner]:
    return {p.code: p for p in session.exec(query).scalars()}


def _sellers(session: Session, *where) -> dict[str, _Stored]:
    query = select(Seller.id, Seller.email, Seller.name, Seller.partner_id, Seller.enrolled_on).where(*where)
    return {
        email: _Stored(partner_id, name, enrolled_on, sid)
        for sid, email, name, partner_id, enrolled_on in session.exec(query)
    }


class _Book:
    """Partners and sellers loaded once, and the writes a run collects.

    New sellers (and the own accounts of individual-mode partners' sellers)
    and renames are written together by ``flush``: a few statements for the
    whole file instead of a query and a flush per row."""

    CHUNK = 10_000  # pending writes kept in memory before they go out

    def __init__(self, session: Session, partners: dict[str, Partner], sellers: dict[str, _Stored]) -> None:
        self.session = session
        self.partners = partners
        self.sellers = sellers
        self.new: list[tuple[dict, bool]] = []  # (seller row, needs an own account)
        self.renamed: dict[int, str] = {}
        self._twins: Lookalikes | None = None

    def twins(self) -> Lookalikes:
        """Every stored seller's address by skeleton: built (one query) when
        the run first meets a new address; the run's new sellers join it."""
        if self._twins is None:
            self._twins = seller_lookalikes(self.session)
        return self._twins

    @classmethod
    def everything(cls, session: Session) -> _Book:
        return cls(session, _partners(session, select(Partner)), _sellers(session))

    @classmethod
    def one(cls, session: Session, s: SellerIn) -> _Book:
        """Only what ``sellers add`` of one seller needs."""
        return cls(
            session,
            _partners(session, select(Partner).where(Partner.code == s.partner_code)),
            _sellers(session, Seller.email == s.email),
        )

    def add(self, row: dict, own_account: bool) -> None:
        self.new.append((row, own_account))
        if len(self.new) >= self.CHUNK:
            self.flush()

    def rename(self, stored: _Stored, name: str) -> None:
        if stored.id is None:  # added by this run and not written yet
            self.flush()
        assert stored.id is not None
        stored.name = name
        self.renamed[stored.id] = name
        if len(self.renamed) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.new:
            rows = [row for row, _ in self.new]
            ids = (
                self.session.exec(
                    insert(SELLER).returning(SELLER.c.id, sort_by_parameter_order=True), params=rows
                )
                .scalars()
                .all()
            )
            accounts = []
            for (row, own_account), sid in zip(self.new, ids, strict=True):
                self.sellers[row["email"]].id = sid
                if own_account:
                    accounts.append(
                        {"holder": "seller", "seller_id": sid, "partner_id": None, "balance": 0, "held": 0}
                    )
            if accounts:
                self.session.exec(insert(ACCOUNT), params=accounts)
            self.new = []
        if self.renamed:
            self.session.exec(
                update(SELLER).where(SELLER.c.id == bindparam("_pk")).values(name=bindparam("name")),
                params=[{"_pk": sid, "name": name} for sid, name in self.renamed.items()],
            )
            # A seller this session already holds must not keep its old name.
            for sid in self.renamed:
                held = self.session.identity_map.get(identity_key(Seller, sid))
                if held is not None:
                    self.session.expire(held, ["name"])
            self.renamed = {}


def _apply(book: _Book, s: SellerIn) -> tuple[str, str | None, str]:
    """Create or update one seller.  Returns (outcome, problem, column of the problem)."""
    partner = book.partners.get(s.partner_code)
    if partner is None:
        return "refused", f"no partner with code {s.partner_code}", "partner_code"
    seller = book.sellers.get(s.email)
    if seller is None:
        problem = _check_partner(partner)
        if problem:
            return "refused", problem, "partner_code"
        enrolled = s.enrolled_on or today()
        if enrolled > today():
            return "refused", f"enrolled_on {enrolled} is in the future", "enrolled_on"
        twins = book.twins()
        twin = twins.twin(s.email)
        if twin is not None:
            return "refused", lookalike_reason(s.email, twin), "email"
        twins.add(s.email)
        assert partner.id is not None
        book.sellers[s.email] = _Stored(partner.id, s.name, enrolled, None)
        book.add(
            {
                "email": s.email,
                "name": s.name,
                "partner_id": partner.id,
                "active": True,
                "enrolled_on": enrolled,
                "created_at": now(),
            },
            own_account=partner.mode == "individual",
        )
        return "new", None, ""
    if seller.partner_id != partner.id:
        current = book.session.get(Partner, seller.partner_id)
        return (
            "refused",
            f"{s.email} already belongs to partner {current.code if current else '?'}",
            "partner_code",
        )
    if s.enrolled_on is not None and s.enrolled_on != seller.enrolled_on:
        return (
            "refused",
            f"{s.email} was enrolled on {seller.enrolled_on}, not {s.enrolled_on}",
            "enrolled_on",
        )
    if seller.name == s.name:
        return "unchanged", None, ""
    book.rename(seller, s.name)
    return "updated", None, ""


def add(*, session: Session, seller_in: SellerIn) -> dict:
    try:
        s = SellerIn(
            email=F.parse_email(seller_in.email),
            name=F.parse_text(seller_in.name, max_len=200),
            partner_code=F.parse_code(seller_in.partner_code, what="partner code"),
            enrolled_on=seller_in.enrolled_on,
        )
    except F.FieldError as exc:
        raise UsageProblem(f"seller {seller_in.email!r}: {exc}") from None
    find_partner(session, s.partner_code)  # a clear "not found" first
    book = _Book.one(session, s)
    outcome, problem, _ = _apply(book, s)
    if problem:
        raise Refused(problem)
    book.flush()
    return {**show(session=session, email=s.email), "result": outcome}


def import_sellers(
    *, session: Session, src: CsvInput, skip_invalid: bool, on_reject: RejectSink | None = None
) -> BatchSummary:
    run = Upserts("sellers import", src, on_reject)
    # Every partner and seller loaded once (a program has thousands, not
    # millions): one query each instead of a query and a flush per row.
    book = _Book.everything(session)
    for record in src.records(REQUIRED, OPTIONAL, ALIASES):
        with run.row(record):
            s = SellerIn(**parse_row(src, record, PARSERS, DEFAULTS))
            run.once(record, "email", s.email, (s.name, s.partner_code, s.enrolled_on))
            outcome, problem, column = _apply(book, s)
            if problem:
                raise RowProblems([field_error(src, record, column, problem)])
            run.count(outcome)
    book.flush()
    return run.finish(skip_invalid=skip_invalid)


def _row(seller: Seller, partner: Partner, account: Account | None) -> dict:
    return {
        "email": seller.email,
        "name": seller.name,
        "partner": partner.code,
        "mode": partner.mode,
        "active": seller.active,
        "enrolled_on": seller.enrolled_on.isoformat(),
        "balance": account.balance if account else None,
    }


def list_sellers(*, session: Session, partner_code: str | None = None) -> list[dict]:
    query = (
        select(Seller, Partner, Account)
        .join(Partner, Partner.id == Seller.partner_id)
        .outerjoin(Account, Account.seller_id == Seller.id)
        .order_by(Partner.code, Seller.email)
    )
    if partner_code:
        query = query.where(Partner.id == find_partner(session, partner_code).id)
    return [_row(s, p, a) for s, p, a in session.exec(query).all()]


def show(*, session: Session, email: str) -> dict:
    seller = find_seller(session, email)
    partner = session.get(Partner, seller.partner_id)
    assert partner is not None
    return _row(seller, partner, seller_account(session, seller, create=False))


def set_active(*, session: Session, email: str, active: bool) -> dict:
    seller = find_seller(session, email)
    if seller.active == active:
        return {**show(session=session, email=email), "result": "unchanged"}
    if active:
        partner = session.get(Partner, seller.partner_id)
        assert partner is not None
        problem = _check_partner(partner)
        if problem:
            raise Refused(problem)
    seller.active = active
    session.add(seller)
    session.flush()
    return {**show(session=session, email=email), "result": "updated"}
