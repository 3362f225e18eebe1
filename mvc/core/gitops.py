"""Working beside git: pointer files (``PATH.mvc``), .gitignore entries, and the pointer
commit of ``mvc add --git`` (``plan_add``, ``record_add``; its tag is gittags.py's); the hooks
live in hooks.py.

Model bytes never go into git; only the small TOML pointer does.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from mvc.core.atomic import write_atomic
from mvc.core.errors import MvcError, UserError
from mvc.core.faults import crash_point
from mvc.core.names import DIGEST_RE, check_model_name, is_git_folder
from mvc.core.refs import format_ref
from mvc.core.semver import parse_version

if TYPE_CHECKING:
    from mvc.core.layout import Layout

if TYPE_CHECKING:
    from mvc.core.gittags import TagPlan
    from mvc.core.registry.base import Registry
    from mvc.core.session import Session

POINTER_SUFFIX = ".mvc"


@dataclass(frozen=True)
class Pointer:
    path: Path  # the pointer file
    model: str
    version: str
    digest: str
    size: int
    kind: str

    @property
    def target(self) -> Path:
        return self.path.with_name(self.path.name[: -len(POINTER_SUFFIX)])


def stage_settings(layout: "Layout", warn: Callable[[str], None]) -> tuple[str, ...]:
    """Inside a git work tree, stage ``.mvc/config.toml`` and ``.mvc/.gitignore`` (like
    ``dvc init``), so that a clone carries the settings; the paths whose staged content differs
from the last commit (none in a clone, whose settings are committed). When git will not
    stage them (a repository another user owns, a broken index), ``warn`` says so: the change
    that asked stands. The git command, not GitPython (whose import costs 50 ms)."""
    from mvc.core.gitcommand import GitRefused, refused_message, run_git

    settings = (layout.config, layout.gitignore)
    try:
        root = Path(run_git(layout.work_dir, "rev-parse", "--show-toplevel")).resolve()
    except GitRefused as exc:
        names = " and ".join(os.path.relpath(p, layout.work_dir) for p in settings)
        warn(refused_message(exc.stderr, f"so {names} are not staged: 'git add' them once you do") or exc.message)
        return ()
    except UserError:  # no git work tree here (or a bare repository), or no git at all
        return ()
    try:
        files = [str(p.resolve().relative_to(root)) for p in settings]
    except ValueError:  # .mvc lies outside the work tree (MVC_DIR)
        return ()
    try:
        run_git(root, "add", "--", *files)
        changed = run_git(root, "diff", "--cached", "--name-only", "-z", "--", *files).split("\0")
    except UserError as exc:
        warn(f"{' and '.join(files)} are not staged ({exc.message}); 'git add' them to share the settings")
        return ()
    return tuple(f for f in files if f in changed)  # a clone's, committed already: nothing to say


def pointer_text(model: str, version: str, digest: str, size: int, kind: str) -> str:
    import tomli_w

    return "# mvc pointer: the bytes live in the mvc object store, not in git\n" + tomli_w.dumps(
        {"model": model, "version": version, "digest": digest, "size": size, "kind": kind}
    )


def read_pointer(path: Path) -> Pointer:
    """The pointer file ``path``: a regular file of at most 64 KiB (a FIFO named ``x.mvc``
    would block the post-checkout hook), else UserError."""
    from mvc.core.inputs import POINTER_FILE_LIMIT, read_capped

    if shown(path) != str(path):
        raise UserError(f"{shown(path)} has a name that is not valid UTF-8, which mvc refuses; "
                        "rename it (git mv) to a UTF-8 name")
    stem = Path(path).name[:-len(POINTER_SUFFIX)]
    if stem in ("", ".", "..") or is_git_folder(stem):  # a file named ..mvc would write out "."
        raise UserError(f"{path} is not a valid mvc pointer file: it would write out {stem!r}, which mvc "
                        "never does; remove it from git (git rm)")
    raw = read_capped(path, "pointer file", POINTER_FILE_LIMIT)
    if b"\n<<<<<<< " in b"\n" + raw and b"\n>>>>>>> " in raw:
        raise UserError(f"{path} holds git's conflict markers from a merge; keep one side (git checkout "
                        f"--ours or --theirs -- {shown(path)}, then git add it) and run 'mvc checkout'")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
        p = Pointer(Path(path), str(data["model"]), str(data["version"]), str(data["digest"]),
                    int(data["size"]), str(data.get("kind", "file")))
        if not DIGEST_RE.match(p.digest) or p.size < 0 or p.kind not in ("file", "directory"):
            raise ValueError("its digest, size or kind is not one mvc writes")
        try:
            check_model_name(p.model)
            parse_version(p.version)
        except UserError as exc:
            raise ValueError(exc.message) from None
        return p
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} is not a valid mvc pointer file ({exc}); restore it from git") from None


def agrees_with_registry(registry: "Registry | None", p: Pointer, path: Path) -> None:
    """Refuse a pointer file that names a version the registry records otherwise (its version,
    model, size or kind edited by hand, or a merge resolved wrongly). A version the registry
    lacks is not judged: a teammate's registry may be local to their machine."""
    try:
        row = registry.get_version(p.model, p.version) if registry is not None else None
    except MvcError:  # a registry that cannot be read is reported where it is used
        return
    if row is not None and (row.digest, row.size, row.kind) != (p.digest, p.size, p.kind):
        raise UserError(f"{path} is not a valid mvc pointer file (it names {format_ref(p.model, p.version)}, "
                        "which the registry records with another digest, size or kind); restore it from git")


