"""What a folder being added holds, found whole before any of it is read (SPEC §10).

A folder is walked to the end first, each file opened once, so that what refuses it (a FIFO, a
link out of it, a file that cannot be read) refuses it before a byte is stored. How it is
walked (``Walk``): a model's folder leaves ``.git`` out, at any depth (git's, not the model's:
DVC leaves it out too), a --data or --code folder keeps it (lineage finds a folder by the
digest recorded before mvc left it out); and links are kept as links, which must stay inside
the folder, or with ``follow`` (``mvc add --follow-links``, as ``cp -L``) read through: a link
to a file is stored as that file, a link to a folder as that folder, wherever they lie.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from mvc.core.errors import UserError, option
from mvc.core.names import is_git_folder, quoted
from mvc.core.owned import link_inside, real_path_under, resolves_inside
from mvc.core.snapshots import readable, unreadable

FILE_MODE = 0o644  # a file written out (a file artifact, or a manifest entry not executable)


class Walk(NamedTuple):
    """How a folder is read: ``model`` leaves ``.git`` out; ``follow`` reads through links, but
    never into ``avoid`` (the real path of ``.mvc``: a registry being written), except to a
    file of ``objects`` (the real path of the object store, where ``checkout --link symlink``
    points: objects never change)."""

    model: bool = True
    follow: bool = False
    avoid: str = ""
    objects: str = ""


MODEL = Walk()
INPUT = Walk(model=False)  # a --data or --code folder


def following(mvc_dir: Path, objects: Path, model: bool = True) -> Walk:
    """How add --follow-links walks a folder of the repository whose ``.mvc`` is ``mvc_dir``."""
    return Walk(model, True, os.path.realpath(mvc_dir), os.path.realpath(objects))


class Rule(NamedTuple):
    """Where a file read for a walked folder may really lie, checked on the file opened
    (``atomic.open_regular``): the walk looked at the path earlier, and a link put there since
    (to a secret, to the registry) must not lead mvc to read what it never checked. A file
    replaced by another (an editor's save, git's index) is read as any changed file is."""

    inside: str  # the walked folder's real path: links are not followed
    avoid: str  # with links followed: .mvc's real path, and the object store's (allowed)
    objects: str

    def __call__(self, path: Path, fd: int) -> None:
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # no /proc: the walk's check stands alone
            return
        if self.inside and not _under(real, self.inside):
            raise UserError(f"{path} leads out of its folder now, to {quoted(real)}: it was replaced by a link after "
                            "mvc walked the folder, and nothing was read from it; add it again")
        if _under(real, self.avoid) and not (_under(real, self.objects) and real != self.objects):
            raise UserError(f"{path} leads into the mvc repository now ({quoted(real)}): it was replaced by a link "
                            "after mvc walked the folder, and nothing was read from it; add it again")


class Found(NamedTuple):
    """One thing a folder holds: a file to read at ``path`` (``target`` None), or a link kept;
    a file is read under its walk's ``rule``."""

    rel: str  # relative to the folder, POSIX separators
    path: Path
    mode: int  # a file's: 0o644 or 0o755
    target: str | None = None
    rule: Rule | None = None


def file_mode(st: os.stat_result) -> int:
    """Like git: only the executable bit is kept, so manifests do not depend on umask."""
    return 0o755 if st.st_mode & 0o111 else FILE_MODE


