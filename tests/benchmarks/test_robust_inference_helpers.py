"""Evaluation pieces of benchmarks/suite/robust_inference.py, each with a negative control."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from calcium_forge.inference.training.data import PairedTrace, load_ground_truth
from calcium_forge.signal import noise_level
from calcium_forge.spiketrains import bin_spikes

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "suite"


def _import_script():
    """The script, imported from its path (its helper modules sit beside it)."""
    sys.path.insert(0, str(SUITE))
    try:
        spec = importlib.util.spec_from_file_location(
            "robust_inference", SUITE / "robust_inference.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SUITE))


ri = _import_script()
FS = 30.0


def _spike_train(seconds: float = 300.0, rate_hz: float = 0.5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.uniform(1.0, seconds - 1.0, rng.poisson(rate_hz * seconds)))


def _synthetic_trace(spikes: np.ndarray, seconds: float = 300.0, noise: float = 0.005):
    """A GCaMP-like dF/F at 30 Hz (exponential transients) with little white noise."""
    n = int(seconds * FS)
    counts = bin_spikes(spikes, n, FS)
    kernel = 0.3 * np.exp(-np.arange(int(3 * FS)) / (0.7 * FS))
    dff = np.convolve(counts, kernel)[:n] + noise * np.random.default_rng(1).standard_normal(n)
    return PairedTrace(
        dff=dff.astype(np.float32), target=counts.astype(np.float32),
        counts=counts.astype(np.float32), spike_times_s=spikes, fs_hz=FS, native_fs_hz=FS,
        noise_level=float(noise_level(dff, FS)), dataset="DS99-test", neuron="DS99-test/n0",
    )  # fmt: skip


# ------------------------------------------------------------------ Corr, ER, Bias
def test_corr_is_one_for_the_truth_and_fails_for_a_shuffled_prediction():
    spikes = _spike_train()
    counts = bin_spikes(spikes, int(300 * FS), FS)
    assert ri.smoothed_corr(counts, counts * FS, FS) == pytest.approx(1.0)
    shuffled = np.random.default_rng(3).permutation(counts) * FS
    assert ri.smoothed_corr(counts, shuffled, FS) < 0.2


def test_corr_leaves_out_gaps():
    spikes = _spike_train()
    counts = bin_spikes(spikes, int(300 * FS), FS)
    rate = counts * FS
    rate[1000:1500] = np.nan
    assert ri.smoothed_corr(counts, rate, FS) > 0.99


def test_er_is_zero_for_the_true_spikes_and_one_for_shifted_events():
    spikes = _spike_train()
    finite = np.ones(int(300 * FS), dtype=bool)
    assert ri.event_error_rate(spikes, spikes, finite, FS) == 0.0
    assert ri.event_error_rate(spikes, spikes + 0.2, finite, FS) > 0.9
    assert ri.event_error_rate(spikes, np.array([]), finite, FS) == 1.0


def test_er_ignores_true_spikes_in_gaps():
    spikes = np.array([10.0, 20.0, 30.0])
    finite = np.ones(int(40 * FS), dtype=bool)
    finite[int(19 * FS) : int(21 * FS)] = False
    assert ri.event_error_rate(spikes, np.array([10.0, 30.0]), finite, FS) == 0.0
    finite[:] = True  # the same events miss a spike when the frames are there
    assert ri.event_error_rate(spikes, np.array([10.0, 30.0]), finite, FS) > 0.1


def test_bias_is_zero_for_the_truth_and_positive_for_too_many_spikes():
    counts = bin_spikes(_spike_train(), int(300 * FS), FS)
    assert ri.rate_bias(counts, counts * FS, FS) == pytest.approx(0.0)
    assert ri.rate_bias(counts, 2 * counts * FS, FS) == pytest.approx(1.0)
    assert ri.rate_bias(counts, np.zeros_like(counts), FS) == pytest.approx(-1.0)


def test_score_trace_combines_the_three():
    trace = _synthetic_trace(_spike_train())
    d = ri.degrade_to_cell(trace, None, 0)
    good = ri.score_trace(d, d.counts * FS, trace.spike_times_s)
    assert good.corr == pytest.approx(1.0) and good.er == 0.0 and good.bias == pytest.approx(0)
    bad = ri.score_trace(d, np.random.default_rng(0).permutation(d.counts) * FS, np.array([5.0]))
    assert bad.corr < 0.2 and bad.er > 0.9


# ------------------------------------------------------------------ degradation
@pytest.mark.parametrize("nu", [2.0, 4.0, 8.0])
def test_degraded_trace_reaches_its_target_nu(nu):
    trace = _synthetic_trace(_spike_train())
    d = ri.degrade_to_cell(trace, nu, seed=7)
    assert d is not None and d.nu_base < nu
    assert abs(d.nu - nu) / nu < 0.10
    assert abs(float(noise_level(d.dff, FS)) - nu) / nu < 0.10
    np.testing.assert_array_equal(d.counts, trace.counts)


def test_degrading_is_fixed_by_the_seed():
    trace = _synthetic_trace(_spike_train())
    a = ri.degrade_to_cell(trace, 4.0, seed=7).dff
    np.testing.assert_array_equal(a, ri.degrade_to_cell(trace, 4.0, seed=7).dff)
    assert not np.array_equal(a, ri.degrade_to_cell(trace, 4.0, seed=8).dff)
    cell_a, cell_b = ri.Cell(30.0, 4.0), ri.Cell(30.0, 8.0)
    s = ri.trace_seed(0, "DS10/n1", 0, cell_a)
    assert s == ri.trace_seed(0, "DS10/n1", 0, cell_a)
    others = [
        ri.trace_seed(0, "DS10/n1", 1, cell_a),  # another recording of the neuron
        ri.trace_seed(0, "DS10/n1", 0, cell_b),  # another cell
        ri.trace_seed(1, "DS10/n1", 0, cell_a),  # another benchmark seed
        ri.trace_seed(0, "DS10/n2", 0, cell_a),  # another neuron
    ]
    assert len({s, *others}) == 5


def test_a_trace_noisier_than_the_target_is_skipped_and_native_is_unchanged():
    trace = _synthetic_trace(_spike_train(), noise=0.2)  # ν ≈ 4.9
    assert trace.noise_level > 2.0
    assert ri.degrade_to_cell(trace, 2.0, seed=0) is None
    native = ri.degrade_to_cell(trace, None, seed=0)
    np.testing.assert_array_equal(native.dff, trace.dff)


def test_real_recording_reaches_each_cell_nu(ground_truth_dir):
    (folder,) = [d for d in ground_truth_dir.iterdir() if d.name.startswith("DS10")]
    paired = load_ground_truth(sorted(folder.glob("*.mat"))[:3], fs_hz=15.0)
    reached = 0
    for k, trace in enumerate(paired.traces):
        base = float(noise_level(trace.dff, 15.0))
        for nu in (2.0, 4.0, 8.0):
            cell = ri.Cell(15.0, nu)
            d = ri.degrade_to_cell(trace, nu, seed=ri.trace_seed(0, trace.neuron, k, cell))
            if base > nu:
                assert d is None
                continue
            assert abs(d.nu - nu) / nu < 0.10
            assert np.array_equal(np.isnan(d.dff), np.isnan(trace.dff))
            reached += 1
    assert reached >= 6


# ------------------------------------------------------------------ noise-only traces
@pytest.mark.parametrize(("fs", "nu"), [(7.5, 2.0), (30.0, 8.0), (60.0, 15.0)])
def test_noise_only_traces_have_their_nu(fs, nu):
    x = ri.noise_only_traces(fs, nu, n_traces=10, seconds=120.0, seed=0)
    assert x.shape == (10, int(120 * fs))
    assert np.mean(noise_level(x, fs)) == pytest.approx(nu, rel=0.03)
    np.testing.assert_array_equal(x, ri.noise_only_traces(fs, nu, 10, 120.0, 0))


def test_false_event_rate_counts_events_per_second():
    assert ri.false_event_rate([np.array([]), np.array([])], 120.0) == 0.0
    firing = [np.arange(0.0, 120.0, 1.0)] * 10  # one event a second
    assert ri.false_event_rate(firing, 120.0) == pytest.approx(1.0)


def test_a_model_firing_in_noise_misses_the_noise_target(monkeypatch):
    import _robust_fold

    def quiet(row, dff, fs_hz, args):
        return np.zeros_like(dff), [np.array([]) for _ in dff]

    def firing(row, dff, fs_hz, args):
        return np.zeros_like(dff), [np.arange(0.0, dff.shape[1] / fs_hz, 2.0) for _ in dff]

    args = argparse.Namespace(noise_traces=3, noise_seconds=20.0, seed=0)
    results = {}
    for name, fake in (("quiet", quiet), ("firing", firing)):
        monkeypatch.setattr(_robust_fold, "run_method", fake)
        entry = {"methods": {}}
        _robust_fold.score_noise(entry, 30.0, 4.0, [_robust_fold.Row(name, "ens2")], args)
        results[name] = entry["methods"][name]
    assert results["quiet"] == 0.0 and results["firing"] == pytest.approx(0.5)
    for name, status in (("quiet", "met"), ("firing", "MISSED")):
        checks = ri.check_targets({}, {}, {"30Hz-nu4": results}, candidate=name)
        (noise_check,) = [c for c in checks if c.name.startswith("noise-only")]
        assert noise_check.status == status


# ------------------------------------------------------------------ targets
def _cells(cand_corr: float, oasis_corr: float, er2: float = 0.3, er4: float = 0.5) -> dict:
    cells = {}
    for nu, er in ((2.0, er2), (4.0, er4), (8.0, 0.7)):
        cells[ri.Cell(30.0, nu).key] = {
            "matched": {"corr": cand_corr, "er": er, "bias": 0.0},
            "oasis": {"corr": oasis_corr, "er": 0.8, "bias": -0.5},
        }
    return cells


def _status(checks, start: str) -> list[str]:
    return [c.status for c in checks if c.name.startswith(start)]


def test_targets_are_computed_from_the_values():
    good = ri.check_targets(_cells(0.80, 0.50), {"DS10": {"matched": 0.20}}, {})
    assert set(_status(good, "30Hz")) == {"met"}
    assert _status(good, "native DS10") == ["met"]
    assert _status(good, "native DS11") == ["n/a"]  # fold not run
    bad = ri.check_targets(_cells(0.60, 0.50, er2=0.5), {"DS10": {"matched": 0.30}}, {})
    assert "MISSED" in _status(bad, "30Hz-nu2: Corr >= oasis")
    assert _status(bad, "30Hz-nu2: ER") == ["MISSED"]
    assert _status(bad, "30Hz-nu4: Corr >= 0.7") == ["MISSED"]
    assert _status(bad, "30Hz-nu8: Corr >= 0.58") == ["met"]
    assert _status(bad, "native DS10") == ["MISSED"]


def test_cascade_row_sets_a_corr_bar():
    cells = _cells(0.80, 0.50)
    for entry in cells.values():
        entry["cascade"] = {"corr": 0.85, "er": 0.3, "bias": 0.0}
    checks = ri.check_targets(cells, {}, {}, cascade_rows=("cascade",))
    assert set(_status(checks, "30Hz-nu4: Corr >= cascade")) == {"MISSED"}
    checks = ri.check_targets(_cells(0.80, 0.50), {}, {}, cascade_rows=())
    assert not _status(checks, "30Hz-nu4: Corr >= cascade")


def test_missing_values_are_not_counted_as_met():
    checks = ri.check_targets({}, {}, {})
    assert {c.status for c in checks} == {"n/a"}
    assert ri.TargetCheck("x", float("nan"), 0.5, True).status == "n/a"


def test_command_line_help_and_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        ri.build_parser().parse_args(["--help"])
    assert exit_info.value.code == 0 and "--matched-iterations" in capsys.readouterr().out
    args = ri.build_parser().parse_args([])
    assert args.folds == ["DS03", "DS10", "DS11", "DS12", "DS13", "DS21"]
    assert args.matched_iterations == 12000 and args.matched_batch == 512 and args.threads == 1
    assert len({ri.Cell.parse(c) for c in args.cells}) == 10  # 3 rates x 3 ν + native


def test_model_rows_parse():
    import _robust_fold

    assert _robust_fold.parse_model_spec("cascade=cascade:m/c.pt") == (
        "cascade",
        ("cascade", "m/c.pt"),
    )
    assert _robust_fold.parse_model_spec("x=m/c.pt") == ("x", (None, "m/c.pt"))
    with pytest.raises(ValueError, match="NAME=METHOD:PATH"):
        _robust_fold.parse_model_spec("m/c.pt")


def test_matched_recipe_is_the_issue_s():
    import _robust_fold

    args = ri.build_parser().parse_args([])
    config = _robust_fold.matched_config(args)
    assert config.noise_matched and config.conditioned and config.fs_hz == 30.0
    assert tuple(config.train_rates_hz) == (7.5, 15.0, 30.0, 60.0)
    assert tuple(config.nu_range) == (0.5, 15.0)
    assert config.iterations == 12000 and config.batch_size == 512


def test_cells_parse():
    assert ri.Cell.parse("30:4") == ri.Cell(30.0, 4.0)
    assert ri.Cell.parse("native") == ri.Cell(60.0, None)
    assert ri.Cell.parse("7.5:2").key == "7.5Hz-nu2"
    with pytest.raises(ValueError, match="RATE:NU"):
        ri.Cell.parse("30")


def test_report_prints_tables_and_targets(capsys):
    import _robust_report

    neurons = {"DS10/a": {"corr": 0.8, "er": 0.3, "bias": 0.1}}
    oasis = {"DS10/a": {"corr": 0.4, "er": 0.7, "bias": -0.3}}
    fold = {
        "test": "DS10-x", "cpu_s": 12.0, "wall_s": 20.0,
        "cells": {
            "30Hz-nu4": {"fs_hz": 30.0, "nu": 4.0, "n_traces": 1, "n_skipped_noisier": 0,
                         "methods": {"matched": neurons, "oasis": oasis}},
            "native-60Hz": {"fs_hz": 60.0, "nu": None, "n_traces": 1,
                            "methods": {"matched": neurons, "oasis": oasis}},
        },
        "noise_only": {"30Hz-nu4": {"fs_hz": 30.0, "nu": 4.0, "methods": {"matched": 0.01}}},
    }  # fmt: skip
    checks = _robust_report.print_report({"DS10": fold}, ["matched", "oasis"], "native-60Hz")
    out = capsys.readouterr().out
    assert "### 30 Hz" in out and "| matched | 0.800 | 0.300 | +0.100 |" in out
    assert "ER DS10" in out and "noise-only" in out and "| DS10 | DS10-x | 12 | 20 |" in out
    status = {c.name: c.status for c in checks}
    assert status["30Hz-nu4: Corr >= oasis + 0.15"] == "met"
    assert status["30Hz-nu4: Corr >= 0.7"] == "met"
    assert status["native DS10: ER <= ENS² authors' LOO ER"] == "MISSED"
    assert "MISSED" in out and "met" in out
