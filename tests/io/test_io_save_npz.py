"""The .npz writer: large 2-D arrays go in row blocks (memory maps released), same file content."""

from __future__ import annotations

import numpy as np

from calcium_forge import read
from calcium_forge.io import write


def test_block_written_npz_reads_back_identical(plane_factory, tmp_path, monkeypatch):
    plane = plane_factory("plane0", n_rois=7, n_frames=500, ops={"fs": 10.0})
    rec = read(plane, rois="all")  # memory-mapped traces, neuropil and spks
    out = tmp_path / "out"
    out.mkdir()
    whole = write(rec, out / "whole.npz")
    written: list[int] = []
    import calcium_forge.io.traces as traces_mod

    monkeypatch.setattr(traces_mod, "BLOCK_BUDGET_BYTES", 3 * 500 * 4)  # 3 rows per block
    real_rows = traces_mod.rows_per_block

    def spy(n_rows, per_row, budget=None):
        rows = real_rows(n_rows, per_row, traces_mod.BLOCK_BUDGET_BYTES)
        written.append(rows)
        return rows

    monkeypatch.setattr(traces_mod, "rows_per_block", spy)
    blocks = write(rec, out / "BLOCKS.NPZ")  # upper-case suffix: written as named
    assert written.count(3) == 3  # traces, neuropil and spks (500 frames) in 3-row blocks
    assert sorted(p.name for p in out.iterdir()) == ["BLOCKS.NPZ", "whole.npz"]
    with np.load(whole) as a, np.load(blocks) as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    back = read(blocks)
    np.testing.assert_array_equal(back.traces, np.load(plane / "F.npy"))
    np.testing.assert_array_equal(back.meta["spks"], np.load(plane / "spks.npy"))
