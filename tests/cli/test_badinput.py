"""Bad input (SPEC §4): random names, refs, versions, metrics, config values and paths never
cause a traceback; they fail with exit 1 or 2 and a message, and change nothing. The bulk runs
in-process through the Repo API; a smaller sample goes through the installed CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from mvc import Repo
from mvc.core.errors import IntegrityError, MvcError, UserError
from support import BIN, model_dir, write

NASTY = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", ".", "..", "../x", "/etc/passwd", "a/../../b", "x" * 5000, "a\x00b",
                     "m@", "@1.0.0", "m@v", "m@1.0", "m@01.0.0", "m@latest@x", "sha256:", "sha256:zz",
                     "sha256:1234567", "-rf", "--json", "m@../../etc", "m@\n", "é@1.0.0"]),
)
IN_PROCESS = settings(max_examples=60, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    old_cwd, old_user = os.getcwd(), os.environ.get("MVC_USER")
    os.chdir(root)
    os.environ["MVC_USER"] = "tester@example.com"
    repo = Repo.init(root)
    write(root / "m.bin", b"weights")
    repo.add(root / "m.bin", "m", metrics={"accuracy": 0.5})
    yield repo, root
    repo.close()
    os.chdir(old_cwd)
    if old_user is None:
        os.environ.pop("MVC_USER", None)
    else:
        os.environ["MVC_USER"] = old_user


def snapshot(repo: Repo, root: Path):
    return ([(r.model, r.version, r.digest) for r in repo.registry.versions()], repo.registry.tags(),
            len(repo.registry.events()), (root / ".mvc" / "config.toml").read_bytes(),
            sorted(repo.store.iter_digests()), sorted(p.name for p in root.iterdir()))


def refused(call) -> None:
    """``call`` either succeeds or raises an MvcError with a usage/user exit code."""
    try:
        call()
    except MvcError as exc:
        assert exc.exit_code in (1, 2), exc
        assert exc.message and "Traceback" not in exc.message


@IN_PROCESS
@given(name=NASTY)
def test_random_model_names_and_refs(api, name):
    repo, root = api
    before = snapshot(repo, root)
    for call in (lambda: repo.show(name), lambda: repo.ls(name), lambda: repo.log(name),
                 lambda: repo.verify([name]), lambda: repo.tag(name, "best"),
                 lambda: repo.tags(name), lambda: repo.untag(name, "x")):
        refused(call)
    try:
        repo.add(root / "m.bin", name)
    except MvcError as exc:
        assert exc.exit_code in (1, 2)
        assert snapshot(repo, root) == before
    else:  # a valid new name: clean up is not possible, so only check it was valid
        from mvc.core.names import check_model_name

        check_model_name(name)


@IN_PROCESS
@given(version=NASTY, metric=NASTY, param=NASTY, label=NASTY)
def test_random_versions_metrics_params_tags(api, version, metric, param, label):
    repo, root = api
    before = snapshot(repo, root)
    with pytest.raises(MvcError) as err:
        # --version and a bad metric, or a tag that is not allowed: at least one is wrong
        repo.add(root / "m.bin", "m", version=version, metrics=[metric if "=" in metric else metric + "=x"],
                 params=[f"k={param}"], tags=[label])
    assert err.value.exit_code in (1, 2)
    assert snapshot(repo, root) == before


@IN_PROCESS
@given(key=NASTY, value=NASTY)
def test_random_config(api, key, value):
    repo, root = api
    before = snapshot(repo, root)
    refused(lambda: repo.config_get(key))
    try:
        repo.config_set(key, value)
    except MvcError as exc:
        assert exc.exit_code in (1, 2)
        assert snapshot(repo, root) == before
    else:
        repo.config_unset(key)


@IN_PROCESS
@given(path=NASTY)
def test_random_paths(api, path):
    repo, root = api
    if "\x00" not in path and len(path) < 1000:
        assume(not os.path.lexists(path or "."))  # existing paths are fine to add
    before = snapshot(repo, root)
    for call in (lambda: repo.add(path, "m2", data=[path]), lambda: repo.add(root / "m.bin", "m", data=[path]),
                 lambda: repo.add(root / "m.bin", "m", code=[path])):
        try:
            call()
        except (MvcError, ValueError) as exc:  # ValueError: NUL in a path, from os itself
            assert not isinstance(exc, MvcError) or exc.exit_code in (1, 2)
        else:
            pytest.fail(f"{path!r} was accepted")
    assert snapshot(repo, root) == before


@IN_PROCESS
@given(user=NASTY, role=NASTY)
def test_random_access(api, user, role):
    repo, root = api
    before = snapshot(repo, root)
    if (user, role) == ("tester@example.com", "admin"):
        return
    with pytest.raises(MvcError) as err:
        repo.access_grant(user, role)
    assert err.value.exit_code in (1, 2)
    refused(lambda: repo.access_revoke(user))
    assert snapshot(repo, root) == before


# -- symlinks and writing outside a target ---------------------------------------------------

@pytest.mark.parametrize("target", ["../outside.txt", "/etc/hostname", "sub/../../outside.txt"])
def test_directory_with_a_symlink_pointing_outside_is_refused(repo, work, target):
    model_dir(work / "net")
    write(work / "outside.txt", "secret")
    (work / "net" / "escape").symlink_to(target)
    before = repo.state()
    proc = repo.fail("add", "net", "--name", "net")
    assert "pointing outside" in proc.stderr
    assert repo.state() == before


def test_checkout_never_writes_outside_its_target(api, tmp_path):
    """A manifest that names ../ paths (a tampered store) is refused before anything is written."""
    repo, root = api
    from mvc.core.artifacts import ManifestEntry, manifest_bytes
    from mvc.core.registry.base import NewVersion

    blob = repo.store.put_bytes(b"payload")
    for i, evil in enumerate(["../escaped.txt", "/tmp/abs-escape.txt", "a/../../escaped.txt"]):
        digest = repo.store.put_bytes(manifest_bytes([ManifestEntry(evil, 0o644, 7, blob)]))
        with repo.session.change("writer", "add", "evil") as work:
            repo.registry.insert_version(NewVersion("evil", f"0.0.{i}", digest, 7, "directory", "evil", "",
                                                    {}, {}, {}, {}, work.ts, "x"))
        target = tmp_path / f"out{i}" / "here"
        with pytest.raises(IntegrityError):
            repo.checkout(f"evil@0.0.{i}", target)
        assert not target.exists()
        assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / f"out{i}" / "escaped.txt").exists()
        assert not Path("/tmp/abs-escape.txt").exists()


# -- a smaller sample through the real CLI ---------------------------------------------------

CLI_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30) | \
    st.sampled_from(["../x", "/etc/passwd", "x" * 3000, "m@1.0", "sha256:zz", "m@../.."])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arg=CLI_TEXT, which=st.sampled_from([
    ("show", "{a}"), ("add", "m.bin", "--name", "{a}"), ("add", "{a}", "--name", "m"),
    ("add", "m.bin", "--name", "m", "--metric", "{a}"), ("tag", "m", "{a}"), ("verify", "{a}"),
    ("config", "set", "{a}", "1"), ("access", "grant", "{a}", "writer"), ("checkout", "{a}"),
    ("add", "m.bin", "--name", "m", "--version", "{a}"),
]))
def test_cli_never_shows_a_traceback(repo, work, arg, which):
    if not (work / "m.bin").exists():
        write(work / "m.bin", b"weights")
        repo("add", "m.bin", "--name", "m")
    args = [a.format(a=arg) if "{a}" in a else a for a in which]
    proc = subprocess.run([str(BIN), *args], cwd=work, env=repo.env, capture_output=True, text=True)
    assert "Traceback" not in proc.stderr
    if proc.returncode != 0:
        assert proc.returncode in (1, 2), (args, proc.stderr)
        assert proc.stderr.startswith("mvc: error: ") or proc.returncode == 2, proc.stderr
