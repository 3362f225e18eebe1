"""``.mvc/config.toml``: dotted keys over nested TOML tables, and ``SCHEMA``, the one home of
every key mvc reads: its default, type and check, use, and whether changing it needs admin.

Reading uses tomllib; writing edits the file with tomlkit, so the comments and layout of a
file that people keep in git survive ``mvc config set`` and ``unset``.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any, Callable, NamedTuple

from mvc.core.atomic import write_atomic
from mvc.core.errors import NotFoundError, UserError
from mvc.core.metrics import metric_name_setting
from mvc.core.toml_edit import read_text

_KEY_PART = re.compile(r"^[A-Za-z0-9_-]+$")
# a name that a key holds in a '*' part: a channel or a remote (see core/names.py)
_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
# top-level tables whose unknown keys would still decide trust: never changed below admin
_ADMIN_TABLES = ("registry", "access")


class Key(NamedTuple):
    """One config key. A name part that varies is ``*`` (``channels.*.deploy_dir``)."""

    name: str
    default: Any  # None: no default (unset means "not configured")
    type: type  # what a value is: str, int, float (any number) or tuple (a list in TOML)
    accepts: str  # what a valid value is, said to the user when one is not
    check: Callable[[Any], Any]  # the value in effect from a valid one; ValueError otherwise
    doc: str
    admin: bool = False  # changing it decides trust: needs the admin role


def _number(minimum: float | None = None) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= sys.float_info.max:
            raise ValueError
        if minimum is not None and value < minimum:
            raise ValueError
        return value

    return check


def _one_of(*choices: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in choices:
            raise ValueError
        return value

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ValueError
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME_PART.fullmatch(value):
        raise ValueError
    return value


def _globs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) and p for p in value):
        raise ValueError
    return tuple(value)


class _Secret(ValueError):
    """A value refused because it holds a secret: no message repeats such a value."""


def _registry_url(value: Any) -> str:
    from urllib.parse import parse_qs, urlsplit

    if not isinstance(value, str) or not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
        if isinstance(value, str) and "pass" in value.lower():  # host=… password=…: never repeated
            raise _Secret(_NO_PASSWORD)
        raise ValueError
    if value.startswith("sqlite:"):
        return value
    try:
        parts = urlsplit(value)
        secret = parts.password is not None or any(
            k.lower() in ("password", "sslpassword") for k in parse_qs(parts.query, keep_blank_values=True))
    except ValueError:  # malformed (a bad port, an unclosed '['): refused either way
        user, at, _ = value.split("://", 1)[1].rpartition("@")
        secret = bool(at) and ":" in user
        if not secret:
            raise ValueError from None
    if secret:
        raise _Secret(_NO_PASSWORD)
    return value


_NO_PASSWORD = ("a password may not be written into config.toml, which git shares; "
                "leave it out and let PGPASSWORD or ~/.pgpass supply it")


def _remote_url(value: Any) -> str:
    """A remote's location: a path, or a URL with no credentials in it (config.toml is shared
    through git; S3 takes keys from the AWS chain: environment, profiles, instance roles)."""
    from urllib.parse import parse_qs, urlsplit

    value = _text(value)
    if "://" in value:
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None or any(
                "key" in k.lower() or "secret" in k.lower() or "token" in k.lower()
                for k in parse_qs(parts.query)):
            raise _Secret(_NO_SECRETS)
    return value


def _endpoint_url(value: Any) -> str:
    from urllib.parse import urlsplit

    value = _text(value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a malformed port raises ValueError here
    except ValueError:
        raise ValueError from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError
    if parts.username is not None or parts.password is not None:
        raise _Secret(_NO_SECRETS)
    return value


_NO_SECRETS = ("credentials may not be written into config.toml, which git shares; the AWS "
               "chain supplies them: environment, a --profile, an instance role")


def _word(value: Any) -> str:
    """An AWS profile or region name (``eu-west-1``, ``ci.readonly``)."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}", value):
        raise ValueError
    return value


