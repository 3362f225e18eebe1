"""Chunks over the wire (SPEC §5.1): a push or a pull moves the chunks of chunked files that the
other side lacks in packs (packs.py) of up to ``PACK_LIMIT`` bytes, not as one object each.

A push plans its packs from what it sends (the chunks the remote's packs and loose objects
lack, in the order they sit here, so they are read sequentially), so each is named before a
byte moves; each chunk is checked against its name as it is read (BLAKE3, cheap), or copied by
the kernel from a pack the stat cache knows as written by mvc, and a pack goes up before its
index, which makes it visible (``Remote.put_pack``). A rerun skips the packs that landed.

A pull reads each recipe's chunks in order from wherever they are (the store, the pack being
written, or the remote's packs), checks each against its name, appends those the store lacked
to new packs and hashes the whole on another thread, so the file's digest is checked in the
same pass (a recipe this machine wrote there, whose remote packs the stat cache knows
unchanged, needs neither). A remote pack this machine wrote, unchanged since, that holds only
chunks the store lacks is copied in whole and kept under its own name. The packs
are committed before any recipe that needs them is kept."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple

from mvc.core.errors import IntegrityError
from mvc.core.packs import Entry, chunk_matches, decode, encode, pack_size, runs
from mvc.core.pipes import Pipe, Stopped, quick_switch, wait_waking
from mvc.core.remote_packs import RemotePacks

if TYPE_CHECKING:
    from mvc.core.chunked import ChunkRef, Recipe
    from mvc.core.objects import ObjectStore
    from mvc.core.remote_store import Remote
    from mvc.core.statcache import StatCache

Progress = Callable[[int], None] | None


def _buffer_size(sizes: Iterable[int]) -> int:
    """The pool's buffer size: the largest chunk, up to the largest mvc cuts (a larger one, from
    a recipe written elsewhere, gets a buffer of its own)."""
    from mvc.core.chunking import CDC_MAX, PIECE

    return min(max(sizes), max(PIECE, CDC_MAX))


def _unique_chunks(recipes: Iterable["Recipe"]) -> list["ChunkRef"]:
    seen: dict[str, "ChunkRef"] = {}
    for r in recipes:
        for c in r.chunks:
            seen.setdefault(c.digest, c)
    return list(seen.values())


def _open_local(path) -> int:
    """A file of the local store, open for reading; one it cannot open is the local store's
    problem (IntegrityError), not the remote's (a remote's writer wraps any OSError as its own)."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise IntegrityError(f"{path} in the local store cannot be read ({exc.strerror}); "
                             "run 'mvc verify'") from None


def _read_local(store: "ObjectStore", digest: str, size: int, buf: bytearray, fds: dict) -> memoryview:
    found = store.locate(digest)
    if found is None:
        raise IntegrityError(f"chunk {digest} is missing from the local store; run 'mvc fsck'")
    key = str(found.path)
    if key not in fds:
        fds[key] = _open_local(found.path)
    view = memoryview(buf)[:size] if size <= len(buf) else memoryview(bytearray(size))
    n = os.preadv(fds[key], [view], found.offset)
    if n != size or found.size != size:
        raise IntegrityError(f"chunk {digest} is corrupt in the local store (run 'mvc verify')")
    return view


def _trusted_pack(store: "ObjectStore", cache: "StatCache | None", name: str) -> bool:
    if cache is None:
        return False
    path = store.packs.pack_path(name)
    try:
        return cache.get(path, os.stat(path), written_by_us=True) == "pack:" + name
    except FileNotFoundError:
        return False


# -- push ------------------------------------------------------------------------------------

