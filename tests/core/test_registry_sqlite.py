"""What only the SQLite registry has: its file (missing, empty, garbage), WAL, and its own
migrations. The interface itself runs on both backends in test_registry.py."""

from __future__ import annotations

import sqlite3

import pytest

from mvc.core.errors import IntegrityError, MvcError
from mvc.core.registry import open_registry
from mvc.core.registry.sqlite import SCHEMA_VERSION, SqliteRegistry

from core.test_registry import new_version
from support import write


@pytest.fixture
def db(tmp_path):
    return tmp_path / "registry.db"


@pytest.fixture
def reg(db):
    r = SqliteRegistry(db, create=True)
    yield r
    r.close()


def _meta(db) -> dict:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT key, value FROM meta"))


def test_schema_is_created_and_versioned(reg, db):
    assert _meta(db) == {"schema_version": str(SCHEMA_VERSION)}
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"meta", "models", "versions", "tags", "lineage", "channels", "events"} <= tables


def test_reopening_does_not_migrate_again(reg, db):
    with reg.transaction():
        reg.insert_version(new_version())
    # another writer holds the write lock: a migration would have to wait for it and
    # time out, so opening at once proves nothing is written on open
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        again = SqliteRegistry(db, busy_timeout=0.1)
        assert [v.version for v in again.versions("resnet")] == ["0.1.0"]
        again.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _meta(db) == {"schema_version": str(SCHEMA_VERSION)}


def test_missing_database_is_not_created_silently(tmp_path):
    with pytest.raises(IntegrityError, match="missing"):
        SqliteRegistry(tmp_path / "registry.db")
    assert not (tmp_path / "registry.db").exists()


def test_garbage_database_is_an_integrity_error(tmp_path):
    db = write(tmp_path / "registry.db", b"not a database at all" * 300)
    with pytest.raises(IntegrityError, match="damaged.*not a database"):
        SqliteRegistry(db)


def test_empty_database_or_one_without_a_schema_is_never_made_afresh(tmp_path):
    """Only ``mvc init`` (create=True) makes a registry (SPEC §10, issue 10 item 1)."""
    db = write(tmp_path / "registry.db", b"")
    with pytest.raises(IntegrityError, match="empty"):
        SqliteRegistry(db)
    assert db.stat().st_size == 0
    sqlite3.connect(db).execute("CREATE TABLE other (x)").connection.commit()
    with pytest.raises(IntegrityError, match="holds no mvc registry"):
        SqliteRegistry(db)
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(IntegrityError, match="not a regular file"):
        SqliteRegistry(tmp_path / "dir.db")


def test_open_registry_urls(tmp_path):
    r = open_registry(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "default.db", create=True)
    assert r.url == f"sqlite:///{tmp_path / 'other.db'}" and (tmp_path / "other.db").is_file()
    r.close()
    with pytest.raises(MvcError, match="unsupported registry URL"):
        open_registry("mysql://x", tmp_path / "d.db")


def test_old_rows_get_their_sort_key(reg, db):
    """The latest version itself is checked on both backends in test_registry.py."""
    with reg.transaction():
        for v in ("0.9.0", "0.10.0", "1.0.0-rc.2", "1.0.0-rc.10", "0.10.1", "1.0.0"):
            reg.insert_version(new_version(version=v))
    reg.close()
    # a registry migrated from schema 3: rows written before migration 4 have no sort key
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE versions SET sort_key = NULL")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        conn.execute("DROP INDEX versions_sort")
        conn.execute("ALTER TABLE versions DROP COLUMN sort_key")
    again = SqliteRegistry(db)
    try:
        assert _meta(db)["schema_version"] == str(SCHEMA_VERSION)
        assert again.latest_version("resnet").version == "1.0.0"
    finally:
        again.close()
