"""Alternative: logaddexp losses, torch.func.grad for the measured gradients, zero_grad that
keeps the tensors (set_to_none=False), the fake made again for the G step, vector norms and
torch.unique counts.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.func import grad

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


def _softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.logaddexp(torch.zeros_like(x), x)  # log(1 + e^x), stable


# ----- task 1 -----------------------------------------------------------------------------------
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return torch.mean(_softplus(-real_logits)) + torch.mean(_softplus(fake_logits))


def saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return torch.mean(-_softplus(fake_logits))


def non_saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return torch.mean(_softplus(-fake_logits))


def logit_gradients(fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = fake_logits.detach()
    return grad(saturating_generator_loss)(x), grad(non_saturating_generator_loss)(x)


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
    fake = G(z).detach()
    opt_d.zero_grad(set_to_none=False)
    d_loss = discriminator_loss(D(real), D(fake))
    d_loss.backward()
    opt_d.step()

    generator_loss = saturating_generator_loss if saturating else non_saturating_generator_loss
    opt_g.zero_grad(set_to_none=False)
    g_loss = generator_loss(D(G(z)))
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


# ----- task 3 -----------------------------------------------------------------------------------
def ring_modes(n_modes: int = N_MODES, radius: float = RADIUS) -> torch.Tensor:
    out = torch.empty(n_modes, 2)
    for k in range(n_modes):
        angle = 2 * math.pi * k / n_modes
        out[k, 0] = radius * math.cos(angle)
        out[k, 1] = radius * math.sin(angle)
    return out


def sample_ring(
    n: int,
    generator: torch.Generator,
    *,
    n_modes: int = N_MODES,
    radius: float = RADIUS,
    std: float = STD,
) -> torch.Tensor:
    noise = torch.normal(0.0, std, size=(n, 2), generator=generator)
    which = torch.randint(high=n_modes, size=(n,), generator=generator)
    return ring_modes(n_modes, radius)[which] + noise


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
    rng = torch.Generator().manual_seed(seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))

    def batches():
        for _ in range(steps):
            yield sample_ring(batch_size, rng), torch.randn(batch_size, z_dim, generator=rng)

    losses = [
        train_step(G, D, opt_g, opt_d, real, z, saturating=saturating) for real, z in batches()
    ]
    d_losses = [d for d, _ in losses]
    g_losses = [g for _, g in losses]
    return {"g_loss": g_losses, "d_loss": d_losses}


# ----- task 4 -----------------------------------------------------------------------------------
@torch.no_grad()
def generate(G: nn.Module, n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    return G(torch.randn((n, z_dim), generator=generator))


def nearest_mode(samples: torch.Tensor, modes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    distances = torch.linalg.vector_norm(samples[:, None] - modes[None], dim=2)
    result = distances.min(1)
    return result.indices, result.values


def mode_coverage(
    samples: torch.Tensor, modes: torch.Tensor, *, radius: float, min_count: int
) -> Coverage:
    index, dist = nearest_mode(samples, modes)
    kept = index[dist <= radius]
    counts = torch.zeros(len(modes), dtype=torch.int64)
    values, how_many = torch.unique(kept, return_counts=True)
    counts[values] = how_many
    return Coverage(int((counts >= min_count).sum().item()), len(kept) / len(samples), counts)
