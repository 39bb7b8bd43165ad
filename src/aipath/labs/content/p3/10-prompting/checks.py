"""Checks for p3-prompting: chat messages rendered with SmolLM2-135M-Instruct's own chat template
(compared, string for string, with ``apply_chat_template`` called here), few-shot examples drawn
without the evaluated question, an answer parser on replies written in the formats models use,
accuracy with a Wilson interval and an exact McNemar test on model outputs recorded here, and a
short greedy generation compared with the reference model's own.

The labelled questions are regenerated here with the lab's seed (the same 40 as ``load_items``).
The recorded outputs are made up here, with a seed, in the formats small chat models answer in
(``Answer: B``, ``b)``, ``The answer is (C).``, a number instead of a letter, nothing): the
harness's numbers are compared with the reference computed on them. The reference tokenizer and
model are the checks' own and never handed to the learner, who gets copies; only task 6 runs the
language model (two prompts, four new tokens each, for the learner and for the reference).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import copy
import functools
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, chi2, fisher_exact, norm
from transformers.utils import logging as hf_logging

from aipath.checks import (
    call_learner,
    call_with_inputs,
    fail,
    fmt,
    fresh_smollm2,
    none_message,
    seed_everything,
    smollm2,
    smollm2_greedy,
    text_difference,
)

hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()

LAB_DIR = Path(__file__).resolve().parent

# ----- the lab's data and prompt texts (the same as in exercise.py) ------------------------------
LETTERS = "ABCD"
SYSTEM = "You are a careful assistant who answers multiple-choice questions."
ANSWER_INSTRUCTION = "Reply with the letter of the correct choice."
COT_INSTRUCTION = (
    "Think step by step, then finish with the sentence 'The answer is (X).', "
    "where X is the letter of the correct choice."
)
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
GENERATION_PROMPT = "<|im_start|>assistant\n"
_OPPOSITES = [
    ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("early", "late"), ("heavy", "light"),
    ("open", "closed"), ("full", "empty"), ("loud", "quiet"), ("wet", "dry"), ("old", "young"),
]  # fmt: skip
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip

Item = dict[str, Any]
Messages = list[dict[str, str]]


def _load_items(seed: int = 7) -> list[Item]:
    """The lab's 40 questions: a copy of exercise.load_items (the learner may not change it)."""
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
    for copy_of, new_id in ((5, "q38"), (18, "q39")):
        original = items[copy_of]
        question = original["question"].lower().replace(" ", "  ", 1) + " "
        items.append({**original, "id": new_id, "question": question})
    return items


ITEMS = _load_items()
BY_ID = {item["id"]: item for item in ITEMS}
DUPLICATES = {"q05": "q38", "q38": "q05", "q18": "q39", "q39": "q18"}


def _fresh_items() -> list[Item]:
    """Fresh copies for the learner (nothing it changes reaches the next check)."""
    return copy.deepcopy(ITEMS)


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _question(item: Item, instruction: str = ANSWER_INSTRUCTION) -> str:
    lines = [f"{letter}) {choice}" for letter, choice in zip(LETTERS, item["choices"])]
    return "\n".join([item["question"], *lines, instruction])


def _system_messages(system: str | None) -> Messages:
    return [] if system is None else [{"role": "system", "content": system}]


def _zero_shot(item: Item, system: str | None = SYSTEM) -> Messages:
    return [*_system_messages(system), {"role": "user", "content": _question(item)}]


def _cot(item: Item, system: str | None = SYSTEM) -> Messages:
    return [
        *_system_messages(system),
        {"role": "user", "content": _question(item, COT_INSTRUCTION)},
    ]


def _few_shot(item: Item, examples: Sequence[Item], system: str | None = SYSTEM) -> Messages:
    messages = _system_messages(system)
    for example in examples:
        messages.append({"role": "user", "content": _question(example)})
        messages.append({"role": "assistant", "content": f"Answer: {example['answer']}"})
    return [*messages, {"role": "user", "content": _question(item)}]


# ----- the chat template ------------------------------------------------------------------------
def _reference_tokenizer() -> Any:
    return smollm2()[0]


def _tokenizer_copy() -> Any:
    return copy.deepcopy(_reference_tokenizer())


def _template(messages: Sequence[Mapping[str, Any]], generation_prompt: bool = True) -> str:
    return _reference_tokenizer().apply_chat_template(
        [dict(m) for m in messages], add_generation_prompt=generation_prompt, tokenize=False
    )


def _short(text: str, width: int = 90) -> str:
    return repr(text if len(text) <= width else text[: width - 1] + "…")


# ----- task 1-2: messages -----------------------------------------------------------------------
def _as_messages(got: Any, name: str) -> Messages:
    """The learner's messages as a list of {'role', 'content'} dicts, or a failure saying why not."""
    if got is None:
        fail(none_message(name, "the list of messages"))
    if isinstance(got, str):
        fail(
            f"{name} is a str ({_short(got, 60)}); expected a list of messages such as "
            "[{'role': 'system', 'content': ...}, {'role': 'user', 'content': ...}] — the chat "
            "template (task 1's render) turns them into the prompt"
        )
    if isinstance(got, Mapping) or not isinstance(got, Sequence):
        fail(f"{name} should be a list of messages (dicts); got {type(got).__name__}")
    messages = []
    for i, message in enumerate(got):
        if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
            fail(
                f"{name}[{i}] is {_short(repr(message), 70)}; each message should be a dict with "
                "the keys 'role' and 'content'"
            )
        if not isinstance(message["content"], str):
            fail(
                f"{name}[{i}]['content'] is {message['content']!r} ({message['role']} message); "
                "every content should be a str"
            )
        messages.append({"role": message["role"], "content": message["content"]})
    return messages


def _swapped_pairs(roles: list[str], want: list[str]) -> bool:
    """True when roles are want with each (user, assistant) example pair in the other order."""
    flipped = list(want)
    start = 1 if want and want[0] == "system" else 0
    for i in range(start, len(want) - 2, 2):
        if want[i : i + 2] == ["user", "assistant"]:
            flipped[i : i + 2] = ["assistant", "user"]
    return roles != want and roles == flipped


