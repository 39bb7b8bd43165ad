"""Checks for p5-dqn: the replay memory read back through many samples, the target network and
the TD targets against the check's own, the loss and one gradient step compared parameter by
parameter, ε-greedy frequencies, a training loop watched step by step, and CartPole learned.

The loop is judged by watching it: the check wraps the environment and the learner's
``select_action``, ``ReplayBuffer``, ``train_step`` and ``update_target`` (each the module-level
name the loop calls) to record every reset, action, stored transition, gradient step and target
sync, and compares that record with what the README asks for. Everything is seeded and torch runs
on one thread; the networks of the unit checks are built and initialised by the check itself.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch._dynamo  # the first optimizer imports it (~1.3 s): the warm worker pays once
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    LEARNER_ERRORS,
    ForwardCalls,
    assert_array,
    assert_returned,
    assert_tensor,
    assert_tuple,
    call_learner,
    fail,
    fmt,
    matching_mistake,
    once_per_run,
    raised,
)

OBS_DIM = 4
N_ACTIONS = 3


# ----- networks the check builds ----------------------------------------------------------------
def ref_net(seed: int, obs_dim: int = OBS_DIM, n_actions: int = N_ACTIONS, hidden: int = 8) -> Any:
    """The lab's architecture with weights drawn from a generator of the check's own."""
    net = nn.Sequential(
        nn.Linear(obs_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_actions),
    )
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.6)
    return net


def flat(net: Any) -> np.ndarray:
    return torch.cat([p.detach().double().flatten() for p in net.parameters()]).numpy()


def same_params(a: Any, b: Any) -> bool:
    pa, pb = list(a.parameters()), list(b.parameters())
    return len(pa) == len(pb) and all(
        x.shape == y.shape and torch.equal(x.detach(), y.detach())
        for x, y in zip(pa, pb, strict=True)
    )


def call_torch(what: str, func: Any, *args: Any, hints: dict[str, str]) -> Any:
    """call_learner, with a hint only when torch's message shows the cause it points at."""
    try:
        return func(*args)
    except NotImplementedError:
        raise
    except LEARNER_ERRORS as exc:
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        hint = next((h for key, h in hints.items() if key in text), "")
        fail(f"{what} raised {type(exc).__name__}: {text}" + (f". {hint}" if hint else ""))


# ----- task 1: the replay memory ----------------------------------------------------------------
def transition(i: int) -> tuple[np.ndarray, int, float, np.ndarray, bool]:
    """Transition number i (from 1): its reward is i, so every sampled row names its origin."""
    obs = np.array([i, i + 0.25, -i, 0.5 * i], dtype=np.float32)
    return obs, i % N_ACTIONS, float(i), obs + 1000.0, i % 4 == 0


def new_buffer(learner: Any, capacity: int) -> Any:
    name = f"ReplayBuffer({capacity}, {OBS_DIM})"
    return call_learner(name, learner.ReplayBuffer, capacity, OBS_DIM)


def add(buffer: Any, i: int, capacity: int) -> None:
    call_learner(
        f"ReplayBuffer({capacity}, {OBS_DIM}).add(...) (transition {i})",
        buffer.add,
        *transition(i),
    )


def filled(learner: Any, capacity: int, n: int) -> Any:
    buffer = new_buffer(learner, capacity)
    for i in range(1, n + 1):
        add(buffer, i, capacity)
    return buffer


def buffer_len(buffer: Any, name: str) -> int:
    n = call_learner(f"len({name})", len, buffer)
    return int(n)


DTYPES = {
    "obs": ("float32", 2),
    "actions": ("int64", 1),
    "rewards": ("float32", 1),
    "next_obs": ("float32", 2),
    "terminated": ("float32", 1),
}


def sample(buffer: Any, batch_size: int, rng: np.random.Generator, name: str) -> list[np.ndarray]:
    """The five parts of a sample, each checked for type, dtype and shape."""
    call = f"{name}.sample({batch_size}, rng)"
    got = call_learner(call, buffer.sample, batch_size, rng)
    parts = assert_tuple(got, tuple(DTYPES), call)
    out = []
    for (field_name, (dtype, ndim)), part in zip(DTYPES.items(), parts, strict=True):
        if isinstance(part, torch.Tensor):
            fail(
                f"{call}.{field_name} is a torch.Tensor; the README asks for NumPy arrays "
                "(as_tensors turns a Batch into tensors)"
            )
        if not isinstance(part, np.ndarray):
            fail(f"{call}.{field_name} should be a NumPy array; got {type(part).__name__}")
        shape = (batch_size, OBS_DIM) if ndim == 2 else (batch_size,)
        if part.shape != shape:
            fail(f"{call}.{field_name} has shape {part.shape}; expected {shape}")
        if part.dtype != np.dtype(dtype):
            clue = ""
            if field_name == "terminated" and part.dtype == np.bool_:
                clue = " (store the flag as 1.0 / 0.0, so that 1 − terminated is arithmetic)"
            fail(f"{call}.{field_name} has dtype {part.dtype}; expected {dtype}{clue}")
        out.append(part)
    return out


def sampled_ids(parts: list[np.ndarray], call: str) -> np.ndarray:
    """The transition number of every row, after checking the row is one stored transition."""
    obs, actions, rewards, next_obs, terminated = parts
    ids = rewards.astype(np.int64)
    for row, i in enumerate(ids):
        if i <= 0 or not np.array_equal(obs[row], transition(int(i))[0]):
            if not np.any(obs[row]) and rewards[row] == 0:
                fail(
                    f"row {row} of {call} is all zeros: a slot that was never written. Sample "
                    "only among the slots written so far (indices below len(buffer), not the "
                    "whole capacity), and let the write position visit every slot "
                    "0..capacity − 1 before it wraps"
                )
            fail(
                f"row {row} of {call} mixes transitions: its reward is {fmt(rewards[row])} but "
                f"its obs is {fmt(obs[row].tolist())}. Use one set of indices for all five arrays"
            )
        want = transition(int(i))
        checks = (
            ("actions", actions[row], want[1]),
            ("next_obs", next_obs[row], want[3]),
            ("terminated", terminated[row], float(want[4])),
        )
        for what, got, exp in checks:
            if not np.array_equal(np.asarray(got), np.asarray(exp, dtype=np.asarray(got).dtype)):
                fail(
                    f"row {row} of {call} is transition {int(i)} (its obs and reward), but its "
                    f"{what} is {fmt(np.asarray(got).tolist())}; that transition was added with "
                    f"{what} = {fmt(np.asarray(exp).tolist())}. Use one set of indices for all "
                    "five arrays, and store each field as given"
                )
    return ids


@pytest.mark.task(1)
def test_buffer_length(learner: Any) -> None:
    buffer = new_buffer(learner, 8)
    name = "ReplayBuffer(8, 4)"
    if buffer_len(buffer, name) != 0:
        fail(f"len({name}) is {buffer_len(buffer, name)} before any add; expected 0")
    for i in range(1, 6):
        add(buffer, i, 8)
    if buffer_len(buffer, name) != 5:
        fail(f"len({name}) is {buffer_len(buffer, name)} after 5 adds; expected 5")
    for i in range(6, 14):
        add(buffer, i, 8)
    n = buffer_len(buffer, name)
    if n != 8:
        clue = ""
        if n == 13 % 8:
            clue = (
                ": that is the write position, which wraps to the start once the memory is "
                "full. Count the transitions held, up to the capacity"
            )
        elif n == 13:
            clue = ": it counts every add, but a full memory holds only `capacity` transitions"
        fail(f"len({name}) is {n} after 13 adds; expected 8, the capacity{clue}")


@pytest.mark.task(1)
def test_buffer_refuses_a_sample_larger_than_its_contents(learner: Any) -> None:
    buffer = filled(learner, 10, 3)
    error = raised(buffer.sample, 4, np.random.default_rng(0))
    if error is None:
        fail(
            "ReplayBuffer(10, 4).sample(4, rng) with 3 transitions stored returned a batch; "
            "expected ValueError: a batch cannot be drawn before the memory holds batch_size "
            "transitions (sampling with replacement from 3 would repeat them, and empty slots "
            "hold zeros)"
        )
    if not isinstance(error, ValueError):
        fail(
            f"ReplayBuffer(10, 4).sample(4, rng) with 3 transitions stored raised "
            f"{type(error).__name__}: {error}; expected ValueError"
        )
    sample(buffer, 3, np.random.default_rng(0), "ReplayBuffer(10, 4) holding 3")


@pytest.mark.task(1)
def test_buffer_batch_contract(learner: Any) -> None:
    buffer = filled(learner, 40, 25)
    name = "ReplayBuffer(40, 4) holding 25"
    rng = np.random.default_rng(1)
    for _ in range(20):
        parts = sample(buffer, 16, rng, name)
        sampled_ids(parts, f"{name}.sample(16, rng)")
    # flags arrive as Python and NumPy bools (an env returns np.bool_): rows must read 1.0 / 0.0
    buffer = new_buffer(learner, 8)
    for i in range(1, 9):
        obs, action, reward, next_obs, term = transition(i)
        flag = np.bool_(term) if i % 2 else term
        call_learner("ReplayBuffer(8, 4).add(...)", buffer.add, obs, action, reward, next_obs, flag)
    rng = np.random.default_rng(2)
    for _ in range(10):
        sampled_ids(
            sample(buffer, 8, rng, "ReplayBuffer(8, 4)"), "ReplayBuffer(8, 4).sample(8, rng)"
        )


