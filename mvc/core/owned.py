"""Folders and files that mvc owns (in ``.mvc/`` and deploy folders) are used only as what mvc
made: a folder must be a real folder and a lock file a regular file, never a symlink someone
planted there, so that mvc never writes or deletes outside them (SPEC §10)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from mvc.core.errors import IntegrityError

if TYPE_CHECKING:
    from mvc.core.session import Session


def planted(path: Path, what: str = "folder") -> IntegrityError:
    return IntegrityError(
        f"{path} is a symlink or not a {what}, and mvc does not write through what it did not make; "
        "remove it (its target is left alone) or move it aside; 'mvc fsck' lists such paths"
    )


def refuse_folder(path: Path, tmp: str) -> None:
    """Before ``tmp`` is renamed to ``path``: a real folder planted there is refused (``planted``)
    and ``tmp`` removed (os.replace cannot replace it, and its error names ``tmp``)."""
    if path.is_dir() and not path.is_symlink():
        os.unlink(tmp)
        raise planted(path, "file")


def lies_inside(path: Path | str, folder: Path | str) -> bool:
    """True when ``path`` is ``folder`` or lies inside it, symlinks resolved: a folder of the
    person's (a channel's deploy_dir, a directory remote) must lie outside ``.mvc``, or mvc
    would write among its own files there."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def is_planted(path: Path, what: str = "folder") -> bool:
    """True when ``path`` exists but is not a real folder (or, for ``"file"``, a regular file)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # not there (a file where a folder above it is)
        return False
    return not (stat.S_ISDIR(mode) if what == "folder" else stat.S_ISREG(mode))


def real_folder(path: Path, base: Path, *, create: bool = False) -> Path:
    """``path`` after checking that it and each folder between ``base`` (excluded) and it is a
    real folder where it exists (made when ``create``); IntegrityError naming the first that
    is a symlink or something else."""
    path, base = Path(path), Path(base)
    chain = [path, *path.parents]
    inside = chain[:chain.index(base)] if base in chain else [path]
    if create:
        inside[-1].parent.mkdir(parents=True, exist_ok=True)  # above what mvc checks
    for folder in reversed(inside):
        if create:
            try:
                os.mkdir(folder)
            except FileExistsError:
                pass
        if is_planted(folder):
            raise planted(folder)
    return path


def open_file(path: Path, flags: int, mode: int = 0o644) -> int:
    """Open (or create) a file mvc owns without following a symlink; IntegrityError when the
    path is a link, not a regular file, or a hard link to a file elsewhere."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
            raise planted(path, "regular file") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        raise planted(path, "regular file")
    os.set_blocking(fd, True)
    return fd


def planted_problems(session: "Session", deploy_folders: list[tuple[str, str]]) -> list[str]:
    """What ``mvc fsck`` says of the paths mvc owns that are a symlink or the wrong kind of
    thing (``deploy_folders``: the (model, channel) pairs there may be): each command that
    would write there refuses (exit 3); no repair, the user decides what they were."""
    from mvc.core import channel_state, repair

    layout = session.layout
    paths = {layout.lock: "regular file", layout.stat_cache: "regular file", layout.registry_id: "regular file",
             layout.tmp: "folder",
             layout.objects: "folder", layout.deploy: "folder", repair.lost_found(layout): "folder"}
    if not is_planted(layout.deploy) and layout.deploy.is_dir():
        for model_dir in sorted(layout.deploy.iterdir()):
            paths.setdefault(model_dir, "folder")
            if not is_planted(model_dir):
                for entry in sorted(model_dir.iterdir()):
                    if entry.name.endswith(".lock"):
                        paths[entry] = "regular file"
    for model, channel in deploy_folders:
        for path in channel_state.planted_links(session, model, channel):
            paths.setdefault(path, "folder")
    return [planted(path, what).message for path, what in paths.items() if is_planted(path, what)]

def link_inside(rel_link_parent: PurePosixPath, target: str) -> bool:
    """Whether a symlink at ``rel_link_parent/NAME`` (relative to the folder it belongs to)
    whose text is ``target`` stays inside that folder, read as text (a stored artifact's
    links: see ``resolves_inside`` for links through links)."""
    if target.startswith("/"):
        return False
    parts: list[str] = list(rel_link_parent.parts)
    for part in PurePosixPath(target).parts:
        if part == "..":
            if not parts:
                return False
            parts.pop()
        elif part != ".":
            parts.append(part)
    return True


def resolves_inside(root: Path, link: Path) -> bool:
    """Whether ``link`` resolves inside ``root``: link_inside reads one target as text; links
    that climb through other links (d/up -> .., d/up2 -> up/..) only show where they lead
    when resolved."""
    return real_path_under(os.path.realpath(link), os.path.realpath(root))


def real_path_under(real: str, folder: str) -> bool:
    """Whether the real path ``real`` is ``folder`` (a real path too) or lies in it."""
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)


def git_folder_in(folder: Path) -> Path | None:
    """The first ``.git`` at any depth of ``folder``: a repository that replacing the folder
    would delete (None when there is none, or ``folder`` is no real folder)."""
    from mvc.core.names import is_git_folder

    if folder.is_symlink() or not folder.is_dir():
        return None
    for dirpath, dirnames, filenames in os.walk(folder):
        found = next((n for n in sorted(dirnames + filenames) if is_git_folder(n)), None)
        if found is not None:
            return Path(dirpath) / found
    return None
