"""Blue-green deploy folders (SPEC §5): ``DIR/blue``, ``DIR/green``, ``DIR/current -> blue|green``
and ``DIR/routing.json`` for one model on one channel.

Only this module knows the folder layout. Every change is atomic: a slot is built in a
temporary folder beside it and renamed in; ``current`` is replaced by renaming a temporary
symlink over it; ``routing.json`` is written to a temporary file and renamed. A slot that
``current`` or ``routing.json`` names is never rewritten, so a reader that opens a model
through ``current`` (or a path from ``routing.json``) sees a whole model, always.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mvc.core.artifacts import FILE_MODE, Materializer, Stored
from mvc.core.atomic import fsync_dir, write_atomic
from mvc.core.errors import IntegrityError, MvcError, WriteError
from mvc.core.faults import crash_point

from mvc.core.registry_values import SLOTS, bad

CURRENT = "current"
ROUTING = "routing.json"
TMP_PREFIX = ".tmp-"
# The names mvc gives its temporaries in a deploy folder (tempfile's 8 characters): a slot being
# built, the probe, the link being switched, routing.json being replaced. Only these are strays:
# a person's own ".tmp-notes" in a folder they chose is theirs.
_TEMPORARY = re.compile(r"\.tmp-(?:(?:slot|probe)-[a-z0-9_]{8}|current-[0-9]+|[a-z0-9_]{8}-routing\.json)")


def other_slot(slot: str | None) -> str:
    """The idle slot beside ``slot`` (``blue`` when nothing is deployed yet)."""
    if slot is None:
        return SLOTS[0]
    return SLOTS[1] if slot == SLOTS[0] else SLOTS[0]


def bucket(key: str) -> int:
    """The routing bucket of a request key (SPEC §3): ``int(sha256(key)[:8], 16) % 100``."""
    import hashlib

    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % 100


@dataclass(frozen=True)
class DeployDir:
    """The deploy folder of one model on one channel."""

    root: Path

    def slot(self, name: str) -> Path:
        if name not in SLOTS:  # a value from the registry (registry_values.channel checks it first)
            raise bad(f"channels row of {self.root}", "slot", name, "is neither 'blue' nor 'green'")
        return self.root / name

    @property
    def current(self) -> Path:
        return self.root / CURRENT

    @property
    def routing(self) -> Path:
        return self.root / ROUTING

    def artifact_path(self, slot: str, kind: str, path_name: str) -> Path:
        """Where a version's files are inside ``slot``: the slot itself for a directory
        artifact, ``slot/<file name>`` for a file."""
        return self.slot(slot) if kind == "directory" else self.slot(slot) / path_name

    def current_slot(self) -> str | None:
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        return target if target in SLOTS else None

    def in_the_way(self) -> list[IntegrityError]:
        """``current`` or ``routing.json`` that is a real folder (a backup restored by a copy
        that followed links, a folder made by hand): a rename cannot replace a folder, so a
        move failed naming its own temporary file and left it behind. Named, left alone."""
        return [IntegrityError(f"{p} is a folder where mvc keeps its {what}; move it aside (mvc never "
                               "deletes what it did not make), then run 'mvc fsck --repair'")
                for p, what in ((self.current, "'current' symlink"), (self.routing, "routing.json file"))
                if p.is_dir() and not p.is_symlink()]

    def read_routing(self) -> bytes | None:
        try:
            return self.routing.read_bytes()
        except FileNotFoundError:
            return None


def routing_bytes(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode("utf-8")


# -- slots ---------------------------------------------------------------------------------

def slot_holds(writer: Materializer, stored: Stored, slot_dir: Path, exact: bool = False) -> bool:
    """True when ``slot_dir`` holds this artifact's bytes (checked by digest, stat-cached);
    with ``exact``, also as ``fill_slot`` writes it: each file's mode and no folder the
    artifact has not (what a slot about to be checked must be: a check that made a folder or
    a file executable left one that no version is). A slot that serves is judged by its bytes:
    a mode changed there is not worth rebuilding it in place."""
    if not slot_dir.is_dir() or slot_dir.is_symlink():
        return False
    if stored.kind == "directory":
        return (not exact or _as_written(stored, slot_dir)) and writer.matches(stored, slot_dir)
    try:
        names = os.listdir(slot_dir)
        mode = os.lstat(slot_dir / stored.name).st_mode
    except OSError:
        return False
    return (names == [stored.name] and (not exact or stat.S_IMODE(mode) == FILE_MODE)
            and writer.matches(stored, slot_dir / stored.name))


def _as_written(stored: Stored, root: Path) -> bool:
    """The folders and file modes of a directory artifact's slot are those its manifest implies."""
    modes = {e.path: e.mode for e in stored.entries if not e.is_link}
    folders = {p.as_posix() for e in stored.entries for p in PurePosixPath(e.path).parents} - {"."}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in dirnames:
            full = here / name
            if not full.is_symlink() and full.relative_to(root).as_posix() not in folders:
                return False
        for name in filenames:
            rel = (here / name).relative_to(root).as_posix()
            try:
                st = os.lstat(here / name)
            except OSError:
                return False
            if rel in modes and not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != modes[rel]:
                return False
    return True


