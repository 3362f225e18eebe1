"""The part of the Repo API that moves models between places: remotes, push and pull,
pointer files committed to git, and git hooks. ``Repo`` inherits it (see api.py); the
work is done by mvc/core/remotes.py and mvc/core/sync.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from mvc.core.remotes import Configured
    from mvc.core.sync import Transfer
    from mvc.results.status import StatusResult
    from mvc.results.changes import CheckoutResult
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
             jobs: int | None = None, progress: Progress = None, on_total: Progress = None,
             verify_remote: bool = False) -> TransferResult:
        """Copy the objects of ``refs_`` (default: every version; with ``pointers``, those the
        pointer files tracked by git need) to a remote; objects already there are skipped.
        ``jobs`` objects move at once (default: config ``transfer.jobs``); ``on_total(bytes)``
        hears what will move before it does, ``progress(bytes)`` as it goes. With
        ``verify_remote``, the remote's copies are read back and damaged ones sent again."""
        from mvc.core import sync

        return _transfer_result(sync.push(self.session, refs_, remote=remote, pointers=pointers,
                                          jobs=_jobs(jobs), progress=progress, on_total=on_total,
                                          verify_remote=verify_remote))

    def pull(self, refs_: Iterable[str] = (), *, remote: str | None = None, jobs: int | None = None,
             progress: Progress = None, on_total: Progress = None) -> TransferResult:
        """Copy the objects of ``refs_`` from a remote into the local store, verified; as
        ``push`` for ``jobs``, ``progress`` and ``on_total``. With no refs, the objects that
        the pointer files under the working directory need (run after ``git pull``)."""
        from mvc.core import sync

        refs_ = list(refs_)
        found = None
        if not refs_:  # after git pull: what the pointer files under the working directory need
            from mvc.core import gitops, status

            found = status.pointer_artifacts(gitops.find_pointers(Path.cwd()))
        return _transfer_result(sync.pull(self.session, refs_, remote=remote, jobs=_jobs(jobs),
                                          progress=progress, on_total=on_total, artifacts=found))

    # -- pointer files and git ----------------------------------------------------------
    def checkout_pointers(self, root: Path | str = ".", *, link: str = "copy", force: bool = False,
                          progress: Progress = None,
                          pointers: Iterable[Path | str] | None = None) -> list[CheckoutResult]:
        """Materialise the artifact of every pointer file under ``root`` (after git clone,
        checkout or pull), or of the pointer files ``pointers``: files that already match
        are skipped, missing objects are pulled from the default remote. A differing file
        is kept unless ``force``; all of them are reported together after the rest is done."""
        from mvc.core.pointers import checkout_pointers
        from mvc.results.changes import CheckoutResult

        chosen = None if pointers is None else [Path(p).absolute() for p in pointers]
        return [CheckoutResult(c.ref, c.digest, c.kind, str(c.done.path), c.done.link, c.done.written,
                               c.done.files, c.done.bytes)
                for c in checkout_pointers(self.session, root, link=link, force=force,
                                           progress=progress, pointers=chosen)]

    def status(self, paths: Iterable[Path | str] = ()) -> StatusResult:
        """Each pointer file (under ``paths``, default the folder holding .mvc) with the state
        of its work file (ok, modified, missing), the versions whose objects the default
        remote lacks, and the registry, the default remote and whether access is locked down."""
        import os

        from mvc.core import status
        from mvc.core.gitops import shown
        from mvc.results.status import PointerStatus, StatusResult

        found = status.status(self.session, [Path(p) for p in paths])
        return StatusResult(
            tuple(PointerStatus(shown(os.path.relpath(p.pointer)), p.model, p.version, p.state,
                                shown(os.path.relpath(p.target)), p.detail) for p in found.pointers),
            tuple(found.unpushed),
            {"backend": found.backend, "url": found.registry_url,
             "state": "damaged" if found.damage else "present" if found.exists else "none" if found.fresh else "missing",
             "error": found.damage},
            None if found.remote is None else dict(zip(("name", "url", "error"), found.remote)),
            "locked" if found.locked else "open")

    def push_commits(self, commits: Iterable[str], *, remote: str | None = None,
                     known: Iterable[str] = ()) -> TransferResult:
        """Copy to a remote (default: the default one) the objects that the pointer files in
        ``commits`` need (the pre-push hook: the commits being pushed); ``known``: commits the
        git remote has already (besides the remote-tracking branches)."""
        from mvc.core import hook_push, sync

        found = hook_push.to_push(self.session, list(commits), remote, list(known))
        return _transfer_result(sync.push(self.session, remote=remote, artifacts=found))

    def install_hooks(self, *, force: bool = False) -> HooksResult:
        """Install post-checkout, post-merge (mvc checkout) and pre-push (mvc push --pointers)
        hooks where git runs them; a hook that was there before is kept and runs first."""
        from mvc.core import hooks

        return _hooks_result(hooks.install(self.session.layout.work_dir, force=force))

    def uninstall_hooks(self) -> HooksResult:
        """Remove mvc's hooks and put back the hooks they chained to."""
        from mvc.core import hooks

        return _hooks_result(hooks.uninstall(self.session.layout.work_dir))


def _hooks_result(changes) -> HooksResult:
    from mvc.results.sync import HookChange, HooksResult

    return HooksResult(tuple(c.path for c in changes if c.action not in ("absent", "foreign")),
                       tuple(HookChange(c.name, c.path, c.action, c.earlier) for c in changes))


def _remote_info(remote: "Configured") -> RemoteInfo:
    from mvc.results.sync import RemoteInfo

    options = remote.options
    return RemoteInfo(remote.name, remote.url, remote.default, options.get("endpoint_url"),
                      options.get("profile"), options.get("region"), remote.unchanged or None)


def _jobs(jobs: int | None) -> int | None:
    """``jobs`` checked as config's ``transfer.jobs`` is (1 to 64), or None for the config's."""
    if jobs is None:
        return None
    from mvc.core.config import check

    return check("transfer.jobs", jobs)


def _transfer_result(done: "Transfer") -> TransferResult:
    from mvc.results.sync import TransferResult

    return TransferResult(done.remote, done.location, len(done.moved), done.skipped, done.bytes, done.moved)
