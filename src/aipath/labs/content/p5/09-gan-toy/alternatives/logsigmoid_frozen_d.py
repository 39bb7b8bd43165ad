"""Alternative: log-sigmoid losses, D frozen (requires_grad off) during the G step, the fake
made twice, noise drawn before the real batch, torch.cdist without the matrix-product shortcut,
and index_add_ counts.
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
    high_quality: float
    counts: torch.Tensor


# ----- task 1 -----------------------------------------------------------------------------------
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    # −log sigmoid(r) and −log(1 − sigmoid(f)) = −log sigmoid(−f)
    return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()


def saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.logsigmoid(-fake_logits).mean()


def non_saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -F.logsigmoid(fake_logits).mean()


def logit_gradients(fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = fake_logits.detach().clone().requires_grad_(True)
    saturating = torch.autograd.grad(saturating_generator_loss(x), [x])[0]
    non_saturating = torch.autograd.grad(non_saturating_generator_loss(x), [x])[0]
    return saturating.detach(), non_saturating.detach()


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
    opt_d.zero_grad()
    d_loss = discriminator_loss(D(real), D(G(z).detach()))
    d_loss.backward()
    opt_d.step()

    for p in D.parameters():
        p.requires_grad_(False)
    try:
        opt_g.zero_grad()
        fake_logits = D(G(z))
        if saturating:
            g_loss = saturating_generator_loss(fake_logits)
        else:
            g_loss = non_saturating_generator_loss(fake_logits)
        g_loss.backward()
        opt_g.step()
    finally:
        for p in D.parameters():
            p.requires_grad_(True)
    return d_loss.item(), g_loss.item()


# ----- task 3 -----------------------------------------------------------------------------------
def ring_modes(n_modes: int = N_MODES, radius: float = RADIUS) -> torch.Tensor:
    angles = torch.arange(n_modes) * (2 * math.pi / n_modes)
    points = torch.polar(torch.full((n_modes,), float(radius)), angles)  # complex numbers
    return torch.view_as_real(points)


def sample_ring(
    n: int,
    generator: torch.Generator,
    *,
    n_modes: int = N_MODES,
    radius: float = RADIUS,
    std: float = STD,
) -> torch.Tensor:
    which = torch.randint(0, n_modes, size=(n,), generator=generator)
    angle = 2 * math.pi * which.float() / n_modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=-1)
    return centres + std * torch.randn(n, 2, generator=generator)


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
    optimizers = {
        name: torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))
        for name, net in (("g", G), ("d", D))
    }
    history: dict[str, list[float]] = {"d_loss": [], "g_loss": []}
    step = 0
    while step < steps:
        z = torch.randn(batch_size, z_dim, generator=generator)
        real = sample_ring(batch_size, generator=generator)
        losses = train_step(G, D, optimizers["g"], optimizers["d"], real, z, saturating=saturating)
        for key, value in zip(("d_loss", "g_loss"), losses, strict=True):
            history[key].append(value)
        step += 1
    return history


# ----- task 4 -----------------------------------------------------------------------------------
def generate(G: nn.Module, n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    with torch.inference_mode():
        samples = G(torch.randn(n, z_dim, generator=generator))
    return samples.clone()


def nearest_mode(samples: torch.Tensor, modes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    distances = torch.cdist(samples, modes, compute_mode="donot_use_mm_for_euclid_dist")
    values, index = torch.min(distances, dim=1)
    return index, values


def mode_coverage(
    samples: torch.Tensor, modes: torch.Tensor, *, radius: float, min_count: int
) -> Coverage:
    index, dist = nearest_mode(samples, modes)
    good = dist <= radius
    counts = torch.zeros(modes.shape[0], dtype=torch.long)
    counts.index_add_(0, index[good], torch.ones_like(index[good]))
    return Coverage(
        covered=int(torch.count_nonzero(counts >= min_count)),
        high_quality=good.double().mean().item(),
        counts=counts,
    )
