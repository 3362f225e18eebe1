"""Trace lineage: which data, code and parent models a version came from, and which versions
were built on a data file, a code file or a version."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit_json


def lineage(
    target: Annotated[str, typer.Argument(
        metavar="REF|PATH",
        help="A version (NAME, NAME@VERSION, NAME@TAG, NAME@CHANNEL, sha256:PREFIX), a data or "
             "code file or directory (looked up by its content digest), or a node id such as "
             "data:sha256:HEX.")],
    upstream: Annotated[bool, typer.Option(
        "--upstream", help="Only what it came from: data, code and parent versions.")] = False,
    downstream: Annotated[bool, typer.Option(
        "--downstream", help="Only what was built on it.")] = False,
    depth: Annotated[Optional[int], typer.Option(
        "--depth", min=0, metavar="N", help="At most N steps away (default: no limit).")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", metavar="tree|json|dot|mermaid",
        help="Output: a tree (default), JSON, Graphviz DOT or a Mermaid flowchart.")] = "tree",
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo
    from mvc.core.errors import UsageError
    from mvc.core.lineage import FORMATS

    if upstream and downstream:
        raise UsageError("--upstream and --downstream exclude each other; give neither for both")
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; use one of: {', '.join(FORMATS)}")
    result = open_repo().lineage(target, upstream=not downstream, downstream=not upstream, depth=depth)
    if json_out or fmt == "json":
        emit_json(result.to_dict())
    elif fmt == "dot":
        sys.stdout.write(result.to_dot())
    elif fmt == "mermaid":
        sys.stdout.write(result.to_mermaid())
    else:
        _render_tree(result, show_up=not downstream, show_down=not upstream)


def _render_tree(r, show_up: bool, show_down: bool) -> None:
    from rich.text import Text
    from rich.tree import Tree

    from mvc.core.lineage import label

    nodes = {n["id"]: n for n in r.nodes}
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    for e in r.edges:
        succs.setdefault(e["source"], []).append(e["target"])
        preds.setdefault(e["target"], []).append(e["source"])
    styles = {"model": "bold", "data": "cyan", "code": "magenta"}

    def text(nid: str) -> Text:
        node = nodes.get(nid, {"id": nid, "type": nid.split(":", 1)[0]})
        return Text(label(node), style=styles.get(node.get("type"), ""))

    def grow(branch: Tree, nid: str, links: dict[str, list[str]], allowed: set[str], seen: set[str]) -> None:
        for child in sorted(links.get(nid, [])):
            if child not in allowed:
                continue
            if child in seen:  # a diamond: shown once, referenced after
                branch.add(text(child).append(" (see above)", style="dim"))
                continue
            seen.add(child)
            grow(branch.add(text(child)), child, links, allowed, seen)

    root = Tree(text(r.node))
    if show_up:
        up = root.add(Text("upstream (came from)", style="dim"))
        grow(up, r.node, preds, set(r.upstream), {r.node})
        if not r.upstream:
            up.add(Text("nothing recorded", style="dim"))
    if show_down:
        down = root.add(Text("downstream (built on it)", style="dim"))
        grow(down, r.node, succs, set(r.downstream), {r.node})
        if not r.downstream:
            down.add(Text("nothing recorded", style="dim"))
    console().print(root)
