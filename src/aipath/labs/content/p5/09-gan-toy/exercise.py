"""A GAN on eight Gaussians on a ring: the losses, one adversarial step, the training loop, and
mode coverage as the measure of what the generator learned.

Shapes: a batch of 2-D points is (N, 2) float32; a batch of noise is (N, z_dim); the
discriminator maps (N, 2) to logits (N, 1) (a logit is the score before the sigmoid:
D's probability that a point is real is sigmoid(logit)). `make_mlp` and `Coverage` are given;
the functions that raise NotImplementedError are yours.
"""

from __future__ import annotations

import math  # noqa: F401
from typing import NamedTuple

import torch
import torch.nn.functional as F  # noqa: F401  (F.softplus, F.binary_cross_entropy_with_logits)
from torch import nn

N_MODES = 8
RADIUS = 2.0
STD = 0.05
Z_DIM = 2


# ----- given (do not change) --------------------------------------------------------------------
def make_mlp(in_dim: int, out_dim: int, hidden: int = 64) -> nn.Sequential:
    """in_dim → hidden → hidden → out_dim with ReLUs: G is make_mlp(Z_DIM, 2), D make_mlp(2, 1)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, out_dim),
    )


class Coverage(NamedTuple):
    """What mode_coverage measures."""

    covered: int
    """How many modes have at least min_count high-quality samples."""
    high_quality: float
    """The fraction of all samples within `radius` of their nearest mode."""
    counts: torch.Tensor
    """(n_modes,) int64: the high-quality samples nearest to each mode."""


# ----- task 1 -----------------------------------------------------------------------------------
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's loss: binary cross-entropy of the real logits against 1 plus that of the fake against 0.

    The sum of two means, each over its own batch (the two batches may differ in size), computed
    from the logits so that it stays finite for logits of any size.

    Args:
        real_logits: D's logits for real points, any shape, e.g. (N, 1).
        fake_logits: D's logits for generated points, any shape, e.g. (M, 1).

    Returns:
        A 0-dim tensor that carries the graph (backward() must reach the logits).

    >>> float(discriminator_loss(torch.zeros(3, 1), torch.zeros(5, 1)))  # 2 · log 2
    1.3862943649291992
    """
    # TODO: mean softplus(−real) + mean softplus(fake), or BCE-with-logits against 1s and 0s
    raise NotImplementedError


def saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The minimax generator loss, mean log(1 − D(G(z))), which the generator minimizes.

    Its values are ≤ 0. Computed from the logits: finite for any logit.

    >>> round(float(saturating_generator_loss(torch.tensor([0.0, 50.0]))), 4)
    -25.3466
    """
    # TODO: log(1 − sigmoid(x)) without a sigmoid
    raise NotImplementedError


def non_saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss, mean −log D(G(z)): BCE of the fake logits against 1.

    >>> round(float(non_saturating_generator_loss(torch.tensor([0.0, -50.0]))), 4)
    25.3466
    """
    # TODO: −log sigmoid(x) without a sigmoid
    raise NotImplementedError


