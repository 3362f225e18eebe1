"""Edit one key of a TOML text and keep everything else as the person wrote it: comments,
blank lines, key order, quoting, dotted keys and inline tables (tomlkit, imported only here,
only when config.toml is written).

tomlkit alone keeps what it parsed, but it puts a new key after the comments and blank
lines that end a table (which people write about the *next* table), and it drops those
comments with a table it deletes. Here a new key goes right after the table's last key, as
``git config`` does, a new ``[table]`` gets one blank line around it, and the comments of a
table that an unset empties stay where they were. That takes tomlkit's Container internals
(``_insert_at``, ``_body``, ``_map``); tests/core/test_config.py pins the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_text(path: Path) -> str:
    """A TOML file's text: '' when there is none; a file that is not regular (a FIFO would block
    every command) or not UTF-8 (an editor's Latin-1) is the error that names it; an editor's
    byte order mark is dropped (tomllib refuses it)."""
    from mvc.core.atomic import read_regular
    from mvc.core.errors import UserError

    try:
        raw = read_regular(path, lambda: UserError(
            f"{path} is not a regular file (a FIFO, device or folder); put back the settings file"))
    except FileNotFoundError:
        return ""
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise UserError(f"{path} is not valid UTF-8 (byte {raw[exc.start]:#04x} at line {line}); "
                        "TOML files are UTF-8: re-save it as UTF-8") from None


def set_value(text: str, parts: list[str], value: Any) -> str:
    """``text`` with the dotted key ``parts`` set to ``value`` (tables made as needed)."""
    import tomlkit

    doc = tomlkit.parse(text)
    node: Any = doc
    created = None
    for part in parts[:-1]:
        if part not in node:
            table = tomlkit.table()
            _add(node, part, table, blank_before=bool(doc.body))
            created = created or table
        node = node[part]
    if parts[-1] in node:
        node[parts[-1]] = value  # in place: the line's own comment stays
    else:
        _add(node, parts[-1], value)
    out, mine = tomlkit.dumps(doc), node.as_string()
    if created is not None and not out.endswith(mine) and mine + "\n" not in out:
        node.add(tomlkit.nl())  # a blank line between the new table and the header after it
        out = tomlkit.dumps(doc)
    return out


def remove(text: str, parts: list[str]) -> str:
    """``text`` without the dotted key ``parts``, and without the tables that this leaves empty."""
    import tomlkit

    doc = tomlkit.parse(text)
    chain: list[Any] = [doc]
    for part in parts[:-1]:
        chain.append(chain[-1][part])
    _delete(chain[-1], parts[-1])
    for depth in range(len(parts) - 1, 0, -1):
        if len(chain[depth]) == 0:
            _delete(chain[depth - 1], parts[depth - 1])
    out = tomlkit.dumps(doc)
    if out.endswith("\n\n") and not text.endswith("\n\n"):
        out = out.rstrip("\n") + "\n"  # the blank line that separated the last table goes with it
    return out


def _container(node: Any) -> Any:
    from tomlkit.container import Container

    return node if isinstance(node, Container) else node.value  # the document is a Container


def _add(node: Any, key: str, item: Any, blank_before: bool = False) -> None:
    """Add ``key`` to a table after its last key, not after the comments and blank lines
    that end the table; a new table also after the comment lines right under that key."""
    from tomlkit.items import AoT, Comment, Table, Whitespace

    container = _container(node)
    body = container.body
    is_table = isinstance(item, Table)
    anchor = next((i for i in range(len(body) - 1, -1, -1) if body[i][0] is not None
                   and (is_table or not isinstance(body[i][1], (Table, AoT)))), None)
    at = len(body) if anchor is None else anchor + 1
    while is_table and at < len(body) and body[at][0] is None and isinstance(body[at][1], Comment):
        at += 1
    if is_table and blank_before:
        before = body[at - 1][1] if at else None
        ends_blank = (isinstance(before, Whitespace) and "\n" in before.s) or (
            isinstance(before, Table) and before.as_string().endswith("\n\n"))
        if not ends_blank:
            item.trivia.indent = "\n"
    if at < len(body) and hasattr(container, "_insert_at"):
        container._insert_at(at, key, item)
    else:  # at the end, or a tomlkit without that internal: the public way (the value is right)
        node[key] = item


def _delete(node: Any, key: str) -> None:
    """Delete ``key``; when it is a table, its comments (and the blank lines among them) stay
    where the table was."""
    from tomlkit.items import Comment, Null, Table, Whitespace

    container = _container(node)
    child = node[key]
    kept = []
    if isinstance(child, Table):
        kept = [item for k, item in child.value.body if k is None and not isinstance(item, Null)]
        if not any(isinstance(item, Comment) for item in kept):
            kept = []
    if not (hasattr(container, "_map") and hasattr(container, "_body")):
        kept = []  # a tomlkit without these internals: the comments go with the table
    index = container._map.get(next(k for k, _ in container.body if k is not None and k.key == key)) \
        if kept else None
    del node[key]
    if not kept:
        return
    at = min(index) if isinstance(index, tuple) else index
    if at > 0 and isinstance(container.body[at - 1][1], Whitespace) and isinstance(kept[0], Whitespace):
        kept = kept[1:]  # the blank line before the header is there already
    for offset, item in enumerate(kept):
        container._body.insert(at + offset, (None, item))
    for k, v in list(container._map.items()):
        if isinstance(v, tuple):
            container._map[k] = tuple(i + len(kept) if i >= at else i for i in v)
        elif v >= at:
            container._map[k] = v + len(kept)
