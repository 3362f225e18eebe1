"""Writing a file past the page cache (mvc/core/direct.py: DirectFile), the copies and GIL
switch interval of mvc/core/pipes.py it relies on, and PackWriter on top of it: the bytes read
back (while writing and from the finished file) are the bytes written, with O_DIRECT, without
it (MVC_DIRECT_IO=0, or a file system that refuses a direct write), and a failed write reaches
the caller without hanging ``close``. Real files in tmp_path; only os.pwrite is replaced, to
make a write fail."""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import sys
import threading
import time
import types

import pytest

from mvc.core import direct, pipes
from mvc.core.packs import Packs, PackWriter, chunk_name

STAGE = 64 * 1024  # small buffers: several of them fill with little data


@pytest.fixture(autouse=True)
def small_stage(monkeypatch):
    # DirectFile reads the module's STAGE when built and on every write (not bound at import)
    monkeypatch.setattr(direct, "STAGE", STAGE)
    monkeypatch.delenv("MVC_DIRECT_IO", raising=False)


def _open(path) -> direct.DirectFile:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    return direct.DirectFile(fd, str(path))


def _has_o_direct(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0))


def _require_o_direct(tmp_path) -> None:
    """Skip, saying why, where the file system of tmp_path refuses O_DIRECT writes."""
    if not getattr(os, "O_DIRECT", 0):
        pytest.skip("this platform has no O_DIRECT")
    probe = tmp_path / "o_direct_probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
    buf = mmap.mmap(-1, 4096)
    try:
        os.pwrite(fd, buf, 0)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        pytest.skip(f"the file system of {tmp_path} refuses O_DIRECT writes (EINVAL)")
    finally:
        os.close(fd)
        buf.close()
        probe.unlink()


def _pieces(data: bytes, sizes: list[int]):
    """``data`` cut in pieces of the sizes given (cycled), as bytes, bytearray and memoryview."""
    at, i = 0, 0
    kinds = (bytes, bytearray, memoryview)
    while at < len(data):
        n = sizes[i % len(sizes)]
        yield kinds[i % 3](data[at:at + n])
        at, i = at + n, i + 1


SIZES = [0, 1, 4095, 4096, 4097, STAGE, STAGE + 1, 3 * STAGE + 777]
PATTERNS = {
    "whole": [1 << 40],
    "ones-then-odd": [1] * 300 + [7, 4093, 1000, 13],
    "larger-than-stage": [STAGE + 3, 5, 2 * STAGE + 4097],
}


def _round_trip(tmp_path, size: int, pattern: list[int]) -> direct.DirectFile:
    data = os.urandom(size)
    path = tmp_path / "out"
    f = _open(path)
    try:
        for piece in _pieces(data, pattern):
            f.write(piece)
        assert f.size == size
        st = f.finish()
    finally:
        f.close()
    assert st.st_size == size == os.path.getsize(path)
    assert (st.st_ino, st.st_dev) == (os.stat(path).st_ino, os.stat(path).st_dev)
    assert path.read_bytes() == data
    return f


@pytest.mark.parametrize("pattern", PATTERNS, ids=list(PATTERNS))
@pytest.mark.parametrize("size", SIZES)
def test_bytes_read_back_are_the_bytes_written(tmp_path, size, pattern):
    _require_o_direct(tmp_path)
    f = _round_trip(tmp_path, size, PATTERNS[pattern])
    assert f.direct is True


@pytest.mark.parametrize("size", [0, 4097, STAGE, 3 * STAGE + 777])
def test_without_direct_io_the_file_is_the_same(tmp_path, monkeypatch, size):
    monkeypatch.setenv("MVC_DIRECT_IO", "0")
    f = _round_trip(tmp_path, size, PATTERNS["ones-then-odd"])
    assert f.direct is False


def test_direct_is_set_on_the_descriptor(tmp_path):
    _require_o_direct(tmp_path)
    f = _open(tmp_path / "out")
    try:
        assert f.direct is True and _has_o_direct(f.fd)
        f.write(os.urandom(2 * STAGE))
        f.drain()
        assert f.direct is True and _has_o_direct(f.fd)  # full buffers went out direct
    finally:
        f.close()


