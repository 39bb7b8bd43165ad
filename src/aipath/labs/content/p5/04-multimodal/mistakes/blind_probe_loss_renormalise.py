# expect: normalised again inside clip_loss
# intent: PROBE: clip_loss re-normalises the (already unit) embeddings defensively; same loss value, different gradient wrt raw embeddings
"""p5-multimodal: a tiny CLIP that ties 8×8 digit images to their captions.

Edit this file, then run `aipath check p5-multimodal`. The README states each contract. The
constants and `pixels` are given (do not change them); everything that raises
NotImplementedError is yours.
"""

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

# Prompts for zero-shot classification (task 5): none of them is a training caption.
PROMPT_TEMPLATES = [
    "a photo of the digit {digit}",
    "a drawing of the number {word}",
    "the digit {word}",
    "a {digit} written by hand",
]

PAD, UNK = "<pad>", "<unk>"
MAX_SCALE = 100.0  # the largest logit scale: exp(logit_scale) is clamped here, as in CLIP


def pixels(X: np.ndarray) -> torch.Tensor:
    """sklearn digits rows (values 0..16) → a float32 tensor (N, 64) in [0, 1]. Given."""
    return torch.as_tensor(np.asarray(X, dtype=np.float64) / 16.0, dtype=torch.float32)


# ----- task 1: captions, vocabulary, tokens, a split ---------------------------------------------
def make_captions(labels: np.ndarray, rng: np.random.Generator) -> list[str]:
    """One caption per label, in order, from a template drawn at random.

    Draw the template numbers with ``rng.integers(len(CAPTION_TEMPLATES), size=len(labels))``
    (or one ``rng.integers(len(CAPTION_TEMPLATES))`` per label, in order: the same numbers), and
    fill each with ``.format(word=NUMBER_WORDS[label], digit=label)``.

    >>> make_captions(np.array([7, 0]), np.random.default_rng(0))
    ['a scanned 7', 'the handwritten digit zero']
    """
    idx = rng.integers(len(CAPTION_TEMPLATES), size=len(labels))
    return [
        CAPTION_TEMPLATES[int(t)].format(word=NUMBER_WORDS[int(lab)], digit=int(lab))
        for t, lab in zip(idx, labels, strict=True)
    ]


def build_vocab(texts: list[str]) -> dict[str, int]:
    """Word → id: ``"<pad>"`` is 0, ``"<unk>"`` is 1, then every distinct word of ``texts``
    (lower-cased, split on whitespace) in sorted order, from 2 on.

    >>> build_vocab(["the digit 7", "A handwritten seven"])
    {'<pad>': 0, '<unk>': 1, '7': 2, 'a': 3, 'digit': 4, 'handwritten': 5, 'seven': 6, 'the': 7}
    """
    words = sorted({w for t in texts for w in t.lower().split()})
    vocab = {PAD: 0, UNK: 1}
    for i, w in enumerate(words):
        vocab[w] = i + 2
    return vocab


