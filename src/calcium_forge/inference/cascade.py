"""The Cascade network (Rupprecht et al. 2021): one rate per 64-frame window, in ensembles of 5.

Cascade predicts the spike rate at one frame from a window of dF/F around it:
three 'valid' convolutions (kernels 31, 19, 5; 30, 40, 50 filters; ReLU), a
max-pool by 2 after the second and the third, a 10-unit dense layer with ReLU
and one linear output unit. The rate of a recording is the mean of an
ensemble of 5 such networks, clipped at 0. This is our own PyTorch version of
the published recipe (Cascade is GPL-3; no code of it is used here).

Two forms of the same computation:

* **Window form** (training): ``(B, window)`` windows → ``(B,)`` rates at each
  window's centre sample ``window // 2`` (32 samples before it, 31 after).
  Cascade itself trains on the sample at ``before_frac · window`` = 32 and
  predicts the one at 31 (an off-by-one between its two functions); here both
  use 32.
* **Trace form** (inference): the rate of *every* frame of a trace, each from
  its own zero-padded centred window, computed as one pass of dilated
  convolutions over the whole trace instead of one pass per window. A max-pool
  by 2 inside a window becomes a stride-1 max over neighbours of the full-trace
  sequence, and every later layer reads that sequence with its dilation doubled
  (the 'shift-and-stitch' identity), so the result equals the window form for
  every frame (up to float rounding) at about 1/13 of the cost: 34 k instead of
  437 k multiply-adds per frame and member.

Units: dF/F as a fraction at the model's ``fs_hz``; output spikes per frame
(the smoothed spike count of the centre frame); multiply by ``fs_hz`` for
spikes/s.

torch is imported at module import (as in :mod:`.networks`, which registers
these classes for :func:`~calcium_forge.inference.networks.build_network`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CascadeEnsemble", "CascadeNet", "CascadeOverTraces"]


class CascadeNet(nn.Module):
    """One Cascade network: a dF/F window → the spike rate at its centre sample.

    conv1d(k=31, 30 filters) → ReLU → conv1d(k=19, 40) → ReLU → max-pool 2 →
    conv1d(k=5, 50) → ReLU → max-pool 2 → dense(10) + ReLU on every remaining
    time step → flatten → dense(1), linear. All convolutions are 'valid'; a
    64-sample window leaves 34, 16, 8, 4 and 2 time steps. As in Cascade's
    Keras code the 10-unit dense layer acts on each of the 2 remaining time
    steps (Keras ``Dense`` on a 3-D tensor) before flattening, and weights are
    Glorot-uniform with zero biases (Keras' defaults).

    Parameter count with the defaults: 960 + 22,840 + 10,050 (convolutions) +
    510 (dense 50 → 10) + 21 (2 × 10 → 1) = **34,381**.

    Parameters
    ----------
    window : int
        Window length in samples (64).
    kernels : sequence of 3 int
        Kernel sizes of the three convolutions (31, 19, 5).
    filters : sequence of 3 int
        Filters of the three convolutions (30, 40, 50).
    dense : int
        Units of the dense layer (10).
    fs_hz : float
        Frame rate the network is trained for (Hz).

    Notes
    -----
    Input ``(B, window)`` or ``(B, 1, window)`` dF/F (fraction); output
    ``(B,)`` spikes per frame at the centre sample :attr:`centre` (not clipped).
    """

    def __init__(
        self,
        window: int = 64,
        kernels: Sequence[int] = (31, 19, 5),
        filters: Sequence[int] = (30, 40, 50),
        dense: int = 10,
        fs_hz: float = 30.0,
    ) -> None:
        super().__init__()
        self.kernels = tuple(int(k) for k in kernels)
        self.filters = tuple(int(f) for f in filters)
        if len(self.kernels) != 3 or len(self.filters) != 3 or min(self.kernels + self.filters) < 1:
            raise ValueError(
                f"CascadeNet: kernels and filters must be 3 positive ints each, got "
                f"kernels={kernels!r}, filters={filters!r}"
            )
        self.window = int(window)
        self.dense_units = int(dense)
        self.fs_hz = float(fs_hz)
        k1, k2, k3 = self.kernels
        steps = ((self.window - k1 - k2 + 2) // 2 - k3 + 1) // 2
        if steps < 1 or self.dense_units < 1:
            raise ValueError(
                f"CascadeNet: window={window} is too short for kernels {self.kernels} "
                f"(need at least {k1 + k2 + 2 * k3 + 2} samples) or dense={dense} < 1"
            )
        self.steps = int(steps)
        f1, f2, f3 = self.filters
        self.conv1 = nn.Conv1d(1, f1, k1)
        self.conv2 = nn.Conv1d(f1, f2, k2)
        self.conv3 = nn.Conv1d(f2, f3, k3)
        self.dense = nn.Conv1d(f3, self.dense_units, 1)  # a dense layer on every time step
        self.out = nn.Linear(self.dense_units * self.steps, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv1d | nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def centre(self) -> int:
        """Index of the predicted sample in a window (``window // 2``)."""
        return self.window // 2

    def config(self) -> dict:
        """Constructor keyword arguments that rebuild this architecture.

        Returns
        -------
        dict
            JSON-serialisable keyword arguments.
        """
        return {
            "window": self.window,
            "kernels": list(self.kernels),
            "filters": list(self.filters),
            "dense": self.dense_units,
            "fs_hz": self.fs_hz,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rates at the centre samples of a batch of windows.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, window)`` or ``(B, 1, window)`` dF/F (fraction).

        Returns
        -------
        torch.Tensor
            ``(B,)`` spikes per frame (not clipped).
        """
        if x.dim() == 2:
            x = x.unsqueeze(1)
        if x.dim() != 3 or x.shape[1] != 1 or x.shape[-1] != self.window:
            raise ValueError(
                f"CascadeNet expects (B, {self.window}) or (B, 1, {self.window}) windows, "
                f"got {tuple(x.shape)}"
            )
        h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        h = torch.relu(self.conv3(F.max_pool1d(h, 2)))
        h = torch.relu(self.dense(F.max_pool1d(h, 2)))
        return self.out(h.flatten(1)).squeeze(1)

    def over_trace(self, x: torch.Tensor) -> torch.Tensor:
        """The window form at every window start of ``x``, in one dilated pass.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, L)`` dF/F (fraction), ``L >= window``.

        Returns
        -------
        torch.Tensor
            ``(B, L - window + 1)``: element ``s`` equals ``forward(x[:, s:s + window])``.
        """
        h = x.unsqueeze(1)
        h = torch.relu(self.conv2(torch.relu(self.conv1(h))))
        # max-pool by 2 inside every window = max of neighbours along the trace; the layers
        # after it see the pooled sequence at every second sample: dilation 2, then 4
        h = F.max_pool1d(h, 2, stride=1)
        h = torch.relu(F.conv1d(h, self.conv3.weight, self.conv3.bias, dilation=2))
        h = F.max_pool1d(h, 2, stride=1, dilation=2)
        h = torch.relu(self.dense(h))
        # flatten order of forward(): unit-major, time step minor
        w = self.out.weight.reshape(1, self.dense_units, self.steps)
        return F.conv1d(h, w, self.out.bias, dilation=4).squeeze(1)


class CascadeEnsemble(nn.Module):
    """An ensemble of :class:`CascadeNet` members as one module (one ``state_dict``).

    Member ``i`` is initialised under its own torch seed ``seed + i`` (its own
    random initialisation, as Cascade trains 5 networks independently).

    In **eval** mode the output is the members' mean, ``(B,)`` spikes per
    frame (Cascade's prediction before clipping at 0). In **training** mode it
    is every member's own output, ``(n_members, B)``: a loss such as the MSE
    against a ``(B,)`` target then averages the members' own losses, so the
    members train independently (they share the batches) rather than as one
    averaged predictor.

    Parameter count: ``n_members`` × 34,381 = **171,905** with the defaults.

    Parameters
    ----------
    n_members : int
        Ensemble size (5, as in Cascade).
    window, kernels, filters, dense, fs_hz
        As in :class:`CascadeNet` (shared by all members).
    seed : int, optional
        Seed of the first member; default: drawn from torch's global generator
        (so that seeding torch before building, as the trainer does, fixes
        every member).
    """

    def __init__(
        self,
        n_members: int = 5,
        window: int = 64,
        kernels: Sequence[int] = (31, 19, 5),
        filters: Sequence[int] = (30, 40, 50),
        dense: int = 10,
        fs_hz: float = 30.0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if int(n_members) < 1:
            raise ValueError(f"CascadeEnsemble: n_members must be >= 1, got {n_members}")
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1 - int(n_members), (), device="cpu").item())
        members = []
        for i in range(int(n_members)):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed) + i)
                members.append(CascadeNet(window, kernels, filters, dense, fs_hz))
        self.members = nn.ModuleList(members)
        first = members[0]
        self.window, self.fs_hz, self.centre = first.window, first.fs_hz, first.centre

    @property
    def n_members(self) -> int:
        """Number of members."""
        return len(self.members)

    def config(self) -> dict:
        """Constructor keyword arguments that rebuild this architecture.

        Returns
        -------
        dict
            JSON-serialisable keyword arguments (the seed is not part of the architecture).
        """
        return {"n_members": self.n_members, **self.members[0].config()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Centre-sample rates of a batch of windows.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, window)`` or ``(B, 1, window)`` dF/F (fraction).

        Returns
        -------
        torch.Tensor
            Eval mode: ``(B,)`` members' mean; training mode: ``(n_members, B)``,
            spikes per frame (not clipped).
        """
        out = torch.stack([m(x) for m in self.members])
        return out if self.training else out.mean(dim=0)

    def over_traces(self) -> CascadeOverTraces:
        """This ensemble as a trace → trace module (see :class:`CascadeOverTraces`).

        Returns
        -------
        CascadeOverTraces
        """
        return CascadeOverTraces(self)


class CascadeOverTraces(nn.Module):
    """A Cascade ensemble run over whole traces: the rate of every frame from its centred window.

    The trace is zero-padded by ``centre`` samples before and ``window - 1 -
    centre`` after, so frame ``t`` is predicted from the padded window whose
    centre sample it is (frames near the ends see zeros beyond the trace).
    Members run one after the other, so activations of one member are alive at
    a time; :attr:`activation_bytes_per_sample` tells the inference engine how
    much memory that takes.

    Parameters
    ----------
    ensemble : CascadeEnsemble or CascadeNet
        The network (shared, not copied).

    Notes
    -----
    Input ``(B, L)`` dF/F (fraction) for any ``L >= 1``; output ``(B, L)``
    spikes per frame (members' mean, not clipped). Chunks of a long trace give
    the same result as one pass when each carries at least ``window`` samples
    of real signal on both sides
    (:func:`calcium_forge.inference.engine.sequence_rates` with ``context=window``).
    """

    def __init__(self, ensemble: nn.Module) -> None:
        super().__init__()
        self.ensemble = ensemble
        self.window = int(ensemble.window)
        self.fs_hz = float(ensemble.fs_hz)
        self.centre = int(ensemble.centre)
        net = ensemble.members[0] if hasattr(ensemble, "members") else ensemble
        # float32 activations per output sample of one member (conv1, conv2, pooled, conv3,
        # pooled, dense) plus the padded input and the running sum
        self.activation_bytes_per_sample = 4.0 * (2 * sum(net.filters) + net.dense_units + 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rates of every sample of ``x``.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, L)`` or ``(B, 1, L)`` dF/F (fraction) at the model rate.

        Returns
        -------
        torch.Tensor
            ``(B, L)`` spikes per frame (members' mean, not clipped).
        """
        if x.dim() == 3 and x.shape[1] == 1:
            x = x[:, 0]
        if x.dim() != 2:
            raise ValueError(f"CascadeOverTraces expects (B, L) traces, got {tuple(x.shape)}")
        xp = F.pad(x, (self.centre, self.window - 1 - self.centre))
        members = getattr(self.ensemble, "members", [self.ensemble])
        total = members[0].over_trace(xp)
        for m in members[1:]:
            total = total + m.over_trace(xp)
        return total / len(members)
