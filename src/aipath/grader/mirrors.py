"""A check's random generator is one generator on both sides of the trusted verdict process.

In one process, ``learner.iterate_minibatches(X, y, 5, rng)`` called twice gives two different
orders: the learner's function draws from the check's ``rng`` and leaves it moved on.  Across the
boundary a generator used to cross as a copy of its state, with the copy's state sent back when
the *call* returned.  That missed every draw made later: a learner's generator function (``yield``)
draws while the check iterates it, an agent keeps the ``rng`` it was given and draws on the next
call, and ``rng is self.rng`` in a check's spy never held.

So a ``numpy.random.Generator`` of the checks crosses as a *mirror*: the learner's process builds
one generator per check generator (the same object every time it crosses, so identity holds
there), and every message either side sends carries the state of each mirrored generator that
moved since the last message.  The conversation takes turns, so at any moment one side runs and
the other waits: the state that arrives is always the newest.  A mirror that crosses back is the
check's own generator again.

Only the checks' side creates mirrors.  A generator made by learner code crosses as a copy, as
before (its state still comes back after a call that was given it).  What learner code sends is
decoded strictly: a mirror number the checks never sent, or a state NumPy refuses, is a protocol
error, never a new object on the checks' side.
"""

from __future__ import annotations

from typing import Any

from aipath.grader.codec import DecodeError, build_generator

__all__ = ["GeneratorMirrors"]


class GeneratorMirrors:
    """One side's table of mirrored generators: number → generator, and the last state synced."""

    def __init__(self, *, creates: bool) -> None:
        self._creates = (
            creates  # the checks' side numbers its generators; the learner's mirrors them
        )
        self._by_id: dict[int, Any] = {}
        self._ids: dict[int, int] = {}  # id(generator) → number (the table keeps each alive)
        self._synced: dict[int, Any] = {}  # number → the state the other side last saw
        self._next = 1

    def __len__(self) -> int:
        return len(self._by_id)

    def number_of(self, generator: Any) -> int | None:
        """The mirror number to send for ``generator``; None: send it as a copy."""
        number = self._ids.get(id(generator))
        if number is not None or not self._creates:
            return number
        number = self._next
        self._next += 1
        self._ids[id(generator)] = number
        self._by_id[number] = generator
        self._synced[number] = generator.bit_generator.state  # the message carries this state
        return number

    def resolve(self, number: int, name: str, state: Any) -> Any:
        """The generator a received mirror stands for, at the state the message carries."""
        generator = self._by_id.get(number)
        if generator is None:
            if self._creates:
                raise DecodeError(f"no random generator {number} was sent to learner code")
            generator = build_generator(name, state)
            self._by_id[number] = generator
            self._ids[id(generator)] = number
            self._synced[number] = state
            return generator
        self._set(number, generator, state)
        return generator

    def moved(self) -> dict[int, Any]:
        """The states of the generators that moved since the other side last saw them."""
        moved = {}
        for number, generator in self._by_id.items():
            state = generator.bit_generator.state
            if state != self._synced[number]:
                moved[number] = state
        return moved

    def sent(self, states: dict[int, Any]) -> None:
        """``states`` reached the other side (the message that carried them was encoded)."""
        self._synced.update(states)

    def apply(self, states: Any) -> None:
        """Take the other side's newest states (a message's ``rngs`` field)."""
        if not isinstance(states, dict):
            raise DecodeError("generator states that are not a table")
        for number, state in states.items():
            generator = self._by_id.get(number) if type(number) is int else None
            if generator is None:
                if self._creates:
                    raise DecodeError(f"no random generator {number!r} was sent to learner code")
                continue  # a mirror whose first message never arrived: it comes with its value
            self._set(number, generator, state)

    def _set(self, number: int, generator: Any, state: Any) -> None:
        if state != generator.bit_generator.state:  # an equal state is already in place
            if (
                not isinstance(state, dict)
                or state.get("bit_generator") != type(generator.bit_generator).__name__
            ):
                raise DecodeError("a random generator's state of another kind")
            try:
                generator.bit_generator.state = state
            except (TypeError, ValueError, KeyError) as exc:
                raise DecodeError(f"a random generator's state NumPy refuses: {exc}") from None
        self._synced[number] = state
