"""Alternative: plain Python lists and loops, math instead of NumPy inside the policies."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CTRS = (0.04, 0.10, 0.16, 0.22, 0.30)
EPSILON = 0.1
DECAY = 25.0
POLICIES = ("epsilon-greedy", "decaying-epsilon", "ucb1", "thompson")


class BernoulliBandit:
    def __init__(self, ctrs, rng):
        rates = [float(c) for c in ctrs]
        if not rates or any(not 0.0 <= c <= 1.0 for c in rates):
            raise ValueError("rates must be a non-empty list of numbers in [0, 1]")
        self.ctrs = np.array(rates)
        self.n_arms = len(rates)
        self.rng = rng

    def pull(self, arm):
        if arm < 0 or arm >= self.n_arms:
            raise ValueError(f"no arm {arm}")
        return 1 if self.rng.random() < self.ctrs[arm] else 0


def pseudo_regret(ctrs, actions):
    best = max(ctrs)
    total, out = 0.0, []
    for arm in actions:
        total += best - ctrs[arm]
        out.append(total)
    return np.array(out, dtype=float)


class EpsilonGreedy:
    def __init__(self, n_arms, rng, epsilon=0.1, decay=None):
        self.n_arms, self.rng, self.epsilon, self.decay = n_arms, rng, epsilon, decay
        self.counts = [0] * n_arms
        self.values = [0.0] * n_arms

    def exploration_rate(self, t):
        return self.epsilon if self.decay is None else min(self.epsilon, self.decay / t)

    def select(self):
        t = sum(self.counts) + 1
        if self.rng.random() < self.exploration_rate(t):
            return int(self.rng.choice(self.n_arms))
        top = max(self.values)
        tied = [a for a, v in enumerate(self.values) if v == top]
        return tied[int(self.rng.integers(len(tied)))]

    def update(self, arm, reward):
        self.counts[arm] += 1
        self.values[arm] += (reward - self.values[arm]) / self.counts[arm]


class UCB1:
    def __init__(self, n_arms):
        self.n_arms = n_arms
        self.counts = [0] * n_arms
        self.values = [0.0] * n_arms

    def scores(self):
        t = sum(self.counts)
        return np.array(
            [
                math.inf if n == 0 else v + math.sqrt(2 * math.log(t) / n)
                for n, v in zip(self.counts, self.values, strict=True)
            ]
        )

    def select(self):
        for arm, n in enumerate(self.counts):
            if n == 0:
                return arm
        scores = self.scores()
        best = 0
        for arm in range(1, self.n_arms):
            if scores[arm] > scores[best]:
                best = arm
        return best

    def update(self, arm, reward):
        self.counts[arm] += 1
        self.values[arm] += (reward - self.values[arm]) / self.counts[arm]


class ThompsonSampling:
    def __init__(self, n_arms, rng):
        self.n_arms, self.rng = n_arms, rng
        self.alpha = [1.0] * n_arms
        self.beta = [1.0] * n_arms

    def select(self):
        draws = [self.rng.beta(a, b) for a, b in zip(self.alpha, self.beta, strict=True)]
        return max(range(self.n_arms), key=lambda arm: (draws[arm], -arm))

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
    actions, rewards = [], []
    for _ in range(n_steps):
        arm = policy.select()
        reward = bandit.pull(arm)
        policy.update(arm, reward)
        actions.append(arm)
        rewards.append(reward)
    return np.array(actions, dtype=np.int64), np.array(rewards, dtype=np.int64)


def regret_curves(ctrs: Sequence[float], n_steps: int, seeds: Sequence[int]):
    result = {}
    for name in POLICIES:
        total = np.zeros(n_steps)
        for seed in seeds:
            bandit = BernoulliBandit(ctrs, np.random.default_rng([seed, 0]))
            policy = make_policy(name, len(ctrs), np.random.default_rng([seed, 1]))
            actions, _ = run_policy(policy, bandit, n_steps)
            total += pseudo_regret(ctrs, actions)
        result[name] = total / len(seeds)
    return result
