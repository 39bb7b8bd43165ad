# expect: one Adam over both networks
"""Mistake: a single optimiser at the policy's rate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
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
    rewards = np.asarray(rewards, dtype=np.float64)
    terminated = np.asarray(terminated, dtype=bool)
    truncated = np.asarray(truncated, dtype=bool)
    next_values = np.asarray(next_values, dtype=np.float64)
    n = len(rewards)
    if n and not (terminated[-1] or truncated[-1]):
        raise ValueError("the last step does not end an episode (neither terminated nor truncated)")
    out = np.zeros(n)
    future = 0.0
    for t in range(n - 1, -1, -1):
        if terminated[t]:
            future = 0.0
        elif truncated[t]:
            future = next_values[t]
        out[t] = rewards[t] + gamma * future
        future = out[t]
    return out


# ----- task 2: the policy-gradient loss ----------------------------------------------------------
def categorical_log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    log_p = torch.log_softmax(logits, dim=-1)
    return log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def pg_loss(log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    return -(log_probs * advantages.detach()).mean()


def bandit_gradient(logits: torch.Tensor, mean_rewards: torch.Tensor) -> torch.Tensor:
    pi = torch.softmax(logits, dim=-1)
    expected = (pi * mean_rewards).sum()
    return pi * (mean_rewards - expected)


# ----- task 3: baseline and normalisation --------------------------------------------------------
def advantages(
    returns: torch.Tensor, values: torch.Tensor, normalize: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    adv = returns.detach() - values.detach()
    if normalize:
        adv = (adv - adv.mean()) / (adv.std() + eps)
    return adv


# ----- task 4: REINFORCE on CartPole -------------------------------------------------------------
class CategoricalPolicy(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = mlp(obs_dim, n_actions, hidden)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return categorical_log_prob(self(obs), actions)

    def sample(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            probs = torch.softmax(self(obs), dim=-1)
            return torch.multinomial(probs, 1).squeeze(-1)


def collect(env: gym.Env, policy: Any, n_episodes: int, *, seed: int | None = None) -> Batch:
    obs_l, act_l, rew_l, term_l, trunc_l, next_l, ep_returns = [], [], [], [], [], [], []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed) if episode == 0 else env.reset()
        total = 0.0
        while True:
            action = policy.sample(torch.as_tensor(obs, dtype=torch.float32))
            next_obs, reward, terminated, truncated, _ = env.step(action.numpy())
            obs_l.append(obs)
            act_l.append(action.numpy())
            rew_l.append(reward)
            term_l.append(terminated)
            trunc_l.append(truncated)
            next_l.append(next_obs)
            total += float(reward)
            obs = next_obs
            if terminated or truncated:
                break
        ep_returns.append(total)
    return Batch(
        obs=np.asarray(obs_l, dtype=np.float32),
        actions=np.asarray(act_l),
        rewards=np.asarray(rew_l, dtype=np.float64),
        terminated=np.asarray(term_l, dtype=bool),
        truncated=np.asarray(trunc_l, dtype=bool),
        next_obs=np.asarray(next_l, dtype=np.float32),
        episode_returns=np.asarray(ep_returns, dtype=np.float64),
    )


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
    obs = torch.as_tensor(batch.obs, dtype=torch.float32)
    actions = torch.as_tensor(batch.actions)
    values = value_net(obs).squeeze(-1)
    with torch.no_grad():
        next_values = value_net(torch.as_tensor(batch.next_obs, dtype=torch.float32)).squeeze(-1)
    G = returns_to_go(batch.rewards, batch.terminated, batch.truncated, next_values.numpy(), gamma)
    returns = torch.as_tensor(G, dtype=torch.float32)
    adv = advantages(returns, values, normalize)
    policy_loss = pg_loss(policy.log_prob(obs, actions), adv)
    value_loss = F.mse_loss(values, returns)
    policy_opt.zero_grad()
    policy_loss.backward()
    policy_opt.step()
    value_opt.zero_grad()
    value_loss.backward()
    value_opt.step()
    return {"policy_loss": policy_loss.item(), "value_loss": value_loss.item()}


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
    torch.manual_seed(seed)
    policy_opt = torch.optim.Adam([*policy.parameters(), *value_net.parameters()], lr=policy_lr)
    value_opt = policy_opt
    history: list[float] = []
    for i in range(iterations):
        batch = collect(env, policy, episodes_per_batch, seed=seed if i == 0 else None)
        reinforce_update(policy, value_net, policy_opt, value_opt, batch, gamma=gamma)
        history.extend(float(r) for r in batch.episode_returns)
    return history


# ----- task 5: continuous actions ----------------------------------------------------------------
def diag_gaussian_log_prob(
    mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    z = (actions - mean) * torch.exp(-log_std)
    per_dim = -0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)
    return per_dim.sum(-1)


class GaussianPolicy(nn.Module):
    def __init__(
        self, obs_dim: int, act_dim: int, hidden: int = 64, init_log_std: float = -0.5
    ) -> None:
        super().__init__()
        self.mean_net = mlp(obs_dim, act_dim, hidden)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mean_net(obs))

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return diag_gaussian_log_prob(self(obs), self.log_std, actions)

    def sample(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            mean = self(obs)
            return mean + torch.exp(self.log_std) * torch.randn_like(mean)


class PointReach(gym.Env):
    """A point mass on a plane pushed by a 2-D force towards a target."""

    def __init__(
        self,
        max_steps: int = 40,
        dt: float = 0.2,
        damping: float = 2.0,
        effort_cost: float = 0.05,
        goal_radius: float = 0.1,
    ) -> None:
        self.max_steps = max_steps
        self.dt = dt
        self.damping = damping
        self.effort_cost = effort_cost
        self.goal_radius = goal_radius
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.pos = np.zeros(2)
        self.vel = np.zeros(2)
        self.target = np.zeros(2)
        self.steps = 0

    def _obs(self) -> np.ndarray:
        return np.concatenate([self.pos - self.target, self.vel]).astype(np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-1.0, 1.0, size=2)
        self.target = self.np_random.uniform(-1.0, 1.0, size=2)
        self.vel = np.zeros(2)
        self.steps = 0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        force = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.vel = self.vel + self.dt * (force - self.damping * self.vel)
        self.pos = self.pos + self.dt * self.vel
        self.steps += 1
        distance = float(np.linalg.norm(self.pos - self.target))
        reward = -distance - self.effort_cost * float(np.sum(force**2))
        terminated = distance < self.goal_radius
        truncated = self.steps >= self.max_steps
        return self._obs(), reward, terminated, truncated, {}
