"""Moving objects between the local store and a remote (``mvc push``, ``mvc pull``), and
the fetch of what pointer files need (pointers.py materialises them).

What moves is what the versions need (integrity.needed_objects); what is there already
on the other side is skipped. A directory's manifest is fetched before the files it lists
are known. Objects are content-addressed, written through a temporary name and verified, so
a transfer never changes what a version means, and it runs without the repository lock, but
for one step: a pull writes a recipe under the lock, once it has seen there that every chunk
the recipe names is in the store, so a ``mvc gc`` cannot take chunks that no recipe names yet
between that check and the write (gc.py; chunks gone meanwhile are fetched again).

A transfer is a list of objects with their sizes (``Item``): the other side is asked which it
lacks, the total is announced, and several move at once on a thread pool (``transfer.jobs``;
hashing and I/O release the GIL). An interrupted transfer is resumed by running it again:
objects that arrived whole are skipped, and one that was cut off is sent again from its start
(it left only a temporary file or an incomplete multipart upload; see remote_store.py).
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple

from mvc.core import gitops, partial, repair
from mvc.core.errors import IntegrityError, MvcError, UserError
from mvc.core.faults import crash_point
from mvc.core.integrity import SEE_FSCK, Artifact, artifact_needs, needed_objects
from mvc.core.lock import RepoLock

if TYPE_CHECKING:
    from mvc.core.chunked import Recipe
    from mvc.core.remote_store import Remote
    from mvc.core.session import Session

Progress = Callable[[int], None] | None
SMALL = 8 << 20  # a pull fetches an object up to this size whole, to commit it in a batch
STAGED_AT_ONCE = 256  # a pull commits its staged small objects in batches of this many at most
OnTotal = Callable[[int], None] | None  # the bytes a transfer will move, as soon as known


class Transfer(NamedTuple):
    """What a push or pull moved."""

    remote: str
    location: str
    moved: tuple[str, ...]
    skipped: int
    bytes: int


class Item(NamedTuple):
    """One object to move and its size: what a transfer is planned and counted in."""

    digest: str
    size: int


class _Mover:
    """Moves what is missing on the other side, ``jobs`` objects at a time, tallying over
    several calls. Planning asks the other side which objects it has (and their sizes) in
    parallel too; the sizes of what is to move are announced through ``on_total`` before it
    moves (the CLI's bar knows its total), and bytes through ``progress`` as they go."""

    def __init__(self, session: "Session", remote: "Remote", *, push: bool, jobs: int | None,
                 progress: Progress, on_total: OnTotal, verify: bool = False):
        from concurrent.futures import ThreadPoolExecutor

        self.store, self.cache, self.remote, self.push = session.store, session.cache, remote, push
        self.verify = verify  # push --verify-remote: the remote's copies read back, damaged ones sent again
        self.jobs = jobs or session.config.value("transfer.jobs")
        self.pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="mvc-transfer")
        self.lock = threading.Lock()
        self.progress, self.on_total = progress, on_total
        self.moved: list[str] = []
        self.seen: set[str] = set()
        self.recipes: dict[str, "Recipe"] = {}  # pull: the remote's recipes of files to fetch
        self.session = session  # pull: its repository lock guards the writing of a recipe
        self.recipe_lock = threading.Lock()  # pull: one recipe written at a time (under the repository lock)
        self.known: set[str] = set()  # pull: recipes this machine wrote there (the stat cache says)
        self.rows: dict[str, tuple] = {}  # pull: stat-cache rows of the other recipes, once verified
        self.staged: list[tuple[str, str]] = []  # pull: (tmp, digest) of small objects to commit
        self.unread: set[str] = set()  # pull: files fetched whole, their recipe here unreadable
        self.who: dict[str, list[str]] = {}  # pull: the versions that need each object (errors name them)
        self.skipped = 0
        self.bytes = 0
        self.total = 0
        from mvc.core.remote_packs import RemotePacks

        # the remote's packs, read once; a push reads every index there (one damaged there has
        # its chunks sent again), a pull may read the copies kept here
        self.there = RemotePacks(remote, session.layout.pack_index_cache, fresh=push, mend=push)

    def __enter__(self) -> "_Mover":
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if exc[0] is not None:
            try:  # what arrived whole before the failure is kept: a rerun skips it
                self._settle()
            except (MvcError, OSError):
                pass  # the first failure is the one to report

    def _settle(self) -> None:
        """Make what moved so far durable and visible, in one batch: a push's uploads
        (Remote.flush); a pull's small objects, verified, staged in the store's tmp/ and
        committed together (one round of fsyncs, then renames, then the folders' fsyncs),
        so no partial object is ever visible and a recipe comes only after its chunks."""
        if self.push:
            self.remote.flush()
            return
        with self.lock:
            staged, self.staged = self.staged, []
        self.store.commit_chunks(staged)
        self.remote.flush(self.cache)
        if self.cache is not None:
            self.cache.put_many(self.store.written())  # verified here: push and checkout trust them
        for digest in self.unread:  # fetched whole now: the damaged recipe beside it to lost-found
            repair.set_aside_replaced(self.session, digest)

    def _tick(self, nbytes: int) -> None:
        if self.progress:
            with self.lock:
                self.progress(nbytes)

    def _look(self, digest: str) -> Item | None:
        """The object as an Item to move, or None when the other side has it already."""
        from mvc.core import remote_recipes

        if self.push:
            if not self.remote.has(digest):
                return Item(digest, self.store.size(digest))
            recipe = self.store.recipe(digest)  # there; but are its chunks? (a pack may be lost)
            if recipe is None:
                return Item(digest, self.store.size(digest)) if self.verify and self._corrupt_there(digest) else None
            if self.there.has_all(recipe.chunks) and not self._damaged_there(recipe):
                return None
            self._sound_here(digest)  # it replaces the remote's: never with one edited here
            return Item(digest, 0)
        if self.store.has(digest):
            if not self.store.is_chunked(digest) or self.store.complete(digest):
                return None
            # ours, its chunks lost: fetch them; by the remote's recipe when it has one (ours may
            # name chunks nobody has: edited), which replaces ours once its chunks make the file
            if (found := remote_recipes.read_known(self.remote, digest, self.cache)) is None:
                try:
                    self.recipes[digest] = self.store.recipe(digest)
                except IntegrityError as exc:  # unreadable: the remote's whole file, else nothing
                    if (size := self.remote.size_of(digest)) is not None:
                        self.unread.add(digest)  # whole beside it, read instead (is_chunked); _settle
                        return Item(digest, size)  # then sets the damaged recipe aside
                    raise IntegrityError(f"{exc.message.removesuffix(SEE_FSCK)}, and remote {self.remote.name!r} "
                                         "has no recipe of it: pull from a remote that has it, or add the "
                                         "file again") from None
                return Item(digest, 0)
            return self._remote_recipe(digest, found)
        size = self.remote.size_of(digest)
        if size is None and (found := remote_recipes.read_known(self.remote, digest, self.cache)) is not None:
            return self._remote_recipe(digest, found)
        return Item(digest, size or 0)  # a missing one fails when it is moved, naming it

    def _sound_here(self, digest: str) -> None:
        """Push: a recipe of ours that is to replace the remote's is read whole first, unless
        the stat cache knows it and its chunks as mvc wrote or checked them: one edited here
        (two chunk names swapped, another file's) would otherwise overwrite the remote's sound
        copy, and a pull would bring the wrong bytes back under the version's digest."""
        if self.store.trusted_chunked(self.cache, digest):
            return
        if self.store.hash_object(digest) != digest:  # a damaged chunk is named by hash_object
            raise IntegrityError(f"the recipe of {digest} here does not make its file, so push leaves the copy on "
                                 f"remote {self.remote.name!r} as it is; run 'mvc fsck --repair', then 'mvc pull'")
        self.store.remember_chunked(self.cache, digest)

    def _damaged_there(self, recipe: "Recipe") -> bool:
        """Push: True when the remote's recipe of ``recipe``'s file is not ours byte for byte
        (garbage, another file's, edited, not a regular file); a recipe is small, so it is read
        and sent again, replacing the remote's whole (remote_recipes.write). False when the
        remote keeps the file whole instead."""
        from mvc.core import remote_recipes

        try:
            theirs = remote_recipes.read(self.remote, recipe.digest)
        except IntegrityError:  # not a regular file there
            return True
        return theirs is not None and theirs != recipe.to_bytes()

    def _corrupt_there(self, digest: str) -> bool:
        """Push --verify-remote: True when the remote's whole copy of ``digest`` does not read
        back as its digest (one larger than SMALL, which an mvc before chunking kept whole, is
        read in pieces rather than held)."""
        size = self.remote.size_of(digest)
        if size is None:
            return False
        if size > SMALL:
            return not self.remote.reads_as(digest)
        try:
            self.remote.fetch_bytes(digest)
        except IntegrityError:
            return True
        return False

    def _versions(self, digest: str) -> str:
        """The versions that need ``digest`` (a pull names them in its errors)."""
        return ", ".join(sorted({who.split(":", 1)[0] for who in self.who.get(digest, ())})) or "the version"

    def _remote_recipe(self, digest: str, found) -> Item:
        """A remote's recipe (``remote_recipes.read_known``) to pull, and the chunks it names."""
        from mvc.core.chunked import Recipe

        data, known, row = found
        try:
            self.recipes[digest] = Recipe.from_bytes(data, digest)  # refuses a malformed one
        except IntegrityError:  # the remote's copy, not ours: 'mvc fsck' here cannot help
            version = self._versions(digest)
            raise IntegrityError(f"the recipe of {version} ({digest}) on remote {self.remote.name!r} is damaged; "
                                 f"'mvc push' from a machine that has {version} replaces it") from None
        if known:
            self.known.add(digest)
        elif row is not None:
            self.rows[digest] = row
        return Item(digest, len(data))

    def _recipe(self, digest: str) -> "Recipe | None":
        """The recipe of a chunked file to move (SPEC §5.1): ours on a push, the remote's on a
        pull; None for a whole object."""
        return self.store.recipe(digest) if self.push else self.recipes.get(digest)

    def _run(self, work, items: list) -> list:
        """``work(item)`` for each item on the pool; the first failure stops the rest."""
        from mvc.core.pipes import wait_waking

        futures = [self.pool.submit(work, item) for item in items]
        wait_waking(futures, first_failure=True)
        for f in futures:
            f.cancel()  # those not started yet
        wait_waking(futures)
        for f in futures:
            if not f.cancelled() and f.exception() is not None:
                raise f.exception()
        return [f.result() for f in futures]

    def move(self, digests: Iterable[str]) -> None:
        todo = [d for d in dict.fromkeys(digests) if d not in self.seen]
        self.seen.update(todo)
        looked = self._run(self._look, todo)
        self.skipped += sum(1 for item in looked if item is None)
        items = [item for item in looked if item is not None]
        recipes = {item.digest: r for item in items if (r := self._recipe(item.digest)) is not None}
        self.send([item for item in items if item.digest not in recipes])
        if recipes:  # a recipe moves last, once every chunk it names is on the other side
            self._move_chunks(list(recipes.values()))
            self.send([item for item in items if item.digest in recipes])

    def _move_chunks(self, recipes: list["Recipe"]) -> None:
        """The chunks of ``recipes`` that the other side lacks, as one pack (pack_transfer.py);
        on a pull, each file's bytes are checked as they arrive."""
        from mvc.core import pack_transfer

        def planned(nbytes: int) -> None:
            self.total += nbytes
            if self.on_total:
                self.on_total(self.total)

        if self.push:
            n = pack_transfer.push(self.store, self.remote, recipes, self.cache, self._tick, planned, self.jobs,
                                   self.there, trust_local=not self.verify)
        else:
            try:
                n = pack_transfer.pull(self.store, self.remote, recipes, self.known, self.cache,
                                       self._tick, planned, self.there).bytes
            except pack_transfer.DamagedThere as exc:  # the remote's copy: only a push can mend it
                owners = [r.digest for r in recipes if exc.digest in (r.digest, *(c.digest for c in r.chunks))]
                version = ", ".join(sorted({self._versions(d) for d in owners})) or "the version"
                raise IntegrityError(f"{exc.message}, so {version} cannot be pulled from it; run 'mvc push "
                                     f"--verify-remote' from a machine that has {version} to send it again") from None
            if self.cache is not None:
                self.cache.put_many(self.store.written())  # the packs, from checked bytes
        with self.lock:  # a chunked file counts once, as its recipe; its chunks' bytes count
            self.bytes += n

    def send(self, items: list[Item]) -> None:
        """Move ``items`` (none of them on the other side yet), biggest first, so that the
        last to finish is a small one."""
        self.total += sum(item.size for item in items)
        if self.on_total and items:
            self.on_total(self.total)
        items = sorted(items, key=lambda item: -item.size)
        self._run(self._one, items)
        self._settle()  # the batch becomes durable and visible, each object whole

    def _one(self, item: Item) -> None:
        recipe = self._recipe(item.digest)
        if recipe is not None:
            n = self._put_recipe(recipe)
        elif self.push:
            n = self.remote.upload(self.store, item.digest, self._tick, cache=self.cache)
        elif item.size <= SMALL:
            data = self.remote.fetch_bytes(item.digest, self.cache)
            tmp, n = self.store.stage_chunk(data, item.digest), len(data)
            with self.lock:
                if tmp is not None:
                    self.staged.append((tmp, item.digest))
                if len(self.staged) >= staged_at_once():  # each holds a descriptor until committed:
                    batch, self.staged = self.staged, []  # the others wait meanwhile, each with one
                    self.store.commit_chunks(batch)
            self._tick(n)
        else:
            n = self.remote.download(self.store, item.digest, self._tick, cache=self.cache)
        with self.lock:
            self.bytes += n
            self.moved.append(item.digest)

    def _put_recipe(self, recipe: "Recipe") -> int:
        """Send a recipe whose chunks are there; a pulled one is kept only once its chunks,
        read back in order, make the file's digest."""
        from mvc.core import remote_recipes
        from mvc.core.repair import replace_recipe

        data = recipe.to_bytes()
        if self.push:
            return remote_recipes.write(self.remote, recipe.digest, data, self.cache)
        # Its chunks made the file's digest as they arrived (pack_transfer.pull), unless this
        # machine wrote the recipe there: the store's own, checked when it was made.
        if self.cache is not None and recipe.digest in self.rows:  # verified: the next pull trusts it
            self.cache.put_many([self.rows[recipe.digest]])
        crash_point("pull:before-recipe")
        with self.recipe_lock:
            for _ in range(RECIPE_TRIES):
                with RepoLock(self.session.layout.lock, self.session.lock_timeout()):  # gc collects under it
                    if self.store.holds_chunks(recipe.chunks):
                        replace_recipe(self.session, recipe, data)  # set a damaged one aside
                        return len(data)
                self._move_chunks([recipe])  # a gc took some since they came: fetch them again
        raise IntegrityError(f"the chunks of {recipe.digest} kept disappearing from the local store while "
                             "they were pulled (a 'mvc gc' running meanwhile?); its recipe was not kept. "
                             "Run 'mvc pull' again")

    def fetch(self, digest: str) -> None:
        self.move([digest])

    def result(self) -> Transfer:
        return Transfer(self.remote.name, self.remote.location, tuple(self.moved), self.skipped, self.bytes)


