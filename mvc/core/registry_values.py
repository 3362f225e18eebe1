"""Registry values that become paths or decisions, checked where mvc uses them (SPEC §10).

A shared registry (PostgreSQL) is written by other people's machines, and any registry can be
edited by hand, so a value read from it is never trusted to name a path or make a decision:
a channel's slot must be one of ``blue``/``green``, a version's stored file name
(``path_name``) one plain path component, its metrics finite numbers (``diff`` recommends by
them), a model name what ``check_model_name`` accepts, a canary's share 0 to 100 and a role
one of ``access.ROLES``. A bad value raises IntegrityError (exit 3) naming the row
and the value before anything is written or deleted; ``problems`` lists every one for
``mvc fsck`` (kind ``registry-value``), whose ``--repair`` never acts on them.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple

from mvc.core.access import ROLES
from mvc.core.errors import IntegrityError, MvcError, UserError
from mvc.core.names import check_model_name

if TYPE_CHECKING:
    from mvc.core.objects import ObjectStore
    from mvc.core.registry.base import ChannelRow, Registry, VersionRow

SLOTS = ("blue", "green")  # a channel's two deploy slots (deploy.py)
KINDS = ("file", "directory")
KIND = "registry-value"  # the kind of fsck problem


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 240 else text[:237] + "..."


def bad(where: str, column: str, value: Any, why: str) -> IntegrityError:
    """The error for one bad value: which row, which column, the value, and what to do."""
    return IntegrityError(
        f"the registry's {where}: {column} {_shown(value)} {why}; nothing was written or deleted "
        f"through it: correct that row in the registry ('mvc fsck' lists every such value)")


def model(name: Any, where: str) -> str:
    try:
        return check_model_name(name)
    except UserError:
        raise bad(where, "model", name, "is not a valid model name") from None


def is_plain_name(name: Any) -> bool:
    """One path component: not empty, not '.' or '..', no '/', '\\' or NUL."""
    return (isinstance(name, str) and name not in ("", ".", "..")
            and not any(c in name for c in "/\\\x00"))


def version(row: "VersionRow") -> "VersionRow":
    """``row`` when its model name, kind and stored file name are sound."""
    return _first(_version_faults(row), row)


def metrics(row: "VersionRow") -> dict[str, Any]:
    """``row.metrics`` when it maps each name to a finite number, as ``add`` stores them (a
    value edited by hand to NaN or text would pass for another recommendation in ``diff``)."""
    return _first(_metric_faults(row), row.metrics)


def channel(row: "ChannelRow") -> "ChannelRow":
    """``row`` when its model name, slot and canary share are sound."""
    return _first(_channel_faults(row), row)


def role(user: str, held: Any) -> str:
    if held not in ROLES:
        raise bad(f"grant of {_shown(user)}", "role", held,
                  f"is not one of {', '.join(ROLES)}; an admin can set it again with "
                  f"'mvc access grant {user} ROLE'")
    return held


def _first(faults: Iterator[IntegrityError], value: Any) -> Any:
    for exc in faults:
        raise exc
    return value


def _model_faults(name: Any, where: str) -> Iterator[IntegrityError]:
    try:
        model(name, where)
    except IntegrityError as exc:
        yield exc


def _version_faults(row: "VersionRow") -> Iterator[IntegrityError]:
    """Each bad value of a versions row (fsck names them all, a command stops at the first)."""
    where = f"versions row {row.model}@{row.version}"
    yield from _model_faults(row.model, f"versions row {_shown(row.model)}@{row.version}")
    if row.kind not in KINDS:
        yield bad(where, "kind", row.kind, "is neither 'file' nor 'directory'")
    if not is_plain_name(row.path_name):
        yield bad(where, "path_name", row.path_name,
                  "is not one plain file name (no '/', no '..', not empty)")


def _metric_faults(row: "VersionRow") -> Iterator[IntegrityError]:
    where = f"versions row {row.model}@{row.version}"
    if not isinstance(row.metrics, dict):
        yield bad(where, "metrics", row.metrics, "is not a JSON object of metric names and numbers")
        return
    for key, value in row.metrics.items():
        # an int beyond a float's range (mvc once stored any digits) cannot be compared: math.isfinite
        # raises OverflowError on it
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= sys.float_info.max:
            yield bad(where, f"metric {key!r}", value, "is not a finite number")


def _param_faults(row: "VersionRow") -> Iterator[IntegrityError]:
    """Params hold JSON; NaN and Infinity are not JSON (an older mvc stored them; shown as
    null), and SQL's JSON functions refuse the whole value, so 'ls --where' on it is exit 3."""
    where = f"versions row {row.model}@{row.version}"
    if not isinstance(row.params, dict):
        yield bad(where, "params", row.params, "is not a JSON object of parameter names and values")
        return
    for key, value in row.params.items():
        if not _strict_json(value):
            yield bad(where, f"param {key!r}", value, "is not valid JSON (NaN or Infinity)")


