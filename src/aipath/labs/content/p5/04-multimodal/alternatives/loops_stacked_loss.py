"""p5-multimodal, a correct alternative: loops and a stacked cross-entropy."""

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
    return [
        rng.choice(CAPTION_TEMPLATES).format(word=NUMBER_WORDS[y], digit=y)
        for y in np.asarray(labels).tolist()
    ]


def build_vocab(texts: list[str]) -> dict[str, int]:
    seen: set[str] = set()
    for text in texts:
        seen.update(text.lower().split())
    vocab = {PAD: 0, UNK: 1}
    vocab.update({w: 2 + i for i, w in enumerate(sorted(seen))})
    return vocab


def tokenize(texts: list[str], vocab: dict[str, int]) -> torch.Tensor:
    split = [text.lower().split() for text in texts]
    length = 0
    for words in split:
        length = max(length, len(words))
    out = torch.full((len(texts), length), vocab[PAD], dtype=torch.long)
    for i, words in enumerate(split):
        for j, word in enumerate(words):
            out[i, j] = vocab[word] if word in vocab else vocab[UNK]
    return out


def split_indices(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(np.arange(n))
    is_test = np.zeros(n, dtype=bool)
    is_test[order[:n_test]] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


# ----- task 2: the two encoders, pooled with a loop ---------------------------------------------
class ImageEncoder(nn.Module):
    def __init__(self, dim: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(images), p=2.0, dim=1)


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32, width: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, width)  # no padding_idx: the mask does it
        self.proj = nn.Linear(width, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        rows = []
        for row in tokens:
            real = row[row != 0]
            if len(real):
                rows.append(self.embedding(real).mean(dim=0))
            else:
                rows.append(torch.zeros(self.embedding.embedding_dim))
        return F.normalize(self.proj(torch.stack(rows)), dim=1)


class TinyCLIP(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(-math.log(0.07)))
        self.text_encoder = TextEncoder(vocab_size, dim)
        self.image_encoder = ImageEncoder(dim)


# ----- task 3: the loss as one cross-entropy over both directions stacked -----------------------
def clip_logits(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    return torch.clamp(logit_scale, max=math.log(MAX_SCALE)).exp() * (image_emb @ text_emb.t())


def clip_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    logits = clip_logits(image_emb, text_emb, logit_scale)
    targets = torch.arange(logits.shape[0])
    both = torch.cat([logits, logits.t()])  # equal halves: the mean is the mean of both
    return F.cross_entropy(both, torch.cat([targets, targets]))


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
    rng = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(params=list(model.parameters()), lr=lr)
    out = []
    for _ in range(steps):
        pick = torch.randperm(images.size(0), generator=rng)[:batch_size]
        optimizer.zero_grad()
        loss = clip_loss(
            model.image_encoder(images[pick]), model.text_encoder(tokens[pick]), model.logit_scale
        )
        loss.backward()
        optimizer.step()
        out.append(loss.detach().item())
    return out


# ----- task 5: zero-shot classification: a sum of unit vectors, renormalised -------------------
def class_embeddings(
    model: TinyCLIP, prompts: list[list[str]], vocab: dict[str, int]
) -> torch.Tensor:
    model.eval()
    out = []
    with torch.no_grad():
        for texts in prompts:
            total = model.text_encoder(tokenize(texts, vocab)).sum(dim=0)
            out.append(total / total.norm())
    return torch.stack(out)


def zero_shot_predict(
    model: TinyCLIP, images: torch.Tensor, class_emb: torch.Tensor
) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        logits = clip_logits(model.image_encoder(images), class_emb, model.logit_scale)
    return torch.max(logits, dim=1).indices


# ----- task 6: cross-modal retrieval, query by query ----------------------------------------------
def recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    hits = 0
    for scores, good in zip(similarity.tolist(), relevant.tolist(), strict=True):
        ranked = sorted(range(len(scores)), key=lambda j: -scores[j])  # sorted() is stable
        hits += any(good[j] for j in ranked[:k])
    return hits / len(similarity)


def retrieval_metrics(
    model: TinyCLIP,
    images: torch.Tensor,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    ks: tuple[int, ...] = (1, 5),
) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        i2t = model.image_encoder(images) @ model.text_encoder(tokens).T
    relevant = labels.unsqueeze(1).eq(labels.unsqueeze(0))
    result = {}
    for k in ks:
        result["image_to_text@" + str(k)] = recall_at_k(i2t, relevant, k)
    for k in ks:
        result["text_to_image@" + str(k)] = recall_at_k(i2t.T, relevant.T, k)
    return result
