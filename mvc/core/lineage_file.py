"""``.mvc/lineage.json``: the lineage graph as networkx node-link JSON, derived from the
registry (SPEC §3 "Lineage", §6).

The registry is the source of truth; this file is a local copy for other tools. No command
pays for it in proportion to the registry: ``mvc add`` does not touch it, and whoever reads
it (``mvc lineage``, ``mvc fsck``) brings it up to date when it is behind. The file records
the registry state it reflects in its ``graph`` attributes (``last_version_id``: the newest
version it holds; ``versions`` and ``inputs``: how many version and lineage rows went into
it). Lineage rows are written with their version and never change afterwards, so the rows
of the versions newer than ``last_version_id`` are all that is missing: they are appended
to the two arrays without parsing the rest of the file. A file that does not have that
shape (unreadable, cut short, written by an older mvc) is rebuilt whole.

Written with plain Python (json), never networkx: ``mvc`` must start fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mvc.core.atomic import write_atomic
from mvc.core.lineage import EDGE_TYPES, input_id, input_node, model_id

if TYPE_CHECKING:
    from mvc.core.registry.base import LineageRows, Registry

# The exact bytes ``document_bytes`` writes around the graph attributes and the two arrays:
# JSON escapes every quote inside a string, so ``],"edges":[`` only occurs where it ends
# the nodes.
_HEAD = b'{"directed":true,"multigraph":false,"graph":'
_NODES = b',"nodes":['
_EDGES = b'],"edges":['
_TAIL = b"]}\n"
_HEAD_BYTES = 4096  # enough for the graph attributes


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _parts(rows: "LineageRows", known: dict[int, str],
           present: Callable[[str], bool]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The nodes and edges that ``rows`` add to a graph that already holds the versions in
    ``known`` (id -> node id) and the input nodes for which ``present(node id)`` is true."""
    nodes: list[dict[str, Any]] = []
    ids = dict(known)
    for vid, model, version, digest, _archived in rows.versions:
        nid = model_id(model, version)
        ids[vid] = nid
        nodes.append({"id": nid, "type": "model", "model": model, "version": version, "digest": digest})
    inputs_seen: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    seen_edges: set[tuple[str, str]] = set()
    for vid, kind, digest, path, detail, parent_id in rows.inputs:
        target = ids.get(vid)
        if target is None:
            continue
        if kind == "model":
            source = ids.get(parent_id) if parent_id is not None else None
            if source is None:
                continue
        elif kind in ("data", "code") and digest:
            source = input_id(kind, digest)
            if source not in inputs_seen and not present(source):
                inputs_seen[source] = input_node(source, kind, digest, path, detail)
        else:
            continue
        if (source, target) not in seen_edges:
            seen_edges.add((source, target))
            edges.append({"source": source, "target": target, "type": EDGE_TYPES[kind]})
    nodes.extend(inputs_seen.values())
    return nodes, edges


def _graph(versions: int, inputs: int, last_version_id: int) -> dict[str, int]:
    return {"versions": versions, "inputs": inputs, "last_version_id": last_version_id}


def document(rows: "LineageRows") -> dict[str, Any]:
    """networkx node-link JSON (``edges`` key) of every version and input in ``rows``."""
    nodes, edges = _parts(rows, {}, lambda nid: False)
    last = max((v[0] for v in rows.versions), default=0)
    return {
        "directed": True, "multigraph": False,
        "graph": _graph(len(rows.versions), len(rows.inputs), last),
        "nodes": nodes, "edges": edges,
    }


def empty_bytes() -> bytes:
    """The file of a registry with no versions (what ``mvc init`` writes)."""
    return document_bytes({"directed": True, "multigraph": False, "graph": _graph(0, 0, 0),
                           "nodes": [], "edges": []})


def document_bytes(doc: dict[str, Any]) -> bytes:
    return _dumps(doc) + b"\n"


def write_file(registry: "Registry", path: Path, tmp_dir: Path | None = None) -> dict[str, Any]:
    """Rewrite the lineage file from the whole registry, atomically; returns the document."""
    doc = document(registry.lineage_rows())
    write_atomic(path, document_bytes(doc), tmp_dir=tmp_dir)
    return doc


