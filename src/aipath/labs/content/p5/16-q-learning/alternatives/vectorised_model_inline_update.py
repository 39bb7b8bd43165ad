"""Alternative: a vectorised lookahead, a tie list, the Q-learning update written inline."""

from __future__ import annotations

from typing import Any

import numpy as np

# P[s][a] is a list of (probability, next_state, reward, terminated), as in env.unwrapped.P.
Model = dict[int, dict[int, list[tuple[float, int, float, bool]]]]


# ----- task 1: value iteration ------------------------------------------------------------------
def q_from_v(P: Model, V: np.ndarray, gamma: float) -> np.ndarray:
    """Vectorised over every (state, action, outcome) triple at once."""
    rows = [
        (s, a, prob, nxt, reward, done)
        for s in range(len(P))
        for a in range(len(P[s]))
        for prob, nxt, reward, done in P[s][a]
    ]
    s, a, prob, nxt, reward, done = (np.array(col) for col in zip(*rows, strict=True))
    values = prob * (reward + gamma * np.where(done.astype(bool), 0.0, V[nxt.astype(int)]))
    Q = np.zeros((len(P), len(P[0])))
    np.add.at(Q, (s.astype(int), a.astype(int)), values)
    return Q


def value_iteration(P: Model, gamma: float, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    V = np.zeros(len(P))
    while True:
        V_new = q_from_v(P, V, gamma).max(axis=1)
        change = np.max(np.abs(V_new - V))
        V = V_new
        if change < tol:
            break
    policy = q_from_v(P, V, gamma).argmax(axis=1)
    return V, policy


# ----- task 2: exploration ----------------------------------------------------------------------
def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    explore = rng.uniform() < epsilon
    if explore:
        return int(rng.choice(len(q_row)))
    top = q_row.max()
    ties = [i for i, q in enumerate(q_row) if q == top]
    return ties[int(rng.integers(len(ties)))]


def decayed_epsilon(episode: int, start: float, end: float, decay_episodes: int) -> float:
    fraction = min(1.0, episode / decay_episodes) if decay_episodes > 0 else 1.0
    return (1 - fraction) * start + fraction * end


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
    target = r if terminated else r + gamma * Q[s_next].max()
    Q[s, a] += alpha * (target - Q[s, a])


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
    target = r if terminated else r + gamma * Q[s_next, a_next]
    Q[s, a] += alpha * (target - Q[s, a])


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
    Q = np.zeros((env.observation_space.n, env.action_space.n))
    returns = np.zeros(n_episodes)
    for episode in range(n_episodes):
        epsilon = decayed_epsilon(episode, epsilon_start, epsilon_end, decay_episodes)
        s, _info = env.reset(seed=seed if episode == 0 else None)
        done = False
        rewards = []
        while not done:
            a = epsilon_greedy(Q[s], epsilon, rng)
            s_next, r, terminated, truncated, _info = env.step(a)
            target = r if terminated else r + gamma * np.max(Q[s_next])
            Q[s, a] = (1 - alpha) * Q[s, a] + alpha * target
            rewards.append(r)
            s, done = s_next, terminated or truncated
        returns[episode] = sum(rewards)
    return Q, returns


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
    Q = np.zeros((env.observation_space.n, env.action_space.n))
    returns = np.zeros(n_episodes)
    for episode in range(n_episodes):
        epsilon = decayed_epsilon(episode, epsilon_start, epsilon_end, decay_episodes)
        s, _info = env.reset(seed=seed) if episode == 0 else env.reset()
        a = epsilon_greedy(Q[s], epsilon, rng)
        while True:
            s_next, r, terminated, truncated, _info = env.step(a)
            returns[episode] += r
            if terminated:
                sarsa_update(Q, s, a, r, s_next, 0, True, alpha, gamma)
                break
            # a′ chosen after the update (also on-policy; Sutton & Barto choose it first)
            a_next = epsilon_greedy(Q[s_next], epsilon, rng)
            sarsa_update(Q, s, a, r, s_next, a_next, False, alpha, gamma)
            if truncated:
                break
            s, a = s_next, a_next
    return Q, returns


# ----- task 5: the learned policy ---------------------------------------------------------------
def greedy_policy(Q: np.ndarray) -> np.ndarray:
    return Q.argmax(axis=-1).astype(np.int64)
