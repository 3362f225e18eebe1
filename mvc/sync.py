"""The part of the Repo API that moves models between places: remotes, push and pull,
pointer files committed to git, and git hooks. ``Repo`` inherits it (see api.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from mvc.core import refs
from mvc.core.errors import ConflictError, NotFoundError, UserError
from mvc.core.names import is_valid_name
from mvc.results import CheckoutResult

if TYPE_CHECKING:
    from mvc.results.sync import HooksResult, RemoteInfo, TransferResult
    from mvc.core.registry.base import VersionRow

Progress = Callable[[int], None] | None


class SyncOps:
    """Remotes, push/pull, pointer files and hooks (mixed into ``Repo``)."""

    # -- remotes ------------------------------------------------------------------------
    def remotes(self) -> list[RemoteInfo]:
        """The configured remotes; ``default`` marks the one push and pull use by default."""
        from mvc.results.sync import RemoteInfo

        default = self.config.value("core.remote")
        return [RemoteInfo(n, self.config.value(f"remote.{n}.url") or "", n == default)
                for n in sorted(self.config.names("remote"))]

    def remote_add(self, name: str, url: str, *, default: bool = False, force: bool = False) -> RemoteInfo:
        """Add remote ``name`` at ``url`` (a directory or an fsspec URL); the first one becomes the default."""
        from mvc.core.remotes import check_reachable, normalise_location

        if not is_valid_name(name):
            raise UserError(f"invalid remote name {name[:60]!r}; use letters, digits, '.', '_' or '-'")
        check_reachable(normalise_location(url, self.layout.work_dir))
        existing = {r.name for r in self.remotes()}
        if name in existing and not force:
            raise ConflictError(f"remote {name!r} exists already; use --force to change its URL")
        with self.session.change("admin", "remote", name) as work:
            self.config.set(f"remote.{name}.url", url)
            if default or not self.config.value("core.remote"):
                self.config.set("core.remote", name)
            work.event("remote", name, {"url": url, "action": "add"})
        self._stage_settings_in_git()  # so that a clone carries the remote
        return next(r for r in self.remotes() if r.name == name)

    def remote_remove(self, name: str) -> RemoteInfo:
        """Forget remote ``name`` (its objects stay where they are)."""
        info = next((r for r in self.remotes() if r.name == name), None)
        if info is None:
            raise NotFoundError(f"no remote {name!r}; 'mvc remote list' shows the remotes")
        with self.session.change("admin", "remote", name) as work:
            self.config.unset(f"remote.{name}")
            if self.config.value("core.remote") == name:
                self.config.unset("core.remote")
            work.event("remote", name, {"action": "remove"})
        return info

    def _remote(self, name: str | None):
        from mvc.core.remotes import Remote, normalise_location

        name = name or self.config.value("core.remote")
        if not name:
            raise UserError("no remote given and no default remote; add one with 'mvc remote add NAME URL'")
        info = next((r for r in self.remotes() if r.name == name), None)
        if info is None:
            raise NotFoundError(f"no remote {name!r}; 'mvc remote list' shows the remotes")
        return Remote(name, normalise_location(info.url, self.layout.work_dir))

    # -- which objects a version needs ---------------------------------------------------
    def _needed(self, digest: str, kind: str, fetch: Callable[[str], None] | None = None) -> list[str]:
        """The objects an artifact needs: itself, and for a directory every file it lists.
        ``fetch`` is called for a missing manifest first, so that a pull can read it."""
        from mvc.core import artifacts

        if kind != "directory":
            return [digest]
        if fetch is not None and not self.store.has(digest):
            fetch(digest)
        entries = artifacts.load_entries(self.store, digest)
        return [digest] + sorted({e["digest"] for e in entries if "digest" in e})

    def _version_objects(self, row: "VersionRow", fetch=None) -> list[str]:
        needed = self._needed(row.digest, row.kind, fetch)
        for item in self.registry.lineage_inputs(row.id):
            if item.kind == "data" and item.detail.get("stored"):
                needed += self._needed(item.digest, item.detail.get("kind", "file"), fetch)
        return needed

    def _rows(self, refs_: Iterable[str]) -> list["VersionRow"]:
        refs_ = list(refs_)
        if refs_:
            return [self._resolve(r) for r in refs_]
        return self.registry.versions()

    # -- push and pull ------------------------------------------------------------------
    def push(self, refs_: Iterable[str] = (), *, remote: str | None = None, pointers: bool = False,
             progress: Progress = None) -> TransferResult:
        """Copy the objects of ``refs_`` (default: every version; with ``pointers``, those the
        pointer files tracked by git need) to a remote; objects already there are skipped."""
        target = self._remote(remote)
        if pointers:
            digests = []
            for p in self._tracked_pointers():
                digests += self._needed(p.digest, p.kind)
        else:
            digests = [d for row in self._rows(refs_) for d in self._version_objects(row)]
        return self._transfer(target, digests, push=True, progress=progress)

    def pull(self, refs_: Iterable[str], *, remote: str | None = None, progress: Progress = None) -> TransferResult:
        """Copy the objects of ``refs_`` from a remote into the local store, verified."""
        refs_ = list(refs_)
        if not refs_:
            raise UserError("name the versions to pull, e.g. 'mvc pull resnet@1.2.0'")
        source = self._remote(remote)
        rows = [self._resolve(r) for r in refs_]
        tally: dict = {"moved": [], "skipped": 0, "bytes": 0}
        fetch = lambda d: self._transfer(source, [d], push=False, progress=progress, tally=tally)  # noqa: E731
        digests = [d for row in rows for d in self._version_objects(row, fetch)]
        return self._transfer(source, digests, push=False, progress=progress, tally=tally)

    def _transfer(self, remote, digests: list[str], *, push: bool, progress: Progress,
                  tally: dict | None = None) -> TransferResult:
        """Move what is missing on the other side; ``tally`` accumulates over several calls
        (a directory's manifest is fetched before the files it lists are known)."""
        from mvc.results.sync import TransferResult

        tally = tally if tally is not None else {"moved": [], "skipped": 0, "bytes": 0}
        for digest in dict.fromkeys(digests):
            if digest in tally["moved"]:
                continue
            if remote.has(digest) if push else self.store.has(digest):
                tally["skipped"] += 1
                continue
            if push:
                tally["bytes"] += remote.upload(self.store, digest, progress)
            else:
                tally["bytes"] += remote.download(self.store, digest, progress)
            tally["moved"].append(digest)
        return TransferResult(remote.name, remote.location, len(tally["moved"]), tally["skipped"],
                              tally["bytes"], tuple(tally["moved"]))

    # -- pointer files and git ----------------------------------------------------------
    def _record_in_git(self, source: Path, row: "VersionRow") -> dict[str, Any]:
        """``add --git``: write PATH.mvc, ignore PATH, commit the pointer, tag NAME@vVERSION."""
        from mvc.core import gitops
        from mvc.core.atomic import write_atomic

        work_tree = gitops.open_work_tree(source.absolute().parent)
        target = source.absolute()
        pointer = target.with_name(target.name + gitops.POINTER_SUFFIX)
        write_atomic(pointer, gitops.pointer_text(row.model, row.version, row.digest, row.size, row.kind).encode())
        gitignore = gitops.ignore(target)
        ref = refs.format_ref(row.model, row.version)
        tag = f"{row.model}@v{row.version}"
        commit = gitops.commit_and_tag(work_tree, [pointer, gitignore], f"Model version: {ref}", tag)
        work_tree.close()
        return {"pointer": str(pointer), "commit": commit, "tag": tag}

    @staticmethod
    def _pointer_current(source: Path, row: "VersionRow") -> bool:
        from mvc.core import gitops

        pointer = source.absolute().with_name(source.absolute().name + gitops.POINTER_SUFFIX)
        try:
            p = gitops.read_pointer(pointer)
        except UserError:
            return False
        return (p.model, p.version, p.digest) == (row.model, row.version, row.digest)

    def _tracked_pointers(self):
        from mvc.core import gitops

        work_tree = gitops.open_work_tree(self.layout.work_dir)
        root = Path(work_tree.working_tree_dir)
        names = work_tree.git.ls_files("-z", "--", f"*{gitops.POINTER_SUFFIX}").split("\0")
        work_tree.close()
        return [gitops.read_pointer(root / n) for n in names if n and (root / n).is_file()]

    def checkout_pointers(self, root: Path | str = ".", *, link: str = "copy", force: bool = False,
                          progress: Progress = None) -> list[CheckoutResult]:
        """Materialise the artifact of every pointer file under ``root`` (after git clone,
        checkout or pull): files that already match are skipped, missing objects are pulled
        from the default remote. A differing file is kept unless ``force``; all of them are
        reported together after the rest is done."""
        from mvc.core import artifacts, gitops

        results, conflicts = [], []
        remote = None
        for path in gitops.find_pointers(Path(root).absolute()):
            p = gitops.read_pointer(path)
            if not self._have_all(p):
                remote = remote or self._remote(None)
                tally: dict = {"moved": [], "skipped": 0, "bytes": 0}
                fetch = lambda d: self._transfer(remote, [d], push=False, progress=progress, tally=tally)  # noqa: E731
                self._transfer(remote, self._needed(p.digest, p.kind, fetch), push=False,
                               progress=progress, tally=tally)
            entries = tuple(artifacts.load_entries(self.store, p.digest)) if p.kind == "directory" else ()
            stored = artifacts.Stored(p.digest, p.size, p.kind, p.target.name, entries)
            writer = artifacts.Materializer(self.store, self.cache, link, progress)
            try:
                done = writer.materialize(stored, p.target, force or self._saved(p.target))
            except ConflictError:
                conflicts.append(str(p.target))
                continue
            results.append(CheckoutResult(refs.format_ref(p.model, p.version), p.digest, p.kind,
                                          str(done.path), link, done.written, done.files, done.bytes))
        if conflicts:
            raise ConflictError(
                f"{', '.join(conflicts)} differ from their pointer files and were kept; "
                "use --force to replace them"
            )
        return results

    def _saved(self, path: Path) -> bool:
        """True when ``path`` holds bytes the store has (another version's artifact), so
        replacing it loses nothing: switching git branches then switches models too."""
        import os

        from mvc.core import artifacts

        if not os.path.lexists(path) or path.is_symlink():
            return os.path.islink(path)
        digest, _, _ = artifacts.hash_path(path, self.cache)
        return self.store.has(digest)

    def _have_all(self, p) -> bool:
        if not self.store.has(p.digest):
            return False
        return all(self.store.has(d) for d in self._needed(p.digest, p.kind))

    def install_hooks(self, *, force: bool = False) -> HooksResult:
        """Install post-checkout, post-merge (mvc checkout) and pre-push (mvc push --pointers) hooks."""
        from mvc.results.sync import HooksResult

        from mvc.core import gitops

        work_tree = gitops.open_work_tree(self.layout.work_dir)
        written = gitops.install_hooks(work_tree, force)
        work_tree.close()
        return HooksResult(tuple(written))
