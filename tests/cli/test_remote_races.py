"""Races between a command that writes and another that cleans up, made certain with stop
points (MVC_STOP_AT, mvc/core/faults.py), and interrupts: a cleaner never removes what a
running command holds, a removal that finds its target gone counts as done, and a double
Ctrl-C leaves no traceback."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from support import clone_without_objects, go_on, stopped_at, write


@pytest.mark.parametrize("point,size", [("pack:writing", 6 << 20), ("object:before-rename", 1 << 20)],
                         ids=["pack", "whole-object"])
def test_fsck_repair_leaves_alone_the_temporary_file_a_running_add_writes(repo, work, point, size):
    """gc.grace_seconds 0, an add stopped while its temporary pack (or whole object) is in
    .mvc/tmp: fsck --repair and gc leave it there (the add holds it: atomic.held_temp), and
    the add, let go, records its version whole."""
    data = os.urandom(size)
    write(work / "m.bin", data)
    repo("config", "set", "gc.grace_seconds", "0")
    add = stopped_at(repo, "add", "m.bin", "--name", "m", point=point)
    try:
        held = sorted(p.name for p in (repo.mvc_dir / "tmp").iterdir())
        assert held, "the add has a temporary file"
        fsck = repo("fsck", "--repair", check=False)
        assert "in use" in fsck.stdout + fsck.stderr
        repo("gc")
        assert sorted(p.name for p in (repo.mvc_dir / "tmp").iterdir()) == held
    finally:
        code, out, err = go_on(add)
    assert code == 0, err
    repo("verify", "m")
    repo("checkout", "m", "-o", "out.bin")
    assert (work / "out.bin").read_bytes() == data
    # once nobody holds it, a leftover is removed as before
    write(repo.mvc_dir / "tmp" / "obj-left", b"x")
    repo("fsck", "--repair")
    assert not (repo.mvc_dir / "tmp" / "obj-left").exists()


def test_fsck_repair_leaves_alone_the_small_objects_a_running_pull_stages(repo, work, tmp_path):
    """A pull stages small objects in .mvc/tmp and commits them together; stopped while it
    commits, with gc.grace_seconds 0, fsck --repair leaves the staged ones alone (each held:
    atomic.held_temp; before, only the grace period kept them, and the pull then failed), and
    the pull, let go, brings every version whole."""
    datas = {f"s{i}": os.urandom(1000 + i) for i in range(3)}
    for name, data in datas.items():
        write(work / f"{name}.bin", data)
        repo("add", f"{name}.bin", "--name", name)
    repo("remote", "add", "origin", str(tmp_path / "remote"))
    repo("push")
    clone = tmp_path / "clone"
    there = clone_without_objects(repo, clone)
    there("config", "set", "gc.grace_seconds", "0")
    pull = stopped_at(there, "pull", *datas, point="object:before-rename")
    try:
        held = sorted(p.name for p in (clone / ".mvc" / "tmp").iterdir())
        assert len(held) == 3, held  # the three staged objects, not yet renamed into place
        fsck = there("fsck", "--repair", check=False)
        assert "in use" in fsck.stdout + fsck.stderr
        assert sorted(p.name for p in (clone / ".mvc" / "tmp").iterdir()) == held
    finally:  # let go: it stops again before each of the other renames
        while True:
            pull.send_signal(signal.SIGCONT)
            _, status = os.waitpid(pull.pid, os.WUNTRACED)
            if not os.WIFSTOPPED(status):
                break
    assert os.waitstatus_to_exitcode(status) == 0, pull.stderr.read()
    there("verify")
    for name, data in datas.items():
        there("checkout", name, "-o", f"{name}.out")
        assert (clone / f"{name}.out").read_bytes() == data


# -- S3: incomplete multipart uploads ------------------------------------------------------

@pytest.fixture
def s3(s3_server, repo):
    """The repository's default remote: a fresh bucket on the test S3 server."""
    bucket = s3_server.bucket()
    repo.env.update(s3_server.env())
    repo("remote", "add", "s3", f"s3://{bucket}/team/models", "--endpoint-url", s3_server.url,
         "--region", "us-east-1")
    return bucket