@quick_switch()
def push(store: "ObjectStore", remote: "Remote", recipes: list["Recipe"], cache: "StatCache | None",
         progress: Progress, on_plan: Callable[[int], None], jobs: int = 1,
         there: RemotePacks | None = None, trust_local: bool = True) -> int:
    """Send the chunks of ``recipes`` that the remote lacks, in packs of up to ``PACK_LIMIT``
    bytes, ``jobs`` at once; the bytes sent. ``on_plan`` hears that figure before any moves.
    A pack lands whole or not at all, so a rerun after an interruption skips the packs that
    landed. Without ``trust_local`` (``push --verify-remote``), every chunk sent is checked
    against its name, even in a pack the stat cache knows as written here and unchanged (a
    disk's silent damage changes no stat)."""
    from concurrent.futures import ThreadPoolExecutor

    there = there or RemotePacks(remote)
    missing = [c for c in _unique_chunks(recipes) if not there.has_all([c])]
    if not missing:
        return 0
    store.packs.refresh()
    located = {c.digest: store.locate(c.digest) for c in missing}
    for c in missing:
        if located[c.digest] is None:
            raise IntegrityError(f"chunk {c.digest} is missing from the local store; cannot push it")
    missing.sort(key=lambda c: (str(located[c.digest].path), located[c.digest].offset))
    plans = [p for p in _plan(missing, located) if p.name not in there.indexes]
    on_plan(sum(p.size + len(p.index) for p in plans))
    trusted = {n for n in {w.pack for w in located.values()} if n and trust_local and _trusted_pack(store, cache, n)}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="mvc-pack")
    stop = threading.Event()
    try:
        futures = [pool.submit(_send, store, remote, p, trusted, cache, progress, stop) for p in plans]
        wait_waking(futures, first_failure=True)
        failed = [f for f in futures if f.done() and not f.cancelled() and f.exception() is not None]
        if failed:  # the packs under way stop at their next chunk, not when they are sent whole
            raise failed[0].exception()
        for done in futures:
            done.result()
    except BaseException:  # a failure or Ctrl-C: the packs under way are abandoned at their
        stop.set()  # next chunk (their uploads removed), those not begun are not sent; a rerun
        raise  # sends them all
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for p in plans:  # the remote has them now
        for e in decode(p.index, p.name):
            there.where.setdefault(e.digest, (p.name, e.offset, e.size))
        if there.cache is not None:
            there.keep(p.name, p.index)
    return sum(p.size + len(p.index) for p in plans)


PACK_LIMIT = 256 << 20  # a push sends packs of up to this size: a rerun resumes pack by pack


class _Plan(NamedTuple):
    chunks: list  # (ChunkRef, Located), in the order they go
    index: bytes
    name: str
    size: int


def _plan(missing: list, located: dict) -> list[_Plan]:
    plans, group, size = [], [], 0
    for c in missing + [None]:
        if c is None or (group and size + c.size > PACK_LIMIT):
            entries, at = [], 0
            for g, _ in group:
                entries.append(Entry(g.digest, at, g.size))
                at += g.size
            if entries:
                index = encode(entries)
                plans.append(_Plan(group, index, index[-32:].hex(), at))
            group, size = [], 0
        if c is not None:
            group.append((c, located[c.digest]))
            size += c.size
    return plans


STOP_CHECK = 16 << 20  # a kernel copy looks at the push's stop this often


def _send(store, remote, plan: _Plan, trusted: set[str], cache, progress: Progress,
          stop: threading.Event) -> None:
    """Send one pack. A pack under way when ``stop`` is set is abandoned at its next chunk:
    ``put_pack`` removes what it wrote, so a Ctrl-C does not wait for the rest of a 256 MiB
    upload (a worker thread can also take the next pack before the main thread hears of it)."""
    from mvc.core.faults import crash_point

    def going_on() -> None:
        if stop.is_set():
            raise Stopped(f"pack {plan.name} abandoned: the push is ending")

    def fill(write: Callable, copy: Callable | None) -> None:
        if copy is not None and all(w.pack in trusted for _, w in plan.chunks):
            # every chunk in a pack of ours that the stat cache knows as written by mvc,
            # unchanged since: the kernel copies the runs
            for path, offset, size in runs(w for _, w in plan.chunks):
                fd = _open_local(path)
                try:
                    for at in range(0, size, STOP_CHECK):
                        going_on()
                        copy(fd, offset + at, min(STOP_CHECK, size - at))
                finally:
                    os.close(fd)
                if progress:
                    progress(size)
            return
        fds: dict[str, int] = {}

        def check(data, c) -> None:
            if located_pack[c.digest] not in trusted and not chunk_matches(c.digest, data):
                raise IntegrityError(f"chunk {c.digest} is corrupt in the local store; not pushing it "
                                     "(run 'mvc verify')")

        def send(data, c) -> None:
            write(data)
            if progress:
                progress(len(data))

        located_pack = {c.digest: w.pack for c, w in plan.chunks}
        pipe = Pipe([check, send], _buffer_size(c.size for c, _ in plan.chunks), stop)
        try:
            for c, _ in plan.chunks:
                going_on()
                buf = pipe.buffer()
                pipe.put(buf, _read_local(store, c.digest, c.size, buf, fds), c)
        finally:
            for fd in fds.values():
                os.close(fd)
            pipe.close()
        going_on()  # the push ended after the last chunk went: this pack is abandoned too

    going_on()
    remote.put_pack(plan.name, plan.index, plan.size, fill, cache)
    crash_point("push:pack-sent")


