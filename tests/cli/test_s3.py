"""s3:// remotes against a real S3 endpoint (moto's server mode on loopback, tests/s3server.py):
options and credentials, push/pull/verify, a teammate's clone, stats, and a push killed
mid-way that leaves nothing partial behind."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import tomllib

import pytest

from support import BIN, Mvc, git, init_git, mvc_env, on_terminal, write


@pytest.fixture
def s3(s3_server, repo):
    """A repository whose default remote is a fresh bucket on the test S3 server; the test
    credentials are in the environment of every mvc it runs (the AWS chain), never in config."""
    bucket = s3_server.bucket()
    repo.env.update(s3_server.env())
    repo("remote", "add", "s3", f"s3://{bucket}/team/models", "--endpoint-url", s3_server.url,
         "--region", "us-east-1")
    return bucket


def _objects(s3_server, bucket: str) -> dict[str, bytes]:
    """Every object under the remote's objects/ whose key names its digest (``ab/cdef…``; a
    chunked file's recipe, ``….recipe``, is checked by mvc itself), by that digest."""
    client = s3_server.client()
    out = {}
    for key in s3_server.keys(bucket, "team/models/objects/"):
        hexd = "".join(key.split("/")[-2:])
        if re.fullmatch(r"[0-9a-f]{64}", hexd):
            out[hexd] = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return out


def _assert_whole(objects: dict[str, bytes]) -> None:
    for hexd, data in objects.items():
        assert hashlib.sha256(data).hexdigest() == hexd, f"partial or corrupt object {hexd} is visible"


def test_remote_add_keeps_options_and_refuses_credentials(s3_server, repo, tmp_path):
    repo("remote", "add", "s3", "s3://bucket/prefix", "--endpoint-url", "http://127.0.0.1:9000",
         "--profile", "team", "--region", "eu-west-1")
    config = tomllib.loads((repo.mvc_dir / "config.toml").read_text())
    assert config["remote"]["s3"] == {"url": "s3://bucket/prefix", "endpoint_url": "http://127.0.0.1:9000",
                                      "profile": "team", "region": "eu-west-1"}
    listed = repo.json("remote", "list")
    assert listed == [{"name": "s3", "url": "s3://bucket/prefix", "default": True,
                       "endpoint_url": "http://127.0.0.1:9000", "profile": "team", "region": "eu-west-1"}]
    assert repo("config", "get", "remote.s3.region").stdout == "eu-west-1\n"

    before = (repo.mvc_dir / "config.toml").read_bytes()
    for args in (["s3://AKIAEXAMPLE:secret@bucket/prefix"],
                 ["s3://bucket/prefix?secret_access_key=x"],
                 ["s3://bucket/p", "--endpoint-url", "http://key:secret@127.0.0.1:9000"],
                 ["s3://bucket/p", "--endpoint-url", "ftp://127.0.0.1"],
                 [str(tmp_path / "dir"), "--region", "eu-west-1"]):
        proc = repo.fail("remote", "add", "other", *args)
        assert "secret" not in proc.stderr or "credentials" in proc.stderr, proc.stderr
    assert "credentials may not be written" in repo.fail("remote", "add", "o", "s3://k:s@b/p").stderr
    assert "--profile applies to s3:// remotes only" in repo.fail("remote", "add", "o", str(tmp_path), "--profile", "x").stderr
    # no key in the schema takes a secret, and config set checks URLs too
    repo.fail("config", "set", "remote.s3.secret_access_key", "x")
    repo.fail("config", "set", "remote.s3.url", "s3://AKIA:secret@bucket/prefix")
    assert (repo.mvc_dir / "config.toml").read_bytes() == before
    # --force defines the remote anew: options not given again are gone
    repo("remote", "add", "s3", "s3://bucket/other", "--force")
    assert repo.json("remote", "list")[0]["endpoint_url"] is None


