"""Route chat requests to a language model and work out what they cost.

The code runs, but it has no type hints, and two crashes hide in it. Annotate everything so
that `python -m mypy --strict exercise.py` is clean, and fix what mypy finds (task 2).
"""

from __future__ import annotations

import math
import re
from itertools import islice

# TODO (task 1): define Role = Literal["system", "user", "assistant"] and a TypedDict
# `Message` with the required keys `role: Role` and `content: str`.

MESSAGE_OVERHEAD = 4
"""Tokens every chat message costs on top of its content (role markers, separators)."""


class ModelSpec:
    """One entry of the price list.

    name: str; context_window: int (tokens); input_per_1k and output_per_1k: float (USD per
    1,000 input / output tokens).
    """

    # TODO (task 1): annotate __init__ (or turn the class into a @dataclass, same field order)
    def __init__(self, name, context_window, input_per_1k, output_per_1k):
        self.name = name
        self.context_window = context_window
        self.input_per_1k = input_per_1k
        self.output_per_1k = output_per_1k


# TODO (task 1): annotate CATALOG (model name -> ModelSpec)
CATALOG = {
    "tiny": ModelSpec("tiny", 8_000, 0.0002, 0.0006),
    "base": ModelSpec("base", 32_000, 0.0015, 0.002),
    "large": ModelSpec("large", 128_000, 0.01, 0.03),
}


# TODO (task 1): annotate (text is a str, the result an int)
def count_tokens(text):
    """A rough token count: one token per four characters, rounded up.

    >>> count_tokens("")
    0
    >>> count_tokens("hello")
    2
    """
    return math.ceil(len(text) / 4)


# TODO (task 1): annotate (a list of Message in, an int out)
def prompt_tokens(messages):
    """Tokens a list of chat messages costs: content plus MESSAGE_OVERHEAD per message.

    >>> prompt_tokens([{"role": "user", "content": "hello"}])
    6
    """
    return sum(count_tokens(message["content"]) + MESSAGE_OVERHEAD for message in messages)


class UnknownModelError(KeyError):
    """A model name that is not in the catalogue."""


# TODO (task 2): annotate; it returns the spec, or None for an unknown name
def find_model(name, catalog=CATALOG):
    """The spec of the model called `name`, or None when the catalogue has no such model.

    >>> find_model("base").context_window
    32000
    >>> find_model("gpt-9") is None
    True
    """
    return catalog.get(name)


# TODO (task 2): annotate, then fix the crash mypy shows you (raise UnknownModelError)
def cost_usd(model, input_tokens, output_tokens, catalog=CATALOG):
    """Price in USD of one request to `model` with the given token counts.

    >>> round(cost_usd("base", 2000, 500), 6)
    0.004
    """
    spec = find_model(model, catalog)
    return (input_tokens * spec.input_per_1k + output_tokens * spec.output_per_1k) / 1000


USAGE_LINE = re.compile(r"model=(?P<model>[\w.-]+) input=(?P<input>\d+) output=(?P<output>\d+)")


# TODO (task 2): annotate, then fix the crash mypy shows you (raise ValueError)
def parse_usage(line):
    """Read one line of the usage log as (model, input_tokens, output_tokens).

    >>> parse_usage("model=base input=1200 output=300")
    ('base', 1200, 300)
    """
    match = USAGE_LINE.fullmatch(line.strip())
    return match["model"], int(match["input"]), int(match["output"])


# TODO (task 2): annotate (any iterable of str lines; the result is a float)
def total_cost(lines, catalog=CATALOG):
    """Total cost in USD of a usage log; blank lines and lines starting with '#' are skipped.

    >>> round(total_cost(["# March", "model=tiny input=1000 output=1000", ""]), 6)
    0.0008
    """
    total = 0.0
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        model, input_tokens, output_tokens = parse_usage(line)
        total += cost_usd(model, input_tokens, output_tokens, catalog)
    return total


# TODO (task 3): make it generic with a TypeVar (any iterable of T in, lists of T out)
def batched(items, size):
    """Split `items` into lists of `size` elements; the last list may be shorter.

    >>> list(batched([1, 2, 3, 4, 5], 2))
    [[1, 2], [3, 4], [5]]
    >>> list(batched((c for c in "abc"), 3))
    [['a', 'b', 'c']]
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# TODO (task 3): annotate (list of Message, int budget, a str -> int function; list of Message out)
def trim_history(messages, budget, count=count_tokens):
    """The part of a chat history to send when all of it does not fit in `budget` tokens.

    A leading system message is always kept. Then the most recent other messages are kept, newest
    first, while they fit; each costs count(content) + MESSAGE_OVERHEAD tokens. The result keeps
    the original order.

    >>> chat = [{"role": "system", "content": "Be brief."},
    ...         {"role": "user", "content": "a" * 40},
    ...         {"role": "assistant", "content": "ok"}]
    >>> [m["content"] for m in trim_history(chat, 12)]
    ['Be brief.', 'ok']
    """
    system = [messages[0]] if messages and messages[0]["role"] == "system" else []
    used = sum(count(message["content"]) + MESSAGE_OVERHEAD for message in system)
    kept = []
    for message in reversed(messages[len(system) :]):
        cost = count(message["content"]) + MESSAGE_OVERHEAD
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    return system + kept[::-1]
