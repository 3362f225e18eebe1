"""Which objects a version needs, and whether the store still holds them intact.

The one answer to "which objects does this version need", used by ``mvc verify``
(re-hash), ``mvc fsck`` (cross-check), ``mvc gc`` (what must stay), ``mvc push`` and
``mvc pull`` (what to move), ``mvc stats`` (which versions a remote holds whole) and
``mvc add`` (what a concurrent gc may have removed). A version needs its artifact object;
a directory artifact also needs every file object its manifest lists; a ``--store-data``
lineage input needs its data object(s) the same way; a file kept as a recipe (SPEC §5.1)
also needs every chunk its recipe lists.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple

from mvc.core import refs
from mvc.core.errors import IntegrityError
from mvc.core.objects import ObjectStore
from mvc.core.registry.base import Registry, VersionRow

if TYPE_CHECKING:
    from mvc.core.artifacts import ManifestEntry, Stored
    from mvc.core.session import Session

Progress = Callable[[int], None] | None
Fetch = Callable[[str], None] | None


class Artifact(NamedTuple):
    """Something held in the store: a version's artifact, a stored data input, or what a
    pointer file names."""

    digest: str
    kind: str  # "file" | "directory"
    who: str  # how a finding names it: "model@version", "model@version (data PATH)"
    size: int | None = None  # a file's bytes, where the registry says (a recipe must agree)


def ref_of(who: str) -> str:
    """The version a ``who`` names (``model@version``, ``model@version:path`` or
    ``model@version (data PATH)``): names and versions hold neither ':' nor a space."""
    return re.match(r"[^:\s]+", who)[0]


@dataclass
class Needs:
    """digest -> who needs it (``model@version`` or ``model@version:path``), in the order
    found: each artifact's object first, then the objects its manifest lists."""

    by_digest: dict[str, list[str]] = field(default_factory=dict)
    # manifests and recipes that could not be read (digest -> why), so the objects they list
    # are unknown
    unreadable: dict[str, str] = field(default_factory=dict)
    not_manifest: set[str] = field(default_factory=set)  # intact objects a directory row names wrongly
    # the chunked files among them: digest -> its chunks' digests, in order
    chunked: dict[str, list[str]] = field(default_factory=dict)

    def add(self, digest: str, who: str) -> None:
        self.by_digest.setdefault(digest, []).append(who)

    @property
    def digests(self) -> list[str]:
        return list(self.by_digest)

    def require_readable(self, but: Callable[[str], bool] | None = None) -> None:
        """Raise the first unreadable manifest's error (push and pull cannot go on without it),
        leaving out those ``but`` says (a pull replaces a damaged recipe with the remote's)."""
        for digest, why in self.unreadable.items():
            if but is None or not but(digest):
                raise IntegrityError(why)


def _objects(digest: str, entries: Iterable["ManifestEntry"],
             size: int | None = None) -> list[tuple[str, str | None, int | None]]:
    """(object, path inside, its size where known) for an artifact: itself, then its files'
    objects by digest."""
    files = sorted(((e.digest, e.path, e.size) for e in entries if not e.is_link), key=lambda f: f[0])
    return [(digest, None, size), *files]


def version_artifacts(registry: Registry, row: VersionRow) -> list[Artifact]:
    """What a version keeps in the store: its artifact and its ``--store-data`` inputs."""
    who = refs.format_ref(row.model, row.version)
    found = [Artifact(row.digest, row.kind, who, row.size if row.kind == "file" else None)]
    for item in registry.lineage_inputs(row.id):
        if item.kind == "data" and item.detail.get("stored") and item.digest:
            kind, size = item.detail.get("kind", "file"), item.detail.get("size")
            size = size if kind == "file" and type(size) is int else None
            found.append(Artifact(item.digest, kind, f"{who} (data {item.path})", size))
    return found


def artifact_needs(store: ObjectStore, artifacts: Iterable[Artifact], *, fetch: Fetch = None) -> Needs:
    """Every object ``artifacts`` need. ``fetch(digest)`` is called for a directory manifest
    the store lacks before it is read (a pull brings it from the remote first)."""
    from mvc.core.artifacts import NotAManifest, load_entries

    needs = Needs()
    for art in artifacts:
        entries: list = []
        if art.kind == "directory":
            if fetch is not None and not store.has(art.digest):
                fetch(art.digest)
            try:
                entries = load_entries(store, art.digest)
            except NotAManifest as exc:
                needs.not_manifest.add(art.digest)
                needs.unreadable[art.digest] = exc.message
            except IntegrityError as exc:
                needs.unreadable[art.digest] = exc.message
        for digest, path, size in _objects(art.digest, entries, art.size):
            who = art.who if path is None else f"{art.who}:{path}"
            needs.add(digest, who)
            _add_chunks(store, digest, who, needs, size)
    return needs


