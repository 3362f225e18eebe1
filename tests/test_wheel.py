"""What a user installing the wheel gets (SPEC §9): the man pages in share/man/man1, where man
finds them from PATH, and `mvc completion SHELL` with no checkout beside the package.

One wheel is built per test session, offline, with this environment's setuptools (the test
extra declares it) and no build isolation, from a copy of the sources so that the checkout
gets no build/ or egg-info from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "mvc", "man", "completions")


@pytest.fixture(scope="session")
def prefix(tmp_path_factory) -> Path:
    """A --prefix install of the wheel built from this checkout."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    build = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), str(src)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    wheels = list((base / "dist").glob("mvc-*.whl"))
    assert len(wheels) == 1, wheels
    # --ignore-installed: without it pip uninstalls the mvc of this environment first
    install = subprocess.run([*pip, "install", "--no-deps", "--ignore-installed", "--prefix", str(base / "prefix"),
                              str(wheels[0])],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    return base / "prefix"


def _site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))


def test_the_wheel_installs_every_man_page(prefix):
    man1 = prefix / "share" / "man" / "man1"
    assert (man1 / "mvc.1").is_file() and (man1 / "mvc-add.1").is_file()
    assert sorted(p.name for p in man1.glob("*.1")) == sorted(p.name for p in (ROOT / "man").glob("*.1"))
    assert (man1 / "mvc.1").read_text() == (ROOT / "man" / "mvc.1").read_text()


def test_man_finds_the_pages_from_path(prefix):
    if shutil.which("man") is None:
        pytest.skip("man is not installed (apt package man-db)")
    env = {k: v for k, v in os.environ.items() if k != "MANPATH"}
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    for page in ("mvc", "mvc-add"):
        proc = subprocess.run(["man", "-w", page], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert Path(proc.stdout.strip()) == prefix / "share" / "man" / "man1" / f"{page}.1"


@pytest.mark.parametrize("shell, name", [("bash", "mvc.bash"), ("zsh", "_mvc"), ("fish", "mvc.fish")])
def test_completion_works_from_the_wheel_without_a_checkout(prefix, shell, name):
    site = _site_packages(prefix)
    env = dict(os.environ, PYTHONPATH=str(site))  # the installed package ahead of the editable one
    code = "import mvc, sys; from mvc.cli.app import run; sys.stderr.write(mvc.__file__); sys.exit(run(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "completion", shell], env=env, cwd=prefix,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stderr).is_relative_to(site), f"imported {proc.stderr}, not the wheel's mvc"
    assert not (site / "completions").exists()
    assert proc.stdout == (ROOT / "completions" / name).read_text()
