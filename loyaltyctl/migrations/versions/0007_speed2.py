"""Speed: drop two indexes no query reads, so every import maintains five
indexes on contract and posting instead of seven.

* ``ix_contract_seller_id``: no query selects contracts by seller (the report
  groups contracts by partner and scans the table either way; every lookup of
  the import goes by ``contract_id``, the unique key).
* ``ix_posting_batch_id``: no query selects postings by batch, and no batch is
  ever deleted (the only thing a child-key index serves for a foreign key).

Both grew with every contract in random order (sellers) or as one more b-tree
per posting; without them a 100 000-contract first import spends about 13 %
less CPU inside SQLite (benchmarks/run.py).  ``EXPLAIN QUERY PLAN`` of every
query on the two tables is the same before and after.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_contract_seller_id", table_name="contract")
    op.drop_index("ix_posting_batch_id", table_name="posting")


def downgrade() -> None:
    op.create_index("ix_posting_batch_id", "posting", ["batch_id"])
    op.create_index("ix_contract_seller_id", "contract", ["seller_id"])
