"""Metrics and parameters from ``K=V`` arguments and JSON files."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from mvc.core.errors import UserError
from mvc.core.inputs import JSON_FILE_LIMIT, MAX_NESTING, nesting, read_capped

_LARGEST = int(sys.float_info.max)  # diff compares metrics as floats
_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/\-\[\]]{0,127}$")
# A number as a user writes one: ASCII digits, an optional fraction and exponent. Not what
# float() also reads: '1_0', ' 1', 'infinity', other scripts' digits ('０.９').
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def check_key(key: str, what: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise UserError(
            f"invalid {what} name {key[:60]!r}; use letters, digits and _ . : / - (at most 128)"
        )
    return key


def metric_name_setting(value: Any) -> str:
    """A metric's name as a setting (compare.primary_metric, …): ValueError unless it is a name
    ``mvc add --metric`` takes (no line break, bidi control or space)."""
    if not isinstance(value, str) or not _KEY_RE.fullmatch(value):
        raise ValueError
    return value


def _split(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise UserError(f"invalid {what} {text[:80]!r}; write it as NAME=VALUE, e.g. accuracy=0.91")
    return check_key(key.strip(), what), value.strip()


def metric_value(key: str, value: Any, example: str = "") -> float | int:
    """``value`` as a metric: a JSON number, or a string of one in ASCII digits. ``example``
    shows how to write one where the value came from (``acc=0.91`` on the command line)."""
    hint = f" (e.g. {example})" if example else ""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UserError(f"metric {key!r} must be a number, not {json.dumps(value, default=repr)[:40]}{hint}")
    if isinstance(value, str):
        if not NUMBER.fullmatch(value):
            raise UserError(f"metric {key!r} must be a number in ASCII digits, not {value[:40]!r}{hint}")
        whole = re.fullmatch(r"[+-]?\d+", value) is not None
        if whole and len(value.lstrip("+-").lstrip("0")) > len(str(_LARGEST)):  # before int(): Python
            raise _too_large(key, len(value.lstrip("+-").lstrip("0")))  # refuses 4,300 digits
        number: float | int = int(value) if whole else float(value)
    else:
        number = value
    if isinstance(number, float) and not math.isfinite(number):
        raise UserError(f"metric {key!r} must be a finite number (at most about 1.8e308), not {str(value)[:40]!r}")
    if isinstance(number, int) and abs(number) > _LARGEST:
        raise _too_large(key, int(abs(number).bit_length() * math.log10(2)) + 1)  # str() of 10**5000 fails
    return number


def _too_large(key: str, digits: int) -> UserError:
    return UserError(f"metric {key!r} is too large (about {digits} digits); "
                     "a metric must fit a float (at most about 1.8e308)")


def parse_metric(text: str) -> tuple[str, float | int]:
    key, value = _split(text, "metric")
    return key, metric_value(key, value, f"{key}=0.91")


class NotStrictJson(ValueError):
    """NaN, Infinity or a number beyond a float's range: no JSON parser has to accept them."""


def _refuse_constant(name: str) -> float:
    raise NotStrictJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotStrictJson(f"{text} is beyond the range of a float")
    return value


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > 4300:  # Python's int() refuses them with a message about its own limit
        raise NotStrictJson(f"an integer of {digits} digits is beyond the range of a float")
    return int(text)


def strict_json(text: str) -> Any:
    """``json.loads`` that refuses NaN, Infinity and numbers that overflow a float, so that
    what mvc stores always prints as JSON that every parser reads (SPEC §10)."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                      parse_int=_bounded_int, object_pairs_hook=_object)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are each given once: ``{"acc": 1, "acc": 2}`` kept the last
    value without a word (JSON leaves it to the reader)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the name {key!r} appears twice in one object")
        out[key] = value
    return out


def param_value(text: str) -> Any:
    """JSON where the text parses as strict JSON (``0.1``, ``true``, ``[1,2]``), else the string."""
    try:
        return strict_json(text)
    except (ValueError, RecursionError):
        return text


def checked_param(key: str, value: Any) -> Any:
    """A parameter given as a value (the Python API): it must be JSON, finite numbers only,
    nested no deeper than a params file may be, its text UTF-8 (no lone surrogates)."""
    if nesting(value) > MAX_NESTING:
        raise UserError(f"parameter {key!r} nests objects and arrays more than {MAX_NESTING} levels deep")
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        raise UserError(f"parameter {key!r} must be a JSON value with finite numbers and UTF-8 text ({exc})") from None
    if any("\x00" in s for s in _texts(value)):  # SQLite kept it; PostgreSQL's jsonb cannot, and every
        # 'ls --where param.…' of the model failed there (probe P)
        raise UserError(f"parameter {key!r} holds a NUL character (\\u0000), which a registry cannot keep "
                        "everywhere; remove it")
    return value


def _texts(value: Any):
    """Every string in a JSON value, its objects' keys too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def parse_param(text: str) -> tuple[str, Any]:
    key, value = _split(text, "parameter")
    return key, param_value(value)


def flatten(obj: dict, prefix: str = "", where: str = "the file") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``; a name reached twice (``"a.b"`` beside ``"a":
    {"b": …}``) is refused rather than one value silently kept."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        name = f"{prefix}{k}"
        for key, value in (flatten(v, name + ".", where) if isinstance(v, dict) and v else {name: v}).items():
            if key in out:
                raise UserError(f"{where} names {key!r} twice (as written and through nesting); keep one")
            out[key] = value
    return out


def load_json_object(path: Path, what: str) -> dict[str, Any]:
    """A flat or nested JSON object from a file, flattened to ``a.b`` keys."""
    path = Path(path)
    raw = read_capped(path, f"{what} file", JSON_FILE_LIMIT)  # never a FIFO, never endless
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"cannot read {what} file {path}: {exc}") from None
    try:
        data = strict_json(text)
        if nesting(data) > MAX_NESTING:
            raise RecursionError
    except RecursionError:
        raise UserError(f"{what} file {path} is nested more than {MAX_NESTING} levels deep") from None
    except NotStrictJson as exc:
        raise UserError(f"{what} file {path} holds a number that is not finite ({exc}); "
                        "JSON output could not carry it") from None
    except ValueError as exc:
        raise UserError(f"{what} file {path} is not valid JSON ({exc}); it must hold a JSON object") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} file {path} must hold a JSON object, e.g. {{\"accuracy\": 0.91}}")
    return flatten(data, where=f"{what} file {path}")


def collect_metrics(pairs: list[str], files: list[Path]) -> dict[str, float | int]:
    metrics: dict[str, float | int] = {}
    for f in files:
        for k, v in load_json_object(f, "metrics").items():
            metrics[check_key(k, "metric")] = metric_value(k, v, f"{json.dumps(k)}: 0.91 in {f}")
    for text in pairs:
        k, v = parse_metric(text)
        metrics[k] = v
    return metrics


def collect_params(pairs: list[str], files: list[Path]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for f in files:
        for k, v in load_json_object(f, "params").items():
            params[check_key(k, "parameter")] = checked_param(k, v)
    for text in pairs:
        k, v = parse_param(text)
        params[k] = checked_param(k, v)
    return params


def same_value(a: Any, b: Any) -> bool:
    """Whether two metric or param values (JSON) say the same, as a user reads them: ``1`` and
    ``1.0`` are one number, but ``true`` is not ``1`` nor ``false`` ``0`` (Python's ``==`` says
    they are, so an add of ``use_bias=true`` after ``use_bias=1`` found "nothing changed")."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_value, a, b))
    return a == b
