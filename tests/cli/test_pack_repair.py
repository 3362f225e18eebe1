"""Damaged chunked storage is repairable with documented commands (SPEC §5.1, issue 13; the
third hostile probe): a damaged copy the store holds by name is set aside by ``mvc fsck
--repair`` so that ``mvc pull`` fetches it again; verify names chunks, not their sound recipes;
an index that cannot be read, a symlink at a pack's name and a recipe that is not a file are
named with what to do, and gc refuses to lose the chunks of a recipe it cannot read. Each test
works on its own copy of one repository and its directory remote (packs_support.setup)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from packs_support import Setup, built, flip_byte, pack_of, packs, setup, store  # noqa: F401  (fixtures)
from packs_support import pack_dir as _pack_dir, unprivileged
from support import BIN

from mvc.core.packs import chunk_matches


def _same(repo, ref: str, original: str) -> None:
    """``ref`` checks out byte for byte as the file it was added from."""
    out = repo.cwd / "out.bin"
    repo("checkout", ref, "-o", out.name, "--force")
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256((repo.cwd / original).read_bytes()).digest()
    out.unlink()


def _exit3(repo, *args: str):
    """A check that finds damage: its report on stdout, ``mvc: error: …`` on stderr, exit 3."""
    proc = repo(*args, check=False)
    assert proc.returncode == 3 and proc.stderr.startswith("mvc: error: "), (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc


def _problems(repo, *args: str) -> list[dict]:
    proc = repo("verify", *args, "--json", check=False)
    return json.loads(proc.stdout)["problems"]


def _own_pack(s: Setup) -> str:
    """The pack of the fine-tune's one changed tensor (layer4)."""
    (name,) = set(packs(s.repo)) - {pack_of(s.repo, s.a)}
    return name


# -- 1. a chunk changed in place -----------------------------------------------------------------

def test_a_chunk_changed_in_place_is_fetched_again_after_fsck_repair(setup):
    repo = setup.repo
    name = pack_of(repo, setup.a)
    chunk = store(repo).recipe(setup.a).chunks[2]  # layer1: both versions share it
    entry = next(e for e in packs(repo)[name] if e.digest == chunk.digest)
    others = [e.digest for e in packs(repo)[name] if e.digest != chunk.digest]
    flip_byte(_pack_dir(repo.mvc_dir) / f"{name}.pack", entry.offset + 7)

    proc = _exit3(repo, "verify")
    assert "'mvc fsck --repair', then 'mvc pull m@0.1.0 m@0.1.1'" in proc.stderr, proc.stderr
    proc = repo.fail("checkout", "m@0.1.0", "-o", "x.bin", code=3)
    assert chunk.digest in proc.stderr and "run 'mvc fsck --repair', then 'mvc pull m@0.1.0'" in proc.stderr
    assert repo("pull", "m@0.1.0").returncode == 0  # before the repair a pull cannot see it

    doc = _set_aside(repo)
    assert [p["kind"] for p in doc["problems"]] == ["object-corrupt", "object-missing"]
    assert "'mvc pull m@0.1.0 m@0.1.1'" in doc["problems"][0]["message"]
    assert chunk.digest in doc["problems"][1]["message"] and "'mvc pull m@0.1.0 m@0.1.1'" in doc["problems"][1]["message"]
    left = {e.digest for entries in packs(repo).values() for e in entries}
    assert chunk.digest not in left and set(others) <= left  # every other chunk kept
    kept = repo.mvc_dir / "lost-found" / chunk.digest.replace(":", "-")
    assert kept.stat().st_size == entry.size and not chunk_matches(chunk.digest, kept.read_bytes())
    assert _problems(repo) == [{"digest": chunk.digest, "problem": "missing", "used_by": ["m@0.1.0", "m@0.1.1"]}]

    repo("pull", "m@0.1.0", "m@0.1.1")
    _same(repo, "m@0.1.0", "a.safetensors")
    _same(repo, "m@0.1.1", "b.safetensors")
    assert _problems(repo) == [] and repo.json("fsck")["ok"]


