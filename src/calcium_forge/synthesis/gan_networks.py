"""CalciumGAN networks: the architecture settings and the WaveGAN-style generator and critic.

Generator: noise z (latent_dim) -> dense -> (C0, T0) -> ``depth`` up-sampling
layers (the paper's 1-D transposed convolutions, kernel divisible by stride; or
linear interpolation + convolution, ``GANConfig.upsample="linear"``: learned
transposed kernels still leave a period-``stride**depth`` pattern, seen as
spectral peaks at multiples of fs / stride**depth) with layer normalisation
between convolution and activation -> sigmoid output of shape (T, N) in
[0, 1], rescaled to the data's units by the stored
:class:`~calcium_forge.synthesis.windows.Scaling`. Layer normalisation is
``GroupNorm(1, C)``: it normalises each sample over channels and time (no batch
statistics, which WGAN-GP forbids) with a per-channel affine.

Critic: the mirror image with plain strided convolutions, LeakyReLU(0.2), no
normalisation, and Phase Shuffle (random shift in [-n, n] with reflection
padding, one shift per sample) after each convolution but the last; a linear
layer maps the features (plus, with ``GANConfig.pairwise_features``, each
window's pairwise neuron correlations) to one score.

The trained model with its scaling, sampling and files is
:class:`calcium_forge.synthesis.calciumgan.CalciumGAN`; the trainer is
:mod:`calcium_forge.synthesis.train`. Torch is imported lazily
(``import calcium_forge.synthesis`` stays light).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import InvalidInputError, ModelError

__all__ = [
    "GANConfig",
    "build_critic",
    "build_generator",
    "pairwise_correlations",
    "phase_shuffle_module",
]


@dataclass
class GANConfig:
    """Architecture of a CalciumGAN (sizes are free; the defaults are the CPU config).

    Parameters
    ----------
    window : int
        T, frames per window. Must be divisible by ``stride ** depth``.
    n_neurons : int
        N, traces per window.
    latent_dim : int
        Size of the noise vector z.
    channels : tuple of int
        Generator channels from the lowest resolution up (length = depth); the
        critic uses them in reverse.
    kernel_size : int
        Convolution kernel length (multiple of ``stride``; ``kernel_size - stride`` even).
    stride : int
        Up/down-sampling factor per layer.
    phase_shuffle : int
        n of Phase Shuffle (shift in [-n, n] frames at each critic layer); 0 = off.
    leaky_slope : float
        Negative slope of the LeakyReLU activations.
    upsample : str
        Generator up-sampling: ``"transposed"`` (the paper's transposed
        convolutions) or ``"linear"`` (linear interpolation by ``stride`` then a
        stride-1 convolution, which leaves no period-``stride**depth``
        artefact in the spectrum).
    pairwise_features : bool
        Give the critic's head each window's neuron-by-neuron Pearson
        correlations (of the traces and of their frame-to-frame differences,
        upper triangles) besides the convolutional features, so that it can
        see population co-fluctuation.
    neuron_noise : bool
        Add independent Gaussian noise to each neuron's output (before the
        sigmoid), scaled by a learned per-neuron factor. Without it every
        neuron's frame-to-frame noise is a mix of the same hidden channels and
        the neurons' fast fluctuations come out correlated.
    observation_noise : bool
        The generative model is signal + observation noise: the generator's
        [0, 1] output is the signal, and independent white Gaussian noise of
        each neuron's own level (estimated on the training windows, stored as
        the buffer ``obs_sigma`` in scaled units, not learned) is added after
        it, in training (the critic sees it) and in sampling. The noise is then
        independent across neurons by construction, as a recording's shot
        noise is, and the generator need not draw it.
    """

    window: int = 256
    n_neurons: int = 20
    latent_dim: int = 32
    channels: tuple[int, ...] = (128, 64, 64, 32)
    kernel_size: int = 8
    stride: int = 2
    phase_shuffle: int = 2
    leaky_slope: float = 0.2
    upsample: str = "transposed"
    pairwise_features: bool = False
    neuron_noise: bool = False
    observation_noise: bool = False

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        depth = len(self.channels)
        if depth < 1:
            raise InvalidInputError("GANConfig.channels must list at least one layer width.")
        if self.kernel_size % self.stride or (self.kernel_size - self.stride) % 2:
            raise InvalidInputError(
                f"GANConfig.kernel_size={self.kernel_size} must be a multiple of "
                f"stride={self.stride} with kernel_size - stride even (e.g. 8 with stride 2, "
                "24 with stride 4)."
            )
        if self.window % (self.stride**depth):
            raise InvalidInputError(
                f"GANConfig.window={self.window} must be divisible by stride**depth = "
                f"{self.stride**depth}; choose e.g. window={self.stride**depth * 16}."
            )
        if self.phase_shuffle < 0:
            raise InvalidInputError(f"phase_shuffle must be >= 0; got {self.phase_shuffle}.")
        if self.upsample not in ("transposed", "linear"):
            raise InvalidInputError(
                f"GANConfig.upsample must be 'transposed' or 'linear'; got {self.upsample!r}."
            )

    @property
    def depth(self) -> int:
        """Number of (transposed) convolution layers."""
        return len(self.channels)

    @property
    def base_length(self) -> int:
        """T0, time length after the dense layer."""
        return self.window // (self.stride**self.depth)

    @classmethod
    def paper(cls, n_neurons: int = 102) -> GANConfig:
        """The paper-scale configuration: T = 2048, N = 102, stride 4, kernel 24, n = 10."""
        return cls(
            window=2048,
            n_neurons=n_neurons,
            latent_dim=32,
            channels=(512, 256, 128, 64),
            kernel_size=24,
            stride=4,
            phase_shuffle=10,
        )

    @classmethod
    def cpu(cls, n_neurons: int = 20, window: int = 256) -> GANConfig:
        """The adversarial training architecture on CPU: the paper's layout at T = 256.

        Transposed convolutions and a plain critic with Phase Shuffle n = 2; it
        trains on one CPU thread in an hour. Its output keeps the
        transposed-convolution grid pattern, so the default pipeline
        (``train-gan``, :mod:`calcium_forge.synthesis.distill`) distils the
        trained generator into :meth:`linear` afterwards.
        """
        return cls(window=window, n_neurons=n_neurons)

    @classmethod
    def linear(cls, n_neurons: int = 20, window: int = 256) -> GANConfig:
        """The sampling architecture of the shipped models: no grid pattern, independent noise.

        Linear up-sampling (no transposed-convolution grid in the spectrum),
        observation noise of each neuron's measured level, and a critic that
        also sees each window's pairwise correlations. Trained from scratch it
        converged more slowly than :meth:`cpu` within an hour of CPU
        (docs/benchmarks.md, "CalciumGAN"); the shipped models are a
        :meth:`cpu` generator distilled into it.
        """
        return cls(
            window=window,
            n_neurons=n_neurons,
            upsample="linear",
            pairwise_features=True,
            observation_noise=True,
        )

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> GANConfig:
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        known = {f for f in cls.__dataclass_fields__}
        extra = set(d) - known
        if extra:
            raise ModelError(f"GANConfig: unknown keys {sorted(extra)} in model config {d}.")
        return cls(**d)


def _torch():
    import torch

    return torch


def _phase_shuffle_class():
    """Define the Phase Shuffle module (deferred so torch is imported only on use)."""
    torch = _torch()
    F = torch.nn.functional

    class PhaseShuffle(torch.nn.Module):
        """Shift each sample by a random k in [-n, n] frames, reflection padded.

        Draws from torch's global RNG (saved/restored by the trainer), so it is
        reproducible. Identity in eval mode and when n = 0.

        Under data parallelism the trainer sets ``batch_shard = (rows,
        world_size)``: every rank then draws the shifts of the whole global
        batch (its local batch times ``world_size``) and keeps ``rows``, so the
        ranks' generators stay in step and together draw what one process would.
        """

        def __init__(self, n: int) -> None:
            super().__init__()
            self.n = int(n)
            self.batch_shard: tuple[Any, int] | None = None

        def draw_shifts(self, batch: int):
            """Shifts in [-n, n] for ``batch`` samples (int64 tensor of length ``batch``)."""
            if self.batch_shard is None:
                return torch.randint(-self.n, self.n + 1, (batch,))
            rows, world_size = self.batch_shard
            return torch.randint(-self.n, self.n + 1, (batch * world_size,))[rows]

        def forward(self, x, shifts=None):
            if self.n == 0 or (not self.training and shifts is None):
                return x
            b, _, length = x.shape
            if shifts is None:
                shifts = self.draw_shifts(b)
            pad = int(shifts.abs().max()) if len(shifts) else 0
            if pad == 0:
                return x
            if pad >= length:
                raise InvalidInputError(
                    f"PhaseShuffle: shift {pad} >= sequence length {length}; lower phase_shuffle."
                )
            xp = F.pad(x, (pad, pad), mode="reflect")
            out = torch.empty(x.shape, dtype=xp.dtype, device=x.device)
            for k in shifts.unique().tolist():
                idx = (shifts == k).nonzero(as_tuple=True)[0]
                # output[t] = input[t - k] (reflected beyond the ends)
                out[idx] = xp[idx, :, pad - k : pad - k + length]
            return out

    return PhaseShuffle


def _generator_class():
    """Define the generator module (deferred so torch is imported only on use)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class Generator(nn.Module):
        """z (B, latent) -> windows (B, T, N) in [0, 1]."""

        def __init__(self, config: GANConfig) -> None:
            super().__init__()
            self.config = config
            c0 = config.channels[0]
            self.dense = nn.Linear(config.latent_dim, c0 * config.base_length)
            self.norm0 = nn.GroupNorm(1, c0)
            pad = (config.kernel_size - config.stride) // 2
            outs = [*config.channels[1:], config.n_neurons]
            pairs = list(zip(config.channels, outs, strict=True))
            if config.upsample == "linear":
                self.convs = nn.ModuleList(
                    nn.Sequential(
                        nn.Upsample(scale_factor=config.stride, mode="linear"),
                        nn.Conv1d(cin, cout, config.kernel_size + 1, 1, config.kernel_size // 2),
                    )
                    for cin, cout in pairs
                )
            else:
                self.convs = nn.ModuleList(
                    nn.ConvTranspose1d(cin, cout, config.kernel_size, config.stride, pad)
                    for cin, cout in pairs
                )
            self.norms = nn.ModuleList(nn.GroupNorm(1, c) for c in outs[:-1])
            if config.neuron_noise:  # softplus(-2.25) = 0.1 in logit units
                self.noise_scale = nn.Parameter(torch.full((config.n_neurons,), -2.25))
            if config.observation_noise:  # set from the training data by the trainer
                self.register_buffer("obs_sigma", torch.zeros(config.n_neurons))

        def forward(self, z, noise=None, obs_noise=None):
            """Windows (B, T, N) from z (B, latent).

            ``noise`` (B, N, T) is the per-neuron noise of ``neuron_noise`` and
            ``obs_noise`` (B, T, N) the standard-normal draw of
            ``observation_noise`` (False: the noise-free signal); None draws
            them from torch's RNG.
            """
            config = self.config
            h = self.dense(z).view(z.shape[0], config.channels[0], config.base_length)
            h = F.leaky_relu(self.norm0(h), config.leaky_slope)
            for i, conv in enumerate(self.convs):
                h = conv(h)
                if i < len(self.norms):
                    h = F.leaky_relu(self.norms[i](h), config.leaky_slope)
            if config.neuron_noise:
                if noise is None:
                    noise = torch.randn(h.shape, dtype=h.dtype, device=h.device)
                h = h + F.softplus(self.noise_scale)[None, :, None] * noise
            out = torch.sigmoid(h).transpose(1, 2)  # (B, T, N)
            if config.observation_noise and obs_noise is not False:
                if obs_noise is None:
                    obs_noise = torch.randn(out.shape, dtype=out.dtype, device=out.device)
                out = out + self.obs_sigma * obs_noise
            return out

    return Generator


def pairwise_correlations(x):
    """Pearson correlations of every neuron pair within each window (torch, differentiable).

    Parameters
    ----------
    x : torch.Tensor
        (B, T, N) windows.

    Returns
    -------
    torch.Tensor
        (B, N(N-1)/2) correlations (dimensionless), upper triangle in row order.
    """
    torch = _torch()
    z = x - x.mean(dim=1, keepdim=True)
    z = z / torch.sqrt((z * z).sum(dim=1, keepdim=True) + 1e-8)
    c = z.transpose(1, 2) @ z
    n = x.shape[2]
    iu = torch.triu_indices(n, n, 1, device=x.device)
    return c[:, iu[0], iu[1]]


def _critic_class(phase_shuffle):
    """Define the critic module around the ``phase_shuffle`` class (torch imported on use)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class Critic(nn.Module):
        """windows (B, T, N) -> score (B,). ``features`` is the encoder body."""

        def __init__(self, config: GANConfig) -> None:
            super().__init__()
            self.config = config
            pad = (config.kernel_size - config.stride) // 2
            chans = [config.n_neurons, *reversed(config.channels)]
            self.convs = nn.ModuleList(
                nn.Conv1d(cin, cout, config.kernel_size, config.stride, pad)
                for cin, cout in itertools.pairwise(chans)
            )
            self.shuffle = phase_shuffle(config.phase_shuffle)
            self.n_features = config.channels[0] * config.base_length
            n = config.n_neurons
            if config.pairwise_features:
                self.n_features += n * (n - 1)  # two upper triangles
            self.head = nn.Linear(self.n_features, 1)

        def features(self, x):
            h = x.transpose(1, 2)
            last = len(self.convs) - 1
            for i, conv in enumerate(self.convs):
                h = F.leaky_relu(conv(h), self.config.leaky_slope)
                if i < last:
                    h = self.shuffle(h)
            h = h.flatten(1)
            if self.config.pairwise_features:
                dx = x.diff(dim=1)
                h = torch.cat([h, pairwise_correlations(x), pairwise_correlations(dx)], 1)
            return h

        def forward(self, x):
            return self.head(self.features(x)).squeeze(1)

    return Critic


_MODULES: tuple | None = None


def _modules():
    """(PhaseShuffle, Generator, Critic) classes, defined once on first use."""
    global _MODULES
    if _MODULES is None:
        phase_shuffle = _phase_shuffle_class()
        _MODULES = (phase_shuffle, _generator_class(), _critic_class(phase_shuffle))
    return _MODULES


def phase_shuffle_module(n: int):
    """A Phase Shuffle layer (torch ``nn.Module``) with shift range [-n, n]."""
    return _modules()[0](n)


def build_generator(config: GANConfig):
    """The generator ``nn.Module`` for ``config``."""
    return _modules()[1](config)


def build_critic(config: GANConfig):
    """The critic ``nn.Module`` for ``config``."""
    return _modules()[2](config)
