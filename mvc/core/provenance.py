"""Who is acting, and where a version came from: the environment and git (via GitPython,
imported only when a version is recorded)."""

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


def git_info(path: Path) -> dict[str, Any]:
    """Commit, branch, dirty flag and remote of the git work tree around ``path`` ({} if none)."""
    repo = open_git(path)
    if repo is None:
        return {}
    import git

    info: dict[str, Any] = {"root": str(repo.working_tree_dir)}
    try:
        info["commit"] = repo.head.commit.hexsha
    except ValueError:  # no commit yet
        info["commit"] = None
    try:
        info["branch"] = repo.active_branch.name
    except TypeError:  # detached HEAD
        info["branch"] = None
    try:
        info["dirty"] = repo.is_dirty(untracked_files=False)
    except git.GitCommandError:
        info["dirty"] = None
    remotes = {r.name: r for r in repo.remotes}
    remote = remotes.get("origin") or next(iter(remotes.values()), None)
    info["remote"] = next(iter(remote.urls), None) if remote is not None else None
    repo.close()
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
