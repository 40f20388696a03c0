"""the web app: accounts, sign-in attempts, audit log, triage and statement mutes; full-text search over
statements (SQLite FTS5 kept in step by triggers, or a PostgreSQL GIN index on to_tsvector)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# SQLite: an external-content FTS5 index of statement.text (porter stemming, so "cures" finds "cure");
# the statement table stays the only copy of the text
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE statement_fts USING fts5(text, content='statement', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER statement_fts_insert AFTER INSERT ON statement BEGIN "
    "INSERT INTO statement_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER statement_fts_delete AFTER DELETE ON statement BEGIN "
    "INSERT INTO statement_fts(statement_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER statement_fts_update AFTER UPDATE OF text ON statement BEGIN "
    "INSERT INTO statement_fts(statement_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO statement_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO statement_fts(statement_fts) VALUES ('rebuild')",
)
SQLITE_SEARCH_DROP = (
    "DROP TRIGGER IF EXISTS statement_fts_update",
    "DROP TRIGGER IF EXISTS statement_fts_delete",
    "DROP TRIGGER IF EXISTS statement_fts_insert",
    "DROP TABLE IF EXISTS statement_fts",
)
# PostgreSQL: the same words, stemmed by the 'english' configuration, from an expression index
POSTGRES_SEARCH = ("CREATE INDEX ix_statement_text_fts ON statement USING gin (to_tsvector('english', text))",)
POSTGRES_SEARCH_DROP = ("DROP INDEX IF EXISTS ix_statement_text_fts",)


def upgrade() -> None:
    op.create_table('web_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('auth_epoch', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_user')),
    sa.UniqueConstraint('name', name=op.f('uq_web_user_name'))
    )
    op.create_table('login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt'))
    )
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempt_ip_at', ['ip', 'at'], unique=False)
        batch_op.create_index('ix_login_attempt_name_at', ['name', 'at'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['web_user.id'], name=op.f('fk_audit_log_user_id_web_user'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
    op.create_table('triage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['change_id'], ['change.id'], name=op.f('fk_triage_change_id_change'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_triage_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['web_user.id'], name=op.f('fk_triage_user_id_web_user'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_triage')),
    sa.UniqueConstraint('change_id', name=op.f('uq_triage_change_id')),
    sa.UniqueConstraint('event_id', name=op.f('uq_triage_event_id'))
    )
    op.create_table('statement_mute',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['page_id'], ['page.id'], name=op.f('fk_statement_mute_page_id_page'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['web_user.id'], name=op.f('fk_statement_mute_user_id_web_user'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_mute'))
    )
    with op.batch_alter_table('statement_mute', schema=None) as batch_op:
        batch_op.create_index('ix_statement_mute_page_key', ['page_id', 'key'], unique=False)
    for statement in _search_ddl(op.get_bind().dialect.name, drop=False):
        op.execute(statement)


def _search_ddl(dialect: str, *, drop: bool) -> tuple[str, ...]:
    if dialect == "sqlite":
        return SQLITE_SEARCH_DROP if drop else SQLITE_SEARCH
    if dialect == "postgresql":
        return POSTGRES_SEARCH_DROP if drop else POSTGRES_SEARCH
    return ()


def downgrade() -> None:
    for statement in _search_ddl(op.get_bind().dialect.name, drop=True):
        op.execute(statement)
    with op.batch_alter_table('statement_mute', schema=None) as batch_op:
        batch_op.drop_index('ix_statement_mute_page_key')
    op.drop_table('statement_mute')
    op.drop_table('triage')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
    op.drop_table('audit_log')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempt_name_at')
        batch_op.drop_index('ix_login_attempt_ip_at')
    op.drop_table('login_attempt')
    op.drop_table('web_user')
