# expect: the number of questions where the two predicted letters differ
"""A known-wrong solution: compare_templates counts a question for only_a or only_b
whenever the two predicted letters differ, even when both are wrong."""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import torch
from scipy.stats import binomtest

LETTERS = "ABCD"
SYSTEM = "You are a careful assistant who answers multiple-choice questions."
ANSWER_INSTRUCTION = "Reply with the letter of the correct choice."
COT_INSTRUCTION = (
    "Think step by step, then finish with the sentence 'The answer is (X).', "
    "where X is the letter of the correct choice."
)
Message = dict[str, str]


class Item(TypedDict):
    """One labelled question: ``answer`` is the letter of the right entry of ``choices``."""

    id: str
    question: str
    choices: list[str]
    answer: str


# ----- given ------------------------------------------------------------------------------------
_OPPOSITES = [
    ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("early", "late"), ("heavy", "light"),
    ("open", "closed"), ("full", "empty"), ("loud", "quiet"), ("wet", "dry"), ("old", "young"),
]  # fmt: skip
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip


def load_items(seed: int = 7) -> list[Item]:
    """The 40 labelled questions of this lab, generated with ``seed`` (ids ``q00`` … ``q39``)."""
    rng = random.Random(seed)
    n = 38
    positions = [i % 4 for i in range(n)]
    rng.shuffle(positions)
    sums = rng.sample([(a, b) for a in range(11, 50) for b in range(11, 50)], 10)
    products = rng.sample([(a, b) for a in range(3, 10) for b in range(3, 10)], 10)
    opposites = rng.sample(_OPPOSITES, 9)
    months = rng.sample(range(12), 9)
    items: list[Item] = []
    for i in range(n):
        kind, j = i % 4, i // 4
        if kind == 0:
            a, b = sums[j]
            question, right = f"What is {a} + {b}?", a + b
            wrong = [str(right + 1), str(right - 1), str(right + 10)]
            right_text = str(right)
        elif kind == 1:
            a, b = products[j]
            question, right = f"What is {a} × {b}?", a * b
            pool = sorted({right + 1, right - 1, right + a, right + b, a + b, right + 10} - {right})
            wrong = [str(x) for x in rng.sample(pool, 3)]
            right_text = str(right)
        elif kind == 2:
            word, right_text = opposites[j]
            question = f"What is the opposite of '{word}'?"
            others = [pair[1] for pair in _OPPOSITES if pair[0] != word]
            wrong = rng.sample(others, 3)
        else:
            m = months[j]
            question = f"Which month comes right after {_MONTHS[m]}?"
            right_text = _MONTHS[(m + 1) % 12]
            others = [_MONTHS[x] for x in range(12) if x not in (m, (m + 1) % 12, (m - 1) % 12)]
            wrong = [_MONTHS[(m - 1) % 12], *rng.sample(others, 2)]
        rng.shuffle(wrong)
        choices = wrong[: positions[i]] + [right_text] + wrong[positions[i] :]
        answer = LETTERS[positions[i]]
        items.append(
            {"id": f"q{i:02d}", "question": question, "choices": choices, "answer": answer}
        )
    # Two questions asked twice, as real data sets do: other ids, other case and spacing.
    for copy_of, new_id in ((5, "q38"), (18, "q39")):
        original = items[copy_of]
        question = original["question"].lower().replace(" ", "  ", 1) + " "
        items.append({**original, "id": new_id, "question": question})
    return items


def normalise(text: str) -> str:
    """Lower case, whitespace collapsed: how two question texts are compared."""
    return " ".join(text.lower().split())


def format_question(item: Item, instruction: str = ANSWER_INSTRUCTION) -> str:
    """The question, its lettered choices, and the instruction, one per line."""
    lines = [f"{letter}) {choice}" for letter, choice in zip(LETTERS, item["choices"])]
    return "\n".join([item["question"], *lines, instruction])


def format_answer(item: Item) -> str:
    """What the assistant says in a worked example: ``Answer: B``."""
    return f"Answer: {item['answer']}"


# ----- task 1 -----------------------------------------------------------------------------------
def _system(system: str | None) -> list[Message]:
    return [] if system is None else [{"role": "system", "content": system}]


