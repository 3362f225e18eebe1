"""The README's examples run exactly as written.

Every ``sh`` and ``python`` block of README.md carries a marker comment just above it:

    <!-- example: run SESSION -->        run it, after the session's earlier blocks
    <!-- example: not run (REASON) -->   illustrative only, and why

The blocks of one session run in README order as one ``bash -e`` script (``python`` blocks
through ``python3``), in an empty temporary folder with the installed ``mvc`` on PATH, an
isolated HOME and MVC_USER set, the way a new user pastes them. scripts/demo.sh, which the
README's first command runs, runs here too.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from support import BIN, mvc_env

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKER = re.compile(r"<!--\s*example:\s*(?:run\s+(?P<session>[\w-]+)|not run\s*\((?P<reason>[^)]*)\))\s*-->")
RUNNABLE = ("sh", "python")


def readme_blocks() -> list[tuple[str, str, str | None, str | None]]:
    """(language, body, session, reason-not-run) of each ``sh``/``python`` block, in order."""
    lines = README.read_text().splitlines()
    out, i, marker = [], 0, None
    while i < len(lines):
        line = lines[i]
        m = MARKER.fullmatch(line.strip())
        if m:
            marker = m
        fence = re.match(r"^(```+)(\S*)\s*$", line)
        if fence:
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith(fence.group(1)):
                body.append(lines[i])
                i += 1
            if fence.group(2) in RUNNABLE:
                out.append((fence.group(2), "\n".join(body) + "\n",
                            marker and marker.group("session"), marker and marker.group("reason")))
            marker = None
        elif line.strip() and not m:
            marker = None  # a marker belongs to the block right below it
        i += 1
    return out


def sessions() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for lang, body, session, _ in readme_blocks():
        if session:
            found.setdefault(session, []).append((lang, body))
    return found


def script_of(blocks: list[tuple[str, str]]) -> str:
    parts = []
    for n, (lang, body) in enumerate(blocks):
        if lang == "python":
            parts.append(f"python3 - <<'MVC_README_PY_{n}'\n{body}MVC_README_PY_{n}\n")
        else:
            parts.append(body)
    return "".join(parts)


def run_bash(script: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = mvc_env(home)
    env["PATH"] = f"{BIN.parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("COLUMNS", None)
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


def test_every_runnable_block_is_marked_run_or_not_run_with_a_reason():
    blocks = readme_blocks()
    assert blocks, "README.md has no sh or python block"
    unmarked = [body.splitlines()[0] for _, body, session, reason in blocks if not session and reason is None]
    assert not unmarked, (
        "README blocks without '<!-- example: run SESSION -->' or '<!-- example: not run (why) -->' "
        f"right above them: {unmarked}")
    assert all(session or reason.strip() for _, _, session, reason in blocks), "a 'not run' marker gives no reason"


def test_setup_block_comes_first_and_its_second_line_is_the_test_command():
    # .ci/run reads the test command from the second line of the README's first sh block
    lang, body, session, reason = readme_blocks()[0]
    lines = body.splitlines()
    assert lang == "sh" and reason and len(lines) == 2
    assert lines[0] == "python3 -m pip install . && bash scripts/demo.sh"
    assert lines[1] == "python3 -m pip install -e '.[test]' && python3 -m pytest -n auto --dist loadfile"


def test_quick_start_is_self_contained():
    quick = sessions().get("quickstart")
    assert quick, "README.md has no quickstart session"
    commands = script_of(quick)
    for needed in ("mvc init", "mvc add", "mvc promote", "mvc rollback", "mvc lineage data/train.csv"):
        assert needed in commands
    # every file the commands read is created by the quick start itself
    for path in ("data/train.csv", "train.py", "smoke_test.py"):
        assert re.search(rf"> {re.escape(path)}\b", commands), f"the quick start does not create {path}"


@pytest.mark.parametrize("session", sorted(sessions()))
def test_readme_session_runs_as_written(session, tmp_path):
    where = tmp_path / "empty"
    where.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    proc = run_bash(script_of(sessions()[session]), where, home)
    assert proc.returncode == 0, (
        f"README session '{session}' failed (exit {proc.returncode})\n"
        f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    assert "Traceback" not in proc.stderr


def test_quick_start_ends_where_the_readme_says(tmp_path):
    where = tmp_path / "empty"
    where.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    quick = sessions()["quickstart"]
    main = [b for b in quick if "mvc rollback resnet" in b[1]]
    upto = quick[: quick.index(main[0]) + 1]
    proc = run_bash(script_of(upto) + "mvc resolve resnet\n", where, home)
    assert proc.returncode == 0, proc.stderr
    # after the rollback, production serves the first version again
    assert proc.stdout.splitlines()[-1].split("\t")[0] == "0.1.0", proc.stdout
    assert (where / "serving" / "model.safetensors").is_file()


def test_demo_script_runs(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = mvc_env(home, TMPDIR=str(tmp_path))
    env["PATH"] = f"{BIN.parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert "demo finished" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("mvc-demo.")] == [], \
        "the demo left its folder behind"