def test_a_whole_object_changed_in_place_is_set_aside_and_fetched_again(setup):
    repo = setup.repo
    (repo.cwd / "small.bin").write_bytes(os.urandom(1000))
    digest = repo.json("add", "small.bin", "--name", "s")["digest"]
    repo("push", "s@0.1.0")
    path = store(repo).path(digest)
    flip_byte(path, 10)
    proc = repo.fail("checkout", "s@0.1.0", "-o", "x.bin", code=3)
    assert "run 'mvc fsck --repair', then 'mvc pull s@0.1.0'" in proc.stderr, proc.stderr
    assert repo("pull", "s@0.1.0").stdout.startswith("Pulled 0 objects")  # the store has one by that name
    _set_aside(repo)
    assert (repo.mvc_dir / "lost-found" / digest.removeprefix("sha256:")).is_file() and not path.exists()
    repo("pull", "s@0.1.0")
    _same(repo, "s@0.1.0", "small.bin")
    assert _problems(repo) == []



def _set_aside(repo) -> dict:
    """``mvc fsck --repair --json`` that set a damaged copy a version needs aside: exit 3 (the
    version misses it until a pull), each set-aside copy a problem left naming the pull."""
    proc = repo("fsck", "--repair", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and not doc["ok"], (proc.returncode, proc.stdout)
    left = [p for p in doc["problems"] if not p["repaired"]]
    assert left and all(p["kind"] == "object-missing" and "'mvc pull " in p["message"]
                        and "set aside" in p["message"] for p in left), left
    return doc

# -- 2. a damaged recipe --------------------------------------------------------------------------

def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:150])


def _swap_two_chunks(path: Path) -> None:
    """Two chunks of the same size swapped: the recipe parses and its chunks are all there and
    sound, but they do not make the file."""
    doc = json.loads(path.read_bytes())
    one, two = doc["chunks"][1], doc["chunks"][2]
    assert one["size"] == two["size"]
    one["digest"], two["digest"] = two["digest"], one["digest"]
    path.write_bytes(json.dumps(doc, separators=(",", ":")).encode())


@pytest.mark.parametrize("damage", [_truncate, _swap_two_chunks], ids=["truncated", "chunks-swapped"])
def test_a_damaged_recipe_is_set_aside_by_fsck_repair_and_pulled_again(setup, damage):
    repo = setup.repo
    recipe = store(repo).recipe_path(setup.a)
    recipe.chmod(0o644)
    damage(recipe)
    assert [p["digest"] for p in _problems(repo)] == [setup.a]
    if damage is _truncate:  # gc cannot tell its chunks, and says what to run
        assert "run 'mvc pull m@0.1.0'" in repo.fail("gc", "--grace", "0", code=3).stderr

    doc = _set_aside(repo)
    assert "lost-found" in doc["problems"][0]["message"]
    kept = repo.mvc_dir / "lost-found" / (setup.a.removeprefix("sha256:") + ".recipe")
    assert kept.is_file() and not os.path.lexists(recipe)
    proc = repo.fail("gc", "--grace", "0", code=3)  # its chunks are named by nothing now: kept
    assert str(kept) in proc.stderr and "m@0.1.0" in proc.stderr
    before = sorted(p.name for p in _pack_dir(repo.mvc_dir).iterdir())

    repo("pull", "m@0.1.0")
    assert sorted(p.name for p in _pack_dir(repo.mvc_dir).iterdir()) == before  # only the recipe came
    _same(repo, "m@0.1.0", "a.safetensors")
    assert _problems(repo) == []
    fsck = repo.json("fsck")
    assert fsck["ok"] and any("lost-found holds 1 damaged file" in n for n in fsck["notes"])
    repo("gc", "--grace", "0")
    _same(repo, "m@0.1.1", "b.safetensors")


def test_a_recipe_that_cannot_be_read_is_replaced_by_pull_alone(setup):
    """A pull takes the remote's recipe (checked against the file's digest as its chunks are
    read) and sets the local one aside; with no recipe on the remote it says so."""
    repo = setup.repo
    recipe = store(repo).recipe_path(setup.a)
    recipe.chmod(0o644)
    _truncate(recipe)
    hidden = setup.remote / "objects" / setup.a[7:9] / (setup.a[9:] + ".recipe")
    hidden.rename(hidden.with_name("elsewhere"))
    proc = repo.fail("pull", "m@0.1.0", code=3)
    assert "remote 'origin' has no recipe of it" in proc.stderr, proc.stderr
    hidden.with_name("elsewhere").rename(hidden)
    repo("pull", "m@0.1.0")
    _same(repo, "m@0.1.0", "a.safetensors")
    assert (repo.mvc_dir / "lost-found" / (setup.a.removeprefix("sha256:") + ".recipe")).is_file()
    assert _problems(repo) == [] and repo.json("fsck")["ok"]


