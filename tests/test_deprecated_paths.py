"""Old import paths that README or docs once used keep working, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys

import pytest


@pytest.mark.parametrize(
    "old, new, names",
    [
        (
            "calcium_forge.extraction",
            "calcium_forge.io.extraction",
            ["extract_traces", "make_masks"],
        ),
    ],
)
def test_old_module_path_warns_and_gives_the_same_objects(old, new, names):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        mod = importlib.import_module(old)
    target = importlib.import_module(new)
    for name in names:
        assert getattr(mod, name) is getattr(target, name)


@pytest.mark.parametrize("module", ["calcium_forge.synthesis", "calcium_forge.synthesis.train"])
@pytest.mark.parametrize(
    "old, new", [("TrainConfig", "GANTrainConfig"), ("TrainResult", "GANTrainResult")]
)
def test_old_gan_training_names_warn_and_give_the_same_classes(module, old, new):
    mod = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=new):
        alias = getattr(mod, old)
    assert alias is getattr(mod, new)
    with pytest.warns(DeprecationWarning, match=new):
        exec(f"from {module} import {old}", {})