def _add_chunks(store: ObjectStore, digest: str, who: str, needs: Needs, size: int | None = None) -> None:
    """A recipe's chunks, needed by ``who`` too; a recipe that cannot be read, or that does not
    make a file of ``size`` bytes (cut short by hand, yet well formed: gc would take the chunks
    it no longer names for garbage), is unreadable."""
    try:
        chunks = store.chunks_of(digest) if store.is_chunked(digest) else None
    except IntegrityError as exc:
        needs.unreadable[digest] = (f"{exc.message.removesuffix(SEE_FSCK)} (needed by {who}); run 'mvc pull "
                                    f"{pull_refs([who])[0]}', which replaces it with the remote's")
        return
    made = None if chunks is None else sum(c.size for c in chunks)
    if made is not None and size is not None and made != size:
        needs.unreadable[digest] = (f"the recipe of object {digest} is damaged: its chunks make {made} bytes, "
                                    f"not the {size} the registry records (needed by {who}); run 'mvc fsck "
                                    f"--repair', then 'mvc pull {pull_refs([who])[0]}'")
        return
    if chunks is not None:
        needs.chunked[digest] = [c.digest for c in chunks]
        for c in chunks:
            needs.add(c.digest, who)


def needed_objects(registry: Registry, store: ObjectStore, rows: Iterable[VersionRow] | None = None,
                   *, fetch: Fetch = None) -> Needs:
    """Every object that ``rows`` (default: every version, archived included) need."""
    rows = registry.versions() if rows is None else rows
    return artifact_needs(store, (a for row in rows for a in version_artifacts(registry, row)), fetch=fetch)


def missing_objects(store: ObjectStore, stored: "Stored") -> list[str]:
    """The objects (chunks included) of a just-stored artifact (``artifacts.Stored``) that
    the store lacks now."""
    return [d for d, _, _ in _objects(stored.digest, stored.entries) if not store.complete(d)]


# -- checking ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    digest: str  # an object's; ``pack:NAME`` for a pack whose index is unreadable
    problem: str  # "missing" | "corrupt" | "not-a-manifest" (intact; a directory row names it wrongly)
    used_by: tuple[str, ...]
    pack: str | None = None  # the pack that holds the corrupt copy of a chunk
    why: str = ""  # what is wrong, when more than the bytes not matching the name


class Checked(NamedTuple):
    objects: int  # objects re-hashed
    bytes: int  # bytes read
    findings: list[Finding]


def check_objects(store: ObjectStore, needs: Needs, include_all: bool,
                  progress: Progress = None) -> Checked:
    """Re-hash the needed objects (and, with ``include_all``, every object in the store and
    every entry of every pack).

    Findings: each needed object that is missing, each object whose bytes do not hash to its
    name (a chunk in a pack: each corrupt copy, naming the pack), and each pack whose index is
    unreadable.
    """
    from mvc.core import chunked

    digests = set(needs.by_digest)
    packed = PackCheck()
    if include_all:
        digests |= set(store.iter_digests())
        packed = check_packs(store, needs, progress)
        digests |= packed.good | packed.bad
    findings = list(packed.findings)
    checked = nbytes = 0
    from mvc.core.faults import crash_point

    crash_point("verify:listed")  # tests: a gc collects what was listed before it is read
    # A chunked file is read once, checking each chunk and the whole; its chunks are not
    # read again on their own unless that pass failed (chunks the pack pass checked are
    # not hashed twice).
    verified: set[str] = set()
    chunked_files = sorted(d for d in digests if d.startswith("sha256:") and store.is_chunked(d))
    for digest in chunked_files:
        used_by = tuple(needs.by_digest.get(digest, ()))
        recipe = None
        try:
            recipe = store.recipe(digest)
            ok = recipe is not None and chunked.read(store, recipe, None, progress, packed.good) == digest
        except (IntegrityError, PermissionError):  # an unreadable pack is a finding of check_packs
            ok = False
        if ok:
            verified.update(c.digest for c in recipe.chunks)
            checked += 1
        elif not used_by and not store.recipe_path(digest).exists():
            continue  # no version needs it and it is gone: a gc collected it while we read
        elif recipe is not None and _bad_chunk(store, recipe, packed):
            continue  # the recipe is sound; its chunks are findings of their own (a needed one's)
        elif digest not in needs.unreadable:
            findings.append(Finding(digest, "corrupt", used_by, why=UNMADE if recipe else ""))
    for digest in sorted(digests - set(chunked_files)):
        used_by = tuple(needs.by_digest.get(digest, ()))
        if digest in verified or digest in packed.good or digest in packed.bad:
            checked += 1  # a corrupt copy in a pack is a finding already
            nbytes += store.size(digest)
            continue
        problem = _check_one(store, digest, progress)
        if problem == "missing" and not used_by:
            continue  # listed, then collected by a gc while we read: no version needs it
        if problem != "missing":
            checked += 1
            nbytes += store.size(digest)
        if problem is not None:
            findings.append(Finding(digest, problem, used_by))
    for digest in sorted(needs.unreadable):
        if not any(f.digest == digest for f in findings):
            why = (_recipe_why(store, digest) if store.is_chunked(digest) else "")
            problem = "not-a-manifest" if digest in needs.not_manifest else "corrupt"
            findings.append(Finding(digest, problem, tuple(needs.by_digest.get(digest, ())), why=why))
    return Checked(checked, nbytes, findings)


