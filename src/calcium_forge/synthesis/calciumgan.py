"""CalciumGAN: WaveGAN-style generator and critic for population calcium traces.

Generator: noise z (latent_dim) -> dense -> (C0, T0) -> ``depth`` 1-D
transposed convolutions (kernel divisible by stride, so no checkerboard) with
layer normalisation between convolution and activation -> sigmoid output of
shape (T, N) in [0, 1], rescaled to the data's units by the stored
:class:`~calcium_forge.synthesis.windows.Scaling`. Layer normalisation is
``GroupNorm(1, C)``: it normalises each sample over channels and time (no batch
statistics, which WGAN-GP forbids) with a per-channel affine.

Critic: the mirror image with plain strided convolutions, LeakyReLU(0.2), no
normalisation, and Phase Shuffle (random shift in [-n, n] with reflection
padding, one shift per sample) after each convolution but the last; a linear
layer maps the features to one score.

Torch is imported lazily (``import calcium_forge.synthesis`` stays light).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, MissingFileError, ModelError
from ..recording import Recording
from .windows import Scaling

__all__ = [
    "MODEL_DIR",
    "CalciumGAN",
    "GANConfig",
    "available_models",
    "build_critic",
    "build_generator",
    "crossfade_windows",
    "load_model",
]

MODEL_DIR = Path(__file__).resolve().parent / "models"
FORMAT = "calcium-forge/calciumgan"
FORMAT_VERSION = 1
_ALIASES = {"calciumgan-hippocampus": "hippocampus"}


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
    """

    window: int = 256
    n_neurons: int = 20
    latent_dim: int = 32
    channels: tuple[int, ...] = (128, 64, 64, 32)
    kernel_size: int = 8
    stride: int = 2
    phase_shuffle: int = 2
    leaky_slope: float = 0.2

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
        """A configuration that trains on one CPU thread in minutes (T = 256 by default)."""
        return cls(window=window, n_neurons=n_neurons)

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


