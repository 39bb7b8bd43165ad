# expect: return a python float
"""p5-multimodal, a known mistake: a 0-dim tensor returned."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

# The caption generator's templates: {word} is the digit's name, {digit} its numeral.
CAPTION_TEMPLATES = [
    "a handwritten {word}",
    "the digit {digit}",
    "number {word} written by hand",
    "a picture of the number {digit}",
    "an image of a {word}",
    "the handwritten digit {word}",
    "a scanned {digit}",
    "{word}",
]

# Prompts for zero-shot classification: none of them is a training caption.
PROMPT_TEMPLATES = [
    "a photo of the digit {digit}",
    "a drawing of the number {word}",
    "the digit {word}",
    "a {digit} written by hand",
]

PAD, UNK = "<pad>", "<unk>"
MAX_SCALE = 100.0  # the largest logit scale, exp(t) clamped: CLIP's limit


def pixels(X: np.ndarray) -> torch.Tensor:
    """sklearn digits rows (values 0..16) → a float32 tensor (N, 64) in [0, 1]. Given."""
    return torch.as_tensor(np.asarray(X, dtype=np.float64) / 16.0, dtype=torch.float32)


# ----- task 1: captions, vocabulary, tokens, a split ---------------------------------------------
def make_captions(labels: np.ndarray, rng: np.random.Generator) -> list[str]:
    picks = rng.integers(len(CAPTION_TEMPLATES), size=len(labels))
    return [
        CAPTION_TEMPLATES[int(t)].format(word=NUMBER_WORDS[int(y)], digit=int(y))
        for t, y in zip(picks, labels, strict=True)
    ]


def words(text: str) -> list[str]:
    return text.lower().split()


def build_vocab(texts: list[str]) -> dict[str, int]:
    found = sorted({w for text in texts for w in words(text)})
    return {PAD: 0, UNK: 1} | {w: i for i, w in enumerate(found, start=2)}


def tokenize(texts: list[str], vocab: dict[str, int]) -> torch.Tensor:
    rows = [[vocab.get(w, vocab[UNK]) for w in words(text)] for text in texts]
    length = max((len(r) for r in rows), default=0)
    out = torch.zeros(len(rows), length, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def split_indices(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return order[n_test:], order[:n_test]


# ----- task 2: the two encoders ------------------------------------------------------------------
class ImageEncoder(nn.Module):
    def __init__(self, dim: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc2(torch.relu(self.fc1(images))), dim=-1)


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32, width: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, width, padding_idx=0)
        self.proj = nn.Linear(width, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens != 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        summed = (self.embedding(tokens) * mask).sum(dim=1)
        pooled = summed / mask.sum(dim=1).clamp(min=1.0)
        return F.normalize(self.proj(pooled), dim=-1)


class TinyCLIP(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32) -> None:
        super().__init__()
        self.image_encoder = ImageEncoder(dim)
        self.text_encoder = TextEncoder(vocab_size, dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


# ----- task 3: the contrastive loss --------------------------------------------------------------
def clip_logits(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    scale = logit_scale.exp().clamp(max=MAX_SCALE)
    return scale * image_emb @ text_emb.T


def clip_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    logits = clip_logits(image_emb, text_emb, logit_scale)
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


# ----- task 4: training --------------------------------------------------------------------------
def train_clip(
    model: TinyCLIP,
    images: torch.Tensor,
    tokens: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _step in range(steps):
        batch = torch.randperm(len(images), generator=generator)[:batch_size]
        image_emb = model.image_encoder(images[batch])
        text_emb = model.text_encoder(tokens[batch])
        loss = clip_loss(image_emb, text_emb, model.logit_scale)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# ----- task 5: zero-shot classification ----------------------------------------------------------
def class_embeddings(
    model: TinyCLIP, prompts: list[list[str]], vocab: dict[str, int]
) -> torch.Tensor:
    model.eval()
    rows = []
    with torch.no_grad():
        for class_prompts in prompts:
            emb = model.text_encoder(tokenize(class_prompts, vocab))
            rows.append(F.normalize(emb.mean(dim=0), dim=-1))
    return torch.stack(rows)


def zero_shot_predict(
    model: TinyCLIP, images: torch.Tensor, class_emb: torch.Tensor
) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return (model.image_encoder(images) @ class_emb.T).argmax(dim=1)


# ----- task 6: cross-modal retrieval -------------------------------------------------------------
def recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    order = torch.sort(similarity, dim=1, descending=True, stable=True).indices[:, :k]
    return relevant.gather(1, order).any(dim=1).double().mean()


def retrieval_metrics(
    model: TinyCLIP,
    images: torch.Tensor,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    ks: tuple[int, ...] = (1, 5),
) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        similarity = model.image_encoder(images) @ model.text_encoder(tokens).T
    relevant = labels[:, None] == labels[None, :]
    metrics = {}
    for k in ks:
        metrics[f"image_to_text@{k}"] = recall_at_k(similarity, relevant, k)
        metrics[f"text_to_image@{k}"] = recall_at_k(similarity.T, relevant.T, k)
    return metrics
