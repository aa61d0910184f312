"""DDP CalciumGAN training: 2 gloo processes (torchrun) == 1 process with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

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
    from calcium_forge.synthesis._ddp import train_gan_ddp
    from calcium_forge.synthesis.calciumgan import GANConfig
    from calcium_forge.synthesis.train import GANTrainConfig

    rng = np.random.default_rng(0)
    traces = np.cumsum(rng.normal(0, 0.1, size=(4, 1200)), axis=1).astype(np.float32)
    data = write(Recording(traces, fs_hz=30.0), tmp_path / "data.npz")
    steps, batch, window = 4, 8, 64

    one = train_gan_ddp(
        Recording(traces, fs_hz=30.0),
        GANConfig.cpu(n_neurons=4, window=window),
        GANTrainConfig(steps=steps, batch_size=batch, seed=0, num_threads=1),
    )
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--nnodes", "1", "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        "-m", "calcium_forge.cli", "train-gan", str(data), "--out", str(out),
        "--steps", str(steps), "--batch-size", str(batch), "--window", str(window),
        "--seed", "0", "--threads", "1", "--checkpoint-every", "2", "--no-progress",
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
    from calcium_forge.synthesis._ddp import train_gan_ddp
    from calcium_forge.synthesis.calciumgan import GANConfig
    from calcium_forge.synthesis.train import GANTrainConfig

    rng = np.random.default_rng(1)
    rec = Recording(np.cumsum(rng.normal(0, 0.1, (3, 900)), axis=1).astype(np.float32), 30.0)
    cfg = GANConfig.cpu(n_neurons=3, window=64)
    full = train_gan_ddp(rec, cfg, GANTrainConfig(steps=4, batch_size=4, num_threads=1))
    part = tmp_path / "part"
    train_gan_ddp(rec, cfg, GANTrainConfig(steps=2, batch_size=4, num_threads=1), out_dir=part)
    resumed = train_gan_ddp(
        rec,
        cfg,
        GANTrainConfig(steps=4, batch_size=4, num_threads=1),
        resume=part / "checkpoint.pt",
    )
    assert resumed.steps_done == 4
    for key in ("loss_d", "loss_g", "gp"):
        np.testing.assert_allclose(resumed.history[key], full.history[key], rtol=1e-6)
