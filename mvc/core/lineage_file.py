"""``.mvc/lineage.json``: the lineage graph as networkx node-link JSON, derived from the
registry (SPEC §3 "Lineage", §6).

The registry is the source of truth; this file is a local copy for other tools. No command
pays for it in proportion to the registry: ``mvc add`` does not touch it, and whoever reads
it (``mvc lineage``, ``mvc fsck``) brings it up to date when it is behind. The file records
the registry state it reflects in its ``graph`` attributes (``last_version_id``: the newest
version it holds; ``versions`` and ``inputs``: how many version and lineage rows went into
it) and where its parts end. Lineage rows are written with their version and never change,
so the rows of the versions newer than ``last_version_id`` are all that is missing: their
nodes are written into the blank space left at the end of the ``nodes`` array, their edges
at the end of the file, and the attributes last; JSON allows the blanks. When the space is
used up, or the file does not have that shape (unreadable, cut short, written by an older
mvc), it is written whole again, with room for about a quarter more nodes.

Written with plain Python (json), never networkx: ``mvc`` must start fast.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mvc.core.atomic import write_atomic
from mvc.core.lineage import EDGE_TYPES, input_id, input_node, model_id

if TYPE_CHECKING:
    from mvc.core.registry.base import LineageRows, Registry

# The layout ``document_bytes`` writes: the graph attributes padded with blanks to
# _HEADER_SIZE bytes, the nodes followed by blank room for more, then the edges.
_HEAD = b'{"directed":true,"multigraph":false,"graph":'
_NODES = b',"nodes":['
_EDGES = b'],"edges":['
_TAIL = b"]}\n"
_HEADER_SIZE = 512
_NODES_START = _HEADER_SIZE + len(_NODES)
_MIN_ROOM = 16 << 10
_ROOM_SHARE = 4  # room for a quarter more nodes, so that writing whole is rare
_STATE = ("versions", "inputs", "last_version_id")
_OFFSETS = ("nodes_end", "room_end", "edges_end")


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


def _header(graph: dict[str, int]) -> bytes:
    """The graph attributes, padded to _HEADER_SIZE (longer only past 10**100 versions)."""
    head = _HEAD + _dumps(graph)
    return head + b" " * (_HEADER_SIZE - len(head))


def document_bytes(doc: dict[str, Any]) -> bytes:
    """The file's bytes for ``doc`` (whose graph attributes name its registry state)."""
    nodes = b",".join(_dumps(n) for n in doc["nodes"])
    edges = b",".join(_dumps(e) for e in doc["edges"])
    room = max(_MIN_ROOM, len(nodes) // _ROOM_SHARE)
    nodes_end = _NODES_START + len(nodes)
    edges_start = nodes_end + room + len(_EDGES)
    offsets = {"nodes_end": nodes_end, "room_end": nodes_end + room, "edges_end": edges_start + len(edges)}
    graph = {k: doc["graph"].get(k, 0) for k in _STATE}
    return _header({**graph, **offsets}) + _NODES + nodes + b" " * room + _EDGES + edges + _TAIL


def write_file(registry: "Registry", path: Path, tmp_dir: Path | None = None) -> dict[str, Any]:
    """Write the lineage file whole from the registry, atomically; returns the document."""
    doc = document(registry.lineage_rows())
    write_atomic(path, document_bytes(doc), tmp_dir=tmp_dir)
    return doc


def read_file(path: Path) -> dict[str, Any] | None:
    """The lineage file's document, or None when it is missing or unreadable."""
    try:
        with os.fdopen(_open_file(path, os.O_RDONLY), "rb") as f:
            doc = json.loads(f.read())
    except (OSError, ValueError):
        return None
    if not (isinstance(doc, dict) and isinstance(doc.get("nodes"), list) and isinstance(doc.get("edges"), list)):
        return None
    return doc


def file_matches(doc: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """Whether a lineage file's document describes what the registry holds now."""
    return doc is not None and all(doc.get("graph", {}).get(k) == current["graph"][k] for k in _STATE) and (
        len(doc["nodes"]), len(doc["edges"])) == (len(current["nodes"]), len(current["edges"]))


def _open_file(path: Path, flags: int) -> int:
    """A descriptor of the regular file at ``path``; OSError (EINVAL) for anything else, a
    FIFO above all, which would block the command for good."""
    fd = os.open(path, flags | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"{path} is not a regular file")
    return fd


def _recorded(head: bytes) -> dict[str, int] | None:
    """The graph attributes at the start of a file ``document_bytes`` wrote, or None."""
    if not head.startswith(_HEAD) or len(head) < _NODES_START or head[_HEADER_SIZE:_NODES_START] != _NODES:
        return None
    try:
        graph = json.loads(head[len(_HEAD):_HEADER_SIZE])
    except ValueError:
        return None
    if not isinstance(graph, dict) or not all(type(graph.get(k)) is int for k in _STATE + _OFFSETS):
        return None
    if not _NODES_START <= graph["nodes_end"] <= graph["room_end"] <= graph["edges_end"] - len(_EDGES):
        return None
    return graph


def _is_current(path: Path, last_version_id: int) -> bool:
    """Cheap: the file begins with graph attributes naming ``last_version_id`` and ends
    where they say. Reads a few hundred bytes, whatever the file's size."""
    try:
        with os.fdopen(_open_file(path, os.O_RDONLY), "rb") as f:
            graph = _recorded(f.read(_NODES_START))
            if graph is None or graph["last_version_id"] != last_version_id:
                return False
            f.seek(graph["edges_end"])
            return f.read(len(_TAIL) + 1) == _TAIL
    except OSError:
        return False


def _append(registry: "Registry", f: Any, last_version_id: int) -> str:
    """Write the versions added since the file ``f`` (open for update, locked) was written
    into it: "current", "extended", "full" (no room left for the nodes) or "damaged"."""
    graph = _recorded(f.read(_NODES_START))
    if graph is None or graph["last_version_id"] > last_version_id:
        return "damaged"  # not our layout, or from another registry
    if graph["last_version_id"] == last_version_id:
        return "current"  # someone else brought it up to date meanwhile
    f.seek(graph["room_end"])
    if f.read(len(_EDGES)) != _EDGES or os.fstat(f.fileno()).st_size < graph["edges_end"]:
        return "damaged"
    after = graph["last_version_id"]
    rows = registry.lineage_rows(after=after)
    parents = {r[5] for r in rows.inputs if r[1] == "model" and r[5] is not None and r[5] <= after}
    known = {vid: model_id(m, v) for vid, (m, v, _d) in registry.version_keys(sorted(parents)).items()}
    keys = [(r[1], r[2]) for r in rows.inputs if r[1] in ("data", "code") and r[2]]
    present = {input_id(k, d) for k, d in registry.inputs_recorded(keys, after)}
    nodes, edges = _parts(rows, known, present.__contains__)

    def items(new: list[dict[str, Any]], empty: bool) -> bytes:
        added = b",".join(_dumps(x) for x in new)
        return added if empty or not added else b"," + added

    new_nodes = items(nodes, graph["nodes_end"] == _NODES_START)
    new_edges = items(edges, graph["edges_end"] == graph["room_end"] + len(_EDGES))
    if graph["nodes_end"] + len(new_nodes) > graph["room_end"]:
        return "full"
    last = max((v[0] for v in rows.versions), default=after)
    header = _header({**_graph(graph["versions"] + len(rows.versions), graph["inputs"] + len(rows.inputs), last),
                      "nodes_end": graph["nodes_end"] + len(new_nodes), "room_end": graph["room_end"],
                      "edges_end": graph["edges_end"] + len(new_edges)})
    if len(header) > _HEADER_SIZE:
        return "full"
    # Edges, then nodes, then the attributes that name them: until the attributes are
    # written, the next reader writes the same bytes again at the same places.
    f.seek(graph["edges_end"])
    f.write(new_edges + _TAIL)
    f.truncate()
    f.seek(graph["nodes_end"])
    f.write(new_nodes)
    f.seek(0)
    f.write(header)
    f.flush()
    return "extended"


def bring_up_to_date(registry: "Registry", path: Path, tmp_dir: Path | None = None, *,
                     rebuild: bool = True) -> str:
    """Make the lineage file describe the registry: ``"current"`` when it did already,
    ``"extended"`` when the versions added since were written into it, ``"rebuilt"`` when
    it was written whole (no room left; or missing or damaged, only with ``rebuild``),
    ``"damaged"`` when it is and ``rebuild`` is false (fsck reports it instead).

    Readers that bring it up to date at once take turns (a lock on the file, held for the
    few writes an append takes). A file written from a
    registry whose versions were committed out of id order lacks the late ones; fsck finds
    and rebuilds it.
    """
    import fcntl

    last = registry.last_version_id()
    if _is_current(path, last):
        return "current"
    outcome = "damaged"
    for _ in range(3):  # a file replaced while we waited for its lock: try the new one
        try:
            # never write through a symlink someone put there: a link is "damaged", and the
            # rebuild below replaces the link itself, atomically
            fd = _open_file(path, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            break
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.EINVAL):
                raise
            break  # a link, a folder, a FIFO...: rebuilt in its place
        try:
            with os.fdopen(fd, "r+b") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                if os.fstat(f.fileno()).st_ino != os.stat(path).st_ino:
                    continue
                outcome = _append(registry, f, last)
        except FileNotFoundError:
            pass
        break
    if outcome in ("current", "extended"):
        return outcome
    if outcome == "damaged" and not rebuild:
        return "damaged"
    write_file(registry, path, tmp_dir)
    return "rebuilt"
