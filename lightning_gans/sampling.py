"""Latent-space tools: truncation, interpolation grids, latent vector arithmetic and style mixing; and
``compile_for_sampling``, the ``sample`` command's ``--compile``.

Most functions return latents; ``GANModule.generate`` turns them into samples. All are seeded, so a grid
can be reproduced and its latents referred to by index. Truncation comes in three kinds (README
"Truncation"): redrawing large coordinates of z (BigGAN's truncated normal, ``resample``), shrinking z
(``scale``), and drawing w towards the average w of a style-based generator (StyleGAN's, ``w``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from lightning_gans.inference import LatentSampling

TruncationMode = Literal["resample", "scale", "w"]
Interpolation = Literal["linear", "spherical"]

# Resampling redraws each coordinate until |z_i| <= psi: on average 1 / erf(psi / sqrt 2) draws, 125 at 0.01 but
# about 1e30 at 1e-30, a loop that never ends. Below 0.01 every latent lies within a hundredth of a standard
# deviation of 0, so the samples all look like the average one; scale truncation gets there without redrawing.
# BigGAN's smallest threshold (Brock et al. 2019, figure 2) is 0.04.
RESAMPLE_PSI_MIN = 0.01
# Latents per forward pass when drawing many samples: a few hundred keep a generator's activations in hand on a
# CPU or a small GPU, whatever number of samples is asked for, and are as fast per sample as larger batches.
SAMPLE_BATCH = 256


def truncated_latents(n: int, dim: int, psi: float | None, mode: TruncationMode = "resample", seed: int = 0) -> Tensor:
    """``n`` latents from N(0, I), truncated to trade diversity for fidelity.

    ``resample``: every coordinate with ``|z_i| > psi`` is redrawn until it lies within ``psi`` (the
    truncation trick of BigGAN, Brock et al. 2019; ``psi`` is a threshold in standard deviations).
    ``scale``: ``z * psi`` with ``0 < psi <= 1`` (shrinking towards the mean latent, as StyleGAN's ψ does in
    W space; here in Z space, where it is the same idea for a generator with no mapping network).
    ``w``: plain N(0, I) latents; the truncation happens in the generator's W space (``truncation_in_w``).
    ``psi=None`` gives plain N(0, I) latents. A ``psi`` the mode cannot use (``check_truncation``: NaN, out of
    range, or below ``RESAMPLE_PSI_MIN`` for ``resample``) raises ``ValueError`` before anything is drawn.
    """
    check_truncation(psi, mode)
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, dim, generator=rng)
    if psi is None or mode == "w":
        return z
    if mode == "scale":
        return z * psi
    # Only the coordinates still outside are looked at again: the same draws, in the same order, as redrawing
    # z[z.abs() > psi] until none is left, without scanning all of z in every round.
    flat = z.view(-1)
    outside = (flat.abs() > psi).nonzero().squeeze(1)
    while len(outside):
        flat[outside] = torch.randn(len(outside), generator=rng)
        outside = outside[flat[outside].abs() > psi]
    return z


def check_truncation(psi: float | None, mode: str = "resample") -> None:
    """Raise ``ValueError``, before any latent is drawn, for a ``psi`` that truncation ``mode`` cannot use: NaN
    or infinite, outside the mode's range, or (``resample``) so small that redrawing would not finish."""
    if psi is None:
        return
    if not math.isfinite(psi):
        raise ValueError(f"truncation psi must be a finite number, got {psi}")
    if mode == "w":
        check_w_psi(psi)
        return
    if mode not in ("resample", "scale"):
        raise ValueError(f"unknown truncation mode {mode!r}; choose resample, scale or w")
    if psi <= 0:
        raise ValueError(f"truncation psi must be > 0, got {psi}")
    if mode == "scale" and psi > 1:
        raise ValueError(f"scale truncation needs 0 < psi <= 1, got {psi}")
    if mode == "resample" and psi < RESAMPLE_PSI_MIN:
        draws = 1 / math.erf(psi / math.sqrt(2))
        raise ValueError(
            f"resample truncation redraws each latent coordinate until |z_i| <= psi, on average 1 / erf(psi / sqrt 2) "
            f"times: {draws:.2g} times at psi {psi}. The smallest psi it takes is {RESAMPLE_PSI_MIN} (125 draws); for "
            "latents closer to 0 use scale truncation (z * psi; --truncation_mode scale), which redraws nothing"
        )