def zero_shot_messages(item: Item, system: str | None = SYSTEM) -> list[Message]:
    return [*_system(system), {"role": "user", "content": format_question(item)}]


def cot_messages(item: Item, system: str | None = SYSTEM) -> list[Message]:
    return [*_system(system), {"role": "user", "content": format_question(item, COT_INSTRUCTION)}]


def render(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    return tokenizer.apply_chat_template(
        [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
    )


# ----- task 2 -----------------------------------------------------------------------------------
def pick_examples(pool: Sequence[Item], item: Item, k: int, seed: int) -> list[Item]:
    key = normalise(item["question"])
    eligible = [ex for ex in pool if ex["id"] != item["id"] and normalise(ex["question"]) != key]
    if len(eligible) < k:
        raise ValueError(f"only {len(eligible)} examples are eligible; {k} were asked for")
    return random.Random(seed).sample(eligible, k)


def few_shot_messages(
    item: Item, examples: Sequence[Item], system: str | None = SYSTEM
) -> list[Message]:
    messages = _system(system)
    for example in examples:
        messages.append({"role": "user", "content": format_question(example)})
        messages.append({"role": "assistant", "content": format_answer(example)})
    messages.append({"role": "user", "content": format_question(item)})
    return messages


# ----- task 3 -----------------------------------------------------------------------------------
_MARKER = re.compile(r"answer\W{0,4}(?:is\W{0,3})?\(?([a-d])\b", re.IGNORECASE)
_LEADING = re.compile(r"^\s*\(?([a-d])(?:\s*$|[).:])", re.IGNORECASE)


def parse_answer(text: str) -> str | None:
    markers = _MARKER.findall(text)
    if markers:
        return markers[-1].upper()
    leading = _LEADING.match(text)
    return leading.group(1).upper() if leading else None


# ----- task 4 -----------------------------------------------------------------------------------
def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def evaluate(items: Sequence[Item], outputs: Mapping[str, str]) -> dict[str, Any]:
    predictions = {item["id"]: parse_answer(outputs[item["id"]]) for item in items}
    correct = sum(predictions[item["id"]] == item["answer"] for item in items)
    n = len(items)
    return {
        "predictions": predictions,
        "n": n,
        "correct": correct,
        "unparsed": sum(p is None for p in predictions.values()),
        "accuracy": correct / n,
        "ci": wilson_interval(correct, n),
    }


# ----- task 5 -----------------------------------------------------------------------------------
def compare_templates(
    items: Sequence[Item], outputs_a: Mapping[str, str], outputs_b: Mapping[str, str]
) -> dict[str, Any]:
    right_a = [parse_answer(outputs_a[item["id"]]) == item["answer"] for item in items]
    right_b = [parse_answer(outputs_b[item["id"]]) == item["answer"] for item in items]
    letters_a = [parse_answer(outputs_a[item["id"]]) for item in items]
    letters_b = [parse_answer(outputs_b[item["id"]]) for item in items]
    differ = [x != y for x, y in zip(letters_a, letters_b)]
    only_b = sum(d and b for d, b in zip(differ, right_b))
    only_a = sum(differ) - only_b
    discordant = only_a + only_b
    p_value = binomtest(only_a, discordant, 0.5).pvalue if discordant else 1.0
    n = len(items)
    return {
        "accuracy_a": sum(right_a) / n,
        "accuracy_b": sum(right_b) / n,
        "difference": (sum(right_b) - sum(right_a)) / n,
        "only_a": only_a,
        "only_b": only_b,
        "p_value": float(p_value),
    }


# ----- task 6 -----------------------------------------------------------------------------------
def generate(tokenizer: Any, model: Any, prompt: str, max_new_tokens: int = 8) -> str:
    batch = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    new_tokens = output[0, batch["input_ids"].shape[1] :]
    return tokenizer.decode(new_tokens, skip_special_tokens=True)


def record_outputs(
    tokenizer: Any,
    model: Any,
    items: Sequence[Item],
    build: Callable[[Item], list[Message]],
    max_new_tokens: int = 8,
) -> dict[str, str]:
    return {
        item["id"]: generate(tokenizer, model, render(tokenizer, build(item)), max_new_tokens)
        for item in items
    }
