"""Special files and hostile input (SPEC §10, issue 10 items 10 and 11): FIFOs and devices are
refused at once wherever mvc takes a path, files read whole have a size limit, and non-UTF-8
arguments and file names, JSON nested too deep and integers too large for a float are a clear
error (exit 1), never a hang or an "internal error". Every run here has a short timeout."""

from __future__ import annotations

import os
import subprocess

import pytest

from support import BIN, assert_error, git, init_git, mvc_env, write

TIMEOUT = 30  # a hang fails the test instead of blocking the suite


def run(work, home, *args: str | bytes, env: dict | None = None) -> subprocess.CompletedProcess:
    """``mvc`` with arguments given as str or raw bytes; stderr decoded leniently."""
    full_env = {k.encode(): v.encode() for k, v in mvc_env(home).items()}
    full_env.update(env or {})
    argv = [os.fsencode(BIN), *(a if isinstance(a, bytes) else a.encode() for a in args)]
    proc = subprocess.run(argv, cwd=work, env=full_env, capture_output=True, timeout=TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
                                       proc.stderr.decode(errors="replace"))


def fails(work, home, *args: str | bytes, env: dict | None = None) -> str:
    proc = run(work, home, *args, env=env)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert_error(proc)
    assert "internal error" not in proc.stderr
    return proc.stderr


@pytest.fixture
def fifo(work):
    path = work / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("option", ["--data", "--code", "--params-file", "--metrics-file", None])
def test_a_fifo_is_refused_at_once(repo, work, home, fifo, option):
    write(work / "m.bin", b"weights")
    args = ("add", "m.bin", "--name", "m", option, "pipe") if option else ("add", "pipe", "--name", "m")
    err = fails(work, home, *args)
    assert "pipe" in err and "FIFO" in err


@pytest.mark.parametrize("option", ["--data", "--code", "--params-file", "--metrics-file"])
def test_a_device_is_refused_at_once(repo, work, home, option):
    write(work / "m.bin", b"weights")
    err = fails(work, home, "add", "m.bin", "--name", "m", option, "/dev/zero")
    assert "/dev/zero" in err and "character device" in err


def test_a_symlink_to_a_fifo_is_refused(repo, work, home, fifo):
    write(work / "m.bin", b"weights")
    os.symlink(fifo, work / "link")
    assert "FIFO" in fails(work, home, "add", "m.bin", "--name", "m", "--data", "link")


@pytest.mark.parametrize("option", ["--params-file", "--metrics-file"])
def test_metrics_and_params_files_have_a_size_limit(repo, work, home, option):
    write(work / "m.bin", b"weights")
    big = work / "big.json"
    with open(big, "wb") as f:
        f.truncate(16 * 1024 * 1024 + 1)  # sparse: cheap to make, 16 MiB + 1 to read
    err = fails(work, home, "add", "m.bin", "--name", "m", option, "big.json")
    assert "big.json" in err and "16 MiB" in err
    assert repo.json("ls") == []


def test_lineage_of_a_fifo_is_refused(repo, work, home, fifo):
    err = fails(work, home, "lineage", "pipe")
    assert "pipe" in err and "FIFO" in err


def _git_project(repo, work, home):
    init_git(work, home)
    env = mvc_env(home)
    write(work / "net.bin", b"weights")
    repo("add", "net.bin", "--name", "net", "--git")
    return env


def test_a_fifo_named_like_a_pointer_file_is_refused(repo, work, home):
    _git_project(repo, work, home)
    os.mkfifo(work / "x.mvc")
    err = fails(work, home, "checkout")
    assert "x.mvc" in err and "FIFO" in err


def test_a_huge_pointer_file_is_refused(repo, work, home):
    _git_project(repo, work, home)
    write(work / "y.mvc", b"#" * (64 * 1024 + 1))
    err = fails(work, home, "checkout")
    assert "y.mvc" in err and "64 KiB" in err


def test_a_pointer_file_linked_to_a_device_is_refused(repo, work, home):
    _git_project(repo, work, home)
    os.symlink("/dev/zero", work / "z.mvc")
    err = fails(work, home, "checkout")
    assert "z.mvc" in err and "character device" in err


@pytest.mark.parametrize("option", ["--data", "--code"])
def test_a_fifo_inside_a_data_or_code_folder_is_refused(repo, work, home, option):
    write(work / "m.bin", b"weights")
    write(work / "d" / "rows.csv", "a,b\n")
    os.mkfifo(work / "d" / "pipe")
    assert "pipe" in fails(work, home, "add", "m.bin", "--name", "m", option, "d")
    assert "pipe" in fails(work, home, "lineage", "d")


