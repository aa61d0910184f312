"""Sample data shipped inside the package (see ``data/PROVENANCE.md``).

>>> from calcium_forge import datasets
>>> raw = datasets.load_hippocampus()         # 20 ROIs x 18,000 frames, 30 Hz
>>> dff = datasets.hippocampus_dff()          # suite2p-style dF/F
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from .errors import MissingFileError
from .recording import Recording

__all__ = ["HIPPOCAMPUS_PROVENANCE", "hippocampus_dff", "load_hippocampus", "sample_path"]

_HIPPOCAMPUS = "hippocampus_suite2p.npz"

#: where the hippocampus recording comes from (also in ``Recording.meta["provenance"]``)
HIPPOCAMPUS_PROVENANCE = {
    "description": "Suite2P output of a mouse hippocampus two-photon recording (20 ROIs)",
    "source": "bouromain/hippocampy, hippocampy/data/fluo.npz",
    "commit": "5945784",
    "license": "GPL-3.0",
    "fs_hz_note": "frame rate not recorded with the data; 30 Hz assumed (hippocampy default)",
    "image_size_note": "field of view not recorded; taken from the ROI pixel extents",
    "values": "F, Fneu, spks, iscell and ROI pixels unchanged",
}


def sample_path(name: str = _HIPPOCAMPUS) -> Path:
    """Path of a file in the package's ``data`` folder.

    Parameters
    ----------
    name : str
        File name inside ``calcium_forge/data`` (default: the hippocampus
        Suite2P sample).

    Returns
    -------
    pathlib.Path
        Its path in the installed package.

    Raises
    ------
    MissingFileError
        If the file is not installed (e.g. a broken install).
    """
    path = Path(str(resources.files("calcium_forge") / "data" / name))
    if not path.is_file():
        raise MissingFileError(
            f"{path}: the sample data file is missing from the installed package. Reinstall "
            "calcium-forge (pip install --force-reinstall calcium-forge)."
        )
    return path


def load_hippocampus() -> Recording:
    """The shipped Suite2P hippocampus recording as raw fluorescence.

    Returns
    -------
    Recording
        ``kind="raw"``, 20 ROIs × 18,000 frames at 30 Hz (assumed): ``traces`` = F,
        ``neuropil`` = Fneu (a.u.), ``labels`` painted from the ROI pixels
        (highest ``lam`` wins overlaps; image size from the ROI extents),
        ``iscell``; ``meta`` holds ``provenance``, ``spks`` (suite2p's
        deconvolved activity), ``cell_probability`` and ``roi_centers_yx``.
    """
    from .io.suite2p import labels_from_stat

    path = sample_path()
    with np.load(path, allow_pickle=False) as z:
        off = z["pix_offsets"]
        stat = [
            {
                "ypix": z["ypix"][off[i] : off[i + 1]],
                "xpix": z["xpix"][off[i] : off[i + 1]],
                "lam": z["lam"][off[i] : off[i + 1]],
            }
            for i in range(len(off) - 1)
        ]
        labels = labels_from_stat(stat, None, str(path))
        iscell = z["iscell"]
        return Recording(
            traces=z["F"],
            fs_hz=float(z["fs_hz"]),
            kind="raw",
            neuropil=z["Fneu"],
            labels=labels,
            iscell=iscell[:, 0].astype(bool),
            source=str(path),
            meta={
                "reader": "datasets.load_hippocampus",
                "name": "hippocampus (Suite2P)",
                "provenance": dict(HIPPOCAMPUS_PROVENANCE),
                "spks": z["spks"],
                "cell_probability": iscell[:, 1].astype(np.float32),
                "roi_centers_yx": z["med"].tolist(),
            },
        )


def hippocampus_dff(neuropil_coeff: float = 0.7, baseline: str = "maximin") -> Recording:
    """The shipped hippocampus recording as dF/F (``signal.to_dff``).

    Parameters
    ----------
    neuropil_coeff : float
        Neuropil coefficient (suite2p's 0.7).
    baseline : {"maximin", "percentile"}
        Baseline method (60 s window).

    Returns
    -------
    Recording
        ``kind="dff"`` (fraction), 30 Hz, with labels.
    """
    from .signal import to_dff

    return to_dff(load_hippocampus(), neuropil_coeff=neuropil_coeff, baseline=baseline)
