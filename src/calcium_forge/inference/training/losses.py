"""Training losses for spike-inference networks.

``mse_loss`` is the ENS² loss; ``pearson_loss`` the S2S loss (1 − Pearson r,
i.e. the negative correlation shifted to be ≥ 0), computed per sample along
time and averaged over the samples whose target is not constant.
"""

from __future__ import annotations

import torch

__all__ = ["LOSSES", "mse_loss", "pearson_loss", "pearson_r"]


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements (the ENS² loss).

    Parameters
    ----------
    pred, target : torch.Tensor
        Predicted and target rates, same shape (spikes per bin).

    Returns
    -------
    torch.Tensor
        Scalar loss in (spikes per bin)².
    """
    return torch.mean((pred - target) ** 2)


def pearson_r(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation of each row of ``pred`` with the same row of ``target``.

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(B, L)`` tensors (time along the last axis).
    eps : float
        Added to the variance product to keep constant rows finite.

    Returns
    -------
    torch.Tensor
        ``(B,)`` correlations in [−1, 1].
    """
    pm = pred - pred.mean(dim=-1, keepdim=True)
    tm = target - target.mean(dim=-1, keepdim=True)
    num = (pm * tm).sum(dim=-1)
    den = torch.sqrt((pm * pm).sum(dim=-1) * (tm * tm).sum(dim=-1) + eps)
    return torch.clamp(num / den, -1.0, 1.0)


def pearson_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """S2S loss: mean over rows of 1 − r(pred, target), ignoring rows with a constant target.

    Rows whose target has no variance (no spike near the segment) carry no
    information about correlation and are left out; if every row is constant
    the loss is 0 (with a zero gradient).

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(B, L)`` tensors (time along the last axis).
    eps : float
        Added to the variance product to keep constant rows finite.

    Returns
    -------
    torch.Tensor
        Scalar loss in [0, 2] (dimensionless).
    """
    tvar = target.var(dim=-1, unbiased=False)
    keep = tvar > 1e-12
    if not bool(keep.any()):
        return (pred * 0.0).sum()
    return torch.mean(1.0 - pearson_r(pred[keep], target[keep], eps))


LOSSES = {"mse": mse_loss, "pearson": pearson_loss}
