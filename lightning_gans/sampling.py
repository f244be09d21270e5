"""Latent-space tools: truncation, interpolation grids and latent vector arithmetic.

Each function returns latents; ``GANModule.generate`` turns them into samples. All are seeded, so a grid
can be reproduced and its latents referred to by index.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

TruncationMode = Literal["resample", "scale"]
Interpolation = Literal["linear", "spherical"]


def truncated_latents(n: int, dim: int, psi: float | None, mode: TruncationMode = "resample", seed: int = 0) -> Tensor:
    """``n`` latents from N(0, I), truncated to trade diversity for fidelity.

    ``resample``: every coordinate with ``|z_i| > psi`` is redrawn until it lies within ``psi`` (the
    truncation trick of BigGAN, Brock et al. 2019; ``psi`` is a threshold in standard deviations).
    ``scale``: ``z * psi`` with ``0 < psi <= 1`` (shrinking towards the mean latent, as StyleGAN's ψ does in
    W space; here in Z space, where it is the same idea for a generator with no mapping network).
    ``psi=None`` gives plain N(0, I) latents.
    """
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, dim, generator=rng)
    if psi is None:
        return z
    if psi <= 0:
        raise ValueError(f"truncation psi must be > 0, got {psi}")
    if mode == "scale":
        if psi > 1:
            raise ValueError(f"scale truncation needs 0 < psi <= 1, got {psi}")
        return z * psi
    if mode != "resample":
        raise ValueError(f"unknown truncation mode {mode!r}; choose resample or scale")
    outside = z.abs() > psi
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=rng)
        outside = z.abs() > psi
    return z


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation (White 2016, "Sampling generative networks") between rows of ``a`` and
    ``b`` at fractions ``t``; falls back to linear where the two are (anti)parallel."""
    a_unit, b_unit = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_unit * b_unit).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    sin_omega = torch.sin(omega)
    linear = (1 - t) * a + t * b
    spherical = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin_omega.clamp(min=1e-8)
    return torch.where(sin_omega.abs() < 1e-6, linear, spherical)


def interpolation_latents(
    rows: int, steps: int, dim: int, method: Interpolation = "spherical", seed: int = 0
) -> Tensor:
    """``rows`` interpolations of ``steps`` latents each (row-major, ``rows * steps``) between pairs of
    random endpoints. Spherical is the default: linear midpoints of Gaussian latents have a norm the
    prior almost never produces."""
    if rows < 1 or steps < 2:
        raise ValueError(f"need rows >= 1 and steps >= 2, got rows={rows}, steps={steps}")
    rng = torch.Generator().manual_seed(seed)
    start, end = torch.randn(rows, 1, dim, generator=rng), torch.randn(rows, 1, dim, generator=rng)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    if method == "linear":
        path = (1 - t) * start + t * end
    elif method == "spherical":
        path = slerp(start.expand(-1, steps, -1), end.expand(-1, steps, -1), t.expand(rows, -1, 1))
    else:
        raise ValueError(f"unknown interpolation {method!r}; choose linear or spherical")
    return path.reshape(rows * steps, dim)


def latent_sweep(
    rows: int, steps: int, dim: int, index: int, low: float = -2.0, high: float = 2.0, seed: int = 0
) -> Tensor:
    """``rows`` random latents, each repeated ``steps`` times with coordinate ``index`` swept from ``low`` to
    ``high`` (row-major): what one latent coordinate, e.g. an InfoGAN continuous code, controls."""
    if not 0 <= index < dim:
        raise ValueError(f"latent coordinate {index} is outside 0..{dim - 1}")
    if rows < 1 or steps < 2:
        raise ValueError(f"need rows >= 1 and steps >= 2, got rows={rows}, steps={steps}")
    z = torch.randn(rows, 1, dim, generator=torch.Generator().manual_seed(seed)).repeat(1, steps, 1)
    z[:, :, index] = torch.linspace(low, high, steps)
    return z.reshape(rows * steps, dim)


def parse_arithmetic(expression: str) -> list[tuple[int, list[int]]]:
    """``"3,7,9 - 1,4 + 12"`` -> ``[(+1, [3, 7, 9]), (-1, [1, 4]), (+1, [12])]``."""
    terms: list[tuple[int, list[int]]] = []
    sign = 1
    for token in expression.replace("+", " + ").replace("-", " - ").split():
        if token in "+-":
            sign = 1 if token == "+" else -1
            continue
        try:
            indices = [int(i) for i in token.split(",") if i]
        except ValueError as error:
            raise ValueError(f"bad latent arithmetic {expression!r}: {token!r} is not a list of indices") from error
        terms.append((sign, indices))
        sign = 1
    if not terms or any(not indices for _, indices in terms):
        raise ValueError(f"bad latent arithmetic {expression!r}: write e.g. '0,1,2 - 3,4,5 + 6,7,8'")
    return terms


def arithmetic_latents(
    pool: Tensor, expression: str, variations: int = 7, spread: float = 0.25, seed: int = 0
) -> list[Tensor]:
    """DCGAN-style vector arithmetic (Radford et al. 2016, section 6.3) on latents picked from ``pool``.

    Each term of ``expression`` is a group of indices into ``pool`` (the latents of a grid from
    ``lightning-gans sample`` with the same seed), averaged as in the paper; the averages are added or
    subtracted. Returns rows of latents, as the paper lays out its figure: per term, the group's members
    followed by their average; then the result followed by ``variations`` copies of it with
    ``spread`` * N(0, I) added.
    """
    terms = parse_arithmetic(expression)
    largest = max(max(indices) for _, indices in terms)
    if largest >= len(pool) or min(min(indices) for _, indices in terms) < 0:
        raise ValueError(f"latent index {largest} is outside the pool of {len(pool)} latents (0..{len(pool) - 1})")
    rows = [torch.cat([pool[indices], pool[indices].mean(dim=0, keepdim=True)]) for _, indices in terms]
    result = sum((sign * row[-1] for (sign, _), row in zip(terms, rows)), torch.zeros(pool.shape[1]))
    rng = torch.Generator().manual_seed(seed)
    noisy = result + spread * torch.randn(variations, pool.shape[1], generator=rng)
    return [*rows, torch.cat([result[None], noisy])]
