"""What would make git refuse a ``--git`` change after the registry committed is refused before
it: a signer with no key, a lock of git's left behind, a ``.git`` on a read-only mount. Real
gpg, real git, a real read-only bind mount (in a user namespace, as ``unshare`` makes one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from support import Mvc, git, git_project, mvc_env, write


def _state(m: Mvc, work: Path, env: dict) -> tuple:
    return m.json("ls"), m.events(), git(work, "tag", env=env), git(work, "rev-parse", "HEAD", env=env)


def _one_version(work: Path, home: Path) -> tuple[Mvc, dict]:
    """A git project whose model net has one version, 0.1.0 (from m.bin), added without --git."""
    m = git_project(work, home)
    write(work / "m.bin", b"one")
    m("add", "m.bin", "--name", "net")
    return m, mvc_env(home)


@pytest.fixture
def gnupg():
    """A GNUPGHOME of its own, short enough for gpg-agent's socket; the agent is stopped after."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed: apt-get install gnupg (the signing checks run it)")
    folder = tempfile.mkdtemp(prefix="g", dir="/tmp")
    os.chmod(folder, 0o700)
    yield folder
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": folder},
                   capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def test_signing_with_no_secret_key_is_refused_before_and_signs_once_there_is_one(work, home, gnupg):
    m, env = _one_version(work, home)
    env = {**env, "GNUPGHOME": gnupg}
    git(work, "config", "tag.gpgSign", "true", env=env)
    before = _state(m, work, env)
    proc = m.fail("promote", "net@0.1.0", "staging", "--git", env={"GNUPGHOME": gnupg})
    assert "gpg has no secret key for it" in proc.stderr and "nothing changed" in proc.stderr, proc.stderr
    assert "git config tag.gpgSign false" in proc.stderr
    write(work / "m.bin", b"two")
    git(work, "config", "commit.gpgSign", "true", env=env)
    proc = m.fail("add", "m.bin", "--name", "net", "--git", env={"GNUPGHOME": gnupg})
    assert "tag.gpgSign, commit.gpgSign = true" in proc.stderr, proc.stderr
    assert _state(m, work, env) == before
    signer = git(work, "var", "GIT_COMMITTER_IDENT", env=env).rsplit(" ", 2)[0]  # whom git signs as
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", signer, "ed25519", "sign",
                    "never"], env={**os.environ, "GNUPGHOME": gnupg}, check=True, capture_output=True)
    m("add", "m.bin", "--name", "net", "--git", env={"GNUPGHOME": gnupg})
    m("promote", "net@0.1.1", "staging", "--git", env={"GNUPGHOME": gnupg})
    for tag in ("net@v0.1.1", "net#staging#1"):
        assert "-----BEGIN PGP SIGNATURE-----" in git(work, "cat-file", "tag", tag, env=env)
    assert "gpgsig" in git(work, "cat-file", "commit", "HEAD", env=env)


def test_ssh_signing_without_its_key_file_is_refused_before(work, home):
    m, env = _one_version(work, home)
    git(work, "config", "tag.gpgSign", "true", env=env)
    git(work, "config", "gpg.format", "ssh", env=env)
    before = _state(m, work, env)
    assert "user.signingKey is not set" in m.fail("promote", "net@0.1.0", "staging", "--git").stderr
    git(work, "config", "user.signingKey", str(home / "no-such-key.pub"), env=env)
    assert "no-such-key.pub, which does not exist" in m.fail("promote", "net@0.1.0", "staging", "--git").stderr
    assert _state(m, work, env) == before
    # a key named relative to the top folder, as git reads it, from a subfolder: signs
    (work / "keys").mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "keys" / "id")], check=True)
    git(work, "config", "user.signingKey", "keys/id.pub", env=env)
    (work / "sub").mkdir()
    m("promote", "net@0.1.0", "staging", "--git", cwd=work / "sub")
    assert "-----BEGIN SSH SIGNATURE-----" in git(work, "cat-file", "tag", "net#staging#1", env=env)


