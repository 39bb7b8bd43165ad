# expect: find_model should return `ModelSpec | None`
# slip: find_model raises for an unknown name instead of returning None

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Literal, TypedDict, TypeVar

Role = Literal["system", "user", "assistant"]


class Message(TypedDict):
    role: Role
    content: str


T = TypeVar("T")

MESSAGE_OVERHEAD = 4


class ModelSpec:
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
    return sum(count_tokens(message["content"]) + MESSAGE_OVERHEAD for message in messages)


class UnknownModelError(KeyError):
    """A model name that is not in the catalogue."""


def find_model(name: str, catalog: Mapping[str, ModelSpec] = CATALOG) -> ModelSpec:
    if name not in catalog:
        raise UnknownModelError(f"unknown model {name!r}")
    return catalog[name]


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, catalog: Mapping[str, ModelSpec] = CATALOG
) -> float:
    spec = find_model(model, catalog)
    if spec is None:
        raise UnknownModelError(
            f"unknown model {model!r}; known models: {', '.join(sorted(catalog))}"
        )
    return (input_tokens * spec.input_per_1k + output_tokens * spec.output_per_1k) / 1000


USAGE_LINE = re.compile(r"model=(?P<model>[\w.-]+) input=(?P<input>\d+) output=(?P<output>\d+)")


def parse_usage(line: str) -> tuple[str, int, int]:
    match = USAGE_LINE.fullmatch(line.strip())
    if match is None:
        raise ValueError(f"not a usage line: {line.strip()!r}")
    return match["model"], int(match["input"]), int(match["output"])


def total_cost(lines: Iterable[str], catalog: Mapping[str, ModelSpec] = CATALOG) -> float:
    total = 0.0
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        model, input_tokens, output_tokens = parse_usage(line)
        total += cost_usd(model, input_tokens, output_tokens, catalog)
    return total


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def trim_history(
    messages: list[Message], budget: int, count: Callable[[str], int] = count_tokens
) -> list[Message]:
    system = [messages[0]] if messages and messages[0]["role"] == "system" else []
    used = sum(count(message["content"]) + MESSAGE_OVERHEAD for message in system)
    kept: list[Message] = []
    for message in reversed(messages[len(system) :]):
        cost = count(message["content"]) + MESSAGE_OVERHEAD
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    return system + kept[::-1]
