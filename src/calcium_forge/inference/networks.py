"""Neural networks for spike inference: the ENS² U-Net, the S2S net and the Cascade ensemble.

The networks only map tensors (dF/F windows → spike rates per bin at the model
rate). Losses live in :mod:`calcium_forge.inference.training.losses`, training in
:mod:`calcium_forge.inference.training`, windowing and averaging in the inference
engine.

Units: both networks take dF/F as a fraction (not percent) sampled at their
``fs_hz`` and output spikes per bin at that rate (the training target is the
Gaussian-smoothed spike count per bin); multiply by ``fs_hz`` for spikes/s.

torch is imported at module import: import this module only where torch is
needed (``calcium_forge`` itself never imports it).

The Cascade network and its ensemble live in :mod:`.cascade` (window and
whole-trace forms) and are registered here for :func:`build_network`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .cascade import CascadeEnsemble, CascadeNet

__all__ = [
    "CONDITIONS",
    "CascadeEnsemble",
    "CascadeNet",
    "ENS2UNet",
    "S2SNet",
    "build_network",
    "condition_values",
    "count_parameters",
    "with_condition",
]

#: What the conditioning values of a conditioned network are, in order.
CONDITIONS = ("noise_level / 10", "log2(fs_hz / 30)")


def condition_values(noise_level: float, fs_hz: float) -> np.ndarray:
    """Conditioning values of a recording for a conditioned network (see :data:`CONDITIONS`).

    Parameters
    ----------
    noise_level : float or numpy.ndarray
        The recording's noise level ν (% / √Hz, Cascade's definition).
    fs_hz : float
        The rate the network runs at, Hz.

    Returns
    -------
    numpy.ndarray
        float32 (..., 2): ν / 10 and log2(fs / 30 Hz).
    """
    nu = np.asarray(noise_level, dtype=np.float64)
    rate = np.broadcast_to(np.log2(float(fs_hz) / 30.0), nu.shape)
    return np.stack([nu / 10.0, rate], axis=-1).astype(np.float32)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``.

    Parameters
    ----------
    module : torch.nn.Module
        The network.

    Returns
    -------
    int
        Parameters with ``requires_grad`` (count, not bytes).
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _init_normal(module: nn.Module, std: float) -> None:
    """Initialise conv / linear weights with N(0, std) and biases with 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv1d | nn.ConvTranspose1d | nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class _DoubleConv(nn.Sequential):
    """Two kernel-3 'same' convolutions, each followed by InstanceNorm and LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            nn.Conv1d(in_ch, out_ch, kernel_size=3, padding=1),
            nn.InstanceNorm1d(out_ch),
            nn.LeakyReLU(0.2),
            nn.Conv1d(out_ch, out_ch, kernel_size=3, padding=1),
            nn.InstanceNorm1d(out_ch),
            nn.LeakyReLU(0.2),
        )


class ENS2UNet(nn.Module):
    """ENS² 1-D U-Net mapping 96 dF/F samples at 60 Hz to 96 spike rates (Zhou et al. 2023).

    Three contracting blocks (two kernel-3 convs, instance norm, LeakyReLU 0.2,
    then max-pool by 2), a bottleneck block, three expanding blocks (transposed
    conv ×2 up-sampling, concatenation with the matching contracting block's
    output, two kernel-3 convs) and a 1×1 output conv with ReLU. Weights are
    initialised N(0, 0.02).

    Parameters
    ----------
    channels : sequence of 4 int
        Feature channels of the three resolution levels and of the bottleneck
        (full, 1/2, 1/4, 1/8 resolution). The default keeps few channels at
        full resolution and more at coarse ones so that stride-1 inference over
        every window stays fast on a CPU, while staying under the paper's
        150 k-parameter budget.
    window : int
        Window length in samples; must be divisible by 8.
    fs_hz : float
        Sampling rate the network was designed/trained for (Hz).
    n_conditions : int
        Number of conditioning values (e.g. the recording's noise level ν and
        frame rate) given to every window as constant extra input channels;
        0 for the plain ENS² network.

    Notes
    -----
    Input ``(B, window)`` or ``(B, 1, window)`` dF/F (fraction), and with
    ``n_conditions > 0`` a ``(B, n_conditions)`` condition; output
    ``(B, window)`` non-negative spikes per bin. :func:`with_condition` binds
    a condition so that the inference engine can call the network on windows
    alone.
    """

    window: int = 96
    fs_hz: float = 60.0

    def __init__(
        self,
        channels: Sequence[int] = (4, 8, 32, 64),
        window: int = 96,
        fs_hz: float = 60.0,
        n_conditions: int = 0,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) != 4 or min(channels) < 1:
            raise ValueError(
                f"ENS2UNet: channels must be 4 positive ints (3 levels + bottleneck), "
                f"got {channels!r}"
            )
        if window % 8 != 0 or window < 8:
            raise ValueError(
                f"ENS2UNet: window must be a positive multiple of 8 (3 poolings), got {window}"
            )
        self.channels = channels
        self.window = int(window)
        self.fs_hz = float(fs_hz)
        self.n_conditions = int(n_conditions)
        if self.n_conditions < 0:
            raise ValueError(f"ENS2UNet: n_conditions must be >= 0, got {n_conditions}")
        c1, c2, c3, c4 = channels
        self.down1 = _DoubleConv(1 + self.n_conditions, c1)
        self.down2 = _DoubleConv(c1, c2)
        self.down3 = _DoubleConv(c2, c3)
        self.pool = nn.MaxPool1d(2)
        self.bottleneck = _DoubleConv(c3, c4)
        self.up3 = nn.ConvTranspose1d(c4, c3, kernel_size=2, stride=2)
        self.dec3 = _DoubleConv(2 * c3, c3)
        self.up2 = nn.ConvTranspose1d(c3, c2, kernel_size=2, stride=2)
        self.dec2 = _DoubleConv(2 * c2, c2)
        self.up1 = nn.ConvTranspose1d(c2, c1, kernel_size=2, stride=2)
        self.dec1 = _DoubleConv(2 * c1, c1)
        self.head = nn.Conv1d(c1, 1, kernel_size=1)
        self.out_act = nn.ReLU()
        _init_normal(self, 0.02)

    def config(self) -> dict:
        """Constructor keyword arguments that rebuild this architecture.

        Returns
        -------
        dict
            JSON-serialisable keyword arguments (stored in the model card's
            ``architecture``); ``n_conditions`` only when the network has any.
        """
        out = {"channels": list(self.channels), "window": self.window, "fs_hz": self.fs_hz}
        if self.n_conditions:
            out["n_conditions"] = self.n_conditions
        return out

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Map dF/F windows to spike rates.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, window)`` or ``(B, 1, window)`` dF/F (fraction) at ``fs_hz``; the
            length must be divisible by 8.
        condition : torch.Tensor, optional
            ``(B, n_conditions)`` or ``(n_conditions,)`` conditioning values when
            the network has conditions; omitted otherwise.

        Returns
        -------
        torch.Tensor
            ``(B, window)`` non-negative rates in spikes per bin at ``fs_hz``.
        """
        if x.dim() == 2:
            x = x.unsqueeze(1)
        if x.dim() != 3 or x.shape[1] != 1 or x.shape[-1] % 8 != 0:
            raise ValueError(
                f"ENS2UNet expects (B, L) or (B, 1, L) with L divisible by 8, got {tuple(x.shape)}"
            )
        if (condition is None) != (self.n_conditions == 0):
            raise ValueError(
                f"ENS2UNet has {self.n_conditions} condition(s); "
                f"{'pass' if self.n_conditions else 'do not pass'} condition="
            )
        if condition is not None:
            c = condition.to(x.dtype).reshape(-1, self.n_conditions, 1)
            x = torch.cat([x, c.expand(x.shape[0], -1, x.shape[-1])], dim=1)
        d1 = self.down1(x)
        d2 = self.down2(self.pool(d1))
        d3 = self.down3(self.pool(d2))
        b = self.bottleneck(self.pool(d3))
        u3 = self.dec3(torch.cat([self.up3(b), d3], dim=1))
        u2 = self.dec2(torch.cat([self.up2(u3), d2], dim=1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], dim=1))
        return self.out_act(self.head(u1)).squeeze(1)


