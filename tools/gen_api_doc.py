"""Generate docs/api.md from the public API: signatures and first docstring lines.

Run from the repository root::

    python tools/gen_api_doc.py > docs/api.md

Only names listed in a module's ``__all__`` (or, without ``__all__``, public
functions and classes defined in the module) are documented.
"""

from __future__ import annotations

import importlib
import inspect
import sys

MODULES = [
    ("calcium_forge", "Top level: read, write, infer_spikes, Recording and the errors."),
    ("calcium_forge.recording", "The Recording data object."),
    ("calcium_forge.results", "SpikeInference, the result of spike inference."),
    ("calcium_forge.errors", "Exceptions (all subclasses of CalciumForgeError)."),
    ("calcium_forge.io", "Readers and writers (reader chosen from the content)."),
    ("calcium_forge.spiketrains", "Binning, Gaussian kernels, smoothing and re-binning of spikes."),
    ("calcium_forge.signal", "Neuropil correction, baseline, dF/F, resampling, noise level."),
    ("calcium_forge.datasets", "Bundled sample data."),
    ("calcium_forge.io.extraction", "ROI traces from (lazy) image stacks."),
    ("calcium_forge.io.suite2p_run", "Running Suite2P headless."),
    ("calcium_forge.inference", "Spike inference (ENS², S2S, OASIS)."),
    ("calcium_forge.inference.registry", "Shipped and user model files."),
    ("calcium_forge.inference.training", "Training ENS² / S2S on ground truth."),
    ("calcium_forge.inference.events", "Spike events from rates (greedy algorithm)."),
    ("calcium_forge.inference.training.calibration", "Calibrating the spike-event gain."),
    ("calcium_forge.inference.training.matched", "Noise- and rate-matched training windows."),
    ("calcium_forge.evaluation", "Spike-inference metrics."),
    ("calcium_forge.evaluation.population", "Population statistics of spike trains."),
    ("calcium_forge.evaluation.synthetic", "The synthetic-vs-real report."),
    ("calcium_forge.evaluation.novelty", "Memorisation check of synthetic windows."),
    ("calcium_forge.evaluation.cofiring", "Co-firing statistics of synthetic populations."),
    ("calcium_forge.evaluation.comparison", "Distances of a compared set to the reference."),
    ("calcium_forge.evaluation.distances", "Distribution distances."),
    ("calcium_forge.evaluation.tuning", "Orientation / direction tuning indices."),
    ("calcium_forge.synthesis", "Dichotomized Gaussian, calcium model, CalciumGAN."),
    ("calcium_forge.synthesis.post_training", "After adversarial training: the shipped recipe."),
    ("calcium_forge.synthesis.distill", "Distillation into another generator architecture."),
    ("calcium_forge.synthesis.observation_noise", "Observation noise at the data's level."),
    ("calcium_forge.synthesis.correlation_matching", "Correlation matching of a CalciumGAN."),
    ("calcium_forge.synthesis.movie", "Synthetic two-photon movies."),
    ("calcium_forge.distributed", "Batch jobs on dask.distributed."),
    ("calcium_forge.pipeline", "From a TIFF movie to Suite2P ROIs, dF/F, spikes and figures."),
    ("calcium_forge.progress", "Progress reports of long-running generators."),
    ("calcium_forge.napari_api", "Scripting the napari plugin."),
]


def first_line(obj: object) -> str:
    """Return the first paragraph of ``obj``'s docstring on one line."""
    doc = inspect.getdoc(obj) or ""
    para = doc.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in para.splitlines()).strip()


def signature(obj: object) -> str:
    """Return ``obj``'s call signature, or an empty string."""
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""


def public_names(module: object) -> list[str]:
    """Names to document for ``module``."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return [n for n in names if not n.startswith("_")]
    out = []
    for name, obj in vars(module).items():
        if name.startswith("_"):
            continue
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
            out.append(name)
    return sorted(out)


def describe_class(name: str, cls: type) -> list[str]:
    """Lines for a class: constructor signature and its public methods/properties."""
    lines = [f"- **class `{name}{signature(cls)}`** — {first_line(cls)}"]
    if issubclass(cls, BaseException):
        return lines
    for attr, value in sorted(vars(cls).items()):
        if attr.startswith("_"):
            continue
        if isinstance(value, property):
            lines.append(f"  - `.{attr}` (property) — {first_line(value)}")
        elif isinstance(value, (classmethod, staticmethod)):
            func = value.__func__
            lines.append(f"  - `.{attr}{signature(getattr(cls, attr))}` — {first_line(func)}")
        elif inspect.isfunction(value):
            lines.append(f"  - `.{attr}{signature(value)}` — {first_line(value)}")
    return lines


def describe_module(modname: str, summary: str) -> list[str]:
    """Markdown lines for one module."""
    module = importlib.import_module(modname)
    lines = [f"## `{modname}`", "", summary, ""]
    for name in public_names(module):
        obj = getattr(module, name)
        if inspect.isclass(obj):
            lines.extend(describe_class(name, obj))
        elif callable(obj):
            lines.append(f"- `{name}{signature(obj)}` — {first_line(obj)}")
    lines.append("")
    return lines


def main() -> int:
    """Print docs/api.md to stdout."""
    out = [
        "# API reference",
        "",
        "Generated by `python tools/gen_api_doc.py > docs/api.md` from the installed",
        "package: each public function and class with its signature and the first",
        "line of its docstring. Read the docstrings (`help(obj)`) for parameters,",
        "units and exceptions.",
        "",
    ]
    out.extend(f"- [`{m}`](#{m.replace('.', '')})" for m, _ in MODULES)
    out.append("")
    for modname, summary in MODULES:
        out.extend(describe_module(modname, summary))
    sys.stdout.write("\n".join(out).rstrip() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
