"""Checks for p5-gan-toy: the GAN losses from logits (values, gradients, extreme logits), one
adversarial step judged by the parameter changes it makes, the training loop watched step by
step, mode coverage on samples and on a generator the check collapses on purpose, and a trained
generator that must cover the ring.

Task 2 is judged by parameter deltas: the check plants stale gradients in both networks, runs
the learner's ``train_step`` with plain SGD, and compares how far each network moved with what the
step must do and with what each known slip does (a fake not detached, a zero_grad in the wrong
place, D stepped on the generator's loss, labels swapped, ...). A hook on the generator's output
counts the backward passes that reach G: one, from the generator's loss.

Task 3 is watched: the check replaces ``train_step`` in the learner's module by a recorder, so
it sees every optimizer, batch and noise tensor ``train_gan`` hands it. Everything is seeded and
single-threaded; the only long run is task 5's 2,000 steps on 64-unit MLPs (about 3 s of CPU).
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
from typing import Any

import pytest
import torch
import torch._dynamo  # the first optimizer imports it (~1.3 s): the warm worker pays it once
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    assert_close,
    assert_tensor,
    assert_tuple,
    call_with_inputs,
    fail,
    fmt,
    matching_mistake,
    once_per_run,
    seed_everything,
    to_numpy,
)

N_MODES = 8
RADIUS = 2.0
STD = 0.05
Z_DIM = 2
HQ_RADIUS = 3 * STD  # a sample within three standard deviations of a mode is "high quality"
MIN_COUNT = 20  # of 2,000 samples: a mode with fewer high-quality samples is not covered


# ----- the check's own reference ----------------------------------------------------------------
def ref_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def ref_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    return -F.softplus(fake_logits).mean()


def ref_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


def ref_modes(n_modes: int = N_MODES, radius: float = RADIUS) -> torch.Tensor:
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def ref_nearest(samples: torch.Tensor, modes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    distances = (samples.double()[:, None, :] - modes.double()[None, :, :]).norm(dim=-1)
    dist, index = distances.min(dim=1)
    return index, dist


def ref_coverage(
    samples: torch.Tensor, modes: torch.Tensor, radius: float, min_count: int
) -> tuple[int, float, torch.Tensor]:
    index, dist = ref_nearest(samples, modes)
    good = dist <= radius
    counts = torch.bincount(index[good], minlength=len(modes))
    return int((counts >= min_count).sum()), float(good.double().mean()), counts


def mlp(in_dim: int, out_dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, out_dim),
    )


def networks(seed: int, hidden: int, z_dim: int = Z_DIM) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return mlp(z_dim, 2, hidden), mlp(2, 1, hidden)


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().double().flatten() for p in module.parameters()])


def leaf(values: list[float], shape: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).reshape(shape).requires_grad_(True)


def as_float(value: Any, name: str, what: str) -> float:
    if value is None:
        fail(f"{name} is None: did you forget to `return` {what}?")
    if isinstance(value, torch.Tensor):
        fail(
            f"{name} is a torch.Tensor; return a Python float ({what}.item()): a tensor keeps "
            "the whole autograd graph of the step alive"
        )
    if not isinstance(value, float | int) or isinstance(value, bool):
        fail(f"{name} should be a float; got {type(value).__name__}")
    return float(value)


# ----- task 1: the losses -----------------------------------------------------------------------
MODERATE_REAL = [1.3, -0.4, 2.2, 0.1, -1.7]
MODERATE_FAKE = [-0.8, 0.6, -2.5, 1.1, 0.0, -0.3, -1.4]
EXTREME_REAL = [-60.0, -25.0, 30.0, 0.0]
EXTREME_FAKE = [50.0, 20.0, -40.0]
EXTREME_G = [-150.0, -20.0, -3.0, 0.0, 2.0, 25.0, 120.0]


def unstable_variants(kind: str, *args: torch.Tensor) -> dict[str, Any]:
    """The usual ways of losing the large logits, computed on the check's float32 inputs."""

    def through(transform: Any) -> Any:
        def value() -> float:
            with torch.no_grad():
                return float(transform(*[a.detach() for a in args]))

        return value

    def log_p(x: torch.Tensor, eps: float) -> torch.Tensor:
        return torch.log(torch.sigmoid(x) + eps)

    def log_1mp(x: torch.Tensor, eps: float) -> torch.Tensor:
        return torch.log(1 - torch.sigmoid(x) + eps)

    out: dict[str, Any] = {}
    for eps in (1e-8, 1e-7, 1e-6, 1e-12):
        if kind == "d":
            fn = lambda r, f, e=eps: -log_p(r, e).mean() - log_1mp(f, e).mean()  # noqa: E731
        elif kind == "sat":
            fn = lambda f, e=eps: log_1mp(f, e).mean()  # noqa: E731
        else:
            fn = lambda f, e=eps: -log_p(f, e).mean()  # noqa: E731
        out[f"log(sigmoid(x) + {eps:g}): an epsilon inside the log caps every term near "
            f"{-math.log(eps):.3g}"] = through(fn)  # fmt: skip
    if kind == "d":
        fn = lambda r, f: (  # noqa: E731
            F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r))
            + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f))
        )
    elif kind == "sat":
        fn = lambda f: -F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f))  # noqa: E731
    else:
        fn = lambda f: F.binary_cross_entropy(torch.sigmoid(f), torch.ones_like(f))  # noqa: E731
    out[
        "F.binary_cross_entropy on sigmoid probabilities: it clamps each log at −100 and loses "
        "the large logits (use the _with_logits version, or softplus)"
    ] = through(fn)
    return out


def check_scalar_loss(
    got: Any, want: torch.Tensor, name: str, mistakes: Any, *, requires_grad: bool = True
) -> None:
    if isinstance(got, float | int):
        fail(
            f"{name} is a Python {type(got).__name__}; return the loss as a 0-dim torch.Tensor "
            "(no .item()): train_step calls backward() on it"
        )
    if isinstance(got, torch.Tensor) and got.dim() > 0 and got.numel() > 1:
        fail(
            f"{name} has shape {tuple(got.shape)}; expected a scalar (shape ()): take the mean "
            "over the batch (.mean())"
        )
    if isinstance(got, torch.Tensor) and got.shape == (1,):
        fail(f"{name} has shape (1,); expected a scalar, shape (): .mean() gives one")
    assert_tensor(
        got, want, name=name, rtol=1e-5, atol=1e-6, requires_grad=requires_grad, mistakes=mistakes
    )


def check_extreme(got: Any, want: float, name: str, mistakes: dict[str, Any]) -> None:
    value = float(got.detach()) if isinstance(got, torch.Tensor) else float(got)
    if not math.isfinite(value):
        fail(
            f"{name} is {value}; expected {fmt(want)}. Your loss is right for moderate logits "
            "but not for large ones: sigmoid rounds to exactly 0 or 1 in float32 once |logit| "
            "is above about 17, and the log of that is −inf. Compute from the logits: "
            "F.binary_cross_entropy_with_logits, or F.softplus (log sigmoid(x) = −softplus(−x), "
            "log(1 − sigmoid(x)) = −softplus(x))"
        )
    if not math.isclose(value, want, rel_tol=1e-5, abs_tol=1e-5):
        label = matching_mistake(value, mistakes, rtol=1e-5, atol=1e-4)
        fail(
            f"{name} is {fmt(value)}"
            + (f", which looks like {label}" if label else "")
            + f"; expected {fmt(want)}. Your loss is right for moderate logits but not for "
            "large ones: compute it from the logits (softplus or "
            "F.binary_cross_entropy_with_logits), without a sigmoid, an epsilon or a clamp"
        )


