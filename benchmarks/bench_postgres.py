#!/usr/bin/env python
"""How fast is a PostgreSQL registry at scale (issue 11): ``mvc ls NAME`` of a model with
100,000 versions, and lineage upstream and downstream there, each under 1 s.

    python benchmarks/bench_postgres.py                      # 100,000 versions, 5 rounds
    python benchmarks/bench_postgres.py --versions 20000 --repeat 3 --json
    python benchmarks/bench_postgres.py --url postgresql://ana@db:5432/bench   # an empty database

Without --url it starts its own server as the tests do (tests/pgserver.py: initdb + pg_ctl in
a temporary folder on a free loopback port). The registry is made by ``mvc init --registry``
and filled with COPY (one model of ``--versions`` versions; each has one of 500 data files, one
of 50 code files and, but for every 100th, its predecessor as parent: the shape
bench_lineage.py gives 1,000 models, here in one). Each measure is timed in this process
(``Repo.ls`` / ``Repo.lineage``) and, end to end, as a fresh ``mvc`` process; medians.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_lineage import timed  # benchmarks/ is on sys.path when a script here runs

HERE = Path(__file__).resolve().parent
MVC = Path(sys.executable).parent / "mvc"
TARGET_SECONDS = 1.0
MODEL = "big"


def fill(url: str, versions: int, datasets: int = 500, codes: int = 50, chain: int = 100) -> None:
    """Rows straight into the registry's tables with COPY, as the registry would write them."""
    import psycopg

    from mvc.core.semver import parse_version

    def sha(n: int) -> str:
        return f"sha256:{n:064x}"

    with psycopg.connect(url) as conn:
        model_id = conn.execute("INSERT INTO mvc.models (name, created_at) VALUES (%s, %s) RETURNING id",
                                (MODEL, "2026-01-01T00:00:00Z")).fetchone()[0]
        first = conn.execute("SELECT nextval('mvc.versions_id_seq')").fetchone()[0]
        with conn.cursor().copy(
                "COPY mvc.versions (id, model_id, version, digest, size, kind, path_name, message, metrics,"
                " params, env, git, created_at, created_by, archived, sort_key) FROM STDIN") as copy:
            for i in range(versions):
                version = f"0.{i + 1}.0"
                copy.write_row((first + i, model_id, version, sha(i), 1, "file", "model.bin", "",
                                json.dumps({"accuracy": (i % 1000) / 1000}), json.dumps({"lr": 0.01}), "{}",
                                "{}", f"2026-01-01T00:00:{i % 60:02d}Z", "bench", False,
                                parse_version(version).text_key()))
        conn.execute("SELECT setval('mvc.versions_id_seq', %s)", (first + versions,))
        with conn.cursor().copy("COPY mvc.lineage (version_id, kind, digest, path, detail, parent_version_id)"
                                " FROM STDIN") as copy:
            for i in range(versions):
                vid = first + i
                copy.write_row((vid, "data", sha(10**9 + i % datasets), f"/data/d{i % datasets}.csv",
                                '{"kind":"file","size":10,"stored":false}', None))
                copy.write_row((vid, "code", sha(10**12 + i % codes), f"/src/train{i % codes}.py",
                                '{"git":{},"kind":"file","size":10}', None))
                if i % chain:
                    copy.write_row((vid, "model", None, None, "{}", vid - 1))
        conn.execute("ANALYZE")


def run(url: str, versions: int, repeat: int) -> dict:
    from mvc.api import Repo

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="mvc-bench-pg-") as root:
        repo = Repo.init(Path(root), registry=url)
        t = time.perf_counter()
        fill(url, versions)
        results["fill_seconds"] = time.perf_counter() - t
        mid = f"{MODEL}@0.{versions // 2 + 50}.0"  # the 50th of a chain of 100
        data_node = "data:sha256:" + f"{10**9 + 7:064x}"
        results["api_ls_seconds"], listed = timed(lambda: repo.ls(MODEL), repeat)
        results["ls_rows"] = len(listed)
        results["api_upstream_seconds"], up = timed(lambda: repo.lineage(mid, downstream=False), repeat)
        results["upstream_nodes"] = len(up.upstream)
        results["api_downstream_seconds"], down = timed(lambda: repo.lineage(data_node, upstream=False), repeat)
        results["downstream_nodes"] = len(down.downstream)
        repo.close()
        env = dict(os.environ, MVC_DIR=str(Path(root) / ".mvc"))

        def cli(*args: str):
            return lambda: subprocess.run([str(MVC), *args], env=env, check=True, capture_output=True)

        results["cli_ls_seconds"], _ = timed(cli("ls", MODEL, "--json"), repeat)
        results["cli_ls_limit_seconds"], _ = timed(cli("ls", MODEL, "--limit", "20", "--json"), repeat)
        results["cli_upstream_seconds"], _ = timed(cli("lineage", mid, "--upstream", "--json"), repeat)
        results["cli_downstream_seconds"], _ = timed(cli("lineage", data_node, "--downstream", "--json"), repeat)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", type=int, default=100_000, help="versions of the one model")
    ap.add_argument("--repeat", type=int, default=5, help="rounds per measure (median reported)")
    ap.add_argument("--url", help="an empty database whose login may create roles (default: start a server)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    server = None
    url = args.url
    if url is None:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from pgserver import PgServer

        server = PgServer().start()
        login = server.create_login(createrole=True)
        url = server.url(server.create_database(owner=login), login)
    try:
        results = run(url, args.versions, args.repeat)
    finally:
        if server is not None:
            server.stop()
    timed_keys = [k for k in results if k.startswith(("api_", "cli_")) and k.endswith("_seconds")]
    ok = all(results[k] < TARGET_SECONDS for k in timed_keys if k.startswith("api_"))
    ok_cli = all(results[k] < TARGET_SECONDS for k in timed_keys if k.startswith("cli_"))
    if args.json:
        print(json.dumps({"versions": args.versions, **results, "target_seconds": TARGET_SECONDS,
                          "pass": ok, "pass_cli": ok_cli}, indent=2))
    else:
        print(f"PostgreSQL benchmark, one model of {args.versions} versions, median of {args.repeat}")
        for k, v in results.items():
            print(f"  {k:28s} {v:10.4f}" if isinstance(v, float) else f"  {k:28s} {v:10d}")
        print(f"ls and lineage in this process: {'PASS' if ok else 'FAIL'} (each < {TARGET_SECONDS} s); "
              f"as fresh mvc processes: {'PASS' if ok_cli else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
