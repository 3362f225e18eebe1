"""registry.url (probe D item 2): ``config set`` takes only an absolute URL naming an existing,
reachable mvc registry; a registry.url that does not open is blamed, and can be unset or set
right; gc never deletes the objects of this repository's versions because registry.url names
another repository's registry, yet runs as usual on a registry shared with others."""

from __future__ import annotations

import os
import time

import pytest
from support import Mvc

AGO = time.time() - 7200


def _age(mvc_dir) -> None:
    for root, _dirs, files in os.walk(mvc_dir / "objects"):
        for f in files:
            os.utime(os.path.join(root, f), (AGO, AGO))


@pytest.fixture
def other(tmp_path, home) -> Mvc:
    o = tmp_path / "other"
    o.mkdir()
    m = Mvc(o, home)
    m("init")
    m.add("other", b"z\n")
    return m


def test_config_set_refuses_relative_missing_and_unreachable_urls(repo, tmp_path):
    repo.add("m", b"a\n")
    for url, said in (("sqlite:///reg.db", "absolute"),
                      (f"sqlite:///{tmp_path}/none.db", "names no existing registry"),
                      ("postgresql://nobody@127.0.0.1:1/none", "names no mvc registry that opens")):
        err = repo.fail("config", "set", "registry.url", url).stderr
        assert said in err and "mvc registry move" in err, err
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    err = repo.fail("config", "set", "registry.url", f"sqlite:///{tmp_path}/junk.db").stderr
    assert "names no mvc registry that opens" in err
    assert "registry" not in repo.json("config", "list")
    assert [e["action"] for e in repo.events()][-1] == "add"  # nothing recorded
    repo("ls", "m")


def test_gc_refuses_another_repositorys_registry(repo, other, work):
    repo.add("m", b"a\n")
    repo.add("m", b"b\n", filename="b.bin")
    _age(work / ".mvc")
    url = f"sqlite:///{other.mvc_dir}/registry.db"
    repo("config", "set", "registry.url", url)  # another registry: allowed, it exists
    for args in (("gc", "--grace", "0"), ("gc", "--grace", "0", "--dry-run")):
        err = repo.fail(*args, code=3).stderr
        assert "not the one this repository's objects were recorded in" in err
    repo("config", "unset", "registry.url")
    assert "all intact" in repo("verify").stdout  # nothing was deleted
    repo("gc", "--grace", "0")  # its own registry again: gc runs
    repo("verify")


def test_gc_runs_on_a_shared_registry_and_after_a_move(repo, tmp_path, home, work):
    """A second work dir joined to the first one's registry: versions its store lacks are no
    concern, and its own garbage still goes; a moved registry keeps its identity."""
    repo.add("m", b"a\n")
    shared = tmp_path / "shared.db"
    repo("registry", "move", f"sqlite:///{shared}")
    second = tmp_path / "second"
    second.mkdir()
    b = Mvc(second, home)
    b("init")
    b("config", "set", "registry.url", f"sqlite:///{shared}")  # an empty store joins the registry
    b.add("m", b"from b\n", filename="b.bin")
    (second / "stray").write_bytes(b"x")
    _age(second / ".mvc")
    b("gc", "--grace", "0")  # versions b's store lacks (m@0.1.0) are normal in a shared registry
    b("verify", "m@0.1.1")
    _age(work / ".mvc")
    repo("gc", "--grace", "0")  # the moved registry is still this repository's
    repo("verify", "m@0.1.0")


def test_unreachable_registry_url_is_blamed_and_can_be_fixed(repo, other, tmp_path):
    repo.add("m", b"a\n")
    url = f"sqlite:///{other.mvc_dir}/registry.db"
    repo("config", "set", "registry.url", url)
    os.rename(other.mvc_dir / "registry.db", tmp_path / "moved-away.db")
    for args in (("ls",), ("audit", "--verify"), ("gc",)):
        err = repo.fail(*args, code=3).stderr
        assert "registry.url" in err and "mvc config unset registry.url" in err, err
        assert "backup" not in err
    # set right (to an existing registry) or unset, while the configured one does not open
    repo("config", "set", "registry.url", f"sqlite:///{tmp_path}/moved-away.db")
    os.rename(tmp_path / "moved-away.db", tmp_path / "gone.db")
    repo("config", "unset", "registry.url")
    assert repo.json("ls", "m")
    repo("verify")
