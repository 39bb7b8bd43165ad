"""Checks for p5-q-learning: value iteration against the check's own (vectorised) solution, the
ε-greedy distribution and its generator, the exact one-step Q-learning and SARSA updates, the
training loops replayed transition by transition, and what the trained agents learn on Taxi-v4
and CliffWalking-v1.

The loops are judged by replay: the check wraps the environment and the learner's
``epsilon_greedy`` to record every reset, choice and step, then recomputes the Q-table those very
transitions must give. Any order of random draws is therefore accepted, and a wrong loop is named
by the variant of the replay that it matches (truncation treated as termination, a max target in
SARSA, …).
"""

from __future__ import annotations

import copy
import functools
import math
import random
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from aipath.checks import (
    LEARNER_ERRORS,
    assert_array,
    assert_close,
    assert_returned,
    assert_tuple,
    by_reference,
    call_learner,
    fail,
    fmt,
    in_learner_process,
    matching_mistake,
    once_per_run,
)

VI_TOL = 1e-6  # the learner stops at tol=1e-10; in place or synchronous, V is this close


# ----- models -----------------------------------------------------------------------------------
def hand_model() -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    """Four states, two actions. Terminated transitions lead to states with non-zero onward
    value, one action is stochastic with three outcomes, and state 3 loops on itself."""
    return {
        0: {
            0: [(0.7, 1, 1.0, False), (0.2, 2, 0.0, False), (0.1, 3, 5.0, True)],
            1: [(1.0, 2, -1.0, False)],
        },
        1: {
            0: [(0.5, 0, 0.0, False), (0.5, 3, 2.0, True)],
            1: [(1.0, 1, 0.5, False)],
        },
        2: {
            0: [(1.0, 3, 1.0, False)],
            1: [(0.4, 1, 3.0, True), (0.6, 0, -2.0, False)],
        },
        3: {
            0: [(1.0, 3, 1.0, False)],
            1: [(0.9, 2, 0.0, False), (0.1, 0, 4.0, False)],
        },
    }


@functools.cache
def _env_model(name: str) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    return gym.make(name).unwrapped.P


def env_model(name: str) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    return copy.deepcopy(_env_model(name))


