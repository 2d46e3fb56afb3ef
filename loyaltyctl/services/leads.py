"""Lead tips: a seller tells us about a company that may become a partner.

A tip is ``pending`` until it is accepted (the company became a partner: the
tipping seller is credited ``lead_points``, posting key ``lead:<id>``) or
rejected.  Of several tips for the same organisation number only the first
(not rejected) can be accepted.  Every command is safe to re-run.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlmodel import Session

from ..clock import now, today
from ..errors import NotFound, Refused, UsageProblem
from ..importers import fields as F
from ..ledger import Entry, Ledger, new_batch
from ..models import Lead, Partner, Seller
from .accounts import earning_account, find_seller
from .rules import load_rulebook

STATUSES = ("pending", "accepted", "rejected")
LEAD = Lead.__table__


def _org_number(text: str | None) -> str | None:
    if text is None:
        return None
    value = re.sub(r"[\s-]", "", text)
    if not value:
        return None
    # ASCII only: "５５６６…" (full-width) must not slip past the one-paid-tip check
    # as a number different from "5566…".
    if len(value) > 32 or not (value.isascii() and value.isalnum()):
        raise UsageProblem(
            f"--org-number {text!r}: letters A-Z and digits 0-9 only (spaces and dashes are ignored)"
        )
    return value.upper()


def _dict(lead: Lead, email: str) -> dict:
    return {
        "id": lead.id,
        "seller": email,
        "company": lead.company,
        "org_number": lead.org_number,
        "status": lead.status,
        "points": lead.points,
        "created_on": lead.created_on.isoformat(),
        "decided_on": lead.decided_on.isoformat() if lead.decided_on else None,
        "reason": lead.reason,
        "note": lead.note,
    }


def _get(session: Session, lead_id: int) -> tuple[Lead, Seller]:
    # An id no database column can hold is simply not there (not an overflow).
    lead = session.get(Lead, lead_id) if 0 < lead_id < 2**63 else None
    if lead is None:
        raise NotFound(f"no lead tip #{lead_id}", hint="`loyaltyctl leads list` shows them")
    seller = session.get(Seller, lead.seller_id)
    assert seller is not None
    return lead, seller


def add(
    *, session: Session, email: str, company: str, org_number: str | None, note: str | None, actor: str
) -> dict:
    """Record a tip.  The same tip again (seller, company, org number) is a no-op."""
    try:
        company = F.parse_text(company, max_len=200)
    except F.FieldError as exc:
        raise UsageProblem(f"--company: {exc}") from None
    try:
        if note is not None:
            note = F.parse_text(note, max_len=500, required=False) or None
    except F.FieldError as exc:
        raise UsageProblem(f"--note: {exc}") from None
    org = _org_number(org_number)
    seller = find_seller(session, email)
    org_match = Lead.org_number.is_(None) if org is None else Lead.org_number == org
    same = session.exec(
        select(Lead).where(Lead.seller_id == seller.id, Lead.company == company, org_match)
    ).scalar()
    if same is not None:
        return {**_dict(same, seller.email), "result": "unchanged"}
    _check_can_earn(session, seller, f"tip about {company}", pending=False)
    lead = Lead(
        seller_id=seller.id,
        company=company,
        org_number=org,
        note=note,
        status="pending",
        points=0,
        created_on=today(),
        created_at=now(),
        actor=actor,
    )
    session.add(lead)
    session.flush()
    out = {**_dict(lead, seller.email), "result": "new"}
    if org is not None:
        first = _first_tip(session, org)
        if first is not None and first.id != lead.id:
            out["note"] = (note + "; " if note else "") + f"lead #{first.id} tipped {org} first"
    return out


def _check_can_earn(session: Session, seller: Seller, what: str, *, pending: bool = True) -> Partner:
    """An inactive seller, or a seller of a suspended partner, earns nothing (as
    for contracts and quizzes); the tip stays pending and can be accepted later."""
    partner = session.get(Partner, seller.partner_id)
    assert partner is not None
    if not seller.active:
        raise Refused(
            f"{what}: seller {seller.email} is inactive and cannot be credited",
            hint="reactivate the seller first, or reject the tip" if pending else None,
        )
    if partner.status != "active":
        raise Refused(
            f"{what}: {seller.email}'s partner {partner.code} is {partner.status} and cannot be credited",
            hint="the tip stays pending; accept it when the partner is active again, or reject it"
            if pending
            else None,
        )
    return partner


def _first_tip(session: Session, org: str) -> Lead | None:
    return session.exec(
        select(Lead).where(Lead.org_number == org, Lead.status != "rejected").order_by(Lead.id).limit(1)
    ).scalar()


def list_leads(*, session: Session, status: str | None) -> list[dict]:
    query = select(Lead, Seller.email).join(Seller, Seller.id == Lead.seller_id).order_by(Lead.id)
    if status is not None:
        status = status.strip().lower()
        if status not in STATUSES:
            raise UsageProblem(f"--status {status!r}: one of {', '.join(STATUSES)}")
        query = query.where(Lead.status == status)
    return [_dict(lead, email) for lead, email in session.exec(query).all()]


def accept(*, session: Session, lead_id: int, actor: str) -> dict:
    """The company became a partner: credit the tipping seller ``lead_points``, once."""
    lead, seller = _get(session, lead_id)
    if lead.status == "accepted":
        return {**_dict(lead, seller.email), "result": "unchanged"}
    if lead.status == "rejected":
        raise Refused(f"lead #{lead.id} was rejected on {lead.decided_on} ({lead.reason})")
    if lead.org_number is not None:
        first = _first_tip(session, lead.org_number)
        if first is not None and first.id != lead.id:
            first_seller = session.get(Seller, first.seller_id)
            raise Refused(
                f"lead #{lead.id}: {first_seller.email if first_seller else 'another seller'} tipped "
                f"org number {lead.org_number} first (lead #{first.id}, {first.status}); "
                f"only the first tip can be accepted",
                hint=f"reject it: `loyaltyctl leads reject {lead.id} --reason ...`",
            )
    partner = _check_can_earn(session, seller, f"lead #{lead.id}")
    day = today()
    points = load_rulebook(session).int("lead_points", day)
    batch = new_batch(session, command="leads accept", actor=actor, source=f"lead #{lead.id}")
    if points:
        account = earning_account(session, partner, seller)
        Ledger(session, actor=actor, batch_id=batch, booking_date=day).post(
            Entry(
                idem_key=f"lead:{lead.id}",
                account_id=account.id,
                points=points,
                kind="lead",
                value_date=day,
                seller_id=seller.id,
                reference=f"lead #{lead.id}",
                memo=f"tip: {lead.company}",
            )
        )
    session.exec(
        update(LEAD)
        .where(LEAD.c.id == lead.id, LEAD.c.status == "pending")
        .values(status="accepted", decided_on=day, points=points)
    )
    session.refresh(lead)
    return {**_dict(lead, seller.email), "result": "accepted"}


def reject(*, session: Session, lead_id: int, reason: str, actor: str) -> dict:
    reason = reason.strip()
    if not reason:
        raise UsageProblem("--reason must say why")
    if len(reason) > 500:
        raise UsageProblem("--reason has at most 500 characters")
    lead, seller = _get(session, lead_id)
    if lead.status == "rejected":
        return {**_dict(lead, seller.email), "result": "unchanged"}
    if lead.status == "accepted":
        raise Refused(
            f"lead #{lead.id} was accepted on {lead.decided_on} and credited {lead.points} points",
            hint="take the points back with `points adjust`",
        )
    session.exec(
        update(LEAD).where(LEAD.c.id == lead.id).values(status="rejected", decided_on=today(), reason=reason)
    )
    session.refresh(lead)
    return {**_dict(lead, seller.email), "result": "rejected"}
