"""Artifacts: a file, or a directory tree stored as a canonical manifest object.

Storing reads each file once (skipping files the stat cache knows); materialising writes
through a temporary name beside the target, verifies the bytes, and renames into place.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable

from mvc.core.errors import ConflictError, IntegrityError, UserError
from mvc.core.names import is_git_folder
from mvc.core.objects import ObjectStore, Progress
from mvc.core import walk
from mvc.core.owned import git_folder_in, link_inside, resolves_inside
from mvc.core.snapshots import read_unchanged, stat_of
from mvc.core.statcache import StatCache
from mvc.core.walk import FILE_MODE, Walk

MANIFEST_FORMAT = "mvc-tree-v1"
SYMLINK_MODE = 0o120000
LINK_MODES = ("copy", "reflink", "hardlink", "symlink")


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One file or symlink of a directory artifact, as its manifest lists it."""

    path: str  # relative, POSIX separators
    mode: int  # 0o644 or 0o755 for a file (like git, only the executable bit), SYMLINK_MODE for a link
    size: int  # a file's bytes; a link's target length
    digest: str | None = None  # a file's object
    target: str | None = None  # a symlink's target

    @property
    def is_link(self) -> bool:
        return self.target is not None

    def to_dict(self) -> dict[str, Any]:
        """The entry as the canonical manifest holds it (and ``mvc show --json`` prints it)."""
        if self.target is not None:
            return {"mode": self.mode, "path": self.path, "size": self.size, "target": self.target}
        return {"digest": self.digest, "mode": self.mode, "path": self.path, "size": self.size}

    @classmethod
    def from_dict(cls, doc: Any) -> "ManifestEntry":
        """An entry read from a manifest; anything but the two shapes ``to_dict`` writes is
        refused (a manifest comes from the store or a remote, and may be crafted). Paths are
        checked where they are written (``Materializer``)."""
        if isinstance(doc, dict) and set(doc) in (_FILE_KEYS, _LINK_KEYS):
            path, mode, size = doc["path"], doc["mode"], doc["size"]
            ref = doc.get("digest", doc.get("target"))
            if (isinstance(path, str) and isinstance(ref, str) and all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (mode, size))):
                return cls(path, mode, size, doc.get("digest"), doc.get("target"))
        raise IntegrityError("a directory manifest object is unreadable")


_FILE_KEYS = {"path", "mode", "size", "digest"}
_LINK_KEYS = {"path", "mode", "size", "target"}


@dataclass(frozen=True)
class Stored:
    digest: str
    size: int
    kind: str  # "file" | "directory"
    name: str
    entries: tuple[ManifestEntry, ...] = ()

    @classmethod
    def of(cls, row: Any, store: "ObjectStore") -> "Stored":
        """What a registry version row holds (a directory's entries read from its manifest)."""
        from mvc.core import registry_values

        registry_values.version(row)  # its path_name becomes a path
        entries = tuple(load_entries(store, row.digest)) if row.kind == "directory" else ()
        return cls(row.digest, row.size, row.kind, row.path_name, entries)


@dataclass(frozen=True)
class LookedUp:
    """What the stat cache knows about a path about to be stored, asked once: ``stat`` of a
    regular file (None for anything else), and its digest when the file is unchanged since
    it was hashed and its object is in the store (None: it must be read)."""

    path: Path
    stat: os.stat_result | None
    digest: str | None

    def must_read(self, at_least: int) -> bool:
        """True when storing the path means reading a file of ``at_least`` bytes or more."""
        return self.stat is not None and self.digest is None and self.stat.st_size >= at_least


def look_up(path: Path, cache: StatCache, store: ObjectStore) -> LookedUp:
    """Ask the stat cache about ``path`` (a file; a directory's files are asked one by one
    when it is stored); ``store_path(..., looked=...)`` then asks nothing again."""
    path = Path(path).absolute()
    try:
        st = os.stat(path)
    except OSError:
        return LookedUp(path, None, None)
    if not stat.S_ISREG(st.st_mode):
        return LookedUp(path, None, None)
    cached = cache.get(path, st)
    return LookedUp(path, st, cached if cached is not None and store.complete(cached) else None)