# -- pull ------------------------------------------------------------------------------------

class Pulled:
    """What a pull of chunked files brought: the bytes fetched and the recipes that checked out."""

    def __init__(self) -> None:
        self.bytes = 0
        self.recipes: list["Recipe"] = []
        self.touched: set[str] = set()  # packs here that hold chunks of the recipes


class _Rolling:
    """The packs a pull writes: a new one every ``PACK_LIMIT`` bytes, each committed as it
    fills (its chunks were checked by name), so a rerun after an interruption keeps them.
    Only the reading thread rolls over, once the writing stage has drained."""

    def __init__(self, store: "ObjectStore"):
        self.store = store
        self.writer = store.new_pack()
        self.queued = 0  # bytes handed to the writing stage for this pack

    def roll(self, pipe: Pipe, size: int) -> None:
        if self.queued and self.queued + size > PACK_LIMIT:
            pipe.drain()
            self.commit()
            self.writer, self.queued = self.store.new_pack(), 0
        self.queued += size

    def commit(self) -> None:
        self.store.commit_pack(self.writer)


@quick_switch()
def pull(store: "ObjectStore", remote: "Remote", recipes: list["Recipe"], known: set[str],
         cache: "StatCache | None", progress: Progress, on_plan: Callable[[int], None],
         there: RemotePacks | None = None) -> Pulled:
    """Fetch the chunks of ``recipes`` the store lacks into new packs, checking every chunk
    and (unless in ``known``) each file's digest in the same pass. A recipe whose chunks do not
    make its file is an IntegrityError, after the packs of good chunks are committed (a rerun
    does not fetch them again); the recipes are the caller's to keep."""
    store.packs.refresh()
    missing = [c for c in _unique_chunks(recipes) if store.locate(c.digest) is None]
    on_plan(sum(c.size for c in missing))
    there = there or RemotePacks(remote)
    packs = _Rolling(store)
    done = Pulled()
    failures: list[str] = []
    readers: dict[str, object] = {}
    fds: dict[str, int] = {}
    trusted_there: dict[str, bool] = {}
    try:
        _adopt(store, remote, there, {c.digest for c in missing}, readers, trusted_there, cache, progress, done)
        for recipe in recipes:
            if _pull_one(store, remote, there, packs, recipe, recipe.digest in known, readers, fds,
                         trusted_there, cache, progress, done):
                done.recipes.append(recipe)
            else:
                failures.append(recipe.digest)
    except BaseException:
        packs.writer.discard()
        raise
    finally:
        for r in readers.values():
            r.close()
        for fd in fds.values():
            os.close(fd)
    packs.commit()
    for name in done.touched:
        store.touch_pack(name)
    if failures:
        raise DamagedThere(f"object {failures[0]} arrived corrupt: the chunks of its recipe on remote "
                           f"{remote.name!r} do not make its bytes", failures[0])
    return done


