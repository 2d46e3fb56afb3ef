"""The schema, as SQLModel tables.

Alembic owns the schema (``loyaltyctl/migrations``); these classes describe it
for queries and the migration test checks the two agree.

Conventions:

* Points are integers (``BIGINT``); the database itself refuses anything else
  (``CHECK (x = CAST(x AS BIGINT))`` works on SQLite and PostgreSQL alike).
* Money is stored in öre (``amount_ore``), an exact integer; Python code works
  with ``Decimal`` SEK.
* ``Posting`` rows are never updated or deleted (triggers refuse it), and each
  carries a hash chained to the one before it (``chain.py``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def _int_check(column: str, table: str) -> CheckConstraint:
    return CheckConstraint(f"{column} = CAST({column} AS BIGINT)", name=f"ck_{table}_{column}_int")


class Partner(SQLModel, table=True):
    __tablename__ = "partner"
    __table_args__ = (
        CheckConstraint("mode IN ('individual', 'pooled')", name="ck_partner_mode"),
        CheckConstraint("status IN ('active', 'suspended')", name="ck_partner_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    mode: str = Field(default="individual", max_length=16)
    consent: bool = Field(default=False)
    email: str | None = Field(default=None, max_length=254)
    status: str = Field(default="active", max_length=16)
    created_at: datetime


class Seller(SQLModel, table=True):
    __tablename__ = "seller"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    active: bool = Field(default=True)
    enrolled_on: date
    created_at: datetime


class Account(SQLModel, table=True):
    """Who holds points: a seller (individual mode) or a partner's pool."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint("holder IN ('seller', 'partner')", name="ck_account_holder"),
        CheckConstraint(
            "(holder = 'seller' AND seller_id IS NOT NULL AND partner_id IS NULL)"
            " OR (holder = 'partner' AND partner_id IS NOT NULL AND seller_id IS NULL)",
            name="ck_account_owner",
        ),
        _int_check("balance", "account"),
        _int_check("held", "account"),
    )

    id: int | None = Field(default=None, primary_key=True)
    holder: str = Field(max_length=16)
    seller_id: int | None = Field(default=None, foreign_key="seller.id", unique=True)
    partner_id: int | None = Field(default=None, foreign_key="partner.id", unique=True)
    # Cached sum of postings; `db check` proves it.
    balance: int = Field(default=0, sa_type=BigInteger)
    # Points reserved by pending redemptions (zero until redemptions exist).
    held: int = Field(default=0, sa_type=BigInteger)


class Batch(SQLModel, table=True):
    """One run of a command that writes postings: who, what, from which input."""

    __tablename__ = "batch"

    id: int | None = Field(default=None, primary_key=True)
    command: str = Field(max_length=64)
    source: str | None = Field(default=None, max_length=1024)
    source_sha256: str | None = Field(default=None, max_length=64, index=True)
    actor: str = Field(max_length=128)
    started_at: datetime
    summary: str | None = None


