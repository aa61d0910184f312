"""The batched engine equals the plain window-by-window computation."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

from calcium_forge.errors import InvalidInputError  # noqa: E402
from calcium_forge.inference.engine import (  # noqa: E402
    batch_size_for,
    plan_windows,
    reference_windowed_rates,
    sequence_rates,
    windowed_rates,
)
from calcium_forge.inference.networks import ENS2UNet, S2SNet  # noqa: E402


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    net = ENS2UNet().eval()
    # larger weights than the N(0, 0.02) init so that outputs vary strongly
    for m in net.modules():
        if isinstance(m, torch.nn.Conv1d | torch.nn.ConvTranspose1d):
            torch.nn.init.normal_(m.weight, 0.0, 0.3)
            torch.nn.init.normal_(m.bias, 0.0, 0.1)
    return net


@pytest.mark.parametrize("stride", [1, 8, 12])
def test_windowed_equals_reference(unet, rng, stride):
    x = rng.normal(size=(3, 230)).astype(np.float32)
    ref = reference_windowed_rates(unet, x, 96, stride=stride)
    assert ref.std() > 0.05  # a non-trivial output
    # tiny batches force several ROI chunks and time blocks per ROI
    got = windowed_rates(unet, x, 96, stride=stride, batch_windows=37)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    big = windowed_rates(unet, x, 96, stride=stride)
    np.testing.assert_allclose(big, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_exact_mode_is_mean_of_all_covering_windows(rng):
    class Marker(torch.nn.Module):
        """Outputs the window's first input value everywhere: reveals the averaging."""

        def forward(self, x):
            return x[:, :1].expand_as(x)

    x = rng.normal(size=(1, 300)).astype(np.float32)
    out = windowed_rates(Marker(), x, 96)
    p = 48
    xp = np.concatenate([np.zeros(p), x[0], np.zeros(p)])
    t = 150  # interior point: covered by the 96 windows starting at t+p-95 .. t+p
    expected = xp[t + p - 95 : t + p + 1].mean()
    assert out[0, t] == pytest.approx(expected, rel=1e-5)


def test_coverage_and_plan():
    plan = plan_windows(200, 96, stride=8)
    cov = plan.coverage()[plan.pad_left : plan.pad_left + 200]
    assert cov.min() >= 1
    assert cov[60:140].tolist() == [12] * 80  # 96 / 8 predictions per interior sample
    assert plan_windows(200, 96).coverage()[48 + 100] == 96
    with pytest.raises(InvalidInputError, match="shorter than one window"):
        plan_windows(20, 96)


def test_memory_budget_limits_batches(unet):
    small = batch_size_for(unet, 96, max_memory_mb=16)
    large = batch_size_for(unet, 96, max_memory_mb=1024)
    assert 64 <= small < large <= 1024


def test_engine_refuses_nan(unet):
    x = np.zeros((1, 200), dtype=np.float32)
    x[0, 5] = np.nan
    with pytest.raises(InvalidInputError, match="finite"):
        windowed_rates(unet, x, 96)


def test_sequence_chunks_equal_one_pass(rng):
    torch.manual_seed(1)
    net = S2SNet().eval()
    x = rng.normal(size=(2, 1000)).astype(np.float32)
    with torch.inference_mode():
        full = net(torch.from_numpy(x)).numpy()
    got = sequence_rates(net, x, context=100, chunk_samples=130)
    np.testing.assert_allclose(got, full, rtol=1e-5, atol=1e-6)


def test_device_option_and_unusable_devices(unet, rng):
    from calcium_forge.inference.engine import network_on, resolve_device

    x = rng.normal(size=(2, 300)).astype(np.float32)
    np.testing.assert_array_equal(
        windowed_rates(unet, x, 96, stride=8, device="cpu"), windowed_rates(unet, x, 96, stride=8)
    )
    net = S2SNet().eval()
    np.testing.assert_array_equal(
        sequence_rates(net, x, context=100, device="cpu"), sequence_rates(net, x, context=100)
    )
    assert network_on(unet, resolve_device("cpu")) is unet  # already there: no copy
    with pytest.raises(InvalidInputError, match="not a torch device"):
        windowed_rates(unet, x, 96, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match=r"device='cuda'.*no CUDA"):
            windowed_rates(unet, x, 96, device="cuda")
