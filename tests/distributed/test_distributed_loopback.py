"""Fault tolerance on loopback: a scheduler and two worker processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from _distributed_helpers import LoopbackCluster, assert_same_results, make_inputs

from calcium_forge.distributed import batch_infer, iter_batch_infer

pytestmark = pytest.mark.timeout(180)

N_INPUTS = 8


@pytest.fixture
def cluster(tmp_path):
    c = LoopbackCluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def inputs_and_reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    inputs = make_inputs(root / "in", N_INPUTS, n_rois=8, n_frames=4000, seed=1)
    ref = root / "serial"
    rep = batch_infer(inputs, ref, client="serial", method="oasis")
    assert rep.ok
    return inputs, ref


def _outputs(folder):
    return sorted(p.name for p in folder.iterdir())


def test_killing_a_worker_mid_run_completes_every_output_once(
    cluster, inputs_and_reference, tmp_path
):
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
    assert _outputs(out) == sorted([f"{p.stem}.npz" for p in inputs] + ["manifest.json"])
    man = json.loads((out / "manifest.json").read_text())
    assert len(man["items"]) == N_INPUTS
    assert all(e["status"] == "done" for e in man["items"].values())
    survivors = {f"{pid}" for a, pid in pids.items() if a != victim}
    late = [i.worker.split(":")[-1] for i in report.items[-3:]]
    assert set(late) <= survivors, "inputs after the kill must come from the surviving worker"
    # identical to the serial run
    assert_same_results(out, ref, [p.stem for p in inputs])


def test_interrupted_cli_job_resumes_only_missing(cluster, inputs_and_reference, tmp_path):
    inputs, ref = inputs_and_reference
    for _ in range(2):
        cluster.start_worker()
    cluster.client(2).close()
    # SIGINT after two inputs are done; on a fast machine the remaining ones can all
    # finish before the signal lands (exit 0), so try again in a fresh folder
    for attempt in range(4):
        out = tmp_path / f"out{attempt}"
        cmd = [
            sys.executable, "-m", "calcium_forge.cli", "batch-infer", *map(str, inputs),
            "--out", str(out), "--method", "oasis", "--scheduler", cluster.address,
            "--no-progress",
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # a test run started in the background (nohup, `&`) ignores SIGINT, and the
            # child would inherit that: restore the default so Ctrl-C semantics are tested
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        manifest = out / "manifest.json"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if manifest.exists():
                try:
                    items = json.loads(manifest.read_text())["items"].values()
                except ValueError:  # pragma: no cover - atomic writes make this unlikely
                    continue
                if sum(e["status"] == "done" for e in items) >= 2:
                    break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        man = json.loads(manifest.read_text())
        done_before = {k for k, e in man["items"].items() if e["status"] == "done"}
        if proc.returncode == 0 or len(done_before) == N_INPUTS:
            continue  # everything finished before the interrupt: no resume to test
        break
    assert proc.returncode == 130, err
    assert 2 <= len(done_before) < N_INPUTS, "the job must be interrupted mid-run"

    client = cluster.client(2)
    try:
        report = batch_infer(inputs, out, client=client, method="oasis")
    finally:
        client.close()
    skipped = {i.input for i in report.items if i.status == "skipped"}
    redone = {i.input for i in report.items if i.status == "done"}
    assert skipped == done_before
    assert redone == {str(p) for p in inputs} - done_before
    assert _outputs(out) == sorted([f"{p.stem}.npz" for p in inputs] + ["manifest.json"])
    assert_same_results(out, ref, [p.stem for p in inputs])