@functools.cache
def staged_at_once() -> int:
    """How many staged objects a pull holds open before committing them: STAGED_AT_ONCE, or a
    quarter of the descriptors this process may open (``ulimit -n``) when that is less; read
    once, not for each object."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(1, min(STAGED_AT_ONCE, soft // 4)) if soft != resource.RLIM_INFINITY else STAGED_AT_ONCE


RECIPE_TRIES = 3  # a pull fetches a recipe's chunks again this many times at most (gc took them)


def push(session: "Session", wanted: Iterable[str] = (), *, remote: str | None = None,
         pointers: bool = False, jobs: int | None = None, progress: Progress = None,
         on_total: OnTotal = None, artifacts: Iterable[Artifact] | None = None,
         verify_remote: bool = False) -> Transfer:
    """Copy the objects the versions ``wanted`` (refs; default: every version) need to a
    remote; with ``pointers``, those the pointer files tracked by git need; with
    ``artifacts``, those these need (the pre-push hook: the pointer files of the commits
    pushed). ``jobs`` objects move at once (default: config ``transfer.jobs``). With
    ``verify_remote``, what the remote holds of them is read back first, and what does not
    match its name is sent again (a damaged pack's chunks in a new pack)."""
    from mvc.core.remotes import open_remote

    target = open_remote(session, remote)
    if pointers and artifacts is None:
        from mvc.core.pointers import tracked_pointers

        artifacts = [Artifact(p.digest, p.kind, str(p.path))
                     for p in map(gitops.read_pointer, tracked_pointers(session.layout.work_dir))]
    if artifacts is not None:
        needs = artifact_needs(session.store, list(artifacts))
    else:
        wanted = list(wanted)
        rows = [session.resolve(r) for r in wanted] if wanted else session.registry.versions()
        needs = needed_objects(session.registry, session.store, rows)
    needs.require_readable()
    chunks = {c for listed in needs.chunked.values() for c in listed}  # they go with their recipes
    with _Mover(session, target, push=True, jobs=jobs, progress=progress, on_total=on_total,
                verify=verify_remote) as mover:
        if verify_remote:
            mover.there.drop_damaged(chunks)
        try:
            mover.move(d for d in needs.digests if d not in chunks)
        except IntegrityError as exc:  # named with the versions that need what is missing
            raise partial.push_failed(exc, needs, session.store) from None
    return mover.result()


def pull(session: "Session", wanted: Iterable[str], *, remote: str | None = None,
         jobs: int | None = None, progress: Progress = None, on_total: OnTotal = None,
         artifacts: Iterable[Artifact] | None = None) -> Transfer:
    """Copy the objects the versions ``wanted`` (refs) need from a remote, verified; with
    ``artifacts`` instead, those these need (``mvc pull`` after ``git pull``: the pointer files')."""
    from mvc.core.remotes import open_remote

    wanted = list(wanted)
    if not wanted and artifacts is None:
        raise UserError("name the versions to pull, e.g. 'mvc pull resnet@1.2.0'")
    source = open_remote(session, remote)
    rows = [session.resolve(r) for r in wanted]

    def run(some: list) -> Transfer:
        return _pull(session, source, some, artifacts, jobs, progress, on_total)
    return run(rows) if artifacts is not None else partial.by_version(rows, run)


def _pull(session: "Session", source: "Remote", rows: list, artifacts: Iterable[Artifact] | None,
          jobs: int | None, progress: Progress, on_total: OnTotal) -> Transfer:
    with _Mover(session, source, push=False, jobs=jobs, progress=progress, on_total=on_total) as mover:
        needs = (needed_objects(session.registry, session.store, rows, fetch=mover.fetch) if artifacts is None
                 else artifact_needs(session.store, artifacts, fetch=mover.fetch))
        needs.require_readable(but=session.store.is_chunked)  # a damaged recipe: the remote's replaces it
        mover.who = needs.by_digest
        chunks = {c for listed in needs.chunked.values() for c in listed}  # they come with their recipes
        mover.move(d for d in needs.digests if d not in chunks)
    return mover.result()


def fetch_artifacts(session: "Session", source: "Remote", arts: list[Artifact], progress: Progress = None) -> None:
    """Pull from ``source`` the objects the artifacts ``arts`` need (checkout of pointer files)."""
    with _Mover(session, source, push=False, jobs=None, progress=progress, on_total=None) as mover:
        needs = artifact_needs(session.store, arts, fetch=mover.fetch)
        needs.require_readable()
        mover.move(needs.digests)
