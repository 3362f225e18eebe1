"""The generated completions and man pages: current, valid for their shells and for groff,
complete in a real bash; and the help text and start-up cost they depend on."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import BIN, on_terminal, write

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "scripts" / "gen_docs.py"
BASH_COMPLETION = ROOT / "completions" / "mvc.bash"


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", GEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen_docs = _gen_docs()


def test_generated_files_are_current():
    proc = subprocess.run([sys.executable, str(GEN), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, (
        f"completions/ or man/ are stale:\n{proc.stdout}{proc.stderr}"
        "regenerate them with: python scripts/gen_docs.py"
    )


def test_regenerating_removes_pages_of_vanished_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    assert gen_docs.main([]) == 0
    gone = tmp_path / "man" / "mvc-gone.1"
    gone.write_text(f'.\\" {gen_docs.MARK}\n')
    keep = tmp_path / "man" / "notes.txt"
    keep.write_text("not generated\n")

    assert gen_docs.main(["--check"]) == 1
    assert "stale: man/mvc-gone.1" in capsys.readouterr().out
    assert gone.exists(), "--check must delete nothing"

    assert gen_docs.main([]) == 0
    assert not gone.exists() and keep.exists()
    assert gen_docs.main(["--check"]) == 0


def test_every_command_option_and_argument_has_help():
    missing = []
    for command in gen_docs.load().walk():
        if not command.help.strip():
            missing.append(f"command '{command.name}'")
        missing += [f"'{command.name}' {p.names[0]}" for p in command.options + command.arguments
                    if not p.help.strip()]
    assert not missing, "no help text for: " + ", ".join(missing)


# ---------------------------------------------------------------- help people can read (SPEC §9)

TREE = gen_docs.load()
PAGES = list(TREE.walk())  # every command and subcommand, with mvc itself first
GROUPS = [c for c in PAGES if c.commands]


@functools.lru_cache(maxsize=None)
def help_text(path: tuple[str, ...], columns: int = 100) -> str:
    """What ``mvc ... --help`` prints in a pipe, at a terminal width of ``columns``."""
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run([str(BIN), *path[1:], "--help"], env=env, capture_output=True, text=True,
                          check=True).stdout


def runs_mvc(line: str) -> bool:
    return re.search(r"""(^|[\s"'(])mvc """, line) is not None


@pytest.mark.parametrize("group", GROUPS, ids=lambda c: c.name)
def test_each_command_is_listed_with_one_short_line(group):
    summaries = {c.path[-1]: c.summary for c in group.commands}
    too_long = {name: s for name, s in summaries.items() if len(s) > 60}
    assert not too_long, f"summaries longer than 60 characters (typer cuts them with ...): {too_long}"
    for columns in (80, 100):
        # in a pipe: click's plain "Commands:" list, one line a command, no box drawing
        text = help_text(tuple(group.path), columns)
        assert not re.search("[\u2500-\u257f]", text), f"box drawing in help in a pipe:\n{text}"
        listed = text.split("\nCommands:\n")[1].split("\n\n")[0].splitlines()
        assert [line.split()[0] for line in listed] == list(summaries) and all(
            line.startswith("  ") and not line.startswith("   ") for line in listed), (
            f"a summary wraps onto a second line at {columns} columns:\n{text}")
        # on a terminal: rich's panel, one row a command
        shown = on_terminal([*group.path[1:], "--help"], ROOT, {**os.environ, "NO_COLOR": "1"}, columns)
        shown = re.sub(r"\x1b\[[0-9;]*m", "", shown).replace("\r\n", "\n")  # bold, dim
        panel = shown.split("Commands ─")[1].split("╰")[0]
        rows = [line.strip("│ ").split("  ")[0] for line in panel.splitlines()[1:]]
        assert rows == list(summaries), f"a summary wraps onto a second line at {columns} columns:\n{panel}"


@pytest.mark.parametrize("command", PAGES, ids=lambda c: c.name)
def test_every_help_ends_with_examples_that_run_mvc(command):
    lines = help_text(tuple(command.path)).rstrip().splitlines()
    heading = max((i for i, line in enumerate(lines) if line.strip() == "EXAMPLES"), default=len(lines))
    shown = [line.strip() for line in lines[heading + 1:] if line.strip()]
    assert shown == command.examples and sum(map(runs_mvc, shown)) >= 2, (
        f"'{command.name} --help' must end with EXAMPLES and two or three mvc command lines "
        f"(an EXAMPLES paragraph at the end of the docstring):\n" + "\n".join(lines[heading:]))


@pytest.mark.parametrize("page", sorted((ROOT / "man").glob("*.1")), ids=lambda p: p.name)
def test_every_man_page_has_examples(page):
    text = page.read_text()
    assert "\n.SH EXAMPLES\n" in text, f"{page.name} has no EXAMPLES section"
    section = text.split("\n.SH EXAMPLES\n")[1].split("\n.SH ")[0]
    assert sum(runs_mvc(line) for line in section.splitlines()) >= 2, section


def test_usage_lines_and_placeholders_are_upper_case():
    lower = [f"{c.name} {p.names[0]}: {p.metavar}" for c in PAGES for p in c.options + c.arguments
             if p.metavar and p.metavar != p.metavar.upper()]
    assert not lower, f"placeholders must be upper case like REF, NAME, PATH: {lower}"
    for c in PAGES:
        usage = next(line for line in help_text(tuple(c.path)).splitlines() if "Usage:" in line)
        rest = usage.split(f"Usage: {c.name}", 1)[1]
        assert rest.strip() and rest == rest.upper(), f"usage of {c.name} mixes cases: {usage.strip()}"


@pytest.mark.parametrize("command", [c for c in PAGES if any(p.choices for p in c.options + c.arguments)],
                         ids=lambda c: c.name)
def test_choice_values_are_never_split_in_help(command):
    for columns in (60, 80):
        text = help_text(tuple(command.path), columns)
        for p in command.options + command.arguments:
            for choice in p.choices:
                assert re.search(rf"(?<![\w-]){re.escape(choice)}(?![\w-])", text), (
                    f"'{choice}' of {p.names[0]} is not shown whole in '{command.name} --help' "
                    f"at {columns} columns:\n{text}")


def test_each_option_letter_means_one_thing_in_every_command():
    meanings: dict[str, set[str]] = {}
    for c in PAGES:
        for o in c.options:
            for short in o.shorts:
                meanings.setdefault(short, set()).update(o.longs or [short])
    mixed = {short: sorted(longs) for short, longs in meanings.items() if len(longs) > 1}
    assert not mixed, f"one letter, several meanings: {mixed}"
    # git's meanings where mvc has the same idea
    expected = {"-n": "--limit", "-m": "--message", "-o": "--output", "-f": "--force", "-c": "--channel"}
    assert {s: meanings[s] for s in expected if s in meanings} == {s: {l} for s, l in expected.items()}


# The repository every EXAMPLES section is written for: resnet 0.1.0 (trained on
# data/train.csv by train.py), 0.2.0 built from it and 0.3.0; production served 0.1.0 and now
# 0.2.0, staging serves 0.3.0; a git work tree; a remote origin that holds every object.
EXAMPLE_SETUP = [
    "mvc init",
    "mvc add model.safetensors --name resnet --metric accuracy=0.91 --data data/train.csv --code train.py",
    "mvc add model-v2.safetensors --name resnet --bump minor --metric accuracy=0.93 --from resnet@0.1.0",
    "mvc add model-v3.safetensors --name resnet --bump minor --metric accuracy=0.95",
    "mvc promote resnet@0.1.0 production",
    "mvc promote resnet@0.2.0 production",
    "mvc promote resnet@0.3.0 staging",
    "mkdir ../mvc-remote && mvc remote add origin ../mvc-remote",
    "mvc push",
]


def _shell(line: str) -> list[str]:
    """The shell an example line is written for: bash, unless it names zsh or fish."""
    words = set(re.findall(r"[\w-]+", line))
    for shell, prelude in (("zsh", "autoload -Uz compinit && compinit -u; "), ("fish", "")):
        if shell in words:
            if shutil.which(shell) is None:
                pytest.skip(f"{shell} is not installed (apt package {shell})")
            return [shell, "-c", prelude + line]
    return ["bash", "-c", line]


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    """(work dir, its pristine copy, env): the repository of EXAMPLE_SETUP; each test puts the
    pristine copy back at the same path, so that absolute paths inside .mvc/ stay true."""
    from support import git, init_git, mvc_env

    root = tmp_path_factory.mktemp("examples")
    home, site = root / "home", root / "site"
    work = site / "work"
    home.mkdir()
    env = mvc_env(home, MVC_USER="alice@example.com", PATH=f"{BIN.parent}{os.pathsep}{os.environ['PATH']}")
    work.mkdir(parents=True)
    init_git(work, home)
    for name, data in (("model.safetensors", b"weights 1"), ("model-v2.safetensors", b"weights 2"),
                       ("model-v3.safetensors", b"weights 3"), ("data/train.csv", b"x,y\n1,2\n"),
                       ("train.py", b"print('training')\n"), ("checkpoints/weights.bin", b"w"),
                       ("checkpoints/config.json", b"{}\n")):
        write(work / name, data)
    git(work, "add", "-A", env=env)
    git(work, "commit", "-q", "-m", "start", env=env)
    # a Hugging Face cache (add --follow-links): a snapshot's files are links into blobs/
    hub = home / ".cache" / "huggingface" / "hub" / "models--gpt2"
    write(hub / "blobs" / "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707", b"gpt2 weights")
    (hub / "snapshots" / "REV").mkdir(parents=True)
    (hub / "snapshots" / "REV" / "model.safetensors").symlink_to(
        "../../blobs/248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707")
    for line in EXAMPLE_SETUP:
        subprocess.run(["bash", "-c", line], cwd=work, env=env, check=True, capture_output=True)
    pristine = root / "pristine"
    shutil.copytree(site, pristine, symlinks=True)
    return work, pristine, env


@pytest.mark.parametrize("command", PAGES, ids=lambda c: c.name)
def test_every_example_runs(command, example_site):
    work, pristine, env = example_site
    shutil.rmtree(work.parent)
    shutil.copytree(pristine, work.parent, symlinks=True)
    for line in command.examples:
        proc = subprocess.run(_shell(line), cwd=work, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"example of {command.name} failed: {line}\n{proc.stdout}{proc.stderr}"


# ---------------------------------------------------------------- syntax


@pytest.mark.parametrize("shell, flag, name", [
    ("bash", "-n", "mvc.bash"), ("zsh", "-n", "_mvc"), ("fish", "--no-execute", "mvc.fish"),
])
def test_completion_script_syntax(shell, flag, name):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    proc = subprocess.run([shell, flag, str(ROOT / "completions" / name)], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr


MAN_PAGES = sorted((ROOT / "man").glob("*.1"))


def test_there_is_a_man_page_per_command():
    names = {p.name for p in MAN_PAGES}
    assert "mvc.1" in names
    assert {f"{c.slug}.1" for c in gen_docs.load().commands} <= names


@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_man_page_renders_without_warnings(page):
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed (apt package groff-base)")
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr


# ---------------------------------------------------------------- bash, for real


def complete_bash(*words: str, cwd: Path = ROOT, env: dict | None = None) -> list[str]:
    """COMPREPLY for the command line ``words`` (the last one is the word being completed)."""
    script = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _mvc; printf "%s\\n" "${COMPREPLY[@]}"'
    proc = subprocess.run(["bash", "-c", script, "_", str(BASH_COMPLETION), *words],
                          cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return [line for line in proc.stdout.splitlines() if line]


def test_bash_completes_commands_and_options():
    assert complete_bash("mvc", "ch") == ["checkout"]
    assert complete_bash("mvc", "checkout", "--li") == ["--link"]
    assert {"get", "set", "unset", "list"} <= set(complete_bash("mvc", "config", ""))
    assert complete_bash("mvc", "-C", ".", "config", "u") == ["unset"]


def test_bash_completes_choices_from_the_metavar():
    assert complete_bash("mvc", "checkout", "--link", "") == ["copy", "reflink", "hardlink", "symlink"]
    # bash splits --link=h into --link, =, h
    assert complete_bash("mvc", "checkout", "--link", "=", "h") == ["hardlink"]
    assert complete_bash("mvc", "add", "--bump", "m") == ["major", "minor"]
    assert "--force" in complete_bash("mvc", "checkout", "--link", "copy", "--f")


def test_bash_completes_paths(tmp_path):
    write(tmp_path / "model.safetensors", b"x")
    assert complete_bash("mvc", "add", "mod", cwd=tmp_path) == ["model.safetensors"]


def test_bash_completes_model_names_from_the_repository(repo, work, tmp_path):
    write(work / "m.bin", b"weights")
    repo("add", "m.bin", "--name", "resnet")
    repo("add", "m.bin", "--name", "bert", "--force")
    assert sorted(complete_bash(str(BIN), "show", "", cwd=work, env=repo.env)) == ["bert", "resnet"]
    assert complete_bash(str(BIN), "checkout", "--output", "x", "r", cwd=work, env=repo.env) == ["resnet"]
    assert complete_bash(str(BIN), "-C", str(work), "show", "b", cwd=tmp_path, env=repo.env) == ["bert"]
    # outside a repository: nothing, and no error on the terminal
    assert complete_bash(str(BIN), "show", "", cwd=tmp_path, env=repo.env) == []


def test_bash_completion_never_runs_what_a_cloned_repository_names(repo, work, tmp_path):
    """A channel named '$(touch ...)' in a cloned config.toml: pressing TAB ran it, since
    'compgen -W' expands its words (probe H). Now nothing runs, and such a name is not offered."""
    marker = tmp_path / "PWNED"
    with open(repo.mvc_dir / "config.toml", "a") as f:
        f.write(f'[channels."$(touch {marker})"]\ndeploy_dir = "{tmp_path / "dd"}"\n')
    offered = complete_bash(str(BIN), "log", "m", "--channel", "", cwd=work, env=repo.env)
    assert not marker.exists()
    assert offered == ["staging", "production"]
    assert "$(" not in repo("__complete", "channels").stdout


# ---------------------------------------------------------------- start-up cost


def test_importing_the_cli_loads_no_heavy_module():
    code = "import json, sys, mvc.cli.app; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    heavy = ("networkx", "git", "fsspec", "psycopg", "rich.table", "sqlite3")
    loaded = [m for m in json.loads(proc.stdout) if m in heavy or m.startswith(tuple(h + "." for h in heavy))]
    assert not loaded, f"import mvc.cli.app loads {loaded}: import them inside the functions that need them"


# ---------------------------------------------------------------- refs, channels, remotes, keys, roles


def _bash_no_space(*words: str, cwd: Path, env: dict) -> bool:
    """Whether completing ``words`` asks bash not to add a space (compopt -o nospace)."""
    script = ('compopt() { [[ " $* " == *" nospace "* ]] && nospace=1; return 0; }; '
              'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _mvc; echo ${nospace:+nospace}')
    proc = subprocess.run(["bash", "-c", script, "_", str(BASH_COMPLETION), *words],
                          cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return proc.stdout.split() == ["nospace"]


def test_bash_completes_refs_after_name_at(repo, work):
    from support import completion_repo

    completion_repo(repo, work)
    mvc = str(BIN)
    refs = ["resnet@0.1.1", "resnet@0.1.0", "resnet@best", "resnet@production", "resnet@latest"]
    # with @ in COMP_WORDBREAKS (bash's default) the line arrives as resnet, @, REF and readline
    # replaces @REF (it keeps a leading @ in the word); without it, the whole word
    assert complete_bash(mvc, "show", "resnet", "@", cwd=work, env=repo.env) == [r[6:] for r in refs]
    assert complete_bash(mvc, "show", "resnet", "@", "b", cwd=work, env=repo.env) == ["@best"]
    assert complete_bash(mvc, "show", "resnet@", cwd=work, env=repo.env) == refs
    assert complete_bash(mvc, "show", "resnet@p", cwd=work, env=repo.env) == ["resnet@production"]
    # a finished NAME@REF counts as one argument; an option value as well
    assert complete_bash(mvc, "diff", "resnet", "@", "0.1.0", "resnet", "@", "0.1.", cwd=work,
                         env=repo.env) == ["@0.1.1", "@0.1.0"]
    assert complete_bash(mvc, "promote", "resnet", "@", "best", "p", cwd=work, env=repo.env) == ["production"]
    assert complete_bash(mvc, "add", "m.bin", "--from", "=", "resnet", "@", "l", cwd=work, env=repo.env) == ["@latest"]
    # a model name leaves room for the @; a whole ref gets its space
    assert _bash_no_space(mvc, "show", "res", cwd=work, env=repo.env)
    assert not _bash_no_space(mvc, "show", "resnet", "@", "b", cwd=work, env=repo.env)
    assert not _bash_no_space(mvc, "ls", "res", cwd=work, env=repo.env)  # ls takes a name, not a ref


def test_bash_completes_channels_remotes_config_keys_and_roles(repo, work):
    from support import completion_repo

    completion_repo(repo, work)
    mvc, env = str(BIN), repo.env
    assert complete_bash(mvc, "promote", "resnet@0.1.1", "", cwd=work, env=env) == ["staging", "production", "edge"]
    assert complete_bash(mvc, "log", "resnet", "--channel", "p", cwd=work, env=env) == ["production"]
    assert complete_bash(mvc, "canary", "start", "-c", "e", cwd=work, env=env) == ["edge"]
    assert complete_bash(mvc, "push", "--remote", "", cwd=work, env=env) == ["origin"]
    assert complete_bash(mvc, "remote", "remove", "", cwd=work, env=env) == ["origin"]
    assert complete_bash(mvc, "remote", "add", "", cwd=work, env=env) == []  # a new name
    assert complete_bash(mvc, "config", "get", "compare.p", cwd=work, env=env) == ["compare.primary_metric"]
    assert "remote.origin.url" in complete_bash(mvc, "config", "unset", "remote.", cwd=work, env=env)
    assert complete_bash(mvc, "access", "grant", "bob", "", cwd=work, env=env) == [
        "reader", "writer", "maintainer", "admin"]
    assert complete_bash(mvc, "completion", "") == ["bash", "zsh", "fish"]


def complete_fish(line: str, cwd: Path, env: dict) -> list[str]:
    """What fish offers for ``line`` (its `complete -C`), descriptions left off."""
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (apt package fish)")
    env = dict(env, PATH=f"{BIN.parent}:{env.get('PATH', '')}")
    proc = subprocess.run(["fish", "--no-config", "-c", 'source $argv[1]; complete -C $argv[2]',
                           str(ROOT / "completions" / "mvc.fish"), line],
                          cwd=cwd, env=env, capture_output=True, text=True, check=True)
    assert proc.stderr == ""
    return [candidate.split("\t")[0] for candidate in proc.stdout.splitlines()]


def test_fish_completes_models_refs_channels_remotes_keys_and_roles(repo, work, tmp_path):
    from support import completion_repo

    completion_repo(repo, work)
    env = repo.env
    # NAME@ is offered for a ref: fish adds no space after a candidate ending in @
    assert complete_fish("mvc show r", work, env) == ["resnet@"]
    assert complete_fish("mvc ls r", work, env) == ["resnet"]
    assert complete_fish("mvc show resnet@", work, env) == sorted(
        ["resnet@0.1.1", "resnet@0.1.0", "resnet@best", "resnet@production", "resnet@latest"])
    assert complete_fish("mvc promote resnet@best ", work, env) == ["edge", "production", "staging"]
    assert complete_fish("mvc pull -r ", work, env) == ["origin"]
    assert complete_fish("mvc config set version.d", work, env) == ["version.default_bump"]
    assert complete_fish("mvc access grant bob ", work, env) == ["admin", "maintainer", "reader", "writer"]
    assert complete_fish(f"mvc -C {work} show b", tmp_path, env) == ["bert@"]
    assert complete_fish("mvc show ", tmp_path, env) == []  # outside a repository


def test_zsh_script_reads_the_data_command(repo, work):
    """zsh needs a terminal to complete for real; its data helpers run here as they are."""
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (apt package zsh)")
    from support import completion_repo

    completion_repo(repo, work)
    script = ('compdef() { :; }; _call_program() { shift; eval "$*"; }; source $1; _mvc_cmd=($2); '
              'print -rl -- "$(_mvc_data refs resnet)" "$(_mvc_data channels)"')
    proc = subprocess.run(["zsh", "-f", "-c", script, "_", str(ROOT / "completions" / "_mvc"), str(BIN)],
                          cwd=work, env=repo.env, capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["resnet@0.1.1", "resnet@0.1.0", "resnet@best", "resnet@production",
                                   "resnet@latest", "staging", "production", "edge"]


# ---------------------------------------------------------------- typed into a real shell


# Ctrl-X prints the line being edited; the marker is spelt in two halves so that the echo of
# the set-up line cannot be taken for it.
SHELLS_ON_A_TERMINAL = {
    "bash": (["bash", "--norc", "--noprofile", "-i"],
             f"source {ROOT / 'completions' / 'mvc.bash'}; "
             """bind -x '"\\C-x": printf "<line""[%s]>\\n" "$READLINE_LINE"'"""),
    "zsh": (["zsh", "-f", "-i"],
            f"fpath=({ROOT / 'completions'} $fpath); autoload -Uz compinit; compinit -u -D; "
            """show-line() { print -r -- "<line""[$BUFFER]>" }; zle -N show-line; bindkey '^X' show-line"""),
}


def typed(shell: str, lines: list[str], cwd: Path, env: dict, timeout: float = 30.0) -> list[str]:
    """Type each of ``lines`` (TAB included) into an interactive ``shell`` on a pseudo-terminal
    and return the command line as it stands afterwards: what completion really inserted."""
    import select
    import signal
    import time

    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (apt package {shell})")
    argv, setup = SHELLS_ON_A_TERMINAL[shell]
    env = dict(env, PATH=f"{BIN.parent}{os.pathsep}{env.get('PATH', '')}", TERM="dumb")
    master, slave = os.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                            start_new_session=True)
    os.close(slave)
    out, seen, deadline = b"", 0, time.monotonic() + timeout

    def wait_for(pattern: bytes) -> re.Match:
        nonlocal out, seen
        while time.monotonic() < deadline:
            match = re.compile(pattern).search(out, seen)
            if match:
                seen = match.end()
                return match
            if select.select([master], [], [], 0.1)[0]:
                out += os.read(master, 65536)
        raise AssertionError(f"{shell} did not answer in time:\n{out.decode(errors='replace')}")

    try:
        os.write(master, f"{setup}\necho ready''ready\n".encode())
        wait_for(rb"readyready")
        found = []
        for line in lines:
            os.write(master, line.encode() + b"\x18")
            found.append(wait_for(rb"<line\[(.*?)\]>").group(1).decode())
            os.write(master, b"\x15")  # Ctrl-U: clear the line for the next one
        return found
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_typed_into_a_terminal(shell, repo, work):
    from support import completion_repo

    completion_repo(repo, work)
    typed_lines = {
        "mvc show res\t": "mvc show resnet",  # no space: @ may follow
        "mvc show resnet@b\t": "mvc show resnet@best ",
        "mvc add m.bin --from=resnet@l\t": "mvc add m.bin --from=resnet@latest ",
        "mvc promote resnet@best e\t": "mvc promote resnet@best edge ",
        "mvc ls res\t": "mvc ls resnet ",  # a name, not a ref: the space comes
        "mvc push -r o\t": "mvc push -r origin ",
        "mvc config get compare.p\t": "mvc config get compare.primary_metric ",
        "mvc access grant bob m\t": "mvc access grant bob maintainer ",
    }
    assert typed(shell, list(typed_lines), work, repo.env) == list(typed_lines.values())
