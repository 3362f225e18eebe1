"""How mvc runs git: ``git -C WHERE ARGS`` as a subprocess (not GitPython, whose import
alone costs 50 ms of CPU that a hook or an add pays; only ``push --pointers``, whose transfer
dwarfs that, lists its pointer files through GitPython, after ``work_tree`` here).

Every run gets what every git call needs:

- no standard input unless the caller feeds some, so a git that asks something (a
  credential helper, an editor, a pager's terminal) reads end of file instead of hanging;
- a timeout, so a stuck git (a hung network file system, a held lock, a hook or filter that
  waits) never hangs mvc: git is then told to stop (SIGTERM, on which it removes its lock files
  such as ``index.lock``; SIGKILL would leave them and block the user's next git command), and
  killed if it has not gone ``STOP_GRACE`` seconds later. ``MVC_GIT_TIMEOUT`` (seconds) bounds
  every call, for a slow file system or a test;
- the C locale, so that git's messages reach mvc untranslated and ``refused_message`` can
  read them;
- output decoded as UTF-8 with undecodable bytes kept (``surrogateescape``), never an error;
- a one-line error when git is missing (``GitMissing``) or times out, instead of a traceback.

What differs between callers is a parameter of ``run``: ``check`` (strict: a failure is an
error; best effort: None when git cannot run, else the result whatever its exit code),
``repository_env`` (keep git's ``GIT_DIR``, ``GIT_INDEX_FILE``…: inside a hook they name the
repository git runs it for; or strip them: provenance asks about the folder around a path),
``text`` or bytes, ``optional_locks`` (off: never compete with the user's own git for the
index), ``stdin`` and ``timeout``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Mapping, NamedTuple

from mvc.core.errors import UserError

TIMEOUT = 120  # seconds: far beyond any git command mvc runs, short of a hang (MVC_GIT_TIMEOUT)
STOP_GRACE = 2  # seconds a git told to stop (SIGTERM) has to remove its lock files before SIGKILL

C_LOCALE = {"LC_ALL": "C", "LANGUAGE": ""}  # git's messages untranslated: refused_message reads them

# Set by git for its hooks (and by users): they name a repository other than the one around
# the path asked about, and GIT_DIR without GIT_WORK_TREE makes the working directory the top.
REPOSITORY_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX",
                  "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE")


class GitResult(NamedTuple):
    returncode: int
    stdout: str | bytes
    stderr: str | bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class GitMissing(UserError):
    """The git command cannot be started (not installed, not on PATH, not executable)."""


class GitTimeout(UserError):
    """git did not finish within the timeout (and was stopped): nothing wrong in what was
    asked, so ``--json`` says ``error``, not ``invalid``; still a UserError, so that a caller
    that lives without git's answer (best effort) does."""

    kind = "error"


class GitRefused(UserError):
    """git will not read a repository that another user owns (``refused_message``); ``stderr``
    is what git said, for a caller that words the consequence its own way."""

    def __init__(self, message: str, stderr: str | bytes):
        super().__init__(message)
        self.stderr = stderr


