"""A change whose registry COMMIT fails leaves config.toml as it was: config.toml and the
registry are two stores, and a command that reports failure must have changed neither (SPEC
§10). The failure is real: the PostgreSQL server the test run starts drops mvc's connection
while mvc is held just before its COMMIT (MVC_STOP_AT=change:before-commit)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from support import Mvc, assert_error, go_on, stopped_at

HAND_WRITTEN = "# our team's settings\n[core]\nlock_timeout = 12  # seconds\n"


@pytest.fixture
def shared(pg_server, pg_url, tmp_path: Path) -> Mvc:
    repo = Mvc(tmp_path / "w", tmp_path / "home")
    repo.cwd.mkdir()
    repo("init", "--registry", pg_url)
    config = repo.mvc_dir / "config.toml"
    config.write_text(config.read_text() + HAND_WRITTEN)
    return repo


def _commit_refused(repo: Mvc, pg_server, pg_url: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``mvc ARGS``, hold it just before COMMIT, drop its server connection, let it go."""
    proc = stopped_at(repo, *args, point="change:before-commit")
    try:
        dropped = pg_server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()",
                                params=(urlparse(pg_url).path.lstrip("/"),))
    finally:
        code, out, err = go_on(proc)
    assert dropped, "mvc's connection was not found"
    return subprocess.CompletedProcess(proc.args, code, out, err)


@pytest.mark.parametrize("args", [
    ("config", "set", "core.lock_timeout", "7"),
    ("config", "unset", "core.lock_timeout"),
    ("remote", "add", "origin", "store"),  # several writes: the URL, then core.remote
], ids=["set", "unset", "remote-add"])
def test_a_change_whose_commit_fails_leaves_config_toml_as_it_was(shared: Mvc, pg_server, pg_url, args):
    (shared.cwd / "store").mkdir()
    config = shared.mvc_dir / "config.toml"
    before, events = config.read_bytes(), shared.json("audit")
    proc = _commit_refused(shared, pg_server, pg_url, *args)
    assert proc.returncode not in (0, 2), (proc.returncode, proc.stderr)
    assert_error(proc, json_out=False)
    assert config.read_bytes() == before  # byte for byte: the comments stay
    assert shared.json("audit") == events
    assert shared.json("config", "get", "core.lock_timeout")["value"] == 12
    assert shared.json("remote", "list") == []
    assert not list((shared.mvc_dir / "tmp").glob(".tmp-*"))


def test_core_lock_timeout_bounds_the_wait_for_the_servers_lock(shared, pg_url):
    """Probe P: a PostgreSQL registry waited its built-in 60 s for the registry's lock whatever
    core.lock_timeout said."""
    import time

    import psycopg

    from mvc.core.registry.postgres_schema import LOCK_KEY

    shared("config", "set", "core.lock_timeout", "2")
    (shared.cwd / "g.bin").write_bytes(b"g")
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        started = time.monotonic()
        proc = shared("add", "g.bin", "--name", "g", check=False)
        waited = time.monotonic() - started
    assert proc.returncode == 1 and "mvc: error:" in proc.stderr, proc.stderr
    assert waited < 30, waited
    assert shared.json("ls") == []