def held_after(capacity: int, n: int, variant: str = "") -> set[int]:
    """Which transitions (1..n) a memory of `capacity` holds after n adds, right or wrong."""
    if variant == "stop":
        return set(range(1, min(n, capacity) + 1))
    if variant == "newest_slot":
        return set(range(1, capacity)) | {n}
    if variant == "slot0":
        return set(range(2, capacity + 1)) | {n}
    return set(range(max(1, n - capacity + 1), n + 1))


@pytest.mark.task(1)
def test_buffer_overwrites_the_oldest(learner: Any) -> None:
    capacity, n = 8, 13
    buffer = filled(learner, capacity, n)
    name = f"ReplayBuffer({capacity}, 4) after {n} adds"
    rng = np.random.default_rng(3)
    seen: set[int] = set()
    for _ in range(300):
        seen |= set(sampled_ids(sample(buffer, 4, rng, name), f"{name}.sample(4, rng)").tolist())
    want = held_after(capacity, n)
    if seen == want:
        return
    labels = {
        "stop": "a memory that stops storing once full (the newest transitions are the ones to "
        "keep: overwrite the oldest)",
        "newest_slot": "a full memory that keeps overwriting its last slot, so the newest "
        "transition replaces the previous newest instead of the oldest",
        "slot0": "a full memory that keeps overwriting slot 0 (the write position is computed "
        "from the size, which stops growing at capacity: advance the position on its own, "
        "position = (position + 1) % capacity)",
    }
    found = next((text for key, text in labels.items() if held_after(capacity, n, key) == seen), "")
    missing = sorted(want - seen)
    extra = sorted(seen - want)
    if not found and missing == [capacity] and not extra:
        found = (
            f"sampling that never reaches the last slot (index {capacity - 1}, which holds "
            f"transition {capacity}): rng.integers(0, n) already excludes n, so "
            "rng.integers(0, len(self) - 1) leaves a slot out"
        )
    prefix = f"{name} looks like {found}. " if found else ""
    fail(
        f"{prefix}Over 300 samples {name} returned transitions {sorted(seen)}; a ring buffer "
        f"holds the {capacity} newest, {sorted(want)}"
        + (f" (never sampled: {missing}" if missing else " (")
        + (f"; should be overwritten by now: {extra})" if extra else ")")
    )


@pytest.mark.task(1)
def test_buffer_samples_uniformly(learner: Any) -> None:
    capacity, n, batch, draws = 50, 30, 10, 2000
    buffer = filled(learner, capacity, n)
    name = f"ReplayBuffer({capacity}, 4) holding {n}"
    rng = np.random.default_rng(4)
    counts = np.zeros(n + 1)
    for _ in range(draws):
        ids = sampled_ids(sample(buffer, batch, rng, name), f"{name}.sample({batch}, rng)")
        np.add.at(counts, ids, 1)
    counts = counts[1:]
    expected = draws * batch / n
    sd = math.sqrt(draws * batch * (1 / n) * (1 - 1 / n))
    band = 5 * sd + 0.01 * expected
    worst = int(np.argmax(np.abs(counts - expected)))
    if abs(counts[worst] - expected) <= band:
        return
    clue = ""
    if counts[-1] == 0 and np.all(counts[:-1] > 0):
        clue = (
            " The newest transition was never sampled: rng.integers(0, len(buffer)) already "
            "excludes its upper bound, so `len(buffer) - 1` leaves the last one out."
        )
    elif counts[0] == 0 and np.all(counts[1:] > 0):
        clue = " The oldest transition was never sampled."
    fail(
        f"{name}: over {draws} samples of {batch}, transition {worst + 1} was drawn "
        f"{int(counts[worst])} times; uniform sampling draws each about {expected:.0f} ± "
        f"{band:.0f} times. Counts of transitions 1..{n}: {counts.astype(int).tolist()}.{clue}"
    )


@pytest.mark.task(1)
def test_buffer_draws_from_rng(learner: Any) -> None:
    buffer = filled(learner, 60, 60)
    name = "ReplayBuffer(60, 4) holding 60"

    def ids(seed: int, global_seed: int, calls: int = 2) -> tuple[list[list[int]], Any]:
        np.random.seed(global_seed)
        random.seed(global_seed)
        torch.manual_seed(global_seed)
        rng = np.random.default_rng(seed)
        before = rng.bit_generator.state
        out = [
            sampled_ids(sample(buffer, 12, rng, name), f"{name}.sample(12, rng)").tolist()
            for _ in range(calls)
        ]
        return out, before != rng.bit_generator.state

    first, advanced = ids(7, 1)
    again, _ = ids(7, 2)
    if not advanced:
        fail(
            f"{name}.sample(12, rng) did not draw from rng (its state is unchanged): it draws "
            "from another generator (np.random, random, or a new one). Use the rng it is given, "
            "e.g. rng.integers(0, len(self), size=batch_size)"
        )
    if first != again:
        fail(
            f"{name}.sample(12, rng) with the same rng seed gave different batches once the "
            "global generators were reseeded: it draws from the global generator (np.random "
            "or random) as well as from rng"
        )
    if first[0] == first[1]:
        fail(
            f"two calls of {name}.sample(12, rng) with one rng returned the same batch "
            f"{first[0]}: does sample create a new, fixed-seed generator on every call instead "
            "of drawing from rng?"
        )
    other, _ = ids(8, 1)
    if other == first:
        fail(f"{name}.sample(12, rng) gave the same batches for rng seeds 7 and 8")


@pytest.mark.task(1)
def test_buffer_copies_what_it_stores(learner: Any) -> None:
    buffer = new_buffer(learner, 6)
    obs = np.zeros(OBS_DIM, dtype=np.float32)
    nxt = np.zeros(OBS_DIM, dtype=np.float32)
    for i in range(1, 7):
        obs[:] = transition(i)[0]  # one array, refilled in place: some environments do this
        nxt[:] = transition(i)[3]
        _, action, reward, _, term = transition(i)
        call_learner("ReplayBuffer(6, 4).add(...)", buffer.add, obs, action, reward, nxt, term)
    rng = np.random.default_rng(5)
    for _ in range(20):
        parts = sample(buffer, 6, rng, "ReplayBuffer(6, 4)")
        for row, r in enumerate(parts[2]):
            if not np.array_equal(parts[0][row], transition(int(r))[0]):
                fail(
                    "ReplayBuffer(6, 4) kept references to the obs array it was given, not "
                    f"copies: transition {int(r)} now reads obs {fmt(parts[0][row].tolist())} "
                    f"(the array's latest contents), not {fmt(transition(int(r))[0].tolist())}. "
                    "Copy into your own arrays (self.obs[i] = obs copies; a list of the "
                    "arrays themselves does not)"
                )


# ----- task 2: the target network ---------------------------------------------------------------
def call_update(learner: Any, target: Any, online: Any, *tau: float) -> Any:
    what = "update_target(target_net, online_net" + (f", tau={tau[0]})" if tau else ")")
    return call_learner(
        what,
        learner.update_target,
        target,
        online,
        *tau,
        hint="Are the parameters updated under torch.no_grad()?",
    )


@pytest.mark.task(2)
def test_update_target_polyak(learner: Any) -> None:
    tau = 0.05
    online, target = ref_net(5), ref_net(6)
    original = copy.deepcopy(target)
    o, t = flat(online), flat(target)
    call_update(learner, target, online, tau)
    want = tau * o + (1 - tau) * t
    if not np.array_equal(flat(online), o):
        fail(f"update_target(..., tau={tau}) changed online_net: only the target moves")
    assert_array(
        flat(target),
        want,
        name=f"the target parameters after update_target(target_net, online_net, tau={tau})",
        rtol=1e-5,
        atol=1e-6,
        mistakes={
            "τ and 1 − τ swapped (the target keeps a fraction τ of itself and takes 1 − τ of "
            "the online network: θ_target ← τ·θ_online + (1 − τ)·θ_target)": (1 - tau) * o
            + tau * t,
            "a hard copy whatever tau is": o,
            "an unchanged target (was the update made on copies of the parameters?)": t,
            "a step of τ from the online network towards the target": o + tau * (t - o),
            "only the weights updated (the biases are parameters too)": lambda: partial_update(
                original, online, tau, "weight"
            ),
            "only the biases updated (the weights are parameters too)": lambda: partial_update(
                original, online, tau, "bias"
            ),
        },
    )
    for p in target.parameters():
        if p.grad is not None or not p.requires_grad:
            fail(
                "update_target changed how target_net's parameters take part in autograd "
                "(a .grad, or requires_grad switched off): update the values under "
                "torch.no_grad() and leave the rest alone"
            )


@pytest.mark.task(2)
def test_update_target_hard_copy(learner: Any) -> None:
    online, target = ref_net(1), ref_net(2)
    kept_online = flat(online)
    ids = [id(p) for p in target.parameters()]
    returned = call_update(learner, target, online)
    if not np.array_equal(flat(online), kept_online):
        fail("update_target(target_net, online_net) changed online_net: only the target moves")
    if [id(p) for p in target.parameters()] != ids:
        fail(
            "update_target replaced the parameters of target_net with new tensors; copy the "
            "values into the existing ones (p.copy_(...) under no_grad, or load_state_dict)"
        )
    if not np.allclose(flat(target), kept_online, rtol=1e-6, atol=1e-7):
        if isinstance(returned, nn.Module):
            fail(
                "update_target(target_net, online_net) returned a network and left target_net "
                "as it was: it must change target_net in place (the loop keeps using that "
                "object)"
            )
        diff = np.abs(flat(target) - kept_online)
        n_bad = int(np.sum(diff > 0))
        fail(
            f"after update_target(target_net, online_net) (tau = 1, a hard copy), {n_bad} of "
            f"{diff.size} target parameters differ from the online network's (max difference "
            f"{diff.max():.3g})" + biases_clue(target, online)
        )
    for p in target.parameters():
        if p.grad is not None:
            fail("update_target left a .grad on target_net: update it under torch.no_grad()")
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    if np.array_equal(flat(target), flat(online)):
        fail(
            "after update_target, changing online_net in place changed target_net too: they "
            "share memory (p_target.data = p_online.data). Copy the values: "
            "p_target.copy_(p_online)"
        )
    target2, online2 = ref_net(4), ref_net(3)
    call_update(learner, target2, online2, 1.0)
    if not np.allclose(flat(target2), flat(online2), rtol=1e-6, atol=1e-7):
        fail("update_target(target_net, online_net, tau=1.0) is not a hard copy")


