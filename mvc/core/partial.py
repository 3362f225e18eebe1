"""What a push or pull does when one version cannot move: a pull of several versions pulls
every version it can, then names those it could not (exit 3), as ``dvc pull`` does; an error
about a chunk or object names the versions that need it and what to run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from mvc.core.errors import IntegrityError, UserError

if TYPE_CHECKING:
    from mvc.core.integrity import Needs
    from mvc.core.objects import ObjectStore
    from mvc.core.registry.base import VersionRow


def _ref(row: "VersionRow") -> str:
    from mvc.core.refs import format_ref

    return format_ref(row.model, row.version)


def _why(row: "VersionRow", exc: IntegrityError) -> str:
    return exc.message if _ref(row) in exc.message else f"{_ref(row)} ({row.path_name}): {exc.message}"


def by_version(rows: Sequence["VersionRow"], run: Callable[[list], tuple]):
    """``run(rows)`` (a pull, returning sync.Transfer); when an object is missing or damaged,
    ``run([row])`` for each version, so that every version that can be pulled is, then one
    IntegrityError naming each version that could not, with its file and why."""
    try:
        return run(list(rows))
    except IntegrityError as exc:
        if len(rows) == 1:
            raise IntegrityError(_why(rows[0], exc)) if _ref(rows[0]) not in exc.message else exc from None
    done, failed = [], []
    for row in rows:
        try:
            done.append(run([row]))
        except IntegrityError as exc:
            failed.append((row, exc))
    if failed:
        pulled = [_ref(row) for row in rows if all(row is not f for f, _ in failed)]
        raise IntegrityError(f"could not pull {len(failed)} of {len(rows)} versions: "
                             + "; ".join(_why(row, exc) for row, exc in failed)
                             + f"; pulled {', '.join(pulled) if pulled else 'none of the others'}")
    return done[0]._replace(moved=tuple(d for t in done for d in t.moved), skipped=sum(t.skipped for t in done),
                            bytes=sum(t.bytes for t in done))


def push_failed(exc: IntegrityError, needs: "Needs", store: "ObjectStore") -> IntegrityError:
    """A push that met a missing or corrupt local object: the error names the versions whose
    objects the store lacks, and the way back (fsck names the damage, a pull fetches it)."""
    lacking = [d for d, chunks in needs.chunked.items() if any(store.locate(c) is None for c in chunks)]
    lacking += [d for d in needs.by_digest if d.startswith("sha256:") and d not in needs.chunked
                and not store.has(d)]
    # the object the error names (in a clone of a shared registry, many versions lack objects
    # that were never pulled here, and are not what stopped this push)
    lacking = [d for d in lacking if d in exc.message or any(c in exc.message for c in needs.chunked.get(d, ()))
               ] or lacking
    from mvc.core.integrity import ref_of

    versions = sorted({ref_of(who) for d in lacking for who in needs.by_digest.get(d, ())},
                      key=_by_version)
    if not versions or any(v in exc.message for v in versions):
        return exc
    return IntegrityError(f"{exc.message} (needed by {', '.join(versions)}); run 'mvc fsck', then "
                          f"'mvc pull {versions[0]}' from a remote that has it, or add its file again")


def _by_version(ref: str) -> tuple:
    """``model@version`` in the model's version order (0.1.2 before 0.1.11)."""
    from mvc.core.semver import parse_version

    model, _, version = ref.partition("@")
    try:
        return (model, 0, parse_version(version), "")
    except UserError:  # a damaged version: last, by its text
        return (model, 1, None, version)
