"""batch_infer: inputs, manifest, resume, failing inputs, streamed inference.

The ``batch-infer`` command is tested in tests/cli/test_cli_batch_infer.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from _distributed_helpers import assert_same_results, make_inputs, read_rates
from calcium_forge.distributed import batch_infer, iter_batch_infer
from calcium_forge.errors import InvalidInputError

OPTS = {"method": "oasis"}


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_inputs_globs_suite2p_and_name_clashes(tmp_path):
    from calcium_forge.distributed.inputs import expand_inputs, output_names

    for s in ("a", "b"):
        plane = tmp_path / s / "suite2p" / "plane0"
        plane.mkdir(parents=True)
        np.save(plane / "F.npy", np.zeros((2, 10), np.float32))
    (tmp_path / "x.npz").write_bytes(b"")
    specs = expand_inputs(
        [tmp_path / "a", str(tmp_path / "b" / "**" / "plane0"), tmp_path / "x.npz",
         tmp_path / "x.npz", tmp_path / "missing.npz", str(tmp_path / "none*.mat")]
    )  # fmt: skip
    good = [s.path for s in specs if s.error is None]
    assert good == [
        tmp_path / "a" / "suite2p" / "plane0",
        tmp_path / "b" / "suite2p" / "plane0",
        tmp_path / "x.npz",
    ]
    errors = [s.error for s in specs if s.error is not None]
    assert len(errors) == 2 and "does not exist" in errors[0] and "matched no" in errors[1]
    assert output_names(good) == ["a_suite2p_plane0", "b_suite2p_plane0", "x"]


def test_serial_batch_manifest_and_resume(tmp_path):
    inputs = make_inputs(tmp_path / "in", 3, n_frames=900)
    out = tmp_path / "out"
    rep = batch_infer(inputs, out, client="serial", **OPTS)
    assert [i.status for i in rep.items] == ["done"] * 3 and rep.ok
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "rec00.npz", "rec01.npz", "rec02.npz"
    ]  # fmt: skip
    man = json.loads((out / "manifest.json").read_text())
    assert man["counts"] == {"done": 3}
    for p in inputs:
        entry = man["items"][str(p)]
        assert entry["status"] == "done"
        assert entry["input_sha256"] == _sha(p)
        assert entry["output_sha256"] == _sha(Path(entry["output"]))
        assert entry["options"]["method"] == "oasis"
        assert entry["versions"]["calcium_forge"] and entry["versions"]["numpy"]
        assert set(entry["timings_s"]) == {"checksum", "load", "preprocess", "inference", "write"}
        assert entry["n_rois"] == 6 and entry["n_frames"] == 900
    rate, events = read_rates(out / "rec00.npz")
    assert rate.shape == (6, 900) and np.isfinite(rate).all() and len(events) == 6
    assert sum(len(e) for e in events) > 0

    # resume: nothing to do
    rep2 = batch_infer(inputs, out, client="serial", **OPTS)
    assert [i.status for i in rep2.items] == ["skipped"] * 3
    # a changed input, a damaged output and a new input are redone; the rest is skipped
    make_inputs(tmp_path / "new", 2, n_frames=900, seed=5)
    (tmp_path / "new" / "rec00.npz").replace(inputs[0])
    (tmp_path / "new" / "rec01.npz").replace(tmp_path / "in" / "rec03.npz")
    with open(out / "rec01.npz", "r+b") as fh:
        fh.seek(100)
        fh.write(b"garbage")
    rep3 = batch_infer(tmp_path / "in" / "rec*.npz", out, client="serial", **OPTS)
    assert {Path(i.input).name: i.status for i in rep3.items} == {
        "rec00.npz": "done", "rec01.npz": "done", "rec02.npz": "skipped", "rec03.npz": "done"
    }  # fmt: skip
    # different options: everything is recomputed
    rep4 = batch_infer(inputs, out, client="serial", method="oasis", events=False)
    assert [i.status for i in rep4.items] == ["done"] * 3
    assert read_rates(out / "rec00.npz")[1] is None


def test_failing_input_is_reported_and_others_finish(tmp_path):
    inputs = make_inputs(tmp_path / "in", 2, n_frames=600)
    bad = tmp_path / "in" / "broken.npz"
    bad.write_bytes(b"this is not a zip archive")
    out = tmp_path / "out"
    rep = batch_infer(
        [inputs[0], bad, inputs[1], tmp_path / "nope.npz"], out, client="serial", **OPTS
    )
    status = {Path(i.input).name: (i.status, i.stage) for i in rep.items}
    assert status["rec00.npz"][0] == "done" and status["rec01.npz"][0] == "done"
    assert status["broken.npz"] == ("failed", "load")
    assert status["nope.npz"] == ("failed", "find")
    assert not rep.ok and len(rep.failed) == 2
    assert "broken.npz" in rep.summary()
    man = json.loads((out / "manifest.json").read_text())
    assert man["items"][str(bad)]["status"] == "failed"
    assert "broken.npz" in man["items"][str(bad)]["error"] or man["items"][str(bad)]["error"]
    assert not (out / "broken.npz").exists()


def test_options_are_validated(tmp_path):
    with pytest.raises(InvalidInputError, match="unknown option"):
        batch_infer([tmp_path], tmp_path / "o", client="serial", methd="oasis")
    with pytest.raises(InvalidInputError, match="method"):
        batch_infer([tmp_path], tmp_path / "o", client="serial", method="magic")
    with pytest.raises(InvalidInputError, match="scheduler"):
        batch_infer(make_inputs(tmp_path / "i", 1, n_frames=300), tmp_path / "o", client="udp:x")


def test_generator_interrupt_then_rerun_finishes_only_missing(tmp_path):
    inputs = make_inputs(tmp_path / "in", 4, n_frames=600)
    out = tmp_path / "out"
    gen = iter_batch_infer(inputs, out, client="serial", **OPTS)
    next(gen)
    next(gen)
    gen.close()  # what Ctrl-C does to the driver between two results
    man = json.loads((out / "manifest.json").read_text())
    assert sorted(e["status"] for e in man["items"].values()) == [
        "done", "done", "pending", "pending"
    ]  # fmt: skip
    rep = batch_infer(inputs, out, client="serial", **OPTS)
    assert [i.status for i in rep.items] == ["skipped", "skipped", "done", "done"]
    ref = tmp_path / "ref"
    batch_infer(inputs, ref, client="serial", **OPTS)
    assert_same_results(out, ref, [p.stem for p in inputs])


def test_streamed_inference_equals_in_memory(tmp_path):
    from calcium_forge.distributed import infer_spikes_streamed
    from calcium_forge.inference import infer_spikes
    from calcium_forge.io import read, read_result

    make_inputs(tmp_path, 1, n_rois=7, n_frames=900)
    dff = read(tmp_path / "rec00.npz").traces
    np.save(tmp_path / "dff.npy", dff)
    ref = infer_spikes(dff, fs_hz=30.0, method="oasis")
    res = infer_spikes_streamed(
        tmp_path / "dff.npy", tmp_path / "out.npz", fs_hz=30.0, roi_block=3, method="oasis"
    )
    assert (res.n_rois, res.n_frames, res.roi_block) == (7, 900, 3)
    back = read_result(tmp_path / "out.npz")
    np.testing.assert_array_equal(back.rate_hz, ref.rate_hz)
    assert [e.tolist() for e in back.events] == [e.tolist() for e in ref.events]
    assert res.n_events == sum(len(e) for e in ref.events) > 0
    assert back.method == "oasis" and back.fs_hz == 30.0
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


def _suite2p_plane(folder: Path, n_rois: int = 3, n_frames: int = 900) -> Path:
    """A minimal Suite2P plane folder (raw F + Fneu, no ops: the frame rate is unknown)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    F = (100 + rng.gamma(2, 20, size=(n_rois, n_frames))).astype(np.float32)
    np.save(folder / "F.npy", F)
    np.save(folder / "Fneu.npy", (0.5 * F).astype(np.float32))
    np.save(folder / "iscell.npy", np.ones((n_rois, 2), np.float32))
    stat = [
        {"ypix": np.array([i, i]), "xpix": np.array([0, 1]), "lam": np.ones(2, np.float32)}
        for i in range(n_rois)
    ]
    np.save(folder / "stat.npy", np.array(stat, dtype=object), allow_pickle=True)
    return folder