def _judge_messages(got: Messages, want: Messages, name: str, system: str | None) -> None:
    """Pass when both render to the same prompt; otherwise say which message differs and how."""
    try:
        rendered = _template(got)
    except Exception as exc:  # noqa: BLE001 - Jinja: any error means malformed messages
        fail(f"the chat template cannot render {name}: {type(exc).__name__}: {str(exc)[:200]}")
    if rendered == _template(want):
        return
    systems = [m for m in got if m["role"] == "system"]
    if system is None and systems:
        fail(
            f"{name} holds a system message ({_short(systems[0]['content'], 60)}) although "
            f"system=None was passed: leave it out, and SmolLM2's chat template adds its default "
            f"system message ({DEFAULT_SYSTEM!r}) by itself; an empty or home-made system "
            "message replaces that default"
        )
    if system is not None:
        if not systems:
            fail(
                f"{name} has no system message: the system prompt {system!r} was dropped, so the "
                f"template puts its default ({DEFAULT_SYSTEM!r}) in its place. Start the list "
                "with {'role': 'system', 'content': system}"
            )
        if len(systems) > 1:
            fail(
                f"{name} holds {len(systems)} system messages: the system prompt is duplicated "
                "(the template renders each one); keep exactly one, first"
            )
        echoed = [m["role"] for m in got if m["role"] != "system" and system in m["content"]]
        if echoed:
            fail(
                f"{name} has the system text twice: in the system message and inside the "
                f"{echoed[0]} message too. Put it in the system message only"
            )
        if got[0]["role"] != "system":
            fail(
                f"{name} has the system message at position {got.index(systems[0])}: it goes first"
            )
    roles, want_roles = [m["role"] for m in got], [m["role"] for m in want]
    if roles != want_roles:
        clue = ""
        if _swapped_pairs(roles, want_roles):
            clue = (
                ": each worked example is in the wrong role order, assistant before user. An "
                "example is a user turn (its question) followed by an assistant turn (its "
                "answer), the same order as the real conversation the model continues"
            )
        elif len(got) < len(want):
            clue = (
                ": fewer messages than expected. Each worked example is two messages (a user "
                "turn with its question, then an assistant turn with its answer), and the "
                "evaluated question is the last user message"
            )
        fail(f"{name} has the roles {roles}; expected {want_roles}{clue}")
    for i, (mine, theirs) in enumerate(zip(got, want)):
        if mine["content"] != theirs["content"]:
            clue = ""
            if mine["role"] == "user" and theirs["content"].startswith(mine["content"].rstrip()):
                clue = ": the instruction line is missing — format_question(item) appends it"
            fail(
                f"{name}[{i}]['content'] ({mine['role']}) is {_short(mine['content'])}; expected "
                f"{_short(theirs['content'])}{clue}"
            )
    fail(
        f"{name} does not render like the expected messages: {text_difference(rendered, _template(want), expected='the template writes')}"
    )


def _learner_messages(
    learner: Any, builder: str, item: Item, *args: Any, **kwargs: Any
) -> Messages:
    extra = ", examples" if args else ""
    options = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    name = f"{builder}({item['id']}{extra}{options})"
    got = call_learner(name, getattr(learner, builder), copy.deepcopy(item), *args, **kwargs)
    return _as_messages(got, name)


@pytest.mark.task(1)
@pytest.mark.parametrize("system", [SYSTEM, "Answer as briefly as you can.", None])
def test_zero_shot_messages(learner, system):
    item = BY_ID["q03"]
    got = _learner_messages(learner, "zero_shot_messages", item, system=system)
    _judge_messages(
        got, _zero_shot(item, system), f"zero_shot_messages(q03, system={system!r})", system
    )


