"""The headless suite2p runner (API and CLI, with a stand-in suite2p module) and,
slow, a real suite2p 1.x run on a small synthetic movie whose output folder is read."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from calcium_forge import read
from calcium_forge.signal import to_dff

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


@pytest.mark.slow
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


# ----------------------------------------------------------- runner API (fake suite2p)
class _FakeSuite2P:
    """Stands in for the suite2p module: records the call, writes plane0/F.npy."""

    version = "fake"

    def __init__(self, write_f: bool = True) -> None:
        self.calls: list[dict] = []
        self.write_f = write_f

    @staticmethod
    def default_settings() -> dict:
        return {"run": {"do_registration": 1}, "diameter": [12.0, 12.0]}

    def run_s2p(self, db: dict, settings: dict) -> None:
        self.calls.append({"db": db, "settings": settings})
        plane = Path(db["save_path0"]) / db["save_folder"] / "plane0"
        plane.mkdir(parents=True, exist_ok=True)
        if self.write_f:
            np.save(plane / "F.npy", np.zeros((1, 4), np.float32))


@pytest.fixture
def fake_suite2p(monkeypatch):
    fake = _FakeSuite2P()
    monkeypatch.setitem(sys.modules, "suite2p", fake)
    return fake


def _tiny_movie(path: Path, shape: tuple[int, int, int] = (4, 128, 96)) -> Path:
    import tifffile

    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.zeros(shape, np.int16), photometric="minisblack")
    return path


def test_field_settings_follow_the_field_of_view():
    from calcium_forge.io.suite2p_run import field_settings

    big = field_settings((512, 512))  # suite2p's defaults on a large field
    assert big.nonrigid and big.block_px == (128, 128) and big.diameter_px == 12.0
    # 128 x 128: suite2p's 128 px block would fill the field (one block: it fails)
    small = field_settings((128, 128))
    assert small.nonrigid and small.block_px == (64, 64) and small.diameter_px == 12.0
    assert "64x64" in small.describe()
    odd = field_settings((200, 90), diameter_px=9.0)
    assert odd.block_px == (64, 32) and odd.nonrigid and odd.diameter_px == 9.0
    tiny = field_settings((48, 160))  # no room for two 32 px blocks along y: rigid only
    assert not tiny.nonrigid and tiny.diameter_px == 6.0
    assert "rigid registration only" in tiny.describe()


def test_run_suite2p_api_and_settings(tmp_path, fake_suite2p):
    from calcium_forge.io.suite2p_run import run_suite2p

    movie = _tiny_movie(tmp_path / "data" / "movie.tif")
    plane = run_suite2p(
        movie, tmp_path / "out", 30.0, tau_s=0.7, diameter_px=8.0, registration=False
    )
    assert plane == tmp_path / "out" / "suite2p" / "plane0"
    (call,) = fake_suite2p.calls
    assert call["db"]["data_path"] == [str(tmp_path / "data")]
    assert call["db"]["file_list"] == ["movie.tif"]
    assert call["db"]["save_path0"] == str(tmp_path / "out")
    s = call["settings"]
    assert s["fs"] == 30.0 and s["tau"] == 0.7 and s["torch_device"] == "cpu"
    assert s["diameter"] == [8.0, 8.0] and s["run"]["do_registration"] == 0
    assert s["registration"]["block_size"] == [64, 32] and s["registration"]["nonrigid"]


def test_main_calls_run_suite2p_and_reports_failure(tmp_path, fake_suite2p, capsys):
    from calcium_forge.io.suite2p_run import main

    argv = [str(_tiny_movie(tmp_path / "m.tif")), str(tmp_path / "out"), "--fs-hz", "15"]
    assert main(argv) == 0
    s = fake_suite2p.calls[-1]["settings"]
    assert s["fs"] == 15.0 and s["tau"] == 1.0 and s["diameter"] == [12.0, 12.0]
    assert s["run"]["do_registration"] == 1
    fake_suite2p.write_f = False
    assert main([*argv[:1], str(tmp_path / "empty"), "--fs-hz", "15", "--no-registration"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("suite2p failed: Suite2PRunError: suite2p finished on")
    assert "wrote no" in err and "found no ROI" in err


def test_a_suite2p_exception_names_the_movie(tmp_path, fake_suite2p, monkeypatch):
    from calcium_forge.errors import CalciumForgeError
    from calcium_forge.io.suite2p_run import Suite2PRunError, run_suite2p

    def boom(db, settings):
        raise RuntimeError("Input and output sizes should be greater than 0")

    monkeypatch.setattr(fake_suite2p, "run_s2p", boom)
    movie = _tiny_movie(tmp_path / "m.tif")
    with pytest.raises(Suite2PRunError, match=r"m\.tif \(field 128x96 px.*greater than 0") as e:
        run_suite2p(movie, tmp_path / "out", 30.0)
    assert isinstance(e.value, CalciumForgeError) and not isinstance(e.value, RuntimeError)


def test_run_is_a_deprecated_alias(tmp_path, fake_suite2p):
    from calcium_forge.io.suite2p_run import run

    with pytest.warns(DeprecationWarning, match="run_suite2p"):
        plane = run(_tiny_movie(tmp_path / "m.tif"), tmp_path / "out", 20.0, 1.0, 0.0, True)
    assert (plane / "F.npy").is_file()
