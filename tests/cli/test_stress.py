"""Concurrency (SPEC §5): many mvc processes on one repository at once, like make -j8."""

from __future__ import annotations

import subprocess
import sys
import time

from support import BIN, write

WORKERS = 8
ROUNDS = 2


def worker_script(i: int, r: int) -> str:
    mvc = str(BIN)
    return " && ".join([
        f"{mvc} add w{i}.bin --name shared --tag w{i}-r{r}",  # add, and tag under the same lock
        f"{mvc} promote shared@w{i}-r{r} staging",
    ])


def test_eight_writers_at_once_lose_nothing(repo, work):
    for r in range(ROUNDS):
        for i in range(WORKERS):
            write(work / f"w{i}.bin", f"worker {i} round {r}".encode())
        procs = [subprocess.Popen(["sh", "-c", worker_script(i, r)], cwd=work, env=repo.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(WORKERS)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
    shared = repo.json("ls", "shared")
    versions = [v["version"] for v in shared]
    assert len(versions) == len(set(versions)) == WORKERS * ROUNDS
    tags = {t for v in shared for t in v["tags"]}
    assert tags == {f"w{i}-r{r}" for i in range(WORKERS) for r in range(ROUNDS)}
    history = repo.json("log", "shared", "--channel", "staging")
    assert len(history) == WORKERS * ROUNDS
    served = repo.json("resolve", "shared", "--channel", "staging")["version"]
    assert served in versions
    repo("audit", "--verify")
    assert repo.json("fsck")["ok"]
    actions = [e["action"] for e in repo.events()]
    assert actions.count("add") == actions.count("tag") == actions.count("promote") == WORKERS * ROUNDS


HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.pwrite(fd, f"pid {os.getpid()} (mvc gc)\\n".encode(), 0)
print("locked", flush=True)
time.sleep(30)
"""


def test_lock_wait_times_out_naming_the_holder(repo):
    repo.add("m", b"A")
    repo("config", "set", "core.lock_timeout", "0.5")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(repo.mvc_dir / "lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        proc = repo.fail("tag", "m", "best")
        assert time.monotonic() - started < 10
        assert f"pid {holder.pid} (mvc gc)" in proc.stderr and "core.lock_timeout" in proc.stderr
    finally:
        holder.kill()
        holder.wait()
    repo("tag", "m", "best")
    assert [t["tag"] for t in repo.json("tag", "m")] == ["best"]
