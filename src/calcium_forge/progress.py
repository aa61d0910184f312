"""Progress reporting for long work.

Long operations are generators that ``yield`` :class:`Progress` records and
``return`` their result. The napari widgets run them in a ``thread_worker``,
the CLI shows a tqdm bar, and :func:`drain` runs them headless.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

ProgressGen = Generator["Progress", None, T]


@dataclass
class Progress:
    """One step of a long computation.

    Parameters
    ----------
    step : int
        Steps done so far (1-based after the first unit of work).
    total : int or None
        Total number of steps when known.
    message : str
        Short human-readable description of the current stage.
    values : dict
        Live numbers (losses, metrics) to display, by name.
    """

    step: int
    total: int | None = None
    message: str = ""
    values: dict[str, Any] = field(default_factory=dict)


def drain(
    gen: ProgressGen[T],
    progress_bar: bool = False,
    desc: str = "",
    callback: Callable[[Progress], None] | None = None,
) -> T:
    """Run a progress generator to the end and return its result.

    Parameters
    ----------
    gen : generator
        A generator yielding :class:`Progress` and returning the result.
    progress_bar : bool
        Show a tqdm bar on stderr.
    desc : str
        Label of the bar; each record's ``message`` is shown after it.
    callback : callable, optional
        Called with every :class:`Progress`.

    Returns
    -------
    object
        The generator's return value.
    """
    bar = None
    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            if callback is not None:
                callback(p)
            if progress_bar:
                if bar is None:
                    from tqdm.auto import tqdm

                    bar = tqdm(total=p.total, desc=desc or p.message, unit="step")
                if p.total is not None and bar.total != p.total:
                    bar.total = p.total
                bar.n = p.step
                if p.message:  # name the running stage: "demo: ENS² on 20 ROIs (3/20)"
                    bar.set_description(f"{desc}: {p.message}" if desc else p.message, False)
                if p.values:
                    bar.set_postfix(
                        {
                            k: (f"{v:.4g}" if isinstance(v, float) else v)
                            for k, v in p.values.items()
                        },
                        refresh=False,
                    )
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
