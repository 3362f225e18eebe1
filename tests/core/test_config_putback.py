"""The engine side of putting config.toml back (session.Session.change, atomic.PutBack): a
change that fails after writing config.toml, before or at its COMMIT, leaves the file byte for
byte as it was, whichever Config object the writes went through; a change that succeeds
keeps what it wrote. tests/cli/test_config_putback.py makes the COMMIT itself fail on a real
PostgreSQL server."""

from __future__ import annotations

import pytest

from apirepo import api_repo
from mvc.core.session import UnitOfWork

HAND_WRITTEN = b"\xef\xbb\xbf# ours\n[core]\nlock_timeout = 12  # seconds\n"


class Refused(Exception):
    pass


@pytest.fixture
def repo(tmp_path, monkeypatch):
    repo = api_repo(tmp_path, monkeypatch)
    config = repo.session.layout.config
    config.write_bytes(HAND_WRITTEN)  # a byte order mark and comments: put back as they were
    config.chmod(0o600)
    repo.session.config.reread()
    repo.registry.model_names()  # a long-lived Repo: its registry (and config) already open
    (tmp_path / "store").mkdir()
    return repo


@pytest.mark.parametrize("change", [
    lambda r, p: r.remote_add("origin", str(p / "store")),
    lambda r, p: r.config_set("core.lock_timeout", "7"),
    lambda r, p: r.config_unset("core.lock_timeout"),
], ids=["remote-add", "config-set", "config-unset"])
def test_a_change_that_fails_after_writing_config_toml_puts_it_back(repo, tmp_path, monkeypatch, change):
    def refuse(*args, **kwargs):
        raise Refused("the registry refused the event")

    monkeypatch.setattr(UnitOfWork, "event", refuse)
    config = repo.session.layout.config
    with pytest.raises(Refused):
        change(repo, tmp_path)
    assert config.read_bytes() == HAND_WRITTEN
    assert config.stat().st_mode & 0o777 == 0o600
    monkeypatch.undo()
    change(repo, tmp_path)  # the same change, allowed: it stays
    assert config.read_bytes() != HAND_WRITTEN
