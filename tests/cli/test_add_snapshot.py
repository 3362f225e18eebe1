"""What ``mvc add`` stores is a whole snapshot or nothing (SPEC §10, issue 10 items 5-7): a
directory it cannot read completely, a file that changes while it is read, and objects a
concurrent ``mvc gc --grace 0`` removes before the version is registered."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from support import BIN, assert_error, write

# Root reads every file whatever its mode; without the capabilities that allow it
# (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) root meets permission bits like anyone else, and the
# repository, which root owns, stays writable. setpriv (util-linux) drops them for one command.
SETPRIV = shutil.which("setpriv")
DROP_DAC = ["--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]


def as_plain_user(repo, *args: str) -> subprocess.CompletedProcess:
    """``mvc ARGS`` run so that permission bits apply (as root: without the DAC capabilities)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if SETPRIV is None:
            pytest.skip("running as root, and setpriv (util-linux) is missing to drop the "
                        "capabilities that let root read unreadable files")
        prefix = [SETPRIV, *DROP_DAC]
    return subprocess.run([*prefix, str(BIN), *args], cwd=repo.cwd, env=repo.env,
                          capture_output=True, text=True, timeout=120)


def _versions(repo, name: str) -> list:
    proc = repo("ls", name, "--json", check=False)
    return [] if proc.returncode else [v["version"] for v in json.loads(proc.stdout)]


# -- item 6: unreadable parts ---------------------------------------------------------------

@pytest.mark.parametrize("option", [None, "--data", "--code"])
def test_unreadable_subdirectory_is_exit_1_naming_it(repo, work, option):
    write(work / "d2" / "x" / "f", "inside")
    write(work / "d2" / "g", "beside")
    write(work / "m.bin", "model")
    (work / "d2" / "x").chmod(0o000)
    try:
        args = ["add", "d2", "--name", "m"] if option is None else ["add", "m.bin", "--name", "m", option, "d2"]
        proc = as_plain_user(repo, *args)
    finally:
        (work / "d2" / "x").chmod(0o755)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert_error(proc)
    assert str(work / "d2" / "x") in proc.stderr and "Permission denied" in proc.stderr
    assert _versions(repo, "m") == []


def test_unreadable_file_inside_a_directory_is_exit_1(repo, work):
    write(work / "d2" / "x" / "f", "inside")
    (work / "d2" / "x" / "f").chmod(0o000)
    proc = as_plain_user(repo, "add", "d2", "--name", "m")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert_error(proc)
    assert str(work / "d2" / "x" / "f") in proc.stderr and "Permission denied" in proc.stderr


@pytest.mark.parametrize("option", [None, "--data", "--code"])
def test_unreadable_top_level_file_is_exit_1_not_usage(repo, work, option):
    write(work / "top.bin", "secret")
    write(work / "m.bin", "model")
    (work / "top.bin").chmod(0o000)
    args = ["add", "top.bin", "--name", "m"] if option is None else ["add", "m.bin", "--name", "m", option, "top.bin"]
    proc = as_plain_user(repo, *args)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert_error(proc)
    assert str(work / "top.bin") in proc.stderr and "Permission denied" in proc.stderr
    assert _versions(repo, "m") == []


# -- item 7: a file that changes while it is read --------------------------------------------

def test_file_growing_while_added_is_refused(repo, work):
    big = write(work / "big.bin", os.urandom(1 << 20) * 64)  # 64 MiB: read for a while
    stop = threading.Event()

    def append() -> None:
        with open(big, "ab") as f:
            while not stop.is_set():
                f.write(b"x" * 4096)
                f.flush()
                time.sleep(0.001)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        proc = repo("add", "big.bin", "--name", "m", check=False)
    finally:
        stop.set()
        writer.join()
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert_error(proc)
    assert f"{big} changed while mvc read it" in proc.stderr
    assert _versions(repo, "m") == []
    # once nothing writes to it, the same file is added whole
    added = repo.json("add", "big.bin", "--name", "m")
    assert added["digest"] == "sha256:" + hashlib.sha256(big.read_bytes()).hexdigest()
    assert added["size"] == big.stat().st_size


# -- item 5: gc --grace 0 between storing and registering ------------------------------------

def _object_count(mvc_dir: Path) -> int:
    return sum(1 for p in (mvc_dir / "objects").glob("??/*"))


def test_gc_between_store_and_register_cannot_break_store_data(repo, work):
    """Hold the repository lock so that add stores everything and then waits for it; stop add
    there, run a real ``mvc gc --grace 0`` (which deletes add's objects: nothing references them
    yet), let add go on: under the lock it must find every object it needs, data included."""
    write(work / "model" / "w.bin", "weights v1")
    write(work / "model" / "cfg.json", "{}")
    write(work / "data" / "a.csv", "1,2\n")
    write(work / "data" / "b.csv", "3,4\n")
    write(work / "extra.csv", "5,6\n")
    repo.add("base", "another model")  # gc refuses to act on a registry without versions
    before = _object_count(repo.mvc_dir)
    lock_fd = os.open(repo.mvc_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    add = repo.popen("add", "model", "--name", "m", "--data", "data", "--data", "extra.csv", "--store-data")
    try:
        # model: 2 files + manifest; data: 2 files + manifest; extra.csv: 1
        deadline = time.monotonic() + 60
        while _object_count(repo.mvc_dir) < before + 7:
            assert add.poll() is None and time.monotonic() < deadline, add.communicate()
            time.sleep(0.01)
        os.kill(add.pid, signal.SIGSTOP)
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)
    try:
        freed = repo.json("gc", "--grace", "0")
        assert freed["objects"] == 7, freed
    finally:
        os.kill(add.pid, signal.SIGCONT)
    out, err = add.communicate(timeout=120)
    assert add.returncode == 0, (out, err)
    checked = repo("verify", check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
