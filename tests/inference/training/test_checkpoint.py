"""Training checkpoints carry a format version; older (unversioned) ones still resume."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from _training_helpers import synthetic_paired  # noqa: E402

from calcium_forge.errors import ModelError  # noqa: E402
from calcium_forge.inference.training import default_config, iter_train  # noqa: E402
from calcium_forge.inference.training.checkpoint import (  # noqa: E402
    CHECKPOINT_VERSION,
    read_checkpoint,
)
from calcium_forge.progress import drain  # noqa: E402

KW = dict(
    batch_size=8,
    val_every=5,
    val_windows=32,
    checkpoint_every=5,
    network_kwargs={"channels": [2, 4, 8, 8]},
    calibrate_events=False,
)


def _run(data, iterations, out_dir, **extra):
    config = default_config("ens2", iterations=iterations, **KW)
    return drain(iter_train(data, config, out_dir=out_dir, score_validation=False, **extra))


def test_checkpoints_carry_their_version_and_newer_ones_are_refused(tmp_path):
    torch.set_num_threads(1)
    data = synthetic_paired(n_neurons=4, seconds=20.0, seed=2)
    _run(data, 5, tmp_path)
    path = tmp_path / "checkpoint.pt"
    assert read_checkpoint(path)["checkpoint_version"] == CHECKPOINT_VERSION
    payload = torch.load(path, weights_only=True)
    # a checkpoint written before versions existed resumes as version 1
    del payload["checkpoint_version"]
    torch.save(payload, tmp_path / "old.pt")
    res = _run(data, 10, tmp_path / "old", resume=tmp_path / "old.pt")
    assert res.iterations_run == 10 and res.card["training"]["resumed_from_iteration"] == 5
    # one from a newer calcium-forge is refused with a message naming the version
    payload["checkpoint_version"] = CHECKPOINT_VERSION + 1
    torch.save(payload, tmp_path / "new.pt")
    with pytest.raises(ModelError, match="checkpoint_version"):
        _run(data, 10, tmp_path / "new", resume=tmp_path / "new.pt")
