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


# Set by git for its hooks (and by users): they name a repository other than the one around
# the path asked about, and GIT_DIR without GIT_WORK_TREE makes the working directory the top.
_REPOSITORY_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX",
                   "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE")


def _run_git(path: Path, *args: str) -> subprocess.CompletedProcess | None:
    """``git -C path ARGS`` for the repository around ``path`` (None when git is missing or
    hangs); it takes no optional lock, so it never competes with the user's own git commands
    for the index."""
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_ENV} | C_LOCALE
    try:
        return subprocess.run(["git", "--no-optional-locks", "-C", str(path), *args], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=30, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _git(path: Path, *args: str) -> str | None:
    """What ``git -C path ARGS`` prints (None when git is missing or fails)."""
    out = _run_git(path, *args)
    return out.stdout.decode("utf-8", "replace") if out is not None and out.returncode == 0 else None


_HINT = "git config --global --add safe.directory "


def refused_message(stderr: bytes | str, consequence: str) -> str | None:
    """What to tell when git refused a repository because another user owns it (its
    safe.directory check): the folder, ``consequence``, and the command that trusts it; None
    when ``stderr`` says something else. mvc never overrides that check: such a repository's
    config could run another user's commands (core.fsmonitor, hooks). Both come from git's
    message, read in the C locale (``C_LOCALE``): the command as git quotes it for the shell,
    the folder between the message's last quotes."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    if "dubious ownership" not in text or _HINT not in text:
        return None
    command = _HINT + text.rsplit(_HINT, 1)[1].rstrip("\n")
    where = text.split("repository at '", 1)[1].rsplit("'\nTo add an exception", 1)[0] \
        if "repository at '" in text else "this folder"
    return f"git refuses the repository at {where!r} (another user owns it), {consequence}; " \
           f"if you trust it: {command}"


C_LOCALE = {"LC_ALL": "C", "LANGUAGE": ""}  # git's messages untranslated: refused_message reads them


def git_info(path: Path, warnings: list[str] | None = None) -> dict[str, Any]:
    """Commit, branch, dirty flag and remote of the git work tree around ``path`` ({} if none;
    when git refuses a repository another user owns, {} and a warning added to ``warnings``).

    git commands rather than GitPython: importing GitPython costs 50 ms of CPU, which an add of
    a large file gathers while it hashes, on the core the hashing needs. Each field is asked
    for on its own, so that a status that fails (a corrupt index, a submodule without its git
    folder) costs only ``dirty``."""
    first = _run_git(path, "rev-parse", "--show-toplevel")
    if first is None or first.returncode != 0:
        why = None if first is None else refused_message(first.stderr, "so this version records no git commit")
        if why and warnings is not None:
            warnings.append(why)
        return {}
    root = first.stdout.decode("utf-8", "replace")
    commit = _git(path, "rev-parse", "-q", "--verify", "HEAD^{commit}")  # None: no commit yet
    branch = _git(path, "symbolic-ref", "-q", "--short", "HEAD")  # None: detached
    status = _git(path, "status", "--porcelain", "--untracked-files=no")
    names = (_git(path, "remote") or "").split()
    remote = "origin" if "origin" in names else next(iter(names), None)
    url = _git(path, "remote", "get-url", remote) if remote else None  # with url.*.insteadOf
    return {
        "root": root.rstrip("\n"),
        "commit": commit.strip() if commit else None,
        "branch": branch.rstrip("\n") if branch else None,
        # changes to tracked files, staged or not; untracked files do not count
        "dirty": None if status is None else bool(status.strip()),
        "remote": url.splitlines()[0] if url and url.strip() else None,
    }


def git_file_info(path: Path) -> dict[str, Any]:
    """For a code file or folder: the last commit that touched it, whether git tracks it, and
    whether it differs from that commit ({} outside a git work tree, or when git cannot say).
    The git command, as for git_info (GitPython also wrote to a git process that a repository
    owned by another user had already made exit, and the broken pipe ended the add)."""
    where = path.parent if path.is_file() else path
    root = _git(where, "rev-parse", "--show-toplevel")
    if root is None:
        return {}
    top = Path(root.rstrip("\n"))
    try:
        rel = str(Path(path).resolve().relative_to(top.resolve()))
    except ValueError:
        return {}
    # from the top, where rel is; literal pathspecs: 'model[1].py' is that file, not a pattern
    last = _git(top, "--literal-pathspecs", "log", "-1", "--format=%H", "--", rel)
    status = _git(top, "--literal-pathspecs", "status", "--porcelain", "--", rel)
    if last is None or status is None:  # no commit yet, or git failed
        return {}
    commit = last.strip() or None
    return {"commit": commit, "tracked": commit is not None and not status.startswith("??"),
            "dirty": bool(status.strip())}


# Files this big are read long enough for provenance to be gathered meanwhile (see add).
OVERLAP_BYTES = 32 << 20


def provenance_of_cwd(user: str, warnings: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The environment, and the git state of the working directory (what stopped git from
    giving it, added to ``warnings``)."""
    return environment(user), git_info(Path.cwd(), warnings)


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