def shown(path: Path | str) -> str:
    """``path`` as text that can be printed: a name that is not UTF-8 (git hands such names
    over, surrogate-escaped) gets U+FFFD where its bad bytes are."""
    return os.fsencode(path).decode("utf-8", "replace")


def pointer_path(target: Path) -> Path:
    """The pointer file of ``target``: ``PATH.mvc`` beside it."""
    target = Path(target).absolute()
    return target.with_name(target.name + POINTER_SUFFIX)


def pointer_current(target: Path, version: Any) -> bool:
    """Whether ``target``'s pointer file names ``version`` (a registry version row) already."""
    try:
        p = read_pointer(pointer_path(target))
    except UserError:
        return False
    return (p.model, p.version, p.digest) == (version.model, version.version, version.digest)


def _relative(path: Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def plan_add(target: Path, version: Any, created: bool) -> "TagPlan | None":
    """``add --git``, inside the add's unit of work: the tag ``NAME@vVERSION`` for ``version``
    (a registry version row), checked against git's tags before the registry commits; None when
    there is nothing to record (a rerun whose pointer file names the version already, and git
    its tag: a rerun after an add interrupted before its commit or its tag makes them). A tag
    that exists is kept when its commit's pointer file names the same bytes (a teammate's)."""
    from mvc.core import gittags
    from mvc.core.gitcommand import run_git
    from mvc.core.gitready import writable

    root = gittags.work_tree(Path(target).absolute().parent)
    if not created and pointer_current(target, version) and gittags.registered(root, version.model, version.version):
        return None
    rel = _relative(pointer_path(target), root)
    _refuse_in_git(root, Path(target).absolute(), rel[:-len(POINTER_SUFFIX)])

    def says_same(commit: str) -> bool:
        try:
            data = tomllib.loads(run_git(root, "show", f"{commit}:{rel}"))
        except (UserError, tomllib.TOMLDecodeError):
            return False
        return (data.get("model"), data.get("version"), data.get("digest")) == (
            version.model, version.version, version.digest)

    if created:
        _refuse_a_later_pointer(root, rel, version)
    plan = gittags.plan_version(root, version, says_same)
    writable(root, [t.name for t in plan.tags if not t.exists], commit=True, folders=[pointer_path(Path(target).absolute()).parent])
    return plan


def _refuse_in_git(root: Path, target: Path, rel: str) -> None:
    """What would put model bytes into git or its .gitignore out of shape, refused before the
    registry changes: a name git cannot ignore alone (a line break), a .gitignore that is not a
    plain file, files git tracks already (the ignore line would not untrack them)."""
    from mvc.core.gitcommand import run_git

    if "\n" in target.name or "\r" in target.name:
        raise UserError(f"{shown(target.name)!r} has a line break in its name, which a .gitignore cannot hold; "
                        "nothing changed. Rename it, or drop --git")
    _ignore_file(target)
    if run_git(root, "--literal-pathspecs", "ls-files", "-z", "--", rel):
        stop = (f"git --literal-pathspecs rm -r --cached -- {shlex.quote(rel)} && "
                f"git commit -m {shlex.quote(f'Stop tracking {rel} in git')}")
        raise UserError(f"git tracks {shown(rel)} (or files in it) already, so its bytes would stay in git; nothing "
                        f"changed. Stop tracking it first: {stop}, then run this again")


def _refuse_a_later_pointer(root: Path, rel: str, version: Any) -> None:
    """The pointer file HEAD holds names this model at this version or a later one, with other
    bytes: the registry that wrote it numbers versions apart from this one. git's tags say so
    too (plan_version), but a shallow clone has none (probe X: it tagged net@v0.1.0 over a
    pointer that said 0.1.2, and the tag push was refused)."""
    from mvc.core.gitcommand import run_git
    from mvc.core.semver import parse_version

    try:
        data = tomllib.loads(run_git(root, "show", f"HEAD:{rel}"))
        theirs = parse_version(str(data.get("version")))
    except (MvcError, tomllib.TOMLDecodeError, ValueError):
        return  # no such file at HEAD (or no HEAD), or not one mvc wrote: nothing to compare
    if data.get("model") != version.model or data.get("digest") == version.digest:
        return
    if theirs.text_key() >= parse_version(version.version).text_key():
        from mvc.core.errors import ConflictError

        raise ConflictError(
            f"{rel} at HEAD names {version.model}@{data.get('version')}, and this registry would make "
            f"{version.model}@{version.version} of other bytes; nothing was registered. This registry and the one "
            "that wrote the pointer number versions apart (a shallow clone lacks the tags that say so): share one "
            "registry (registry.url), or give this one a later --version")


def record_add(session: "Session", target: Path, version: Any, plan: "TagPlan") -> dict[str, Any]:
    """``add --git`` after the registry committed: write ``PATH.mvc`` for ``version``, ignore
    PATH in git, commit the pointer and mvc's line of the .gitignore (when they changed; nothing
    else) and make the tag ``plan`` checked. ``{"pointer", "committed", "commit", "tag",
    "created"}``, with ``"warning"`` (also printed, with the fix) when git refuses (a commit
    hook, say): the version is registered either way."""
    from mvc.core import gittags
    from mvc.core.errors import LockTimeoutError
    from mvc.core.gitcommand import run_git
    from mvc.core.lock import RepoLock

    pointer = pointer_path(target)
    text = pointer_text(version.model, version.version, version.digest, version.size, version.kind).encode()
    ref = format_ref(version.model, version.version)

    def write_files() -> tuple[Path, str]:
        write_atomic(pointer, text)
        return ignore(Path(target).absolute())

    gitignore = Path(target).absolute().parent / ".gitignore"
    # the add again (its -C, metrics and params too) finds the same bytes, metrics and params
    # unchanged and makes what git lacks (plan_add); with --force, or once the model has a later
    # version, it would add another
    plan = plan._replace(again=f" by running the same mvc add again, without --force, while {ref} is the latest "
                               f"version of {version.model} and its files are unchanged")
    gittags.pending(session, plan, commit=True)
    try:
        # One add --git at a time, from writing its files to its commit, in the writer lock (the
        # registry has committed and let it go): two at once lost each other's .gitignore line,
        # and committed trees read from the HEAD before the other's commit.
        with RepoLock(session.layout.lock, session.lock_timeout()):
            gitignore, entry = write_files()
            committed = _commit_pointer(plan.root, pointer, gitignore, entry, f"Model version: {ref}")
            head = run_git(plan.root, "rev-parse", "HEAD")
    except LockTimeoutError as exc:
        write_files()  # what the warning's fix commits
        return _not_committed(session, plan.root, version, pointer, gitignore, exc)
    except UserError as exc:
        return _not_committed(session, plan.root, version, pointer, gitignore, exc)
    # kept set while an interrupt goes up to the CLI, which says it; create() clears it when done
    return {"pointer": str(pointer), "committed": committed, **gittags.create(session, plan, head)}


def _not_committed(session: "Session", root: Path, version: Any, pointer: Path, gitignore: Path,
                   exc: MvcError) -> dict[str, Any]:
    """The warning (printed, and under "warning") of a version registered whose pointer git
    did not commit, with what makes the commit and its tag."""
    session.unfinished_step("")  # the warning says what to do
    ref = format_ref(version.model, version.version)
    files = " and ".join(_relative(p, root) for p in (pointer, gitignore))
    warning = (f"{ref} is registered, but git could not commit its pointer file ({exc.message}); "
               f"commit {files}, then tag that commit: git tag -a {version.model}@v{version.version} "
               f"-m 'Model version: {ref}' HEAD")
    session.warn(warning)
    return {"pointer": str(pointer), "committed": False, "commit": None,
            "tag": f"{version.model}@v{version.version}", "created": [], "warning": warning}


def _commit_pointer(root: Path, pointer: Path, gitignore: Path, entry: str, message: str) -> bool:
    """Commit ``pointer`` and ``entry`` in ``gitignore`` on top of HEAD and nothing else (the
    user's staged or unstaged edits, of the .gitignore too, stay as they were), like ``git commit
    --only`` through a temporary index, so commit hooks run; then stage the same two in git's
    index. Whether a commit was made (False: HEAD holds both already)."""
    import shutil
    import tempfile

    from mvc.core.gitcommand import run_git

    rel_p, rel_i = _relative(pointer, root), _relative(gitignore, root)
    blob = run_git(root, "hash-object", "-w", "--", rel_p)
    folder = tempfile.mkdtemp(prefix="mvc-index-")
    env = {"GIT_INDEX_FILE": os.path.join(folder, "index")}
    try:
        for attempt in range(COMMIT_TRIES):
            base = _commit_of(root, "HEAD")
            run_git(root, "read-tree", base or "--empty", env=env)
            run_git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{rel_p}", "--cacheinfo",
                    f"100644,{_with_entry(root, f'{base}:{rel_i}' if base else None, entry)},{rel_i}", env=env)
            changed = not base or bool(run_git(root, "diff", "--cached", "--name-only", base, env=env))
            if not attempt:
                crash_point("add-git:before-commit")
            if not changed or _committed_on(root, base, message, env):
                break
        else:
            raise UserError(f"the branch moved on while mvc committed, {COMMIT_TRIES} times over")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    run_git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{rel_p}", "--cacheinfo",
            f"100644,{_with_entry(root, f':{rel_i}', entry)},{rel_i}")
    return changed


