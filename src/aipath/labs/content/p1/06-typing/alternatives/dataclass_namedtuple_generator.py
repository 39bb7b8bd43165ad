"""Route chat requests to a language model and work out what they cost."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Final, Literal, NamedTuple, TypedDict, TypeVar

Role = Literal["system", "user", "assistant"]


class Message(TypedDict):
    role: Role
    content: str


ItemT = TypeVar("ItemT")

MESSAGE_OVERHEAD: Final = 4


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    context_window: int
    input_per_1k: float
    output_per_1k: float


CATALOG: Mapping[str, ModelSpec] = {
    "tiny": ModelSpec("tiny", 8_000, 0.0002, 0.0006),
    "base": ModelSpec("base", 32_000, 0.0015, 0.002),
    "large": ModelSpec("large", 128_000, 0.01, 0.03),
}


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def prompt_tokens(messages: Sequence[Message]) -> int:
    total = 0
    for message in messages:
        total += count_tokens(message["content"]) + MESSAGE_OVERHEAD
    return total


class UnknownModelError(KeyError):
    """A model name that is not in the catalogue."""


def find_model(name: str, catalog: Mapping[str, ModelSpec] = CATALOG) -> ModelSpec | None:
    return catalog.get(name)


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, catalog: Mapping[str, ModelSpec] = CATALOG
) -> float:
    spec = find_model(model, catalog)
    if spec is None:
        known = ", ".join(sorted(catalog))
        raise UnknownModelError(f"unknown model {model!r}; known models: {known}")
    return (input_tokens * spec.input_per_1k + output_tokens * spec.output_per_1k) / 1000


USAGE_LINE = re.compile(r"model=(?P<model>[\w.-]+) input=(?P<input>\d+) output=(?P<output>\d+)")


class Usage(NamedTuple):
    model: str
    input_tokens: int
    output_tokens: int


def parse_usage(line: str) -> Usage:
    stripped = line.strip()
    match = USAGE_LINE.fullmatch(stripped)
    if not match:
        raise ValueError(f"cannot read usage line {stripped!r}")
    return Usage(match["model"], int(match["input"]), int(match["output"]))


def total_cost(lines: Iterable[str], catalog: Mapping[str, ModelSpec] = CATALOG) -> float:
    total = 0.0
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        usage = parse_usage(line)
        total += cost_usd(usage.model, usage.input_tokens, usage.output_tokens, catalog)
    return total


def batched(items: Iterable[ItemT], size: int) -> Generator[list[ItemT], None, None]:
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
