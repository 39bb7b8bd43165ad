# expect: padding tokens labelled 0
"""A known-wrong solution: encode labels padding 0 (O) instead of -100."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
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
def align_labels(
    word_ids: Sequence[int | None], word_tags: Sequence[str], label_all_pieces: bool = False
) -> list[int]:
    labels = []
    previous = None
    for word in word_ids:
        if word is None:
            labels.append(IGNORE)
        elif word != previous:
            labels.append(LABEL2ID[word_tags[word]])
        elif label_all_pieces:
            labels.append(LABEL2ID[word_tags[word].replace("B-", "I-", 1)])
        else:
            labels.append(IGNORE)
        previous = word
    return labels


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
        out["labels"][(batch["attention_mask"] == 0)] = 0
    return out


# ----- task 3: span-level precision, recall and F1 ----------------------------------------------
def span_scores(
    true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]
) -> dict[str, float]:
    true_count = pred_count = hits = 0
    for truth, guess in zip(true_tags, pred_tags, strict=True):
        true_spans, pred_spans = set(bio_to_spans(truth)), set(bio_to_spans(guess))
        true_count += len(true_spans)
        pred_count += len(pred_spans)
        hits += len(true_spans & pred_spans)
    precision = hits / pred_count if pred_count else 0.0
    recall = hits / true_count if true_count else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# ----- task 4: a token-classification head on MiniLM -------------------------------------------
def token_loss(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE
    )


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
        tags = ["O"] * len(words)  # words cut off by truncation stay O
        previous = None
        for position, word in enumerate(batch.word_ids(i)):
            if word is not None and word != previous:
                tags[word] = LABELS[int(predicted[i, position])]
            previous = word
        results.append(tags)
    return results
