"""The SQLite registry: versioned schema, transactions, and the audit chain, on real files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from mvc.core.audit import GENESIS, event_hash
from mvc.core.errors import ConflictError, IntegrityError, MvcError
from mvc.core.registry import open_registry
from mvc.core.registry.base import LineageInput, NewVersion
from mvc.core.registry.sqlite import SCHEMA_VERSION, SqliteRegistry

from support import write


def _new(model="resnet", version="0.1.0", digest="sha256:" + "ab" * 32, **kw) -> NewVersion:
    fields = dict(model=model, version=version, digest=digest, size=3, kind="file", path_name="m.bin",
                  message="first", metrics={"acc": 0.9}, params={"lr": 0.1, "layers": [1, 2]},
                  env={"python": "3"}, git={"commit": None}, created_at="2026-01-01T00:00:00Z",
                  created_by="tester")
    fields.update(kw)
    return NewVersion(**fields)


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
        reg.insert_version(_new())
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


def test_a_newer_schema_is_refused(reg, db):
    reg.close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(MvcError, match="newer mvc.*upgrade mvc"):
        SqliteRegistry(db)
    assert _meta(db)["schema_version"] == str(SCHEMA_VERSION + 1)  # left as it was


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


@pytest.mark.parametrize("column,value,words", [
    ("metrics", "{", "metrics of resnet@0.1.0"), ("version", "01.0.0", "version '01.0.0'"),
    ("digest", "sha256:AB", "digest of resnet@0.1.0"), ("kind", "blob", "kind of resnet@0.1.0"),
])
def test_damaged_values_raise_integrity_errors_and_are_listed(reg, db, column, value, words):
    with reg.transaction():
        reg.insert_version(_new())
    with sqlite3.connect(db) as conn:
        conn.execute(f"UPDATE versions SET {column} = ?", (value,))
    with pytest.raises(IntegrityError, match="registry is damaged") as info:
        reg.versions()
    assert words in info.value.message and info.value.exit_code == 3
    assert any(words in p for p in reg.check_storage())


def test_non_finite_numbers_never_enter_the_registry(reg):
    with reg.transaction(), pytest.raises(ValueError):
        reg.insert_version(_new(params={"lr": float("nan")}))


def test_open_registry_urls(tmp_path):
    r = open_registry(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "default.db", create=True)
    assert r.url == f"sqlite:///{tmp_path / 'other.db'}" and (tmp_path / "other.db").is_file()
    r.close()
    with pytest.raises(MvcError, match="unsupported registry URL"):
        open_registry("mysql://x", tmp_path / "d.db")


def test_writes_outside_a_transaction_raise(reg):
    with pytest.raises(RuntimeError, match="transaction"):
        reg.insert_version(_new())
    with pytest.raises(RuntimeError):
        reg.append_event("u", "add", "m", {}, "ts")
    with pytest.raises(RuntimeError):
        reg.set_tag("resnet", "best", "0.1.0", "u", "ts")
    assert reg.versions() == [] and reg.events() == []


def test_a_failed_transaction_rolls_back(reg, db):
    with pytest.raises(ConflictError, match="exists already"):
        with reg.transaction():
            reg.insert_version(_new())
            reg.append_event("u", "add", "resnet@0.1.0", {}, "ts")
            with reg.transaction():  # nested: part of the outer one
                reg.insert_version(_new(version="0.2.0"))
            reg.insert_version(_new())  # duplicate version
    assert reg.versions() == [] and reg.events() == [] and reg.model_names() == []
    # the connection is usable afterwards, and other connections saw nothing
    with reg.transaction():
        reg.insert_version(_new())
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM versions").fetchone() == (1,)


def test_version_rows_round_trip(reg):
    with reg.transaction():
        row = reg.insert_version(_new())
        reg.insert_version(_new(model="bert", digest="sha256:" + "cd" * 32))
    assert row.metrics == {"acc": 0.9} and row.params == {"lr": 0.1, "layers": [1, 2]}
    assert row.archived is False and row.model == "resnet"
    assert reg.get_version("resnet", "0.1.0") == row
    assert reg.get_version("resnet", "9.9.9") is None
    assert reg.model_names() == ["bert", "resnet"]
    assert reg.versions_by_digest("sha256:abab") == [row]
    assert reg.versions_by_digest("sha256:ff") == []


def test_tags_and_lineage(reg):
    with reg.transaction():
        parent = reg.insert_version(_new())
        child = reg.insert_version(_new(version="0.2.0"))
        reg.set_tag("resnet", "best", "0.1.0", "u", "t1")
        reg.set_tag("resnet", "best", "0.2.0", "u", "t2")  # moved: one tag per label
        reg.add_lineage(child.id, [
            LineageInput("data", "sha256:" + "11" * 32, "/d", {"size": 1}),
            LineageInput("model", parent.digest, None, {}, ("resnet", "0.1.0")),
        ])
    assert reg.tags("resnet") == [("resnet", "best", "0.2.0", "t2")]
    inputs = reg.lineage_inputs(child.id)
    assert [i.kind for i in inputs] == ["data", "model"]
    assert inputs[0].detail == {"size": 1} and inputs[1].parent == ("resnet", "0.1.0")
    with reg.transaction():
        reg.delete_tag("resnet", "best")
    assert reg.tags() == []


def test_events_chain(reg):
    with reg.transaction():
        for i in range(5):
            reg.append_event(f"user{i}", "add", f"m@0.{i}.0", {"i": i, "nested": {"b": [1, "é"]}},
                             f"2026-01-0{i + 1}T00:00:00Z")
    events = list(reversed(reg.events()))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev == GENESIS
    for a, b in zip(events, events[1:]):
        assert b.prev == a.hash
    for e in events:
        assert e.hash == event_hash(e.prev, e.seq, e.ts, e.user, e.action, e.target, e.details)
        assert set(e.to_dict()) == {"seq", "ts", "user", "action", "target", "details", "prev", "hash"}
    assert [e.seq for e in reg.events(limit=2)] == [5, 4]


def test_concurrent_writers_keep_one_chain(db, tmp_path):
    SqliteRegistry(db, create=True).close()
    script = textwrap.dedent(f"""
        import sys
        from mvc.core.registry.sqlite import SqliteRegistry
        reg = SqliteRegistry({str(db)!r})
        for i in range(15):
            with reg.transaction():
                reg.append_event(sys.argv[1], "tag", "m", {{"i": i}}, "ts")
        reg.close()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, f"w{n}"]) for n in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    reg = SqliteRegistry(db)
    events = list(reversed(reg.events()))
    reg.close()
    assert [e.seq for e in events] == list(range(1, 46))
    prev = GENESIS
    for e in events:
        assert e.prev == prev and e.hash == event_hash(prev, e.seq, e.ts, e.user, e.action, e.target, e.details)
        prev = e.hash


def test_latest_version_is_the_semver_highest_and_old_rows_get_their_sort_key(reg, db):
    with reg.transaction():
        for v in ("0.9.0", "0.10.0", "1.0.0-rc.2", "1.0.0-rc.10", "0.10.1"):
            reg.insert_version(_new(version=v))
    assert reg.latest_version("resnet").version == "1.0.0-rc.10"
    with reg.transaction():
        reg.insert_version(_new(version="1.0.0"))
    assert reg.latest_version("resnet").version == "1.0.0"
    assert reg.latest_version("nobody") is None
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