def test_push_pull_verify_and_stats_on_s3(s3_server, s3, repo, work):
    big = os.urandom(10 << 20)
    repo.add("m", big)
    write(work / "d" / "x.bin", b"x" * 10)
    write(work / "d" / "sub" / "y.bin", b"y" * 20)
    d = repo.json("add", "d", "--name", "dirm")
    pushed = repo.json("push", "--jobs", "3")
    assert pushed["transferred"] >= 4 and pushed["skipped"] == 0  # file, manifest, two files (chunks)
    assert pushed["bytes"] >= len(big)
    objects = _objects(s3_server, s3)
    _assert_whole(objects)
    # nothing but objects under the prefix: no temporary keys, no incomplete uploads
    assert all(k.startswith("team/models/objects/") for k in s3_server.keys(s3))
    assert not s3_server.client().list_multipart_uploads(Bucket=s3).get("Uploads")
    again = repo.json("push")
    assert again["transferred"] == 0 and again["skipped"] == pushed["transferred"]

    stats = repo.json("stats", "--remote")["remote"]
    assert stats["versions"] == 2 and stats["name"] == "s3"
    assert stats["stored"] == sum(s3_server.keys(s3).values())

    shutil.rmtree(repo.mvc_dir / "objects")
    pulled = repo.json("pull", "m", "dirm", "-j", "2")
    assert pulled["transferred"] >= 4
    repo("verify")
    repo("checkout", "m", "-o", "out.bin")
    assert (work / "out.bin").read_bytes() == big
    repo("checkout", "dirm", "-o", "outd")
    assert (work / "outd" / "sub" / "y.bin").read_bytes() == b"y" * 20

    # a corrupt object on the remote is refused and leaves nothing in the store
    x = next(f["digest"] for f in repo.json("show", "dirm")["files"] if f["path"] == "x.bin")
    key = next(k for k in s3_server.keys(s3) if "".join(k.split("/")[-2:]) == x[7:])
    s3_server.client().put_object(Bucket=s3, Key=key, Body=b"y" * 10)
    local = repo.mvc_dir / "objects" / x[7:9] / x[9:]
    local.unlink()
    assert "corrupt" in repo.fail("pull", "dirm", code=3).stderr
    assert not local.exists() and d["digest"] != x


def test_a_clone_pulls_from_s3(s3_server, work, home, tmp_path):
    init_git(work, home)
    env = mvc_env(home)
    m = Mvc(work, home)
    m.env.update(s3_server.env())
    m("init")
    bucket = s3_server.bucket()
    m("remote", "add", "s3", f"s3://{bucket}/mvc", "--endpoint-url", s3_server.url)
    write(work / "net.bin", b"weights" * 1000)
    m("add", "net.bin", "--name", "net", "--git")
    git(work, "commit", "-q", "-m", "remote", env=env)
    m("push")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(work), str(clone), env=env)
    teammate = Mvc(clone, home)
    teammate.env.update(s3_server.env())
    results = teammate.json("checkout")
    assert [r["ref"] for r in results] == ["net@0.1.0"]
    assert (clone / "net.bin").read_bytes() == b"weights" * 1000
    # without credentials the AWS chain has nothing, and the error says so on one line
    no_keys = {k: "" for k in s3_server.env()}
    (clone / "net.bin").unlink()
    shutil.rmtree(clone / ".mvc" / "objects")
    proc = teammate.fail("checkout", env=dict(no_keys, AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                                              AWS_CONFIG_FILE=str(tmp_path / "none")))
    assert "remote 's3'" in proc.stderr


def test_without_s3fs_the_error_names_the_extra(s3_server, s3, repo, tmp_path):
    repo.add("m", b"bytes")
    hide = tmp_path / "no-s3fs" / "s3fs"
    write(hide / "__init__.py", "raise ImportError('No module named s3fs')\n")
    path = os.pathsep.join(p for p in (str(hide.parent), os.environ.get("PYTHONPATH")) if p)
    proc = repo.fail("push", env={"PYTHONPATH": path})
    assert proc.stderr == "mvc: error: s3:// remotes need the s3fs package; install it with: pip install 'mvc[s3]'\n"


