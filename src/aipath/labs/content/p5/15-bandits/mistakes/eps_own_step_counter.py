# expect: count its own select() calls
"""Mistake: epsilon-greedy counts steps with its own counter of select() calls instead of t = counts.sum() + 1 (wrong when update() runs without select)."""

from __future__ import annotations

import math

import numpy as np

CTRS = (0.04, 0.10, 0.16, 0.22, 0.30)
EPSILON = 0.1
DECAY = 25.0
POLICIES = ("epsilon-greedy", "decaying-epsilon", "ucb1", "thompson")


class BernoulliBandit:
    def __init__(self, ctrs, rng):
        arr = np.array(ctrs, dtype=float)
        if arr.ndim != 1:
            raise ValueError("ctrs must be 1-D")
        if len(arr) == 0:
            raise ValueError("no arms")
        for p in arr:
            if not (0.0 <= p <= 1.0):
                raise ValueError(f"rate {p} outside [0, 1]")
        self.ctrs = arr
        self.n_arms = len(arr)
        self.rng = rng

    def pull(self, arm):
        if arm not in range(self.n_arms):
            raise ValueError("bad arm")
        draw = self.rng.random()
        return 1 if draw < self.ctrs[arm] else 0


def pseudo_regret(ctrs, actions):
    ctrs = list(ctrs)
    best = max(ctrs)
    out = np.empty(len(actions), dtype=np.float64)
    total = 0.0
    for i, a in enumerate(actions):
        total += best - ctrs[int(a)]
        out[i] = total
    return out


class EpsilonGreedy:
    def __init__(self, n_arms, rng, epsilon=0.1, decay=None):
        self.n_arms = n_arms
        self.rng = rng
        self.epsilon = epsilon
        self.decay = decay
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self.values = np.zeros(n_arms, dtype=np.float64)
        self._steps = 0

    def exploration_rate(self, t):
        if self.decay is None:
            return self.epsilon
        return self.epsilon if self.epsilon < self.decay / t else self.decay / t

    def select(self):
        self._steps += 1
        u = self.rng.random()
        if u < self.exploration_rate(self._steps):
            return int(self.rng.integers(self.n_arms))
        best = self.values.max()
        tied = [a for a in range(self.n_arms) if self.values[a] == best]
        return int(self.rng.choice(np.array(tied)))

    def update(self, arm, reward):
        n = self.counts[arm] + 1
        self.values[arm] += (reward - self.values[arm]) / n
        self.counts[arm] = n


class UCB1:
    def __init__(self, n_arms):
        self.n_arms = n_arms
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self.values = np.zeros(n_arms, dtype=np.float64)

    def scores(self):
        t = int(self.counts.sum())
        out = np.empty(self.n_arms, dtype=np.float64)
        for a in range(self.n_arms):
            n = int(self.counts[a])
            if n == 0:
                out[a] = math.inf
            else:
                out[a] = self.values[a] + math.sqrt(2.0 * math.log(t) / n)
        return out

    def select(self):
        s = self.scores()
        best = 0
        for a in range(1, self.n_arms):
            if s[a] > s[best]:
                best = a
        return best

    def update(self, arm, reward):
        self.counts[arm] += 1
        self.values[arm] += (reward - self.values[arm]) / self.counts[arm]


class ThompsonSampling:
    def __init__(self, n_arms, rng):
        self.n_arms = n_arms
        self.rng = rng
        self.alpha = np.ones(n_arms, dtype=np.float64)
        self.beta = np.ones(n_arms, dtype=np.float64)

    def select(self):
        draws = [self.rng.beta(self.alpha[a], self.beta[a]) for a in range(self.n_arms)]
        return int(np.argmax(draws))

    def update(self, arm, reward):
        if reward:
            self.alpha[arm] += 1
        else:
            self.beta[arm] += 1


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
    acts, rews = [], []
    for _ in range(n_steps):
        arm = policy.select()
        r = bandit.pull(arm)
        policy.update(arm, r)
        acts.append(arm)
        rews.append(r)
    return np.array(acts, dtype=np.int64), np.array(rews, dtype=np.int64)


def regret_curves(ctrs, n_steps, seeds):
    result = {}
    for name in POLICIES:
        total = np.zeros(n_steps)
        for seed in seeds:
            bandit = BernoulliBandit(ctrs, np.random.default_rng([seed, 0]))
            pol = make_policy(name, bandit.n_arms, np.random.default_rng([seed, 1]))
            acts, _ = run_policy(pol, bandit, n_steps)
            total += pseudo_regret(ctrs, acts)
        result[name] = total / len(seeds)
    return result
