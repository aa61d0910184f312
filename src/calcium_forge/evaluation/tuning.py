"""Orientation and direction selectivity (vector-sum indices).

``OSI = |sum_k R_k exp(2 i theta_k)| / sum_k R_k`` and
``DSI = |sum_k R_k exp(i theta_k)| / sum_k R_k`` for responses ``R_k >= 0`` to
gratings moving in directions ``theta_k`` (DESIGN §2). Both lie in [0, 1]:
0 for a flat tuning curve, 1 for a response to a single orientation
(OSI) or direction (DSI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError

__all__ = ["TuningResult", "dsi", "osi", "tuning"]


def _prepare(responses: np.ndarray, directions_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(responses, np.float64)
    th = np.deg2rad(np.asarray(directions_deg, np.float64))
    if th.ndim != 1 or r.shape[-1] != th.shape[0]:
        raise InvalidInputError(
            f"responses' last axis ({r.shape}) must match the {th.shape} directions (degrees)."
        )
    if np.any(r < 0):
        raise InvalidInputError(
            "responses must be >= 0 (e.g. spike rates); subtract nothing below zero or clip "
            "negative dF/F first."
        )
    return r, th


def _vector_sum(r: np.ndarray, th: np.ndarray, harmonic: int) -> np.ndarray:
    """``sum_k R_k exp(i harmonic theta_k)``: 1 for direction, 2 for orientation."""
    return (r * np.exp(1j * harmonic * th)).sum(-1)


def _selectivity(responses: np.ndarray, directions_deg: np.ndarray, harmonic: int) -> np.ndarray:
    """``|vector sum| / sum_k R_k`` per neuron (NaN where all responses are 0)."""
    r, th = _prepare(responses, directions_deg)
    total = r.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(_vector_sum(r, th, harmonic)) / total


def osi(responses: np.ndarray, directions_deg: np.ndarray) -> np.ndarray:
    """Orientation selectivity index per neuron (last axis = directions).

    Parameters
    ----------
    responses : numpy.ndarray
        (..., K) non-negative mean responses (e.g. spikes/s) to K directions.
    directions_deg : numpy.ndarray
        (K,) motion directions in degrees.

    Returns
    -------
    numpy.ndarray
        OSI in [0, 1] (dimensionless; NaN where all responses are 0).
    """
    return _selectivity(responses, directions_deg, 2)


def dsi(responses: np.ndarray, directions_deg: np.ndarray) -> np.ndarray:
    """Direction selectivity index per neuron (last axis = directions).

    Parameters
    ----------
    responses : numpy.ndarray
        (..., K) non-negative mean responses (e.g. spikes/s) to K directions.
    directions_deg : numpy.ndarray
        (K,) motion directions in degrees.

    Returns
    -------
    numpy.ndarray
        DSI in [0, 1] (dimensionless; NaN where all responses are 0).
    """
    return _selectivity(responses, directions_deg, 1)


@dataclass
class TuningResult:
    """Selectivity of a population.

    Parameters
    ----------
    osi, dsi : numpy.ndarray
        (N,) indices per neuron, in [0, 1] (dimensionless).
    preferred_direction_deg : numpy.ndarray
        Angle of the direction vector sum, degrees in [0, 360).
    preferred_orientation_deg : numpy.ndarray
        Angle of the orientation vector sum, degrees in [0, 180).
    """

    osi: np.ndarray
    dsi: np.ndarray
    preferred_direction_deg: np.ndarray
    preferred_orientation_deg: np.ndarray


def tuning(responses: np.ndarray, directions_deg: np.ndarray) -> TuningResult:
    """OSI, DSI and preferred direction/orientation for (N, K) responses.

    Parameters
    ----------
    responses : numpy.ndarray
        (N, K) non-negative mean responses (e.g. spikes/s) to K directions.
    directions_deg : numpy.ndarray
        (K,) motion directions in degrees.

    Returns
    -------
    TuningResult
        Indices (dimensionless) and preferred angles (degrees) per neuron.
    """
    r, th = _prepare(responses, directions_deg)
    v1 = _vector_sum(r, th, 1)
    v2 = _vector_sum(r, th, 2)
    return TuningResult(
        osi=osi(r, directions_deg),
        dsi=dsi(r, directions_deg),
        preferred_direction_deg=np.rad2deg(np.angle(v1)) % 360.0,
        preferred_orientation_deg=(np.rad2deg(np.angle(v2)) / 2.0) % 180.0,
    )