COMMIT_TRIES = 3


def _commit_of(root: Path, spec: str) -> str | None:
    """The commit ``spec`` names; None when there is none (no commit yet, a root's parent)."""
    from mvc.core.gitcommand import run_git

    try:
        return run_git(root, "rev-parse", "--verify", "-q", f"{spec}^{{commit}}") or None
    except UserError:
        return None


def _committed_on(root: Path, base: str | None, message: str, env: dict[str, str]) -> bool:
    """``git commit`` of the temporary index read from ``base`` (so that hooks run), checked to
    have been made on ``base``: git parents a commit on HEAD as it finds it, so one that another
    process made meanwhile would be undone by this tree. Then this commit is taken back (only if
    the branch is still on it) and False says to read the new HEAD and commit again."""
    from mvc.core.gitcommand import run_git

    tree = run_git(root, "write-tree", env=env)
    run_git(root, "commit", "-q", "-m", message, env=env)
    made = run_git(root, "rev-parse", "HEAD")
    parent = _commit_of(root, f"{made}^")
    if parent == base or run_git(root, "rev-parse", f"{made}^{{tree}}") != tree or \
            run_git(root, "log", "-1", "--format=%B", made) != message:
        return True  # made on base; or HEAD is not this commit (a commit on top of it, a hook's): it stays
    if parent is None:  # the branch was replaced by one without this commit's ancestry: leave it
        raise UserError("the branch changed while mvc committed")
    run_git(root, "update-ref", "-m", "mvc: a commit landed meanwhile; committing again on it", "HEAD", parent, made)
    return False