def _jobs(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
        raise ValueError
    return value


DEFAULT_LOWER_IS_BETTER = (
    "*loss*", "*error*", "*latency*", "*_ms", "mae", "mse", "rmse", "perplexity", "*time*", "*size*",
)
_SECONDS = "a number of seconds, 0 or more"
_METRIC = "a metric name (letters, digits and _ . : / -)"

SCHEMA: dict[str, Key] = {k.name: k for k in (
    Key("version.default_bump", "patch", str, "major, minor or patch", _one_of("major", "minor", "patch"),
        "the part of the version 'mvc add' raises when neither --version nor --bump is given"),
    Key("core.lock_timeout", 60, float, _SECONDS + " (e.g. 60)", _number(0),
        "how long a command waits for another mvc command's lock before it gives up"),
    Key("core.remote", None, str, "the name of a remote (see 'mvc remote list')", _name,
        "the remote push and pull use when none is named", admin=True),
    Key("remote.*.url", None, str, "a directory path or a URL such as s3://bucket/prefix",
        _remote_url, "where the remote keeps its objects", admin=True),
    Key("remote.*.endpoint_url", None, str, "an http:// or https:// URL with no credentials in it",
        _endpoint_url, "the S3 endpoint of an s3:// remote that is not AWS (MinIO, Ceph, …)", admin=True),
    Key("remote.*.profile", None, str, "the name of a profile in ~/.aws/config", _word,
        "the AWS profile whose credentials an s3:// remote uses (default: the AWS chain's)", admin=True),
    Key("remote.*.region", None, str, "an AWS region, e.g. eu-west-1", _word,
        "the region of an s3:// remote's bucket", admin=True),
    Key("transfer.jobs", 4, int, "a whole number from 1 to 64", _jobs,
        "how many objects push, pull and checkout move at once ('--jobs' overrides)"),
    Key("registry.url", None, str, "sqlite:///PATH or postgresql://HOST:PORT/DB", _registry_url,
        "where the registry lives (default: .mvc/registry.db)", admin=True),
    Key("channels.*.deploy_dir", None, str, "a folder path", _text,
        "the folder the channel deploys into (default: .mvc/deploy/MODEL/CHANNEL); "
        "setting it also adds the channel", admin=True),
    Key("compare.primary_metric", "accuracy", str, _METRIC, metric_name_setting,
        "the metric 'mvc diff' recommends by"),
    Key("compare.threshold", 0.05, float, "a number, 0 or more (e.g. 0.05 for 5%)", _number(0),
        "how much better, as a share of A's primary metric, B must be to be recommended"),
    Key("compare.lower_is_better", DEFAULT_LOWER_IS_BETTER, tuple,
        'a list of glob patterns, e.g. ["*loss*", "*_ms"]', _globs,
        "metrics whose smaller values are better (matched without regard to case)"),
    Key("compare.accuracy_metric", "accuracy", str, _METRIC, metric_name_setting,
        "the accuracy metric of 'mvc diff''s importance score"),
    Key("compare.latency_metric", "latency_ms", str, _METRIC, metric_name_setting,
        "the latency metric (milliseconds) of 'mvc diff''s importance score"),
    Key("compare.weights.accuracy", 0.7, float, "a number (e.g. 0.7)", _number(),
        "the weight of the accuracy change in the importance score"),
    Key("compare.weights.latency", 0.3, float, "a number (e.g. 0.3)", _number(),
        "the weight of the latency change (per second) in the importance score"),
    Key("gc.grace_seconds", 600, float, _SECONDS + " (e.g. 600)", _number(0),
        "unreferenced objects younger than this are kept by 'mvc gc' ('mvc gc --grace' overrides)"),
)}

def known_keys() -> list[str]:
    """Every key the schema knows, ``*`` standing for a channel or remote name (for completion)."""
    return sorted(SCHEMA)


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


def lookup(key: str) -> Key | None:
    """The schema entry for ``key`` (a ``*`` part matches a channel or remote name), or None."""
    if key in SCHEMA:
        return SCHEMA[key]
    parts = split_key(key)
    for name, entry in SCHEMA.items():
        pattern = name.split(".")
        if len(pattern) == len(parts) and all(
                p == q or (p == "*" and _NAME_PART.fullmatch(q)) for p, q in zip(pattern, parts)):
            return entry
    return None


def schema_key(key: str) -> Key:
    """The schema entry for ``key``; a UserError that says which keys exist when there is none."""
    entry = lookup(key)
    if entry is None:
        import difflib

        for name in (n.split(".") for n in SCHEMA if "*" in n):  # channels.NAME.deploy_dir, NAME wrong
            if len(name) == len(parts := split_key(key)) and all(p in ("*", q) for p, q in zip(name, parts)):
                raise UserError(f"invalid name {parts[name.index('*')][:60]!r} in config key; use 1-128 "
                                "letters, digits, '_' or '-', starting with a letter or digit")
        names = known_keys()
        close = difflib.get_close_matches(key, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        section = key.split(".")[0]
        near = [n for n in names if n.split(".")[0] == section]
        known = (f"the {section} keys are {', '.join(near)}" if near else
                 f"the keys are in {', '.join(sorted({n.split('.')[0] for n in names}))}")
        raise UserError(f"unknown config key {key!r}; {hint}{known} ('mvc config list --all' lists them)")
    return entry


def check(key: str, value: Any) -> Any:
    """``value`` for ``key`` in effect (``compare.lower_is_better = "*wer*"`` is a one-item
    list); a UserError that says what is accepted when the key is unknown or the value wrong."""
    entry = schema_key(key)
    try:
        return entry.check(value)
    except ValueError as exc:
        why = f" ({exc})" if str(exc) else ""
        raise UserError(f"config {key} must be {entry.accepts}, not {_refused(value, exc)}{why}") from None


def value_from_text(key: str, text: str) -> Any:
    """What ``mvc config set KEY TEXT`` stores: a TOML scalar where the text parses as one,
    but the text itself for a key that holds text (a deploy_dir named ``2024``)."""
    value = parse_value(text)
    entry = lookup(key)
    if entry is not None and entry.type is str and not isinstance(value, str):
        return text
    return value


def needs_admin(key: str, value: Any = None) -> bool:
    """Does changing ``key`` (holding ``value``; a table when a whole table is unset) need admin?"""
    if isinstance(value, dict):
        return any(needs_admin(f"{key}.{k}", v) for k, v in flatten(value).items()) or needs_admin(key)
    entry = lookup(key)
    if entry is not None:
        return entry.admin
    return split_key(key)[0] in _ADMIN_TABLES


def _refused(value: Any, exc: ValueError) -> str:
    return "a value with a secret in it" if isinstance(exc, _Secret) else _shown(value)


def _shown(value: Any) -> str:
    return text if len(text := repr(value)) <= 60 else text[:57] + "..."


def flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        else:
            out[name] = v
    return out


_MISSING = object()


class Config:
    def __init__(self, path: Path, tmp_dir: Path | None = None):
        self.path, self.tmp_dir = Path(path), tmp_dir
        self._data: dict | None = None
        self.on_write: Callable[[Path], object] | None = None  # told before config.toml is replaced

    @property
    def data(self) -> dict:
        if self._data is None:
            try:
                self._data = tomllib.loads(read_text(self.path))
            except (tomllib.TOMLDecodeError, RecursionError) as exc:
                why = "its arrays or tables nest too deep" if isinstance(exc, RecursionError) else exc
                raise UserError(f"{self.path} is not valid TOML ({why}); fix or remove it") from None
        return self._data

    def reread(self) -> None:
        """Read config.toml again at the next look (another process may have written it)."""
        self._data = None

    def _find(self, key: str) -> Any:
        node: Any = self.data
        parts = split_key(key)
        for i, part in enumerate(parts):
            if not isinstance(node, dict):
                # 'compare = 3' written by hand would silently hide every compare.* key
                table = ".".join(parts[:i])
                raise UserError(f"config {table} in {self.path} is {_shown(node)}, not a table of keys, so "
                                f"{key} cannot be read; fix it with 'mvc config unset {table}'")
            if part not in node:
                return _MISSING
            node = node[part]
        return node

    def value(self, key: str) -> Any:
        """The value in effect for schema key ``key``: the one set, checked, or the default.
        A value of the wrong type in the file is a UserError that says how to fix it."""
        entry = schema_key(key)
        found = self._find(key)
        if found is _MISSING:
            return entry.default
        try:
            return entry.check(found)
        except ValueError as exc:
            why = f" ({exc})" if str(exc) else ""
            # without a registry, no command runs, 'mvc config' included: the file it is
            fix = (f"edit {self.path}" if entry.name.startswith("registry.") else
                   f"fix it with 'mvc config set {key} VALUE' or 'mvc config unset {key}'")
            raise UserError(
                f"config {key} in {self.path} is {_refused(found, exc)}; it must be {entry.accepts}{why}; {fix}"
            ) from None

    def effective(self, key: str) -> tuple[Any, str]:
        """(value, origin) for ``mvc config get``: what is set (``config``; also a key this mvc
        does not know, written by hand or by a newer mvc), else the default (``default``); an
        error for a key not set that is unknown or has no default, or a value no command takes."""
        found = self._find(key)
        if isinstance(found, dict):
            keys = ", ".join(sorted(flatten(found, key + "."))) or "none"
            raise UserError(f"config {key} is a table, not a key; its keys: {keys}")
        if found is not _MISSING:
            if lookup(key) is not None:
                self.value(key)  # a value no command takes is not in effect: say how to fix it
            return found, "config"
        entry = schema_key(key)
        if entry.default is None:
            raise NotFoundError(f"config key {key!r} is not set ({entry.doc})")
        return entry.default, "default"

    def names(self, table: str) -> list[str]:
        """The names under ``table`` that hold a table (``channels`` -> ``["canary"]``)."""
        found = self._find(table)
        if not isinstance(found, dict):
            return []
        return [n for n, v in found.items() if isinstance(v, dict)]

    def get_set(self, key: str) -> Any:
        """The value set for ``key``; NotFoundError when it is not set."""
        found = self._find(key)
        if found is _MISSING:
            raise NotFoundError(f"config key {key!r} is not set; 'mvc config list' shows what is")
        return found

    def items(self) -> dict[str, Any]:
        return flatten(self.data)

    def is_set_to(self, key: str, value: Any) -> bool:
        """Whether ``key`` is set, to exactly ``value`` (a list and a tuple alike)."""
        found = self._find(key)
        if isinstance(found, list):
            found = tuple(found)
        if isinstance(value, list):
            value = tuple(value)
        return found is not _MISSING and type(found) is type(value) and found == value

    def set(self, key: str, value: Any) -> None:
        parts = split_key(key)
        node = self.data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part, {})
            if not isinstance(child, dict):
                raise UserError(f"cannot set {key!r}: {'.'.join(parts[: i + 1])!r} holds a value, not a table; "
                                "unset it first")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise UserError(f"cannot set {key!r}: it is a table of keys; set one of its keys instead")
        from mvc.core import toml_edit

        self._save(toml_edit.set_value(read_text(self.path), parts, value))

    def unset(self, key: str) -> Any:
        parts = split_key(key)
        old = self.get_set(key)
        from mvc.core import toml_edit

        self._save(toml_edit.remove(read_text(self.path), parts))
        return old

    def _save(self, text: str) -> None:
        data = tomllib.loads(text)  # never write what the next read could not parse
        if self.on_write is not None:
            self.on_write(self.path)
        write_atomic(self.path, text.encode("utf-8"), tmp_dir=self.tmp_dir)
        self._data = data