def read_file(path: Path) -> dict[str, Any] | None:
    """The lineage file's document, or None when it is missing or unreadable."""
    try:
        doc = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return None
    if not (isinstance(doc, dict) and isinstance(doc.get("nodes"), list) and isinstance(doc.get("edges"), list)):
        return None
    return doc


def file_matches(doc: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """Whether a lineage file's document describes what the registry holds now."""
    return doc is not None and doc.get("graph") == current["graph"] and (
        len(doc["nodes"]), len(doc["edges"])) == (len(current["nodes"]), len(current["edges"]))


def _recorded(head: bytes) -> dict[str, int] | None:
    """The graph attributes at the start of a file ``document_bytes`` wrote, or None."""
    if not head.startswith(_HEAD):
        return None
    end = head.find(_NODES, len(_HEAD))
    try:
        graph = json.loads(head[len(_HEAD):end]) if end > 0 else None
    except ValueError:
        return None
    keys = ("versions", "inputs", "last_version_id")
    if not isinstance(graph, dict) or not all(type(graph.get(k)) is int for k in keys):
        return None
    return graph


def _is_current(path: Path, last_version_id: int) -> bool:
    """Cheap: the file begins with graph attributes naming ``last_version_id`` and ends
    whole. Reads a few kilobytes, whatever the file's size."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
            f.seek(0, 2)
            if f.tell() < len(_TAIL):
                return False
            f.seek(-len(_TAIL), 2)
            tail = f.read()
    except OSError:
        return False
    graph = _recorded(head)
    return tail == _TAIL and graph is not None and graph["last_version_id"] == last_version_id


def _extended(registry: "Registry", data: bytes) -> bytes | None:
    """``data`` with the versions added since it was written appended; None when ``data``
    does not have the shape ``document_bytes`` gives it."""
    graph = _recorded(data[:_HEAD_BYTES])
    if graph is None or not data.endswith(_TAIL):
        return None
    start = data.find(_NODES, len(_HEAD)) + len(_NODES)
    middle = data.rfind(_EDGES)
    if middle < start:
        return None
    old_nodes, old_edges = data[start:middle], data[middle + len(_EDGES):-len(_TAIL)]
    after = graph["last_version_id"]
    rows = registry.lineage_rows(after=after)
    parents = {r[5] for r in rows.inputs if r[1] == "model" and r[5] is not None and r[5] <= after}
    known = {vid: model_id(m, v) for vid, (m, v, _d) in registry.version_keys(sorted(parents)).items()}
    nodes, edges = _parts(rows, known, lambda nid: b'{"id":' + _dumps(nid) + b"," in old_nodes)

    def joined(old: bytes, new: list[dict[str, Any]]) -> bytes:
        added = b",".join(_dumps(x) for x in new)
        return old + b"," + added if old and added else old + added

    last = max((v[0] for v in rows.versions), default=after)
    head = _HEAD + _dumps(_graph(graph["versions"] + len(rows.versions),
                                 graph["inputs"] + len(rows.inputs), last))
    return head + _NODES + joined(old_nodes, nodes) + _EDGES + joined(old_edges, edges) + _TAIL


def bring_up_to_date(registry: "Registry", path: Path, tmp_dir: Path | None = None, *,
                     rebuild: bool = True) -> str:
    """Make the lineage file describe the registry: ``"current"`` when it did already,
    ``"extended"`` when the versions added since were appended, ``"rebuilt"`` when it was
    missing or damaged and written whole again (only with ``rebuild``), ``"damaged"`` when
    it was and ``rebuild`` is false (fsck reports it instead).

    Needs no lock: the attributes written with the rows always name the state they hold,
    and the file is replaced atomically, so two readers that both bring it up to date can
    only leave one of two right answers. (A file written from a registry whose versions
    were committed out of id order lacks the late ones; fsck finds and rebuilds it.)
    """
    last = registry.last_version_id()
    if _is_current(path, last):
        return "current"
    try:
        data = Path(path).read_bytes()
    except OSError:
        data = b""
    graph = _recorded(data[:_HEAD_BYTES])
    new = _extended(registry, data) if graph is not None and graph["last_version_id"] <= last else None
    if new is not None:
        write_atomic(path, new, tmp_dir=tmp_dir)
        return "extended"
    if not rebuild:
        return "damaged"
    write_file(registry, path, tmp_dir)
    return "rebuilt"
