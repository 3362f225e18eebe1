"""A new file written past the page cache (``O_DIRECT``), for packs; and ``Flusher``, which
flushes a file written through the page cache as it grows.

A pack is written once, read rarely, and is as large as the model. Written through the page
cache, each GiB costs the kernel a copy into freshly allocated pages, its delayed-allocation
bookkeeping and the write-back in our ``fdatasync``: more CPU than hashing the file, and on a
virtual machine whose free memory goes back to the host, much more (a host fault per page).
Written with ``O_DIRECT``, the disk reads the bytes from our buffers, and the page cache of
the machine is left to the files its user works on.

The bytes are copied into page-aligned buffers and each full buffer is written at its offset by
a thread of its own, so the disk works while the caller hashes the next ones. ``O_DIRECT`` wants
aligned buffers, offsets and lengths: the end of the file (less than ``ALIGN`` bytes) is written
through the page cache at ``finish``. Where the file system refuses ``O_DIRECT`` (setting it or
a write fails with EINVAL), and with ``MVC_DIRECT_IO=0``, the file is written through the page
cache instead, with an ``fdatasync`` every ``FLUSH_EVERY`` bytes as it grows.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import queue
import threading

from mvc.core.pipes import copy_into, drop_cached, get_waking, write_all

ALIGN = 4096  # offsets and lengths of direct writes: any logical block size up to a page
STAGE = 4 << 20  # bytes per write: as fast as 8 MiB writes here, and fewer pages to fault in
STAGES = 3  # buffers: one filling, the others on their way to the disk
FLUSH_EVERY = 64 << 20  # without O_DIRECT: fdatasync as the file grows


def _set_direct(fd: int, on: bool) -> bool:
    """Turn ``O_DIRECT`` on or off for ``fd``; False where the file system refuses it."""
    direct = getattr(os, "O_DIRECT", 0)
    if not direct or (on and os.environ.get("MVC_DIRECT_IO") == "0"):
        return False
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | direct if on else flags & ~direct)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return False
    return True


def pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


class DirectFile:
    """Appends to the new, empty file ``path``, open for writing at ``fd`` (``O_DIRECT`` is set
    on it here where the file system takes it). One thread calls ``write``, ``read`` and
    ``finish``; ``close`` closes ``fd``, at any point."""

    def __init__(self, fd: int, path: str):
        self.fd, self.path = fd, path
        self.direct = _set_direct(fd, True)
        self.reader: int | None = None  # the file without O_DIRECT, for ``read``
        self.base = 0  # file offset of the first byte of the buffer being filled
        self.fill = 0
        self.error: BaseException | None = None
        self.free: queue.Queue = queue.Queue()
        self.todo: queue.Queue = queue.Queue()
        self.unflushed = 0
        self.stage = STAGE
        self.buffers = [mmap.mmap(-1, self.stage) for _ in range(STAGES)]
        for buf in self.buffers[1:]:
            self.free.put(buf)
        self.current = self.buffers[0]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    # -- the caller's side -----------------------------------------------------------------
    def write(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            if self.error is not None:
                raise self.error
            n = min(len(view), self.stage - self.fill)
            copy_into(self.current, self.fill, view[:n])
            self.fill += n
            view = view[n:]
            if self.fill == self.stage:
                self._submit()

    @property
    def size(self) -> int:
        """Bytes appended."""
        return self.base + self.fill

    def _submit(self) -> None:
        self.todo.put((self.current, self.base, self.fill))
        self.base += self.fill
        self.current, self.fill = self.free.get(), 0

    def drain(self) -> None:
        """Wait until every full buffer is on the disk (or failed: raised here)."""
        self.todo.join()
        if self.error is not None:
            raise self.error

    def read(self, offset: int, into: memoryview) -> None:
        """Bytes appended before, at ``offset``: from the disk or from the buffer being filled."""
        self.drain()
        n, at = len(into), 0
        if offset < self.base:
            on_disk = min(n, self.base - offset)
            if self.reader is None:
                self.reader = os.open(self.path, os.O_RDONLY)
            if os.preadv(self.reader, [into[:on_disk]], offset) != on_disk:
                raise OSError(errno.EIO, "short read of a file being written")
            at = on_disk
        if at < n:
            start = offset + at - self.base
            into[at:] = self.current[start:start + n - at]

    def finish(self) -> os.stat_result:
        """Everything on the disk (fsync); the file's stat."""
        whole = self.fill - self.fill % ALIGN
        if whole:
            self.todo.put((self.current, self.base, whole))
        self.drain()
        if whole < self.fill:  # the last bytes, through the page cache
            if self.direct:
                _set_direct(self.fd, False)
            pwrite_all(self.fd, memoryview(self.current)[whole:self.fill], self.base + whole)
        os.fsync(self.fd)
        return os.fstat(self.fd)

    def close(self) -> None:
        """Stop the thread and close the descriptor (the file stays; the caller removes it)."""
        if self.thread.is_alive():
            self.todo.put(None)
            self.thread.join()
        os.close(self.fd)
        if self.reader is not None:
            os.close(self.reader)
        for buf in self.buffers:
            try:
                buf.close()
            except BufferError:  # a view of it is still held somewhere: freed with the view
                pass

    # -- the writing thread ----------------------------------------------------------------
    def _run(self) -> None:
        while (item := get_waking(self.todo)) is not None:
            buf, offset, n = item
            try:
                if self.error is None:
                    self._write(memoryview(buf)[:n], offset)
            except BaseException as exc:  # raised to the caller by its next write or finish
                # without the frames of this thread: they hold views of the buffers, which
                # close() could not unmap while they exist
                self.error = exc.with_traceback(None)
                if exc.__context__ is not None:  # the refused direct write, before a retry
                    exc.__context__ = exc.__context__.with_traceback(None)
            finally:
                self.free.put(buf)
                self.todo.task_done()
        self.todo.task_done()

    def _write(self, view: memoryview, offset: int) -> None:
        if self.direct:
            try:
                pwrite_all(self.fd, view, offset)
                return
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                _set_direct(self.fd, False)  # the file system wants other alignments
                self.direct = False
        pwrite_all(self.fd, view, offset)
        self.unflushed += len(view)
        if self.unflushed >= FLUSH_EVERY:
            os.fdatasync(self.fd)
            self.unflushed = 0