def _cached_digest(cache: StatCache, path: Path, store: ObjectStore | None, progress: Progress,
                   looked: LookedUp | None = None, rule: walk.Rule | None = None) -> tuple[str, int]:
    """Digest and size of a file, from the stat cache when it is unchanged, else by reading it
    once (storing it when ``store`` is given). ``looked``: the cache was asked already;
    ``rule``: where a folder's walk allows the file read to lie (``walk.Rule``)."""
    path = path.absolute()
    if looked is not None and looked.stat is not None and looked.path == path:
        before, cached = looked.stat, looked.digest
    else:
        before = stat_of(path)
        cached = cache.get(path, before)
        if cached is not None and store is not None and not store.complete(cached):
            cached = None
    if cached is not None:
        if progress:
            progress(before.st_size)
        return cached, before.st_size
    return read_unchanged(path, before, cache, store, progress, rule)


def hash_path(path: Path, cache: StatCache, progress: Progress = None, how: Walk = walk.MODEL,
              found: list[walk.Found] | None = None) -> tuple[str, int, str]:
    """Content digest, size and kind of a file or directory, without storing it (``how``: how a
    folder is walked, ``walk.Walk``; ``found``: what its walk found, when it was walked before)."""
    path = Path(path)
    if path.is_dir():
        entries = _walk(path, lambda f: _cached_digest(cache, f.path, None, progress, rule=f.rule), how, found)
        from mvc.core.objects import digest_bytes

        return digest_bytes(manifest_bytes(entries)), _file_bytes(entries), "directory"
    digest, size = _cached_digest(cache, path, None, progress)
    return digest, size, "file"


# -- the canonical manifest: the one place that writes and reads it -------------------------

def manifest_bytes(entries: Iterable[ManifestEntry]) -> bytes:
    """The canonical manifest of a directory: entries sorted by path, compact sorted-key JSON,
    so equal trees have equal digests however they were walked."""
    doc = {"format": MANIFEST_FORMAT, "entries": [e.to_dict() for e in sorted(entries, key=lambda e: e.path)]}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class NotAManifest(IntegrityError):
    """Bytes that are no manifest at all (a manifest mvc wrote, damaged or crafted, is another
    IntegrityError); from ``load_entries``, an intact object that a version recorded as a
    directory points at: the registry is wrong (registry_values names the row), not the bytes."""


def parse_manifest(data: bytes) -> list[ManifestEntry]:
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise NotAManifest("a directory manifest object is unreadable")
    if not isinstance(doc.get("entries"), list):
        raise IntegrityError("a directory manifest object is unreadable")
    return [ManifestEntry.from_dict(e) for e in doc["entries"]]


def _walk(root: Path, digest_of: Callable[[walk.Found], tuple[str, int]], how: Walk,
          found: list[walk.Found] | None = None) -> list[ManifestEntry]:
    """A folder's entries: walked whole first (``walk.folder``, or ``found``: walked before),
    then ``digest_of`` each file."""
    entries = []
    for f in walk.folder(root, how) if found is None else found:
        if f.target is not None:
            entries.append(ManifestEntry(f.rel, SYMLINK_MODE, len(f.target), target=f.target))
        else:
            digest, size = digest_of(f)
            entries.append(ManifestEntry(f.rel, f.mode, size, digest))
    return entries


def store_path(path: Path, store: ObjectStore, cache: StatCache, progress: Progress = None,
               looked: LookedUp | None = None, how: Walk = walk.MODEL,
               found: list[walk.Found] | None = None) -> Stored:
    """Put a file or directory into the object store; returns what was stored. ``looked``:
    what ``look_up`` said about ``path`` (so that the stat cache is asked once); ``how``: how
    a folder is walked (``walk.Walk``), ``found``: what its walk found (``hash_path``)."""
    path = Path(path)
    name = path.absolute().name
    if path.is_dir():
        entries = _walk(path, lambda f: _cached_digest(cache, f.path, store, progress, rule=f.rule), how, found)
        digest = store.put_bytes(manifest_bytes(entries))
        return Stored(digest, _file_bytes(entries), "directory", name, tuple(sorted(entries, key=lambda e: e.path)))
    if not path.is_file():
        raise UserError(f"{path} is not a regular file or directory")
    digest, size = _cached_digest(cache, path, store, progress, looked)
    return Stored(digest, size, "file", name)


def load_entries(store: ObjectStore, digest: str) -> list[ManifestEntry]:
    """A directory version's entries. Its object is read verified (a corrupt or missing one
    raises as such); one that is intact but no manifest raises NotAManifest."""
    data = store.read_bytes(digest)
    try:
        return parse_manifest(data)
    except NotAManifest:
        raise NotAManifest(f"object {digest} is intact but is not a directory manifest, although its version "
                           "is recorded as a directory: the registry's row is wrong, not the object; "
                           "'mvc fsck' names the row") from None


