"""Co-firing statistics and the floor flags, with the negative controls of the evaluation.

On the hippocampus recording (second half = reference, first half = floor):
(a) real data plus a shared common-mode signal and (b) real data with every
neuron circularly shifted on its own must be flagged; (c) a copy of the
training windows must fail the memorisation check; a real block that is
neither (the first half, offset by half a window) must not be flagged.
"""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.evaluation.cofiring import (
    cofiring_statistics,
    flagged,
    floor_table,
    pairwise_trace_correlations,
)
from calcium_forge.evaluation.synthetic import evaluate_synthetic
from calcium_forge.synthesis.windows import make_windows

T = 256


def test_pairwise_trace_correlations_match_numpy():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 200, 5))
    w[1, :, 2] += 2 * w[1, :, 0]
    c = pairwise_trace_correlations(w)
    iu = np.triu_indices(5, 1)
    for i in range(3):
        np.testing.assert_allclose(c[i], np.corrcoef(w[i].T)[iu], atol=1e-12)
    w[2, :, 4] = 1.0  # a flat trace has no correlation
    assert np.isnan(pairwise_trace_correlations(w)[2, iu[1] == 4]).all()


def test_synchrony_counts_active_neurons_per_bin():
    spikes = np.zeros((1, 3, 12), bool)
    spikes[0, :, 0] = True  # bin 0: all three neurons
    spikes[0, 0, 4] = True  # bin 1: one neuron
    cf = cofiring_statistics(np.zeros((1, 12, 3)), spikes, np.zeros((1, 3)), 30.0, 0.1)
    np.testing.assert_array_equal(cf.synchrony, [2, 1, 0, 1])  # 4 bins of 3 frames
    np.testing.assert_allclose(cf.rates_hz, [2 / 0.4, 1 / 0.4, 1 / 0.4])


def test_flags_compare_with_the_floor_and_the_memorisation_limit():
    assert flagged({"a": 1.6, "b": 1.4}, {"a": 1.0, "b": 1.0}) == ["a"]
    assert flagged({"a": 1.0}, None, memorisation_score=0.5) == ["memorisation_score"]
    rows = floor_table({"a": 3.0}, {"a": 1.0})
    assert "3.00" in rows[-1] and "**" in rows[-1]


@pytest.fixture(scope="module")
def halves(suite2p_plane0):
    from calcium_forge.recording import Recording
    from calcium_forge.signal import to_dff

    f = np.load(suite2p_plane0 / "F.npy")
    fneu = np.load(suite2p_plane0 / "Fneu.npy")
    tr = np.asarray(to_dff(Recording(f, 30.0, kind="raw", neuropil=fneu)).traces, np.float64)
    half = tr.shape[1] // 2
    return tr[:, :half], tr[:, half:]


def _evaluate(halves, candidate: np.ndarray, training: bool = False):
    first, second = halves
    ref = make_windows(second, T, T)
    extra = {"training": make_windows(first, T, 32), "held_out": ref} if training else {}
    return evaluate_synthetic(ref, candidate, fs_hz=30.0, floor=make_windows(first, T, T), **extra)


def test_a_real_block_is_not_flagged(halves):
    first, _ = halves
    rep = _evaluate(halves, make_windows(first[:, T // 2 :], T, T))
    assert rep.flags() == []
    assert "flagged: none" in rep.to_markdown()


def test_negative_control_common_mode_signal_is_flagged(halves):
    from scipy.ndimage import gaussian_filter1d

    first, _ = halves
    rng = np.random.default_rng(1)
    common = gaussian_filter1d(rng.standard_normal(first.shape[1]), 15)
    common /= common.std()
    rep = _evaluate(halves, make_windows(first + 0.3 * first.std(1, keepdims=True) * common, T, T))
    flags = rep.flags()
    for key in ("mean_corr_dff_error", "kl_corr_dff", "corr_matrix_distance_dff", "kl_synchrony"):
        assert key in flags, (key, rep.scores[key], rep.floor_scores[key])
    s = rep.summary()
    assert s["mean_corr_dff_synthetic"] > 5 * s["mean_corr_dff_real"]


def test_negative_control_neurons_shuffled_in_time_are_flagged(halves):
    first, _ = halves
    rng = np.random.default_rng(2)
    n = first.shape[1]
    shuffled = np.stack([np.roll(x, rng.integers(10 * T, n - 10 * T)) for x in first])
    rep = _evaluate(halves, make_windows(shuffled, T, T))
    flags = rep.flags()
    assert "corr_matrix_distance_dff" in flags, rep.to_markdown()
    assert "mean_corr_dff_error" in flags
    # what the neurons do one by one is untouched: rates stay at the floor
    assert "kl_rate" not in flags and "rate_error_mean" not in flags


def test_negative_control_copied_training_windows_fail_memorisation(halves):
    first, _ = halves
    copies = make_windows(first, T, 32)[::8]
    rep = _evaluate(halves, copies, training=True)
    assert rep.memorisation_score < 0.2
    assert "memorisation_score" in rep.flags()
