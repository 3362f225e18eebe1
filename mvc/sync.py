"""The part of the Repo API that moves models between places: remotes, push and pull,
pointer files committed to git, and git hooks. ``Repo`` inherits it (see api.py); the
work is done by mvc/core/remotes.py and mvc/core/sync.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from mvc.core import refs
from mvc.core.errors import UserError
from mvc.results import CheckoutResult

if TYPE_CHECKING:
    from mvc.core.remotes import Configured
    from mvc.core.sync import Transfer
    from mvc.results.sync import HooksResult, RemoteInfo, TransferResult

Progress = Callable[[int], None] | None


class SyncOps:
    """Remotes, push/pull, pointer files and hooks (mixed into ``Repo``)."""

    # -- remotes ------------------------------------------------------------------------
    def remotes(self) -> list[RemoteInfo]:
        """The configured remotes; ``default`` marks the one push and pull use by default."""
        from mvc.core import remotes

        return [_remote_info(r) for r in remotes.configured(self.session)]

    def remote_add(self, name: str, url: str, *, default: bool = False, force: bool = False) -> RemoteInfo:
        """Add remote ``name`` at ``url`` (a directory or an fsspec URL); the first one becomes the default."""
        from mvc.core import remotes

        added = remotes.add(self.session, name, url, default=default, force=force)
        self._stage_settings_in_git()  # so that a clone carries the remote
        return _remote_info(added)

    def remote_remove(self, name: str) -> RemoteInfo:
        """Forget remote ``name`` (its objects stay where they are)."""
        from mvc.core import remotes

        return _remote_info(remotes.remove(self.session, name))

    # -- push and pull ------------------------------------------------------------------
    def push(self, refs_: Iterable[str] = (), *, remote: str | None = None, pointers: bool = False,
             progress: Progress = None) -> TransferResult:
        """Copy the objects of ``refs_`` (default: every version; with ``pointers``, those the
        pointer files tracked by git need) to a remote; objects already there are skipped."""
        from mvc.core import sync

        return _transfer_result(sync.push(self.session, refs_, remote=remote, pointers=pointers,
                                          progress=progress))

    def pull(self, refs_: Iterable[str], *, remote: str | None = None, progress: Progress = None) -> TransferResult:
        """Copy the objects of ``refs_`` from a remote into the local store, verified."""
        from mvc.core import sync

        return _transfer_result(sync.pull(self.session, refs_, remote=remote, progress=progress))

    # -- pointer files and git ----------------------------------------------------------
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

    def checkout_pointers(self, root: Path | str = ".", *, link: str = "copy", force: bool = False,
                          progress: Progress = None) -> list[CheckoutResult]:
        """Materialise the artifact of every pointer file under ``root`` (after git clone,
        checkout or pull): files that already match are skipped, missing objects are pulled
        from the default remote. A differing file is kept unless ``force``; all of them are
        reported together after the rest is done."""
        from mvc.core import sync

        return [CheckoutResult(c.ref, c.digest, c.kind, str(c.done.path), link, c.done.written,
                               c.done.files, c.done.bytes)
                for c in sync.checkout_pointers(self.session, root, link=link, force=force, progress=progress)]

    def install_hooks(self, *, force: bool = False) -> HooksResult:
        """Install post-checkout, post-merge (mvc checkout) and pre-push (mvc push --pointers) hooks."""
        from mvc.results.sync import HooksResult

        from mvc.core import sync

        return HooksResult(tuple(sync.install_hooks(self.session, force=force)))


def _remote_info(remote: "Configured") -> RemoteInfo:
    from mvc.results.sync import RemoteInfo

    return RemoteInfo(remote.name, remote.url, remote.default)


def _transfer_result(done: "Transfer") -> TransferResult:
    from mvc.results.sync import TransferResult

    return TransferResult(done.remote, done.location, len(done.moved), done.skipped, done.bytes, done.moved)
