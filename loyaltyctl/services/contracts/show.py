"""One contract as last imported, with the points it holds in the ledger."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from ...errors import NotFound
from ...models import Contract, Partner, Posting, Seller
from .rule import sek


def show_contract(*, session: Session, contract_id: str) -> dict:
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
        "amount_sek": sek(c.amount_ore),
        "product": c.product,
        "status": c.status,
        "revision": c.revision,
        "points": c.posted_points,
        "postings": int(postings[0]),
        "net_posted": int(postings[1]),
    }
