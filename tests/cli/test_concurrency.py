"""Many real `mvc` processes at once on one repository (SPEC §5: `make -j8`)."""

from __future__ import annotations

import json

from support import assert_chain_intact, write

WORKERS = 8


def _run_all(repo, commands: list[list[str]]) -> list[dict]:
    procs = [repo.popen(*cmd, "--json") for cmd in commands]  # all started before any is awaited
    results = []
    for cmd, proc in zip(commands, procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (cmd, out, err)
        assert err == ""
        results.append(json.loads(out))
    return results


def test_parallel_adds_to_one_model_get_unique_versions(repo, work):
    for round_ in range(3):
        files = [write(work / f"r{round_}-w{i}.bin", f"round {round_} worker {i}") for i in range(WORKERS)]
        results = _run_all(repo, [["add", f.name, "--name", "m"] for f in files])
        assert all(r["created"] for r in results)
        versions = {r["version"] for r in results}
        assert len(versions) == WORKERS
    listed = repo.json("ls", "m")
    assert len(listed) == 3 * WORKERS
    assert {r["version"] for r in listed} == {f"0.1.{i}" for i in range(3 * WORKERS)}
    events = repo.events()
    assert sum(e["action"] == "add" for e in events) == 3 * WORKERS
    assert_chain_intact(events)


def test_parallel_adds_to_different_models(repo, work):
    files = [write(work / f"w{i}.bin", f"worker {i}") for i in range(WORKERS)]
    commands = [["add", f.name, "--name", f"model-{i % 4}", "--metric", f"acc=0.{i}"]
                for i, f in enumerate(files)]
    results = _run_all(repo, commands)
    assert len({r["ref"] for r in results}) == WORKERS
    models = {m["model"]: m["versions"] for m in repo.json("ls")}
    assert models == {f"model-{i}": 2 for i in range(4)}
    for r in results:  # each version holds the bytes its own process added
        assert repo.json("show", r["ref"])["digest"] == r["digest"]
    assert_chain_intact(repo.events())


def test_parallel_adds_of_the_same_bytes_create_one_version(repo, work):
    write(work / "model.bin", b"the same weights")
    results = _run_all(repo, [["add", "model.bin", "--name", "m"]] * WORKERS)
    assert sorted(r["created"] for r in results) == [False] * (WORKERS - 1) + [True]
    assert {r["ref"] for r in results} == {"m@0.1.0"}
    assert len(repo.json("ls", "m")) == 1
