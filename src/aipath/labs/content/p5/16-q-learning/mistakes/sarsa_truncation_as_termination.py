# expect: truncation treated as termination
"""Mistake: sarsa stops without bootstrapping on truncation."""

from __future__ import annotations

from typing import Any

import numpy as np

# P[s][a] is a list of (probability, next_state, reward, terminated), as in env.unwrapped.P.
Model = dict[int, dict[int, list[tuple[float, int, float, bool]]]]


# ----- task 1: value iteration ------------------------------------------------------------------
def q_from_v(P: Model, V: np.ndarray, gamma: float) -> np.ndarray:
    n_states, n_actions = len(P), len(P[0])
    Q = np.zeros((n_states, n_actions))
    for s in range(n_states):
        for a in range(n_actions):
            for prob, s_next, reward, terminated in P[s][a]:
                future = 0.0 if terminated else gamma * V[s_next]
                Q[s, a] += prob * (reward + future)
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
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    best = np.flatnonzero(q_row == q_row.max())
    return int(rng.choice(best))


def decayed_epsilon(episode: int, start: float, end: float, decay_episodes: int) -> float:
    if episode >= decay_episodes:
        return float(end)
    return float(start + (end - start) * episode / decay_episodes)


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
        s, _info = env.reset(seed=seed) if episode == 0 else env.reset()
        while True:
            a = epsilon_greedy(Q[s], epsilon, rng)
            s_next, r, terminated, truncated, _info = env.step(a)
            q_learning_update(Q, s, a, r, s_next, terminated, alpha, gamma)
            returns[episode] += r
            s = s_next
            if terminated or truncated:
                break
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
            if terminated or truncated:
                sarsa_update(Q, s, a, r, s_next, 0, True, alpha, gamma)
                break
            a_next = epsilon_greedy(Q[s_next], epsilon, rng)
            sarsa_update(Q, s, a, r, s_next, a_next, False, alpha, gamma)
            if truncated:
                break
            s, a = s_next, a_next
    return Q, returns


# ----- task 5: the learned policy ---------------------------------------------------------------
def greedy_policy(Q: np.ndarray) -> np.ndarray:
    return np.argmax(Q, axis=1)
