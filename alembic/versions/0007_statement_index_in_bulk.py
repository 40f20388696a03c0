"""the SQLite full-text index of statements is filled in bulk: new statement rows are queued by a trigger and
indexed together (``monitor.fulltext.index_pending``: at each run's end, after ``reextract``, before a search)

Indexing each row as it was inserted, in each page's own transaction, made FTS5 write a segment per page: about
2.5 ms a page of ~90 statements, three times the rows' own insert (docs/benchmarks.md). PostgreSQL's GIN index
is unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# a row is either in the index or in the queue; a row deleted or changed is taken out of whichever holds it
# (an external-content index must be told the exact text it indexed)
_NOT_QUEUED = "WHERE NOT EXISTS (SELECT 1 FROM statement_fts_pending WHERE id = old.id)"
UPGRADE = (
    "CREATE TABLE statement_fts_pending (id INTEGER NOT NULL PRIMARY KEY)",
    "DROP TRIGGER IF EXISTS statement_fts_insert",
    "DROP TRIGGER IF EXISTS statement_fts_delete",
    "DROP TRIGGER IF EXISTS statement_fts_update",
    "CREATE TRIGGER statement_fts_insert AFTER INSERT ON statement BEGIN "
    "INSERT INTO statement_fts_pending(id) VALUES (new.id); END",
    "CREATE TRIGGER statement_fts_delete AFTER DELETE ON statement BEGIN "
    f"INSERT INTO statement_fts(statement_fts, rowid, text) SELECT 'delete', old.id, old.text {_NOT_QUEUED}; "
    "DELETE FROM statement_fts_pending WHERE id = old.id; END",
    "CREATE TRIGGER statement_fts_update AFTER UPDATE OF text ON statement BEGIN "
    f"INSERT INTO statement_fts(statement_fts, rowid, text) SELECT 'delete', old.id, old.text {_NOT_QUEUED}; "
    "INSERT OR IGNORE INTO statement_fts_pending(id) VALUES (new.id); END",
)
# back to 0005's row-by-row triggers, with the queue indexed first
DOWNGRADE = (
    "INSERT INTO statement_fts(rowid, text) SELECT s.id, s.text FROM statement_fts_pending AS p "
    "JOIN statement AS s ON s.id = p.id",
    "DROP TRIGGER IF EXISTS statement_fts_insert",
    "DROP TRIGGER IF EXISTS statement_fts_delete",
    "DROP TRIGGER IF EXISTS statement_fts_update",
    "DROP TABLE statement_fts_pending",
    "CREATE TRIGGER statement_fts_insert AFTER INSERT ON statement BEGIN "
    "INSERT INTO statement_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER statement_fts_delete AFTER DELETE ON statement BEGIN "
    "INSERT INTO statement_fts(statement_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER statement_fts_update AFTER UPDATE OF text ON statement BEGIN "
    "INSERT INTO statement_fts(statement_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO statement_fts(rowid, text) VALUES (new.id, new.text); END",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in DOWNGRADE:
            op.execute(statement)
