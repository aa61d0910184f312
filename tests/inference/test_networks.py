"""ENS² U-Net and S2S networks: parameter counts, shapes, receptive fields, init."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.inference.networks import (  # noqa: E402
    ENS2UNet,
    S2SNet,
    build_network,
    count_parameters,
)


def test_s2s_has_the_papers_8790_parameters():
    net = S2SNet()
    assert count_parameters(net) == 8790
    # analysis 100x30 (no bias) + 3 dense (30x30+30) + synthesis 30x100 (no bias)
    assert net.analysis.weight.shape == (30, 1, 100) and net.analysis.bias is None
    assert net.synthesis.weight.shape == (30, 1, 100) and net.synthesis.bias is None
    assert (net.window, net.fs_hz) == (100, 100.0)


def test_ens2_under_150k_parameters_and_paper_layout():
    net = ENS2UNet()
    n = count_parameters(net)
    assert 10_000 < n < 150_000
    assert (net.window, net.fs_hz) == (96, 60.0)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv1d)]
    # 7 blocks x 2 kernel-3 convs + 1x1 head
    assert sum(c.kernel_size == (3,) for c in convs) == 14
    assert sum(isinstance(m, torch.nn.InstanceNorm1d) for m in net.modules()) == 14
    assert sum(isinstance(m, torch.nn.ConvTranspose1d) for m in net.modules()) == 3
    lrelu = [m for m in net.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert lrelu and all(m.negative_slope == 0.2 for m in lrelu)
    # N(0, 0.02) initialisation of the conv weights
    w = torch.cat([c.weight.detach().flatten() for c in convs[1:]])
    assert abs(float(w.std()) - 0.02) < 0.003 and abs(float(w.mean())) < 0.003


@pytest.mark.parametrize("shape", [(7, 96), (7, 1, 96)])
def test_ens2_shapes_and_nonnegative(shape):
    net = ENS2UNet().eval()
    with torch.inference_mode():
        y = net(torch.randn(*shape))
    assert y.shape == (7, 96)
    assert float(y.min()) >= 0.0


def test_ens2_rejects_bad_window():
    with pytest.raises(ValueError, match="multiple of 8"):
        ENS2UNet(window=90)
    with pytest.raises(ValueError, match="divisible by 8"):
        ENS2UNet()(torch.zeros(2, 90))


@pytest.mark.parametrize("length", [37, 250, 1000])
def test_s2s_maps_any_length_to_same_length(length):
    net = S2SNet().eval()
    with torch.inference_mode():
        assert net(torch.randn(3, length)).shape == (3, length)
        assert net(torch.randn(3, 1, length)).shape == (3, length)


def test_s2s_overlap_add_receptive_field():
    """An input sample reaches outputs within ±(window − 1): 100-sample analysis, 100-sample
    synthesis per frame, frames overlap-added."""
    torch.manual_seed(0)
    net = S2SNet().eval()
    x = torch.randn(1, 600)
    x2 = x.clone()
    x2[0, 300] += 5.0
    with torch.inference_mode():
        d = (net(x2) - net(x)).abs()[0].numpy()
    changed = np.flatnonzero(d > 1e-6)
    assert changed.min() >= 300 - 99 and changed.max() <= 300 + 99
    assert changed.max() - changed.min() > 100  # synthesis spreads over more than one frame


def test_build_network_roundtrip():
    for net in (ENS2UNet(channels=(4, 8, 16, 32)), S2SNet(hidden=(30,))):
        clone = build_network(type(net).__name__, net.config())
        clone.load_state_dict(net.state_dict())
        assert clone.config() == net.config()
    assert count_parameters(S2SNet(hidden=(30,))) == 6960 - 30  # 1-hidden variant, bias-free
    with pytest.raises(ValueError, match="unknown architecture"):
        build_network("LeNet", {})


def test_conditioned_unet_uses_its_condition_and_checks_it():
    from calcium_forge.inference.networks import with_condition

    torch.manual_seed(0)
    net = ENS2UNet(n_conditions=2).eval()
    x = torch.randn(4, 96)
    with torch.inference_mode():
        a = net(x, torch.tensor([0.2, 0.0]))
        b = net(x, torch.tensor([[0.8, 1.0]] * 4))
        bound = with_condition(net, [0.2, 0.0])(x)
    assert not torch.allclose(a, b)  # the condition reaches the output
    torch.testing.assert_close(bound, a)
    with pytest.raises(ValueError, match="pass condition"):
        net(x)
    with pytest.raises(ValueError, match="do not pass"):
        ENS2UNet()(x, torch.tensor([0.1]))
    with pytest.raises(ValueError, match="2 condition"):
        with_condition(net, [0.1])
    plain = ENS2UNet()
    assert with_condition(plain, []) is plain
    assert "n_conditions" not in plain.config() and net.config()["n_conditions"] == 2
