"""mvc completion SHELL prints the generated script; mvc __complete KIND lists what the scripts
complete (models, refs, channels, remotes, config keys), reads only, and is silent outside a
repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import BIN, completion_repo as populate, tree_state

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"bash": "mvc.bash", "zsh": "_mvc", "fish": "mvc.fish"}


def words(repo, *args: str, **kw) -> list[str]:
    proc = repo("__complete", *args, **kw)
    assert proc.stderr == ""
    return proc.stdout.splitlines()


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_completion_prints_the_generated_script(mvc, shell):
    proc = mvc("completion", shell)
    assert proc.stdout == (ROOT / "completions" / SCRIPTS[shell]).read_text()
    assert proc.stderr == ""
    # SPEC §3: every command that prints takes --json (it was a usage error, exit 2; probe V)
    doc = mvc.json("completion", shell)
    assert doc == {"shell": shell, "path": str(ROOT / "completions" / SCRIPTS[shell]), "script": proc.stdout}


def test_completion_of_an_unknown_shell_is_a_usage_error_naming_the_choices(mvc):
    proc = mvc.fail("completion", "tcsh", code=2)
    assert all(f"'{shell}'" in proc.stderr for shell in SCRIPTS)


def test_completion_starts_without_the_engine():
    code = ("import json, sys; from mvc.cli.app import run; rc = run(['completion', 'bash']); "
            "sys.stderr.write(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(proc.stderr))
    heavy = {"mvc.api", "sqlite3", "networkx", "git", "fsspec", "rich.table"}
    assert not loaded & heavy, f"mvc completion imports {sorted(loaded & heavy)}"


def test_data_lists_models_refs_channels_remotes_and_config_keys(repo, work):
    populate(repo, work)
    assert words(repo, "models") == ["bert", "resnet"]
    assert words(repo, "refs", "resnet") == [
        "resnet@0.1.1", "resnet@0.1.0", "resnet@best", "resnet@production", "resnet@latest"]
    assert words(repo, "channels") == ["staging", "production", "edge"]
    assert words(repo, "remotes") == ["origin"]
    keys = words(repo, "config-keys")
    # set keys, schema keys, and schema patterns filled with the channels and remotes in use
    assert {"remote.origin.url", "channels.edge.deploy_dir", "channels.production.deploy_dir",
            "compare.primary_metric", "version.default_bump"} <= set(keys)
    assert keys == sorted(keys) and not any("*" in k for k in keys)


def test_data_is_silent_for_an_unknown_model_and_outside_a_repository(repo, mvc, work, tmp_path):
    populate(repo, work)
    assert words(repo, "refs", "resnt") == []
    assert words(repo, "refs", "../x") == []
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for kind in ("models", "channels", "remotes", "config-keys"):
        proc = mvc("__complete", kind, cwd=outside)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_data_writes_nothing(repo, work):
    populate(repo, work)
    before = tree_state(repo.mvc_dir), _mtimes(repo.mvc_dir), repo.events()
    for args in (["models"], ["refs", "resnet"], ["channels"], ["remotes"], ["config-keys"]):
        words(repo, *args)
    assert (tree_state(repo.mvc_dir), _mtimes(repo.mvc_dir), repo.events()) == before


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_data_command_is_hidden_from_help(mvc):
    listed = mvc("--help").stdout
    assert "completion" in listed and "__complete" not in listed


def test_data_follows_dash_c(repo, work, tmp_path):
    populate(repo, work)
    proc = subprocess.run([str(BIN), "-C", str(work), "__complete", "models"], cwd=tmp_path,
                          env=repo.env, capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines() == ["bert", "resnet"]


def test_a_missing_shell_is_a_one_line_usage_error(mvc):
    proc = mvc("completion", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == "mvc: error: Missing argument 'SHELL'. Choose from: bash, zsh, fish"
    assert len(lines) == 2 and lines[1].startswith("Try 'mvc completion --help'")
