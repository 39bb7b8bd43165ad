# expect: the G step before the D step
"""Mistake: G step first.

A GAN on eight Gaussians on a ring: the losses, one adversarial step, the training loop, and
mode coverage as the measure of what the generator learned.

Shapes: a batch of 2-D points is (N, 2) float32; a batch of noise is (N, z_dim); the
discriminator maps (N, 2) to logits (N, 1).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
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
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    # log(1 − sigmoid(l)) = −softplus(l), finite for any l
    return -F.softplus(fake_logits).mean()


def non_saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    # −log sigmoid(l) = softplus(−l)
    return F.softplus(-fake_logits).mean()


def logit_gradients(fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logits = fake_logits.detach().clone().requires_grad_(True)
    (saturating,) = torch.autograd.grad(saturating_generator_loss(logits), logits)
    (non_saturating,) = torch.autograd.grad(non_saturating_generator_loss(logits), logits)
    return saturating, non_saturating


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
    opt_g.zero_grad()
    fake = G(z)
    fake_logits = D(fake)
    if saturating:
        g_loss = saturating_generator_loss(fake_logits)
    else:
        g_loss = non_saturating_generator_loss(fake_logits)
    g_loss.backward()
    opt_g.step()

    opt_d.zero_grad()
    d_loss = discriminator_loss(D(real), D(G(z).detach()))
    d_loss.backward()
    opt_d.step()
    return d_loss.item(), g_loss.item()


# ----- task 3 -----------------------------------------------------------------------------------
def ring_modes(n_modes: int = N_MODES, radius: float = RADIUS) -> torch.Tensor:
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    return (radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)).float()


def sample_ring(
    n: int,
    generator: torch.Generator,
    *,
    n_modes: int = N_MODES,
    radius: float = RADIUS,
    std: float = STD,
) -> torch.Tensor:
    which = torch.randint(n_modes, (n,), generator=generator)
    noise = torch.randn(n, 2, generator=generator)
    return ring_modes(n_modes, radius)[which] + std * noise


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
    generator = torch.Generator().manual_seed(seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    history: dict[str, list[float]] = {"d_loss": [], "g_loss": []}
    for _ in range(steps):
        real = sample_ring(batch_size, generator)
        z = torch.randn(batch_size, z_dim, generator=generator)
        d_loss, g_loss = train_step(G, D, opt_g, opt_d, real, z, saturating=saturating)
        history["d_loss"].append(d_loss)
        history["g_loss"].append(g_loss)
    return history


# ----- task 4 -----------------------------------------------------------------------------------
def generate(G: nn.Module, n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    with torch.no_grad():
        return G(torch.randn(n, z_dim, generator=generator))


def nearest_mode(samples: torch.Tensor, modes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    distances = torch.cdist(samples, modes)
    dist, index = distances.min(dim=1)
    return index, dist


def mode_coverage(
    samples: torch.Tensor, modes: torch.Tensor, *, radius: float, min_count: int
) -> Coverage:
    index, dist = nearest_mode(samples, modes)
    good = dist <= radius
    counts = torch.bincount(index[good], minlength=len(modes))
    covered = int((counts >= min_count).sum())
    return Coverage(covered, float(good.float().mean()), counts)