class S2SNet(nn.Module):
    """S2S signal-to-signal network (Sebastian et al. 2021), 8,790 parameters.

    Analysis conv (kernel ``window`` = 100, 30 filters, stride 1, no bias, 'same'
    padding) + ReLU → three time-distributed dense layers of 30 units (with
    bias) + ReLU → synthesis layer: a transposed conv that turns each frame's
    30 hidden units into ``window`` output samples (no bias); consecutive frames
    (stride 1) are overlap-added, giving an output as long as the input.

    Parameter count: 100·30 (analysis) + 3·(30·30 + 30) (dense) + 30·100
    (synthesis) = 8,790. The paper's text writes the analysis layer with a bias
    term, but its sum (8,790) and the authors' Keras code (``use_bias=False`` on
    both convolutions) correspond to the bias-free analysis and synthesis layers
    used here. Dropout 0.2 after each dense layer as in the authors' code.

    Parameters
    ----------
    window : int
        w_seq: analysis kernel width and samples synthesised per frame (100).
    n_filters : int
        Analysis filters (30).
    hidden : sequence of int
        Units of the time-distributed dense layers ((30, 30, 30)).
    dropout : float
        Dropout probability after each dense layer during training.
    fs_hz : float
        Sampling rate of input and output (100 Hz).

    Notes
    -----
    Input ``(B, L)`` or ``(B, 1, L)`` dF/F (fraction) of any length ``L``;
    output ``(B, L)``. Trained with a Pearson loss the output is scale-free:
    the model card's ``output_scale`` maps it to spikes per bin.
    """

    window: int = 100
    fs_hz: float = 100.0

    def __init__(
        self,
        window: int = 100,
        n_filters: int = 30,
        hidden: Sequence[int] = (30, 30, 30),
        dropout: float = 0.2,
        fs_hz: float = 100.0,
    ) -> None:
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        if window < 2 or n_filters < 1 or not hidden or min(hidden) < 1:
            raise ValueError(
                f"S2SNet: need window >= 2, n_filters >= 1 and >= 1 hidden layer, got "
                f"window={window}, n_filters={n_filters}, hidden={hidden}"
            )
        self.window = int(window)
        self.n_filters = int(n_filters)
        self.hidden = hidden
        self.dropout = float(dropout)
        self.fs_hz = float(fs_hz)
        # Keras 'same' for an even kernel pads (k-1)//2 on the left, the rest on the right.
        self._pad_left = (self.window - 1) // 2
        self._pad_right = self.window - 1 - self._pad_left
        self.analysis = nn.Conv1d(1, self.n_filters, kernel_size=self.window, bias=False)
        layers: list[nn.Module] = []
        in_units = self.n_filters
        for units in hidden:
            # a kernel-1 conv is a dense layer applied independently to every frame
            layers += [nn.Conv1d(in_units, units, kernel_size=1), nn.ReLU(), nn.Dropout(dropout)]
            in_units = units
        self.dense = nn.Sequential(*layers)
        self.synthesis = nn.ConvTranspose1d(in_units, 1, kernel_size=self.window, bias=False)
        for m in self.modules():  # Keras' defaults: glorot-uniform weights, zero biases
            if isinstance(m, nn.Conv1d | nn.ConvTranspose1d):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def config(self) -> dict:
        """Constructor keyword arguments that rebuild this architecture.

        Returns
        -------
        dict
            JSON-serialisable keyword arguments (stored in the model card's ``architecture``).
        """
        return {
            "window": self.window,
            "n_filters": self.n_filters,
            "hidden": list(self.hidden),
            "dropout": self.dropout,
            "fs_hz": self.fs_hz,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map dF/F traces of any length to a spike signal of the same length.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, L)`` or ``(B, 1, L)`` dF/F (fraction) at ``fs_hz``.

        Returns
        -------
        torch.Tensor
            ``(B, L)`` scale-free spike signal (the model card's ``output_scale`` /
            ``output_offset`` map it to spikes per bin).
        """
        if x.dim() == 2:
            x = x.unsqueeze(1)
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"S2SNet expects (B, L) or (B, 1, L), got {tuple(x.shape)}")
        n = x.shape[-1]
        h = torch.relu(
            self.analysis(nn.functional.pad(x, (self._pad_left, self._pad_right)))
        )  # (B, F, L): one frame per input sample
        h = self.dense(h)
        y = self.synthesis(h)  # (B, 1, L + window - 1): overlap-add of per-frame outputs
        return y[:, 0, self._pad_left : self._pad_left + n]


class _WithCondition(nn.Module):
    """A conditioned network with its condition bound: ``forward(x)`` only."""

    def __init__(self, network: nn.Module, condition: torch.Tensor) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("condition", condition)
        self.window = getattr(network, "window", None)
        self.fs_hz = getattr(network, "fs_hz", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the network on ``x`` with the bound condition."""
        return self.network(x, self.condition)