def generate_in_chunks(
    model: LatentSampling,
    z: Tensor,
    labels: Tensor | int | None = None,
    captions: Sequence[str] | None = None,
    batch_size: int = SAMPLE_BATCH,
) -> Iterator[Tensor]:
    """``model.generate(z, labels)``, or ``model.generate_text(z, captions)`` for a text-to-image model, at most
    ``batch_size`` latents at a time: what one forward pass holds stays bounded however many latents there are.

    The classes or grid captions that ``labels=None`` means (each in turn) are counted over all of ``z``, as in one
    call; ``labels`` and ``captions`` may be one for all or one per latent."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    texts: Any = model  # generate_text and grid_captions are duck-typed: CaptionSampling needs Lightning
    if captions is None and labels is None and hasattr(model, "generate_text"):
        grid = list(getattr(model, "grid_captions", None) or [])
        if grid:  # else generate() says that the model has none yet
            captions = [grid[i % len(grid)] for i in range(len(z))]
    elif labels is None and model.num_classes:
        labels = model.balanced_labels(len(z))
    for start in range(0, len(z), batch_size):
        part = slice(start, start + batch_size)
        if captions is not None:
            yield texts.generate_text(z[part], captions if len(captions) == 1 else captions[part])
        else:
            per_latent = isinstance(labels, Tensor) and labels.dim() > 0
            yield model.generate(z[part], labels[part] if per_latent else labels)  # type: ignore[index]


def sample_shape(model: LatentSampling, labels: int | None = None, caption: str | None = None) -> tuple[int, ...]:
    """The shape of one of ``model``'s samples (of class ``labels``, or for ``caption``), from one forward pass on a
    single latent: what sizes a picture before its samples are drawn. Refuses what ``generate`` would refuse."""
    z = torch.zeros(1, model.latent_dim)
    made = next(generate_in_chunks(model, z, labels, None if caption is None else [caption]))
    return tuple(made.shape[1:])


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


def check_w_psi(psi: float) -> None:
    if not 0.0 <= psi <= 1.0:
        raise ValueError(f"truncation in W needs 0 <= psi <= 1 (1: none, 0: the average w only), got {psi}")


@contextmanager
def truncation_in_w(generator: nn.Module, psi: float | None) -> Iterator[None]:
    """Within the block, ``generator`` draws every w towards its average w by ``psi`` (StyleGAN's truncation
    trick, Karras et al. 2019, section 2.3): for any generator with a ``truncation_psi`` attribute, i.e. a
    mapping network and a tracked average w. ``psi=None`` changes nothing."""
    if psi is None:
        yield
        return
    check_w_psi(psi)
    if not hasattr(generator, "truncation_psi"):
        raise ValueError(
            f"{type(generator).__name__} has no W space to truncate in: truncation mode w needs a style-based "
            "generator (generator: stylegan); use resample or scale for this one"
        )
    offering: Any = generator  # a duck-typed attribute, not an nn.Module one
    before = offering.truncation_psi
    offering.truncation_psi = psi
    try:
        yield
    finally:
        offering.truncation_psi = before


@torch.no_grad()
def style_mixing_grid(
    generator: nn.Module,
    rows: int,
    columns: int,
    crossover: int | None = None,
    psi: float = 1.0,
    seed: int = 0,
    batch_size: int = SAMPLE_BATCH,
) -> tuple[Tensor, int]:
    """StyleGAN's style-mixing figure (Karras et al. 2019, figure 3): the first row shows ``columns`` samples
    from one set of seeds, the first column ``rows`` samples from another; each other cell takes its row's
    styles for the layers before ``crossover`` (coarse: pose, shape; default: the first half) and its column's
    styles from there on (fine: texture, shading). Returns the images (row-major, a blank top-left corner)
    and the images per row. ``generator`` must offer ``styles(z, psi)``, ``synthesis(ws)`` and ``num_ws``; it runs
    on at most ``batch_size`` latents at a time."""
    from lightning_gans.inference import evaluating
    from lightning_gans.nets.stylegan import mix_styles

    num_ws = getattr(generator, "num_ws", None)
    if not isinstance(num_ws, int) or not callable(getattr(generator, "synthesis", None)):
        raise ValueError(
            f"{type(generator).__name__} takes no per-layer styles: style mixing needs a style-based generator "
            "(generator: stylegan)"
        )
    crossover = num_ws // 2 if crossover is None else crossover
    if not 1 <= crossover < num_ws:
        raise ValueError(f"the crossover layer must lie in 1..{num_ws - 1} for this generator, got {crossover}")
    if rows < 1 or columns < 1:
        raise ValueError(f"need rows >= 1 and columns >= 1, got rows={rows}, columns={columns}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    check_w_psi(psi)
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    style_based: Any = generator  # styles, synthesis and latent_dim are duck-typed
    row_z, column_z = (torch.randn(k, style_based.latent_dim, generator=rng).to(device) for k in (rows, columns))

    def synthesised(count: int, styles_of: Callable[[Tensor], Tensor]) -> Tensor:
        """Images 0..count-1 from ``styles_of(indices)``, a batch at a time: the styles and activations of one
        batch are all that a grid of any size holds at once besides its images."""
        batches = torch.arange(count, device=device).split(batch_size)
        return torch.cat([style_based.synthesis(styles_of(indices)) for indices in batches])

    with evaluating(generator):
        row_ws = torch.cat([style_based.styles(z, psi) for z in row_z.split(batch_size)])
        column_ws = torch.cat([style_based.styles(z, psi) for z in column_z.split(batch_size)])
        row_images = synthesised(rows, lambda k: row_ws[k])
        column_images = synthesised(columns, lambda k: column_ws[k])
        # cell k of the body: row k // columns's styles before the crossover, column k % columns's from there on
        mixed_images = synthesised(
            rows * columns, lambda k: mix_styles(row_ws[k // columns], column_ws[k % columns], crossover)
        )
    blank = torch.ones_like(column_images[:1])  # white in the models' [-1, 1] range
    body = [torch.cat([row_images[r : r + 1], mixed_images[r * columns : (r + 1) * columns]]) for r in range(rows)]
    return torch.cat([blank, column_images, *body]), columns + 1


def compile_for_sampling(
    net: nn.Module, mode: str | None = None, dynamic: bool | None = None, backend: str = "inductor"
) -> nn.Module:
    """``net`` compiled in place with ``torch.compile`` (``nn.Module.compile``) for drawing samples, and returned.

    Pass the net that sampling calls (``model.sampling_generator``: the EMA generator when there is one, or
    ``model.generator`` for translation): ``generate``, ``sample`` and ``translate`` then run its compiled
    forward. The first call compiles (tens of seconds with inductor on a CPU; a new batch size or truncation
    setting can recompile once); it pays off over many or large batches. Parameter names and ``state_dict``
    keys stay unchanged. Only ``net(...)`` is compiled, not other methods: style mixing calls ``styles`` and
    ``synthesis`` directly and stays eager. ``mode``, ``dynamic`` and ``backend`` are ``torch.compile``'s
    (``lightning_gans.callbacks.CompileNets`` explains them); a mode or backend torch does not know raises
    ``ValueError`` here, before any sample is drawn.
    """
    check_compile_options(backend, mode, dynamic)
    net.compile(backend=backend, mode=mode, dynamic=dynamic)
    return net


def check_compile_options(backend: str, mode: str | None, dynamic: bool | None) -> None:
    """Raise ``ValueError`` now, before any training or sampling, for a backend or mode ``torch.compile`` does not
    know. ``torch.compile`` validates both when it wraps a function, without compiling anything yet."""
    try:
        torch.compile(_identity, backend=backend, mode=mode, dynamic=dynamic)
    except RuntimeError as error:  # dynamo's InvalidBackend and inductor's unknown mode are RuntimeErrors
        raise ValueError(f"torch.compile refuses backend={backend!r}, mode={mode!r}: {error}") from error


def _identity(x: Any) -> Any:
    return x
