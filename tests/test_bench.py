"""The benchmark script runs end to end and reports every measure (never its timings:
those are checked by running benchmarks/bench.py itself, not here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"

MEASURES = {
    "sha256", "add_new", "add_new_durable", "python_pass", "add_unchanged", "cp", "cp_fsync", "sha_or_cp", "add_safetensors",
    "cp_cold_fsync", "sha_or_cold",
    "checkout_copy_fresh", "checkout_copy_cold", "checkout_reflink", "checkout_hardlink",
    "push_dir", "pull_dir", "pull_dir_cold",
    "version", "ls", "hook_quiet",
    *(f"{key}_vs_cp" for key in ("checkout_copy_fresh", "checkout_copy_cold", "checkout_reflink",
                                 "checkout_hardlink", "push_dir", "pull_dir", "pull_dir_cold")),
}
FIELDS = {"label", "median_s", "samples_s", "cpu_median_s", "baseline", "baseline_median_s", "ratio", "target", "pass"}


def test_quick_bench_reports_every_measure(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--size-mib", "8", "--repeat", "1", "--json",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["size_mib"] == 8 and doc["repeat"] == 1
    assert {"startup_repeat", "machine", "notes", "results"} <= set(doc)
    assert set(doc["results"]) == MEASURES
    for key, r in doc["results"].items():
        assert set(r) == FIELDS, key
        assert r["samples_s"] and all(s > 0 for s in r["samples_s"]), key
        assert r["pass"] in (True, False, None), key
        if r["target"] is not None:
            assert r["ratio"] is not None and r["pass"] is not None, key
    # storage and push of a real model and its fine-tune, in bytes (tests/realmodel.py)
    assert set(doc["ratios"]) == {"store_model_and_fine_tune", "push_fine_tune", "push_fine_tune_reported"}
    assert all(r["value"] > 0 and r["pass"] in (True, False) for r in doc["ratios"].values())
    # the temporary directory is removed again
    assert list(tmp_path.iterdir()) == []


def test_startup_compares_the_tree_with_a_revision() -> None:
    """benchmarks/startup.py times each everyday command for a git revision and this tree."""
    script = BENCH.parent / "startup.py"
    proc = subprocess.run([sys.executable, str(script), "HEAD", "--repeat", "1", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["revision"] == "HEAD" and doc["repeat"] == 1
    assert set(doc["median_ms"]) == {"ls", "show m@latest", "log", "status", "add m.bin --name m", "fsck", "python -c pass"}
    assert all(set(by) == {"HEAD", "tree"} and all(ms > 0 for ms in by.values()) for by in doc["median_ms"].values())
