"""Fixtures for engine tests: a bare object store and stat cache in tmp_path, a git work tree."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mvc.core.objects import ObjectStore
from mvc.core.statcache import StatCache


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / ".mvc" / "objects", tmp_path / ".mvc" / "tmp")


@pytest.fixture
def cache(tmp_path: Path):
    c = StatCache(tmp_path / ".mvc" / "statcache.db")
    (tmp_path / ".mvc").mkdir(exist_ok=True)
    yield c
    c.close()


def _corrupt(path: Path, data: bytes = b"tampered") -> None:
    path.chmod(0o644)
    path.write_bytes(data)
    path.chmod(0o444)


@pytest.fixture
def corrupt():
    """Overwrite a read-only object in place, as a disk error or a careless user would."""
    return _corrupt


@pytest.fixture()
def git_repo(tmp_path, monkeypatch) -> Path:
    """An empty git work tree, ``tmp_path/work``, git's environment isolated (no GIT_*, a
    HOME of its own, no system config)."""
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    return work
