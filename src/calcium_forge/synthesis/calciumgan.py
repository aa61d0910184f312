"""CalciumGAN: a trained generator with its data scaling, sampling and model files.

:class:`CalciumGAN` holds the generator (and optionally the critic) of
:mod:`calcium_forge.synthesis.gan_networks`, the data scaling that maps its
[0, 1] outputs to trace units, the frame rate and the model card; it samples
windows, window sequences and long crossfaded recordings, and saves/loads the
``.pt`` + ``.json`` model files (shipped models live in ``synthesis/models``).
The networks and their settings (``GANConfig``, ``build_generator``,
``build_critic``) are re-exported here from ``gan_networks``.

Torch is imported lazily (``import calcium_forge.synthesis`` stays light).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, MissingFileError, ModelError
from ..recording import Recording
from .gan_networks import GANConfig, build_critic, build_generator, phase_shuffle_module
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
    "phase_shuffle_module",
]

MODEL_DIR = Path(__file__).resolve().parent / "models"
FORMAT = "calcium-forge/calciumgan"
FORMAT_VERSION = 1
_ALIASES = {"calciumgan-hippocampus": "hippocampus"}


def _torch():
    import torch

    return torch


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
    def sample_windows(
        self,
        n_windows: int,
        seed: int | None = 0,
        batch_size: int = 64,
        observation_noise: bool = True,
    ):
        """Generate ``n_windows`` windows (n, T, N) in the original units.

        Parameters
        ----------
        n_windows : int
            Number of windows.
        seed : int or None
            Seed of the latent noise.
        batch_size : int
            Windows generated per forward pass.
        observation_noise : bool
            For a model with ``GANConfig.observation_noise``: add its
            independent per-neuron noise (False: the noise-free signal).

        Returns
        -------
        numpy.ndarray
            float32 (n_windows, T, N).
        """
        torch = _torch()
        if n_windows < 1:
            raise InvalidInputError(f"n_windows must be >= 1; got {n_windows}.")
        seq = np.random.SeedSequence(seed)
        gen = torch.Generator().manual_seed(int(seq.generate_state(1)[0]))
        # observation noise from its own stream: the signals do not depend on whether it is drawn
        obs_gen = torch.Generator().manual_seed(int(seq.spawn(1)[0].generate_state(1)[0]))
        out = []
        self.generator.eval()
        with torch.no_grad():
            for start in range(0, n_windows, batch_size):
                b = min(batch_size, n_windows - start)
                z = torch.randn(b, self.config.latent_dim, generator=gen)
                noise = None
                if self.config.neuron_noise:
                    shape = (b, self.config.n_neurons, self.config.window)
                    noise = torch.randn(shape, generator=gen)
                obs = False
                if self.config.observation_noise and observation_noise:
                    shape = (b, self.config.window, self.config.n_neurons)
                    obs = torch.randn(shape, generator=obs_gen)
                out.append(self.generator(z, noise, obs).float().numpy())
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
        clean = self.config.observation_noise  # crossfade the signal, then add the noise
        w = self.sample_windows(m, seed, observation_noise=not clean)
        traces = crossfade_windows(w, overlap)[:, :n_frames]
        if clean:
            traces = traces + self._observation_noise(traces.shape, seed)
        return self._recording(
            traces, {"window_frames": t, "crossfade_frames": overlap, "seed": seed}
        )

    def _observation_noise(self, shape: tuple[int, int], seed: int | None) -> np.ndarray:
        """(N, L) independent white noise of the model's per-neuron level, trace units."""
        sigma = self.generator.obs_sigma.detach().cpu().numpy().astype(np.float64)
        span = np.asarray(self.scaling.x_max, np.float64) - np.asarray(self.scaling.x_min)
        rng = np.random.default_rng(None if seed is None else [int(seed), 1])
        sd = np.broadcast_to(sigma * span, (shape[0],))[:, None]
        return (rng.standard_normal(shape) * sd).astype(np.float32)

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
        from ..io.atomic import atomic_path, write_text

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
        write_text(path.with_suffix(".json"), json.dumps(card, indent=2, default=float))
        return path

    @classmethod
    def from_state(cls, state: dict, source: str = "<state>") -> CalciumGAN:
        """Rebuild from :meth:`state` output."""
        if state.get("format") != FORMAT:
            raise ModelError(
                f"{source} is not a CalciumGAN model file (format={state.get('format')!r}); "
                "save models with CalciumGAN.save()."
            )
        config = GANConfig.from_dict(dict(state["config"]))
        gen = build_generator(config)
        try:
            gen.load_state_dict(state["generator"])
            critic = None
            if "critic" in state:
                critic = build_critic(config)
                critic.load_state_dict(state["critic"])
        except RuntimeError as exc:
            raise ModelError(f"{source}: weights do not match the stored config ({exc}).") from exc
        return cls(
            config=config,
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
