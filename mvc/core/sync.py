"""Moving objects between the local store and a remote (``mvc push``, ``mvc pull``), and
materialising the pointer files committed to git (``mvc checkout`` with no ref).

What moves is what the versions need (integrity.needed_objects); what is there already
on the other side is skipped. A directory's manifest is fetched before the files it lists
are known. Nothing here takes the repository lock: objects are content-addressed, written
through a temporary name and verified, so a transfer never changes what a version means.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple

from mvc.core import refs
from mvc.core.errors import ConflictError, UserError
from mvc.core.integrity import Artifact, artifact_needs, needed_objects

if TYPE_CHECKING:
    from mvc.core.artifacts import Written
    from mvc.core.objects import ObjectStore
    from mvc.core.remotes import Remote
    from mvc.core.session import Session

Progress = Callable[[int], None] | None


class Transfer(NamedTuple):
    """What a push or pull moved."""

    remote: str
    location: str
    moved: tuple[str, ...]
    skipped: int
    bytes: int


class _Mover:
    """Moves what is missing on the other side, tallying over several calls."""

    def __init__(self, store: "ObjectStore", remote: "Remote", *, push: bool, progress: Progress):
        self.store, self.remote, self.push, self.progress = store, remote, push, progress
        self.moved: list[str] = []
        self.skipped = 0
        self.bytes = 0

    def move(self, digests: Iterable[str]) -> None:
        for digest in dict.fromkeys(digests):
            if digest in self.moved:
                continue
            if self.remote.has(digest) if self.push else self.store.has(digest):
                self.skipped += 1
                continue
            if self.push:
                self.bytes += self.remote.upload(self.store, digest, self.progress)
            else:
                self.bytes += self.remote.download(self.store, digest, self.progress)
            self.moved.append(digest)

    def fetch(self, digest: str) -> None:
        self.move([digest])

    def result(self) -> Transfer:
        return Transfer(self.remote.name, self.remote.location, tuple(self.moved), self.skipped, self.bytes)


def push(session: "Session", wanted: Iterable[str] = (), *, remote: str | None = None,
         pointers: bool = False, progress: Progress = None) -> Transfer:
    """Copy the objects the versions ``wanted`` (refs; default: every version) need to a
    remote; with ``pointers``, those the pointer files tracked by git need."""
    from mvc.core.remotes import open_remote

    target = open_remote(session, remote)
    if pointers:
        needs = artifact_needs(session.store, [Artifact(p.digest, p.kind, str(p.path))
                                               for p in tracked_pointers(session)])
    else:
        wanted = list(wanted)
        rows = [session.resolve(r) for r in wanted] if wanted else session.registry.versions()
        needs = needed_objects(session.registry, session.store, rows)
    needs.require_readable()
    mover = _Mover(session.store, target, push=True, progress=progress)
    mover.move(needs.digests)
    return mover.result()


def pull(session: "Session", wanted: Iterable[str], *, remote: str | None = None,
         progress: Progress = None) -> Transfer:
    """Copy the objects the versions ``wanted`` (refs) need from a remote, verified."""
    from mvc.core.remotes import open_remote

    wanted = list(wanted)
    if not wanted:
        raise UserError("name the versions to pull, e.g. 'mvc pull resnet@1.2.0'")
    source = open_remote(session, remote)
    rows = [session.resolve(r) for r in wanted]
    mover = _Mover(session.store, source, push=False, progress=progress)
    needs = needed_objects(session.registry, session.store, rows, fetch=mover.fetch)
    needs.require_readable()
    mover.move(needs.digests)
    return mover.result()


# -- pointer files ---------------------------------------------------------------------

def tracked_pointers(session: "Session") -> list:
    """The pointer files (``PATH.mvc``) git tracks in the work tree."""
    from mvc.core import gitops

    work_tree = gitops.open_work_tree(session.layout.work_dir)
    root = Path(work_tree.working_tree_dir)
    names = work_tree.git.ls_files("-z", "--", f"*{gitops.POINTER_SUFFIX}").split("\0")
    work_tree.close()
    return [gitops.read_pointer(root / n) for n in names if n and (root / n).is_file()]


class CheckedOut(NamedTuple):
    ref: str
    digest: str
    kind: str
    done: "Written"


def checkout_pointers(session: "Session", root: Path | str = ".", *, link: str = "copy",
                      force: bool = False, progress: Progress = None) -> list[CheckedOut]:
    """Materialise the artifact of every pointer file under ``root``: files that already
    match are skipped, missing objects are pulled from the default remote. A differing file
    is kept unless ``force`` (or the store holds its bytes); all of them are reported
    together in one ConflictError after the rest is done."""
    from mvc.core import artifacts, gitops
    from mvc.core.remotes import open_remote
    from mvc.core.versions import check_target

    store = session.store
    done, conflicts = [], []
    remote = None
    for path in gitops.find_pointers(Path(root).absolute()):
        p = gitops.read_pointer(path)
        art = Artifact(p.digest, p.kind, str(path))
        have = store.has(p.digest)
        if have:  # a manifest that is there must be readable; a missing one is pulled
            needs = artifact_needs(store, [art])
            needs.require_readable()
            have = all(store.has(d) for d in needs.by_digest)
        if not have:
            remote = remote or open_remote(session, None)
            mover = _Mover(store, remote, push=False, progress=progress)
            needs = artifact_needs(store, [art], fetch=mover.fetch)
            needs.require_readable()
            mover.move(needs.digests)
        entries = tuple(artifacts.load_entries(store, p.digest)) if p.kind == "directory" else ()
        stored = artifacts.Stored(p.digest, p.size, p.kind, p.target.name, entries)
        writer = artifacts.Materializer(store, session.cache, link, progress)
        check_target(session, p.target)  # e.g. a pointer file named .mvc.mvc
        try:
            written = writer.materialize(stored, p.target, force or _saved(session, p.target))
        except ConflictError:
            conflicts.append(str(p.target))
            continue
        done.append(CheckedOut(refs.format_ref(p.model, p.version), p.digest, p.kind, written))
    if conflicts:
        raise ConflictError(
            f"{', '.join(conflicts)} differ from their pointer files and were kept; "
            "use --force to replace them"
        )
    return done


def _saved(session: "Session", path: Path) -> bool:
    """True when ``path`` holds bytes the store has (another version's artifact), so
    replacing it loses nothing: switching git branches then switches models too."""
    from mvc.core import artifacts

    if not os.path.lexists(path) or path.is_symlink():
        return os.path.islink(path)
    digest, _, _ = artifacts.hash_path(path, session.cache)
    return session.store.has(digest)


def install_hooks(session: "Session", *, force: bool = False) -> list[str]:
    """Install post-checkout, post-merge (mvc checkout) and pre-push (mvc push --pointers) hooks."""
    from mvc.core import gitops

    work_tree = gitops.open_work_tree(session.layout.work_dir)
    written = gitops.install_hooks(work_tree, force)
    work_tree.close()
    return written