def _recipe_why(store: ObjectStore, digest: str) -> str:
    """Why a recipe a version needs is no use: unreadable, or read but its chunks do not make
    the file's size (integrity._add_chunks)."""
    try:
        return UNREADABLE if store.recipe(digest) is None else UNMADE
    except IntegrityError:
        return UNREADABLE


UNREADABLE = "its recipe cannot be read"
SEE_FSCK = "; run 'mvc fsck'"
UNMADE = "its recipe's chunks are sound but do not make the file"


def _bad_chunk(store: ObjectStore, recipe, packed: "PackCheck") -> bool:
    """True when a chunk of ``recipe`` is missing or corrupt (then the recipe is not what is
    damaged: ``mvc verify`` names the chunk, and a pull fetches it once it counts as missing)."""
    for c in recipe.chunks:
        if c.digest in packed.bad or (c.digest not in packed.good and _check_one(store, c.digest, None)):
            return True
    return False


def _check_one(store: ObjectStore, digest: str, progress: Progress) -> str | None:
    """"missing", "corrupt" or None (intact) for an object that is not a chunked file: a whole
    object re-hashed as it streams, a chunk (packed or loose) read and checked by its name."""
    from mvc.core.packs import chunk_matches

    if digest.startswith("sha256:") and store.path(digest).is_file():
        try:
            return None if store.hash_object(digest, progress) == digest else "corrupt"
        except IntegrityError:  # removed while we looked
            return "missing"
        except PermissionError:
            return "corrupt"
    try:
        fd, offset, size = store.open_chunk(digest)
    except IntegrityError:
        return "missing"
    except PermissionError:
        return "corrupt"
    try:
        data = os.pread(fd, size, offset)
    finally:
        os.close(fd)
    if progress:
        progress(size)
    return None if len(data) == size and chunk_matches(digest, data) else "corrupt"


class PackCheck(NamedTuple):
    """What reading every pack found: chunks whose every packed copy matches its name, chunks
    with a corrupt copy, and the findings (corrupt copies, unreadable indexes)."""

    good: frozenset[str] = frozenset()
    bad: frozenset[str] = frozenset()
    findings: tuple[Finding, ...] = ()


PACK_READ = 32 << 20  # a pack is read in runs of entries of about this many bytes


def pack_runs(entries, size: int):
    """The entries of a pack in runs of about ``PACK_READ`` bytes (one read each), the entries
    that lie past the pack file's end (``size`` bytes) left out of them: (runs, cut off)."""
    runs, run, cut = [], [], []
    for e in entries:
        if e.offset + e.size > size:
            cut.append(e)
            continue
        if run and e.offset + e.size - run[0].offset > PACK_READ:
            runs.append(run)
            run = []
        run.append(e)
    return runs + ([run] if run else []), cut


def read_run(fd: int, run, buf: bytearray) -> memoryview:
    """The bytes of a run of entries (``pack_runs``), read in one go into ``buf`` (reused from
    run to run: a fresh buffer per read costs a page fault per 4 KiB), or a larger one."""
    start, end = run[0].offset, run[-1].offset + run[-1].size
    view = memoryview(buf if end - start <= len(buf) else bytearray(end - start))[:end - start]
    if os.preadv(fd, [view], start) != end - start:
        raise IntegrityError("the pack file got shorter while it was read")
    return view


