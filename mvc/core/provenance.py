"""Who is acting, and where a version came from: the environment and git (the git command,
best effort: what git cannot say is left out)."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any, Callable

from mvc.core.gitcommand import GitResult, refused_message, run


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
    # the repository of the working directory (a hook's GIT_DIR included), like git itself
    out = run(".", "config", "user.email", check=False, timeout=5)
    if out is not None and out.ok and str(out.stdout).strip():
        return str(out.stdout).strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def environment(user: str) -> dict[str, Any]:
    import platform  # 2 ms: only an add that registers a version needs it

    from mvc import __version__

    return {
        "mvc_version": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform_name(),
        "machine": os.uname().machine,
        "user": user,
        "host": os.uname().nodename,  # what socket.gethostname() says, without its 2 ms import
        "executable": sys.executable,
    }


def platform_name() -> str:
    """What ``platform.platform()`` says, without the ``uname -p`` it runs on Linux (6 ms of
    every add), whose answer it drops there ('unknown', or the machine again): 'Linux-RELEASE-
    MACHINE-with-glibcX.Y', cleaned as it cleans it."""
    import platform

    system, _, release, _, machine = os.uname()
    if system != "Linux":
        return platform.platform()
    libc, version = platform.libc_ver()  # os.confstr: no file read
    text = "-".join(p.strip() for p in (system, release, machine, "with", libc + version) if p)
    for c, to in ((" ", "_"), ("/", "-"), ("\\", "-"), (":", "-"), (";", "-"), ('"', "-"), ("(", "-"), (")", "-")):
        text = text.replace(c, to)
    text = text.replace("unknown", "")
    while "--" in text:
        text = text.replace("--", "-")
    return text.rstrip("-")


def _run_git(path: Path, *args: str) -> GitResult | None:
    """``git -C path ARGS`` for the repository around ``path``, whatever repository the
    environment names (None when git is missing or hangs past 30 s); it takes no optional
    lock, so it never competes with the user's own git commands for the index."""
    return run(path, *args, check=False, text=False, repository_env=False, optional_locks=False, timeout=30)


def _git(path: Path, *args: str) -> str | None:
    """What ``git -C path ARGS`` prints (None when git is missing or fails)."""
    out = _run_git(path, *args)
    return bytes(out.stdout).decode("utf-8", "replace") if out is not None and out.ok else None


def git_info(path: Path, warnings: list[str] | None = None) -> dict[str, Any]:
    """Commit, branch, dirty flag and remote of the git work tree around ``path`` ({} if none;
    when git refuses a repository another user owns, {} and a warning added to ``warnings``).

    git commands rather than GitPython: importing GitPython costs 50 ms of CPU, which an add of
    a large file gathers while it hashes, on the core the hashing needs. Each field is asked
    for on its own, so that a status that fails (a corrupt index, a submodule without its git
    folder) costs only ``dirty``."""
    first = _run_git(path, "rev-parse", "--show-toplevel")
    if first is None or not first.ok:
        why = None if first is None else refused_message(first.stderr, "so this version records no git commit")
        if why and warnings is not None:
            warnings.append(why)
        return {}
    root = bytes(first.stdout).decode("utf-8", "replace")
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


def provenance_of_cwd(user: str, warnings: list[str] | None = None,
                      work_dir: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The environment, and the git state of the working directory (what stopped git from
    giving it, added to ``warnings``): the CLI runs in the project. A Python program's working
    directory may be anywhere: outside ``work_dir`` (the folder holding .mvc), that is read."""
    here = Path.cwd()
    if work_dir is not None and not os.environ.get("MVC_DIR") and here != work_dir and work_dir not in here.parents:
        here = work_dir
    return environment(user), git_info(here, warnings)


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
