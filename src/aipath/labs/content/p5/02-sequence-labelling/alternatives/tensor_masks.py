"""A correct solution written differently: labels and predictions with tensor masks (a
"first piece" mask built from word_ids), spans scored as one set of (sentence, span) pairs for
the whole corpus, and the loss as a masked mean over log-softmax."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from corpus import IGNORE, LABEL2ID, LABELS, Span
from torch import Tensor, nn


# ----- task 1: BIO tags and spans ---------------------------------------------------------------
def spans_to_bio(n_words: int, spans: Sequence[Span]) -> list[str]:
    tags = ["O"] * n_words
    for start, end, kind in spans:
        tags[start] = f"B-{kind}"
        for i in range(start + 1, end):
            tags[i] = f"I-{kind}"
    return tags


def bio_to_spans(tags: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    start, kind = None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, tag_kind = tag.partition("-")
        continues = prefix == "I" and kind == tag_kind
        if start is not None and not continues:
            spans.append((start, i, kind))
            start, kind = None, None
        if prefix == "B" or (prefix == "I" and not continues):
            start, kind = i, tag_kind
    return spans


# ----- task 2: word labels onto word pieces -----------------------------------------------------
def _first_pieces(word_ids: Sequence[int | None]) -> Tensor:
    """True at each token that starts a word."""
    ids = torch.tensor([-1 if w is None else w for w in word_ids])
    before = torch.cat([torch.tensor([-1]), ids[:-1]])
    return (ids >= 0) & (ids != before)


def align_labels(
    word_ids: Sequence[int | None], word_tags: Sequence[str], label_all_pieces: bool = False
) -> list[int]:
    ids = torch.tensor([-1 if w is None else w for w in word_ids])
    first = _first_pieces(word_ids)
    own = torch.tensor([LABEL2ID[t] for t in word_tags] + [IGNORE])  # index -1 → IGNORE
    inside = torch.tensor([LABEL2ID[t.replace("B-", "I-", 1)] for t in word_tags] + [IGNORE])
    labels = torch.where(first, own[ids], torch.full_like(ids, IGNORE))
    if label_all_pieces:
        labels = torch.where(~first & (ids >= 0), inside[ids], labels)
    return labels.tolist()


def encode(
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]] | None = None,
    max_length: int = 32,
) -> dict[str, Tensor]:
    batch = tokenizer(
        [list(words) for words in sentences],
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    out = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if tags is not None:
        out["labels"] = torch.tensor(
            [align_labels(batch.word_ids(i), sentence) for i, sentence in enumerate(tags)]
        )
    return out


# ----- task 3: span-level precision, recall and F1 ----------------------------------------------
def span_scores(
    true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]
) -> dict[str, float]:
    true_spans = {(n, span) for n, tags in enumerate(true_tags) for span in bio_to_spans(tags)}
    pred_spans = {(n, span) for n, tags in enumerate(pred_tags) for span in bio_to_spans(tags)}
    hits, pred_count, true_count = len(true_spans & pred_spans), len(pred_spans), len(true_spans)
    precision = hits / pred_count if pred_count else 0.0
    recall = hits / true_count if true_count else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# ----- task 4: a token-classification head on MiniLM -------------------------------------------
def token_loss(logits: Tensor, labels: Tensor) -> Tensor:
    keep = labels != IGNORE
    log_p = logits.log_softmax(dim=-1)
    picked = log_p.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return -(picked * keep).sum() / keep.sum()


def hidden_states(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    model.eval()
    with torch.no_grad():
        return model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state


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
    batch = encode(tokenizer, sentences, tags)
    states = hidden_states(model, batch)
    labels = batch["labels"]
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = nn.Linear(states.shape[-1], len(LABELS))
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        rows = torch.randint(len(states), (batch_size,), generator=generator)
        optimizer.zero_grad()
        loss = token_loss(head(states[rows]), labels[rows])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return head, losses


def predict_tags(
    tokenizer: Any,
    model: nn.Module,
    head: nn.Module,
    sentences: Sequence[Sequence[str]],
    max_length: int = 32,
) -> list[list[str]]:
    batch = tokenizer(
        [list(words) for words in sentences],
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    head.eval()
    with torch.no_grad():
        predicted = head(hidden_states(model, batch)).argmax(dim=-1)
    results = []
    for i, words in enumerate(sentences):
        word_ids = batch.word_ids(i)
        first = _first_pieces(word_ids)
        tags = ["O"] * len(words)
        positions = first.nonzero().flatten().tolist()
        for position, label in zip(positions, predicted[i, first].tolist(), strict=True):
            tags[word_ids[position]] = LABELS[label]
        results.append(tags)
    return results
