"""Copying bytes while hashing them: the pipelines under the object store (``objects.py``).

A large input flows reader -> hasher -> writer on three threads (hashlib and os.write release
the GIL), so storing or exporting costs about as much as the slowest stage; the bytes written
are the very bytes hashed.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

CHUNK = 8 << 20
# Flush written data to disk as we go, so the final fsync has little left to do and
# the disk works while the CPU hashes.
SYNC_EVERY = 64 << 20
# Large inputs flow reader -> hasher -> writer in POOL reused buffers of PIPE_CHUNK bytes:
# 1 MiB pieces are still in the CPU cache when the writer copies what the hasher just read
# (measurably less CPU than 8 MiB ones; see benchmarks/bench.py). 64 of them (64 MiB in
# flight) let the reader and hasher run on while the writer waits for a periodic sync;
# with 16 they stalled behind it.
PIPE_CHUNK = 1 << 20
POOL = 64
SYNC_THREADS = 16  # fsyncs in flight at once (sync_files)

Progress = Callable[[int], None] | None

# A thread whose hash or write released the GIL gets it back within this many seconds while
# another thread runs Python (Python's default is 5 ms). The pipelines hand blocks of a few
# MiB around: with 5 ms, the SHA-256 thread, which sets the pace, waited about as long for the
# GIL after each block as it took to hash it (1 GiB: 1.18 s instead of 0.52 s beside a thread
# running Python; 0.59 s with 0.2 ms, 0.55 s with 0.05 ms). A storing add of a new 1 GiB file
# (put_file, median of 7): 0.76 s at 0.2 ms, 0.67 s at 0.05 ms.
SWITCH_INTERVAL = 0.00005
_switch = {"users": 0, "before": 0.0}
_switch_lock = threading.Lock()


@contextmanager
def quick_switch() -> Iterator[None]:
    """Within: the GIL changes hands every ``SWITCH_INTERVAL`` when threads want it (nested
    and concurrent uses restore the interval when the last one ends)."""
    with _switch_lock:
        if not _switch["users"]:
            _switch["before"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch["before"], SWITCH_INTERVAL))
        _switch["users"] += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch["users"] -= 1
            if not _switch["users"]:
                sys.setswitchinterval(_switch["before"])


def get_waking(q: queue.Queue):
    """``q.get()`` for a thread of a pipeline, looking again every half second. A Ctrl-C that
    lands in the feeding thread inside ``put`` can take this thread's wake-up with it (between
    ``threading.Condition.notify`` taking the waiter and releasing it): a plain ``get`` then
    waits forever for an item already queued, and the feeder's join with it (a pull hung 13
    minutes, until a second Ctrl-C)."""
    while True:
        try:
            return q.get(timeout=0.5)
        except queue.Empty:
            continue


def wait_waking(futures: list, first_failure: bool = False) -> None:
    """``concurrent.futures.wait`` for all of ``futures`` (or, with ``first_failure``, until one
    fails), looking again every 0.2 s. A Ctrl-C that the kernel hands to a worker thread
    runs its handler in the main thread only once that thread runs Python again: an untimed
    wait held it until the work was done (a push sent the rest of its 256 MiB pack first)."""
    from concurrent.futures import ALL_COMPLETED, FIRST_EXCEPTION, wait

    while True:
        done, pending = wait(futures, timeout=0.2, return_when=FIRST_EXCEPTION if first_failure else ALL_COMPLETED)
        if not pending or (first_failure and any(not f.cancelled() and f.exception() is not None for f in done)):
            return


def copy_hashing(read: Callable[[int], bytes], write: Callable[[bytes], object],
                  progress: Progress) -> tuple[str, int]:
    """Copy a stream to another in CHUNK pieces, hashing the very bytes written."""
    h = hashlib.sha256()
    size = 0
    while chunk := read(CHUNK):
        h.update(chunk)
        write(chunk)
        size += len(chunk)
        if progress:
            progress(len(chunk))
    return "sha256:" + h.hexdigest(), size


def copy_into(dst, at: int, src) -> None:
    """``dst[at:at + len(src)] = src``. A large copy from a writable buffer is made with the GIL
    released (``ctypes.memmove``), so that the thread that hashes is not kept waiting for it."""
    src, view = memoryview(src).cast("B"), memoryview(dst).cast("B")
    n = len(src)
    if at < 0 or at + n > len(view):
        raise ValueError("copy_into: out of bounds")
    if n < (1 << 16) or src.readonly or view.readonly:
        view[at:at + n] = src
        return
    import ctypes

    ctypes.memmove(ctypes.addressof(ctypes.c_char.from_buffer(view, at)),
                   ctypes.addressof(ctypes.c_char.from_buffer(src)), n)


def write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


@quick_switch()
def pump(src_fd: int, dst_fd: int | None, progress: Progress) -> tuple[str, int]:
    """Read ``src_fd`` once; hash every chunk and write it to ``dst_fd`` (if any).

    Large inputs run three stages at once: this thread reads, one thread hashes and one
    writes (hashlib and os.write release the GIL), so the whole costs about as much as
    the slowest stage, a bare SHA-256 pass. Each chunk is read into a buffer from a small
    pool and goes reader -> hasher -> writer before the buffer is read into again, so the
    bytes written are the very bytes hashed; reusing buffers spares a fresh allocation
    (and its page faults) per chunk.
    """
    h = hashlib.sha256()
    first = os.read(src_fd, CHUNK)
    if len(first) < CHUNK:  # small input: no threads
        h.update(first)
        if dst_fd is not None:
            write_all(dst_fd, first)
        if progress:
            progress(len(first))
        return h.hexdigest(), len(first)

    failures: list[BaseException] = []
    free: queue.Queue = queue.Queue()  # bounds the bytes in flight to POOL buffers
    for _ in range(POOL):
        free.put(memoryview(bytearray(PIPE_CHUNK)))
    hash_q: queue.Queue = queue.Queue()
    write_q: queue.Queue = queue.Queue()

    def release(item: tuple) -> None:
        if item[0] is not None:  # the first chunk is not a pool buffer
            free.put(item[0])

    def hasher() -> None:
        while (item := get_waking(hash_q)) is not None:
            h.update(item[1])
            if dst_fd is not None:
                write_q.put(item)
            else:
                release(item)
        write_q.put(None)

    def writer() -> None:
        unsynced = 0
        while (item := get_waking(write_q)) is not None:
            if not failures:
                try:
                    write_all(dst_fd, item[1])
                    unsynced += len(item[1])
                    if unsynced >= SYNC_EVERY:
                        os.fdatasync(dst_fd)
                        unsynced = 0
                except BaseException as exc:  # handed to the reader thread below
                    failures.append(exc)
            release(item)  # always, so the reader never waits for a buffer in vain

    threads = [threading.Thread(target=hasher, daemon=True)]
    if dst_fd is not None:
        threads.append(threading.Thread(target=writer, daemon=True))
    for t in threads:
        t.start()
    total = 0
    buf, view = None, memoryview(first)
    try:
        while view and not failures:
            hash_q.put((buf, view))
            total += len(view)
            if progress:
                progress(len(view))
            buf = free.get()
            view = buf[:os.readv(src_fd, [buf])]
    finally:
        hash_q.put(None)
        for t in threads:
            t.join()
    if failures:
        raise failures[0]
    return h.hexdigest(), total


def kernel_copy(src_fd: int, dst_fd: int, size: int, start: int | None = None) -> None:
    """Copy ``size`` bytes by the kernel, from ``src_fd``'s position or from ``start``."""
    done = 0
    while done < size:
        try:
            n = os.copy_file_range(src_fd, dst_fd, size - done, None if start is None else start + done)
        except OSError:
            n = os.sendfile(dst_fd, src_fd, (start or 0) + done, size - done)
        if n == 0:
            break
        done += n


