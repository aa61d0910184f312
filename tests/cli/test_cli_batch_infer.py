"""CLI ``batch-infer``: a LocalCluster run with a broken input, and a job interrupted by
SIGINT on a loopback cluster that resumes only what is missing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from _distributed_helpers import LOOPBACK_INPUTS as N_INPUTS
from _distributed_helpers import assert_same_results, make_inputs, output_names
from calcium_forge.cli import main
from calcium_forge.distributed import batch_infer

OPTS = {"method": "oasis"}


def test_cli_batch_infer_local_cluster(tmp_path, capsys):
    inputs = make_inputs(tmp_path / "in", 3, n_frames=600)
    bad = tmp_path / "in" / "zz_broken.npz"
    bad.write_bytes(b"nope")
    out = tmp_path / "out"
    code = main(
        ["batch-infer", str(tmp_path / "in" / "*.npz"), "--out", str(out), "--method", "oasis",
         "--scheduler", "local", "--workers", "2", "--no-progress"]
    )  # fmt: skip
    text = capsys.readouterr()
    assert code == 1, text  # one input failed
    assert "3 done" in text.out and "1 failed" in text.out and "zz_broken.npz" in text.out
    ref = tmp_path / "ref"
    batch_infer(inputs, ref, client="serial", **OPTS)
    assert_same_results(out, ref, [p.stem for p in inputs])
    code = main(
        ["batch-infer", *map(str, inputs), "--out", str(out), "--method", "oasis",
         "--scheduler", "local", "--no-progress"]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "3 skipped" in text and "nothing to run" in text


@pytest.mark.timeout(180)
def test_interrupted_cli_job_resumes_only_missing(loopback_cluster, inputs_and_reference, tmp_path):
    cluster = loopback_cluster
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
    assert output_names(out) == sorted([f"{p.stem}.npz" for p in inputs] + ["manifest.json"])
    assert_same_results(out, ref, [p.stem for p in inputs])