def _uploads(s3_server, bucket: str) -> list[dict]:
    return s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_a_push_whose_upload_fsck_aborted_says_so_and_a_rerun_completes(s3_server, s3, repo, work):
    """A push stopped mid-way through a pack's multipart upload; fsck --repair (grace 0) aborts
    the upload: the push, let go, says in one line what happened and what to run (exit 1)."""
    repo.add("m", os.urandom(12 << 20), filename="m.bin")
    push = stopped_at(repo, "push", point="push:pack-writing")
    try:
        assert _uploads(s3_server, s3)
        repo("config", "set", "gc.grace_seconds", "0")
        repo("fsck", "--repair")
        assert not _uploads(s3_server, s3)
    finally:
        code, out, err = go_on(push)
    assert code == 1, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvc: error: the upload of pack "), err
    assert "to remote 's3' was aborted, perhaps by 'mvc fsck --repair' or 'mvc gc' elsewhere; run push again" in err
    assert "Traceback" not in err and "specified upload" not in err
    repo("push")
    repo("verify", "m")


def test_fsck_repair_counts_an_upload_that_completed_meanwhile_as_done(s3_server, s3, repo, work):
    """fsck lists a running push's upload as old (grace 0), then the push completes it before
    fsck aborts it (stop points on both sides): the abort finds no such upload, which is what
    it wanted; fsck --repair exits 0 and the push's version is whole on the remote."""
    repo.add("m", os.urandom(12 << 20), filename="m.bin")
    repo("config", "set", "gc.grace_seconds", "0")
    push = stopped_at(repo, "push", point="push:pack-writing", env={"MVC_DEBUG": "1"})
    try:
        fsck = stopped_at(repo, "fsck", "--repair", point="fsck:checked")
    finally:
        code, out, err = go_on(push)
    assert code == 0, err
    assert not _uploads(s3_server, s3)
    code, out, err = go_on(fsck)
    assert code == 0, (out, err)
    assert "Traceback" not in err and "specified upload" not in out + err
    clone = work.parent / "clone"
    clone_without_objects(repo, clone)
    repo("pull", "m", cwd=clone)
    repo("verify", "m", cwd=clone)


def test_an_upload_is_as_old_as_its_last_part(s3_server, s3, repo):
    """A multipart upload begun long ago whose last part went up just now is a running push's
    (a slow link, a large pack): fsck --repair leaves it alone; one idle for the grace period
    is aborted."""
    client = s3_server.client()
    # 5 s: the part's upload and fsck's start fit in it on a loaded machine (2 s did not, in a CI
    # run beside two other test sessions)
    repo("config", "set", "gc.grace_seconds", "5")
    key = "team/models/objects/pack/" + "0" * 64 + ".pack"
    up = client.create_multipart_upload(Bucket=s3, Key=key)["UploadId"]
    time.sleep(5.5)  # initiated over the grace period ago...
    client.upload_part(Bucket=s3, Key=key, UploadId=up, PartNumber=1, Body=b"x" * (5 << 20))  # ...active now
    fsck = repo("fsck", "--repair")
    assert "left alone" in fsck.stdout + fsck.stderr
    assert [u["UploadId"] for u in _uploads(s3_server, s3)] == [up]
    time.sleep(5.5)
    repo("fsck", "--repair")
    assert not _uploads(s3_server, s3)


# -- a double Ctrl-C -----------------------------------------------------------------------

@pytest.fixture
def planted(repo, work, tmp_path):
    """A chunked version, a small one, and a directory remote 'origin' holding both; a clone
    (same registry, empty store) whose default remote is the same folder."""
    write(work / "big.bin", os.urandom(6 << 20))
    repo("add", "big.bin", "--name", "big")
    write(work / "small.bin", os.urandom(1000))
    repo("add", "small.bin", "--name", "small")
    remote = tmp_path / "remote"
    repo("remote", "add", "origin", str(remote))
    repo("push")
    clone = tmp_path / "clone"
    clone_without_objects(repo, clone)
    return remote, clone


def _one_message(proc, path, kind: str, keeps: str) -> None:
    assert f"{path} on remote 'origin' is {kind}, not {keeps} as mvc keeps there; remove it" in proc.stderr, proc.stderr
    assert "Errno" not in proc.stderr and "mvc fsck" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("what", ["pack", "idx", "recipe", "object"])
def test_a_folder_at_a_file_name_on_a_remote_is_named_by_push_and_pull(repo, planted, what):
    """A folder where the remote keeps a pack, a pack's index, a recipe or a whole object:
    push and pull both name it and say to remove it (exit 3); once removed, push puts it back
    and the pull completes."""
    remote, clone = planted
    objects = remote / "objects"
    path = {"pack": next((objects / "pack").glob("*.pack")), "idx": next((objects / "pack").glob("*.idx")),
            "recipe": next(objects.glob("*/*.recipe")),
            "object": next(p for p in objects.glob("[0-9a-f][0-9a-f]/*") if not p.name.endswith(".recipe"))}[what]
    path.unlink()
    path.mkdir()
    for proc in (repo.fail("push", code=3), repo.fail("pull", "big", "small", cwd=clone, code=3)):
        _one_message(proc, path, "a folder", "a regular file")
    path.rmdir()
    repo("push")
    repo("pull", "big", "small", cwd=clone)
    repo("verify", "big", "small", cwd=clone)


