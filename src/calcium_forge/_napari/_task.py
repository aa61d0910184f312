"""Base widget that runs a core progress generator in a napari ``thread_worker``.

A :class:`TaskWidget` holds a magicgui container of parameters, a Run button,
a Cancel button, a status line for live values and a napari progress bar.
Subclasses implement :meth:`TaskWidget.start`, which reads the parameters (in
the GUI thread), and returns the core generator (yielding
:class:`calcium_forge.progress.Progress`) plus a callback receiving its result
in the GUI thread. Errors raised while gathering parameters or inside the
generator become napari error notifications with the core's message, and the
form is enabled again.

Every run ends in one final status line: ``done: <summary> in <t> s``,
``cancelled`` or ``failed: <cause>``. The worker never lets an exception out
of the generator: superqt treats a ``RuntimeError`` (torch's, suite2p's...)
escaping a worker as an aborted thread and emits neither ``errored`` nor
``finished``, which would leave the widget "running" for ever; :func:`_drive`
returns it as a :class:`Failure` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from magicgui.widgets import Container, PushButton
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..errors import CalciumForgeError
from ..progress import Progress
from . import layers as L
from .readers import notify_error


@dataclass
class Task:
    """A generator to run and what to do with its result (in the GUI thread)."""

    generator: Generator[Progress, None, Any]
    on_result: Callable[[Any], None]
    title: str = "calcium-forge"
    #: Short description of the result for the final status ("23 ROIs"); default: title.
    summary: Callable[[Any], str] | None = None


@dataclass
class Failure:
    """An exception raised inside a worker, handed back as its result (see :func:`_drive`)."""

    exc: BaseException


def notify_info(message: str) -> None:
    """Show an information notification."""
    from napari.utils.notifications import show_info

    show_info(message)


def error_message(exc: BaseException) -> str:
    """The message shown for an exception: the core's own text for our errors."""
    if isinstance(exc, CalciumForgeError | ValueError | FileNotFoundError | ImportError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _drive(gen: Generator[Progress, None, Any]) -> Generator[Progress, None, Any]:
    """Re-yield a core generator's progress and return its result, or a :class:`Failure`.

    An ``Exception`` raised by the generator is returned, never raised: superqt
    drops a ``RuntimeError`` escaping a worker without any ``errored`` or
    ``finished`` signal. ``GeneratorExit`` (Cancel) still closes the generator.
    """
    try:
        result = yield from gen
    except Exception as exc:  # every failure reaches the GUI thread as a result
        return Failure(exc)
    return result


def layers_of_kind(viewer: Any, kinds: tuple[str, ...], layer_type: str | None = None) -> list:
    """Layers whose calcium-forge kind is in ``kinds`` (and optionally of a napari type)."""
    out = []
    for layer in viewer.layers:
        info = L.layer_info(getattr(layer, "metadata", None))
        if info is None or info.get("kind") not in kinds:
            continue
        if layer_type and type(layer).__name__.lower() != layer_type:
            continue
        out.append(layer)
    return out


class TaskWidget(QWidget):
    """A parameter form with Run/Cancel that runs one core generator at a time.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it when the widget is docked).
    """

    run_text = "Run"

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.params = Container(widgets=self.make_params(), labels=True)
        self.run_button = PushButton(text=self.run_text)
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.setLayout(QVBoxLayout())
        self.layout().addWidget(self.params.native)
        buttons = Container(
            widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False
        )
        self.layout().addWidget(buttons.native)
        self.layout().addWidget(self.status)
        self.extra_setup()
        self.layout().addStretch(1)
        self.worker: Any = None
        self.last_error: str | None = None
        self.last_result: Any = None
        self.last_progress: Progress | None = None
        self._cancel_requested = False
        self._pbar: Any = None
        self._final = False
        self._t0 = 0.0
        self.viewer.layers.events.inserted.connect(self._refresh_choices)
        self.viewer.layers.events.removed.connect(self._refresh_choices)

    # -- to override -----------------------------------------------------------
    def make_params(self) -> list:
        """The magicgui widgets of the form."""
        return []

    def extra_setup(self) -> None:
        """Add more Qt widgets below the buttons (figures, tables)."""

    def start(self) -> Task:
        """Read the parameters and return the :class:`Task` to run."""
        raise NotImplementedError

    # -- machinery ---------------------------------------------------------------
    def _refresh_choices(self, event: Any = None) -> None:
        for w in self.params:
            if hasattr(w, "reset_choices"):
                w.reset_choices()

    @property
    def running(self) -> bool:
        """True while a task runs."""
        return self.worker is not None

    def set_status(self, text: str) -> None:
        """Show ``text`` under the buttons."""
        self.status.setText(text)

    def run(self, *_: Any) -> None:
        """Gather parameters and start the task in a worker thread."""
        if self.running:
            return
        self.last_error = None
        self._cancel_requested = False
        self._final = False
        self._t0 = time.perf_counter()
        try:
            task = self.start()
        except Exception as exc:
            self._fail(exc)
            return
        from napari.qt.threading import create_worker
        from napari.utils import progress

        self.worker = create_worker(_drive, task.generator, _start_thread=False)
        self._pbar = progress(total=0, desc=task.title)
        self.worker.yielded.connect(self._on_progress)
        self.worker.returned.connect(lambda result: self._on_returned(task, result))
        self.worker.errored.connect(self._fail)
        self.worker.aborted.connect(self._on_aborted)
        self.worker.finished.connect(self._finished)
        self._set_enabled(False)
        self.set_status(f"{task.title}: running...")
        self.worker.start()

    def cancel(self, *_: Any) -> None:
        """Stop the task at its next progress step."""
        if self.worker is not None:
            self._cancel_requested = True
            self.set_status("Cancelling at the next step...")
            self.worker.quit()

    def _set_enabled(self, enabled: bool) -> None:
        self.params.enabled = enabled
        self.run_button.enabled = enabled
        self.cancel_button.enabled = not enabled

    def _on_progress(self, p: Any) -> None:
        if not isinstance(p, Progress) or self._final:
            return  # a step queued before the end must not overwrite the final status
        self.last_progress = p
        pbar = self._pbar  # a local: updating the bar may process events (and _finished)
        if pbar is not None:
            if p.total is not None and pbar.total != p.total:
                pbar.total = p.total
            if p.message:
                pbar.set_description(p.message)
            delta = p.step - pbar.n
            if delta > 0:
                pbar.update(delta)
        values = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in p.values.items()
        )
        total = f"/{p.total}" if p.total else ""
        if self._cancel_requested or self._final:
            # a step that was already queued (or processed re-entrantly while the
            # bar updated) must not overwrite "Cancelling..." / "cancelled"
            self.on_progress(p)
            return
        self.set_status(f"{p.message} {p.step}{total}" + (f" — {values}" if values else ""))
        self.on_progress(p)

    def on_progress(self, p: Progress) -> None:
        """Hook for live displays (losses)."""

    def _on_returned(self, task: Task, result: Any) -> None:
        if isinstance(result, Failure):
            self._fail(result.exc)
            return
        self.last_result = result
        try:
            task.on_result(result)
            what = task.summary(result) if task.summary is not None else task.title
        except Exception as exc:  # every failure becomes a notification
            self._fail(exc)
            return
        self._final = True
        self.set_status(f"done: {what} in {time.perf_counter() - self._t0:.1f} s")

    def _on_aborted(self) -> None:
        self._final = True
        self.set_status("cancelled")

    def _fail(self, exc: BaseException) -> None:
        msg = error_message(exc)
        self.last_error = msg
        self._final = True
        self.set_status(f"failed: {msg}")
        notify_error(msg)

    def _finished(self) -> None:
        if not self._final:  # cancelled after the last step: superqt sends no result
            self._on_aborted()
        pbar, self._pbar = self._pbar, None
        if pbar is not None:
            pbar.close()
        self.worker = None
        self._set_enabled(True)

    def add_layer_data(self, tuples: list) -> list:
        """Add layer-data tuples to the viewer."""
        from .viewer import add_layer_data

        return add_layer_data(self.viewer, tuples)

    def closeEvent(self, event: Any) -> None:
        """Cancel a running task when the dock closes."""
        self.cancel()
        super().closeEvent(event)
