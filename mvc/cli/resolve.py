"""Print which version a channel serves, and where.

Prints the version and the path of its files in the deploy slot (VERSION<TAB>PATH). With
--key, the request key's bucket int(sha256(key)[:8], 16) % 100 picks the canary when it is
below the canary's percent, so every caller routes a key the same way.

EXAMPLES

    mvc resolve resnet
    mvc resolve resnet --channel staging --json
    mvc resolve resnet --key user-42
"""

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, line


def resolve(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The model name.")],
    channel: Annotated[str, typer.Option("--channel", "-c", metavar="CHANNEL", help="The channel to ask.")] = "production",
    key: Annotated[Optional[str], typer.Option(
        "--key", metavar="KEY", help="A request key (user id, request id) to route between stable and canary.")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    # one tab-separated line, for scripts: VERSION<TAB>PATH
    emit(open_repo().resolve(name, channel, key), json_out, lambda r: line(r.version, r.path))