@pytest.mark.parametrize("kind", ["file", "FIFO", "symlink"])
def test_something_planted_at_the_remotes_tmp_is_named_by_push(repo, planted, tmp_path, kind):
    """The remote's tmp/ as a file, a FIFO or a symlink: push names it (exit 3), never an
    Errno, never advice to run a command that cannot help; fsck --repair never empties a
    folder through the link."""
    remote, _ = planted
    write(repo.cwd / "more.bin", os.urandom(1000))
    repo("add", "more.bin", "--name", "more")
    tmp = remote / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "upload-keep").write_bytes(b"not mvc's")
    {"file": lambda: tmp.write_bytes(b"x"), "FIFO": lambda: os.mkfifo(tmp),
     "symlink": lambda: tmp.symlink_to(elsewhere)}[kind]()
    _one_message(repo.fail("push", code=3), tmp, f"a {kind}" if kind != "FIFO" else "a FIFO", "a folder")
    repo("config", "set", "gc.grace_seconds", "0")
    repo("fsck", "--repair", check=False)
    assert (elsewhere / "upload-keep").exists()
    tmp.unlink()
    repo("push")


def test_a_pull_of_more_small_objects_than_one_batch_brings_them_all(repo, work, tmp_path):
    """A directory of 600 small files: the pull commits its staged objects in batches (each
    staged file holds a descriptor until committed), and every file arrives."""
    folder = work / "many"
    folder.mkdir()
    for i in range(600):
        (folder / f"f{i:03}.txt").write_text(f"file {i}\n")
    repo("add", "many", "--name", "many")
    repo("remote", "add", "origin", str(tmp_path / "remote"))
    repo("push")
    clone = tmp_path / "clone"
    there = clone_without_objects(repo, clone)
    there("pull", "many")
    there("verify")
    there("checkout", "many", "-o", "got")
    assert sorted(p.name for p in (clone / "got").iterdir()) == sorted(p.name for p in folder.iterdir())
    assert (clone / "got" / "f599.txt").read_text() == "file 599\n"
    assert not any((clone / ".mvc" / "tmp").iterdir())


def test_chunks_two_adds_at_once_both_wrote_are_kept_once_after_gc(repo, work):
    """Two adds at once of files that share content each write the shared chunks into their
    own pack (neither sees the other's before it commits): stats said 1.00, diff said the
    bytes were kept once, and gc kept both copies for ever (probe K). gc now drops a live
    chunk from the pack the store does not read it from, once the other copy reads back
    sound; a damaged other copy keeps this one, and fsck --repair then drops the damaged one."""
    from packs_support import flip_byte, packs, store, weights

    def copies() -> list[int]:
        held = [{e.digest for e in entries} for entries in packs(repo).values()]
        return [sum(c.digest in h for h in held) for c in chunks]

    weights(work / "a.safetensors")
    weights(work / "b.safetensors", changed=(4,))  # 6 of its 7 chunks are a's
    first = stopped_at(repo, "add", "a.safetensors", "--name", "a", point="pack:writing")
    try:
        repo("add", "b.safetensors", "--name", "b")
    finally:
        code, _, err = go_on(first)
    assert code == 0, err
    s = store(repo)
    chunks = [c for c in s.recipe(repo.json("show", "a")["digest"]).chunks]
    assert sorted(copies()) == [1, 2, 2, 2, 2, 2, 2]
    chunks = [c for c, n in zip(chunks, copies()) if n == 2]
    before = repo.json("stats")["stored"]
    damaged = s.locate(chunks[0].digest)  # the copy the store reads of one shared chunk
    flip_byte(damaged.path, damaged.offset + damaged.size // 2)
    repo("gc", "--grace", "0")
    assert copies() == [2, 1, 1, 1, 1, 1]  # the damaged chunk's other copy stays
    assert repo.json("stats")["stored"] < before - 4 * (1 << 20)
    repo("fsck", "--repair")  # the damaged copy goes; the sound one serves
    assert copies() == [1] * 6
    for name in ("a", "b"):
        repo("checkout", name, "-o", "out.bin", "--force")
        assert (work / "out.bin").read_bytes() == (work / f"{name}.safetensors").read_bytes()
    repo("verify")
