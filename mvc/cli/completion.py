"""Print the shell completion script for bash, zsh or fish.

Put the eval line in ~/.bashrc or ~/.zshrc, or the fish line in ~/.config/fish/config.fish, to
have completion in every new shell. It covers commands, options, model names, refs after
NAME@ (versions, tags, channels), channel names, remotes, config keys and roles.

EXAMPLES

    eval "$(mvc completion bash)"
    eval "$(mvc completion zsh)"
    mvc completion fish | source
"""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


# Where a wheel installs each script (pyproject.toml's data-files), and its name in the checkout.
INSTALLED = {
    "bash": "share/bash-completion/completions/mvc.bash",
    "zsh": "share/zsh/site-functions/_mvc",
    "fish": "share/fish/vendor_completions.d/mvc.fish",
}


def script_path(shell: str) -> Path:
    """The completion script of ``shell``: the one the wheel installed, else the checkout's."""
    from mvc import __version__

    root = Path(__file__).resolve().parents[2]  # site-packages, or the checkout
    # the installer's list of what it put where (read directly: importlib.metadata's search of
    # every distribution on sys.path costs more than the rest of this command)
    try:
        record = (root / f"mvc-{__version__}.dist-info" / "RECORD").read_text(encoding="utf-8")
    except OSError:  # an editable install or a source checkout: gen_docs.py writes completions/
        return root / "completions" / Path(INSTALLED[shell]).name
    for line in record.splitlines():
        path = line.rsplit(",", 2)[0]
        if path.endswith(INSTALLED[shell]):
            return (root / path).resolve()
    return root / INSTALLED[shell]  # not in the wheel: the error names where it should be


def completion(
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="The shell: bash, zsh or fish.",
                                           show_default=False)],
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.output import emit
    from mvc.core.errors import UserError

    path = script_path(shell.value)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"the {shell.value} completion script is not installed ({path} is missing); "
                        "reinstall mvc") from None
    emit({"shell": shell.value, "path": str(path), "script": text}, json_out, lambda _: sys.stdout.write(text))


# ---------------------------------------------------------------- the words shells complete


class Kind(str, Enum):
    models = "models"
    refs = "refs"
    channels = "channels"
    remotes = "remotes"
    config_keys = "config-keys"


def _refs(repo, name: str) -> list[str]:
    """NAME@VERSION for each version, then NAME@TAG, NAME@CHANNEL (those serving it), NAME@latest."""
    from mvc.core.names import check_model_name

    check_model_name(name)
    versions = repo.ls(name)
    tags = sorted({t for v in versions for t in v.tags})
    serving = next((m.channels for m in repo.ls() if m.model == name), {})
    labels = [v.version for v in versions] + tags + [c for c, v in serving.items() if v] + ["latest"]
    return [f"{name}@{label}" for label in labels]


def _config_keys(repo) -> list[str]:
    """Every key the schema knows (a ``*`` part filled with the names in use) and every key set."""
    from mvc.core import config

    set_keys = list(repo.config_list())
    names_at: dict[tuple[str, ...], set[str]] = {}  # ("channels",) -> {"production", ...}
    for key in set_keys:
        parts = key.split(".")
        for i in range(1, len(parts)):
            names_at.setdefault(tuple(parts[:i]), set()).add(parts[i])
    names_at.setdefault(("channels",), set()).update(repo.channel_names())
    keys = set(set_keys)
    for pattern in getattr(config, "SCHEMA", {}):  # the schema, where this version has one
        found = [""]
        for part in pattern.split("."):
            if part == "*":
                found = [f"{k}{n}." for k in found for n in names_at.get(tuple(k.split(".")[:-1]), ())]
            else:
                found = [f"{k}{part}." for k in found]
        keys.update(k[:-1] for k in found)
    return sorted(keys)


def complete_words(
    kind: Annotated[Kind, typer.Argument(help="What to list.")],
    name: Annotated[Optional[str], typer.Argument(help="The model, for refs.")] = None,
) -> None:
    """What the completion scripts complete, one per line; nothing outside a repository.

    Reads only: no lock, no audit event, nothing written.
    """
    from mvc.cli.common import open_repo
    from mvc.core.errors import MvcError

    try:
        with open_repo() as repo:
            if kind is Kind.models:
                words = [m.model for m in repo.ls()]
            elif kind is Kind.refs:
                words = _refs(repo, name) if name else []
            elif kind is Kind.channels:
                words = list(repo.channel_names())
            elif kind is Kind.remotes:
                words = [r.name for r in repo.remotes()]
            else:
                words = _config_keys(repo)
    except MvcError:  # not a repository, an unknown model: there is nothing to offer
        return
    # Only words a shell takes as they are: these come from the repository (a cloned
    # config.toml, a teammate's tag), and a completion must never offer '$(...)', a quote, a
    # space or a control character to the command line.
    import re

    sys.stdout.write("".join(f"{w}\n" for w in words if re.fullmatch(r"[A-Za-z0-9_.:@/+=,~^-]+", w)))