def biases_clue(target: Any, online: Any) -> str:
    names = [
        n
        for (n, p), q in zip(target.named_parameters(), online.parameters(), strict=True)
        if not torch.equal(p.detach(), q.detach())
    ]
    if names and all(n.endswith("bias") for n in names):
        return ": only the biases differ. Update every parameter, not only the weights"
    if names and all(n.endswith("weight") for n in names):
        return ": only the weights differ. Update every parameter, the biases too"
    return f" ({', '.join(names[:4])})"


def partial_update(target: Any, online: Any, tau: float, only: str) -> np.ndarray:
    parts = []
    for (name, t), o in zip(target.named_parameters(), online.parameters(), strict=True):
        t, o = t.detach().double().flatten(), o.detach().double().flatten()
        parts.append(tau * o + (1 - tau) * t if name.endswith(only) else t)
    return torch.cat(parts).numpy()


def ref_td(
    rewards: Any,
    next_obs: Any,
    terminated: Any,
    gamma: float,
    target: Any,
    online: Any = None,
    variant: str = "",
) -> torch.Tensor:
    with torch.no_grad():
        q_t = target(next_obs)
        if variant == "online_max":
            best = online(next_obs).max(dim=1).values
        elif variant == "double_swapped":
            best = online(next_obs).gather(1, q_t.argmax(dim=1, keepdim=True)).squeeze(1)
        elif online is None or variant == "plain":
            best = q_t.max(dim=1).values
        else:
            best = q_t.gather(1, online(next_obs).argmax(dim=1, keepdim=True)).squeeze(1)
        if variant == "mean":
            best = q_t.mean(dim=1)
        g = 1.0 if variant == "no_gamma" else gamma
        if variant == "no_mask":
            return rewards + g * best
        if variant == "reward_masked":
            return (rewards + g * best) * (1 - terminated)
        if variant == "mask_inverted":
            return rewards + g * terminated * best
        if variant == "keepdim":
            return (rewards + g * (1 - terminated) * best).unsqueeze(1)
        if variant == "broadcast":
            return rewards + g * (1 - terminated) * best.unsqueeze(1)
        return rewards + g * (1 - terminated) * best


def td_inputs(seed: int, batch: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(batch, generator=g)
    next_obs = torch.randn(batch, OBS_DIM, generator=g)
    terminated = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0][:batch])
    return rewards, next_obs, terminated


def td_mistakes(inputs: tuple[Any, ...], gamma: float, target: Any, online: Any) -> dict[str, Any]:
    r, s2, d = inputs
    table = {
        "no terminal mask (a terminated transition has no future: its target is the reward "
        "alone; multiply the bootstrap by 1 − terminated)": lambda: ref_td(
            r, s2, d, gamma, target, online, "no_mask"
        ),
        "the mask the wrong way round (bootstrapping only where terminated is 1: use "
        "1 − terminated)": lambda: ref_td(r, s2, d, gamma, target, online, "mask_inverted"),
        "the reward masked too (a terminated transition keeps its reward: its target is r, "
        "only the bootstrap is multiplied by 1 − terminated)": lambda: ref_td(
            r, s2, d, gamma, target, online, "reward_masked"
        ),
        "γ left out of the bootstrap": lambda: ref_td(r, s2, d, gamma, target, online, "no_gamma"),
        "a mean over the actions instead of the max": lambda: ref_td(
            r, s2, d, gamma, target, online, "mean"
        ),
        "targets of shape (B, 1) (an unsqueeze): the targets are one number per transition, "
        "shape (B,)": lambda: ref_td(r, s2, d, gamma, target, online, "keepdim"),
        "(B,) rewards plus (B, 1) next-state values, which broadcast to (B, B): "
        "max(dim=1, keepdim=True) keeps a dimension the rewards do not have": lambda: ref_td(
            r, s2, d, gamma, target, online, "broadcast"
        ),
    }
    if online is not None:
        table["the plain DQN target (with online_net given, the online network chooses the "
              "action a* = argmax Q_online(s′) and the target network values it)"] = (
            lambda: ref_td(r, s2, d, gamma, target, None)
        )  # fmt: skip
        table["Double DQN with the roles swapped (the online network chooses, the target "
              "network values: Q_target(s′, argmax_a Q_online(s′, a)))"] = (
            lambda: ref_td(r, s2, d, gamma, target, online, "double_swapped")
        )  # fmt: skip
        table["the max of the online network (Double DQN evaluates the online network's "
              "choice with the target network)"] = (
            lambda: ref_td(r, s2, d, gamma, target, online, "online_max")
        )  # fmt: skip
    return table


def check_td(learner: Any, gamma: float, double: bool, seed: int) -> None:
    target = ref_net(10 + seed)
    online = ref_net(20 + seed) if double else None
    inputs = td_inputs(seed)
    kept = [x.clone() for x in inputs]
    name = f"td_targets(rewards (6,), next_obs (6, 4), terminated (6,), gamma={gamma}, " + (
        "target_net, online_net)" if double else "target_net)"
    )
    passed = [x.clone() for x in inputs]
    got = call_torch(
        name,
        learner.td_targets,
        *passed,
        gamma,
        target,
        online,
        hints={
            "must match the size": "The Q-values of next_obs are (B, n_actions): take the max "
            "(or the argmax) over dim=1, the actions",
            "only implemented on integer and Boolean": "terminated is a float32 tensor of "
            "1.0 / 0.0: mask with (1 − terminated)",
        },
    )
    for x, k, label in zip(passed, kept, ("rewards", "next_obs", "terminated"), strict=True):
        if not torch.equal(x, k):
            fail(f"{name} changed its input `{label}` in place: compute the targets out of place")
    want = ref_td(*inputs, gamma, target, online)
    if isinstance(got, torch.Tensor) and got.requires_grad:
        fail(
            f"{name} still requires grad: the target is a fixed number to regress towards. "
            "Compute it under torch.no_grad() (or .detach() it), or the loss will push the "
            "target network too and chase its own tail"
        )
    assert_tensor(
        got,
        want,
        name=name,
        rtol=1e-5,
        atol=1e-5,
        requires_grad=False,
        mistakes=td_mistakes(inputs, gamma, target, online),
    )


@pytest.mark.task(2)
def test_td_targets(learner: Any) -> None:
    check_td(learner, 0.9, False, 0)
    check_td(learner, 0.5, False, 1)


@pytest.mark.task(2)
def test_td_targets_double(learner: Any) -> None:
    check_td(learner, 0.9, True, 2)
    check_td(learner, 0.7, True, 3)


