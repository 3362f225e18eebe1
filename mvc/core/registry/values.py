"""Reading registry values back, and telling damage apart (SPEC §10).

A value the registry hands out has been checked: JSON fields parse, versions are versions
within the limits, digests are digests. Damage found while reading is an IntegrityError
(exit 3) that names the row and tells the user to run ``mvc fsck``; ``problems_of_version``
and friends list every problem of a row for fsck, which scans them all. Backend-neutral:
the backends pass their raw rows in.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from mvc.core.errors import IntegrityError
from mvc.core.names import DIGEST_RE
from mvc.core.registry.base import LineageInput, Listing, VersionRow
from mvc.core.semver import all_canonical, is_canonical, parse_version

KINDS = ("file", "directory")
_JSON_FIELDS = ((8, "metrics"), (9, "params"), (10, "env"), (11, "git"))


def damaged(what: str) -> IntegrityError:
    return IntegrityError(f"the registry is damaged: {what}; run 'mvc fsck' and restore the registry from a backup")


def _label(r: tuple) -> str:
    model, version = r[1], r[2]
    if isinstance(version, str) and is_canonical(version):
        return f"{model}@{version}"
    return f"version row {r[0]} of model {model}"


def _json_object(text: Any) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (TypeError, ValueError, RecursionError):
        return False


def problems_of_version(r: tuple) -> list[str]:
    """What is wrong with one raw version row (id, model, version, digest, size, kind, path_name,
    message, metrics, params, env, git, created_at, created_by, archived)."""
    out = []
    if not is_canonical(r[2]):
        shown = repr(r[2][:40]) + "…" if isinstance(r[2], str) and len(r[2]) > 40 else repr(r[2])
        out.append(f"the version {shown} of model {r[1]} (row {r[0]}) is malformed")
    where = _label(r)
    if not isinstance(r[3], str) or not DIGEST_RE.match(r[3]):
        out.append(f"the digest of {where} ({str(r[3])[:80]!r}) is malformed")
    if r[5] not in KINDS:
        out.append(f"the kind of {where} ({r[5]!r}) is neither file nor directory")
    if not isinstance(r[4], int) or isinstance(r[4], bool) or r[4] < 0:
        out.append(f"the size of {where} ({r[4]!r}) is not a byte count")
    for index, name in _JSON_FIELDS:
        if not _json_object(r[index]):
            out.append(f"the {name} of {where} are not a valid JSON object")
    return out


def version_row(r: tuple) -> VersionRow:
    """A checked VersionRow from a raw row; damage raises IntegrityError naming the row."""
    try:
        row = VersionRow(
            id=r[0], model=r[1], version=r[2], digest=r[3], size=r[4], kind=r[5], path_name=r[6],
            message=r[7], metrics=json.loads(r[8]), params=json.loads(r[9]), env=json.loads(r[10]),
            git=json.loads(r[11]), created_at=r[12], created_by=r[13], archived=bool(r[14]),
        )
    except (TypeError, ValueError, RecursionError):
        row = None
    if row is None or not is_canonical(row.version) or not isinstance(row.digest, str) \
            or not DIGEST_RE.match(row.digest) or row.kind not in KINDS \
            or not isinstance(row.size, int) or isinstance(row.size, bool) or row.size < 0 \
            or not all(isinstance(v, dict) for v in (row.metrics, row.params, row.env, row.git)):
        problems = problems_of_version(r) or [f"{_label(r)} cannot be read"]
        raise damaged(problems[0])
    return row


# the columns of Registry.list_versions's rows in SQL (v: versions): what a listing shows, then
# the backend's verdict (true or 1) that the JSON fields it does not show, UNSHOWN, are objects,
# so that their texts (env and git: a few hundred bytes a version) need not travel and be decoded
LISTED_COLUMNS = "v.version, v.digest, v.created_at, v.metrics, v.archived"
UNSHOWN = ("params", "env", "git")


def _json_objects(texts: tuple) -> list | None:
    """The JSON object of each text, read by json's C reader in one go (the texts as one
    array), or None when one is not a JSON object. (Texts damaged so as to fit each other
    into as many objects, such as '{"a":"' before '"}' and then '{},{}', would pass.)"""
    try:
        values = json.loads("[" + ",".join(texts) + "]")
    except (TypeError, ValueError, RecursionError):
        return None
    return values if len(values) == len(texts) and set(map(type, values)) <= {dict} else None


def listing(rows: list) -> Listing | None:
    """The Listing of raw rows of LISTED_COLUMNS and the verdict on UNSHOWN, the metrics
    decoded, each value checked as version_row checks it but in bulk (100,000 rows in a few
    C calls), or None when one is damaged: the caller then reads the full rows, whose
    version_row names the damage."""
    if not rows:
        return Listing([], [], [], [], [])
    versions, digests, created, metrics, archived, objects = zip(*rows)
    decoded = _json_objects(metrics)
    try:
        fine = decoded is not None and all_canonical(versions) and all(map(DIGEST_RE.match, digests)) \
            and objects.count(True) == len(objects)
    except TypeError:  # a digest that is not a text
        fine = False
    return Listing(list(versions), list(digests), list(created), decoded, list(map(bool, archived))) if fine else None


def detail(text: Any, where: str) -> dict[str, Any]:
    """A JSON object field (a lineage input's detail, an event's details), checked."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise damaged(f"the {where} are not a valid JSON object")
    return value


