"""SQL storage: models, engine and repositories (SQLite by default, PostgreSQL at scale)."""
