"""The part of the Repo API that moves models between places: remotes, push and pull,
pointer files committed to git, and git hooks. ``Repo`` inherits it (see api.py); the
work is done by mvc/core/remotes.py and mvc/core/sync.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

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

    def remote_add(self, name: str, url: str, *, default: bool = False, force: bool = False,
                   endpoint_url: str | None = None, profile: str | None = None,
                   region: str | None = None) -> RemoteInfo:
        """Add remote ``name`` at ``url`` (a directory or an fsspec URL); the first one becomes
        the default. An s3:// remote may name an ``endpoint_url`` (MinIO, Ceph, …), an AWS
        ``profile`` and a ``region``; credentials come from the AWS chain, never from config.
        With ``force`` an existing remote is defined anew."""
        from mvc.core import remotes

        options = {"endpoint_url": endpoint_url, "profile": profile, "region": region}
        return _remote_info(remotes.add(self.session, name, url, default=default, force=force, options=options))

    def remote_remove(self, name: str) -> RemoteInfo:
        """Forget remote ``name`` (its objects stay where they are)."""
        from mvc.core import remotes

        return _remote_info(remotes.remove(self.session, name))

    # -- push and pull ------------------------------------------------------------------
    def push(self, refs_: Iterable[str] = (), *, remote: str | None = None, pointers: bool = False,
             jobs: int | None = None, progress: Progress = None, on_total: Progress = None) -> TransferResult:
        """Copy the objects of ``refs_`` (default: every version; with ``pointers``, those the
        pointer files tracked by git need) to a remote; objects already there are skipped.
        ``jobs`` objects move at once (default: config ``transfer.jobs``); ``on_total(bytes)``
        hears what will move before it does, ``progress(bytes)`` as it goes."""
        from mvc.core import sync

        return _transfer_result(sync.push(self.session, refs_, remote=remote, pointers=pointers,
                                          jobs=_jobs(jobs), progress=progress, on_total=on_total))

    def pull(self, refs_: Iterable[str], *, remote: str | None = None, jobs: int | None = None,
             progress: Progress = None, on_total: Progress = None) -> TransferResult:
        """Copy the objects of ``refs_`` from a remote into the local store, verified; as
        ``push`` for ``jobs``, ``progress`` and ``on_total``."""
        from mvc.core import sync

        return _transfer_result(sync.pull(self.session, refs_, remote=remote, jobs=_jobs(jobs),
                                          progress=progress, on_total=on_total))

    # -- pointer files and git ----------------------------------------------------------
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

    options = remote.options
    return RemoteInfo(remote.name, remote.url, remote.default, options.get("endpoint_url"),
                      options.get("profile"), options.get("region"))


def _jobs(jobs: int | None) -> int | None:
    """``jobs`` checked as config's ``transfer.jobs`` is (1 to 64), or None for the config's."""
    if jobs is None:
        return None
    from mvc.core.config import check

    return check("transfer.jobs", jobs)


def _transfer_result(done: "Transfer") -> TransferResult:
    from mvc.results.sync import TransferResult

    return TransferResult(done.remote, done.location, len(done.moved), done.skipped, done.bytes, done.moved)
