"""Atomic writes: the target appears only when the write succeeded."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import Recording, write
from calcium_forge.errors import MissingFileError
from calcium_forge.io.atomic import atomic_path


def test_success_renames_onto_target(tmp_path):
    target = tmp_path / "out.npz"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npz" and tmp.name.startswith(".")
        assert tmp.stat().st_size == 0  # reserved with O_EXCL; the writer overwrites it
        np.savez(tmp, x=np.arange(3))
    assert target.is_file() and list(tmp_path.iterdir()) == [target]
    np.testing.assert_array_equal(np.load(target)["x"], np.arange(3))


def test_exception_leaves_nothing_and_keeps_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_missing_folder(tmp_path):
    with (
        pytest.raises(MissingFileError, match="does not exist"),
        atomic_path(tmp_path / "nope" / "x.npz"),
    ):
        pass


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".nwb"])
def test_failed_write_leaves_no_file(tmp_path, monkeypatch, suffix):
    """A writer that dies half way (here: numpy/pynwb raising) leaves no file behind."""
    rec = Recording(traces=np.ones((2, 50)), fs_hz=10.0)
    target = tmp_path / f"rec{suffix}"

    def boom(*args, **kwargs):
        # write something first, like a real writer interrupted half way
        path = args[0] if not hasattr(args[0], "write") else None
        if path is not None:
            with open(str(path) if str(path).endswith(suffix) else f"{path}{suffix}", "wb") as fh:
                fh.write(b"partial")
        raise OSError("No space left on device")

    if suffix == ".npz":
        import calcium_forge.io.traces as traces_io

        monkeypatch.setattr(traces_io, "save_npz", boom)
    elif suffix == ".csv":
        monkeypatch.setattr(np, "savetxt", lambda *a, **k: (_ for _ in ()).throw(OSError("full")))
    else:
        pynwb = pytest.importorskip("pynwb")

        def bad_write(self, *a, **k):
            raise OSError("No space left on device")

        monkeypatch.setattr(pynwb.NWBHDF5IO, "write", bad_write)
    with pytest.raises(OSError):
        write(rec, target)
    assert list(tmp_path.iterdir()) == []


def test_write_text_replaces_atomically(tmp_path):
    from calcium_forge.io.atomic import write_text

    target = tmp_path / "report.md"
    target.write_text("old")
    assert write_text(target, "Fréchet ²\n") == target
    assert target.read_text(encoding="utf-8") == "Fréchet ²\n"
    assert list(tmp_path.iterdir()) == [target]
    with pytest.raises(MissingFileError, match="does not exist"):
        write_text(tmp_path / "nope" / "x.json", "{}")
