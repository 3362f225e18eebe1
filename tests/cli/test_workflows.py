"""docs/workflows.md stays true: its Makefile, run with real make, trains and registers a
model once, registers again only when an input changes, and a parallel make is fine."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from support import BIN, Mvc, mvc_env, write

WORKFLOWS = Path(__file__).resolve().parent.parent.parent / "docs" / "workflows.md"

# stands in for training: the model is a function of the data, so the same data makes the same bytes
TRAIN = """\
import hashlib, sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(hashlib.sha256(data).digest() * 64)
"""


def _makefile() -> str:
    found = re.findall(r"```make\n(.*?)```", WORKFLOWS.read_text(), re.S)
    assert len(found) == 1, "docs/workflows.md shows one Makefile"
    return found[0]


def _make(work: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = mvc_env(home, PATH=f"{BIN.parent}:/usr/bin:/bin")
    proc = subprocess.run(["make", *args], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_the_makefile_registers_only_when_the_inputs_change(repo: Mvc, work: Path, home: Path):
    write(work / "Makefile", _makefile())
    write(work / "train.py", TRAIN)
    write(work / "data" / "train.csv", "x,y\n1,2\n")

    _make(work, home)
    assert [v["version"] for v in repo.json("log", "net")] == ["0.1.0"]
    again = _make(work, home)
    assert "mvc add" not in again.stdout  # make saw nothing to do
    assert [v["version"] for v in repo.json("log", "net")] == ["0.1.0"]

    # an input touched but unchanged: retrained, and mvc add registers nothing new
    later = time.time() + 2
    os.utime(work / "data" / "train.csv", (later, later))
    assert "mvc add" in _make(work, home).stdout
    assert [v["version"] for v in repo.json("log", "net")] == ["0.1.0"]

    # a changed input: a new version, with its lineage
    write(work / "data" / "train.csv", "x,y\n1,2\n3,4\n")
    later += 2
    os.utime(work / "data" / "train.csv", (later, later))
    _make(work, home, "-j4")
    assert [v["version"] for v in repo.json("log", "net")] == ["0.1.1", "0.1.0"]
    shown = repo.json("show", "net@0.1.1")
    assert "data/train.csv" in str(shown["lineage"])
