"""Alternative: BCE-with-logits everywhere, one D forward on the concatenated batch, the fake
made under no_grad for the D step, backward() on a leaf copy for the gradients, multinomial
mode choice, broadcasting distances and a loop over the modes for the coverage.
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
    bce = nn.BCEWithLogitsLoss()
    return bce(real_logits, torch.ones_like(real_logits)) + bce(
        fake_logits, torch.zeros_like(fake_logits)
    )


def saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    # log(1 − D) is minus the BCE against the fake label
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def non_saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def logit_gradients(fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    grads = []
    for loss_fn in (saturating_generator_loss, non_saturating_generator_loss):
        x = torch.tensor(fake_logits.detach().tolist(), requires_grad=True)
        loss_fn(x).backward()
        grads.append(x.grad)
    return grads[0], grads[1]


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
    with torch.no_grad():
        fake = G(z)
    logits = D(torch.cat([real, fake]))
    d_loss = discriminator_loss(logits[: len(real)], logits[len(real) :])
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    fake_logits = D(G(z))
    loss_fn = saturating_generator_loss if saturating else non_saturating_generator_loss
    g_loss = loss_fn(fake_logits)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return float(d_loss.detach()), float(g_loss.detach())


# ----- task 3 -----------------------------------------------------------------------------------
def ring_modes(n_modes: int = N_MODES, radius: float = RADIUS) -> torch.Tensor:
    rows = [
        [radius * math.cos(2 * math.pi * k / n_modes), radius * math.sin(2 * math.pi * k / n_modes)]
        for k in range(n_modes)
    ]
    return torch.tensor(rows, dtype=torch.float32)


def sample_ring(
    n: int,
    generator: torch.Generator,
    *,
    n_modes: int = N_MODES,
    radius: float = RADIUS,
    std: float = STD,
) -> torch.Tensor:
    which = torch.multinomial(torch.ones(n_modes), n, replacement=True, generator=generator)
    centres = ring_modes(n_modes, radius).index_select(0, which)
    return centres + torch.empty(n, 2).normal_(0.0, std, generator=generator)


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
    gen = torch.Generator()
    gen.manual_seed(seed)
    opt_d = torch.optim.Adam(D.parameters(), lr, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr, betas=(0.5, 0.999))
    d_losses, g_losses = [], []
    for _step in range(steps):
        z = torch.randn(batch_size, z_dim, generator=gen)
        real = sample_ring(batch_size, gen)
        d, g = train_step(G, D, opt_g, opt_d, real=real, z=z, saturating=saturating)
        d_losses.append(d)
        g_losses.append(g)
    return {"d_loss": d_losses, "g_loss": g_losses}


# ----- task 4 -----------------------------------------------------------------------------------
def generate(G: nn.Module, n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    z = torch.randn(n, z_dim, generator=generator)
    with torch.no_grad():
        out = G(z)
    return out


def nearest_mode(samples: torch.Tensor, modes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    diff = samples.unsqueeze(1) - modes.unsqueeze(0)  # (N, K, 2)
    distances = diff.pow(2).sum(dim=-1).sqrt()
    index = distances.argmin(dim=1)
    return index, distances.gather(1, index[:, None]).squeeze(1)


def mode_coverage(
    samples: torch.Tensor, modes: torch.Tensor, *, radius: float, min_count: int
) -> Coverage:
    index, dist = nearest_mode(samples, modes)
    counts = torch.zeros(len(modes), dtype=torch.int64)
    for k in range(len(modes)):
        counts[k] = int(((index == k) & (dist <= radius)).sum())
    covered = sum(1 for c in counts.tolist() if c >= min_count)
    high_quality = float((dist <= radius).sum()) / len(samples)
    return Coverage(covered, high_quality, counts)
