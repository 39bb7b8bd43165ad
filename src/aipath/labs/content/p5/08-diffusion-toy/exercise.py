"""p5-diffusion-toy: a denoising diffusion model (DDPM) on 2-D points, from the noise schedule to
samples that look like the data.

Edit this file, then run `aipath check p5-diffusion-toy`. README.md states each contract.

Steps are numbered t = 0, 1, ..., T - 1, as the arrays are indexed: noising step t turns the
sample before it (the clean data ``x_start`` when t = 0) into x_t. Every tensor is float32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: F401  (F.mse_loss is one way to write task 3)
from torch import nn

Schedule = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (betas, alphas, alpha_bars)


def two_moons(n: int, generator: torch.Generator, noise: float = 0.05) -> torch.Tensor:
    """n points of two interleaved half circles, scaled to about zero mean and unit spread.

    A ready-made data set to try your model on (the checks draw theirs the same way).

    >>> two_moons(3, torch.Generator().manual_seed(0))
    tensor([[-0.4046, -0.3747],
            [ 0.0883,  1.0844],
            [-1.0897,  1.4314]])
    """
    upper = torch.randint(0, 2, (n,), generator=generator).bool()
    angle = torch.rand(n, generator=generator) * math.pi
    x = torch.where(upper, angle.cos(), 1.0 - angle.cos())
    y = torch.where(upper, angle.sin(), 0.5 - angle.sin())
    points = torch.stack([x, y], dim=1) + noise * torch.randn((n, 2), generator=generator)
    return (points - torch.tensor([0.5, 0.25])) / torch.tensor([0.87, 0.5])


# ----- task 1: the noise schedule ---------------------------------------------------------------
def linear_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """(betas, alphas, alpha_bars), three float32 tensors of shape (T,).

    betas[t] is the variance step t adds, from beta_start (t = 0) to beta_end (t = T - 1) in
    equal increments; alphas[t] = 1 - betas[t]; alpha_bars[t] = alphas[0] * ... * alphas[t], the
    share of the signal's variance left after steps 0..t.

    >>> linear_schedule(5, 0.1, 0.5)
    (tensor([0.1000, 0.2000, 0.3000, 0.4000, 0.5000]),
     tensor([0.9000, 0.8000, 0.7000, 0.6000, 0.5000]),
     tensor([0.9000, 0.7200, 0.5040, 0.3024, 0.1512]))
    """
    raise NotImplementedError  # TODO


# ----- task 2: the forward process --------------------------------------------------------------
def q_step(
    x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, betas: torch.Tensor
) -> torch.Tensor:
    """One noising step per row: sqrt(1 - betas[t]) * x + sqrt(betas[t]) * noise.

    x and noise are (N, D); t is a (N,) long tensor, one step per row. Returns a new (N, D)
    tensor; the inputs are not changed.

    >>> betas, alphas, alpha_bars = linear_schedule(5, 0.1, 0.5)
    >>> x = torch.tensor([[1.0, 2.0], [1.0, 2.0]])
    >>> noise = torch.tensor([[0.5, -1.0], [0.5, -1.0]])
    >>> q_step(x, torch.tensor([0, 4]), noise, betas)
    tensor([[1.1068, 1.5811],
            [1.0607, 0.7071]])
    """
    raise NotImplementedError  # TODO


def q_sample(
    x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alpha_bars: torch.Tensor
) -> torch.Tensor:
    """x_t straight from the clean data: sqrt(alpha_bars[t]) * x_start + sqrt(1 - alpha_bars[t])
    * noise, row by row (shapes as in q_step).

    >>> q_sample(x, torch.tensor([0, 4]), noise, alpha_bars)   # x, noise as above
    tensor([[ 1.1068,  1.5811],
            [ 0.8495, -0.1436]])
    """
    raise NotImplementedError  # TODO


# ----- task 3: the model, the loss and training -------------------------------------------------
def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of the steps: (N,) long -> (N, dim) float32 (dim even).

    With half = dim // 2 and freqs[k] = exp(-ln(10000) * k / half) for k = 0..half - 1, the
    first half of each row is sin(t * freqs), the second half cos(t * freqs).

    >>> time_embedding(torch.tensor([0, 3]), 4)
    tensor([[ 0.0000,  0.0000,  1.0000,  1.0000],
            [ 0.1411,  0.0300, -0.9900,  0.9996]])
    """
    raise NotImplementedError  # TODO


class Denoiser(nn.Module):
    """model(x_t, t) -> the predicted noise ε: x_t (N, 2) float32, t (N,) long -> (N, 2).

    An MLP over the point and time_embedding(t, emb_dim); `hidden` is its width.
    """

    def __init__(self, hidden: int = 128, emb_dim: int = 32) -> None:
        super().__init__()
        # TODO: create the layers
        raise NotImplementedError

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # TODO


def diffusion_loss(
    model: nn.Module, x_start: torch.Tensor, alpha_bars: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """The DDPM training loss on one batch, a scalar tensor you can call .backward() on.

    A step t per row, uniform over 0..T - 1 (T = len(alpha_bars)), and standard normal noise ε
    of x_start's shape, both drawn from `generator`; x_t = q_sample(x_start, t, ε, alpha_bars);
    the loss is the mean squared error between model(x_t, t) and ε.
    """
    raise NotImplementedError  # TODO


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
    """Adam on diffusion_loss for `steps` steps; returns each step's loss as a float.

    Each step draws batch_size rows of data (with replacement) from `generator` and uses the
    learning rate lr * (1 - step / steps) for step = 0, 1, ..., steps - 1.
    """
    raise NotImplementedError  # TODO


# ----- task 4: sampling -------------------------------------------------------------------------
def p_sample_step(
    model: nn.Module, x_t: torch.Tensor, t: int, schedule: Schedule, noise: torch.Tensor
) -> torch.Tensor:
    """One reverse step, from x_t to the sample before step t, without autograd.

    mean = (x_t - betas[t] / sqrt(1 - alpha_bars[t]) * ε) / sqrt(alphas[t]) with ε the model's
    prediction at step t (called with a (N,) long tensor of t); returns mean + sqrt(betas[t]) *
    noise, or the mean alone when t == 0.
    """
    raise NotImplementedError  # TODO


def sample(
    model: nn.Module, n: int, schedule: Schedule, generator: torch.Generator
) -> torch.Tensor:
    """n new points, (n, 2): start from standard normal x, run p_sample_step for t = T - 1 down
    to 0, with every random number from `generator`. Without autograd.
    """
    raise NotImplementedError  # TODO


# ----- task 5: how close are the samples? -------------------------------------------------------
def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """2·E|a - b| - E|a - a'| - E|b - b'|, the means over all pairs of rows (Euclidean distance).

    a is (n, D), b is (m, D); 0 for two identical clouds, larger the more they differ.

    >>> energy_distance(torch.zeros(1, 2), torch.tensor([[3.0, 4.0]]))
    10.0
    """
    raise NotImplementedError  # TODO
