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
from mvc.core.owned import link_inside, resolves_inside
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


class Found(NamedTuple):
    """One thing a folder holds: a file to read at ``path`` (``target`` None), or a link kept.
    A file's ``ident`` (device, inode) is what must be read: a path that leads elsewhere
    by then (a link changed after the walk) is refused, not read (``atomic.open_regular``)."""

    rel: str  # relative to the folder, POSIX separators
    path: Path
    mode: int  # a file's: 0o644 or 0o755
    target: str | None = None
    ident: tuple[int, int] | None = None


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

    def cannot_list(exc: OSError) -> None:
        # os.walk leaves a folder it cannot list out and goes on; a smaller artifact is
        # never what was asked for (SPEC §10)
        raise unreadable(exc)

    for dirpath, dirnames, filenames in os.walk(root, onerror=cannot_list, followlinks=how.follow):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not skip(d))
        if how.follow:
            st = os.stat(here)
            chain = above.pop(dirpath, frozenset()) | {(st.st_dev, st.st_ino)}
            for d in dirnames:
                try:
                    sub = os.stat(here / d)
                except OSError as exc:
                    raise unreadable(exc) from None
                _not_into(here / d, how)
                if (sub.st_dev, sub.st_ino) in chain:
                    raise UserError(f"{here / d} leads back to a folder it lies in (a loop of symlinks); "
                                    "mvc cannot store a loop: remove the link that leads back")
                if (sub.st_dev, sub.st_ino) == store:
                    raise UserError(f"{here / d} is the mvc repository {how.avoid}, reached through a "
                                    "symlink; remove the link, or name the model's own files")
                above[os.path.join(dirpath, d)] = chain
            names = filenames
        else:
            # a symlink to a directory shows up in dirnames; treat it like any other link
            names = filenames + [d for d in dirnames if (here / d).is_symlink()]
            dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
        for name in sorted(n for n in names if not skip(n)):
            found.append(_one(root, here / name, how))
    return found


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _under(real: str, folder: str) -> bool:
    return bool(folder) and (real == folder or real.startswith(folder.rstrip(os.sep) + os.sep))


def _not_into(link: Path, how: Walk, is_file: bool = False) -> None:
    if how.avoid and os.path.islink(link):
        real = os.path.realpath(link)
        if _under(real, how.avoid) and not (is_file and _under(real, how.objects) and real != how.objects):
            raise UserError(f"{link} is a symlink into the mvc repository {how.avoid}; remove it, "
                            "or name the model's own files")


def _one(root: Path, full: Path, how: Walk) -> Found:
    rel = PurePosixPath(full.relative_to(root).as_posix())
    try:
        st = os.lstat(full)
        if how.follow and stat.S_ISLNK(st.st_mode):
            st = _followed(full)
            _not_into(full, how, stat.S_ISREG(st.st_mode))
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
        return Found(str(rel), full, file_mode(st), ident=(st.st_dev, st.st_ino))
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
