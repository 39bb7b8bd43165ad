"""Bandits for recommendation: the file you edit.

Read README.md first. K articles (arms) are numbered 0..K-1; a reward is a click (1) or no click
(0). Every random number a class draws comes from the ``numpy.random.Generator`` it was given,
in the order the README states, so that the checks can replay your policy step by step.
"""

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
    """K articles; showing article ``arm`` gets a click (1) with probability ``ctrs[arm]``.

    Attributes after ``__init__``: ``ctrs`` (your own float64 copy, shape (K,)), ``n_arms`` (K)
    and ``rng``. A rate outside [0, 1] (or an empty / non-1-D ``ctrs``) raises ``ValueError``.

    >>> bandit = BernoulliBandit([0.0, 1.0], np.random.default_rng(0))
    >>> bandit.n_arms, bandit.pull(0), bandit.pull(1)
    (2, 0, 1)
    """

    def __init__(self, ctrs: Sequence[float] | np.ndarray, rng: np.random.Generator) -> None:
        # TODO: validate, copy as float64, keep n_arms and rng
        raise NotImplementedError

    def pull(self, arm: int) -> int:
        """Show article ``arm``: one ``self.rng.random()`` draw, 1 if it is below ``ctrs[arm]``.

        Returns a Python ``int`` (0 or 1). An arm outside 0..K-1 (-1 included) raises ValueError.
        """
        # TODO: check the range, then int(self.rng.random() < self.ctrs[arm])
        raise NotImplementedError


def pseudo_regret(
    ctrs: Sequence[float] | np.ndarray, actions: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Cumulative pseudo-regret: regret[t] = sum over s <= t of (max(ctrs) - ctrs[actions[s]]).

    Returns float64 of shape (len(actions),). Leaves its inputs unchanged.

    >>> pseudo_regret([0.5, 0.2], [1, 0, 1])
    array([0.3, 0.3, 0.6])
    """
    # TODO: the expected loss of each step against the best arm, accumulated
    raise NotImplementedError


# ----- task 2: epsilon-greedy ----------------------------------------------------------------------
class EpsilonGreedy:
    """Explore with probability epsilon_t, otherwise show the best article so far.

    Attributes: ``counts`` (int64, (K,), zeros), ``values`` (float64, (K,), zeros: the mean reward
    of each arm), ``epsilon``, ``decay`` and ``rng``.
    """

    def __init__(
        self,
        n_arms: int,
        rng: np.random.Generator,
        epsilon: float = 0.1,
        decay: float | None = None,
    ) -> None:
        # TODO: keep the arguments; counts and values start at zero
        raise NotImplementedError

    def exploration_rate(self, t: int) -> float:
        """epsilon_t for step t (1 at the first select): ``epsilon``, or ``min(epsilon, decay / t)``.

        >>> EpsilonGreedy(3, np.random.default_rng(0), epsilon=1.0, decay=25.0).exploration_rate(50)
        0.5
        """
        # TODO
        raise NotImplementedError

    def select(self) -> int:
        """One step: t = counts.sum() + 1; u = rng.random(); if u < epsilon_t explore with
        ``rng.integers(n_arms)`` (any arm), else ``rng.choice`` among the arms tied at the top."""
        # TODO
        raise NotImplementedError

    def update(self, arm: int, reward: float) -> None:
        """counts[arm] += 1, then values[arm] += (reward - values[arm]) / counts[arm]."""
        # TODO
        raise NotImplementedError


# ----- task 3: UCB1 --------------------------------------------------------------------------------
class UCB1:
    """Optimism in the face of uncertainty; no randomness at all.

    Attributes: ``counts`` (int64, (K,)) and ``values`` (float64, (K,)), both zeros at first.
    """

    def __init__(self, n_arms: int) -> None:
        # TODO
        raise NotImplementedError

    def scores(self) -> np.ndarray:
        """float64 (K,): +inf for an arm never pulled, else values + sqrt(2 ln(t) / counts) with
        t = counts.sum(), the number of pulls so far.

        >>> UCB1(3).scores()
        array([inf, inf, inf])
        """
        # TODO: no NaN and no division-by-zero warnings for untried arms
        raise NotImplementedError

    def select(self) -> int:
        """The arm with the highest score; ties go to the lowest index (np.argmax)."""
        # TODO
        raise NotImplementedError

    def update(self, arm: int, reward: float) -> None:
        """The same incremental mean as EpsilonGreedy.update."""
        # TODO
        raise NotImplementedError


# ----- task 4: Thompson sampling -------------------------------------------------------------------
class ThompsonSampling:
    """One Beta posterior per arm over its click-through rate, from a Beta(1, 1) prior.

    Attributes: ``alpha`` and ``beta`` (float64, (K,), ones at first) and ``rng``.
    """

    def __init__(self, n_arms: int, rng: np.random.Generator) -> None:
        # TODO
        raise NotImplementedError

    def select(self) -> int:
        """One draw per arm, all at once: ``np.argmax(self.rng.beta(self.alpha, self.beta))``."""
        # TODO
        raise NotImplementedError

    def update(self, arm: int, reward: float) -> None:
        """A click adds 1 to alpha[arm], a miss adds 1 to beta[arm]."""
        # TODO
        raise NotImplementedError


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
    """``n_steps`` of select -> pull -> update; returns (actions, rewards), both int64 (n_steps,)."""
    # TODO
    raise NotImplementedError


def regret_curves(
    ctrs: Sequence[float] | np.ndarray, n_steps: int, seeds: Sequence[int]
) -> dict[str, np.ndarray]:
    """{name: mean pseudo-regret curve over the seeds, float64 (n_steps,)} for each of POLICIES.

    For each seed: the bandit gets ``np.random.default_rng([seed, 0])`` and the policy
    ``np.random.default_rng([seed, 1])``.
    """
    # TODO
    raise NotImplementedError
