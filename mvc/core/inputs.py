"""Paths that the user hands to mvc (SPEC §10): only regular files and directories are read,
so a FIFO, a device or a socket is refused at once instead of blocking or reading forever;
files read whole have a size limit; JSON has a nesting limit."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from mvc.core.errors import UserError

MIB = 1024 * 1024
JSON_FILE_LIMIT = 16 * MIB  # a metrics or params file
POINTER_FILE_LIMIT = 64 * 1024  # a PATH.mvc pointer file (a few hundred bytes when mvc wrote it)
MAX_NESTING = 64  # levels of objects and arrays in params and metrics

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a regular file or directory"


def special(path: Path | str, what: str, mode: int) -> UserError:
    return UserError(f"{what} {path} is {kind_of(mode)}; mvc reads only regular files and directories")


def must_exist(path: Path | str, what: str) -> None:
    """Refuse a path that is missing, a symlink to nothing or in a loop, unreadable, or a special
    file, each with what to do."""
    if not os.path.lexists(path):
        raise UserError(f"{what} {path} does not exist; check the path")
    try:
        os.stat(path)
    except OSError as exc:  # a symlink to nothing, or in a loop; or a folder on the way unreadable
        if exc.errno == errno.ELOOP:
            raise UserError(f"{what} {path} is a symlink loop (its links lead back to themselves); "
                            "point it at a file or directory, or remove it") from None
        if not os.path.islink(path):
            raise UserError(f"cannot read {what} {path} ({exc.strerror}); make it readable") from None
        raise UserError(f"{what} {path} is a symlink to {os.readlink(path)!r}, which does not exist; "
                        "point it at a file or directory, or remove it") from None
    check_input(path, what)  # a FIFO or a device would block or never end (SPEC §10)


def check_input(path: Path | str, what: str) -> None:
    """Refuse ``path`` (symlinks followed) when it exists and is neither a regular file nor a
    directory; a missing path is left to the caller's own message."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise special(path, what, mode)


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB else f"{limit // 1024} KiB"


def read_capped(path: Path | str, what: str, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them. Opened without
    blocking, so a FIFO that took the file's place after a check is refused too."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise special(path, what, mode)
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UserError(f"{what} {path} is larger than {_size(limit)}, the most mvc reads of it")
    return data


def nesting(value: object) -> int:
    """How deep ``value`` nests objects and arrays (0 for a scalar), without recursion."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            if depth <= MAX_NESTING:
                todo.extend((v, depth) for v in (item.values() if isinstance(item, dict) else item))
    return deepest
