"""Atomic file replacement: write to a temporary file, fsync, rename into place; and the
temporary files a writer holds (``held_temp``), which cleaners leave alone (``remove_unheld``)."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
from pathlib import Path
from typing import Callable

from mvc.core.errors import MvcError, UserError


def held_temp(directory: Path | str, prefix: str, suffix: str = "") -> tuple[int, str]:
    """A new temporary file (``tempfile.mkstemp``) and its descriptor, which holds a shared
    ``flock`` on it until closed: ``mvc fsck --repair`` never removes a file a running command
    holds, however short ``gc.grace_seconds`` is (``remove_unheld``)."""
    import tempfile  # 2 ms at start-up (random, bisect): only commands that write need it

    while True:
        fd, path = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a cleaner holds it, which then removes it
        if os.fstat(fd).st_nlink:
            return fd, path
        os.close(fd)  # removed between its making and our lock: another one


def open_regular(path: Path | str, refused: Callable[[], Exception] | None = None,
                 rule: Callable[[Path | str, int], None] | None = None) -> int:
    """``path`` open for reading, refused (``refused()``, else UserError) unless it is a regular
    file then. A FIFO there (or renamed over a path checked before) would block ``open`` until a
    writer came (an add hung so): opened without blocking, checked on the descriptor, and by
    ``rule(path, fd)`` when given (where a folder's walk allows the file to lie: ``walk.Rule``)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refused() if refused else UserError(
                f"{path} is no longer a regular file (it was replaced while mvc read it); add it again")
        if rule is not None:
            rule(path, fd)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path | str, refused: "Callable[[], Exception]") -> bytes:
    """The bytes of a small file of mvc's own (config.toml, registry-id), which must be a
    regular file (``open_regular``); FileNotFoundError as ``open`` raises it."""
    fd = open_regular(path, refused)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def is_held(path: Path | str) -> bool:
    """True while a running command holds the temporary file ``path`` (``held_temp``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def remove_unheld(path: Path | str) -> bool:
    """Remove a temporary file (or folder) that was left behind, unless a writer holds it
    (``held_temp``); True when it is gone. Never follows a symlink (the link is removed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return True
    except OSError:  # a symlink (ELOOP), or unreadable: removed as it is
        fd = None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a running command writes it
            if os.lstat(path).st_ino != os.fstat(fd).st_ino:
                return False  # another file at its name now
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
        return True
    except FileNotFoundError:
        return True
    finally:
        if fd is not None:
            os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, tmp_dir: Path | None = None, mode: int = 0o644,
                 prefix: str = ".tmp-") -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new bytes, never half.

    The temporary file lives in ``tmp_dir`` (which must be on the same filesystem) or
    beside ``path``.
    """
    path = Path(path)
    directory = Path(tmp_dir) if tmp_dir is not None else path.parent
    if tmp_dir is not None:  # a folder mvc owns (.mvc/tmp, a deploy folder): never a planted link
        from mvc.core.owned import real_folder

        real_folder(directory, directory.parent, create=True)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = held_temp(directory, prefix, "-" + path.name[:40])
    try:
        with os.fdopen(os.dup(fd), "wb") as f:  # ``fd`` holds the file until it is renamed
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        os.close(fd)
    fsync_dir(path.parent)


class PutBack:
    """Files a change wrote that go back as they were when the change fails (its registry
    transaction rolled back, or its COMMIT refused): ``note`` each before its first write,
    ``put_back`` after the failure. config.toml and the registry are two stores that cannot
    commit together; this makes a failure that mvc sees leave neither changed."""

    def __init__(self, tmp_dir: Path | None = None) -> None:
        self.tmp_dir = tmp_dir
        self.before: dict[Path, tuple[bytes, int] | None] = {}

    def note(self, path: Path) -> None:
        if path not in self.before:
            self.before[path] = _snapshot(path)

    def put_back(self) -> list[str]:
        """Every noted file as it was; what could not be put back, as lines for a warning."""
        failed = []
        for path, before in self.before.items():
            try:
                if _unchanged(path, before) or (before is not None and before[1] < 0):
                    continue  # its write failed or never came (or it was no regular file: not ours)
                if before is None:
                    path.unlink(missing_ok=True)
                else:
                    write_atomic(path, before[0], tmp_dir=self.tmp_dir, mode=before[1])
            except (OSError, MvcError) as exc:  # (a planted tmp folder: the error that names it)
                why = exc.message if isinstance(exc, MvcError) else exc.strerror or exc
                failed.append(f"{path} could not be put back as it was ({why}); check it")
        self.before.clear()
        return failed


def _unchanged(path: Path, before: tuple[bytes, int] | None) -> bool:
    """Whether ``path`` holds what ``PutBack.note`` saw (its bytes and mode, or nothing)."""
    return _snapshot(path) == before


def _snapshot(path: Path) -> tuple[bytes, int] | None:
    """A regular file's bytes and mode; None when there is none (a FIFO is never opened
    to wait on: non-blocking, and only a regular file is read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        return (f.read(), st.st_mode & 0o7777) if stat.S_ISREG(st.st_mode) else (b"", -1)
