"""mvc checkout: where it writes, what it refuses, link modes, directories, corruption."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support import model_dir, tree_state, write


def test_checkout_default_path_is_original_name(repo, work):
    repo.add("m", b"weights", filename="model.safetensors")
    (work / "model.safetensors").unlink()
    out = repo.json("checkout", "m")
    assert set(out) >= {"ref", "digest", "path", "written"}
    assert out["path"] == str(work / "model.safetensors") and out["written"] is True
    assert (work / "model.safetensors").read_bytes() == b"weights"


def test_checkout_output_and_existing_directory(repo, work):
    repo.add("m", b"weights")
    repo("checkout", "m", "-o", "serving/model.bin")
    assert (work / "serving" / "model.bin").read_bytes() == b"weights"
    (work / "deploy").mkdir()
    out = repo.json("checkout", "m", "-o", "deploy")
    assert out["path"] == str(work / "deploy" / "model.bin")
    assert (work / "deploy" / "model.bin").read_bytes() == b"weights"


def test_identical_target_writes_nothing(repo, work):
    repo.add("m", b"weights")
    target = work / "model.bin"
    stat = target.stat()
    out = repo.json("checkout", "m")
    assert out["written"] is False
    assert "already matches" in repo("checkout", "m").stdout
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


def test_different_file_refused_without_force(repo, work):
    repo.add("m", b"weights")
    write(work / "model.bin", b"my local edits")
    proc = repo.fail("checkout", "m")
    assert "--force" in proc.stderr
    assert (work / "model.bin").read_bytes() == b"my local edits"
    repo.fail("checkout", "m", "--json")
    out = repo.json("checkout", "m", "--force")
    assert out["written"] is True and (work / "model.bin").read_bytes() == b"weights"
    assert "did you mean m@0.1.0" in repo.fail("checkout", "m@0.2.0").stderr


def _clones(folder: Path) -> bool:
    """Whether this filesystem clones files (``cp --reflink=always`` succeeds)."""
    write(folder / "probe-a", b"x")
    return subprocess.run(["cp", "--reflink=always", str(folder / "probe-a"), str(folder / "probe-b")],
                          capture_output=True).returncode == 0


def test_link_modes(repo, work, tmp_path):
    digest = repo.add("m", b"weights")["digest"].split(":")[1]
    obj = work / ".mvc" / "objects" / digest[:2] / digest[2:]
    cloned = "reflink" if _clones(tmp_path) else "copy"  # what a reflink checkout did, said as it is
    for mode in ("copy", "reflink", "hardlink", "symlink"):
        out = repo.json("checkout", "m", "-o", f"{mode}.bin", "--link", mode)
        assert out["link"] == (cloned if mode == "reflink" else mode)
        assert (work / f"{mode}.bin").read_bytes() == b"weights"
    assert (work / "hardlink.bin").stat().st_ino == obj.stat().st_ino
    assert (work / "symlink.bin").is_symlink() and (work / "symlink.bin").resolve() == obj.resolve()
    for mode in ("copy", "reflink"):
        assert not (work / f"{mode}.bin").is_symlink()
        assert (work / f"{mode}.bin").stat().st_ino != obj.stat().st_ino
    assert "'teleport' is not one of copy" in repo.fail("checkout", "m", "-o", "x.bin", "--link", "teleport", code=2).stderr


def test_directory_round_trip(repo, work):
    model_dir(work / "bundle")
    repo("add", "bundle", "--name", "dm")
    out = repo.json("checkout", "dm", "-o", "restored")
    assert out["kind"] == "directory" and out["files"] == 3
    assert tree_state(work / "restored") == tree_state(work / "bundle")
    assert os.access(work / "restored" / "run.sh", os.X_OK)
    assert os.readlink(work / "restored" / "latest.json") == "config/params.json"
    # the default target is the original directory name, which already matches
    assert repo.json("checkout", "dm")["written"] is False
    # a changed file inside the tree is a difference
    write(work / "restored" / "weights.bin", b"changed")
    repo.fail("checkout", "dm", "-o", "restored")
    repo("checkout", "dm", "-o", "restored", "--force")
    assert tree_state(work / "restored") == tree_state(work / "bundle")


def test_directory_round_trip_with_hardlinks(repo, work):
    model_dir(work / "bundle")
    repo("add", "bundle", "--name", "dm")
    out = repo.json("checkout", "dm", "-o", "linked", "--link", "hardlink")
    assert out["link"] == "hardlink"
    assert {p: s[:1] + s[2:] for p, s in tree_state(work / "linked").items()} == {
        p: s[:1] + s[2:] for p, s in tree_state(work / "bundle").items()}


def test_the_link_mode_reported_is_the_one_used(repo, work):
    """A file kept as chunks has no one object to link to and is copied: checkout says "copy",
    not the "hardlink" asked for; a folder of both says both, and the text line says the same."""
    big = bytes(range(256)) * (20 << 12)  # 5 MiB: kept as chunks
    write(work / "big.bin", big)
    repo("add", "big.bin", "--name", "big")
    out = repo.json("checkout", "big", "-o", "big-linked.bin", "--link", "hardlink")
    assert out["link"] == "copy" and (work / "big-linked.bin").stat().st_nlink == 1
    assert (work / "big-linked.bin").read_bytes() == big
    write(work / "bundle" / "big.bin", big)
    write(work / "bundle" / "small.json", b"{}")
    repo("add", "bundle", "--name", "dm")
    out = repo.json("checkout", "dm", "-o", "linked", "--link", "hardlink")
    assert out["link"] == "copy+hardlink"
    assert (work / "linked" / "small.json").stat().st_nlink == 2 and (work / "linked" / "big.bin").stat().st_nlink == 1
    assert repo("checkout", "big", "-o", "again.bin", "--link", "symlink").stdout.rstrip().endswith(", copy)")
    assert not (work / "again.bin").is_symlink()


def _corrupt(work, digest: str) -> None:
    """Change one byte of a stored object (objects are read-only: chmod u+w first)."""
    hexdigest = digest.split(":")[1]
    obj = work / ".mvc" / "objects" / hexdigest[:2] / hexdigest[2:]
    obj.chmod(0o644)
    data = bytearray(obj.read_bytes())
    data[0] ^= 0xFF
    obj.write_bytes(bytes(data))


def test_corrupt_object_is_exit_3_and_writes_nothing(repo, work):
    digest = repo.add("m", b"weights")["digest"]
    _corrupt(work, digest)
    before = sorted(os.listdir(work))
    for mode in ("copy", "hardlink"):
        proc = repo.fail("checkout", "m", "-o", "out.bin", "--link", mode, code=3)
        assert "corrupt" in proc.stderr and digest in proc.stderr
    assert sorted(os.listdir(work)) == before  # no output file, no temporary left behind
    proc = repo.fail("checkout", "m", "-o", "out.bin", "--json", code=3)
    assert '"integrity"' in proc.stdout


def test_corrupt_file_in_directory_artifact(repo, work):
    model_dir(work / "bundle")
    repo("add", "bundle", "--name", "dm")
    weights = next(f for f in repo.json("show", "dm")["files"] if f["path"] == "weights.bin")
    _corrupt(work, weights["digest"])
    before = sorted(os.listdir(work))
    assert weights["digest"] in repo.fail("checkout", "dm", "-o", "restored", code=3).stderr
    assert sorted(os.listdir(work)) == before


def test_a_hardlinked_checkout_is_added_back(repo, work):
    """A file checked out with --link hardlink is the store's object: adding it (as another
    model, or its folder with a file added) read it while storing the same object again, and the
    store's refresh of that object's time looked like a writer: "changed while mvc read it"."""
    write(work / "m.bin", b"weights")
    repo("add", "m.bin", "--name", "m")
    repo("checkout", "m", "-o", "co.bin", "--link", "hardlink")
    assert os.stat(work / "co.bin").st_nlink == 2
    assert repo.json("add", "co.bin", "--name", "other")["created"] is True
    write(work / "d" / "a", b"a")
    repo("add", "d", "--name", "d")
    repo("checkout", "d", "-o", "dco", "--link", "hardlink")
    write(work / "dco" / "b", b"b")
    assert repo.json("add", "dco", "--name", "d")["ref"] == "d@0.1.1"
