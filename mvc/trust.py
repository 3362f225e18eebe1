"""The part of the Repo API that makes a registry trustworthy: the access policy, the audit
trail, and checking, measuring and cleaning the object store (SPEC §3 "Integrity", §5, §7).
``Repo`` inherits it (see api.py); the logic lives in mvc/core/access.py, audit.py,
integrity.py, fsck.py, gc.py and stats.py, which take the Session; the results are built here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from mvc.core.errors import UsageError, UserError, option
if TYPE_CHECKING:
    from mvc.results.trust import (
        AccessChange, AccessGrant, AuditCheck, AuditEvent, AuditHead, FsckReport, GcResult,
        RegistryMove, RemoteStats, StatsResult, VerifyReport,
    )

Progress = Callable[[int], None] | None


class TrustOps:
    """Access, audit, verify, fsck and gc (mixed into ``Repo``)."""

    # -- the access policy: checked by Session.change for every change -------------------
    def access_list(self) -> list[AccessGrant]:
        """Every grant; an empty list means the repository is open (everyone acts as admin)."""
        from mvc.results.trust import AccessGrant

        return [AccessGrant(g.user, g.role, g.granted_by, g.granted_at) for g in self.registry.grants()]

    def access_grant(self, user: str, role: str, *, message: str | None = None) -> AccessChange:
        """Give ``user`` the ``role`` (reader, writer, maintainer or admin); needs admin.

        The first grant must make the acting user an admin; from then on the policy is
        enforced and users without a grant are readers. ``message`` (why) is kept in the
        audit event.
        """
        from mvc.results.trust import AccessChange

        from mvc.core import access

        previous, action = access.grant(self.session, user, role, message)
        return AccessChange(user, role, previous, action)

    def access_revoke(self, user: str, *, message: str | None = None) -> AccessChange:
        """Remove ``user``'s grant (they become a reader); the last admin cannot be revoked.
        ``message`` (why) is kept in the audit event."""
        from mvc.results.trust import AccessChange

        from mvc.core import access

        return AccessChange(user, None, access.revoke(self.session, user, message), "revoked")

    # -- where the registry lives ---------------------------------------------------------
    def registry_move(self, url: str, *, message: str | None = None) -> RegistryMove:
        """Copy the whole registry (versions, tags, channels with their history, lineage,
        grants and the audit chain as it is) into the empty registry at ``url``
        (``sqlite:////PATH`` or ``postgresql://HOST:PORT/DB``), check the copy, then
        point ``registry.url`` at it; needs admin. The old registry is left as it was."""
        from mvc.results.trust import RegistryMove

        from mvc.core import registry_move

        if not isinstance(url, str) or not url:
            raise UserError("give the URL of the registry to move to")
        return RegistryMove(*registry_move.move(self.session, url, message))

    # -- the audit trail ----------------------------------------------------------------
    def audit(self, limit: int | None = None) -> list[AuditEvent]:
        """Events newest first (every change since ``init``, and every refusal)."""
        from mvc.results.trust import AuditEvent

        from mvc.core.query import check_limit

        if isinstance(limit, bool):
            raise UserError(f"{option('limit')} must be at least 1")
        return [AuditEvent(**e.to_dict()) for e in self.registry.events(check_limit(limit))]

    def audit_head(self) -> AuditHead:
        """The newest event's seq and hash. Kept outside the registry (a CI log, a git tag
        message), the hash later shows whether the chain up to it was rewritten."""
        from mvc.results.trust import AuditHead

        from mvc.core.audit import head

        return AuditHead(*head(self.registry))

    def audit_verify(self, head: str | None = None) -> AuditCheck:
        """Recompute the hash chain from event 1; ``ok`` false names the first broken link.

        The chain alone cannot tell a chain rewritten whole (and recomputed) from the real
        one; with ``head`` (a hash ``audit_head`` gave earlier, kept elsewhere) ``ok`` also
        needs an event with that hash (``anchor_seq``)."""
        from mvc.results.trust import AuditCheck

        from mvc.core.audit import check_anchor, check_anchored_chain

        anchor = check_anchor(head) if head is not None else None
        events, broken, at = check_anchored_chain(self.registry, anchor)
        if broken is not None:
            return AuditCheck(False, events, broken[0],
                              f"the audit chain is broken at event {broken[0]}: {broken[1]}", anchor, at)
        message = f"the audit chain of {events} event(s) is intact"
        if anchor is None:
            return AuditCheck(True, events, None, message)
        if at is None:
            return AuditCheck(False, events, None,
                              f"the audit chain does not contain head {anchor}: the chain was rewritten "
                              "since that hash was kept, or the hash is from another repository", anchor, None)
        return AuditCheck(True, events, None, f"{message} and contains head {anchor} (event {at})", anchor, at)

    # -- objects ------------------------------------------------------------------------
    def verify(self, refs: Iterable[str] = (), *, progress: Progress = None) -> VerifyReport:
        """Re-hash every stored object, or those the versions ``refs`` name need (for a
        directory: its manifest and every file). ``ok`` false lists each missing or corrupt one."""
        from mvc.results.trust import ObjectProblem, VerifyReport

        from mvc.core import integrity

        checked = integrity.verify(self.session, refs, progress)
        problems = tuple(ObjectProblem(f.digest, f.problem, f.used_by) for f in checked.findings)
        return VerifyReport(not problems, checked.objects, checked.bytes, problems)

    def fsck(self, *, repair: bool = False, progress: Progress = None) -> FsckReport:
        """Check registry, objects, temporary files, lineage file, audit chain and deploy
        slots against each other; ``repair`` rebuilds what can be derived and removes stray
        temporary files, never an object a version needs. ``ok`` false: something is left."""
        from mvc.results.trust import FsckProblem, FsckReport

        from mvc.core import fsck

        found = fsck.run(self.session, repair=repair, progress=progress)
        problems = tuple(FsckProblem(i.kind, i.message, repair and i.fix is not None and not i.denied,
                                     i.fix is not None) for i in found.issues)
        return FsckReport(all(p.repaired for p in problems), repair, found.versions, found.objects,
                          found.events, problems, tuple(found.notes))

    def stats(self, *, remote: bool = False) -> StatsResult:
        """Models and versions (archived included), the objects in ``.mvc/objects``, the
        bytes the versions hold (``logical``: the sum of their sizes), the bytes the objects
        take (``stored``; a chunked file its recipe and chunks, SPEC §5.1) and ``ratio`` =
        logical / stored (above 1 when versions share objects or chunks), in total and per
        model (``by_model``: the objects its versions need, each once). With ``remote``, the
        same for the default remote, where the versions counted are those whose objects are
        all there."""
        from mvc.results.trust import RemoteStats, StatsResult

        from mvc.core import stats

        def shown(figures) -> dict:
            by_model = {name: {**m._asdict(), "ratio": m.ratio} for name, m in figures.by_model.items()}
            return {**figures._asdict(), "ratio": figures.ratio, "by_model": by_model}

        here = stats.local(self.session)
        there = None
        if remote:
            from mvc.core.remotes import open_remote

            target = open_remote(self.session, None)
            there = RemoteStats(**shown(stats.on_remote(self.session, target)), name=target.name,
                                url=target.location)
        return StatsResult(**shown(here), remote=there)

    def gc(self, *, dry_run: bool = False, grace: float | None = None) -> GcResult:
        """Delete objects that no version (archived included) needs and that are older than
        ``grace`` seconds (default: config ``gc.grace_seconds``; 0 prunes every unreferenced
        object now, like git's ``--prune=now``); with ``dry_run``, only say what would go.
        Needs admin."""
        import sys

        from mvc.results.trust import GcResult

        from mvc.core import gc

        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, (int, float))
                                  or not abs(grace) <= sys.float_info.max or grace < 0):  # 10**400 too
            raise UsageError(f"{option('grace')} must be a number of seconds, 0 or more, not {str(grace)[:40]}")
        done, grace = gc.run(self.session, dry_run=dry_run, grace=grace)
        return GcResult(dry_run, len(done.digests), done.bytes, done.digests, done.referenced,
                        done.kept_recent, float(grace))
