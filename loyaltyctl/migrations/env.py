"""Alembic environment: always runs on the connection loyaltyctl hands it."""

from alembic import context
from sqlmodel import SQLModel

from loyaltyctl import models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only reachable via the alembic CLI
        raise RuntimeError("run migrations through `loyaltyctl db upgrade`")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
