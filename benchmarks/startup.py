#!/usr/bin/env python
"""How long the everyday commands take to start and answer, this working tree against a git
revision, measured side by side in one run (the machine is shared and noisy: alternating the
two keeps drift out of the difference).

    python benchmarks/startup.py HEAD~3            # medians of 20 alternating rounds
    python benchmarks/startup.py v0.1 --repeat 40 --json

Both are run as ``python -m mvc`` with PYTHONPATH naming their ``mvc`` package (the revision's
is a ``git archive`` of it in a temporary folder), in a scratch repository that holds one small
version; ``python -c pass`` is the baseline. Prints each command's median in milliseconds for
the revision and the tree, and the difference.
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

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (["ls"], ["show", "m@latest"], ["log"], ["status"], ["add", "m.bin", "--name", "m"], ["fsck"])


def _run(argv: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revision", help="the git revision to compare this working tree with")
    parser.add_argument("--repeat", type=int, default=20, help="alternating rounds (default 20)")
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mvc-startup-") as tmp:
        old, work = Path(tmp) / "old", Path(tmp) / "work"
        old.mkdir()
        work.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.revision, "mvc"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("MVC_")}
        env["MVC_USER"] = "bench"
        trees = {args.revision: {**env, "PYTHONPATH": str(old)}, "tree": {**env, "PYTHONPATH": str(ROOT)}}
        mvc = [sys.executable, "-m", "mvc"]
        subprocess.run([*mvc, "init"], cwd=work, env=trees["tree"], stdout=subprocess.DEVNULL, check=True)
        (work / "m.bin").write_bytes(b"weights")
        subprocess.run([*mvc, *COMMANDS[4]], cwd=work, env=trees["tree"], stdout=subprocess.DEVNULL, check=True)
        times: dict[str, dict[str, list[float]]] = {" ".join(c): {t: [] for t in trees} for c in COMMANDS}
        times["python -c pass"] = {t: [] for t in trees}
        for round_ in range(args.repeat + 1):  # the first round writes each tree's .pyc files
            for name, env_of in trees.items():
                spent = _run([sys.executable, "-c", "pass"], work, env_of)
                if round_:
                    times["python -c pass"][name].append(spent)
                for command in COMMANDS:
                    spent = _run([*mvc, *command], work, env_of)
                    if round_:
                        times[" ".join(command)][name].append(spent)
    medians = {c: {t: statistics.median(s) * 1000 for t, s in by.items()} for c, by in times.items()}
    if args.json:
        print(json.dumps({"revision": args.revision, "repeat": args.repeat, "median_ms": medians}, indent=2))
        return 0
    print(f"{'command':18s} {args.revision[:12]:>12s} {'tree':>8s} {'change':>9s}   (median ms of {args.repeat})")
    for command, by in medians.items():
        print(f"{command:18s} {by[args.revision]:12.1f} {by['tree']:8.1f} {by['tree'] - by[args.revision]:+9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