def test_a_recipe_that_cannot_be_read_is_served_by_a_remote_that_holds_the_file_whole(setup, tmp_path):
    """A remote written before chunked storage holds the file whole, no recipe: pull fetches it
    whole, read instead of the damaged recipe (before: 'has no recipe of it', exit 3), and once
    the file is in place sets the damaged recipe aside in lost-found, as a pull that replaces a
    recipe does, so that the store keeps one copy (before: it stayed beside the file)."""
    repo = setup.repo
    whole = tmp_path / "old" / "objects" / setup.a[7:9] / setup.a[9:]
    whole.parent.mkdir(parents=True)
    shutil.copyfile(repo.cwd / "a.safetensors", whole)
    repo("remote", "add", "old", str(tmp_path / "old"))
    recipe = store(repo).recipe_path(setup.a)
    recipe.chmod(0o644)
    _truncate(recipe)
    damaged = recipe.read_bytes()
    repo("pull", "m@0.1.0", "--remote", "old")
    _same(repo, "m@0.1.0", "a.safetensors")
    kept = repo.mvc_dir / "lost-found" / (setup.a.removeprefix("sha256:") + ".recipe")
    assert not os.path.lexists(recipe) and store(repo).path(setup.a).is_file() and kept.read_bytes() == damaged
    fsck = repo.json("fsck")
    assert _problems(repo) == [] and fsck["ok"] and fsck["problems"] == [], fsck
    assert any("lost-found holds 1 damaged file" in n for n in fsck["notes"]), fsck["notes"]
    repo("gc", "--grace", "0")
    assert _problems(repo) == [] and repo.json("fsck")["ok"]
    _same(repo, "m@0.1.0", "a.safetensors")
    _same(repo, "m@0.1.1", "b.safetensors")
    repo("pull", "m@0.1.0", "--remote", "old")  # nothing to fetch, nothing set aside again
    assert os.listdir(kept.parent) == [kept.name]


def test_a_pull_killed_while_it_replaces_a_recipe_leaves_one_in_place(setup):
    """Ours is copied to lost-found, then the remote's renamed over it: killed before that rename,
    the damaged recipe is still where it was (before: moved aside first, the version had none)."""
    repo = setup.repo
    recipe = store(repo).recipe_path(setup.a)
    recipe.chmod(0o644)
    _truncate(recipe)
    damaged = recipe.read_bytes()
    proc = repo("pull", "m@0.1.0", env={"MVC_CRASH_AT": "object:before-rename"}, check=False)
    assert proc.returncode != 0 and recipe.read_bytes() == damaged, proc.stderr
    repo("pull", "m@0.1.0")
    _same(repo, "m@0.1.0", "a.safetensors")
    assert (repo.mvc_dir / "lost-found" / (setup.a.removeprefix("sha256:") + ".recipe")).read_bytes() == damaged


def test_a_recipe_edited_to_name_a_chunk_nobody_has_is_replaced_by_pull(setup):
    """The recipe parses and looks like one whose pack was lost: a pull takes the remote's
    recipe (checked against the file's digest as its chunks are read) and sets ours aside."""
    repo = setup.repo
    recipe = store(repo).recipe_path(setup.a)
    recipe.chmod(0o644)
    doc = json.loads(recipe.read_bytes())
    doc["chunks"][2]["digest"] = doc["chunks"][2]["digest"][:-4] + "abcd"
    recipe.write_bytes(json.dumps(doc, separators=(",", ":")).encode())
    assert [p["problem"] for p in _problems(repo)] == ["missing"]
    repo("pull", "m@0.1.0")
    _same(repo, "m@0.1.0", "a.safetensors")
    assert (repo.mvc_dir / "lost-found" / (setup.a.removeprefix("sha256:") + ".recipe")).is_file()
    assert _problems(repo) == [] and repo.json("fsck")["ok"]


# -- 3. chunks missing, not the recipe corrupt -----------------------------------------------------

