"""A remote's pack indexes are kept in .mvc/cache/pack-indexes once read: the next push or pull
reads them there, a copy that does not check out against its name is read again from the
remote, and copies of packs the remote no longer lists are dropped."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support import Mvc


@pytest.fixture()
def pushed(repo: Mvc, tmp_path: Path) -> tuple[Mvc, Path, Path]:
    """A repository that pushed a chunked file (12 MiB of random bytes) to a directory remote,
    then lost its objects: a pull must fetch every chunk."""
    remote = tmp_path / "remote"
    repo("remote", "add", "origin", str(remote))
    (repo.cwd / "model.bin").write_bytes(os.urandom(12 << 20))
    repo("add", "model.bin", "--name", "m")
    repo("push")
    shutil.rmtree(repo.mvc_dir / "objects")
    (repo.mvc_dir / "objects").mkdir()
    return repo, remote, repo.mvc_dir / "cache" / "pack-indexes"


def _remote_indexes(remote: Path) -> list[Path]:
    return sorted((remote / "objects" / "pack").glob("*.idx"))


def _pulled_whole(repo: Mvc) -> None:
    repo("pull", "m")
    assert repo.json("verify")["ok"] is True
    out = repo.cwd / "out.bin"
    repo("checkout", "m", "-o", str(out))
    assert out.read_bytes() == (repo.cwd / "model.bin").read_bytes()
    out.unlink()


def test_a_pull_keeps_the_indexes_and_the_next_one_reads_them_here(pushed):
    repo, remote, cache = pushed
    _pulled_whole(repo)
    indexes = _remote_indexes(remote)
    assert indexes and sorted(p.name for p in cache.iterdir()) == [p.name for p in indexes]
    for index in indexes:
        assert (cache / index.name).read_bytes() == index.read_bytes()
    # The remote's copies are unreadable now; the next pull reads the indexes here, where they
    # are checked against their names: what it fetches is still verified chunk by chunk.
    for index in indexes:
        index.write_bytes(b"not an index")
    shutil.rmtree(repo.mvc_dir / "objects")
    (repo.mvc_dir / "objects").mkdir()
    _pulled_whole(repo)


def test_a_copy_that_does_not_check_out_is_read_again(pushed):
    repo, remote, cache = pushed
    _pulled_whole(repo)
    index = _remote_indexes(remote)[0]
    (cache / index.name).unlink()
    (cache / index.name).write_bytes(b"garbage")
    (cache / "tmp-left-by-a-killed-copy").write_bytes(b"x")
    os.symlink("/dev/zero", cache / ("ef" * 32 + ".idx"))  # named as a copy: read only as a file
    shutil.rmtree(repo.mvc_dir / "objects")
    (repo.mvc_dir / "objects").mkdir()
    _pulled_whole(repo)
    assert (cache / index.name).read_bytes() == index.read_bytes()  # replaced by the remote's
    assert sorted(p.name for p in cache.iterdir()) == [p.name for p in _remote_indexes(remote)]


def test_copies_of_packs_the_remote_does_not_list_go(pushed):
    repo, remote, cache = pushed
    _pulled_whole(repo)
    index = _remote_indexes(remote)[0]
    assert (cache / index.name).exists()
    index.unlink()  # the remote no longer lists this pack (a gc there)
    index.with_suffix(".pack").unlink()
    (cache / ("ab" * 32 + ".idx")).write_bytes(b"another remote's")
    repo("push")  # the chunks that went are sent again: the same pack, kept here as it goes
    assert sorted(p.name for p in cache.iterdir()) == [p.name for p in _remote_indexes(remote)]
    assert (cache / index.name).read_bytes() == index.read_bytes()
    shutil.rmtree(repo.mvc_dir / "objects")
    (repo.mvc_dir / "objects").mkdir()
    _pulled_whole(repo)


def test_a_folder_reached_through_a_link_is_not_used_and_nothing_else_is_removed(pushed, tmp_path):
    """The cache folder is mvc's own: through a link it could be a folder of the user's, whose
    files a prune would remove."""
    repo, remote, cache = pushed
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    (mine / ("cd" * 32 + ".idx")).write_text("looks like a copy, is the user's")
    shutil.rmtree(cache)  # the push kept copies there
    os.symlink(mine, cache)
    _pulled_whole(repo)
    assert sorted(p.name for p in mine.iterdir()) == ["cd" * 32 + ".idx", "notes.txt"]
    os.unlink(cache)
    cache.mkdir()
    (cache / "README").write_text("not a copy: left alone")
    shutil.rmtree(repo.mvc_dir / "objects")
    (repo.mvc_dir / "objects").mkdir()
    _pulled_whole(repo)
    assert (cache / "README").read_text() == "not a copy: left alone"


def test_stats_of_the_remote_reads_the_remote_not_the_copies(pushed):
    """stats --remote says what the remote holds: an index damaged there counts as missing,
    whatever copy this machine keeps (a teammate's pull could not use it)."""
    repo, remote, cache = pushed
    _pulled_whole(repo)
    assert repo.json("stats", "--remote")["remote"]["versions"] == 1
    for index in _remote_indexes(remote):
        index.write_bytes(b"junk")
    assert repo.json("stats", "--remote")["remote"]["versions"] == 0
