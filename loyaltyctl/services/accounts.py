"""Who holds points, and how a name on the command line finds its account.

* A partner in ``pooled`` mode holds one account for its whole team; its
  sellers' points go there (still attributed to the seller, for leaderboards).
* A partner in ``individual`` mode lets each seller hold an own account.

Accounts are created when a partner or seller comes into the mode that needs
one; an account that once held points is never removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from ..errors import NotFound, Refused
from ..identities import Lookalikes
from ..models import Account, Partner, Seller


@dataclass(frozen=True)
class Holder:
    """A resolved command-line reference: an email or a partner code."""

    ref: str
    partner: Partner
    seller: Seller | None


@dataclass
class AccountIds:
    """Every account's id, by holder: ``own`` by seller id, ``pool`` by partner
    id.  One query, for commands that look up many holders (imports)."""

    own: dict[int, int]
    pool: dict[int, int]

    @classmethod
    def load(cls, session: Session) -> AccountIds:
        own: dict[int, int] = {}
        pool: dict[int, int] = {}
        for aid, sid, pid in session.exec(select(Account.id, Account.seller_id, Account.partner_id)):
            if sid is not None:
                own[sid] = aid
            else:
                pool[pid] = aid
        return cls(own, pool)

    def earning(self, pooled: bool, partner_id: int, seller_id: int) -> int | None:
        """The account a seller's new points go to, if it is open."""
        return self.pool.get(partner_id) if pooled else self.own.get(seller_id)

    def opened(self, account: Account) -> int:
        """Note an account opened since ``load``; returns its id."""
        assert account.id is not None
        if account.seller_id is not None:
            self.own[account.seller_id] = account.id
        else:
            assert account.partner_id is not None
            self.pool[account.partner_id] = account.id
        return account.id


def find_partner(session: Session, code: str) -> Partner:
    partner = session.exec(select(Partner).where(Partner.code == code.strip().upper())).scalar()
    if partner is None:
        raise NotFound(
            f"no partner with code {code.strip().upper()!r}", hint="`loyaltyctl partners list` shows them"
        )
    return partner


def find_seller(session: Session, email: str) -> Seller:
    """The seller of an address, looked up exactly as normalised (see
    ``identities``).  Not found: an address no seller can have says why, and
    a look-alike of a seller's address names that seller."""
    from ..importers.fields import FieldError, parse_email

    hint = "`loyaltyctl sellers list` shows them"
    try:
        key = parse_email(email)
    except FieldError as exc:
        raise NotFound(f"no such seller: {exc}", hint=hint) from None
    seller = session.exec(select(Seller).where(Seller.email == key)).scalar()
    if seller is None:
        raise NotFound(unknown_seller(key, seller_lookalikes(session)), hint=hint)
    return seller


def seller_lookalikes(session: Session) -> Lookalikes:
    """Every seller's address by its confusable skeleton (one query)."""
    return Lookalikes(session.exec(select(Seller.email)).scalars())


def unknown_seller(email: str, twins: Lookalikes) -> str:
    """'no seller with email ...', naming the seller it looks like, if any."""
    twin = twins.twin(email)
    if twin is None:
        return f"no seller with email {email!r}"
    return f"no seller with email {email!r}; it looks like the address of seller {twin} (a look-alike)"


def resolve(session: Session, ref: str) -> Holder:
    """``EMAIL`` → a seller; anything else → a partner code."""
    if "@" in ref:
        seller = find_seller(session, ref)
        partner = session.get(Partner, seller.partner_id)
        assert partner is not None
        return Holder(seller.email, partner, seller)
    partner = find_partner(session, ref)
    return Holder(partner.code, partner, None)


def partner_account(session: Session, partner: Partner, *, create: bool = True) -> Account | None:
    acc = session.exec(select(Account).where(Account.partner_id == partner.id)).scalar()
    if acc is None and create:
        acc = Account(holder="partner", partner_id=partner.id, balance=0, held=0)
        session.add(acc)
        session.flush()
    return acc


def seller_account(session: Session, seller: Seller, *, create: bool = True) -> Account | None:
    acc = session.exec(select(Account).where(Account.seller_id == seller.id)).scalar()
    if acc is None and create:
        acc = Account(holder="seller", seller_id=seller.id, balance=0, held=0)
        session.add(acc)
        session.flush()
    return acc


def earning_account(session: Session, partner: Partner, seller: Seller) -> Account:
    """The account a seller's new points go to under the partner's current mode."""
    acc = partner_account(session, partner) if partner.mode == "pooled" else seller_account(session, seller)
    assert acc is not None
    return acc


def holder_account(session: Session, holder: Holder) -> Account:
    """The single account a reference names, for adjustments and redemptions."""
    if holder.seller is not None:
        if holder.partner.mode == "pooled":
            raise Refused(
                f"{holder.seller.email} is a seller of {holder.partner.code}, which keeps one "
                f"pooled account for its team",
                hint=f"use the partner code {holder.partner.code}",
            )
        acc = seller_account(session, holder.seller)
    else:
        if holder.partner.mode != "pooled":
            raise Refused(
                f"partner {holder.partner.code} is in individual mode: its sellers hold the points",
                hint="name a seller's email",
            )
        acc = partner_account(session, holder.partner)
    assert acc is not None
    return acc