def folder(root: Path, how: Walk = MODEL) -> list[Found]:
    """Everything ``root`` holds, walked as ``how`` says, in walk order; a UserError for what
    mvc cannot store, before any file is read."""
    found: list[Found] = []
    skip = is_git_folder if how.model else (lambda name: False)
    # the folders (device, inode) from the top to each folder walked: a followed link back to
    # one of them is a loop, which cp -L refuses too
    above: dict[str, frozenset[tuple[int, int]]] = {}
    store = _identity(how.avoid) if how.follow and how.avoid else None
    rule = Rule("" if how.follow else os.path.realpath(root), how.avoid if how.follow else "", how.objects)
    reals: dict[str, str] = {}  # the real path of each folder followed links lead into

    def cannot_list(exc: OSError) -> None:
        # os.walk leaves a folder it cannot list out and goes on; a smaller artifact is
        # never what was asked for (SPEC §10)
        raise unreadable(exc)

    for dirpath, dirnames, filenames in os.walk(root, onerror=cannot_list, followlinks=how.follow):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not skip(d))
        if how.follow:
            chain = above.pop(dirpath) if dirpath in above else frozenset([_identity(dirpath)])
            for d in dirnames:
                try:
                    sub = os.stat(here / d)
                except OSError as exc:
                    raise unreadable(exc) from None
                _not_into(here / d, how, reals)
                if (sub.st_dev, sub.st_ino) in chain:
                    raise UserError(f"{here / d} leads back to a folder it lies in (a loop of symlinks); "
                                    "mvc cannot store a loop: remove the link that leads back")
                if (sub.st_dev, sub.st_ino) == store:
                    raise UserError(f"{here / d} is the mvc repository {how.avoid}, reached through a "
                                    "symlink; remove the link, or name the model's own files")
                above[os.path.join(dirpath, d)] = chain | {(sub.st_dev, sub.st_ino)}
            names = filenames
        else:
            # a symlink to a directory shows up in dirnames; treat it like any other link
            links = [d for d in dirnames if (here / d).is_symlink()]
            names = filenames + links
            dirnames[:] = [d for d in dirnames if d not in links]
        for name in sorted(n for n in names if not skip(n)):
            found.append(_one(root, here / name, how, rule, reals))
    return found


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _under(real: str, folder: str) -> bool:
    return bool(folder) and real_path_under(real, folder)


def _real(link: Path, reals: dict[str, str]) -> str:
    """``os.path.realpath(link)``, with the folder it leads into resolved once per walk: a
    snapshot's thousands of links into ``../../blobs`` cost one lstat each, not one per part."""
    head, tail = os.path.split(os.path.join(os.path.dirname(link), os.readlink(link)))
    if head not in reals:
        reals[head] = os.path.realpath(head)
    joined = os.path.join(reals[head], tail)
    return os.path.realpath(joined) if tail in ("", ".", "..") or os.path.islink(joined) else joined


def _not_into(link: Path, how: Walk, reals: dict[str, str], is_file: bool = False) -> None:
    if how.avoid and os.path.islink(link):
        real = _real(link, reals)
        if _under(real, how.avoid) and not (is_file and _under(real, how.objects) and real != how.objects):
            raise UserError(f"{link} is a symlink into the mvc repository {how.avoid}; remove it, "
                            "or name the model's own files")


def _one(root: Path, full: Path, how: Walk, rule: Rule, reals: dict[str, str]) -> Found:
    rel = PurePosixPath(full.relative_to(root).as_posix())
    try:
        st = os.lstat(full)
        if how.follow and stat.S_ISLNK(st.st_mode):
            st = _followed(full)
            _not_into(full, how, reals, stat.S_ISREG(st.st_mode))
    except OSError as exc:  # a folder that can be listed but not entered
        raise unreadable(exc) from None
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(full)
        if not link_inside(rel.parent, target) or not resolves_inside(root, full):
            raise UserError(f"{full} is a symlink pointing outside {root}; replace it with the file "
                            f"it points to, or remove it, or add with {option('follow-links')} to store "
                            "what links point to")
        return Found(str(rel), full, 0, target)
    if stat.S_ISREG(st.st_mode):
        readable(full, how.follow)
        return Found(str(rel), full, file_mode(st), rule=rule)
    if how.follow and full.is_symlink():
        raise UserError(f"{full} is a symlink to {quoted(os.readlink(full))}, which is not a regular file or "
                        "directory (a device, FIFO or socket); mvc cannot store it")
    raise UserError(f"{full} is not a regular file, directory or symlink; mvc cannot store it")


def _followed(link: Path) -> os.stat_result:
    """What ``link`` points to, read through every link; a UserError for a link to nothing
    or a loop of links (an OSError for what cannot be read)."""
    try:
        return os.stat(link)
    except OSError as exc:
        target = quoted(os.readlink(link))
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise UserError(f"{link} is a symlink to nothing ({target}); remove it, or put back what it "
                            "points to") from None
        if exc.errno == errno.ELOOP:
            raise UserError(f"{link} is a loop of symlinks (or a chain of more than 40) through {target}; "
                            "mvc cannot store a loop: remove the link that leads back") from None
        raise
