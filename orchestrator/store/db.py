"""Engine, sessions and schema revision checks.

    db = Database.from_settings(settings)
    db.upgrade()                     # alembic upgrade head
    db.check_revision()              # refuse a database at an unknown/newer revision
    with db.session() as s: ...      # one transaction, committed on success
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.errors import ConfigError, UserError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class SchemaError(UserError):
    code = "schema"
    exit_code = 4


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # pysqlite's own transaction handling breaks SAVEPOINTs; we emit BEGIN ourselves (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes under WAL; fsync at checkpoints
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # IMMEDIATE takes the write lock up front, so two processes wait (busy_timeout) instead of
    # failing on a lock upgrade half-way through a transaction.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def private_file(path: Path) -> None:
    """The SQLite file holds password hashes, grades and chat: its folder (when we make it) is 0700,
    the file 0600 from its first byte (SQLite gives its -wal/-shm files the same mode)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    # Never open (and close) an existing database file here: closing any descriptor of a file drops
    # every POSIX lock this process holds on it, SQLite's included. Only a new file is made (O_EXCL).
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    except FileExistsError:
        st = path.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(path, 0o600)  # by path: no descriptor


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if str(path) not in ("", ":memory:"):
            if not path.exists():  # never silently: say where the data goes (issue 13 §1.8)
                # a log record, not a print: under `serve` and in workers every stderr line is JSON
                # (orchestrator/logs.py); a plain CLI run prints it as text through logging's last resort
                logging.getLogger("aulacast.db").warning(
                    "aulacast: creating a new SQLite database at %s (from the settings' data_dir, default ./var in "
                    "the current folder; set data_dir or database_url in aulacast.toml, or AULACAST_DATA_DIR)",
                    path.resolve())  # fmt: skip
            private_file(path)
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    except Exception as exc:  # a malformed URL
        raise ConfigError(f"setting 'database_url': cannot use {url!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._factory() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["engine"] = self.engine
        return cfg

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def upgrade(self, revision: str = "head") -> None:
        """Migrate, and say in one line what changed (alembic's own INFO lines are held back)."""
        current = self.current_revision()
        self._refuse_unknown(current)
        command.upgrade(self.alembic_config(), revision)  # alembic's INFO is held back (orchestrator/__init__.py)
        after = self.current_revision()
        if after != current:
            logging.getLogger("aulacast.db").info("database schema upgraded from %s to %s", current or "empty", after)

    def _refuse_unknown(self, current: str | None) -> None:
        if current is None:
            return
        script = ScriptDirectory.from_config(self.alembic_config())
        try:
            script.get_revision(current)
        except Exception:
            raise SchemaError(
                f"database is at revision {current!r}, which this aulacast does not know "
                f"(newest known: {self.head_revision()!r}); it was written by a newer version — "
                "upgrade aulacast, do not downgrade the database"
            ) from None

    def check_revision(self) -> None:
        """Refuse to serve a database that is not exactly at our head revision."""
        current = self.current_revision()
        self._refuse_unknown(current)
        head = self.head_revision()
        if current != head:
            raise SchemaError(
                f"database is at revision {current or 'none (empty)'}, expected {head}; "
                "run `aulacast db upgrade` first"
            )
