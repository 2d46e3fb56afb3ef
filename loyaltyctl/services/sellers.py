"""Sellers: the salespeople at partners who write contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from ..clock import now, today
from ..errors import Refused, UsageProblem
from ..importers import fields as F
from ..importers.csv_source import CsvInput
from ..models import Account, Partner, Seller
from .accounts import find_partner, find_seller, seller_account
from .batch import BatchSummary, RejectSink, RowProblems, Upserts, field_error, parse_row

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


def _apply(session: Session, s: SellerIn, partners: dict[str, Partner]) -> tuple[str, str | None, str]:
    """Create or update one seller.  Returns (outcome, problem, column of the problem)."""
    partner = partners.get(s.partner_code)
    if partner is None:
        partner = session.exec(select(Partner).where(Partner.code == s.partner_code)).scalar()
        if partner is None:
            return "refused", f"no partner with code {s.partner_code}", "partner_code"
        partners[s.partner_code] = partner
    seller = session.exec(select(Seller).where(Seller.email == s.email)).scalar()
    if seller is None:
        problem = _check_partner(partner)
        if problem:
            return "refused", problem, "partner_code"
        enrolled = s.enrolled_on or today()
        if enrolled > today():
            return "refused", f"enrolled_on {enrolled} is in the future", "enrolled_on"
        seller = Seller(
            email=s.email,
            name=s.name,
            partner_id=partner.id,
            active=True,
            enrolled_on=enrolled,
            created_at=now(),
        )
        session.add(seller)
        session.flush()
        if partner.mode == "individual":
            seller_account(session, seller)
        return "new", None, ""
    if seller.partner_id != partner.id:
        current = session.get(Partner, seller.partner_id)
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
    seller.name = s.name
    session.add(seller)
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
    outcome, problem, _ = _apply(session, s, {})
    if problem:
        raise Refused(problem)
    return {**show(session=session, email=s.email), "result": outcome}


def import_sellers(
    *, session: Session, src: CsvInput, skip_invalid: bool, on_reject: RejectSink | None = None
) -> BatchSummary:
    run = Upserts("sellers import", src, on_reject)
    partners: dict[str, Partner] = {}
    for record in src.records(REQUIRED, OPTIONAL, ALIASES):
        with run.row(record):
            s = SellerIn(**parse_row(src, record, PARSERS, DEFAULTS))
            run.once(record, "email", s.email, (s.name, s.partner_code, s.enrolled_on))
            outcome, problem, column = _apply(session, s, partners)
            if problem:
                raise RowProblems([field_error(src, record, column, problem)])
            run.count(outcome)
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
