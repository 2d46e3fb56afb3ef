"""Alembic migrations, shipped inside the package.

Append-only: a released migration is never edited; a schema change is a new
file ``versions/NNNN_<what>.py`` and a new entry in ``REVISIONS`` (oldest first).
"""

REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"]