def logit_gradients(fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Measure, with autograd, how strongly each generator loss pulls on each fake logit.

    Leave the caller's tensor as it is (values and requires_grad), and do not backpropagate
    into the graph it may belong to: work on a detached copy.

    Returns:
        (d saturating loss / d logits, d non-saturating loss / d logits), each shaped like
        fake_logits and detached from any graph.

    >>> sat, non = logit_gradients(torch.tensor([-10.0, 0.0]))
    >>> sat  # D is sure the first sample is fake: almost no gradient
    tensor([-2.2699e-05, -2.5000e-01])
    >>> non
    tensor([-0.5000, -0.2500])
    """
    # TODO: a leaf copy that requires grad, then torch.autograd.grad (or backward) for each loss
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def train_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    z: torch.Tensor,
    *,
    saturating: bool = False,
) -> tuple[float, float]:
    """One D step, then one G step against the updated D.

    D step: D's gradients cleared, discriminator_loss on D(real) and D of the fakes G(z)
    *detached*, backward, opt_d.step(). G step: G's gradients cleared, the generator loss
    (saturating_generator_loss if saturating else non_saturating_generator_loss) on D of the
    fakes, backward, opt_g.step(). Gradients left in either network by an earlier step must not
    leak into this one, the D step must not move G, and the G step must not move D.

    Args:
        G: the generator, (N, z_dim) → (N, 2); opt_g holds its parameters.
        D: the discriminator, (N, 2) → (N, 1) logits; opt_d holds its parameters.
        real: (B, 2) real points. z: (M, z_dim) noise (M may differ from B).

    Returns:
        (d_loss, g_loss) as Python floats: D's loss before its update, G's loss against the
        updated D.
    """
    # TODO: fake = G(z); the D step on fake.detach(); then the G step on D(fake)
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def ring_modes(n_modes: int = N_MODES, radius: float = RADIUS) -> torch.Tensor:
    """The centres of the mixture: mode k at angle 2πk/n_modes, radius·(cos, sin).

    >>> ring_modes(4, 1.0).round(decimals=4)
    tensor([[ 1.,  0.],
            [ 0.,  1.],
            [-1.,  0.],
            [-0., -1.]])
    """
    # TODO: (n_modes, 2) float32, mode 0 at (radius, 0), counter-clockwise
    raise NotImplementedError


def sample_ring(
    n: int,
    generator: torch.Generator,
    *,
    n_modes: int = N_MODES,
    radius: float = RADIUS,
    std: float = STD,
) -> torch.Tensor:
    """n points of the mixture: a mode drawn uniformly, plus std · standard normal noise.

    Every random number comes from `generator` (torch.randint(..., generator=generator),
    torch.randn(..., generator=generator)), never from torch's global RNG.

    Returns:
        (n, 2) float32.
    """
    # TODO: pick the modes, add the noise
    raise NotImplementedError


def train_gan(
    G: nn.Module,
    D: nn.Module,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    z_dim: int = Z_DIM,
    seed: int = 0,
    saturating: bool = False,
) -> dict[str, list[float]]:
    """Train G and D against each other for `steps` calls of train_step.

    One torch.Generator seeded with `seed` for every draw; one Adam per network, both with
    lr=lr and betas=(0.5, 0.999), made once; each step a new real batch
    (sample_ring(batch_size, generator)) and new noise (torch.randn(batch_size, z_dim,
    generator=generator)), then your train_step.

    Returns:
        {"d_loss": [...], "g_loss": [...]}: the floats train_step returned, one per step.
    """
    # TODO: generator, two optimizers, the loop
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def generate(G: nn.Module, n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    """n samples of G under torch.no_grad(), from noise torch.randn(n, z_dim, generator=generator).

    Returns:
        (n, 2), not attached to any graph.
    """
    # TODO
    raise NotImplementedError


def nearest_mode(samples: torch.Tensor, modes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample, its nearest mode and the Euclidean distance to it.

    Args:
        samples: (N, 2). modes: (K, 2).

    Returns:
        (index (N,) int64, distance (N,)).

    >>> nearest_mode(torch.tensor([[0.9, 0.1], [0.0, -3.0]]), ring_modes(4, 1.0))
    (tensor([0, 3]), tensor([0.1414, 2.0000]))
    """
    # TODO: an (N, K) table of distances, then the min over the modes
    raise NotImplementedError


def mode_coverage(
    samples: torch.Tensor, modes: torch.Tensor, *, radius: float, min_count: int
) -> Coverage:
    """How much of the mixture a set of samples covers.

    A sample is high-quality when its distance to its nearest mode is ≤ radius; counts[k] is
    the number of high-quality samples whose nearest mode is k; a mode is covered when
    counts[k] ≥ min_count.

    Returns:
        Coverage(covered: int, high_quality: float (fraction of all samples), counts (K,) int64).
    """
    # TODO: nearest_mode, the radius, torch.bincount(..., minlength=len(modes)), min_count
    raise NotImplementedError
