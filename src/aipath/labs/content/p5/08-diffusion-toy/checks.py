"""Checks for p5-diffusion-toy.

Every reference is the check's own: the schedule in float64 (cast to float32), the closed-form
forward process, the reverse-step formula, the energy distance. The learner's functions are
called on copies and judged three ways:

* exactly, against the formula, with a table of known mistakes computed on the same input
  (schedule, one forward step, the closed form, the time embedding, one reverse step);
* by watching: the check hands over models of its own that record every call (which x_t and
  which t the loss fed the model, which t the sampler visited, in which order) and reconstructs
  from the record what must hold whatever the order of the random draws: the ε hidden in x_t,
  the loss as the MSE against it, the fresh noise the sampler added at each step;
* by the result: the learner's model, trained by the learner's loop for a fixed budget and
  sampled by the learner's sampler, must produce points whose energy distance to held-out data
  is well below that of the best single Gaussian.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch._dynamo  # Adam's constructor imports it lazily (seconds): preloaded by the worker
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from aipath.checks import (
    CheckFailure,
    assert_close,
    assert_reaches,
    assert_tensor,
    assert_tuple,
    assert_unchanged,
    call_with_inputs,
    copied,
    describe_inputs,
    fail,
    fmt,
    once_per_run,
    seed_everything,
)

# A short schedule with big steps (off the defaults), used by tasks 1–4.
T_SMALL, B0_SMALL, B1_SMALL = 12, 1e-3, 0.2
# The training budget of task 5.
T_TRAIN, B0_TRAIN, B1_TRAIN = 100, 1e-4, 0.1
STEPS, BATCH, LR = 1500, 256, 5e-3
N_DATA, N_SAMPLES = 4000, 4000
QUALITY_FACTOR = 0.5  # the samples must be at most half as far from the data as a Gaussian fit
LOSS_TARGET = 0.45  # mean of the last 100 losses; the reference reaches about 0.34


# ----- references -------------------------------------------------------------------------------
def ref_schedule(T: int, b0: float, b1: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    betas = torch.linspace(b0, b1, T, dtype=torch.float64)
    alphas = 1.0 - betas
    return betas.float(), alphas.float(), torch.cumprod(alphas, 0).float()


def two_moons(n: int, seed: int, noise: float = 0.05) -> torch.Tensor:
    """The README's data set, drawn the same way as exercise.two_moons."""
    generator = torch.Generator().manual_seed(seed)
    upper = torch.randint(0, 2, (n,), generator=generator).bool()
    angle = torch.rand(n, generator=generator) * math.pi
    x = torch.where(upper, angle.cos(), 1.0 - angle.cos())
    y = torch.where(upper, angle.sin(), 0.5 - angle.sin())
    points = torch.stack([x, y], dim=1) + noise * torch.randn((n, 2), generator=generator)
    return (points - torch.tensor([0.5, 0.25])) / torch.tensor([0.87, 0.5])


