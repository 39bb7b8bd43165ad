"""Prompting measured, another way: scipy's own Wilson interval and binomial tail, a shuffled
copy of the pool, regular expressions with finditer, a GenerationConfig object for greedy
decoding, and record_outputs generating all prompts in one left-padded batch."""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import torch
from scipy.stats import binom, binomtest
from transformers import GenerationConfig

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
def _messages(item: Item, system: str | None, instruction: str) -> list[Message]:
    messages: list[Message] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": format_question(item, instruction)})
    return messages


def zero_shot_messages(item: Item, system: str | None = SYSTEM) -> list[Message]:
    return _messages(item, system, ANSWER_INSTRUCTION)


def cot_messages(item: Item, system: str | None = SYSTEM) -> list[Message]:
    return _messages(item, system, COT_INSTRUCTION)


def render(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    return str(
        tokenizer.apply_chat_template(
            [{"role": m["role"], "content": m["content"]} for m in messages],
            add_generation_prompt=True,
            tokenize=False,
        )
    )


# ----- task 2 -----------------------------------------------------------------------------------
def pick_examples(pool: Sequence[Item], item: Item, k: int, seed: int) -> list[Item]:
    shuffled = list(pool)
    random.Random(seed).shuffle(shuffled)
    own = normalise(item["question"])
    picked: list[Item] = []
    for example in shuffled:
        if example["id"] == item["id"] or normalise(example["question"]) == own:
            continue
        picked.append(example)
        if len(picked) == k:
            return picked
    raise ValueError(f"the pool holds only {len(picked)} eligible examples, not {k}")


def few_shot_messages(
    item: Item, examples: Sequence[Item], system: str | None = SYSTEM
) -> list[Message]:
    head = zero_shot_messages(item, system)
    *start, question = head
    for example in examples:
        start += [
            {"role": "user", "content": format_question(example)},
            {"role": "assistant", "content": format_answer(example)},
        ]
    return [*start, question]


# ----- task 3 -----------------------------------------------------------------------------------
_MARKER = re.compile(r"(?i)answer(?:\s+is)?\s*[:*]*\s*\(?\s*([abcd])(?![a-z])")
_LEADING = re.compile(r"(?i)\s*\(?([abcd])(?:[).:]|\s*\Z)")


def parse_answer(text: str) -> str | None:
    last = None
    for match in _MARKER.finditer(text):
        last = match.group(1)
    if last is None:
        leading = _LEADING.match(text)
        last = leading.group(1) if leading else None
    return last.upper() if last else None


# ----- task 4 -----------------------------------------------------------------------------------
def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    interval = binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    return interval.low, interval.high


def evaluate(items: Sequence[Item], outputs: Mapping[str, str]) -> dict[str, Any]:
    predictions = {item["id"]: parse_answer(outputs[item["id"]]) for item in items}
    right = [predictions[item["id"]] == item["answer"] for item in items]
    return {
        "predictions": predictions,
        "n": len(right),
        "correct": sum(right),
        "unparsed": list(predictions.values()).count(None),
        "accuracy": sum(right) / len(right),
        "ci": wilson_interval(sum(right), len(right)),
    }


# ----- task 5 -----------------------------------------------------------------------------------
def compare_templates(
    items: Sequence[Item], outputs_a: Mapping[str, str], outputs_b: Mapping[str, str]
) -> dict[str, Any]:
    a = evaluate(items, outputs_a)
    b = evaluate(items, outputs_b)
    only_a = only_b = 0
    for item in items:
        right_a = a["predictions"][item["id"]] == item["answer"]
        right_b = b["predictions"][item["id"]] == item["answer"]
        only_a += right_a and not right_b
        only_b += right_b and not right_a
    total = only_a + only_b
    p_value = min(1.0, 2 * float(binom.cdf(min(only_a, only_b), total, 0.5))) if total else 1.0
    return {
        "accuracy_a": a["accuracy"],
        "accuracy_b": b["accuracy"],
        "difference": b["accuracy"] - a["accuracy"],
        "only_a": only_a,
        "only_b": only_b,
        "p_value": p_value,
    }


# ----- task 6 -----------------------------------------------------------------------------------
def _greedy(max_new_tokens: int, tokenizer: Any) -> GenerationConfig:
    return GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def generate(tokenizer: Any, model: Any, prompt: str, max_new_tokens: int = 8) -> str:
    encoded = tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        output = model.generate(**encoded, generation_config=_greedy(max_new_tokens, tokenizer))
    width = encoded["input_ids"].shape[-1]
    return tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)[0]


def record_outputs(
    tokenizer: Any,
    model: Any,
    items: Sequence[Item],
    build: Callable[[Item], list[Message]],
    max_new_tokens: int = 8,
) -> dict[str, str]:
    prompts = [render(tokenizer, build(item)) for item in items]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # new tokens follow every prompt directly
    try:
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    with torch.inference_mode():
        output = model.generate(**batch, generation_config=_greedy(max_new_tokens, tokenizer))
    texts = tokenizer.batch_decode(
        output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
    )
    return {item["id"]: text for item, text in zip(items, texts)}
