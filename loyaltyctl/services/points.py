"""Balances, history, adjustments and the points calculator."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlmodel import Session

from ..clock import today
from ..errors import Refused, UsageProblem
from ..ledger import Entry, Ledger, new_batch
from ..models import Account, Partner, Posting, Seller
from .accounts import Holder, holder_account, resolve, seller_account
from .earning import Earning
from .rules import load_rulebook


def calculate(*, session: Session, amount: Decimal, product: str | None, on: date) -> dict:
    """What a started contract would earn; nothing is written."""
    if amount <= 0:
        raise UsageProblem("--amount must be positive")
    b = Earning.load(session).breakdown(int(amount * 100), on, product or "")
    return {
        "amount_sek": f"{amount:.2f}",
        "product": product,
        "start_date": on.isoformat(),
        "points_per_1000_sek": b.points_per_1000_sek,
        "volume_points": b.volume_points,
        "count_points": b.count_points,
        "multiplier": str(b.multiplier),
        "campaign": b.campaign,
        "points": b.total,
        "point_value_sek": str(b.point_value_sek),
        "value_sek": f"{b.value_sek:.2f}",
    }


_ACCOUNT_ROWS = (
    select(
        Account.id,
        Account.holder,
        Account.balance,
        Account.held,
        Seller.email,
        Seller.name.label("seller_name"),
        Partner.code,
        Partner.name.label("partner_name"),
    )
    .outerjoin(Seller, Seller.id == Account.seller_id)
    .join(Partner, Partner.id == func.coalesce(Account.partner_id, Seller.partner_id))
)


def _accounts_of(session: Session, holder: Holder | None):
    query = _ACCOUNT_ROWS
    if holder is not None:
        if holder.seller is not None:
            acc = seller_account(session, holder.seller, create=False)
            if acc is None:  # a seller of a pooled partner: the pool holds the points
                holder_account(session, holder)  # raises the explaining error
            query = query.where(Account.seller_id == holder.seller.id)
        else:
            # A partner: its pool, or (individual mode) its sellers' accounts.
            query = query.where(Partner.id == holder.partner.id)
    return session.exec(query.order_by(Partner.code, Seller.email)).all()


def balances(*, session: Session, ref: str | None, on: date | None) -> list[dict]:
    holder = resolve(session, ref) if ref else None
    rows = _accounts_of(session, holder)
    value = load_rulebook(session).decimal("point_value_sek", on or today())
    as_of: dict[int, int] = {}
    if on is not None:
        ids = [r.id for r in rows]
        query = (
            select(Posting.account_id, func.sum(Posting.points))
            .where(Posting.booking_date <= on)
            .group_by(Posting.account_id)
        )
        if holder is not None:
            query = query.where(Posting.account_id.in_(ids))
        as_of = {a: int(s) for a, s in session.exec(query).all()}
    out = []
    for r in rows:
        balance = as_of.get(r.id, 0) if on is not None else int(r.balance)
        held = 0 if on is not None else int(r.held)
        out.append(
            {
                "account": r.email if r.holder == "seller" else r.code,
                "holder": r.seller_name if r.holder == "seller" else r.partner_name,
                "partner": r.code,
                "type": "individual" if r.holder == "seller" else "pooled",
                "balance": balance,
                "held": held,
                "available": balance - held,
                "value_sek": f"{value * balance:.2f}",
                "as_of": (on or today()).isoformat(),
            }
        )
    return out


def history(*, session: Session, ref: str, date_from: date | None, date_to: date | None) -> list[dict]:
    """Postings by booking date with a running balance.  A seller's email names
    their account; a partner code names every account the partner's points are
    in (its pool, or its sellers' accounts in individual mode)."""
    holder = resolve(session, ref)
    accounts = {r.id: (r.email if r.holder == "seller" else r.code) for r in _accounts_of(session, holder)}
    ids = list(accounts)
    query = (
        select(Posting, Seller.email)
        .outerjoin(Seller, Seller.id == Posting.seller_id)
        .where(Posting.account_id.in_(ids))
    )
    if date_from:
        query = query.where(Posting.booking_date >= date_from)
    if date_to:
        query = query.where(Posting.booking_date <= date_to)
    opening = 0
    if date_from:
        opening = int(
            session.exec(
                select(func.coalesce(func.sum(Posting.points), 0)).where(
                    Posting.account_id.in_(ids), Posting.booking_date < date_from
                )
            ).scalar()
        )
    out, running = [], opening
    for p, email in session.exec(query.order_by(Posting.booking_date, Posting.id)).all():
        running += p.points
        out.append(
            {
                "booking_date": p.booking_date.isoformat(),
                "value_date": p.value_date.isoformat(),
                "account": accounts[p.account_id],
                "kind": p.kind,
                "reference": p.reference,
                "seller": email,
                "memo": p.memo,
                "points": p.points,
                "balance": running,
            }
        )
    return out


def adjust(
    *, session: Session, ref: str, points: int, reason: str, actor: str, reference: str | None
) -> dict:
    """A manual correction: a new posting, idempotent per (account, points, reason, day)
    unless an explicit ``reference`` names it."""
    reason = reason.strip()
    if not reason:
        raise UsageProblem("--reason must say why (it is shown on the statement)")
    if len(reason) > 500:
        raise UsageProblem("--reason has at most 500 characters")
    if points == 0:
        raise UsageProblem("an adjustment of 0 points changes nothing")
    holder = resolve(session, ref)
    acc = holder_account(session, holder)
    day = today()
    if reference:
        key = f"adjust:{reference.strip()}"
    else:
        digest = hashlib.sha256(f"{acc.id}|{points}|{reason}|{day}".encode()).hexdigest()[:16]
        key = f"adjust:{holder.ref}:{day}:{digest}"
    if len(key) > 200:
        raise UsageProblem("--ref is too long (at most 190 characters)")
    found = session.exec(
        select(Posting.account_id, Posting.points, Posting.memo).where(Posting.idem_key == key)
    ).first()
    if found is not None:
        if tuple(found) != (acc.id, points, reason):
            raise Refused(
                f"adjustment {key[len('adjust:') :]!r} exists with other values "
                f"({found.points} points, reason {found.memo!r})",
                hint="give this adjustment its own --ref",
            )
        return {
            "account": holder.ref,
            "points": points,
            "reason": reason,
            "key": key,
            "result": "already posted",
            "balance": int(acc.balance),
        }
    if points < 0 and acc.balance - acc.held + points < 0:
        raise Refused(
            f"{holder.ref} has {acc.balance - acc.held} points available; "
            f"an adjustment of {points} would take it below zero"
        )
    batch = new_batch(session, command="points adjust", actor=actor, source=reference)
    ledger = Ledger(session, actor=actor, batch_id=batch, booking_date=day)
    ledger.post(
        Entry(
            idem_key=key,
            account_id=acc.id,
            points=points,
            kind="adjustment",
            value_date=day,
            seller_id=holder.seller.id if holder.seller else None,
            reference=reference,
            memo=reason,
        )
    )
    session.refresh(acc)
    return {
        "account": holder.ref,
        "points": points,
        "reason": reason,
        "key": key,
        "result": "posted",
        "balance": int(acc.balance),
    }
