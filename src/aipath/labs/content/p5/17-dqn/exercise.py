"""p5-dqn: a deep Q-network on CartPole-v1, kept stable by a replay memory and a target network.

Edit this file, then run `aipath check p5-dqn`. The README states each contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F  # noqa: F401  (F.smooth_l1_loss and F.mse_loss, task 3)
from torch import nn


# ----- given: the batch, the network, the settings (no need to change these) --------------------
class Batch(NamedTuple):
    """A sample of B transitions from the replay memory, as NumPy arrays."""

    obs: np.ndarray  # (B, obs_dim) float32
    actions: np.ndarray  # (B,) int64
    rewards: np.ndarray  # (B,) float32
    next_obs: np.ndarray  # (B, obs_dim) float32
    terminated: np.ndarray  # (B,) float32: 1.0 where the episode really ended, else 0.0


def as_tensors(batch: Batch) -> tuple[torch.Tensor, ...]:
    """(obs, actions, rewards, next_obs, terminated) as torch tensors, dtypes kept."""
    return tuple(torch.as_tensor(np.asarray(part)) for part in batch)


def make_q_net(obs_dim: int, n_actions: int, hidden: int = 64) -> nn.Module:
    """A state (B, obs_dim) in, one Q-value per action (B, n_actions) out."""
    return nn.Sequential(
        nn.Linear(obs_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_actions),
    )


@dataclass(frozen=True)
class DQNConfig:
    """Everything train_dqn needs to know besides the environment and the seeds."""

    n_steps: int = 10_000  # environment steps in all
    gamma: float = 0.99
    lr: float = 1e-3
    hidden: int = 64
    buffer_capacity: int = 10_000
    batch_size: int = 64
    learning_starts: int = 500  # no gradient step until the memory holds this many transitions
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 2_000
    target_update_every: int = 250  # hard copy every this many environment steps (tau is None)
    tau: float | None = None  # Polyak: update_target(target, online, tau) after each gradient step
    double: bool = False  # Double DQN targets
    loss: str = "huber"  # or "mse"


# ----- task 1: the replay memory ----------------------------------------------------------------
class ReplayBuffer:
    """A ring buffer of the last `capacity` transitions, sampled uniformly.

    >>> memory = ReplayBuffer(3, obs_dim=2)
    >>> for i in range(5):
    ...     memory.add(np.array([i, i], dtype=np.float32), i % 2, 1.0, np.zeros(2), i == 4)
    >>> len(memory)                   # transitions 0 and 1 were overwritten by 3 and 4
    3
    >>> batch = memory.sample(2, np.random.default_rng(0))
    >>> batch.obs.shape, batch.obs.dtype, batch.actions.dtype, batch.terminated.dtype
    ((2, 2), dtype('float32'), dtype('int64'), dtype('float32'))
    >>> memory.sample(4, np.random.default_rng(0))
    Traceback (most recent call last):
    ValueError: ...
    """

    def __init__(self, capacity: int, obs_dim: int) -> None:
        # TODO: room for `capacity` transitions of each field, and where the next one goes
        raise NotImplementedError

    def __len__(self) -> int:
        """How many transitions the memory holds now (at most capacity)."""
        raise NotImplementedError  # TODO

    def add(
        self,
        obs: np.ndarray,
        action: int,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
    ) -> None:
        """Store one transition (a copy of it), overwriting the oldest once full."""
        raise NotImplementedError  # TODO

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """batch_size stored transitions drawn uniformly with rng; ValueError if too few."""
        raise NotImplementedError  # TODO


# ----- task 2: the target network ---------------------------------------------------------------
def update_target(target_net: nn.Module, online_net: nn.Module, tau: float = 1.0) -> None:
    """θ_target ← τ·θ_online + (1 − τ)·θ_target for every parameter, in place, without grad.

    tau = 1.0 is a hard copy; a small tau (0.005) lets the target trail the online network.
    online_net is not changed.
    """
    raise NotImplementedError  # TODO


def td_targets(
    rewards: torch.Tensor,
    next_obs: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    target_net: nn.Module,
    online_net: nn.Module | None = None,
) -> torch.Tensor:
    """The (B,) float32 regression targets, with no gradient attached.

    DQN:        r + γ · (1 − terminated) · max_a Q_target(s′, a)
    Double DQN (online_net given): a* = argmax_a Q_online(s′, a), then
                r + γ · (1 − terminated) · Q_target(s′, a*)

    >>> net = make_q_net(4, 2)
    >>> td_targets(torch.ones(3), torch.zeros(3, 4), torch.ones(3), 0.99, net)
    tensor([1., 1., 1.])
    """
    raise NotImplementedError  # TODO


# ----- task 3: the loss and one gradient step ---------------------------------------------------
def dqn_loss(
    q_net: nn.Module,
    obs: torch.Tensor,
    actions: torch.Tensor,
    targets: torch.Tensor,
    kind: str = "huber",
) -> torch.Tensor:
    """The mean loss between Q(s, a) of the actions taken and the targets: a 0-dim tensor that
    backward() can reach q_net's parameters through.

    kind "huber" is F.smooth_l1_loss (quadratic below an error of 1, linear above), "mse" is
    F.mse_loss; anything else raises ValueError. obs (B, obs_dim) float32, actions (B,) int64,
    targets (B,) float32.
    """
    raise NotImplementedError  # TODO


def train_step(
    q_net: nn.Module,
    target_net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    config: DQNConfig,
) -> float:
    """One gradient step of q_net on a batch; returns the loss (before the step) as a float.

    Targets from td_targets with config.gamma (Double DQN when config.double), the loss from
    dqn_loss with config.loss. target_net does not change.
    """
    raise NotImplementedError  # TODO


# ----- task 4: exploration ----------------------------------------------------------------------
def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """ε at an environment step (from 0): a straight line from start (step 0) to end (step
    decay_steps), then end for ever; end from the start when decay_steps is 0.

    >>> linear_epsilon(0, 1.0, 0.05, 1000), linear_epsilon(500, 1.0, 0.05, 1000)
    (1.0, 0.525)
    >>> linear_epsilon(4000, 1.0, 0.05, 1000)
    0.05
    """
    raise NotImplementedError  # TODO


def select_action(
    q_net: nn.Module,
    obs: np.ndarray,
    epsilon: float,
    n_actions: int,
    rng: np.random.Generator,
) -> int:
    """With probability epsilon a uniformly random action (any of the n_actions), otherwise
    the argmax of q_net(obs), computed without gradient. Every random number comes from rng.
    Returns a Python int.

    obs is one observation, a float32 array of shape (obs_dim,).
    """
    raise NotImplementedError  # TODO


# ----- task 5: the training loop ----------------------------------------------------------------
def train_dqn(
    env: Any, config: DQNConfig, *, rng: np.random.Generator, seed: int
) -> tuple[nn.Module, np.ndarray]:
    """Train a DQN for config.n_steps environment steps; return (q_net, returns).

    returns: float64 (n_episodes,), the total reward of each episode that finished.
    torch.manual_seed(seed) before building the networks; env.reset(seed=seed) the first time
    only; the README lists the order of the work in one step.
    """
    raise NotImplementedError  # TODO


if __name__ == "__main__":
    import gymnasium as gym

    q_net, returns = train_dqn(
        gym.make("CartPole-v1"), DQNConfig(n_steps=5_000), rng=np.random.default_rng(0), seed=0
    )
    print(f"{len(returns)} episodes; the last ten: {returns[-10:]}")
