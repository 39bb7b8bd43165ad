"""Alternative: loops and the x0 route. The schedule's product by hand, q_step through
alphas, and a reverse step that first estimates x_start from the predicted noise and then takes
the mean of q(x_{t-1} | x_t, x_start) with the posterior coefficients (algebraically the same
mean as the ε form)."""

from __future__ import annotations

import math

import torch
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
    step = (beta_end - beta_start) / (T - 1) if T > 1 else 0.0
    betas = torch.tensor([beta_start + i * step for i in range(T)], dtype=torch.float32)
    alphas = 1.0 - betas
    products = []
    running = 1.0
    for a in alphas.tolist():
        running *= a
        products.append(running)
    return betas, alphas, torch.tensor(products, dtype=torch.float32)


# ----- task 2: the forward process --------------------------------------------------------------
def q_step(
    x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, betas: torch.Tensor
) -> torch.Tensor:
    alpha = (1.0 - betas)[t].reshape(-1, 1)
    return alpha.sqrt() * x + (1.0 - alpha).sqrt() * noise


def q_sample(
    x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alpha_bars: torch.Tensor
) -> torch.Tensor:
    signal = alpha_bars.sqrt()[t][:, None]
    spread = (1.0 - alpha_bars).sqrt()[t][:, None]
    return signal * x_start + spread * noise


# ----- task 3: the model, the loss and training -------------------------------------------------
def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    out = torch.empty(len(t), dim)
    for k in range(half):
        freq = 10000.0 ** (-k / half)
        out[:, k] = torch.sin(t.float() * freq)
        out[:, half + k] = torch.cos(t.float() * freq)
    return out


class Denoiser(nn.Module):
    """The embedding concatenated to the point at the input."""

    def __init__(self, hidden: int = 128, emb_dim: int = 32) -> None:
        super().__init__()
        self.emb_dim = emb_dim
        self.net = nn.Sequential(
            nn.Linear(2 + emb_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, time_embedding(t, self.emb_dim)], dim=1))


def diffusion_loss(
    model: nn.Module, x_start: torch.Tensor, alpha_bars: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    noise = torch.randn(x_start.shape, generator=generator)  # ε first, then t: any order is fine
    t = torch.randint(len(alpha_bars), (len(x_start),), generator=generator)
    prediction = model(q_sample(x_start, t, noise, alpha_bars), t)
    return ((prediction - noise) ** 2).mean()


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
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1.0 - i / steps)
    losses = []
    for _ in range(steps):
        rows = torch.randint(len(data), (batch_size,), generator=generator)
        optimizer.zero_grad()
        loss = diffusion_loss(model, data[rows], alpha_bars, generator)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(float(loss))
    return losses


# ----- task 4: sampling -------------------------------------------------------------------------
def p_sample_step(
    model: nn.Module, x_t: torch.Tensor, t: int, schedule: Schedule, noise: torch.Tensor
) -> torch.Tensor:
    betas, alphas, alpha_bars = schedule
    with torch.no_grad():
        eps = model(x_t, torch.full((len(x_t),), t, dtype=torch.long))
        x_start = (x_t - (1.0 - alpha_bars[t]).sqrt() * eps) / alpha_bars[t].sqrt()
        prev = alpha_bars[t - 1] if t > 0 else torch.tensor(1.0)
        c_start = prev.sqrt() * betas[t] / (1.0 - alpha_bars[t])
        c_t = alphas[t].sqrt() * (1.0 - prev) / (1.0 - alpha_bars[t])
        mean = c_start * x_start + c_t * x_t
        if t > 0:
            mean = mean + betas[t].sqrt() * noise
    return mean


def sample(
    model: nn.Module, n: int, schedule: Schedule, generator: torch.Generator
) -> torch.Tensor:
    T = len(schedule[0])
    with torch.no_grad():
        x = torch.randn((n, 2), generator=generator)
        t = T - 1
        while t >= 0:
            noise = torch.randn((n, 2), generator=generator)
            x = p_sample_step(model, x, t, schedule, noise)
            t -= 1
    return x


# ----- task 5: how close are the samples? -------------------------------------------------------
def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()

    def mean_distance(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return (p[:, None, :] - q[None, :, :]).norm(dim=2).mean()

    return (2 * mean_distance(a, b) - mean_distance(a, a) - mean_distance(b, b)).item()
