"""Old spike-inference module paths warn and give the same objects; src/ never imports them."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "calcium_forge"

#: old module -> (new module named in the warning, {old name: (module, new name)})
SHIMS = {
    "calcium_forge.inference.train": (
        "calcium_forge.inference.training",
        {
            "default_config": ("calcium_forge.inference.training", "default_config"),
            "train": ("calcium_forge.inference.training", "train"),
            "iter_train": ("calcium_forge.inference.training", "iter_train"),
            "load_training_data": ("calcium_forge.inference.training", "load_training_data"),
            "paired_from_recordings": (
                "calcium_forge.inference.training",
                "paired_from_recordings",
            ),
            "predict_trace": ("calcium_forge.inference.engine", "predict_trace"),
            "TrainConfig": ("calcium_forge.inference.training", "SpikeTrainConfig"),
            "TrainResult": ("calcium_forge.inference.training", "SpikeTrainResult"),
            "METHOD_DEFAULTS": ("calcium_forge.inference.training", "METHOD_DEFAULTS"),
        },
    ),
    "calcium_forge.inference.calibration": (
        "calcium_forge.inference.training.calibration",
        {
            name: ("calcium_forge.inference.training.calibration", name)
            for name in (
                "DEFAULT_GAINS",
                "EventCalibration",
                "calibrate_event_gain",
                "calibrate_on_traces",
                "calibrate_saved_model",
            )
        },
    ),
    "calcium_forge.inference.data": (
        "calcium_forge.inference.training.data",
        {
            **{
                name: ("calcium_forge.inference.training.data", name)
                for name in (
                    "INHIBITORY_DATASETS",
                    "PairedData",
                    "PairedTrace",
                    "dataset_folders",
                    "indicator_of",
                    "load_ground_truth",
                    "load_training_data",
                    "paired_from_recordings",
                )
            },
            **{
                name: ("calcium_forge.inference.training.sampling", name)
                for name in ("MAD_TO_STD", "WindowSampler", "added_noise_std", "split_by_neuron")
            },
            "bin_spikes": ("calcium_forge.spiketrains", "bin_spikes"),
            "gaussian_kernel_ms": ("calcium_forge.spiketrains", "gaussian_kernel_ms"),
            "gaussian_kernel_samples": ("calcium_forge.spiketrains", "gaussian_window"),
            "smooth_spike_counts": ("calcium_forge.spiketrains", "smooth_spike_counts"),
            "noise_level": ("calcium_forge.signal", "noise_level"),
        },
    ),
}


@pytest.mark.parametrize("old", sorted(SHIMS))
def test_old_module_path_warns_and_gives_the_same_objects(old):
    new, names = SHIMS[old]
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        mod = importlib.import_module(old)
    for old_name, (module, new_name) in names.items():
        assert getattr(mod, old_name) is getattr(importlib.import_module(module), new_name)
    assert set(names) <= set(mod.__all__)


def _imported_modules(text: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of what the source ``text`` of ``module`` imports (relative ones resolved)."""
    package = module if is_package else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out |= {target} | {f"{target}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def _package_modules() -> dict[str, Path]:
    modules = {}
    for p in sorted(SRC.rglob("*.py")):
        parts = list(p.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = p
    return modules


def test_nothing_in_the_package_imports_the_old_paths():
    users = []
    for module, path in _package_modules().items():
        if module in SHIMS:
            continue
        found = _imported_modules(
            path.read_text(encoding="utf-8"), module, path.name == "__init__.py"
        )
        users += [f"{module} imports {old}" for old in SHIMS if old in found]
    assert not users, users


def test_the_import_scan_sees_an_old_path():
    """Negative control: relative and absolute imports of the old paths are found."""
    text = (
        "from .train import train\nfrom . import calibration\nimport calcium_forge.inference.data\n"
    )
    found = _imported_modules(text, "calcium_forge.inference.probe")
    assert set(SHIMS) <= found
    assert not set(SHIMS) & _imported_modules(
        "from .training import train\n", "calcium_forge.inference.probe"
    )
