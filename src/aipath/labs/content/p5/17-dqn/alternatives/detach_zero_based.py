"""Alternative (blind probe): targets detached instead of computed under no_grad, a loss with
reduction="none" averaged by hand, learning and syncs from the
0-based env-step index (step + 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# ----- given: the batch, the network, the settings ----------------------------------------------
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
    """A ring buffer of the last `capacity` transitions, sampled uniformly."""

    def __init__(self, capacity: int, obs_dim: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.position = 0  # the slot the next transition goes to (the oldest once full)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: np.ndarray,
        action: int,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
    ) -> None:
        i = self.position
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_obs[i] = next_obs
        self.terminated[i] = float(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        if batch_size > self.size:
            raise ValueError(
                f"cannot sample {batch_size} transitions: the memory holds only {self.size}"
            )
        idx = rng.integers(0, self.size, size=batch_size)
        return Batch(
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.terminated[idx],
        )


# ----- task 2: the target network ---------------------------------------------------------------
def update_target(target_net: nn.Module, online_net: nn.Module, tau: float = 1.0) -> None:
    with torch.no_grad():
        for t, o in zip(target_net.parameters(), online_net.parameters(), strict=True):
            t.mul_(1.0 - tau).add_(o, alpha=tau)


def td_targets(
    rewards: torch.Tensor,
    next_obs: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    target_net: nn.Module,
    online_net: nn.Module | None = None,
) -> torch.Tensor:
    next_q = target_net(next_obs)
    if online_net is None:
        best = next_q.max(dim=1).values
    else:
        choice = online_net(next_obs).argmax(dim=1, keepdim=True)
        best = next_q.gather(1, choice).squeeze(1)
    return (rewards + gamma * (1.0 - terminated) * best).detach()


# ----- task 3: the loss and one gradient step ---------------------------------------------------
def dqn_loss(
    q_net: nn.Module,
    obs: torch.Tensor,
    actions: torch.Tensor,
    targets: torch.Tensor,
    kind: str = "huber",
) -> torch.Tensor:
    q_taken = q_net(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
    if kind == "huber":
        return F.smooth_l1_loss(q_taken, targets, reduction="none").mean()
    if kind == "mse":
        return F.mse_loss(q_taken, targets)
    raise ValueError(f"unknown loss kind {kind!r}: use 'huber' or 'mse'")


def train_step(
    q_net: nn.Module,
    target_net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    config: DQNConfig,
) -> float:
    obs, actions, rewards, next_obs, terminated = as_tensors(batch)
    online = q_net if config.double else None
    targets = td_targets(rewards, next_obs, terminated, config.gamma, target_net, online)
    loss = dqn_loss(q_net, obs, actions, targets, config.loss)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# ----- task 4: exploration ----------------------------------------------------------------------
def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    if decay_steps <= 0 or step >= decay_steps:
        return float(end)
    return float(start + (end - start) * step / decay_steps)


def select_action(
    q_net: nn.Module,
    obs: np.ndarray,
    epsilon: float,
    n_actions: int,
    rng: np.random.Generator,
) -> int:
    if rng.random() < epsilon:
        return int(rng.integers(n_actions))
    with torch.no_grad():
        q = q_net(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))
    return int(q.argmax(dim=1).item())


# ----- task 5: the training loop ----------------------------------------------------------------
def train_dqn(
    env: Any, config: DQNConfig, *, rng: np.random.Generator, seed: int
) -> tuple[nn.Module, np.ndarray]:
    torch.manual_seed(seed)
    obs_dim = env.observation_space.shape[0]
    n_actions = int(env.action_space.n)
    q_net = make_q_net(obs_dim, n_actions, config.hidden)
    target_net = make_q_net(obs_dim, n_actions, config.hidden)
    update_target(target_net, q_net, 1.0)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.lr)
    buffer = ReplayBuffer(config.buffer_capacity, obs_dim)

    returns: list[float] = []
    episode_return = 0.0
    obs, _info = env.reset(seed=seed)
    for step in range(config.n_steps):
        epsilon = linear_epsilon(
            step, config.epsilon_start, config.epsilon_end, config.epsilon_decay_steps
        )
        action = select_action(q_net, obs, epsilon, n_actions, rng)
        next_obs, reward, terminated, truncated, _info = env.step(action)
        buffer.add(obs, action, float(reward), next_obs, bool(terminated))
        episode_return += float(reward)
        obs = next_obs
        if terminated or truncated:
            returns.append(episode_return)
            episode_return = 0.0
            obs, _info = env.reset()

        if step + 1 >= config.learning_starts:  # step + 1 transitions held
            batch = buffer.sample(config.batch_size, rng)
            train_step(q_net, target_net, optimizer, batch, config)
            if config.tau is not None:
                update_target(target_net, q_net, config.tau)
        if config.tau is None and (step + 1) % config.target_update_every == 0:
            update_target(target_net, q_net, 1.0)
    return q_net, np.asarray(returns, dtype=np.float64)