def with_condition(network: nn.Module, condition: Sequence[float]) -> nn.Module:
    """Bind a condition to a conditioned network (the network is shared, not copied).

    Parameters
    ----------
    network : torch.nn.Module
        A network with ``n_conditions > 0``; returned unchanged when it has none.
    condition : sequence of float
        The ``n_conditions`` conditioning values for every window.

    Returns
    -------
    torch.nn.Module
        A module whose ``forward(x)`` runs ``network(x, condition)``.
    """
    n = int(getattr(network, "n_conditions", 0))
    if n == 0:
        return network
    values = torch.as_tensor(list(condition), dtype=torch.float32)
    if values.numel() != n:
        raise ValueError(f"the network takes {n} condition value(s), got {values.numel()}")
    return _WithCondition(network, values).eval()


_ARCHITECTURES: dict[str, type[nn.Module]] = {
    "ENS2UNet": ENS2UNet,
    "S2SNet": S2SNet,
    "CascadeNet": CascadeNet,
    "CascadeEnsemble": CascadeEnsemble,
}


def build_network(architecture: str, kwargs: dict | None = None) -> nn.Module:
    """Instantiate a network by class name (as stored in a model card).

    Parameters
    ----------
    architecture : str
        ``"ENS2UNet"``, ``"S2SNet"``, ``"CascadeNet"`` or ``"CascadeEnsemble"``.
    kwargs : dict, optional
        Constructor keyword arguments (``network.config()``).

    Returns
    -------
    torch.nn.Module
    """
    try:
        cls = _ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(
            f"unknown architecture {architecture!r}; expected one of {sorted(_ARCHITECTURES)}"
        ) from None
    return cls(**(kwargs or {}))
