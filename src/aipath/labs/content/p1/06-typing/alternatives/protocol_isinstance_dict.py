"""Route chat requests to a language model and work out what they cost."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Literal, Protocol, TypedDict, TypeVar

Role = Literal["system", "user", "assistant"]


class Message(TypedDict):
    role: Role
    content: str


T = TypeVar("T")

MESSAGE_OVERHEAD = 4


class TokenCounter(Protocol):
    def __call__(self, text: str, /) -> int: ...


class ModelSpec:
    name: str
    context_window: int
    input_per_1k: float
    output_per_1k: float

    def __init__(
        self, name: str, context_window: int, input_per_1k: float, output_per_1k: float
    ) -> None:
        self.name = name
        self.context_window = context_window
        self.input_per_1k = input_per_1k
        self.output_per_1k = output_per_1k


CATALOG: dict[str, ModelSpec] = {
    "tiny": ModelSpec("tiny", 8_000, 0.0002, 0.0006),
    "base": ModelSpec("base", 32_000, 0.0015, 0.002),
    "large": ModelSpec("large", 128_000, 0.01, 0.03),
}


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def prompt_tokens(messages: list[Message]) -> int:
    return sum(count_tokens(m["content"]) + MESSAGE_OVERHEAD for m in messages)


class UnknownModelError(KeyError):
    """A model name that is not in the catalogue."""


def find_model(name: str, catalog: dict[str, ModelSpec] = CATALOG) -> ModelSpec | None:
    try:
        return catalog[name]
    except KeyError:
        return None


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, catalog: dict[str, ModelSpec] = CATALOG
) -> float:
    spec = find_model(model, catalog)
    if not isinstance(spec, ModelSpec):
        raise UnknownModelError(
            "unknown model '" + model + "'; known models: " + ", ".join(sorted(catalog))
        )
    return (input_tokens * spec.input_per_1k + output_tokens * spec.output_per_1k) / 1000


USAGE_LINE = re.compile(r"model=(?P<model>[\w.-]+) input=(?P<input>\d+) output=(?P<output>\d+)")


def parse_usage(line: str) -> tuple[str, int, int]:
    text = line.strip()
    found = USAGE_LINE.fullmatch(text)
    if found is not None:
        return found.group("model"), int(found.group("input")), int(found.group("output"))
    raise ValueError("bad usage line: " + text)


def total_cost(lines: Iterable[str], catalog: dict[str, ModelSpec] = CATALOG) -> float:
    wanted = (ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))
    return sum((cost_usd(*parse_usage(ln), catalog) for ln in wanted), 0.0)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    iterator = iter(items)
    while True:
        chunk = list(islice(iterator, size))
        if not chunk:
            return
        yield chunk


def trim_history(
    messages: list[Message], budget: int, count: TokenCounter = count_tokens
) -> list[Message]:
    system: list[Message] = [messages[0]] if messages and messages[0]["role"] == "system" else []
    used = sum(count(m["content"]) + MESSAGE_OVERHEAD for m in system)
    kept: list[Message] = []
    for message in reversed(messages[len(system) :]):
        cost = count(message["content"]) + MESSAGE_OVERHEAD
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    return system + kept[::-1]
