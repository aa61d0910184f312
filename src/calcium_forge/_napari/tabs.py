"""The **calcium-forge** dock: every calcium-forge widget in one tabbed dock.

Docking the nine widgets one under the other makes a column several screens
tall; here each is a tab, built the first time it is shown and placed in a
scroll area, so that the dock fits a 1080-line screen. The widgets are the
same classes the plugin menu docks one by one.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from qtpy.QtWidgets import QScrollArea, QTabWidget, QWidget

#: (tab title, module in calcium_forge._napari, class), in the order of a session.
TABS: tuple[tuple[str, str, str], ...] = (
    ("Traces", "traces_widget", "TracesWidget"),
    ("Extract", "extract_widget", "ExtractTracesWidget"),
    ("Suite2P", "suite2p_widget", "RunSuite2PWidget"),
    ("Infer", "infer_widget", "InferSpikesWidget"),
    ("Train", "train_spikes_widget", "TrainSpikeModelWidget"),
    ("GAN", "gan_widgets", "TrainGANWidget"),
    ("Sample", "gan_widgets", "SampleGANWidget"),
    ("Compare", "gan_widgets", "CompareWidget"),
    ("Movie", "movie_widget", "SyntheticMovieWidget"),
)

#: Height the dock asks for, pixels (a 1080-line screen less napari's own bars).
DOCK_HEIGHT_PX = 760


class CalciumForgeTabs(QTabWidget):
    """All calcium-forge widgets as tabs of one dock (each built on first view).

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it when the widget is docked).
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.widgets: dict[str, QWidget] = {}
        for title, _, _ in TABS:
            area = QScrollArea()
            area.setWidgetResizable(True)
            self.addTab(area, title)
        self.setUsesScrollButtons(True)
        self.currentChanged.connect(self.widget_at)
        self.widget_at(0)  # the Traces plots, which also write the time (s) on the canvas

    def widget_at(self, index: int) -> QWidget:
        """The widget of tab ``index``, built (and placed in its scroll area) if needed."""
        title, module, cls = TABS[index]
        if title not in self.widgets:
            widget = getattr(import_module(f".{module}", __package__), cls)(self.viewer)
            self.widget(index).setWidget(widget)
            self.widgets[title] = widget
        return self.widgets[title]

    def show_tab(self, title: str) -> QWidget:
        """Switch to the tab ``title`` and return its widget."""
        index = [t for t, _, _ in TABS].index(title)
        self.setCurrentIndex(index)
        return self.widget_at(index)

    def sizeHint(self) -> Any:
        """Ask for :data:`DOCK_HEIGHT_PX`: the tabs scroll rather than grow the dock."""
        hint = super().sizeHint()
        hint.setHeight(min(hint.height(), DOCK_HEIGHT_PX))
        return hint
