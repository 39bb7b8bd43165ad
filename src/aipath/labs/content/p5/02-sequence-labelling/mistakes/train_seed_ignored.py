# expect: the batches do not depend on `seed`
# slip: train_head seeds its generator with 0, ignoring seed
"""p5-sequence-labelling: BIO tags, word pieces, span F1 and a token-classification head.

Edit this file, then run `aipath check p5-sequence-labelling`. The README states each contract;
the sentences come from `corpus.py` (read it, do not edit it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from corpus import IGNORE, LABEL2ID, LABELS, Span
from torch import Tensor, nn


# ----- task 1: BIO tags and spans ---------------------------------------------------------------
def spans_to_bio(n_words: int, spans: Sequence[Span]) -> list[str]:
    """Word-level BIO tags for ``n_words`` words with entities ``(start, end, type)``, end
    exclusive.

    >>> spans_to_bio(5, [(0, 2, "PER"), (3, 4, "LOC")])
    ['B-PER', 'I-PER', 'O', 'B-LOC', 'O']
    """
    tags = ["O"] * n_words
    for start, end, kind in spans:
        tags[start] = f"B-{kind}"
        for i in range(start + 1, end):
            tags[i] = f"I-{kind}"
    return tags


def bio_to_spans(tags: Sequence[str]) -> list[Span]:
    """The entities ``(start, end, type)`` (end exclusive) that BIO ``tags`` describe, in order.

    An I-X continues an open X entity; a stray I-X (after O, or after another type) starts a new
    X entity, as seqeval's default and conlleval read it.

    >>> bio_to_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    [(0, 2, 'PER'), (3, 4, 'LOC'), (4, 5, 'LOC')]
    """
    spans: list[Span] = []
    start: int | None = None
    kind: str | None = None
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and start is not None and tag[2:] == kind:
            continue
        if start is not None:
            spans.append((start, i, kind))
            start, kind = None, None
        if tag != "O":
            start, kind = i, tag[2:]
    if start is not None:
        spans.append((start, len(tags), kind))
    return spans


# ----- task 2: word labels onto word pieces -----------------------------------------------------
def align_labels(
    word_ids: Sequence[int | None], word_tags: Sequence[str], label_all_pieces: bool = False
) -> list[int]:
    """One label id per token: ``word_ids`` as ``tokenizer(...).word_ids()`` gives them.

    Special and padding tokens (word id None) get IGNORE (-100). A word's first piece gets
    LABEL2ID[its tag]; its later pieces get -100, or, with ``label_all_pieces``, the tag's I-
    form (B-PER → I-PER).

    >>> align_labels([None, 0, 1, 1, None], ["O", "B-PER"])
    [-100, 0, 1, -100, -100]
    >>> align_labels([None, 0, 1, 1, None], ["O", "B-PER"], label_all_pieces=True)
    [-100, 0, 1, 2, -100]
    """
    labels: list[int] = []
    prev: int | None = None
    for wid in word_ids:
        if wid is None:
            labels.append(IGNORE)
        elif wid != prev:
            labels.append(LABEL2ID[word_tags[wid]])
        elif label_all_pieces:
            tag = word_tags[wid]
            if tag.startswith("B-"):
                tag = "I-" + tag[2:]
            labels.append(LABEL2ID[tag])
        else:
            labels.append(IGNORE)
        prev = wid
    return labels


def encode(
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]] | None = None,
    max_length: int = 32,
) -> dict[str, Tensor]:
    """A padded batch of pre-split ``sentences``: ``input_ids`` and ``attention_mask`` (B, T),
    and, when ``tags`` are given, ``labels`` (B, T) int64 aligned with align_labels (first
    piece only; -100 on special tokens and padding).

    >>> batch = encode(tokenizer, [["Maria", "Okonkwo", "smiled"]], [["B-PER", "I-PER", "O"]])
    >>> batch["labels"]
    tensor([[-100,    1,    2, -100, -100, -100,    0, -100]])
    """
    enc = tokenizer(
        [list(s) for s in sentences],
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    out = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    if tags is not None:
        rows = [align_labels(enc.word_ids(i), tags[i]) for i in range(len(sentences))]
        out["labels"] = torch.tensor(rows, dtype=torch.long)
    return out


# ----- task 3: span-level precision, recall and F1 ----------------------------------------------
def span_scores(
    true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Micro precision, recall and F1 over entities: a predicted entity counts only if a true one
    has the same start, end and type. 0.0 where a denominator is 0.

    >>> span_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]])
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5}
    """
    hits = n_pred = n_true = 0
    for t, p in zip(true_tags, pred_tags, strict=True):
        ts = set(bio_to_spans(t))
        ps = set(bio_to_spans(p))
        hits += len(ts & ps)
        n_pred += len(ps)
        n_true += len(ts)
    precision = hits / n_pred if n_pred else 0.0
    recall = hits / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# ----- task 4: a token-classification head on MiniLM -------------------------------------------
def token_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of ``logits`` (B, T, C) against ``labels`` (B, T) over the tokens whose
    label is not -100 (a 0-d tensor)."""
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE
    )


def train_head(
    tokenizer: Any,
    model: nn.Module,
    sentences: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]],
    steps: int = 150,
    lr: float = 5e-3,
    batch_size: int = 32,
    seed: int = 0,
) -> tuple[nn.Linear, list[float]]:
    """Train a linear head ``nn.Linear(384, len(LABELS))`` on the frozen encoder's last hidden
    states; returns the head and the loss of every step (``steps`` floats).

    The encoder does not change: run it once over the batch (eval mode, no_grad) and train the
    head on the stored states, ``batch_size`` sentences a step drawn with a generator seeded
    by ``seed``.
    """
    batch = encode(tokenizer, sentences, tags)
    model.eval()
    with torch.no_grad():
        states = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state
    labels = batch["labels"]
    head = nn.Linear(384, len(LABELS))
    opt = torch.optim.AdamW(head.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    losses: list[float] = []
    for _ in range(steps):
        rows = torch.randint(len(states), (batch_size,), generator=g)
        opt.zero_grad()
        loss = token_loss(head(states[rows]), labels[rows])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return head, losses


def predict_tags(
    tokenizer: Any,
    model: nn.Module,
    head: nn.Module,
    sentences: Sequence[Sequence[str]],
    max_length: int = 32,
) -> list[list[str]]:
    """Word-level tags for each sentence: the head's argmax at each word's FIRST piece (words cut
    off by truncation get "O"), computed in eval mode without autograd.

    >>> predict_tags(tokenizer, model, head, [["Maria", "Okonkwo", "smiled"]])
    [['B-PER', 'I-PER', 'O']]
    """
    batch = encode(tokenizer, sentences, max_length=max_length)
    enc = tokenizer(
        [list(s) for s in sentences],
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=max_length,
    )
    model.eval()
    head.eval()
    with torch.no_grad():
        states = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state
        pred = head(states).argmax(-1)
    out: list[list[str]] = []
    for i, words in enumerate(sentences):
        tags = ["O"] * len(words)
        prev = None
        for pos, wid in enumerate(enc.word_ids(i)):
            if wid is not None and wid != prev:
                tags[wid] = LABELS[int(pred[i, pos])]
            prev = wid
        out.append(tags)
    return out
