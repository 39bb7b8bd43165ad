# expect: divided by decay_steps − 1
# intent: linear_epsilon off by one: divides by (decay_steps - 1)
"""p5-dqn: a deep Q-network on CartPole-v1, kept stable by a replay memory and a target network.

Edit this file, then run `aipath check p5-dqn`. The README states each contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
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
    def __init__(self, capacity: int, obs_dim: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.position = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, terminated) -> None:
        i = self.position
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_obs[i] = next_obs
        self.terminated[i] = float(terminated)
        self.position = (self.position + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        if self.size < batch_size:
            raise ValueError(f"only {self.size} transitions, need {batch_size}")
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
        for pt, po in zip(target_net.parameters(), online_net.parameters(), strict=True):
            pt.mul_(1.0 - tau).add_(po, alpha=tau)


def td_targets(rewards, next_obs, terminated, gamma, target_net, online_net=None):
    with torch.no_grad():
        next_q = target_net(next_obs)
        if online_net is None:
            best = next_q.max(dim=1).values
        else:
            a_star = online_net(next_obs).argmax(dim=1, keepdim=True)
            best = next_q.gather(1, a_star).squeeze(1)
        return rewards + gamma * (1.0 - terminated) * best


# ----- task 3: the loss and one gradient step ---------------------------------------------------
def dqn_loss(q_net, obs, actions, targets, kind="huber"):
    if kind not in ("huber", "mse"):
        raise ValueError(f"unknown loss kind {kind!r}")
    q = q_net(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
    if kind == "huber":
        return F.smooth_l1_loss(q, targets)
    return F.mse_loss(q, targets)


def train_step(q_net, target_net, optimizer, batch, config) -> float:
    obs, actions, rewards, next_obs, terminated = as_tensors(batch)
    y = td_targets(
        rewards, next_obs, terminated, config.gamma, target_net, q_net if config.double else None
    )
    loss = dqn_loss(q_net, obs, actions, y, config.loss)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.item())


# ----- task 4: exploration ----------------------------------------------------------------------
def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    if decay_steps <= 0 or step >= decay_steps:
        return float(end)
    return float(start + (end - start) * step / max(decay_steps - 1, 1))


def select_action(q_net, obs, epsilon, n_actions, rng) -> int:
    if rng.random() < epsilon:
        return int(rng.integers(n_actions))
    with torch.no_grad():
        q = q_net(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))
    return int(q.argmax(dim=1).item())


# ----- task 5: the training loop ----------------------------------------------------------------
def train_dqn(env, config, *, rng, seed):
    torch.manual_seed(seed)
    obs_dim = env.observation_space.shape[0]
    n_actions = env.action_space.n
    q_net = make_q_net(obs_dim, n_actions, config.hidden)
    target_net = make_q_net(obs_dim, n_actions, config.hidden)
    update_target(target_net, q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.lr)
    buffer = ReplayBuffer(config.buffer_capacity, obs_dim)
    obs, _ = env.reset(seed=seed)
    returns = []
    ep_ret = 0.0
    for t in range(config.n_steps):
        eps = linear_epsilon(
            t, config.epsilon_start, config.epsilon_end, config.epsilon_decay_steps
        )
        action = select_action(q_net, obs, eps, n_actions, rng)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated)
        ep_ret += float(reward)
        obs = next_obs
        if terminated or truncated:
            returns.append(ep_ret)
            ep_ret = 0.0
            obs, _ = env.reset()
        if len(buffer) >= config.learning_starts:
            train_step(q_net, target_net, optimizer, buffer.sample(config.batch_size, rng), config)
            if config.tau is not None:
                update_target(target_net, q_net, config.tau)
        if config.tau is None and (t + 1) % config.target_update_every == 0:
            update_target(target_net, q_net)
    return q_net, np.asarray(returns, dtype=np.float64)


if __name__ == "__main__":
    import gymnasium as gym

    q_net, returns = train_dqn(
        gym.make("CartPole-v1"), DQNConfig(n_steps=5_000), rng=np.random.default_rng(0), seed=0
    )
    print(f"{len(returns)} episodes; the last ten: {returns[-10:]}")
