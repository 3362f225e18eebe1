"""A remote in a local or mounted directory (remote_store.py says what every remote
guarantees): os-level copies, uploads made durable and visible in batches, small objects
fetched whole for the store to commit in batches."""

from __future__ import annotations

import errno
import os
import stat
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from mvc.core.errors import IntegrityError, UserError
from mvc.core.atomic import open_regular
from mvc.core.objects import RECIPE_SUFFIX, ObjectStore, Progress, digest_of_key, object_key
from mvc.core.packs import INDEX_SUFFIX, PACK_SUFFIX, index_names, pack_key, read_index_file
from mvc.core.pipes import copy_hashing, drop_cached, kernel_copy, sync_files
from mvc.core.remote_store import Remote, cannot_use, checked, corrupt_here, missing_here, missing_there

if TYPE_CHECKING:
    from mvc.core.statcache import StatCache


class DirectoryRemote(Remote):
    """A remote in a local (or mounted) directory: os-level copies, so that a push or pull of
    a large object costs what ``cp`` does. An object the stat cache knows as hashed whole
    since it last changed (a store object added here, a remote file this machine wrote or
    verified) is copied by the kernel; every other one is hashed while it is copied.

    Uploads are made durable and visible in batches (``flush``, after each batch a transfer
    sends): a chunked model is thousands of small objects, and an fsync of each file and of
    its folder cost a journal commit apiece, ten times what copying the bytes costs. So each
    upload writes its temporary file only; ``flush`` fsyncs the batch's files together
    (pipes.sync_files: one journal commit for many, and only our own data, where a syncfs
    would wait for every other writer's on a shared filesystem), renames each into place and
    fsyncs the folders it touched. A crash at any point leaves whole objects or none (a
    temporary file under ``tmp/``)."""

    def __init__(self, name: str, location: str):
        self.name = name
        self.location = location
        self.root = location.rstrip("/") or "/"
        self.atomic_put = False
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, str, "StatCache | None"]] = []  # tmp, final, digest, cache
        self._tmp_made = False
        self._buffers = threading.local()  # fetch_bytes reads into one buffer per thread
        self._verified: list[tuple[Path, os.stat_result, str]] = []  # files fetch_bytes hashed

    def _key(self, digest: str) -> str:
        return os.path.join(self.root, "objects", object_key(digest))

    def size_of(self, digest: str) -> int | None:
        try:
            st = os.stat(self._key(digest))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if os.path.isfile(self._key(digest)) else None

    def sizes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for dirpath, _, files in os.walk(os.path.join(self.root, "objects")):
            for f in files:
                digest = pack_key(f) if os.path.basename(dirpath) == "pack" else \
                    digest_of_key(os.path.join(dirpath, f.removesuffix(RECIPE_SUFFIX)))
                if digest is not None:
                    out[digest] = out.get(digest, 0) + os.stat(os.path.join(dirpath, f)).st_size
        return out

    # -- packs (pack_transfer.py) ---------------------------------------------------------
    def _pack_file(self, name: str, suffix: str = PACK_SUFFIX) -> str:
        return os.path.join(self.root, "objects", "pack", name + suffix)

    def pack_names(self, mend: bool = False) -> dict[str, int]:
        """The packs here whose index and pack file are both there: name -> the pack's size.
        Something else than a regular file at either name is ``planted`` (exit 3); with
        ``mend`` (a push) one that is not a folder (a FIFO) is removed with its index or pack
        file instead, and left out: its chunks are sent again. It held no chunk anyone could
        read, and the new pack may have another name, which would leave it to fail every pull."""
        folder = os.path.join(self.root, "objects", "pack")
        try:
            found = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return {}
        except OSError as exc:
            raise cannot_use(self.name, self.location, exc) from None
        out = {}
        for name in index_names(found):
            try:
                st = os.stat(self._pack_file(name))
            except OSError:
                continue
            modes = [os.stat(self._pack_file(name, INDEX_SUFFIX)).st_mode, st.st_mode]
            if all(map(stat.S_ISREG, modes)):
                out[name] = st.st_size
            elif not mend or any(map(stat.S_ISDIR, modes)):  # a folder: the person's to remove
                path = self._pack_file(name, INDEX_SUFFIX if not stat.S_ISREG(modes[0]) else PACK_SUFFIX)
                raise self.planted(path)  # never a dead end: "missing, push it", and push cannot
            else:
                for path in (self._pack_file(name, INDEX_SUFFIX), self._pack_file(name)):  # the index first
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass
                    except OSError as exc:
                        raise cannot_use(self.name, self.location, exc) from None
        return out

    def read_index(self, name: str) -> bytes:
        return read_index_file(Path(self._pack_file(name, INDEX_SUFFIX)))

    def pack_reader(self, name: str) -> "_PackFile":
        try:
            return _PackFile(self._pack_file(name), self.open_file)
        except FileNotFoundError:
            raise IntegrityError(f"pack {name} is missing from remote {self.name!r} ({self.location}) "
                                 "though its index is there; push from a machine that has its chunks") from None
        except OSError as exc:
            raise cannot_use(self.name, self.location, exc) from None

    def put_pack(self, name: str, index: bytes, size: int, fill, cache: "StatCache | None" = None) -> None:
        """Write a pack (``fill(write, copy)`` gives its ``size`` bytes; ``copy(fd, offset, n)``
        lets the kernel copy a file's range), durable, then its index,
        which makes it visible; through ``tmp/upload-*`` and renames, as an object's upload."""
        from mvc.core.atomic import fsync_dir
        from mvc.core.faults import crash_point
        from mvc.core.direct import FLUSH_EVERY, Flusher

        final = self._pack_file(name)
        folder = os.path.dirname(final)
        self.folder("tmp")
        self.folder(folder)
        try:
            tmp = os.path.join(self.root, "tmp", f"upload-{uuid.uuid4().hex}")
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o444)
        except OSError as exc:
            raise self.failed(exc) from None
        flusher = Flusher(fd, drop=True)

        def write(data) -> None:
            flusher.write(data)
            crash_point("push:pack-writing")

        def copy(src_fd: int, start: int, n: int) -> None:
            for at in range(0, n, FLUSH_EVERY):
                kernel_copy(src_fd, fd, min(FLUSH_EVERY, n - at), start + at)
                drop_cached(src_fd, start + at, min(FLUSH_EVERY, n - at))
                flusher.wrote(min(FLUSH_EVERY, n - at))

        try:
            try:
                fill(write, copy)
                flusher.finish()
                if os.fstat(fd).st_size != size:
                    raise IntegrityError(f"pack {name} came out the wrong size; not pushing it (run 'mvc verify')")
                os.fsync(fd)
                drop_cached(fd, 0, 0)  # the last bytes too, once on the disk (the flusher dropped the rest)
            finally:
                flusher.stop()
                os.close(fd)
            os.replace(tmp, final)
            fsync_dir(Path(folder))  # the pack durable in place before its index names it
            self.put_file(self._pack_file(name, INDEX_SUFFIX), index)
        except BaseException as exc:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise self.failed(exc) from None
            raise
        if cache is not None:  # written from checked bytes: a pull here may trust it
            cache.put(Path(final), os.stat(final), "pack:" + name)

    def upload(self, store: ObjectStore, digest: str, progress: Progress = None, *,
               cache: "StatCache | None" = None) -> int:
        if not store.has(digest):
            raise missing_here(digest)
        try:
            trusted = _known(cache, store.path(digest), digest, written_by_us=True)
        except FileNotFoundError:  # not a whole object (a chunked file): verified as it is read
            trusted = False
        final = self._key(digest)
        if not self._tmp_made:
            self.folder("tmp")
            self._tmp_made = True
        try:
            tmp = os.path.join(self.root, "tmp", f"upload-{uuid.uuid4().hex}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)  # objects are read-only
        except OSError as exc:
            raise self.failed(exc) from None
        try:
            try:
                store.export(digest, fd, trusted=trusted, progress=progress)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
        except BaseException as exc:
            os.unlink(tmp)
            if isinstance(exc, IntegrityError):
                raise corrupt_here(store, digest) from None
            if isinstance(exc, OSError):
                raise cannot_use(self.name, self.location, exc) from None
            raise
        with self._lock:
            self._pending.append((tmp, final, digest, cache))
        return size

    def flush(self, cache: "StatCache | None" = None) -> None:
        """Make the uploads so far durable and visible, each whole (see the class docstring);
        record in ``cache`` the remote files fetch_bytes verified, in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, []
            verified, self._verified = self._verified, []
        if cache is not None:
            cache.put_many(verified)
        if not pending:
            return
        folders = sorted({os.path.dirname(final) for _, final, _, _ in pending})
        try:
            sync_files([tmp for tmp, _, _, _ in pending])
            for folder in folders:
                self.folder(folder)
            for tmp, final, _, _ in pending:
                os.replace(tmp, final)
            sync_files(folders)
        except OSError as exc:
            raise self.failed(exc) from None
        caches = {id(c): c for _, _, _, c in pending if c is not None}
        for c in caches.values():  # written from verified bytes: a pull here may trust them
            c.put_many([(Path(final), os.stat(final), digest) for _, final, digest, of in pending if of is c])

    def fetch_bytes(self, digest: str, cache: "StatCache | None" = None) -> memoryview:
        """Read whole and verified; a file the stat cache knows (this machine wrote or
        verified it, unchanged since) is not hashed again. ``flush(cache)`` records the
        files hashed here. The bytes are a view of this thread's buffer (reused: no page
        faults per chunk), valid until its next call."""
        src, fd = self._open(digest)
        try:
            st = os.fstat(fd)
            buf = getattr(self._buffers, "buf", None)
            if buf is None or len(buf) < st.st_size:
                buf = self._buffers.buf = bytearray(max(st.st_size, 1 << 20))
            data = memoryview(buf)[:os.preadv(fd, [memoryview(buf)[:st.st_size]], 0)]
            unchanged = len(data) == st.st_size and os.fstat(fd) == st
        except OSError as exc:
            raise cannot_use(self.name, self.location, exc) from None
        finally:
            os.close(fd)
        if unchanged and _known(cache, Path(src), digest, written_by_us=True, st=st):
            return data
        data = checked(self, data, digest)
        with self._lock:
            self._verified.append((Path(src), st, digest))
        return data

    def download(self, store: ObjectStore, digest: str, progress: Progress = None, *,
                 cache: "StatCache | None" = None) -> int:
        src, fd = self._open(digest)
        try:
            before = os.fstat(fd)
            trusted = _known(cache, Path(src), digest, written_by_us=True, st=before)
            size = store.put_fd(fd, digest, trusted=trusted, progress=progress)
            if cache is not None and not trusted and os.fstat(fd) == before:
                cache.put(Path(src), before, digest)  # hashed whole, unchanged meanwhile
        finally:
            os.close(fd)
        return size

    def reads_as(self, digest: str) -> bool:
        try:
            _, fd = self._open(digest)
        except IntegrityError:  # gone, or not a regular file: not the object
            return False
        try:
            return copy_hashing(lambda n: os.read(fd, n), len, None)[0] == digest  # hashed, nothing kept
        except OSError as exc:
            raise cannot_use(self.name, self.location, exc) from None
        finally:
            os.close(fd)

    def _open(self, digest: str) -> tuple[str, int]:
        """The path of the object here and a read-only descriptor of it."""
        src = self._key(digest)
        try:
            return src, self.open_file(src)
        except FileNotFoundError:
            raise missing_there(self, digest) from None

    def open_file(self, path: str) -> int:
        """A file of this remote's open for reading: every read of one goes through here. Opened
        without blocking, so that a FIFO (or a device) at its name cannot hang the command, and
        refused (IntegrityError, the remote being damaged) unless it is a regular file; a
        missing one is FileNotFoundError, any other failure the remote's (UserError)."""
        try:
            return open_regular(path, lambda: self.planted(path))
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFoundError(path) from None
        except OSError as exc:
            raise cannot_use(self.name, self.location, exc) from None

    # -- what is planted where mvc keeps its files and folders -----------------------------
    def planted(self, path: str, folder: bool = False) -> IntegrityError:
        """Something at ``path`` where mvc keeps a file (a folder with ``folder``): exit 3, a
        damaged remote; removing it is the way on (mvc makes the folder again, and a push
        from a machine that has the file puts it back)."""
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            mode = 0
        kind = next((k for test, k in _KINDS if test(mode)), "something else")
        then = "" if folder else " (then 'mvc push' from a machine that has it puts it back)"
        return IntegrityError(f"{path} on remote {self.name!r} is {kind}, not {'a folder' if folder else 'a regular file'} "
                              f"as mvc keeps there; remove it{then}")

    def folder(self, path: str) -> str:
        """``path`` (relative to the remote, or under it) as a real folder, made when missing;
        a file, FIFO or symlink planted there (or at a folder above it) is ``planted``."""
        path = os.path.join(self.root, path)
        try:
            os.makedirs(path, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            pass
        except OSError as exc:
            raise cannot_use(self.name, self.location, exc) from None
        at = path
        while len(at) > len(self.root.rstrip("/")):
            if os.path.islink(at) or not os.path.isdir(at):
                raise self.planted(at, folder=True)
            at = os.path.dirname(at)
        return path

    def failed(self, exc: OSError) -> "IntegrityError | UserError":
        """A write that failed: a folder planted at the file's name is ``planted``, anything
        else the remote's failure."""
        if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
            for path in (exc.filename2, exc.filename):
                if path and os.path.isdir(path) and str(path).startswith(os.path.join(self.root, "objects")):
                    return self.planted(str(path))
        return cannot_use(self.name, self.location, exc)

    def put_file(self, final: str, data: bytes) -> None:
        """A small file (a recipe, a pack's index) written whole: fsynced, read-only, renamed
        into place from ``tmp/upload-*`` (what ``mvc fsck --repair`` clears on a remote)."""
        from mvc.core.atomic import write_atomic

        tmp = self.folder("tmp")
        self.folder(os.path.dirname(final))
        try:
            write_atomic(Path(final), data, tmp_dir=Path(tmp), mode=0o444, prefix="upload-")
        except OSError as exc:
            raise self.failed(exc) from None

    def uploads(self) -> list[tuple[str, float | None]]:
        if os.path.islink(os.path.join(self.root, "tmp")):  # planted: never listed or emptied through
            return []
        try:
            names = os.listdir(os.path.join(self.root, "tmp"))
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for n in sorted(names):
            if n.startswith("upload-"):
                path = os.path.join(self.root, "tmp", n)
                try:
                    out.append((path, os.lstat(path).st_mtime))
                except FileNotFoundError:
                    continue
        return out

    def remove(self, key: str) -> None:
        try:
            os.unlink(key)
        except FileNotFoundError:
            pass


_KINDS = ((stat.S_ISLNK, "a symlink"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISREG, "a file"))


class _PackFile:
    """A pack of the remote's, read by ranges."""

    def __init__(self, path: str, open_file):
        self.path = path
        self.fd = open_file(path)
        self.st = os.fstat(self.fd)

    def read_into(self, view: memoryview, offset: int) -> int:
        n = os.preadv(self.fd, [view], offset)
        drop_cached(self.fd, offset, n)
        return n

    def trusted(self, cache: "StatCache | None", name: str) -> bool:
        """Written (or checked) whole by mvc on this machine, unchanged since."""
        return cache is not None and cache.get(Path(self.path), self.st, written_by_us=True) == "pack:" + name

    def close(self) -> None:
        os.close(self.fd)


def _known(cache: "StatCache | None", path: Path, digest: str, *, written_by_us: bool,
           st: os.stat_result | None = None) -> bool:
    """Does the stat cache know ``path`` as holding ``digest``, unchanged since it was hashed?"""
    st = st or os.stat(path)
    return cache is not None and cache.get(path, st, written_by_us=written_by_us) == digest
