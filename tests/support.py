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



def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def git(cwd: Path, *args: str, env: dict | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()
