"""Pointer files committed to git (``PATH.mvc``): listing those git tracks (``mvc push
--pointers``) and materialising their artifacts (``mvc checkout`` with no ref, the git hooks),
pulling what the store lacks from the default remote (sync.py) or, in a linked worktree, from
the main work tree's store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple

from mvc.core import gitops, refs, status
from mvc.core.errors import ConflictError, MvcError, UserError
from mvc.core.integrity import Artifact, artifact_needs
from mvc.core.sync import fetch_artifacts

if TYPE_CHECKING:
    from mvc.core.artifacts import Written
    from mvc.core.remote_store import Remote
    from mvc.core.registry.base import Registry
    from mvc.core.session import Session

Progress = Callable[[int], None] | None


def tracked_pointers(work_dir: Path) -> list[Path]:
    """The pointer files (``PATH.mvc``) git tracks in the work tree around ``work_dir``, as
    GitPython lists them (``hooks.listed_pointers`` keeps those the hooks keep)."""
    from mvc.core import gitcommand, hooks

    root = gitcommand.work_tree(work_dir, "run 'git init' or drop --pointers")
    import git  # only now: without a git on PATH, importing GitPython fails
    with git.Repo(root) as repo:
        listed = repo.git.ls_files("-z", "--", hooks.POINTER_PATHSPEC, stdout_as_string=False)
    return hooks.listed_pointers(root, listed)


class CheckedOut(NamedTuple):
    ref: str
    digest: str
    kind: str
    done: "Written"


def checkout_pointers(session: "Session", root: Path | str = ".", *, link: str = "copy",
                      force: bool = False, progress: Progress = None,
                      pointers: Iterable[Path] | None = None) -> list[CheckedOut]:
    """Materialise the artifact of every pointer file under ``root`` (or of ``pointers``,
    the files a hook found stale): files that already match are skipped, missing objects
    are pulled from the default remote. A differing file is kept unless ``force`` (or the
    store holds its bytes). A pointer file that fails (unreadable, its object nowhere, a
    kept file) does not stop the others: every failure is reported together after the rest
    is done, as the first one's error class."""
    done, conflicts, failures = [], [], []
    remote: list = []  # the default remote, opened when an object must be pulled
    registry = status.readable_registry(session)  # once: a server that is down is tried once
    for path in gitops.find_pointers(Path(root).absolute()) if pointers is None else pointers:
        try:
            one = _checkout_one(session, path, link, force, progress, remote, registry)
        except MvcError as exc:  # reported with the others: the pointer files after it are written
            where = gitops.shown(path)
            failures.append((type(exc), exc.message if where in exc.message else f"{where}: {exc.message}"))
            continue
        except OSError as exc:
            failures.append((UserError, f"{gitops.shown(path)}: {exc.strerror or exc}"))
            continue
        if isinstance(one, str):
            conflicts.append(one)
        else:
            done.append(one)
    if conflicts:
        one_file = len(conflicts) == 1
        failures.append((ConflictError, f"{', '.join(conflicts)} {'differs' if one_file else 'differ'} from "
                                         f"{'its pointer file and was' if one_file else 'their pointer files and were'} "
                                         "kept; use --force to replace them"))
    from mvc.core.versions import warn_damaged_copies

    warn_damaged_copies(session)
    if failures:
        raise failures[0][0]("; ".join(message for _, message in failures))
    return done


def _checkout_one(session: "Session", path: Path, link: str, force: bool, progress: Progress,
                  remote: list, registry: "Registry | None") -> "CheckedOut | str":
    """Check out one pointer file; the work file's path when it differs and was kept."""
    from mvc.core import artifacts
    from mvc.core.remotes import open_remote
    from mvc.core.versions import check_target

    store = session.store
    p = gitops.read_pointer(path)
    gitops.agrees_with_registry(registry, p, path)
    art = Artifact(p.digest, p.kind, str(path))
    have = store.has(p.digest)
    if have:  # a manifest that is there must be readable; a missing one is pulled
        needs = artifact_needs(store, [art])
        if p.digest in needs.not_manifest:  # the registry is not what says "directory" here
            raise UserError(f"{path} is not a valid mvc pointer file (kind {p.kind!r}, but {p.digest} is a "
                            "file's object); restore it from git")
        needs.require_readable()
        have = all(store.has(d) for d in needs.by_digest)
    if not have:
        source = _main_worktree_store(session, p.digest)
        if source is None and not remote:
            remote.append(open_remote(session, None))
        fetch_artifacts(session, source or remote[0], [art], progress)
    entries = tuple(artifacts.load_entries(store, p.digest)) if p.kind == "directory" else ()
    stored = artifacts.Stored(p.digest, p.size, p.kind, p.target.name, entries)
    writer = artifacts.Materializer(store, session.cache, link, progress)
    check_target(session, p.target)  # e.g. a pointer file named .mvc.mvc
    try:
        written = writer.materialize(stored, p.target, force or (lambda: _saved(session, p.target)),
                                     follow_links=not force)
    except ConflictError:
        return str(p.target)
    return CheckedOut(refs.format_ref(p.model, p.version), p.digest, p.kind, written)


def _main_worktree_store(session: "Session", digest: str) -> "Remote | None":
    """In a linked worktree (``git worktree add``), whose own .mvc holds only what git carries,
    the main work tree's store when it has ``digest``, read as a directory remote (the same
    layout), so the post-checkout hook of ``git worktree add`` needs no remote."""
    from mvc.core.gitcommand import run
    from mvc.core.remote_store import make_remote

    work_dir = session.layout.work_dir
    # best effort (no git, or git fails: the remote instead), with a hook's GIT_DIR kept
    ran = [run(work_dir, *args, check=False) for args in (["rev-parse", "--show-toplevel"],
                                                          ["worktree", "list", "--porcelain"])]
    top, listed = (str(r.stdout) if r is not None and r.ok else "" for r in ran)
    if not top or not listed.startswith("worktree "):
        return None
    main = Path(listed.splitlines()[0][len("worktree "):])
    mvc_dir = main / os.path.relpath(work_dir.resolve(), Path(top.strip()).resolve()) / ".mvc"
    if main.resolve() == Path(top.strip()).resolve() or not (mvc_dir / "objects").is_dir():
        return None
    store = make_remote("main work tree", str(mvc_dir))
    return store if store.has(digest) else None


def _saved(session: "Session", path: Path) -> bool:
    """True when ``path`` holds bytes the store has (another version's artifact), so
    replacing it loses nothing: switching git branches then switches models too."""
    from mvc.core import artifacts

    if not os.path.lexists(path):
        return False
    if path.is_symlink():  # one that --link symlink made, into the store; never a user's own link
        target = os.path.abspath(os.path.join(path.parent, os.readlink(path)))
        return Path(target).is_relative_to(session.store.root)
    try:
        digest, _, _ = artifacts.hash_path(path, session.cache)
    except (UserError, OSError):  # a folder with links out of it, a file that cannot be read: kept
        return False
    return session.store.complete(digest)
