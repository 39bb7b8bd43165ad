"""Prompting measured: the file you edit.

Read README.md first. An *item* is one labelled question, a dict
``{"id": "q03", "question": "...", "choices": [4 strings], "answer": "A"}``; *messages* are a list
of ``{"role": "system" | "user" | "assistant", "content": str}`` dicts; a *prompt* is the text the
chat template makes of them; an *output* is the text the model generated after the prompt.

The checks hand your functions items, messages and model outputs of their own (tasks 1–5), and a
copy of SmolLM2-135M-Instruct's tokenizer and model (tasks 1 and 6), so each task is checked on
its own. ``python exercise.py`` scores the recorded outputs in ``recorded_outputs.json`` and
generates two answers live, once the tasks are done.
"""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import math  # noqa: F401  (task 4)
import random
import re  # noqa: F401  (task 3)
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import torch  # noqa: F401  (task 6: torch.no_grad)
from scipy.stats import binomtest  # noqa: F401  (task 5: the exact binomial test)

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
    """The 40 labelled questions of this lab, generated with ``seed`` (ids ``q00`` … ``q39``).

    Four kinds (sums, products, opposites, the next month), each right letter about equally
    often. ``q38`` repeats ``q05``'s question and ``q39`` repeats ``q18``'s, in other letter case
    and spacing: duplicates, as real data sets have them.

    >>> items = load_items()
    >>> len(items), items[3]["question"], items[3]["answer"]
    (40, 'Which month comes right after April?', 'A')
    """
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
    """Lower case, whitespace collapsed: how two question texts are compared.

    >>> normalise("what  is 8 × 8? ") == normalise("What is 8 × 8?")
    True
    """
    return " ".join(text.lower().split())


def format_question(item: Item, instruction: str = ANSWER_INSTRUCTION) -> str:
    """The question, its lettered choices, and the instruction, one per line.

    >>> print(format_question(load_items()[3]))
    Which month comes right after April?
    A) May
    B) March
    C) September
    D) December
    Reply with the letter of the correct choice.
    """
    lines = [f"{letter}) {choice}" for letter, choice in zip(LETTERS, item["choices"])]
    return "\n".join([item["question"], *lines, instruction])


def format_answer(item: Item) -> str:
    """What the assistant says in a worked example: ``Answer: B``."""
    return f"Answer: {item['answer']}"


# ----- task 1 -----------------------------------------------------------------------------------
def zero_shot_messages(item: Item, system: str | None = SYSTEM) -> list[Message]:
    """The messages of a zero-shot prompt: the system message (none when ``system`` is None),
    then one user turn, ``format_question(item)``.

    >>> [m["role"] for m in zero_shot_messages(load_items()[0])]
    ['system', 'user']
    >>> [m["role"] for m in zero_shot_messages(load_items()[0], system=None)]
    ['user']
    """
    # TODO: a list of {"role": ..., "content": ...} dicts
    raise NotImplementedError


def cot_messages(item: Item, system: str | None = SYSTEM) -> list[Message]:
    """Zero-shot chain of thought: as ``zero_shot_messages``, but the user turn ends with
    ``COT_INSTRUCTION`` instead of ``ANSWER_INSTRUCTION`` (``format_question(item,
    COT_INSTRUCTION)``)."""
    # TODO
    raise NotImplementedError