def test_raw_suite2p_folder_and_fs_fallback(tmp_path):
    from calcium_forge import Recording
    from calcium_forge.io import write

    plane = _suite2p_plane(tmp_path / "s1" / "suite2p" / "plane0")
    rng = np.random.default_rng(0)
    own_rate = write(
        Recording(rng.normal(0, 0.05, (2, 450)).astype(np.float32), fs_hz=15.0),
        tmp_path / "own_rate.npz",
    )
    out = tmp_path / "out"
    # without fs_hz the Suite2P folder (no ops.npy) cannot be read: reported, not raised
    rep = batch_infer([tmp_path / "s1", own_rate], out, client="serial", **OPTS)
    assert [(i.status, i.stage) for i in rep.items] == [("failed", "load"), ("done", None)]
    assert "frame rate" in rep.items[0].error
    # fs_hz is the fallback for inputs that do not store a rate; files keep their own
    rep = batch_infer([tmp_path / "s1", own_rate], out, client="serial", fs_hz=30.0, **OPTS)
    assert [i.status for i in rep.items] == ["done", "done"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["items"][str(plane)]["fs_hz"] == 30.0
    assert man["items"][str(own_rate)]["fs_hz"] == 15.0
    assert man["items"][str(plane)]["timings_s"]["preprocess"] > 0  # raw -> dF/F
    rate, _ = read_rates(out / "plane0.npz")
    assert rate.shape == (3, 900) and np.isfinite(rate).all()


def test_streamed_network_inference_equals_in_memory(tmp_path):
    """ROI blocks give the rates of one call for a network method too (ENS², fast mode)."""
    torch = pytest.importorskip("torch")
    from calcium_forge.distributed import infer_spikes_streamed
    from calcium_forge.inference import infer_spikes
    from calcium_forge.inference.networks import ENS2UNet
    from calcium_forge.inference.registry import LoadedModel
    from calcium_forge.io import read_result

    torch.manual_seed(0)
    card = {"name": "untrained-ens2", "method": "ens2", "fs_hz": 60.0, "window": 96}
    model = LoadedModel(ENS2UNet().eval(), card, "ens2", 60.0, 96, name=card["name"])
    dff = np.random.default_rng(2).normal(0, 0.1, (7, 900)).astype(np.float32)
    opts = {"method": "ens2", "model": model, "mode": "fast", "num_threads": 1}
    ref = infer_spikes(dff, fs_hz=30.0, **opts)
    # an in-memory array-like works as well as a .npy path
    infer_spikes_streamed(dff, tmp_path / "out.npz", fs_hz=30.0, roi_block=3, **opts)
    back = read_result(tmp_path / "out.npz")
    np.testing.assert_allclose(back.rate_hz, ref.rate_hz, rtol=1e-5, atol=1e-6)
    assert back.rate_hz.std() > 0


def test_device_is_passed_to_workers_but_not_part_of_the_identity(tmp_path):
    pytest.importorskip("torch")
    import torch

    inputs = make_inputs(tmp_path / "in", 1, n_frames=600)
    out = tmp_path / "out"
    rep = batch_infer(inputs, out, client="serial", method="s2s", mode="fast", device="cpu")
    assert rep.ok
    man = json.loads((out / "manifest.json").read_text())
    assert man["runs"][-1]["device"] == "cpu"
    assert "device" not in man["items"][str(inputs[0])]["options"]
    # the same batch asked for another device is already finished
    again = batch_infer(inputs, out, client="serial", method="s2s", mode="fast", device="cpu:0")
    assert [i.status for i in again.items] == ["skipped"]
    if not torch.cuda.is_available():
        # a worker without the device fails its task with a message naming the device
        bad = batch_infer(inputs, tmp_path / "o2", client="serial", method="s2s", device="cuda")
        assert not bad.ok and bad.items[0].stage == "inference"
        assert "cuda" in bad.items[0].error and "CUDA" in bad.items[0].error


def test_large_suite2p_plane_is_streamed_with_the_same_results(
    tmp_path, suite2p_plane0, monkeypatch
):
    """A plane over the size limit goes through ROI blocks (bounded memory): same rates and
    events as the in-memory path on the real hippocampus Suite2P output."""
    from calcium_forge.distributed import task
    from calcium_forge.io import read_result

    opts = {"method": "oasis", "fs_hz": 30.0}  # the sample has no ops.npy
    ref = batch_infer([suite2p_plane0], tmp_path / "whole", client="serial", **opts)
    assert ref.ok
    monkeypatch.setattr(task, "STREAM_ABOVE_MB", 0.0)
    monkeypatch.setattr(task, "STREAM_ROI_BLOCK", 7)
    rep = batch_infer([suite2p_plane0], tmp_path / "blocks", client="serial", **opts)
    assert rep.ok, rep.summary()
    item = rep.items[0]
    assert set(item.timings_s) >= {"load", "preprocess", "inference", "write"}
    a = read_result(ref.items[0].output)
    b = read_result(item.output)
    assert b.rate_hz.shape == a.rate_hz.shape == (item.n_rois, item.n_frames)
    np.testing.assert_allclose(b.rate_hz, a.rate_hz, rtol=1e-5, atol=1e-6)
    assert [e.size for e in b.events] == [e.size for e in a.events]
    assert sum(e.size for e in b.events) > 0
    assert b.fs_hz == a.fs_hz == 30.0
    # a broken block is reported in the inference stage and leaves no output behind
    bad = tmp_path / "bad" / "plane0"
    bad.mkdir(parents=True)
    for f in ("F.npy", "Fneu.npy"):
        (bad / f).write_bytes((suite2p_plane0 / f).read_bytes())
    F = np.load(bad / "F.npy")
    F[15, 100] = np.inf
    np.save(bad / "F.npy", F)
    rep = batch_infer([bad], tmp_path / "o3", client="serial", **opts)
    assert rep.items[0].status == "failed" and rep.items[0].stage == "inference"
    assert "F.npy" in rep.items[0].error and "inf" in rep.items[0].error
    assert sorted(p.name for p in (tmp_path / "o3").iterdir()) == ["manifest.json"]