@pytest.mark.task(1)
def test_zero_shot_messages_default_system(learner):
    item = BY_ID["q12"]
    got = _as_messages(
        call_learner("zero_shot_messages(q12)", learner.zero_shot_messages, copy.deepcopy(item)),
        "zero_shot_messages(q12)",
    )
    _judge_messages(
        got, _zero_shot(item), "zero_shot_messages(q12) (system left at its default)", SYSTEM
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("system", [SYSTEM, None])
def test_cot_messages(learner, system):
    item = BY_ID["q16"]
    got = _learner_messages(learner, "cot_messages", item, system=system)
    want = _cot(item, system)
    if [m["content"] for m in got] == [m["content"] for m in _zero_shot(item, system)]:
        fail(
            f"cot_messages(q16, system={system!r}) equals the zero-shot messages: the user turn "
            "should end with COT_INSTRUCTION (format_question(item, COT_INSTRUCTION)), which asks "
            "for the reasoning first and the answer in a fixed sentence last"
        )
    _judge_messages(got, want, f"cot_messages(q16, system={system!r})", system)


def _judge_render(got: Any, want: str, name: str, messages: Messages) -> None:
    if isinstance(got, str) and got == want:
        return
    if got is None:
        fail(none_message(name, "the prompt text"))
    if not isinstance(got, str):
        ids = getattr(got, "input_ids", None) if not isinstance(got, list) else got
        if ids is not None or hasattr(got, "shape"):
            fail(
                f"{name} returned token ids ({type(got).__name__}); return the prompt as text: "
                "apply_chat_template(..., tokenize=False) (task 6 tokenizes it)"
            )
        fail(f"{name} should be a str; got {type(got).__name__}")
    without = _template(messages, generation_prompt=False)
    if got == without:
        fail(
            f"{name} ends after the last user turn: the generation prompt "
            f"{GENERATION_PROMPT!r} is missing (add_generation_prompt=True). Without it the "
            "prompt does not say that the assistant speaks next, and the model may go on with "
            "the user's text instead of answering"
        )
    if got.endswith(GENERATION_PROMPT * 2) and not want.endswith(GENERATION_PROMPT * 2):
        fail(
            f"{name} ends with the generation prompt twice ({GENERATION_PROMPT * 2!r}): "
            "add_generation_prompt=True already writes it, so the assistant's turn is opened "
            "twice and the model starts inside an empty turn"
        )
    if got.rstrip() == want.rstrip() or got.strip() == want.strip():
        fail(
            f"{name} differs from the chat template only in white space at its ends (the template "
            f"ends with {want[-25:]!r}, yours with {got[-25:]!r}): return apply_chat_template's "
            "text untouched"
        )
    has_system = any(m["role"] == "system" for m in messages)
    by_hand = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    if not has_system and DEFAULT_SYSTEM in want and DEFAULT_SYSTEM not in got:
        fail(
            f"{name} has no system turn, but for messages without a system message SmolLM2's "
            f"chat template writes its default one ({DEFAULT_SYSTEM!r}) first"
            + (
                ": your prompt is each message in <|im_start|>…<|im_end|> plus the generation "
                "prompt, ChatML built by hand, which misses what the template itself adds. Call "
                "tokenizer.apply_chat_template(messages, add_generation_prompt=True, "
                "tokenize=False)"
                if got in (by_hand + GENERATION_PROMPT, by_hand)
                else f". {text_difference(got, want, expected='the template writes')}"
            )
        )
    if got.count("<|im_start|>system") > max(1, want.count("<|im_start|>system")):
        fail(
            f"{name} holds {got.count('<|im_start|>system')} system turns; the chat template "
            f"writes {want.count('<|im_start|>system')}: a system message is duplicated"
        )
    if has_system and DEFAULT_SYSTEM in got:
        fail(
            f"{name} holds SmolLM2's default system message although the messages bring their "
            "own: the given system message was dropped or replaced"
        )
    fail(
        f"{name} differs from tokenizer.apply_chat_template's prompt: {text_difference(got, want, expected='the template writes')}"
    )


def _learner_render(learner: Any, tokenizer: Any, messages: Messages, name: str) -> Any:
    return call_learner(name, learner.render, tokenizer, copy.deepcopy(messages))


RENDER_CASES = {
    "zero-shot, with a system message": lambda: _zero_shot(BY_ID["q00"]),
    "zero-shot, system=None": lambda: _zero_shot(BY_ID["q00"], None),
    "few-shot with two examples": lambda: _few_shot(BY_ID["q07"], [BY_ID["q01"], BY_ID["q02"]]),
    "chain of thought": lambda: _cot(BY_ID["q09"]),
}


@pytest.mark.task(1)
@pytest.mark.parametrize("case", list(RENDER_CASES))
def test_render_is_the_chat_template(learner, case):
    messages = RENDER_CASES[case]()
    got = _learner_render(
        learner, _tokenizer_copy(), messages, f"render(tokenizer, {case} messages)"
    )
    _judge_render(got, _template(messages), f"render(tokenizer, {case} messages)", messages)


OTHER_TEMPLATE = (
    "{% for message in messages %}[{{ message['role'] | upper }}] {{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}[ASSISTANT] {% endif %}"
)


@pytest.mark.task(1)
def test_render_follows_the_tokenizers_own_template(learner):
    tokenizer = _tokenizer_copy()
    tokenizer.chat_template = OTHER_TEMPLATE
    messages = _zero_shot(BY_ID["q00"])
    name = "render(tokenizer, messages) with a tokenizer of another chat template"
    got = _learner_render(learner, tokenizer, messages, name)
    want = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    if isinstance(got, str) and got == _template(messages):
        fail(
            f"{name} writes SmolLM2's <|im_start|> format although this tokenizer's chat "
            "template is another one: the prompt was built by hand instead of with "
            "tokenizer.apply_chat_template, and would be wrong for every other model"
        )
    if isinstance(got, str) and got == want:
        return
    _judge_render(got, want, name, messages)


# ----- task 2: few-shot examples ----------------------------------------------------------------
def _pick(learner: Any, pool: list[Item], item: Item, k: int, seed: int) -> list[Item]:
    name = f"pick_examples(pool, {item['id']}, k={k}, seed={seed})"
    got = call_learner(name, learner.pick_examples, pool, copy.deepcopy(item), k, seed)
    if got is None:
        fail(none_message(name, "the list of examples"))
    if isinstance(got, Mapping) or not isinstance(got, Sequence):
        fail(f"{name} should be a list of items; got {type(got).__name__}")
    picked = list(got)
    for example in picked:
        if not isinstance(example, Mapping) or "id" not in example:
            fail(f"{name} holds {_short(repr(example), 60)}; expected items of the pool (dicts)")
    if len(picked) != k:
        fail(f"{name} returned {len(picked)} examples; expected k={k}")
    ids = [example["id"] for example in picked]
    if len(set(ids)) != k:
        fail(f"{name} picked the same example twice: {ids}. Draw without replacement")
    for example in picked:
        original = BY_ID.get(example["id"])
        if original is None or dict(example) != original:
            fail(f"{name} returned {example['id']!r}, which is not an unchanged item of the pool")
    if item["id"] in ids:
        fail(
            f"{name} picked the evaluated item itself ({item['id']}) as a worked example: its "
            "answer is then in the prompt, and the score measures copying, not answering. Leave "
            "out the evaluated item (same id)"
        )
    twin = DUPLICATES.get(item["id"])
    if twin in ids:
        fail(
            f"{name} picked {twin}, which asks the same question as {item['id']} "
            f"({BY_ID[twin]['question']!r} against {item['question']!r}, another id, other case "
            "and spacing): the evaluated question leaks through its duplicate. Leave out every "
            "pool item whose normalise(question) equals the evaluated item's too"
        )
    return picked


@pytest.mark.task(2)
def test_pick_examples_never_includes_the_evaluated_question(learner):
    for seed in range(30):
        _pick(learner, _fresh_items(), BY_ID["q00"], 10, seed)
    item = BY_ID["q05"]
    small = [copy.deepcopy(BY_ID[i]) for i in ("q38", "q01", "q05", "q02", "q03")]
    picked = _pick(learner, small, item, 3, 0)
    if sorted(e["id"] for e in picked) != ["q01", "q02", "q03"]:
        fail("pick_examples from [q38, q01, q05, q02, q03] for q05 should pick q01, q02, q03")
    for item_id in ("q05", "q38", "q18", "q00"):
        for seed in range(12):
            _pick(learner, _fresh_items(), BY_ID[item_id], 4, seed)


def _judge_global_generators_untouched(learner: Any, item: Item) -> None:
    """A draw with a generator of its own leaves the global ones where they were. A learner who
    calls random.seed(seed) and random.sample passes the same-seed test above, but resets the
    global stream of every other caller (and reseeds it the same way on every call)."""
    random.seed(999)
    np.random.seed(999)
    torch.manual_seed(999)
    before = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone())
    _pick(learner, _fresh_items(), item, 4, 3)
    moved = []
    if random.getstate() != before[0]:
        moved.append(
            "Python's global `random` generator (random.seed, random.sample, "
            "random.shuffle, … on the module)"
        )
    if not np.array_equal(np.random.get_state()[1], before[1]):
        moved.append("NumPy's global generator (np.random.seed, np.random.choice, …)")
    if not torch.equal(torch.get_rng_state(), before[2]):
        moved.append("torch's global generator (torch.manual_seed, torch.randperm, …)")
    if moved:
        fail(
            f"pick_examples(pool, {item['id']}, k=4, seed=3) changed the state of "
            f"{' and '.join(moved)}: it draws with, or reseeds, a global generator. The same "
            "seed then gives the same examples, but every call resets the random stream that "
            "the rest of the program (and its other seeds) relies on. Draw with a generator of "
            "its own: random.Random(seed).sample(eligible, k)"
        )


@pytest.mark.task(2)
def test_pick_examples_is_seeded_and_draws_from_the_pool(learner):
    item = BY_ID["q20"]
    first = [e["id"] for e in _pick(learner, _fresh_items(), item, 4, 3)]
    random.seed(12345)  # the global generators move: a seeded draw must not notice
    random.random()
    np.random.seed(12345)
    torch.manual_seed(12345)
    again = [e["id"] for e in _pick(learner, _fresh_items(), item, 4, 3)]
    if again != first:
        fail(
            f"pick_examples(pool, q20, k=4, seed=3) returned {first} and then {again}: the same "
            "seed must give the same examples (a generator of its own, e.g. "
            "random.Random(seed), not the global one)"
        )
    _judge_global_generators_untouched(learner, item)
    draws = [tuple(e["id"] for e in _pick(learner, _fresh_items(), item, 4, s)) for s in range(20)]
    if len(set(draws)) < 5:
        fail(
            f"pick_examples(pool, q20, k=4, seed=0…19) gave only {len(set(draws))} different "
            f"selections, e.g. {list(draws[0])}: the seed should change the draw"
        )
    seen = {i for draw in draws for i in draw}
    if len(seen) < 20:
        fail(
            f"over 20 seeds pick_examples(pool, q20, k=4, ...) used only {len(seen)} of the 39 "
            f"eligible items ({sorted(seen)}): draw from the whole pool"
        )


