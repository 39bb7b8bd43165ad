# expect: changed its input
"""Mistake: x_t updated in place."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Schedule = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (betas, alphas, alpha_bars)


def two_moons(n: int, generator: torch.Generator, noise: float = 0.05) -> torch.Tensor:
    """n points of two interleaved half circles, scaled to about zero mean and unit spread.

    A ready-made data set to try your model on (the checks draw theirs the same way).
    """
    upper = torch.randint(0, 2, (n,), generator=generator).bool()
    angle = torch.rand(n, generator=generator) * math.pi
    x = torch.where(upper, angle.cos(), 1.0 - angle.cos())
    y = torch.where(upper, angle.sin(), 0.5 - angle.sin())
    points = torch.stack([x, y], dim=1) + noise * torch.randn((n, 2), generator=generator)
    return (points - torch.tensor([0.5, 0.25])) / torch.tensor([0.87, 0.5])


# ----- task 1: the noise schedule ---------------------------------------------------------------
def linear_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float32)
    alphas = 1.0 - betas
    alpha_bars = torch.cumprod(alphas, dim=0)
    return betas, alphas, alpha_bars


# ----- task 2: the forward process --------------------------------------------------------------
def q_step(
    x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, betas: torch.Tensor
) -> torch.Tensor:
    beta = betas[t].unsqueeze(1)
    return torch.sqrt(1.0 - beta) * x + torch.sqrt(beta) * noise


def q_sample(
    x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alpha_bars: torch.Tensor
) -> torch.Tensor:
    alpha_bar = alpha_bars[t].unsqueeze(1)
    return torch.sqrt(alpha_bar) * x_start + torch.sqrt(1.0 - alpha_bar) * noise


# ----- task 3: the model, the loss and training -------------------------------------------------
def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = t.to(torch.float32).unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class Denoiser(nn.Module):
    def __init__(self, hidden: int = 128, emb_dim: int = 32) -> None:
        super().__init__()
        self.emb_dim = emb_dim
        self.point = nn.Linear(2, hidden)
        self.time = nn.Linear(emb_dim, hidden)
        self.body = nn.Sequential(
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.body(self.point(x) + self.time(time_embedding(t, self.emb_dim)))


def diffusion_loss(
    model: nn.Module, x_start: torch.Tensor, alpha_bars: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    n = x_start.shape[0]
    t = torch.randint(0, alpha_bars.shape[0], (n,), generator=generator)
    noise = torch.randn(x_start.shape, generator=generator)
    x_t = q_sample(x_start, t, noise, alpha_bars)
    return F.mse_loss(model(x_t, t), noise)


def train(
    model: nn.Module,
    data: torch.Tensor,
    alpha_bars: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * (1.0 - step / steps)
        batch = data[torch.randint(0, data.shape[0], (batch_size,), generator=generator)]
        loss = diffusion_loss(model, batch, alpha_bars, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# ----- task 4: sampling -------------------------------------------------------------------------
@torch.no_grad()
def p_sample_step(
    model: nn.Module, x_t: torch.Tensor, t: int, schedule: Schedule, noise: torch.Tensor
) -> torch.Tensor:
    betas, alphas, alpha_bars = schedule
    eps = model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    x_t -= betas[t] / torch.sqrt(1.0 - alpha_bars[t]) * eps
    mean = x_t / torch.sqrt(alphas[t])
    if t == 0:
        return mean
    return mean + torch.sqrt(betas[t]) * noise


@torch.no_grad()
def sample(
    model: nn.Module, n: int, schedule: Schedule, generator: torch.Generator
) -> torch.Tensor:
    T = schedule[0].shape[0]
    x = torch.randn((n, 2), generator=generator)
    for t in reversed(range(T)):
        noise = torch.randn((n, 2), generator=generator) if t > 0 else torch.zeros(n, 2)
        x = p_sample_step(model, x, t, schedule, noise)
    return x


# ----- task 5: how close are the samples? -------------------------------------------------------
def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.to(torch.float64), b.to(torch.float64)
    cross = torch.cdist(a, b).mean()
    within_a = torch.cdist(a, a).mean()
    within_b = torch.cdist(b, b).mean()
    return float(2.0 * cross - within_a - within_b)
