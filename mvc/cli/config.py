"""Read and write settings in .mvc/config.toml.

Keys are dotted (compare.primary_metric, version.default_bump, channels.NAME.deploy_dir). The
file is tracked by git and edited by people: set and unset keep its comments and layout.

EXAMPLES

    mvc config set compare.primary_metric accuracy
    mvc config get compare.primary_metric
    mvc config list --all
"""

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, emit_json, say

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
    key: Annotated[str, typer.Argument(metavar="KEY", help="Dotted key, e.g. version.default_bump.")],
    json_out: JsonOption = False,
) -> None:
    """Print the value of a key.

    The value in effect, set or default; strings without quotes, for scripts.

    EXAMPLES

        mvc config get version.default_bump
        mvc config get compare.threshold --json
    """
    from mvc.cli.common import open_repo

    entry = open_repo().config_get(key)
    # one line, control characters, line breaks and bidi controls escaped (a value written by hand)
    emit(entry, json_out, lambda e: say(e.value if isinstance(e.value, str) else _toml(e.value)))


@app.command("set", context_settings={"ignore_unknown_options": True})  # VALUE may be -1
def set_(
    key: Annotated[str, typer.Argument(metavar="KEY", help="Dotted key, e.g. compare.primary_metric.")],
    value: Annotated[str, typer.Argument(metavar="VALUE",
                                         help="The value: a TOML scalar (0.9, true, \"x\") or plain text.")],
    json_out: JsonOption = False,
) -> None:
    """Set a key.

    The file keeps its comments and layout.

    EXAMPLES

        mvc config set version.default_bump minor
        mvc config set compare.threshold 0.01
    """
    from mvc.cli.common import open_repo

    entry = open_repo().config_set(key, value)
    emit(entry, json_out, lambda e: e.action == "unchanged" and console().print(
        f"{e.key} is {_toml(e.value)} already; nothing changed", markup=False))


@app.command("unset")
def unset(
    key: Annotated[str, typer.Argument(metavar="KEY", help="Dotted key to remove.")],
    json_out: JsonOption = False,
) -> None:
    """Remove a key; its default applies again.

    EXAMPLES

        mvc config set version.default_bump minor
        mvc config unset version.default_bump
    """
    from mvc.cli.common import open_repo

    entry = open_repo().config_unset(key)
    emit(entry, json_out, lambda e: None)


@app.command("list")
def list_(
    all_keys: Annotated[bool, typer.Option(
        "--all", "-a", help="Every known key with the value in effect and its origin (default or config).")] = False,
    json_out: JsonOption = False,
) -> None:
    """List the keys that are set, or every key.

    Prints KEY = VALUE for each key that is set; with --all, every known key with the value in
    effect and where it comes from (default or config).

    EXAMPLES

        mvc config list
        mvc config list --all --json
    """
    from mvc.cli.common import open_repo

    if all_keys:
        from mvc.cli.output import table

        values = open_repo().config_all()
        emit(values, json_out, lambda vs: table(
            ["key", "value", "origin"], [[v.key, _toml(v.value), v.origin] for v in vs]))
        return
    items = open_repo().config_list()
    if json_out:
        emit_json(items)
        return
    for k, v in items.items():
        say(f"{k} = {_toml(v)}")
