"""The part of the Repo API that moves versions through channels: promote, rollback,
archive, canary, resolve and channel history (SPEC §3 "Lifecycle and deployment").
``Repo`` inherits it (see api.py); the logic lives in ``mvc.core.channels``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mvc.results.deploy import ArchiveResult, ChannelLogEntry, ChannelMove, ChannelStatus, Resolution
    from mvc.core.channels import Deployments


class LifecycleOps:
    """Channels, blue-green deploy slots, canaries and archiving (mixed into ``Repo``)."""

    def _deployments(self) -> "Deployments":
        from mvc.core.channels import Deployments

        return Deployments(self.session)

    def promote(self, ref: str, channel: str, *, check: str | None = None,
                message: str = "", git: bool = False) -> ChannelMove:
        """Make ``channel`` serve ``ref``, blue-green: write it into the idle slot, run the
        shell command ``check`` against it (``CheckFailedError``, exit 5, when it fails:
        nothing that serves changes), then switch the channel atomically. With ``git``, also
        tag the enclosing git repository's HEAD ``NAME#CHANNEL#N`` (GTO's format; N counts
        the channel's moves)."""
        if git:
            from mvc.core.gitops import head_commit, open_work_tree

            work_tree = open_work_tree(self.layout.work_dir)  # refuse before anything moves
            head_commit(work_tree)
            work_tree.close()
        move = self._deployments().promote(ref, channel, check, message)
        if git and move.changed:
            from dataclasses import replace

            move = replace(move, git=self._tag_promotion(move))
        return move

    def rollback(self, name: str, channel: str = "production", *, to: str | None = None,
                 message: str = "") -> ChannelMove:
        """Return ``channel`` to the version it served before the current one (a stack), or to
        ``to`` if it served that before; instant when the other slot still holds it."""
        return self._deployments().rollback(name, channel, to, message)

    def archive(self, ref: str, *, undo: bool = False, message: str | None = None) -> ArchiveResult:
        """Archive (``undo``: restore) a version; a version that a channel serves cannot be
        archived, and an archived one cannot be promoted. Its objects are kept. ``message``
        (why) is kept in the audit event."""
        return self._deployments().archive(ref, undo, message)

    def canary_start(self, ref: str, channel: str, percent: int, *, check: str | None = None,
                     message: str = "") -> ChannelMove:
        """Serve ``ref`` to ``percent`` (1-99) % of ``channel``'s traffic from the idle slot."""
        return self._deployments().canary_start(ref, channel, percent, check, message)

    def canary_step(self, name: str, channel: str, increment: int, *, check: str | None = None,
                    message: str = "") -> ChannelMove:
        """Raise the canary's share by ``increment``; a failing ``check`` aborts the canary
        (the stable version serves everything) and raises ``CheckFailedError``."""
        return self._deployments().canary_step(name, channel, increment, check, message)

    def canary_promote(self, name: str, channel: str, *, message: str = "") -> ChannelMove:
        """Make the canary the stable version of ``channel``, at 100%."""
        return self._deployments().canary_promote(name, channel, message)

    def canary_abort(self, name: str, channel: str, *, message: str = "") -> ChannelMove:
        """Drop the canary; the stable version serves 100%."""
        return self._deployments().canary_abort(name, channel, message)

    def canary_status(self, name: str, channel: str) -> ChannelStatus:
        """What ``channel`` serves: its stable version and canary, with their slot paths."""
        return self._deployments().status(name, channel)

    def resolve(self, name: str, channel: str = "production", key: str | None = None) -> Resolution:
        """Which version of ``name`` serves on ``channel``, and the path of its files; with
        ``key``, the canary serves when ``int(sha256(key)[:8], 16) % 100`` is below its percent."""
        return self._deployments().resolve(name, channel, key)

    def channel_log(self, name: str, channel: str, limit: int | None = None) -> list[ChannelLogEntry]:
        """Every move of ``channel`` for model ``name``, newest first."""
        if limit is not None and limit < 1:
            from mvc.core.errors import UserError

            raise UserError("--limit must be at least 1")
        return self._deployments().history(name, channel, limit)

    def sync_deploy(self, name: str, channel: str) -> bool:
        """Make a channel's deploy folder agree with the registry (what a crash after the
        registry commit leaves behind); True when it changed anything."""
        return self._deployments().repair(name, channel)

    def check_deploys(self, repair: bool = False) -> list[str]:
        """Problems of every channel's deploy folder against the registry (for ``fsck``);
        with ``repair``, fix each (what a re-run of the interrupted command would do) and
        return what was repaired."""
        d = self._deployments()
        found = []
        for row in self.registry.channels():
            if row.channel not in self.channel_names():
                continue
            problems = d.deploy_problems(row.model, row.channel)
            if problems and repair:
                d.repair(row.model, row.channel)
            found += [f"{row.model} {row.channel}: {p}" for p in problems]
        return found
