"""Slow: run suite2p 1.x on a small synthetic movie and read its real output folder."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from calcium_forge import read
from calcium_forge.signal import to_dff

pytestmark = pytest.mark.slow

_RUN = textwrap.dedent(
    """
    import sys
    import numpy as np, tifffile, torch
    torch.set_num_threads(1)
    root = sys.argv[1]
    rng = np.random.default_rng(0)
    T, Y, X = 400, 96, 96
    yy, xx = np.mgrid[:Y, :X]
    movie = 100 + 5 * rng.standard_normal((T, Y, X))
    for k in range(12):
        cy, cx = rng.uniform(10, 86, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0)
        c = np.zeros(T)
        for t in range(T):
            c[t] = (0.9 * c[t - 1] if t else 0.0) + (rng.uniform() < 0.05)
        movie += 200 * blob[None] * (0.3 + c[:, None, None])
    tifffile.imwrite(f"{root}/data/movie.tif", movie.astype(np.int16))
    import suite2p
    db = suite2p.default_db()
    db.update(data_path=[f"{root}/data"], save_path0=root, nplanes=1, nchannels=1)
    settings = suite2p.default_settings()
    settings.update(torch_device="cpu", fs=30.0)
    settings["registration"]["nonrigid"] = False
    suite2p.run_s2p(db=db, settings=settings)
    """
)


def test_read_real_suite2p_1x_output(tmp_path):
    pytest.importorskip("suite2p")
    (tmp_path / "data").mkdir()
    # suite2p (opencv) runs in a subprocess, as the design asks
    subprocess.run(
        [sys.executable, "-c", _RUN, str(tmp_path)], check=True, timeout=900, capture_output=True
    )
    plane = tmp_path / "suite2p" / "plane0"
    assert (plane / "settings.npy").is_file() and (plane / "stat.npy").is_file()
    rec = read(plane)  # ops.npy / settings.npy pickles through the restricted unpickler
    assert rec.fs_hz == 30.0 and rec.n_frames == 400 and rec.n_rois >= 1
    assert rec.labels.shape == rec.mean_image.shape == (96, 96)
    assert set(np.unique(rec.labels)) == set(range(rec.n_rois + 1))
    (plane / "ops.npy").unlink()  # the 1.x files alone (settings/db/reg_outputs) suffice
    rec2 = read(tmp_path)
    assert len(rec2) == 1 and rec2[0].meta["fs_hz_source"] == "settings.npy fs"
    np.testing.assert_array_equal(rec2[0].labels, rec.labels)
    assert to_dff(rec).kind == "dff"
