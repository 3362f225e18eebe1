"""Show where a version came from and what was built on it.

Upstream: the data, code and parent models a version came from; downstream: the versions built
on a data file, a code file or a version. As a tree (on a terminal), JSON, Graphviz DOT or a
Mermaid flowchart.

EXAMPLES

    mvc lineage resnet@0.2.0
    mvc lineage data/train.csv --downstream
    mvc lineage resnet --format dot > lineage.dot
"""

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption, Words
from mvc.cli.output import console, emit_json, one_line, piped, say


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
        "--depth", min=1, metavar="N", help="At most N steps away (default: no limit).")] = None,
    fmt: Annotated[Optional[str], typer.Option(
        "--format", metavar="FORMAT", click_type=Words("tree", "json", "dot", "mermaid"),
        help="Output: tree (the default), json, dot (Graphviz) or mermaid (a flowchart).")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo
    from mvc.core.errors import UsageError
    from mvc.core.lineage import FORMATS

    if upstream and downstream:
        raise UsageError("--upstream and --downstream exclude each other; give neither for both")
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if json_out and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} exclude each other; give one of them")
    fmt = fmt or "tree"
    result = open_repo().lineage(target, upstream=not downstream, downstream=not upstream, depth=depth)
    from mvc.core.query import collector_paused

    with collector_paused():  # tens of thousands of nodes: their dicts and lines, without the collector's walks
        if json_out or fmt == "json":
            emit_json(result.to_dict())
        elif fmt == "dot":
            sys.stdout.write(result.to_dot())
        elif fmt == "mermaid":
            sys.stdout.write(result.to_mermaid())
        else:
            _render_tree(result, show_up=not downstream, show_down=not upstream)


Node = tuple[str, str, list]  # (label, rich style, children)


def _label(node: dict) -> str:
    """``resnet@1.2.0``, ``data train.csv (sha256:…64 hex)``: the whole digest, to copy."""
    if node.get("type") == "model":
        return node["id"][len("model:"):]
    digest = node.get("digest") or node["id"].split(":", 1)[1]
    name = Path(node["path"]).name if node.get("path") else ""
    return f"{node.get('type', '?')} {name} ({digest})" if name else f"{node.get('type', '?')} {digest}"


def _render_tree(r, show_up: bool, show_down: bool) -> None:
    nodes = {n["id"]: n for n in r.nodes}
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    for e in r.edges:
        succs.setdefault(e["source"], []).append(e["target"])
        preds.setdefault(e["target"], []).append(e["source"])
    styles = {"model": "bold", "data": "cyan", "code": "magenta"}

    def node(nid: str, suffix: str = "") -> Node:
        n = nodes.get(nid, {"id": nid, "type": nid.split(":", 1)[0]})
        return (_label(n) + suffix, styles.get(n.get("type"), ""), [])

    def grow(branch: Node, nid: str, links: dict[str, list[str]], allowed: set[str], seen: set[str]) -> None:
        """Depth first, by a stack of its own: a chain of 1,000 fine-tunes went past Python's
        recursion limit."""
        stack = [(branch, iter(sorted(links.get(nid, []))))]
        while stack:
            parent, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
            elif child in seen and child in allowed:  # a diamond: shown once, referenced after
                parent[2].append(node(child, " (see above)"))
            elif child in allowed:
                seen.add(child)
                parent[2].append(node(child))
                stack.append((parent[2][-1], iter(sorted(links.get(child, [])))))

    root = node(r.node)
    for shown, title, links, ids in ((show_up, "upstream (came from)", preds, r.upstream),
                                     (show_down, "downstream (built on it)", succs, r.downstream)):
        if shown:
            side: Node = (title, "dim", [])
            grow(side, r.node, links, set(ids), {r.node})
            if not ids:
                side[2].append(("nothing recorded", "dim", []))
            root[2].append(side)
    # In a pipe no tree guides, each node indented four spaces a level; on a terminal the
    # guides are drawn here rather than by rich's Tree, which cuts a label at the width: a
    # long line runs on and the terminal wraps it, its digest unbroken.
    tty = not piped()
    if tty:
        from rich.text import Text

        out = console()

    stack: list[tuple[Node, str, str, bool]] = [(root, "", "", True)]
    while stack:  # depth first, children in order
        n, lead, branch, last = stack.pop()
        if tty:
            out.print(Text.assemble(lead + branch, (one_line(n[0]), n[1])), soft_wrap=True)
        else:
            say(" " * len(lead + branch) + n[0])
        if branch:
            lead += "    " if last else "│   "
        for i in reversed(range(len(n[2]))):
            end = i == len(n[2]) - 1
            stack.append((n[2][i], lead, "└── " if end else "├── ", end))