def check_packs(store: ObjectStore, needs: Needs, progress: Progress = None) -> PackCheck:
    """Every entry of every pack checked against its name, each pack read from start to end
    in large reads; a pack file shorter than its index says is corrupt from where it ends."""
    from mvc.core.packs import chunk_matches

    every = store.packs.all()
    lacking: tuple[str, ...] = ()
    if store.packs.unreadable:  # the versions that miss a chunk: it may be in such a pack
        chunks = {c for listed in needs.chunked.values() for c in listed}
        lacking = tuple(sorted({who for c in chunks if store.locate(c) is None for who in needs.by_digest[c]}))
    findings = [Finding(f"pack:{name}", "corrupt", lacking, why=why)
                for name, why in sorted(store.packs.unreadable.items())]
    good: set[str] = set()
    bad: set[str] = set()
    buf = bytearray(PACK_READ)

    def corrupt(e, name: str, why: str = "") -> None:
        bad.add(e.digest)
        findings.append(Finding(e.digest, "corrupt", tuple(needs.by_digest.get(e.digest, ())), name, why))

    for name, entries in sorted(every.items()):
        try:
            fd = os.open(store.packs.pack_path(name), os.O_RDONLY)
        except FileNotFoundError:  # an index without its pack: fsck names it a stray, and a
            continue  # needed chunk of it is checked (and missing) on its own
        except OSError as exc:  # unreadable (chmod 000): a problem of its own; check the others
            used = sorted({who for e in entries for who in needs.by_digest.get(e.digest, ())})
            findings.append(Finding(f"pack:{name}", "corrupt", tuple(used),
                                    why=f"pack {name} cannot be read ({exc.strerror}): fix its "
                                        "permissions, or delete it and pull the versions that need it"))
            for e in entries:
                bad.add(e.digest)
            continue
        try:
            runs, cut = pack_runs(entries, os.fstat(fd).st_size)
            for e in cut:
                corrupt(e, name, "the pack file is shorter than its index says")
            for run in runs:
                try:
                    data = read_run(fd, run, buf)
                except IntegrityError as exc:
                    for e in run:
                        corrupt(e, name, exc.message)
                    continue
                for e in run:
                    at = e.offset - run[0].offset
                    if chunk_matches(e.digest, data[at:at + e.size]):
                        good.add(e.digest)
                    else:
                        corrupt(e, name)
                if progress:
                    progress(len(data))
        finally:
            os.close(fd)
    return PackCheck(frozenset(good - bad), frozenset(bad), tuple(findings))


def verify(session: "Session", wanted: Iterable[str] = (), progress: Progress = None) -> Checked:
    """``mvc verify``: re-hash every stored object, or only those the versions ``wanted``
    (refs) need."""
    wanted = list(wanted)
    rows = None
    if wanted:
        rows = list({row.id: row for row in map(session.resolve, wanted)}.values())
    needs = needed_objects(session.registry, session.store, rows)
    return check_objects(session.store, needs, include_all=not wanted, progress=progress)


def describe(finding: Finding) -> str:
    """A finding in words, with what to run about it (fsck's message)."""
    users = ", ".join(finding.used_by[:3]) + (" …" if len(finding.used_by) > 3 else "")
    if finding.digest.startswith("pack:"):  # what packs.decode said, and who misses chunks
        return finding.why.removesuffix(SEE_FSCK) + (f" (needed by {users})" if users else "")
    needed = f" (needed by {users})" if users else " (not referenced)"
    where = f" in pack {finding.pack}" if finding.pack else ""
    why = f": {finding.why}" if finding.why else ""
    what = "chunk" if finding.pack or finding.digest.startswith("blake3:") else "object"
    said = f"{what} {finding.digest} is {finding.problem}{where}{why}{needed}"
    if not finding.used_by:
        return said
    pull = "'mvc pull " + " ".join(pull_refs(finding.used_by)) + "'"
    if finding.problem == "missing":
        return f"{said}: {pull} fetches it again"
    how = "sets it aside in .mvc/lost-found" + (" and writes its pack again without it" if finding.pack else "")
    return f"{said}: 'mvc fsck --repair' {how}, then {pull} fetches it again"


def pull_refs(used_by: Iterable[str]) -> list[str]:
    """The versions to pull for what ``used_by`` names (``m@1.0``, ``m@1.0:path`` inside a
    directory, ``m@1.0 (data PATH)``), each once, in order."""
    return list(dict.fromkeys(who.split(" (")[0].split(":")[0] for who in used_by))
