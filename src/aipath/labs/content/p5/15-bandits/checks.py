"""Checks for p5-bandits: epsilon-greedy, UCB1 and Thompson sampling on simulated clicks.

Every policy is driven by the check itself: it calls ``select()``, looks the reward up in a
click table drawn here with a fixed seed (the reward of showing article ``a`` at step ``t`` is
``table[t, a]``) and calls ``update(arm, reward)``. With the generator the README names, each
policy's arms are then a deterministic sequence, compared exactly with the check's own reference;
a wrong sequence is matched against the sequences the known mistakes give on the same clicks.
The regret curves of task 5 are compared with the reference too, and then judged by what they
must show: UCB1 and Thompson sampling flatten, fixed epsilon-greedy keeps growing.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
import warnings
from collections.abc import Callable

import numpy as np
import pytest

from aipath.checks import (
    assert_array,
    assert_close,
    assert_returned,
    assert_tuple,
    by_reference,
    call_learner,
    fail,
    fmt,
    global_draws,
    in_learner_process,
    matching_mistake,
    once_per_run,
    raised,
)

CTRS = (0.04, 0.10, 0.16, 0.22, 0.30)
POLICIES = ("epsilon-greedy", "decaying-epsilon", "ucb1", "thompson")
EPSILON, DECAY = 0.1, 25.0
TABLE_CTRS = np.array([0.3, 0.5, 0.45, 0.2, 0.5])  # two equal best arms: ties matter
STEPS = 300
LONG = 1200  # the horizon of the lesson check (task 5)

Reward = Callable[[int, int], int]


def _table(seed: int, n: int = STEPS, ctrs: np.ndarray = TABLE_CTRS) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, ctrs.size)) < ctrs).astype(np.int64)


def _from_table(table: np.ndarray) -> Reward:
    return lambda t, arm: int(table[t, arm])


# ----- driving the learner's policies ------------------------------------------------------------
def _drive(policy, reward: Reward, n: int, n_arms: int, what: str) -> np.ndarray:
    """The arms ``policy`` picks over ``n`` steps, rewards from ``reward(t, arm)``."""
    actions = np.zeros(n, dtype=np.int64)
    for t in range(n):
        arm = call_learner(f"{what}.select() at step {t}", policy.select)
        if isinstance(arm, bool) or not isinstance(arm, int | np.integer):
            fail(
                f"{what}.select() at step {t} returned {arm!r} ({type(arm).__name__}); "
                f"expected an arm index, an int in 0..{n_arms - 1}"
            )
        if not 0 <= arm < n_arms:
            fail(f"{what}.select() at step {t} returned {arm}; arms are 0..{n_arms - 1}")
        r = reward(t, int(arm))
        call_learner(f"{what}.update({arm}, {r}) at step {t}", policy.update, int(arm), r)
        actions[t] = arm
    return actions


def _rng_diagnosis(
    make: Callable[[np.random.Generator], object],
    reward: Reward,
    n_arms: int,
    what: str,
    mistakes: dict | None = None,
    got: np.ndarray | None = None,
) -> None:
    """Fail with a named cause when the policy does not draw from the generator it was given.

    Drawing from the global RNG is tested first (nothing else makes a seeded run change with
    the global seed); a known mistake that the arms equal is named before "ignores the rng"
    (a greedy policy with no randomness ignores it too)."""
    runs = []
    for global_seed, seed in ((1, 7), (2, 7), (1, 8)):
        np.random.seed(global_seed)
        random.seed(global_seed)
        policy = call_learner(what, make, np.random.default_rng(seed))
        runs.append(_drive(policy, reward, 120, n_arms, what))
    if not np.array_equal(runs[0], runs[1]):
        fail(
            f"{what}: the same seeded `rng` gave different arms when only the global "
            "np.random / random state changed: the policy draws from the global RNG "
            "(np.random.*, random.*) instead of the `rng` passed to it"
        )
    if mistakes and got is not None and matching_mistake(got, mistakes) is not None:
        return
    if np.array_equal(runs[0], runs[2]):
        fail(
            f"{what}: generators seeded 7 and 8 gave the very same 120 arms: the policy ignores "
            "the `rng` passed to it (its own default_rng()?); draw every random number from it"
        )


def _compare_actions(got: np.ndarray, want: np.ndarray, what: str, mistakes: dict) -> None:
    if np.array_equal(got, want):
        return
    step = int(np.flatnonzero(got != want)[0])
    assert_array(
        got,
        want,
        name=f"the arms {what} chose (actions)",
        exact=True,
        mistakes={label: (lambda m=m: m() if callable(m) else m) for label, m in mistakes.items()},
    )
    fail(f"the arms {what} chose differ from step {step} on")  # pragma: no cover


# ----- the check's own references ----------------------------------------------------------------
def _ref_epsilon(
    reward: Reward,
    n: int,
    n_arms: int,
    rng: np.random.Generator,
    epsilon: float,
    decay: float | None = None,
    variant: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    counts = [0] * n_arms
    values = [0.0 if variant != "optimistic" else math.inf] * n_arms
    sums = [0.0] * n_arms
    actions = np.zeros(n, dtype=np.int64)
    rewards = np.zeros(n, dtype=np.int64)
    for step in range(n):
        t = step + 1
        if decay is None:
            rate = epsilon
        elif variant == "t-from-0":
            rate = min(epsilon, decay / step) if step else epsilon
        elif variant == "sqrt-decay":
            rate = min(epsilon, decay / math.sqrt(t))
        elif variant == "no-cap":
            rate = decay / t
        elif variant == "one-minus":
            rate = 1 - min(epsilon, decay / t)
        else:
            rate = min(epsilon, decay / t)
        if variant == "explore-first":
            explore_arm = int(rng.integers(n_arms))
            if rng.random() < rate:
                arm = explore_arm
            else:
                top = max(values)
                best = [a for a in range(n_arms) if values[a] == top]
                arm = best[int(rng.integers(len(best)))]
        elif variant == "ties-first":
            top = max(values)
            best = [a for a in range(n_arms) if values[a] == top]
            greedy = best[int(rng.integers(len(best)))]
            arm = int(rng.integers(n_arms)) if rng.random() < rate else greedy
        else:
            explore = rng.random() < rate
            if variant == "greater":
                explore = not explore
            if explore:
                if variant == "explore-others":
                    greedy = int(np.argmax(values))
                    others = [a for a in range(n_arms) if a != greedy]
                    arm = others[int(rng.integers(len(others)))]
                else:
                    arm = int(rng.integers(n_arms))
            else:
                top = max(values)
                best = [a for a in range(n_arms) if values[a] == top]
                if variant == "greedy-counts":
                    best = [a for a in range(n_arms) if counts[a] == max(counts)]
                if variant == "ties-low":
                    arm = best[0]
                elif variant == "ties-high":
                    arm = best[-1]
                else:
                    arm = best[int(rng.integers(len(best)))]
        r = reward(step, arm)
        counts[arm] += 1
        sums[arm] += r
        if variant == "count-plus-one":
            values[arm] += (r - values[arm]) / (counts[arm] + 1)
        elif variant == "sum":
            values[arm] = sums[arm]
        elif variant == "sum-over-count":
            values[arm] = sums[arm] / counts[arm]
        elif variant == "last" or (variant == "optimistic" and counts[arm] == 1):
            values[arm] = float(r)
        else:
            values[arm] += (r - values[arm]) / counts[arm]
        actions[step], rewards[step] = arm, r
    return actions, rewards


def _ucb_scores(counts: np.ndarray, values: np.ndarray, variant: str = "") -> np.ndarray:
    t = counts.sum()
    with np.errstate(all="ignore"):
        if variant == "log-arm":
            bonus = np.sqrt(2.0 * np.log(counts) / counts)
        elif variant == "no-2":
            bonus = np.sqrt(np.log(t) / counts)
        elif variant == "log-t-plus-1":
            bonus = np.sqrt(2.0 * np.log(t + 1) / counts)
        elif variant == "log10":
            bonus = np.sqrt(2.0 * np.log10(t) / counts)
        elif variant == "no-sqrt":
            bonus = 2.0 * np.log(t) / counts
        elif variant == "over-t":
            bonus = np.sqrt(2.0 * np.log(t) / t) + 0.0 * counts
        else:
            bonus = np.sqrt(2.0 * np.log(t) / counts)
        scores = values + bonus
    if variant != "no-init":
        scores = np.where(counts > 0, scores, np.inf)
    return scores


def _ref_ucb(
    reward: Reward, n: int, n_arms: int, variant: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    counts = np.zeros(n_arms, dtype=np.int64)
    values = np.zeros(n_arms)
    actions = np.zeros(n, dtype=np.int64)
    rewards = np.zeros(n, dtype=np.int64)
    for step in range(n):
        untried = np.flatnonzero(counts == 0)
        if variant == "init-reverse" and untried.size:
            arm = int(untried[-1])
        elif variant == "ties-high":
            arm = n_arms - 1 - int(np.argmax(_ucb_scores(counts, values)[::-1]))
        else:
            arm = int(np.argmax(_ucb_scores(counts, values, variant)))
        r = reward(step, arm)
        counts[arm] += 1
        values[arm] += (r - values[arm]) / counts[arm]
        actions[step], rewards[step] = arm, r
    return actions, rewards


def _ref_thompson(
    reward: Reward, n: int, n_arms: int, rng: np.random.Generator, variant: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    alpha, beta = np.ones(n_arms), np.ones(n_arms)
    actions = np.zeros(n, dtype=np.int64)
    rewards = np.zeros(n, dtype=np.int64)
    for step in range(n):
        if variant == "swapped":
            arm = int(np.argmax(rng.beta(beta, alpha)))
        elif variant == "mean":
            arm = int(np.argmax(alpha / (alpha + beta)))
        elif variant == "reversed":
            arm = int(np.argmax(rng.beta(alpha[::-1], beta[::-1])[::-1]))
        elif variant == "prior-2":
            arm = int(np.argmax(rng.beta(alpha + 1, beta + 1)))
        elif variant == "pulls":
            arm = int(np.argmax(rng.beta(alpha, alpha + beta - 1)))
        else:
            arm = int(np.argmax(rng.beta(alpha, beta)))
        r = reward(step, arm)
        alpha[arm] += r
        beta[arm] += 1 - r
        actions[step], rewards[step] = arm, r
    return actions, rewards


def _ref_policy(name: str, reward: Reward, n: int, n_arms: int, rng: np.random.Generator):
    if name == "epsilon-greedy":
        return _ref_epsilon(reward, n, n_arms, rng, EPSILON)
    if name == "decaying-epsilon":
        return _ref_epsilon(reward, n, n_arms, rng, 1.0, DECAY)
    if name == "ucb1":
        return _ref_ucb(reward, n, n_arms)
    return _ref_thompson(reward, n, n_arms, rng)


def _env(ctrs: np.ndarray, rng: np.random.Generator) -> Reward:
    return lambda t, arm: int(rng.random() < ctrs[arm])


def _ref_curves_per_seed(ctrs, n, seeds) -> dict[str, np.ndarray]:
    """The mistake of one bandit and one policy generator per seed, shared by the 4 policies."""
    ctrs = np.asarray(ctrs, dtype=np.float64)
    runs: dict[str, list] = {name: [] for name in POLICIES}
    for seed in seeds:
        env_rng, pol_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
        for name in POLICIES:
            actions, _ = _ref_policy(name, _env(ctrs, env_rng), n, ctrs.size, pol_rng)
            runs[name].append(np.cumsum(ctrs.max() - ctrs[actions]))
    return {name: np.mean(runs[name], axis=0) for name in POLICIES}


def _ref_curves_policy_once(ctrs, n, seeds) -> dict[str, np.ndarray]:
    """The mistake of one policy per name, built before the loop over the seeds: it keeps
    what it learned (and its generator) from one seed's run into the next."""
    ctrs = np.asarray(ctrs, dtype=np.float64)
    out = {}
    for name in POLICIES:
        envs = [_env(ctrs, np.random.default_rng([seed, 0])) for seed in seeds]
        actions, _ = _ref_policy(
            name,
            lambda t, arm, envs=envs: envs[t // n](t, arm),
            n * len(seeds),
            ctrs.size,
            np.random.default_rng([seeds[0], 1]),
        )
        runs = [np.cumsum(ctrs.max() - ctrs[a]) for a in actions.reshape(len(seeds), n)]
        out[name] = np.mean(runs, axis=0)
    return out


@functools.cache
def _ref_curves(ctrs: tuple, n: int, seeds: tuple, variant: str = "") -> dict[str, np.ndarray]:
    if variant == "per-seed":
        return _ref_curves_per_seed(ctrs, n, seeds)
    if variant == "policy-once":
        return _ref_curves_policy_once(ctrs, n, seeds)
    ctrs = np.asarray(ctrs, dtype=np.float64)
    out = {}
    for name in POLICIES:
        runs = []
        for seed in seeds:
            if variant == "bandit-once":
                if seed == seeds[0]:
                    once = np.random.default_rng([seed, 0])
                env_rng, pol_rng = once, np.random.default_rng([seed, 1])
            elif variant == "same-seed":
                env_rng, pol_rng = np.random.default_rng(seed), np.random.default_rng(seed)
            elif variant == "shared":
                env_rng = pol_rng = np.random.default_rng(seed)
            elif variant == "swapped-streams":
                env_rng, pol_rng = (
                    np.random.default_rng([seed, 1]),
                    np.random.default_rng([seed, 0]),
                )
            else:
                env_rng, pol_rng = (
                    np.random.default_rng([seed, 0]),
                    np.random.default_rng([seed, 1]),
                )
            if variant == "constant-ctrs":
                actions, rewards = _ref_policy(
                    name, _env(np.array(CTRS), env_rng), n, len(CTRS), pol_rng
                )
                runs.append(np.cumsum(max(CTRS) - np.array(CTRS)[actions]))
                continue
            actions, rewards = _ref_policy(name, _env(ctrs, env_rng), n, ctrs.size, pol_rng)
            if variant == "observed":
                runs.append(np.cumsum(ctrs.max() - rewards))
            elif variant == "per-step":
                runs.append(ctrs.max() - ctrs[actions])
            else:
                runs.append(np.cumsum(ctrs.max() - ctrs[actions]))
        if variant == "sum":
            out[name] = np.sum(runs, axis=0)
        elif variant == "median":
            out[name] = np.median(runs, axis=0)
        else:
            out[name] = np.mean(runs, axis=0)
    return out


def _means(history, k: int, variant: str = "") -> np.ndarray:
    counts, values = np.zeros(k, dtype=np.int64), np.zeros(k)
    for arm, r in history:
        counts[arm] += 1
        if variant == "count-plus-one":
            values[arm] += (r - values[arm]) / (counts[arm] + 1)
        elif variant == "sum":
            values[arm] += r
        elif variant == "last":
            values[arm] = r
        elif variant == "half":
            values[arm] += (r - values[arm]) / 2
        elif variant == "before":
            values[arm] += (r - values[arm]) / max(counts[arm] - 1, 1)
        else:
            values[arm] += (r - values[arm]) / counts[arm]
    return values


# ----- task 1: the environment and the regret ------------------------------------------------------
@pytest.mark.task(1)
def test_bandit_clicks_come_from_one_uniform_draw(learner):
    ctrs = np.array([0.1, 0.9, 0.5, 0.0, 1.0])
    bandit = call_learner(
        "BernoulliBandit(ctrs, rng)", learner.BernoulliBandit, ctrs, np.random.default_rng(5)
    )
    n_arms = getattr(bandit, "n_arms", None)
    if n_arms != 5:
        fail(f"BernoulliBandit(5 click-through rates, rng).n_arms is {n_arms!r}; expected 5")
    arms = np.tile(np.arange(5), 60)
    clicks = []
    for arm in arms:
        click = call_learner(f"bandit.pull({arm})", bandit.pull, int(arm))
        if (
            isinstance(click, bool)
            or not isinstance(click, int | np.integer)
            or click not in (0, 1)
        ):
            fail(f"bandit.pull({arm}) returned {click!r}; expected the int 1 (a click) or 0")
        clicks.append(int(click))
    got = np.array(clicks)
    u = np.random.default_rng(5).random(arms.size)
    want = (u < ctrs[arms]).astype(np.int64)
    if not np.array_equal(got, want):
        _bandit_rng_diagnosis(learner)
    assert_array(
        got,
        want,
        name="the clicks of 300 pulls (arms 0, 1, 2, 3, 4, 0, 1, ...)",
        exact=True,
        mistakes={
            "a click when rng.random() > ctr: the click rate is 1 - ctr": lambda: (
                u > ctrs[arms]
            ).astype(int),
            "rng.binomial(1, ctr) (or rng.choice, rng.integers): the README asks for one "
            "rng.random() per pull, clicked when it is below the rate": lambda: (
                np.random.default_rng(5).binomial(1, ctrs[arms])
            ),
        },
    )


def _bandit_rng_diagnosis(learner) -> None:
    results = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        random.seed(global_seed)
        bandit = learner.BernoulliBandit([0.5, 0.5], np.random.default_rng(3))
        results.append([int(bandit.pull(i % 2)) for i in range(60)])
    if results[0] != results[1]:
        fail(
            "two bandits built with the same seeded rng clicked differently when only the global "
            "np.random / random state changed: pull() draws from the global RNG instead of the "
            "`rng` passed to BernoulliBandit"
        )


@pytest.mark.task(1)
def test_bandit_uses_the_rng_it_was_given(learner):
    _bandit_rng_diagnosis(learner)


@pytest.mark.task(1)
def test_bandit_contract(learner):
    ctrs = in_learner_process(np.array([0.2, 0.4, 0.6]))  # changed below, where the bandit lives
    bandit = call_learner(
        "BernoulliBandit(ctrs, rng)", learner.BernoulliBandit, ctrs, np.random.default_rng(0)
    )
    for arm in (-1, 3):
        error = raised(bandit.pull, arm)
        if not isinstance(error, ValueError):
            got = "returned normally" if error is None else f"raised {type(error).__name__}"
            extra = (
                " (-1 indexes the last rate in Python: test the range yourself)"
                if arm == -1
                else ""
            )
            fail(f"bandit.pull({arm}) with 3 arms {got}; expected a ValueError{extra}")
    ctrs[:] = [1.0, 1.0, 1.0]
    clicks = [int(bandit.pull(0)) for _ in range(40)]
    if sum(clicks) == 40:
        fail(
            "after the caller changed its ctrs array, the bandit clicked with the new rates: "
            "keep your own float64 copy (np.array(ctrs, dtype=float)), not a view of the caller's"
        )
    for bad in ([0.2, 1.5], [-0.1, 0.3]):
        error = raised(learner.BernoulliBandit, bad, np.random.default_rng(0))
        if not isinstance(error, ValueError):
            got = "returned normally" if error is None else f"raised {type(error).__name__}"
            fail(f"BernoulliBandit({bad}, rng) {got}; expected a ValueError (rates lie in [0, 1])")


@pytest.mark.task(1)
def test_pseudo_regret(learner):
    ctrs = np.array([0.1, 0.3, 0.25, 0.05])
    actions = np.array([0, 1, 2, 3, 1, 1, 2, 0, 1, 1], dtype=np.int64)
    kept_c, kept_a = ctrs.copy(), actions.copy()
    got = call_learner("pseudo_regret(ctrs, actions)", learner.pseudo_regret, ctrs, actions)
    got = assert_returned(got, "pseudo_regret(ctrs, actions)", what="the regret curve")
    gaps = ctrs.max() - ctrs[actions]
    assert_array(
        got,
        np.cumsum(gaps),
        name="pseudo_regret(ctrs=[0.1, 0.3, 0.25, 0.05], actions)",
        rtol=1e-12,
        mistakes={
            "the gap of each step, not the cumulative sum (regret adds up over the steps)": gaps,
            "ctrs[actions] - max(ctrs): the sign is flipped (regret is what you lost, >= 0)": -np.cumsum(
                gaps
            ),
            "the average regret per step (cumsum / t), not the cumulative regret": lambda: (
                np.cumsum(gaps) / np.arange(1, gaps.size + 1)
            ),
            "the index of the best arm (argmax) used as its rate": lambda: np.cumsum(
                ctrs.argmax() - ctrs[actions]
            ),
            "the total regret as one number, not the curve": lambda: np.full(1, gaps.sum()),
            "the gaps to the mean rate, not to the best rate max(ctrs)": lambda: np.cumsum(
                ctrs.mean() - ctrs[actions]
            ),
            "the gaps to the last rate ctrs[-1] (as if the rates were sorted), not to the best "
            "rate max(ctrs)": lambda: np.cumsum(ctrs[-1] - ctrs[actions]),
        },
    )
    if np.asarray(got).dtype.kind != "f":
        fail(f"pseudo_regret(...) has dtype {np.asarray(got).dtype}; expected float64")
    if not (np.array_equal(ctrs, kept_c) and np.array_equal(actions, kept_a)):
        fail("pseudo_regret(ctrs, actions) changed its inputs in place")
    listed = call_learner(
        "pseudo_regret(a list of rates, a list of arms)",
        learner.pseudo_regret,
        [0.5, 0.2],
        [1, 0, 1],
    )
    assert_array(listed, [0.3, 0.3, 0.6], name="pseudo_regret([0.5, 0.2], [1, 0, 1])", rtol=1e-12)


# ----- task 2: epsilon-greedy ------------------------------------------------------------------------
@pytest.mark.task(2)
def test_epsilon_greedy_incremental_means(learner):
    policy = call_learner(
        "EpsilonGreedy(3, rng, epsilon=0.1)",
        learner.EpsilonGreedy,
        3,
        np.random.default_rng(0),
        epsilon=0.1,
    )
    history = [(0, 1), (0, 0), (2, 1), (0, 1), (2, 1), (0, 0), (2, 0)]
    for arm, reward in history:
        call_learner(f"policy.update({arm}, {reward})", policy.update, arm, reward)
    counts, values = getattr(policy, "counts", None), getattr(policy, "values", None)
    if counts is None or values is None:
        fail(
            "EpsilonGreedy needs the attributes `counts` (pulls per arm) and `values` (mean reward per arm)"
        )
    for label, array, kinds, want in (
        ("counts", counts, "iu", "integers (int64)"),
        ("values", values, "f", "float64 (an integer array truncates every mean)"),
    ):
        if np.asarray(array).dtype.kind not in kinds:
            fail(f"EpsilonGreedy.{label} has dtype {np.asarray(array).dtype}; expected {want}")
    assert_array(counts, [4, 0, 3], name="policy.counts after 7 updates", exact=True)
    if np.asarray(counts).dtype.kind not in "iu":
        fail(f"policy.counts has dtype {np.asarray(counts).dtype}; expected integers (int64)")
    assert_array(
        values,
        _means(history, 3),
        name="policy.values after arm 0 got 1, 0, 1, 0 and arm 2 got 1, 1, 0",
        rtol=1e-12,
        mistakes={
            "dividing by count + 1 (the count after the update is already n)": _means(
                history, 3, "count-plus-one"
            ),
            "the sum of the rewards, not their mean": _means(history, 3, "sum"),
            "the last reward instead of the running mean": _means(history, 3, "last"),
            "an average of the old value and the reward (a step size of 1/2)": _means(
                history, 3, "half"
            ),
            "the mean updated before the count (dividing by the old count)": _means(
                history, 3, "before"
            ),
        },
    )


@pytest.mark.task(2)
def test_epsilon_greedy_exploration_rate(learner):
    fixed = learner.EpsilonGreedy(4, np.random.default_rng(0), epsilon=0.2)
    for t in (1, 50, 1000):
        assert_close(
            call_learner(f"exploration_rate({t})", fixed.exploration_rate, t),
            0.2,
            name=f"EpsilonGreedy(epsilon=0.2).exploration_rate({t})",
        )
    decaying = learner.EpsilonGreedy(4, np.random.default_rng(0), epsilon=0.5, decay=20.0)
    for t in (1, 40, 41, 100, 2000):
        want = min(0.5, 20.0 / t)
        assert_close(
            call_learner(f"exploration_rate({t})", decaying.exploration_rate, t),
            want,
            name=f"EpsilonGreedy(epsilon=0.5, decay=20).exploration_rate({t})",
            rtol=1e-12,
            mistakes={
                "decay / t without the cap at epsilon": 20.0 / t,
                "min(1, decay / t): capped at 1 instead of at epsilon": min(1.0, 20.0 / t),
                "decay / sqrt(t)": min(0.5, 20.0 / math.sqrt(t)),
                "decay / (t - 1): t counted from 0": min(0.5, 20.0 / (t - 1)) if t > 1 else None,
                "decay / (t + 1)": min(0.5, 20.0 / (t + 1)),
                "epsilon * decay / t": min(0.5, 10.0 / t),
            },
        )


@by_reference
class _Coin(np.random.Generator):
    """A real generator whose random() returns ``u``, recording how many outcomes each
    rng.integers / rng.choice draw had (3: a draw among all arms)."""

    def __init__(self, u: float) -> None:
        super().__init__(np.random.PCG64(0))
        self.u = u
        self.calls: list[str] = []
        self.options: list[int] = []

    def random(self, *args, **kwargs):
        self.calls.append("random")
        return self.u

    def uniform(self, low=0.0, high=1.0, size=None):
        if size is not None:
            return super().uniform(low, high, size)
        self.calls.append("random")  # rng.uniform() is rng.random() scaled: the same draw
        return low + (high - low) * self.u

    def integers(self, low, high=None, *args, **kwargs):
        self.calls.append("integers")
        with contextlib.suppress(TypeError, ValueError):
            self.options.append(int(low if high is None else high - low))
        return super().integers(low, high, *args, **kwargs)

    def choice(self, a, *args, **kwargs):
        self.calls.append("choice")
        with contextlib.suppress(TypeError, ValueError):
            self.options.append(int(a) if np.ndim(a) == 0 else len(a))
        return super().choice(a, *args, **kwargs)


def _explored(learner, t: int, u: float, via_select: bool = False) -> bool:
    """Whether step ``t`` explores when rng.random() returns ``u``: the policy first gets
    ``t - 1`` updates of arm 0 (each after a select() when ``via_select``)."""
    coin = _Coin(u)
    policy = learner.EpsilonGreedy(3, coin, epsilon=1.0, decay=4.0)
    for step in range(t - 1):
        if via_select:
            call_learner(f"EpsilonGreedy.select() at step {step + 1}", policy.select)
        call_learner("EpsilonGreedy.update(0, 1)", policy.update, 0, 1)
    coin.calls.clear()
    coin.options.clear()
    # The global generators are read where learner code runs (its own process when trusted).
    _, moved = global_draws(call_learner, f"EpsilonGreedy.select() at step {t}", policy.select)
    if "random" not in coin.calls:
        if moved:
            fail(
                f"EpsilonGreedy.select() at step {t} never called rng.random() but changed the "
                "global np.random / random state: it draws from the global RNG instead of the "
                "`rng` passed to EpsilonGreedy; draw u = self.rng.random() first, on every step"
            )
        fail(
            f"EpsilonGreedy.select() at step {t} never called rng.random(): draw u = rng.random() first, on every step"
        )
    if coin.calls[0] != "random":
        which = "the tied arm" if coin.calls[0] == "choice" else "an arm"
        fail(
            f"EpsilonGreedy.select() at step {t} called rng.{coin.calls[0]}() before "
            f"rng.random(): {which} drawn before the exploration coin; draw u = rng.random() "
            "first, then either rng.integers(n_arms) (explore) or rng.choice(tied) (exploit)"
        )
    return 3 in coin.options  # a draw among all 3 arms; the greedy arm 0 is the only one tied


@pytest.mark.task(2)
def test_epsilon_greedy_counts_steps_from_one(learner):
    for t in (5, 6, 9, 20):
        rate = min(1.0, 4.0 / t)
        below, above = _explored(learner, t, rate - 1e-9), _explored(learner, t, rate + 1e-9)
        if below and not above:
            continue
        cause = ""
        if below and above:
            late = 4.0 / (t - 1)
            if _explored(learner, t, rate - 1e-9, via_select=True) and not _explored(
                learner, t, rate + 1e-9, via_select=True
            ):
                cause = (
                    ": it is right when every update follows a select(), so its t seems to "
                    "count its own select() calls; the README's t is counts.sum() + 1 (the "
                    "pulls recorded so far, plus one), whatever called update()"
                )
            elif _explored(learner, t, late - 1e-9) and not _explored(learner, t, late + 1e-9):
                cause = (
                    f": it explores exactly below decay / (t - 1) = {late:.4g}, t counted from 0 "
                    "(t = counts.sum() + 1 at every select, 1 at the first)"
                )
        elif not below and above:
            cause = ": it explores when u >= epsilon_t, the comparison the wrong way round"
        elif not below and not above:
            if not _explored(learner, t, 1e-6):
                cause = (
                    ": even with rng.random() = 0.000001 it drew no arm among all 3; exploring "
                    "is rng.integers(n_arms), uniform over every arm, the greedy one included"
                )
            else:
                early = 4.0 / (t + 1)
                if _explored(learner, t, early - 1e-9) and not _explored(learner, t, early + 1e-9):
                    cause = f": it explores exactly below decay / (t + 1) = {early:.4g}, t one too large"
        fail(
            f"EpsilonGreedy(3, rng, epsilon=1.0, decay=4) after {t - 1} updates (step t = {t}, "
            f"epsilon_t = {rate:.4g}): with rng.random() = {rate - 1e-9:.10f} it "
            f"{'explored' if below else 'did not explore'}, with {rate + 1e-9:.10f} it "
            f"{'explored' if above else 'did not explore'}; expected to explore exactly when "
            f"u < epsilon_t{cause}"
        )


def _epsilon_case(
    learner, seed: int, epsilon: float, decay: float | None, what: str, variants: dict
):
    table = _table(seed)
    reward = _from_table(table)
    k = TABLE_CTRS.size

    def make(rng):
        return learner.EpsilonGreedy(k, rng, epsilon=epsilon, decay=decay)

    got = _drive(
        call_learner(what, make, np.random.default_rng(seed + 100)), reward, STEPS, k, what
    )
    want, _ = _ref_epsilon(reward, STEPS, k, np.random.default_rng(seed + 100), epsilon, decay)
    if np.array_equal(got, want):
        return
    mistakes = {
        label: (
            lambda v=v: _ref_epsilon(
                reward, STEPS, k, np.random.default_rng(seed + 100), epsilon, decay, v
            )[0]
        )
        for label, v in variants.items()
    }
    _rng_diagnosis(make, reward, k, what, mistakes, got)
    _compare_actions(got, want, what, mistakes)


EPSILON_MISTAKES = {
    "exploring among the other arms only: the README's exploration picks uniformly among ALL "
    "arms, the greedy one included (rng.integers(n_arms))": "explore-others",
    "ties broken towards the lowest index (np.argmax): the README asks for a random tied arm, "
    "rng.choice(np.flatnonzero(values == values.max()))": "ties-low",
    "ties broken towards the highest index": "ties-high",
    "the tied arm drawn before the exploration coin: draw rng.random() first, then either "
    "rng.integers(n_arms) or rng.choice(tied)": "ties-first",
    "the exploring arm rng.integers(n_arms) drawn before the exploration coin: draw "
    "u = rng.random() first, then rng.integers(n_arms) only when exploring": "explore-first",
    "values kept as sum / count: the same mean in exact arithmetic, but not bit-for-bit the "
    "incremental mean values[arm] += (reward - values[arm]) / counts[arm] the README asks "
    "for, so tied values (and the arms chosen) come out differently": "sum-over-count",
    "exploring when rng.random() >= epsilon (the coin read the wrong way round)": "greater",
    "means updated with count + 1 (off by one)": "count-plus-one",
    "the sum of the rewards instead of their mean": "sum",
    "the last reward instead of the running mean": "last",
    "untried arms valued +inf (optimistic start): the README starts every value at 0": "optimistic",
    "the most-pulled arm taken as the greedy one: exploit the highest mean (values), not the "
    "highest count": "greedy-counts",
}


@pytest.mark.task(2)
def test_epsilon_greedy_arm_sequence(learner):
    _epsilon_case(learner, 1, 0.2, None, "EpsilonGreedy(5, rng, epsilon=0.2)", EPSILON_MISTAKES)


@pytest.mark.task(2)
def test_decaying_epsilon_arm_sequence(learner):
    variants = dict(EPSILON_MISTAKES)
    variants |= {
        "epsilon_t computed with t counted from 0 (t is the number of this step: 1 at the first "
        "select)": "t-from-0",
        "decay / sqrt(t) instead of decay / t": "sqrt-decay",
        "decay / t without the cap at epsilon": "no-cap",
        "exploring with probability 1 - epsilon_t": "one-minus",
    }
    _epsilon_case(learner, 2, 0.5, 30.0, "EpsilonGreedy(5, rng, epsilon=0.5, decay=30)", variants)


# ----- task 3: UCB1 ------------------------------------------------------------------------------------
UCB_MISTAKES = {
    "ln(n_a), the arm's own count, instead of ln(t), the total number of pulls": "log-arm",
    "sqrt(ln t / n_a), the 2 left out": "no-2",
    "ln(t + 1) instead of ln(t)": "log-t-plus-1",
    "log10 instead of the natural log": "log10",
    "no square root around 2 ln t / n_a": "no-sqrt",
    "the bonus divided by t instead of n_a": "over-t",
    "untried arms scored with the formula (0/0 is NaN, x/0 is inf) instead of +inf": "no-init",
}


@pytest.mark.task(3)
def test_ucb1_plays_each_arm_once_first(learner):
    policy = call_learner("UCB1(4)", learner.UCB1, 4)
    start = call_learner("UCB1(4).scores()", policy.scores)
    assert_array(
        start,
        np.full(4, np.inf),
        name="UCB1(4).scores() before any update",
        mistakes={"the formula applied to untried arms (ln 0 / 0)": np.full(4, np.nan)},
    )
    rewards = [0, 0, 0, 0]
    got = _drive(policy, lambda t, arm: rewards[arm], 4, 4, "UCB1(4)")
    if not np.array_equal(got, np.arange(4)) and not np.array_equal(got, np.arange(4)[::-1]):
        fail(
            f"the first 4 arms UCB1(4) chose (all rewards 0) are {got.tolist()}; expected "
            "[0, 1, 2, 3]: UCB1 plays each untried arm once, in index order (their scores are "
            "all +inf and np.argmax takes the lowest index), with no randomness"
        )
    assert_array(
        got,
        np.arange(4),
        name="the first 4 arms UCB1(4) chose (all rewards 0)",
        exact=True,
        mistakes={
            "the untried arms in reverse order (ties among the +inf scores of untried arms go "
            "to the lowest index, as np.argmax does)": np.arange(4)[::-1]
        },
    )


@pytest.mark.task(3)
def test_ucb1_scores(learner):
    policy = learner.UCB1(4)
    history = [(0, 1), (1, 0), (2, 1), (0, 0), (0, 1), (2, 0), (0, 1)]
    for arm, reward in history:
        call_learner(f"UCB1.update({arm}, {reward})", policy.update, arm, reward)
    counts = np.array([4, 1, 2, 0])
    values = np.array([0.75, 0.0, 0.5, 0.0])
    for label, kinds, want in (
        ("counts", "iu", "integers (int64)"),
        ("values", "f", "float64 (an integer array truncates every mean)"),
    ):
        array = getattr(policy, label, None)
        if array is None:
            fail(f"UCB1 needs the attribute `{label}`")
        if np.asarray(array).dtype.kind not in kinds:
            fail(f"UCB1.{label} has dtype {np.asarray(array).dtype}; expected {want}")
    assert_array(
        getattr(policy, "counts", None), counts, name="UCB1.counts after 7 updates", exact=True
    )
    assert_array(
        getattr(policy, "values", None), values, name="UCB1.values after 7 updates", rtol=1e-12
    )
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        got = call_learner("UCB1.scores()", policy.scores)
    noisy = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    if noisy:
        fail(
            f"UCB1.scores() with counts [4, 1, 2, 0] emitted RuntimeWarning: {noisy[0]!r}: the "
            "formula was computed for the arm never pulled (a division by its count 0) and "
            "then replaced; compute it only for pulled arms (a mask counts > 0), as the README "
            "asks: no NaN and no division warnings"
        )
    assert_array(
        got,
        _ucb_scores(counts, values),
        name="UCB1.scores() with counts [4, 1, 2, 0], values [0.75, 0, 0.5, 0] (t = 7)",
        rtol=1e-12,
        mistakes={label: _ucb_scores(counts, values, v) for label, v in UCB_MISTAKES.items()},
    )


@pytest.mark.task(3)
def test_ucb1_arm_sequence(learner):
    table = _table(3, 400)
    reward = _from_table(table)
    k = TABLE_CTRS.size
    got = _drive(call_learner("UCB1(5)", learner.UCB1, k), reward, 400, k, "UCB1(5)")
    want, _ = _ref_ucb(reward, 400, k)
    variants = UCB_MISTAKES | {
        "the untried arms played from the highest index down": "init-reverse"
    }
    mistakes = {
        label: (lambda v=v: _ref_ucb(reward, 400, k, v)[0]) for label, v in variants.items()
    }
    mistakes[
        "ties between equal scores broken towards the highest index (the README: np.argmax, the lowest)"
    ] = lambda: _ref_ucb(reward, 400, k, "ties-high")[0]
    _compare_actions(got, want, "UCB1(5)", mistakes)


# ----- task 4: Thompson sampling ---------------------------------------------------------------------
@pytest.mark.task(4)
def test_thompson_posterior(learner):
    policy = call_learner(
        "ThompsonSampling(3, rng)", learner.ThompsonSampling, 3, np.random.default_rng(0)
    )
    alpha, beta = getattr(policy, "alpha", None), getattr(policy, "beta", None)
    if alpha is None or beta is None:
        fail("ThompsonSampling needs the attributes `alpha` and `beta`, one Beta posterior per arm")
    assert_array(
        alpha,
        np.ones(3),
        name="ThompsonSampling(3, rng).alpha before any update",
        mistakes={
            "zeros: alpha and beta are the posterior's parameters, so they start at the "
            "Beta(1, 1) prior (alpha = 1 + clicks, beta = 1 + misses)": np.zeros(3),
            "a Beta(0.5, 0.5) (Jeffreys) prior: the README starts from Beta(1, 1), "
            "alpha and beta ones": np.full(3, 0.5),
        },
    )
    assert_array(beta, np.ones(3), name="ThompsonSampling(3, rng).beta before any update")
    for arm, reward in [(0, 1), (0, 0), (2, 1), (0, 1), (2, 1), (1, 0)]:
        call_learner(f"policy.update({arm}, {reward})", policy.update, arm, reward)
    want_a, want_b = np.array([3.0, 1.0, 3.0]), np.array([2.0, 2.0, 1.0])
    assert_array(
        policy.alpha,
        want_a,
        name="alpha after arm 0 got 1, 0, 1, arm 1 got 0 and arm 2 got 1, 1",
        rtol=1e-12,
        mistakes={
            "alpha counting the misses (alpha and beta swapped)": want_b,
            "alpha counting the pulls instead of the clicks": np.array([4.0, 2.0, 3.0]),
        },
    )
    assert_array(
        policy.beta,
        want_b,
        name="beta after arm 0 got 1, 0, 1, arm 1 got 0 and arm 2 got 1, 1",
        rtol=1e-12,
        mistakes={
            "beta counting the clicks (alpha and beta swapped)": want_a,
            "beta counting the pulls instead of the misses": np.array([4.0, 2.0, 3.0]),
        },
    )


@pytest.mark.task(4)
def test_thompson_arm_sequence(learner):
    table = _table(4)
    reward = _from_table(table)
    k = TABLE_CTRS.size

    def make(rng):
        return learner.ThompsonSampling(k, rng)

    policy = call_learner("ThompsonSampling(5, rng)", make, np.random.default_rng(104))
    got = np.zeros(STEPS, dtype=np.int64)
    try:
        got = _drive(policy, reward, STEPS, k, "ThompsonSampling(5, rng)")
    except AssertionError as exc:
        if "a <= 0" in str(exc) or "b <= 0" in str(exc):
            fail(
                f"{exc}. rng.beta needs both parameters > 0: sampling Beta(successes, failures) "
                "leaves out the Beta(1, 1) prior (alpha = 1 + clicks, beta = 1 + misses)"
            )
        raise
    want, _ = _ref_thompson(reward, STEPS, k, np.random.default_rng(104))
    if np.array_equal(got, want):
        return
    variants = {
        "a sample from Beta(beta, alpha): clicks and misses swapped": "swapped",
        "the posterior mean instead of a sample (that is greedy, not Thompson sampling)": "mean",
        "the arms sampled in reverse order: draw rng.beta(alpha, beta) for arms 0..K-1 in order": "reversed",
        "a Beta(2, 2) prior (one added twice)": "prior-2",
        "beta counting the pulls, not the misses": "pulls",
    }
    mistakes = {
        label: (lambda v=v: _ref_thompson(reward, STEPS, k, np.random.default_rng(104), v)[0])
        for label, v in variants.items()
    }
    _rng_diagnosis(make, reward, k, "ThompsonSampling(5, rng)", mistakes, got)
    _compare_actions(got, want, "ThompsonSampling(5, rng)", mistakes)


# ----- task 5: simulation and regret curves -------------------------------------------------------
@by_reference
class _ScriptedPolicy:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.arms = [2, 0, 1, 1, 2, 0, 0]

    def select(self) -> int:
        self.calls.append(("select",))
        return self.arms[sum(1 for c in self.calls if c[0] == "select") - 1]

    def update(self, arm: int, reward: float) -> None:
        self.calls.append(("update", arm, reward))


@by_reference
class _ScriptedBandit:
    n_arms = 3

    def __init__(self) -> None:
        self.pulls: list[int] = []
        self.clicks = [1, 0, 0, 1, 1, 0, 1]

    def pull(self, arm: int) -> int:
        self.pulls.append(arm)
        return self.clicks[(len(self.pulls) - 1) % len(self.clicks)]


@pytest.mark.task(5)
def test_run_policy_loop(learner):
    policy, bandit = _ScriptedPolicy(), _ScriptedBandit()
    result = call_learner("run_policy(policy, bandit, 7)", learner.run_policy, policy, bandit, 7)
    actions, rewards = assert_tuple(result, ("actions", "rewards"), "run_policy(policy, bandit, 7)")
    if len(bandit.pulls) != 7:
        fail(
            f"run_policy(policy, bandit, 7) pulled the bandit {len(bandit.pulls)} times; expected once per step, 7"
        )
    want_calls = []
    for arm, click in zip(policy.arms, bandit.clicks, strict=True):
        want_calls += [("select",), ("update", arm, click)]
    if policy.calls != want_calls:
        index = next(
            (i for i, (a, b) in enumerate(zip(policy.calls, want_calls, strict=False)) if a != b),
            min(len(policy.calls), len(want_calls)),
        )
        got = policy.calls[index] if index < len(policy.calls) else "nothing"
        fail(
            f"call {index + 1} on the policy was {got}; expected {want_calls[index]}. Each step is "
            "select(), pull that arm, then update(arm, the reward the pull returned)"
        )
    if bandit.pulls != policy.arms:
        fail(f"the bandit was pulled on arms {bandit.pulls}; the policy selected {policy.arms}")
    for label, array in (("actions", actions), ("rewards", rewards)):
        if not isinstance(array, np.ndarray):
            fail(
                f"run_policy(...) {label} is a {type(array).__name__}; expected a NumPy int64 array"
            )
    assert_array(
        actions,
        policy.arms,
        name="run_policy(...) actions",
        exact=True,
        mistakes={"(rewards, actions): the tuple in the wrong order": bandit.clicks},
    )
    assert_array(rewards, bandit.clicks, name="run_policy(...) rewards", exact=True)
    for label, array in (("actions", actions), ("rewards", rewards)):
        if np.asarray(array).dtype.kind not in "iu":
            fail(f"run_policy(...) {label} has dtype {np.asarray(array).dtype}; expected int64")


def _check_curves_dict(curves, n: int, call: str) -> dict[str, np.ndarray]:
    curves = assert_returned(curves, call, what="the dict of curves", of=dict)
    if set(curves) != set(POLICIES):
        fail(f"{call} has the keys {sorted(curves)}; expected {list(POLICIES)}")
    for name in POLICIES:
        shape = np.shape(curves[name])
        if shape != (n,):
            fail(
                f"{call}[{name!r}] has shape {shape}; expected ({n},), one value per step (the mean over the seeds)"
            )
    return {name: np.asarray(curves[name], dtype=np.float64) for name in POLICIES}


@pytest.mark.task(5)
def test_regret_curves_match_the_reference(learner):
    n, seeds, ctrs = 200, (3, 4, 5), (0.12, 0.3, 0.05, 0.2)
    call = f"regret_curves(ctrs={list(ctrs)}, {n}, seeds={list(seeds)})"
    curves = _check_curves_dict(
        call_learner(call, learner.regret_curves, ctrs, n, list(seeds)), n, call
    )
    want = _ref_curves(ctrs, n, seeds)
    variants = {
        "regret from the observed clicks (max(ctrs) * t - cumsum(rewards)): pseudo-regret uses "
        "the expected rate of the arm shown, ctrs[action]": "observed",
        "the curves summed over the seeds, not averaged": "sum",
        "default_rng(seed) for both the bandit and the policy: the README gives the bandit "
        "default_rng([seed, 0]) and the policy default_rng([seed, 1])": "same-seed",
        "one generator shared by the bandit and the policy": "shared",
        "the bandit's and the policy's seeds swapped ([seed, 1] for the bandit)": "swapped-streams",
        "the per-step regret, not the cumulative sum": "per-step",
        "the median over the seeds, not the mean": "median",
        "the module's CTRS instead of the ctrs argument": "constant-ctrs",
        "one bandit built before the loop over the seeds: every seed needs a fresh bandit "
        "with default_rng([seed, 0])": "bandit-once",
        "one bandit and one policy generator per seed, shared by the four policies: each "
        "(policy, seed) run starts from fresh generators": "per-seed",
        "one policy built before the loop over the seeds and reused: it carries what it "
        "learned from one seed's run into the next; build a fresh policy (make_policy with "
        "default_rng([seed, 1])) for every seed": "policy-once",
    }
    for name in POLICIES:
        assert_array(
            curves[name],
            want[name],
            name=f"{call}[{name!r}]",
            rtol=1e-9,
            mistakes={
                label: (lambda v=v, name=name: _ref_curves(ctrs, n, seeds, v)[name])
                for label, v in variants.items()
            },
        )


@once_per_run
def _long_curves(learner) -> dict[str, np.ndarray]:
    call = "regret_curves(CTRS, 1200, seeds=[0])"
    return _check_curves_dict(
        call_learner(call, learner.regret_curves, CTRS, LONG, [0]), LONG, call
    )


@pytest.mark.task(5)
def test_regret_curves_show_the_lesson(learner):
    curves, error = _long_curves(learner)
    if error is not None:
        raise error
    halves = {}
    for name, curve in curves.items():
        first, second = float(curve[LONG // 2 - 1]), float(curve[-1] - curve[LONG // 2 - 1])
        halves[name] = (first, second)
        if np.any(np.diff(curve) < -1e-12) or curve[0] < -1e-12:
            fail(f"the {name} regret curve goes down somewhere: pseudo-regret never decreases")
    for name in ("ucb1", "thompson", "decaying-epsilon"):
        first, second = halves[name]
        if not second < 0.75 * first:
            fail(
                f"{name} added {fmt(second)} regret over steps 601-1200 and {fmt(first)} over "
                f"steps 1-600: a policy that learns adds clearly less later (expected under "
                f"0.75 x the first half, {fmt(0.75 * first)})"
            )
    first, second = halves["epsilon-greedy"]
    if not second > 0.6 * first:
        fail(
            f"fixed epsilon-greedy added {fmt(second)} regret over steps 601-1200 and {fmt(first)} "
            "over steps 1-600: with a fixed epsilon = 0.1 it keeps exploring, so the regret should "
            "keep growing at about the same pace"
        )
    thompson, fixed = halves["thompson"][1], halves["epsilon-greedy"][1]
    if not thompson < 0.5 * fixed:
        fail(
            f"over steps 601-1200 Thompson sampling added {fmt(thompson)} regret and fixed "
            f"epsilon-greedy {fmt(fixed)}; Thompson should add less than half"
        )
