"""The object store's packs (packs.py says what a pack is): where a chunk is, reading it,
writing a new pack, keeping one young. ``objects.ObjectStore`` has these methods; they live
here to keep that module small."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from mvc.core import owned
from mvc.core.atomic import held_temp
from mvc.core.errors import IntegrityError
from mvc.core.pipes import sync_files, write_all

if TYPE_CHECKING:
    from mvc.core.chunked import Recipe
    from mvc.core.packs import Located, PackWriter, Packs

PREFIX = "sha256:"
RECIPES_KEPT = 8  # parsed recipes a store keeps (a 1 GiB file's: ~0.5 MB)


class PackedStore:
    """The pack half of ``objects.ObjectStore`` (which sets ``root``, ``tmp``, ``_packs``,
    ``_recipes`` and ``_held``), and reading a recipe."""

    root: Path
    tmp: Path
    _packs: "Packs | None"
    _recipes: "dict[str, tuple[tuple[int, ...], Recipe]]"  # digest -> (its file's stat, recipe)
    _held: dict[str, int]  # staged file -> the descriptor holding it (atomic.held_temp)

    @property
    def packs(self) -> "Packs":
        if self._packs is None:
            from mvc.core.packs import Packs

            self._packs = Packs(self.root / "pack")
        return self._packs

    def recipe(self, digest: str) -> "Recipe | None":
        """A chunked object's recipe, checked (else IntegrityError); None when not chunked."""
        from mvc.core.chunked import Recipe
        from mvc.core.statcache import stat_key

        if not self.is_chunked(digest):
            return None
        try:
            with open(self.recipe_path(digest), "rb") as f:
                st = os.fstat(f.fileno())
                # a command asks for one recipe several times (checkout: 3); parsed once while the
                # file is unchanged: a recipe written again is a new file (renamed in), and a
                # write in place moves its ctime
                key = stat_key(st)
                known = self._recipes.get(digest)
                if known is not None and known[0] == key:
                    return known[1]
                data = f.read()
        except FileNotFoundError:  # removed while we looked
            return None
        recipe = Recipe.from_bytes(data, digest)
        if len(self._recipes) >= RECIPES_KEPT:  # a walk over the whole store keeps a few, not all
            del self._recipes[next(iter(self._recipes))]
        self._recipes[digest] = (key, recipe)
        return recipe

    def locate(self, digest: str, fresh: bool = False) -> "Located | None":
        """Where a chunk's bytes are: in a pack, or a loose object (a chunk of a store written
        before packs); None when the store has neither. ``fresh`` re-reads the pack folder
        first (another process may have written or collected a pack since)."""
        from mvc.core.packs import Located

        if fresh:
            self.packs.refresh()
        found = self.packs.find(digest)
        if found is not None:
            return found
        if digest.startswith(PREFIX):
            try:
                return Located(self.path(digest), 0, os.stat(self.path(digest)).st_size, None)
            except FileNotFoundError:
                pass
        return None

    def open_chunk(self, digest: str) -> tuple[int, int, int]:
        """A read-only descriptor of the file that holds a chunk, its offset there and its size
        (the caller closes it); IntegrityError when the store lacks it. A pack collected or
        repacked since it was located is looked for again."""
        for fresh in (False, True):
            found = self.locate(digest, fresh=fresh)
            if found is None:
                continue
            try:
                return os.open(found.path, os.O_RDONLY), found.offset, found.size
            except FileNotFoundError:
                continue
        raise IntegrityError(f"object {digest} is missing from the store; pull it from a remote "
                             "or run 'mvc fsck'")

    def new_pack(self) -> "PackWriter":
        """A pack to write new chunks into (``PackWriter.commit`` makes it durable and visible)."""
        from mvc.core.packs import PackWriter

        owned.real_folder(self.tmp, self.tmp.parent, create=True)
        owned.real_folder(self.root, self.root.parent, create=True)
        owned.real_folder(self.root / "pack", self.root.parent, create=True)
        return PackWriter(self.root / "pack", self.tmp)

    def commit_pack(self, writer: "PackWriter") -> str | None:
        """``writer.commit()``, the pack then recorded as written by this process (a stat cache
        then trusts it: see ``written``); its name, None when it held nothing."""
        done = writer.commit()
        if done is None:
            return None
        name, st = done
        self._mine(st, self.packs.pack_path(name), "pack:" + name)
        self.packs.forget(name)  # it may have replaced a pack of that name cut short
        self.packs.refresh()
        return name

    def adopt_pack(self, entries, read_into) -> str | None:
        """A whole pack kept as it is, under its own name, as if written here (``commit_pack``):
        ``read_into(view, offset)`` reads its bytes (a pack of a remote's that this machine
        wrote, unchanged since, so its chunks were checked as they were written), ``entries``
        (its index, read and checked) say what it holds; its name. Written past the page cache
        like every pack (``direct``): a kernel copy through the page cache was as fast, but left
        1 GiB of freed pages per GiB, which the next command on a virtual machine paid for."""
        from mvc.core.chunking import CDC_MAX, PIECE

        writer = self.new_pack()
        buf = memoryview(bytearray(max(PIECE, CDC_MAX)))
        try:
            for e in entries:
                view = buf[:e.size] if e.size <= len(buf) else memoryview(bytearray(e.size))
                if read_into(view, e.offset) != e.size:
                    raise IntegrityError("a pack came out shorter than its index says while it was copied in; "
                                         "pull again")
                writer.add(e.digest, view)
            return self.commit_pack(writer)
        except BaseException:
            writer.discard()
            raise

    def touch_path(self, path: str) -> None:
        """Make a loose object young (gc's grace period), given its path."""
        self._touch(Path(path))

    def touch_pack(self, name: str) -> None:
        """Make a pack young, so that gc's grace period keeps it (a new recipe uses it)."""
        try:
            os.utime(self.packs.index_path(name))
        except OSError:
            pass

    def _pack_strays(self, folder: Path) -> Iterator[Path]:
        """Files in objects/pack that are not a pack with its index, or an index with its pack."""
        from mvc.core.packs import INDEX_SUFFIX, PACK_SUFFIX, is_name

        names = {f.name for f in folder.iterdir()}
        for f in sorted(folder.iterdir()):
            stem, suffix = os.path.splitext(f.name)
            twin = stem + (INDEX_SUFFIX if suffix == PACK_SUFFIX else PACK_SUFFIX)
            if not (suffix in (PACK_SUFFIX, INDEX_SUFFIX) and is_name(stem) and twin in names
                    and f.is_file() and not f.is_symlink()):
                yield f

    # -- small objects written in a batch (a pull's) -------------------------------------
    def stage_chunk(self, data, digest: str) -> str | None:
        """Write a chunk (``digest``: its SHA-256) to tmp/ for ``commit_chunks``; None when the
        store has it (then it is touched, so that gc's grace period keeps it)."""
        final = self.path(digest)
        if final.is_file():
            self._touch(final)
            return None
        if not self._tmp_checked:  # once per file, not per chunk (commit_chunks resets it)
            owned.real_folder(self.tmp, self.tmp.parent, create=True)
            self._tmp_checked = True
        fd, tmp = held_temp(self.tmp, "obj-")  # held until committed: fsck --repair leaves it alone
        try:
            write_all(fd, data)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        self._held[tmp] = fd  # closed by _commit once in place
        return tmp

    def commit_chunks(self, staged: list[tuple[str, str]]) -> None:
        """Staged chunks ((tmp, digest)) made durable, then visible, then their names durable:
        fsyncs run together (pipes.sync_files, like git's batch fsync)."""
        self._tmp_checked = False
        if not staged:
            return
        sync_files([tmp for tmp, _ in staged])
        folders = {self.path(digest).parent for _, digest in staged}
        for folder in folders:
            owned.real_folder(folder, self.root.parent, create=True)
        for tmp, digest in staged:
            ours = os.stat(tmp)
            self._commit(tmp, digest, sync_dir=False, checked=True)
            self._mine(ours, self.path(digest), digest)
        sync_files(sorted(map(str, folders)))

    # -- trust: what the stat cache knows was hashed since it last changed --------------------
    def trust_files(self, digest: str) -> list[tuple[str, str]]:
        """(file, name) of a chunked object's recipe and of the packs (``pack:NAME``) and loose
        chunks that hold its chunks, for a stat cache; [] when a chunk is missing."""
        recipe = self.recipe(digest)
        if recipe is None:
            return []
        found = {str(self.recipe_path(digest)): digest}
        for c in recipe.chunks:
            there = self.locate(c.digest)
            if there is None:
                return []
            found[str(there.path)] = "pack:" + there.pack if there.pack else c.digest
        return list(found.items())

    def trusted_chunked(self, cache, digest: str) -> bool:
        """True when the stat cache knows the recipe and every chunk as written or verified by mvc
        and unchanged since: then their bytes make the file whole (the recipe was computed from
        them), and checkout may let the kernel copy them."""
        listed = self.trust_files(digest)
        for path, named in listed:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                return False
            if cache.get(path, st, written_by_us=True) != named:
                return False
        return bool(listed)

    def remember_chunked(self, cache, digest: str) -> None:
        """Record a chunked object just verified whole in the stat cache (then
        ``trusted_chunked`` holds)."""
        recipe, every, rows = self.recipe(digest), self.packs.all(), []
        mine = {c.digest for c in recipe.chunks} if recipe is not None else set()
        for path, named in self.trust_files(digest):
            if named.startswith("pack:") and not {e.digest for e in every.get(named[5:], ())} <= mine:
                continue  # only some of its entries were checked here: the others stay unverified
            try:
                rows.append((path, os.stat(path), named))
            except FileNotFoundError:
                return
        cache.put_many(rows)
