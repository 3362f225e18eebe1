"""The part of the Repo API that moves versions through channels: promote, rollback,
archive, canary, resolve and channel history (SPEC §3 "Lifecycle and deployment").
``Repo`` inherits it (see api.py). The engine does the work with ``self.session``:
``mvc.core.moves`` (the move protocol), ``mvc.core.archive``, ``mvc.core.channel_views`` (what a
channel serves and served) and ``mvc.core.channel_state`` (deploy folders against the
registry); this part builds the result objects from what they return."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mvc.core.moves import Move
    from mvc.results.deploy import ArchiveResult, ChannelLogEntry, ChannelMove, ChannelStatus, Resolution


def _channel_move(move: "Move", message: str) -> "ChannelMove":
    from mvc.results.deploy import ChannelMove

    return ChannelMove(**move._asdict(), message=message)


def _git_ready(session, channel: str, git: bool) -> None:
    """With ``--git``, refuse before anything moves when there is no git work tree to tag or
    GTO could not read the channel's name from a tag."""
    if git:
        from mvc.core import gittags

        gittags.work_tree(session.layout.work_dir)
        gittags.check_gto_name("channel", channel)


class LifecycleOps:
    """Channels, blue-green deploy slots, canaries and archiving (mixed into ``Repo``)."""

    def promote(self, ref: str, channel: str, *, check: str | None = None,
                message: str = "", git: bool = False) -> ChannelMove:
        """Make ``channel`` serve ``ref``, blue-green: write it into the idle slot, run the
        shell command ``check`` against it (``CheckFailedError``, exit 5, when it fails:
        nothing that serves changes), then switch the channel atomically. With ``git``, also
        tag ``NAME#CHANNEL#N`` (GTO's format; N counts the channel's moves) on the git commit
        that registers the version (its ``NAME@vVERSION`` tag, else the commit it was added
        at, which is then tagged ``NAME@vVERSION`` too); a tag that says otherwise refuses the
        move (``ConflictError``) before anything changes."""
        from mvc.core import moves

        _git_ready(self.session, channel, git)
        return _channel_move(moves.promote(self.session, ref, channel, check, message, git), message)

    def rollback(self, name: str, channel: str = "production", *, to: str | None = None,
                 message: str = "", git: bool = False) -> ChannelMove:
        """Return ``channel`` to the version it served before the current one (a stack), or to
        ``to`` if it served that before; instant when the other slot still holds it. ``git``
        tags the move as ``promote`` does, so that GTO too sees the channel go back."""
        from mvc.core import moves

        _git_ready(self.session, channel, git)
        return _channel_move(moves.rollback(self.session, name, channel, to, message, git), message)

    def archive(self, ref: str, *, undo: bool = False, message: str | None = None) -> ArchiveResult:
        """Archive (``undo``: restore) a version; a version that a channel serves cannot be
        archived, and an archived one cannot be promoted. Its objects are kept. ``message``
        (why) is kept in the audit event."""
        from mvc.core.archive import archive
        from mvc.results.deploy import ArchiveResult

        return ArchiveResult(**archive(self.session, ref, undo, message)._asdict())

    def canary_start(self, ref: str, channel: str, percent: int, *, check: str | None = None,
                     message: str = "") -> ChannelMove:
        """Serve ``ref`` to ``percent`` (1-99) % of ``channel``'s traffic from the idle slot."""
        from mvc.core import moves

        return _channel_move(moves.canary_start(self.session, ref, channel, percent, check, message), message)

    def canary_step(self, name: str, channel: str, increment: int, *, check: str | None = None,
                    message: str = "") -> ChannelMove:
        """Raise the canary's share by ``increment``; a failing ``check`` aborts the canary
        (the stable version serves everything) and raises ``CheckFailedError``."""
        from mvc.core import moves

        return _channel_move(moves.canary_step(self.session, name, channel, increment, check, message), message)

    def canary_promote(self, name: str, channel: str, *, message: str = "", git: bool = False) -> ChannelMove:
        """Make the canary the stable version of ``channel``, at 100%; ``git`` tags the move as
        ``promote`` does."""
        from mvc.core import moves

        _git_ready(self.session, channel, git)
        return _channel_move(moves.canary_promote(self.session, name, channel, message, git), message)

    def canary_abort(self, name: str, channel: str, *, message: str = "") -> ChannelMove:
        """Drop the canary; the stable version serves 100%."""
        from mvc.core import moves

        return _channel_move(moves.canary_abort(self.session, name, channel, message), message)

    def canary_status(self, name: str, channel: str) -> ChannelStatus:
        """What ``channel`` serves: its stable version and canary, with their slot paths."""
        from mvc.core import channel_views
        from mvc.results.deploy import ChannelStatus

        return ChannelStatus(**channel_views.status(self.session, name, channel)._asdict())

    def resolve(self, name: str, channel: str = "production", key: str | None = None) -> Resolution:
        """Which version of ``name`` serves on ``channel``, and the path of its files; with
        ``key``, the canary serves when ``int(sha256(key)[:8], 16) % 100`` is below its percent."""
        from mvc.core import channel_views
        from mvc.results.deploy import Resolution

        return Resolution(**channel_views.resolve(self.session, name, channel, key)._asdict())

    def channel_log(self, name: str, channel: str, limit: int | None = None) -> list[ChannelLogEntry]:
        """Every move of ``channel`` for model ``name``, newest first."""
        from mvc.core import channel_views
        from mvc.results.deploy import ChannelLogEntry

        if limit is not None and limit < 1:
            from mvc.core.errors import UserError, option

            raise UserError(f"{option('limit')} must be at least 1")
        return [ChannelLogEntry(**e._asdict()) for e in channel_views.history(self.session, name, channel, limit)]

    def sync_deploy(self, name: str, channel: str) -> bool:
        """Make a channel's deploy folder agree with the registry (what a crash after the
        registry commit leaves behind); True when it changed anything."""
        from mvc.core import channel_state

        return channel_state.repair(self.session, name, channel)

    def check_deploys(self, repair: bool = False) -> list[str]:
        """Problems of every channel's deploy folder against the registry (what ``fsck``
        checks of them); with ``repair``, fix each channel that has one (what a re-run of the
        interrupted command would do) and return what was repaired."""
        from mvc.core import channel_state

        found = channel_state.all_problems(self.session)
        if repair:
            for model, channel in dict.fromkeys((p.model, p.channel) for p in found):
                channel_state.repair(self.session, model, channel)
        return [f"{p.model} {p.channel}: {p.message}" for p in found]
