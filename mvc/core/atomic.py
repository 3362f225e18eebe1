"""Atomic file replacement: write to a temporary file, fsync, rename into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix="-" + path.name[:40])
    try:
        with os.fdopen(fd, "wb") as f:
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
    fsync_dir(path.parent)
