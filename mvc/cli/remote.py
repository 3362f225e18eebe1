"""Manage the remotes that push and pull use.

A remote is another object store: a directory or an fsspec URL such as s3://bucket/prefix
(with the extra mvc[s3]). Credentials come from the storage's own configuration, never from
config.toml.

EXAMPLES

    mvc remote add backup ../mvc-backup
    mvc remote add s3 s3://team-models/mvc --region eu-west-1
    mvc remote list
    mvc remote remove backup
"""

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, nothing, say, table

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The remote's name, e.g. origin.")],
    url: Annotated[str, typer.Argument(metavar="URL", help="A directory path or an fsspec URL (s3://bucket/prefix, …).")],
    default: Annotated[bool, typer.Option("--default", help="Make it the default remote.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Define an existing remote anew (URL and options).")] = False,
    endpoint_url: Annotated[Optional[str], typer.Option(
        "--endpoint-url", metavar="URL",
        help="s3:// only: the S3 endpoint, for storage that is not AWS (MinIO, Ceph, …).")] = None,
    profile: Annotated[Optional[str], typer.Option(
        "--profile", metavar="PROFILE", help="s3:// only: the AWS profile (~/.aws) whose credentials to use.")] = None,
    region: Annotated[Optional[str], typer.Option(
        "--region", metavar="REGION", help="s3:// only: the bucket's region, e.g. eu-west-1.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Add a remote.

    The first remote becomes the default (core.remote); --default makes another one the default.
    The options are kept in config.toml as remote.NAME.endpoint_url, .profile and .region.
    Credentials never are: S3 takes them from the AWS chain (AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY, a profile, an instance role); a URL with a key or secret in it is
    refused. S3 needs the extra: pip install 'mvc[s3]'.

    EXAMPLES

        mvc remote add backup ../mvc-backup
        mvc remote add origin ../mvc-shared --force --default
        mvc remote add s3 s3://team-models/mvc --region eu-west-1
        mvc remote add minio s3://models/mvc --endpoint-url http://minio.internal:9000 --profile minio
    """
    from mvc.cli.common import open_repo

    info = open_repo().remote_add(name, url, default=default, force=force, endpoint_url=endpoint_url,
                                  profile=profile, region=region)
    emit(info, json_out, lambda r: say(
        f"Remote {r.name} is at {r.url} already; nothing changed" if r.unchanged else
        f"Added remote {r.name} at {r.url}" + (" (default)" if r.default else "")))


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The remote to forget.")],
    json_out: JsonOption = False,
) -> None:
    """Forget a remote.

    Its objects stay where they are.

    EXAMPLES

        mvc remote add backup ../mvc-backup
        mvc remote remove backup
    """
    from mvc.cli.common import open_repo

    info = open_repo().remote_remove(name)
    emit(info, json_out, lambda r: say(f"Removed remote {r.name}"))


@app.command("list")
def list_(json_out: JsonOption = False) -> None:
    """List the remotes.

    Each remote's name and URL, and which one is the default (core.remote).

    EXAMPLES

        mvc remote list
        mvc remote list --json
    """
    from mvc.cli.common import open_repo

    rows = open_repo().remotes()

    def render(items) -> None:
        if not items:
            nothing(["remote", "url", "default"], "no remotes; add one with 'mvc remote add NAME URL'")
            return
        table(["remote", "url", "default"], [[r.name, r.url, "yes" if r.default else "no"] for r in items])

    emit(rows, json_out, render)
