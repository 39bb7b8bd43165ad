"""Alternative: one base class for the running means, masked NumPy, a stacked mean of curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CTRS = (0.04, 0.10, 0.16, 0.22, 0.30)
EPSILON = 0.1
DECAY = 25.0
POLICIES = ("epsilon-greedy", "decaying-epsilon", "ucb1", "thompson")


class BernoulliBandit:
    def __init__(self, ctrs, rng: np.random.Generator) -> None:
        ctrs = np.asarray(ctrs, dtype=np.float64).copy()
        if ctrs.ndim != 1 or len(ctrs) == 0 or ctrs.min() < 0.0 or ctrs.max() > 1.0:
            raise ValueError("ctrs must be a 1-D array of rates in [0, 1]")
        self.ctrs, self.n_arms, self.rng = ctrs, len(ctrs), rng

    def pull(self, arm: int) -> int:
        if arm not in range(self.n_arms):
            raise ValueError(f"arm {arm} out of range")
        return int(self.ctrs[arm] > self.rng.random())


def pseudo_regret(ctrs, actions) -> np.ndarray:
    ctrs = np.asarray(ctrs, dtype=float)
    gaps = ctrs.max() - np.take(ctrs, np.asarray(actions, dtype=int))
    return gaps.cumsum().astype(np.float64)


class _RunningMeans:
    def __init__(self, n_arms: int) -> None:
        self.n_arms = n_arms
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self.values = np.zeros(n_arms)

    def update(self, arm: int, reward: float) -> None:
        n = self.counts[arm] + 1
        self.counts[arm] = n
        self.values[arm] = self.values[arm] + (reward - self.values[arm]) / n


class EpsilonGreedy(_RunningMeans):
    def __init__(self, n_arms, rng, epsilon=0.1, decay=None) -> None:
        super().__init__(n_arms)
        self.rng, self.epsilon, self.decay = rng, epsilon, decay

    def exploration_rate(self, t: int) -> float:
        if self.decay is None:
            return self.epsilon
        return min(self.epsilon, self.decay / t)

    def select(self) -> int:
        u = self.rng.random()
        if u < self.exploration_rate(self.counts.sum() + 1):
            return int(self.rng.integers(0, self.n_arms))
        (tied,) = np.nonzero(self.values == np.max(self.values))
        if len(tied) == 1:
            return int(tied[0])
        return int(self.rng.choice(tied))


class UCB1(_RunningMeans):
    def scores(self) -> np.ndarray:
        t = self.counts.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = np.sqrt(2 * np.log(t) / self.counts)
        return np.where(self.counts == 0, np.inf, self.values + bonus)

    def select(self) -> int:
        return int(self.scores().argmax())


class ThompsonSampling:
    def __init__(self, n_arms: int, rng: np.random.Generator) -> None:
        self.n_arms, self.rng = n_arms, rng
        self.alpha = np.ones(n_arms)
        self.beta = np.ones(n_arms)

    def select(self) -> int:
        theta = self.rng.beta(self.alpha, self.beta, size=self.n_arms)
        return int(theta.argmax())

    def update(self, arm: int, reward: float) -> None:
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


def run_policy(policy, bandit, n_steps: int):
    log = np.zeros((2, n_steps), dtype=np.int64)
    for step in range(n_steps):
        arm = policy.select()
        click = bandit.pull(arm)
        policy.update(arm, click)
        log[:, step] = arm, click
    return log[0], log[1]


def regret_curves(ctrs, n_steps: int, seeds: Sequence[int]) -> dict[str, np.ndarray]:
    def one(name: str, seed: int) -> np.ndarray:
        bandit = BernoulliBandit(ctrs, np.random.default_rng([seed, 0]))
        policy = make_policy(name, bandit.n_arms, np.random.default_rng([seed, 1]))
        return pseudo_regret(ctrs, run_policy(policy, bandit, n_steps)[0])

    return {name: np.stack([one(name, s) for s in seeds]).mean(axis=0) for name in POLICIES}
