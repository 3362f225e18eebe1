"""Helpers for tests: the installed ``mvc`` entry point run as a real subprocess with an
isolated HOME, and small builders for files and git repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "mvc"


def mvc_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MVC_", "GIT_"))}
    env.update({
        "HOME": str(home),
        "MVC_USER": "tester@example.com",
        "NO_COLOR": "1",
        "GIT_AUTHOR_NAME": "Tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
        "GIT_COMMITTER_NAME": "Tester", "GIT_COMMITTER_EMAIL": "tester@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    })
    env.update(extra)
    return env


def isolate(monkeypatch, home: Path) -> None:
    """This test process's environment as ``mvc_env(home)`` gives one (for tests of the API)."""
    for key in [k for k in os.environ if k.startswith(("MVC_", "GIT_"))]:
        monkeypatch.delenv(key)
    for key, value in mvc_env(home).items():
        monkeypatch.setenv(key, value)


class Mvc:
    """Runs the installed ``mvc`` like a user would: ``mvc("add", "m.bin", "--name", "x")``."""

    def __init__(self, cwd: Path, home: Path):
        self.cwd = cwd
        self.home = home
        self.env = mvc_env(home)

    def __call__(self, *args: str, cwd: Path | None = None, env: dict | None = None,
                 check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        run_env = dict(self.env)
        if env:
            run_env.update(env)
        proc = subprocess.run(
            [str(BIN), *map(str, args)], cwd=cwd or self.cwd, env=run_env, input=input,
            capture_output=True, text=True, timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"mvc {' '.join(map(str, args))} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def json(self, *args: str, **kw):
        proc = self(*args, "--json", **kw)
        return json.loads(proc.stdout)

    def fail(self, *args: str, code: int = 1, **kw) -> subprocess.CompletedProcess:
        """Run a command that must fail with ``code``: ``mvc: error: ...`` on stderr in one or
        two lines, no traceback; with ``--json``, stdout holds only the error document."""
        proc = self(*args, check=False, **kw)
        assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
        assert_error(proc, json_out="--json" in map(str, args))
        return proc

    def popen(self, *args: str, cwd: Path | None = None) -> subprocess.Popen:
        """Start ``mvc`` without waiting (for concurrency tests)."""
        return subprocess.Popen([str(BIN), *map(str, args)], cwd=cwd or self.cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def add(self, model: str, data: bytes | str, *args: str, filename: str = "model.bin") -> dict:
        """Write ``data`` to ``filename`` and ``mvc add`` it as ``model``; the --json result."""
        write(self.cwd / filename, data)
        return self.json("add", filename, "--name", model, *args)

    @property
    def mvc_dir(self) -> Path:
        return self.cwd / ".mvc"

    def events(self) -> list[dict]:
        """The audit log, oldest first, read straight from the SQLite registry."""
        return read_events(self.mvc_dir / "registry.db")

    def state(self) -> dict:
        """What a failed command must leave alone: versions, tags, config, lineage file, audit
        log and the user's files (the object store may keep an unreferenced object, which gc
        removes)."""
        return {
            "log": self.json("log"),
            "config": (self.mvc_dir / "config.toml").read_bytes(),
            "lineage": (self.mvc_dir / "lineage.json").read_bytes(),
            "events": self.events(),
            "work": tree_state(self.cwd, skip=(".mvc",)),
        }


def module_repo(tmp_path_factory) -> Mvc:
    """A repository where ``mvc init`` has run, for a module-scoped fixture: built once for
    the tests of a module that only read it (or put back what they change), since every
    ``mvc`` run is a process."""
    root = tmp_path_factory.mktemp("repo")
    (root / "home").mkdir()
    (root / "work").mkdir()
    repo = Mvc(root / "work", root / "home")
    repo("init")
    return repo


def on_terminal(args: list[str], cwd: Path, env: dict, columns: int | None = None) -> str:
    """Run ``mvc`` on a real pseudo-terminal (``columns`` wide: window size and COLUMNS) and
    return what it showed there, with the terminal's CRLF line ends."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    if columns is not None:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        env = dict(env, COLUMNS=str(columns))
    proc = subprocess.Popen([str(BIN), *args], cwd=cwd, env=env, stdin=follower, stdout=follower,
                            stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the terminal is closed and drained
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=60) == 0, b"".join(chunks)
    return b"".join(chunks).decode()


def assert_error(proc: subprocess.CompletedProcess, json_out: bool = False) -> None:
    lines = proc.stderr.splitlines()
    assert lines and lines[0].startswith("mvc: error: "), proc.stderr
    assert len(lines) <= 2, proc.stderr
    assert "Traceback" not in proc.stderr
    if json_out:
        doc = json.loads(proc.stdout)
        assert set(doc) == {"error"} and set(doc["error"]) == {"type", "message"}
        assert doc["error"]["message"] in proc.stderr
    else:
        assert proc.stdout == ""


def read_events(db: Path) -> list[dict]:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT seq, ts, user, action, target, details, prev, hash FROM events ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    keys = ("seq", "ts", "user", "action", "target", "details", "prev", "hash")
    return [dict(zip(keys, r), details=json.loads(r[5])) for r in rows]


def assert_chain_intact(events: list[dict]) -> None:
    """Recompute every hash of the audit chain (SPEC §7)."""
    from mvc.core.audit import GENESIS, event_hash

    prev = GENESIS
    for i, e in enumerate(events, start=1):
        assert e["seq"] == i and e["prev"] == prev, e
        assert e["hash"] == event_hash(prev, e["seq"], e["ts"], e["user"], e["action"],
                                       e["target"], e["details"]), e
        prev = e["hash"]


def tree_state(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Every entry below ``root``: (kind, mode bits, bytes or link target), by relative path."""
    out: dict[str, tuple] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in skip:
            continue
        st = p.lstat()
        if p.is_symlink():
            out[rel.as_posix()] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel.as_posix()] = ("dir",)
        else:
            out[rel.as_posix()] = ("file", st.st_mode & 0o777, p.read_bytes())
    return out


def model_dir(path: Path) -> Path:
    """A directory artifact with nesting, an executable file and an internal symlink."""
    write(path / "weights.bin", bytes(range(256)) * 8).chmod(0o644)  # modes independent of umask
    write(path / "config" / "params.json", '{"layers": 3}\n').chmod(0o644)
    write(path / "run.sh", "#!/bin/sh\necho serve\n").chmod(0o755)
    (path / "latest.json").symlink_to("config/params.json")
    return path


def stopped_at(m: "Mvc", *args: str, point: str, env: dict | None = None) -> subprocess.Popen:
    """``mvc ARGS`` started and frozen at stop point ``point`` (``MVC_STOP_AT``: SIGSTOP), for
    the test to race it; ``go_on`` lets it finish."""
    proc = subprocess.Popen([str(BIN), *map(str, args)], cwd=m.cwd, env={**m.env, "MVC_STOP_AT": point, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), proc.stderr.read()
    return proc


def go_on(proc: subprocess.Popen) -> tuple[int, str, str]:
    """Let a process ``stopped_at`` gave go on to its end: (exit code, stdout, stderr)."""
    import signal

    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def init_git(path: Path, home: Path) -> None:
    """A real git work tree with an isolated HOME (branch main)."""
    git(path, "init", "-q", "-b", "main", env=mvc_env(home))


def git_project(work: Path, home: Path) -> "Mvc":
    """A git work tree with a first commit and mvc init committed: an mvc runner in it."""
    init_git(work, home)
    env = mvc_env(home)
    git(work, "commit", "-q", "--allow-empty", "-m", "start", env=env)
    m = Mvc(work, home)
    m("init")
    git(work, "commit", "-q", "-m", "mvc init", env=env)
    return m


def git_project_with_remote(work: Path, home: Path, store: Path) -> "Mvc":
    """git_project with the directory remote ``store`` as its default remote, committed."""
    m = git_project(work, home)
    m("remote", "add", "origin", str(store))
    git(work, "commit", "-q", "-am", "remote", env=mvc_env(home))
    return m


def hanging_git(folder: Path, *words: str, seconds: int = 60) -> str:
    """A PATH whose first folder (``folder``) holds a ``git`` that hangs as a stuck git does
    (sleeps ``seconds``) when one of its arguments is one of ``words`` (every call when none),
    and runs the real git otherwise."""
    import shlex
    import shutil

    real = shutil.which("git")
    assert real is not None, "git is needed"
    folder.mkdir(parents=True, exist_ok=True)
    hang = f"exec sleep {seconds}"  # exec: stopping the wrapper stops the sleep, nothing left running
    body = (f'for a in "$@"; do case "$a" in {"|".join(map(shlex.quote, words))}) {hang};; esac; done\n'
            f'exec {shlex.quote(real)} "$@"' if words else hang)
    write(folder / "git", f"#!/bin/sh\n{body}\n").chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def git(cwd: Path, *args: str, env: dict | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def completion_repo(repo: Mvc, work: Path) -> None:
    """What completion offers: resnet 0.1.0 (tagged best, in production) and 0.1.1, bert 0.1.0,
    a remote origin and a channel edge in config."""
    write(work / "m.bin", b"weights")
    repo("add", "m.bin", "--name", "resnet")
    repo("tag", "resnet@0.1.0", "best")
    repo("promote", "resnet@0.1.0", "production")
    write(work / "m.bin", b"weights 2")
    repo("add", "m.bin", "--name", "resnet")
    repo("add", "m.bin", "--name", "bert", "--force")
    repo("remote", "add", "origin", str(work.parent / "remote"))
    repo("config", "set", "channels.edge.deploy_dir", "/srv/edge")


def clone_without_objects(repo: "Mvc", dest: Path) -> "Mvc":
    """A second work dir at ``dest`` whose .mvc is ``repo``'s without its object store, stat
    cache and caches (same registry, config and remotes): a teammate's machine that must pull.
    An mvc runner in it."""
    import shutil

    shutil.copytree(repo.mvc_dir, dest / ".mvc", ignore=shutil.ignore_patterns("objects", "statcache.db", "cache"))
    return Mvc(dest, repo.home)
