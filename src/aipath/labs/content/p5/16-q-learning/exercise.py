"""p5-q-learning: value iteration, ε-greedy exploration, Q-learning and SARSA.

Edit this file, then run `aipath check p5-q-learning`. The README states each contract.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# P[s][a] is a list of (probability, next_state, reward, terminated), as in env.unwrapped.P.
Model = dict[int, dict[int, list[tuple[float, int, float, bool]]]]


# ----- task 1: value iteration ------------------------------------------------------------------
def q_from_v(P: Model, V: np.ndarray, gamma: float) -> np.ndarray:
    """One-step lookahead: Q[s, a] = Σ prob · (reward + γ·V[next]), no γ·V[next] if terminated.

    Returns a new float64 array of shape (len(P), len(P[0])); V is not changed.

    >>> P = {0: {0: [(1.0, 1, 1.0, False)], 1: [(1.0, 1, 5.0, True)]},
    ...      1: {0: [(1.0, 1, 0.0, False)], 1: [(1.0, 1, 0.0, False)]}}
    >>> q_from_v(P, np.array([0.0, 10.0]), 0.9)
    array([[10.,  5.],
           [ 9.,  9.]])
    """
    raise NotImplementedError  # TODO


def value_iteration(P: Model, gamma: float, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """(V, policy): the optimal values (float64, one per state) and a greedy policy (ints).

    Start from V = 0 and repeat Bellman optimality sweeps until the largest change in V during a
    sweep is below tol; the policy takes, in each state, an action with the largest Q.

    >>> V, policy = value_iteration(P, 0.9)   # the model above
    >>> V.round(6), policy
    (array([5., 0.]), array([1, 0]))
    """
    raise NotImplementedError  # TODO


# ----- task 2: exploration ----------------------------------------------------------------------
def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """With probability epsilon a uniformly random action (any of them), otherwise a best
    action, ties broken uniformly at random. Every random number comes from rng.

    >>> epsilon_greedy(np.array([0.0, 2.0, 1.0]), 0.0, np.random.default_rng(0))
    1
    """
    raise NotImplementedError  # TODO


def decayed_epsilon(episode: int, start: float, end: float, decay_episodes: int) -> float:
    """ε for an episode (0-based): a straight line from start (episode 0) down to end (episode
    decay_episodes), then end for ever; end from the start when decay_episodes is 0.

    >>> decayed_epsilon(0, 1.0, 0.1, 100), decayed_epsilon(50, 1.0, 0.1, 100)
    (1.0, 0.55)
    >>> decayed_epsilon(400, 1.0, 0.1, 100)
    0.1
    """
    raise NotImplementedError  # TODO


# ----- task 3: one-step updates -----------------------------------------------------------------
def q_learning_update(
    Q: np.ndarray,
    s: int,
    a: int,
    r: float,
    s_next: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> None:
    """Move Q[s, a] in place towards r + γ·max Q[s_next] (towards r alone if terminated).

    >>> Q = np.zeros((2, 2)); Q[1] = [1.0, 3.0]
    >>> q_learning_update(Q, 0, 1, 1.0, 1, False, 0.5, 0.9); Q[0, 1]
    1.85
    """
    raise NotImplementedError  # TODO


def sarsa_update(
    Q: np.ndarray,
    s: int,
    a: int,
    r: float,
    s_next: int,
    a_next: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> None:
    """Move Q[s, a] in place towards r + γ·Q[s_next, a_next] (towards r alone if terminated).

    >>> Q = np.zeros((2, 2)); Q[1] = [1.0, 3.0]
    >>> sarsa_update(Q, 0, 1, 1.0, 1, 0, False, 0.5, 0.9); Q[0, 1]
    0.95
    """
    raise NotImplementedError  # TODO


# ----- task 4: training loops -------------------------------------------------------------------
def q_learning(
    env: Any,
    n_episodes: int,
    *,
    alpha: float,
    gamma: float,
    epsilon_start: float,
    epsilon_end: float,
    decay_episodes: int,
    rng: np.random.Generator,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Train a zero-initialised Q-table for n_episodes; return (Q, returns).

    Q: float64 (n_states, n_actions). returns: float64 (n_episodes,), the sum of the rewards of
    each episode. ε per episode from decayed_epsilon; every action from epsilon_greedy(Q[s], ε,
    rng); env.reset(seed=seed) on the first episode only.
    """
    raise NotImplementedError  # TODO


def sarsa(
    env: Any,
    n_episodes: int,
    *,
    alpha: float,
    gamma: float,
    epsilon_start: float,
    epsilon_end: float,
    decay_episodes: int,
    rng: np.random.Generator,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Like q_learning, with the SARSA update: bootstrap from the action a′ you take next."""
    raise NotImplementedError  # TODO


# ----- task 5: the learned policy ---------------------------------------------------------------
def greedy_policy(Q: np.ndarray) -> np.ndarray:
    """The action with the largest Q in each state, (n_states,) integers.

    >>> greedy_policy(np.array([[0.0, 1.0], [3.0, -1.0]]))
    array([1, 0])
    """
    raise NotImplementedError  # TODO
