"""p5-policy-gradient: REINFORCE with a value baseline, on CartPole and a 2-D reaching task.

Edit this file, then run `aipath check p5-policy-gradient`. The README states each contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F  # noqa: F401  (F.mse_loss in task 4)
from torch import nn


# ----- given: a small network and the batch the loop collects -----------------------------------
def mlp(in_dim: int, out_dim: int, hidden: int = 64) -> nn.Sequential:
    """Two tanh hidden layers: the policy and value networks of this lab."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, out_dim),
    )


@dataclass
class Batch:
    """The steps of several whole episodes, in the order they happened (N steps in all)."""

    obs: np.ndarray  # (N, obs_dim) float32: the observation each action was chosen from
    actions: np.ndarray  # (N,) int64, or (N, act_dim) float32 for continuous actions
    rewards: np.ndarray  # (N,) float64
    terminated: np.ndarray  # (N,) bool
    truncated: np.ndarray  # (N,) bool
    next_obs: np.ndarray  # (N, obs_dim) float32: the observation the step led to
    episode_returns: np.ndarray  # (n_episodes,) float64: each episode's plain sum of rewards


# ----- task 1: returns-to-go ---------------------------------------------------------------------
def returns_to_go(
    rewards: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    next_values: np.ndarray,
    gamma: float,
) -> np.ndarray:
    """G_t = r_t + γ·G_{t+1} within each episode, backwards from its last step, where
    G = r (terminated) or r + γ·next_values[t] (truncated only). Float64 (N,); ValueError if the
    last step ends no episode; the inputs are not changed.

    >>> returns_to_go(np.array([1.0, 1, 1, 2, 2]), np.array([0, 0, 1, 0, 0], bool),
    ...               np.array([0, 0, 0, 0, 1], bool), np.array([0.0, 0, 0, 0, 8]), 0.5)
    array([1.75, 1.5 , 1.  , 5.  , 6.  ])
    """
    raise NotImplementedError  # TODO


# ----- task 2: the policy-gradient loss ----------------------------------------------------------
def categorical_log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[i, actions[i]] for each row i: (N, A) logits, (N,) int64 actions →
    (N,), with the graph kept.

    >>> categorical_log_prob(torch.tensor([[0.0, 0.0], [0.0, 1.0986123]]), torch.tensor([0, 1]))
    tensor([-0.6931, -0.2877])
    """
    raise NotImplementedError  # TODO


def pg_loss(log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """The scalar surrogate −mean(log_probs · advantages), advantages detached: minimising it
    climbs the expected return.

    >>> pg_loss(torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 3.0]))
    tensor(3.5000)
    """
    raise NotImplementedError  # TODO


def bandit_gradient(logits: torch.Tensor, mean_rewards: torch.Tensor) -> torch.Tensor:
    """∇_θ of J(θ) = Σ_a softmax(θ)_a · mean_rewards[a], at θ = logits; shape (A,).

    >>> bandit_gradient(torch.zeros(2), torch.tensor([0.0, 1.0]))
    tensor([-0.2500,  0.2500])
    """
    raise NotImplementedError  # TODO


# ----- task 3: baseline and normalisation --------------------------------------------------------
def advantages(
    returns: torch.Tensor, values: torch.Tensor, normalize: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """returns − values (values detached; no graph in the result), then, with normalize,
    (Â − Â.mean()) / (Â.std() + eps).

    >>> advantages(torch.tensor([3.0, 5.0, 4.0]), torch.tensor([1.0, 1.0, 4.0]), normalize=False)
    tensor([2., 4., 0.])
    >>> advantages(torch.tensor([3.0, 5.0, 4.0]), torch.tensor([1.0, 1.0, 4.0]))
    tensor([ 0.,  1., -1.])
    """
    raise NotImplementedError  # TODO


# ----- task 4: REINFORCE on CartPole -------------------------------------------------------------
class CategoricalPolicy(nn.Module):
    """A softmax policy over n_actions: self.net = mlp(obs_dim, n_actions, hidden) gives logits."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64) -> None:
        super().__init__()
        raise NotImplementedError  # TODO

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """The logits, (..., n_actions)."""
        raise NotImplementedError  # TODO

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π(actions | obs) for a batch: (N, obs_dim), (N,) → (N,), graph kept."""
        raise NotImplementedError  # TODO

    def sample(self, obs: torch.Tensor) -> torch.Tensor:
        """One action drawn from softmax(logits) for one observation (obs_dim,): a () int64
        tensor, under torch.no_grad(), from torch's global generator."""
        raise NotImplementedError  # TODO