def tokenize(texts: list[str], vocab: dict[str, int]) -> torch.Tensor:
    """Texts → an int64 tensor (B, L) of ids, L the number of words of the longest text.

    Lower-case, split on whitespace, a word missing from ``vocab`` becomes ``<unk>`` (1), and
    shorter rows are padded on the right with ``<pad>`` (0).

    >>> tokenize(["the digit 7", "a zebra"], build_vocab(["the digit 7", "a seven"]))
    tensor([[6, 4, 2],
            [3, 1, 0]])
    """
    rows = [[vocab.get(w, 1) for w in t.lower().split()] for t in texts]
    L = max((len(r) for r in rows), default=0)
    out = torch.zeros(len(rows), L, dtype=torch.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
    return out


def split_indices(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx): ``np.random.default_rng(seed).permutation(n)``; its first ``n_test``
    entries are the test indices, the rest the training ones. No index is in both.

    >>> train, test = split_indices(10, 3, seed=0)
    >>> sorted(test.tolist()), len(train)
    ([2, 4, 6], 7)
    """
    order = np.random.default_rng(seed).permutation(n)
    return order[n_test:], order[:n_test]


# ----- task 2: the two encoders ------------------------------------------------------------------
class ImageEncoder(nn.Module):
    """Images (B, 64) float32 in [0, 1] → embeddings (B, dim), each row of length 1.

    Any small network will do (the reference is Linear(64, hidden) → ReLU → Linear(hidden,
    dim)); the output must be L2-normalised row by row, and each row may depend only on its own
    image. Keep it under 200,000 parameters, with no dropout or other randomness (task 4
    replays your training step by step).
    """

    def __init__(self, dim: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(images), dim=-1)


class TextEncoder(nn.Module):
    """Token ids (B, L) int64 → embeddings (B, dim), each row of length 1.

    Attributes (the checks use these names):
        embedding: ``nn.Embedding(vocab_size, width, padding_idx=0)`` (or an ``nn.EmbeddingBag``
            of the same size); ``embedding.weight`` is (vocab_size, width).
        proj: ``nn.Linear(width, dim)``.

    forward: the mean of the token vectors over the real tokens (id ≠ 0; a row with none gives
    the zero vector), then ``proj``, then L2-normalise each row.
    """

    def __init__(self, vocab_size: int, dim: int = 32, width: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, width, padding_idx=0)
        self.proj = nn.Linear(width, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens != 0).to(self.embedding.weight.dtype)
        summed = (self.embedding(tokens) * mask[..., None]).sum(1)
        pooled = summed / mask.sum(1, keepdim=True).clamp(min=1)
        return F.normalize(self.proj(pooled), dim=-1)


class TinyCLIP(nn.Module):
    """The two encoders and the learned temperature.

    Attributes:
        image_encoder: ``ImageEncoder(dim)``.
        text_encoder: ``TextEncoder(vocab_size, dim)``.
        logit_scale: an ``nn.Parameter`` holding one number, the *log* of the logit scale,
            initialised to ``math.log(1 / 0.07)`` (about 2.659: a temperature of 0.07).
    """

    def __init__(self, vocab_size: int, dim: int = 32) -> None:
        super().__init__()
        self.image_encoder = ImageEncoder(dim)
        self.text_encoder = TextEncoder(vocab_size, dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


# ----- task 3: the contrastive loss --------------------------------------------------------------
def clip_logits(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """(N, d) and (M, d) unit rows → (N, M) logits: ``exp(logit_scale)``, clamped at
    ``MAX_SCALE``, times every image–text cosine. Row i is image i, column j text j.

    >>> clip_logits(torch.eye(2), torch.eye(2), torch.tensor(math.log(10.0)))
    tensor([[10.,  0.],
            [ 0., 10.]])
    """
    scale = logit_scale.exp().clamp(max=MAX_SCALE)
    return scale * image_emb @ text_emb.T


def clip_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """The symmetric InfoNCE loss of a batch of B pairs (image i goes with text i): a 0-dim
    tensor that backward() can run through, reaching ``logit_scale`` too.

    The mean of two cross-entropies over ``clip_logits``: each image must pick its own text
    out of the B texts (over each row), and each text its own image (over each column).

    >>> e = torch.eye(3)
    >>> round(clip_loss(e, e, torch.tensor(0.0)).item(), 4)   # scale 1: a weak preference
    0.5514
    """
    image_emb = F.normalize(image_emb, dim=-1)
    text_emb = F.normalize(text_emb, dim=-1)
    logits = clip_logits(image_emb, text_emb, logit_scale)
    labels = torch.arange(logits.shape[0])
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
    """Train ``model`` in place on the pairs (images[i], tokens[i]); return each step's loss.

    ``generator = torch.Generator().manual_seed(seed)``, made once, the only source of the
    batches (leave torch's global generator alone); Adam over all of
    ``model.parameters()`` (logit_scale included) with ``lr``. Each step: ``batch =
    torch.randperm(N, generator=generator)[:batch_size]``, the images *and* the tokens of that
    batch through their encoders, ``clip_loss``, zero the gradients, backward, step.

    Returns:
        ``steps`` Python floats (``loss.item()``), in order.
    """
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = images.shape[0]
    losses = []
    model.train()
    for _ in range(steps):
        batch = torch.randperm(n, generator=generator)[:batch_size]
        ie = model.image_encoder(images[batch])
        te = model.text_encoder(tokens[batch])
        loss = clip_loss(ie, te, model.logit_scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# ----- task 5: zero-shot classification ----------------------------------------------------------
def class_embeddings(
    model: TinyCLIP, prompts: list[list[str]], vocab: dict[str, int]
) -> torch.Tensor:
    """One unit vector per class from its prompts: ``prompts[k]`` are the texts of class k
    (any number of them). Encode them (``tokenize`` + ``model.text_encoder``), average the
    class's unit vectors, and L2-normalise that mean again. In eval mode, under no_grad.

    Returns:
        (K, d) float32, ``K = len(prompts)``, rows of length 1, not requiring grad.
    """
    model.eval()
    rows = []
    with torch.no_grad():
        for texts in prompts:
            e = model.text_encoder(tokenize(texts, vocab))
            rows.append(F.normalize(e.mean(dim=0), dim=-1))
    return torch.stack(rows).float()


def zero_shot_predict(
    model: TinyCLIP, images: torch.Tensor, class_emb: torch.Tensor
) -> torch.Tensor:
    """The class of each image: the row of ``class_emb`` (K, d) most similar to its embedding.
    In eval mode, under no_grad; nothing is learned from these images.

    Returns:
        (N,) int64 class indices.
    """
    model.eval()
    with torch.no_grad():
        return (model.image_encoder(images) @ class_emb.T).argmax(dim=1)


# ----- task 6: cross-modal retrieval -------------------------------------------------------------
def recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    """R@k as image–text retrieval papers report it: the fraction of queries (rows) with at
    least one relevant candidate (column) among their first k.

    Candidates are ranked by similarity, highest first; equal similarities keep the lower
    column index first (a stable sort). A query with nothing relevant is a miss.

    Args:
        similarity: (Q, C) float; relevant: (Q, C) bool.

    >>> s = torch.tensor([[0.9, 0.5, 0.5], [0.1, 0.2, 0.3]])
    >>> r = torch.tensor([[False, False, True], [True, False, False]])
    >>> recall_at_k(s, r, 2), recall_at_k(s, r, 3)
    (0.0, 1.0)
    """
    order = torch.sort(similarity, dim=1, descending=True, stable=True).indices[:, :k]
    return float(relevant.gather(1, order).any(dim=1).double().mean())


def retrieval_metrics(
    model: TinyCLIP,
    images: torch.Tensor,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    ks: tuple[int, ...] = (1, 5),
) -> dict[str, float]:
    """Image→text and text→image R@k over a gallery of N pairs (images[i], tokens[i]).

    A caption here says only which digit it shows, so every candidate of the query's class
    is relevant: ``relevant = labels[:, None] == labels[None, :]``. In eval mode, under no_grad.

    Returns:
        ``{"image_to_text@1": ..., "text_to_image@1": ..., "image_to_text@5": ..., ...}``: the
        two keys for each k in ``ks``, each a float.
    """
    model.eval()
    with torch.no_grad():
        ie = model.image_encoder(images)
        te = model.text_encoder(tokens)
        sim = ie @ te.T
    relevant = labels[:, None] == labels[None, :]
    out = {}
    for k in ks:
        out[f"image_to_text@{k}"] = recall_at_k(sim, relevant, k)
        out[f"text_to_image@{k}"] = recall_at_k(sim.T, relevant.T, k)
    return out