def test_a_signer_that_is_not_gpg_is_left_to_sign_as_it_does(work, home, tmp_path):
    """smimesign, gitsign or a wrapper takes only what git gives it (-bsau KEY): asked to list
    its keys as gpg is, it failed, and the change was refused although git signs with it."""
    m, env = _one_version(work, home)
    signer = tmp_path / "smimesign"
    write(signer, '#!/bin/sh\n[ "$1" = "--status-fd=2" ] && [ "$2" = "-bsau" ] || exit 1\ncat >/dev/null\n'
                  'echo "[GNUPG:] SIG_CREATED D 1 8 00 0 FAKE" >&2\n'
                  "printf -- '-----BEGIN SIGNED MESSAGE-----\\nZmFrZQ==\\n-----END SIGNED MESSAGE-----\\n'\n")
    signer.chmod(0o755)
    for key, value in (("gpg.format", "x509"), ("gpg.x509.program", str(signer)), ("tag.gpgSign", "true")):
        git(work, "config", key, value, env=env)
    assert m.json("promote", "net@0.1.0", "staging", "--git")["git"]["tag"] == "net#staging#1"
    assert "-----BEGIN SIGNED MESSAGE-----" in git(work, "cat-file", "tag", "net#staging#1", env=env)


def test_a_lock_git_left_behind_is_refused_before_the_registry_changes(work, home):
    m, env = _one_version(work, home)
    before = _state(m, work, env)
    lock = work / ".git" / "refs" / "tags" / "net#staging#1.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_bytes(b"")  # a git killed while it made this tag
    proc = m.fail("promote", "net@0.1.0", "staging", "--git")
    assert "git's lock file .git/refs/tags/net#staging#1.lock is there" in proc.stderr, proc.stderr
    assert "rm '.git/refs/tags/net#staging#1.lock'" in proc.stderr
    assert _state(m, work, env) == before
    lock.unlink()
    index_lock = work / ".git" / "index.lock"
    index_lock.write_bytes(b"")
    write(work / "m.bin", b"two")
    assert "index.lock is there" in m.fail("add", "m.bin", "--name", "net", "--git").stderr
    assert _state(m, work, env) == before and not (work / "m.bin.mvc").exists()
    index_lock.unlink()
    assert m.json("add", "m.bin", "--name", "net", "--git")["git"]["created"] == ["net@v0.1.1"]
    assert m.json("promote", "net@0.1.1", "staging", "--git")["git"]["tag"] == "net#staging#1"


def _read_only_git(work: Path, argv: list[str], env: dict) -> subprocess.CompletedProcess:
    """``argv`` in a user namespace of its own where ``work/.git`` is a read-only bind mount."""
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    return subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(work / ".git"), *argv],
                          cwd=work, env=env, capture_output=True, text=True)


def test_a_git_folder_on_a_read_only_mount_is_refused_before_the_registry_changes(work, home):
    m, env = _one_version(work, home)
    before = _state(m, work, env)
    probe = _read_only_git(work, ["true"], m.env) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("needs a read-only bind mount, and this kernel gives no user namespace (unshare -rm) to make "
                    f"one: {probe.stderr.strip() if probe else 'unshare is not installed'}")
    mvc = str(Path(sys.executable).parent / "mvc")
    proc = _read_only_git(work, [mvc, "promote", "net@0.1.0", "staging", "--git"], m.env)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "(a read-only file system)" in proc.stderr and "nothing changed" in proc.stderr, proc.stderr
    write(work / "m.bin", b"two")
    proc = _read_only_git(work, [mvc, "add", "m.bin", "--name", "net", "--git", "--json"], m.env)
    assert proc.returncode == 1 and "read-only file system" in proc.stderr, proc.stderr
    assert _state(m, work, env) == before
