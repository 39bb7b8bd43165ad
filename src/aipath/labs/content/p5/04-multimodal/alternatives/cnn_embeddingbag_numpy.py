"""p5-multimodal, a correct alternative: a tiny CNN, an EmbeddingBag, NumPy ranking."""

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
    captions = []
    for label in labels:
        template = CAPTION_TEMPLATES[int(rng.integers(len(CAPTION_TEMPLATES)))]
        captions.append(template.format(word=NUMBER_WORDS[int(label)], digit=int(label)))
    return captions


def build_vocab(texts: list[str]) -> dict[str, int]:
    vocab = {PAD: 0, UNK: 1}
    for word in sorted(set(" ".join(texts).lower().split())):
        vocab[word] = len(vocab)
    return vocab


def tokenize(texts: list[str], vocab: dict[str, int]) -> torch.Tensor:
    ids = [[vocab.get(w, 1) for w in t.lower().split()] for t in texts]
    width = max(map(len, ids), default=0)
    return torch.tensor([row + [0] * (width - len(row)) for row in ids], dtype=torch.int64).reshape(
        len(ids), width
    )


def split_indices(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    test, train = np.split(order, [n_test])
    return np.sort(train), np.sort(test)


# ----- task 2: the two encoders: a tiny CNN and an EmbeddingBag -------------------------------
class ImageEncoder(nn.Module):
    def __init__(self, dim: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.head = nn.Linear(8 * 4 * 4, dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.reshape(-1, 1, 8, 8)
        x = F.max_pool2d(torch.relu(self.conv(x)), 2).flatten(1)
        out = self.head(x)
        return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32, width: int = 64) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, width, mode="mean", padding_idx=0)
        self.proj = nn.Linear(width, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out = self.proj(self.embedding(tokens))
        return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


class TinyCLIP(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32) -> None:
        super().__init__()
        self.image_encoder = ImageEncoder(dim)
        self.text_encoder = TextEncoder(vocab_size, dim)
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))


# ----- task 3: the contrastive loss, written with log_softmax on both axes ----------------------
def clip_logits(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    scale = torch.minimum(logit_scale.exp(), torch.tensor(MAX_SCALE))
    return torch.einsum("nd,md->nm", image_emb, text_emb) * scale


def clip_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    logits = clip_logits(image_emb, text_emb, logit_scale)
    rows = logits.log_softmax(dim=1).diagonal()
    cols = logits.log_softmax(dim=0).diagonal()
    return -(rows.mean() + cols.mean()) / 2


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
    generator = torch.Generator()
    generator.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[float] = []
    n = images.shape[0]
    while len(history) < steps:
        idx = torch.randperm(n, generator=generator)[:batch_size]
        loss = clip_loss(
            model.image_encoder(images[idx]), model.text_encoder(tokens[idx]), model.logit_scale
        )
        model.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(float(loss))
    return history


# ----- task 5: zero-shot classification: all prompts in one batch, segment means ---------------
@torch.inference_mode()
def class_embeddings(
    model: TinyCLIP, prompts: list[list[str]], vocab: dict[str, int]
) -> torch.Tensor:
    model.eval()
    flat = [p for class_prompts in prompts for p in class_prompts]
    owner = torch.tensor([k for k, class_prompts in enumerate(prompts) for _ in class_prompts])
    emb = model.text_encoder(tokenize(flat, vocab))
    sums = torch.zeros(len(prompts), emb.shape[1]).index_add_(0, owner, emb)
    return (sums / sums.norm(dim=1, keepdim=True)).clone()


@torch.inference_mode()
def zero_shot_predict(
    model: TinyCLIP, images: torch.Tensor, class_emb: torch.Tensor
) -> torch.Tensor:
    model.eval()
    return F.linear(model.image_encoder(images), class_emb).argmax(dim=-1).clone()


# ----- task 6: cross-modal retrieval with NumPy's stable argsort ---------------------------------
def recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    s = similarity.detach().cpu().numpy()
    r = relevant.cpu().numpy()
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return float(np.take_along_axis(r, order, axis=1).any(axis=1).mean())


def retrieval_metrics(
    model: TinyCLIP,
    images: torch.Tensor,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    ks: tuple[int, ...] = (1, 5),
) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        image_emb = model.image_encoder(images)
        text_emb = model.text_encoder(tokens)
    same = labels.reshape(-1, 1) == labels.reshape(1, -1)
    out: dict[str, float] = {}
    for k in ks:
        out[f"image_to_text@{k}"] = recall_at_k(image_emb @ text_emb.T, same, k)
        out[f"text_to_image@{k}"] = recall_at_k(text_emb @ image_emb.T, same.T, k)
    return out