@pytest.mark.task(2)
def test_pick_examples_leaves_the_pool_alone(learner):
    pool = _fresh_items()
    name = "pick_examples(pool, q10, k=5, seed=1)"
    call_learner(name, learner.pick_examples, pool, copy.deepcopy(BY_ID["q10"]), 5, 1)
    if [e["id"] for e in pool] != [e["id"] for e in ITEMS]:
        fail(
            f"{name} reordered the caller's pool list in place (it now starts "
            f"{[e['id'] for e in pool[:4]]}): the pool is the data set, shuffle or sample a copy"
        )
    if pool != ITEMS:
        fail(f"{name} changed the items of the pool in place")
    small = [copy.deepcopy(BY_ID[i]) for i in ("q05", "q38", "q01", "q02")]
    try:
        got = learner.pick_examples(small, copy.deepcopy(BY_ID["q05"]), 3, 0)
    except NotImplementedError:
        raise
    except ValueError:
        return
    except Exception as exc:  # noqa: BLE001 - the learner's code: any other error is wrong
        fail(
            "pick_examples([q05, q38, q01, q02], q05, k=3, seed=0) raised "
            f"{type(exc).__name__}: {str(exc)[:120]}; with only 2 eligible examples it should "
            "raise ValueError"
        )
    fail(
        "pick_examples([q05, q38, q01, q02], q05, k=3, seed=0) returned "
        f"{[e.get('id') for e in got] if isinstance(got, list) else got!r}; only 2 items are "
        "eligible (q05 and its duplicate q38 are not), so it should raise ValueError"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("system", [SYSTEM, None])
def test_few_shot_messages(learner, system):
    item = BY_ID["q07"]
    examples = [BY_ID["q01"], BY_ID["q02"], BY_ID["q33"]]
    name = f"few_shot_messages(q07, [q01, q02, q33], system={system!r})"
    got = call_learner(
        name, learner.few_shot_messages, copy.deepcopy(item), copy.deepcopy(examples), system=system
    )
    messages = _as_messages(got, name)
    want = _few_shot(item, examples, system)
    contents = [m["content"] for m in messages]
    if contents and contents[-1] != want[-1]["content"] and want[-1]["content"] in contents:
        fail(
            f"{name} does not end with the evaluated question: it is message "
            f"{contents.index(want[-1]['content'])} of {len(contents)}. The examples come "
            "first, the question to answer last"
        )
    _judge_messages(messages, want, name, system)


# ----- task 3: parsing ---------------------------------------------------------------------------
PROBES: list[tuple[str, str | None]] = [
    ("B", "B"),
    ("Answer: B", "B"),
    ("answer: c", "C"),
    ("b)", "B"),
    ("(D)", "D"),
    ("C) 72", "C"),
    ("A. 71, because 23 + 48 = 71.", "A"),
    ("The answer is (B).", "B"),
    ("the answer is d", "D"),
    ("Answer: B\n\nExplanation: A) is too small.", "B"),
    ("Based on the choices, the answer is (C).", "C"),
    ("Option A is too small; the correct answer is (C).", "C"),
    ("(A) 61 is too small and (C) 72 is one too many. The answer is (B).", "B"),
    ("Answer: A? No: 23 + 48 = 71, so the answer is (C).", "C"),
    ("The answer is (B). Wait, 8 × 8 = 64, so the answer is (D).", "D"),
    ("d) quiet\n\nThe opposite of loud is quiet.", "D"),
    ("  a)  May", "A"),
    ("I am not sure.", None),
    ("", None),
    ("71", None),
    ("The answer is 71.", None),
    ("Dogs are animals.", None),
    ("Because 8 × 8 = 64.", None),
]


def _wrong_first_letter(text: str) -> str | None:
    return text.strip()[0].upper() if text.strip() else None


def _wrong_first_standalone(text: str) -> str | None:
    found = re.search(r"\b([A-Da-d])\b", text)
    return found.group(1).upper() if found else None


def _wrong_last_standalone(text: str) -> str | None:
    found = re.findall(r"\b([A-D])\b", text)
    return found[-1] if found else None


def _reference_parse(text: str) -> str | None:
    marker = re.findall(r"answer\W{0,4}(?:is\W{0,3})?\(?([a-d])\b", text, re.IGNORECASE)
    if marker:
        return marker[-1].upper()
    leading = re.match(r"^\s*\(?([a-d])(?:\s*$|[).:])", text, re.IGNORECASE)
    return leading.group(1).upper() if leading else None


def _wrong_first_marker(text: str) -> str | None:
    marker = re.findall(r"answer\W{0,4}(?:is\W{0,3})?\(?([a-d])\b", text, re.IGNORECASE)
    if marker:
        return marker[0].upper()
    return _reference_parse(text)


PARSE_MISTAKES: dict[str, Callable[[str], str | None]] = {
    "the first answer marker of the reply instead of the last ('The answer is (B). Wait, … so "
    "the answer is (D).' gives 'B'): a chain of thought may name an answer and then correct "
    "it, so the last 'answer is'/'Answer:' counts (findall(...)[-1], not search)": (
        _wrong_first_marker
    ),
    "the first letter of the reply, whatever it is ('The answer…' gives 'T', 'Based on…' "
    "'B'): look for an answer marker ('answer is', 'Answer:') first, then for a lone letter "
    "at the start": _wrong_first_letter,
    "the first lone letter A–D anywhere in the reply ('Option A is too small; the correct "
    "answer is (C).' gives 'A'): an explicit 'answer is'/'Answer:' marker wins over any "
    "letter mentioned before it": _wrong_first_standalone,
    "the last capital letter A–D standing alone anywhere in the reply": _wrong_last_standalone,
}


def _case_variants(text: str) -> list[str]:
    """The reply with only its letter case changed: the same answer for a case-blind parser."""
    letters_up = re.sub(r"\b([a-d])\b", lambda m: m.group(1).upper(), text)
    return [
        re.sub(r"answer", "Answer", letters_up, flags=re.IGNORECASE),
        re.sub(r"answer", "answer", letters_up, flags=re.IGNORECASE),
        text.upper(),
        text.lower(),
    ]


def _case_variants_fix(learner: Any, text: str, want: str | None) -> bool:
    if want is None:
        return False
    for variant in _case_variants(text):
        if (
            variant != text
            and call_learner(f"parse_answer({variant!r})", learner.parse_answer, variant) == want
        ):
            return True
    return False


def _parse(learner: Any, text: str) -> Any:
    return call_learner(f"parse_answer({text!r})", learner.parse_answer, text)


@pytest.mark.task(3)
def test_parse_answer_formats(learner):
    got = [_parse(learner, text) for text, _want in PROBES]
    wrong = [(text, mine, want) for (text, want), mine in zip(PROBES, got) if mine != want]
    if not wrong:
        return
    for text, mine, want in wrong:
        if mine is not None and not isinstance(mine, str):
            fail(
                f"parse_answer({text!r}) is {mine!r}; it should be a letter 'A'–'D' (a str) or None"
            )
        if isinstance(mine, str) and want is not None and mine.upper() == want and mine != want:
            fail(
                f"parse_answer({text!r}) is {mine!r}; expected {want!r}: return the letter in "
                "upper case, as the items' 'answer' is written"
            )
        if isinstance(mine, str) and want is not None and want in mine and mine != want:
            fail(f"parse_answer({text!r}) is {mine!r}; expected just the letter {want!r}")
    shown = "; ".join(f"{t!r} → {m!r} (expected {w!r})" for t, m, w in wrong[:4])
    for label, wrong_parser in PARSE_MISTAKES.items():
        if got == [wrong_parser(text) for text, _want in PROBES]:
            fail(f"parse_answer looks like {label}. On these replies: {shown}")
    failing = [i for i, (text, want) in enumerate(PROBES) if got[i] != want]
    # Measured, not guessed: a reply whose answer the parser finds once only its letter case is
    # changed ('The Answer is (B).', 'ANSWER: C', 'b)' → 'B)') shows a case-sensitive parser.
    by_case = [i for i in failing if _case_variants_fix(learner, PROBES[i][0], PROBES[i][1])]
    if by_case and by_case == failing:
        examples = ", ".join(repr(PROBES[i][0]) for i in by_case[:3])
        fail(
            f"parse_answer misses the answer in {examples} and finds it once only the letter "
            "case of the reply is changed, and it gets every other reply right: it is "
            "case-sensitive. Models write 'answer: c', 'The answer is (B)' and 'b)' as often "
            "as 'Answer: C' (re.IGNORECASE, and return the letter upper-cased)"
        )
    clue = ""
    by_case_texts = {PROBES[i][0] for i in by_case}
    for t, m, w in wrong:
        if m is None or t in by_case_texts:
            continue
        if m == _wrong_first_marker(t) != w:
            clue = (
                f" On {t!r} it returns {m!r}, the letter of the first answer marker; the last "
                "one counts."
            )
            break
        if m == _wrong_first_letter(t):
            clue = f" On {t!r} it returns {m!r}, the first letter of the reply."
            break
    if by_case:
        clue += (
            f" On {PROBES[by_case[0]][0]!r} it finds the answer once only the letter case is "
            "changed: it is case-sensitive (re.IGNORECASE)."
        )
    fail(
        f"parse_answer gets {len(wrong)} of {len(PROBES)} replies wrong: {shown}.{clue} A reply "
        "holds an answer when it has a marker ('Answer: B', 'the answer is (B)') — the last "
        "one counts — or, without a marker, starts with a lone letter ('B', 'b)', '(B)', "
        "'B. 61'); anything else is None"
    )


# ----- task 4: accuracy with an interval --------------------------------------------------------
Z = 1.96
CI_TOL = 2e-4  # z = 1.96 or norm.ppf(0.975) = 1.959964: the bounds move by about 1e-5


def _wilson(k: int, n: int, z: float = Z) -> tuple[float, float]:
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z / den * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _wald(k: int, n: int, clip: bool = False) -> tuple[float, float]:
    p = k / n
    half = Z * math.sqrt(p * (1 - p) / n)
    return (max(0.0, p - half), min(1.0, p + half)) if clip else (p - half, p + half)


def _wilson_cc(k: int, n: int) -> tuple[float, float]:
    p, z = k / n, Z
    low = 2 * n * p + z * z - 1 - z * math.sqrt(z * z - 2 - 1 / n + 4 * p * (n * (1 - p) + 1))
    high = 2 * n * p + z * z + 1 + z * math.sqrt(z * z + 2 - 1 / n + 4 * p * (n * (1 - p) - 1))
    den = 2 * (n + z * z)
    return (0.0 if k == 0 else max(0.0, low / den)), (1.0 if k == n else min(1.0, high / den))


def _agresti_coull(k: int, n: int) -> tuple[float, float]:
    n_tilde = n + Z * Z
    p = (k + Z * Z / 2) / n_tilde
    half = Z * math.sqrt(p * (1 - p) / n_tilde)
    return p - half, p + half


def _wilson_no_square_term(k: int, n: int) -> tuple[float, float]:
    p = k / n
    den = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / den
    half = Z / den * math.sqrt(p * (1 - p) / n)
    return centre - half, centre + half


def _interval_mistakes(k: int, n: int) -> dict[str, Callable[[], tuple[float, float]]]:
    return {
        "a normal-approximation (Wald) interval p ± 1.96·√(p(1−p)/n), not Wilson's: at p = 0 "
        "or 1 its width is 0, and near them it leaves [0, 1]": lambda: _wald(k, n),
        "a normal-approximation (Wald) interval clipped to [0, 1], not Wilson's (its width is 0 "
        "at p = 0 or 1)": lambda: _wald(k, n, clip=True),
        "a Wilson interval with z = 1.645 (a 90 % interval); 95 % needs z = 1.96": lambda: _wilson(
            k, n, 1.645
        ),
        "a Wilson interval with z = 2.576 (a 99 % interval); 95 % needs z = 1.96": lambda: _wilson(
            k, n, 2.576
        ),
        "a Wilson interval with a continuity correction; the task asks for the plain Wilson "
        "score interval": lambda: _wilson_cc(k, n),
        "the Clopper–Pearson (exact) interval, not Wilson's": lambda: tuple(
            binomtest(k, n).proportion_ci(method="exact")
        ),
        "the Agresti–Coull interval, not Wilson's": lambda: _agresti_coull(k, n),
        "Wilson's interval without the z²/(4n²) term under the square root": lambda: (
            _wilson_no_square_term(k, n)
        ),
    }


def _as_interval(got: Any, name: str) -> tuple[float, float]:
    if got is None:
        fail(
            f"{name} is None: an accuracy measured on a few dozen questions needs its "
            "interval — return (low, high)"
        )
    try:
        low, high = (float(v) for v in got)
    except (TypeError, ValueError):
        fail(f"{name} should be a pair (low, high) of numbers; got {_short(repr(got), 60)}")
    if not low <= high:
        fail(f"{name} is ({fmt(low)}, {fmt(high)}): low above high")
    return low, high


def _judge_interval(got: Any, k: int, n: int, name: str) -> None:
    low, high = _as_interval(got, name)
    want = _wilson(k, n)
    if abs(low - want[0]) <= CI_TOL and abs(high - want[1]) <= CI_TOL:
        return
    for label, wrong in _interval_mistakes(k, n).items():
        try:
            bad = wrong()
        except (ValueError, ZeroDivisionError):
            continue
        if abs(low - bad[0]) <= CI_TOL and abs(high - bad[1]) <= CI_TOL:
            fail(
                f"{name} is ({low:.4f}, {high:.4f}), which looks like {label}; the 95 % Wilson "
                f"interval of {k}/{n} is ({want[0]:.4f}, {want[1]:.4f})"
            )
    fail(
        f"{name} is ({low:.4f}, {high:.4f}); the 95 % Wilson interval of {k}/{n} is "
        f"({want[0]:.4f}, {want[1]:.4f}) (z = 1.96)"
    )


@pytest.mark.task(4)
@pytest.mark.parametrize(("k", "n"), [(27, 40), (40, 40), (0, 12), (1, 3), (10, 10)])
def test_wilson_interval(learner, k, n):
    got = call_learner(f"wilson_interval({k}, {n})", learner.wilson_interval, k, n)
    _judge_interval(got, k, n, f"wilson_interval({k}, {n})")


_RIGHT_FORMATS = [
    "{X}",
    "Answer: {X}",
    "{x})",
    "The answer is ({X}).",
    "answer: {x}",
    "{X}) {choice}",
    "({X})",
    "Based on the choices, the answer is {X}.",
    "{X}. {choice}\n\nThe other choices do not fit.",
    "the answer is {x}",
]
_NO_ANSWER = [
    "I am not sure.",
    "{choice}",
    "The answer is {choice}.",
    "",
    "Let me think about this question",
]


def _reply(rng: random.Random, item: Item, letter: str | None, formats: Sequence[str]) -> str:
    if letter is None:
        text = rng.choice(_NO_ANSWER)
        return text.format(choice=rng.choice(item["choices"]))
    choice = item["choices"][LETTERS.index(letter)]
    return rng.choice(formats).format(X=letter, x=letter.lower(), choice=choice)


@functools.lru_cache(maxsize=1)
def _recorded() -> tuple[dict[str, str], dict[str, str]]:
    """Outputs of two templates on the 40 items: A right on 18 (3 of them only A), B right on 25
    (10 only B); among the 12 both get wrong, 5 differ in their wrong letters; A leaves a few
    wrong ones unanswered (in the formats of _NO_ANSWER), B fewer."""
    rng = random.Random(2024)
    order = list(range(len(ITEMS)))
    rng.shuffle(order)
    plan = (
        ["both"] * 15 + ["only_a"] * 3 + ["only_b"] * 10 + ["same_wrong"] * 7
        + ["other_wrong"] * 5
    )  # fmt: skip
    outputs_a: dict[str, str] = {}
    outputs_b: dict[str, str] = {}
    unanswered_a = {3, 9, 16, 22, 31}
    unanswered_b = {16, 31}
    for slot, index in enumerate(order):
        item = ITEMS[index]
        right = item["answer"]
        wrongs = [letter for letter in LETTERS if letter != right]
        kind = plan[slot]
        first_wrong, second_wrong = rng.sample(wrongs, 2)
        a = right if kind in ("both", "only_a") else first_wrong
        b = right if kind in ("both", "only_b") else first_wrong
        if kind == "other_wrong":
            b = second_wrong
        if index in unanswered_a and a != right:
            a = None
        if index in unanswered_b and b != right:
            b = None
        outputs_a[item["id"]] = _reply(rng, item, a, _RIGHT_FORMATS)
        outputs_b[item["id"]] = _reply(rng, item, b, ["Answer: {X}", "Answer: {X}", "{X}"])
    return outputs_a, outputs_b


def _reference_eval(items: Sequence[Item], outputs: Mapping[str, str]) -> dict[str, Any]:
    predictions = {item["id"]: _reference_parse(outputs[item["id"]]) for item in items}
    correct = sum(predictions[item["id"]] == item["answer"] for item in items)
    n = len(items)
    return {
        "predictions": predictions,
        "n": n,
        "correct": correct,
        "unparsed": sum(p is None for p in predictions.values()),
        "accuracy": correct / n,
        "ci": _wilson(correct, n),
    }


EVAL_KEYS = ("predictions", "n", "correct", "unparsed", "accuracy", "ci")


def _learner_evaluate(
    learner: Any, items: list[Item], outputs: dict[str, str], name: str
) -> dict[str, Any]:
    got = call_learner(name, learner.evaluate, copy.deepcopy(items), dict(outputs))
    if got is None:
        fail(none_message(name, "the dict of results"))
    if not isinstance(got, Mapping):
        fail(f"{name} should return a dict; got {type(got).__name__}")
    missing = [key for key in EVAL_KEYS if key not in got]
    if "ci" in missing:
        fail(
            f"{name} has no 'ci': an accuracy on {len(items)} questions without its 95 % "
            f"interval says nothing about how sure it is. Return 'ci': wilson_interval(correct, n)"
        )
    if missing:
        fail(f"{name} lacks the keys {missing}; it has {sorted(got)}")
    return dict(got)


def _judge_eval(got: dict[str, Any], items: list[Item], outputs: dict[str, str], name: str) -> None:
    want = _reference_eval(items, outputs)
    predictions = got["predictions"]
    if not isinstance(predictions, Mapping) or set(predictions) != set(want["predictions"]):
        fail(f"{name}['predictions'] should map each of the {len(items)} ids to a letter or None")
    for item in items:
        mine, theirs = predictions[item["id"]], want["predictions"][item["id"]]
        if mine != theirs:
            text = outputs[item["id"]]
            fail(
                f"{name}['predictions'][{item['id']!r}] is {mine!r} for the output {text!r}; "
                f"expected {theirs!r}. Parse each output with parse_answer (task 3); its "
                "checks show the formats"
            )
    for key in ("n", "correct", "unparsed"):
        value = got[key]
        if (
            key == "n"
            and want["unparsed"]
            and isinstance(value, int | np.integer)
            and int(value) == want["n"] - want["unparsed"]
        ):
            fail(
                f"{name}['n'] is {value} = {want['n']} − {want['unparsed']}: the "
                f"{want['unparsed']} outputs without an answer are left out of n. n is the number "
                f"of questions asked ({want['n']}); an unanswered question counts as wrong, or a "
                "template that makes the model answer less scores higher"
            )
        if not isinstance(value, int | np.integer) or int(value) != want[key]:
            fail(f"{name}[{key!r}] is {value!r}; expected {want[key]} (an int)")
    accuracy = got["accuracy"]
    try:
        accuracy = float(accuracy)
    except (TypeError, ValueError):
        fail(f"{name}['accuracy'] should be a number; got {accuracy!r}")
    n, correct, unparsed = want["n"], want["correct"], want["unparsed"]
    if not math.isclose(accuracy, correct / n, rel_tol=1e-9):
        if unparsed and math.isclose(accuracy, correct / (n - unparsed), rel_tol=1e-9):
            fail(
                f"{name}['accuracy'] is {accuracy:.4f} = {correct}/{n - unparsed}: the "
                f"{unparsed} outputs without an answer are left out of the denominator. An "
                f"unanswered question is a wrong one: accuracy = {correct}/{n} = {correct / n:.4f}"
            )
        fail(f"{name}['accuracy'] is {accuracy:.4f}; expected {correct}/{n} = {correct / n:.4f}")
    ci = got["ci"]
    if unparsed and ci is not None:
        low, high = _as_interval(ci, f"{name}['ci']")
        bad = _wilson(correct, n - unparsed)
        if abs(low - bad[0]) <= CI_TOL and abs(high - bad[1]) <= CI_TOL:
            fail(
                f"{name}['ci'] is ({low:.4f}, {high:.4f}), the Wilson interval of "
                f"{correct}/{n - unparsed}: the {unparsed} unanswered outputs are left out of "
                f"the denominator; use {correct}/{n}"
            )
    _judge_interval(ci, correct, n, f"{name}['ci']")


@pytest.mark.task(4)
def test_evaluate_on_recorded_outputs(learner):
    outputs_a, outputs_b = _recorded()
    for label, outputs in (("A", outputs_a), ("B", outputs_b)):
        name = f"evaluate(items, outputs of template {label})"
        got = _learner_evaluate(learner, ITEMS, outputs, name)
        _judge_eval(got, ITEMS, outputs, name)


@pytest.mark.task(4)
def test_evaluate_perfect_score_has_an_interval(learner):
    items = ITEMS[:12]
    outputs = {item["id"]: f"Answer: {item['answer']}" for item in items}
    name = "evaluate(12 items, 12 right answers)"
    got = _learner_evaluate(learner, items, outputs, name)
    _judge_eval(got, items, outputs, name)


# ----- task 5: comparing two templates ----------------------------------------------------------
COMPARE_KEYS = ("accuracy_a", "accuracy_b", "difference", "only_a", "only_b", "p_value")


def _correctness(outputs: Mapping[str, str]) -> list[bool]:
    return [_reference_parse(outputs[item["id"]]) == item["answer"] for item in ITEMS]


def _reference_compare(
    outputs_a: Mapping[str, str], outputs_b: Mapping[str, str]
) -> dict[str, Any]:
    a, b = _correctness(outputs_a), _correctness(outputs_b)
    only_a = sum(x and not y for x, y in zip(a, b))
    only_b = sum(y and not x for x, y in zip(a, b))
    n = len(a)
    p_value = binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0
    return {
        "accuracy_a": sum(a) / n,
        "accuracy_b": sum(b) / n,
        "difference": (sum(b) - sum(a)) / n,
        "only_a": only_a,
        "only_b": only_b,
        "p_value": float(p_value),
    }


def _p_value_mistakes(
    outputs_a: Mapping[str, str], outputs_b: Mapping[str, str]
) -> dict[str, Callable[[], float]]:
    a, b = _correctness(outputs_a), _correctness(outputs_b)
    n = len(a)
    only_a = sum(x and not y for x, y in zip(a, b))
    only_b = sum(y and not x for x, y in zip(a, b))
    d = only_a + only_b
    pred_a = [_reference_parse(outputs_a[i["id"]]) for i in ITEMS]
    pred_b = [_reference_parse(outputs_b[i["id"]]) for i in ITEMS]
    differ = sum(x != y for x, y in zip(pred_a, pred_b))
    pa, pb = sum(a) / n, sum(b) / n
    pooled = (sum(a) + sum(b)) / (2 * n)

    def z_test() -> float:
        se = math.sqrt(pooled * (1 - pooled) * 2 / n)
        return float(2 * norm.sf(abs(pb - pa) / se))

    return {
        "McNemar's chi-square approximation (b − c)²/(b + c); the task asks for the exact "
        "(binomial) McNemar test, which is right also for few discordant pairs": lambda: float(
            chi2.sf((only_a - only_b) ** 2 / d, 1)
        ),
        "McNemar's chi-square with continuity correction (|b − c| − 1)²/(b + c); the task asks "
        "for the exact (binomial) test": lambda: float(
            chi2.sf((abs(only_a - only_b) - 1) ** 2 / d, 1)
        ),
        "a one-sided exact test: the two-sided p-value is twice the smaller tail (capped at 1)": (
            lambda: float(binomtest(only_a, d, alternative="less").pvalue)
        ),
        "the other one-sided exact test; two-sided is asked": lambda: float(
            binomtest(only_a, d, alternative="greater").pvalue
        ),
        "an unpaired two-proportion z-test on the two accuracies: both templates answered the "
        "same questions, so the test must be paired (McNemar, on the questions only one of "
        "them gets right)": z_test,
        "Fisher's exact test on the two accuracies as independent samples: the test must be "
        "paired (McNemar)": lambda: float(
            fisher_exact([[sum(a), n - sum(a)], [sum(b), n - sum(b)]]).pvalue
        ),
        "an exact test over every question where the two predicted letters differ: a question "
        "both templates get wrong (with different letters) is not a discordant pair": lambda: float(
            binomtest(only_a, differ).pvalue
        ),
    }


def _template_comparison(
    learner: Any, outputs_a: dict[str, str], outputs_b: dict[str, str], name: str
) -> dict[str, Any]:
    got = call_learner(
        name, learner.compare_templates, _fresh_items(), dict(outputs_a), dict(outputs_b)
    )
    if got is None:
        fail(none_message(name, "the dict of results"))
    if not isinstance(got, Mapping):
        fail(f"{name} should return a dict; got {type(got).__name__}")
    missing = [key for key in COMPARE_KEYS if key not in got]
    if missing:
        fail(f"{name} lacks the keys {missing}; it has {sorted(got)}")
    return dict(got)


def _as_number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        fail(f"{name} should be a number; got {value!r}")


@pytest.mark.task(5)
def test_compare_templates_exact_mcnemar(learner):
    outputs_a, outputs_b = _recorded()
    name = "compare_templates(items, outputs_a, outputs_b)"
    got = _template_comparison(learner, outputs_a, outputs_b, name)
    want = _reference_compare(outputs_a, outputs_b)
    for key in ("accuracy_a", "accuracy_b"):
        value = _as_number(got[key], f"{name}[{key!r}]")
        if not math.isclose(value, want[key], rel_tol=1e-9):
            fail(
                f"{name}[{key!r}] is {value:.4f}; expected {want[key]:.4f} — the accuracy of "
                "task 4 (unanswered outputs count as wrong)"
            )
    difference = _as_number(got["difference"], f"{name}['difference']")
    if not math.isclose(difference, want["difference"], rel_tol=1e-9, abs_tol=1e-12):
        if math.isclose(difference, -want["difference"], rel_tol=1e-9):
            fail(
                f"{name}['difference'] is {difference:.4f}: accuracy_a − accuracy_b. It is defined "
                f"as accuracy_b − accuracy_a = {want['difference']:.4f} (how much B gains)"
            )
        fail(f"{name}['difference'] is {difference:.4f}; expected {want['difference']:.4f}")
    pair = (got["only_a"], got["only_b"])
    if pair != (want["only_a"], want["only_b"]):
        if pair == (want["only_b"], want["only_a"]):
            fail(
                f"{name} has only_a={pair[0]} and only_b={pair[1]}, the other way round: "
                "only_a counts the questions A gets right and B wrong"
            )
        pred_a = [_reference_parse(outputs_a[i["id"]]) for i in ITEMS]
        pred_b = [_reference_parse(outputs_b[i["id"]]) for i in ITEMS]
        differ = sum(x != y for x, y in zip(pred_a, pred_b))
        discordant = want["only_a"] + want["only_b"]
        if (
            all(isinstance(v, int | np.integer) for v in pair)
            and differ != discordant
            and int(pair[0]) + int(pair[1]) == differ
        ):
            fail(
                f"{name} has only_a={pair[0]}, only_b={pair[1]}: together {differ}, the number "
                f"of questions where the two predicted letters differ. {differ - discordant} of "
                "them both templates get wrong (with different letters, or one unanswered), "
                "which says nothing about which is better. only_a counts the questions right "
                f"with A and wrong with B ({want['only_a']}), only_b the other way round "
                f"({want['only_b']})"
            )
        fail(
            f"{name} has only_a={pair[0]!r}, only_b={pair[1]!r}; expected {want['only_a']} "
            f"questions right with A only and {want['only_b']} right with B only (the "
            "discordant pairs: right with one template and wrong with the other)"
        )
    p_value = _as_number(got["p_value"], f"{name}['p_value']")
    if math.isclose(p_value, want["p_value"], rel_tol=1e-6):
        return
    for label, wrong in _p_value_mistakes(outputs_a, outputs_b).items():
        if math.isclose(p_value, wrong(), rel_tol=1e-6):
            fail(
                f"{name}['p_value'] is {p_value:.4g}, which looks like {label}; the exact "
                f"McNemar p-value is {want['p_value']:.4g} (binomial test of "
                f"{want['only_a']} against {want['only_b']}, p = 0.5, two-sided)"
            )
    fail(
        f"{name}['p_value'] is {p_value:.4g}; the exact two-sided McNemar p-value is "
        f"{want['p_value']:.4g}: a binomial test of only_a = {want['only_a']} out of the "
        f"{want['only_a'] + want['only_b']} discordant pairs, with p = 0.5"
    )


@pytest.mark.task(5)
def test_compare_templates_without_discordant_pairs(learner):
    outputs_a, _outputs_b = _recorded()
    name = "compare_templates(items, outputs_a, outputs_a) (the same outputs twice)"
    got = _template_comparison(learner, outputs_a, outputs_a, name)
    if (got["only_a"], got["only_b"]) != (0, 0):
        fail(f"{name} has only_a={got['only_a']!r}, only_b={got['only_b']!r}; expected 0 and 0")
    p_value = _as_number(got["p_value"], f"{name}['p_value']")
    if math.isnan(p_value) or not math.isclose(p_value, 1.0):
        fail(
            f"{name}['p_value'] is {p_value!r}; with no discordant pair there is no evidence of "
            "any difference: the p-value is 1.0"
        )
    difference = _as_number(got["difference"], f"{name}['difference']")
    if difference != 0:
        fail(f"{name}['difference'] is {difference!r}; expected 0")


# ----- task 6: greedy generation ----------------------------------------------------------------
NEW_TOKENS = 4
GENERATE_ITEMS = ("q02", "q13")


class GenerateLog:
    """Wraps ``model.generate`` of the learner's copy and records the settings of each call."""

    def __init__(self, model: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        original = model.generate

        def logged(*args: Any, **kwargs: Any) -> Any:
            config = copy.deepcopy(kwargs.get("generation_config") or model.generation_config)
            for key in (
                "do_sample",
                "temperature",
                "top_p",
                "top_k",
                "num_beams",
                "max_new_tokens",
            ):
                if key in kwargs:
                    setattr(config, key, kwargs[key])
            self.calls.append(
                {
                    "do_sample": bool(config.do_sample),
                    "temperature": config.temperature,
                    "num_beams": int(config.num_beams or 1),
                    "max_new_tokens": config.max_new_tokens,
                    "passed": sorted(kwargs),
                }
            )
            return original(*args, **kwargs)

        model.generate = logged


def _sampling_model() -> tuple[Any, Any, GenerateLog]:
    """A copy of the model whose generation_config samples, as many chat models ship."""
    tokenizer, model = fresh_smollm2()
    model.generation_config.do_sample = True
    model.generation_config.temperature = 0.6
    model.generation_config.top_p = 0.9
    return tokenizer, model, GenerateLog(model)


@functools.lru_cache(maxsize=4)
def _reference_generations(prompt: str) -> tuple[str, str, str, int, str]:
    """(continuation, continuation with special tokens, whole sequence decoded, prompt tokens,
    the sequence sliced at the prompt's length in characters) from the reference model."""
    tokenizer = smollm2()[0]
    ids, width = smollm2_greedy(prompt, NEW_TOKENS)
    return (
        tokenizer.decode(ids[width:], skip_special_tokens=True),
        tokenizer.decode(ids[width:], skip_special_tokens=False),
        tokenizer.decode(ids, skip_special_tokens=True),
        width,
        tokenizer.decode(ids[len(prompt) :], skip_special_tokens=True),
    )


def _judge_generation(got: Any, prompt: str, name: str, log: GenerateLog) -> None:
    sampled = [c for c in log.calls if c["do_sample"]]
    if sampled:
        call = sampled[0]
        passed = "do_sample" in call["passed"] or "temperature" in call["passed"]
        fail(
            f"{name} sampled (do_sample=True, temperature {call['temperature']}): "
            + (
                "the call asked for sampling. "
                if passed
                else "the model's generation_config samples (this copy's does, as many chat "
                "models ship), and the call did not switch it off. "
            )
            + "An evaluation must be repeatable: generate greedily, do_sample=False"
        )
    beams = [c for c in log.calls if c["num_beams"] > 1]
    if beams:
        fail(
            f"{name} ran beam search (num_beams={beams[0]['num_beams']}); the task asks for "
            "greedy decoding: num_beams=1, do_sample=False"
        )
    continuation, with_special, whole, width, by_chars = _reference_generations(prompt)
    if got is None:
        fail(none_message(name, "the generated text"))
    if not isinstance(got, str):
        fail(f"{name} should be a str (the decoded new tokens); got {type(got).__name__}")
    if got.strip() in (continuation.strip(), with_special.strip()):
        return
    if continuation and got.startswith(continuation) and len(got) > len(continuation):
        fail(
            f"{name} is {_short(got)}: more than the {NEW_TOKENS} new tokens asked for (greedy "
            f"gives {continuation!r}): pass max_new_tokens on to generate"
        )
    if got.strip() == whole.strip() or ANSWER_INSTRUCTION in got:
        fail(
            f"{name} is {_short(got, 70)}: the whole sequence decoded, prompt included. "
            f"generate returns the prompt's {width} tokens followed by the new ones: decode "
            f"output[0, {width}:] (input_ids.shape[1]) only, or the answer is parsed from the "
            "prompt's own text"
        )
    if got == by_chars:
        fail(
            f"{name} is {got!r}, the sequence sliced at len(prompt) = {len(prompt)} (the prompt's "
            f"length in characters); the prompt is {width} tokens: slice at "
            f"input_ids.shape[1] = {width}"
        )
    fail(
        f"{name} is {_short(got)}; the model's greedy continuation of that prompt is "
        f"{continuation!r} (do_sample=False, {NEW_TOKENS} new tokens, decoded from position "
        f"{width})"
    )


@pytest.mark.task(6)
def test_generation_is_greedy_and_new_tokens_only(learner):
    seed_everything(0)
    torch.set_num_threads(1)
    tokenizer, model, log = _sampling_model()
    first, second = (BY_ID[i] for i in GENERATE_ITEMS)
    prompt = _template(_zero_shot(first))
    name = f"generate(tokenizer, model, prompt of {first['id']}, max_new_tokens={NEW_TOKENS})"
    got = call_with_inputs(
        name, learner.generate, tokenizer, model, prompt, max_new_tokens=NEW_TOKENS,
        given=f"a rendered zero-shot prompt of {first['id']}",
    )  # fmt: skip
    _judge_generation(got, prompt, name, log)

    name = f"record_outputs(tokenizer, model, [{second['id']}], build, max_new_tokens={NEW_TOKENS})"
    recorded = call_with_inputs(
        name, learner.record_outputs, tokenizer, model, [copy.deepcopy(second)], _zero_shot,
        max_new_tokens=NEW_TOKENS, given="one item and a zero-shot message builder",
    )  # fmt: skip
    if not isinstance(recorded, Mapping):
        fail(f"{name} should return a dict id → generated text; got {type(recorded).__name__}")
    if list(recorded) != [second["id"]]:
        fail(f"{name} has the keys {list(recorded)}; expected [{second['id']!r}], the item's id")
    _judge_generation(
        recorded[second["id"]],
        _template(_zero_shot(second)),
        f"{name}[{second['id']!r}]",
        log,
    )