def run(where: Path | str, *args: str, check: bool = True, text: bool = True, repository_env: bool = True,
        optional_locks: bool = True, stdin: str | bytes | None = None, env: Mapping[str, str] | None = None,
        timeout: float | None = None) -> GitResult | None:
    """Run ``git -C where ARGS`` (``env``: variables added). Strict (``check``): the result
    of a run that exited 0, else GitMissing, GitRefused, GitTimeout, or UserError with git's
    last line of complaint. Best effort: None when git could not run or timed out, else the
    result, whatever its exit code. ``timeout``: ``TIMEOUT`` unless given, at most
    ``MVC_GIT_TIMEOUT``."""
    limit = time_limit()
    timeout = limit if timeout is None else min(timeout, limit)
    base = os.environ if repository_env else {k: v for k, v in os.environ.items() if k not in REPOSITORY_ENV}
    command = ["git", "-C", str(where), *([] if optional_locks else ["--no-optional-locks"]), *args]
    try:
        proc = _run(command, {**base, **(env or {}), **C_LOCALE}, stdin, text, timeout)
    except OSError as exc:
        if not check:
            return None
        if isinstance(exc, FileNotFoundError):
            raise GitMissing("git is not installed or not on PATH; install git, which this command needs") from None
        raise GitMissing(f"cannot run git ({exc.strerror or exc}); check the git installation") from None
    except subprocess.TimeoutExpired:
        if not check:
            return None
        raise GitTimeout(f"git {_verb(args)} did not finish within {timeout:g} s and was stopped; try again, "
                         f"or run it yourself in {where} to see what holds it") from None
    result = GitResult(proc.returncode, proc.stdout, proc.stderr)
    if check and not result.ok:
        if why := refused_message(proc.stderr, "so mvc cannot use it"):
            raise GitRefused(why, proc.stderr)
        raise UserError(f"git {_verb(args)} failed: {said(proc.stderr or proc.stdout) or f'exit {proc.returncode}'}")
    return result


def said(err: str | bytes) -> str:
    """The line of git's output that says what failed: its last ``fatal:`` or ``error:`` line
    (the advice after it, such as a lock's "remove the file manually to continue.", names no
    file), else its last line."""
    lines = [line.strip() for line in (err if isinstance(err, str) else err.decode("utf-8", "replace")).splitlines()]
    lines = [line for line in lines if line]
    marked = [line for line in lines if line.startswith(("fatal: ", "error: "))]
    return (marked or lines or [""])[-1]


def _run(command: list[str], env: dict[str, str], stdin: str | bytes | None, text: bool,
         timeout: float) -> subprocess.CompletedProcess:
    """``subprocess.run``, but a git that overstays ``timeout`` (or a Ctrl-C) is stopped as
    ``_stop`` says, not killed outright."""
    with subprocess.Popen(command, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          **({"encoding": "utf-8", "errors": "surrogateescape"} if text else {})) as proc:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except BaseException:
            _stop(proc)
            raise
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, on which git removes its lock files; SIGKILL after ``STOP_GRACE`` seconds.
    Only waited for, not read: a hook git started may hold its output pipes open."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def time_limit() -> float:
    """The most seconds a git call may take: ``MVC_GIT_TIMEOUT`` when set, else ``TIMEOUT``."""
    given = os.environ.get("MVC_GIT_TIMEOUT", "").strip()
    if not given:
        return TIMEOUT
    try:
        seconds = float(given)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise UserError(f"MVC_GIT_TIMEOUT is {given!r}: give the seconds a git command may take, "
                        "a number above 0 (unset: 120)")
    return seconds


def _verb(args: tuple[str, ...]) -> str:
    """The git command's name among its arguments (past global options such as
    ``--literal-pathspecs``, and ``-c NAME=VALUE``)."""
    words = iter(args)
    for a in words:
        if a in ("-c", "-C"):
            next(words, None)
        elif not a.startswith("-"):
            return a
    return ""


def run_git(root: Path | str, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None,
            raw: bool = False) -> str:
    """What a strict ``git -C root ARGS`` prints (``raw``: as is, else stripped)."""
    out = run(root, *args, env=env, stdin=stdin).stdout  # type: ignore[union-attr]  # strict: never None
    return out if raw else out.strip()


def work_tree(path: Path | str, advice: str) -> Path:
    """The top folder of the git work tree around ``path``; when there is none (or it is a bare
    repository), UserError saying so and ``advice``. A git that is missing or refuses the
    repository says so instead, and so does a wrong ``MVC_GIT_TIMEOUT``."""
    time_limit()
    try:
        return Path(run_git(path, "rev-parse", "--show-toplevel"))
    except (GitMissing, GitRefused, GitTimeout):
        raise
    except UserError:
        raise UserError(f"{path} is not inside a git work tree; {advice}") from None


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