# ----- task 3: the loss and one gradient step ---------------------------------------------------
def loss_inputs(seed: int, batch: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(batch, OBS_DIM, generator=g)
    actions = torch.tensor([0, 2, 1, 1, 0, 2, 2, 1][:batch], dtype=torch.int64)
    net = ref_net(30 + seed)
    with torch.no_grad():
        q = net(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
    # errors on both sides of 1, so Huber, MSE and L1 all differ
    offsets = torch.tensor([0.3, -2.5, 0.8, 1.7, -0.4, 3.2, -0.9, -1.6][:batch])
    return obs, actions, (q + offsets).detach()


def ref_loss(net: Any, obs: Any, actions: Any, targets: Any, kind: str, variant: str = "") -> Any:
    q_all = net(obs)
    if variant == "gather0":
        q = q_all.gather(0, actions.unsqueeze(1)).squeeze(1)
    elif variant == "max":
        q = q_all.max(dim=1).values
    elif variant == "row_index":
        q = q_all.gather(1, actions.unsqueeze(0)).squeeze(0)
    elif variant == "no_squeeze":
        q = q_all.gather(1, actions.unsqueeze(1))
    else:
        q = q_all.gather(1, actions.unsqueeze(1)).squeeze(1)
    if variant == "sum":
        return (F.smooth_l1_loss if kind == "huber" else F.mse_loss)(q, targets, reduction="sum")
    if variant == "l1":
        return F.l1_loss(q, targets)
    if variant == "half":
        return 0.5 * F.mse_loss(q, targets)
    if variant.startswith("huber_delta_"):
        return F.huber_loss(q, targets, delta=float(variant.removeprefix("huber_delta_")))
    if variant.startswith("smooth_beta_"):
        return F.smooth_l1_loss(q, targets, beta=float(variant.removeprefix("smooth_beta_")))
    if variant == "sqrt":
        return torch.sqrt(F.mse_loss(q, targets))
    if kind == "huber":
        return F.smooth_l1_loss(q, targets)
    return F.mse_loss(q, targets)


def loss_mistakes(net: Any, obs: Any, actions: Any, targets: Any, kind: str) -> dict[str, Any]:
    def value(k: str, variant: str = "") -> Any:
        def compute() -> Any:
            with torch.no_grad(), np.errstate(all="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return ref_loss(net, obs, actions, targets, k, variant)

        return compute

    other = "mse" if kind == "huber" else "huber"
    return {
        "Q gathered along dim 0 (the batch) instead of dim 1 (the actions): "
        "q_net(obs).gather(1, actions.unsqueeze(1))": value(kind, "gather0"),
        "Q(s, a) of shape (B, 1) compared with targets of shape (B,): they broadcast to a "
        "(B, B) matrix of every pair; squeeze(1) after gather": value(kind, "no_squeeze"),
        "an index of shape (1, B) (unsqueeze(0)): every row reads the Q-values of the first "
        "state; the index for gather(1, ...) is actions.unsqueeze(1), shape (B, 1)": value(
            kind, "row_index"
        ),
        "the max Q of each state instead of the Q of the action taken (gather the taken "
        "actions)": value(kind, "max"),
        f"the {'MSE' if other == 'mse' else 'Huber (smooth L1)'} loss where "
        f"kind={kind!r} asks for {'Huber (smooth L1)' if kind == 'huber' else 'MSE'}": value(other),
        "a sum over the batch instead of the mean": value(kind, "sum"),
        "the L1 (absolute) loss: Huber is quadratic for errors below 1, linear above": value(
            kind, "l1"
        ),
        "half the MSE (F.mse_loss has no ½)": value(kind, "half"),
        **{
            f"{label}: the Huber threshold must be 1 (F.smooth_l1_loss with its default "
            "beta=1, the same as F.huber_loss with delta=1)": value(kind, variant)
            for d in (2.0, 0.5)
            for label, variant in (
                (f"a Huber threshold of {d:g} (F.huber_loss with delta={d:g})", f"huber_delta_{d}"),
                (
                    f"a Huber threshold of {d:g} (F.smooth_l1_loss with beta={d:g})",
                    f"smooth_beta_{d}",
                ),
            )
            if kind == "huber"
        },
        "the root of the MSE": value(kind, "sqrt"),
    }


def check_loss(learner: Any, kind: str, seed: int) -> None:
    net = ref_net(30 + seed)
    obs, actions, targets = loss_inputs(seed)
    kept = (obs.clone(), actions.clone(), targets.clone())
    name = f"dqn_loss(q_net, obs (8, 4), actions (8,), targets (8,), kind={kind!r})"
    got = call_torch(
        name,
        learner.dqn_loss,
        net,
        obs,
        actions,
        targets,
        kind,
        hints={
            "gather": "gather(1, index) needs an int64 index with as many dimensions as the "
            "Q-values: actions.unsqueeze(1), shape (B, 1)",
            "Index tensor must have the same number of dimensions": "gather(1, index) needs an "
            "index of shape (B, 1): actions.unsqueeze(1)",
        },
    )
    for x, k, label in zip(
        (obs, actions, targets), kept, ("obs", "actions", "targets"), strict=True
    ):
        if not torch.equal(x, k):
            fail(f"{name} changed its input `{label}` in place")
    want = ref_loss(net, obs, actions, targets, kind)
    if isinstance(got, torch.Tensor) and got.dim() != 0:
        fail(
            f"{name} has shape {tuple(got.shape)}; expected a single number (a 0-dim tensor): "
            "reduce with the mean over the batch"
        )
    assert_tensor(
        got,
        want.detach(),
        name=name,
        rtol=1e-5,
        atol=1e-6,
        requires_grad=True,
        mistakes=loss_mistakes(net, obs, actions, targets, kind),
    )
    params = list(net.parameters())
    mine = torch.autograd.grad(got, params, allow_unused=True)
    ref = torch.autograd.grad(want, params)
    for (pname, _), g1, g2 in zip(net.named_parameters(), mine, ref, strict=True):
        if g1 is None:
            fail(
                f"{name}: no gradient reaches q_net's `{pname}`; the loss must come from q_net(obs)"
            )
        assert_array(
            g1.numpy(),
            g2.numpy(),
            name=f"the gradient of {name} with respect to q_net's `{pname}`",
            rtol=1e-4,
            atol=1e-6,
        )


@pytest.mark.task(3)
def test_dqn_loss_huber(learner: Any) -> None:
    check_loss(learner, "huber", 0)
    check_loss(learner, "huber", 1)


@pytest.mark.task(3)
def test_dqn_loss_mse(learner: Any) -> None:
    check_loss(learner, "mse", 2)


@pytest.mark.task(3)
def test_dqn_loss_rejects_an_unknown_kind(learner: Any) -> None:
    net = ref_net(40)
    obs, actions, targets = loss_inputs(0)
    error = raised(learner.dqn_loss, net, obs, actions, targets, "l2")
    if error is None:
        fail(
            "dqn_loss(..., kind='l2') returned a loss; expected ValueError for a kind that is "
            "neither 'huber' nor 'mse' (a typo in a config should stop the run, not train "
            "another loss silently)"
        )
    if not isinstance(error, ValueError):
        fail(
            f"dqn_loss(..., kind='l2') raised {type(error).__name__}: {error}; expected ValueError"
        )


def make_batch(learner: Any, seed: int, n: int = 10) -> Any:
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, OBS_DIM)).astype(np.float32)
    parts = (
        obs,
        rng.integers(0, N_ACTIONS, size=n).astype(np.int64),
        rng.normal(size=n).astype(np.float32),
        (obs + rng.normal(scale=0.3, size=(n, OBS_DIM))).astype(np.float32),
        (rng.random(n) < 0.3).astype(np.float32),
    )
    return learner.Batch(*parts)


def learner_config(learner: Any, **fields: Any) -> Any:
    return call_learner("DQNConfig(...)", learner.DQNConfig, **fields)


def ref_steps(
    q0: Any,
    t0: Any,
    batches: list[Any],
    gamma: float,
    double: bool,
    kind: str,
    variant: str = "",
) -> tuple[list[np.ndarray], list[float]]:
    q, t = copy.deepcopy(q0), copy.deepcopy(t0)
    opt = torch.optim.SGD(q.parameters(), lr=0.05, momentum=0.9)
    out, losses = [], []
    for batch in batches:
        obs, actions, rewards, next_obs, term = (torch.as_tensor(np.asarray(x)) for x in batch)
        g = 0.99 if variant == "gamma_default" else gamma
        use_double = double if variant != "ignore_double" else False
        k = kind if variant != "always_huber" else "huber"
        tgt_net = q if variant == "online_target" else t
        targets = ref_td(rewards, next_obs, term, g, tgt_net, q if use_double else None)
        loss = ref_loss(q, obs, actions, targets, k)
        if variant != "no_zero_grad":
            opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(flat(q))
        losses.append(loss.item())
    return out, losses


def check_train_step(learner: Any, gamma: float, double: bool, kind: str, seed: int) -> None:
    q0, t0 = ref_net(50 + seed), ref_net(60 + seed)
    config = learner_config(learner, gamma=gamma, double=double, loss=kind)
    batches = [make_batch(learner, 70 + seed + k) for k in range(2)]
    q, t = copy.deepcopy(q0), copy.deepcopy(t0)
    opt = torch.optim.SGD(q.parameters(), lr=0.05, momentum=0.9)
    want, want_losses = ref_steps(q0, t0, batches, gamma, double, kind)
    label = f"DQNConfig(gamma={gamma}, double={double}, loss={kind!r})"
    for k, batch in enumerate(batches):
        name = f"train_step(q_net, target_net, optimizer, batch, {label})"
        got = call_learner(name, learner.train_step, q, t, opt, batch, config)
        if isinstance(got, torch.Tensor):
            fail(f"{name} returned a tensor; expected the loss as a Python float (loss.item())")
        assert_returned(got, name, what="the loss as a float")
        if isinstance(got, bool) or not isinstance(got, int | float | np.floating):
            fail(f"{name} should return the loss as a float; got {type(got).__name__}")
        if not same_params(t, t0):
            fail(
                f"{name} changed target_net: one gradient step moves the online network only "
                "(the target is synced by update_target, in the loop)"
            )
        if k == 0 and np.array_equal(flat(q), flat(q0)):
            fail(
                f"{name} left q_net unchanged: no optimizer.step() after loss.backward() (or "
                "zero_grad() between backward() and step())?"
            )
        variants = {
            "gradients that pile up from one call to the next: optimizer.zero_grad() is "
            "missing (call it before loss.backward())": "no_zero_grad",
            "targets computed with the online network instead of target_net": "online_target",
            "config.double ignored (Double DQN targets when config.double is True)": (
                "ignore_double"
            ),
            "config.loss ignored (the Huber loss is used whatever config.loss says)": (
                "always_huber"
            ),
            "γ = 0.99 whatever config.gamma says": "gamma_default",
        }
        assert_array(
            flat(q),
            want[k],
            name=f"q_net's parameters after call {k + 1} of {name}",
            rtol=1e-4,
            atol=1e-6,
            mistakes={
                text: (lambda v=v, k=k: ref_steps(q0, t0, batches, gamma, double, kind, v)[0][k])
                for text, v in variants.items()
            },
        )
        if not math.isclose(float(got), want_losses[k], rel_tol=1e-4, abs_tol=1e-6):
            fail(
                f"{name} returned {fmt(float(got))}; expected the loss before the step, "
                f"{fmt(want_losses[k])}"
            )


@pytest.mark.task(3)
def test_train_step(learner: Any) -> None:
    check_train_step(learner, 0.9, False, "huber", 0)
    check_train_step(learner, 0.8, True, "mse", 1)


# ----- task 4: exploration ----------------------------------------------------------------------
def ref_epsilon(step: int, start: float, end: float, decay: int) -> float:
    if decay <= 0 or step >= decay:
        return end
    return start + (end - start) * step / decay


@pytest.mark.task(4)
def test_linear_epsilon(learner: Any) -> None:
    cases = [
        (0, 1.0, 0.05, 1000),
        (1, 1.0, 0.05, 1000),
        (250, 1.0, 0.05, 1000),
        (999, 1.0, 0.05, 1000),
        (1000, 1.0, 0.05, 1000),
        (5000, 1.0, 0.05, 1000),
        (30, 0.5, 0.1, 40),
        (7, 0.3, 0.02, 0),
    ]
    for step, start, end, decay in cases:
        name = f"linear_epsilon({step}, {start}, {end}, {decay})"
        got = call_learner(
            name,
            learner.linear_epsilon,
            step,
            start,
            end,
            decay,
            errors=(ZeroDivisionError, ValueError, TypeError),
            hint="with decay_steps = 0 there is no decay: return end from the start",
        )
        assert_returned(got, name, what="ε")
        if isinstance(got, torch.Tensor) or not isinstance(got, int | float | np.floating):
            fail(f"{name} should be a float; got {type(got).__name__}")
        want = ref_epsilon(step, start, end, decay)
        if math.isclose(float(got), want, rel_tol=1e-9, abs_tol=1e-12):
            continue
        if decay == 0:
            fail(
                f"{name} is {fmt(float(got))}; expected {fmt(want)}: with decay_steps = 0 there "
                "is no decay, and ε is end from the start"
            )
        frac = step / decay if decay else 1.0
        guesses = {
            "ε that never decays (it stays at start)": start,
            "a decay that never stops at end (clip: after decay_steps, ε stays at end)": start
            + (end - start) * frac,
            "counting steps from 1 (step 0 has ε = start)": ref_epsilon(
                step + 1, start, end, decay
            ),
            "an exponential decay (the schedule is a straight line from start to end)": end
            + (start - end) * math.exp(-5 * frac),
            "ε and its complement swapped": 1 - want,
        }
        if decay > 1:
            guesses[
                "a line divided by decay_steps − 1 (it reaches end one step early): ε = start + "
                "(end − start) · step / decay_steps"
            ] = start + (end - start) * min(step / (decay - 1), 1.0)
        # a guess equal to the right answer here says nothing about this answer's slip
        guesses = {
            g: v
            for g, v in guesses.items()
            if not math.isclose(v, want, rel_tol=1e-9, abs_tol=1e-12)
        }
        label = matching_mistake(float(got), guesses, rtol=1e-9, atol=1e-12)
        prefix = f"{name} looks like {label}. " if label else ""
        fail(
            f"{prefix}{name} is {fmt(float(got))}; expected {fmt(want)} (a straight line from "
            "start at step 0 to end at step decay_steps, then end)"
        )


def greedy_of(net: Any, obs: np.ndarray) -> int:
    with torch.no_grad():
        return int(net(torch.as_tensor(obs).unsqueeze(0)).argmax(dim=1))


def as_action(value: Any, name: str, n_actions: int) -> int:
    assert_returned(value, name, what="an action index")
    if isinstance(value, torch.Tensor):
        fail(f"{name} returned a torch.Tensor ({value!r}); expected a Python int: .item() or int()")
    if isinstance(value, np.integer):
        fail(
            f"{name} returned a NumPy {type(value).__name__} ({fmt(value)}); the README asks "
            "for a Python int: wrap the action in int(...)"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"{name} should be an int (an action index); got {type(value).__name__} {value!r}")
    if not 0 <= value < n_actions:
        fail(f"{name} is {value}; expected an action in 0..{n_actions - 1}")
    return value


def select_obs(seed: int) -> tuple[Any, np.ndarray, int]:
    """A net, an observation and the greedy action there (the net is kept away from ties)."""
    net = ref_net(80 + seed)
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=OBS_DIM).astype(np.float32)
    return net, obs, greedy_of(net, obs)


