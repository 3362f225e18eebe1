"""The registry interface, on both backends (a pytest parameter): SQLite on a real file and
PostgreSQL on the real server the test run starts (tests/pgserver.py). What only one backend
has (SQLite's files, PostgreSQL's roles) is in test_registry_sqlite.py and
test_registry_postgres.py."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from mvc.core.audit import GENESIS, event_hash
from mvc.core.errors import ConflictError, IntegrityError, MvcError
from mvc.core.registry import open_registry
from mvc.core.registry.base import ChannelMoveRow, ChannelRow, LineageInput, NewVersion


def new_version(model="resnet", version="0.1.0", digest="sha256:" + "ab" * 32, **kw) -> NewVersion:
    fields = dict(model=model, version=version, digest=digest, size=3, kind="file", path_name="m.bin",
                  message="first", metrics={"acc": 0.9}, params={"lr": 0.1, "layers": [1, 2]},
                  env={"python": "3"}, git={"commit": None}, created_at="2026-01-01T00:00:00Z",
                  created_by="tester")
    fields.update(kw)
    return NewVersion(**fields)


class Backend:
    """One backend's registry location: open it, and reach its tables behind mvc's back (as a
    damaged disk or a DBA would)."""

    def __init__(self, name: str, url: str, default_path, pg=None, dbname=None):
        self.name, self.url, self.default_path, self.pg, self.dbname = name, url, default_path, pg, dbname

    def open(self, create: bool = False):
        return open_registry(self.url, self.default_path, create=create)

    def sql(self, statement: str, params=()):
        """Run SQL as the database's superuser (SQLite: on the file), bypassing every rule."""
        if self.pg is None:
            with sqlite3.connect(self.default_path) as conn:
                return conn.execute(statement.replace("%s", "?").replace("mvc.", ""), params).fetchall()
        return self.pg.sql(statement, dbname=self.dbname, params=params or None)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        db = tmp_path / "registry.db"
        return Backend("sqlite", f"sqlite:///{db}", db)
    pg_server = request.getfixturevalue("pg_server")
    url = request.getfixturevalue("pg_url")
    return Backend("postgres", url, tmp_path / "unused.db", pg_server, url.rsplit("/", 1)[1])


@pytest.fixture
def reg(backend):
    r = backend.open(create=True)
    yield r
    r.close()


def test_reopening_keeps_the_schema_and_the_rows(reg, backend):
    with reg.transaction():
        reg.insert_version(new_version())
    again = backend.open()
    try:
        assert [v.version for v in again.versions("resnet")] == ["0.1.0"]
    finally:
        again.close()


def test_a_newer_schema_is_refused(reg, backend):
    from mvc.core.registry.sqlite_schema import SCHEMA_VERSION as SQLITE_VERSION
    from mvc.core.registry.postgres_schema import SCHEMA_VERSION as PG_VERSION

    reg.close()
    newer = str((PG_VERSION if backend.pg else SQLITE_VERSION) + 1)
    backend.sql("UPDATE mvc.meta SET value = %s WHERE key = 'schema_version'", (newer,))
    with pytest.raises(MvcError, match="newer mvc.*upgrade mvc") as info:
        backend.open()
    assert info.value.exit_code == 1
    assert backend.sql("SELECT value FROM mvc.meta WHERE key = 'schema_version'") == [(newer,)]


def test_a_database_without_a_registry_is_never_made_afresh(backend, tmp_path):
    if backend.pg is None:
        sqlite3.connect(backend.default_path).execute("CREATE TABLE other (x)").connection.commit()
    with pytest.raises(IntegrityError, match="holds no mvc registry"):
        backend.open()


def test_writes_outside_a_transaction_raise(reg):
    with pytest.raises(RuntimeError, match="transaction"):
        reg.insert_version(new_version())
    with pytest.raises(RuntimeError):
        reg.append_event("u", "add", "m", {}, "ts")
    with pytest.raises(RuntimeError):
        reg.set_tag("resnet", "best", "0.1.0", "u", "ts")
    assert reg.versions() == [] and reg.events() == []