def lineage_input(version_id: int, r: tuple) -> LineageInput:
    """A version's lineage input from its row (kind, digest, path, detail, the parent's model
    and version), checked as ``fsck`` checks it: an unknown kind or a malformed digest is the
    damaged-registry error, not an internal one in ``show``."""
    where = f"a lineage input of version row {version_id}"
    if r[0] not in ("data", "code", "model"):
        raise damaged(f"the kind of {where} ({str(r[0])[:40]!r}) is unknown")
    if r[0] in ("data", "code") and (not isinstance(r[1], str) or not DIGEST_RE.match(r[1])):
        raise damaged(f"the digest of {where} ({str(r[1])[:80]!r}) is malformed")
    return LineageInput(kind=r[0], digest=r[1], path=r[2], detail=detail(r[3], f"detail of {where}"),
                        parent=(r[4], r[5]) if r[4] is not None else None)


def problems_of_input(r: tuple) -> list[str]:
    """What is wrong with one raw lineage row (id, version_id, kind, digest, detail)."""
    where = f"lineage row {r[0]} (of version row {r[1]})"
    out = []
    if r[2] not in ("data", "code", "model"):
        out.append(f"the kind of {where} ({r[2]!r}) is unknown")
    if r[2] in ("data", "code") and (not isinstance(r[3], str) or not DIGEST_RE.match(r[3])):
        out.append(f"the digest of {where} ({str(r[3])[:80]!r}) is malformed")
    if not _json_object(r[4]):
        out.append(f"the detail of {where} are not a valid JSON object")
    return out


def problems_of_event(seq: int, details: Any) -> list[str]:
    return [] if _json_object(details) else [f"the details of audit event {seq} are not a valid JSON object"]


def problems_of_references(execute: Callable[[str], list], schema: str = "") -> list[str]:
    """What the reads take on trust, as fsck finds it: a channel (its version or canary) or a
    tag whose version row belongs to another model (the reads take the model from the channel
    or tag and only the version's text from the row), and a version whose ``sort_key`` is not
    its version's (it decides which version is the latest, and so the next number)."""
    t = schema
    out = []
    for table, name, column in (("channels", "channel", "version_id"), ("channels", "channel", "canary_version_id"),
                                ("tags", "label", "version_id")):
        for model, label in execute(
                f"SELECT m.name, x.{name} FROM {t}{table} x JOIN {t}versions v ON v.id = x.{column}"
                f" JOIN {t}models m ON m.id = x.model_id WHERE v.model_id <> x.model_id ORDER BY m.name, x.{name}"):
            out.append(f"the registry's {table} row {model}@{label}: {column} names a version of another model; "
                       "correct that row in the registry")
    for model, version, key in execute(f"SELECT m.name, v.version, v.sort_key FROM {t}versions v"
                                       f" JOIN {t}models m ON m.id = v.model_id ORDER BY v.id"):
        if is_canonical(version) and key != parse_version(version).text_key():
            out.append(f"the registry's versions row {model}@{version}: sort_key {str(key)[:60]!r} is not its "
                       "version's, so it misorders the model's versions (the latest, the next number); correct "
                       "that row in the registry")
    return out


def next_link(last: tuple | None) -> tuple[int, str]:
    """(seq, prev) of the event to append after the newest one's (seq, hash); damage (exit 3)
    when they are not a number and a hash (a column altered or written by hand)."""
    from mvc.core.audit import GENESIS

    if last is None:
        return 1, GENESIS
    seq, digest = last
    if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(digest, str):
        raise damaged(f"the newest audit event's seq {str(seq)[:40]!r} or hash {str(digest)[:70]!r} is not a number "
                      "and a hash")
    return seq + 1, digest
