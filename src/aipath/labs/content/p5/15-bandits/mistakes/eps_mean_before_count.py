# expect: the mean updated before the count
"""Mistake: eps mean before count."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The article click-through rates the regret curves of task 5 are drawn for (README, task 5).
CTRS = (0.04, 0.10, 0.16, 0.22, 0.30)
EPSILON = 0.1  # fixed exploration rate of "epsilon-greedy"
DECAY = 25.0  # "decaying-epsilon": epsilon_t = min(1, DECAY / t)
POLICIES = ("epsilon-greedy", "decaying-epsilon", "ucb1", "thompson")


# ----- task 1: the environment and the regret -----------------------------------------------------
class BernoulliBandit:
    """K articles; showing article ``arm`` gets a click (1) with probability ``ctrs[arm]``."""

    def __init__(self, ctrs: Sequence[float] | np.ndarray, rng: np.random.Generator) -> None:
        self.ctrs = np.array(ctrs, dtype=np.float64)
        if self.ctrs.ndim != 1 or self.ctrs.size == 0:
            raise ValueError(f"ctrs must be a non-empty 1-D sequence; got shape {self.ctrs.shape}")
        if np.any((self.ctrs < 0) | (self.ctrs > 1)):
            raise ValueError("every click-through rate must lie in [0, 1]")
        self.n_arms = int(self.ctrs.size)
        self.rng = rng

    def pull(self, arm: int) -> int:
        if not 0 <= arm < self.n_arms:
            raise ValueError(f"arm must be in 0..{self.n_arms - 1}; got {arm}")
        return int(self.rng.random() < self.ctrs[arm])


def pseudo_regret(
    ctrs: Sequence[float] | np.ndarray, actions: Sequence[int] | np.ndarray
) -> np.ndarray:
    ctrs = np.asarray(ctrs, dtype=np.float64)
    actions = np.asarray(actions, dtype=np.int64)
    return np.cumsum(ctrs.max() - ctrs[actions])


# ----- task 2: epsilon-greedy ----------------------------------------------------------------------
class EpsilonGreedy:
    def __init__(
        self,
        n_arms: int,
        rng: np.random.Generator,
        epsilon: float = 0.1,
        decay: float | None = None,
    ) -> None:
        self.n_arms = n_arms
        self.rng = rng
        self.epsilon = epsilon
        self.decay = decay
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self.values = np.zeros(n_arms, dtype=np.float64)

    def exploration_rate(self, t: int) -> float:
        if self.decay is None:
            return float(self.epsilon)
        return float(min(self.epsilon, self.decay / t))

    def select(self) -> int:
        t = int(self.counts.sum()) + 1
        if self.rng.random() < self.exploration_rate(t):
            return int(self.rng.integers(self.n_arms))
        best = np.flatnonzero(self.values == self.values.max())
        return int(self.rng.choice(best))

    def update(self, arm: int, reward: float) -> None:
        self.values[arm] += (reward - self.values[arm]) / max(self.counts[arm], 1)
        self.counts[arm] += 1


# ----- task 3: UCB1 --------------------------------------------------------------------------------
class UCB1:
    def __init__(self, n_arms: int) -> None:
        self.n_arms = n_arms
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self.values = np.zeros(n_arms, dtype=np.float64)

    def scores(self) -> np.ndarray:
        scores = np.full(self.n_arms, np.inf)
        tried = self.counts > 0
        if tried.any():
            t = self.counts.sum()
            scores[tried] = self.values[tried] + np.sqrt(2.0 * np.log(t) / self.counts[tried])
        return scores

    def select(self) -> int:
        return int(np.argmax(self.scores()))

    def update(self, arm: int, reward: float) -> None:
        self.counts[arm] += 1
        self.values[arm] += (reward - self.values[arm]) / self.counts[arm]


# ----- task 4: Thompson sampling -------------------------------------------------------------------
class ThompsonSampling:
    def __init__(self, n_arms: int, rng: np.random.Generator) -> None:
        self.n_arms = n_arms
        self.rng = rng
        self.alpha = np.ones(n_arms, dtype=np.float64)
        self.beta = np.ones(n_arms, dtype=np.float64)

    def select(self) -> int:
        return int(np.argmax(self.rng.beta(self.alpha, self.beta)))

    def update(self, arm: int, reward: float) -> None:
        self.alpha[arm] += reward
        self.beta[arm] += 1 - reward


# ----- task 5: simulation and regret curves --------------------------------------------------------
def make_policy(name: str, n_arms: int, rng: np.random.Generator):
    """The four policies task 5 compares, by name (written for you)."""
    if name == "epsilon-greedy":
        return EpsilonGreedy(n_arms, rng, epsilon=EPSILON)
    if name == "decaying-epsilon":
        return EpsilonGreedy(n_arms, rng, epsilon=1.0, decay=DECAY)
    if name == "ucb1":
        return UCB1(n_arms)
    if name == "thompson":
        return ThompsonSampling(n_arms, rng)
    raise ValueError(f"unknown policy {name!r}; expected one of {POLICIES}")


def run_policy(policy, bandit: BernoulliBandit, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    actions = np.zeros(n_steps, dtype=np.int64)
    rewards = np.zeros(n_steps, dtype=np.int64)
    for step in range(n_steps):
        arm = policy.select()
        reward = bandit.pull(arm)
        policy.update(arm, reward)
        actions[step], rewards[step] = arm, reward
    return actions, rewards


def regret_curves(
    ctrs: Sequence[float] | np.ndarray, n_steps: int, seeds: Sequence[int]
) -> dict[str, np.ndarray]:
    curves = {}
    for name in POLICIES:
        runs = []
        for seed in seeds:
            bandit = BernoulliBandit(ctrs, np.random.default_rng([seed, 0]))
            policy = make_policy(name, bandit.n_arms, np.random.default_rng([seed, 1]))
            actions, _ = run_policy(policy, bandit, n_steps)
            runs.append(pseudo_regret(ctrs, actions))
        curves[name] = np.mean(runs, axis=0)
    return curves
