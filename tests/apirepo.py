"""A Repo (the Python API) in tmp_path with an isolated HOME and user, for engine tests."""

from __future__ import annotations

from pathlib import Path


def api_repo(tmp_path: Path, monkeypatch):
    from mvc.api import Repo

    monkeypatch.setenv("MVC_USER", "tester@example.com")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MVC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return Repo.init(tmp_path)
