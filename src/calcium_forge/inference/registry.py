"""Pretrained spike-inference models: files, model cards, loading by name or path.

A model is two files side by side:

* ``<name>.pt`` — the network's ``state_dict`` only (tensors), read with
  ``torch.load(weights_only=True)``; nothing is ever unpickled.
* ``<name>.json`` — the model card: ``name``, ``method`` (``"ens2"`` | ``"s2s"`` | ``"cascade"``),
  ``architecture`` (``{"class": ..., "kwargs": {...}}``), ``fs_hz``, ``window``,
  ``output_scale`` / ``output_offset`` (affine map from network output to spikes
  per bin at ``fs_hz``), training data, iterations, validation scores, package
  version, noise augmentation and date.

Shipped models live in ``calcium_forge/inference/models/`` (package data).
A training checkpoint (``checkpoint.pt`` written by
:mod:`calcium_forge.inference.training`) or a folder holding a model can be loaded
the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, MissingFileError, ModelError
from ..io.atomic import atomic_path

__all__ = [
    "CARD_FORMAT",
    "MODELS_DIR",
    "LoadedModel",
    "list_models",
    "load_model",
    "model_card",
    "save_model",
    "spikes_per_bin",
]

#: Folder of the shipped models (package data).
MODELS_DIR: Path = Path(__file__).resolve().parent / "models"

#: Value of ``card["format"]`` written by :func:`save_model`.
CARD_FORMAT = "calcium-forge-model/1"

_METHODS = ("ens2", "s2s", "cascade")

#: Network classes each method runs (a card pairing a method with another of these is refused).
_METHOD_ARCHITECTURES = {
    "ens2": ("ENS2UNet",),
    "s2s": ("S2SNet",),
    "cascade": ("CascadeEnsemble", "CascadeNet"),
}


@dataclass
class LoadedModel:
    """A network ready for inference together with its model card.

    Attributes
    ----------
    network : torch.nn.Module
        The network in eval mode, on the CPU.
    card : dict
        The model card (see module docstring).
    method : str
        ``"ens2"``, ``"s2s"`` or ``"cascade"``.
    fs_hz : float
        Sampling rate the network expects and outputs (Hz).
    window : int
        ENS²: window length in samples (inputs are cut into stride-1 windows);
        S2S: analysis kernel length (the network runs on whole traces);
        Cascade: the window each frame's rate is predicted from (centred on it).
    output_scale : float
        Multiplier mapping the network output to spikes per bin.
    output_offset : float
        Added after scaling (S2S's Pearson training leaves the offset free).
    path : pathlib.Path or None
        Weight file the model was read from.
    """

    network: Any
    card: dict
    method: str
    fs_hz: float
    window: int
    output_scale: float = 1.0
    output_offset: float = 0.0
    path: Path | None = None
    name: str = field(default="")

    def to_spikes_per_bin(self, output):
        """Map raw network output to non-negative spikes per bin.

        Parameters
        ----------
        output : numpy.ndarray or torch.Tensor
            Raw network output.

        Returns
        -------
        numpy.ndarray or torch.Tensor
            ``max(output × output_scale + output_offset, 0)`` in spikes per bin at
            ``fs_hz``, of the input's type.
        """
        return spikes_per_bin(output, self.output_scale, self.output_offset)


def spikes_per_bin(output, scale: float = 1.0, offset: float = 0.0):
    """Map raw network output to non-negative spikes per bin with a model card's calibration.

    Parameters
    ----------
    output : numpy.ndarray or torch.Tensor
        Raw network output.
    scale : float
        ``output_scale`` of the card (spikes per bin per unit of output).
    offset : float
        ``output_offset`` of the card (spikes per bin).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``max(output × scale + offset, 0)`` in spikes per bin, of the input's type.
    """
    y = output * scale + offset
    if hasattr(y, "clamp"):
        return y.clamp(min=0.0)
    return np.maximum(y, 0.0)


def list_models() -> list[str]:
    """Names of the shipped models (those with both a ``.pt`` and a ``.json``).

    Returns
    -------
    list of str
        Sorted names, e.g. ``["ens2-excitatory", ..., "s2s"]`` (empty when none are installed).
    """
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.stem for p in MODELS_DIR.glob("*.json") if p.with_suffix(".pt").is_file())


def model_card(name_or_path: str | os.PathLike[str]) -> dict:
    """The model card of a shipped model name or a model path, without loading weights.

    Parameters
    ----------
    name_or_path : str or path
        As in :func:`load_model` (shipped name, model file, folder or checkpoint).

    Returns
    -------
    dict
        The card (see the module docstring; ``fs_hz`` in Hz, ``window`` in samples).
    """
    weights, card = _resolve(name_or_path)
    if card is None:
        card = _checkpoint_payload(weights)["card"]
    return card


def save_model(network, card: dict, path: str | os.PathLike[str]) -> Path:
    """Write ``network.state_dict()`` to ``<path>.pt`` and ``card`` to ``<path>.json``.

    Parameters
    ----------
    network : torch.nn.Module
        Trained network (``ENS2UNet``, ``S2SNet`` or ``CascadeEnsemble``).
    card : dict
        Model card; ``architecture``, ``fs_hz``, ``window`` and ``method`` are
        filled in from the network when missing. Must be JSON-serialisable.
    path : path
        Destination with or without the ``.pt`` suffix.

    Returns
    -------
    pathlib.Path
        Path of the ``.pt`` file.
    """
    import torch

    path = Path(path)
    if path.suffix in (".pt", ".json"):
        path = path.with_suffix("")
    pt, js = path.with_name(path.name + ".pt"), path.with_name(path.name + ".json")
    card = dict(card)
    card.setdefault("format", CARD_FORMAT)
    card.setdefault("name", path.name)
    card.setdefault("architecture", {"class": type(network).__name__, "kwargs": network.config()})
    card.setdefault("fs_hz", float(network.fs_hz))
    card.setdefault("window", int(network.window))
    card.setdefault("output_scale", 1.0)
    card.setdefault("output_offset", 0.0)
    if card.get("method") not in _METHODS:
        raise ModelError(
            f"model card for {str(pt)!r}: method must be one of {_METHODS}, "
            f"got {card.get('method')!r}"
        )
    _check_method_fits(card, pt)
    state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    text = json.dumps(card, indent=2, sort_keys=False, default=_json_default)
    with atomic_path(pt) as tmp:
        torch.save(state, tmp)
    with atomic_path(js) as tmp:
        Path(tmp).write_text(text + "\n", encoding="utf-8")
    return pt


def load_model(name_or_path: str | os.PathLike[str]) -> LoadedModel:
    """Load a shipped model by name, a ``.pt``/``.json`` pair, a folder or a checkpoint.

    Parameters
    ----------
    name_or_path : str or path
        A shipped name (see :func:`list_models`, e.g. ``"ens2-excitatory"``), a
        ``<name>.pt`` with a sibling ``<name>.json`` (or the ``.json``), a
        folder containing one such pair or a ``checkpoint.pt``, or a training
        checkpoint file.

    Returns
    -------
    LoadedModel

    Raises
    ------
    MissingFileError
        The name/path does not exist.
    ModelError
        The file is not a state_dict (e.g. a pickled whole module), the card
        is missing/invalid, or the weights do not fit the card's architecture.
    """

    weights, card = _resolve(name_or_path)
    if card is None:  # a training checkpoint holds its own card
        payload = _checkpoint_payload(weights)
        card, state = payload["card"], payload["best_state"] or payload["model_state"]
    else:
        state = _load_weights(weights)
        if isinstance(state, dict) and state.get("format") == "calcium-forge-checkpoint":
            state = state.get("best_state") or state["model_state"]
    _check_card(card, weights)
    arch = card["architecture"]
    network = _build_checked(arch, weights)
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise ModelError(
            f"{str(weights)!r} does not hold a state_dict of tensors (got {type(state).__name__}). "
            "Save weights with torch.save(network.state_dict(), path)."
        )
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise ModelError(
            f"weights in {str(weights)!r} do not fit architecture {arch['class']} "
            f"{arch.get('kwargs', {})} from its model card: {' '.join(first)}. Use the .json card "
            "that was saved with these weights, or retrain with `calcium-forge train-spikes`."
        ) from exc
    _check_finite_weights(network, weights)
    network.eval()
    for p in network.parameters():
        p.requires_grad_(False)
    return LoadedModel(
        network=network,
        card=card,
        method=card["method"],
        fs_hz=float(card["fs_hz"]),
        window=int(card["window"]),
        output_scale=float(card.get("output_scale", 1.0)),
        output_offset=float(card.get("output_offset", 0.0)),
        path=weights,
        name=str(card.get("name", weights.stem)),
    )


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _read_card(js: Path) -> dict:
    from ..io.limits import require_regular_file

    try:
        require_regular_file(js, "model card")
    except (FileFormatError, MissingFileError) as exc:
        raise ModelError(str(exc)) from None
    try:
        card = json.loads(js.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"model card {str(js)!r} is not valid JSON ({exc}); restore it from the model's source"
        ) from exc
    if not isinstance(card, dict):
        raise ModelError(f"model card {str(js)!r} must hold a JSON object, got {type(card)}")
    return card


def _resolve(name_or_path) -> tuple[Path, dict | None]:
    """Find the weight file and (unless it is a checkpoint) its card."""
    s = os.fspath(name_or_path)
    p = Path(s)
    shipped = MODELS_DIR / f"{s}.pt"
    if not p.exists() and os.sep not in s and "/" not in s and shipped.is_file():
        return shipped, _read_card(shipped.with_suffix(".json"))
    if not p.exists():
        raise MissingFileError(
            f"model {s!r} is neither a shipped model ({', '.join(list_models()) or 'none'}) nor "
            "an existing file or folder. Pass one of the shipped names or the path of a .pt file "
            "saved by calcium-forge."
        )
    if p.is_dir():
        for cand in ("model.json", *sorted(x.name for x in p.glob("*.json"))):
            js = p / cand
            if js.is_file() and js.with_suffix(".pt").is_file():
                return js.with_suffix(".pt"), _read_card(js)
        ck = p / "checkpoint.pt"
        if ck.is_file():
            return ck, None
        raise ModelError(
            f"folder {str(p)!r} holds no <name>.pt + <name>.json model pair and no checkpoint.pt; "
            "point to the model file itself or to a training output folder"
        )
    if p.suffix == ".json":
        pt = p.with_suffix(".pt")
        if not pt.is_file():
            raise MissingFileError(f"weights {str(pt)!r} for model card {str(p)!r} are missing")
        return pt, _read_card(p)
    js = p.with_suffix(".json")
    if js.is_file():
        return p, _read_card(js)
    return p, None  # must be a training checkpoint carrying its own card


def _load_weights(path: Path):
    import pickle

    import torch

    from ..io.limits import require_regular_file

    try:
        require_regular_file(path, "model weights")
    except FileFormatError as exc:
        raise ModelError(str(exc)) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, EOFError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(
            f"{str(path)!r} cannot be loaded safely with torch.load(weights_only=True) ({msg}). "
            "It is probably a pickled whole module (as the original ENS² release ships) or not a "
            "torch file at all; calcium-forge only loads state_dicts. Re-save it as "
            "torch.save(network.state_dict(), path) with a model card, or train a model with "
            "`calcium-forge train-spikes`."
        ) from exc


def _checkpoint_payload(path: Path) -> dict:
    payload = _load_weights(path)
    if not isinstance(payload, dict) or payload.get("format") != "calcium-forge-checkpoint":
        raise ModelError(
            f"{str(path)!r} has no model card: expected {str(path.with_suffix('.json'))!r} next to "
            "it (or a calcium-forge training checkpoint). Save models with "
            "calcium_forge.inference.registry.save_model."
        )
    if "card" not in payload:
        raise ModelError(f"checkpoint {str(path)!r} carries no model card; it is damaged")
    return payload


def _check_card(card: dict, weights: Path) -> None:
    missing = [k for k in ("method", "architecture", "fs_hz", "window") if k not in card]
    if missing:
        raise ModelError(
            f"model card of {str(weights)!r} lacks {missing}; re-save the model with "
            "calcium_forge.inference.registry.save_model"
        )
    if card["method"] not in _METHODS:
        raise ModelError(
            f"model card of {str(weights)!r}: method {card['method']!r} is not one of {_METHODS}"
        )
    if not isinstance(card["architecture"], dict) or "class" not in card["architecture"]:
        raise ModelError(
            f"model card of {str(weights)!r}: architecture must be "
            f"{{'class': ..., 'kwargs': ...}}, got {card['architecture']!r}"
        )
    _check_card_values(card, weights)


#: Largest window a model card may give (samples).
MAX_WINDOW = 100_000
#: Largest network a model card may describe (bytes of parameters); shipped ones are < 1 MB.
MAX_NETWORK_BYTES = 512 * 1024**2


def _card_number(card: dict, key: str, weights: Path, *, integer: bool = False) -> float:
    """``card[key]`` as a finite number (a positive int when ``integer``), else ModelError."""
    value = card[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    if ok and integer:
        ok = float(value) == int(value) and 1 <= int(value) <= MAX_WINDOW
    if not ok:
        want = f"a whole number of samples in 1...{MAX_WINDOW}" if integer else "a finite number"
        raise ModelError(
            f"model card of {str(weights)!r}: {key}={value!r} must be {want}. The card is "
            "damaged; restore it from the model's source or re-save the model with save_model."
        )
    return float(value)


def _check_card_values(card: dict, weights: Path) -> None:
    """Types and ranges of the card's numbers: fs_hz > 0, window, output scale and offset."""
    fs = _card_number(card, "fs_hz", weights)
    if fs <= 0:
        raise ModelError(
            f"model card of {str(weights)!r}: fs_hz={card['fs_hz']!r} must be a frame rate > 0 "
            "Hz (the rate the network was trained at). The card is damaged; restore it."
        )
    _card_number(card, "window", weights, integer=True)
    for key in ("output_scale", "output_offset"):
        if key in card:
            _card_number(card, key, weights)
    kwargs = card["architecture"].get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise ModelError(
            f"model card of {str(weights)!r}: architecture kwargs must be a JSON object; got "
            f"{kwargs!r}. Re-create the card with save_model."
        )
    if "window" in kwargs and kwargs["window"] != card["window"]:
        raise ModelError(
            f"model card of {str(weights)!r}: architecture window={kwargs['window']!r} "
            f"contradicts the card's window={card['window']!r}; the card is damaged. Restore it "
            "or re-save the model with save_model."
        )


def _build_checked(arch: dict, weights: Path):
    """Build the card's network after checking its size on torch's meta device (no memory)."""
    import torch

    from ..io.limits import check_allocation
    from .networks import build_network

    kwargs = arch.get("kwargs", {})
    try:
        with torch.device("meta"):
            skeleton = build_network(arch["class"], kwargs)
        n_bytes = sum(p.numel() * p.element_size() for p in skeleton.parameters())
        n_bytes += sum(b.numel() * b.element_size() for b in skeleton.buffers())
        check_allocation(
            n_bytes,
            np.uint8,
            f"the network {arch['class']} {kwargs}",
            f"model card of {weights}",
            cap=MAX_NETWORK_BYTES,
        )
        return build_network(arch["class"], kwargs)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"model card of {str(weights)!r} names an unusable architecture {arch!r} "
            f"({type(exc).__name__}: {exc}). Re-create the card with "
            "calcium_forge.inference.registry.save_model."
        ) from exc


def _check_finite_weights(network, weights: Path) -> None:
    """Refuse weights holding NaN or inf (they would give all-NaN rates)."""
    import torch

    bad = [
        name
        for name, t in network.state_dict().items()
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
    if bad:
        raise ModelError(
            f"{str(weights)!r}: {len(bad)} weight tensor(s) hold NaN or infinite values "
            f"({', '.join(bad[:3])}{'...' if len(bad) > 3 else ''}); the network would output "
            "NaN. The file is damaged or training diverged: use another checkpoint or retrain."
        )


def _check_method_fits(card: dict, where: Path) -> None:
    """Refuse a card whose method runs another network class than its architecture names."""
    arch = card.get("architecture")
    cls = arch.get("class") if isinstance(arch, dict) else None
    known = {c for classes in _METHOD_ARCHITECTURES.values() for c in classes}
    expected = _METHOD_ARCHITECTURES[card["method"]]
    if cls in known and cls not in expected:
        raise ModelError(
            f"model card of {str(where)!r}: method {card['method']!r} runs "
            f"{' or '.join(expected)} networks, but the architecture is {cls}; give the method "
            "that fits the network"
        )
