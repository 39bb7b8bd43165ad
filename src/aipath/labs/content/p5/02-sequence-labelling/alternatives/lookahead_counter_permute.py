# right: lookahead span decoding, Counter-based micro scores, cross_entropy with permute(0,2,1) instead of flatten, inference_mode + clone, dict of first pieces, labels tensor filled with torch.full
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
    kind_at: dict[int, str] = {}
    starts: set[int] = set()
    for start, end, kind in spans:
        starts.add(start)
        kind_at.update({i: kind for i in range(start, end)})
    return [
        "O" if i not in kind_at else ("B-" if i in starts else "I-") + kind_at[i]
        for i in range(n_words)
    ]


def bio_to_spans(tags: Sequence[str]) -> list[Span]:
    """The entities ``(start, end, type)`` (end exclusive) that BIO ``tags`` describe, in order.

    An I-X continues an open X entity; a stray I-X (after O, or after another type) starts a new
    X entity, as seqeval's default and conlleval read it.

    >>> bio_to_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    [(0, 2, 'PER'), (3, 4, 'LOC'), (4, 5, 'LOC')]
    """
    spans: list[Span] = []
    i, n = 0, len(tags)
    while i < n:
        if tags[i] == "O":
            i += 1
            continue
        kind = tags[i].split("-", 1)[1]
        j = i + 1
        while j < n and tags[j] == "I-" + kind:
            j += 1
        spans.append((i, j, kind))
        i = j
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
    out = []
    for pos, wid in enumerate(word_ids):
        if wid is None:
            out.append(IGNORE)
        elif pos == 0 or word_ids[pos - 1] != wid:
            out.append(LABEL2ID[word_tags[wid]])
        else:
            out.append(LABEL2ID[word_tags[wid].replace("B-", "I-")] if label_all_pieces else IGNORE)
    return out


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
        list(map(list, sentences)),
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    result = {"input_ids": enc.input_ids, "attention_mask": enc.attention_mask}
    if tags is not None:
        labels = torch.full(enc.input_ids.shape, IGNORE, dtype=torch.int64)
        for i, row_tags in enumerate(tags):
            row = align_labels(enc.word_ids(batch_index=i), row_tags)
            labels[i, : len(row)] = torch.tensor(row)
        result["labels"] = labels
    return result


# ----- task 3: span-level precision, recall and F1 ----------------------------------------------
def span_scores(
    true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Micro precision, recall and F1 over entities: a predicted entity counts only if a true one
    has the same start, end and type. 0.0 where a denominator is 0.

    >>> span_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]])
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5}
    """
    from collections import Counter

    true_c: Counter = Counter()
    pred_c: Counter = Counter()
    for k, (t, p) in enumerate(zip(true_tags, pred_tags, strict=True)):
        true_c.update((k, *s) for s in bio_to_spans(t))
        pred_c.update((k, *s) for s in bio_to_spans(p))
    hits = sum((true_c & pred_c).values())
    n_pred, n_true = sum(pred_c.values()), sum(true_c.values())
    p = hits / n_pred if n_pred > 0 else 0.0
    r = hits / n_true if n_true > 0 else 0.0
    return {"precision": p, "recall": r, "f1": 0.0 if p + r == 0 else 2 * p * r / (p + r)}


# ----- task 4: a token-classification head on MiniLM -------------------------------------------
def token_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of ``logits`` (B, T, C) against ``labels`` (B, T) over the tokens whose
    label is not -100 (a 0-d tensor)."""
    return F.cross_entropy(logits.permute(0, 2, 1), labels.long(), ignore_index=IGNORE)


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
    enc = encode(tokenizer, sentences, tags)
    model.train(False)
    with torch.inference_mode():
        hidden = model(**{k: enc[k] for k in ("input_ids", "attention_mask")})[0]
    hidden = hidden.clone()  # inference tensors cannot be saved for backward
    labels = enc["labels"]
    head = nn.Linear(hidden.shape[-1], len(LABELS))
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr)
    gen = torch.Generator()
    gen.manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, hidden.shape[0], (batch_size,), generator=gen)
        loss = token_loss(head(hidden[idx]), labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
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
    enc = tokenizer(
        list(map(list, sentences)),
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    model.eval()
    head.eval()
    with torch.inference_mode():
        ids = head(
            model(input_ids=enc.input_ids, attention_mask=enc.attention_mask).last_hidden_state
        ).argmax(dim=2)
    result = []
    for i, words in enumerate(sentences):
        first: dict[int, int] = {}
        for pos, wid in enumerate(enc.word_ids(i)):
            if wid is not None:
                first.setdefault(wid, pos)
        result.append(
            [LABELS[ids[i, first[w]].item()] if w in first else "O" for w in range(len(words))]
        )
    return result