@pytest.mark.parametrize("env", [None, "0"], ids=["direct", "MVC_DIRECT_IO=0"])
def test_read_while_writing(tmp_path, monkeypatch, env):
    if env is None:
        _require_o_direct(tmp_path)
    else:
        monkeypatch.setenv("MVC_DIRECT_IO", env)
    data = os.urandom(5 * STAGE + 321)
    path = tmp_path / "out"
    f = _open(path)
    try:
        assert f.direct is (env is None)

        def check(offset: int, n: int) -> None:
            into = memoryview(bytearray(n))
            f.read(offset, into)
            assert into.tobytes() == data[offset:offset + n], (offset, n)

        written = 2 * STAGE + 5000  # two buffers on the disk, 5000 bytes in the one filling
        for piece in _pieces(data[:written], [999, 1, STAGE + 17]):
            f.write(piece)
        assert (f.base, f.fill) == (2 * STAGE, 5000)
        check(0, 1)  # on disk
        check(100, STAGE)  # on disk, across two buffers
        check(2 * STAGE - 4096, 4096)  # on disk, ending at the boundary
        check(2 * STAGE, 1)  # in the buffer, at its start
        check(2 * STAGE + 100, 4900)  # in the buffer, up to the last byte written
        check(2 * STAGE - 300, 600)  # straddling
        check(0, written)  # everything
        check(written - 1, 1)

        f.write(data[written:])  # more buffers go out; read again after them
        check(4 * STAGE - 1, 2)
        check(5 * STAGE, 321)
        check(3, len(data) - 3)
        st = f.finish()
    finally:
        f.close()
    assert st.st_size == len(data)
    assert path.read_bytes() == data


class _FakeOs(types.SimpleNamespace):
    """``os`` as mvc.core.direct sees it, with ``pwrite`` replaced."""

    def __getattr__(self, name):
        return getattr(os, name)


def test_direct_write_refused_with_einval_falls_back(tmp_path, monkeypatch):
    _require_o_direct(tmp_path)
    refused = []

    def pwrite(fd, data, offset):
        if _has_o_direct(fd):
            refused.append(offset)
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return os.pwrite(fd, data, offset)

    monkeypatch.setattr(direct, "os", _FakeOs(pwrite=pwrite))
    data = os.urandom(3 * STAGE + 4097)
    path = tmp_path / "out"
    f = _open(path)
    try:
        assert f.direct is True
        for piece in _pieces(data, [1000, STAGE + 1]):
            f.write(piece)
        st = f.finish()
        assert f.direct is False and not _has_o_direct(f.fd)
    finally:
        f.close()
    assert refused == [0]  # the first direct write was refused; none was tried after it
    assert st.st_size == len(data)
    assert path.read_bytes() == data


