"""Initial schema: partners, sellers, accounts, the ledger, contracts, rules, campaigns.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _int(column: str, table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} = CAST({column} AS BIGINT)", name=f"ck_{table}_{column}_int")


def upgrade() -> None:
    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('individual', 'pooled')", name="ck_partner_mode"),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="ck_partner_status"),
    )
    op.create_table(
        "seller",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partner.id"), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seller_partner_id", "seller", ["partner_id"])
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("holder", sa.String(16), nullable=False),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("seller.id"), nullable=True, unique=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partner.id"), nullable=True, unique=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("holder IN ('seller', 'partner')", name="ck_account_holder"),
        sa.CheckConstraint(
            "(holder = 'seller' AND seller_id IS NOT NULL AND partner_id IS NULL)"
            " OR (holder = 'partner' AND partner_id IS NOT NULL AND seller_id IS NULL)",
            name="ck_account_owner",
        ),
        _int("balance", "account"),
        _int("held", "account"),
    )
    op.create_table(
        "batch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("command", sa.String(64), nullable=False),
        sa.Column("source", sa.String(1024), nullable=True),
        sa.Column("source_sha256", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.String(), nullable=True),
    )
    op.create_index("ix_batch_source_sha256", "batch", ["source_sha256"])
    op.create_table(
        "contract",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contract_id", sa.String(64), nullable=False, unique=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partner.id"), nullable=False),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("seller.id"), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("amount_ore", sa.BigInteger(), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("posted_account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=True),
        sa.Column("posted_seller_id", sa.Integer(), sa.ForeignKey("seller.id"), nullable=True),
        sa.Column("posted_value_date", sa.Date(), nullable=True),
        sa.Column("posted_points", sa.BigInteger(), nullable=False),
        sa.Column("last_batch_id", sa.Integer(), sa.ForeignKey("batch.id"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('registered', 'started', 'cancelled')", name="ck_contract_status"),
        _int("amount_ore", "contract"),
        _int("posted_points", "contract"),
        sa.CheckConstraint("amount_ore > 0", name="ck_contract_amount_positive"),
    )
    op.create_index("ix_contract_seller_id", "contract", ["seller_id"])
    op.create_table(
        "posting",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("idem_key", sa.String(200), nullable=False, unique=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("seller.id"), nullable=True),
        sa.Column("contract_pk", sa.Integer(), sa.ForeignKey("contract.id"), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("memo", sa.String(500), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batch.id"), nullable=True),
        _int("points", "posting"),
        sa.CheckConstraint("points <> 0", name="ck_posting_points_nonzero"),
    )
    op.create_index("ix_posting_contract_pk", "posting", ["contract_pk"])
    op.create_index("ix_posting_batch_id", "posting", ["batch_id"])
    op.create_index("ix_posting_seller_value", "posting", ["seller_id", "value_date", "kind", "points"])
    op.create_index("ix_posting_account_booking", "posting", ["account_id", "booking_date"])
    op.create_table(
        "rule_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
    )
    op.create_index("ix_rule_version_key_from", "rule_version", ["key", "valid_from"])
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("multiplier", sa.String(20), nullable=False),
        sa.Column("product", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.CheckConstraint("valid_to >= valid_from", name="ck_campaign_dates"),
        sa.UniqueConstraint("name", name="uq_campaign_name"),
    )

    # The ledger is append-only: the database itself refuses UPDATE and DELETE.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER posting_no_{action.lower()} BEFORE {action} ON posting "
                f"BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END"
            )
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER rule_version_no_{action.lower()} BEFORE {action} ON rule_version "
                f"BEGIN SELECT RAISE(ABORT, 'rule versions are append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION loyaltyctl_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME; END $$"
        )
        for table in ("posting", "rule_version"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION loyaltyctl_append_only()"
            )


def downgrade() -> None:
    raise NotImplementedError("loyaltyctl migrations are forward-only")
