"""The shape of the code (docs/architecture.md): the engine (mvc/core) knows nothing of the
API, the result types, the CLI or the terminal; no module reaches into another's private
names; every change goes through a unit of work. These are read from the source with ast,
so a violation names its file and line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mvc"
CORE = PACKAGE / "core"

FORBIDDEN_IN_CORE = ("mvc.api", "mvc.results", "mvc.cli", "typer", "rich")

# Private names of third-party packages that mvc uses on purpose, with the reason.
THIRD_PARTY_PRIVATE = {
    # typer vendors click as typer._click from 0.26 on; it is the only way to its exceptions
    ("mvc/cli/app.py", "_click"),
    ("mvc/cli/common.py", "_click"),
    # tomlkit offers no public way to insert a key at a position or keep a deleted table's
    # comments; mvc/core/toml_edit.py falls back to the public API when these are missing
    ("mvc/core/toml_edit.py", "_insert_at"),
    ("mvc/core/toml_edit.py", "_map"),
    ("mvc/core/toml_edit.py", "_body"),
    # NamedTuple's public API is spelled with a leading underscore
    ("*", "_replace"),
    ("*", "_asdict"),
    ("*", "_fields"),
    ("*", "_make"),
    # the standard library's exit without interpreter shutdown (a second Ctrl-C leaves at once)
    ("mvc/cli/__init__.py", "_exit"),
}


def _modules(folder: Path):
    for path in sorted(folder.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _forbidden(module: str, name: str | None) -> bool:
    full = f"{module}.{name}" if name else module
    return any(m == f or m.startswith(f + ".") for m in (module, full) for f in FORBIDDEN_IN_CORE)


def test_the_engine_imports_nothing_from_above_it():
    bad = sorted({f"{_rel(p)}:{line} imports {module}{'.' + name if name else ''}"
                  for p, tree in _modules(CORE) for line, module, name in _imported(tree)
                  if _forbidden(module, name)})
    assert not bad, "mvc/core must not import the API, results, CLI, typer or rich:\n" + "\n".join(bad)


def _allowed(rel: str, name: str) -> bool:
    return (rel, name) in THIRD_PARTY_PRIVATE or ("*", name) in THIRD_PARTY_PRIVATE


def test_no_module_uses_another_modules_private_names():
    bad = []
    for path, tree in _modules(PACKAGE):
        rel = _rel(path)
        for line, _module, name in _imported(tree):
            if name and name.startswith("_") and not name.startswith("__") and not _allowed(rel, name):
                bad.append(f"{rel}:{line} imports the private name {name}")
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if _allowed(rel, node.attr):
                continue
            bad.append(f"{rel}:{node.lineno} reaches into {ast.unparse(node)}")
    assert not bad, "use a public name instead:\n" + "\n".join(bad)


def test_every_change_goes_through_a_unit_of_work():
    """Audit events are appended by UnitOfWork.event alone, so no change can skip the lock,
    the transaction or the access decision that Session.change opens."""
    bad = []
    for path, tree in _modules(PACKAGE):
        rel = _rel(path)
        if rel in ("mvc/core/session.py",) or rel.startswith("mvc/core/registry/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("append_event", "transaction"):
                bad.append(f"{rel}:{node.lineno} calls registry.{node.attr} outside mvc/core/session.py")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py")), ids=_rel)
def test_modules_stay_small(path):
    """STYLE: a module holds one idea; past ~400 lines it is probably two."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 450, f"{_rel(path)} has {lines} lines: split it by what it holds"


def test_architecture_md_names_every_engine_module():
    """docs/architecture.md stays true: each module of mvc/core is in its table, and it names
    no module that is gone."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    have = {p.stem for p in CORE.glob("*.py") if p.stem != "__init__"}
    named = set(re.findall(r"`([a-z_]+)\.py`", text))
    missing = sorted(have - named)
    assert not missing, f"docs/architecture.md does not say what these engine modules own: {missing}"
    gone = sorted(n for n in named - have if not any(PACKAGE.rglob(f"{n}.py")))
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"
