"""Alternative: a deque of copied tuples sampled without replacement, lerp_ for the target,
torch.where for the terminal mask, a hand-written Huber loss, and a while loop over steps."""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
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
        self.obs_dim = obs_dim
        self.items: deque[tuple[np.ndarray, int, float, np.ndarray, float]] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self.items)

    def add(
        self,
        obs: np.ndarray,
        action: int,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
    ) -> None:
        self.items.append(
            (
                np.array(obs, dtype=np.float32, copy=True),
                int(action),
                float(reward),
                np.array(next_obs, dtype=np.float32, copy=True),
                1.0 if terminated else 0.0,
            )
        )

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        if len(self.items) < batch_size:
            raise ValueError(f"only {len(self.items)} transitions stored, {batch_size} asked")
        picks = rng.choice(len(self.items), size=batch_size, replace=False)
        rows = [self.items[int(k)] for k in picks]
        obs, actions, rewards, next_obs, terminated = zip(*rows, strict=True)
        return Batch(
            np.stack(obs),
            np.asarray(actions, dtype=np.int64),
            np.asarray(rewards, dtype=np.float32),
            np.stack(next_obs),
            np.asarray(terminated, dtype=np.float32),
        )


# ----- task 2: the target network ---------------------------------------------------------------
@torch.no_grad()
def update_target(target_net: nn.Module, online_net: nn.Module, tau: float = 1.0) -> None:
    for t, o in zip(target_net.parameters(), online_net.parameters(), strict=True):
        t.lerp_(o, tau)


def td_targets(
    rewards: torch.Tensor,
    next_obs: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    target_net: nn.Module,
    online_net: nn.Module | None = None,
) -> torch.Tensor:
    with torch.no_grad():
        values = target_net(next_obs)
        if online_net is not None:
            chosen = online_net(next_obs).argmax(dim=1, keepdim=True)
            best = torch.take_along_dim(values, chosen, dim=1)[:, 0]
        else:
            best = values.amax(dim=1)
        return torch.where(terminated > 0.5, rewards, rewards + gamma * best)


# ----- task 3: the loss and one gradient step ---------------------------------------------------
def dqn_loss(
    q_net: nn.Module,
    obs: torch.Tensor,
    actions: torch.Tensor,
    targets: torch.Tensor,
    kind: str = "huber",
) -> torch.Tensor:
    q = q_net(obs)[torch.arange(len(actions)), actions]
    error = q - targets
    match kind:
        case "huber":
            size = error.abs()
            return torch.where(size < 1.0, 0.5 * error**2, size - 0.5).mean()
        case "mse":
            return (error**2).mean()
        case _:
            raise ValueError(f"kind must be 'huber' or 'mse', not {kind!r}")


def train_step(
    q_net: nn.Module,
    target_net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    config: DQNConfig,
) -> float:
    optimizer.zero_grad(set_to_none=True)
    obs, actions, rewards, next_obs, terminated = as_tensors(batch)
    targets = td_targets(
        rewards,
        next_obs,
        terminated,
        config.gamma,
        target_net,
        online_net=q_net if config.double else None,
    )
    loss = dqn_loss(q_net, obs, actions, targets, kind=config.loss)
    loss.backward()
    optimizer.step()
    return float(loss)


# ----- task 4: exploration ----------------------------------------------------------------------
def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    frac = 1.0 if decay_steps == 0 else min(step / decay_steps, 1.0)
    return start + frac * (end - start)


def select_action(
    q_net: nn.Module,
    obs: np.ndarray,
    epsilon: float,
    n_actions: int,
    rng: np.random.Generator,
) -> int:
    explore = rng.random() < epsilon
    if explore:
        return int(rng.choice(n_actions))
    with torch.no_grad():
        values = q_net(torch.from_numpy(np.asarray(obs, dtype=np.float32))[None])[0]
    return int(torch.argmax(values))


# ----- task 5: the training loop ----------------------------------------------------------------
def train_dqn(
    env: Any, config: DQNConfig, *, rng: np.random.Generator, seed: int
) -> tuple[nn.Module, np.ndarray]:
    torch.manual_seed(seed)
    n_actions = env.action_space.n
    obs_dim = env.observation_space.shape[0]
    q_net = make_q_net(obs_dim, n_actions, config.hidden)
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.lr)
    memory = ReplayBuffer(config.buffer_capacity, obs_dim)

    finished: list[float] = []
    running = 0.0
    state, _ = env.reset(seed=seed)
    done_steps = 0
    while done_steps < config.n_steps:
        eps = linear_epsilon(
            done_steps, config.epsilon_start, config.epsilon_end, config.epsilon_decay_steps
        )
        action = select_action(q_net, state, eps, n_actions, rng)
        new_state, reward, terminated, truncated, _ = env.step(action)
        memory.add(state, action, reward, new_state, terminated)
        running += reward
        done_steps += 1
        if terminated or truncated:
            finished.append(running)
            running = 0.0
            state, _ = env.reset()
        else:
            state = new_state
        if len(memory) >= config.learning_starts:
            train_step(q_net, target_net, optimizer, memory.sample(config.batch_size, rng), config)
            if config.tau is not None:
                update_target(target_net, q_net, tau=config.tau)
        elif config.tau is None:
            pass
        if config.tau is None and done_steps % config.target_update_every == 0:
            update_target(target_net, q_net)
    return q_net, np.array(finished, dtype=np.float64)