def tree_state(root: Path) -> frozenset:
    """How a slot looks to lstat: each entry's path, mode, inode, size, mtime and ctime, for
    noticing that a check wrote to the slot that serves (it may only read the slot it is
    given). A write changes ctime, which no user can set back; reads change nothing here."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in ["", *dirnames, *filenames]:
            path = os.path.join(dirpath, name) if name else dirpath
            try:
                st = os.lstat(path)
            except OSError:
                continue
            found.add((os.path.relpath(path, root), st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns,
                       st.st_ctime_ns))
    return frozenset(found)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, _ in os.walk(root, topdown=False):
        fsync_dir(Path(dirpath))


def fill_slot(writer: Materializer, stored: Stored, d: DeployDir, slot: str, exact: bool = False) -> bool:
    """Make ``slot`` hold exactly ``stored``; False when it did already (nothing written).

    The caller guarantees that nothing serves from ``slot``. The new contents are built and
    fsynced in a temporary folder beside it, then swapped in by two renames; a crash between
    them leaves the idle slot missing, never half-written, and the next fill rebuilds it.
    """
    dest = d.slot(slot)
    if slot_holds(writer, stored, dest, exact):
        return False
    d.root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=d.root, prefix=TMP_PREFIX + "slot-"))
    try:
        staged = tmp / "slot"
        if stored.kind == "directory":
            writer.materialize(stored, staged, force=False)
        else:
            staged.mkdir()
            writer.materialize(stored, staged / stored.name, force=False)
        _fsync_tree(staged)
        crash_point("deploy:staged")
        if os.path.lexists(dest):
            os.rename(dest, tmp / "old")
        crash_point("deploy:slot-aside")
        os.rename(staged, dest)
        fsync_dir(d.root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


def check_writable(d: DeployDir) -> None:
    """Refuse, before a move writes or commits anything, a deploy folder that cannot take the
    switch (a read-only mount, an immutable folder, no space for a file): the registry, written
    first, would say the channel moved while the folder still served the version before."""
    try:
        d.root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=d.root, prefix=TMP_PREFIX + "probe-")
        try:  # a block's worth, made durable: a full disk still makes empty files
            os.write(fd, bytes(4096))
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
        if _unchangeable(d.routing):
            raise PermissionError(1, "Operation not permitted: routing.json is immutable or append-only")
    except OSError as exc:
        raise WriteError(f"the deploy folder {d.root} cannot be written ({exc.strerror or exc}); nothing "
                         "changed: make it writable, then run the command again") from None


def stageable(store, stored: Stored, slot: Path) -> None:
    """Refuse, before anything changes, what would stop ``stored`` being written into ``slot``:
    an object missing from the store, a slot that cannot be replaced."""
    digests = [e.digest for e in stored.entries if not e.is_link] if stored.kind == "directory" else [stored.digest]
    for digest in digests:
        if not store.complete(digest):
            raise IntegrityError(f"object {digest} is missing from the store; pull it from a remote or run "
                                 "'mvc fsck'; nothing changed")
    if _unchangeable(slot):
        raise WriteError(f"the slot {slot} cannot be replaced (it is immutable or append-only); nothing changed")


def said_with(exc: BaseException, note: str) -> BaseException:
    """``exc`` (an MvcError or OSError) as an MvcError whose message ends with ``note``."""
    if isinstance(exc, MvcError):
        exc.message = f"{exc.message}; {note}"
        exc.args = (exc.message,)
        return exc
    where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
    return WriteError(f"{getattr(exc, 'strerror', None) or exc}{where}; {note}")


def _unchangeable(path: Path) -> bool:
    """Is ``path`` a file marked immutable or append-only (``chattr +i``/``+a``), which no
    rename replaces? Where the flags cannot be read, it is taken as changeable."""
    import fcntl
    import struct

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        flags = struct.unpack("l", fcntl.ioctl(fd, 0x80086601, b"\0" * 8))[0]  # FS_IOC_GETFLAGS
    except OSError:
        return False
    finally:
        os.close(fd)
    return bool(flags & 0x30)  # FS_IMMUTABLE_FL | FS_APPEND_FL


# -- the switch ----------------------------------------------------------------------------

def switch_current(d: DeployDir, slot: str) -> None:
    """Point ``current`` at ``slot``: a new symlink under a temporary name, renamed over it."""
    if d.current_slot() == slot:
        return
    d.root.mkdir(parents=True, exist_ok=True)
    tmp = d.root / f"{TMP_PREFIX}current-{os.getpid()}"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(slot, tmp)  # relative, so the folder may be mounted elsewhere
    os.replace(tmp, d.current)
    fsync_dir(d.root)


def write_routing(d: DeployDir, doc: dict[str, Any]) -> None:
    data = routing_bytes(doc)
    if d.read_routing() == data:
        return
    d.root.mkdir(parents=True, exist_ok=True)
    write_atomic(d.routing, data, tmp_dir=d.root)


def apply(d: DeployDir, slot: str | None, doc: dict[str, Any] | None, crash_prefix: str = "sync") -> bool:
    """Make the folder say what the registry says: ``current -> slot`` and ``routing.json``
    equal to ``doc`` (nothing when the channel serves nothing). Idempotent; True when it
    changed anything. ``current`` goes first, then ``routing.json``."""
    if slot is None or doc is None:
        return False
    changed = d.current_slot() != slot or d.read_routing() != routing_bytes(doc)
    switch_current(d, slot)
    crash_point(f"{crash_prefix}:current")
    write_routing(d, doc)
    crash_point(f"{crash_prefix}:routing")
    return changed


def stray_temporaries(d: DeployDir) -> list[Path]:
    """What a crashed move left in the folder (``.tmp-*``: a slot being built, a link)."""
    try:
        return [d.root / n for n in sorted(os.listdir(d.root)) if _TEMPORARY.fullmatch(n)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def remove_stray_temporaries(d: DeployDir) -> list[str]:
    """Delete what a crashed run left behind (mvc's ``.tmp-*``); only under the channel's lock."""
    removed = []
    try:
        names = os.listdir(d.root)
    except FileNotFoundError:
        return removed
    for name in names:
        if _TEMPORARY.fullmatch(name):
            path = d.root / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            removed.append(name)
    return removed