def d_mistakes(real: torch.Tensor, fake: torch.Tensor) -> dict[str, Any]:
    r, f = real.detach(), fake.detach()
    both = torch.cat([r.flatten(), f.flatten()])
    labels = torch.cat([torch.ones(r.numel()), torch.zeros(f.numel())])
    return {
        "the labels swapped (real logits against 0, fake against 1)": lambda: ref_d_loss(f, r),
        "a sigmoid before BCE-with-logits (the _with_logits loss applies the sigmoid itself; "
        "give it the raw logits)": lambda: ref_d_loss(torch.sigmoid(r), torch.sigmoid(f)),
        "the fake term against label 1 (the real term is right, but fakes are labelled 0: "
        "BCE of the fake logits against 0, softplus(fake_logits))": lambda: (
            F.softplus(-r).mean() + F.softplus(-f).mean()
        ),
        "the real term against label 0 (the fake term is right, but reals are labelled 1: "
        "BCE of the real logits against 1, softplus(-real_logits))": lambda: (
            F.softplus(r).mean() + F.softplus(f).mean()
        ),
        "one-sided label smoothing (real target 0.9): the task's real label is exactly 1": lambda: (
            F.binary_cross_entropy_with_logits(r, torch.full_like(r, 0.9)) + F.softplus(f).mean()
        ),
        "the real term only (the fake logits are missing)": lambda: F.softplus(-r).mean(),
        "the fake term only (the real logits are missing)": lambda: F.softplus(f).mean(),
        "one mean over the real and fake logits together; the loss is the sum of the two "
        "means, each over its own batch": lambda: F.binary_cross_entropy_with_logits(both, labels),
        "twice one mean over the real and fake logits together; the loss is the sum of the "
        "two means, each over its own batch (they differ when the batch sizes do)": lambda: (
            2 * F.binary_cross_entropy_with_logits(both, labels)
        ),
        "half the sum of the two means (their average); the loss is their sum": lambda: (
            ref_d_loss(r, f) / 2
        ),
        "sums over the batches instead of means": lambda: (
            F.softplus(-r).sum() + F.softplus(f).sum()
        ),
        "the negative of the loss (the log-likelihood D maximizes)": lambda: -ref_d_loss(r, f),
    }


@pytest.mark.task(1)
def test_discriminator_loss(learner: Any) -> None:
    real = leaf(MODERATE_REAL, (5, 1))
    fake = leaf(MODERATE_FAKE, (7, 1))
    kept = (real.detach().clone(), fake.detach().clone())
    name = "discriminator_loss(real_logits (5, 1), fake_logits (7, 1))"
    got = call_with_inputs(name, learner.discriminator_loss, real, fake)
    want = ref_d_loss(real.detach(), fake.detach())
    check_scalar_loss(got, want, name, d_mistakes(real, fake))
    if not (torch.equal(real.detach(), kept[0]) and torch.equal(fake.detach(), kept[1])):
        fail(f"{name} changed the logits it was given: use out-of-place operations")
    got.backward()
    for tensor, wanted, which in (
        (real, (torch.sigmoid(kept[0]) - 1) / 5, "real_logits"),
        (fake, torch.sigmoid(kept[1]) / 7, "fake_logits"),
    ):
        if tensor.grad is None:
            fail(
                f"backward() through {name} gave no gradient for {which}: the loss must be "
                "computed from the logits with torch operations (no .item(), .detach() or NumPy)"
            )
        assert_tensor(
            tensor.grad,
            wanted,
            name=f"the gradient of {name} with respect to {which}",
            rtol=1e-4,
            atol=1e-6,
        )
    real_x, fake_x = leaf(EXTREME_REAL, (4,)), leaf(EXTREME_FAKE, (3,))
    name_x = f"discriminator_loss(real_logits {EXTREME_REAL}, fake_logits {EXTREME_FAKE})"
    got_x = call_with_inputs(name_x, learner.discriminator_loss, real_x, fake_x)
    want_x = float(ref_d_loss(real_x.detach().double(), fake_x.detach().double()))
    check_extreme(got_x, want_x, name_x, unstable_variants("d", real_x, fake_x))


def g_mistakes(fake: torch.Tensor, saturating: bool) -> dict[str, Any]:
    f = fake.detach()
    table: dict[str, Any] = {}
    if saturating:
        table["the non-saturating loss −log D(G(z)); this function is the saturating "
              "log(1 − D(G(z)))"] = lambda: ref_non_saturating(f)  # fmt: skip
        table["−log(1 − D(G(z))), the sign flipped: that is the discriminator's own loss on the "
              "fakes, which the generator must not minimize"] = lambda: -ref_saturating(f)  # fmt: skip
        table["log D(G(z)) (the non-saturating term with the wrong sign); the saturating loss "
              "is log(1 − D(G(z)))"] = lambda: -ref_non_saturating(f)  # fmt: skip
    else:
        table["the saturating loss log(1 − D(G(z))); this function is the non-saturating "
              "−log D(G(z))"] = lambda: ref_saturating(f)  # fmt: skip
        table["log D(G(z)), the sign flipped: minimizing it makes the fakes look *less* real"] = (
            lambda: -ref_non_saturating(f)
        )
        table["BCE of the fake logits against 0 (the discriminator's label for fakes); the "
              "generator's loss uses the label 1"] = lambda: F.softplus(f).mean()  # fmt: skip
    table["a sigmoid before BCE-with-logits (give it the raw logits)"] = lambda: (
        ref_saturating(torch.sigmoid(f)) if saturating else ref_non_saturating(torch.sigmoid(f))
    )
    table["a sum over the batch instead of the mean"] = lambda: (
        (-F.softplus(f).sum()) if saturating else F.softplus(-f).sum()
    )
    return table


@pytest.mark.task(1)
@pytest.mark.parametrize("kind", ["saturating", "non_saturating"])
def test_generator_losses(learner: Any, kind: str) -> None:
    function = getattr(learner, f"{kind}_generator_loss")
    reference = ref_saturating if kind == "saturating" else ref_non_saturating
    fake = leaf(MODERATE_FAKE, (7, 1))
    name = f"{kind}_generator_loss(fake_logits (7, 1))"
    got = call_with_inputs(name, function, fake)
    check_scalar_loss(got, reference(fake.detach()), name, g_mistakes(fake, kind == "saturating"))
    got.backward()
    if fake.grad is None:
        fail(f"backward() through {name} gave no gradient for fake_logits: keep it in torch")
    x = leaf(EXTREME_G, (len(EXTREME_G),))
    name_x = f"{kind}_generator_loss(fake_logits {EXTREME_G})"
    got_x = call_with_inputs(name_x, function, x)
    want_x = float(reference(x.detach().double()))
    check_extreme(got_x, want_x, name_x, unstable_variants(kind[:3], x))


GRAD_LOGITS = [-12.0, -8.0, -5.0, -3.0, -1.0, 0.0, 1.0, 2.5, 4.0]


