"""The restricted unpickler: numpy/builtin content loads, anything else is refused unexecuted."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from calcium_forge import read
from calcium_forge.errors import FileFormatError, UnsafePickleError
from calcium_forge.io.safe_pickle import load_npy, loads_restricted


class _SystemCall:
    """Unpickling this would run a shell command that creates a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _OpenFile:
    """Unpickling this would create a file through builtins.open."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("payload_cls", [_SystemCall, _OpenFile])
def test_pickle_payload_in_stat_is_refused_and_not_run(plane_factory, tmp_path, payload_cls):
    marker = tmp_path / "pwned"
    plane = plane_factory("plane0", ops={"fs": 30.0})
    stat = np.array(
        [{"ypix": np.arange(3), "xpix": np.arange(3)}, payload_cls(marker)] * 2, dtype=object
    )
    np.save(plane / "stat.npy", stat, allow_pickle=True)
    with pytest.raises(UnsafePickleError) as info:
        read(plane)
    msg = str(info.value)
    assert "stat.npy" in msg and "[suite2p reader]" in msg
    assert ("system" in msg) or ("open" in msg)  # names the forbidden global
    assert "Nothing from the file was executed" in msg
    assert not marker.exists(), "the payload ran"


def test_payload_in_ops_is_refused(plane_factory, tmp_path):
    marker = tmp_path / "pwned_ops"
    plane = plane_factory("plane0")
    np.save(
        plane / "ops.npy",
        np.array({"fs": 30.0, "x": _SystemCall(marker)}, dtype=object),
        allow_pickle=True,
    )
    with pytest.raises(UnsafePickleError, match=r"ops\.npy.*posix\.system|ops\.npy.*os\.system"):
        read(plane)
    assert not marker.exists()


def test_real_stat_loads(suite2p_plane0):
    stat = load_npy(suite2p_plane0 / "stat.npy")
    assert stat.shape == (20,) and stat.dtype == object
    assert {"ypix", "xpix", "lam", "med"} <= set(stat[0])
    assert stat[0]["lam"].dtype == np.float32


def test_allowed_content_round_trips(tmp_path):
    value = {
        "meanImg": np.arange(12, dtype=np.float32).reshape(3, 4),
        "fs": np.float64(30.0),
        "n": np.int64(3),
        "names": ["a", "b"],
        "pair": (1, 2.5),
        "flags": {1, 2},
        "c": 1 + 2j,
        "nested": {"k": [np.arange(3)]},
    }
    np.save(tmp_path / "ops.npy", np.array(value, dtype=object), allow_pickle=True)
    back = load_npy(tmp_path / "ops.npy").item()
    assert back["fs"] == 30.0 and back["names"] == ["a", "b"] and back["flags"] == {1, 2}
    np.testing.assert_array_equal(back["meanImg"], value["meanImg"])
    np.testing.assert_array_equal(back["nested"]["k"][0], np.arange(3))


def test_truncated_pickle_is_a_format_error(tmp_path):
    data = pickle.dumps({"a": np.arange(100)}, protocol=3)
    with pytest.raises(FileFormatError, match="malformed or truncated"):
        loads_restricted(data[: len(data) // 2], "cut.pkl")


def test_numeric_npy_is_read_without_pickle(tmp_path):
    np.save(tmp_path / "F.npy", np.ones((2, 3), dtype=np.float32))
    assert load_npy(tmp_path / "F.npy").shape == (2, 3)
