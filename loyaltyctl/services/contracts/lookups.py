"""The partners, sellers and accounts a contract row names, loaded once."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from ...identities import Lookalikes
from ...models import Account, Partner, Seller
from ..accounts import AccountIds


class Lookups:
    def __init__(self, session: Session) -> None:
        self.session = session
        # code -> (partner id, mode, status)
        self.partners: dict[str, tuple[int, str, str]] = {
            code: (pid, mode, status)
            for pid, code, mode, status in session.exec(
                select(Partner.id, Partner.code, Partner.mode, Partner.status)
            )
        }
        self.partner_code = {pid: code for code, (pid, _, _) in self.partners.items()}
        self.partner_mode = {pid: mode for _, (pid, mode, _) in self.partners.items()}
        # email -> (seller id, partner id, active)
        self.sellers: dict[str, tuple[int, int, bool]] = {
            email: (sid, pid, bool(active))
            for sid, email, pid, active in session.exec(
                select(Seller.id, Seller.email, Seller.partner_id, Seller.active)
            )
        }
        self.seller_email = {sid: email for email, (sid, _, _) in self.sellers.items()}
        self.accounts = AccountIds.load(session)
        self._twins: Lookalikes | None = None

    def twin(self, email: str) -> str | None:
        """The seller's address that ``email`` (no seller's) looks like, if
        any.  The addresses by confusable skeleton are built when a row first
        names an unknown seller, never for the rows that name a known one."""
        if self._twins is None:
            self._twins = Lookalikes(self.sellers)
        return self._twins.twin(email)

    def routed(self, partner_id: int, seller_id: int) -> int | None:
        """The account the seller's points go to under the partner's current
        mode, if it exists (read-only; ``db check`` uses it)."""
        return self.accounts.earning(self.partner_mode[partner_id] == "pooled", partner_id, seller_id)

    def account_for(self, partner_id: int, seller_id: int) -> int:
        """The account the seller's points go to now (created if missing)."""
        aid = self.accounts.earning(self.partner_mode[partner_id] == "pooled", partner_id, seller_id)
        if aid is None:
            if self.partner_mode[partner_id] == "pooled":
                account = Account(holder="partner", partner_id=partner_id, balance=0, held=0)
            else:
                account = Account(holder="seller", seller_id=seller_id, balance=0, held=0)
            self.session.add(account)
            self.session.flush()
            aid = self.accounts.opened(account)
        return aid
