#!/usr/bin/env python
"""How fast is lineage on a big registry: upstream/downstream of a node among 100,000 versions.

    python benchmarks/bench_lineage.py                  # 100,000 versions, 5 rounds
    python benchmarks/bench_lineage.py --versions 20000 --repeat 3
    python benchmarks/bench_lineage.py --json

The registry is filled through the Registry interface in one transaction (1,000 models of 100
versions; each version has one of 500 data files, one of 50 code files and its predecessor as
parent), then every measure is timed in this process (``Repo.lineage``: the walk through the
registry's indexes and the networkx neighbourhood) and, end to end, as a fresh ``mvc lineage``
process. The target (issue 4): upstream or downstream of a node under 1 s. ``add_hook`` is
the rewrite of ``.mvc/lineage.json`` that every new version pays (it grows with the registry).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MVC = Path(sys.executable).parent / "mvc"
TARGET_SECONDS = 1.0


def fill(repo, versions: int, per_model: int = 100, datasets: int = 500, codes: int = 50) -> None:
    from mvc.core.registry.base import LineageInput, NewVersion

    reg = repo.registry
    with reg.transaction():
        for i in range(versions):
            model, n = f"m{i // per_model}", i % per_model
            row = reg.insert_version(NewVersion(
                model=model, version=f"0.{n + 1}.0", digest=f"sha256:{i:064x}", size=1, kind="file",
                path_name="model.bin", message="", metrics={"accuracy": 0.5}, params={}, env={}, git={},
                created_at="2026-01-01T00:00:00Z", created_by="bench",
            ))
            inputs = [
                LineageInput("data", f"sha256:{(i % datasets) + 10**9:064x}", f"/data/d{i % datasets}.csv",
                             {"size": 10, "kind": "file", "stored": False}),
                LineageInput("code", f"sha256:{(i % codes) + 10**12:064x}", f"/src/train{i % codes}.py",
                             {"size": 10, "kind": "file", "git": {}}),
            ]
            if n:
                inputs.append(LineageInput("model", None, None, {}, (model, f"0.{n}.0")))
            reg.add_lineage(row.id, inputs)


def timed(fn, repeat: int) -> tuple[float, object]:
    samples, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", type=int, default=100_000, help="versions in the registry")
    ap.add_argument("--repeat", type=int, default=5, help="rounds per measure (median reported)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    from mvc.api import Repo
    from mvc.core import lineage

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mvc-bench-lineage-") as root:
        repo = Repo.init(root)
        t = time.perf_counter()
        fill(repo, args.versions)
        results["fill_seconds"] = time.perf_counter() - t
        mid_model = f"m{args.versions // 200}"  # a model in the middle, its 50th version
        ref = f"{mid_model}@0.50.0"
        data_node = "data:sha256:" + f"{10**9 + 7:064x}"

        results["write_file_seconds"], _ = timed(
            lambda: lineage.write_file(repo.registry, repo.layout.lineage_file, repo.layout.tmp), args.repeat)
        results["lineage_file_mib"] = repo.layout.lineage_file.stat().st_size / 2**20
        results["rows_seconds"], rows = timed(repo.registry.lineage_rows, args.repeat)
        results["document_seconds"], _ = timed(lambda: lineage.document(rows), args.repeat)
        results["api_upstream_seconds"], up = timed(
            lambda: repo.lineage(ref, downstream=False), args.repeat)
        results["upstream_nodes"] = len(up.upstream)
        results["api_downstream_seconds"], down = timed(
            lambda: repo.lineage(data_node, upstream=False), args.repeat)
        results["data_node_descendants"] = len(down.downstream)
        results["api_both_seconds"], _ = timed(lambda: repo.lineage(ref), args.repeat)
        results["add_hook_seconds"], _ = timed(repo._write_lineage, args.repeat)
        repo.close()

        env = dict(os.environ, MVC_DIR=str(Path(root) / ".mvc"))
        results["cli_upstream_seconds"], _ = timed(lambda: subprocess.run(
            [str(MVC), "lineage", ref, "--upstream", "--json"], env=env, check=True,
            capture_output=True), args.repeat)
        results["cli_downstream_seconds"], _ = timed(lambda: subprocess.run(
            [str(MVC), "lineage", data_node, "--downstream", "--json"], env=env, check=True,
            capture_output=True), args.repeat)

    worst = max(results["api_upstream_seconds"], results["api_downstream_seconds"])
    ok = worst < TARGET_SECONDS
    if args.json:
        print(json.dumps({"versions": args.versions, **results, "target_seconds": TARGET_SECONDS, "pass": ok},
                         indent=2))
    else:
        print(f"lineage benchmark, {args.versions} versions, median of {args.repeat}")
        for k, v in results.items():
            print(f"  {k:32s} {v:10.4f}" if isinstance(v, float) else f"  {k:32s} {v:10d}")
        print(f"upstream/downstream (Repo.lineage) {worst:.3f} s: {'PASS' if ok else 'FAIL'} (< {TARGET_SECONDS} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
