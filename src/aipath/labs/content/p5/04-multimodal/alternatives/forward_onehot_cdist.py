"""p5-multimodal, a correct alternative: a forward method, one-hot targets, cdist, scatter."""

from __future__ import annotations

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
    picks = rng.integers(0, len(CAPTION_TEMPLATES), size=len(labels))
    names = np.asarray(NUMBER_WORDS)[np.asarray(labels)]
    return [
        CAPTION_TEMPLATES[p].format(word=str(w), digit=str(d))
        for p, w, d in zip(picks.tolist(), names, np.asarray(labels).tolist(), strict=True)
    ]


def build_vocab(texts: list[str]) -> dict[str, int]:
    words = sorted({w for t in texts for w in t.lower().split()})
    return dict(zip([PAD, UNK, *words], range(len(words) + 2), strict=True))


def tokenize(texts: list[str], vocab: dict[str, int]) -> torch.Tensor:
    rows = [
        torch.tensor([vocab.get(w, 1) for w in t.lower().split()], dtype=torch.long) for t in texts
    ]
    width = max((len(r) for r in rows), default=0)
    return torch.stack([F.pad(r, (0, width - len(r))) for r in rows]) if rows else torch.zeros(0, 0)


def split_indices(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return order[n_test:].copy(), order[:n_test].copy()


# ----- task 2: a small MLP with LayerNorm, a masked mean with einsum ---------------------------
class ImageEncoder(nn.Module):
    def __init__(self, dim: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(64, hidden // 2),
            nn.LayerNorm(hidden // 2),
            nn.ReLU(),
            nn.Linear(hidden // 2, dim),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.layers(images), dim=-1)


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32, width: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, width, padding_idx=0)
        self.proj = nn.Linear(width, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        weights = (tokens > 0).float()
        weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1)
        pooled = torch.einsum("bl,blw->bw", weights, self.embedding(tokens))
        return F.normalize(self.proj(pooled), dim=-1)


class TinyCLIP(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32) -> None:
        super().__init__()
        self.image_encoder = ImageEncoder(dim)
        self.text_encoder = TextEncoder(vocab_size, dim)
        self.logit_scale = nn.Parameter(torch.log(torch.tensor(1 / 0.07)))

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return clip_loss(self.image_encoder(images), self.text_encoder(tokens), self.logit_scale)


# ----- task 3: the contrastive loss --------------------------------------------------------------
def clip_logits(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    return torch.matmul(image_emb, text_emb.transpose(0, 1)) * logit_scale.exp().clamp(
        max=MAX_SCALE
    )


def clip_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    logits = clip_logits(image_emb, text_emb, logit_scale)
    eye = torch.eye(len(logits))
    image_to_text = F.cross_entropy(logits, eye)  # one-hot targets, the same loss
    text_to_image = F.cross_entropy(logits.transpose(0, 1), eye)
    return 0.5 * image_to_text + 0.5 * text_to_image


# ----- task 4: training through the model's own forward ------------------------------------------
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
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr)
    model.train()
    losses = []
    for _ in range(steps):
        b = torch.randperm(len(images), generator=g)[:batch_size]
        loss = model(images[b], tokens[b])
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# ----- task 5: zero-shot classification: one batch, split by class ------------------------------
def class_embeddings(
    model: TinyCLIP, prompts: list[list[str]], vocab: dict[str, int]
) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        emb = model.text_encoder(tokenize([p for ps in prompts for p in ps], vocab))
        parts = torch.split(emb, [len(ps) for ps in prompts])
        return F.normalize(torch.stack([part.mean(0) for part in parts]), dim=1)


def zero_shot_predict(
    model: TinyCLIP, images: torch.Tensor, class_emb: torch.Tensor
) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        sims = torch.cdist(
            model.image_encoder(images), class_emb
        )  # unit vectors: nearest = most similar
    return sims.argmin(dim=1)


# ----- task 6: cross-modal retrieval -------------------------------------------------------------
def recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    order = torch.argsort(-similarity, dim=1, stable=True)
    top = torch.zeros_like(relevant).scatter_(1, order[:, :k], True)
    return (relevant & top).any(dim=1).float().mean().item()


def retrieval_metrics(
    model: TinyCLIP,
    images: torch.Tensor,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    ks: tuple[int, ...] = (1, 5),
) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        sim = clip_logits(
            model.image_encoder(images), model.text_encoder(tokens), model.logit_scale
        )
    onehot = F.one_hot(labels.long(), 10).float()
    relevant = (onehot @ onehot.T) > 0
    pairs = [
        (f"{name}@{k}", s, r, k)
        for k in ks
        for name, s, r in (("image_to_text", sim, relevant), ("text_to_image", sim.T, relevant.T))
    ]
    return {key: recall_at_k(s, r, k) for key, s, r, k in pairs}