class Flusher:
    """fdatasync of a file being written, on a thread of its own, whenever ``wanted`` is set,
    so the disk writes while the CPU hashes and the final fsync has little left to do. With
    ``drop`` (a store's file), what is on the disk then leaves the page cache
    (``pipes.drop_cached``), so its pages serve the next bytes written."""

    def __init__(self, fd: int, drop: bool = False):
        self.fd, self.wanted, self.done, self.drop = fd, threading.Event(), False, drop
        self.error: OSError | None = None
        self.unflushed = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            if self.done:
                return
            try:
                os.fdatasync(self.fd)
            except OSError as exc:
                self.error = exc
                return
            if self.drop:
                drop_cached(self.fd, 0, 0)

    def write(self, data) -> None:
        """Write ``data`` to the file, counted (``wrote``)."""
        write_all(self.fd, data)
        self.wrote(len(data))

    def wrote(self, n: int) -> None:
        """``n`` more bytes written: a flush every ``FLUSH_EVERY`` bytes."""
        self.unflushed += n
        if self.unflushed >= FLUSH_EVERY:
            self.wanted.set()
            self.unflushed = 0

    def stop(self) -> None:
        """Stop the thread (an error it met is in ``error``)."""
        self.done = True
        self.wanted.set()
        self.thread.join()

    def finish(self) -> None:
        """Stop the thread and raise the error it met: the caller's fsync would miss it, since
        an error is reported once per descriptor."""
        self.stop()
        if self.error is not None:
            raise self.error

    def __enter__(self) -> "Flusher":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.finish()
        else:
            self.stop()
