"""Fixtures for engine tests: a bare object store and stat cache in tmp_path."""

from __future__ import annotations

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