def _with_entry(root: Path, spec: str | None, entry: str) -> str:
    """The blob of the .gitignore at ``spec`` (``HEAD:PATH``, ``:PATH``; None or missing: empty)
    with mvc's ``entry`` added when it lacks it."""
    from mvc.core.gitcommand import run

    raw = b""
    if spec is not None:
        try:
            raw = run(root, "cat-file", "blob", spec, text=False).stdout  # bytes: CRLF and all kept
        except UserError:
            raw = b""
    return run(root, "hash-object", "-w", "--stdin", stdin=_with_line(raw, entry), text=False).stdout.decode().strip()


def find_pointers(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".mvc"))
        for name in sorted(filenames):
            if name.endswith(POINTER_SUFFIX) and len(name) > len(POINTER_SUFFIX):
                yield Path(dirpath) / name


def ignore(path: Path) -> tuple[Path, str]:
    """Add ``/NAME`` for ``path`` to the .gitignore beside it (created if needed); the
    .gitignore and the line."""
    gitignore, entry = _ignore_file(path), ignore_entry(path.name)
    raw = gitignore.read_bytes() if gitignore.exists() else b""
    if (new := _with_line(raw, entry)) != raw:
        write_atomic(gitignore, new)
    return gitignore, entry


def ignore_entry(name: str) -> str:
    """The .gitignore line that matches the file ``name`` beside it and nothing else: ``/NAME``
    with git's wildcards, its escape and trailing spaces escaped (gitignore(5))."""
    escaped = re.sub(r"([\\*?\[\]])", r"\\\1", name)
    kept = escaped.rstrip(" ")
    return "/" + kept + "\\ " * (len(escaped) - len(kept))


def _with_line(raw: bytes, entry: str) -> bytes:
    """A .gitignore's bytes with ``entry`` added when no line is it (or NAME unanchored); its
    other bytes as they are, in whatever encoding, its line ends (CRLF) kept."""
    line = entry.encode("utf-8", "surrogateescape")
    if line in raw.splitlines() or line[1:] in raw.splitlines():
        return raw
    end = b"\r\n" if b"\r\n" in raw else b"\n"
    return raw + (end if raw and not raw.endswith(b"\n") else b"") + line + end


def _ignore_file(path: Path) -> Path:
    """The .gitignore beside ``path``: absent or a regular file, else UserError (mvc never
    writes through a link it did not make, nor waits on a FIFO); checked before the registry
    changes (plan_add) and again when written."""
    import stat

    gitignore = Path(path).parent / ".gitignore"
    try:
        mode = os.lstat(gitignore).st_mode
    except FileNotFoundError:
        return gitignore
    if not stat.S_ISREG(mode):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise UserError(f"{gitignore} is {kind}; mvc add --git writes the line that ignores {shown(Path(path).name)} "
                        "into it, which it cannot do safely; nothing changed. Make it a plain file, or drop --git")
    return gitignore

