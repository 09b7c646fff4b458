"""Full-text search over title, description and chat transcript, by the database's own engine.

    index_asset(s, asset_id, title, description, transcript)
    ids = matching_ids(s, "fourier transform", limit=200)     # best first

SQLite keeps an FTS5 table (``archive_fts``, rowid = asset id, unicode61 tokens
without diacritics); PostgreSQL a ``tsvector`` column generated from the same
three texts (``archive_text.tsv``, GIN index, the ``simple`` configuration, so
Russian, Kazakh and English words are matched alike without stemming). A query
is cut into words here and every word must match as a prefix, on both engines;
nothing the user types reaches the engine's query syntax.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

MAX_TERMS = 12
_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # letters and digits: both engines split on the rest


def terms(query: str) -> list[str]:
    """The words of a query, lower-cased, at most ``MAX_TERMS``."""
    return [w.lower() for w in _WORD.findall(query)][:MAX_TERMS]


def index_asset(s: Session, asset_id: int, title: str, description: str, transcript: str) -> None:
    """(Re)write the searchable text of one asset."""
    if s.get_bind().dialect.name == "sqlite":
        s.execute(text("DELETE FROM archive_fts WHERE rowid = :id"), {"id": asset_id})
        s.execute(
            text("INSERT INTO archive_fts (rowid, title, description, transcript) VALUES (:id, :t, :d, :x)"),
            {"id": asset_id, "t": title, "d": description, "x": transcript},
        )
    else:
        s.execute(
            text(
                "INSERT INTO archive_text (asset_id, title, description, transcript) VALUES (:id, :t, :d, :x) "
                "ON CONFLICT (asset_id) DO UPDATE SET title = EXCLUDED.title, "
                "description = EXCLUDED.description, transcript = EXCLUDED.transcript"
            ),
            {"id": asset_id, "t": title, "d": description, "x": transcript},
        )


def drop_asset(s: Session, asset_id: int) -> None:
    """Forget an asset's text (it was deleted: its transcript must not be findable any more)."""
    table, key = ("archive_fts", "rowid") if s.get_bind().dialect.name == "sqlite" else ("archive_text", "asset_id")
    s.execute(text(f"DELETE FROM {table} WHERE {key} = :id"), {"id": asset_id})


def matching_ids(s: Session, query: str, *, limit: int = 500) -> list[int]:
    """Asset ids whose text holds every word of ``query`` (as a prefix), best match first."""
    words = terms(query)
    if not words:
        return []
    if s.get_bind().dialect.name == "sqlite":
        match = " ".join('"' + w + '"*' for w in words)  # \w+ words hold no quote
        rows = s.execute(
            text(
                "SELECT rowid FROM archive_fts WHERE archive_fts MATCH :q "
                "ORDER BY bm25(archive_fts, 10.0, 3.0, 1.0) LIMIT :n"
            ),
            {"q": match, "n": limit},
        )
    else:
        tsquery = " & ".join(w + ":*" for w in words)
        rows = s.execute(
            text(
                "SELECT asset_id FROM archive_text, to_tsquery('simple', :q) AS q WHERE tsv @@ q "
                "ORDER BY ts_rank(tsv, q) DESC, asset_id LIMIT :n"
            ),
            {"q": tsquery, "n": limit},
        )
    return [int(r[0]) for r in rows]