def _close_within(f: direct.DirectFile, seconds: float = 10) -> BaseException | None:
    """Close ``f`` on a thread, failing if that takes over ``seconds``; what close raised."""
    raised: list[BaseException] = []

    def close() -> None:
        try:
            f.close()
        except BaseException as exc:
            raised.append(exc)

    t = threading.Thread(target=close, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "DirectFile.close() hangs after a failed write"
    return raised[0] if raised else None


def _failing_second_pwrite(monkeypatch) -> list[int]:
    calls = []

    def pwrite(fd, data, offset):
        calls.append(offset)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.pwrite(fd, data, offset)

    monkeypatch.setattr(direct, "os", _FakeOs(pwrite=pwrite))
    return calls


@pytest.mark.parametrize("env", [None, "0"], ids=["direct", "MVC_DIRECT_IO=0"])
def test_failed_write_is_raised_by_the_next_write(tmp_path, monkeypatch, env):
    if env is not None:
        monkeypatch.setenv("MVC_DIRECT_IO", env)
    _failing_second_pwrite(monkeypatch)
    f = _open(tmp_path / "out")
    try:
        f.write(os.urandom(2 * STAGE + 1))  # two buffers handed to the thread: the 2nd fails
        deadline = time.monotonic() + 10
        while f.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(OSError) as raised:
            f.write(b"x")
        assert raised.value.errno == errno.ENOSPC
        with pytest.raises(OSError) as raised:  # and again: the file stays failed
            f.finish()
        assert raised.value.errno == errno.ENOSPC
    finally:
        _close_within(f)  # does not hang (what it raises: test_close_after_a_failed_write)


@pytest.mark.parametrize("env", [None, "0"], ids=["direct", "MVC_DIRECT_IO=0"])
def test_failed_write_is_raised_by_finish(tmp_path, monkeypatch, env):
    if env is not None:
        monkeypatch.setenv("MVC_DIRECT_IO", env)
    calls = _failing_second_pwrite(monkeypatch)
    f = _open(tmp_path / "out")
    try:
        # the error may come while these are written (raised by a write) or only at finish
        with pytest.raises(OSError) as raised:
            for piece in _pieces(os.urandom(4 * STAGE + 10), [5000]):
                f.write(piece)
            f.finish()
        assert raised.value.errno == errno.ENOSPC
        assert len(calls) >= 2
    finally:
        _close_within(f)  # does not hang (what it raises: test_close_after_a_failed_write)


def test_close_after_a_failed_write_raises_nothing(tmp_path, monkeypatch):
    _failing_second_pwrite(monkeypatch)
    f = _open(tmp_path / "out")
    try:
        f.write(os.urandom(2 * STAGE))
        f.finish()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        pytest.fail("the failed write was not raised")
    raised = _close_within(f)
    if raised is not None:
        raise raised


def test_pack_commit_raises_the_failed_write(tmp_path, monkeypatch):
    _failing_second_pwrite(monkeypatch)
    writer = PackWriter(tmp_path / "pack", tmp_path / "tmp")
    for _ in range(2):  # two full buffers: the add calls return before the 2nd write fails
        data = os.urandom(STAGE)
        writer.add(chunk_name(data), data)
    with pytest.raises(OSError) as raised:
        writer.commit()
    assert raised.value.errno == errno.ENOSPC


def test_pack_discard_after_a_failed_add_leaves_nothing(tmp_path, monkeypatch):
    _failing_second_pwrite(monkeypatch)
    writer = PackWriter(tmp_path / "pack", tmp_path / "tmp")
    with pytest.raises(OSError) as raised:
        for i in range(5):
            data = os.urandom(50_000 + i)
            writer.add(chunk_name(data), data)
            writer.file.drain()
    assert raised.value.errno == errno.ENOSPC
    writer.discard()
    assert os.listdir(tmp_path / "tmp") == []


def test_close_while_buffers_are_in_flight(tmp_path):
    path = tmp_path / "out"
    f = _open(path)
    f.write(os.urandom(3 * STAGE + 5))
    _close_within(f)
    assert path.exists()  # close leaves the file; the caller removes it


# -- pipes.copy_into and pipes.quick_switch ---------------------------------------------------

def test_copy_into_out_of_bounds():
    dst = bytearray(100)
    for at, n in [(-1, 1), (0, 101), (99, 2), (100, 1), (1 << 20, 1 << 17)]:
        with pytest.raises(ValueError):
            pipes.copy_into(dst, at, bytes(n))
    with pytest.raises(ValueError):  # the large (memmove) path checks too
        pipes.copy_into(bytearray(1 << 17), 1, bytearray(1 << 17))
    assert dst == bytearray(100)  # nothing written
    pipes.copy_into(dst, 100, b"")  # at the very end, nothing
    pipes.copy_into(dst, 0, bytes(range(100)))
    assert dst == bytes(range(100))


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "mmap", "readonly-view"])
@pytest.mark.parametrize("n", [0, 1, 100, (1 << 16) - 1, 1 << 16, 300_001])
def test_copy_into_copies_the_same_from_any_source(kind, n):
    data = os.urandom(n)
    if kind == "bytes":
        src = data
    elif kind == "bytearray":
        src = bytearray(data)
    elif kind == "memoryview":
        src = memoryview(bytearray(b"\0" * 3 + data))[3:]  # writable, not at its buffer's start
    elif kind == "mmap":
        src = mmap.mmap(-1, max(n, 1))
        src[:n] = data
        src = memoryview(src)[:n]
    else:
        src = memoryview(bytearray(data)).toreadonly()
    at = 4097
    dst = mmap.mmap(-1, at + n + 4096)
    expected = bytearray(len(dst))
    expected[at:at + n] = data
    pipes.copy_into(dst, at, src)
    assert dst[:] == expected
    plain = bytearray(at + n + 5)
    pipes.copy_into(plain, at, src)
    assert bytes(plain[at:at + n]) == data and not any(plain[:at]) and not any(plain[at + n:])


