"""Who is acting, and where a version came from: the environment and git (the git command for
a version's provenance; GitPython for a code file's history)."""

from __future__ import annotations

import getpass
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable


def acting_user() -> str:
    """``MVC_USER``, else git's ``user.email``, else the login name (SPEC §7), refused (exit 1)
    when it is not a plain name or could pass for another one (mvc.core.access). Not cached
    here: a Session asks once (mvc.core.session)."""
    from mvc.core.access import check_new_user
    from mvc.core.errors import UserError

    user = _find_acting_user()
    try:
        return check_new_user(user)
    except UserError as exc:
        raise UserError(f"the acting user: {exc.message}; mvc takes it from MVC_USER, else git's "
                        "user.email, else the login name: set MVC_USER to your name") from None


def _find_acting_user() -> str:
    user = os.environ.get("MVC_USER", "").strip()
    if user:
        return user
    try:
        out = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5, check=False
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def environment(user: str) -> dict[str, Any]:
    from mvc import __version__

    return {
        "mvc_version": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "user": user,
        "host": socket.gethostname(),
        "executable": sys.executable,
    }


def open_git(path: Path):
    """The GitPython repository around ``path``, or None (no git work tree, or no GitPython)."""
    try:
        import git
    except ImportError:  # GitPython missing, or no git executable on PATH
        return None
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def _git(path: Path, *args: str) -> str | None:
    """What ``git -C path ARGS`` prints (None when git is missing or fails); it takes no
    optional lock, so it never competes with the user's own git commands for the index."""
    try:
        out = subprocess.run(["git", "--no-optional-locks", "-C", str(path), *args],
                             capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.decode("utf-8", "replace") if out.returncode == 0 else None


def git_info(path: Path) -> dict[str, Any]:
    """Commit, branch, dirty flag and remote of the git work tree around ``path`` ({} if none).

    Three git commands rather than GitPython: importing GitPython costs 50 ms of CPU, which an
    add of a large file gathers while it hashes, on the core the hashing needs."""
    root = _git(path, "rev-parse", "--show-toplevel")
    if root is None:
        return {}
    info: dict[str, Any] = {"root": root.rstrip("\n"), "commit": None, "branch": None, "dirty": None}
    status = _git(path, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    for line in (status or "").splitlines():
        if line.startswith("# branch.oid "):
            info["commit"] = None if line[13:] == "(initial)" else line[13:]  # no commit yet
        elif line.startswith("# branch.head "):
            info["branch"] = None if line[14:] == "(detached)" else line[14:]
    if status is not None:  # changes to tracked files, staged or not; untracked files do not count
        info["dirty"] = any(line and not line.startswith("#") for line in status.splitlines())
    remotes: dict[str, str] = {}
    for line in (_git(path, "config", "--get-regexp", r"^remote\..*\.url$") or "").splitlines():
        key, _, url = line.partition(" ")
        remotes.setdefault(key[len("remote."):-len(".url")], url)
    info["remote"] = remotes.get("origin") or next(iter(remotes.values()), None)
    return info


def git_file_info(path: Path) -> dict[str, Any]:
    """For a code file: the last commit that touched it and whether it differs from it."""
    repo = open_git(path.parent if path.is_file() else path)
    if repo is None:
        return {}
    import git

    try:
        rel = str(Path(path).resolve().relative_to(Path(repo.working_tree_dir).resolve()))
    except ValueError:
        return {}
    info: dict[str, Any] = {}
    try:
        last = next(repo.iter_commits(paths=rel, max_count=1), None)
        info["commit"] = last.hexsha if last is not None else None
        status = repo.git.status("--porcelain", "--", rel)
        info["tracked"] = last is not None and not status.startswith("??")
        info["dirty"] = bool(status.strip())
    except (git.GitCommandError, ValueError):
        info = {}
    repo.close()
    return info


# Files this big are read long enough for provenance to be gathered meanwhile (see add).
OVERLAP_BYTES = 32 << 20


def provenance_of_cwd(user: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The environment, and the git state of the working directory."""
    return environment(user), git_info(Path.cwd())


class Background:
    """Run ``fn`` in a thread now; ``result()`` waits for it and re-raises its error."""

    def __init__(self, fn: Callable[[], Any]):
        import threading

        self._out: list = []
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self._out.append((True, fn()))
        except BaseException as exc:  # handed to the caller of result()
            self._out.append((False, exc))

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        ok, value = self._out[0]
        if not ok:
            raise value
        return value