def ref_energy(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float(2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def col(v: torch.Tensor) -> torch.Tensor:
    return v.unsqueeze(1)


class EpsNet(nn.Module):
    """The check's own small ε-predictor: model(x, t) with x (N, 2) and t a (N,) long tensor."""

    def __init__(self, hidden: int = 32, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng():  # the caller's global stream is left as it was
            torch.manual_seed(seed)
            self.point = nn.Linear(2, hidden)
            self.time = nn.Linear(8, hidden)
            self.out = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        tt = torch.as_tensor(t).to(torch.float32).reshape(-1, 1)
        freqs = torch.exp(-math.log(1000.0) * torch.arange(4) / 4)
        emb = torch.cat([torch.sin(tt * freqs), torch.cos(tt * freqs)], dim=1)
        return self.out(torch.tanh(self.point(x) + self.time(emb)))


class Recorder(nn.Module):
    """Wraps a model(x, t) and records every call: x, t (as given) and the output."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[tuple[torch.Tensor, Any, torch.Tensor]] = []

    def forward(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        out = self.inner(x, t)
        given = t.detach().clone() if isinstance(t, torch.Tensor) else t
        self.calls.append((x.detach().clone(), given, out.detach().clone()))
        return out


PER_ROW_HINT = (
    "A per-sample coefficient such as betas[t] has shape (N,); against an (N, D) tensor it must "
    "be (N, 1), e.g. betas[t][:, None], to scale each row"
)


def call_on_copies(
    what: str, func: Callable[..., Any], *, shape_hint: str = PER_ROW_HINT, **inputs: Any
) -> Any:
    """func(*inputs.values()) on copies, positionally; fails if it changed them in place. A
    broadcasting crash gets ``shape_hint``."""
    passed = copied(dict(inputs))
    try:
        got = call_with_inputs(what, func, *passed.values(), given=describe_inputs(inputs))
    except CheckFailure as exc:
        text = str(exc)
        if "must match the size" in text and shape_hint:
            fail(f"{text}. {shape_hint}")
        raise
    assert_unchanged(what, passed, inputs)
    return got


def float_tensor(value: Any, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    if value is None:
        fail(f"{name} is None: did you forget to `return` it?")
    if not isinstance(value, torch.Tensor):
        fail(f"{name} should be a torch.Tensor; got {type(value).__name__}")
    if tuple(value.shape) != shape:
        fail(f"{name} has shape {tuple(value.shape)}; expected {shape}")
    if value.dtype != torch.float32:
        fail(f"{name} has dtype {value.dtype}; expected torch.float32")
    return value


# ----- task 1: the schedule ---------------------------------------------------------------------
def schedule_mistakes(T: int, b0: float, b1: float) -> dict[str, dict[str, Callable[[], Any]]]:
    betas, alphas, abar = (v.double() for v in ref_schedule(T, b0, b1))
    idx = torch.arange(T, dtype=torch.float64)
    return {
        "betas": {
            "beta_start and beta_end swapped (β must grow with t: later steps add more noise)": (
                lambda: torch.linspace(b1, b0, T)
            ),
            "T + 1 points with the first dropped (off by one: betas[0] must be beta_start)": (
                lambda: torch.linspace(b0, b1, T + 1)[1:]
            ),
            "T + 1 points with the last dropped, as torch.arange(beta_start, beta_end, step) "
            "gives (betas[T - 1] must be beta_end: linspace includes both ends)": (
                lambda: torch.linspace(b0, b1, T + 1)[:-1]
            ),
            "a geometric schedule (logspace): the README's β grows linearly": lambda: (
                torch.logspace(math.log10(b0), math.log10(b1), T)
            ),
        },
        "alphas": {
            "α = β: α_t is 1 − β_t": lambda: betas,
            "α = sqrt(1 − β) (the square root belongs in the step, not in α)": lambda: torch.sqrt(
                1 - betas
            ),
        },
        "alpha_bars": {
            "a cumulative sum (cumsum) of α: ᾱ_t is the product α_0·α_1·…·α_t": lambda: (
                torch.cumsum(alphas, 0)
            ),
            "1 − cumsum(β), only the first-order approximation of the product": lambda: (
                1 - torch.cumsum(betas, 0)
            ),
            "exp(−cumsum(β)), only an approximation of the product": lambda: torch.exp(
                -torch.cumsum(betas, 0)
            ),
            "a cumulative product of β instead of α": lambda: torch.cumprod(betas, 0),
            "ᾱ shifted by one step (ᾱ[0] = 1, an exclusive product): alpha_bars[t] includes "
            "α_t": lambda: torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]]),
            "the product of all α, the same for every t": lambda: torch.full((T,), float(abar[-1])),
            "α_t ** (t + 1): a power of one α instead of the product of all α up to t": lambda: (
                alphas ** (idx + 1)
            ),
            "α_t ** t: a power of one α instead of the product of all α up to t": lambda: (
                alphas**idx
            ),
            "a cumulative product of sqrt(α)": lambda: torch.cumprod(torch.sqrt(alphas), 0),
            "a cumulative product taken from the last step backwards": lambda: torch.flip(
                torch.cumprod(torch.flip(alphas, [0]), 0), [0]
            ),
        },
    }


def check_schedule(learner: Any, T: int, b0: float, b1: float, *, defaults: bool = False) -> None:
    if defaults:
        name = f"linear_schedule({T})"
        result = call_with_inputs(name, learner.linear_schedule, T, given=f"T {T}")
    else:
        name = f"linear_schedule({T}, beta_start={b0}, beta_end={b1})"
        result = call_with_inputs(
            name, learner.linear_schedule, T, beta_start=b0, beta_end=b1, given=f"T {T}"
        )
    parts = assert_tuple(result, ("betas", "alphas", "alpha_bars"), name)
    want = ref_schedule(T, b0, b1)
    labels = ("betas", "alphas", "alpha_bars")
    for label, got in zip(labels, parts, strict=True):
        if not isinstance(got, torch.Tensor):
            fail(f"{label} from {name} should be a torch.Tensor; got {type(got).__name__}")
        if tuple(got.shape) != (T,):
            fail(f"{label} from {name} has shape {tuple(got.shape)}; expected ({T},), one per step")
    betas, alphas, _abar = parts
    if torch.allclose(betas.double(), want[1].double(), rtol=1e-4) and torch.allclose(
        alphas.double(), want[0].double(), rtol=1e-4
    ):
        fail(
            f"{name} returned (alphas, betas, ...): β and α are swapped; return (betas, alphas, alpha_bars)"
        )
    table = schedule_mistakes(T, b0, b1)
    for label, got, ref in zip(labels, parts, want, strict=True):
        what = f"{label} from {name}"
        if defaults and not torch.allclose(got.double(), ref.double(), rtol=1e-4, atol=1e-7):
            fail(
                f"{what} differs from linear_schedule({T}, beta_start=1e-4, beta_end=0.02): the "
                "defaults must be beta_start=1e-4 and beta_end=0.02"
            )
        assert_tensor(
            got, ref, name=what, rtol=1e-4, atol=1e-7, requires_grad=False, mistakes=table[label]
        )


@pytest.mark.task(1)
def test_linear_schedule(learner: Any) -> None:
    check_schedule(learner, T_SMALL, B0_SMALL, B1_SMALL)
    check_schedule(learner, 1000, 1e-4, 0.02)
    check_schedule(learner, 1000, 1e-4, 0.02, defaults=True)


# ----- task 2: the forward process --------------------------------------------------------------
def forward_cases() -> list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(label, x, t, noise): a 2 × 2 batch (where an (N,) coefficient broadcasts silently along
    the wrong axis), per-sample steps including 0 and T − 1, and 3-D points."""
    g = gen(11)
    return [
        ("2 points", torch.randn((2, 2), generator=g), torch.tensor([1, 9]),
         torch.randn((2, 2), generator=g)),
        ("5 points", torch.randn((5, 2), generator=g), torch.tensor([0, 3, 11, 3, 7]),
         torch.randn((5, 2), generator=g)),
        ("4 points in 3-D", torch.randn((4, 3), generator=g), torch.tensor([2, 0, 5, 11]),
         torch.randn((4, 3), generator=g)),
    ]  # fmt: skip


def mix(
    x: torch.Tensor, noise: torch.Tensor, keep: torch.Tensor, add: torch.Tensor
) -> torch.Tensor:
    """keep and add per sample, (N,)."""
    return col(keep) * x + col(add) * noise


def step_mistakes(
    x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, betas: torch.Tensor
) -> dict[str, Callable[[], Any]]:
    b = betas[t]
    table: dict[str, Callable[[], Any]] = {
        "the coefficients without square roots, (1 − β)·x + β·ε": lambda: mix(x, noise, 1 - b, b),
        "the square root missing on the noise, sqrt(1 − β)·x + β·ε": lambda: mix(
            x, noise, torch.sqrt(1 - b), b
        ),
        "the square root missing on the signal, (1 − β)·x + sqrt(β)·ε": lambda: mix(
            x, noise, 1 - b, torch.sqrt(b)
        ),
        "β and 1 − β swapped, sqrt(β)·x + sqrt(1 − β)·ε": lambda: mix(
            x, noise, torch.sqrt(b), torch.sqrt(1 - b)
        ),
        "x not scaled down, x + sqrt(β)·ε (the signal must shrink by sqrt(1 − β) to keep the "
        "variance at 1)": lambda: mix(x, noise, torch.ones_like(b), torch.sqrt(b)),
        "the noise left out": lambda: mix(x, noise, torch.sqrt(1 - b), torch.zeros_like(b)),
        "betas[t - 1]: step t adds betas[t]": lambda: mix(
            x, noise, torch.sqrt(1 - betas[t - 1]), torch.sqrt(betas[t - 1])
        ),
        "betas[t + 1]: step t adds betas[t]": lambda: mix(
            x, noise, torch.sqrt(1 - betas[(t + 1).clamp(max=len(betas) - 1)]),
            torch.sqrt(betas[(t + 1).clamp(max=len(betas) - 1)]),
        ),
        "one step for the whole batch, t[0] (each row has its own t)": lambda: mix(
            x, noise, torch.sqrt(1 - b[:1].expand_as(b)), torch.sqrt(b[:1].expand_as(b))
        ),
    }  # fmt: skip
    if x.shape[0] == x.shape[1]:
        table[
            "betas[t] (shape (N,)) broadcast along the coordinates instead of the rows: make it "
            "(N, 1), betas[t][:, None]"
        ] = lambda: torch.sqrt(1 - b)[None, :] * x + torch.sqrt(b)[None, :] * noise
    return table


def sample_mistakes(
    x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, abar: torch.Tensor
) -> dict[str, Callable[[], Any]]:
    a = abar[t]
    last = len(abar) - 1
    table: dict[str, Callable[[], Any]] = {
        "the coefficients without square roots, ᾱ·x0 + (1 − ᾱ)·ε": lambda: mix(x, noise, a, 1 - a),
        "the square root missing on the noise, sqrt(ᾱ)·x0 + (1 − ᾱ)·ε": lambda: mix(
            x, noise, torch.sqrt(a), 1 - a
        ),
        "the square root missing on the signal, ᾱ·x0 + sqrt(1 − ᾱ)·ε": lambda: mix(
            x, noise, a, torch.sqrt(1 - a)
        ),
        "ᾱ and 1 − ᾱ swapped, sqrt(1 − ᾱ)·x0 + sqrt(ᾱ)·ε": lambda: mix(
            x, noise, torch.sqrt(1 - a), torch.sqrt(a)
        ),
        "x0 not scaled down, x0 + sqrt(1 − ᾱ)·ε": lambda: mix(
            x, noise, torch.ones_like(a), torch.sqrt(1 - a)
        ),
        "sqrt(ᾱ)·x0 + (1 − sqrt(ᾱ))·ε: the two variances, not the two coefficients, sum to "
        "1": lambda: mix(x, noise, torch.sqrt(a), 1 - torch.sqrt(a)),
        "the noise left out": lambda: mix(x, noise, torch.sqrt(a), torch.zeros_like(a)),
        "alpha_bars[t - 1]: after step t the signal kept is alpha_bars[t]": lambda: mix(
            x, noise, torch.sqrt(abar[t - 1]), torch.sqrt(1 - abar[t - 1])
        ),
        "alpha_bars[t + 1]: after step t the signal kept is alpha_bars[t]": lambda: mix(
            x, noise, torch.sqrt(abar[(t + 1).clamp(max=last)]),
            torch.sqrt(1 - abar[(t + 1).clamp(max=last)]),
        ),
        "one step for the whole batch, t[0] (each row has its own t)": lambda: mix(
            x, noise, torch.sqrt(a[:1].expand_as(a)), torch.sqrt(1 - a[:1].expand_as(a))
        ),
    }  # fmt: skip
    if x.shape[0] == x.shape[1]:
        table[
            "alpha_bars[t] (shape (N,)) broadcast along the coordinates instead of the rows: "
            "make it (N, 1), alpha_bars[t][:, None]"
        ] = lambda: torch.sqrt(a)[None, :] * x + torch.sqrt(1 - a)[None, :] * noise
    return table


def same_inputs_same_output(
    name: str, func: Callable[..., Any], got: torch.Tensor, *args: torch.Tensor
) -> None:
    if not isinstance(got, torch.Tensor):
        return
    again = call_with_inputs(name, func, *(a.clone() for a in args))
    if not (isinstance(again, torch.Tensor) and torch.equal(again, got)):
        fail(
            f"{name} gave a different result the second time for the same inputs: use the "
            "noise you are given, do not draw your own"
        )


@pytest.mark.task(2)
def test_q_step(learner: Any) -> None:
    betas, _alphas, _abar = ref_schedule(T_SMALL, B0_SMALL, B1_SMALL)
    for label, x, t, noise in forward_cases():
        name = f"q_step(x, t={t.tolist()}, noise, betas) on {label}"
        got = call_on_copies(name, learner.q_step, x=x, t=t, noise=noise, betas=betas)
        b = col(betas[t])
        want = torch.sqrt(1 - b) * x + torch.sqrt(b) * noise
        if isinstance(got, torch.Tensor) and tuple(got.shape) != tuple(x.shape):
            fail(
                f"{name} has shape {tuple(got.shape)}; expected {tuple(x.shape)}, the shape of x "
                "(an (N,) coefficient times an (N, D) tensor must be made (N, 1) first)"
            )
        same_inputs_same_output(name, learner.q_step, got, x, t, noise, betas)
        assert_tensor(
            got, want, name=name, rtol=1e-5, atol=1e-6, mistakes=step_mistakes(x, t, noise, betas)
        )


@pytest.mark.task(2)
def test_q_sample(learner: Any) -> None:
    _betas, _alphas, abar = ref_schedule(T_SMALL, B0_SMALL, B1_SMALL)
    for label, x, t, noise in forward_cases():
        name = f"q_sample(x_start, t={t.tolist()}, noise, alpha_bars) on {label}"
        got = call_on_copies(name, learner.q_sample, x_start=x, t=t, noise=noise, alpha_bars=abar)
        a = col(abar[t])
        want = torch.sqrt(a) * x + torch.sqrt(1 - a) * noise
        if isinstance(got, torch.Tensor) and tuple(got.shape) != tuple(x.shape):
            fail(
                f"{name} has shape {tuple(got.shape)}; expected {tuple(x.shape)}, the shape of "
                "x_start (an (N,) coefficient times an (N, D) tensor must be made (N, 1) first)"
            )
        same_inputs_same_output(name, learner.q_sample, got, x, t, noise, abar)
        assert_tensor(
            got, want, name=name, rtol=1e-5, atol=1e-6, mistakes=sample_mistakes(x, t, noise, abar)
        )


@pytest.mark.task(2)
def test_closed_form_matches_iterated_steps(learner: Any) -> None:
    """Iterating q_step t + 1 times and one call of q_sample must give the same distribution:
    mean sqrt(ᾱ_t)·x0 and variance 1 − ᾱ_t in each coordinate."""
    betas, _alphas, abar = ref_schedule(T_SMALL, B0_SMALL, B1_SMALL)
    points = torch.tensor([[2.0, -1.0], [0.0, 0.5], [-1.5, 1.5]])
    steps = (0, 5, T_SMALL - 1)
    n = 1500
    x0 = points.repeat_interleave(n * len(steps), dim=0)
    t = torch.tensor(steps).repeat_interleave(n).repeat(len(points))
    g = gen(5)
    few = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])
    for func in (learner.q_step, learner.q_sample):
        name = f"{func.__name__}(x of 3 points, t=[0, 5, 11], noise, ...)"
        got = call_with_inputs(name, func, few, torch.tensor([0, 5, 11]), few.clone(), betas)
        float_tensor(got, name, (3, 2))  # before a batch of 13,500 rows
    x = x0.clone()
    for k in range(T_SMALL):
        rows = t >= k
        got = call_with_inputs(
            f"q_step(x, t, noise, betas) at step {k}",
            learner.q_step,
            x[rows].clone(),
            torch.full((int(rows.sum()),), k),
            torch.randn((int(rows.sum()), 2), generator=g),
            betas.clone(),
        )
        x[rows] = float_tensor(got, f"q_step(...) at step {k}", (int(rows.sum()), 2))
    closed = call_with_inputs(
        "q_sample(x_start, t, noise, alpha_bars)",
        learner.q_sample,
        x0.clone(),
        t.clone(),
        torch.randn(x0.shape, generator=g),
        abar.clone(),
    )
    closed = float_tensor(closed, "q_sample(x_start, t, noise, alpha_bars)", tuple(x0.shape))
    for point in points:
        for s in steps:
            rows = (x0 == point).all(dim=1) & (t == s)
            mean_want = math.sqrt(float(abar[s])) * point
            var_want = 1.0 - float(abar[s])
            for label, values in (
                (f"iterating q_step over steps 0..{s}", x[rows]),
                (f"q_sample(x_start, t={s})", closed[rows]),
            ):
                mean, var = values.mean(dim=0), values.var(dim=0)
                mean_band = 5 * math.sqrt(var_want / n)
                var_band = 5 * var_want * math.sqrt(2 / n)
                if (mean - mean_want).abs().max() > mean_band or (
                    var - var_want
                ).abs().max() > var_band:
                    fail(
                        f"{label} from x0 = {fmt(point.tolist())}, {n} times with fresh noise: "
                        f"the points have mean {fmt(mean.tolist())} and variance "
                        f"{fmt(var.tolist())}; expected mean sqrt(ᾱ_{s})·x0 = "
                        f"{fmt(mean_want.tolist())} ± {mean_band:.3f} and variance 1 − ᾱ_{s} = "
                        f"{var_want:.4f} ± {var_band:.4f} (ᾱ_{s} = {float(abar[s]):.4f}). "
                        "q_sample in one call must agree with q_step applied t + 1 times"
                    )


# ----- task 3: model, loss, training ------------------------------------------------------------
def ref_embedding(t: torch.Tensor, dim: int, variant: str = "") -> torch.Tensor:
    half = dim // 2
    k = torch.arange(half, dtype=torch.float64)
    denominator = {"half_minus_one": max(half - 1, 1), "over_dim": dim}.get(variant, half)
    sign = 1.0 if variant == "rising" else -1.0
    freqs = torch.exp(sign * math.log(10000.0) * k / denominator)
    tt = t.double() + (1.0 if variant == "t_plus_one" else 0.0)
    if variant == "over_1000":
        tt = tt / 1000.0
    angles = tt[:, None] * freqs[None, :]
    s, c = torch.sin(angles), torch.cos(angles)
    if variant == "cos_first":
        out = torch.cat([c, s], dim=1)
    elif variant == "interleaved":
        out = torch.stack([s, c], dim=2).reshape(len(t), dim)
    else:
        out = torch.cat([s, c], dim=1)
    return out.float()


EMBEDDING_MISTAKES = {
    "sines and cosines interleaved (sin, cos, sin, cos, …): the README puts all the sines "
    "first, then all the cosines": "interleaved",
    "the cosines first, then the sines": "cos_first",
    "frequencies exp(−ln(10000)·k/(dim/2 − 1)): the exponent divides by dim/2": "half_minus_one",
    "frequencies exp(−ln(10000)·k/dim): the exponent divides by dim/2": "over_dim",
    "rising frequencies 10000^(k/(dim/2)): they must fall, 10000^(−k/(dim/2))": "rising",
    "t + 1 instead of t": "t_plus_one",
    "t divided by 1000: the angles use the step index t itself": "over_1000",
}


def small_t_mistake(name: str, got: Any, t: torch.Tensor, dim: int) -> None:
    """Name a known mistake from the rows of t = 0 and 1 alone: with rising frequencies the
    angles of t = 999 reach 10⁶ rad, where float32 and float64 sines part ways."""
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (len(t), dim):
        return
    rows = t <= 1
    mine = got.detach().double()[rows]
    if torch.allclose(mine, ref_embedding(t, dim)[rows].double(), atol=1e-3):
        return
    for text, variant in EMBEDDING_MISTAKES.items():
        if torch.allclose(mine, ref_embedding(t, dim, variant)[rows].double(), atol=1e-3):
            fail(
                f"{name} looks like {text}. Its rows for t = {t[rows].tolist()} are "
                f"{fmt(mine[:, : dim // 2].tolist())} (the sines)"
            )


@pytest.mark.task(3)
def test_time_embedding(learner: Any) -> None:
    t = torch.tensor([0, 1, 5, 42, 999])
    for dim in (8, 32):
        name = f"time_embedding(t={t.tolist()}, dim={dim})"
        got = call_on_copies(name, learner.time_embedding, t=t, dim=dim)
        small_t_mistake(name, got, t, dim)
        assert_tensor(
            got,
            ref_embedding(t, dim),
            name=name,
            rtol=1e-4,
            atol=3e-4,  # float32 angles up to 999 rad carry an error of about 1e-4
            mistakes={
                k: (lambda v=v, d=dim: ref_embedding(t, d, v))
                for k, v in EMBEDDING_MISTAKES.items()
            },
        )


def build_denoiser(learner: Any, **kwargs: Any) -> nn.Module:
    what = f"Denoiser({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    model = call_with_inputs(what, learner.Denoiser, given="the arguments shown", **kwargs)
    if not isinstance(model, nn.Module):
        fail(f"{what} should be a torch.nn.Module; got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        fail(f"{what} has no trainable parameters: create its layers in __init__")
    return model


@pytest.mark.task(3)
def test_denoiser(learner: Any) -> None:
    seed_everything(0)
    x = torch.randn((7, 2), generator=gen(3))
    t = torch.tensor([0, 1, 10, 99, 500, 998, 999])
    for kwargs in ({}, {"hidden": 64, "emb_dim": 16}):
        model = build_denoiser(learner, **kwargs)
        name = f"Denoiser({', '.join(f'{k}={v}' for k, v in kwargs.items())})(x, t)"
        out = call_with_inputs(name, model, x.clone(), t.clone(), given="x (7, 2), t (7,) long")
        out = float_tensor(out, name, (7, 2))
        if not out.requires_grad:
            fail(f"{name} does not require grad: the output must come from the model's layers")
        if not torch.isfinite(out).all():
            fail(f"{name} contains NaN or inf (t up to 999 must work)")
        other = call_with_inputs(
            name, model, x.clone(), torch.full((7,), 50), given="x (7, 2), t (7,) long"
        )
        if torch.allclose(out, other, atol=1e-7):
            fail(
                f"{name} gives the same output for t = {t.tolist()} and for t = 50 everywhere: "
                "the model must depend on t (feed it the time embedding)"
            )


def loss_run(
    learner: Any, x0: torch.Tensor, abar: torch.Tensor, seed: int, global_seed: int
) -> tuple[Any, Recorder]:
    torch.manual_seed(global_seed)
    model = Recorder(EpsNet(seed=1))
    name = "diffusion_loss(model, x_start, alpha_bars, generator)"
    loss = call_with_inputs(
        name,
        learner.diffusion_loss,
        model,
        x0.clone(),
        abar.clone(),
        gen(seed),
        given=f"model, x_start {tuple(x0.shape)}, alpha_bars ({len(abar)},), generator",
    )
    return loss, model


LOSS_NAME = "diffusion_loss(model, x_start, alpha_bars, generator)"


def check_loss_call(loss: Any, model: Recorder, n: int) -> tuple[torch.Tensor, ...]:
    """The loss a scalar with a graph, one model call with x_t (n, 2) and t (n,) long."""
    name = LOSS_NAME
    if loss is None:
        fail(f"{name} is None: did you forget to `return` the loss?")
    if not isinstance(loss, torch.Tensor):
        fail(
            f"{name} should be a torch.Tensor (a scalar you can call .backward() on); got "
            f"{type(loss).__name__}"
        )
    if tuple(loss.shape) != ():
        fail(
            f"{name} has shape {tuple(loss.shape)}; expected a scalar, shape (): the mean of the "
            "squared errors over the batch and the coordinates"
        )
    if not loss.requires_grad:
        fail(f"{name} does not require grad: it must be computed from the model's output")
    if len(model.calls) != 1:
        fail(f"{name} called the model {len(model.calls)} times; expected once, on the whole batch")
    x_t, t, out = model.calls[0]
    if not isinstance(t, torch.Tensor):
        fail(
            f"{name} called model(x_t, t) with t a {type(t).__name__}; expected a (N,) long tensor"
        )
    if t.dtype != torch.long:
        fail(
            f"{name} called model(x_t, t) with t of dtype {t.dtype}; expected torch.long, step "
            "indices from torch.randint"
        )
    if tuple(t.shape) != (n,):
        fail(
            f"{name} called model(x_t, t) with t of shape {tuple(t.shape)} for a batch of {n}: "
            "draw one step per sample, shape (N,)"
            + (": one t for the whole batch is a mistake" if t.numel() == 1 else "")
        )
    if tuple(x_t.shape) != (n, 2):
        fail(
            f"{name} called model(x_t, t) with x_t of shape {tuple(x_t.shape)}; expected ({n}, 2). "
            + PER_ROW_HINT
        )
    return x_t, t, out


@pytest.mark.task(3)
def test_diffusion_loss(learner: Any) -> None:
    T = 16
    _betas, _alphas, abar = ref_schedule(T, B0_SMALL, B1_SMALL)
    n = 4096
    x0 = two_moons(n, 21)
    small = two_moons(8, 22)
    check_loss_call(*loss_run(learner, small, abar, seed=6, global_seed=1), n=8)
    loss, model = loss_run(learner, x0, abar, seed=7, global_seed=1)
    name = LOSS_NAME
    x_t, t, out = check_loss_call(loss, model, n)
    if int(t.min()) < 0 or int(t.max()) > T - 1:
        fail(f"{name} drew steps {int(t.min())}..{int(t.max())}; they must lie in 0..{T - 1}")
    if torch.unique(t).numel() == 1:
        fail(
            f"{name} drew the same t = {int(t[0])} for the whole batch of {n}: draw one step per "
            "sample, torch.randint(0, T, (N,), generator=generator)"
        )
    counts = torch.bincount(t, minlength=T).double()
    expected = n / T
    band = 5 * math.sqrt(expected * (1 - 1 / T))
    if int(t.min()) >= 1:
        fail(
            f"{name} never drew t = 0 in {n} samples: steps run from 0 to T − 1 "
            "(torch.randint(0, T, ...) draws 0..T − 1)"
        )
    if int(t.max()) < T - 1:
        fail(
            f"{name} never drew t = {T - 1} (T − 1) in {n} samples: torch.randint's upper bound "
            "is excluded, so torch.randint(0, T, ...) draws 0..T − 1"
        )
    if (counts - expected).abs().max() > band:
        worst = int((counts - expected).abs().argmax())
        fail(
            f"{name} drew t = {worst} {int(counts[worst])} times in {n} samples; expected about "
            f"{expected:.0f} ± {band:.0f}: t must be uniform over 0..{T - 1}"
        )
    if torch.allclose(x_t, x0, atol=1e-6):
        fail(
            f"{name} fed the model the clean x_start, not the noised x_t = q_sample(x_start, t, ε)"
        )
    a = col(abar[t])
    eps = (x_t - torch.sqrt(a) * x0) / torch.sqrt(1 - a)
    mean, std = float(eps.mean()), float(eps.std())
    if abs(mean) > 5 / math.sqrt(2 * n) or abs(std - 1) > 0.05:
        fail(
            f"the x_t that {name} fed the model is not sqrt(ᾱ_t)·x_start + sqrt(1 − ᾱ_t)·ε for a "
            f"standard normal ε: solving for ε gives values of mean {mean:.3f} and std "
            f"{std:.3f}; expected 0 and 1 (torch.randn, not torch.rand, with the rows of x_start "
            "in their order)"
        )
    value = float(loss)
    want = float(((out - eps) ** 2).mean())
    independent = float((out**2).mean()) + 1.0  # E(out − ε′)² for an ε′ independent of x_t
    if abs(value - want) > 0.05 and abs(value - independent) < 0.05:
        fail(
            f"{name} is {value:.4f}, about mean(output²) + 1 = {independent:.4f}, what the MSE "
            "against an ε drawn independently of x_t gives; against the ε mixed into x_t it is "
            f"{want:.4f}. Draw ε once and use it both in q_sample and as the target"
        )
    assert_close(
        value,
        want,
        name=f"{name} (the check's ε-model on {n} moon points)",
        rtol=1e-4,
        atol=1e-6,
        mistakes={
            "the model's output compared with x_start (predicting x0, while the sampler of task 4 "
            "expects a prediction of ε)": float(((out - x0) ** 2).mean()),
            "the model's output compared with x_t": float(((out - x_t) ** 2).mean()),
            "a sum of the squared errors instead of their mean": float(((out - eps) ** 2).sum()),
            "the squared errors summed over the 2 coordinates, then averaged over the batch": (
                float(((out - eps) ** 2).sum(dim=1).mean())
            ),
            "an L1 loss, mean |output − ε|": float((out - eps).abs().mean()),
            "the root of the mean squared error": math.sqrt(want),
            "the target sqrt(1 − ᾱ_t)·ε instead of ε itself": float(
                ((out - torch.sqrt(1 - a) * eps) ** 2).mean()
            ),
        },
    )
    again, model2 = loss_run(learner, x0, abar, seed=7, global_seed=2)
    same_t = len(model2.calls) == 1 and torch.equal(model2.calls[0][1], t)
    if not (same_t and math.isclose(float(again), value, rel_tol=1e-6)):
        fail(
            f"two calls of {name} with generators seeded alike (and torch's global seed "
            "changed in between) gave different t or losses: draw t and ε from `generator`, "
            "torch.randint(..., generator=generator) and torch.randn(..., generator=generator)"
        )


class StepLog:
    """Every optimizer step while installed: the optimizer's class, its lr, its parameters."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float, set[int]]] = []
        self.optimizers: set[int] = set()
        self.empty: list[bool] = []  # no gradient at all in .grad when step() was called

    def __enter__(self) -> StepLog:
        def hook(optimizer: Any, _args: Any, _kwargs: Any) -> None:
            params = {id(p) for g in optimizer.param_groups for p in g["params"]}
            self.optimizers.add(id(optimizer))
            grads = [p.grad for g in optimizer.param_groups for p in g["params"]]
            self.empty.append(all(g is None or not bool(g.abs().sum() > 0) for g in grads))
            self.steps.append(
                (type(optimizer).__name__, float(optimizer.param_groups[0]["lr"]), params)
            )

        self.handle = register_optimizer_step_pre_hook(hook)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.handle.remove()


def train_run(
    learner: Any, model: nn.Module, global_seed: int, steps: int, batch: int, lr: float
) -> tuple[Any, StepLog, list[bool]]:
    _betas, _alphas, abar = ref_schedule(16, B0_SMALL, B1_SMALL)
    data = two_moons(1000, 31)
    torch.manual_seed(global_seed)
    stale: list[bool] = []
    probe = next(model.parameters())

    def grad_hook(_grad: torch.Tensor) -> None:
        stale.append(probe.grad is not None and bool(probe.grad.abs().sum() > 0))

    handle = probe.register_hook(grad_hook)
    try:
        with StepLog() as log:
            losses = call_with_inputs(
                f"train(model, data, alpha_bars, steps={steps}, batch_size={batch}, lr={lr}, "
                "generator=...)",
                learner.train,
                model,
                data,
                abar,
                steps=steps,
                batch_size=batch,
                lr=lr,
                generator=gen(9),
                given="model, data (1000, 2), alpha_bars (16,)",
            )
    finally:
        handle.remove()
    return losses, log, stale


@pytest.mark.task(3)
def test_train(learner: Any) -> None:
    steps, batch, lr = 40, 64, 0.01
    model = Recorder(EpsNet(seed=2))
    before = [p.detach().clone() for p in model.parameters()]
    losses, log, stale = train_run(learner, model, 1, steps, batch, lr)
    name = f"train(model, data, alpha_bars, steps={steps}, batch_size={batch}, lr={lr}, ...)"
    if losses is None:
        fail(f"{name} is None: did you forget to `return` the list of losses?")
    if not isinstance(losses, list):
        fail(f"{name} should return a list of floats, one per step; got {type(losses).__name__}")
    if any(isinstance(v, torch.Tensor) for v in losses):
        fail(
            f"{name} returned tensors; return plain floats (loss.item()): a tensor keeps its "
            "whole autograd graph alive"
        )
    if len(losses) != steps:
        fail(f"{name} returned {len(losses)} losses; expected one per step, {steps}")
    if not all(isinstance(v, float) and math.isfinite(v) for v in losses):
        fail(f"{name} should return finite Python floats; got {fmt(losses[:5])}...")
    if not log.steps:
        fail(f"{name} never called optimizer.step()")
    kinds = {kind for kind, _lr, _p in log.steps}
    if kinds != {"Adam"}:
        fail(f"{name} stepped {', '.join(sorted(kinds))}; the task asks for torch.optim.Adam")
    if len(log.steps) != steps:
        fail(f"{name} took {len(log.steps)} optimizer steps; expected one per step, {steps}")
    if len(log.optimizers) > 1:
        fail(
            f"{name} stepped {len(log.optimizers)} different optimizers: a new Adam restarts "
            "its running averages of the gradients. Create it once, before the loop, and change "
            "the learning rate in optimizer.param_groups (or with a scheduler)"
        )
    mine = {id(p) for p in model.parameters()}
    if log.steps[0][2] != mine:
        fail(
            f"{name} created Adam over other parameters than the model's: Adam(model.parameters(), lr=lr)"
        )
    used = [r for _k, r, _p in log.steps]
    want = [lr * (1 - i / steps) for i in range(steps)]
    if not all(
        math.isclose(u, w, rel_tol=1e-6, abs_tol=1e-12) for u, w in zip(used, want, strict=True)
    ):
        variants = {
            "a constant learning rate (no decay)": [lr] * steps,
            "the decay one step early (step i must use lr·(1 − i/steps); was the scheduler "
            "stepped before the optimizer?)": [lr * (1 - (i + 1) / steps) for i in range(steps)],
            "a decay that reaches 0 at the last step, lr·(1 − i/(steps − 1)): the README's step "
            "i uses lr·(1 − i/steps)": [lr * (1 - i / (steps - 1)) for i in range(steps)],
        }
        clue = next(
            (
                text
                for text, v in variants.items()
                if all(
                    math.isclose(u, w, rel_tol=1e-6, abs_tol=1e-12)
                    for u, w in zip(used, v, strict=True)
                )
            ),
            None,
        )
        i = next(
            i
            for i, (u, w) in enumerate(zip(used, want, strict=True))
            if not math.isclose(u, w, rel_tol=1e-6, abs_tol=1e-12)
        )
        fail(
            (f"{name}'s learning rates look like {clue}. " if clue else "")
            + f"At step {i} Adam's lr was {fmt(used[i])}; expected lr·(1 − {i}/{steps}) = "
            f"{fmt(want[i])} (the first three were {fmt(used[:3])})"
        )
    if any(stale[1:]):
        fail(
            f"{name} computed gradients while the previous step's were still in .grad (they add "
            "up): call optimizer.zero_grad() before loss.backward() every step"
        )
    sizes = {int(x.shape[0]) for x, _t, _o in model.calls}
    if sizes != {batch}:
        fail(
            f"{name} fed the model batches of {sorted(sizes)} points; expected batch_size = "
            f"{batch} rows drawn from data each step"
        )
    if all(log.empty):
        fail(
            f"{name} called optimizer.step() with no gradients (all zero or None) at every step: "
            "zero the gradients before loss.backward(), not between backward() and step()"
        )
    if all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)):
        fail(f"{name} did not change the model's parameters")
    model2 = Recorder(EpsNet(seed=2))
    again, _log, _stale = train_run(learner, model2, 2, steps, batch, lr)
    if not isinstance(again, list) or again != losses:
        fail(
            f"two runs of {name} from the same model and a generator seeded alike (torch's "
            "global seed changed in between) gave different losses: draw every batch, t and ε "
            "from `generator`"
        )


# ----- task 4: sampling -------------------------------------------------------------------------
def step_mean(
    x: torch.Tensor, eps: torch.Tensor, t: int, schedule: tuple[torch.Tensor, ...]
) -> torch.Tensor:
    betas, alphas, abar = schedule
    return (x - betas[t] / torch.sqrt(1 - abar[t]) * eps) / torch.sqrt(alphas[t])


def posterior_sigma(t: int, schedule: tuple[torch.Tensor, ...]) -> float:
    betas, _alphas, abar = (v.double() for v in schedule)
    prev = float(abar[t - 1]) if t > 0 else 1.0
    return math.sqrt(float(betas[t]) * (1 - prev) / (1 - float(abar[t])))


def reverse_mistakes(
    x: torch.Tensor, eps: torch.Tensor, t: int, schedule: tuple[torch.Tensor, ...], z: torch.Tensor
) -> dict[str, Callable[[], Any]]:
    betas, alphas, abar = schedule
    b, a, ab = betas[t], alphas[t], abar[t]
    mean = step_mean(x, eps, t, schedule)
    sigma = torch.sqrt(b)
    table: dict[str, Callable[[], Any]] = {}
    if t == 0:
        table["noise added at the last step (t = 0 returns the mean alone)"] = lambda: (
            mean + sigma * z
        )
    else:
        table["no noise added (for t > 0 add sqrt(β_t)·noise)"] = lambda: mean
        table["σ_t = β_t: the noise's standard deviation is sqrt(β_t)"] = lambda: mean + b * z
        table[
            "σ_t² = β̃_t = β_t·(1 − ᾱ_{t−1})/(1 − ᾱ_t), the posterior variance (a valid choice, "
            "but the README fixes σ_t = sqrt(β_t))"
        ] = lambda: mean + posterior_sigma(t, schedule) * z
        table["the quantities of step t − 1 (betas[t − 1], alphas[t − 1], alpha_bars[t − 1])"] = (
            lambda: step_mean(x, eps, t - 1, schedule) + torch.sqrt(betas[t - 1]) * z
        )

    def noise(m: torch.Tensor) -> torch.Tensor:
        return m if t == 0 else m + sigma * z

    prev = abar[t - 1] if t > 0 else torch.tensor(1.0)
    x_start = ((x - torch.sqrt(1 - ab) * eps) / torch.sqrt(ab)).clamp(-1, 1)
    clipped = (torch.sqrt(prev) * b * x_start + torch.sqrt(a) * (1 - prev) * x) / (1 - ab)
    table.update(
        {
            "the x_start estimate clipped to [−1, 1], as diffusers' clip_sample does for "
            "images: the README's step has no clipping (the moon data reach beyond ±1)": lambda: (
                noise(clipped)
            ),
            "1/sqrt(α_t) missing": lambda: noise(x - b / torch.sqrt(1 - ab) * eps),
            "multiplied by sqrt(α_t) instead of divided": lambda: noise(
                (x - b / torch.sqrt(1 - ab) * eps) * torch.sqrt(a)
            ),
            "divided by α_t (the square root missing)": lambda: noise(
                (x - b / torch.sqrt(1 - ab) * eps) / a
            ),
            "divided by sqrt(ᾱ_t) instead of sqrt(α_t)": lambda: noise(
                (x - b / torch.sqrt(1 - ab) * eps) / torch.sqrt(ab)
            ),
            "the ε coefficient β_t/(1 − ᾱ_t) (the square root missing)": lambda: noise(
                (x - b / (1 - ab) * eps) / torch.sqrt(a)
            ),
            "the ε coefficient sqrt(1 − ᾱ_t) (all the predicted noise at once, as in the x0 "
            "estimate)": lambda: noise((x - torch.sqrt(1 - ab) * eps) / torch.sqrt(a)),
            "the ε coefficient β_t/sqrt(1 − α_t) (α_t where ᾱ_t belongs)": lambda: noise(
                (x - b / torch.sqrt(1 - a) * eps) / torch.sqrt(a)
            ),
            "the predicted noise added instead of subtracted": lambda: noise(
                (x + b / torch.sqrt(1 - ab) * eps) / torch.sqrt(a)
            ),
            "the noise term divided by sqrt(α_t) too (only the mean is scaled)": lambda: (
                (x - b / torch.sqrt(1 - ab) * eps + (0 if t == 0 else sigma * z)) / torch.sqrt(a)
            ),
        }
    )
    return table


def check_model_call(name: str, model: Recorder, n: int, t: int) -> None:
    if len(model.calls) != 1:
        fail(f"{name} called the model {len(model.calls)} times; expected once")
    _x, given, _out = model.calls[0]
    if (
        not isinstance(given, torch.Tensor)
        or given.dtype != torch.long
        or tuple(given.shape) != (n,)
    ):
        what = (
            f"a {type(given).__name__}"
            if not isinstance(given, torch.Tensor)
            else f"a tensor of shape {tuple(given.shape)} and dtype {given.dtype}"
        )
        fail(
            f"{name} called model(x_t, t) with t {what}; expected a ({n},) long tensor holding "
            f"{t}, as in training: torch.full((N,), t, dtype=torch.long)"
        )
    values = sorted({int(v) for v in given})
    if values != [t]:
        fail(f"{name} called the model with t = {values}; expected {t} for every row")


@pytest.mark.task(4)
def test_p_sample_step(learner: Any) -> None:
    schedule = ref_schedule(T_SMALL, B0_SMALL, B1_SMALL)
    g = gen(41)
    n = 6
    for t in (7, T_SMALL - 1, 1, 0):
        x = torch.randn((n, 2), generator=g)
        z = torch.randn((n, 2), generator=g)
        model = Recorder(EpsNet(seed=3))
        name = f"p_sample_step(model, x_t, t={t}, schedule, noise)"
        got = call_on_copies(
            name, learner.p_sample_step, model=model, x_t=x, t=t, schedule=schedule, noise=z
        )
        check_model_call(name, model, n, t)
        eps = model.calls[0][2]
        want = step_mean(x, eps, t, schedule) + (torch.sqrt(schedule[0][t]) * z if t > 0 else 0)
        assert_tensor(
            got,
            want,
            name=name,
            rtol=1e-4,  # the x_start route divides by 1 − ᾱ_0 = β_0, losing float32 digits
            atol=1e-4,
            requires_grad=False,
            mistakes=reverse_mistakes(x, eps, t, schedule, z),
        )


def sample_run(learner: Any, n: int, seed: int, global_seed: int) -> tuple[Any, Recorder]:
    schedule = ref_schedule(T_SMALL, B0_SMALL, B1_SMALL)
    model = Recorder(EpsNet(seed=4))
    torch.manual_seed(global_seed)
    try:
        got = call_with_inputs(
            f"sample(model, {n}, schedule, generator)",
            learner.sample,
            model,
            n,
            tuple(v.clone() for v in schedule),
            gen(seed),
            given=f"model, n {n}, schedule of T = {T_SMALL}, generator",
        )
    except CheckFailure as exc:
        if f"index {T_SMALL} is out of bounds" in str(exc):
            fail(
                f"{exc}. The steps are numbered 0..T − 1: the sampler starts at t = T − 1 "
                "(reversed(range(T)))"
            )
        raise
    return got, model


def judge_noise(name: str, z: torch.Tensor, t: int, schedule: tuple[torch.Tensor, ...]) -> None:
    mean, std = float(z.mean()), float(z.std())
    n = z.numel()
    if abs(mean) <= 5 / math.sqrt(n) and abs(std - 1) <= 0.05:
        return
    beta = float(schedule[0][t])
    clues = {
        "no noise added": 0.0,
        "σ_t = β_t (the noise's standard deviation is sqrt(β_t))": math.sqrt(beta),
        "σ_t² = β̃_t, the posterior variance (the README fixes σ_t = sqrt(β_t))": (
            posterior_sigma(t, schedule) / math.sqrt(beta)
        ),
    }
    clue = next((text for text, s in clues.items() if abs(std - s) <= 0.02), None)
    fail(
        (f"{name} looks like {clue}. " if clue else "")
        + f"At step t = {t} the next x differs from the mean (x_t − β_t/sqrt(1 − ᾱ_t)·ε)/"
        f"sqrt(α_t) by sqrt(β_t)·z with z of mean {mean:.3f} and std {std:.3f}; expected a "
        "fresh standard normal z (mean 0, std 1) from the generator"
    )


@pytest.mark.task(4)
def test_sample(learner: Any) -> None:
    schedule = ref_schedule(T_SMALL, B0_SMALL, B1_SMALL)
    n = 4000
    got, model = sample_run(learner, n, seed=3, global_seed=1)
    name = f"sample(model, {n}, schedule, generator)"
    got = float_tensor(got, name, (n, 2))
    if got.requires_grad:
        fail(f"{name} still requires grad: sample under torch.no_grad()")
    calls = model.calls
    for _x, t, _o in calls:
        if not isinstance(t, torch.Tensor) or t.dtype != torch.long or tuple(t.shape) != (n,):
            fail(f"{name} called model(x, t) with t not a ({n},) long tensor (see p_sample_step)")
    visited = [sorted({int(v) for v in t}) for _x, t, _o in calls]
    if any(len(v) != 1 for v in visited):
        fail(f"{name} called the model with several t in one batch; one t per step for all rows")
    order = [v[0] for v in visited]
    expected = list(range(T_SMALL - 1, -1, -1))
    if order != expected:
        clue = ""
        if order == expected[:-1]:
            clue = (
                ": the loop stops before t = 0 (range(T − 1, 0, −1) leaves 0 out; "
                "reversed(range(T)) runs T − 1, …, 0)"
            )
        elif order == expected[::-1]:
            clue = ": the steps run forwards; sampling goes from t = T − 1 down to 0"
        elif order and order[0] == T_SMALL:
            clue = ": off by one, the steps are numbered 0..T − 1"
        fail(f"{name} called the model at t = {order}; expected {expected}{clue}")
    x_T = calls[0][0]
    if abs(float(x_T.mean())) > 5 / math.sqrt(2 * n) or abs(float(x_T.std()) - 1) > 0.05:
        fail(
            f"{name} started from points of mean {float(x_T.mean()):.3f} and std "
            f"{float(x_T.std()):.3f}; expected x_T from a standard normal (torch.randn with the "
            "generator, shape (n, 2))"
        )
    noises = []
    for k in range(T_SMALL - 1):
        t = order[k]
        x, _t, eps = calls[k]
        mean = step_mean(x, eps, t, schedule)
        z = (calls[k + 1][0] - mean) / torch.sqrt(schedule[0][t])
        judge_noise(name, z, t, schedule)
        noises.append(z.flatten())
    for k in range(1, len(noises)):
        r = float(torch.corrcoef(torch.stack([noises[k - 1], noises[k]]))[0, 1])
        if abs(r) > 0.2:
            fail(
                f"{name} added noise at steps {order[k - 1]} and {order[k]} that is correlated "
                f"(r = {r:.2f}): draw fresh noise at every step"
            )
    x0_in, _t, eps0 = calls[-1]
    final = step_mean(x0_in, eps0, 0, schedule)
    if not torch.allclose(got, final, rtol=1e-4, atol=1e-3):
        residual = (got - final) / torch.sqrt(schedule[0][0])
        if abs(float(residual.std()) - 1) < 0.1:
            fail(
                f"{name} added noise at the last step (t = 0): return the mean "
                "(x_0 − β_0/sqrt(1 − ᾱ_0)·ε)/sqrt(α_0) alone"
            )
        fail(
            f"{name} returned points that are not the mean of the last step (t = 0) computed "
            f"from the x the model saw there (max difference {float((got - final).abs().max()):.3g})"
        )
    again, _model = sample_run(learner, 500, seed=3, global_seed=2)
    first, _model = sample_run(learner, 500, seed=3, global_seed=3)
    if not (isinstance(again, torch.Tensor) and torch.equal(again, first)):
        fail(
            "two runs of sample(model, 500, schedule, generator) with generators seeded alike "
            "(torch's global seed changed in between) gave different points: draw x_T and every "
            "step's noise from `generator`"
        )


# ----- task 5: quality --------------------------------------------------------------------------
def energy_mistakes(a: torch.Tensor, b: torch.Tensor) -> dict[str, Any]:
    a, b = a.double(), b.double()
    ab, aa, bb = torch.cdist(a, b), torch.cdist(a, a), torch.cdist(b, b)
    table = {
        "squared distances (with squared distances the energy distance only compares the "
        "means: it is 2·|mean(a) − mean(b)|²)": float(
            2 * (ab**2).mean() - (aa**2).mean() - (bb**2).mean()
        ),
        "the cross term without its factor 2": float(ab.mean() - aa.mean() - bb.mean()),
        "the square root of the energy distance (scipy's convention for 1-D data)": math.sqrt(
            max(ref_energy(a, b), 0.0)
        ),
        "2·E|a − b| alone (the within-set means left out)": float(2 * ab.mean()),
        "half the energy distance, E|a − b| − (E|a − a′| + E|b − b′|)/2": ref_energy(a, b) / 2,
        "the distance between the two means, which ignores the clouds' shapes": float(
            (a.mean(0) - b.mean(0)).norm()
        ),
    }
    if len(a) == len(b):
        table["paired rows, mean |a[i] − b[i]|, instead of all pairs"] = float(
            2 * (a - b).norm(dim=1).mean() - aa.mean() - bb.mean()
        )
    return table


@pytest.mark.task(5)
def test_energy_distance(learner: Any) -> None:
    g = gen(51)
    cases = [
        (two_moons(300, 52), 0.8 * torch.randn((200, 2), generator=g) + 0.3),
        (two_moons(250, 53), two_moons(250, 54) * 1.2),
    ]
    for a, b in cases:
        name = f"energy_distance(a {tuple(a.shape)}, b {tuple(b.shape)})"
        got = call_on_copies(
            name,
            learner.energy_distance,
            shape_hint="a and b have different numbers of rows: average over all pairs (i, j), "
            "torch.cdist(a, b) or (a[:, None, :] - b[None, :, :]).norm(dim=2), not row by row",
            a=a,
            b=b,
        )
        if isinstance(got, torch.Tensor):
            fail(f"{name} returned a tensor; return a Python float (float(...) or .item())")
        if not isinstance(got, float):
            fail(f"{name} should be a Python float; got {type(got).__name__}")
        want = ref_energy(a, b)
        n, m = len(a), len(b)
        # the unbiased form, without the zero diagonals, is as good
        aa = torch.cdist(a.double(), a.double()).sum() / (n * (n - 1))
        bb = torch.cdist(b.double(), b.double()).sum() / (m * (m - 1))
        unbiased = float(2 * torch.cdist(a.double(), b.double()).mean() - aa - bb)
        if math.isclose(got, unbiased, rel_tol=1e-3, abs_tol=1e-5):
            continue
        assert_close(got, want, name=name, rtol=1e-3, atol=1e-5, mistakes=energy_mistakes(a, b))


def gaussian_fit(data: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    mean = data.double().mean(0)
    cov = torch.cov(data.double().T)
    chol = torch.linalg.cholesky(cov)
    z = torch.randn((n, 2), generator=gen(seed), dtype=torch.float64)
    return (mean + z @ chol.T).float()


@once_per_run
def trained(learner: Any) -> tuple[list[float], torch.Tensor]:
    seed_everything(0)
    schedule = ref_schedule(T_TRAIN, B0_TRAIN, B1_TRAIN)
    data = two_moons(N_DATA, 61)
    probe = Recorder(EpsNet(seed=5))
    call_with_inputs(
        LOSS_NAME, learner.diffusion_loss, probe, data[:64], schedule[2].clone(), gen(60)
    )
    if not probe.calls or tuple(probe.calls[0][0].shape) != (64, 2):
        fail(
            "the training of task 5 was not started: diffusion_loss on a batch of 64 points did "
            "not feed the model an x_t of shape (64, 2); fix task 3 first"
        )
    model = build_denoiser(learner)
    losses = call_with_inputs(
        f"train(Denoiser(), data, alpha_bars, steps={STEPS}, batch_size={BATCH}, lr={LR}, ...)",
        learner.train,
        model,
        data,
        schedule[2].clone(),
        steps=STEPS,
        batch_size=BATCH,
        lr=LR,
        generator=gen(62),
        given=f"Denoiser(), data ({N_DATA}, 2), alpha_bars ({T_TRAIN},)",
    )
    if not isinstance(losses, list) or len(losses) != STEPS:
        fail(f"train(...) should return a list of {STEPS} losses, one per step")
    samples = call_with_inputs(
        f"sample(trained Denoiser(), {N_SAMPLES}, schedule, generator)",
        learner.sample,
        model,
        N_SAMPLES,
        tuple(v.clone() for v in schedule),
        gen(63),
        given=f"the trained Denoiser(), n {N_SAMPLES}, schedule of T = {T_TRAIN}",
    )
    samples = float_tensor(samples, f"sample(trained Denoiser(), {N_SAMPLES}, ...)", (N_SAMPLES, 2))
    return [float(v) for v in losses], samples.detach()


def trained_or_fail(learner: Any) -> tuple[list[float], torch.Tensor]:
    value, error = trained(learner)
    if error is not None:
        raise error
    assert value is not None
    return value


@pytest.mark.task(5)
def test_training_loss_falls(learner: Any) -> None:
    losses, _samples = trained_or_fail(learner)
    window = 100
    running = [sum(losses[i - window : i]) / window for i in range(window, len(losses) + 1)]
    assert_reaches(
        running,
        LOSS_TARGET,
        name=f"the training loss (mean over {window} steps) of Denoiser() on two moons",
        within=len(running),
    )


@pytest.mark.task(5)
def test_samples_match_the_data(learner: Any) -> None:
    _losses, samples = trained_or_fail(learner)
    if not torch.isfinite(samples).all():
        fail(f"the {N_SAMPLES} samples of the trained model contain NaN or inf")
    data = two_moons(N_DATA, 61)
    held_out = two_moons(N_SAMPLES, 64)
    score = ref_energy(samples, held_out)
    gaussian = ref_energy(gaussian_fit(data, N_SAMPLES, 65), held_out)
    target = QUALITY_FACTOR * gaussian
    if score > target:
        floor = ref_energy(two_moons(N_SAMPLES, 66), held_out)
        fail(
            f"the samples did not reach an energy distance ≤ {target:.4f} to held-out moon points "
            f"within {STEPS} training steps: theirs is {score:.4f}. A single Gaussian fitted to "
            f"the data scores {gaussian:.4f} (the samples must be at most {QUALITY_FACTOR:g} of "
            f"that), a second draw of the data itself {floor:.4f}; the reference reaches about "
            f"0.005. Mean of the samples {fmt(samples.mean(0).tolist())}, std "
            f"{fmt(samples.std(0).tolist())} (the data: about 0 and 1)"
        )
