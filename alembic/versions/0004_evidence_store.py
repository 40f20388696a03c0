"""evidence kept in the database (CLAIMWATCH_EVIDENCE=database): WARC records and screenshots that every
machine sharing the database can read

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # one row per fetch (its response and request records, or its metadata record) or per archive
    # (its warcinfo record): the gzip members a WARC file would hold, byte for byte
    op.create_table('warc_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=200), nullable=False),
    sa.Column('record_type', sa.String(length=16), nullable=False),
    sa.Column('target_uri', sa.String(length=2048), nullable=True),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warc_record'))
    )
    with op.batch_alter_table('warc_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warc_record_prefix'), ['prefix'], unique=False)

    op.create_table('screenshot',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_screenshot'))
    )


def downgrade() -> None:
    op.drop_table('screenshot')
    with op.batch_alter_table('warc_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warc_record_prefix'))
    op.drop_table('warc_record')