def test_quick_switch_restores_the_interval():
    before = sys.getswitchinterval()
    low = min(before, pipes.SWITCH_INTERVAL)
    with pipes.quick_switch():
        assert sys.getswitchinterval() == pytest.approx(low)
        with pipes.quick_switch():
            assert sys.getswitchinterval() == pytest.approx(low)
        assert sys.getswitchinterval() == pytest.approx(low)  # the outer user is still there
    assert sys.getswitchinterval() == before

    with pytest.raises(RuntimeError):
        with pipes.quick_switch():
            with pipes.quick_switch():
                raise RuntimeError("boom")
    assert sys.getswitchinterval() == before

    @pipes.quick_switch()
    def work(fail: bool) -> float:
        if fail:
            raise KeyError("x")
        return sys.getswitchinterval()

    assert work(False) == pytest.approx(low)
    with pytest.raises(KeyError):
        work(True)
    assert sys.getswitchinterval() == before


def test_quick_switch_concurrent_users():
    before = sys.getswitchinterval()
    low = min(before, pipes.SWITCH_INTERVAL)
    entered, leave = threading.Event(), threading.Event()

    def user() -> None:
        with pipes.quick_switch():
            entered.set()
            leave.wait(10)

    with pipes.quick_switch():
        t = threading.Thread(target=user)
        t.start()
        assert entered.wait(10)
    assert sys.getswitchinterval() == pytest.approx(low)  # the thread still uses it
    leave.set()
    t.join(10)
    assert sys.getswitchinterval() == before


# -- PackWriter on DirectFile -----------------------------------------------------------------

def test_pack_writer_reads_back_commits_and_is_found(tmp_path):
    folder, tmp_dir = tmp_path / "pack", tmp_path / "tmp"
    sizes = [5000, 70_000, 3, 60_001, 12_345]  # 147,349 bytes: not a multiple of 4096
    chunks = [os.urandom(n) for n in sizes]
    writer = PackWriter(folder, tmp_dir)
    for data in chunks:
        assert writer.add(chunk_name(data), data) is True
    assert writer.add(chunk_name(chunks[0]), chunks[0]) is False  # kept once
    assert writer.file.base == 2 * STAGE  # two buffers gone to the disk, the rest buffered
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    assert offsets[0] + sizes[0] <= writer.file.base  # chunk 0: on the disk
    assert offsets[4] >= writer.file.base  # chunk 4: still in the buffer
    assert offsets[3] < writer.file.base < offsets[3] + sizes[3]  # chunk 3: both
    for i in (0, 4, 3, 1, 2):
        small = bytearray(10)  # too small for most: read() makes its own buffer
        got = writer.read(chunk_name(chunks[i]), small)
        assert bytes(got) == chunks[i], i

    name, st = writer.commit()
    total = sum(sizes)
    assert st.st_size == total
    assert os.listdir(tmp_dir) == []

    found = Packs(folder)
    found.refresh()
    with open(found.pack_path(name), "rb") as fh:
        for data, offset in zip(chunks, offsets):
            where = found.find(chunk_name(data))
            assert where is not None and where.pack == name
            assert (where.offset, where.size) == (offset, len(data))
            fh.seek(where.offset)
            assert fh.read(where.size) == data
    assert os.path.getsize(found.pack_path(name)) == total


@pytest.mark.parametrize("seal", [False, True], ids=["while-writing", "after-seal"])
def test_pack_writer_discard_leaves_nothing(tmp_path, seal):
    folder, tmp_dir = tmp_path / "pack", tmp_path / "tmp"
    writer = PackWriter(folder, tmp_dir)
    for n in (STAGE + 1, 3 * STAGE, 17):
        data = os.urandom(n)
        writer.add(chunk_name(data), data)
    if seal:
        writer.seal()
    done = threading.Thread(target=writer.discard, daemon=True)
    done.start()
    done.join(10)
    assert not done.is_alive(), "PackWriter.discard() hangs"
    assert os.listdir(tmp_dir) == []
    assert not folder.exists() or os.listdir(folder) == []


def test_a_pipeline_thread_finds_an_item_whose_wake_up_was_lost():
    """A Ctrl-C in the feeding thread inside Queue.put can lose the waiting thread's wake-up
    with the item already queued (a pull hung 13 minutes so): get_waking finds it anyway."""
    import queue

    q: queue.Queue = queue.Queue()
    got = []
    t = threading.Thread(target=lambda: got.append(pipes.get_waking(q)), daemon=True)
    t.start()
    time.sleep(0.2)  # waiting in get
    with q.mutex:  # queued without notify: the interrupted put
        q.queue.append("item")
        q.unfinished_tasks += 1
    t.join(5)
    assert got == ["item"]
