"""DDP CalciumGAN training through the one trainer: 2 gloo processes (torchrun) == 1 process.

The torchrun runs go through ``calcium-forge train-gan`` (``-m calcium_forge.cli``) and through
``ddp_worker.py`` (beside this file), which calls ``train_gan(..., ddp=init_distributed())``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from calcium_forge.synthesis._ddp import init_distributed, is_torchrun, shard_indices

pytestmark = pytest.mark.timeout(240)


def test_shard_indices_is_a_partition_like_distributed_sampler():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler

    for n, world in [(10, 2), (11, 3), (7, 4), (0, 2)]:
        shards = [shard_indices(n, r, world, seed=3, epoch=1) for r in range(world)]
        assert len({len(s) for s in shards}) <= 1
        if n:
            assert set(np.concatenate(shards)) == set(range(n))
            assert sum(len(s) for s in shards) - n < world
        no_shuffle = [shard_indices(n, r, world, shuffle=False) for r in range(world)]
        ref = [
            list(DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=False))
            for r in range(world)
        ]
        assert [s.tolist() for s in no_shuffle] == ref
        dropped = [shard_indices(n, r, world, drop_last=True) for r in range(world)]
        flat = np.concatenate(dropped)
        assert len(flat) == len(set(flat.tolist())) == (n // world) * world
    assert not np.array_equal(shard_indices(50, 0, 2, epoch=0), shard_indices(50, 0, 2, epoch=1))
    del torch


def test_outside_torchrun_is_single_process(monkeypatch):
    for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(v, raising=False)
    assert not is_torchrun()
    ctx = init_distributed()
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_give_the_losses_of_one(tmp_path):
    pytest.importorskip("torch")
    from calcium_forge import Recording
    from calcium_forge.io import write
    from calcium_forge.synthesis.calciumgan import GANConfig
    from calcium_forge.synthesis.train import GANTrainConfig, train_gan

    rng = np.random.default_rng(0)
    traces = np.cumsum(rng.normal(0, 0.1, size=(4, 1200)), axis=1).astype(np.float32)
    data = write(Recording(traces, fs_hz=30.0), tmp_path / "data.npz")
    steps, batch, window = 4, 8, 64

    one = train_gan(
        Recording(traces, fs_hz=30.0),
        GANConfig.cpu(n_neurons=4, window=window),
        GANTrainConfig(steps=steps, batch_size=batch, seed=0, num_threads=1),
        ddp=init_distributed(),  # outside torchrun: one process
    )
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--nnodes", "1", "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        "-m", "calcium_forge.cli", "train-gan", str(data), "--out", str(out),
        "--steps", str(steps), "--batch-size", str(batch), "--window", str(window),
        "--seed", "0", "--threads", "1", "--checkpoint-every", "2", "--no-progress",
        "--match-correlations", "0", "--distill-steps", "0", "--top-up", "0",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=200, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "on 2 process(es) (gloo)" in proc.stdout
    # rank 0 alone wrote the model and the log
    written = sorted(p.name for p in out.iterdir())
    assert "model.pt" in written and "train_log.json" in written and "checkpoint.pt" in written
    assert not [n for n in written if ".tmp" in n]
    from calcium_forge.synthesis.train import load_checkpoint

    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == steps and ckpt["world_size"] == 2
    log = json.loads((out / "train_log.json").read_text())
    for key in ("loss_d", "loss_g", "wasserstein", "gp"):
        np.testing.assert_allclose(log["history"][key], one.history[key], rtol=1e-3, atol=1e-4)
    assert log["card"]["distributed"] == {"world_size": 2, "backend": "gloo"}
    # the weights agree too: their distance is small next to how far training moved them
    # (Adam's first steps are sign-like, so parameters with ~0 gradient may differ by ~lr)
    import torch

    from calcium_forge.synthesis.calciumgan import CalciumGAN, build_generator

    two = CalciumGAN.load(out / "model.pt")
    torch.manual_seed(0)
    p0 = torch.cat([p.flatten() for p in build_generator(GANConfig.cpu(4, window)).parameters()])
    p1 = torch.cat([p.detach().flatten() for p in one.model.generator.parameters()])
    p2 = torch.cat([p.detach().flatten() for p in two.generator.parameters()])
    assert float((p1 - p2).norm()) < 0.2 * float((p1 - p0).norm())


def test_checkpoint_resume_continues_the_same_run(tmp_path):
    pytest.importorskip("torch")
    from calcium_forge import Recording
    from calcium_forge.synthesis.calciumgan import GANConfig
    from calcium_forge.synthesis.train import GANTrainConfig, train_gan

    rng = np.random.default_rng(1)
    rec = Recording(np.cumsum(rng.normal(0, 0.1, (3, 900)), axis=1).astype(np.float32), 30.0)
    gan_config = GANConfig.cpu(n_neurons=3, window=64)
    ddp = init_distributed()
    full = train_gan(rec, gan_config, GANTrainConfig(steps=4, batch_size=4, num_threads=1), ddp=ddp)
    part = tmp_path / "part"
    train_gan(
        rec, gan_config, GANTrainConfig(steps=2, batch_size=4, num_threads=1), ddp=ddp, out_dir=part
    )
    resumed = train_gan(
        rec,
        gan_config,
        GANTrainConfig(steps=4, batch_size=4, num_threads=1),
        ddp=ddp,
        resume=part / "checkpoint.pt",
    )
    assert resumed.steps_done == 4
    for key in ("loss_d", "loss_g", "gp"):
        np.testing.assert_allclose(resumed.history[key], full.history[key], rtol=1e-6)


def _torchrun(script_args: list[str], timeout: int = 200) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--nnodes", "1", "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        *script_args,
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """The runs of ddp_worker.py on 2 gloo processes: {rank: {run: summary}} and the folder."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("ddp_runs")
    worker = Path(__file__).with_name("ddp_worker.py")
    proc = _torchrun([str(worker), str(out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = {r: json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)}
    return ranks, out


def _worker():
    """The ddp_worker module (its data, model and run settings)."""
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        import ddp_worker
    finally:
        sys.path.pop(0)
    return ddp_worker


def _single_process(name: str, **overrides):
    """The worker's run ``name`` trained in this process (no DDP)."""
    from calcium_forge.synthesis.train import GANTrainConfig, train_gan

    ddp_worker = _worker()
    kw, _ = ddp_worker.RUNS[name]
    config = GANTrainConfig(**{**ddp_worker.COMMON, **kw, **overrides})
    return train_gan(ddp_worker.recording(), ddp_worker.gan_config(), config)


def test_ddp_ranks_agree_and_rank0_alone_writes(ddp_runs):
    ranks, out = ddp_runs
    for name in ranks[0]:
        a, b = ranks[0][name], ranks[1][name]
        assert a["world_size"] == b["world_size"] == 2
        assert a["history"] == b["history"], name  # losses are averaged over ranks
        # gradients are averaged (DDP; all-reduce in pretraining): one set of weights
        np.testing.assert_array_equal(a["generator"], b["generator"], err_msg=name)
    for name in ("full", "part", "ema", "budget", "bf16"):
        written = sorted(p.name for p in (out / name).iterdir())
        assert written == ["checkpoint.pt", "model.json", "model.pt", "train_log.json"], written


def test_ddp_checkpoint_resumes_exactly_and_in_one_process(ddp_runs):
    from calcium_forge.synthesis.train import CHECKPOINT_VERSION, load_checkpoint

    ranks, out = ddp_runs
    runs = ranks[0]
    ckpt = load_checkpoint(out / "part")
    assert ckpt["version"] == CHECKPOINT_VERSION and ckpt["world_size"] == 2
    assert ckpt["step"] == 4 and ckpt["pretrained"] and "generator_ema" in ckpt
    # the DDP run stopped at 2 and resumed by DDP == the uninterrupted DDP run
    assert runs["part"]["steps_done"] == 2 and runs["resumed"]["steps_done"] == 4
    for key in ("loss_d", "loss_g", "wasserstein", "gp", "pretrain_loss"):
        np.testing.assert_allclose(
            runs["resumed"]["history"][key], runs["full"]["history"][key], rtol=1e-6
        )
    np.testing.assert_allclose(runs["resumed"]["generator"], runs["full"]["generator"], rtol=1e-6)
    # a DDP checkpoint also resumes in one process (same format)
    from calcium_forge.synthesis.train import GANTrainConfig, train_gan

    one = train_gan(_worker().recording(), None, GANTrainConfig(steps=5), resume=out / "part")
    assert one.steps_done == 5 and one.world_size == 1 and len(one.history["loss_d"]) == 5


def test_ddp_has_the_features_of_one_process(ddp_runs):
    ranks, _ = ddp_runs
    runs = ranks[0]
    # autoencoder pretraining and weight averaging
    full = runs["full"]
    assert len(full["history"]["pretrain_loss"]) == 2 and full["card"]["pretrain_steps"] == 2
    assert "moving average" in full["card"]["generator_weights"]
    assert full["card"]["distributed"] == {"world_size": 2, "backend": "gloo"}
    # weight averaging follows the one-process run (losses, and the averaged weights)
    ema = runs["ema"]
    one = _single_process("ema")
    assert "moving average" in one.model.card["generator_weights"]
    for key in ("loss_d", "loss_g", "wasserstein", "gp"):
        np.testing.assert_allclose(ema["history"][key], one.history[key], rtol=1e-3, atol=1e-4)
    import torch

    def flat(model):
        return torch.cat([p.detach().flatten() for p in model.generator.parameters()])

    # the DDP average is far closer to the one-process average than the raw generator is
    p_one, p_raw = flat(one.model), flat(_single_process("ema", ema_decay=None).model)
    p_ddp = torch.tensor(ema["generator"])
    assert float((p_ddp - p_one).norm()) < 0.2 * float((p_raw - p_one).norm())
    # the time budget stops DDP like one process (all ranks together)
    budget = runs["budget"]
    one_budget = _single_process("budget")
    assert budget["stopped_early"] and one_budget.stopped_early
    assert budget["steps_done"] == one_budget.steps_done == 0
    assert ranks[1]["budget"]["stopped_early"] and budget["card"]["stopped_early"]
    # mixed precision (bf16 autocast on CPU)
    bf16 = runs["bf16"]
    assert bf16["card"]["train_config"]["mixed_precision"]
    assert np.isfinite(bf16["history"]["loss_d"]).all() and np.isfinite(bf16["history"]["gp"]).all()


def test_train_gan_ddp_is_a_deprecated_alias_of_the_one_trainer():
    pytest.importorskip("torch")
    import calcium_forge.synthesis._ddp as ddp_module
    from calcium_forge import Recording
    from calcium_forge.synthesis.calciumgan import GANConfig
    from calcium_forge.synthesis.train import GANTrainConfig, train_gan

    rng = np.random.default_rng(2)
    rec = Recording(np.cumsum(rng.normal(0, 0.1, (3, 600)), axis=1).astype(np.float32), 30.0)
    args = (rec, GANConfig.cpu(n_neurons=3, window=64), GANTrainConfig(steps=2, batch_size=4))
    with pytest.warns(DeprecationWarning, match="train_gan"):
        alias = ddp_module.train_gan_ddp
    assert alias(*args).history == train_gan(*args).history
