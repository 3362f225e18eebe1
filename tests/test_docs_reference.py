"""docs/ stays true: every command and option of the CLI is in docs/commands.md, every exit
code in docs/exit-codes.md, every command in the README's table, every relative link leads to a
file (and heading) that exists, and the JSON examples of docs/json.md have the keys that the
commands print today.

    python3 tests/test_docs_reference.py --update   rewrite docs/json.md's examples from a real run
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from support import BIN, mvc_env

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
JSON_DOC = DOCS / "json.md"
# what docs/json.md shows instead of the temporary folder its examples ran in
SHOWN_DIR = "/home/ana/project"
SHOWN_USER = "ana@example.com"


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- markdown


def fenced_blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, body, index of the opening fence's line) of every fenced block."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^(\s*)(```+)(\S*)\s*$", lines[i])
        if m:
            fence, start = m.group(2), i
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i][len(m.group(1)):] if lines[i].startswith(m.group(1)) else lines[i])
                i += 1
            blocks.append((m.group(3), "\n".join(body) + "\n", start))
        i += 1
    return blocks


def outside_code(text: str) -> str:
    """The text with fenced blocks blanked out (headings and links inside them do not count)."""
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r"^\s*(```+)", line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in outside_code(path.read_text()).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def sections(path: Path, nested: bool = True) -> dict[str, str]:
    """Heading text (without #'s and backticks) -> the text up to the next heading of the same
    or a higher level (``nested=False``: up to the next heading of any level)."""
    lines = outside_code(path.read_text()).splitlines()
    raw = path.read_text().splitlines()
    heads = [(i, len(m.group(1)), m.group(2).replace("`", "").strip())
             for i, line in enumerate(lines) if (m := re.match(r"^(#{1,6})\s+(.*?)\s*$", line))]
    out = {}
    for n, (i, level, title) in enumerate(heads):
        end = next((j for j, lv, _ in heads[n + 1:] if lv <= level or not nested), len(raw))
        out[title] = "\n".join(raw[i:end])
    return out


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


# ---------------------------------------------------------------- commands.md


def test_docs_folder_has_the_reference_pages():
    for name in ("README.md", "commands.md", "json.md", "exit-codes.md", "layout.md", "guarantees.md"):
        assert (DOCS / name).is_file(), f"docs/{name} is missing"
    index = (DOCS / "README.md").read_text()
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"


def test_every_command_and_option_is_in_commands_md():
    tree = _gen_docs().load()
    found = sections(DOCS / "commands.md")
    missing = []
    for command in tree.walk():
        if command is tree:
            text = found.get("Global options", "")
            if not text:
                missing.append("a 'Global options' section")
        else:
            text = found.get(command.name)
            if text is None:
                missing.append(f"a section '{command.name}'")
                continue
        for option in command.options:
            if "--help" in option.names:
                continue
            for name in option.names:
                if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
                    missing.append(f"{name} in the section of '{command.name}'")
    assert not missing, "docs/commands.md lacks: " + "; ".join(missing)


def test_commands_md_documents_no_option_that_does_not_exist():
    tree = _gen_docs().load()
    found = sections(DOCS / "commands.md", nested=False)
    wrong = []
    for command in tree.walk():
        text = found.get("Global options" if command is tree else command.name, "")
        names = {n for o in command.options for n in o.names}
        for row in re.findall(r"^\| (`-[^|]*)\|", text, re.M):
            wrong += [f"{command.name} {n}" for n in re.findall(r"`(--?[A-Za-z][\w-]*)", row) if n not in names]
    assert not wrong, f"docs/commands.md documents options that do not exist: {wrong}"


def test_commands_md_documents_no_command_that_does_not_exist():
    names = {c.name for c in _gen_docs().load().walk()}
    documented = [t for t in sections(DOCS / "commands.md") if t.startswith("mvc ")]
    assert documented and not [t for t in documented if t not in names], (
        f"sections for commands mvc does not have: {[t for t in documented if t not in names]}")


def test_every_exit_code_and_error_type_is_in_exit_codes_md():
    from mvc.core import errors

    text = (DOCS / "exit-codes.md").read_text()
    table_codes = set(re.findall(r"^\|\s*(\d+)\s*\|", text, re.M))
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.MvcError)]
    codes = {str(c.exit_code) for c in classes} | {"0"}
    assert codes <= table_codes, f"exit codes not in docs/exit-codes.md: {sorted(codes - table_codes)}"
    kinds = {c.kind for c in classes}
    assert not [k for k in kinds if f"`{k}`" not in text], "error types not in docs/exit-codes.md"


# ---------------------------------------------------------------- README and links


def test_readme_refers_to_nothing_outside_the_repository():
    text = README.read_text()
    assert "../" not in text, "README.md names a path outside the repository"
    assert "(docs/README.md)" in text or "(docs/)" in text, "README.md does not link docs/"
    for page in markdown_files():
        text = page.read_text()
        assert "shared/" not in text and "SPEC" not in text, f"{page.name} names files users do not have"


def test_every_relative_link_leads_to_a_file_and_heading_that_exist():
    broken = []
    for page in markdown_files():
        for target in re.findall(r"\]\(([^)\s]+)\)", outside_code(page.read_text())):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if ROOT.resolve() not in (dest, *dest.parents):
                broken.append(f"{page.relative_to(ROOT)}: {target} leaves the repository")
            elif not dest.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} does not exist")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.relative_to(ROOT)}: {target} has no heading #{anchor}")
    assert not broken, "\n".join(broken)


def test_readme_commands_table_lists_every_command():
    tree = _gen_docs().load()
    table = sections(README)["Commands"]
    rows = [re.split(r"(?<!\\)\|", line)[1] for line in table.splitlines() if line.startswith("| `mvc")]
    missing = []
    for command in tree.commands:
        words = [command.name] + [f"{s.path[-1]}" for s in command.commands]
        row = [r for r in rows if re.search(rf"`{re.escape(command.name)}(?![\w-])", r)]
        if not row:
            missing.append(command.name)
        elif command.commands:
            missing += [f"{command.name} {w}" for w in words[1:] if not re.search(rf"\b{w}\b", " ".join(row))]
    assert not missing, f"the README's commands table lacks: {missing}"


# ---------------------------------------------------------------- json.md


def json_examples(text: str) -> tuple[str, list[tuple[str, int]]]:
    """The set-up block, and each (command, line of its json block) pair: a ``sh`` block followed
    by a ``json`` block."""
    blocks = fenced_blocks(text)
    setup = next(body for lang, body, _ in blocks if lang == "sh")
    pairs = [(blocks[i][1], blocks[i + 1][2]) for i in range(len(blocks) - 1)
             if blocks[i][0] == "sh" and blocks[i + 1][0] == "json"]
    return setup, pairs


def run_session(where: Path, home: Path) -> tuple[str, list[tuple[str, str]]]:
    """Run docs/json.md's session in ``where``: [(command, stdout)]."""
    setup, pairs = json_examples(JSON_DOC.read_text())
    env = mvc_env(home, MVC_USER=SHOWN_USER, GIT_AUTHOR_EMAIL=SHOWN_USER, GIT_COMMITTER_EMAIL=SHOWN_USER)
    env["PATH"] = f"{BIN.parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("COLUMNS", None)

    def bash(script: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-e", "-c", script], cwd=where, env=env, capture_output=True,
                              text=True, timeout=300)

    proc = bash(setup)
    assert proc.returncode == 0, f"docs/json.md's set-up failed:\n{proc.stderr}"
    out = []
    for command, _ in pairs:
        proc = bash(command)
        assert proc.returncode == 0, f"{command.strip()} exited {proc.returncode}:\n{proc.stderr}"
        out.append((command, proc.stdout))
    return setup, out


def shape(value):
    """The keys of a JSON value, recursively: dicts by their keys, lists by their first item."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def shape_differences(doc, real, where: str = "") -> list[str]:
    if isinstance(doc, dict) and isinstance(real, dict):
        out = []
        if set(doc) != set(real):
            out.append(f"{where or 'top level'}: documented {sorted(doc)}, printed {sorted(real)}")
        for k in set(doc) & set(real):
            out += shape_differences(doc[k], real[k], f"{where}.{k}")
        return out
    if isinstance(doc, list) and isinstance(real, list) and doc and real:
        return shape_differences(doc[0], real[0], f"{where}[0]")
    return []


def test_json_examples_have_the_keys_the_commands_print(tmp_path):
    where = tmp_path / "project"
    where.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    documented = [json.loads(b) for lang, b, _ in fenced_blocks(JSON_DOC.read_text())[1:] if lang == "json"]
    setup, printed = run_session(where, home)
    assert len(documented) == len(printed)
    covered = " ".join(c for c, _ in printed)
    for command in ("add", "ls", "show", "resolve", "lineage", "diff"):
        assert f"mvc {command} " in covered, f"docs/json.md shows no example of mvc {command}"
    problems = []
    for doc, (command, stdout) in zip(documented, printed):
        real = json.loads(stdout)
        problems += [f"{command.strip()}: {d}" for d in shape_differences(shape(doc), shape(real))]
        if not doc and real:
            problems.append(f"{command.strip()}: the documented example is empty")
    assert not problems, "docs/json.md is out of date (python3 tests/test_docs_reference.py --update):\n" + \
        "\n".join(problems)


def update_json_doc() -> None:
    """Rewrite each json block of docs/json.md with what its command prints now."""
    text = JSON_DOC.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        where, home = Path(tmp) / "project", Path(tmp) / "home"
        where.mkdir()
        home.mkdir()
        _, printed = run_session(where, home)
        real_dir = str(where.resolve())
        lines = text.splitlines()
        _, pairs = json_examples(text)
        # replace from the last block up, so earlier line numbers stay valid
        for (_, start), (_, stdout) in reversed(list(zip(pairs, printed))):
            end = next(j for j in range(start + 1, len(lines)) if lines[j].strip() == "```")
            shown = json.dumps(json.loads(stdout), indent=2, ensure_ascii=False)
            shown = shown.replace(real_dir, SHOWN_DIR).replace(str(Path(tmp).resolve()), "/home/ana")
            lines[start + 1:end] = shown.splitlines()
    JSON_DOC.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    update_json_doc()
