"""Did the learner's code draw from (or reseed) a global random generator?

A lab that hands the learner a seeded ``rng`` asks for results that depend on that seed alone.
Code that calls ``np.random.choice`` or ``random.seed(0)`` instead can still give plausible,
even reproducible numbers — but it moves (or resets) the stream every other part of a program
draws from, and the same ``rng`` no longer gives the same answer once something else drew
first.  The only trustworthy evidence is the generators' own state: it is read before and after
the call, so a message names exactly the generators whose state moved.

torch's generator is looked at only when torch is already imported: a NumPy lab must not pay
for loading it.  In the trusted mode the states are read in the learner's process, where its
code runs (:func:`aipath.grader.remote.global_generator_states`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aipath.checks.failure import fail

__all__ = ["GLOBAL_GENERATORS", "assert_no_global_draws", "global_draws", "moved_generators"]

T = TypeVar("T")

GLOBAL_GENERATORS = {
    "random": "Python's global `random` generator (random.seed, random.random, random.sample, …)",
    "numpy": "NumPy's global generator (np.random.seed, np.random.rand, np.random.choice, …)",
    "torch": "torch's global generator (torch.manual_seed, torch.rand, torch.randperm, …)",
}
"""What each global generator is called in a message, with the calls that use it."""

_State = dict[str, Any]


def _snapshot() -> _State:
    """The global generators' states where learner code runs.

    In the shared mode that is this process; in the trusted mode (``verdict_process =
    "trusted"``) the learner's own process, asked over the check's connection to it.
    """
    from aipath.grader.remote import active_peer, global_generator_states

    peer = active_peer()
    return peer.learner_generator_states() if peer is not None else global_generator_states()


def moved_generators(before: _State, after: _State) -> list[str]:
    """Names (keys of :data:`GLOBAL_GENERATORS`) of the generators whose state differs."""
    return [name for name in GLOBAL_GENERATORS if name in before and before[name] != after[name]]


def global_draws(func: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, list[str]]:
    """``func(*args, **kwargs)`` and the global generators whose state it moved.

    Reseeding counts as moving: after ``np.random.seed(0)`` inside the function the state differs
    from the one before (unless it was exactly that seed's state already).
    """
    before = _snapshot()
    result = func(*args, **kwargs)
    return result, moved_generators(before, _snapshot())


def assert_no_global_draws(
    what: str,
    func: Callable[..., T],
    *args: Any,
    advice: str = "draw only from the `rng` you are given, so the same seed gives the same answer",
    **kwargs: Any,
) -> T:
    """``func(*args, **kwargs)``, failing when it drew from or reseeded a global generator.

    The message says which generators moved, measured, and then ``advice``::

        boot = assert_no_global_draws("bootstrap_statistics(data, np.mean, 300, rng)",
                                      learner.bootstrap_statistics, data, np.mean, 300, rng)
    """
    result, moved = global_draws(func, *args, **kwargs)
    if moved:
        names = " and ".join(GLOBAL_GENERATORS[name] for name in moved)
        fail(
            f"{what} drew from (or reseeded) {names}: its state moved during the call. "
            f"{advice[0].upper()}{advice[1:]}"
        )
    return result