def _strict_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)  # what every JSON reader takes (as metrics.checked_param asks)
    except ValueError:
        return False
    return True


def _channel_faults(row: "ChannelRow") -> Iterator[IntegrityError]:
    where = f"channels row {row.model}@{row.channel}"
    yield from _model_faults(row.model, f"channels row {_shown(row.model)}@{row.channel}")
    if row.slot is not None and row.slot not in SLOTS:
        yield bad(where, "slot", row.slot, "is neither 'blue' nor 'green'")
    if row.version is not None and row.slot is None:
        yield bad(where, "slot", row.slot, "names no slot for the version it serves")
    percent = row.canary_percent
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        yield bad(where, "canary_percent", percent, "is not a whole number from 0 to 100")


# -- every value at once, for fsck -------------------------------------------------------------

class Problem(NamedTuple):
    message: str
    digest: str | None = None  # an intact object the registry calls a directory: not its fault


def problems(registry: "Registry", store: "ObjectStore",
             channels: "tuple[str, ...] | list[str]" = ()) -> list[Problem]:
    """Every bad value the registry holds (see the module docstring; a tag label must also be
    no channel's name), each lineage cycle, and each directory version whose object is not a
    directory manifest."""
    found: list[Problem] = []

    def check(fn: Any, *args: Any, digest: str | None = None) -> None:
        try:
            fn(*args)
        except IntegrityError as exc:
            found.append(Problem(exc.message, digest))

    for row in registry.versions():
        found.extend(Problem(exc.message) for exc in (*_version_faults(row), *_metric_faults(row), *_param_faults(row)))
        if row.kind == "directory":
            check(_manifest, store, row, digest=row.digest)
    for row in registry.channels():
        found.extend(Problem(exc.message) for exc in _channel_faults(row))
    for grant in registry.grants():
        check(role, grant.user, grant.role)
    for name, label, _, _ in registry.tags():
        check(_label, name, label, channels)
    found.extend(Problem(m) for m in _cycles(registry))
    return found


def _label(name: str, label: str, channels: "tuple[str, ...] | list[str]") -> None:
    from mvc.core.names import is_valid_name
    from mvc.core.semver import looks_like_version

    if not is_valid_name(label) or label == "latest" or looks_like_version(label):
        raise bad(f"tags row {_shown(name)}", "label", label, "is not a valid tag")
    if label in channels:
        raise bad(f"tags row {_shown(name)}", "label", label,
                  "is a channel's name, which a ref would mean instead")


def _manifest(store: "ObjectStore", row: "VersionRow") -> None:
    """A directory version whose object is whole (it hashes to its name) but holds no
    manifest: the registry's kind is wrong, not the object."""
    from mvc.core.artifacts import parse_manifest

    try:
        data = store.read_bytes(row.digest)  # verified: a corrupt or missing object raises
    except (MvcError, OSError):
        return  # the object check names it
    try:
        parse_manifest(data)
    except IntegrityError:
        raise bad(f"versions row {row.model}@{row.version}", "kind", row.kind,
                  f"does not fit its object {row.digest} (intact, and not a directory manifest)") from None


def _cycles(registry: "Registry") -> list[str]:
    """A cycle of lineage parents (a version that is its own ancestor) in each tangle of them
    (networkx: each strongly connected component that loops). A registry without parent links
    has none, and does not pay networkx's import (0.2 s, most of a small fsck)."""
    lineage = registry.lineage_rows()
    if not any(parent is not None for *_, parent in lineage.inputs):
        return []
    import networkx as nx

    names = {vid: f"{m}@{v}" for vid, m, v, _, _ in lineage.versions}
    g = nx.DiGraph((vid, parent) for vid, _, _, _, _, parent in lineage.inputs if parent is not None)
    found = []
    for component in sorted(nx.strongly_connected_components(g), key=min):
        if len(component) == 1 and not g.has_edge(*component, *component):
            continue
        edges = nx.find_cycle(g.subgraph(component), source=min(component))
        loop = [u for u, _ in edges] + [edges[0][0]]
        found.append(f"the registry's lineage has a cycle ({' -> '.join(names.get(i, str(i)) for i in loop)}): "
                     f"a version cannot be its own ancestor; correct the lineage rows in the registry")
    return found
