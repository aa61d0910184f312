"""Fault tolerance on loopback: a scheduler and two worker processes on 127.0.0.1.

The interrupted ``batch-infer`` command (SIGINT, then resume) is tested with the
other CLI tests, in tests/cli/test_cli_batch_infer.py.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from _distributed_helpers import LOOPBACK_INPUTS as N_INPUTS
from _distributed_helpers import assert_same_results, output_names
from calcium_forge.distributed import iter_batch_infer

pytestmark = pytest.mark.timeout(180)


def test_killing_a_worker_mid_run_completes_every_output_once(
    loopback_cluster, inputs_and_reference, tmp_path
):
    cluster = loopback_cluster
    inputs, ref = inputs_and_reference
    for _ in range(2):
        cluster.start_worker()
    client = cluster.client(2)
    try:
        pids = client.run(os.getpid)  # worker address -> pid
        out = tmp_path / "out"
        gen = iter_batch_infer(inputs, out, client=client, method="oasis")
        first = next(gen)
        assert first.step == 1
        busy = {a: keys for a, keys in client.processing().items() if keys}
        assert busy, "no worker was running a task: the run finished too early to test"
        victim = sorted(busy)[0]
        os.kill(pids[victim], signal.SIGKILL)
        try:
            while True:
                next(gen)
        except StopIteration as stop:
            report = stop.value
    finally:
        client.close()
    assert [i.status for i in report.items] == ["done"] * N_INPUTS, report.summary()
    # exactly once: one output per input, nothing else left behind
    assert output_names(out) == sorted([f"{p.stem}.npz" for p in inputs] + ["manifest.json"])
    man = json.loads((out / "manifest.json").read_text())
    assert len(man["items"]) == N_INPUTS
    assert all(e["status"] == "done" for e in man["items"].values())
    survivors = {f"{pid}" for a, pid in pids.items() if a != victim}
    late = [i.worker.split(":")[-1] for i in report.items[-3:]]
    assert set(late) <= survivors, "inputs after the kill must come from the surviving worker"
    # identical to the serial run
    assert_same_results(out, ref, [p.stem for p in inputs])
