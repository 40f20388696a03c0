"""site.hosts (the hosts a site names as its own) and snapshot.screenshot_url (what a screenshot shows)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site") as batch:
        batch.add_column(sa.Column("hosts", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table("snapshot") as batch:
        batch.add_column(sa.Column("screenshot_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshot") as batch:
        batch.drop_column("screenshot_url")
    with op.batch_alter_table("site") as batch:
        batch.drop_column("hosts")