def test_a_failed_transaction_rolls_back(reg, backend):
    with pytest.raises(ConflictError, match="exists already"):
        with reg.transaction():
            reg.insert_version(new_version())
            reg.append_event("u", "add", "resnet@0.1.0", {}, "ts")
            with reg.transaction():  # nested: part of the outer one
                reg.insert_version(new_version(version="0.2.0"))
            reg.insert_version(new_version())  # duplicate version
    assert reg.versions() == [] and reg.events() == [] and reg.model_names() == []
    # the connection is usable afterwards, and other connections saw nothing
    with reg.transaction():
        reg.insert_version(new_version())
    assert backend.sql("SELECT count(*) FROM mvc.versions") == [(1,)]


def test_version_rows_round_trip(reg):
    with reg.transaction():
        row = reg.insert_version(new_version())
        reg.insert_version(new_version(model="bert", digest="sha256:" + "cd" * 32))
    assert row.metrics == {"acc": 0.9} and row.params == {"lr": 0.1, "layers": [1, 2]}
    assert row.archived is False and row.model == "resnet"
    assert reg.get_version("resnet", "0.1.0") == row
    assert reg.get_version("resnet", "9.9.9") is None
    assert reg.model_names() == ["bert", "resnet"]
    assert reg.versions_by_digest("sha256:abab") == [row]
    assert reg.versions_by_digest("sha256:ff") == []
    with reg.transaction():
        reg.set_archived("resnet", "0.1.0", True)
    assert reg.get_version("resnet", "0.1.0").archived is True


def test_non_finite_numbers_never_enter_the_registry(reg):
    with reg.transaction(), pytest.raises(ValueError):
        reg.insert_version(new_version(params={"lr": float("nan")}))


def test_tags_and_lineage(reg):
    with reg.transaction():
        parent = reg.insert_version(new_version())
        child = reg.insert_version(new_version(version="0.2.0"))
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


def test_bulk_lineage_reads(reg):
    data = "sha256:" + "11" * 32
    with reg.transaction():
        a = reg.insert_version(new_version())
        b = reg.insert_version(new_version(version="0.2.0"))
        c = reg.insert_version(new_version(model="bert", digest="sha256:" + "cd" * 32))
        reg.add_lineage(b.id, [LineageInput("data", data, "/d", {}),
                               LineageInput("model", a.digest, None, {}, ("resnet", "0.1.0"))])
        reg.add_lineage(c.id, [LineageInput("code", data, "/c", {})])
    assert reg.last_version_id() == c.id
    rows = reg.lineage_rows()
    assert [v[0] for v in rows.versions] == [a.id, b.id, c.id] and len(rows.inputs) == 3
    assert [v[0] for v in reg.lineage_rows(after=a.id).versions] == [b.id, c.id]
    assert {(r[0], r[1]) for r in reg.lineage_inputs_of([b.id])} == {(b.id, "data"), (b.id, "model")}
    assert reg.lineage_inputs_of([b.id])[0][6:] == ("resnet", "0.2.0", b.digest)
    assert [r[0] for r in reg.lineage_outputs_of([a.id], [])] == [b.id]
    assert {(r[0], r[1]) for r in reg.lineage_outputs_of([], [("code", data)])} == {(c.id, "code")}
    assert reg.lineage_outputs_of([], []) == []
    assert reg.inputs_recorded([("data", data), ("code", data)], up_to=b.id) == {("data", data)}
    assert reg.version_keys([a.id, c.id]) == {a.id: ("resnet", "0.1.0", a.digest), c.id: ("bert", "0.1.0", c.digest)}


