# expect: one policy built before the loop over the seeds
"""Mistake: regret_curves builds the policy once and reuses it (learned state) across seeds."""

from __future__ import annotations

import numpy as np

CTRS = (0.04, 0.10, 0.16, 0.22, 0.30)
EPSILON = 0.1
DECAY = 25.0
POLICIES = ("epsilon-greedy", "decaying-epsilon", "ucb1", "thompson")


class BernoulliBandit:
    def __init__(self, ctrs, rng):
        c = np.array(ctrs, dtype=float)
        if c.ndim != 1 or c.size == 0:
            raise ValueError("ctrs must be a non-empty 1-D array")
        if np.any(c < 0) or np.any(c > 1) or np.any(np.isnan(c)):
            raise ValueError("rates must be in [0, 1]")
        self.ctrs = c
        self.n_arms = int(c.size)
        self.rng = rng

    def pull(self, arm):
        if not 0 <= arm < self.n_arms:
            raise ValueError(f"arm {arm} out of range")
        return int(self.rng.random() < self.ctrs[arm])


def pseudo_regret(ctrs, actions):
    c = np.asarray(ctrs, dtype=float)
    a = np.asarray(actions, dtype=int)
    return np.cumsum(c.max() - c[a]).astype(np.float64)


class EpsilonGreedy:
    def __init__(self, n_arms, rng, epsilon=0.1, decay=None):
        self.n_arms = n_arms
        self.rng = rng
        self.epsilon = epsilon
        self.decay = decay
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self.values = np.zeros(n_arms, dtype=np.float64)

    def exploration_rate(self, t):
        if self.decay is None:
            return self.epsilon
        return min(self.epsilon, self.decay / t)

    def select(self):
        t = self.counts.sum() + 1
        u = self.rng.random()
        if u < self.exploration_rate(t):
            return int(self.rng.integers(self.n_arms))
        return int(self.rng.choice(np.flatnonzero(self.values == self.values.max())))

    def update(self, arm, reward):
        self.counts[arm] += 1
        self.values[arm] += (reward - self.values[arm]) / self.counts[arm]


class UCB1:
    def __init__(self, n_arms):
        self.n_arms = n_arms
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self.values = np.zeros(n_arms, dtype=np.float64)

    def scores(self):
        s = np.full(self.n_arms, np.inf)
        pulled = self.counts > 0
        t = self.counts.sum()
        s[pulled] = self.values[pulled] + np.sqrt(2 * np.log(t) / self.counts[pulled])
        return s

    def select(self):
        return int(np.argmax(self.scores()))

    def update(self, arm, reward):
        self.counts[arm] += 1
        self.values[arm] += (reward - self.values[arm]) / self.counts[arm]


class ThompsonSampling:
    def __init__(self, n_arms, rng):
        self.n_arms = n_arms
        self.rng = rng
        self.alpha = np.ones(n_arms)
        self.beta = np.ones(n_arms)

    def select(self):
        return int(np.argmax(self.rng.beta(self.alpha, self.beta)))

    def update(self, arm, reward):
        self.alpha[arm] += reward
        self.beta[arm] += 1 - reward


def make_policy(name: str, n_arms: int, rng: np.random.Generator):
    if name == "epsilon-greedy":
        return EpsilonGreedy(n_arms, rng, epsilon=EPSILON)
    if name == "decaying-epsilon":
        return EpsilonGreedy(n_arms, rng, epsilon=1.0, decay=DECAY)
    if name == "ucb1":
        return UCB1(n_arms)
    if name == "thompson":
        return ThompsonSampling(n_arms, rng)
    raise ValueError(f"unknown policy {name!r}; expected one of {POLICIES}")


def run_policy(policy, bandit, n_steps):
    actions = np.zeros(n_steps, dtype=np.int64)
    rewards = np.zeros(n_steps, dtype=np.int64)
    for i in range(n_steps):
        arm = policy.select()
        reward = bandit.pull(arm)
        policy.update(arm, reward)
        actions[i] = arm
        rewards[i] = reward
    return actions, rewards


def regret_curves(ctrs, n_steps, seeds):
    out = {}
    for name in POLICIES:
        curves = []
        policy = make_policy(name, len(ctrs), np.random.default_rng([seeds[0], 1]))
        for seed in seeds:
            bandit = BernoulliBandit(ctrs, np.random.default_rng([seed, 0]))
            actions, _ = run_policy(policy, bandit, n_steps)
            curves.append(pseudo_regret(ctrs, actions))
        out[name] = np.mean(curves, axis=0)
    return out