def render(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    """The prompt text the model's own chat template makes of ``messages``, ending with the
    generation prompt that opens the assistant's turn.

    >>> render(tokenizer, [{"role": "user", "content": "Hi"}])  # doctest: +SKIP
    '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    # TODO: tokenizer.apply_chat_template(..., add_generation_prompt=..., tokenize=...)
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def pick_examples(pool: Sequence[Item], item: Item, k: int, seed: int) -> list[Item]:
    """``k`` distinct worked examples drawn at random (reproducibly, with ``seed``) from
    ``pool``, never the evaluated ``item``: leave out the pool entries with its id and those
    whose ``normalise(question)`` equals its own. Raise ``ValueError`` when fewer than ``k``
    entries are left. Do not change ``pool``. With ``random.Random(seed).sample`` (another
    generator draws other examples, just as well):

    >>> items = load_items()
    >>> [e["id"] for e in pick_examples(items, items[5], 3, seed=0)]  # doctest: +SKIP
    ['q25', 'q27', 'q02']
    """
    # TODO: filter, then draw with a generator of its own: random.Random(seed).sample(...)
    raise NotImplementedError


def few_shot_messages(
    item: Item, examples: Sequence[Item], system: str | None = SYSTEM
) -> list[Message]:
    """The system message (none when ``system`` is None), then for each example a user turn
    (``format_question(example)``) and an assistant turn (``format_answer(example)``), then the
    user turn of ``item``.

    >>> items = load_items()
    >>> [m["role"] for m in few_shot_messages(items[0], items[1:3])]
    ['system', 'user', 'assistant', 'user', 'assistant', 'user']
    """
    # TODO
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def parse_answer(text: str) -> str | None:
    """The letter ``"A"``–``"D"`` a model's reply gives as its answer, or None.

    An answer marker ("Answer: B", "the answer is (B)", in any case) wins, the last one when
    there are several; without one, a lone letter at the very start ("B", "b)", "(B)", "B. 61").

    >>> [parse_answer(t) for t in ["Answer: B", "b)", "The answer is (C).", "Dogs bark.", "71"]]
    ['B', 'B', 'C', None, None]
    """
    # TODO: a regular expression for the markers (re.IGNORECASE), findall, the last one; then
    # one for a leading letter
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval ``(low, high)`` of an accuracy ``correct / n``.

    >>> [round(x, 4) for x in wilson_interval(27, 40)]
    [0.5202, 0.7992]
    >>> [round(x, 4) for x in wilson_interval(10, 10)]
    [0.7225, 1.0]
    """
    # TODO: centre (p + z²/2n) / (1 + z²/n), half-width z/(1 + z²/n) · √(p(1−p)/n + z²/4n²)
    raise NotImplementedError


def evaluate(items: Sequence[Item], outputs: Mapping[str, str]) -> dict[str, Any]:
    """Score recorded model outputs (``outputs[item["id"]]`` is the text generated for it).

    Returns ``{"predictions": {id: letter or None}, "n": int, "correct": int, "unparsed": int,
    "accuracy": correct / n, "ci": wilson_interval(correct, n)}`` — an output without an answer
    is a wrong answer.
    """
    # TODO: parse_answer on each output, compare with item["answer"]
    raise NotImplementedError


# ----- task 5 -----------------------------------------------------------------------------------
def compare_templates(
    items: Sequence[Item], outputs_a: Mapping[str, str], outputs_b: Mapping[str, str]
) -> dict[str, Any]:
    """Two templates' outputs on the same items, compared with the exact McNemar test.

    Returns ``{"accuracy_a", "accuracy_b", "difference": accuracy_b - accuracy_a, "only_a":
    questions right with A and wrong with B, "only_b": the other way round, "p_value": the
    two-sided exact McNemar p-value}`` (1.0 when no question is right with only one of them).
    """
    # TODO: per item right/wrong under each; binomtest(only_a, only_a + only_b, 0.5).pvalue
    raise NotImplementedError


# ----- task 6 -----------------------------------------------------------------------------------
def generate(tokenizer: Any, model: Any, prompt: str, max_new_tokens: int = 8) -> str:
    """The model's greedy continuation of ``prompt``: at most ``max_new_tokens`` new tokens,
    decoded without the prompt and without special tokens. Same prompt, same text, every time.

    >>> generate(tokenizer, model, render(tokenizer, zero_shot_messages(item)), 4)  # doctest: +SKIP
    'A) May'
    """
    # TODO: tokenizer(prompt, return_tensors="pt", add_special_tokens=False); model.generate(...,
    # do_sample=False); decode the new tokens only
    raise NotImplementedError


def record_outputs(
    tokenizer: Any,
    model: Any,
    items: Sequence[Item],
    build: Callable[[Item], list[Message]],
    max_new_tokens: int = 8,
) -> dict[str, str]:
    """``{item["id"]: generate(tokenizer, model, render(tokenizer, build(item)), max_new_tokens)}``
    for every item: the outputs that ``evaluate`` and ``compare_templates`` score."""
    # TODO
    raise NotImplementedError


if __name__ == "__main__":
    import json
    from pathlib import Path

    from aipath.checks import fresh_smollm2

    items = load_items()
    recorded = json.loads(Path(__file__).with_name("recorded_outputs.json").read_text())
    for name in ("zero_shot", "few_shot"):
        result = evaluate(items, recorded[name])
        low, high = result["ci"]
        print(f"{name}: {result['correct']}/{result['n']} = {result['accuracy']:.3f} "
              f"[{low:.3f}, {high:.3f}], unparsed {result['unparsed']}")  # fmt: skip
    print(compare_templates(items, recorded["zero_shot"], recorded["few_shot"]))

    tokenizer, model = fresh_smollm2()

    def build(item: Item) -> list[Message]:
        return few_shot_messages(item, pick_examples(items, item, 3, seed=0))

    live = record_outputs(tokenizer, model, items[3:5], build, 6)
    print(live, {key: parse_answer(text) for key, text in live.items()})
