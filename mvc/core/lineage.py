"""The lineage graph (SPEC §3 "Lineage"): which data, code and parent models each version came
from, and which versions were built on a data file, a code file or a version.

The registry is the source of truth (``.mvc/lineage.json`` is derived from it: see
lineage_file.py); queries walk the registry's indexes and hold only the neighbourhood they
reach in a ``networkx.DiGraph``.
Node ids are ``model:NAME@VERSION``, ``data:sha256:HEX`` and ``code:sha256:HEX``; edges point
from input to output and carry the input's kind as their type (``data``, ``code``, ``parent``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from mvc.core.errors import MvcError, NotFoundError, UserError, option
from mvc.core.names import UNSAFE_CHARACTERS

if TYPE_CHECKING:
    import networkx as nx

    from mvc.core.registry.base import Registry

EDGE_TYPES = {"data": "data", "code": "code", "model": "parent"}
FORMATS = ("tree", "json", "dot", "mermaid")


def model_id(model: str, version: str) -> str:
    return f"model:{model}@{version}"


def input_id(kind: str, digest: str) -> str:
    return f"{kind}:{digest}"


# -- nodes ---------------------------------------------------------------------------------

def input_node(nid: str, kind: str, digest: str, path: str | None, detail: Any) -> dict[str, Any]:
    """The node of a data or code input (its digest, path, size and kind; a code file's commit)."""
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            detail = {}
    detail = detail if isinstance(detail, dict) else {}
    node: dict[str, Any] = {"id": nid, "type": kind, "digest": digest, "path": path,
                            "size": detail.get("size"), "kind": detail.get("kind")}
    if kind == "code":
        git = detail.get("git") if isinstance(detail.get("git"), dict) else {}
        # the commit that last touched it, and whether the file hashed differed from it (then
        # the commit does not hold the code that was used)
        node["commit"], node["dirty"] = git.get("commit"), git.get("dirty")
    return node


# -- the graph ---------------------------------------------------------------------------------

def locate(registry: "Registry", target: str, *, resolve: Callable[[str], tuple[str, str, int]],
           hash_path: Callable[[Path], Iterable[str]], warn: Callable[[str], None]) -> tuple[str, int | None]:
    """(node id, version id or None) of what ``target`` names: a node id, an existing PATH
    (hashed, then looked up as a data or code input), or a ref.

    ``resolve(ref)`` gives (model, version, version id); ``hash_path(path)`` the content
    digests add may have recorded for it, computed as they are asked for (the first as add
    records it by default).
    A PATH wins over a plain model name of the same spelling; ``NAME@latest`` says a model.
    """
    def recorded(kind: str, digest: str) -> bool:
        return bool(registry.lineage_outputs_of([], [(kind, digest)]))

    if target.startswith("model:"):
        model, version, vid = resolve(target[len("model:"):])
        return model_id(model, version), vid
    if target.startswith(("data:", "code:")):
        kind, digest = target.split(":", 1)
        if digest[:7] == "sha256:":  # hex digits in either case, as for a digest ref
            digest = "sha256:" + digest[7:].lower()
            target = f"{kind}:{digest}"
        if not recorded(kind, digest):
            raise NotFoundError(f"no version has {digest} as its --{kind} input")
        return target, None
    path = Path(target)
    plain = "@" not in target and not target.startswith("sha256:")
    if plain and path.exists():
        from mvc.core.inputs import check_input

        check_input(path, "path")  # hashing a FIFO or /dev/zero would never end
        digest = None
        for candidate in hash_path(path):
            digest = digest or candidate
            if recorded("data", candidate) or recorded("code", candidate):
                digest = candidate
                break
        kinds = [kind for kind in ("data", "code") if recorded(kind, digest)]
        if len(kinds) == 2:  # one node a lineage: the code side is named, not lost
            warn(f"{target} is also the --code of some versions: 'mvc lineage {input_id('code', digest)}' "
                 "shows them")
        if kinds:
            return input_id(kinds[0], digest), None
        raise NotFoundError(
            f"{target} ({digest[:19]}…) is not the --data or --code of any version; "
            f"no version was built from it{_model_hint(target, resolve)}"
        )
    if plain and path.is_symlink():  # to nothing or in a loop (it does not exist): say so, as add does
        from mvc.core.inputs import must_exist

        must_exist(path, "path")
    if plain and ("/" in target or "\\" in target):
        raise NotFoundError(f"path {target} does not exist")
    try:
        model, version, vid = resolve(target)
    except NotFoundError as exc:
        if not plain:
            raise
        raise NotFoundError(f"no file or directory {target}, and {exc.message}") from None
    return model_id(model, version), vid


def _model_hint(target: str, resolve: Callable[[str], tuple[str, str, int]]) -> str:
    """A path that is also a model's name: how to ask for the model instead."""
    try:
        resolve(f"{target}@latest")
    except MvcError:
        return ""
    return f" (for the model {target}, write {target}@latest)"


class Reach:
    """The lineage reads of a walk in one direction (lineage_inputs_of, lineage_outputs_of,
    version_keys), answered from the rows Registry.lineage_reach read in one query, in the
    order the registry gives them: one round trip instead of one per level of the graph."""

    def __init__(self, registry: "Registry", rows: list[tuple]):
        self.by_version: dict[int, list] = {}
        self.by_parent: dict[int, list] = {}
        self.by_input: dict[tuple[str, str], list] = {}
        for at, r in enumerate(rows):
            self.by_version.setdefault(r[0], []).append((at, r))
            if r[5] is not None:
                self.by_parent.setdefault(r[5], []).append((at, r))
            if r[1] in ("data", "code"):
                self.by_input.setdefault((r[1], r[2]), []).append((at, r))
        self.keys = {r[0]: (r[6], r[7], r[8]) for r in rows}
        parents = {r[5] for r in rows if r[5] is not None and r[5] not in self.keys}
        if parents:  # versions without inputs of their own: read in one go too
            self.keys.update(registry.version_keys(sorted(parents)))

    @staticmethod
    def _pick(index: dict, wanted) -> list[tuple]:
        return [r for _, r in sorted((x for w in set(wanted) for x in index.get(w, ())), key=lambda x: x[0])]

    def lineage_inputs_of(self, version_ids: list[int]) -> list[tuple]:
        return self._pick(self.by_version, version_ids)

    def lineage_outputs_of(self, version_ids: list[int], inputs: list[tuple[str, str]]) -> list[tuple]:
        return self._pick(self.by_parent, version_ids) + self._pick(self.by_input, inputs)

    def version_keys(self, version_ids: list[int]) -> dict[int, tuple[str, str, str]]:
        return {i: self.keys[i] for i in version_ids if i in self.keys}


def walk(registry: "Registry", node: str, vid: int | None, *, upstream: bool = True,
         downstream: bool = True, depth: int | None = None) -> "nx.DiGraph":
    """The part of the lineage graph within ``depth`` steps of ``node``, read from the
    registry level by level through its indexes (never the whole graph), plus every edge
    among the nodes found, as a networkx DiGraph."""
    import networkx as nx

    g = nx.DiGraph()
    vids: dict[str, int] = {}  # model node id -> version id
    names: dict[int, str] = {}  # version id -> model node id

    def known(i: int, model: str, version: str, digest: str) -> None:
        nid = model_id(model, version)
        names[i], vids[nid] = nid, i
        if nid not in g:
            g.add_node(nid, id=nid, type="model", model=model, version=version, digest=digest)

    def model_nodes(ids: set[int], source: "Registry | Reach" = registry) -> None:
        missing = [i for i in ids if i not in names]
        if missing:
            for i, key in source.version_keys(missing).items():
                known(i, *key)

    def add_row(row: tuple) -> tuple[str, str] | None:
        version_id, kind, digest, path, detail, parent_id = row[:6]
        target = names.get(version_id)
        if kind == "model":
            source = names.get(parent_id) if parent_id is not None else None
        elif kind in ("data", "code") and digest:
            source = input_id(kind, digest)
            if source not in g:
                g.add_node(source, **input_node(source, kind, digest, path, detail))
        else:
            source = None
        if source is None or target is None:
            return None
        g.add_edge(source, target, type=EDGE_TYPES[kind])
        return source, target

    if vid is not None:
        model_nodes({vid})
    else:
        kind, digest = node.split(":", 1)
        for row in registry.lineage_outputs_of([], [(kind, digest)])[:1]:
            g.add_node(node, **input_node(node, kind, digest, row[3], row[4]))
    expanded = {True: set(), False: set()}  # nodes whose inputs (True) / outputs (False) were read
    for up in ((True,) if upstream else ()) + ((False,) if downstream else ()):
        # the whole walk's rows in one query; with a --depth, the few levels one by one
        source: "Registry | Reach" = registry if depth is not None else Reach(registry, registry.lineage_reach(
            vid, None if vid is not None else tuple(node.split(":", 1)), up))
        frontier, seen, level = {node}, {node}, 0
        while frontier and (depth is None or level < depth):
            expanded[up] |= frontier
            ids = [vids[n] for n in frontier if n in vids]
            if up:
                rows = source.lineage_inputs_of(ids)
            else:
                keyed = [tuple(n.split(":", 1)) for n in frontier if n not in vids]
                rows = source.lineage_outputs_of(ids, keyed)
            for r in rows:
                if r[0] not in names:
                    known(r[0], r[6], r[7], r[8])
            model_nodes({r[5] for r in rows if r[5] is not None}, source)
            nxt = set()
            for row in rows:
                edge = add_row(row)
                if edge is not None:
                    reached = edge[0] if up else edge[1]
                    if reached not in seen:
                        seen.add(reached)
                        nxt.add(reached)
            frontier, level = nxt, level + 1
    # The edges among the nodes found that neither walk crossed: from a node whose outputs
    # were not read to one whose inputs were not (a data file that fed both an ancestor and a
    # descendant of the node; the nodes at the --depth limit).
    sources = set(g) - expanded[False]
    targets = [i for n, i in vids.items() if n not in expanded[True]]
    if sources and targets:
        for row in registry.lineage_inputs_of(targets):
            version_id, kind, digest, _, _, parent_id = row[:6]
            source = names.get(parent_id) if kind == "model" else input_id(kind, digest or "")
            if source in sources and version_id in names:
                g.add_edge(source, names[version_id], type=EDGE_TYPES.get(kind, kind))
    return g


def _reach(g: "nx.DiGraph", node: str, reverse: bool, depth: int | None) -> list[str]:
    import networkx as nx

    if depth == 0:
        return []
    return [v for _, v in nx.bfs_edges(g, node, reverse=reverse, depth_limit=depth)]


def neighbourhood(g: "nx.DiGraph", node: str, *, upstream: bool = True, downstream: bool = True,
                  depth: int | None = None) -> dict[str, Any]:
    """``{node, upstream, downstream, nodes, edges}`` (SPEC §3): the node's ancestors and/or
    descendants (nearest first, at most ``depth`` steps away) and the edges among them."""
    if depth is not None and depth < 0:
        raise UserError(f"{option('depth')} must be 0 or more")
    up = _reach(g, node, True, depth) if upstream else []
    down = _reach(g, node, False, depth) if downstream else []
    keep = {node, *up, *down}
    nodes = [dict(g.nodes[n]) for n in sorted(keep)]
    for n in nodes:
        n.setdefault("type", n.get("id", "").split(":", 1)[0])
    edges = sorted(
        (s, t, d.get("type", "")) for s in keep for t, d in g.succ[s].items() if t in keep
    )
    return {
        "node": node,
        "upstream": up,
        "downstream": down,
        "nodes": nodes,
        "edges": [{"source": s, "target": t, "type": k} for s, t, k in edges],
    }


# -- text renderings ---------------------------------------------------------------------------

def label(node: dict[str, Any]) -> str:
    """A short human name: ``resnet@1.2.0``, ``data train.csv (sha256:1a2b3c4d…)``."""
    if node.get("type") == "model":
        return node["id"][len("model:"):]
    digest = node.get("digest") or node["id"].split(":", 1)[1]
    name = Path(node["path"]).name if node.get("path") else ""
    short = digest[:15] + "…"
    return f"{node.get('type', '?')} {name} ({short})" if name else f"{node.get('type', '?')} {short}"


# control characters, line separators and bidi controls (U+202A-E, U+2066-9) as the character
# references Graphviz reads: in a pipe to a terminal they would be escape sequences, or
# reorder what follows them
_DOT_ENTITIES = {c: f"&#x{c:x};" for c in UNSAFE_CHARACTERS}


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').translate(_DOT_ENTITIES) + '"'


_DOT_SHAPES = {"model": "box", "data": "cylinder", "code": "note"}


def to_dot(result: dict[str, Any]) -> str:
    """Graphviz DOT of a neighbourhood; node names are the lineage ids."""
    lines = ["digraph lineage {", "  rankdir=LR;"]
    for n in result["nodes"]:
        attrs = f"label={_dot_quote(label(n))}, shape={_DOT_SHAPES.get(n.get('type'), 'ellipse')}"
        if n["id"] == result["node"]:
            attrs += ", style=bold"
        lines.append(f"  {_dot_quote(n['id'])} [{attrs}];")
    for e in result["edges"]:
        lines.append(f"  {_dot_quote(e['source'])} -> {_dot_quote(e['target'])} [label={_dot_quote(e['type'])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(result: dict[str, Any]) -> str:
    """A Mermaid flowchart of a neighbourhood (node keys n0, n1, … labelled with the ids)."""
    keys = {n["id"]: f"n{i}" for i, n in enumerate(result["nodes"])}
    lines = ["flowchart LR"]
    for n in result["nodes"]:
        shape = ('[("', '")]') if n.get("type") == "data" else ('["', '"]')
        lines.append(f"  {keys[n['id']]}{shape[0]}{_mermaid_text(n['id'])}{shape[1]}")
    for e in result["edges"]:
        lines.append(f"  {keys[e['source']]} -->|{e['type']}| {keys[e['target']]}")
    return "\n".join(lines) + "\n"
