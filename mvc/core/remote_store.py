"""The object store at a remote: a directory path or any fsspec URL (``s3://…``).

A remote holds its objects under ``objects/`` in the store's layout (``objects.object_key``;
only objects.py knows it), so a directory remote is a plain copy of a store. No listing of a
remote ever shows a partial object under its final key:

- a directory (and any filesystem but S3): an upload is written to ``tmp/upload-*`` and
  renamed into place once on disk (in batches: DirectoryRemote.flush); a download lands in
  ``.mvc/tmp`` and is renamed into the store once its digest checks out. An interrupted transfer leaves only a temporary file, which
  ``mvc fsck --repair`` removes once older than ``gc.grace_seconds``.
- S3: an upload goes straight to the final key, because S3 makes an object visible only when
  its single PUT or its multipart upload's completion succeeds, and never in part (a
  temporary key and a copy would send every byte twice). The bytes are hashed on the way and
  the upload is completed only when they match the digest; otherwise it is aborted. A killed
  push leaves an incomplete multipart upload, invisible to listings, which ``mvc fsck
  --repair`` aborts once no part has gone up for the grace period (multipart.py; a bucket
  lifecycle rule AbortIncompleteMultipartUpload does the same, by its start).

Credentials never come from config: s3fs asks the AWS chain (environment, the profile named
by ``remote.NAME.profile``, instance roles). fsspec is imported only here, only when a
remote is used.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from mvc.core import multipart
from mvc.core.errors import IntegrityError, UserError
from mvc.core.objects import RECIPE_SUFFIX, ObjectStore, Progress, digest_bytes, digest_of_key, object_key
from mvc.core.pipes import CHUNK, copy_hashing

if TYPE_CHECKING:
    from mvc.core.statcache import StatCache

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# S3 allows 10,000 parts, each at least 5 MiB
_MAX_PARTS = 9_000
OPTIONS = ("endpoint_url", "profile", "region")  # remote.NAME.* beside url, for s3:// remotes
S3_EXTRA = "s3:// remotes need the s3fs package; install it with: pip install 'mvc[s3]'"


def is_url(location: str) -> bool:
    return bool(_SCHEME_RE.match(location))


def is_s3(location: str) -> bool:
    return location.lower().startswith(("s3://", "s3a://"))


def _storage_options(location: str, options: dict[str, str]) -> dict:
    """s3fs's arguments from ``remote.NAME.*``: never a key or a secret."""
    if not is_s3(location):
        return {}
    out: dict = {}
    if options.get("endpoint_url"):
        out["endpoint_url"] = options["endpoint_url"]
    if options.get("profile"):
        out["profile"] = options["profile"]
    if options.get("region"):
        out["client_kwargs"] = {"region_name": options["region"]}
    return out


