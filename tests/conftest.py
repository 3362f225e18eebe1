"""Shared fixtures (helpers live in support.py, importable from every test module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import Mvc


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def work(tmp_path: Path) -> Path:
    w = tmp_path / "work"
    w.mkdir()
    return w


@pytest.fixture
def mvc(work: Path, home: Path) -> Mvc:
    """An ``mvc`` runner in an empty directory (no repository yet)."""
    return Mvc(work, home)


@pytest.fixture
def repo(mvc: Mvc) -> Mvc:
    """An ``mvc`` runner in a directory where ``mvc init`` has run."""
    mvc("init")
    return mvc

