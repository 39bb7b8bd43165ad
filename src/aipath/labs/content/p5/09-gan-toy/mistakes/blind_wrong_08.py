# expect: the default radius RADIUS
# intent: sample_ring ignores radius (ring_modes(n_modes) with default radius)
"""A GAN on eight Gaussians on a ring: the losses, one adversarial step, the training loop, and
mode coverage as the measure of what the generator learned.

Shapes: a batch of 2-D points is (N, 2) float32; a batch of noise is (N, z_dim); the
discriminator maps (N, 2) to logits (N, 1) (a logit is the score before the sigmoid:
D's probability that a point is real is sigmoid(logit)). `make_mlp` and `Coverage` are given;
the functions that raise NotImplementedError are yours.
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
def discriminator_loss(real_logits, fake_logits):
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def saturating_generator_loss(fake_logits):
    return -F.softplus(fake_logits).mean()


def non_saturating_generator_loss(fake_logits):
    return F.softplus(-fake_logits).mean()


def logit_gradients(fake_logits):
    x = fake_logits.detach().clone().requires_grad_()
    (sat,) = torch.autograd.grad(saturating_generator_loss(x), x)
    x2 = fake_logits.detach().clone().requires_grad_()
    (non,) = torch.autograd.grad(non_saturating_generator_loss(x2), x2)
    return sat.detach(), non.detach()


# ----- task 2 -----------------------------------------------------------------------------------
def train_step(G, D, opt_g, opt_d, real, z, *, saturating=False):
    fake = G(z)
    opt_d.zero_grad()
    d_loss = discriminator_loss(D(real), D(fake.detach()))
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    logits = D(fake)
    g_loss = (
        saturating_generator_loss(logits) if saturating else non_saturating_generator_loss(logits)
    )
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


# ----- task 3 -----------------------------------------------------------------------------------
def ring_modes(n_modes=N_MODES, radius=RADIUS):
    k = torch.arange(n_modes, dtype=torch.float32)
    ang = 2 * math.pi * k / n_modes
    return torch.stack([radius * torch.cos(ang), radius * torch.sin(ang)], dim=1)


def sample_ring(n, generator, *, n_modes=N_MODES, radius=RADIUS, std=STD):
    idx = torch.randint(n_modes, (n,), generator=generator)
    return ring_modes(n_modes)[idx] + std * torch.randn(n, 2, generator=generator)


def train_gan(G, D, *, steps, batch_size=128, lr=1e-3, z_dim=Z_DIM, seed=0, saturating=False):
    generator = torch.Generator().manual_seed(seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    hist = {"d_loss": [], "g_loss": []}
    for _ in range(steps):
        real = sample_ring(batch_size, generator)
        z = torch.randn(batch_size, z_dim, generator=generator)
        d, g = train_step(G, D, opt_g, opt_d, real, z, saturating=saturating)
        hist["d_loss"].append(d)
        hist["g_loss"].append(g)
    return hist


# ----- task 4 -----------------------------------------------------------------------------------
def generate(G, n, z_dim, generator):
    with torch.no_grad():
        return G(torch.randn(n, z_dim, generator=generator))


def nearest_mode(samples, modes):
    d = torch.sqrt(((samples[:, None, :] - modes[None, :, :]) ** 2).sum(-1))
    dist, idx = d.min(dim=1)
    return idx, dist


def mode_coverage(samples, modes, *, radius, min_count):
    idx, dist = nearest_mode(samples, modes)
    good = dist <= radius
    counts = torch.bincount(idx[good], minlength=len(modes))
    return Coverage(int((counts >= min_count).sum()), float(good.float().mean()), counts)
