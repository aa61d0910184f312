"""The **Run Suite2P** widget: suite2p on the open stack, in a subprocess.

Form fields: ``stack_layer`` (a movie Image, T x Y x X; only 3-D images are
offered), ``fs_hz`` (frame rate, Hz; 0 = the layer's time scale), ``tau_s`` (indicator decay, s),
``diameter_px`` (cell diameter, 0 = suite2p default), ``registration``
(motion-correct first) and ``out_dir`` (output folder). suite2p's opencv
crashes when imported next to Qt, so it runs as ``python -m
calcium_forge.io.suite2p_run``; Cancel terminates that process. When
it finishes, ``out_dir/suite2p/plane0`` opens like any Suite2P folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, FileEdit, FloatSpinBox

from ..errors import CalciumForgeError, InvalidInputError
from ..progress import Progress
from . import layers as L
from ._form import layer_combo
from ._task import Task, TaskWidget
from .readers import recording_to_layers


class Suite2PError(CalciumForgeError):
    """suite2p failed in its subprocess (the message is its last line of stderr).

    Not a ``RuntimeError``: superqt takes a ``RuntimeError`` leaving a worker for
    a deleted thread and emits no ``errored``/``finished`` signal.
    """


def stack_source(layer: Any, out_dir: Path) -> tuple[Path, float | None]:
    """A TIFF file holding the layer's movie, and the layer's frame rate (Hz) if known.

    Uses the file the layer was read from when it is a TIFF; otherwise writes
    the layer's data to ``out_dir/<layer name>.tif`` (atomically).
    """
    if layer is None:
        raise InvalidInputError("no stack layer chosen; open a TIFF movie or the synthetic stack.")
    if np.ndim(layer.data) != 3:
        raise InvalidInputError(
            f"layer {layer.name!r} has shape {np.shape(layer.data)}; suite2p needs a movie "
            "(n_frames, Y, X)."
        )
    info = L.layer_info(layer.metadata) or {}
    fs = info.get("fs_hz")
    if not fs:
        step = float(layer.scale[0])
        fs = 1.0 / step if step > 0 and step != 1.0 else None
    src = info.get("source") or getattr(layer.source, "path", None)
    if src and str(src).lower().endswith((".tif", ".tiff")) and Path(src).is_file():
        return Path(src), fs
    from ..io import write_stack

    out_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in layer.name) or "stack"
    path = write_stack(out_dir / f"{safe}.tif", layer.data, fs_hz=fs)
    return path, fs


def iter_run_suite2p(
    tiff: Path,
    out_dir: Path,
    fs_hz: float,
    tau_s: float = 1.0,
    diameter_px: float = 0.0,
    registration: bool = True,
    poll_s: float = 0.5,
) -> Generator[Progress, None, Path]:
    """Run the suite2p runner subprocess, yielding its output lines; return plane0.

    Closing the generator (Cancel) terminates the subprocess.
    """
    cmd = [
        sys.executable,
        "-m",
        "calcium_forge.io.suite2p_run",
        str(tiff),
        str(out_dir),
        "--fs-hz",
        f"{fs_hz:g}",
        "--tau",
        f"{tau_s:g}",
        "--diameter",
        f"{diameter_px:g}",
    ]
    if not registration:
        cmd.append("--no-registration")
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    step, last = 0, ""
    try:
        while proc.poll() is None:
            time.sleep(poll_s)
            step += 1
            log.seek(0)
            lines = [ln.strip() for ln in log.read().splitlines() if ln.strip()]
            last = lines[-1] if lines else "starting suite2p"
            yield Progress(step=step, total=None, message=last[:120])
        log.seek(0)
        lines = [ln.strip() for ln in log.read().splitlines() if ln.strip()]
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
    if proc.returncode != 0:
        fail = [ln for ln in lines if ln.startswith("suite2p failed")]
        raise Suite2PError(
            f"suite2p on {tiff} exited with code {proc.returncode}: "
            f"{(fail or lines or ['no output'])[-1]}"
        )
    return out_dir / "suite2p" / "plane0"


class RunSuite2PWidget(TaskWidget):
    """Run suite2p on a movie layer (in a subprocess) and open its output."""

    run_text = "Run Suite2P"

    def make_params(self) -> list:
        """The form's fields (magicgui widgets), kept as attributes: stack, fs, tau..."""
        self.stack_layer = layer_combo(self.viewer, "stack_layer", "stack", None, "image", ndim=3)
        self.fs_hz = FloatSpinBox(
            name="fs_hz", label="frame rate (Hz, 0 = layer)", value=0.0, min=0.0, max=10_000.0
        )
        self.tau_s = FloatSpinBox(
            name="tau_s", label="decay tau (s)", value=1.0, min=0.05, max=10.0, step=0.1
        )
        self.diameter_px = FloatSpinBox(
            name="diameter_px", label="cell diameter (px)", value=0.0, min=0.0, max=200.0
        )
        self.registration = CheckBox(name="registration", text="motion registration", value=True)
        self.out_dir = FileEdit(
            name="out_dir",
            label="output folder",
            mode="d",
            value=str(Path.home() / "calcium_forge_suite2p"),
        )
        return [
            self.stack_layer,
            self.fs_hz,
            self.tau_s,
            self.diameter_px,
            self.registration,
            self.out_dir,
        ]

    def start(self) -> Task:
        """Read the form and return the :class:`Task` that runs suite2p in a subprocess.

        Returns
        -------
        Task
            The suite2p run on the stack's TIFF; its plane folder is opened as
            layers when it finishes.

        Raises
        ------
        InvalidInputError
            When the frame rate is neither entered nor known from the layer.
        """
        out_dir = Path(self.out_dir.value)
        tiff, layer_fs = stack_source(self.stack_layer.value, out_dir)
        fs = self.fs_hz.value or layer_fs
        if not fs:
            raise InvalidInputError(
                f"the frame rate of {self.stack_layer.value.name!r} is unknown; enter it in "
                "'frame rate (Hz)'."
            )
        gen = iter_run_suite2p(
            tiff,
            out_dir,
            float(fs),
            self.tau_s.value,
            self.diameter_px.value,
            self.registration.value,
        )
        self._fs = float(fs)
        return Task(gen, self._open, title="Run Suite2P", summary=lambda _: f"{self._n_rois} ROIs")

    def _open(self, plane: Path) -> None:
        from ..io import read

        rec = read(plane, fs_hz=self._fs)
        self._n_rois = rec.n_rois
        self.add_layer_data(recording_to_layers(rec))