def test_channels_and_their_history(reg):
    with reg.transaction():
        reg.insert_version(new_version())
        reg.insert_version(new_version(version="0.2.0"))
        reg.set_channel(ChannelRow("resnet", "staging", "0.1.0", None, 0, "blue", "t1"))
        reg.set_channel(ChannelRow("resnet", "staging", "0.1.0", "0.2.0", 10, "blue", "t2"))
        move = reg.add_channel_move(ChannelMoveRow(None, "resnet", "staging", "canary-start", "0.1.0", "0.1.0",
                                                   "0.2.0", 10, "blue", "m", "u", "t2"))
    assert move.id is not None
    assert reg.channels("resnet") == [ChannelRow("resnet", "staging", "0.1.0", "0.2.0", 10, "blue", "t2")]
    assert reg.channel_history("resnet", "staging") == [move]
    with reg.transaction(), pytest.raises(MvcError, match="not in the registry"):
        reg.set_channel(ChannelRow("resnet", "staging", "9.0.0", None, 0, "blue", "t3"))


def test_events_chain(reg, backend):
    with reg.transaction():
        for i in range(5):
            reg.append_event(f"user{i}", "add", f"m@0.{i}.0", {"i": i, "nested": {"b": [1, "é", 0.5]}},
                             f"2026-01-0{i + 1}T00:00:00Z")
    events = list(reversed(reg.events()))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev == GENESIS
    for a, b in zip(events, events[1:]):
        assert b.prev == a.hash
    for e in events:
        assert e.hash == event_hash(e.prev, e.seq, e.ts, e.user, e.action, e.target, e.details)
    assert [e.seq for e in reg.events(limit=2)] == [5, 4]
    if backend.pg is not None:  # the server records its login, whatever the caller says
        assert {e.user for e in events} == {reg.server_user()}


def test_latest_version_is_the_semver_highest(reg):
    with reg.transaction():
        for v in ("0.9.0", "0.10.0", "1.0.0-rc.2", "1.0.0-rc.10", "0.10.1"):
            reg.insert_version(new_version(version=v))
    assert reg.latest_version("resnet").version == "1.0.0-rc.10"
    with reg.transaction():
        reg.insert_version(new_version(version="1.0.0"))
    assert reg.latest_version("resnet").version == "1.0.0"
    assert reg.latest_version("nobody") is None


@pytest.mark.parametrize("column,value,words", [
    ("metrics", "{", "metrics of resnet@0.1.0"), ("version", "01.0.0", "version '01.0.0'"),
    ("digest", "sha256:AB", "digest of resnet@0.1.0"), ("kind", "blob", "kind of resnet@0.1.0"),
])
def test_damaged_values_raise_integrity_errors_and_are_listed(reg, backend, column, value, words):
    with reg.transaction():
        reg.insert_version(new_version())
    backend.sql(f"UPDATE mvc.versions SET {column} = %s", (value,))
    with pytest.raises(IntegrityError, match="registry is damaged") as info:
        reg.versions()
    assert words in info.value.message and info.value.exit_code == 3
    assert any(words in p for p in reg.check_storage())


def test_concurrent_writers_keep_one_chain_and_unique_versions(reg, backend):
    """Three processes append events and add versions at once: one chain, no version twice."""
    script = textwrap.dedent(f"""
        import sys
        from mvc.core.registry import open_registry
        from mvc.core.registry.base import NewVersion
        reg = open_registry({backend.url!r}, None)
        for i in range(10):
            with reg.transaction():
                latest = reg.latest_version("m")
                nxt = "0.%d.0" % (int(latest.version.split(".")[1]) + 1 if latest else 1)
                reg.insert_version(NewVersion("m", nxt, "sha256:" + "ab" * 32, 1, "file", "m", "", {{}}, {{}},
                                              {{}}, {{}}, "ts", sys.argv[1]))
                reg.append_event(sys.argv[1], "add", "m@" + nxt, {{"i": i}}, "ts")
        reg.close()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, f"w{n}"]) for n in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert sorted(int(v.version.split(".")[1]) for v in reg.versions("m")) == list(range(1, 31))
    events = list(reversed(reg.events()))
    assert [e.seq for e in events] == list(range(1, 31))
    prev = GENESIS
    for e in events:
        assert e.prev == prev and e.hash == event_hash(prev, e.seq, e.ts, e.user, e.action, e.target, e.details)
        prev = e.hash
