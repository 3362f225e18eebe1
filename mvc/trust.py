"""The part of the Repo API that makes a registry trustworthy: the access policy, the audit
trail, and checking, measuring and cleaning the object store (SPEC §3 "Integrity", §5, §7).
``Repo`` inherits it (see api.py); the logic lives in mvc/core/access.py, audit.py,
integrity.py, fsck.py and gc.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from mvc.core.errors import UsageError, UserError
if TYPE_CHECKING:
    from mvc.results.trust import (
        AccessChange, AccessGrant, AuditCheck, AuditEvent, FsckReport, GcResult, RemoteStats,
        StatsResult, VerifyReport,
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

        access.check_user(user)
        access.check_role(role)
        with self.session.change("admin", "access", user) as work:
            previous = access.plan_grant(self.registry, work.user, user, role)
            if previous is not None and previous.role == role:
                return AccessChange(user, role, role, "unchanged")
            self.registry.set_grant(user, role, work.user, work.ts)
            work.event("access", user, {"grant": role, "from": previous.role if previous else None}, message)
        return AccessChange(user, role, previous.role if previous else None,
                            "changed" if previous else "granted")

    def access_revoke(self, user: str, *, message: str | None = None) -> AccessChange:
        """Remove ``user``'s grant (they become a reader); the last admin cannot be revoked.
        ``message`` (why) is kept in the audit event."""
        from mvc.results.trust import AccessChange

        from mvc.core import access

        access.check_user(user)
        with self.session.change("admin", "access", user) as work:
            previous = access.plan_revoke(self.registry, user)
            self.registry.delete_grant(user)
            work.event("access", user, {"revoke": previous.role}, message)
        return AccessChange(user, None, previous.role, "revoked")

    # -- the audit trail ----------------------------------------------------------------
    def audit(self, limit: int | None = None) -> list[AuditEvent]:
        """Events newest first (every change since ``init``, and every refusal)."""
        from mvc.results.trust import AuditEvent

        if limit is not None and (isinstance(limit, bool) or limit < 1):
            raise UserError("--limit must be at least 1")
        return [AuditEvent(**e.to_dict()) for e in self.registry.events(limit)]

    def audit_verify(self) -> AuditCheck:
        """Recompute the hash chain from event 1; ``ok`` false names the first broken link."""
        from mvc.results.trust import AuditCheck

        from mvc.core.audit import find_broken_link

        events = list(reversed(self.registry.events()))
        broken = find_broken_link(events)
        if broken is None:
            return AuditCheck(True, len(events), None, f"the audit chain of {len(events)} event(s) is intact")
        return AuditCheck(False, len(events), broken[0], f"the audit chain is broken at event {broken[0]}: {broken[1]}")

    # -- objects ------------------------------------------------------------------------
    def verify(self, refs: Iterable[str] = (), *, progress: Progress = None) -> VerifyReport:
        """Re-hash every stored object, or those the versions ``refs`` name need (for a
        directory: its manifest and every file). ``ok`` false lists each missing or corrupt one."""
        from mvc.results.trust import ObjectProblem, VerifyReport

        from mvc.core.integrity import check_objects, needed_objects

        wanted = list(refs)
        rows = None
        if wanted:
            by_id = {}
            for ref in wanted:
                row = self._resolve(ref)
                by_id[row.id] = row
            rows = list(by_id.values())
        needs = needed_objects(self.registry, self.store, rows)
        checked, nbytes, findings = check_objects(self.store, needs, include_all=not wanted, progress=progress)
        problems = tuple(ObjectProblem(f.digest, f.problem, f.used_by) for f in findings)
        return VerifyReport(not problems, checked, nbytes, problems)

    def _grace(self) -> float:
        return float(self.config.value("gc.grace_seconds"))

    def fsck(self, *, repair: bool = False, progress: Progress = None) -> FsckReport:
        """Check registry, objects, temporary files, lineage file, audit chain and deploy
        slots against each other; ``repair`` rebuilds what can be derived and removes stray
        temporary files, never an object a version needs. ``ok`` false: something is left."""
        from mvc.results.trust import FsckProblem, FsckReport

        from mvc.core import fsck

        found = fsck.check(self.registry, self.store, self.layout, grace=self._grace(),
                           extra_checks=self._fsck_extra_checks(), progress=progress)
        fixable = [i for i in found.issues if i.fix is not None]
        if repair and fixable:
            with self.session.change("maintainer", "fsck", str(self.layout.mvc_dir)) as work:
                for issue in fixable:
                    if issue.under_lock:
                        issue.fix()
                work.event("fsck", str(self.layout.mvc_dir),
                            {"repaired": sorted({i.kind for i in fixable}), "count": len(fixable)})
            for issue in fixable:
                if not issue.under_lock:  # deploy folders: their fix takes the channel's lock
                    issue.fix()
        problems = tuple(FsckProblem(i.kind, i.message, repair and i.fix is not None) for i in found.issues)
        return FsckReport(all(p.repaired for p in problems), repair, found.versions, found.objects,
                          found.events, problems, tuple(found.notes))

    def _fsck_extra_checks(self) -> tuple:
        """The deploy folders (``fsck.deploy_issues``), checked with this session."""
        from mvc.core.fsck import deploy_issues

        return (lambda: deploy_issues(self.session),)

    def stats(self, *, remote: bool = False) -> StatsResult:
        """Models and versions (archived included), the objects in ``.mvc/objects``, the
        bytes the versions hold (``logical``: the sum of their sizes), the bytes the objects
        take (``stored``) and ``ratio`` = logical / stored (above 1 when versions share
        objects). With ``remote``, the same for the default remote, where the versions
        counted are those whose objects are all there."""
        from mvc.results.trust import StatsResult

        from mvc.core.integrity import object_size

        rows = self.registry.versions()
        digests = list(self.store.iter_digests())
        stored = sum(object_size(self.store, d) for d in digests)
        logical = sum(r.size for r in rows)
        return StatsResult(len({r.model for r in rows}), len(rows), len(digests), logical, stored,
                           _ratio(logical, stored), self._remote_stats(rows) if remote else None)

    def _remote_stats(self, rows: list) -> RemoteStats:
        from mvc.results.trust import RemoteStats

        from mvc.core.integrity import needed_objects

        target = self._remote(None)
        sizes = target.sizes()
        there = []
        for row in rows:
            needs = needed_objects(self.registry, self.store, [row])
            if not needs.unreadable and all(d in sizes for d in needs.by_digest):
                there.append(row)
        logical, stored = sum(r.size for r in there), sum(sizes.values())
        return RemoteStats(len({r.model for r in there}), len(there), len(sizes), logical, stored,
                           _ratio(logical, stored), target.name, target.location)

    def gc(self, *, dry_run: bool = False, grace: float | None = None) -> GcResult:
        """Delete objects that no version (archived included) needs and that are older than
        ``grace`` seconds (default: config ``gc.grace_seconds``; 0 prunes every unreferenced
        object now, like git's ``--prune=now``); with ``dry_run``, only say what would go.
        Needs admin."""
        import math

        from mvc.results.trust import GcResult

        from mvc.core import gc

        if grace is None:
            grace = self._grace()
        elif isinstance(grace, bool) or not isinstance(grace, (int, float)) or not math.isfinite(grace) or grace < 0:
            raise UsageError(f"--grace must be a number of seconds, 0 or more, not {grace!r}")
        if dry_run:
            done = gc.collect(self.registry, self.store, dry_run=True, grace=grace)
        else:
            with self.session.change("admin", "gc", "objects") as work:
                done = gc.collect(self.registry, self.store, dry_run=False, grace=grace)
                if done.digests:
                    work.event("gc", "objects", {"objects": len(done.digests), "bytes": done.bytes})
        return GcResult(dry_run, len(done.digests), done.bytes, done.digests, done.referenced,
                        done.kept_recent, float(grace))


def _ratio(logical: int, stored: int) -> float | None:
    return round(logical / stored, 3) if stored else None