def test_verify_names_the_missing_chunks_of_a_sound_recipe(setup):
    repo = setup.repo
    name = _own_pack(setup)
    (entry,) = packs(repo)[name]
    for suffix in (".pack", ".idx"):
        (_pack_dir(repo.mvc_dir) / f"{name}{suffix}").unlink()
    want = [{"digest": entry.digest, "problem": "missing", "used_by": ["m@0.1.1"]}]
    assert _problems(repo) == want and _problems(repo, "m@0.1.1") == want
    proc = _exit3(repo, "verify")
    assert f"chunk {entry.digest} is missing" in proc.stderr and "is corrupt" not in proc.stderr
    assert "run 'mvc pull m@0.1.1'" in proc.stderr
    fsck = _exit3(repo, "fsck")
    assert "'mvc pull m@0.1.1' fetches it again" in fsck.stdout and setup.b not in fsck.stdout + fsck.stderr
    repo("pull", "m@0.1.1")
    _same(repo, "m@0.1.1", "b.safetensors")


# -- 4. an index that cannot be read -----------------------------------------------------------------

def test_an_index_that_holds_no_index_is_named_with_what_to_do(setup):
    repo = setup.repo
    name = _own_pack(setup)
    index = _pack_dir(repo.mvc_dir) / f"{name}.idx"
    index.chmod(0o644)
    index.write_bytes(b"garbage")
    proc = _exit3(repo, "verify")
    assert f"pack:{name}" in proc.stdout and "not referenced" not in proc.stdout
    assert f"unreadable\tpack:{name}\tm@0.1.1" in proc.stdout
    assert f"pack index {name} is unreadable" in proc.stderr and "mvc fsck" in proc.stderr
    doc = json.loads(repo("fsck", "--repair", "--json", check=False).stdout)
    said = next(p for p in doc["problems"] if name in p["message"])
    assert not said["repaired"] and "pull" in said["message"] and "'mvc fsck --repair' removes" in said["message"]
    assert index.exists()  # a version misses a chunk that may be in its pack: kept

    repo("pull", "m@0.1.1")
    _same(repo, "m@0.1.1", "b.safetensors")
    assert repo.json("fsck", "--repair")["ok"] and repo.json("fsck")["problems"] == []


def test_an_index_mvc_may_not_read_is_named_with_what_to_do_and_kept(setup):
    repo = setup.repo
    name = _own_pack(setup)
    prefix = unprivileged(repo.cwd.parent)
    index = _pack_dir(repo.mvc_dir) / f"{name}.idx"
    index.chmod(0)

    def run(*args):
        return subprocess.run([*prefix, str(BIN), *args], cwd=repo.cwd, env=repo.env, capture_output=True,
                              text=True, timeout=60)

    proc = run("verify")
    assert proc.returncode == 3 and f"unreadable\tpack:{name}\tm@0.1.1" in proc.stdout, (proc.stdout, proc.stderr)
    proc = run("fsck", "--json")
    said = next(p["message"] for p in json.loads(proc.stdout)["problems"] if f"pack index {name}" in p["message"])
    assert "Permission denied" in said and "fix its permissions" in said and "m@0.1.1" in said
    index.chmod(0o444)
    assert _problems(repo) == []


def test_a_stray_index_of_garbage_goes_once_no_version_misses_a_chunk(setup):
    repo = setup.repo
    stray = "cd" * 32
    (_pack_dir(repo.mvc_dir) / f"{stray}.idx").write_bytes(b"not an index")
    (_pack_dir(repo.mvc_dir) / f"{stray}.pack").write_bytes(b"x" * 100)
    proc = _exit3(repo, "verify")
    assert f"unreadable\tpack:{stray}\tnot referenced" in proc.stdout
    doc = repo.json("fsck", "--repair")
    assert doc["ok"] and any(f"pack index {stray}" in p["message"] and p["repaired"] for p in doc["problems"])
    assert not any(p.name.startswith(stray) for p in _pack_dir(repo.mvc_dir).iterdir())
    assert repo.json("fsck")["problems"] == [] and _problems(repo) == []


# -- 5. a symlink at a pack's name ---------------------------------------------------------------------

def test_a_symlink_at_a_packs_name_is_named_and_neither_it_nor_its_target_removed(setup):
    repo = setup.repo
    name = _own_pack(setup)
    pack = _pack_dir(repo.mvc_dir) / f"{name}.pack"
    target = repo.cwd.parent / "elsewhere.pack"
    shutil.move(pack, target)
    pack.symlink_to(target)
    kept = target.read_bytes()
    for args in (("fsck",), ("fsck", "--repair"), ("fsck", "--repair")):
        proc = _exit3(repo, *args)
        assert f"{name}.pack under objects/ is a symlink" in proc.stdout, proc.stdout
        assert pack.is_symlink() and (_pack_dir(repo.mvc_dir) / f"{name}.idx").is_file()
    assert target.read_bytes() == kept
    assert [p["problem"] for p in _problems(repo)] == ["missing"]  # never read through the link
    repo("pull", "m@0.1.1")  # the same pack again, put in the link's place
    assert not pack.is_symlink() and target.read_bytes() == kept
    _same(repo, "m@0.1.1", "b.safetensors")
    assert repo.json("fsck")["ok"]


