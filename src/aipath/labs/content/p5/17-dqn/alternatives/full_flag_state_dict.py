"""Alternative: a "full" flag instead of a size counter, rng.choice with replacement, the
target updated through state_dict, F.huber_loss, a boolean mask, and steps counted from 1."""

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
    def __init__(self, capacity: int, obs_dim: int) -> None:
        self.capacity = capacity
        self.states = np.empty((capacity, 2, obs_dim), dtype=np.float32)  # obs and next_obs
        self.acts = np.empty(capacity, dtype=np.int64)
        self.rews = np.empty(capacity, dtype=np.float32)
        self.ends = np.empty(capacity, dtype=np.float32)
        self.next = 0
        self.full = False

    def __len__(self) -> int:
        return self.capacity if self.full else self.next

    def add(
        self,
        obs: np.ndarray,
        action: int,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
    ) -> None:
        self.states[self.next, 0] = obs
        self.states[self.next, 1] = next_obs
        self.acts[self.next] = action
        self.rews[self.next] = reward
        self.ends[self.next] = terminated
        self.next += 1
        if self.next == self.capacity:
            self.next = 0
            self.full = True

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        n = len(self)
        if n < batch_size:
            raise ValueError("the memory holds fewer transitions than one batch")
        rows = rng.choice(n, size=batch_size, replace=True)
        pairs = self.states[rows]
        return Batch(pairs[:, 0], self.acts[rows], self.rews[rows], pairs[:, 1], self.ends[rows])


# ----- task 2: the target network ---------------------------------------------------------------
def update_target(target_net: nn.Module, online_net: nn.Module, tau: float = 1.0) -> None:
    online = online_net.state_dict()
    for key, value in target_net.state_dict().items():  # detached views of the parameters
        if tau == 1.0:
            value.copy_(online[key])
        else:
            value.copy_(tau * online[key] + (1.0 - tau) * value)


def td_targets(
    rewards: torch.Tensor,
    next_obs: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    target_net: nn.Module,
    online_net: nn.Module | None = None,
) -> torch.Tensor:
    next_q = target_net(next_obs).detach()
    if online_net is None:
        best = next_q.max(1)[0]
    else:
        a_star = online_net(next_obs).detach().argmax(1)
        best = next_q[torch.arange(next_q.shape[0]), a_star]
    alive = terminated == 0
    return rewards + gamma * best * alive


# ----- task 3: the loss and one gradient step ---------------------------------------------------
LOSSES = {"huber": lambda q, y: F.huber_loss(q, y, delta=1.0), "mse": F.mse_loss}


def dqn_loss(
    q_net: nn.Module,
    obs: torch.Tensor,
    actions: torch.Tensor,
    targets: torch.Tensor,
    kind: str = "huber",
) -> torch.Tensor:
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}")
    chosen = q_net(obs).gather(dim=1, index=actions.view(-1, 1)).view(-1)
    return LOSSES[kind](chosen, targets)


def train_step(
    q_net: nn.Module,
    target_net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    config: DQNConfig,
) -> float:
    obs = torch.from_numpy(batch.obs)
    actions = torch.from_numpy(batch.actions)
    rewards = torch.from_numpy(batch.rewards)
    next_obs = torch.from_numpy(batch.next_obs)
    terminated = torch.from_numpy(batch.terminated)
    if config.double:
        y = td_targets(rewards, next_obs, terminated, config.gamma, target_net, q_net)
    else:
        y = td_targets(rewards, next_obs, terminated, config.gamma, target_net)
    loss = dqn_loss(q_net, obs, actions, y, config.loss)
    value = loss.item()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return value


# ----- task 4: exploration ----------------------------------------------------------------------
def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    if step >= decay_steps:
        return end
    return start - (start - end) * (step / decay_steps)


def select_action(
    q_net: nn.Module,
    obs: np.ndarray,
    epsilon: float,
    n_actions: int,
    rng: np.random.Generator,
) -> int:
    if rng.random() >= epsilon:
        with torch.inference_mode():
            q = q_net(torch.tensor(obs).reshape(1, -1)).numpy()[0]
        return int(np.argmax(q))
    return int(rng.integers(0, n_actions))


# ----- task 5: the training loop ----------------------------------------------------------------
def train_dqn(
    env: Any, config: DQNConfig, *, rng: np.random.Generator, seed: int
) -> tuple[nn.Module, np.ndarray]:
    torch.manual_seed(seed)
    obs_dim, n_actions = env.observation_space.shape[0], int(env.action_space.n)
    q_net = make_q_net(obs_dim, n_actions, config.hidden)
    target_net = make_q_net(obs_dim, n_actions, config.hidden)
    update_target(target_net, q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), config.lr)
    memory = ReplayBuffer(config.buffer_capacity, obs_dim)
    returns = []
    total = 0.0
    obs, _ = env.reset(seed=seed)
    for t in range(1, config.n_steps + 1):
        epsilon = linear_epsilon(
            t - 1, config.epsilon_start, config.epsilon_end, config.epsilon_decay_steps
        )
        action = select_action(q_net, obs, epsilon, n_actions, rng)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        memory.add(obs, action, reward, next_obs, terminated)
        total += reward
        obs = next_obs
        if terminated or truncated:
            returns.append(total)
            total = 0.0
            obs, _ = env.reset()
        if len(memory) > config.learning_starts - 1:
            train_step(q_net, target_net, optimizer, memory.sample(config.batch_size, rng), config)
            if config.tau is not None:
                update_target(target_net, q_net, config.tau)
        if config.tau is None and t % config.target_update_every == 0:
            update_target(target_net, q_net, 1.0)
    return q_net, np.array(returns, dtype=float)