class Posting(SQLModel, table=True):
    """An append-only ledger line.  Never updated, never deleted."""

    __tablename__ = "posting"
    __table_args__ = (
        _int_check("points", "posting"),
        CheckConstraint("points <> 0", name="ck_posting_points_nonzero"),
        # Leaderboards: points attributed to sellers by value date.
        Index("ix_posting_seller_value", "seller_id", "value_date", "kind", "points"),
        # Balances as of a booking date, history, statements; covering for the
        # sums by account (migration 0004).
        Index("ix_posting_account_booking_points", "account_id", "booking_date", "points"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idem_key: str = Field(max_length=200, unique=True)
    account_id: int = Field(foreign_key="account.id")
    # The seller the points are attributed to (also for a pooled partner's pool).
    seller_id: int | None = Field(default=None, foreign_key="seller.id")
    contract_pk: int | None = Field(default=None, foreign_key="contract.id", index=True)
    points: int = Field(sa_type=BigInteger)
    kind: str = Field(max_length=32)
    value_date: date
    booking_date: date
    booked_at: datetime
    reference: str | None = Field(default=None, max_length=200)
    memo: str | None = Field(default=None, max_length=500)
    actor: str = Field(max_length=128)
    batch_id: int | None = Field(default=None, foreign_key="batch.id")
    # The hash chain (loyaltyctl/chain.py): this posting's content and the
    # previous posting's hash, 16 bytes.  Set by every writer; `db check` proves it.
    chain_hash: bytes | None = Field(default=None, sa_type=LargeBinary(16))


class Contract(SQLModel, table=True):
    """The current state of a contract, as last imported.

    ``posted_*`` records where the contract's net points stand in the ledger
    (one account, one seller, one value date); the import posts the difference
    between that and what the current row earns.  ``revision`` counts changes
    and is part of every posting's idempotency key.
    """

    __tablename__ = "contract"
    __table_args__ = (
        CheckConstraint("status IN ('registered', 'started', 'cancelled')", name="ck_contract_status"),
        _int_check("amount_ore", "contract"),
        _int_check("posted_points", "contract"),
        CheckConstraint("amount_ore > 0", name="ck_contract_amount_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64, unique=True)
    partner_id: int = Field(foreign_key="partner.id")
    seller_id: int = Field(foreign_key="seller.id")
    start_date: date
    amount_ore: int = Field(sa_type=BigInteger)
    product: str = Field(max_length=64)
    status: str = Field(max_length=16)
    revision: int = Field(default=1)
    posted_account_id: int | None = Field(default=None, foreign_key="account.id")
    posted_seller_id: int | None = Field(default=None, foreign_key="seller.id")
    posted_value_date: date | None = None
    posted_points: int = Field(default=0, sa_type=BigInteger)
    last_batch_id: int | None = Field(default=None, foreign_key="batch.id")
    updated_at: datetime


class RuleVersion(SQLModel, table=True):
    """An effective-dated value of a program rule.  Appended, never changed."""

    __tablename__ = "rule_version"
    __table_args__ = (Index("ix_rule_version_key_from", "key", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    value: str = Field(max_length=1000)
    valid_from: date
    created_at: datetime
    actor: str = Field(max_length=128)


class Campaign(SQLModel, table=True):
    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="ck_campaign_dates"),
        UniqueConstraint("name", name="uq_campaign_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    valid_from: date
    valid_to: date
    # Decimal as text: exact, portable ("1.5", "2").
    multiplier: str = Field(max_length=20)
    product: str | None = Field(default=None, max_length=64)
    created_at: datetime
    actor: str = Field(max_length=128)


class CatalogItem(SQLModel, table=True):
    """A reward.  ``stock`` is on hand (None: unlimited); ``reserved`` is what
    pending requests hold of it."""

    __tablename__ = "catalog_item"
    __table_args__ = (
        _int_check("points", "catalog_item"),
        CheckConstraint("points > 0", name="ck_catalog_item_points_positive"),
        CheckConstraint("reserved >= 0", name="ck_catalog_item_reserved"),
        CheckConstraint("stock IS NULL OR stock >= reserved", name="ck_catalog_item_stock"),
        Index("ix_catalog_item_name", "name"),
        Index("ix_catalog_item_points", "points"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    points: int = Field(sa_type=BigInteger)
    stock: int | None = Field(default=None, sa_type=BigInteger)
    reserved: int = Field(default=0, sa_type=BigInteger)
    active: bool = Field(default=True)
    updated_at: datetime


class Redemption(SQLModel, table=True):
    """A request to spend points on a reward; its cost is fixed when requested."""

    __tablename__ = "redemption"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="ck_redemption_status"),
        CheckConstraint("quantity > 0", name="ck_redemption_quantity"),
        CheckConstraint("points = unit_points * quantity", name="ck_redemption_points"),
        Index("ix_redemption_status_requested", "status", "requested_at"),
        Index("ix_redemption_account_id", "account_id"),
    )

    id: str = Field(max_length=64, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    sku: str = Field(max_length=64)
    quantity: int
    unit_points: int = Field(sa_type=BigInteger)
    points: int = Field(sa_type=BigInteger)
    status: str = Field(default="pending", max_length=16)
    requested_at: datetime
    decided_at: datetime | None = None
    reason: str | None = Field(default=None, max_length=500)
    actor: str = Field(max_length=128)


class Quiz(SQLModel, table=True):
    __tablename__ = "quiz"
    __table_args__ = (
        CheckConstraint("questions BETWEEN 5 AND 10", name="ck_quiz_questions"),
        CheckConstraint("points_per_correct > 0", name="ck_quiz_points_positive"),
        Index(
            "uq_quiz_welcome",
            "welcome",
            unique=True,
            sqlite_where=text("welcome = 1"),
            postgresql_where=text("welcome"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=200)
    questions: int
    points_per_correct: int = Field(sa_type=BigInteger)
    welcome: bool = Field(default=False)
    created_at: datetime
    actor: str = Field(max_length=128)


class QuizAward(SQLModel, table=True):
    """A seller's result in a quiz: once per quiz and seller, never changed."""

    __tablename__ = "quiz_award"
    __table_args__ = (
        UniqueConstraint("quiz_id", "seller_id", name="uq_quiz_award_seller"),
        CheckConstraint("correct >= 0", name="ck_quiz_award_correct"),
    )

    id: int | None = Field(default=None, primary_key=True)
    quiz_id: int = Field(foreign_key="quiz.id")
    seller_id: int = Field(foreign_key="seller.id")
    correct: int
    taken_on: date
    points: int = Field(sa_type=BigInteger)
    batch_id: int | None = Field(default=None, foreign_key="batch.id")
    created_at: datetime


class Lead(SQLModel, table=True):
    """A seller's tip about a company that may become a partner."""

    __tablename__ = "lead"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="ck_lead_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    seller_id: int = Field(foreign_key="seller.id")
    company: str = Field(max_length=200)
    org_number: str | None = Field(default=None, max_length=32, index=True)
    note: str | None = Field(default=None, max_length=500)
    status: str = Field(default="pending", max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    points: int = Field(default=0, sa_type=BigInteger)
    created_on: date
    decided_on: date | None = None
    created_at: datetime
    actor: str = Field(max_length=128)


class LeaderboardRun(SQLModel, table=True):
    """A period's award: written once (the unique period makes racing runs award once)."""

    __tablename__ = "leaderboard_run"
    __table_args__ = (UniqueConstraint("period", name="uq_leaderboard_run_period"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7)
    first_day: date
    last_day: date
    run_on: date
    forced: bool = Field(default=False)
    batch_id: int | None = Field(default=None, foreign_key="batch.id")
    created_at: datetime
    actor: str = Field(max_length=128)


class LeaderboardAward(SQLModel, table=True):
    """One ranked seller of an awarded period, as awarded."""

    __tablename__ = "leaderboard_award"
    __table_args__ = (UniqueConstraint("run_id", "seller_id", name="uq_leaderboard_award_seller"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="leaderboard_run.id")
    rank: int
    seller_id: int = Field(foreign_key="seller.id")
    partner_id: int = Field(foreign_key="partner.id")
    account_id: int | None = Field(default=None, foreign_key="account.id")
    points: int = Field(sa_type=BigInteger)
    bonus: int = Field(sa_type=BigInteger)


__all__ = [
    "Account",
    "Batch",
    "Campaign",
    "CatalogItem",
    "Contract",
    "Partner",
    "Posting",
    "Redemption",
    "RuleVersion",
    "Seller",
    "Quiz",
    "QuizAward",
    "Lead",
    "LeaderboardRun",
    "LeaderboardAward",
]