@pytest.mark.task(4)
def test_select_action_distribution(learner: Any) -> None:
    n = 3000
    for case, epsilon in enumerate([0.3, 0.0, 1.0, 0.6]):
        net, obs, best = select_obs(case)
        name = f"select_action(q_net, obs, {epsilon}, {N_ACTIONS}, rng)"
        rng = np.random.default_rng(100 + case)
        counts = np.zeros(N_ACTIONS)
        with ForwardCalls(net) as log:
            for _ in range(n):
                passed = obs.copy()
                a = as_action(
                    call_torch(
                        name,
                        learner.select_action,
                        net,
                        passed,
                        epsilon,
                        N_ACTIONS,
                        rng,
                        hints={
                            "Dimension out of range": "obs is one observation of shape "
                            "(obs_dim,), so q_net(obs) is (n_actions,): give the network a "
                            "batch of one, obs[None] or unsqueeze(0), for a (1, n_actions) result",
                        },
                    ),
                    name,
                    N_ACTIONS,
                )
                if not np.array_equal(passed, obs):
                    fail(f"{name} changed the obs array it was given")
                counts[a] += 1
        if any(c.grad_enabled for c in log.calls):
            fail(
                f"{name} ran q_net with autograd on: choosing an action needs no gradient. "
                "Compute the Q-values under torch.no_grad() (each call would build a graph "
                "for nothing)"
            )
        freq = counts / n
        want = np.full(N_ACTIONS, epsilon / N_ACTIONS)
        want[best] += 1 - epsilon
        band = 5 * np.sqrt(want * (1 - want) / n) + 0.01
        if np.all(np.abs(freq - want) <= band):
            continue
        variants = {
            "ε and 1 − ε swapped (explore when rng.random() < ε)": (1 - epsilon, "all"),
            "the random branch never picking the greedy action (explore over all the actions)": (
                epsilon,
                "others",
            ),
            "the action with the smallest Q instead of the largest": (epsilon, "argmin"),
            "a random action that is never the last one (rng.integers(n) already excludes n: "
            "rng.integers(n - 1) drops action n − 1)": (epsilon, "last_out"),
        }
        found = ""
        for text, (eps, kind) in variants.items():
            alt = np.zeros(N_ACTIONS)
            if kind == "others":
                others = [i for i in range(N_ACTIONS) if i != best]
                alt[others] = eps / len(others)
            elif kind == "last_out":
                alt[: N_ACTIONS - 1] = eps / (N_ACTIONS - 1)
            else:
                alt += eps / N_ACTIONS
            with torch.no_grad():
                worst = int(net(torch.as_tensor(obs).unsqueeze(0)).argmin(dim=1))
            alt[worst if kind == "argmin" else best] += 1 - eps
            alt_band = 5 * np.sqrt(alt * (1 - alt) / n) + 0.01
            if not np.allclose(alt, want) and np.all(np.abs(freq - alt) <= alt_band):
                found = f"select_action looks like {text}. "
                break
        k = int(np.argmax(np.abs(freq - want) - band))
        fail(
            f"{found}{name} (greedy action {best}): over {n} calls action {k} came "
            f"{freq[k]:.3f} of the time; expected {want[k]:.3f} ± {band[k]:.3f}. Frequencies "
            f"{np.round(freq, 3).tolist()}, expected {np.round(want, 3).tolist()}: with "
            "probability ε a uniformly random action (any of them), otherwise the argmax of "
            "q_net(obs)"
        )


@pytest.mark.task(4)
def test_select_action_draws_from_rng(learner: Any) -> None:
    net, obs, _ = select_obs(7)
    name = f"select_action(q_net, obs, 0.5, {N_ACTIONS}, rng)"

    def draws(seed: int, global_seed: int) -> tuple[list[int], bool]:
        np.random.seed(global_seed)
        random.seed(global_seed)
        torch.manual_seed(global_seed)
        rng = np.random.default_rng(seed)
        before = rng.bit_generator.state
        out = [
            as_action(
                call_learner(name, learner.select_action, net, obs.copy(), 0.5, N_ACTIONS, rng),
                name,
                N_ACTIONS,
            )
            for _ in range(60)
        ]
        return out, before != rng.bit_generator.state

    first, advanced = draws(3, 1)
    if not advanced:
        fail(
            f"{name} never drew from rng (its state is unchanged after 60 calls): draw the "
            "exploration coin and the random action from the rng you are given, not from "
            "np.random, random or torch"
        )
    again, _ = draws(3, 2)
    if first != again:
        fail(
            f"60 calls of {name} with the same rng seed chose different actions once the "
            "global generators were reseeded: it draws from np.random, random or torch as well "
            "as from rng"
        )