def cannot_use(name: str, location: str, exc: BaseException) -> UserError:
    why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if is_s3(location) and "credentials" in why.lower():
        why += ("; the AWS chain supplies them: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "a profile (remote.NAME.profile), or an instance role")
    return UserError(f"cannot use remote {name!r} at {location}: {why}")


def _backend_errors(location: str) -> tuple[type[BaseException], ...]:
    """What the storage library raises for a failed request (botocore's errors for S3, e.g.
    no credentials, are not OSErrors)."""
    found: tuple[type[BaseException], ...] = (OSError, ValueError)
    if is_s3(location):
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:  # pragma: no cover - s3fs brings botocore
            return found
        found += (BotoCoreError, ClientError)
    return found


class Remote:
    """A remote that fsspec reaches (S3 and others); see the module's docstring."""

    def flush(self, cache: "StatCache | None" = None) -> None:
        """Make what was uploaded so far durable and visible (DirectoryRemote batches; an
        fsspec upload is in place when ``upload`` returns)."""

    def __init__(self, name: str, location: str, options: dict[str, str] | None = None):
        try:
            import fsspec
        except ImportError:  # pragma: no cover - fsspec is a dependency
            raise UserError("remotes need the fsspec package; pip install fsspec") from None
        self.name = name
        self.location = location
        try:
            self.fs, self.root = fsspec.core.url_to_fs(location, **_storage_options(location, options or {}))
        except ImportError:
            if is_s3(location):
                raise UserError(S3_EXTRA) from None
            raise UserError(f"cannot use remote {name!r} at {location}: install the fsspec backend "
                            "it needs") from None
        except ValueError as exc:
            raise cannot_use(name, location, exc) from None
        self.root = self.root.rstrip("/")
        self.errors = _backend_errors(location)
        self.atomic_put = "s3" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def _key(self, digest: str) -> str:
        return f"{self.root}/objects/{object_key(digest)}"

    def size_of(self, digest: str) -> int | None:
        """The object's size on the remote; None when it is not there (complete)."""
        try:
            info = self.fs.info(self._key(digest))
        except FileNotFoundError:
            return None
        except self.errors as exc:
            raise cannot_use(self.name, self.location, exc) from None
        return int(info.get("size") or 0) if info.get("type", "file") == "file" else None

    def has(self, digest: str) -> bool:
        """True when the remote holds the object, whole or as a chunked file's recipe (which is
        only ever written after its chunks; SPEC §5.1)."""
        from mvc.core import remote_recipes

        return self.size_of(digest) is not None or remote_recipes.exists(self, digest)

    def sizes(self) -> dict[str, int]:
        """digest -> size of every object on the remote, from one listing (``mvc stats``); a
        chunked file counts its recipe's size (its chunks are objects of their own)."""
        try:
            found = self.fs.find(f"{self.root}/objects", detail=True)
        except FileNotFoundError:
            return {}
        except self.errors as exc:
            raise cannot_use(self.name, self.location, exc) from None
        from mvc.core.packs import pack_key

        out: dict[str, int] = {}
        for path, info in found.items():
            folder, _, leaf = path.rstrip("/").rpartition("/")
            digest = pack_key(leaf) if folder.endswith("/pack") else digest_of_key(path.removesuffix(RECIPE_SUFFIX))
            if digest is not None and info.get("type", "file") == "file":
                out[digest] = out.get(digest, 0) + int(info.get("size") or 0)
        return out

    # -- packs (pack_transfer.py) ---------------------------------------------------------
    def _pack_key(self, name: str, suffix: str = ".pack") -> str:
        return f"{self.root}/objects/pack/{name}{suffix}"

    def pack_names(self, mend: bool = False) -> dict[str, int]:
        """The packs here whose index and pack file are both there: name -> the pack's size
        (one listing; an object store has no FIFOs or folders to mend)."""
        from mvc.core.packs import index_names

        try:
            found = self.fs.ls(f"{self.root}/objects/pack", detail=True)
        except FileNotFoundError:
            return {}
        except self.errors as exc:
            raise cannot_use(self.name, self.location, exc) from None
        files = {str(f["name"]).rstrip("/").rsplit("/", 1)[-1]: f for f in found if f.get("type", "file") == "file"}
        return {name: int(files[name + ".pack"].get("size") or 0)
                for name in index_names(files) if name + ".pack" in files}

    def read_index(self, name: str) -> bytes:
        try:
            return self.fs.cat_file(self._pack_key(name, ".idx"))
        except FileNotFoundError:
            raise
        except self.errors as exc:
            raise cannot_use(self.name, self.location, exc) from None

    def pack_reader(self, name: str) -> "_RangeReader":
        return _RangeReader(self, self._pack_key(name))

    def put_pack(self, name: str, index: bytes, size: int, fill, cache: "StatCache | None" = None) -> None:
        """Upload a pack (``fill(write, None)`` gives its ``size`` bytes), then its index, which
        makes it visible. On S3 the pack goes straight to its key (visible only once whole);
        elsewhere through ``tmp/upload-*`` and a move."""
        from mvc.core.faults import crash_point

        key = self._pack_key(name)
        target = key if self.atomic_put else f"{self.root}/tmp/upload-{uuid.uuid4().hex}"
        dst = None
        try:
            if not self.atomic_put:
                self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
            block = max(8 << 20, -(-size // _MAX_PARTS))
            dst = self.fs.open(target, "wb", block_size=block)

            def write(data, first=[True]) -> None:
                dst.write(data)
                if first[0] and dst.tell() > block:  # a part has gone up: an upload is under way there
                    first[0] = False
                    crash_point("push:pack-writing")

            fill(write, None)
            if dst.tell() != size:
                raise IntegrityError(f"pack {name} came out the wrong size; not pushing it (run 'mvc verify')")
            dst.close()
            dst = None
            if not self.atomic_put:
                self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
                self.fs.mv(target, key)
            from mvc.core import remote_recipes

            remote_recipes.put_bytes(self, self._pack_key(name, ".idx"), index)
        except self.errors as exc:
            raise self._failed(exc, f"pack {name}", dst) from None
        finally:
            multipart.discard(dst)
            if not self.atomic_put and self.fs.exists(target):
                self.fs.rm(target)

    def upload(self, store: ObjectStore, digest: str, progress: Progress = None, *,
               cache: "StatCache | None" = None) -> int:
        """Copy one local object to the remote, verifying its bytes on the way."""
        if not store.has(digest):
            raise missing_here(digest)
        key = self._key(digest)
        if self.atomic_put:
            return self._put_final(store, digest, key, progress)
        tmp_key = f"{self.root}/tmp/upload-{uuid.uuid4().hex}"
        try:
            self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
            with self.fs.open(tmp_key, "wb") as dst:
                size = store.copy_to(digest, dst, progress)
            self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
            self.fs.mv(tmp_key, key)
        except IntegrityError:
            raise corrupt_here(store, digest) from None
        except self.errors as exc:
            raise cannot_use(self.name, self.location, exc) from None
        finally:
            if self.fs.exists(tmp_key):
                self.fs.rm(tmp_key)
        return size

    def _put_final(self, store: ObjectStore, digest: str, key: str, progress: Progress) -> int:
        """Upload straight to ``key``, completing the PUT only when the bytes hash right."""
        block = max(8 << 20, -(-store.size(digest) // _MAX_PARTS))
        dst = None
        try:
            dst = self.fs.open(key, "wb", block_size=block)
            size = store.copy_to(digest, dst, progress)
            dst.close()  # the single PUT, or the multipart upload's completion
            dst = None
        except IntegrityError:
            raise corrupt_here(store, digest) from None
        except self.errors as exc:
            raise self._failed(exc, f"object {digest}", dst) from None
        finally:
            multipart.discard(dst)
        return size

    def _failed(self, exc: BaseException, what: str, dst) -> UserError:
        """The error of an upload that failed: said plainly when S3 no longer knows it (aborted
        by a cleaner that took it for an interrupted push's), else the remote's reason."""
        if multipart.gone(exc) or multipart.lost(self.fs, dst, self.errors):
            return UserError(f"the upload of {what} to remote {self.name!r} was aborted, perhaps by "
                             "'mvc fsck --repair' or 'mvc gc' elsewhere; run push again")
        return cannot_use(self.name, self.location, exc)

    def download(self, store: ObjectStore, digest: str, progress: Progress = None, *,
                 cache: "StatCache | None" = None) -> int:
        """Copy one remote object into the local store; refused unless its digest matches."""
        try:
            with self.fs.open(self._key(digest), "rb", block_size=CHUNK) as src:
                return store.put_stream(src, digest, progress)
        except FileNotFoundError:
            raise missing_there(self, digest) from None
        except self.errors as exc:
            raise cannot_use(self.name, self.location, exc) from None

    def fetch_bytes(self, digest: str, cache: "StatCache | None" = None) -> bytes | memoryview:
        """A small object's bytes (a chunk, a manifest), read whole and verified against
        its digest, for the store to stage and commit in a batch (sync.py)."""
        try:
            data = self.fs.cat_file(self._key(digest))
        except FileNotFoundError:
            raise missing_there(self, digest) from None
        except self.errors as exc:
            raise cannot_use(self.name, self.location, exc) from None
        return checked(self, data, digest)

    def reads_as(self, digest: str) -> bool:
        """Whether the remote's whole copy of ``digest`` reads back as its digest, read in
        pieces (``push --verify-remote`` of a file stored whole, however large); False when
        it is gone."""
        try:
            with self.fs.open(self._key(digest), "rb", block_size=CHUNK) as src:
                return copy_hashing(src.read, len, None)[0] == digest
        except FileNotFoundError:
            return False
        except self.errors as exc:
            raise cannot_use(self.name, self.location, exc) from None

    def uploads(self) -> list[tuple[str, float | None]]:
        """What interrupted pushes left (``tmp/upload-*``; on S3, incomplete multipart
        uploads), with the time each began where known."""
        try:
            if self.atomic_put:
                return multipart.listed(self.fs, self.root)
            found = self.fs.ls(f"{self.root}/tmp", detail=True)
        except FileNotFoundError:
            return []
        except self.errors as exc:
            raise cannot_use(self.name, self.location, exc) from None
        out = []
        for info in found:
            name = str(info.get("name", ""))
            if name.rstrip("/").rsplit("/", 1)[-1].startswith("upload-"):
                out.append((name, timestamp(info, "mtime", "LastModified", "last_modified", "updated")))
        return out

    def remove(self, key: str) -> None:
        """Delete what an interrupted push left (``fsck --repair``), as ``uploads`` named it;
        one that is gone already (completed or aborted meanwhile) is done."""
        try:
            if self.atomic_put and "?uploadId=" in key:
                path, _, upload_id = key.partition("?uploadId=")
                bucket, _, name = path.partition("/")
                self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=name, UploadId=upload_id)
            elif self.fs.exists(key):
                self.fs.rm(key, recursive=True)
        except FileNotFoundError:
            pass
        except self.errors as exc:
            if not multipart.gone(exc):
                raise cannot_use(self.name, self.location, exc) from None


class _RangeReader:
    """A pack of the remote's, read by ranges through one open file with a large read-ahead
    (chunks are fetched in the pack's order, so most reads come from the buffer)."""

    def __init__(self, remote: Remote, key: str):
        self.remote, self.key, self.file = remote, key, None

    def read_into(self, view: memoryview, offset: int) -> int:
        try:
            if self.file is None:
                self.file = self.remote.fs.open(self.key, "rb", block_size=32 << 20)
            self.file.seek(offset)
            data = self.file.read(len(view))
        except FileNotFoundError:
            raise IntegrityError(f"a pack is missing from remote {self.remote.name!r} ({self.remote.location}) "
                                 "though its index is there; push from a machine that has its chunks") from None
        except self.remote.errors as exc:
            raise cannot_use(self.remote.name, self.remote.location, exc) from None
        view[:len(data)] = data
        return len(data)

    def trusted(self, cache: "StatCache | None", name: str) -> bool:
        return False  # only a directory's files are known to the stat cache

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def timestamp(info: dict, *names: str) -> float | None:
    when = next((info[k] for k in names if info.get(k) is not None), None)
    if hasattr(when, "timestamp"):
        when = when.timestamp()
    return float(when) if isinstance(when, (int, float)) else None


def checked(remote: Remote, data: "bytes | memoryview", digest: str) -> "bytes | memoryview":
    if digest_bytes(data) != digest:
        raise IntegrityError(f"object {digest} arrived corrupt from remote {remote.name!r}: "
                             "its bytes do not match its digest")
    return data


def missing_here(digest: str) -> IntegrityError:
    return IntegrityError(f"object {digest} is missing from the local store; cannot push it")


def corrupt_here(store: ObjectStore, digest: str) -> IntegrityError:
    if not store.has(digest):  # removed while we read it
        return missing_here(digest)
    return IntegrityError(f"object {digest} is corrupt in the local store; not pushing it (run 'mvc verify')")


def folder_missing(remote: Remote) -> bool:
    """A directory remote whose folder does not exist: nothing was pushed there yet, or it
    moved or was deleted (a listing of it is empty; an object missing there is why)."""
    import os

    return not is_url(remote.location) and not os.path.isdir(remote.location)


def missing_there(remote: Remote, digest: str) -> IntegrityError:
    if folder_missing(remote):
        return IntegrityError(f"object {digest} is missing from remote {remote.name!r}: its folder "
                              f"{remote.location} does not exist; check the URL ('mvc remote list')")
    return IntegrityError(f"object {digest} is missing from remote {remote.name!r} ({remote.location}); "
                          "push it from a machine that has it")


def make_remote(name: str, location: str, options: dict[str, str] | None = None) -> Remote:
    """The remote at ``location`` (normalised): a directory, or what fsspec reaches."""
    if location.startswith("file://"):
        location = location[len("file://"):]
    if not is_url(location):
        from mvc.core.remote_dir import DirectoryRemote

        return DirectoryRemote(name, location)
    return Remote(name, location, options)
