"""Shared fixtures (helpers live in support.py, importable from every test module)."""

from __future__ import annotations

import os
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



@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With MVC_TEST_NO_SKIP=1 (set by .ci/run) a skip is a failure: CI installs everything the
    suite needs, so a test that skips there would hide a missing install step, or a part of mvc
    that silently went untested."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("MVC_TEST_NO_SKIP") == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but MVC_TEST_NO_SKIP=1 forbids skips: {reason}"