def _file_bytes(entries: Iterable[ManifestEntry]) -> int:
    """A directory's size: the bytes of its files (links count nothing)."""
    return sum(e.size for e in entries if not e.is_link)


# -- materialising ------------------------------------------------------------------------

@dataclass(frozen=True)
class Written:
    path: Path
    written: bool  # False when the target already held exactly this artifact
    files: int
    bytes: int
    link: str  # how the files were placed (``placed``); the mode asked for when none was written


def _safe_rel(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts) or "\x00" in path:
        raise IntegrityError(f"a manifest entry has an unsafe path {path!r}; refusing to write it")
    return rel


def without_git(stored: Stored) -> Stored:
    """``stored`` less its entries in a ``.git`` folder (stored before mvc left them out of
    model folders, or crafted): never written out (git would run what a written-out .git/config
    says), nor looked for in a folder checked out."""
    kept = tuple(e for e in stored.entries if not any(map(is_git_folder, PurePosixPath(e.path).parts)))
    return stored if len(kept) == len(stored.entries) else replace(stored, entries=kept)


class Materializer:
    def __init__(self, store: ObjectStore, cache: StatCache, link: str = "copy", progress: Progress = None):
        if link not in LINK_MODES:
            raise UserError(f"unknown link mode {link!r}; use one of: {', '.join(LINK_MODES)}")
        self.store, self.cache, self.link, self.progress = store, cache, link, progress
        self.used: set[str] = set()  # the modes the files written so far were placed with

    def _trusted(self, digest: str) -> bool:
        if self.store.is_chunked(digest):
            return self.store.trusted_chunked(self.cache, digest)
        obj = self.store.path(digest)
        try:
            st = os.stat(obj)
        except FileNotFoundError:
            raise IntegrityError(
                f"object {digest} is missing from the store; pull it from a remote or run 'mvc fsck'"
            ) from None
        return self.cache.get(obj, st, written_by_us=True) == digest

    def _remember_verified(self, digest: str) -> None:
        if self.store.is_chunked(digest):
            self.store.remember_chunked(self.cache, digest)
            return
        obj = self.store.path(digest)
        self.cache.put(obj, os.stat(obj), digest)

    def _verify_object(self, digest: str) -> None:
        if not self._trusted(digest):
            if self.store.hash_object(digest, self.progress) != digest:
                raise IntegrityError(f"object {digest} is corrupt: its bytes do not match its digest")
            self._remember_verified(digest)

    def write_file(self, digest: str, mode: int, dest: Path) -> None:
        """Write one object to ``dest`` (a path that does not exist yet), verified."""
        obj = self.store.path(digest)
        if self.link in ("hardlink", "symlink") and not self.store.is_chunked(digest):
            # a chunked file has no one object to link to: it is copied, verified
            self._verify_object(digest)
            try:
                if self.link == "hardlink":
                    os.link(obj, dest)
                    self._remember_verified(digest)  # the new link changed the object's ctime
                else:
                    os.symlink(obj, dest)
            except OSError as exc:
                raise UserError(
                    f"cannot {self.link} {dest} to the object store ({exc.strerror}); use --link copy"
                ) from None
            self.used.add(self.link)
            return
        trusted = self._trusted(digest)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            cloned = self.store.export(digest, fd, trusted=trusted, reflink=self.link == "reflink",
                                       progress=self.progress)
            self.used.add("reflink" if cloned else "copy")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(dest, mode)
        if not trusted:
            self._remember_verified(digest)

    def matches(self, stored: Stored, dest: Path, follow_links: bool = False) -> bool:
        """True when ``dest`` already holds exactly this artifact (its ``.git`` aside). With
        ``follow_links`` (a folder added with --follow-links, as status and a checkout without
        --force look at it; never a deploy slot), a link to a folder in ``dest`` where the
        artifact has a folder is read through: only there, so a loop is never walked round."""
        stored = without_git(stored)
        if stored.kind == "file":
            return dest.is_file() and _same_digest(dest, stored.digest, self.cache)
        if not dest.is_dir() or dest.is_symlink():
            return False
        wanted = {e.path: e for e in stored.entries}
        folders = {str(p) for e in stored.entries for p in PurePosixPath(e.path).parents} if follow_links else set()
        seen = 0
        for dirpath, dirnames, filenames in os.walk(dest, followlinks=True):
            here, dirnames[:] = Path(dirpath), [d for d in dirnames if not is_git_folder(d)]  # as _walk
            links = [d for d in dirnames if (here / d).is_symlink()]
            dirnames[:] = [d for d in dirnames if d not in links
                           or (here / d).relative_to(dest).as_posix() in folders]
            for name in [n for n in filenames + [d for d in links if d not in dirnames]
                         if not is_git_folder(n)]:
                rel = (here / name).relative_to(dest).as_posix()
                entry = wanted.get(rel)
                if entry is None:
                    return False
                seen += 1
                full = here / name
                if entry.is_link:
                    if not full.is_symlink() or os.readlink(full) != entry.target:
                        return False
                elif not _same_digest(full, entry.digest, self.cache):
                    return False
        return seen == len(wanted)

    def materialize(self, stored: Stored, dest: Path, force: bool | Callable[[], bool],
                    follow_links: bool = False) -> Written:
        """Write ``stored`` to ``dest``; what is there is replaced only with ``force`` (or when
        ``force()`` says so, asked only then), unless it holds the artifact already
        (``matches``, ``follow_links``)."""
        dest = Path(dest).absolute()
        if any(map(is_git_folder, dest.parts)):
            raise UserError(f"{dest} lies in a git folder, which mvc never writes into; nothing was written")
        self.used, stored = set(), without_git(stored)
        count = len([e for e in stored.entries if not e.is_link]) if stored.kind == "directory" else 1
        if os.path.lexists(dest):
            if self.matches(stored, dest, follow_links):
                return Written(dest, False, count, 0, self.link)
            if not (force() if callable(force) else force):
                raise ConflictError(f"{dest} exists and differs from what is checked out; use --force to replace it")
            if (repository := git_folder_in(dest)) is not None:
                raise UserError(f"{dest} holds a git repository ({repository}), which replacing it would delete; "
                                "nothing was written. Move it out of the way, then run this again")
        dest.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # 3 ms (random, its seed): a checkout needs it, a re-add does not

        tmp_root = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".mvc-tmp-"))
        try:
            staged = tmp_root / "a"
            if stored.kind == "file":
                self.write_file(stored.digest, FILE_MODE, staged)
            else:
                staged.mkdir()
                links = {PurePosixPath(e.path) for e in stored.entries if e.is_link}
                seen: set[PurePosixPath] = set()
                folders: set[PurePosixPath] = set()
                for entry in stored.entries:
                    rel = _safe_rel(entry.path)
                    if rel in seen or rel in folders or any(p in seen for p in rel.parents):
                        raise IntegrityError(f"a manifest lists {entry.path!r} twice; refusing to write it")
                    seen.add(rel)
                    folders.update(rel.parents)
                    if any(parent in links for parent in rel.parents):
                        raise IntegrityError(
                            f"a manifest entry {entry.path!r} lies under a symlink of the artifact; "
                            "refusing to write through it"
                        )
                    target = staged.joinpath(*rel.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if entry.is_link:
                        if not link_inside(rel.parent, entry.target):
                            raise IntegrityError(f"a manifest symlink {entry.path!r} points outside the artifact")
                        os.symlink(entry.target, target)
                    else:
                        self.write_file(entry.digest, entry.mode, target)
                for link in links:
                    if not resolves_inside(staged, staged.joinpath(*link.parts)):
                        raise IntegrityError(f"a manifest symlink {str(link)!r} points outside the artifact")
            _replace(staged, dest, tmp_root)
        finally:
            shutil.rmtree(tmp_root, ignore_errors=True)
        return Written(dest, True, count, stored.size, placed(self.used) or self.link)


def placed(used: set[str]) -> str:
    """How files were placed: one mode, or several joined by "+" in LINK_MODES order (a
    directory whose large files were copied and the others hard-linked: "copy+hardlink")."""
    return "+".join(m for m in LINK_MODES if m in used)


def _same_digest(path: Path, digest: str, cache: StatCache) -> bool:
    try:
        found, _ = _cached_digest(cache, path, None, None)
    except (OSError, UserError):  # unreadable, or changing while read: not a match
        return False
    return found == digest


def _replace(staged: Path, dest: Path, tmp_root: Path) -> None:
    """Move ``staged`` to ``dest``; an existing ``dest`` is moved aside first and removed after."""
    if os.path.lexists(dest) and (staged.is_dir() or (dest.is_dir() and not dest.is_symlink())):
        os.rename(dest, tmp_root / "old")  # removed with tmp_root by the caller
    os.replace(staged, dest)