# -- 6. gc and a recipe that is not a regular file ---------------------------------------------------

def test_gc_refuses_while_a_recipe_a_version_needs_is_not_a_regular_file(setup):
    repo = setup.repo
    recipe = store(repo).recipe_path(setup.a)
    recipe.unlink()
    recipe.mkdir()
    before = sorted(p.name for p in _pack_dir(repo.mvc_dir).iterdir())
    for args in (("gc", "--grace", "0"), ("gc", "--grace", "0", "--dry-run")):
        proc = repo.fail(*args, code=3)
        assert setup.a in proc.stderr and "m@0.1.0" in proc.stderr and "not a regular file" in proc.stderr
    assert sorted(p.name for p in _pack_dir(repo.mvc_dir).iterdir()) == before
    recipe.rmdir()
    repo("pull", "m@0.1.0")
    _same(repo, "m@0.1.0", "a.safetensors")
    repo("gc", "--grace", "0")
    assert _problems(repo) == []


def test_something_planted_at_lost_found_is_named_and_not_read_through(setup, tmp_path):
    repo = setup.repo
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a-file").write_text("not mvc's")
    (repo.mvc_dir / "lost-found").symlink_to(elsewhere)
    proc = repo("fsck", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and [p["kind"] for p in doc["problems"]] == ["planted"], proc.stdout
    assert "lost-found" in doc["problems"][0]["message"] and doc["notes"] == []  # its target not counted
    assert (elsewhere / "a-file").read_text() == "not mvc's"


def test_a_folder_at_a_recipes_name_is_named_by_pull_which_leaves_nothing_behind(setup):
    repo = setup.repo
    recipe = store(repo).recipe_path(setup.a)
    recipe.chmod(0o644)
    recipe.unlink()
    recipe.mkdir()
    proc = repo.fail("pull", "m@0.1.0", code=3)
    assert str(recipe) in proc.stderr and "obj-" not in proc.stderr, proc.stderr
    assert list((repo.mvc_dir / "tmp").iterdir()) == []
    recipe.rmdir()
    repo("pull", "m@0.1.0")
    _same(repo, "m@0.1.0", "a.safetensors")


def test_a_pack_longer_than_its_index_is_named_and_cut_back_by_repair(setup):
    """Bytes appended to a pack file (a tool, a bad copy) change no chunk, but a pack is its
    chunks and nothing else: fsck names the pack and how much is extra, and --repair cuts it
    back in place, read-only as before, every version reading the same."""
    repo = setup.repo
    name = pack_of(repo, setup.a)
    path = _pack_dir(repo.mvc_dir) / f"{name}.pack"
    mode = path.stat().st_mode
    size = _lengthen(path, b"junk" * 1000)

    assert repo.json("verify")["ok"]  # every chunk is sound
    proc = repo("fsck", "--json", check=False)
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert [(p["kind"], p["repaired"], p["fixable"]) for p in doc["problems"]] == [("pack-too-long", False, True)]
    assert f"pack {name} is 4000 byte(s) longer than its index" in doc["problems"][0]["message"]
    assert path.stat().st_size == size + 4000  # a check changes nothing

    doc = repo.json("fsck", "--repair")
    assert doc["ok"] and [(p["kind"], p["repaired"]) for p in doc["problems"]] == [("pack-too-long", True)]
    assert path.stat().st_size == size and path.stat().st_mode == mode
    assert repo.json("fsck")["problems"] == []
    _same(repo, "m@0.1.0", "a.safetensors")
    _same(repo, "m@0.1.1", "b.safetensors")


def _lengthen(path: Path, extra: bytes = b"junk") -> int:
    """Append ``extra`` to a read-only pack file; its size before."""
    size, mode = path.stat().st_size, path.stat().st_mode
    os.chmod(path, 0o644)
    with open(path, "ab") as f:
        f.write(extra)
    os.chmod(path, mode)
    return size


def test_a_long_pack_behind_a_planted_pack_folder_is_not_cut_through_the_link(setup, tmp_path):
    """objects/pack a symlink to a folder outside the repository (SPEC §10): fsck names the
    link, and --repair writes nothing through it, however long a pack there is."""
    repo = setup.repo
    outside = tmp_path / "elsewhere"
    shutil.move(str(_pack_dir(repo.mvc_dir)), outside)
    _pack_dir(repo.mvc_dir).symlink_to(outside)
    pack = next(outside.glob("*.pack"))
    size = _lengthen(pack)
    proc = repo("fsck", "--repair", "--json", check=False)
    assert proc.returncode == 3
    problems = json.loads(proc.stdout)["problems"]
    assert "pack-too-long" not in [p["kind"] for p in problems]
    assert any("is a symlink" in p["message"] and not p["repaired"] for p in problems), problems
    assert pack.stat().st_size == size + 4  # untouched


def test_a_pack_that_cannot_be_cut_back_is_left_named_and_the_other_fixes_go_on(setup):
    """The system refuses the cut (an immutable file: EPERM, as on a pack another user owns or
    a read-only file system): fsck --repair reports that problem unrepaired with why (exit 3),
    and the other fixes are made and recorded in the audit log."""
    if shutil.which("chattr") is None or os.geteuid() != 0:
        pytest.skip("needs chattr and root to make a pack file immutable")
    repo = setup.repo
    pack = _pack_dir(repo.mvc_dir) / f"{pack_of(repo, setup.a)}.pack"
    size = _lengthen(pack)
    stray = repo.mvc_dir / "objects" / "zz"
    stray.write_bytes(b"x")
    events = len(repo.json("audit"))
    subprocess.run(["chattr", "+i", str(pack)], check=True)
    try:
        proc = repo("fsck", "--repair", "--json", check=False)
    finally:
        subprocess.run(["chattr", "-i", str(pack)], check=True)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    left = {p["kind"]: p for p in doc["problems"]}
    assert left["pack-too-long"]["repaired"] is False and left["pack-too-long"]["fixable"] is False
    assert "not repaired: Operation not permitted" in left["pack-too-long"]["message"]
    assert left["object-stray"]["repaired"] is True and not stray.exists()
    assert pack.stat().st_size == size + 4
    fsck_events = [e for e in repo.json("audit")[:len(repo.json("audit")) - events] if e["action"] == "fsck"]
    assert fsck_events and fsck_events[0]["details"]["repaired"] == ["object-stray"]


def test_fsck_says_repair_fixes_a_corrupt_chunk_beside_a_long_pack(setup):
    """The hint names what --repair fixes by whether each problem has a fix (it once listed
    kinds, and called a corrupt chunk, which --repair sets aside, not fixable)."""
    repo = setup.repo
    name = pack_of(repo, setup.a)
    path = _pack_dir(repo.mvc_dir) / f"{name}.pack"
    entry = packs(repo)[name][1]
    flip_byte(path, entry.offset + 3)
    _lengthen(path)
    err = _exit3(repo, "fsck").stderr
    assert "(run 'mvc fsck --repair')" in err and "not the object-corrupt" not in err, err


def test_an_index_that_names_a_chunk_twice_is_refused_and_no_sound_chunk_dropped(setup):
    """mvc keeps a chunk once in a pack. An index edited to name one chunk at two places (the
    second copy's bytes another chunk's) made fsck --repair drop both entries by name: the
    sound copy went, and lost-found kept only the wrong bytes (probe K). Such an index is now
    unreadable, as any index mvc did not write: its pack is kept whole until a pull brings
    what it holds, then repair removes it."""
    from mvc.core.packs import Entry, encode

    repo = setup.repo
    name, folder = pack_of(repo, setup.a), _pack_dir(repo.mvc_dir)
    entries = packs(repo)[name]
    forged = encode([entries[0], Entry(entries[0].digest, entries[1].offset, entries[1].size), *entries[2:]])
    new = forged[-32:].hex()
    (folder / f"{name}.idx").chmod(0o644)
    (folder / f"{name}.idx").unlink()
    (folder / f"{new}.idx").write_bytes(forged)
    (folder / f"{name}.pack").rename(folder / f"{new}.pack")
    size = (folder / f"{new}.pack").stat().st_size
    proc = _exit3(repo, "fsck", "--repair")
    assert f"pack index {new} is unreadable (it names a chunk twice)" in proc.stdout, proc.stdout
    assert (folder / f"{new}.pack").stat().st_size == size  # nothing dropped from it
    repo("pull", "m@0.1.0", "m@0.1.1")
    _same(repo, "m@0.1.0", "a.safetensors")
    _same(repo, "m@0.1.1", "b.safetensors")
    assert repo.json("fsck", "--repair")["ok"] and repo.json("fsck")["problems"] == []


def test_gc_refuses_a_recipe_cut_short_that_no_longer_makes_the_file(setup):
    """A recipe edited down to its first chunk, its size made to match, is well formed, and
    gc freed every chunk it no longer named: the only copy of the version went (probe K). Its
    chunks must make the file's size the registry records; gc refuses until repair and a pull
    put the remote's recipe back."""
    repo = setup.repo
    recipe = next((repo.mvc_dir / "objects").glob(f"*/{setup.a.split(':')[1][2:]}.recipe"))
    doc = json.loads(recipe.read_text())
    doc["chunks"] = doc["chunks"][:1]
    doc["size"] = doc["chunks"][0]["size"]
    recipe.chmod(0o644)
    recipe.write_text(json.dumps(doc, separators=(",", ":")))
    before = {p.name: p.stat().st_size for p in _pack_dir(repo.mvc_dir).iterdir()}
    proc = _exit3(repo, "gc", "--grace", "0")
    assert "its chunks make" in proc.stderr and "m@0.1.0" in proc.stderr, proc.stderr
    assert "'mvc fsck --repair', then 'mvc pull m@0.1.0'" in proc.stderr
    assert {p.name: p.stat().st_size for p in _pack_dir(repo.mvc_dir).iterdir()} == before
    _exit3(repo, "verify")
    _exit3(repo, "fsck", "--repair")
    repo("pull", "m@0.1.0")
    _same(repo, "m@0.1.0", "a.safetensors")
    repo("gc", "--grace", "0")
    _same(repo, "m@0.1.1", "b.safetensors")
    assert _problems(repo) == []


def test_a_damaged_chunk_copy_is_passed_over_for_a_sound_one_in_another_pack(setup):
    """Two adds of one file at once leave its chunks in two packs until gc repacks them. When
    the copy mvc locates is damaged, checkout reads the other one (and says so), where it failed
    before; verify still names the damage, and fsck --repair sets it aside with nothing to pull."""
    repo = setup.repo
    s = store(repo)
    chunk = s.recipe(setup.a).chunks[2]  # layer1: both versions share it
    fd, offset, size = s.open_chunk(chunk.digest)
    try:
        sound = os.pread(fd, size, offset)
    finally:
        os.close(fd)
    writer = s.new_pack()  # what the other of two adds at once writes
    writer.add(chunk.digest, sound)
    second = s.commit_pack(writer)
    located = store(repo).locate(chunk.digest)
    assert second is not None and located.pack in packs(repo) and len(
        [n for n, entries in packs(repo).items() if any(e.digest == chunk.digest for e in entries)]) == 2
    flip_byte(_pack_dir(repo.mvc_dir) / f"{located.pack}.pack", located.offset + 7)

    proc = repo("checkout", "m@0.1.0", "-o", "out.bin")
    assert f"chunk {chunk.digest} in pack {located.pack}" in proc.stderr and "mvc fsck --repair" in proc.stderr
    assert hashlib.sha256((repo.cwd / "out.bin").read_bytes()).digest() == hashlib.sha256(
        (repo.cwd / "a.safetensors").read_bytes()).digest()
    _exit3(repo, "verify")
    proc = repo("fsck", "--repair", "--json", check=False)
    assert proc.returncode == 0 and json.loads(proc.stdout)["ok"], proc.stdout  # a sound copy is left
    assert _problems(repo) == [] and repo.json("fsck")["ok"]
    _same(repo, "m@0.1.0", "a.safetensors")
    _same(repo, "m@0.1.1", "b.safetensors")


def test_two_pack_files_swapped_by_name_are_set_aside_whole_with_their_indexes(setup, tmp_path):
    """Probe S: two pack files swapped by name (every chunk of each then corrupt, one file
    longer than its index) were cut by --repair at the wrong index's entries into lost-found,
    and the longer one's tail past its index's last entry deleted: 25 of 32 MB kept, in pieces
    no name fits. Each file is now set aside whole, with its index, so putting them back by hand
    (or a pull) restores every byte."""
    repo = setup.repo
    (repo.cwd / "c.bin").write_bytes(os.urandom(9 << 20))  # content-cut: a pack of its own
    repo("add", "c.bin", "--name", "c")
    a, c = pack_of(repo, setup.a), pack_of(repo, repo.json("show", "c@0.1.0")["digest"])
    folder = _pack_dir(repo.mvc_dir)
    before = {name: (folder / f"{name}.pack").read_bytes() for name in (a, c)}
    indexes = {name: (folder / f"{name}.idx").read_bytes() for name in (a, c)}
    assert len(before[a]) != len(before[c])
    os.replace(folder / f"{a}.pack", tmp_path / "x")
    os.replace(folder / f"{c}.pack", folder / f"{a}.pack")
    os.replace(tmp_path / "x", folder / f"{c}.pack")
    _exit3(repo, "fsck", "--repair")
    lost = repo.mvc_dir / "lost-found"
    assert (lost / f"{a}.pack").read_bytes() == before[c] and (lost / f"{c}.pack").read_bytes() == before[a]
    assert (lost / f"{a}.idx").read_bytes() == indexes[a] and (lost / f"{c}.idx").read_bytes() == indexes[c]
    repo("pull", "m@0.1.0", "m@0.1.1")  # the remote has m's pack; c was never pushed
    _same(repo, "m@0.1.0", "a.safetensors")
    for name, other in ((a, c), (c, a)):  # put back by hand, as the files were
        os.replace(lost / f"{name}.pack", folder / f"{other}.pack")
        os.replace(lost / f"{name}.idx", folder / f"{name}.idx")
    repo("verify")
    _same(repo, "c@0.1.0", "c.bin")


def test_bytes_past_a_packs_last_entry_are_kept_when_repair_cuts_them_off(setup):
    repo = setup.repo
    pack = _pack_dir(repo.mvc_dir) / f"{pack_of(repo, setup.a)}.pack"
    size = _lengthen(pack, b"the end of something")
    repo("fsck", "--repair")
    assert pack.stat().st_size == size
    tail = repo.mvc_dir / "lost-found" / f"{pack.stem}.pack-tail"
    assert tail.read_bytes() == b"the end of something"


@pytest.mark.parametrize("suffix", [".idx", ".pack"])
def test_a_folder_at_a_local_pack_or_index_name_is_named_by_pull_and_checkout(setup, suffix):
    """Probe S: the pull that writes the pack again failed with 'Is a directory:
    .mvc/tmp/idx-…' (exit 1), naming a temporary file that was gone, and left a tmp pack."""
    repo = setup.repo
    folder = _pack_dir(repo.mvc_dir) / f"{pack_of(repo, setup.a)}{suffix}"
    folder.chmod(0o644)
    folder.unlink()
    folder.mkdir()
    for args in (("pull", "m@0.1.0"), ("checkout", "m@0.1.0", "-o", "out.bin")):
        proc = repo.fail(*args, code=3)
        assert str(folder) in proc.stderr and "tmp" not in proc.stderr.replace(str(folder), ""), proc.stderr
        assert list((repo.mvc_dir / "tmp").iterdir()) == []
    folder.rmdir()
    repo("pull", "m@0.1.0")
    _same(repo, "m@0.1.0", "a.safetensors")


def test_a_tail_copy_an_interrupted_repair_left_is_replaced_not_reused(setup):
    """Review: the copy of a cut-off tail was made read-only from the start and left when the
    copy failed, so the next repair (not as root) could not open it: 'not repaired: Permission
    denied' every time, and fsck counted it as a damaged file set aside."""
    repo = setup.repo
    pack = _pack_dir(repo.mvc_dir) / f"{pack_of(repo, setup.a)}.pack"
    size = _lengthen(pack, b"tail")
    lost = repo.mvc_dir / "lost-found"
    lost.mkdir(exist_ok=True)
    stale = lost / f".{pack.stem}.pack-tail.tmp"
    stale.write_bytes(b"half a copy")
    prefix = unprivileged(repo.cwd.parent)  # as root the permission bits below would not apply
    stale.chmod(0o444)
    proc = subprocess.run([*prefix, str(BIN), "fsck", "--repair"], cwd=repo.cwd, env=repo.env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert pack.stat().st_size == size and not stale.exists()
    assert (lost / f"{pack.stem}.pack-tail").read_bytes() == b"tail"