def test_a_killed_push_leaves_nothing_partial_and_a_rerun_completes(s3_server, s3, repo, work):
    for i in range(3):
        repo.add(f"m{i}", os.urandom(12 << 20), filename=f"m{i}.bin")
    # stopped (MVC_STOP_AT) once a part of its pack has gone up, then killed: a push caught in
    # the middle of a multipart upload, every time (a race against the clock lost it at times)
    proc = subprocess.Popen([str(BIN), "push", "--jobs", "2"], cwd=repo.cwd,
                            env=dict(repo.env, MVC_STOP_AT="push:pack-writing"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), proc.stderr.read()
    assert s3_server.client().list_multipart_uploads(Bucket=s3).get("Uploads")  # under way
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-way, not finished
    _assert_whole(_objects(s3_server, s3))

    # fsck --repair aborts what the killed push left (an incomplete multipart upload of a
    # large whole object) once older than the grace period
    repo("config", "set", "gc.grace_seconds", "0")
    repo("fsck", "--repair")
    assert not s3_server.client().list_multipart_uploads(Bucket=s3).get("Uploads")

    again = repo.json("push")
    assert again["transferred"] + again["skipped"] == 3  # the three files, each once
    assert repo.json("push")["transferred"] == 0
    _assert_whole(_objects(s3_server, s3))
    shutil.rmtree(repo.mvc_dir / "objects")
    repo("pull", "m0", "m1", "m2")
    repo("verify")


def test_a_push_killed_after_a_pack_landed_resumes_without_sending_it_again(s3_server, s3, repo):
    """A push sends chunks in packs, each visible only once whole with its index; killed after
    the pack landed (before any recipe), the rerun sends the recipes and none of the chunks."""
    for i in range(2):
        repo.add(f"m{i}", os.urandom(6 << 20), filename=f"m{i}.bin")
    assert repo("push", env={"MVC_CRASH_AT": "push:pack-sent"}, check=False).returncode == -signal.SIGKILL
    keys = s3_server.keys(s3, "team/models/objects/")
    assert [k for k in keys if k.endswith(".idx")] and not [k for k in keys if k.endswith(".recipe")]
    again = repo.json("push")
    assert again["transferred"] == 2 and again["bytes"] < 1 << 20  # two recipes, no chunk again
    shutil.rmtree(repo.mvc_dir / "objects")
    repo("pull", "m0", "m1")
    assert repo.json("verify")["ok"] is True


def test_a_killed_push_to_a_directory_leaves_nothing_partial(repo, work, tmp_path):
    """Killed while a pack is being written (crash point push:pack-writing, SIGKILL): only a
    temporary file under tmp/ is left, no pack or index is visible; the rerun sends it all."""
    from mvc.core import packs

    remote = tmp_path / "remote"
    repo("remote", "add", "origin", str(remote))
    for i in range(4):
        repo.add(f"m{i}", os.urandom(16 << 20), filename=f"m{i}.bin")
    (repo.mvc_dir / "statcache.db").unlink(missing_ok=True)  # no trust: every byte is hashed

    def visible() -> list[str]:
        """The packs visible on the remote, each checked whole against its index."""
        folder = remote / "objects" / "pack"
        names = sorted(p.stem for p in folder.glob("*.idx")) if folder.is_dir() else []
        for name in names:
            entries = packs.decode((folder / f"{name}.idx").read_bytes(), name)
            data = (folder / f"{name}.pack").read_bytes()
            assert len(data) == packs.pack_size(entries)
            assert all(packs.chunk_matches(e.digest, data[e.offset:e.offset + e.size]) for e in entries)
        return names

    proc = repo("push", "--jobs", "1", env={"MVC_CRASH_AT": "push:pack-writing"}, check=False)
    assert proc.returncode == -signal.SIGKILL  # killed mid-way, not finished
    assert list(remote.glob("tmp/upload-*")) and visible() == []
    assert not list((remote / "objects").glob("??/*.recipe"))
    again = repo.json("push")
    assert again["transferred"] == 4 and again["bytes"] >= 64 << 20
    assert repo.json("push")["transferred"] == 0
    assert visible()
    shutil.rmtree(repo.mvc_dir / "objects")
    repo("pull", "m0", "m1", "m2", "m3")
    repo("verify")


def test_a_terminal_shows_a_bar_with_the_total(s3_server, s3, repo):
    # large enough that the push outlasts the bar's half-second delay: chunks go in one pack
    repo.add("m", os.urandom(160 << 20))
    out = on_terminal(["push", "--jobs", "1"], repo.cwd, dict(repo.env, TERM="xterm-256color"), 120)
    assert "pushing" in out and re.search(r"/\d+\.\d MiB", out), out
    assert re.search(r"Pushed \d+ objects", out), out