def collect(env: gym.Env, policy: Any, n_episodes: int, *, seed: int | None = None) -> Batch:
    """Play n_episodes whole episodes with policy.sample: env.reset(seed=seed) before the first,
    env.reset() before the others; each episode runs until terminated or truncated.

    >>> batch = collect(gym.make("CartPole-v1"), CategoricalPolicy(4, 2), 3, seed=0)
    >>> batch.obs.shape[1], batch.actions.dtype, batch.episode_returns.shape
    (4, dtype('int64'), (3,))
    """
    raise NotImplementedError  # TODO


def reinforce_update(
    policy: Any,
    value_net: nn.Module,
    policy_opt: torch.optim.Optimizer,
    value_opt: torch.optim.Optimizer,
    batch: Batch,
    *,
    gamma: float,
    normalize: bool = True,
) -> dict[str, float]:
    """One REINFORCE step with a value baseline (README task 4, steps 1-5): values, returns,
    advantages from the values before any update, both losses, then zero_grad/backward/step
    per network. Returns {"policy_loss": float, "value_loss": float}."""
    raise NotImplementedError  # TODO


def train(
    env: gym.Env,
    policy: nn.Module,
    value_net: nn.Module,
    *,
    iterations: int,
    episodes_per_batch: int,
    gamma: float,
    policy_lr: float,
    value_lr: float,
    seed: int,
) -> list[float]:
    """torch.manual_seed(seed); an Adam optimiser per network; `iterations` times collect
    (seed=seed the first time, None after) and reinforce_update. Returns every episode's
    return in order (iterations × episodes_per_batch floats)."""
    raise NotImplementedError  # TODO


# ----- task 5: continuous actions ----------------------------------------------------------------
def diag_gaussian_log_prob(
    mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """Σ_d [−½((a_d − μ_d)/σ_d)² − log σ_d − ½ log 2π] with σ = exp(log_std): (N, D) → (N,).
    Written by hand (no torch.distributions).

    >>> diag_gaussian_log_prob(torch.zeros(1, 2), torch.zeros(2), torch.zeros(1, 2))
    tensor([-1.8379])
    """
    raise NotImplementedError  # TODO


class GaussianPolicy(nn.Module):
    """N(tanh(mean_net(obs)), exp(log_std)²) per action dimension; log_std a learned
    nn.Parameter (act_dim,) starting at init_log_std."""

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: int = 64, init_log_std: float = -0.5
    ) -> None:
        super().__init__()
        raise NotImplementedError  # TODO

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """The mean action, tanh(self.mean_net(obs)), (..., act_dim)."""
        raise NotImplementedError  # TODO

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π(actions | obs): (N, obs_dim), (N, act_dim) → (N,), graph kept."""
        raise NotImplementedError  # TODO

    def sample(self, obs: torch.Tensor) -> torch.Tensor:
        """mean + exp(log_std)·torch.randn(...) for one observation: float32 (act_dim,), not
        clipped, under torch.no_grad()."""
        raise NotImplementedError  # TODO


class PointReach(gym.Env):
    """A point mass pushed by a clipped 2-D force towards a random target (README task 5).

    >>> env = PointReach()
    >>> obs, info = env.reset(seed=0)
    >>> obs.dtype, obs.shape, info
    (dtype('float32'), (4,), {})
    >>> obs, reward, terminated, truncated, info = env.step(np.array([2.0, 0.0]))
    """

    def __init__(
        self,
        max_steps: int = 40,
        dt: float = 0.2,
        damping: float = 2.0,
        effort_cost: float = 0.05,
        goal_radius: float = 0.1,
    ) -> None:
        raise NotImplementedError  # TODO

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """super().reset(seed=seed); position, then target, uniform(-1, 1, size=2) from
        self.np_random; velocity and step count zero. Returns (obs, {})."""
        raise NotImplementedError  # TODO

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """force = clip(action, -1, 1); vel += dt·(force − damping·vel); pos += dt·vel;
        reward = −distance − effort_cost·Σ force²; terminated = distance < goal_radius;
        truncated = steps ≥ max_steps."""
        raise NotImplementedError  # TODO
