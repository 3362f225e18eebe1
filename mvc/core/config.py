"""``.mvc/config.toml``: dotted keys over nested TOML tables."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from mvc.core.atomic import write_atomic
from mvc.core.errors import NotFoundError, UserError

_KEY_PART = re.compile(r"^[A-Za-z0-9_-]+$")

DEFAULTS: dict[str, Any] = {
    "version.default_bump": "patch",
    "core.lock_timeout": 60,
    "compare.primary_metric": "accuracy",
}


def parse_value(text: str) -> Any:
    """A TOML scalar where the text parses as one (``0.9``, ``true``, ``"x"``), else the string."""
    try:
        doc = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    if list(doc) != ["v"] or not _plain(doc["v"]):
        # "1\nx = 2" is more than one value; tables, dates and times (also inside
        # lists) stay the text the user typed
        return text
    return doc["v"]


def _plain(value: Any) -> bool:
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, (str, int, float, bool))


def split_key(key: str) -> list[str]:
    parts = key.split(".") if isinstance(key, str) else []
    if not parts or not all(_KEY_PART.fullmatch(p) for p in parts):
        raise UserError(
            f"invalid config key {key!r}; use dotted names of letters, digits, '_' and '-', "
            "e.g. compare.primary_metric"
        )
    return parts


def flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        else:
            out[name] = v
    return out


class Config:
    def __init__(self, path: Path, tmp_dir: Path | None = None):
        self.path = Path(path)
        self.tmp_dir = tmp_dir
        self._data: dict | None = None

    @property
    def data(self) -> dict:
        if self._data is None:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            try:
                self._data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise UserError(f"{self.path} is not valid TOML ({exc}); fix or remove it") from None
        return self._data

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in split_key(key):
            if not isinstance(node, dict) or part not in node:
                return DEFAULTS.get(key, default)
            node = node[part]
        return node

    def get_set(self, key: str) -> Any:
        """The value set for ``key``; NotFoundError when it is not set."""
        node: Any = self.data
        for part in split_key(key):
            if not isinstance(node, dict) or part not in node:
                raise NotFoundError(f"config key {key!r} is not set; 'mvc config list' shows what is")
            node = node[part]
        return node

    def items(self) -> dict[str, Any]:
        return flatten(self.data)

    def set(self, key: str, value: Any) -> None:
        parts = split_key(key)
        node = self.data
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UserError(
                    f"cannot set {key!r}: {'.'.join(parts[: i + 1])!r} holds a value, not a table; "
                    "unset it first"
                )
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise UserError(f"cannot set {key!r}: it is a table of keys; set one of its keys instead")
        node[parts[-1]] = value
        self._save()

    def unset(self, key: str) -> Any:
        parts = split_key(key)
        old = self.get_set(key)
        node = self.data
        chain = [node]
        for part in parts[:-1]:
            node = node[part]
            chain.append(node)
        del node[parts[-1]]
        # drop tables the removal left empty
        for depth in range(len(parts) - 1, 0, -1):
            if not chain[depth]:
                del chain[depth - 1][parts[depth - 1]]
        self._save()
        return old

    def _save(self) -> None:
        import tomli_w

        write_atomic(self.path, tomli_w.dumps(self.data).encode("utf-8"), tmp_dir=self.tmp_dir)