def _adopt(store, remote, there: RemotePacks, needed: set[str], readers, trusted_there, cache, progress,
           done) -> None:
    """Each pack of the remote's that holds only chunks the store lacks and the recipes need (``needed``),
    and that this machine wrote (the stat cache knows it unchanged: its chunks were checked as
    they went in), is copied whole and kept as it is, under its own name, with none of the
    per-chunk work (naming, hashing the whole, the stages): pulling back what this machine
    pushed costs a copy."""
    for name, entries in list(there.load().indexes.items()):
        if not entries or any(e.digest not in needed for e in entries):
            continue
        if name not in readers:
            readers[name] = remote.pack_reader(name)
            trusted_there[name] = readers[name].trusted(cache, name)
        if not trusted_there[name]:  # (only a directory remote's packs can be)
            continue
        store.adopt_pack(entries, readers[name].read_into)
        needed.difference_update(e.digest for e in entries)
        size = pack_size(entries)
        done.bytes += size
        if progress:
            progress(size)


def _pull_one(store, remote, there, packs: _Rolling, recipe, known, readers, fds, trusted_there, cache,
              progress, done) -> bool:
    whole = hashlib.sha256()

    def hash_whole(data, _) -> None:
        whole.update(data)

    def keep(data, c) -> None:
        if c is not None:
            writer.add(c.digest, data)

    writer = packs.writer  # the writing stage's; only this thread changes it, once drained
    pending: set[str] = set()
    pipe = Pipe([keep] if known else [hash_whole, keep], _buffer_size(c.size for c in recipe.chunks))
    try:
        for c in recipe.chunks:
            here = None if c.digest in writer.held or c.digest in pending else store.locate(c.digest)
            if here is not None and here.pack:
                done.touched.add(here.pack)  # young again once the recipe names it (gc's grace)
            if known and (here is not None or c.digest in writer.held or c.digest in pending):
                continue  # checked when it was kept; the whole is known: nothing to read
            buf = pipe.buffer()
            if c.digest in writer.held:
                data, new = writer.read(c.digest, buf), None
            elif here is not None:
                data, new = _read_local(store, c.digest, c.size, buf, fds), None
                if not known and not chunk_matches(c.digest, data):
                    raise IntegrityError(f"chunk {c.digest} is corrupt in the local store (run 'mvc verify')")
            elif c.digest in pending:  # fetched for this pack, not yet written: wait, read it back
                pipe.drain()
                data, new = writer.read(c.digest, buf), None
            else:
                pending.add(c.digest)
                data, new = _fetch(remote, there, c, buf, readers, trusted_there, cache), c
                packs.roll(pipe, c.size)
                writer = packs.writer
                done.bytes += c.size
                if progress:
                    progress(c.size)
            pipe.put(buf, data, new)
    finally:
        pipe.close()
    return known or "sha256:" + whole.hexdigest() == recipe.digest


def _fetch(remote, there, c, buf, readers, trusted_there, cache) -> memoryview:
    """A chunk the store lacks, from the remote, checked against its name (unless it lies in a
    pack of the remote's that the stat cache knows as written by this machine, unchanged)."""
    from mvc.core.remote_store import missing_there

    copies = there.copies(c.digest)
    if not copies:
        if c.digest.startswith("sha256:") and remote.size_of(c.digest) is not None:
            data = remote.fetch_bytes(c.digest, cache)  # a loose chunk of a store written before packs
            view = memoryview(buf)[:len(data)] if len(data) <= len(buf) else memoryview(bytearray(len(data)))
            view[:] = data
            return view
        raise missing_there(remote, c.digest)
    why = ""
    for name, offset, size in copies:  # a damaged copy: the next one (push sent it again elsewhere)
        if name not in readers:
            readers[name] = remote.pack_reader(name)
            trusted_there[name] = readers[name].trusted(cache, name)
        view = memoryview(buf)[:size] if size <= len(buf) else memoryview(bytearray(size))
        if size != c.size or readers[name].read_into(view, offset) != size:
            why = why or "its pack is shorter than its index says"
        elif not trusted_there[name] and not chunk_matches(c.digest, view):
            why = why or "its bytes do not match its name"
        else:
            return view
    raise DamagedThere(f"chunk {c.digest} arrived corrupt from remote {remote.name!r}: {why}", c.digest)


class DamagedThere(IntegrityError):
    """A remote's copy that does not make what its name says (``digest``: a chunk's, or a
    file's whose chunks do not make it); the caller names the versions it belongs to."""

    def __init__(self, message: str, digest: str):
        super().__init__(message)
        self.digest = digest
