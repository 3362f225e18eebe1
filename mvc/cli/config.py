"""Read and write settings in .mvc/config.toml (dotted keys, e.g. compare.primary_metric)."""

from __future__ import annotations

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, emit_json

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})


def _toml(value) -> str:
    import tomli_w

    if isinstance(value, (list, tuple)):  # tomli_w writes arrays over several lines; keep KEY = VALUE on one
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if value is None:  # a key with no default that is not set
        return ""
    return tomli_w.dumps({"v": value})[4:].strip()


@app.command("get")
def get(
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. version.default_bump.")],
    json_out: JsonOption = False,
) -> None:
    """Print the value of KEY in effect, set or default (strings without quotes, for
    scripts)."""
    from mvc.cli.common import open_repo

    entry = open_repo().config_get(key)
    emit(entry, json_out, lambda e: console().print(
        e.value if isinstance(e.value, str) else _toml(e.value), markup=False))


@app.command("set", context_settings={"ignore_unknown_options": True})  # VALUE may be -1
def set_(
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. compare.primary_metric.")],
    value: Annotated[str, typer.Argument(help="The value: a TOML scalar (0.9, true, \"x\") or plain text.")],
    json_out: JsonOption = False,
) -> None:
    """Set KEY to VALUE."""
    from mvc.cli.common import open_repo

    entry = open_repo().config_set(key, value)
    emit(entry, json_out, lambda e: None)


@app.command("unset")
def unset(
    key: Annotated[str, typer.Argument(help="Dotted key to remove.")],
    json_out: JsonOption = False,
) -> None:
    """Remove KEY."""
    from mvc.cli.common import open_repo

    entry = open_repo().config_unset(key)
    emit(entry, json_out, lambda e: None)


@app.command("list")
def list_(
    all_keys: Annotated[bool, typer.Option(
        "--all", "-a", help="Every known key with the value in effect and its origin (default or config).")] = False,
    json_out: JsonOption = False,
) -> None:
    """Print every key that is set, as KEY = VALUE."""
    from mvc.cli.common import open_repo

    if all_keys:
        from mvc.cli.output import table

        values = open_repo().config_all()
        emit(values, json_out, lambda vs: table(
            ["KEY", "VALUE", "ORIGIN"], [[v.key, _toml(v.value), v.origin] for v in vs]))
        return
    items = open_repo().config_list()
    if json_out:
        emit_json(items)
        return
    for k, v in items.items():
        console().print(f"{k} = {_toml(v)}", markup=False)
