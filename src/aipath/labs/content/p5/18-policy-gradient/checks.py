"""Checks for p5-policy-gradient: returns-to-go against the check's own (with every variant of a
wrong boundary), the categorical log-probability and the surrogate loss by value and by
gradient, the REINFORCE estimate on bandits whose true gradient is known, the variance a baseline
removes, a collected batch replayed against the environment, one update compared parameter by
parameter with a reference (SGD, stale gradients left in place), two iterations of the loop
replayed, CartPole trained to a bound, the diagonal Gaussian against torch.distributions, the
point-reaching environment step for step, and the trained Gaussian policy judged on new starts.

Statistical checks compute their band from the samples (4 standard errors); every training run
is seeded and single-threaded. Where a result is wrong, the check recomputes the output of each
known mistake on the same inputs and names the one it equals.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch._dynamo  # the first optimizer imports it (~1.3 s): a warm worker pays it once
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    assert_array,
    assert_close,
    assert_returned,
    assert_tensor,
    call_learner,
    fail,
    fmt,
    forbid_calls,
    matching_mistake,
    seed_everything,
    to_numpy,
)


# ----- the check's own pieces --------------------------------------------------------------------
def ref_mlp(in_dim: int, out_dim: int, hidden: int = 64) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, out_dim),
    )


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def flat(module: nn.Module) -> np.ndarray:
    return torch.cat([p.detach().double().flatten() for p in module.parameters()]).numpy()


@dataclass
class RefBatch:
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: np.ndarray
    episode_returns: np.ndarray


FIELDS = ("obs", "actions", "rewards", "terminated", "truncated", "next_obs", "episode_returns")


def copy_batch(batch: RefBatch) -> RefBatch:
    return RefBatch(*(np.array(getattr(batch, f), copy=True) for f in FIELDS))


def ref_returns(
    rewards: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    next_values: np.ndarray,
    gamma: float,
    *,
    on_term: str = "zero",
    on_trunc: str = "bootstrap",
    both: str = "term",
    bootstrap_gamma: bool = True,
    every_step: bool = False,
    drop_trunc_reward: bool = False,
) -> np.ndarray:
    """The reference, and its variants: what a terminated / truncated step does to `future`
    ("zero", "bootstrap" or "carry" on), which flag wins when both are set, …"""
    rewards = np.asarray(rewards, dtype=np.float64)
    out = np.zeros(len(rewards))
    future = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        term, trunc = bool(terminated[t]), bool(truncated[t])
        if term and trunc:
            term, trunc = (True, False) if both == "term" else (False, True)
        rule = on_term if term else on_trunc if trunc else "carry"
        if every_step and not term:
            rule = "bootstrap"
        if rule == "zero":
            future = 0.0
        elif rule == "bootstrap":
            future = float(next_values[t])
        g = gamma if (bootstrap_gamma or rule != "bootstrap") else 1.0
        reward = 0.0 if (drop_trunc_reward and trunc and not term) else rewards[t]
        out[t] = reward + g * future
        future = out[t]
    return out


def episode_slices(terminated: np.ndarray, truncated: np.ndarray) -> list[slice]:
    ends = np.flatnonzero(np.asarray(terminated) | np.asarray(truncated))
    starts = np.r_[0, ends[:-1] + 1]
    return [slice(int(s), int(e) + 1) for s, e in zip(starts, ends, strict=True)]


def per_episode(terminated: np.ndarray, truncated: np.ndarray, n: int, func: Any) -> np.ndarray:
    out = np.zeros(n)
    for sl in episode_slices(terminated, truncated):
        out[sl] = func(sl)
    return out


def returns_mistakes(
    rewards: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    nv: np.ndarray,
    gamma: float,
) -> dict[str, Any]:
    r, te, tr = np.asarray(rewards, float), np.asarray(terminated), np.asarray(truncated)
    n = len(r)

    def args(**kw: Any) -> Any:
        return lambda: ref_returns(r, te, tr, nv, gamma, **kw)

    def forward(sl: slice) -> np.ndarray:
        seg = r[sl]
        return np.array(
            [sum(gamma ** (t - k) * seg[k] for k in range(t + 1)) for t in range(len(seg))]
        )

    def from_start(sl: slice) -> np.ndarray:
        seg = r[sl]
        return np.array(
            [sum(gamma**k * seg[k] for k in range(t, len(seg))) for t in range(len(seg))]
        )

    def whole(sl: slice) -> np.ndarray:
        want = ref_returns(r, te, tr, nv, gamma)
        return np.full(sl.stop - sl.start, want[sl.start])

    return {
        "the return carried across episode boundaries (it must restart at every terminated or "
        "truncated step, walking backwards)": args(on_term="carry", on_trunc="carry"),
        "a return that does not stop at a terminated step (the next episode's rewards leak "
        "into it)": args(on_term="carry"),
        "truncation treated as termination (a truncated step is completed with "
        "γ·next_values[t], not cut to r)": args(on_trunc="zero"),
        "a truncated step that does not end the return (it must end it and add "
        "γ·next_values[t])": args(on_trunc="carry"),
        "bootstrapping past a terminated step (G = r there: nothing follows)": args(
            on_term="bootstrap"
        ),
        "a step both terminated and truncated treated as truncated (terminated wins: G = r)": args(
            both="trunc"
        ),
        "the bootstrap without its γ (r + next_values[t]; it is r + γ·next_values[t])": args(
            bootstrap_gamma=False
        ),
        "one-step targets r + γ·next_values[t] at every step (next_values is read only where "
        "an episode is truncated)": args(every_step=True),
        "undiscounted returns (γ ignored)": lambda: ref_returns(r, te, tr, nv, 1.0),
        "γ applied forwards: each G_t sums the rewards *before* t, discounted backwards in "
        "time (return-to-go sums r_t + γ r_{t+1} + … from t onwards)": lambda: per_episode(
            te, tr, n, forward
        ),
        "discounting counted from the start of the episode (γ^k r_k) instead of from t "
        "(γ^(k−t) r_k)": lambda: per_episode(te, tr, n, from_start),
        "the whole episode's return at every step (each action may take credit only for the "
        "rewards after it)": lambda: per_episode(te, tr, n, whole),
        "the truncated step's own reward left out (there G = r + γ·next_values[t])": args(
            drop_trunc_reward=True
        ),
        "the right returns in reverse order (built backwards and never flipped)": lambda: (
            ref_returns(r, te, tr, nv, gamma)[::-1]
        ),
    }


# ----- task 1 -----------------------------------------------------------------------------------
def call_returns(learner: Any, r: Any, te: Any, tr: Any, nv: Any, gamma: float, label: str) -> Any:
    name = f"returns_to_go({label}, gamma={gamma})"
    kept = [np.array(x, copy=True) for x in (r, te, tr, nv)]
    got = call_learner(name, learner.returns_to_go, r, te, tr, nv, gamma)
    for arg, keep, what in zip(
        (r, te, tr, nv), kept, ("rewards", "terminated", "truncated", "next_values"), strict=True
    ):
        if not np.array_equal(arg, keep):
            fail(
                f"{name} changed its input `{what}` in place: compute the returns into a new array"
            )
    assert_returned(got, name, what="the returns")
    if isinstance(got, torch.Tensor):
        fail(f"{name} is a torch.Tensor; the README asks for a NumPy float64 array")
    arr = np.asarray(got)
    if arr.dtype.kind not in "f":
        fail(f"{name} has dtype {arr.dtype}; expected float64 (returns are not whole numbers)")
    want = ref_returns(r, te, tr, nv, gamma)
    if arr.dtype != np.float64:
        fail(f"{name} has dtype {arr.dtype}; expected float64")
    assert_array(
        arr,
        want,
        name=name,
        rtol=1e-10,
        atol=1e-10,
        mistakes=returns_mistakes(r, te, tr, nv, gamma),
    )
    return arr


@pytest.mark.task(1)
def test_returns_to_go_one_episode(learner: Any) -> None:
    r = np.array([1.0, 1, 1, 2, 2])
    te = np.array([0, 0, 1, 0, 0], dtype=bool)
    tr = np.array([0, 0, 0, 0, 1], dtype=bool)
    nv = np.array([0.0, 0, 0, 0, 8])
    call_returns(learner, r, te, tr, nv, 0.5, "the README's example")
    r = np.array([0.5, -1.0, 2.0, 0.25])
    call_returns(
        learner,
        r,
        np.array([0, 0, 0, 1], bool),
        np.zeros(4, bool),
        np.full(4, 3.0),
        0.9,
        "one terminated episode of 4 steps",
    )
    call_returns(
        learner,
        r,
        np.zeros(4, bool),
        np.array([0, 0, 0, 1], bool),
        np.full(4, 3.0),
        0.9,
        "one truncated episode of 4 steps, next_values 3",
    )


def batch_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Episodes laid end to end, ending terminated, truncated or both; next_values nowhere 0."""
    rng = np.random.default_rng(seed)
    ends = ["term", "trunc", "both", "trunc", "term", "term", "trunc"]
    r, te, tr = [], [], []
    for kind in ends:
        length = int(rng.integers(1, 7))
        r.extend(rng.normal(1.0, 1.0, size=length).round(3))
        te.extend([False] * (length - 1) + [kind in ("term", "both")])
        tr.extend([False] * (length - 1) + [kind in ("trunc", "both")])
    nv = rng.uniform(2.0, 6.0, size=len(r)).round(3)
    return np.array(r), np.array(te, bool), np.array(tr, bool), nv


@pytest.mark.task(1)
def test_returns_to_go_batch(learner: Any) -> None:
    for seed, gamma in ((0, 0.8), (1, 0.95)):
        r, te, tr, nv = batch_case(seed)
        call_returns(
            learner,
            r,
            te,
            tr,
            nv,
            gamma,
            f"7 episodes, {len(r)} steps, ending terminated/truncated/both",
        )