DROP_BEHIND = 16 << 20


def drop_cached(fd: int, offset: int, size: int) -> None:
    """Let the kernel drop the cached pages of a store file once they are read (they are clean):
    the store stays out of the page cache, as packs are written past it (``direct``), and the
    pages are used again for the next bytes read instead of fresh ones (on a virtual machine
    whose free memory goes back to the host, a fresh page costs a host fault: a cold 1 GiB
    checkout took 1.4-2.2 s without this, 0.9-1.0 s with it).

    The advice covers ``DROP_BEHIND`` bytes before the range too: pages just read in small
    ranges (a 512 KiB chunk) are often not yet droppable when the advice comes (the kernel
    skips them), and advice on exactly each range read left 240 MiB of a 256 MiB pack cached;
    with the range reaching back, the next call drops what the last one could not (none left)."""
    try:
        start = max(0, offset - DROP_BEHIND)
        os.posix_fadvise(fd, start, offset + size - start, os.POSIX_FADV_DONTNEED)
    except (OSError, AttributeError):  # advice only
        pass


def try_reflink(src_fd: int, dst_fd: int) -> bool:
    import fcntl

    FICLONE = 0x40049409
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
        return True
    except OSError:
        return False



def sync_files(paths: list[str]) -> None:
    """fsync many files or folders at once, from a few threads: the filesystem commits
    fsyncs that wait together in one journal transaction, so a thousand small files cost
    about what one large one does (the idea of git's batch fsync)."""
    from concurrent.futures import ThreadPoolExecutor

    def sync(path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    with ThreadPoolExecutor(SYNC_THREADS) as pool:
        list(pool.map(sync, paths))


IN_FLIGHT = 16  # items read ahead of the slowest stage of a Pipe


class Stopped(Exception):
    """Work abandoned because the command is ending (Ctrl-C, or another part failed): a
    push's pack under way, or what a ``Pipe`` was making once its stop was set."""


class Pipe:
    """Stages on threads of their own, fed in order by the caller's thread: each item is a
    view of a buffer from a small pool, handed back once every stage is done with it. Once
    ``stop`` is set, the stages skip what is still queued (up to ``IN_FLIGHT`` chunks), and
    ``close`` raises ``Stopped``: one stage may have handled an item another skipped (the
    send stage runs ahead of the check), so what the stages made is never to be used."""

    def __init__(self, stages: list[Callable], size: int, stop: threading.Event | None = None):
        self.failures: list[BaseException] = []
        self.stop = stop or threading.Event()
        self.free: queue.Queue = queue.Queue()
        for _ in range(IN_FLIGHT):
            self.free.put(bytearray(size))
        self.left: dict[int, int] = {}
        self.lock = threading.Lock()
        self.queues = [queue.Queue() for _ in stages]
        self.threads = [threading.Thread(target=self._run, args=(q, s), daemon=True)
                        for q, s in zip(self.queues, stages)]
        for t in self.threads:
            t.start()

    def _run(self, q: queue.Queue, stage: Callable) -> None:
        while (item := get_waking(q)) is not None:
            buf, data, tag = item
            try:
                if self.failures:  # the first failure is the one raised; nothing more is done
                    continue
                if self.stop.is_set():  # skipped: what the caller was making is not whole
                    raise Stopped("the push is ending: queued chunks were skipped")
                stage(data, tag)
            except BaseException as exc:
                self.failures.append(exc)
            finally:
                self._release(buf)
                q.task_done()

    def drain(self) -> None:
        """Wait until every stage is done with what it was given."""
        for q in self.queues:
            q.join()
        if self.failures:
            raise self.failures[0]

    def _release(self, buf) -> None:
        if buf is None:
            return
        with self.lock:
            self.left[id(buf)] -= 1
            if self.left[id(buf)]:
                return
            del self.left[id(buf)]
        self.free.put(buf)

    def buffer(self) -> bytearray:
        if self.failures:
            raise self.failures[0]
        return self.free.get()

    def put(self, buf, data, tag) -> None:
        if buf is not None:
            with self.lock:
                self.left[id(buf)] = len(self.queues)
        for q in self.queues:
            q.put((buf, data, tag))

    def close(self) -> None:
        for q in self.queues:
            q.put(None)
        for t in self.threads:
            t.join()
        if self.failures:
            raise self.failures[0]