@pytest.mark.task(1)
def test_logit_gradients_show_saturation(learner: Any) -> None:
    n = len(GRAD_LOGITS)
    logits = torch.tensor(GRAD_LOGITS).reshape(n, 1)
    kept = logits.clone()
    name = f"logit_gradients(fake_logits (9, 1) from {GRAD_LOGITS[0]:g} to {GRAD_LOGITS[-1]:g})"
    result = call_with_inputs(name, learner.logit_gradients, logits)
    sat, non = assert_tuple(result, ("saturating", "non_saturating"), name)
    if logits.requires_grad:
        fail(
            f"{name} switched on requires_grad of the caller's tensor: measure on a copy, "
            "fake_logits.detach().clone().requires_grad_()"
        )
    if not torch.equal(logits, kept):
        fail(f"{name} changed the logits it was given: measure on a copy")
    p = torch.sigmoid(kept)
    want_sat, want_non = -p / n, -(1 - p) / n
    for got, want, which, other in (
        (sat, want_sat, "saturating", want_non),
        (non, want_non, "non_saturating", want_sat),
    ):
        label = f"{name}: the {which} gradient"
        assert_tensor(
            got,
            want,
            name=label,
            rtol=1e-4,
            atol=1e-9,
            requires_grad=False,
            mistakes={
                "the other loss's gradient: return (saturating, non_saturating) in that order": (
                    other
                ),
                "the gradient of the sum over the batch (n times too large); the losses are "
                "means": want * n,
                "the gradient with the sign flipped": -want,
                "the gradient with respect to D(G(z)) = sigmoid(logit), not the logit": (
                    lambda which=which: (-1 / (1 - p) if which == "saturating" else -1 / p) / n
                ),
            },
        )
    # the point of the measurement: where D is sure the sample is fake, one gradient is gone
    ratio = float(sat[0, 0] / non[0, 0])
    if not ratio < 1e-4:
        fail(
            f"at logit −12 the saturating gradient is {fmt(float(sat[0, 0]))} and the "
            f"non-saturating one {fmt(float(non[0, 0]))}: the saturating one should be "
            "about 6e-6 times smaller"
        )
    base = torch.tensor(GRAD_LOGITS, requires_grad=True)
    upstream = (base * 2.0).reshape(n, 1)  # logits that are part of a graph, as D's output is
    name_graph = "logit_gradients(fake_logits (9, 1) still attached to the graph that made them)"
    result = call_with_inputs(name_graph, learner.logit_gradients, upstream)
    sat_g, non_g = assert_tuple(result, ("saturating", "non_saturating"), name_graph)
    if base.grad is not None:
        fail(
            f"{name_graph} backpropagated into the graph the logits came from (its leaf now "
            "has a .grad): detach a copy first, fake_logits.detach().clone().requires_grad_()"
        )
    p2 = torch.sigmoid(upstream.detach())
    assert_tensor(sat_g, -p2 / n, name=f"{name_graph}: the saturating gradient", rtol=1e-4,
                  atol=1e-9, requires_grad=False)  # fmt: skip
    assert_tensor(non_g, -(1 - p2) / n, name=f"{name_graph}: the non_saturating gradient",
                  rtol=1e-4, atol=1e-9, requires_grad=False)  # fmt: skip


# ----- task 2: one adversarial step -------------------------------------------------------------
LR_G, LR_D = 0.2, 0.05