def test_the_post_checkout_hook_does_not_hang_on_a_fifo(repo, work, home):
    env = _git_project(repo, work, home)
    repo("hooks", "install")
    git(work, "checkout", "-q", "-b", "other", env=env)
    os.mkfifo(work / "x.mvc")
    proc = subprocess.run(["git", "checkout", "-q", "master" if _has(work, env, "master") else "main"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    # the hooks look only at the pointer files git tracks: an untracked FIFO is left alone (no hang)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr and "mvc" not in proc.stderr


def _has(work, env, branch: str) -> bool:
    return branch in git(work, "branch", "--list", branch, env=env)


# -- item 11: non-UTF-8 text, deep nesting, huge integers -------------------------------------

@pytest.mark.parametrize("args, named", [
    ((b"-m", b"note \xff"), "-m"),
    ((b"--param", b"lr=\xff"), "--param"),
    ((b"--metric", b"acc\xff=1"), "--metric"),
    ((b"--name", b"net\xff"), "--name"),
    ((b"--data", b"data\xff.csv"), "--data"),
])
def test_a_non_utf8_argument_is_named(repo, work, home, args, named):
    write(work / "m.bin", b"weights")
    name = () if b"--name" in args else (b"--name", b"m")
    err = fails(work, home, "add", "m.bin", *name, *args)
    assert "not valid UTF-8" in err and named in err


def test_a_non_utf8_path_argument_and_check_command_are_named(repo, work, home):
    with open(os.path.join(os.fsencode(work), b"bad\xff.bin"), "wb") as f:
        f.write(b"weights")
    assert "not valid UTF-8" in fails(work, home, "add", b"bad\xff.bin", "--name", "m")
    repo.add("m", b"weights")
    err = fails(work, home, "promote", "m", "staging", "--check", b"true \xff")
    assert "not valid UTF-8" in err and "--check" in err


def test_a_non_utf8_file_name_inside_a_directory_is_named(repo, work, home):
    sub = os.path.join(os.fsencode(work), b"d", b"sub\xff")
    os.makedirs(sub)
    with open(os.path.join(sub, b"w.bin"), "wb") as f:
        f.write(b"weights")
    err = fails(work, home, "add", "d", "--name", "m")
    assert "not valid UTF-8" in err and "sub" in err
    assert repo.json("ls") == []


def test_a_non_utf8_user_name_is_named(repo, work, home):
    write(work / "m.bin", b"weights")
    err = fails(work, home, "add", "m.bin", "--name", "m", env={b"MVC_USER": b"al\xffice"})
    assert "not valid UTF-8" in err


@pytest.mark.parametrize("doc", [
    '{"a":' * 1000 + "1" + "}" * 1000,
    '{"a":' + "[" * 1000 + "]" * 1000 + "}",
])
@pytest.mark.parametrize("option", ["--params-file", "--metrics-file"])
def test_json_nested_too_deep_is_refused(repo, work, home, doc, option):
    write(work / "m.bin", b"weights")
    write(work / "deep.json", doc)
    err = fails(work, home, "add", "m.bin", "--name", "m", option, "deep.json")
    assert "deep.json" in err and "nested" in err


def test_a_param_nested_too_deep_is_kept_as_text(repo, work, home):
    deep = "[" * 1000 + "]" * 1000  # not JSON that Python parses: the text itself, as for a=abc
    repo.add("m", b"weights", "--param", f"a={deep}")
    assert repo.json("show", "m")["params"] == {"a": deep}


@pytest.mark.parametrize("digits", [4000, 5000])  # beyond 4,300 digits, Python's int() refuses
@pytest.mark.parametrize("how", ["--metric", "--metrics-file", "quoted in --metrics-file"])
def test_an_integer_metric_too_large_for_diff_is_refused(repo, work, home, how, digits):
    huge = "9" * digits
    repo.add("m", b"v1", "--metric", "acc=1")
    write(work / "m.bin", b"v2")
    write(work / "metrics.json", ('{"acc": "%s"}' if how.startswith("quoted") else '{"acc": %s}') % huge)
    arg = f"acc={huge}" if how == "--metric" else "metrics.json"
    err = fails(work, home, "add", "m.bin", "--name", "m", how.split()[-1], arg)
    assert ("acc" in err and "too large" in err) or f"an integer of {digits} digits is beyond the range" in err, err
    assert "internal error" not in err and "sys.set_int_max_str_digits" not in err
    repo("diff", "m@0.1.0", "m@0.1.0")


@pytest.mark.parametrize("text, said", [('{"nul": "a\\u0000b"}', "NUL character"),
                                        ('{"s": "\\udc80"}', "UTF-8 text"),
                                        ('{"deep": [{"k": "\\u0000"}]}', "NUL character")])
def test_params_a_registry_cannot_keep_everywhere_are_refused_from_a_file_too(repo, work, text, said):
    """Probe P: a params file's NUL character or lone surrogate (refused as an API value, not
    from a file) was kept; on PostgreSQL every 'ls NAME --where param.…' of that model then
    said the registry was damaged, and fsck said it was consistent."""
    write(work / "p.json", text.encode())
    write(work / "m.bin", b"w")
    proc = repo.fail("add", "m.bin", "--name", "m", "--params-file", "p.json")
    assert said in proc.stderr
    assert repo.json("ls") == []
