"""Alternative: a frozen dataclass, a NamedTuple, a Protocol for the counter, a Generator."""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Literal, NamedTuple, Optional, Protocol, TypedDict, TypeVar

ItemT = TypeVar("ItemT")

Role = Literal["system", "user", "assistant"]
Message = TypedDict("Message", {"role": Role, "content": str})  # noqa: UP013

MESSAGE_OVERHEAD = 4
"""Tokens every chat message costs on top of its content (role markers, separators)."""


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the price list (prices in USD per 1,000 tokens)."""

    name: str
    context_window: int
    input_per_1k: float
    output_per_1k: float


CATALOG: Mapping[str, ModelSpec] = {
    "tiny": ModelSpec("tiny", 8_000, 0.0002, 0.0006),
    "base": ModelSpec("base", 32_000, 0.0015, 0.002),
    "large": ModelSpec("large", 128_000, 0.01, 0.03),
}


class TokenCounter(Protocol):
    def __call__(self, text: str, /) -> int: ...


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def prompt_tokens(messages: Iterable[Message]) -> int:
    total = 0
    for message in messages:
        total += count_tokens(message["content"]) + MESSAGE_OVERHEAD
    return total


class UnknownModelError(KeyError):
    """A model name that is not in the catalogue."""


def find_model(name: str, catalog: Mapping[str, ModelSpec] = CATALOG) -> Optional[ModelSpec]:  # noqa: UP045
    return catalog.get(name)


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, catalog: Mapping[str, ModelSpec] = CATALOG
) -> float:
    try:
        spec = catalog[model]
    except KeyError:
        raise UnknownModelError(f"unknown model {model!r}; known: {sorted(catalog)}") from None
    return (input_tokens * spec.input_per_1k + output_tokens * spec.output_per_1k) / 1000


USAGE_LINE = re.compile(r"model=(?P<model>[\w.-]+) input=(?P<input>\d+) output=(?P<output>\d+)")


class Usage(NamedTuple):
    model: str
    input_tokens: int
    output_tokens: int


def parse_usage(line: str) -> Usage:
    match = USAGE_LINE.fullmatch(line.strip())
    if not match:
        raise ValueError(f"cannot read the usage line {line.strip()!r}")
    return Usage(match.group("model"), int(match.group("input")), int(match.group("output")))


def total_cost(lines: Iterable[str], catalog: Mapping[str, ModelSpec] = CATALOG) -> float:
    usages = (
        parse_usage(line) for line in lines if line.strip() and not line.lstrip().startswith("#")
    )
    return sum((cost_usd(*usage, catalog=catalog) for usage in usages), 0.0)


def batched(items: Iterable[ItemT], size: int) -> Generator[list[ItemT], None, None]:
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    iterator = iter(items)
    while True:
        chunk = list(islice(iterator, size))
        if not chunk:
            return
        yield chunk


def trim_history(
    messages: Sequence[Message], budget: int, count: TokenCounter = count_tokens
) -> list[Message]:
    head: list[Message] = []
    rest = list(messages)
    if rest and rest[0]["role"] == "system":
        head = [rest.pop(0)]
    used = sum(count(m["content"]) + MESSAGE_OVERHEAD for m in head)
    tail: list[Message] = []
    for message in reversed(rest):
        cost = count(message["content"]) + MESSAGE_OVERHEAD
        if used + cost > budget:
            break
        tail.insert(0, message)
        used += cost
    return head + tail
