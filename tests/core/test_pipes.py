"""The pipelines under push and pull (mvc/core/pipes.py), driven directly with real threads."""

from __future__ import annotations

import threading
import time

import pytest

from mvc.core.pipes import Pipe, Stopped


def test_a_pipe_stopped_while_one_stage_lags_is_never_taken_as_whole():
    """The send stage ran ahead of the check stage; the stop came; the check skipped what was
    queued. Every item had been sent, so the pack came out whole and, in 7b33371, went up with
    chunks never checked. close() now raises Stopped whenever a stage skipped an item."""
    gate, stop, sent = threading.Event(), threading.Event(), []

    def check(data, tag) -> None:
        gate.wait(10)

    def send(data, tag) -> None:
        sent.append(tag)

    pipe = Pipe([check, send], 16, stop)
    for i in range(8):
        buf = pipe.buffer()
        pipe.put(buf, memoryview(buf)[:1], i)
    deadline = time.monotonic() + 10
    while len(sent) < 8:  # the send stage went ahead of the check
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stop.set()
    gate.set()
    with pytest.raises(Stopped):
        pipe.close()


def test_a_pipe_that_is_not_stopped_runs_every_stage_on_every_item():
    seen: dict[str, list] = {"a": [], "b": []}
    pipe = Pipe([lambda d, t: seen["a"].append(t), lambda d, t: seen["b"].append((t, bytes(d)))], 4)
    for i in range(40):
        buf = pipe.buffer()
        buf[:1] = bytes([i])
        pipe.put(buf, memoryview(buf)[:1], i)
    pipe.close()
    assert seen["a"] == list(range(40)) and seen["b"] == [(i, bytes([i])) for i in range(40)]
