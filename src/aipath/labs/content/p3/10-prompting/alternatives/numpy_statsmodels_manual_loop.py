"""Prompting measured, another way: numpy and statsmodels for the draws and the statistics,
a hand-written greedy loop over the model's logits (with its key-value cache), a parser that
scans the reply instead of one regular expression, and SmolLM2's default system message written
out when system is None (the same prompt as leaving it to the template)."""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import numpy as np
import torch
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

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
TEMPLATE_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def _turn(role: str, content: str) -> Message:
    return {"role": role, "content": content}


def zero_shot_messages(item: Item, system: str | None = SYSTEM) -> list[Message]:
    first = _turn("system", TEMPLATE_DEFAULT_SYSTEM if system is None else system)
    return [first, _turn("user", format_question(item))]


def cot_messages(item: Item, system: str | None = SYSTEM) -> list[Message]:
    messages = zero_shot_messages(item, system)
    messages[-1] = _turn("user", format_question(item, instruction=COT_INSTRUCTION))
    return messages


def render(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    text = tokenizer.apply_chat_template(
        conversation=list(messages), tokenize=False, add_generation_prompt=True
    )
    assert isinstance(text, str)
    return text


# ----- task 2 -----------------------------------------------------------------------------------
def pick_examples(pool: Sequence[Item], item: Item, k: int, seed: int) -> list[Item]:
    banned_ids = {item["id"]}
    banned_texts = {normalise(item["question"])}
    eligible = [
        ex
        for ex in pool
        if ex["id"] not in banned_ids and normalise(ex["question"]) not in banned_texts
    ]
    if k > len(eligible):
        raise ValueError(f"{k} examples asked for, {len(eligible)} eligible")
    chosen = np.random.default_rng(seed).choice(len(eligible), size=k, replace=False)
    return [eligible[int(i)] for i in chosen]


def few_shot_messages(
    item: Item, examples: Sequence[Item], system: str | None = SYSTEM
) -> list[Message]:
    shots = [
        turn
        for ex in examples
        for turn in (_turn("user", format_question(ex)), _turn("assistant", format_answer(ex)))
    ]
    head = [] if system is None else [_turn("system", system)]
    return head + shots + [_turn("user", format_question(item))]


# ----- task 3 -----------------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z]+|\S")


def parse_answer(text: str) -> str | None:
    words = _WORD.findall(text)
    found = None
    for i, word in enumerate(words):
        if word.lower() != "answer":
            continue
        j = i + 1
        while j < len(words) and (words[j] in ":*(-" or words[j].lower() == "is"):
            j += 1
        if j < len(words) and len(words[j]) == 1 and words[j].upper() in LETTERS:
            found = words[j].upper()
    if found:
        return found
    stripped = text.strip().lstrip("(")
    if stripped[:1].upper() in LETTERS and stripped[:1].isalpha():
        rest = stripped[1:]
        if not rest.strip() or rest[0] in ").:":
            return stripped[0].upper()
    return None


# ----- task 4 -----------------------------------------------------------------------------------
def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    low, high = proportion_confint(correct, n, alpha=0.05, method="wilson")
    return float(low), float(high)


def evaluate(items: Sequence[Item], outputs: Mapping[str, str]) -> dict[str, Any]:
    predictions: dict[str, str | None] = {}
    correct = unparsed = 0
    for item in items:
        letter = parse_answer(outputs[item["id"]])
        predictions[item["id"]] = letter
        unparsed += letter is None
        correct += letter == item["answer"]
    return {
        "predictions": predictions,
        "n": len(items),
        "correct": correct,
        "unparsed": unparsed,
        "accuracy": correct / len(items),
        "ci": wilson_interval(correct, len(items)),
    }


# ----- task 5 -----------------------------------------------------------------------------------
def compare_templates(
    items: Sequence[Item], outputs_a: Mapping[str, str], outputs_b: Mapping[str, str]
) -> dict[str, Any]:
    answers = np.array([item["answer"] for item in items])
    a = np.array([parse_answer(outputs_a[item["id"]]) for item in items], dtype=object) == answers
    b = np.array([parse_answer(outputs_b[item["id"]]) for item in items], dtype=object) == answers
    table = [[int(np.sum(a & b)), int(np.sum(a & ~b))], [int(np.sum(~a & b)), int(np.sum(~a & ~b))]]
    only_a, only_b = table[0][1], table[1][0]
    p_value = float(mcnemar(table, exact=True).pvalue) if only_a + only_b else 1.0
    return {
        "accuracy_a": float(a.mean()),
        "accuracy_b": float(b.mean()),
        "difference": float(b.mean() - a.mean()),
        "only_a": only_a,
        "only_b": only_b,
        "p_value": p_value,
    }


# ----- task 6 -----------------------------------------------------------------------------------
def generate(tokenizer: Any, model: Any, prompt: str, max_new_tokens: int = 8) -> str:
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    new: list[int] = []
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
        for _ in range(max_new_tokens):
            token = int(out.logits[0, -1].argmax())
            if token == tokenizer.eos_token_id:
                break
            new.append(token)
            step = torch.tensor([[token]])
            out = model(input_ids=step, past_key_values=out.past_key_values, use_cache=True)
    return tokenizer.decode(new, skip_special_tokens=True)


def record_outputs(
    tokenizer: Any,
    model: Any,
    items: Sequence[Item],
    build: Callable[[Item], list[Message]],
    max_new_tokens: int = 8,
) -> dict[str, str]:
    outputs = {}
    for item in items:
        prompt = render(tokenizer, build(item))
        outputs[item["id"]] = generate(tokenizer, model, prompt, max_new_tokens=max_new_tokens)
    return outputs
