"""The SQLite full-text index of statements (migrations 0005 and 0007), filled in bulk.

A new statement row is queued (its id in ``statement_fts_pending``, by a trigger) and ``index_pending`` moves
the queue into the FTS5 index in one statement. It runs at the end of every crawl run (``runs.finish_run``),
after ``reextract`` and before every search, so a search always sees every stored statement. Indexing row by
row in each page's transaction cost ~2.5 ms a page (docs/benchmarks.md). PostgreSQL's GIN index needs none of
this: it is an ordinary index.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

_INDEX = text("INSERT INTO statement_fts(rowid, text) SELECT s.id, s.text FROM statement_fts_pending AS p "
              "JOIN statement AS s ON s.id = p.id")
_DEQUEUE = text("DELETE FROM statement_fts_pending")
_ANY = text("SELECT EXISTS (SELECT 1 FROM statement_fts_pending)")


def index_pending(bind: Session | Connection) -> None:
    """Index the queued statements, in the caller's transaction (committed by the caller). Writes only when
    something is queued, so a search with nothing to index takes no write lock. Two processes doing it at once
    index each row once: the write lock the first statement takes keeps the queue to one of them."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name != "sqlite":
        return
    if not bind.execute(_ANY).scalar():
        return
    bind.execute(_INDEX)
    bind.execute(_DEQUEUE)
