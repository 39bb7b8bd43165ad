"""Alternative: np.divide(out=inf, where=counts > 0) for UCB1, one (2, T) log in run_policy, curves summed then divided."""

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
        if arm < 0 or arm >= len(self.ctrs):
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
        t = float(self.counts.sum())
        ratio = np.divide(
            2.0 * np.log(max(t, 1.0)),
            self.counts,
            out=np.full(self.n_arms, np.inf),
            where=self.counts > 0,
        )
        return self.values + np.sqrt(ratio)

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
    log = np.empty((2, n_steps), dtype=np.int64)
    for i in range(n_steps):
        log[0, i] = arm = policy.select()
        log[1, i] = reward = bandit.pull(arm)
        policy.update(arm, reward)
    return log[0].copy(), log[1].copy()


def regret_curves(ctrs, n_steps, seeds):
    seeds = list(seeds)
    out = {name: np.zeros(n_steps, dtype=np.float64) for name in POLICIES}
    for seed in seeds:
        for name in POLICIES:
            bandit = BernoulliBandit(ctrs, np.random.default_rng([seed, 0]))
            policy = make_policy(name, len(bandit.ctrs), np.random.default_rng([seed, 1]))
            actions, _ = run_policy(policy, bandit, n_steps)
            out[name] += pseudo_regret(ctrs, actions)
    return {name: curve / len(seeds) for name, curve in out.items()}