def dense(
    P: dict[int, dict[int, list[tuple[float, int, float, bool]]]],
    *,
    bootstrap_terminal: bool = False,
    first_only: bool = False,
    unweighted: bool = False,
    skip_terminal: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(R[s, a] expected reward, T[s, a, s'] probability of continuing to s'), with variants."""
    n_s, n_a = len(P), len(P[0])
    R = np.zeros((n_s, n_a))
    T = np.zeros((n_s, n_a, n_s))
    for s in range(n_s):
        for a in range(n_a):
            outcomes = P[s][a][:1] if first_only else P[s][a]
            for prob, s_next, reward, terminated in outcomes:
                if skip_terminal and terminated:
                    continue
                w = 1.0 if (first_only or unweighted) else prob
                R[s, a] += w * reward
                if bootstrap_terminal or not terminated:
                    T[s, a, int(s_next)] += w
    return R, T


def ref_q(P: Any, V: np.ndarray, gamma: float, **variant: bool) -> np.ndarray:
    R, T = dense(P, **variant)
    return R + gamma * T @ V


def ref_vi(P: Any, gamma: float, sweeps: int | None = None, **variant: bool) -> np.ndarray:
    R, T = dense(P, **variant)
    V = np.zeros(len(P))
    for k in range(100_000):
        V_new = (R + gamma * T @ V).max(axis=1)
        done = np.max(np.abs(V_new - V)) < 1e-13
        V = V_new
        if done or (sweeps is not None and k + 1 >= sweeps):
            break
    return V


# ----- task 1 -----------------------------------------------------------------------------------
def q_mistakes(P: Any, V: np.ndarray, gamma: float) -> dict[str, Any]:
    return {
        "bootstrapping past a terminated transition (add γ·V[next] only when not terminated)": (
            lambda: ref_q(P, V, gamma, bootstrap_terminal=True)
        ),
        "only the first outcome of each action (the model is stochastic: sum over every "
        "(prob, next, reward, terminated) weighted by prob)": lambda: ref_q(
            P, V, gamma, first_only=True
        ),
        "outcomes summed without their probabilities": lambda: ref_q(P, V, gamma, unweighted=True),
        "terminated outcomes skipped altogether (their reward still counts: only the "
        "γ·V[next] term is left out)": lambda: ref_q(P, V, gamma, skip_terminal=True),
        "γ missing from the bootstrap": lambda: ref_q(P, V, 1.0),
        "γ applied to the reward too": lambda: gamma * ref_q(P, V, 1.0),
    }


def as_float_array(value: Any, name: str) -> np.ndarray:
    assert_returned(value, name)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{name} should be an array of numbers; got {type(value).__name__}")
    return arr


def check_q_from_v(learner: Any, P: Any, V: np.ndarray, gamma: float, label: str) -> None:
    name = f"q_from_v(P of {label}, V, gamma={gamma})"
    V_given = V.copy()
    got = call_learner(name, learner.q_from_v, copy.deepcopy(P), V_given, gamma)
    arr = as_float_array(got, name)
    if not np.array_equal(V_given, V):
        fail(f"{name} changed the V it was given: compute Q into a new array")
    want = ref_q(P, V, gamma)
    if arr.shape != want.shape:
        fail(
            f"{name} has shape {arr.shape}; expected {want.shape}, one row per state and one "
            "column per action"
        )
    assert_array(arr, want, name=name, rtol=1e-10, atol=1e-10, mistakes=q_mistakes(P, V, gamma))


@pytest.mark.task(1)
def test_q_from_v(learner: Any) -> None:
    rng = np.random.default_rng(3)
    check_q_from_v(learner, hand_model(), rng.normal(size=4), 0.9, "a 4-state model")
    check_q_from_v(learner, env_model("FrozenLake-v1"), rng.random(16), 0.95, "FrozenLake-v1")
    check_q_from_v(learner, env_model("Taxi-v4"), rng.normal(size=500), 0.9, "Taxi-v4")


def check_value_iteration(learner: Any, P: Any, gamma: float, label: str) -> None:
    name = f"value_iteration(P of {label}, gamma={gamma})"
    result = call_learner(name, learner.value_iteration, copy.deepcopy(P), gamma)
    V, policy = assert_tuple(result, ("V", "policy"), name)
    V = as_float_array(V, f"V from {name}")
    want = ref_vi(P, gamma)
    if V.shape != want.shape:
        fail(f"V from {name} has shape {V.shape}; expected {want.shape}, one value per state")
    if np.all(np.isfinite(V)) and np.max(np.abs(V - want)) > VI_TOL:
        stopped_early(P, gamma, V, name)
    assert_array(
        V,
        want,
        name=f"V from {name}",
        rtol=0,
        atol=VI_TOL,
        mistakes={
            "bootstrapping past a terminated transition": lambda: ref_vi(
                P, gamma, bootstrap_terminal=True
            ),
            "a deterministic model (only the first outcome of each action)": lambda: ref_vi(
                P, gamma, first_only=True
            ),
            "terminated outcomes skipped altogether (their reward still counts: only the "
            "γ·V[next] term is left out)": lambda: ref_vi(P, gamma, skip_terminal=True),
            "a single sweep (did the loop stop before comparing two different V's?)": lambda: (
                ref_vi(P, gamma, sweeps=1)
            ),
        },
    )
    pol = np.asarray(policy)
    if pol.shape != want.shape:
        fail(f"policy from {name} has shape {pol.shape}; expected {want.shape}, one per state")
    if not np.issubdtype(pol.dtype, np.integer):
        fail(f"policy from {name} has dtype {pol.dtype}; expected integers (action indices)")
    Q = ref_q(P, want, gamma)
    n_a = Q.shape[1]
    if pol.min() < 0 or pol.max() >= n_a:
        fail(
            f"policy from {name} holds actions outside 0..{n_a - 1}: {fmt(pol.min())}..{pol.max()}"
        )
    chosen = Q[np.arange(len(pol)), pol]
    best = Q.max(axis=1)
    bad = np.flatnonzero(chosen < best - VI_TOL)
    if bad.size:
        s = int(bad[0])
        fail(
            f"policy from {name} is not greedy with respect to the optimal V: at state {s} it "
            f"picks action {int(pol[s])}, worth Q = {fmt(chosen[s])}, but action "
            f"{int(Q[s].argmax())} is worth {fmt(best[s])} ({bad.size} of {len(pol)} states "
            "differ). The greedy action maximises Σ prob·(reward + γ·V[next]) over actions, "
            "with the final V"
        )


def stopped_early(P: Any, gamma: float, V: np.ndarray, name: str) -> None:
    """Fail, naming the count, when V is exactly what k ≥ 2 sweeps from V = 0 give (synchronous,
    or in place for a small model) while k sweeps are still short of the fixed point."""
    R, T = dense(P)
    want = ref_vi(P, gamma)
    kinds = [("synchronous", np.zeros(len(P)))]
    if len(P) <= 100:
        kinds.append(("in-place", np.zeros(len(P))))
    for k in range(1, 20_001):
        live = []
        for kind, W in kinds:
            if kind == "synchronous":
                W[:] = (R + gamma * T @ W).max(axis=1)
            else:
                for st in range(len(P)):
                    W[st] = (R[st] + gamma * T[st] @ W).max()
            if k >= 2 and np.allclose(V, W, rtol=1e-10, atol=1e-10):
                fail(
                    f"V from {name} is exactly V after {k} {kind} sweeps from V = 0, still "
                    f"{fmt(np.max(np.abs(W - want)))} from the fixed point: the loop stopped on "
                    "a count of sweeps, not on the tolerance. Keep sweeping until the largest "
                    "change in a sweep is below tol"
                )
            if np.max(np.abs(W - want)) > VI_TOL:
                live.append((kind, W))
        if not live:
            return
        kinds = live


@pytest.mark.task(1)
def test_value_iteration(learner: Any) -> None:
    check_value_iteration(learner, hand_model(), 0.9, "a 4-state model")
    check_value_iteration(learner, env_model("FrozenLake-v1"), 0.99, "slippery FrozenLake-v1")
    check_value_iteration(learner, env_model("CliffWalking-v1"), 0.95, "CliffWalking-v1")
    check_value_iteration(learner, env_model("Taxi-v4"), 0.99, "Taxi-v4")


# ----- task 2 -----------------------------------------------------------------------------------
def ref_epsilon(episode: int, start: float, end: float, decay: int) -> float:
    if episode >= decay:
        return end
    return start + (end - start) * episode / decay


def as_action(value: Any, name: str, n_actions: int) -> int:
    assert_returned(value, name, what="an action index")
    if isinstance(value, np.integer):
        fail(
            f"{name} returned a NumPy {type(value).__name__} ({fmt(value)}); the README asks for "
            "a Python int: wrap the action in int(...) (rng.integers and rng.choice return NumPy "
            "integers)"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"{name} should be an int (an action index); got {type(value).__name__} {fmt(value)}")
    if not 0 <= int(value) < n_actions:
        fail(f"{name} is {int(value)}; expected an action index in 0..{n_actions - 1}")
    return int(value)


def draw_frequencies(
    learner: Any, q_row: np.ndarray, epsilon: float, n: int, seed: int
) -> np.ndarray:
    # In the trusted mode the generator stays where learner code runs, and so does its state
    # between the draws (no copy of it crossing twice per draw); the lookup is made once.
    rng = in_learner_process(np.random.default_rng(seed))
    name = f"epsilon_greedy({fmt(q_row.tolist())}, {epsilon}, rng)"
    counts = np.zeros(len(q_row))
    choose = learner.epsilon_greedy
    for _ in range(n):
        row = q_row.copy()
        a = as_action(call_learner(name, choose, row, epsilon, rng), name, len(row))
        if not np.array_equal(row, q_row):
            fail(f"{name} changed the Q row it was given")
        counts[a] += 1
    return counts / n


def eg_probs(q_row: np.ndarray, epsilon: float, variant: str = "") -> np.ndarray:
    n = len(q_row)
    best = q_row == q_row.max()
    if variant == "first":
        best = np.arange(n) == int(np.argmax(q_row))
    greedy = best / best.sum()
    if variant == "exclude":
        others = ~best
        explore = others / others.sum() if others.any() else greedy
        return (1 - epsilon) * greedy + epsilon * explore
    if variant == "swapped":
        epsilon = 1 - epsilon
    if variant == "last_out":
        explore = np.r_[np.ones(n - 1), 0.0] / (n - 1)
        return (1 - epsilon) * greedy + epsilon * explore
    return (1 - epsilon) * greedy + epsilon / n


@pytest.mark.task(2)
def test_epsilon_greedy_distribution(learner: Any) -> None:
    n = 3000
    cases = [
        (np.array([0.1, 0.5, 0.2, -0.3]), 0.3, "one best action, ε = 0.3"),
        (np.array([1.0, 1.0, 0.0, 1.0, -2.0]), 0.0, "three tied best actions, ε = 0"),
        (np.array([2.0, -1.0, 0.0]), 1.0, "ε = 1"),
        (np.array([0.0, 0.0, 0.0, 0.0]), 0.2, "a fresh all-zero row, ε = 0.2"),
    ]
    names = {
        "first": "ties broken by the first index (np.argmax): choose uniformly among all the "
        "tied best actions with rng",
        "exclude": "the random branch never picking the greedy action (explore over all actions)",
        "swapped": "ε and 1 − ε swapped (explore when rng.random() < ε)",
        "last_out": "a random action that is never the last one (rng.integers(n) already "
        "excludes n: rng.integers(n - 1) drops action n − 1)",
    }
    for seed, (q_row, epsilon, label) in enumerate(cases):
        freq = draw_frequencies(learner, q_row, epsilon, n, seed)
        want = eg_probs(q_row, epsilon)
        band = 5 * np.sqrt(want * (1 - want) / n) + 0.01
        if np.all(np.abs(freq - want) <= band):
            continue
        found = ""
        for key, text in names.items():
            alt = eg_probs(q_row, epsilon, key)
            alt_band = 5 * np.sqrt(alt * (1 - alt) / n) + 0.01
            if not np.allclose(alt, want) and np.all(np.abs(freq - alt) <= alt_band):
                found = f"epsilon_greedy looks like {text}. "
                break
        worst = int(np.argmax(np.abs(freq - want) - band))
        fail(
            f"{found}epsilon_greedy on {label} (Q row {fmt(q_row.tolist())}): over {n} draws "
            f"action {worst} came {freq[worst]:.3f} of the time; expected "
            f"{want[worst]:.3f} ± {band[worst]:.3f}. Frequencies {np.round(freq, 3).tolist()}, "
            f"expected {np.round(want, 3).tolist()}: with probability ε a uniformly random "
            "action (any of them), otherwise a best action, ties broken at random"
        )


@pytest.mark.task(2)
def test_epsilon_greedy_uses_rng(learner: Any) -> None:
    q_row = np.array([0.3, 0.3, -0.1, 0.2])

    def draws(seed: int, global_seed: int) -> tuple[list[int], Any]:
        np.random.seed(global_seed)
        random.seed(global_seed)
        rng = np.random.default_rng(seed)
        name = "epsilon_greedy(q_row, 0.5, rng)"
        out = [
            as_action(call_learner(name, learner.epsilon_greedy, q_row.copy(), 0.5, rng), name, 4)
            for _ in range(60)
        ]
        return out, rng.bit_generator.state

    first, state = draws(11, 1)
    again, _ = draws(11, 2)
    other, _ = draws(12, 1)
    if first != again:
        fail(
            "epsilon_greedy gave different actions for the same rng seed once the global "
            "np.random / random seeds changed: it draws from the global generator; draw every "
            "random number from the rng argument (rng.random(), rng.integers(), rng.choice())"
        )
    if state == np.random.default_rng(11).bit_generator.state or first == other:
        fail(
            "epsilon_greedy never drew from the rng it was given (two different seeds gave the "
            "same 60 actions): draw every random number from the rng argument"
        )


@pytest.mark.task(2)
def test_decayed_epsilon(learner: Any) -> None:
    cases = [
        (0, 1.0, 0.1, 100),
        (1, 1.0, 0.1, 100),
        (50, 1.0, 0.1, 100),
        (99, 1.0, 0.1, 100),
        (100, 1.0, 0.1, 100),
        (250, 1.0, 0.1, 100),
        (3, 0.5, 0.05, 10),
        (7, 0.3, 0.3, 20),
        (0, 0.8, 0.02, 0),
        (5, 0.8, 0.02, 0),
    ]
    for episode, start, end, decay in cases:
        name = f"decayed_epsilon({episode}, {start}, {end}, {decay})"
        got = call_learner(
            name,
            learner.decayed_epsilon,
            episode,
            start,
            end,
            decay,
            errors=(*LEARNER_ERRORS, ArithmeticError),
            hint="With decay_episodes = 0 there is nothing to decay: return end from the start."
            if decay == 0
            else "",
        )
        assert_returned(got, name, what="ε")
        if decay > 0:
            frac = episode / decay
            mistakes = {
                "a decay that never stops (clip at end once episode ≥ decay_episodes)": start
                + (end - start) * frac,
                "counting episodes from 1 (episode 0 should give start)": ref_epsilon(
                    episode + 1, start, end, decay
                ),
                "an exponential decay (the README asks for a straight line)": max(
                    end, start * (end / start) ** frac
                ),
                "a decay from start down to 0, not to end": max(0.0, start * (1 - frac)),
            }
        else:
            mistakes = {}
        assert_close(
            got,
            ref_epsilon(episode, start, end, decay),
            name=name,
            rtol=1e-12,
            atol=1e-12,
            mistakes=mistakes,
        )


# ----- task 3 -----------------------------------------------------------------------------------
UPDATE_CASES = [
    # s, a, r, s_next, a_next, terminated, alpha, gamma, what
    (0, 1, 1.5, 2, 0, False, 0.3, 0.9, "an ordinary step"),
    (2, 0, -1.0, 4, 1, True, 0.5, 0.9, "a step into a terminal state (Q[4] is not zero here)"),
    (3, 2, 0.5, 3, 2, False, 0.25, 0.8, "a step back into the same state, same next action"),
    (1, 0, 2.0, 3, 1, False, 1.0, 0.95, "α = 1"),
]


def update_table() -> np.ndarray:
    rng = np.random.default_rng(5)
    Q = np.round(rng.normal(size=(5, 3)), 3)
    Q[2, :] = [0.2, -0.4, 0.7]
    Q[3, :] = [0.1, 0.9, -0.6]  # for s_next = 3 the max (action 1) is not a_next
    Q[4, :] = [2.0, 3.0, -1.0]
    return Q


def applied(Q: np.ndarray, s: int, a: int, target: float, alpha: float) -> np.ndarray:
    out = Q.copy()
    out[s, a] = Q[s, a] + alpha * (target - Q[s, a])
    return out


def update_mistakes(
    Q: np.ndarray, case: tuple[Any, ...], sarsa: bool
) -> dict[str, np.ndarray | None]:
    s, a, r, s2, a2, term, alpha, gamma, _ = case
    mx, nxt, same = Q[s2].max(), Q[s2, a2], Q[s2, a]
    own = nxt if sarsa else mx
    cont = 0.0 if term else 1.0
    out: dict[str, np.ndarray | None] = {
        "bootstrapping from a terminal state (when terminated the target is just r)": applied(
            Q, s, a, r + gamma * own, alpha
        )
        if term
        else None,
        "γ missing from the target": applied(Q, s, a, r + cont * own, alpha),
        "Q[s, a] replaced by α·target (the update is Q + α·(target − Q))": None,
        "Q[s, a] += α·target, without subtracting Q[s, a]": None,
        "α applied to the reward only": None,
    }
    w = Q.copy()
    w[s, a] = alpha * (r + cont * gamma * own)
    out["Q[s, a] replaced by α·target (the update is Q + α·(target − Q))"] = w
    w = Q.copy()
    w[s, a] = Q[s, a] + alpha * (r + cont * gamma * own)
    out["Q[s, a] += α·target, without subtracting Q[s, a]"] = w
    w = Q.copy()
    w[s, a] = Q[s, a] + alpha * r + cont * gamma * own - Q[s, a]
    out["α applied to the reward only"] = w
    if sarsa:
        out["a Q-learning target in SARSA (max over Q[s_next] instead of Q[s_next, a_next])"] = (
            applied(Q, s, a, r + cont * gamma * mx, alpha)
        )
        out["the old action at the next state (Q[s_next, a] instead of Q[s_next, a_next])"] = (
            applied(Q, s, a, r + cont * gamma * same, alpha)
        )
        w = Q.copy()
        w[s, a2] = Q[s, a2] + alpha * (r + cont * gamma * nxt - Q[s, a2])
        out["updating Q[s, a_next] (the new action) instead of Q[s, a]"] = w
    else:
        out["the next state's value under the same action (Q[s_next, a]) instead of its max"] = (
            applied(Q, s, a, r + cont * gamma * same, alpha)
        )
        out["a min instead of a max over Q[s_next]"] = applied(
            Q, s, a, r + cont * gamma * Q[s2].min(), alpha
        )
    w = Q.copy()
    w[s2, a] = Q[s2, a] + alpha * (r + cont * gamma * own - Q[s2, a])
    out["updating Q[s_next, a] instead of Q[s, a]"] = w
    return out


def check_update(learner: Any, sarsa: bool) -> None:
    for case in UPDATE_CASES:
        s, a, r, s2, a2, term, alpha, gamma, what = case
        Q0 = update_table()
        Q = Q0.copy()
        if sarsa:
            name = f"sarsa_update(Q, {s}, {a}, {r}, {s2}, {a2}, {term}, {alpha}, {gamma})"
            got = call_learner(name, learner.sarsa_update, Q, s, a, r, s2, a2, term, alpha, gamma)
            target = r + (0.0 if term else gamma * Q0[s2, a2])
        else:
            name = f"q_learning_update(Q, {s}, {a}, {r}, {s2}, {term}, {alpha}, {gamma})"
            got = call_learner(name, learner.q_learning_update, Q, s, a, r, s2, term, alpha, gamma)
            target = r + (0.0 if term else gamma * Q0[s2].max())
        want = applied(Q0, s, a, target, alpha)
        if np.array_equal(Q, Q0):
            returned = isinstance(got, np.ndarray) and got.shape == Q0.shape
            fail(
                f"{name} ({what}) left Q unchanged"
                + (
                    ": it returned a new table instead. Update Q[s, a] in place (Q[s, a] += …), "
                    "the training loop keeps using the same array"
                    if returned
                    else "; expected Q[s, a] to move towards the target"
                )
            )
        assert_array(
            Q,
            want,
            name=f"Q after {name} ({what})",
            rtol=1e-12,
            atol=1e-12,
            mistakes=update_mistakes(Q0, case, sarsa),
        )


@pytest.mark.task(3)
def test_q_learning_update(learner: Any) -> None:
    check_update(learner, sarsa=False)


@pytest.mark.task(3)
def test_sarsa_update(learner: Any) -> None:
    check_update(learner, sarsa=True)


# ----- task 4: recorded runs and their replay ---------------------------------------------------
@by_reference
class Recording(gym.Wrapper):
    """Logs every reset (its state and seed) and step of the learner's run."""

    def __init__(self, env: gym.Env, log: list[tuple[Any, ...]]) -> None:
        super().__init__(env)
        self.log = log

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        self.log.append(("reset", int(obs), seed))
        return obs, info

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.log.append(
            ("step", int(action), float(reward), int(obs), bool(terminated), bool(truncated))
        )
        return obs, reward, terminated, truncated, info


def recorded_run(
    learner: Any,
    method: str,
    env_id: str,
    n_episodes: int,
    hyper: dict[str, Any],
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[tuple[Any, ...]]]:
    """The learner's (Q, returns) and the log of resets, choices and steps it made."""
    log: list[tuple[Any, ...]] = []
    env = Recording(gym.make(env_id, disable_env_checker=True, **(env_kwargs or {})), log)
    original = learner.epsilon_greedy

    def watched(q_row: Any, epsilon: Any, rng: Any) -> Any:
        row = np.array(q_row, dtype=float, copy=True)
        action = original(q_row, epsilon, rng)
        log.append(("choose", row, float(epsilon), action))
        return action

    learner.epsilon_greedy = watched
    args = ", ".join(f"{k}={v}" for k, v in hyper.items())
    name = f"{method}({env_id} env, {n_episodes}, {args}, rng, seed={seed})"
    try:
        result = call_learner(
            name,
            getattr(learner, method),
            env,
            n_episodes,
            rng=np.random.default_rng(seed),
            seed=seed,
            **hyper,
        )
    finally:
        learner.epsilon_greedy = original
    Q, returns = assert_tuple(result, ("Q", "returns"), name)
    n_s, n_a = env.observation_space.n, env.action_space.n
    Q = as_float_array(Q, f"Q from {name}")
    if Q.shape != (n_s, n_a):
        fail(f"Q from {name} has shape {Q.shape}; expected {(n_s, n_a)} (states × actions)")
    kind = np.asarray(returns).dtype
    if kind.kind in "biu":
        fail(
            f"returns from {name} has dtype {kind}; expected float64: start the sums and the "
            "array as floats (np.zeros(n_episodes) is float64)"
        )
    returns = as_float_array(returns, f"returns from {name}")
    if returns.shape != (n_episodes,):
        fail(f"returns from {name} has shape {returns.shape}; expected ({n_episodes},)")
    return Q, returns, log


def episodes_of(log: list[tuple[Any, ...]], name: str) -> list[list[tuple[Any, ...]]]:
    if not log or log[0][0] != "reset":
        first = log[0][0] if log else "nothing"
        fail(f"{name} did {first} before resetting the env: each episode starts with env.reset()")
    out: list[list[tuple[Any, ...]]] = []
    for event in log:
        if event[0] == "reset":
            out.append([event])
        else:
            out[-1].append(event)
    return out


def transitions(
    episodes: list[list[tuple[Any, ...]]], name: str, hyper: dict[str, Any], sarsa: bool
) -> list[dict[str, Any]]:
    """Check the order of events in each episode and return the steps with their context."""
    steps: list[dict[str, Any]] = []
    for k, events in enumerate(episodes):
        want_eps = ref_epsilon(
            k, hyper["epsilon_start"], hyper["epsilon_end"], hyper["decay_episodes"]
        )
        used = [e[2] for e in events if e[0] == "choose"]
        if used and not np.allclose(used, used[0], rtol=1e-12, atol=1e-12):
            other = next(e for e in used if not math.isclose(e, used[0]))
            fail(
                f"{name} changed ε within episode {k} (from {fmt(used[0])} to {fmt(other)}): "
                f"compute it once per episode, decayed_epsilon({k}, ...) = {fmt(want_eps)}, "
                "and keep it for all the episode's steps"
            )
        state = events[0][1]
        pending: tuple[Any, ...] | None = None
        ended = False
        for event in events[1:]:
            if event[0] == "choose":
                if pending is not None:
                    fail(
                        f"{name} called epsilon_greedy twice before one env.step in episode {k}: "
                        "choose each action once"
                        + (", and take the a′ you bootstrapped from" if sarsa else "")
                    )
                pending = event
                eps = event[2]
                if not math.isclose(eps, want_eps, rel_tol=1e-9, abs_tol=1e-12):
                    start = hyper["epsilon_start"]
                    clue = ""
                    if math.isclose(eps, start) and not math.isclose(want_eps, start):
                        clue = " ε never decayed: compute it with decayed_epsilon for each episode."
                    elif math.isclose(
                        eps,
                        ref_epsilon(
                            k + 1,
                            start,
                            hyper["epsilon_end"],
                            hyper["decay_episodes"],
                        ),
                    ):
                        clue = " It looks like episodes counted from 1: the first episode is 0."
                    fail(
                        f"{name} chose an action in episode {k} with ε = {fmt(eps)}; expected "
                        f"decayed_epsilon({k}, ...) = {fmt(want_eps)}, the same for every step "
                        f"of the episode.{clue}"
                    )
                continue
            # a step
            if ended:
                fail(
                    f"{name} kept stepping after episode {k} had ended (terminated or truncated): "
                    "stop the episode as soon as either flag is True and reset"
                )
            if pending is None:
                fail(
                    f"{name} took a step in episode {k} without choosing its action with "
                    "epsilon_greedy: choose every action with your epsilon_greedy (the checks "
                    "watch it)"
                )
            chosen = int(pending[3])
            _, action, reward, s_next, term, trunc = event
            if action != chosen:
                fail(
                    f"{name} stepped with action {action} in episode {k}, but epsilon_greedy had "
                    f"returned {chosen}"
                    + (": the action you take must be the a′ you chose" if sarsa else "")
                )
            steps.append(
                {
                    "episode": k,
                    "s": state,
                    "a": action,
                    "r": reward,
                    "s2": s_next,
                    "term": term,
                    "trunc": trunc,
                    "row": pending[1],
                    "a2": None,
                    "row2": None,
                }
            )
            pending = None
            state = s_next
            ended = term or trunc
        if pending is not None and steps and steps[-1]["episode"] == k:
            steps[-1]["a2"] = int(pending[3])
            steps[-1]["row2"] = pending[1]
        if not ended:
            fail(
                f"{name}: episode {k} ended before the env said terminated or truncated "
                f"({sum(1 for e in events if e[0] == 'step')} steps): run each episode until "
                "either flag is True"
            )
    for i, step in enumerate(steps[:-1]):  # the a′ of a step inside an episode: the next action
        nxt = steps[i + 1]
        if nxt["episode"] == step["episode"]:
            step["a2"] = nxt["a"]
    return steps


def replay(
    steps: list[dict[str, Any]],
    shape: tuple[int, int],
    alpha: float,
    gamma: float,
    *,
    target: str,
    trunc_is_term: bool = False,
    update_next_action: bool = False,
    update_next_state: bool = False,
) -> np.ndarray | None:
    Q = np.zeros(shape)
    for st in steps:
        s, a, r, s2, a2 = st["s"], st["a"], st["r"], st["s2"], st["a2"]
        stop = st["term"] or (trunc_is_term and st["trunc"])
        if stop:
            tgt = r
        elif target == "max":
            tgt = r + gamma * Q[s2].max()
        else:
            if a2 is None:
                return None
            tgt = r + gamma * Q[s2, a2]
        col = a2 if (update_next_action and a2 is not None) else a
        row = s2 if update_next_state else s
        Q[row, col] += alpha * (tgt - Q[row, col])
    return Q


def check_replay(
    learner: Any,
    method: str,
    env_id: str,
    n_episodes: int,
    hyper: dict[str, Any],
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
) -> None:
    sarsa = method == "sarsa"
    Q, returns, log = recorded_run(learner, method, env_id, n_episodes, hyper, seed, env_kwargs)
    name = f"{method}(...) on {env_id}" + (
        f" with max_episode_steps={env_kwargs['max_episode_steps']}" if env_kwargs else ""
    )
    episodes = episodes_of(log, name)
    if len(episodes) != n_episodes:
        fail(f"{name} ran {len(episodes)} episodes (env.reset() calls); expected {n_episodes}")
    seeds = [e[0][2] for e in episodes]
    if seeds[0] != seed:
        fail(
            f"{name} reset the env with seed={seeds[0]!r} on the first episode; expected "
            f"seed={seed}: env.reset(seed=seed) once makes the run repeatable"
        )
    reseeded = [k for k, sd in enumerate(seeds[1:], start=1) if sd is not None]
    if reseeded:
        fail(
            f"{name} passed a seed to env.reset() again in episode {reseeded[0]} "
            f"({len(reseeded)} episodes after the first): only the first reset takes the seed, "
            "later ones continue the env's own random stream (a reseeded env replays the same "
            "start states and slips every episode)"
        )
    steps = transitions(episodes, name, hyper, sarsa)
    sums = np.zeros(n_episodes)
    lengths = np.zeros(n_episodes)
    discounted = np.zeros(n_episodes)
    backwards = np.zeros(n_episodes)
    for st in steps:
        k = st["episode"]
        discounted[k] += hyper["gamma"] ** lengths[k] * st["r"]
        backwards[k] = hyper["gamma"] * backwards[k] + st["r"]
        sums[k] += st["r"]
        lengths[k] += 1
    assert_array(
        returns,
        sums,
        name=f"returns from {name}",
        rtol=1e-9,
        atol=1e-9,
        mistakes={
            "the number of steps per episode": lengths,
            "minus the number of steps per episode": -lengths,
            "a discounted return (returns is the plain sum of the episode's rewards)": discounted,
            "a discounted sum that discounts the early rewards (returns is the plain sum of "
            "the episode's rewards)": backwards,
        },
    )
    shape = Q.shape
    alpha, gamma = hyper["alpha"], hyper["gamma"]
    own = "sarsa" if sarsa else "max"
    want = replay(steps, shape, alpha, gamma, target=own)
    variants = {
        "truncation treated as termination (a truncated step still bootstraps: pass "
        "`terminated`, not `terminated or truncated`)": lambda: replay(
            steps, shape, alpha, gamma, target=own, trunc_is_term=True
        ),
    }
    if sarsa:
        variants["a max over Q[s′] (the Q-learning target) in sarsa"] = lambda: replay(
            steps, shape, alpha, gamma, target="max"
        )
        variants[
            "updating Q[s, a′]: the new action replaced a before the update (keep a until "
            "Q[s, a] is updated, then move on: s, a = s′, a′)"
        ] = lambda: replay(steps, shape, alpha, gamma, target="sarsa", update_next_action=True)
    else:
        variants[
            "the value of the next action taken (a SARSA target) in q_learning: Q-learning "
            "bootstraps from max over Q[s′]"
        ] = lambda: replay(steps, shape, alpha, gamma, target="sarsa")
    variants[
        "updating Q[s′, a] instead of Q[s, a]: s moved on to s′ before the update (update "
        "first, then s = s′)"
    ] = lambda: replay(steps, shape, alpha, gamma, target=own, update_next_state=True)
    where = f"{len(steps)} steps in {n_episodes} episodes"
    if steps and np.any(np.asarray(steps[0]["row"]) != 0):
        fail(
            f"{name} did not start from a zero Q-table: its first action was chosen from the "
            f"row {np.round(np.asarray(steps[0]['row']), 6).tolist()}. The README asks for Q = zeros of "
            "shape (n_states, n_actions)"
        )
    if want is None:
        label = matching_mistake(Q, variants, rtol=1e-8, atol=1e-9)
        prefix = f"Q from {name} looks like {label}. " if label else ""
        fail(
            f"{prefix}{name} ended a truncated episode without choosing a′ with epsilon_greedy: "
            "on truncation SARSA still bootstraps from Q[s′, a′], with a′ chosen at s′"
        )
    assert_array(
        Q,
        want,
        name=f"Q from {name} (compared with replaying its own {where} with the "
        f"{'SARSA' if sarsa else 'Q-learning'} update from a zero table)",
        rtol=1e-8,
        atol=1e-9,
        mistakes=variants,
    )
    # every choice saw the current row of Q (after the latest update, or just before it)
    current = np.zeros(shape)
    previous = current.copy()
    for i, st in enumerate(steps):
        s = st["s"]
        if not (
            np.allclose(st["row"], current[s], rtol=1e-8, atol=1e-9)
            or np.allclose(st["row"], previous[s], rtol=1e-8, atol=1e-9)
        ):
            fail(
                f"{name} chose the action of step {i} (episode {st['episode']}, state {s}) "
                f"from the row {fmt(st['row'].tolist())}, but Q[{s}] was "
                f"{fmt(current[s].tolist())}: pass Q[s] of the current state to epsilon_greedy"
            )
        previous = current.copy()
        tgt = st["r"]
        if not st["term"]:
            nxt = current[st["s2"]].max() if not sarsa else current[st["s2"], st["a2"]]
            tgt += gamma * nxt
        current[s, st["a"]] += alpha * (tgt - current[s, st["a"]])


CLIFF_SHORT = {"max_episode_steps": 15}
REPLAY_CLIFF = {
    "alpha": 0.5,
    "gamma": 0.9,
    "epsilon_start": 1.0,
    "epsilon_end": 0.1,
    "decay_episodes": 30,
}
REPLAY_LAKE = {
    "alpha": 0.2,
    "gamma": 0.95,
    "epsilon_start": 1.0,
    "epsilon_end": 0.2,
    "decay_episodes": 100,
}


@pytest.mark.task(4)
def test_q_learning_loop(learner: Any) -> None:
    check_replay(learner, "q_learning", "CliffWalking-v1", 40, REPLAY_CLIFF, 3, CLIFF_SHORT)
    check_replay(learner, "q_learning", "FrozenLake-v1", 150, REPLAY_LAKE, 4)


@pytest.mark.task(4)
def test_sarsa_loop(learner: Any) -> None:
    check_replay(learner, "sarsa", "CliffWalking-v1", 40, REPLAY_CLIFF, 5, CLIFF_SHORT)
    check_replay(learner, "sarsa", "FrozenLake-v1", 150, REPLAY_LAKE, 6)


@pytest.mark.task(4)
def test_runs_are_repeatable(learner: Any) -> None:
    for method in ("q_learning", "sarsa"):
        runs = []
        for global_seed in (1, 2):
            np.random.seed(global_seed)
            random.seed(global_seed)
            env = gym.make("FrozenLake-v1", disable_env_checker=True)
            name = f"{method}(slippery FrozenLake-v1 env, 40, ..., rng=default_rng(9), seed=9)"
            result = call_learner(
                name,
                getattr(learner, method),
                env,
                40,
                rng=np.random.default_rng(9),
                seed=9,
                alpha=0.5,
                gamma=0.99,
                epsilon_start=1.0,
                epsilon_end=0.1,
                decay_episodes=20,
            )
            Q, returns = assert_tuple(result, ("Q", "returns"), name)
            runs.append((np.asarray(Q, dtype=float), np.asarray(returns, dtype=float)))
        (q1, r1), (q2, r2) = runs
        if not (np.array_equal(q1, q2) and np.array_equal(r1, r2)):
            fail(
                f"two runs of {name} with a fresh env and the same rng and seed gave different "
                "results: draw every random number from rng (not np.random or random) and "
                "reset the env with seed=seed on the first episode"
            )


# ----- task 5: what the agents learn ------------------------------------------------------------
def as_policy(learner: Any, Q: np.ndarray, name: str) -> np.ndarray:
    got = call_learner(f"greedy_policy({name})", learner.greedy_policy, Q.copy())
    assert_returned(got, f"greedy_policy({name})", what="the policy")
    pol = np.asarray(got)
    if pol.shape != (Q.shape[0],):
        clue = (
            " (an argmax over axis 0 gives one entry per action)"
            if pol.shape == (Q.shape[1],)
            else ""
        )
        fail(
            f"greedy_policy({name}) has shape {pol.shape}; expected ({Q.shape[0]},), one action "
            f"per state{clue}"
        )
    if not np.issubdtype(pol.dtype, np.integer):
        fail(f"greedy_policy({name}) has dtype {pol.dtype}; expected integers")
    return pol


@pytest.mark.task(5)
def test_greedy_policy(learner: Any) -> None:
    Q = np.array([[0.0, 2.0, 1.0], [-1.0, -3.0, -0.5], [4.0, 4.0, 0.0], [0.1, 0.0, 0.2]])
    pol = as_policy(learner, Q, "Q")
    ok = Q[np.arange(4), pol] == Q.max(axis=1)
    if not ok.all():
        s = int(np.flatnonzero(~ok)[0])
        clue = " (that is the argmin)" if pol[s] == Q[s].argmin() else ""
        fail(
            f"greedy_policy(Q)[{s}] is {int(pol[s])}{clue}, worth {fmt(Q[s, pol[s]])}; the best "
            f"action in row {fmt(Q[s].tolist())} is {int(Q[s].argmax())}"
        )


TAXI = {
    "alpha": 0.5,
    "gamma": 0.99,
    "epsilon_start": 1.0,
    "epsilon_end": 0.05,
    "decay_episodes": 300,
}
TAXI_EPISODES = 2000
TAXI_TARGET = 0.85
CLIFF = {
    "alpha": 0.5,
    "gamma": 1.0,
    "epsilon_start": 0.1,
    "epsilon_end": 0.1,
    "decay_episodes": 1,
}
CLIFF_EPISODES = 500


def greedy_route(P: Any, policy: np.ndarray, start: int, gamma: float, limit: int = 200) -> Any:
    """(discounted return, undiscounted return, states visited, reached a terminal state)."""
    s, G, total, seen = start, 0.0, 0.0, [start]
    for k in range(limit):
        (_prob, s_next, reward, term), *_ = P[s][int(policy[s])]
        G += gamma**k * reward
        total += reward
        s = int(s_next)
        seen.append(s)
        if term:
            return G, total, seen, True
    return G, total, seen, False


@once_per_run
def trained(learner: Any, method: str, env_id: str) -> tuple[np.ndarray, np.ndarray]:
    hyper, n, seed = (TAXI, TAXI_EPISODES, 0) if env_id == "Taxi-v4" else (CLIFF, CLIFF_EPISODES, 1)
    env = gym.make(env_id, disable_env_checker=True)
    name = f"{method}({env_id} env, {n}, ...)"
    result = call_learner(
        name, getattr(learner, method), env, n, rng=np.random.default_rng(seed), seed=seed, **hyper
    )
    Q, returns = assert_tuple(result, ("Q", "returns"), name)
    return as_float_array(Q, f"Q from {name}"), as_float_array(returns, f"returns from {name}")


def trained_or_fail(learner: Any, method: str, env_id: str) -> tuple[np.ndarray, np.ndarray]:
    value, error = trained(learner, method, env_id)
    if error is not None:
        raise error
    assert value is not None
    return value


@pytest.mark.task(5)
def test_taxi_q_learning_reaches_optimum(learner: Any) -> None:
    Q, _ = trained_or_fail(learner, "q_learning", "Taxi-v4")
    P = env_model("Taxi-v4")
    gamma = TAXI["gamma"]
    V = ref_vi(P, gamma)
    decode = gym.make("Taxi-v4").unwrapped.decode
    starts = [s for s in range(500) if (lambda r, c, p, d: p < 4 and p != d)(*decode(s))]
    pol = as_policy(learner, Q, "Q from q_learning on Taxi-v4")
    optimal = sum(
        1
        for s in starts
        if (lambda route: route[3] and abs(route[0] - V[s]) < 1e-6)(greedy_route(P, pol, s, gamma))
    )
    frac = optimal / len(starts)
    if frac < TAXI_TARGET:
        fail(
            f"q_learning on Taxi-v4 did not reach an optimal greedy policy from "
            f"{TAXI_TARGET:.0%} of the {len(starts)} start states within {TAXI_EPISODES} "
            f"episodes: its greedy policy delivers the passenger in the fewest steps from "
            f"{optimal} ({frac:.0%}); value iteration's policy does from all of them (the "
            "reference reaches about 96 %)"
        )


@pytest.mark.task(5)
def test_cliff_walking_q_learning_vs_sarsa(learner: Any) -> None:
    P = env_model("CliffWalking-v1")
    V = ref_vi(P, 1.0)
    start = 36
    q_Q, q_returns = trained_or_fail(learner, "q_learning", "CliffWalking-v1")
    s_Q, s_returns = trained_or_fail(learner, "sarsa", "CliffWalking-v1")
    q_route = greedy_route(P, as_policy(learner, q_Q, "Q from q_learning"), start, 1.0)
    s_route = greedy_route(P, as_policy(learner, s_Q, "Q from sarsa"), start, 1.0)
    if not (q_route[3] and q_route[1] == V[start]):
        fail(
            f"q_learning on CliffWalking-v1 (α = 0.5, ε = 0.1, {CLIFF_EPISODES} episodes) did "
            f"not reach the optimal path: its greedy route from the start has return "
            f"{fmt(q_route[1])}"
            + ("" if q_route[3] else " and never reaches the goal")
            + f"; the cliff-edge path has {fmt(V[start])} (13 steps)"
        )
    if not s_route[3]:
        fail("sarsa's greedy route on CliffWalking-v1 never reaches the goal within 200 steps")
    if s_route[1] >= V[start]:
        fail(
            f"sarsa's greedy route on CliffWalking-v1 has return {fmt(s_route[1])}, the "
            "cliff-edge path: under ε = 0.1 SARSA learns the value of the exploring policy and "
            "should prefer a safer, longer path (about −17). Does sarsa bootstrap from the "
            "action it takes next?"
        )
    q_online = float(np.mean(q_returns[100:]))
    s_online = float(np.mean(s_returns[100:]))
    margin = 10.0
    if not s_online > q_online + margin:
        fail(
            f"the online return under ε = 0.1 (mean over episodes 100–{CLIFF_EPISODES - 1}) is "
            f"{s_online:.1f} for sarsa and {q_online:.1f} for q_learning; expected sarsa ahead "
            f"by more than {margin:g} (the reference: about −27 against −50), because "
            "Q-learning's cliff-edge path costs it a fall whenever it explores"
        )
