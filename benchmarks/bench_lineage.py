#!/usr/bin/env python
"""How fast is lineage on a big registry: upstream/downstream of a node among 100,000 versions,
and what ``mvc add`` costs there compared with a registry of 10 versions.

    python benchmarks/bench_lineage.py                  # 100,000 versions, 5 rounds
    python benchmarks/bench_lineage.py --versions 20000 --repeat 3
    python benchmarks/bench_lineage.py --json

The registry is filled through the Registry interface in one transaction (1,000 models of 100
versions; each version has one of 500 data files, one of 50 code files and its predecessor as
parent), then every measure is timed in this process (``Repo.lineage``: the walk through the
registry's indexes and the networkx neighbourhood) and, end to end, as a fresh ``mvc lineage``
process. Targets: upstream or downstream of a node under 1 s (issue 4); ``Repo.add`` of a new
version (with a --data input and a parent) at ``--versions`` within 1.3x of its cost in a
registry of 10 versions, medians of ``--add-rounds`` rounds interleaved in the same run
(issue 9: add does not rewrite ``.mvc/lineage.json``). ``catch_up`` is what the next reader of the lineage file pays
to bring it up to date after one add (lineage_file.bring_up_to_date).
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
TARGET_ADD_RATIO = 1.3
SMALL = 10


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


def add_rounds(repos: dict[str, tuple], root: Path, rounds: int) -> dict[str, tuple[float, float]]:
    """Median seconds of ``Repo.add`` of a new version of model ``probe`` (a new artifact, a
    --data input and a version elsewhere in the registry as parent) and of bringing the
    lineage file up to date after it, per repository. ``probe`` grows the same way in every
    repository, so only the size of the rest of the registry differs; the repositories take
    turns in every round, so that both see the same machine."""
    from mvc.core import lineage_file

    data = root / "train.csv"
    data.write_text("a,b\n1,2\n")
    samples: dict[str, tuple[list, list]] = {k: ([], []) for k in repos}
    for i in range(rounds + 1):  # the first round warms the stat cache and the page cache
        for key, (repo, parent) in repos.items():
            artifact = root / f"{key}.bin"
            artifact.write_bytes(b"round %d of %s" % (i, key.encode()))
            t = time.perf_counter()
            repo.add(artifact, name="probe", data=[data], parents=[parent])
            added = time.perf_counter() - t
            t = time.perf_counter()
            lineage_file.bring_up_to_date(repo.registry, repo.layout.lineage_file, repo.layout.tmp)
            caught_up = time.perf_counter() - t
            if i:
                samples[key][0].append(added)
                samples[key][1].append(caught_up)
    return {k: (statistics.median(a), statistics.median(c)) for k, (a, c) in samples.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", type=int, default=100_000, help="versions in the registry")
    ap.add_argument("--repeat", type=int, default=5, help="rounds per measure (median reported)")
    ap.add_argument("--add-rounds", type=int, default=21, help="rounds of add per registry (median reported)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    from mvc.api import Repo
    from mvc.core import lineage_file

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mvc-bench-lineage-") as root:
        repo = Repo.init(Path(root) / "big")
        small = Repo.init(Path(root) / "small")
        t = time.perf_counter()
        fill(repo, args.versions)
        results["fill_seconds"] = time.perf_counter() - t
        fill(small, SMALL)
        mid_model = f"m{args.versions // 200}"  # a model in the middle, its 50th version
        ref = f"{mid_model}@0.50.0"
        data_node = "data:sha256:" + f"{10**9 + 7:064x}"

        results["write_file_seconds"], _ = timed(
            lambda: lineage_file.write_file(repo.registry, repo.layout.lineage_file, repo.layout.tmp), args.repeat)
        results["lineage_file_mib"] = repo.layout.lineage_file.stat().st_size / 2**20
        results["rows_seconds"], rows = timed(repo.registry.lineage_rows, args.repeat)
        results["document_seconds"], _ = timed(lambda: lineage_file.document(rows), args.repeat)
        results["api_upstream_seconds"], up = timed(
            lambda: repo.lineage(ref, downstream=False), args.repeat)
        results["upstream_nodes"] = len(up.upstream)
        results["api_downstream_seconds"], down = timed(
            lambda: repo.lineage(data_node, upstream=False), args.repeat)
        results["data_node_descendants"] = len(down.downstream)
        results["api_both_seconds"], _ = timed(lambda: repo.lineage(ref), args.repeat)
        lineage_file.bring_up_to_date(small.registry, small.layout.lineage_file, small.layout.tmp)
        adds = add_rounds({"small": (small, "m0@0.5.0"), "big": (repo, ref)}, Path(root), args.add_rounds)
        results[f"add_seconds_at_{SMALL}"], results[f"catch_up_seconds_at_{SMALL}"] = adds["small"]
        results[f"add_seconds_at_{args.versions}"], results[f"catch_up_seconds_at_{args.versions}"] = adds["big"]
        results["add_ratio"] = adds["big"][0] / adds["small"][0]
        repo.close()
        small.close()

        env = dict(os.environ, MVC_DIR=str(Path(root) / "big" / ".mvc"))
        results["cli_upstream_seconds"], _ = timed(lambda: subprocess.run(
            [str(MVC), "lineage", ref, "--upstream", "--json"], env=env, check=True,
            capture_output=True), args.repeat)
        results["cli_downstream_seconds"], _ = timed(lambda: subprocess.run(
            [str(MVC), "lineage", data_node, "--downstream", "--json"], env=env, check=True,
            capture_output=True), args.repeat)

    worst = max(results["api_upstream_seconds"], results["api_downstream_seconds"])
    ok_walk = worst < TARGET_SECONDS
    ok_add = results["add_ratio"] <= TARGET_ADD_RATIO
    if args.json:
        print(json.dumps({"versions": args.versions, **results, "target_seconds": TARGET_SECONDS,
                          "target_add_ratio": TARGET_ADD_RATIO, "pass": ok_walk and ok_add}, indent=2))
    else:
        print(f"lineage benchmark, {args.versions} versions, median of {args.repeat}")
        for k, v in results.items():
            print(f"  {k:32s} {v:10.4f}" if isinstance(v, float) else f"  {k:32s} {v:10d}")
        print(f"upstream/downstream (Repo.lineage) {worst:.3f} s: {'PASS' if ok_walk else 'FAIL'} (< {TARGET_SECONDS} s)")
        print(f"add at {args.versions} versions / add at {SMALL}: {results['add_ratio']:.2f}x: "
              f"{'PASS' if ok_add else 'FAIL'} (<= {TARGET_ADD_RATIO}x)")
    return 0 if ok_walk and ok_add else 1


if __name__ == "__main__":
    sys.exit(main())