# ----- task 5: the training loop ----------------------------------------------------------------
@dataclass
class Record:
    """Everything the watched loop did, in order."""

    config: Any = None
    rng: Any = None
    seed: int = 0
    env_steps: int = 0
    resets: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    choices: list[dict[str, Any]] = field(default_factory=list)
    buffers: list[dict[str, Any]] = field(default_factory=list)
    adds: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    train_steps: list[dict[str, Any]] = field(default_factory=list)
    syncs: list[dict[str, Any]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    obs: Any = None
    done: bool = True
    result: Any = None


class RecordingEnv(gym.Wrapper):
    def __init__(self, env: Any, rec: Record) -> None:
        super().__init__(env)
        self.rec = rec

    def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        rec = self.rec
        rec.resets.append({"seed": seed, "step": rec.env_steps, "after_done": rec.done})
        rec.obs, rec.done = np.array(obs, copy=True), False
        rec.order.append("reset")
        return obs, info

    def step(self, action: Any) -> Any:
        rec = self.rec
        if rec.done:
            fail(
                f"train_dqn called env.step() at step {rec.env_steps} without env.reset() after "
                "the episode ended (or before the first reset): reset when terminated or "
                "truncated"
            )
        obs, reward, terminated, truncated, info = self.env.step(action)
        rec.steps.append(
            {
                "obs": rec.obs,
                "action": action,
                "reward": float(reward),
                "next_obs": np.array(obs, copy=True),
                "terminated": bool(terminated),
                "truncated": bool(truncated),
            }
        )
        rec.env_steps += 1
        rec.obs, rec.done = np.array(obs, copy=True), bool(terminated or truncated)
        rec.order.append("step")
        return obs, reward, terminated, truncated, info


def watched(learner: Any, rec: Record) -> dict[str, Any]:
    """Wrappers of the learner's functions and class that write to ``rec``."""
    select_action = learner.select_action
    train_step = learner.train_step
    update_target = learner.update_target
    base = learner.ReplayBuffer

    def select_wrapper(q_net: Any, obs: Any, epsilon: float, n_actions: int, rng: Any) -> Any:
        action = select_action(q_net, obs, epsilon, n_actions, rng)
        rec.choices.append(
            {
                "step": rec.env_steps,
                "net": q_net,
                "obs": np.array(obs, copy=True),
                "epsilon": epsilon,
                "n_actions": n_actions,
                "rng": rng,
                "action": action,
            }
        )
        rec.order.append("select")
        return action

    class WatchedBuffer(base):  # type: ignore[misc, valid-type]
        def __init__(self, capacity: int, obs_dim: int, *args: Any, **kwargs: Any) -> None:
            super().__init__(capacity, obs_dim, *args, **kwargs)
            rec.buffers.append({"capacity": capacity, "obs_dim": obs_dim, "buffer": self})

        def add(self, *args: Any, **kwargs: Any) -> Any:
            names = ("obs", "action", "reward", "next_obs", "terminated")
            given = dict(zip(names, args, strict=False)) | kwargs
            rec.adds.append(
                {k: (np.array(v, copy=True) if k.endswith("obs") else v) for k, v in given.items()}
                | {"step": rec.env_steps}
            )
            rec.order.append("add")
            return super().add(*args, **kwargs)

        def sample(self, batch_size: int, rng: Any) -> Any:
            batch = super().sample(batch_size, rng)
            rec.samples.append(
                {"batch_size": batch_size, "rng": rng, "batch": batch, "held": len(self)}
            )
            rec.order.append("sample")
            return batch

    def train_wrapper(q_net: Any, target_net: Any, optimizer: Any, batch: Any, config: Any) -> Any:
        entry = {
            "step": rec.env_steps,
            "q_net": q_net,
            "target_net": target_net,
            "optimizer": optimizer,
            "batch": batch,
            "config": config,
            "held": len(rec.buffers[-1]["buffer"]) if rec.buffers else None,
        }
        if not rec.train_steps:
            entry["target_equals_online"] = np.allclose(
                flat(q_net), flat(target_net), rtol=1e-6, atol=1e-7
            )
            entry["optimizer_params"] = [p for g in optimizer.param_groups for p in g["params"]]
            entry["lr"] = optimizer.param_groups[0].get("lr")
        rec.train_steps.append(entry)
        rec.order.append("train")
        return train_step(q_net, target_net, optimizer, batch, config)

    def sync_wrapper(target_net: Any, online_net: Any, tau: float = 1.0) -> Any:
        rec.syncs.append(
            {"step": rec.env_steps, "target": target_net, "online": online_net, "tau": tau}
        )
        rec.order.append("sync")
        return update_target(target_net, online_net, tau)

    return {
        "select_action": select_wrapper,
        "train_step": train_wrapper,
        "update_target": sync_wrapper,
        "ReplayBuffer": WatchedBuffer,
    }


HARD = {
    "n_steps": 400,
    "gamma": 0.9,
    "lr": 2e-3,
    "hidden": 16,
    "buffer_capacity": 150,
    "batch_size": 16,
    "learning_starts": 60,
    "epsilon_start": 1.0,
    "epsilon_end": 0.1,
    "epsilon_decay_steps": 200,
    "target_update_every": 40,
    "tau": None,
    "double": False,
    "loss": "huber",
}
SOFT = HARD | {
    "n_steps": 200,
    "learning_starts": 50,
    "tau": 0.1,
    "double": True,
    "loss": "mse",
    "target_update_every": 30,
}
RUNS = {"hard": (HARD, 11), "soft": (SOFT, 12)}


@once_per_run
def recorded_run(learner: Any, which: str) -> Record:
    fields, seed = RUNS[which]
    rec = Record(seed=seed)
    rec.config = learner_config(learner, **fields)
    rec.rng = np.random.default_rng(seed)
    env = RecordingEnv(gym.make("CartPole-v1", max_episode_steps=20, disable_env_checker=True), rec)
    wrappers = watched(learner, rec)
    saved = {name: getattr(learner, name) for name in wrappers}
    try:
        for name, wrapper in wrappers.items():
            setattr(learner, name, wrapper)
        rec.result = call_learner(
            f"train_dqn(CartPole-v1 cut to 20 steps, DQNConfig({describe(fields)}), rng=..., "
            f"seed={seed})",
            learner.train_dqn,
            env,
            rec.config,
            rng=rec.rng,
            seed=seed,
        )
    finally:
        for name, value in saved.items():
            setattr(learner, name, value)
    return rec


def describe(fields: dict[str, Any]) -> str:
    keys = ("n_steps", "learning_starts", "target_update_every", "tau", "double")
    return ", ".join(f"{k}={fields[k]}" for k in keys)


def record_of(learner: Any, which: str) -> Record:
    rec, error = recorded_run(learner, which)
    if error is not None:
        raise error
    assert rec is not None
    return rec


def run_name(which: str) -> str:
    fields, seed = RUNS[which]
    return f"train_dqn(CartPole-v1 cut to 20 steps, DQNConfig({describe(fields)}), seed={seed})"


def check_episodes(rec: Record, name: str) -> None:
    if not rec.resets:
        fail(f"{name} never called env.reset()")
    first = rec.resets[0]
    if first["seed"] != rec.seed:
        fail(
            f"{name} first reset the env with seed={first['seed']!r}; expected "
            f"env.reset(seed=seed) (seed={rec.seed}), so that a run can be repeated"
        )
    reseeded = [k for k, r in enumerate(rec.resets[1:], start=1) if r["seed"] is not None]
    if reseeded:
        fail(
            f"{name} passed a seed to env.reset() again at reset {reseeded[0]}: only the first "
            "reset takes the seed; later ones continue the env's own random stream"
        )
    early = [r for r in rec.resets[1:] if not r["after_done"]]
    if early:
        fail(
            f"{name} reset the env at step {early[0]['step']} while the episode was still "
            "running: reset only when terminated or truncated"
        )
    n = rec.config.n_steps
    if rec.env_steps != n:
        fail(f"{name} took {rec.env_steps} environment steps; expected n_steps = {n}")


def check_choices(rec: Record, name: str, q_net: Any = None) -> None:
    cfg = rec.config
    if len(rec.choices) != len(rec.steps):
        fail(
            f"{name} called select_action {len(rec.choices)} times for {len(rec.steps)} "
            "environment steps: choose every action with select_action(q_net, obs, ε, "
            "n_actions, rng), once per step"
        )
    nets = {id(c["net"]) for c in rec.choices}
    if len(nets) > 1:
        fail(f"{name} chose actions with {len(nets)} different networks: act with the online q_net")
    for t, (choice, st) in enumerate(zip(rec.choices, rec.steps, strict=True)):
        if choice["step"] != t:
            fail(f"{name}: the action of step {t} was chosen at step {choice['step']}")
        if choice["action"] != st["action"]:
            fail(
                f"{name} chose action {choice['action']!r} with select_action at step {t} but "
                f"took {st['action']!r}: take the action select_action returns"
            )
        if choice["rng"] is not rec.rng:
            fail(
                f"{name} passed select_action a generator other than the rng it was given "
                f"(step {t}): pass rng itself, so one seed fixes the whole run"
            )
        if q_net is not None and choice["net"] is not q_net:
            fail(
                f"{name} chose the action of step {t} with a network other than the online "
                "q_net it trains (the one passed to train_step as q_net)"
            )
        if choice["n_actions"] != 2:
            fail(f"{name} told select_action n_actions={choice['n_actions']!r}; CartPole has 2")
        if not np.array_equal(choice["obs"], st["obs"]):
            fail(
                f"{name} chose the action of step {t} from obs {fmt(choice['obs'].tolist())}, "
                f"but the current observation was {fmt(st['obs'].tolist())}: after each step "
                "move on with obs = next_obs (and obs = env.reset()[0] after an episode ends)"
            )
    sched = (cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps)
    got = [float(c["epsilon"]) for c in rec.choices]
    want = [ref_epsilon(t, *sched) for t in range(len(got))]
    bad = [t for t, (a, b) in enumerate(zip(got, want, strict=True)) if not math.isclose(a, b)]
    if not bad:
        return
    episodes, updates, k, u = [], [], 0, 0
    train_at = {s["step"] for s in rec.train_steps}
    for t, st in enumerate(rec.steps):
        episodes.append(k)
        updates.append(u)
        k += st["terminated"] or st["truncated"]
        u += (t + 1) in train_at
    guesses = {
        "ε that never decays (it stays at epsilon_start)": [cfg.epsilon_start] * len(got),
        "ε computed from the episode count instead of the step count": [
            ref_epsilon(e, *sched) for e in episodes
        ],
        "ε computed from the number of gradient steps instead of the environment steps": [
            ref_epsilon(n, *sched) for n in updates
        ],
        "steps counted from 1 (step 0 should have ε = epsilon_start)": [
            ref_epsilon(t + 1, *sched) for t in range(len(got))
        ],
    }
    label = matching_mistake(np.asarray(got), {g: np.asarray(v) for g, v in guesses.items()})
    prefix = f"{name} looks like {label}. " if label else ""
    t = bad[0]
    fail(
        f"{prefix}{name} explored with ε = {fmt(got[t])} at step {t} (episode {episodes[t]}); "
        f"expected linear_epsilon({t}, {cfg.epsilon_start}, {cfg.epsilon_end}, "
        f"{cfg.epsilon_decay_steps}) = {fmt(want[t])}, with t counting environment steps from 0 "
        f"({len(bad)} of {len(got)} steps differ)"
    )


def check_memory(rec: Record, name: str) -> None:
    cfg = rec.config
    if len(rec.buffers) != 1:
        fail(
            f"{name} built {len(rec.buffers)} ReplayBuffer objects; expected one, "
            "ReplayBuffer(config.buffer_capacity, obs_dim), kept for the whole run"
        )
    made = rec.buffers[0]
    if made["capacity"] != cfg.buffer_capacity or made["obs_dim"] != 4:
        fail(
            f"{name} built ReplayBuffer({made['capacity']!r}, {made['obs_dim']!r}); expected "
            f"ReplayBuffer({cfg.buffer_capacity}, 4): config.buffer_capacity and CartPole's "
            "observation size"
        )
    if len(rec.adds) != len(rec.steps):
        fail(
            f"{name} added {len(rec.adds)} transitions to the memory in {len(rec.steps)} "
            "steps; expected one add per environment step"
        )
    for t, (added, st) in enumerate(zip(rec.adds, rec.steps, strict=True)):
        if added["step"] != t + 1:
            fail(f"{name} stored the transition of step {t} after step {added['step'] - 1}")
        if not np.array_equal(np.asarray(added.get("obs"), dtype=np.float32), st["obs"]):
            fail(
                f"{name} stored obs {fmt(np.asarray(added.get('obs')).tolist())} for step {t}, "
                f"where the action was taken in {fmt(st['obs'].tolist())}"
            )
        if added.get("action") != st["action"]:
            fail(
                f"{name} stored action {added.get('action')!r} for step {t}; it took {st['action']!r}"
            )
        if not math.isclose(float(added.get("reward", math.nan)), st["reward"]):
            fail(
                f"{name} stored reward {added.get('reward')!r} for step {t}; the env gave {st['reward']}"
            )
        if not np.array_equal(np.asarray(added.get("next_obs"), dtype=np.float32), st["next_obs"]):
            after_reset = any(r["step"] == t + 1 for r in rec.resets)
            clue = (
                ": that is the first observation of the next episode. Store the next_obs that "
                "env.step returned, before resetting"
                if after_reset
                else ""
            )
            fail(
                f"{name} stored next_obs {fmt(np.asarray(added.get('next_obs')).tolist())} for "
                f"step {t}; env.step returned {fmt(st['next_obs'].tolist())}{clue}"
            )
        flag = bool(added.get("terminated"))
        if flag != st["terminated"]:
            flags = [bool(a.get("terminated")) for a in rec.adds]
            if flags == [x["truncated"] for x in rec.steps]:
                fail(
                    f"{name} stored `truncated` as the terminated flag: step {t} was "
                    f"terminated={st['terminated']}, truncated={st['truncated']}. Store "
                    "`terminated`: a fall ends the episode's future, a time limit does not"
                )
            if st["truncated"] and flag:
                fail(
                    f"{name} stored terminated=True for step {t}, where the episode was "
                    "truncated by the time limit, not terminated: a truncated state still has "
                    "a future, so its target must bootstrap. Store `terminated`, not "
                    "`terminated or truncated`"
                )
            fail(
                f"{name} stored terminated={flag} for step {t}; the env said "
                f"terminated={st['terminated']}, truncated={st['truncated']}"
            )


def check_learning(rec: Record, name: str) -> Any:
    cfg = rec.config
    if not rec.train_steps:
        most = max((len(b["buffer"]) for b in rec.buffers), default=0)
        fail(
            f"{name} never called train_step in {cfg.n_steps} steps (learning_starts = "
            f"{cfg.learning_starts}); its memory held at most {most} transitions"
            + (f" across {len(rec.buffers)} ReplayBuffer objects" if len(rec.buffers) > 1 else "")
        )
    first = rec.train_steps[0]
    adds_before, steps_before = 0, 0
    for event in rec.order:
        if event == "add":
            adds_before += 1
        elif event == "step":
            steps_before += 1
        elif event in ("sample", "train") and adds_before < steps_before:
            fail(
                f"{name} {'sampled the memory' if event == 'sample' else 'called train_step'} "
                f"after environment step {steps_before - 1} before adding that step's "
                "transition: the README's order is env.step, buffer.add, then the gradient "
                "step on a batch sampled from a memory that already holds the new transition"
            )
    steps = [s["step"] for s in rec.train_steps]
    want = list(range(steps[0], cfg.n_steps + 1))
    if steps != want:
        wrong = next((a, b) for a, b in zip([*steps, None], [*want, None], strict=False) if a != b)
        gaps = {b - a for a, b in itertools.pairwise(steps)}
        if len(gaps) == 1 and (gap := gaps.pop()) > 1:
            fail(
                f"{name} made a gradient step every {gap} environment steps ({len(steps)} in "
                f"all); this lab trains after every step once learning starts ({len(want)})"
            )
        fail(
            f"{name} made {len(steps)} gradient steps from step {steps[0]}; expected one "
            f"train_step after every environment step from then on ({len(want)}); the first "
            f"difference: a gradient step after step {wrong[0]}, expected after {wrong[1]}"
        )
    if first["held"] != cfg.learning_starts:
        clue = ""
        if first["held"] == cfg.learning_starts + 1:
            clue = (
                ": one transition late, as with len(buffer) > learning_starts. The test is "
                "len(buffer) >= learning_starts (not >)"
            )
        fail(
            f"{name} made its first gradient step when the memory held {first['held']} "
            f"transitions; expected {cfg.learning_starts} (learning_starts): train once "
            f"len(buffer) >= learning_starts{clue}"
        )
    q_net = first["q_net"]
    if rec.choices and rec.choices[0]["net"] is not q_net:
        fail(
            f"{name} chose its actions with a network other than the online q_net it trains "
            "(the one passed to train_step as q_net)"
        )
    for s in rec.train_steps:
        if s["q_net"] is not q_net:
            fail(f"{name} passed train_step different q_net objects: train one online network")
        if s["target_net"] is q_net:
            fail(
                f"{name} passed the online q_net as target_net: the targets then move with "
                "every gradient step. Keep a separate target network, synced by update_target"
            )
        if s["target_net"] is not first["target_net"]:
            fail(
                f"{name} passed train_step a new target_net object at step {s['step']}: keep "
                "one target network and update it in place with update_target"
            )
        if s["config"] is not rec.config:
            fail(f"{name} passed train_step a config other than the one it was given")
    if not first["target_equals_online"]:
        fail(
            f"{name}: at the first gradient step target_net and q_net had different weights. "
            "Start the target as a copy of the online network (update_target(target, q_net, "
            "1.0) or copy.deepcopy)"
        )
    mine = {id(p) for p in q_net.parameters()}
    given = {id(p) for p in first["optimizer_params"]}
    if given != mine:
        clue = ""
        if given == {id(p) for p in first["target_net"].parameters()}:
            clue = ": it holds the target network's parameters"
        fail(
            f"{name}'s optimizer does not hold exactly q_net's parameters{clue}. Build it as "
            "torch.optim.Adam(q_net.parameters(), lr=config.lr)"
        )
    want_shapes = [tuple(p.shape) for p in ref_net(0, 4, 2, cfg.hidden).parameters()]
    shapes = [tuple(p.shape) for p in q_net.parameters()]
    if shapes != want_shapes:
        fail(
            f"{name} trained a q_net with parameter shapes {shapes}; "
            f"make_q_net(4, 2, config.hidden) with config.hidden = {cfg.hidden} has "
            f"{want_shapes}"
        )
    if first["lr"] is None or not math.isclose(float(first["lr"]), cfg.lr):
        fail(f"{name}'s optimizer has lr={first['lr']!r}; expected config.lr = {cfg.lr}")
    for k, s in enumerate(rec.train_steps):
        matching = [x for x in rec.samples if x["batch"] is s["batch"]]
        if not matching:
            fail(
                f"{name} passed train_step a batch that was not drawn by buffer.sample (gradient "
                f"step {k})"
            )
        drawn = matching[0]
        if drawn["batch_size"] != cfg.batch_size:
            fail(
                f"{name} sampled batches of {drawn['batch_size']}; expected config.batch_size = "
                f"{cfg.batch_size}"
            )
        if drawn["rng"] is not rec.rng:
            fail(f"{name} sampled the memory with a generator other than the rng it was given")
    if len(rec.samples) != len(rec.train_steps):
        fail(
            f"{name} sampled the memory {len(rec.samples)} times for {len(rec.train_steps)} "
            "gradient steps: one fresh batch per gradient step"
        )
    return q_net


def check_syncs(rec: Record, name: str, q_net: Any, target: Any) -> None:
    cfg = rec.config
    for s in rec.syncs:
        if s["target"] is not target or s["online"] is not q_net:
            swapped = s["target"] is q_net and s["online"] is target
            fail(
                f"{name} called update_target at step {s['step']} with "
                + (
                    "the arguments swapped: update_target(target_net, online_net) copies the "
                    "online network into the target, not the other way round"
                    if swapped
                    else "networks other than the loop's target_net and q_net"
                )
            )
    later = [s for s in rec.syncs if s["step"] > 0]
    if cfg.tau is None:
        soft = [s for s in later if not math.isclose(float(s["tau"]), 1.0)]
        if soft:
            fail(
                f"{name} called update_target with tau={soft[0]['tau']!r} while config.tau is "
                "None: without tau the target is a hard copy (tau = 1.0) every "
                "target_update_every steps"
            )
        C = cfg.target_update_every
        if not later:
            fail(
                f"{name} never synced the target network in {cfg.n_steps} steps: it stays at "
                f"its first weights. Call update_target(target_net, q_net) every {C} "
                "environment steps"
            )
        gaps = sorted({b["step"] - a["step"] for a, b in itertools.pairwise(later)})
        if gaps and gaps != [C]:
            every = "every environment step" if gaps == [1] else f"at intervals {gaps[:5]}"
            fail(
                f"{name} synced the target network {every} ({len(later)} syncs); expected a "
                f"hard copy every {C} environment steps (target_update_every)"
                + (": a target that follows every step is no fixed target" if gaps == [1] else "")
            )
        want_steps = list(range(C, cfg.n_steps + 1, C))
        got_steps = [s["step"] for s in later]
        if gaps == [C] and got_steps == [k - C + 1 for k in want_steps]:
            fail(
                f"{name} synced the target after environment steps "
                f"{[k - 1 for k in got_steps[:3]]}…; expected after steps "
                f"{[k - 1 for k in want_steps[:3]]}…: that is t % C == 0 (which syncs "
                f"after step 0 already). Sync when (t + 1) % C == 0, after every {C} steps taken"
            )
        if later[0]["step"] > C or len(later) != cfg.n_steps // C:
            offset = later[0]["step"] - (rec.train_steps[0]["step"] if rec.train_steps else 0)
            clue = ""
            if gaps == [C] and rec.train_steps and C - 1 <= offset <= C + 1:
                clue = (
                    ": it counts gradient steps (which start at learning_starts), not "
                    "environment steps"
                )
            fail(
                f"{name} synced the target {len(later)} times, first at step "
                f"{later[0]['step']}; expected {cfg.n_steps // C} syncs, every {C} environment "
                f"steps from the start{clue}"
            )
        if got_steps != want_steps:
            bad = next((a, b) for a, b in zip(got_steps, want_steps, strict=True) if a != b)
            fail(
                f"{name} synced the target after environment steps "
                f"{[k - 1 for k in got_steps[:4]]}…; expected after steps "
                f"{[k - 1 for k in want_steps[:4]]}… (t counts from 0: a hard copy when "
                f"(t + 1) % {C} == 0); the first difference: after step {bad[0] - 1}, "
                f"expected {bad[1] - 1}"
            )
        return
    if len(later) != len(rec.train_steps):
        fail(
            f"{name} called update_target {len(later)} times for {len(rec.train_steps)} "
            f"gradient steps; with tau = {cfg.tau}, Polyak-average the target after every "
            "gradient step, and only then"
        )
    bad = [s for s in later if not math.isclose(float(s["tau"]), cfg.tau)]
    if bad:
        fail(
            f"{name} called update_target with tau={bad[0]['tau']!r}; expected config.tau = {cfg.tau}"
        )
    order = [e for e in rec.order if e in ("train", "sync")]
    pairs = order[order.index("train") :] if "train" in order else []
    if pairs != ["train", "sync"] * len(rec.train_steps):
        fail(
            f"{name}: each Polyak update should follow its gradient step (train_step, then update_target)"
        )


def check_returns(rec: Record, name: str, q_net: Any) -> None:
    result = rec.result
    net, returns = assert_tuple(result, ("q_net", "returns"), name)
    if net is not q_net:
        if net is rec.train_steps[0]["target_net"]:
            fail(f"{name} returned the target network; return the online q_net")
        fail(f"{name} returned a network other than the q_net it trained")
    sums, total = [], 0.0
    for st in rec.steps:
        total += st["reward"]
        if st["terminated"] or st["truncated"]:
            sums.append(total)
            total = 0.0
    if isinstance(returns, np.ndarray) and returns.dtype != np.float64:
        fail(
            f"the returns from {name} are a NumPy array of dtype {returns.dtype}; the README "
            "asks for a float64 array (np.asarray(returns, dtype=np.float64))"
        )
    if returns is not None and not isinstance(returns, np.ndarray):
        fail(
            f"the returns from {name} are a {type(returns).__name__}; the README asks for a "
            "float64 NumPy array (np.asarray(returns, dtype=np.float64))"
        )
    got = np.asarray(returns, dtype=np.float64) if returns is not None else None
    assert_array(
        got,
        np.asarray(sums),
        name=f"returns from {name}",
        rtol=1e-9,
        mistakes={
            "the unfinished last episode counted too (returns holds completed episodes only)": (
                np.asarray([*sums, total])
            ),
            "a running total never reset between episodes (start each episode's return at 0)": (
                np.cumsum(sums)
            ),
        },
    )


@pytest.mark.task(5)
def test_loop_episodes_and_actions(learner: Any) -> None:
    rec = record_of(learner, "hard")
    name = run_name("hard")
    check_episodes(rec, name)
    check_choices(rec, name)


@pytest.mark.task(5)
def test_loop_fills_the_memory(learner: Any) -> None:
    rec = record_of(learner, "hard")
    check_memory(rec, run_name("hard"))


@pytest.mark.task(5)
def test_loop_learns_from_samples(learner: Any) -> None:
    rec = record_of(learner, "hard")
    check_learning(rec, run_name("hard"))


@pytest.mark.task(5)
def test_loop_syncs_the_target_every_c_steps(learner: Any) -> None:
    rec = record_of(learner, "hard")
    name = run_name("hard")
    q_net = check_learning(rec, name)
    check_syncs(rec, name, q_net, rec.train_steps[0]["target_net"])
    check_returns(rec, name, q_net)


@pytest.mark.task(5)
def test_loop_polyak_and_double(learner: Any) -> None:
    rec = record_of(learner, "soft")
    name = run_name("soft")
    check_episodes(rec, name)
    q_net = check_learning(rec, name)
    check_syncs(rec, name, q_net, rec.train_steps[0]["target_net"])


@pytest.mark.task(5)
def test_runs_are_repeatable(learner: Any) -> None:
    fields = HARD | {"n_steps": 150, "learning_starts": 40}

    def run(np_seed: int, torch_seed: int) -> tuple[np.ndarray, np.ndarray]:
        np.random.seed(np_seed)
        random.seed(np_seed)
        torch.manual_seed(torch_seed)
        env = gym.make("CartPole-v1", max_episode_steps=20, disable_env_checker=True)
        result = call_learner(
            "train_dqn(...)",
            learner.train_dqn,
            env,
            learner_config(learner, **fields),
            rng=np.random.default_rng(5),
            seed=5,
        )
        net, returns = assert_tuple(result, ("q_net", "returns"), "train_dqn(...)")
        return flat(net), np.asarray(returns, dtype=np.float64)

    base = run(1, 1)
    other_np = run(2, 1)
    other_torch = run(1, 2)
    what = "train_dqn(CartPole-v1, ..., rng=default_rng(5), seed=5)"
    if not all(np.array_equal(a, b) for a, b in zip(base, other_np, strict=True)):
        fail(
            f"two runs of {what} gave different results once np.random and random were "
            "reseeded: some random number comes from the global generators. Draw every one "
            "from rng"
        )
    if not all(np.array_equal(a, b) for a, b in zip(base, other_torch, strict=True)):
        fail(
            f"two runs of {what} gave different results once torch's global seed changed: "
            "the network's initial weights are not fixed by seed. Call torch.manual_seed(seed) "
            "before building the networks"
        )


LEARN_STEPS = 5000
LEARN_TARGET = 150.0
LEARN_WINDOW = 10
LEARN = {
    "n_steps": LEARN_STEPS,
    "gamma": 0.99,
    "lr": 1e-3,
    "hidden": 64,
    "buffer_capacity": 10_000,
    "batch_size": 64,
    "learning_starts": 500,
    "epsilon_start": 1.0,
    "epsilon_end": 0.05,
    "epsilon_decay_steps": 2000,
    "target_update_every": 250,
    "tau": None,
    "double": False,
    "loss": "huber",
}


def random_policy_return(episodes: int = 300) -> float:
    env = gym.make("CartPole-v1", disable_env_checker=True)
    rng = np.random.default_rng(0)
    total = 0.0
    for k in range(episodes):
        env.reset(seed=1000 + k)
        done = False
        while not done:
            _, r, term, trunc, _ = env.step(int(rng.integers(2)))
            total += float(r)
            done = term or trunc
    return total / episodes


@pytest.mark.task(5)
def test_learns_cartpole(learner: Any) -> None:
    env = gym.make("CartPole-v1", disable_env_checker=True)
    name = f"train_dqn(CartPole-v1, DQNConfig(n_steps={LEARN_STEPS}), rng=default_rng(0), seed=0)"
    result = call_learner(
        name,
        learner.train_dqn,
        env,
        learner_config(learner, **LEARN),
        rng=np.random.default_rng(0),
        seed=0,
    )
    _, returns = assert_tuple(result, ("q_net", "returns"), name)
    returns = np.asarray(returns, dtype=np.float64)
    if len(returns) < LEARN_WINDOW:
        fail(
            f"{name} finished only {len(returns)} episodes; the check needs at least "
            f"{LEARN_WINDOW} to average"
        )
    means = np.convolve(returns, np.ones(LEARN_WINDOW) / LEARN_WINDOW, mode="valid")
    if means.max() >= LEARN_TARGET:
        return
    best = int(np.argmax(means))
    ends = np.cumsum(returns)
    baseline = random_policy_return()
    fail(
        f"{name} did not reach a mean return of {LEARN_TARGET:g} over {LEARN_WINDOW} "
        f"consecutive episodes within {LEARN_STEPS} steps: its best was {means[best]:.1f} "
        f"(episodes {best}–{best + LEARN_WINDOW - 1}, ending at step "
        f"{int(ends[best + LEARN_WINDOW - 1])}), the last {LEARN_WINDOW} averaged "
        f"{means[-1]:.1f}; a random policy averages {baseline:.1f} (the reference passes "
        f"{LEARN_TARGET:g} after about 3,000 steps)"
    )