def step_inputs() -> tuple[nn.Module, nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(11)
    G, D = mlp(2, 2, 6), mlp(2, 1, 6)
    generator = torch.Generator().manual_seed(5)
    which = torch.randint(N_MODES, (6,), generator=generator)
    real = ref_modes()[which].float() + STD * torch.randn(6, 2, generator=generator)
    z = torch.randn(5, 2, generator=generator)
    return G, D, real, z


def plant_stale(module: nn.Module, seed: int) -> None:
    """Gradients a previous backward() left behind, as the step before this one would."""
    generator = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        p.grad = 0.5 * torch.randn(p.shape, generator=generator)


def simulate(
    G0: nn.Module,
    D0: nn.Module,
    real: torch.Tensor,
    z: torch.Tensor,
    *,
    saturating: bool,
    detach: bool = True,
    zero_d: str = "before",
    zero_g: str = "before",
    swap: bool = False,
    other_loss: bool = False,
    d_steps_on_g: str = "",
    g_first: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, float, float, float]:
    """The step (or one of its known slips), run on copies: (ΔD, ΔG, d_loss, g_loss, and D's
    loss on the same batch after its update)."""
    G, D = copy.deepcopy(G0), copy.deepcopy(D0)
    plant_stale(G, 1)
    plant_stale(D, 2)
    opt_g = torch.optim.SGD(G.parameters(), lr=LR_G)
    opt_d = torch.optim.SGD(D.parameters(), lr=LR_D)
    before_d, before_g = flat(D), flat(G)
    use_sat = saturating != other_loss
    after: list[float] = []
    if zero_g == "top":
        opt_g.zero_grad()

    def d_phase() -> float:
        if zero_d == "before":
            opt_d.zero_grad()
        fake = G(z)
        seen = fake.detach() if detach else fake
        loss = ref_d_loss(D(seen), D(real)) if swap else ref_d_loss(D(real), D(seen))
        loss.backward()
        if zero_d == "between":
            opt_d.zero_grad()
        opt_d.step()
        with torch.no_grad():
            after.append(float(ref_d_loss(D(real), D(fake))))
        return float(loss)

    def g_phase() -> float:
        if zero_g == "before":
            opt_g.zero_grad()
        if d_steps_on_g == "fresh":
            opt_d.zero_grad()
        logits = D(G(z))
        loss = ref_saturating(logits) if use_sat else ref_non_saturating(logits)
        loss.backward()
        if zero_g == "between":
            opt_g.zero_grad()
        opt_g.step()
        if d_steps_on_g:
            opt_d.step()
        return float(loss)

    if g_first:
        g_loss = g_phase()
        d_loss = d_phase()
    else:
        d_loss = d_phase()
        g_loss = g_phase()
    return flat(D) - before_d, flat(G) - before_g, d_loss, g_loss, after[0]


STEP_SLIPS: list[tuple[str, dict[str, Any]]] = [
    (
        "the D step's loss backpropagated into G (the fake was not detached) and those "
        "gradients were added to G's update: fake.detach() in the D step",
        {"detach": False, "zero_g": "top"},
    ),
    (
        "D's gradients not zeroed before its backward(): the stale gradients already in D "
        "were added to this step's (opt_d.zero_grad() before d_loss.backward())",
        {"zero_d": "never"},
    ),
    (
        "G's gradients not zeroed before its backward(): the stale gradients already in G "
        "were added to this step's (opt_g.zero_grad() before g_loss.backward())",
        {"zero_g": "never"},
    ),
    (
        "no D update: zero_grad() between backward() and step() (or no opt_d.step())",
        {"zero_d": "between"},
    ),
    (
        "no G update: zero_grad() between backward() and step() (or no opt_g.step())",
        {"zero_g": "between"},
    ),
    (
        "D stepped a second time on the generator's loss (opt_d.step() after g_loss.backward(), "
        "or one optimizer for both networks): the G step must not move D",
        {"d_steps_on_g": "accumulated"},
    ),
    (
        "D stepped on the generator's loss (both optimizers zeroed and stepped around "
        "g_loss.backward()): the G step must not move D, only opt_g.step() follows it",
        {"d_steps_on_g": "fresh"},
    ),
    (
        "the labels swapped in the D step (real against 0, fake against 1)",
        {"swap": True},
    ),
    (
        "the other generator loss: saturating=True asks for log(1 − D(G(z))), False for "
        "−log D(G(z))",
        {"other_loss": True},
    ),
    (
        "the G step before the D step; the task does D first, then G against the updated D",
        {"g_first": True},
    ),
]


def check_delta(
    which: str, module: nn.Module, got: torch.Tensor, want: torch.Tensor, slips: Any, name: str
) -> None:
    """How far one network moved in the step against how far it should have, per parameter."""
    rtol, atol = 1e-4, 2e-6
    if torch.allclose(got, want, rtol=rtol, atol=atol):
        return
    label = matching_mistake(
        to_numpy(got),
        lambda: {k: to_numpy(v()) for k, v in slips().items()},
        rtol=rtol,
        atol=atol,
    )
    offset, wrong = 0, []
    for pname, p in module.named_parameters():
        g, w = got[offset : offset + p.numel()], want[offset : offset + p.numel()]
        offset += p.numel()
        if not torch.allclose(g, w, rtol=rtol, atol=atol):
            wrong.append(
                (pname, float(g.abs().max()), float(w.abs().max()), float((g - w).abs().max()))
            )
    pname, moved, should, diff = wrong[0]
    factor = ""
    mask = want.abs() > 1e-6
    if not label and mask.any():
        k = float((got[mask] / want[mask]).median())
        if abs(k - 1) > 1e-3 and torch.allclose(got, k * want, rtol=1e-3, atol=atol):
            factor = (
                f" Every change is {k:.4g} × the step's: a constant factor, as from a loss "
                "scaled by a constant"
            )
    fail(
        (f"the change of {which}'s parameters in {name} looks like {label}. " if label else "")
        + f"{name} moved {which}'s parameters by the wrong amounts: {which}'s `{pname}` changed "
        f"by up to {fmt(moved)}, where the step changes it by up to {fmt(should)} (largest "
        f"difference {fmt(diff)}; {len(wrong)} of {len(list(module.parameters()))} parameter "
        f"tensors of {which} differ).{factor}"
    )


def hooked_backward_count(G: nn.Module) -> tuple[list[int], Any]:
    """Count the backward passes that reach G's outputs."""
    count = [0]

    def on_forward(_module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.requires_grad:

            def on_grad(grad: torch.Tensor) -> None:
                count[0] += 1

            output.register_hook(on_grad)

    return count, G.register_forward_hook(on_forward)


def run_learner_step(learner: Any, saturating: bool) -> None:
    G0, D0, real, z = step_inputs()
    G, D = copy.deepcopy(G0), copy.deepcopy(D0)
    plant_stale(G, 1)
    plant_stale(D, 2)
    opt_g = torch.optim.SGD(G.parameters(), lr=LR_G)
    opt_d = torch.optim.SGD(D.parameters(), lr=LR_D)
    before_d, before_g = flat(D), flat(G)
    real_in, z_in = real.clone(), z.clone()
    name = (
        f"train_step(G, D, opt_g SGD(lr={LR_G}), opt_d SGD(lr={LR_D}), real (6, 2), z (5, 2), "
        f"saturating={saturating})"
    )
    count, handle = hooked_backward_count(G)
    try:
        result = call_with_inputs(
            name, learner.train_step, G, D, opt_g, opt_d, real_in, z_in, saturating=saturating
        )
    except AssertionError as failure:
        text = str(failure)
        if "backward through the graph a second time" in text:
            fail(
                f"{text}\nThe generator's graph was freed by an earlier backward(): the D "
                "step's loss went back through G. Detach the fake for the D step "
                "(D(fake.detach())), so that only the G step backpropagates into G"
            )
        if "modified by an inplace operation" in text:
            fail(
                f"{text}\nA backward() needed D's weights as they were before opt_d.step() "
                "changed them in place: run D on the fake again after the D step "
                "(fake_logits = D(fake)) for the generator's loss"
            )
        raise
    finally:
        handle.remove()
    d_loss, g_loss = assert_tuple(result, ("d_loss", "g_loss"), name)
    d_loss = as_float(d_loss, f"the d_loss from {name}", "d_loss")
    g_loss = as_float(g_loss, f"the g_loss from {name}", "g_loss")
    if not (torch.equal(real_in, real) and torch.equal(z_in, z)):
        fail(f"{name} changed the real or z tensor it was given")
    delta_d, delta_g = flat(D) - before_d, flat(G) - before_g
    want_d, want_g, want_dl, want_gl, d_after = simulate(G0, D0, real, z, saturating=saturating)

    def slips(part: int) -> Any:
        return lambda: {
            text: (lambda kw=kw: simulate(G0, D0, real, z, saturating=saturating, **kw)[part])
            for text, kw in STEP_SLIPS
        }

    for which, module, got, want, part in (
        ("D", D, delta_d, want_d, 0),
        ("G", G, delta_g, want_g, 1),
    ):
        if torch.count_nonzero(got) == 0:
            loss = "discriminator" if which == "D" else "generator"
            if which == "G" and count[0] == 0:
                fail(
                    f"{name} did not change G's parameters at all, and no gradient reached "
                    "G's output in any backward(): the generator's loss must be computed from "
                    "D(fake) with the fake still attached to G (not detached, not made under "
                    "torch.no_grad())"
                )
            fail(
                f"{name} did not change {which}'s parameters at all: the {which} step is "
                f"opt_{which.lower()}.zero_grad(), backward() of the {loss} loss, then "
                f"opt_{which.lower()}.step()"
            )
        check_delta(which, module, got, want, slips(part), name)
    if count[0] != 1:
        fail(
            f"{name} updated both networks correctly, but {count[0]} backward passes reached "
            "G's output; expected 1 (the generator's loss). The discriminator's loss went back "
            "through G too, which costs a backward pass through G and leaves gradients in it: "
            "detach the fake for the D step, D(fake.detach())"
        )
    assert_close(
        d_loss,
        want_dl,
        name=f"the d_loss from {name}",
        rtol=1e-4,
        atol=1e-6,
        mistakes={
            "the generator's loss (the two are swapped in the tuple)": want_gl,
            "D's loss recomputed after opt_d.step(); return the loss the D step minimized, "
            "before its update": d_after,
        },
    )
    assert_close(
        g_loss,
        want_gl,
        name=f"the g_loss from {name}",
        rtol=1e-4,
        atol=1e-6,
        mistakes={
            "the discriminator's loss (the two are swapped in the tuple)": want_dl,
            "the generator's loss against D before its update; it is computed with the "
            "updated D": lambda: simulate(G0, D0, real, z, saturating=saturating, g_first=True)[3],
        },
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("saturating", [False, True])
def test_train_step_parameter_deltas(learner: Any, saturating: bool) -> None:
    run_learner_step(learner, saturating)


# ----- task 3: data and the loop ----------------------------------------------------------------
@pytest.mark.task(3)
@pytest.mark.parametrize(("n_modes", "radius"), [(8, 2.0), (5, 1.5)])
def test_ring_modes(learner: Any, n_modes: int, radius: float) -> None:
    name = f"ring_modes({n_modes}, {radius})"
    got = call_with_inputs(name, learner.ring_modes, n_modes, radius)
    want = ref_modes(n_modes, radius).float()
    k = torch.arange(n_modes, dtype=torch.float64)
    assert_tensor(
        got,
        want,
        name=name,
        rtol=1e-5,
        atol=1e-5,
        mistakes={
            "angles 2πk/n read as degrees (torch.cos takes radians)": lambda: (
                radius
                * torch.stack([torch.cos(360 * k / n_modes), torch.sin(360 * k / n_modes)], 1)
            ),
            "(sin, cos) instead of (cos, sin): mode 0 is at (radius, 0)": lambda: want.flip(1),
            "the modes numbered from 1 (mode 0 sits at angle 0)": lambda: torch.roll(want, -1, 0),
            "the angle divided by the constant N_MODES = 8 instead of the argument n_modes "
            "(mode k at 2πk/N_MODES)": lambda: (
                radius
                * torch.stack(
                    [torch.cos(2 * math.pi * k / N_MODES), torch.sin(2 * math.pi * k / N_MODES)], 1
                )
            ),
            "the radius taken as the diameter": want / 2,
            "a unit circle (the radius is missing)": want / radius,
            "angles from torch.linspace(0, 2π, n), which includes 2π: the last mode lands on "
            "the first": lambda: (
                radius
                * torch.stack(
                    [
                        torch.cos(torch.linspace(0, 2 * math.pi, n_modes)),
                        torch.sin(torch.linspace(0, 2 * math.pi, n_modes)),
                    ],
                    1,
                )
            ),
        },
    )


@pytest.mark.task(3)
def test_sample_ring(learner: Any) -> None:
    n, n_modes, radius, std = 12_000, 6, 1.5, 0.1
    name = f"sample_ring({n}, generator, n_modes={n_modes}, radius={radius}, std={std})"

    def draw(seed: int, global_seed: int) -> torch.Tensor:
        torch.manual_seed(global_seed)
        generator = torch.Generator().manual_seed(seed)
        return call_with_inputs(
            name, learner.sample_ring, n, generator, n_modes=n_modes, radius=radius, std=std
        )

    got = draw(3, 0)
    if not isinstance(got, torch.Tensor):
        fail(f"{name} should be a torch.Tensor; got {type(got).__name__}")
    if tuple(got.shape) != (n, 2):
        fail(f"{name} has shape {tuple(got.shape)}; expected ({n}, 2)")
    if got.dtype != torch.float32:
        fail(f"{name} has dtype {got.dtype}; expected torch.float32, the networks' dtype")
    if got.requires_grad:
        fail(f"{name} requires grad: data needs no graph")
    again = draw(3, 1)
    if not torch.equal(got, again):
        fail(
            f"two calls of {name} with generators seeded alike gave different samples (the check "
            "reseeded torch's global RNG in between): draw every random number from the "
            "generator you are given (torch.randint(..., generator=generator), "
            "torch.randn(..., generator=generator))"
        )
    if torch.equal(got, draw(4, 0)):
        fail(f"{name} gave the same samples for generators seeded 3 and 4: use the generator")
    index, dist = ref_nearest(got, ref_modes(n_modes, radius))
    residual = got.double() - ref_modes(n_modes, radius)[index]
    far = float(dist.max())
    if far > 8 * std:
        for centres, clue in (
            (
                ref_modes(n_modes, RADIUS),
                f"the modes of the default radius RADIUS = {RADIUS}, not the radius = {radius} "
                f"passed in: build the centres with ring_modes(n_modes, radius)",
            ),
            (
                ref_modes(N_MODES, radius)[:n_modes],
                f"the first {n_modes} modes of ring_modes(N_MODES = {N_MODES}, {radius}), not "
                f"the {n_modes} modes of ring_modes({n_modes}, {radius}): build the centres with "
                "ring_modes(n_modes, radius), the n_modes you draw from",
            ),
            (
                ref_modes(N_MODES, RADIUS)[:n_modes],
                f"the first {n_modes} modes of the default ring ring_modes() (N_MODES = "
                f"{N_MODES}, RADIUS = {RADIUS}): build the centres with ring_modes(n_modes, "
                "radius)",
            ),
        ):
            if float(ref_nearest(got, centres)[1].max()) <= 8 * std:
                fail(f"every sample of {name} lies within 8 std of {clue}")
        fail(
            f"{name} put a sample {fmt(far)} from the nearest of the {n_modes} modes "
            f"(ring_modes({n_modes}, {radius})), more than 8 std away: each sample is a mode "
            "plus std · a standard normal"
        )
    spread = residual.std(dim=0)
    for axis, value in zip("xy", spread.tolist(), strict=True):
        if not 0.95 * std <= value <= 1.05 * std:
            clue = ""
            if math.isclose(value, std**2, rel_tol=0.1):
                clue = " — that is std², as if std were the variance: multiply by std itself"
            elif math.isclose(value, std / math.sqrt(3), rel_tol=0.1):
                clue = (
                    " — about std/√3, the spread of uniform noise on [−std, std]: the noise is "
                    "normal (torch.randn)"
                )
            elif value < 1e-6:
                clue = f" — no noise on {axis}: noise goes on both coordinates, torch.randn(n, 2)"
            fail(
                f"the samples of {name} spread {fmt(value)} around their mode along {axis}; "
                f"expected std = {std}{clue}"
            )
    corr = float(torch.corrcoef(residual.T)[0, 1])
    if abs(corr) > 0.1:
        fail(
            f"the noise of {name} on x and on y is correlated (correlation {corr:.3f}): draw "
            "independent noise for each coordinate, torch.randn(n, 2, generator=generator)"
        )
    counts = torch.bincount(index, minlength=n_modes)
    expected = n / n_modes
    worst = int(torch.argmax((counts - expected).abs()))
    if abs(float(counts[worst]) - expected) > 5 * math.sqrt(expected):
        fail(
            f"{name} drew {int(counts[worst])} samples from mode {worst}; expected about "
            f"{expected:.0f} per mode (counts {counts.tolist()}): pick each sample's mode "
            f"uniformly among all {n_modes}, torch.randint({n_modes}, (n,), generator=generator)"
        )


class StepLog:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failure: str | None = None

    def fail(self, message: str) -> None:
        """A verdict from inside the learner's loop, kept even if the loop catches it."""
        self.failure = message
        fail(message)


def watched_train_gan(
    learner: Any, G: nn.Module, D: nn.Module, name: str, **kwargs: Any
) -> tuple[Any, StepLog]:
    log = StepLog()
    batch, z_dim = kwargs["batch_size"], kwargs["z_dim"]
    original = learner.train_step

    signature = inspect.signature(original)

    def recorder(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            log.fail(f"train_gan called train_step with arguments it does not take: {exc}")
        bound.apply_defaults()
        values = list(bound.arguments.values())
        G_, D_, opt_g, opt_d, real, z = values[:6]
        entry = {
            "G": G_,
            "D": D_,
            "opt_g": opt_g,
            "opt_d": opt_d,
            "real": real.detach().clone() if isinstance(real, torch.Tensor) else real,
            "z": z.detach().clone() if isinstance(z, torch.Tensor) else z,
            "saturating": bound.arguments.get("saturating", False),
        }
        k = len(log.calls)
        log.calls.append(entry)
        if not isinstance(real, torch.Tensor) or tuple(real.shape) != (batch, 2):
            shape = tuple(real.shape) if isinstance(real, torch.Tensor) else type(real).__name__
            log.fail(
                f"{name} passed a real batch of shape {shape} at step {k}; expected ({batch}, 2)"
            )
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != (batch, z_dim):
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            log.fail(
                f"{name} passed noise z of shape {shape} at step {k}; expected ({batch}, "
                f"{z_dim}): torch.randn(batch_size, z_dim, generator=generator)"
            )
        result = original(*args, **kwargs)
        entry["result"] = result
        return result

    learner.train_step = recorder
    try:
        history = call_with_inputs(name, learner.train_gan, G, D, **kwargs)
    except AssertionError:
        if log.failure:
            fail(log.failure)
        raise
    finally:
        learner.train_step = original
    if log.failure:
        fail(log.failure)
    return history, log


def optimizer_problem(opt: Any, own: nn.Module, other: nn.Module, role: str) -> str | None:
    if not isinstance(opt, torch.optim.Optimizer):
        return f"{role} is a {type(opt).__name__}, not a torch.optim optimizer"
    held = {id(p) for group in opt.param_groups for p in group["params"]}
    mine, theirs = {id(p) for p in own.parameters()}, {id(p) for p in other.parameters()}
    net, rival = ("G", "D") if role == "opt_g" else ("D", "G")
    if held & theirs and held & mine:
        return (
            f"{role} holds the parameters of both networks: with one optimizer the {net} "
            f"step moves {rival} too. Create one optimizer per network"
        )
    if held & theirs:
        return f"{role} holds {rival}'s parameters instead of {net}'s: the optimizers are swapped"
    if held != mine:
        return f"{role} holds {len(held & mine)} of {net}'s {len(mine)} parameter tensors"
    if not isinstance(opt, torch.optim.Adam) or isinstance(opt, torch.optim.AdamW):
        return f"{role} is torch.optim.{type(opt).__name__}; the task asks for torch.optim.Adam"
    return None


@pytest.mark.task(3)
def test_train_gan_loop(learner: Any) -> None:
    seed_everything(0)
    steps, batch, lr, z_dim = 6, 16, 2e-3, 3
    G, D = networks(7, 16, z_dim)
    name = f"train_gan(G, D, steps={steps}, batch_size={batch}, lr={lr}, z_dim={z_dim}, ...)"
    history, log = watched_train_gan(
        learner,
        G,
        D,
        name,
        steps=steps,
        batch_size=batch,
        lr=lr,
        z_dim=z_dim,
        seed=4,
        saturating=True,
    )
    calls = log.calls
    if not calls:
        fail(
            f"{name} never called train_step: call your train_step once per step (the check "
            "watches it to see the optimizers, batches and noise you hand it)"
        )
    if len(calls) != steps:
        fail(f"{name} called train_step {len(calls)} times; expected once per step, {steps}")
    first = calls[0]
    if first["G"] is not G or first["D"] is not D:
        fail(f"{name} passed other networks to train_step than the G and D it was given")
    for role, own, other in (("opt_g", G, D), ("opt_d", D, G)):
        problem = optimizer_problem(first[role], own, other, role)
        if problem:
            fail(f"in {name}, {problem}")
        group = first[role].param_groups[0]
        if not math.isclose(float(group["lr"]), lr, rel_tol=1e-9):
            fail(f"{name} made {role} with lr={group['lr']:g}: pass train_gan's lr={lr:g} on")
        betas = tuple(float(b) for b in group["betas"])
        if betas != (0.5, 0.999):
            fail(
                f"{name} made {role} with betas={betas}; the task asks for betas=(0.5, 0.999): "
                "a lower β1 than Adam's default 0.9 keeps the momentum short, which the "
                "ever-moving target of a GAN needs"
            )
    for k, call in enumerate(calls[1:], start=1):
        for role in ("opt_g", "opt_d"):
            if call[role] is not first[role]:
                fail(
                    f"{name} handed train_step a new {role} at step {k}: create the two "
                    "optimizers once, before the loop (a new Adam forgets its running averages)"
                )
    for k, call in enumerate(calls):
        if call["saturating"] is not True:
            fail(
                f"{name} with saturating=True called train_step(..., saturating="
                f"{call['saturating']!r}) at step {k}: pass saturating on"
            )
        real = call["real"]
        _index, dist = ref_nearest(real, ref_modes())
        if float(dist.max()) > 10 * STD:
            fail(
                f"the real batch {name} passed at step {k} has a point {fmt(float(dist.max()))} "
                f"from the nearest mode of the ring: draw it with sample_ring(batch_size, "
                "generator)"
            )
    reals = torch.stack([c["real"] for c in calls])
    zs = torch.stack([c["z"] for c in calls])
    if torch.equal(reals[0], reals[1]) and torch.equal(zs[0], zs[1]):
        fail(
            f"{name} passed the same real batch and the same noise at steps 0 and 1: is the "
            "generator made (or reseeded) inside the loop? Make it once, before the loop, so "
            "that every draw moves it on"
        )
    if torch.equal(reals[0], reals[1]):
        fail(f"{name} passed the same real batch at steps 0 and 1: draw a new one every step")
    if torch.equal(zs[0], zs[1]):
        fail(f"{name} passed the same noise z at steps 0 and 1: draw new noise every step")
    spread = float(zs.std())
    if not 0.8 <= spread <= 1.2:
        clue = " (uniform noise, torch.rand, spreads about 0.29)" if 0.2 < spread < 0.35 else ""
        fail(
            f"the noise z {name} passed has a standard deviation of {spread:.3f}; expected "
            f"about 1, a standard normal: torch.randn{clue}"
        )
    own_z = torch.Generator().manual_seed(4)
    if all(torch.equal(z, torch.randn(batch, z_dim, generator=own_z)) for z in zs):
        fresh = torch.Generator().manual_seed(4)
        which = torch.randint(N_MODES, (batch,), generator=fresh)
        first_real = ref_modes().float()[which] + STD * torch.randn(batch, 2, generator=fresh)
        also = (
            ", and the real batch at step 0 is the first draw of another generator seeded with "
            "seed: two torch.Generators seeded alike"
            if torch.allclose(reals[0], first_real, rtol=1e-5, atol=1e-5)
            else ""
        )
        fail(
            f"the noise z {name} passed at steps 0 to {steps - 1} is exactly what a "
            "torch.Generator().manual_seed(seed) of its own yields, one torch.randn(batch_size, "
            f"z_dim) after another, as if z had a generator to itself{also}. Make one generator "
            "and draw the real batch and then z from it each step"
        )
    if not isinstance(history, dict):
        fail(f"{name} should return a dict with the lists 'd_loss' and 'g_loss'; got "
             f"{type(history).__name__}")  # fmt: skip
    if set(history) != {"d_loss", "g_loss"}:
        fail(f"{name} returned a dict with keys {sorted(history)}; expected ['d_loss', 'g_loss']")
    returned = [c["result"] for c in calls]
    for i, key in enumerate(("d_loss", "g_loss")):
        values = history[key]
        if not isinstance(values, list) or len(values) != steps:
            size = len(values) if hasattr(values, "__len__") else type(values).__name__
            fail(f"{name}['{key}'] has {size} entries; expected a list of {steps}, one per step")
        for k, (value, result) in enumerate(zip(values, returned, strict=True)):
            if isinstance(value, torch.Tensor):
                fail(f"{name}['{key}'][{k}] is a tensor; store the float train_step returns")
            if not math.isclose(float(value), float(result[i]), rel_tol=1e-12, abs_tol=1e-12):
                fail(
                    f"{name}['{key}'][{k}] is {fmt(float(value))}; train_step returned "
                    f"{fmt(float(result[i]))} as the {key} of that step"
                )


@pytest.mark.task(3)
def test_train_gan_is_seeded(learner: Any) -> None:
    def run(seed: int, global_seed: int) -> tuple[Any, torch.Tensor, torch.Tensor]:
        G, D = networks(3, 16)
        torch.manual_seed(global_seed)
        state = torch.get_rng_state()
        history = call_with_inputs(
            f"train_gan(G, D, steps=15, batch_size=32, seed={seed})",
            learner.train_gan,
            G,
            D,
            steps=15,
            batch_size=32,
            seed=seed,
        )
        if not torch.equal(torch.get_rng_state(), state):
            fail(
                "train_gan(...) drew from (or reseeded) torch's global random generator: make "
                "one torch.Generator().manual_seed(seed) and pass it to every draw (sample_ring, "
                "torch.randn(..., generator=generator)); the global RNG belongs to the caller"
            )
        return history, flat(G), flat(D)

    h1, g1, d1 = run(1, 100)
    h2, g2, d2 = run(1, 200)
    if not (torch.equal(g1, g2) and torch.equal(d1, d2)):
        fail(
            "two runs of train_gan(..., seed=1) on identical networks ended with different "
            "parameters: everything random must come from the generator seeded with seed"
        )
    if h1 != h2:
        fail("two runs of train_gan(..., seed=1) on identical networks returned different losses")
    _h3, g3, _d3 = run(2, 100)
    if torch.equal(g1, g3):
        fail("train_gan with seed=1 and seed=2 trained the same generator: use the seed")


# ----- task 4: measuring the generator ----------------------------------------------------------
class Recorder(nn.Module):
    """A generator whose output is its noise's first two coordinates, times 0.5, plus (1, −1)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))
        self.inputs: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.inputs.append(z.detach().clone())
        return self.scale * z[:, :2] + torch.tensor([1.0, -1.0])


@pytest.mark.task(4)
def test_generate(learner: Any) -> None:
    n, z_dim = 4000, 3

    def draw(seed: int, global_seed: int) -> tuple[Any, Recorder]:
        G = Recorder()
        torch.manual_seed(global_seed)
        generator = torch.Generator().manual_seed(seed)
        out = call_with_inputs(
            f"generate(G, {n}, {z_dim}, generator)", learner.generate, G, n, z_dim, generator
        )
        return out, G

    name = f"generate(G, {n}, {z_dim}, generator)"
    got, G = draw(5, 0)
    if not isinstance(got, torch.Tensor):
        fail(f"{name} should be a torch.Tensor; got {type(got).__name__}")
    if tuple(got.shape) != (n, 2):
        fail(f"{name} has shape {tuple(got.shape)}; expected ({n}, 2)")
    if got.requires_grad:
        fail(
            f"{name} still requires grad: sample under torch.no_grad(), so no graph is built "
            "(and nothing can backpropagate into G from an evaluation)"
        )
    if len(G.inputs) != 1 or tuple(G.inputs[0].shape) != (n, z_dim):
        shapes = [tuple(x.shape) for x in G.inputs]
        fail(f"{name} called G with inputs {shapes}; expected one call on noise ({n}, {z_dim})")
    z = G.inputs[0]
    if not 0.9 <= float(z.std()) <= 1.1 or abs(float(z.mean())) > 0.1:
        fail(
            f"the noise {name} fed to G has mean {float(z.mean()):.3f} and std "
            f"{float(z.std()):.3f}; expected a standard normal, torch.randn(n, z_dim, "
            "generator=generator)"
        )
    assert_tensor(got, G.scale.detach() * z[:, :2] + torch.tensor([1.0, -1.0]), name=name)
    again, _ = draw(5, 1)
    if not torch.equal(got, again):
        fail(
            f"two calls of {name} with generators seeded alike gave different samples: draw the "
            "noise from the generator you are given"
        )


def nearest_case() -> tuple[torch.Tensor, torch.Tensor]:
    modes = ref_modes(4, 1.0).float()
    samples = torch.tensor([[0.9, 0.1], [0.05, 1.2], [-2.0, 0.3], [0.2, -0.7], [0.6, 0.55]])
    return modes, samples


@pytest.mark.task(4)
def test_nearest_mode(learner: Any) -> None:
    modes, samples = nearest_case()
    name = "nearest_mode(samples (5, 2), ring_modes(4, 1.0))"
    result = call_with_inputs(name, learner.nearest_mode, samples.clone(), modes.clone())
    index, dist = assert_tuple(result, ("index", "distance"), name)
    want_index, want_dist = ref_nearest(samples, modes)
    full = (samples[:, None, :] - modes[None, :, :]).norm(dim=-1)
    if not isinstance(index, torch.Tensor):
        fail(f"the index from {name} should be a torch.Tensor; got {type(index).__name__}")
    if index.dtype != torch.int64:
        fail(f"the index from {name} has dtype {index.dtype}; expected torch.int64 (argmin's)")
    assert_tensor(
        index,
        want_index,
        name=f"the index from {name}",
        mistakes={
            "the farthest mode (argmax), not the nearest": full.argmax(dim=1),
            "an argmin over the samples (dim=0) instead of over the modes": full.argmin(dim=0),
        },
    )
    assert_tensor(
        dist,
        want_dist.float(),
        name=f"the distance from {name}",
        rtol=1e-4,
        atol=1e-5,
        mistakes={
            "the squared distance; return the Euclidean distance (its square root)": (
                want_dist.float() ** 2
            ),
            "the L1 distance |dx| + |dy|; return the Euclidean distance": lambda: (
                (samples[:, None, :] - modes[None, :, :]).abs().sum(-1).min(dim=1).values
            ),
        },
    )


def coverage_case() -> tuple[torch.Tensor, torch.Tensor, float, int]:
    """Counts of high-quality samples 5, 4, 0, 7 around four modes, plus far-off junk.

    Mode 1 has exactly min_count - 1 good samples, mode 0 exactly min_count (≥ counts it), mode 2
    has only junk nearest to it (beyond the radius), and three samples sit at 0.8, 1 and 1.2 times
    the radius from mode 3. The radius 0.25 is exact in float32 and mode 3 is (≈0, −2), so the
    sample at (≈0, −2.25) is exactly `radius` from it however the distance is computed: ≤ counts
    it, < does not.
    """
    modes = ref_modes(4, 2.0).float()
    radius, min_count = 0.25, 5
    g = torch.Generator().manual_seed(9)

    def around(mode: int, k: int, spread: float) -> torch.Tensor:
        angle = 2 * math.pi * torch.rand(k, generator=g)
        r = spread * torch.rand(k, generator=g)
        return modes[mode] + torch.stack([r * torch.cos(angle), r * torch.sin(angle)], 1)

    junk = torch.tensor([[-1.2, 0.1], [-1.0, -0.2], [-1.3, 0.3], [-0.9, 0.0], [-1.1, -0.1],
                         [-1.4, 0.2], [0.4, 0.35], [0.3, 1.3]])  # fmt: skip
    parts = [
        around(0, 5, 0.2),
        around(1, 4, 0.2),
        around(3, 5, 0.2),
        modes[3] + torch.tensor([[0.0, 0.8 * radius], [0.0, -radius], [1.2 * radius, 0.0]]),
        junk,
    ]
    samples = torch.cat(parts)
    order = torch.randperm(len(samples), generator=g)
    return modes, samples[order], radius, min_count


@pytest.mark.task(4)
def test_mode_coverage(learner: Any) -> None:
    modes, samples, radius, min_count = coverage_case()
    n = len(samples)
    name = f"mode_coverage(samples ({n}, 2), ring_modes(4, 2.0), radius={radius}, min_count=5)"
    got = call_with_inputs(
        name,
        learner.mode_coverage,
        samples.clone(),
        modes.clone(),
        radius=radius,
        min_count=min_count,
    )
    covered, hq, counts = assert_tuple(got, ("covered", "high_quality", "counts"), name)
    want_cov, want_hq, want_counts = ref_coverage(samples, modes, radius, min_count)
    index, dist = ref_nearest(samples, modes)
    all_counts = torch.bincount(index, minlength=4)
    squared = torch.bincount(index[dist**2 <= radius], minlength=4)
    strict = torch.bincount(index[dist < radius], minlength=4)
    if not isinstance(counts, torch.Tensor):
        fail(f"counts from {name} should be a torch.Tensor; got {type(counts).__name__}")
    if counts.dtype != torch.int64:
        fail(f"counts from {name} has dtype {counts.dtype}; expected torch.int64 (bincount's)")
    if tuple(counts.shape) != (len(modes),):
        fail(
            f"counts from {name} has shape {tuple(counts.shape)}; expected ({len(modes)},), one "
            f"count per row of the `modes` argument (the check passes {len(modes)} modes)"
        )
    assert_tensor(
        counts,
        want_counts,
        name=f"counts from {name}",
        mistakes={
            "every sample counted for its nearest mode, however far (no radius): far-off "
            "samples are not samples of that mode": all_counts,
            "the squared distance compared with the radius": squared,
            "a strict dist < radius: the sample exactly `radius` from mode 3 is high-quality "
            "too (within the radius means ≤ radius)": strict,
        },
    )
    if isinstance(covered, bool) or not isinstance(covered, int):
        fail(f"covered from {name} should be a Python int; got {type(covered).__name__}")
    mistakes = {
        "a mode counted only with more than min_count samples (> instead of ≥)": int(
            (want_counts > min_count).sum()
        ),
        "every mode with any high-quality sample counted (min_count ignored)": int(
            (want_counts > 0).sum()
        ),
        "modes counted without the radius": int((all_counts >= min_count).sum()),
    }
    if covered != want_cov:
        label = next((t for t, v in mistakes.items() if v == covered and v != want_cov), None)
        fail(
            f"covered from {name} is {covered}"
            + (f", which looks like {label}" if label else "")
            + f"; expected {want_cov} (high-quality counts per mode {want_counts.tolist()}, a "
            f"mode is covered with at least min_count = {min_count})"
        )
    assert_close(
        hq,
        want_hq,
        name=f"high_quality from {name}",
        rtol=1e-6,
        atol=1e-9,
        mistakes={
            "the number of high-quality samples, not their fraction": want_hq * n,
            "the fraction of samples beyond the radius": 1 - want_hq,
            "the fraction of the samples of covered modes only": float(
                want_counts[want_counts >= min_count].sum()
            )
            / n,
        },
    )
    if not isinstance(hq, float):
        fail(f"high_quality from {name} should be a Python float; got {type(hq).__name__}")


class Collapsed(nn.Module):
    """A generator collapsed onto modes 1 and 6, with a little junk between modes 3 and 4."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("modes", ref_modes().float())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        pick = torch.where(z[:, 0] < 0.4, 1, 6)
        out = self.modes[pick] + 0.4 * STD * z[:, 1:3]
        junk = z[:, 0].abs() > 2.0  # about 4.5 %, nearest to mode 3 or 4, beyond the radius
        between = 0.5 * (self.modes[3] + self.modes[4]) + 0.05 * z[:, 1:3]
        return torch.where(junk[:, None], between, out)


@pytest.mark.task(4)
def test_detects_mode_collapse(learner: Any) -> None:
    n = 2000
    modes = ref_modes().float()
    name = f"mode_coverage(generate(collapsed G, {n}, 3, generator), ring_modes(), radius=0.15, "
    name += f"min_count={MIN_COUNT})"
    samples = call_with_inputs(
        f"generate(collapsed G, {n}, 3, generator)",
        learner.generate,
        Collapsed(),
        n,
        3,
        torch.Generator().manual_seed(2),
    )
    got = call_with_inputs(
        name, learner.mode_coverage, samples, modes, radius=HQ_RADIUS, min_count=MIN_COUNT
    )
    covered, hq, counts = assert_tuple(got, ("covered", "high_quality", "counts"), name)
    want_cov, want_hq, want_counts = ref_coverage(samples, modes, HQ_RADIUS, MIN_COUNT)
    assert want_cov == 2, "the check's collapsed generator should cover exactly modes 1 and 6"
    index, _dist = ref_nearest(samples, modes)
    if covered != want_cov:
        no_radius = int((torch.bincount(index, minlength=8) >= MIN_COUNT).sum())
        clue = (
            ", which looks like modes counted without the radius (the stray points between "
            "modes 3 and 4 made those two look covered)"
            if covered == no_radius
            else ""
        )
        fail(
            f"{name} reports {covered} modes covered for a generator the check collapsed onto "
            f"modes 1 and 6{clue} (high-quality counts per mode {want_counts.tolist()}); "
            "expected 2"
        )
    assert_tensor(
        counts,
        want_counts,
        name=f"counts from {name}",
        mistakes={
            "torch.bincount without minlength=len(modes): the modes after the last one with a "
            "sample are missing": want_counts[: int(want_counts.nonzero().max()) + 1],
        },
    )
    assert_close(hq, want_hq, name=f"high_quality from {name}", rtol=1e-6, atol=1e-9)
    g = torch.Generator().manual_seed(3)
    real = ref_modes().float()[torch.randint(8, (n,), generator=g)] + STD * torch.randn(
        n, 2, generator=g
    )
    got_real = call_with_inputs(
        f"mode_coverage(ring samples ({n}, 2), ...)",
        learner.mode_coverage,
        real,
        modes,
        radius=HQ_RADIUS,
        min_count=MIN_COUNT,
    )
    covered_real = assert_tuple(got_real, ("covered", "high_quality", "counts"), "mode_coverage")
    if covered_real[0] != 8:
        fail(f"mode_coverage on {n} samples of the ring itself reports {covered_real[0]} modes "
             "covered; expected all 8")  # fmt: skip


# ----- task 5: the trained generator ------------------------------------------------------------
TRAIN_STEPS = 2000
TRAIN_BATCH = 128
TRAIN_LR = 1e-3
NEED_MODES = 6
NEED_HQ = 0.4
EVAL_SAMPLES = 2000


def evaluate(G: nn.Module, seed: int = 1234) -> tuple[int, float, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        samples = G(torch.randn(EVAL_SAMPLES, Z_DIM, generator=generator))
    return ref_coverage(samples, ref_modes(), HQ_RADIUS, MIN_COUNT)


@functools.cache
def untrained_baseline() -> tuple[int, float]:
    G, _D = networks(0, 64)
    covered, hq, _counts = evaluate(G)
    return covered, hq


@once_per_run
def trained(learner: Any) -> tuple[nn.Module, Any]:
    seed_everything(0)
    G, D = networks(0, 64)
    history = call_with_inputs(
        f"train_gan(G, D, steps={TRAIN_STEPS}, batch_size={TRAIN_BATCH}, lr={TRAIN_LR}, seed=0)",
        learner.train_gan,
        G,
        D,
        steps=TRAIN_STEPS,
        batch_size=TRAIN_BATCH,
        lr=TRAIN_LR,
        z_dim=Z_DIM,
        seed=0,
    )
    return G, history


@pytest.mark.task(5)
def test_trained_generator_covers_the_ring(learner: Any) -> None:
    value, error = trained(learner)
    if error is not None:
        raise error
    assert value is not None
    G, history = value
    covered, hq, counts = evaluate(G)
    base_cov, base_hq = untrained_baseline()
    tail = ""
    if isinstance(history, dict) and history.get("d_loss"):
        last = history["d_loss"][-200:]
        mean_d = sum(float(v) for v in last) / len(last)
        tail = f" The discriminator's loss over the last 200 steps averaged {mean_d:.3g}"
        tail += " (2·log 2 ≈ 1.386 when D cannot tell real from fake)."
    if covered < NEED_MODES or hq < NEED_HQ:
        fail(
            f"the generator did not reach {NEED_MODES} of {N_MODES} modes covered with a "
            f"high-quality fraction of {NEED_HQ} within {TRAIN_STEPS} steps: the check drew "
            f"{EVAL_SAMPLES} samples and found {covered} modes covered, high-quality fraction "
            f"{hq:.3f} (high-quality counts per mode {counts.tolist()}; a high-quality sample "
            f"is within {HQ_RADIUS:g} of its mode, a mode is covered with {MIN_COUNT}). The "
            f"untrained generator scores {base_cov} modes and {base_hq:.3f}; the reference "
            "reaches 8 modes and about 0.75." + tail
        )
