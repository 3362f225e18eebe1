"""Output that cannot be written, and numbers beyond every limit (probe D item 7): one line on
stderr and the right exit code, never a traceback or an internal error."""

from __future__ import annotations

import os
import subprocess

import pytest
from support import BIN

FULL = "/dev/full"


def _to_full(repo, *args: str) -> subprocess.CompletedProcess:
    with open(FULL, "w") as full:
        return subprocess.run([str(BIN), *args], cwd=repo.cwd, env=repo.env, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)


@pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full on this system")
@pytest.mark.parametrize("args", [("show", "m", "--json"), ("show", "m"), ("ls", "m"), ("stats",),
                                  ("show", "nosuch", "--json"), ("config", "list"), ("--version",),
                                  ("-V",), ("--help",), ("show", "--help"), ("completion", "bash"),
                                  ("lineage", "m", "--format", "dot")])
def test_a_full_stdout_is_one_line_and_exit_1(repo, args):
    repo.add("m", b"a\n")
    repo("config", "set", "compare.threshold", "0.5")
    proc = _to_full(repo, *args)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvc: error: "), proc.stderr
    if "nosuch" not in args:
        assert "cannot write the output to standard output (No space left on device)" in lines[0]


@pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full on this system")
def test_a_change_whose_output_fails_says_it_was_made(repo):
    repo.add("m", b"a\n")
    proc = _to_full(repo, "tag", "m@0.1.0", "gold", "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "the change itself was made" in proc.stderr
    assert repo.json("show", "m@gold")["version"] == "0.1.0"
    # the same again changes nothing, and does not say it did (probe I)
    for args in (("tag", "m@0.1.0", "gold", "--json"), ("promote", "m@0.1.0", "staging")):
        repo(*args)
        proc = _to_full(repo, *args)
        assert proc.returncode == 1 and "cannot write the output" in proc.stderr
        assert "change itself was made" not in proc.stderr, (args, proc.stderr)


def test_a_reader_that_goes_away_is_not_an_error(repo):
    for i in range(3):
        repo.add("m", f"{i}\n".encode())
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.run([str(BIN), "ls", "m"], cwd=repo.cwd, env=repo.env, stdout=w,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(w)
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.parametrize("args", [("ls", "m"), ("--version",), ("-V",), ("--help",), ("show", "--help"),
                                  ("lineage", "m", "--format", "dot")])
def test_a_reader_gone_before_the_first_write_is_not_an_error(repo, args):
    """--version answers before the rest of the error handling is in place: it printed a
    traceback for a closed pipe. Help is written by typer, which made a closed pipe exit 1,
    and with the output of completion and lineage --format dot, a full disk was the bare
    'No space left on device' (probe H)."""
    repo.add("m", b"a\n")
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.run([str(BIN), *args], cwd=repo.cwd, env=repo.env, stdout=w,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(w)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_huge_limits_and_instants_beyond_utc(repo):
    repo.add("m", b"a\n")
    assert len(repo.json("audit", "--limit", "9" * 26)) == 2  # no limit at all, as ls --limit
    assert [r["ref"] for r in repo.json("ls", "m", "--limit", "9" * 26)] == ["m@0.1.0"]
    for where, refs in (("created > 0001-01-01T00:00:00+14:00", ["m@0.1.0"]),
                        ("created < 9999-12-31T23:59:59-14:00", ["m@0.1.0"]),
                        ("created < 0001-01-01T00:00:00+14:00", []),
                        ("created >= 9999-12-31T23:59:59-14:00", [])):
        assert [r["ref"] for r in repo.json("ls", "m", "--where", where)] == refs, where


def test_an_error_with_standard_error_gone_keeps_its_exit_code_and_json(repo):
    """``mvc … --json 2>&1 >out.json | head -3``: the reader of stderr went away before the
    error line, the write failed, and mvc exited 1 with nothing on stdout (probe I). The exit
    status and the JSON error document are still the command's."""
    import json

    repo.add("m", b"a\n")
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.run([str(BIN), "promote", "m@0.1.0", "staging", "--json", "--check", "exit 3"],
                          cwd=repo.cwd, env=repo.env, stdout=subprocess.PIPE, stderr=w, text=True, timeout=120)
    os.close(w)
    assert proc.returncode == 5 and json.loads(proc.stdout)["error"]["type"] == "check_failed"
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.run([str(BIN), "show", "m@9.9.9", "--json"], cwd=repo.cwd, env=repo.env,
                          stdout=subprocess.PIPE, stderr=w, text=True, timeout=120)
    os.close(w)
    assert proc.returncode == 1 and json.loads(proc.stdout)["error"]["type"] == "not_found"