@pytest.mark.task(1)
def test_returns_to_go_unfinished(learner: Any) -> None:
    r = np.array([1.0, 2.0, 3.0])
    te = np.array([True, False, False])
    tr = np.zeros(3, bool)
    name = "returns_to_go(rewards, terminated=[True, False, False], truncated all False, ...)"
    try:
        got = learner.returns_to_go(r, te, tr, np.ones(3), 0.9)
    except NotImplementedError:
        raise
    except ValueError:
        return
    except Exception as exc:
        fail(
            f"{name} raised {type(exc).__name__}: {str(exc)[:200]}; expected a ValueError: the "
            "last step ends no episode, so its return cannot be computed"
        )
    fail(
        f"{name} returned {fmt(np.asarray(got).tolist()) if got is not None else None} instead of "
        "raising ValueError: the last step ends no episode (an episode cut in the middle), so "
        "its return-to-go is unknown"
    )


# ----- task 2 -----------------------------------------------------------------------------------
def torch_result(value: Any, name: str) -> torch.Tensor:
    assert_returned(value, name)
    if not isinstance(value, torch.Tensor):
        fail(f"{name} should be a torch.Tensor; got {type(value).__name__} {value!r:.80}")
    return value


def log_prob_mistakes(logits: torch.Tensor, actions: torch.Tensor) -> dict[str, Any]:
    lg = logits.detach().double()
    idx = actions.long().unsqueeze(-1)
    lsm = torch.log_softmax(lg, -1)
    return {
        "a log-softmax over the batch (dim=0) instead of over the actions (dim=-1)": lambda: (
            torch.log_softmax(lg, 0).gather(-1, idx).squeeze(-1)
        ),
        "probabilities, not log-probabilities (the log is missing)": lambda: (
            torch.softmax(lg, -1).gather(-1, idx).squeeze(-1)
        ),
        "the raw logits of the actions, not normalised by log-softmax": lambda: lg.gather(
            -1, idx
        ).squeeze(-1),
        "minus the log-probability (a negative log-likelihood: the sign goes in pg_loss)": lambda: (
            -lsm.gather(-1, idx).squeeze(-1)
        ),
        "the log-probability of each row's most likely action, not of the action taken": lambda: (
            lsm.max(-1).values
        ),
        "the log-probability of action 0 in every row (index with the actions)": lambda: lsm[:, 0],
    }


@pytest.mark.task(2)
def test_categorical_log_prob(learner: Any) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=g) * 2
    logits[2] = torch.tensor([0.0, -200.0, 5.0, 1.0])
    actions = torch.tensor([3, 0, 1, 2, 1, 0])
    leaf = logits.clone().requires_grad_(True)
    name = f"categorical_log_prob(logits (6, 4), actions {actions.tolist()})"
    got = torch_result(call_learner(name, learner.categorical_log_prob, leaf, actions), name)
    want = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    if tuple(got.shape) == (6, 1):
        fail(f"{name} has shape (6, 1); expected (6,): gather keeps the last axis, squeeze(-1) it")
    if tuple(got.shape) == (6, 6):
        fail(
            f"{name} has shape (6, 6); expected (6,): logits[:, actions] takes every action for "
            "every row; pair row i with actions[i] (gather, or logits[torch.arange(N), actions])"
        )
    if got.shape == want.shape and not torch.isfinite(got[2]).item():
        fail(
            f"{name}[2] is {got[2].item()}; expected {want[2].item():.4g}. Row 2 gives action 1 a "
            "probability of about e^-205, which underflows to 0 in float32, and log(0) = -inf: "
            "softmax(...).log() cannot represent it. Use torch.log_softmax"
        )
    assert_tensor(
        got,
        want,
        name=name,
        rtol=1e-5,
        atol=1e-4,
        requires_grad=True,
        mistakes=log_prob_mistakes(logits, actions),
    )
    (grad,) = torch.autograd.grad(got.sum(), leaf)
    want_grad = F.one_hot(actions, 4).float() - torch.softmax(logits, -1)
    assert_tensor(grad, want_grad, name=f"the gradient of {name}.sum() with respect to logits")


@pytest.mark.task(2)
def test_pg_loss(learner: Any) -> None:
    g = torch.Generator().manual_seed(1)
    log_probs = (-torch.rand(5, generator=g) * 2).requires_grad_(True)
    w = torch.randn(5, generator=g).requires_grad_(True)
    adv = w * 1.5  # advantages with a graph behind them, as a baseline would leave
    name = "pg_loss(log_probs (5,), advantages (5,))"
    got = torch_result(call_learner(name, learner.pg_loss, log_probs, adv), name)
    lp, a = log_probs.detach(), adv.detach()
    want = -(lp * a).mean()
    if got.dim() != 0:
        if tuple(got.shape) == (5,):
            label = matching_mistake(
                to_numpy(got), {"the per-step terms": (-(lp * a)).numpy()}, rtol=1e-5
            )
            clue = " (these are the per-step terms −log_prob·advantage)" if label else ""
            fail(f"{name} has shape (5,){clue}; expected a scalar, shape (): take their mean")
        fail(f"{name} has shape {tuple(got.shape)}; expected a scalar, shape ()")
    assert_tensor(
        got,
        want,
        name=name,
        requires_grad=True,
        mistakes={
            "a sum over the steps instead of a mean (the step size would grow with the batch)": (
                -(lp * a).sum()
            ),
            "the sign flipped: +mean(log_probs · advantages) is the thing to *increase*; the "
            "optimiser minimises, so the loss is its negative": (lp * a).mean(),
            "minus a sum over the steps, with the sign flipped too": (lp * a).sum(),
            "the product of the means, −mean(log_probs)·mean(advantages)": -lp.mean() * a.mean(),
            "advantages normalised inside pg_loss (advantages() normalises; pg_loss takes them "
            "as they come)": -(lp * (a - a.mean()) / (a.std() + 1e-8)).mean(),
        },
    )
    grads = torch.autograd.grad(got, [log_probs, w], allow_unused=True)
    assert_tensor(
        grads[0],
        -a / 5,
        name=f"the gradient of {name} with respect to log_probs",
        mistakes={"a sum instead of a mean": -a},
    )
    if grads[1] is not None and float(grads[1].abs().max()) > 0:
        fail(
            f"{name} sends gradient into the advantages (d loss / d advantages is "
            f"{fmt(grads[1].numpy().round(4))}): detach them, or the policy loss trains whatever "
            "computed them (the value network) to shrink the advantage, not to predict the return"
        )


BANDITS = {
    "a 3-armed bandit": ([0.5, -0.3, 0.1], [1.0, 2.0, -0.5]),
    "a 2-armed bandit": ([2.0, -1.0], [0.0, 1.0]),
}


