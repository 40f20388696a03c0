"""a page's suspected outage: the content under suspicion and the crawls that showed it

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('page', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outage_fingerprint', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('outage_seen', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('page', schema=None) as batch_op:
        batch_op.drop_column('outage_seen')
        batch_op.drop_column('outage_fingerprint')
