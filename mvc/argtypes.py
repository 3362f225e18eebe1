"""Arguments of the wrong type, refused where they enter the Python API (``Repo``'s public
methods), before anything runs: ``repo.ls(5)`` or ``repo.tag(ref, None)`` is an
``ArgumentTypeError`` naming the method, the argument and the types it takes, not a TypeError
from deep inside (or, worse, a value stored as the wrong type).

The types are read from each method's own annotations, evaluated on its first call (the
CLI's start pays nothing for methods it does not call): ``str``, ``int`` (any
``numbers.Integral``, numpy's too, not ``bool``), ``float`` (any ``numbers.Real``), ``bool``,
``None``, ``Path`` (a ``str`` or any ``os.PathLike`` too, as the annotations pair them),
unions of these, ``Mapping[K, V]`` (keys checked), and ``Iterable[X]``/``list[X]``/
``tuple[X, ...]`` (elements checked when the value is a list, tuple or set: a generator is not
consumed here). One string or path where a list is taken is one item: the method gets a list
of it. numpy's scalars (any ``numbers.Integral``/``Real``), alone or as a mapping's values,
reach the method as ``int``/``float``. What the annotations cannot say (``Any``, callables,
names only known to type checkers) is not checked.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import numbers
import operator
import os
import types
import typing
from pathlib import Path
from typing import Any, Callable

from mvc.core.errors import UserError


class ArgumentTypeError(UserError, TypeError):
    """An argument of a type the method does not take (exit 1 from the CLI, which never
    passes one; a TypeError too, as Python callers expect)."""


_ANY = object()  # an annotation that is not checked


def _accepts(hint: Any, value: Any) -> bool | str:
    """True when ``value`` fits ``hint``; a description of the element that does not fit, else
    False."""
    if hint is _ANY or hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        fits = [_accepts(h, value) for h in typing.get_args(hint)]
        return True if True in fits else next((f for f in fits if isinstance(f, str)), False)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # numpy's integers too (numbers.Integral), as they worked before the check
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, (str, os.PathLike))
    if hint is str:
        return isinstance(value, str)
    if origin in (collections.abc.Mapping, dict):
        if not isinstance(value, collections.abc.Mapping):
            return False
        key = (typing.get_args(hint) or (_ANY,))[0]
        bad = next((k for k in value if _accepts(key, k) is not True), _ANY)
        return True if bad is _ANY else f"its key {bad!r} is {_a(bad)}"
    if origin in (collections.abc.Iterable, collections.abc.Sequence, list, tuple, set, frozenset):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if not isinstance(value, collections.abc.Iterable) or isinstance(value, collections.abc.Mapping):
            # one path or string is one item (api._items): data=Path("train.csv")
            return len(args) == 1 and isinstance(value, (str, bytes, os.PathLike)) and _accepts(args[0], value) is True
        if len(args) != 1 or not isinstance(value, (list, tuple, set, frozenset)):
            return True
        bad = next((v for v in value if _accepts(args[0], v) is not True), _ANY)
        return True if bad is _ANY else f"its item {bad!r} is {_a(bad)}"
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # Callable and the like: not checked


def _plain(hint: Any, value: Any) -> Any:
    """``value`` as the method's body expects it: numpy's scalars (and any other
    ``numbers.Integral``/``Real``) as ``int``/``float``, also as a mapping's values (metrics
    from numpy or Keras are ``np.float32``); one string or path where a list is taken as a
    list of it (not its letters)."""
    if isinstance(value, (str, bytes, os.PathLike)):
        return [value] if _takes_list(hint) else value
    if isinstance(value, collections.abc.Mapping):
        return {k: _number(v) for k, v in value.items()} if any(_number(v) is not v for v in value.values()) else value
    return _number(value)


def _number(value: Any) -> Any:
    if isinstance(value, bool) or type(value) in (int, float) or not isinstance(value, numbers.Real):
        return value
    return operator.index(value) if isinstance(value, numbers.Integral) else float(value)


def _takes_list(hint: Any) -> bool:
    """Whether ``hint`` takes a list (alone or in a union with str or Path)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hints = typing.get_args(hint)
        return str not in hints and Path not in hints and any(_takes_list(h) for h in hints)
    return typing.get_origin(hint) in (collections.abc.Iterable, collections.abc.Sequence, list, tuple, set, frozenset)


def _a(value: Any) -> str:
    name = type(value).__name__
    return "None" if value is None else f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _shown(hint: Any, items: bool = False) -> str:
    """What ``hint`` takes, in words (``items``: as the items of a list: "paths")."""
    if hint is None or hint is type(None):
        return "None"
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        shown = dict.fromkeys(_shown(h, items) for h in typing.get_args(hint))
        return " or ".join(s for s in shown if not (s == "str" and {"a path", "paths"} & shown.keys()))
    origin = typing.get_origin(hint)
    if origin in (collections.abc.Mapping, dict):
        return "a mapping"
    if origin is not None:
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return f"a list of {_shown(args[0], True)}" if len(args) == 1 else "a list"
    if hint is Path:
        return "paths" if items else "a path"
    return getattr(hint, "__name__", str(hint))


def _hints(function: Callable, namespace: dict) -> dict[str, Any]:
    """Each parameter's annotation, evaluated in ``namespace``; ``_ANY`` where that fails (a
    name only imported for type checkers)."""
    found = {}
    for name, parameter in inspect.signature(function).parameters.items():
        hint = parameter.annotation
        if hint is inspect.Parameter.empty or name in ("self", "cls"):
            continue
        for _ in range(2):  # a quoted annotation under 'from __future__ import annotations' is quoted twice
            if isinstance(hint, str):
                try:
                    hint = eval(hint, namespace)  # noqa: S307 -- our own annotations, not input
                except Exception:  # noqa: BLE001 -- a name known only to type checkers: not checked
                    hint = _ANY
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            hint = tuple[hint, ...]
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
            hint = _ANY
        found[name] = hint
    return found


def _checking(function: Callable, owner: str) -> Callable:
    known: list[tuple[inspect.Signature, dict[str, Any]]] = []  # filled once, by one append

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not known:
            known.append((inspect.signature(function), _hints(function, function.__globals__)))
        signature, hints = known[0]
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ArgumentTypeError(f"{owner}.{function.__name__}: {exc}") from None
        for name, value in bound.arguments.items():
            hint = hints.get(name, _ANY)
            fits = _accepts(hint, value)
            if fits is not True:  # "takes str, not an int"; "takes a list of str; its item 1 is an int"
                what = f"; {fits}" if isinstance(fits, str) else f", not {_a(value)}"
                raise ArgumentTypeError(f"{owner}.{function.__name__}: {name} takes {_shown(hint)}{what}")
            bound.arguments[name] = _plain(hint, value)
        return function(*bound.args, **bound.kwargs)

    return checked


def check_arguments(cls: type) -> type:
    """``cls`` with each public method (its own and its bases', the one that wins) checking its
    arguments, once."""
    names = dict.fromkeys(n for klass in cls.__mro__[:-1] for n in vars(klass) if not n.startswith("_"))
    for name in names:
        attribute = inspect.getattr_static(cls, name)
        if isinstance(attribute, classmethod):
            setattr(cls, name, classmethod(_checking(attribute.__func__, cls.__name__)))
        elif inspect.isfunction(attribute):
            setattr(cls, name, _checking(attribute, cls.__name__))
    return cls
