"""The repository's writer lock: one mutating command at a time, with a timeout that
names the holder."""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from mvc.core.errors import LockTimeoutError
from mvc.core.owned import open_file


class RepoLock:
    def __init__(self, path: Path, timeout: float = 60.0):
        self.path = Path(path)
        self.timeout = float(timeout)
        self._fd: int | None = None
        self._depth = 0

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
        except OSError:
            text = ""
        return text or "another mvc process"

    def acquire(self) -> None:
        if self._depth:
            self._depth += 1
            return
        try:
            fd = open_file(self.path, os.O_RDWR | os.O_CREAT)  # never a planted symlink (SPEC §10)
        except FileNotFoundError:
            if self.path.parent.is_dir() or self.path.name != "lock":  # not the repository's .mvc/lock
                raise
            from mvc.core.errors import NotARepositoryError

            raise NotARepositoryError.gone(self.path.parent) from None
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder(fd)
                    os.close(fd)
                    raise LockTimeoutError(
                        f"the repository is locked by {holder} (waited {self.timeout:g} s); "
                        "retry when it has finished, or raise core.lock_timeout"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        command = " ".join(["mvc", *sys.argv[1:]])[:200]
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({command})\n".encode(), 0)
        self._fd = fd
        self._depth = 1

    def release(self) -> None:
        if not self._depth:
            return
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RepoLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