def true_gradient(theta: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    pi = torch.softmax(theta.double(), -1)
    return pi * (means.double() - (pi * means.double()).sum())


@pytest.mark.task(2)
def test_bandit_gradient(learner: Any) -> None:
    for label, (theta, means) in BANDITS.items():
        th = torch.tensor(theta)
        mr = torch.tensor(means)
        name = f"bandit_gradient(logits {theta}, mean_rewards {means}) for {label}"
        got = torch_result(
            call_learner(name, learner.bandit_gradient, th.clone(), mr.clone()), name
        )
        want = true_gradient(th, mr)
        pi = torch.softmax(th.double(), -1)
        J = float((pi * mr.double()).sum())
        assert_tensor(
            got.detach().double(),
            want,
            name=name,
            rtol=1e-5,
            atol=1e-6,
            mistakes={
                "π·mean_rewards (the average reward J must be subtracted: π_a·(r_a − J))": (
                    pi * mr.double()
                ),
                "mean_rewards − J without the probabilities (π_a·(r_a − J))": mr.double() - J,
                "the gradient with its sign flipped": -want,
                "J taken as the plain average of mean_rewards (the expected reward weighs each "
                "arm by its probability: J = Σ π_a·r_a)": pi * (mr.double() - mr.double().mean()),
                "π_a·(1 − π_a)·r_a (only the diagonal of the softmax Jacobian)": pi
                * (1 - pi)
                * mr.double(),
            },
        )


def bandit_pulls(
    theta: torch.Tensor, means: torch.Tensor, n: int, seed: int, noise: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pi = torch.softmax(theta.double(), -1)
    actions = torch.multinomial(pi, n, replacement=True, generator=g)
    rewards = means.double()[actions] + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return actions, rewards


def learner_estimate(
    learner: Any, theta: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """(−∇θ pg_loss, the per-pull contributions −N·∂loss/∂logits_i) with the learner's functions."""
    n = len(actions)
    logits = theta.double().repeat(n, 1).requires_grad_(True)
    lp = torch_result(
        call_learner(
            f"categorical_log_prob in {what}", learner.categorical_log_prob, logits, actions
        ),
        f"categorical_log_prob in {what}",
    )
    loss = torch_result(
        call_learner(f"pg_loss in {what}", learner.pg_loss, lp, adv), f"pg_loss in {what}"
    )
    if loss.dim() != 0:
        fail(f"pg_loss in {what} has shape {tuple(loss.shape)}; expected a scalar")
    (grad,) = torch.autograd.grad(loss, logits)
    per_pull = (-n * grad).numpy()
    return (-grad.sum(0)).numpy(), per_pull


def score_contributions(
    theta: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor
) -> np.ndarray:
    pi = torch.softmax(theta.double(), -1)
    onehot = F.one_hot(actions, len(theta)).double()
    return (adv.double().unsqueeze(-1) * (onehot - pi)).numpy()


@pytest.mark.task(2)
def test_estimate_matches_bandit_gradient(learner: Any) -> None:
    n = 4000
    for seed, (label, (theta, means)) in enumerate(BANDITS.items()):
        th, mr = torch.tensor(theta, dtype=torch.float64), torch.tensor(means, dtype=torch.float64)
        actions, rewards = bandit_pulls(th, mr, n, seed)
        what = f"the REINFORCE estimate on {label} ({n} pulls, G = r)"
        est, _ = learner_estimate(learner, th, actions, rewards, what)
        want = true_gradient(th, mr).numpy()
        contrib = score_contributions(th, actions, rewards)
        band = 4 * contrib.std(axis=0, ddof=1) / math.sqrt(n) + 1e-9
        if np.all(np.abs(est - want) <= band):
            continue
        clue = ""
        if np.all(np.abs(-est - want) <= band):
            clue = (
                " It is the negative of the true gradient: minimising this loss would make the "
                "good arm less likely (a sign error)."
            )
        elif np.all(np.abs(est / n - want) <= band):
            clue = f" It is {n} × the true gradient: the loss sums over the pulls instead of averaging."
        fail(
            f"{what}: −∇θ pg_loss is {fmt(est.round(4))}; the true gradient of the expected "
            f"reward is {fmt(want.round(4))}, and {n} samples put the estimate within "
            f"± {fmt(band.round(4))} of it.{clue}"
        )


# ----- task 3 -----------------------------------------------------------------------------------
def adv_mistakes(G: torch.Tensor, V: torch.Tensor, normalize: bool, eps: float) -> dict[str, Any]:
    a = G - V

    def norm(
        x: torch.Tensor, *, unbiased: bool = True, center: bool = True, scale: bool = True
    ) -> torch.Tensor:
        y = x - x.mean() if center else x
        return y / (x.std(unbiased=unbiased) + eps) if scale else y

    table: dict[str, Any] = {
        "values − returns (the advantage is returns − values)": -a if not normalize else norm(-a),
        "the returns alone (the values were not subtracted)": G if not normalize else norm(G),
    }
    if normalize:
        table |= {
            "the returns normalised first and the values subtracted after (subtract the "
            "baseline, then normalise the advantages)": norm(G) - V,
            "returns and values each normalised on their own": norm(G) - norm(V),
            "normalised with the population std (unbiased=False / NumPy's default); the README "
            "asks for torch's default std, the N − 1 form": norm(a, unbiased=False),
            "eps inside the square root (sqrt(var + eps)); the README divides by std + eps": (
                (a - a.mean()) / torch.sqrt(a.var() + eps)
            ),
            "eps left out (it must be added to the std)": (a - a.mean()) / a.std(),
            "divided by the std but not centred (subtract the mean first)": norm(a, center=False),
            "centred but not divided by the std": norm(a, scale=False),
            "divided by the variance instead of the standard deviation": (a - a.mean())
            / (a.var() + eps),
            "divided by the std of the returns (normalise by the advantages' own std)": (
                a - a.mean()
            )
            / (G.std() + eps),
            "not normalised although normalize=True": a,
        }
    else:
        table["normalised although normalize=False"] = norm(a)
    return table


def check_advantages(
    learner: Any, G: torch.Tensor, w: torch.Tensor, normalize: bool, eps: float | None
) -> None:
    values = w * 1.5
    kwargs: dict[str, Any] = {"normalize": normalize}
    if eps is not None:
        kwargs["eps"] = eps
    shown = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    name = f"advantages(returns (7,), values (7,), {shown})"
    G_given = G.clone()
    got = torch_result(call_learner(name, learner.advantages, G_given, values, **kwargs), name)
    if not torch.equal(G_given, G):
        fail(f"{name} changed `returns` in place: compute the advantages into a new tensor")
    if got.requires_grad:
        fail(
            f"{name} still requires grad: the values were not detached, so pg_loss would send "
            "the policy's gradient into the value network (the baseline must be a constant "
            "weight). Use values.detach()"
        )
    V = values.detach()
    e = 1e-8 if eps is None else eps
    a = G - V
    want = (a - a.mean()) / (a.std() + e) if normalize else a
    assert_tensor(
        got, want, name=name, rtol=1e-5, atol=1e-6, mistakes=adv_mistakes(G, V, normalize, e)
    )


@pytest.mark.task(3)
def test_advantages(learner: Any) -> None:
    g = torch.Generator().manual_seed(2)
    G = torch.randn(7, generator=g) * 3 + 5
    w = (torch.randn(7, generator=g) * 2 + 3).requires_grad_(True)
    check_advantages(learner, G, w, False, None)
    check_advantages(learner, G, w, True, None)
    check_advantages(learner, G, w, True, 0.5)


@pytest.mark.task(3)
def test_baseline_reduces_variance(learner: Any) -> None:
    n = 4000
    theta = torch.tensor([0.2, -0.4, 0.3], dtype=torch.float64)
    means = torch.tensor([10.0, 10.6, 9.7], dtype=torch.float64)
    actions, rewards = bandit_pulls(theta, means, n, 7, noise=0.5)
    pi = torch.softmax(theta, -1)
    J = float((pi * means).sum())
    want = true_gradient(theta, means).numpy()
    results = {}
    for label, value in (
        ("no baseline (values = 0)", 0.0),
        (f"the baseline values = J = {J:.3f}", J),
    ):
        what = f"{n} pulls of a bandit with rewards near 10 and {label}"
        vals = torch.full((n,), value, dtype=torch.float64)
        name = f"advantages(returns, values, normalize=False) in {what}"
        adv = torch_result(
            call_learner(name, learner.advantages, rewards.clone(), vals, normalize=False), name
        )
        est, per_pull = learner_estimate(learner, theta, actions, adv.detach(), what)
        contrib = score_contributions(theta, actions, rewards - value)
        band = 4 * contrib.std(axis=0, ddof=1) / math.sqrt(n) + 1e-9
        if not np.all(np.abs(est - want) <= band):
            fail(
                f"with {label}, the REINFORCE estimate is {fmt(est.round(4))}; the true gradient "
                f"is {fmt(want.round(4))} ± {fmt(band.round(4))} ({n} pulls): a baseline that "
                "does not depend on the action must leave the estimate unbiased"
            )
        results[label] = float(per_pull.var(axis=0, ddof=1).sum())
    without, with_ = results.values()
    if not with_ * 10 <= without:
        fail(
            f"the variance of one pull's gradient estimate is {without:.4g} without a baseline and "
            f"{with_:.4g} with it; the baseline should cut it at least tenfold (the reference: "
            "about 300-fold). Does advantages subtract the values?"
        )


# ----- task 4: policies, collecting, updating, training ------------------------------------------
class RefCategorical(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.net = ref_mlp(obs_dim, n_actions, hidden)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self(obs), -1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def sample(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.multinomial(torch.softmax(self(obs), -1), 1).squeeze(-1)


class RefGaussian(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int, init_log_std: float = -0.5) -> None:
        super().__init__()
        self.mean_net = ref_mlp(obs_dim, act_dim, hidden)
        self.log_std = nn.Parameter(torch.full((act_dim,), init_log_std))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mean_net(obs))

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        dist = torch.distributions.Normal(self(obs), self.log_std.exp())
        return dist.log_prob(actions).sum(-1)

    def sample(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            mean = self(obs)
            return mean + self.log_std.exp() * torch.randn_like(mean)


class ScriptedPolicy:
    """Actions from the check's own generator, so that a collected batch is fully determined.
    It records what it was given instead of raising (a raise would look like the learner's)."""

    def __init__(self, obs_dim: int, kind: str, seed: int) -> None:
        self.obs_dim, self.kind = obs_dim, kind
        self.rng = np.random.default_rng(seed)
        self.seen: list[np.ndarray] = []
        self.problems: list[str] = []

    def sample(self, obs: Any) -> torch.Tensor:
        if not isinstance(obs, torch.Tensor):
            self.problems.append(
                f"collect passed policy.sample a {type(obs).__name__}; it takes a float32 tensor: "
                "torch.as_tensor(obs, dtype=torch.float32)"
            )
            obs = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        elif obs.dtype != torch.float32:
            self.problems.append(
                f"collect passed policy.sample a {obs.dtype} tensor; the networks are float32: "
                "torch.as_tensor(obs, dtype=torch.float32)"
            )
        if tuple(obs.shape) != (self.obs_dim,):
            self.problems.append(
                f"collect passed policy.sample an observation of shape {tuple(obs.shape)}; it "
                f"takes one observation, shape ({self.obs_dim},)"
            )
        self.seen.append(obs.detach().numpy().astype(np.float32).copy())
        if self.kind == "discrete":
            return torch.tensor(int(self.rng.integers(2)))
        return torch.as_tensor(self.rng.normal(0.0, 0.8, size=2), dtype=torch.float32)


class TargetReached(BaseException):
    """Raised by a Recorder with a target once it is met: the rest of the training run would
    only confirm it (a BaseException, so that no `except Exception` in learner code eats it)."""


class Recorder(gym.Wrapper):
    """Records resets and the plain return of every finished episode; converts (and notes) an
    action handed over as a tensor; with ``stop_at=(window, target)`` it ends the run (raising
    TargetReached) once the mean return of the last ``window`` episodes reaches ``target``."""

    def __init__(self, env: gym.Env, stop_at: tuple[int, float] | None = None) -> None:
        super().__init__(env)
        self.stop_at = stop_at
        self.resets: list[Any] = []
        self.returns: list[float] = []
        self.problems: list[str] = []
        self._total = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        self.resets.append(seed)
        self._total = 0.0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> Any:
        if isinstance(action, torch.Tensor):
            if not self.problems:
                self.problems.append(
                    "collect passed a torch.Tensor to env.step: pass action.numpy() (Gymnasium "
                    "environments take NumPy arrays or numbers)"
                )
            action = action.detach().numpy()
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._total += float(reward)
        if terminated or truncated:
            self.returns.append(self._total)
            self._total = 0.0
            if self.stop_at is not None:
                window, target = self.stop_at
                if len(self.returns) >= window and np.mean(self.returns[-window:]) >= target:
                    raise TargetReached
        return obs, reward, terminated, truncated, info


def ref_collect(
    env: gym.Env,
    policy: Any,
    n_episodes: int,
    seed: int | None,
    *,
    reseed: bool = False,
    stop_on_truncation: bool = True,
    limit: int = 1000,
) -> RefBatch:
    obs_l, act_l, rew_l, te_l, tr_l, next_l, returns = [], [], [], [], [], [], []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed) if (episode == 0 or reseed) else env.reset()
        total = 0.0
        for _ in range(limit):
            action = policy.sample(torch.as_tensor(obs, dtype=torch.float32))
            next_obs, reward, terminated, truncated, _ = env.step(action.numpy())
            obs_l.append(obs)
            act_l.append(action.numpy())
            rew_l.append(float(reward))
            te_l.append(bool(terminated))
            tr_l.append(bool(truncated))
            next_l.append(next_obs)
            total += float(reward)
            obs = next_obs
            if terminated or (truncated and stop_on_truncation):
                break
        returns.append(total)
    return RefBatch(
        np.asarray(obs_l, dtype=np.float32),
        np.asarray(act_l),
        np.asarray(rew_l),
        np.asarray(te_l, dtype=bool),
        np.asarray(tr_l, dtype=bool),
        np.asarray(next_l, dtype=np.float32),
        np.asarray(returns),
    )


def cartpole(max_steps: int) -> gym.Env:
    return gym.make("CartPole-v1", max_episode_steps=max_steps, disable_env_checker=True)


def batch_fields(got: Any, name: str) -> dict[str, np.ndarray]:
    assert_returned(got, name, what="the Batch")
    out = {}
    for field in FIELDS:
        if not hasattr(got, field):
            fail(
                f"{name} has no field `{field}`: return a Batch(obs=..., ..., episode_returns=...)"
            )
        value = getattr(got, field)
        if isinstance(value, torch.Tensor):
            fail(f"{name}.{field} is a torch.Tensor; the Batch holds NumPy arrays (np.asarray)")
        out[field] = np.asarray(value)
    return out


def same_batch(got: dict[str, np.ndarray], want: RefBatch) -> bool:
    for field in FIELDS:
        a, b = got[field], getattr(want, field)
        if a.shape != b.shape:
            return False
        try:
            if not np.allclose(a.astype(float), b.astype(float), rtol=1e-6, atol=1e-7):
                return False
        except (TypeError, ValueError):
            return False
    return True


def check_collect(
    learner: Any,
    make_env: Any,
    env_label: str,
    kind: str,
    obs_dim: int,
    n_episodes: int,
    seed: int,
    policy_seed: int,
) -> None:
    env = Recorder(make_env())
    policy = ScriptedPolicy(obs_dim, kind, policy_seed)
    name = f"collect({env_label}, policy, {n_episodes}, seed={seed})"
    got = batch_fields(
        call_learner(name, learner.collect, env, policy, n_episodes, seed=seed), name
    )
    for problem in policy.problems[:1] + env.problems[:1]:
        fail(f"{name}: {problem}")
    if env.resets[:1] != [seed]:
        fail(
            f"{name} reset the environment first with seed={env.resets[0] if env.resets else None!r}"
            f"; the first episode starts with env.reset(seed={seed})"
        )
    if len(env.resets) != n_episodes:
        fail(
            f"{name} called env.reset() {len(env.resets)} times; expected {n_episodes}, once "
            "before each episode"
        )
    again = [i for i, s in enumerate(env.resets[1:], start=1) if s is not None]
    if again:
        fail(
            f"{name} reset episode {again[0]} with seed={env.resets[again[0]]!r} too: after the "
            "first episode call plain env.reset(), or every episode replays the same start"
        )
    want = ref_collect(make_env(), ScriptedPolicy(obs_dim, kind, policy_seed), n_episodes, seed)
    variants = {
        "episodes that do not stop at truncation (end an episode on `terminated or "
        "truncated`)": lambda: ref_collect(
            make_env(),
            ScriptedPolicy(obs_dim, kind, policy_seed),
            n_episodes,
            seed,
            stop_on_truncation=False,
            limit=60,
        ),
    }
    for label, make in variants.items():
        if same_batch(got, make()):
            fail(f"{name} looks like {label}")
    n = len(want.rewards)
    if len(got["rewards"]) != n:
        fail(
            f"{name} recorded {len(got['rewards'])} steps; the {n_episodes} episodes it played "
            f"have {n} (replayed by the check with the same seed and actions)"
        )
    clue_next = {"the observation *after* each step (record obs before stepping)": want.next_obs}
    clue_prev = {"the observation each action was chosen in (obs, not next_obs)": want.obs}
    checks = [
        ("obs", want.obs, clue_next),
        ("actions", want.actions, None),
        ("rewards", want.rewards, None),
        ("terminated", want.terminated, {"the truncated flags": want.truncated}),
        ("truncated", want.truncated, {"the terminated flags": want.terminated}),
        ("next_obs", want.next_obs, clue_prev),
    ]
    for field, value, mistakes in checks:
        arr = got[field]
        assert_array(arr, value, name=f"{name}.{field}", rtol=1e-6, atol=1e-7, mistakes=mistakes)
    if got["obs"].dtype != np.float32 or got["next_obs"].dtype != np.float32:
        fail(
            f"{name}.obs has dtype {got['obs'].dtype} and next_obs {got['next_obs'].dtype}; "
            "expected float32, the dtype of the networks"
        )
    if kind == "discrete" and got["actions"].dtype.kind not in "iu":
        fail(f"{name}.actions has dtype {got['actions'].dtype}; expected int64 action indices")
    if kind != "discrete" and got["actions"].dtype != np.float32:
        fail(f"{name}.actions has dtype {got['actions'].dtype}; expected float32 forces")
    for field in ("terminated", "truncated"):
        if got[field].dtype != np.bool_:
            fail(f"{name}.{field} has dtype {got[field].dtype}; expected bool")
    ends = np.flatnonzero(want.terminated | want.truncated)
    cum = np.cumsum(want.rewards)[ends]
    running = {
        "a running total that is not reset between episodes": cum,
        "the discounted return (γ = 0.99) instead of the plain sum": np.array(
            [
                ref_returns(want.rewards, want.terminated, want.truncated, np.zeros(n), 0.99)[
                    sl.start
                ]
                for sl in episode_slices(want.terminated, want.truncated)
            ]
        ),
        "the episode lengths, not the sums of their rewards": np.diff(np.r_[-1, ends]).astype(
            float
        ),
    }
    assert_array(
        got["episode_returns"],
        want.episode_returns,
        name=f"{name}.episode_returns",
        rtol=1e-9,
        atol=1e-9,
        mistakes=running,
    )


@pytest.mark.task(4)
def test_categorical_policy(learner: Any) -> None:
    seed_everything(0)
    name = "CategoricalPolicy(3, 5, hidden=16)"
    policy = call_learner(name, learner.CategoricalPolicy, 3, 5, hidden=16)
    if not isinstance(policy, nn.Module):
        fail(f"{name} should be an nn.Module; got {type(policy).__name__}")
    want_n = n_params(ref_mlp(3, 5, 16))
    if n_params(policy) != want_n:
        fail(
            f"{name} has {n_params(policy)} parameters; mlp(3, 5, 16) has {want_n}: build "
            "self.net = mlp(obs_dim, n_actions, hidden) (is `hidden` passed on?)"
        )
    g = torch.Generator().manual_seed(3)
    obs = torch.randn(7, 3, generator=g) * 2
    logits = torch_result(call_learner(f"{name}(obs (7, 3))", policy, obs), f"{name}(obs (7, 3))")
    if tuple(logits.shape) != (7, 5):
        fail(f"{name}(obs (7, 3)) has shape {tuple(logits.shape)}; expected (7, 5), the logits")
    actions = torch.tensor([0, 4, 2, 1, 3, 3, 0])
    lname = f"{name}.log_prob(obs (7, 3), actions {actions.tolist()})"
    lp = torch_result(call_learner(lname, policy.log_prob, obs, actions), lname)
    want = torch.log_softmax(logits.detach(), -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    assert_tensor(
        lp, want, name=lname, requires_grad=True, mistakes=log_prob_mistakes(logits, actions)
    )
    one = obs[0] * 3
    sname = f"{name}.sample(obs (3,))"
    probs = torch.softmax(policy(one).detach(), -1).numpy()
    counts = np.zeros(5)
    torch.manual_seed(11)
    first = []
    hint = (
        "torch.distributions.Categorical(x) reads x as probabilities: pass the logits as "
        "Categorical(logits=x)"
    )
    for i in range(3000):
        a = torch_result(call_learner(sname, policy.sample, one, hint=hint), sname)
        if i == 0:
            if a.requires_grad:
                fail(f"{sname} requires grad: sample under torch.no_grad()")
            if a.dtype != torch.int64 or a.dim() != 0:
                fail(
                    f"{sname} is a {a.dtype} tensor of shape {tuple(a.shape)}; expected a () "
                    "int64 tensor (squeeze the sampled index)"
                )
        if i < 50:
            first.append(int(a))
        counts[int(a)] += 1
    freq = counts / counts.sum()
    band = 5 * np.sqrt(probs * (1 - probs) / 3000) + 0.005
    if not np.all(np.abs(freq - probs) <= band):
        clue = ""
        if freq.max() == 1.0:
            clue = (
                f" It always returns action {int(freq.argmax())}: that is the argmax, which never "
                "explores; draw from the distribution (torch.multinomial or Categorical(...).sample())"
            )
        elif np.allclose(freq, 0.2, atol=0.03):
            clue = " The actions look uniform: they ignore the policy's probabilities."
        fail(
            f"{sname}: over 3000 draws the actions came with frequencies "
            f"{fmt(freq.round(3))}; softmax(logits) is {fmt(probs.round(3))} (± "
            f"{fmt(band.round(3))}).{clue}"
        )
    np.random.seed(123)
    torch.manual_seed(11)
    again = [int(call_learner(sname, policy.sample, one)) for _ in range(50)]
    if again != first:
        fail(
            f"{sname} drew different actions after torch.manual_seed(11) twice: draw from "
            "torch's global generator (torch.multinomial / Categorical), not NumPy or your own"
        )


@pytest.mark.task(4)
def test_collect(learner: Any) -> None:
    check_collect(
        learner, lambda: cartpole(15), "CartPole-v1 cut at 15 steps", "discrete", 4, 6, 3, 5
    )
    check_collect(
        learner,
        lambda: RefPointReach(max_steps=12),
        "PointReach(max_steps=12)",
        "continuous",
        4,
        4,
        8,
        6,
    )


@dataclass
class UpdateCase:
    policy: nn.Module
    value: nn.Module
    batch: RefBatch
    gamma: float
    normalize: bool
    lr_p: float = 0.05
    lr_v: float = 0.05
    stale: float = 0.3


def fill_grads(module: nn.Module, value: float) -> None:
    for p in module.parameters():
        p.grad = torch.full_like(p, value)


def ref_update(case: UpdateCase, variant: str = "") -> dict[str, Any]:
    """One update on copies, the reference or a variant; the parameter changes and losses."""
    policy, value = copy.deepcopy(case.policy), copy.deepcopy(case.value)
    popt = torch.optim.SGD(policy.parameters(), lr=case.lr_p)
    vopt = torch.optim.SGD(value.parameters(), lr=case.lr_v)
    fill_grads(policy, case.stale)
    fill_grads(value, case.stale)
    before_p, before_v = flat(policy), flat(value)
    b = case.batch
    obs = torch.as_tensor(b.obs, dtype=torch.float32)
    actions = torch.as_tensor(b.actions)
    gamma = 0.99 if variant == "gamma_default" else case.gamma
    normalize = {"ignore_normalize": False, "always_normalize": True}.get(variant, case.normalize)
    values = value(obs).squeeze(-1)
    with torch.no_grad():
        source = (
            obs if variant == "next_from_obs" else torch.as_tensor(b.next_obs, dtype=torch.float32)
        )
        nv = value(source).squeeze(-1)
    if variant == "no_bootstrap":
        nv = torch.zeros_like(nv)
    G = ref_returns(b.rewards, b.terminated, b.truncated, nv.numpy(), gamma)
    returns = torch.as_tensor(G, dtype=torch.float32)
    if variant == "value_first":
        vopt.zero_grad()
        F.mse_loss(values, returns).backward()
        vopt.step()
        values = value(obs).squeeze(-1)
    base = values if variant == "leak" else values.detach()
    adv = returns - base
    if normalize:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    lp_obs = torch.as_tensor(b.next_obs, dtype=torch.float32) if variant == "log_prob_next" else obs
    lp = policy.log_prob(lp_obs, actions)
    pl = -(lp * adv).mean()
    if variant == "ascent":
        pl = -pl
    if variant == "value_on_adv":
        vl = F.mse_loss(values, adv.detach())
    elif variant == "value_half":
        vl = 0.5 * F.mse_loss(values, returns)
    elif variant == "huber":
        vl = F.smooth_l1_loss(values, returns)
    elif variant == "value_sum":
        vl = ((values - returns) ** 2).sum()
    else:
        vl = F.mse_loss(values, returns)
    if variant == "leak":
        popt.zero_grad()
        vopt.zero_grad()
        pl.backward(retain_graph=True)
        vl.backward()
        popt.step()
        vopt.step()
    elif variant == "value_first":
        popt.zero_grad()
        pl.backward()
        popt.step()
    else:
        if variant not in ("no_zero_policy", "no_zero_both"):
            popt.zero_grad()
        pl.backward()
        popt.step()
        if variant not in ("no_zero_value", "no_zero_both"):
            vopt.zero_grad()
        vl.backward()
        vopt.step()
    return {
        "policy": flat(policy) - before_p,
        "value": flat(value) - before_v,
        "policy_loss": pl.item() if variant != "ascent" else -pl.item(),
        "value_loss": vl.item(),
    }


UPDATE_VARIANTS = {
    "no_zero_policy": "gradients left over in the policy: policy_opt.zero_grad() is missing "
    "before policy_loss.backward() (.grad adds up)",
    "no_zero_value": "gradients left over in the value network: value_opt.zero_grad() is "
    "missing before value_loss.backward()",
    "no_zero_both": "no zero_grad() at all: both networks add the new gradient to the old one",
    "leak": "the baseline's gradient leaking: the policy loss also trains the value network "
    "(advantages built from values that were not detached)",
    "ascent": "the policy stepped the wrong way: the loss's negative was minimised (gradient "
    "descent on +mean(log π · Â) makes good actions *less* likely)",
    "no_bootstrap": "truncated episodes not bootstrapped (next_values of 0: pass "
    "value_net(next_obs) to returns_to_go)",
    "next_from_obs": "next_values computed from obs instead of next_obs",
    "ignore_normalize": "advantages not normalised although normalize=True",
    "always_normalize": "advantages normalised although normalize=False",
    "gamma_default": "γ = 0.99 instead of the `gamma` passed in",
    "value_on_adv": "a value loss against the advantages instead of the returns",
    "value_half": "a value loss of ½·mse (the README asks for F.mse_loss(values, returns))",
    "value_sum": "a summed squared error as the value loss (the README asks for the mean, F.mse_loss)",
    "huber": "a Huber (smooth L1) value loss (the README asks for F.mse_loss(values, returns))",
    "log_prob_next": "log-probabilities of the actions under next_obs (an action was chosen in "
    "obs, the state before the step)",
    "value_first": "advantages from values recomputed after the value network's step (compute "
    "both losses from the same values, before either update)",
}


def update_mistakes(case: UpdateCase, part: str) -> Any:
    def table() -> dict[str, Any]:
        return {
            text: (lambda v=v: ref_update(case, v)[part]) for v, text in UPDATE_VARIANTS.items()
        }

    return table


def check_update(learner: Any, case: UpdateCase, label: str) -> None:
    policy, value = copy.deepcopy(case.policy), copy.deepcopy(case.value)
    popt = torch.optim.SGD(policy.parameters(), lr=case.lr_p)
    vopt = torch.optim.SGD(value.parameters(), lr=case.lr_v)
    fill_grads(policy, case.stale)
    fill_grads(value, case.stale)
    before_p, before_v = flat(policy), flat(value)
    batch = copy_batch(case.batch)
    name = f"reinforce_update({label}, gamma={case.gamma}, normalize={case.normalize})"
    got = call_learner(
        name,
        learner.reinforce_update,
        policy,
        value,
        popt,
        vopt,
        batch,
        gamma=case.gamma,
        normalize=case.normalize,
        hint="If numpy() refuses a tensor that requires grad: compute next_values under "
        "torch.no_grad(). If backward goes through the graph a second time: detach the values "
        "in the advantages. If an element does not require grad: the value loss needs the "
        "values with their graph (detach them only inside the advantages)",
    )
    for field in FIELDS:
        if not np.array_equal(getattr(batch, field), getattr(case.batch, field)):
            fail(f"{name} changed batch.{field} in place: leave the batch as it was collected")
    want = ref_update(case)
    assert_array(
        flat(policy) - before_p,
        want["policy"],
        name=f"the policy's parameter change in {name}",
        rtol=1e-3,
        atol=2e-6,
        mistakes=update_mistakes(case, "policy"),
    )
    assert_array(
        flat(value) - before_v,
        want["value"],
        name=f"the value network's parameter change in {name}",
        rtol=1e-3,
        atol=2e-6,
        mistakes=update_mistakes(case, "value"),
    )
    assert_returned(got, name, what='{"policy_loss": ..., "value_loss": ...}')
    if not isinstance(got, dict) or set(got) != {"policy_loss", "value_loss"}:
        fail(
            f'{name} should return {{"policy_loss": float, "value_loss": float}}; got {got!r:.120}'
        )
    for key in ("policy_loss", "value_loss"):
        v = got[key]
        if isinstance(v, torch.Tensor):
            fail(f'{name}["{key}"] is a tensor; return loss.item(), a float')
        assert_close(v, want[key], name=f'{name}["{key}"]', rtol=1e-4, atol=1e-6)


def scripted_batch(
    make_env: Any, kind: str, obs_dim: int, n: int, seed: int, pseed: int
) -> RefBatch:
    return ref_collect(make_env(), ScriptedPolicy(obs_dim, kind, pseed), n, seed)


@pytest.mark.task(4)
def test_reinforce_update(learner: Any) -> None:
    seed_everything(3)
    cart = scripted_batch(lambda: cartpole(15), "discrete", 4, 5, 13, 21)
    case = UpdateCase(RefCategorical(4, 2, 8), ref_mlp(4, 1, 8), cart, gamma=0.9, normalize=True)
    check_update(learner, case, f"SGD, a CartPole batch of {len(cart.rewards)} steps")
    seed_everything(4)
    reach = scripted_batch(lambda: RefPointReach(max_steps=10), "continuous", 4, 4, 2, 22)
    case = UpdateCase(RefGaussian(4, 2, 8), ref_mlp(4, 1, 8), reach, gamma=0.95, normalize=False)
    check_update(
        learner, case, f"SGD, a Gaussian policy, a PointReach batch of {len(reach.rewards)} steps"
    )


TRAIN_SHORT = {
    "iterations": 2,
    "episodes_per_batch": 3,
    "gamma": 0.95,
    "policy_lr": 0.01,
    "value_lr": 0.02,
    "seed": 4,
}


def replay_train(
    learner: Any, policy: nn.Module, value: nn.Module, variant: str = ""
) -> tuple[list[float], np.ndarray]:
    h = TRAIN_SHORT
    env = cartpole(30)
    torch.manual_seed(h["seed"])

    def optimisers() -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        if variant == "one_adam":
            both = torch.optim.Adam([*policy.parameters(), *value.parameters()], lr=h["policy_lr"])
            return both, both
        if variant == "sgd":
            return (
                torch.optim.SGD(policy.parameters(), lr=h["policy_lr"]),
                torch.optim.SGD(value.parameters(), lr=h["value_lr"]),
            )
        lp, lv = (
            (h["value_lr"], h["policy_lr"])
            if variant == "swapped"
            else (h["policy_lr"], h["value_lr"])
        )
        return torch.optim.Adam(policy.parameters(), lr=lp), torch.optim.Adam(
            value.parameters(), lr=lv
        )

    popt, vopt = optimisers()
    history: list[float] = []
    for i in range(h["iterations"]):
        if variant == "new_adam":
            popt, vopt = optimisers()
        if variant == "seed_each" and i:
            torch.manual_seed(h["seed"])
        seed = h["seed"] if (i == 0 or variant == "reseed") else None
        batch = learner.collect(env, policy, h["episodes_per_batch"], seed=seed)
        learner.reinforce_update(policy, value, popt, vopt, batch, gamma=h["gamma"])
        history.extend(float(x) for x in np.asarray(batch.episode_returns))
    return history, np.r_[flat(policy), flat(value)]


TRAIN_VARIANTS = {
    "sgd": "SGD optimisers (the README asks for torch.optim.Adam)",
    "swapped": "the learning rates swapped (policy_lr is the policy's)",
    "new_adam": "new optimisers made at every iteration (Adam's running averages must persist: "
    "make them once, before the loop)",
    "reseed": "collect(..., seed=seed) at every iteration (only the first batch is seeded: "
    "every later batch would replay the same starts)",
    "seed_each": "torch.manual_seed(seed) at every iteration (seed once, at the start)",
    "one_adam": "one Adam over both networks at policy_lr (the value network learns at value_lr: "
    "one optimiser each)",
}


@pytest.mark.task(4)
def test_train_replay(learner: Any) -> None:
    seed_everything(0)
    policy0 = call_learner(
        "CategoricalPolicy(4, 2, hidden=16)", learner.CategoricalPolicy, 4, 2, hidden=16
    )
    value0 = ref_mlp(4, 1, 16)
    name = "train(CartPole-v1 cut at 30 steps, policy, value_net, iterations=2, episodes_per_batch=3, ...)"
    runs = []
    for global_seed in (100, 200):
        policy, value = copy.deepcopy(policy0), copy.deepcopy(value0)
        torch.manual_seed(global_seed)
        np.random.seed(global_seed)
        got = call_learner(name, learner.train, cartpole(30), policy, value, **TRAIN_SHORT)
        assert_returned(got, name, what="the list of episode returns")
        try:
            hist = [float(x) for x in got]
        except (TypeError, ValueError):
            fail(f"{name} should return a list of floats; got {type(got).__name__} {got!r:.100}")
        runs.append((hist, np.r_[flat(policy), flat(value)]))
    (h1, p1), (h2, p2) = runs
    n = TRAIN_SHORT["iterations"] * TRAIN_SHORT["episodes_per_batch"]
    if len(h1) != n:
        clue = (
            " (one entry per batch? extend the list with every episode's return)"
            if len(h1) == 2
            else ""
        )
        fail(f"{name} returned {len(h1)} returns; expected {n}, one per episode{clue}")
    if h1 != h2 or not np.array_equal(p1, p2):
        fail(
            f"two runs of {name} with the same seed=4 but a different global torch seed gave "
            "different results: call torch.manual_seed(seed) at the start of train"
        )
    want_h, want_p = replay_train(learner, copy.deepcopy(policy0), copy.deepcopy(value0))
    if not np.allclose(h1, want_h) or not np.allclose(p1, want_p, rtol=1e-5, atol=1e-6):
        for variant, text in TRAIN_VARIANTS.items():
            vh, vp = replay_train(learner, copy.deepcopy(policy0), copy.deepcopy(value0), variant)
            if np.allclose(h1, vh) and np.allclose(p1, vp, rtol=1e-5, atol=1e-6):
                fail(f"{name} looks like {text}")
        if not np.allclose(h1, want_h):
            fail(
                f"{name} returned the episode returns {fmt(np.round(h1, 3))}; replaying it with "
                f"torch.manual_seed(4), your collect and your reinforce_update gives "
                f"{fmt(np.round(want_h, 3))}: each entry is one episode's plain sum of rewards "
                "(batch.episode_returns), in order"
            )
        fail(
            f"the parameters after {name} differ from a replay with torch.manual_seed(4), two "
            "Adam optimisers (policy_lr, value_lr), your collect (seed=4, then None) and your "
            f"reinforce_update: max difference {np.max(np.abs(p1 - want_p)):.3g}"
        )


CARTPOLE = {
    "iterations": 120,
    "episodes_per_batch": 5,
    "gamma": 0.99,
    "policy_lr": 0.005,
    "value_lr": 0.01,
    "seed": 0,
}
CARTPOLE_STEPS, CARTPOLE_TARGET, WINDOW = 200, 150.0, 20


@pytest.mark.task(4)
def test_cartpole_learns(learner: Any) -> None:
    seed_everything(0)
    policy = call_learner("CategoricalPolicy(4, 2)", learner.CategoricalPolicy, 4, 2)
    value = ref_mlp(4, 1)
    env = Recorder(cartpole(CARTPOLE_STEPS), stop_at=(WINDOW, CARTPOLE_TARGET))
    name = "train(CartPole-v1 cut at 200 steps, CategoricalPolicy(4, 2), mlp(4, 1), iterations=120, episodes_per_batch=5, ...)"
    try:
        got = call_learner(name, learner.train, env, policy, value, **CARTPOLE)
    except TargetReached:
        return  # the environment's own returns reached the target: no need to play on
    assert_returned(got, name, what="the list of episode returns")
    history = np.asarray([float(x) for x in got])
    n = CARTPOLE["iterations"] * CARTPOLE["episodes_per_batch"]
    played = np.asarray(env.returns)
    if len(played) != n:
        fail(f"{name} played {len(played)} episodes; expected {n} (120 iterations of 5)")
    if len(history) != n or not np.allclose(history, played):
        fail(
            f"{name} returned {len(history)} returns for the {n} episodes the environment "
            "played; they must be those episodes' sums of rewards, in order"
        )
    moving = np.convolve(played, np.ones(WINDOW) / WINDOW, mode="valid")
    best = int(moving.argmax())
    fail(
        f"{name} did not reach a mean return of {CARTPOLE_TARGET:g} over {WINDOW} consecutive "
        f"episodes within {n} episodes: the best was {moving[best]:.1f} (episodes {best}–"
        f"{best + WINDOW - 1}), the last {WINDOW} averaged {played[-WINDOW:].mean():.1f}, the "
        f"first {WINDOW} {played[:WINDOW].mean():.1f}. The reference gets there after a "
        "median of about 120 episodes (never more than 400 over 160 seeds)"
    )


# ----- task 5: continuous actions ----------------------------------------------------------------
LOG_2PI = math.log(2 * math.pi)


def gaussian_mistakes(
    mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor
) -> dict[str, Any]:
    m, ls, a = mean.detach().double(), log_std.detach().double(), actions.detach().double()
    std = ls.exp()
    z = (a - m) / std
    d = m.shape[-1]

    def total(per: torch.Tensor) -> torch.Tensor:
        return per.sum(-1)

    return {
        "log σ summed over the whole log_std tensor (with one log_std per row, sum over the "
        "last axis only)": lambda: -0.5 * (z**2).sum(-1) - ls.sum() - 0.5 * d * LOG_2PI,
        "a mean over the action dimensions instead of a sum": lambda: (
            (-0.5 * z**2 - ls - 0.5 * LOG_2PI).expand_as(m).mean(-1)
        ),
        "(a − μ)/σ² inside the square (divide by σ, then square)": lambda: total(
            -0.5 * ((a - m) / std**2) ** 2 - ls - 0.5 * LOG_2PI
        ),
        "the −log σ term left out (it makes a wider Gaussian less likely per point)": lambda: total(
            -0.5 * z**2 - 0.0 * ls - 0.5 * LOG_2PI
        ),
        "the constant −½·log 2π left out (it is part of the density; add it once per dimension)": lambda: (
            total(-0.5 * z**2 - ls + 0.0 * a)
        ),
        "the constant −½·log 2π added once instead of once per action dimension": lambda: (
            total(-0.5 * z**2 - ls + 0.0 * a) - 0.5 * LOG_2PI
        ),
        "the ½ missing in front of the squared term": lambda: total(-(z**2) - ls - 0.5 * LOG_2PI),
        "−2·log σ (the log of the variance) instead of −log σ": lambda: total(
            -0.5 * z**2 - 2 * ls - 0.5 * LOG_2PI
        ),
        "log_std used as the standard deviation itself (σ = exp(log_std))": lambda: total(
            -0.5 * ((a - m) / ls) ** 2 - torch.log(ls.abs()) - 0.5 * LOG_2PI
        ),
        "the negative log-likelihood (the sign flipped)": lambda: (
            -total(-0.5 * z**2 - ls - 0.5 * LOG_2PI)
        ),
        f"the log-density of the first dimension only (sum over all {d})": lambda: (
            -0.5 * z**2 - ls - 0.5 * LOG_2PI
        ).expand_as(m)[..., 0],
    }


def check_gaussian(
    learner: Any, mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor, label: str
) -> None:
    m = mean.clone().requires_grad_(True)
    ls = log_std.clone().requires_grad_(True)
    name = f"diag_gaussian_log_prob(mean {tuple(mean.shape)}, log_std {tuple(log_std.shape)}, actions {tuple(actions.shape)}){label}"
    got = torch_result(
        call_learner(name, learner.diag_gaussian_log_prob, m, ls, actions.clone()), name
    )
    want = torch.distributions.Normal(mean, log_std.exp()).log_prob(actions).sum(-1)
    n, d = mean.shape
    if tuple(got.shape) == (n, d):
        fail(
            f"{name} has shape ({n}, {d}); expected ({n},): the density of a diagonal Gaussian is "
            "the product of the per-dimension densities, so the log-densities add up: sum(-1)"
        )
    if tuple(got.shape) == (d,):
        fail(
            f"{name} has shape ({d},); expected ({n},): sum over the action dimensions (-1), not the batch (0)"
        )
    if got.shape == want.shape and torch.isnan(got).any():
        fail(
            f"{name} contains NaN: a log of a negative number? σ = exp(log_std) is always positive; "
            "log_std itself is not a standard deviation"
        )
    assert_tensor(
        got,
        want,
        name=name,
        rtol=1e-5,
        atol=1e-4,
        requires_grad=True,
        mistakes=gaussian_mistakes(mean, log_std, actions),
    )
    gm, gls = torch.autograd.grad(got.sum(), [m, ls], allow_unused=True)
    m2, ls2 = mean.clone().requires_grad_(True), log_std.clone().requires_grad_(True)
    wm, wls = torch.autograd.grad(
        torch.distributions.Normal(m2, ls2.exp()).log_prob(actions).sum(), [m2, ls2]
    )
    if gls is None:
        fail(
            f"no gradient reaches log_std through {name}: keep log_std in the graph (no .item(), no detach)"
        )
    assert_tensor(gls, wls, name=f"the gradient of {name}.sum() with respect to log_std", atol=1e-4)
    assert_tensor(gm, wm, name=f"the gradient of {name}.sum() with respect to mean", atol=1e-4)


@pytest.mark.task(5)
def test_diag_gaussian_log_prob(learner: Any, learner_file: Any) -> None:
    forbid_calls(
        learner_file,
        ["Normal", "MultivariateNormal", "Independent", "log_prob"],
        "task 5 asks you to write the Gaussian log-density yourself (the check compares it with "
        "torch.distributions)",
        within="diag_gaussian_log_prob",
    )
    g = torch.Generator().manual_seed(5)
    mean = torch.randn(6, 3, generator=g)
    log_std = torch.tensor([-0.5, 0.3, -1.2])
    actions = mean + torch.randn(6, 3, generator=g) * log_std.exp() * 1.5
    check_gaussian(learner, mean, log_std, actions, "")
    per_row = torch.randn(6, 3, generator=g) * 0.5 - 0.5
    check_gaussian(learner, mean, per_row, actions, " with one log_std per row")


@pytest.mark.task(5)
def test_gaussian_policy(learner: Any) -> None:
    seed_everything(0)
    name = "GaussianPolicy(5, 3, hidden=16, init_log_std=-1.2)"
    policy = call_learner(name, learner.GaussianPolicy, 5, 3, hidden=16, init_log_std=-1.2)
    if not isinstance(policy, nn.Module):
        fail(f"{name} should be an nn.Module; got {type(policy).__name__}")
    log_std = getattr(policy, "log_std", None)
    if not isinstance(log_std, nn.Parameter):
        fail(
            f"{name}.log_std should be an nn.Parameter (a learned log standard deviation); got "
            f"{type(log_std).__name__}"
        )
    if tuple(log_std.shape) != (3,):
        fail(
            f"{name}.log_std has shape {tuple(log_std.shape)}; expected (3,), one per action dimension"
        )
    if not torch.allclose(log_std.detach(), torch.full((3,), -1.2)):
        fail(
            f"{name}.log_std is {fmt(log_std.detach().numpy().round(4))}; expected it filled with init_log_std = -1.2"
        )
    if not any(p is log_std for p in policy.parameters()):
        fail(
            f"{name}.log_std is not among policy.parameters(): assign it as an attribute of the module"
        )
    want_n = n_params(ref_mlp(5, 3, 16)) + 3
    if n_params(policy) != want_n:
        fail(
            f"{name} has {n_params(policy)} parameters; mlp(5, 3, 16) and log_std have {want_n}: "
            "self.mean_net = mlp(obs_dim, act_dim, hidden)"
        )
    g = torch.Generator().manual_seed(6)
    obs = torch.randn(8, 5, generator=g)
    mean = torch_result(call_learner(f"{name}(obs (8, 5))", policy, obs), f"{name}(obs (8, 5))")
    if tuple(mean.shape) != (8, 3):
        fail(f"{name}(obs (8, 5)) has shape {tuple(mean.shape)}; expected (8, 3), the mean actions")
    loud = copy.deepcopy(policy)
    with torch.no_grad():
        for p in loud.parameters():
            if p is not loud.log_std:
                p.mul_(20.0)
    big = torch_result(call_learner(f"{name}(obs (8, 5))", loud, obs), f"{name}(obs (8, 5))")
    if float(big.detach().abs().max()) > 1.0 + 1e-6:
        fail(
            f"with its network's weights scaled by 20, {name}(obs) gives a mean action of "
            f"{float(big.detach().abs().max()):.3g}: the mean is not squashed into [−1, 1]; "
            "forward returns torch.tanh(self.mean_net(obs))"
        )
    actions = (mean.detach() + 0.4 * torch.randn(8, 3, generator=g)).clamp(-2, 2)
    lname = f"{name}.log_prob(obs (8, 5), actions (8, 3))"
    lp = torch_result(call_learner(lname, policy.log_prob, obs, actions), lname)
    std = log_std.detach().exp()
    want = torch.distributions.Normal(mean.detach(), std).log_prob(actions).sum(-1)
    assert_tensor(
        lp,
        want,
        name=lname,
        requires_grad=True,
        atol=1e-4,
        mistakes=gaussian_mistakes(mean, log_std, actions),
    )
    policy.zero_grad()
    lp.sum().backward()
    if log_std.grad is None or float(log_std.grad.abs().max()) == 0:
        fail(f"{lname} sends no gradient to log_std: the spread would never be learned")
    one = obs[1] * 0.5
    sname = f"{name}.sample(obs (5,))"
    torch.manual_seed(21)
    first = torch_result(call_learner(sname, policy.sample, one), sname)
    if tuple(first.shape) != (3,) or first.dtype != torch.float32:
        fail(
            f"{sname} is a {first.dtype} tensor of shape {tuple(first.shape)}; expected float32 (3,)"
        )
    if first.requires_grad:
        fail(f"{sname} requires grad: sample under torch.no_grad()")
    draws = (
        torch.stack([call_learner(sname, policy.sample, one) for _ in range(4000)]).double().numpy()
    )
    mu = policy(one).detach().double().numpy()
    sd = std.double().numpy()
    got_sd = draws.std(axis=0, ddof=1)
    if not np.allclose(got_sd, sd, rtol=0.08):
        clue = ""
        if np.allclose(got_sd, np.abs(log_std.detach().numpy()), rtol=0.08):
            clue = (
                " It looks like log_std used as the standard deviation itself: σ = "
                "exp(log_std), which is always positive"
            )
        elif np.allclose(got_sd, F.softplus(log_std.detach()).numpy(), rtol=0.04):
            clue = (
                " It looks like softplus(log_std): also positive, but the README's σ is "
                "exp(log_std), the one diag_gaussian_log_prob assumes"
            )
        fail(
            f"{sname}: 4000 draws have a standard deviation of {fmt(got_sd.round(3))} per "
            f"dimension; exp(log_std) is {fmt(sd.round(3))}.{clue}"
        )
    if not np.all(np.abs(draws.mean(axis=0) - mu) <= 5 * sd / math.sqrt(4000) + 1e-3):
        fail(
            f"{sname}: 4000 draws average {fmt(draws.mean(axis=0).round(3))}; the mean action "
            f"policy(obs) is {fmt(mu.round(3))}: sample around the policy's mean"
        )
    with torch.no_grad():
        log_std.fill_(0.3)
    wide = torch.stack([call_learner(sname, policy.sample, one) for _ in range(500)]).numpy()
    if np.abs(wide).max() <= 1.0:
        fail(
            f"{sname} never goes outside [−1, 1] (500 draws with σ = {math.exp(0.3):.2f}): the "
            "samples are clipped. Return the raw sample; the environment clips the force, and "
            "log_prob must be that of the action that was drawn"
        )
    torch.manual_seed(21)
    again = call_learner(sname, policy.sample, one)
    torch.manual_seed(21)
    if not torch.equal(again, call_learner(sname, policy.sample, one)):
        fail(f"{sname} is not repeatable after torch.manual_seed: draw with torch.randn")


class RefPointReach(gym.Env):
    """The check's own PointReach, with the variants the known mistakes give."""

    def __init__(
        self,
        max_steps: int = 40,
        dt: float = 0.2,
        damping: float = 2.0,
        effort_cost: float = 0.05,
        goal_radius: float = 0.1,
        variant: str = "",
    ) -> None:
        self.max_steps, self.dt, self.damping = max_steps, dt, damping
        self.effort_cost, self.goal_radius, self.variant = effort_cost, goal_radius, variant
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.pos, self.vel, self.target, self.steps = np.zeros(2), np.zeros(2), np.zeros(2), 0

    def _obs(self) -> np.ndarray:
        if self.variant == "absolute":
            return np.concatenate([self.pos, self.vel]).astype(np.float32)
        rel = self.target - self.pos if self.variant == "flipped" else self.pos - self.target
        return np.concatenate([rel, self.vel]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        first = self.np_random.uniform(-1.0, 1.0, size=2)
        second = self.np_random.uniform(-1.0, 1.0, size=2)
        self.pos, self.target = (
            (second, first) if self.variant == "target_first" else (first, second)
        )
        if self.variant != "vel_kept":
            self.vel = np.zeros(2)
        if self.variant != "steps_kept":
            self.steps = 0
        return self._obs(), {}

    def step(self, action: Any) -> Any:
        raw = np.asarray(action, dtype=np.float64)
        force = raw if self.variant == "no_clip" else np.clip(raw, -1.0, 1.0)
        before = float(np.linalg.norm(self.pos - self.target))
        new_vel = self.vel + self.dt * (force - self.damping * self.vel)
        if self.variant == "explicit":
            self.pos = self.pos + self.dt * self.vel
        else:
            self.pos = self.pos + self.dt * new_vel
        self.vel = new_vel
        self.steps += 1
        distance = float(np.linalg.norm(self.pos - self.target))
        push = raw if self.variant == "effort_raw" else force
        effort = (
            float(np.sum(np.abs(push))) if self.variant == "effort_abs" else float(np.sum(push**2))
        )
        if self.variant == "effort_norm":
            effort = float(np.linalg.norm(push))
        reward = -(before if self.variant == "before" else distance) - self.effort_cost * effort
        terminated = distance < self.goal_radius
        truncated = (
            self.steps > self.max_steps
            if self.variant == "trunc_gt"
            else self.steps >= self.max_steps
        )
        if self.variant == "trunc_as_term":
            terminated = terminated or truncated
        if self.variant == "trunc_excl":
            truncated = truncated and not terminated
        return self._obs(), reward, terminated, truncated, {}


ENV_VARIANTS = {
    "no_clip": "the force not clipped to [−1, 1] (np.clip(action, -1, 1))",
    "effort_raw": "the effort cost of the unclipped action (charge the force actually applied)",
    "effort_abs": "an effort cost of Σ|force| (the README's is Σ force²)",
    "effort_norm": "an effort cost of ‖force‖, not squared (the README's is Σ force²)",
    "explicit": "the position moved with the old velocity (update the velocity first, then "
    "pos += dt · new velocity)",
    "before": "the reward from the distance before the step (measure it after moving)",
    "absolute": "the absolute position in the observation (it is pos − target)",
    "flipped": "target − pos in the observation (it is pos − target)",
    "target_first": "the target drawn before the position (position first, then target)",
    "trunc_gt": "truncation one step late (truncated = steps ≥ max_steps, after counting the step)",
    "trunc_as_term": "the time limit reported as terminated (it is a truncation: the point has a future)",
    "trunc_excl": "truncated left False when the last step also reaches the target (both can be "
    "true, as with Gymnasium's TimeLimit)",
    "vel_kept": "the velocity not reset in reset()",
    "steps_kept": "the step count not reset in reset()",
}
ENV_TEST = {"max_steps": 15, "dt": 0.25, "damping": 1.5, "effort_cost": 0.1, "goal_radius": 0.3}


def drive(env: Any, episodes: int, seed: int, limit: int) -> list[tuple[Any, ...]]:
    """Reset/step records of a scripted drive: odd episodes push at random (beyond the clip),
    even ones steer to the target, so terminations and truncations both happen."""
    rng = np.random.default_rng(99)
    record: list[tuple[Any, ...]] = []
    for episode in range(episodes):
        out = env.reset(seed=seed) if episode == 0 else env.reset()
        record.append(("reset", episode, -1, None, out))
        if not (isinstance(out, tuple) and len(out) == 2):
            return record
        obs = np.asarray(out[0], dtype=np.float64)
        for t in range(limit):
            if episode % 2:
                action = rng.uniform(-1.6, 1.6, size=2)
            else:
                action = -2.5 * obs[:2] - 1.0 * obs[2:] + rng.normal(0.0, 0.1, size=2)
            action = action.astype(np.float32)
            out = env.step(action.copy())
            record.append(("step", episode, t, action, out))
            if not (isinstance(out, tuple) and len(out) == 5):
                return record
            obs = np.asarray(out[0], dtype=np.float64)
            if out[2] or out[3]:
                break
    return record


def same_step(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    try:
        if a[0] != b[0]:
            return False
        oa, ob = a[4], b[4]
        if not np.allclose(
            np.asarray(oa[0], float), np.asarray(ob[0], float), rtol=1e-5, atol=1e-6
        ):
            return False
        if a[0] == "step":
            return (
                math.isclose(float(oa[1]), float(ob[1]), rel_tol=1e-6, abs_tol=1e-6)
                and bool(oa[2]) == bool(ob[2])
                and bool(oa[3]) == bool(ob[3])
            )
        return True
    except (TypeError, ValueError, IndexError):
        return False


def same_drive(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    return len(a) == len(b) and all(same_step(x, y) for x, y in zip(a, b, strict=True))


def check_both_flags(learner: Any) -> None:
    both = call_learner(
        "PointReach(max_steps=1, goal_radius=10.0)",
        learner.PointReach,
        max_steps=1,
        goal_radius=10.0,
    )
    call_learner("PointReach(max_steps=1, goal_radius=10.0).reset(seed=0)", both.reset, seed=0)
    out = call_learner(
        "PointReach(max_steps=1, goal_radius=10.0).step([0, 0])",
        both.step,
        np.zeros(2, dtype=np.float32),
    )
    if isinstance(out, tuple) and len(out) == 5 and (not out[3] or not out[2]):
        fail(
            "PointReach(max_steps=1, goal_radius=10.0): the first step both reaches the target and "
            f"uses up the steps, but it returned terminated={bool(out[2])}, truncated="
            f"{bool(out[3])}; expected both True (as with Gymnasium's TimeLimit): truncated is "
            "steps ≥ max_steps whatever terminated says"
        )


@pytest.mark.task(5)
def test_point_reach_env(learner: Any) -> None:
    shown = ", ".join(f"{k}={v}" for k, v in ENV_TEST.items())
    name = f"PointReach({shown})"
    env = call_learner(name, learner.PointReach, **ENV_TEST)
    if not isinstance(env, gym.Env):
        fail(f"{name} should be a gymnasium.Env subclass; got {type(env).__name__}")
    for attr, shape, lo, hi in (
        ("observation_space", (4,), None, None),
        ("action_space", (2,), -1.0, 1.0),
    ):
        space = getattr(env, attr, None)
        if not isinstance(space, gym.spaces.Box) or tuple(space.shape) != shape:
            fail(f"{name}.{attr} should be a gymnasium.spaces.Box of shape {shape}; got {space!r}")
        if lo is not None and not (np.all(space.low == lo) and np.all(space.high == hi)):
            fail(
                f"{name}.{attr} spans {space.low}..{space.high}; expected [-1, 1] in each dimension"
            )
    if env.observation_space.dtype != np.float32:
        fail(f"{name}.observation_space has dtype {env.observation_space.dtype}; expected float32")
    first = call_learner(f"{name}.reset(seed=7)", env.reset, seed=7)
    if not (isinstance(first, tuple) and len(first) == 2 and isinstance(first[1], dict)):
        fail(f"{name}.reset(seed=7) should return (obs, info) with info a dict; got {first!r:.120}")
    obs = np.asarray(first[0])
    if obs.shape != (4,) or obs.dtype != np.float32:
        fail(
            f"{name}.reset(seed=7) returned an observation of shape {obs.shape} and dtype "
            f"{obs.dtype}; expected (4,) float32"
        )
    again = np.asarray(call_learner(f"{name}.reset(seed=7)", env.reset, seed=7)[0])
    if not np.array_equal(obs, again):
        fail(
            f"{name}.reset(seed=7) twice gave two different starts: call super().reset(seed=seed) "
            "and draw from self.np_random (not np.random)"
        )
    limit = ENV_TEST["max_steps"] + 5
    got = call_learner(f"stepping {name}", drive, env, 6, 3, limit)
    want = drive(RefPointReach(**ENV_TEST), 6, 3, limit)
    if same_drive(got, want):  # the drive ends episodes both ways: terminated and truncated
        check_both_flags(learner)
        return
    for variant, text in ENV_VARIANTS.items():
        if same_drive(got, drive(RefPointReach(**ENV_TEST, variant=variant), 6, 3, limit)):
            fail(f"{name} looks like {text}")
    for mine, ref in zip(got, want, strict=False):
        if same_step(mine, ref):
            continue
        kind, episode, t, action, out = mine
        where = (
            f"reset() before episode {episode}"
            if kind == "reset"
            else f"episode {episode}, step {t}, action {fmt(np.round(action, 3))}"
        )
        expected = ref[4]
        if kind == "step" and not (isinstance(out, tuple) and len(out) == 5):
            fail(
                f"{name}.step at {where} returned {out!r:.100}; expected (obs, reward, terminated, truncated, info)"
            )
        if kind == "reset" and not (isinstance(out, tuple) and len(out) == 2):
            fail(f"{name}.reset at {where} returned {out!r:.100}; expected (obs, info)")
        parts = ["obs", "reward", "terminated", "truncated"] if kind == "step" else ["obs"]
        for i, part in enumerate(parts):
            a, b = out[i], expected[i]
            if part == "obs":
                if np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-5, atol=1e-6):
                    continue
                fail(
                    f"{name} at {where}: the observation is {fmt(np.round(np.asarray(a, float), 5))}; "
                    f"expected {fmt(np.round(np.asarray(b, float), 5))} ([x − tx, y − ty, vx, vy])"
                )
            if part == "reward" and not math.isclose(
                float(a), float(b), rel_tol=1e-6, abs_tol=1e-6
            ):
                fail(
                    f"{name} at {where}: the reward is {fmt(float(a))}; expected {fmt(float(b))} "
                    "(−distance after the step − effort_cost·Σ clipped force²)"
                )
            if part in ("terminated", "truncated") and bool(a) != bool(b):
                fail(f"{name} at {where}: {part} is {bool(a)}; expected {bool(b)}")
    fail(
        f"{name} played {sum(r[0] == 'step' for r in got)} steps in the scripted drive; the "
        f"check's environment plays {sum(r[0] == 'step' for r in want)} (does an episode end "
        "when it should?)"
    )


def evaluate_reach(policy: nn.Module, episodes: int = 50, radius: float = 0.2) -> float:
    env = RefPointReach()
    near = 0
    for k in range(episodes):
        obs, _ = env.reset(seed=10_000 + k)
        while True:
            with torch.no_grad():
                action = policy(torch.as_tensor(obs, dtype=torch.float32)).numpy()
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
        near += float(np.linalg.norm(env.pos - env.target)) < radius
    return near / episodes


REACH = {
    "iterations": 30,
    "episodes_per_batch": 20,
    "gamma": 0.9,
    "policy_lr": 0.005,
    "value_lr": 0.01,
    "seed": 0,
}
REACH_TARGET = 0.75


@pytest.mark.task(5)
def test_point_reach_learns(learner: Any) -> None:
    seed_everything(0)
    policy = call_learner("GaussianPolicy(4, 2)", learner.GaussianPolicy, 4, 2)
    value = ref_mlp(4, 1)
    before = evaluate_reach(copy.deepcopy(policy))
    name = "train(PointReach(), GaussianPolicy(4, 2), mlp(4, 1), iterations=30, episodes_per_batch=20, gamma=0.9, ...)"
    got = call_learner(name, learner.train, RefPointReach(), policy, value, **REACH)
    assert_returned(got, name, what="the list of episode returns")
    history = np.asarray([float(x) for x in got])
    n = REACH["iterations"] * REACH["episodes_per_batch"]
    if len(history) != n:
        fail(f"{name} returned {len(history)} returns; expected {n}, one per episode")
    after = evaluate_reach(policy)
    if after >= REACH_TARGET:
        return
    fail(
        f"{name} did not reach the target: driven by its mean action from 50 new starts, the "
        f"trained policy ends within 0.2 of the target in {after:.0%} of them, short of "
        f"{REACH_TARGET:.0%}, within {n} training episodes (before training: {before:.0%}; the "
        f"reference: nearly all). Its training returns went from {history[:20].mean():.1f} "
        f"(first 20 episodes) to {history[-20:].mean():.1f} (last 20); log_std ended at "
        f"{fmt(policy.log_std.detach().numpy().round(2)) if hasattr(policy, 'log_std') else '?'}"
    )
