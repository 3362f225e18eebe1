"""mvc resolve: which version serves, its path, and the deterministic bucket rule."""

from __future__ import annotations

import hashlib

from deploy_support import add_versions, fail


def bucket(key: str) -> int:
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % 100


def test_resolve_stable_and_canary_by_key(repo, work):
    add_versions(repo, work, 2)
    assert "serves no version" in fail(repo, "resolve", "m").stderr
    repo("promote", "m@1.0.0", "production")
    deploy = work / ".mvc" / "deploy" / "m" / "production"
    assert repo.json("resolve", "m") == {
        "model": "m", "channel": "production", "version": "1.0.0", "ref": "m@1.0.0",
        "path": str(deploy / "blue" / "model.bin"), "canary": None,
    }
    assert repo("resolve", "m").stdout == f"1.0.0\t{deploy / 'blue' / 'model.bin'}\n"
    repo("canary", "start", "m@1.1.0", "--channel", "production", "--percent", "30")
    low = next(k for k in (f"k{i}" for i in range(100)) if bucket(k) < 30)
    high = next(k for k in (f"k{i}" for i in range(100)) if bucket(k) >= 30)
    got = repo.json("resolve", "m", "--key", low)
    assert (got["version"], got["path"]) == ("1.1.0", str(deploy / "green" / "model.bin"))
    assert got["canary"] == {"version": "1.1.0", "percent": 30}
    assert repo.json("resolve", "m", "--key", high)["version"] == "1.0.0"
    assert repo.json("resolve", "m")["version"] == "1.0.0"  # no key: the stable version
    assert "unknown channel" in fail(repo, "resolve", "m", "--channel", "nope").stderr