def _make_modules():
    """Define the torch modules (deferred so torch is imported only on use)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class PhaseShuffle(nn.Module):
        """Shift each sample by a random k in [-n, n] frames, reflection padded.

        Draws from torch's global RNG (saved/restored by the trainer), so it is
        reproducible. Identity in eval mode and when n = 0.
        """

        def __init__(self, n: int) -> None:
            super().__init__()
            self.n = int(n)

        def forward(self, x, shifts=None):
            if self.n == 0 or (not self.training and shifts is None):
                return x
            b, _, length = x.shape
            if shifts is None:
                shifts = torch.randint(-self.n, self.n + 1, (b,))
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

    class Generator(nn.Module):
        """z (B, latent) -> windows (B, T, N) in [0, 1]."""

        def __init__(self, cfg: GANConfig) -> None:
            super().__init__()
            self.cfg = cfg
            c0 = cfg.channels[0]
            self.dense = nn.Linear(cfg.latent_dim, c0 * cfg.base_length)
            self.norm0 = nn.GroupNorm(1, c0)
            pad = (cfg.kernel_size - cfg.stride) // 2
            outs = [*cfg.channels[1:], cfg.n_neurons]
            self.convs = nn.ModuleList(
                nn.ConvTranspose1d(cin, cout, cfg.kernel_size, cfg.stride, pad)
                for cin, cout in zip(cfg.channels, outs, strict=True)
            )
            self.norms = nn.ModuleList(nn.GroupNorm(1, c) for c in outs[:-1])

        def forward(self, z):
            cfg = self.cfg
            h = self.dense(z).view(z.shape[0], cfg.channels[0], cfg.base_length)
            h = F.leaky_relu(self.norm0(h), cfg.leaky_slope)
            for i, conv in enumerate(self.convs):
                h = conv(h)
                if i < len(self.norms):
                    h = F.leaky_relu(self.norms[i](h), cfg.leaky_slope)
            return torch.sigmoid(h).transpose(1, 2)  # (B, T, N)

    class Critic(nn.Module):
        """windows (B, T, N) -> score (B,). ``features`` is the encoder body."""

        def __init__(self, cfg: GANConfig) -> None:
            super().__init__()
            self.cfg = cfg
            pad = (cfg.kernel_size - cfg.stride) // 2
            chans = [cfg.n_neurons, *reversed(cfg.channels)]
            self.convs = nn.ModuleList(
                nn.Conv1d(cin, cout, cfg.kernel_size, cfg.stride, pad)
                for cin, cout in itertools.pairwise(chans)
            )
            self.shuffle = PhaseShuffle(cfg.phase_shuffle)
            self.n_features = cfg.channels[0] * cfg.base_length
            self.head = nn.Linear(self.n_features, 1)

        def features(self, x):
            h = x.transpose(1, 2)
            last = len(self.convs) - 1
            for i, conv in enumerate(self.convs):
                h = F.leaky_relu(conv(h), self.cfg.leaky_slope)
                if i < last:
                    h = self.shuffle(h)
            return h.flatten(1)

        def forward(self, x):
            return self.head(self.features(x)).squeeze(1)

    return PhaseShuffle, Generator, Critic


_MODULES: tuple | None = None


def _modules():
    global _MODULES
    if _MODULES is None:
        _MODULES = _make_modules()
    return _MODULES


def phase_shuffle_module(n: int):
    """A Phase Shuffle layer (torch ``nn.Module``) with shift range [-n, n]."""
    return _modules()[0](n)


def build_generator(cfg: GANConfig):
    """The generator ``nn.Module`` for ``cfg``."""
    return _modules()[1](cfg)


def build_critic(cfg: GANConfig):
    """The critic ``nn.Module`` for ``cfg``."""
    return _modules()[2](cfg)


def crossfade_windows(windows: np.ndarray, overlap: int) -> np.ndarray:
    """Stitch (M, T, N) windows into (N, L) traces with linear crossfades.

    Consecutive windows overlap by ``overlap`` frames; inside the overlap the
    output moves linearly from the earlier window to the later one, so there is
    no jump at the seams. L = T + (M - 1)(T - overlap).

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) windows.
    overlap : int
        Overlap in frames, 0 <= overlap < T.

    Returns
    -------
    numpy.ndarray
        (N, L) float32 traces.
    """
    w = np.asarray(windows, dtype=np.float32)
    m, t, n = w.shape
    if not 0 <= overlap < t:
        raise InvalidInputError(f"overlap must lie in [0, {t}) frames; got {overlap}.")
    hop = t - overlap
    length = t + (m - 1) * hop
    out = np.zeros((length, n), np.float32)
    weight = np.zeros((length, 1), np.float32)
    ramp = np.ones(t, np.float32)
    if overlap:
        up = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        ramp[:overlap] = up
        ramp[-overlap:] = up[::-1]
    for i in range(m):
        r = ramp.copy()
        if i == 0:
            r[:overlap] = 1.0
        if i == m - 1 and overlap:
            r[-overlap:] = 1.0
        out[i * hop : i * hop + t] += w[i] * r[:, None]
        weight[i * hop : i * hop + t] += r[:, None]
    return (out / weight).T.copy()


def available_models() -> list[str]:
    """Names of the CalciumGAN models shipped with the package."""
    return sorted(p.stem.removeprefix("calciumgan_") for p in MODEL_DIR.glob("calciumgan_*.pt"))


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix and p.exists():
        return p
    if p.is_dir() and (p / "model.pt").exists():
        return p / "model.pt"
    name = _ALIASES.get(str(name_or_path), str(name_or_path))
    shipped = MODEL_DIR / f"calciumgan_{name}.pt"
    if shipped.exists():
        return shipped
    raise MissingFileError(
        f"CalciumGAN model {str(name_or_path)!r} is neither a file nor a shipped model name. "
        f"Shipped: {available_models()}; or pass the path of a .pt saved by CalciumGAN.save()."
    )


@dataclass
class CalciumGAN:
    """A trained (or untrained) CalciumGAN with its data scaling and model card.

    Parameters
    ----------
    config : GANConfig
        Architecture.
    scaling : Scaling
        Global min/max of the training data (maps [0, 1] outputs to trace units).
    fs_hz : float
        Frame rate of the training data in Hz (samples are at this rate).
    generator : torch.nn.Module, optional
        Built from ``config`` when omitted.
    critic : torch.nn.Module, optional
        Kept for continued training; not needed for sampling.
    card : dict
        Model card (training data, steps, scores...).
    kind : str
        Recording kind of the training traces ("dff" or "raw").
    """

    config: GANConfig
    scaling: Scaling
    fs_hz: float
    generator: Any = None
    critic: Any = None
    card: dict = field(default_factory=dict)
    kind: str = "dff"

    def __post_init__(self) -> None:
        if self.generator is None:
            self.generator = build_generator(self.config)
        self.generator.eval()

    # ----------------------------------------------------------------- sampling
    def sample_windows(self, n_windows: int, seed: int | None = 0, batch_size: int = 64):
        """Generate ``n_windows`` windows (n, T, N) in the original units.

        Parameters
        ----------
        n_windows : int
            Number of windows.
        seed : int or None
            Seed of the latent noise.
        batch_size : int
            Windows generated per forward pass.

        Returns
        -------
        numpy.ndarray
            float32 (n_windows, T, N).
        """
        torch = _torch()
        if n_windows < 1:
            raise InvalidInputError(f"n_windows must be >= 1; got {n_windows}.")
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
        out = []
        self.generator.eval()
        with torch.no_grad():
            for start in range(0, n_windows, batch_size):
                b = min(batch_size, n_windows - start)
                z = torch.randn(b, self.config.latent_dim, generator=gen)
                out.append(self.generator(z).float().numpy())
        return self.scaling.inverse(np.concatenate(out))

    def _recording(self, traces: np.ndarray, meta: dict) -> Recording:
        return Recording(
            traces=traces,
            fs_hz=self.fs_hz,
            kind=self.kind if self.kind in ("dff", "raw", "rate") else "dff",
            source=None,
            meta={"name": f"calciumgan_{self.card.get('name', 'model')}", **meta},
        )

    def sample(self, n_windows: int = 1, seed: int | None = 0) -> Recording:
        """Generate windows and return them as one Recording.

        The windows are independent; they are laid end to end along time
        (``meta["window_frames"]`` = T marks the boundaries), so the Recording
        has N rows and ``n_windows * T`` frames at the training frame rate.
        """
        w = self.sample_windows(n_windows, seed)
        traces = w.transpose(2, 0, 1).reshape(self.config.n_neurons, -1)
        return self._recording(
            traces,
            {"window_frames": self.config.window, "n_windows": n_windows, "seed": seed},
        )

    def sample_long(
        self, n_frames: int, seed: int | None = 0, overlap: int | None = None
    ) -> Recording:
        """One long population recording stitched from crossfaded windows.

        Parameters
        ----------
        n_frames : int
            Frames wanted.
        seed : int or None
            Seed.
        overlap : int, optional
            Crossfade length in frames (default T // 8).
        """
        t = self.config.window
        overlap = t // 8 if overlap is None else int(overlap)
        if n_frames < 1:
            raise InvalidInputError(f"n_frames must be >= 1; got {n_frames}.")
        if not 0 <= overlap < t:
            raise InvalidInputError(f"overlap must lie in [0, {t}) frames; got {overlap}.")
        hop = t - overlap
        m = max(1, int(np.ceil(max(n_frames - t, 0) / hop)) + 1)
        traces = crossfade_windows(self.sample_windows(m, seed), overlap)[:, :n_frames]
        return self._recording(
            traces, {"window_frames": t, "crossfade_frames": overlap, "seed": seed}
        )

    # ------------------------------------------------------------------ files
    def state(self) -> dict:
        """Everything needed to rebuild the model (tensors + JSON-able metadata)."""
        d = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "scaling": self.scaling.to_dict(),
            "fs_hz": float(self.fs_hz),
            "kind": self.kind,
            "card_json": json.dumps(self.card),
            "generator": self.generator.state_dict(),
        }
        if self.critic is not None:
            d["critic"] = self.critic.state_dict()
        return d

    def save(self, path: str | Path, include_critic: bool = False) -> Path:
        """Write the model (``.pt``: state_dicts + metadata) and its card (``.json``).

        Parameters
        ----------
        path : str or Path
            Target ``.pt`` file; the card goes to the same name with ``.json``.
        include_critic : bool
            Also store the critic (bigger; only needed to continue training).

        Returns
        -------
        Path
            The ``.pt`` path.
        """
        torch = _torch()
        from ..io.atomic import atomic_path

        path = Path(path)
        if path.suffix != ".pt":
            path = path.with_suffix(".pt")
        path.parent.mkdir(parents=True, exist_ok=True)
        state = self.state()
        if not include_critic:
            state.pop("critic", None)
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
        card = {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "fs_hz": self.fs_hz,
            "scaling": self.scaling.to_dict(),
            "kind": self.kind,
            **self.card,
        }
        with atomic_path(path.with_suffix(".json")) as tmp:
            Path(tmp).write_text(json.dumps(card, indent=2, default=float))
        return path

    @classmethod
    def from_state(cls, state: dict, source: str = "<state>") -> CalciumGAN:
        """Rebuild from :meth:`state` output."""
        if state.get("format") != FORMAT:
            raise ModelError(
                f"{source} is not a CalciumGAN model file (format={state.get('format')!r}); "
                "save models with CalciumGAN.save()."
            )
        cfg = GANConfig.from_dict(dict(state["config"]))
        gen = build_generator(cfg)
        try:
            gen.load_state_dict(state["generator"])
            critic = None
            if "critic" in state:
                critic = build_critic(cfg)
                critic.load_state_dict(state["critic"])
        except RuntimeError as exc:
            raise ModelError(f"{source}: weights do not match the stored config ({exc}).") from exc
        return cls(
            config=cfg,
            scaling=Scaling.from_dict(state["scaling"]),
            fs_hz=float(state["fs_hz"]),
            generator=gen,
            critic=critic,
            card=json.loads(state.get("card_json", "{}")),
            kind=str(state.get("kind", "dff")),
        )

    @classmethod
    def load(cls, name_or_path: str | Path) -> CalciumGAN:
        """Load a shipped model by name (e.g. ``"hippocampus"``) or a saved ``.pt``.

        Uses ``torch.load(weights_only=True)``: nothing is unpickled beyond
        tensors and plain containers.
        """
        torch = _torch()
        path = _resolve(name_or_path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many exception types
            raise ModelError(
                f"cannot read CalciumGAN model {path}: {exc}. Is it a file written by "
                "CalciumGAN.save()?"
            ) from exc
        if not isinstance(state, dict):
            raise ModelError(f"{path} does not hold a CalciumGAN state dict.")
        return cls.from_state(state, source=str(path))

    def __repr__(self) -> str:
        c = self.config
        return (
            f"CalciumGAN(T={c.window}, N={c.n_neurons}, fs_hz={self.fs_hz:g}, "
            f"phase_shuffle={c.phase_shuffle}, steps={self.card.get('steps', '?')})"
        )


def load_model(name_or_path: str | Path) -> CalciumGAN:
    """Load a CalciumGAN by shipped name (``"calciumgan-hippocampus"``) or path."""
    return CalciumGAN.load(name_or_path)
