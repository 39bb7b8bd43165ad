"""Checks for p5-multimodal: a tiny CLIP on sklearn's 8×8 digits and generated captions.

Every reference is written here, independently of the lab's solution: the caption generator,
vocabulary and tokenizer as plain loops; the text encoder's masked mean recomputed in float64
from the learner's own weights; the logits and the symmetric InfoNCE loss in float64 NumPy (and
with torch's log_softmax over both axes for the gradients); the training loop replayed by the
check with Adam on the very batches the learner's generator must draw; zero-shot prompts and
R@k ranked by the check with its own stable sort. Tasks 5 and 6 are first judged on a model the
check trains itself (so a slip in tasks 2–4 cannot hide or fake one there), then on the
learner's own trained model, which must classify the held-out digits from text prompts alone.
Whenever a comparison fails, the outputs of the known mistakes are computed on the same input
and a match is named.
"""

from __future__ import annotations

import copy
import functools
import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import sklearn.datasets  # noqa: F401  (digits() loads from it; imported so the worker preloads it)
import torch
import torch._dynamo  # Adam's constructor imports it lazily (seconds): preloaded
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    CheckFailure,
    ForwardCalls,
    assert_close,
    assert_in_band,
    assert_reaches,
    assert_tensor,
    assert_unchanged,
    call_with_inputs,
    digits,
    fail,
    matching_mistake,
    once_per_run,
    run_on_copies,
    seed_everything,
)

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
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
PROMPT_TEMPLATES = [
    "a photo of the digit {digit}",
    "a drawing of the number {word}",
    "the digit {word}",
    "a {digit} written by hand",
]
MAX_SCALE = 100.0
INIT_LOG_SCALE = math.log(1 / 0.07)

# The data of tasks 4 to 6: the seeded split, one caption per image, a vocabulary of the
# training captions only.
N_TEST, SPLIT_SEED, CAPTION_SEED = 597, 0, 0
# The training run the learner's model gets (and the check's reference model, with its own loop).
STEPS, BATCH, LR, TRAIN_SEED = 200, 64, 3e-3, 0
# The short run whose every step is replayed.
REPLAY_STEPS, REPLAY_BATCH, REPLAY_LR, REPLAY_SEED = 25, 32, 5e-3, 11
# Measured with the reference (200 steps, 8 seeds of the initial weights and the batches):
# zero-shot accuracy 0.948–0.966, image→text R@1 0.955–0.965, text→image R@1 0.98–1.0, the
# mean of the last 20 losses 1.76–1.79 (3.8–4.1 over the first 20).
ZERO_SHOT_BAND = 0.85
RETRIEVAL_BAND = 0.85
LOSS_TARGET = 2.5
LOSS_WINDOW = 20

EMB_RTOL, EMB_ATOL = 1e-4, 1e-5


# ----- the check's references: data ------------------------------------------------------------
def ref_caption(label: int, template: int) -> str:
    return CAPTION_TEMPLATES[template].format(word=NUMBER_WORDS[label], digit=label)


def ref_captions(labels: Any, seed: int, *, high: int | None = None, low: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    top = len(CAPTION_TEMPLATES) if high is None else high
    return [ref_caption(int(y), int(rng.integers(low, top))) for y in labels]


def ref_words(text: str) -> list[str]:
    return text.lower().split()


def ref_vocab(texts: list[str]) -> dict[str, int]:
    vocab = {"<pad>": 0, "<unk>": 1}
    for word in sorted({w for t in texts for w in ref_words(t)}):
        vocab[word] = len(vocab)
    return vocab


def ref_tokens(texts: list[str], vocab: dict[str, int]) -> torch.Tensor:
    rows = [[vocab.get(w, 1) for w in ref_words(t)] for t in texts]
    width = max((len(r) for r in rows), default=0)
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        for j, token in enumerate(row):
            out[i, j] = token
    return torch.from_numpy(out)


def ref_split(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return order[n_test:], order[:n_test]


def ref_pixels(X: np.ndarray) -> torch.Tensor:
    return torch.tensor(X / 16.0, dtype=torch.float32)


def prompt_lists(counts: list[int] | None = None) -> list[list[str]]:
    """prompts[k]: the first counts[k] prompt templates filled for digit k (all four if None)."""
    out = []
    for k in range(10):
        n = len(PROMPT_TEMPLATES) if counts is None else counts[k]
        out.append([t.format(word=NUMBER_WORDS[k], digit=k) for t in PROMPT_TEMPLATES[:n]])
    return out


@functools.lru_cache(maxsize=1)
def _dataset() -> dict[str, Any]:
    X, y = digits()
    train_idx, test_idx = ref_split(len(y), N_TEST, SPLIT_SEED)
    captions = ref_captions(y, CAPTION_SEED)
    vocab = ref_vocab([captions[i] for i in train_idx])
    tokens = ref_tokens(captions, vocab)
    images = ref_pixels(X)
    labels = torch.as_tensor(y)
    tr, te = torch.as_tensor(train_idx), torch.as_tensor(test_idx)
    return {
        "vocab": vocab,
        "train_images": images[tr],
        "train_tokens": tokens[tr],
        "train_labels": labels[tr],
        "test_images": images[te],
        "test_tokens": tokens[te],
        "test_labels": labels[te],
    }


def dataset() -> dict[str, Any]:
    """The check's data (a fresh copy each call, so a learner's edit spoils nothing)."""
    data = _dataset()
    return {k: (v.clone() if isinstance(v, torch.Tensor) else dict(v)) for k, v in data.items()}


# ----- the check's references: model, logits, loss -----------------------------------------------
def unit_rows64(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ref_text_forward(
    weight: np.ndarray,
    proj_w: np.ndarray,
    proj_b: np.ndarray,
    tokens: np.ndarray,
    *,
    pool: str = "masked_mean",
    norm: str = "after",
) -> np.ndarray:
    """The text encoder in float64 from its weights, with a switch for each known mistake."""
    pooled = np.zeros((len(tokens), weight.shape[1]))
    for i, row in enumerate(tokens):
        real = [int(t) for t in row if t != 0]
        if pool == "masked_mean":
            if real:
                pooled[i] = weight[real].mean(axis=0)
        elif pool == "mean_all":
            pooled[i] = weight[row].mean(axis=0)
        elif pool == "no_unk":
            kept = [t for t in real if t != 1]
            if kept:
                pooled[i] = weight[kept].mean(axis=0)
        elif pool == "sum":
            if real:
                pooled[i] = weight[real].sum(axis=0)
        elif pool == "max_all":
            pooled[i] = weight[row].max(axis=0)
        elif pool == "first":
            pooled[i] = weight[int(row[0])]
        elif pool == "last":
            pooled[i] = weight[int(row[-1])]
    if norm == "before":
        safe = np.linalg.norm(pooled, axis=1, keepdims=True)
        pooled = pooled / np.where(safe > 0, safe, 1.0)
    out = pooled @ proj_w.T + proj_b
    if norm in ("after", "before_and_after"):
        return unit_rows64(out)
    if norm == "dim0":
        return out / np.linalg.norm(out, axis=0, keepdims=True)
    return out


def ref_logits64(i: np.ndarray, t: np.ndarray, log_scale: float, *, variant: str = "") -> Any:
    scale = min(math.exp(log_scale), MAX_SCALE)
    cos = i @ t.T
    table = {
        "": scale * cos,
        "divided": cos / scale,
        "raw_t": log_scale * cos,
        "over_t": cos / log_scale,
        "no_scale": cos,
        "no_clamp": math.exp(log_scale) * cos,
        "clamp_min": max(math.exp(log_scale), MAX_SCALE) * cos,
        "clamp_log": min(math.exp(log_scale), math.log(MAX_SCALE)) * cos,
        "fixed": (1 / 0.07) * cos,
        "clamp_logits": np.minimum(math.exp(log_scale) * cos, MAX_SCALE),
        "transposed": scale * cos.T,
    }
    return table[variant]


def log_softmax64(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(axis=axis, keepdims=True))


def ref_loss64(logits: np.ndarray) -> float:
    n = len(logits)
    rows = -np.mean([log_softmax64(logits, 1)[i, i] for i in range(n)])
    cols = -np.mean([log_softmax64(logits, 0)[j, j] for j in range(n)])
    return float((rows + cols) / 2)


def loss_mistakes(i: np.ndarray, t: np.ndarray, log_scale: float) -> dict[str, Any]:
    logits = ref_logits64(i, t, log_scale)
    n = len(logits)
    rows = float(-np.mean(np.diag(log_softmax64(logits, 1))))
    cols = float(-np.mean(np.diag(log_softmax64(logits, 0))))

    def softmaxed(x: np.ndarray, axis: int) -> np.ndarray:
        return np.exp(log_softmax64(x, axis))

    z = 2 * np.eye(n) - 1
    return {
        "only the image→text cross-entropy (over the rows of the logits): the loss is symmetric, "
        "the mean of the image→text and the text→image cross-entropies (a softmax over the "
        "same axis twice gives this too)": rows,
        "only the text→image cross-entropy (over the columns): the loss is symmetric, the mean "
        "of both directions — cross_entropy(logits, labels) and cross_entropy(logits.T, labels)": (
            cols
        ),
        "the two cross-entropies added, not averaged: divide their sum by 2": rows + cols,
        "a target of 0 for every row: the positives are on the diagonal, so the targets are "
        "torch.arange(B) (image i's text is text i)": lambda: float(
            -(log_softmax64(logits, 1)[:, 0].mean() + log_softmax64(logits, 0)[0, :].mean()) / 2
        ),
        "the logits divided by the scale (cosine / exp(logit_scale)): logit_scale is the log of "
        "1/temperature, so multiply by exp(logit_scale)": lambda: ref_loss64(
            ref_logits64(i, t, log_scale, variant="divided")
        ),
        "the cosines multiplied by logit_scale itself: it is a log, the scale is "
        "exp(logit_scale)": lambda: ref_loss64(ref_logits64(i, t, log_scale, variant="raw_t")),
        "no scale at all (plain cosines as logits): multiply them by exp(logit_scale), clamped at "
        "100": lambda: ref_loss64(ref_logits64(i, t, log_scale, variant="no_scale")),
        "the scale not clamped at 100: exp(logit_scale).clamp(max=100) (a clamp on logit_scale "
        "itself at 100 does nothing)": lambda: ref_loss64(
            ref_logits64(i, t, log_scale, variant="no_clamp")
        ),
        "the logits clamped at 100 instead of the scale (a clamp on exp(logit_scale) * "
        "cosines): clamp exp(logit_scale) first, then multiply the cosines by it": lambda: (
            ref_loss64(ref_logits64(i, t, log_scale, variant="clamp_logits"))
        ),
        "F.nll_loss on the raw logits (no log_softmax): nll_loss expects log-probabilities, and "
        "on logits it only averages minus the diagonal (the loss can go negative). Use "
        "F.cross_entropy, which does the log-softmax itself": lambda: float(
            -np.mean(np.diag(logits))
        ),
        "the scale applied twice (the logits of clip_logits multiplied by exp(logit_scale) "
        "again): clip_logits already scales": lambda: ref_loss64(
            logits * min(math.exp(log_scale), MAX_SCALE)
        ),
        "label smoothing (label_smoothing=0.1): CLIP's targets are plain one-hot": lambda: float(
            (
                0.9 * rows
                + 0.1 * -log_softmax64(logits, 1).mean()
                + 0.9 * cols
                + 0.1 * -log_softmax64(logits, 0).mean()
            )
            / 2
        ),
        "a softmax applied before the cross-entropy (F.cross_entropy takes raw logits and does "
        "its own log-softmax)": lambda: float(
            (
                -np.mean(np.diag(log_softmax64(softmaxed(logits, 1), 1)))
                - np.mean(np.diag(log_softmax64(softmaxed(logits.T, 1), 1)))
            )
            / 2
        ),
        "summed over the batch instead of averaged (reduction='sum')": n * (rows + cols) / 2,
        "every pair treated as a positive (the mean of the whole log-softmax matrix, not of its "
        "diagonal)": lambda: float(
            -(log_softmax64(logits, 1).mean() + log_softmax64(logits, 0).mean()) / 2
        ),
        "a sigmoid loss over every pair (SigLIP's), not the softmax cross-entropy": lambda: float(
            np.mean(np.log1p(np.exp(-z * logits)))
        ),
        "the mean squared difference between the logits and the identity matrix": lambda: float(
            np.mean((logits - np.eye(n)) ** 2)
        ),
    }


def ref_loss_torch(i: torch.Tensor, t: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """The loss for autograd: log_softmax over each axis, the mean of both diagonals."""
    logits = torch.clamp(torch.exp(log_scale), max=MAX_SCALE) * (i @ t.T)
    return (
        -(
            torch.log_softmax(logits, dim=1).diagonal().mean()
            + torch.log_softmax(logits, dim=0).diagonal().mean()
        )
        / 2
    )


class RefImageEncoder(nn.Module):
    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out / out.norm(dim=1, keepdim=True)


class RefTextEncoder(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, 64, mode="mean", padding_idx=0)
        self.proj = nn.Linear(64, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out = self.proj(self.embedding(tokens))
        return out / out.norm(dim=1, keepdim=True)


class RefCLIP(nn.Module):
    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.image_encoder = RefImageEncoder()
        self.text_encoder = RefTextEncoder(vocab_size)
        self.logit_scale = nn.Parameter(torch.tensor(INIT_LOG_SCALE))


def draw_batches(n: int, batch_size: int, steps: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=generator)[:batch_size] for _ in range(steps)]


def replay(
    model: nn.Module,
    images: torch.Tensor,
    tokens: torch.Tensor,
    batches: list[torch.Tensor],
    lr: float,
    *,
    optimizer: str = "adam",
    zero_grad: bool = True,
    skip: str = "",
    update: bool = True,
    fresh_optimizer: bool = False,
    report_after: bool = False,
    clip_norm: float = 0.0,
    weight_decay: float = 0.0,
) -> list[float]:
    """The check's own training loop (on ``model``, in place) over the given batches."""
    params = [
        p
        for name, p in model.named_parameters()
        if not (skip and (name == skip or name.startswith(skip + ".")))
    ]
    opt: torch.optim.Optimizer
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr)
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr)
    else:
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    losses = []

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        return ref_loss_torch(
            model.image_encoder(images[batch]), model.text_encoder(tokens[batch]), model.logit_scale
        )

    for batch in batches:
        if fresh_optimizer:
            opt = torch.optim.Adam(params, lr=lr)
        loss = batch_loss(batch)
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        if clip_norm:
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        if update:
            opt.step()
        if report_after:
            with torch.no_grad():
                loss = batch_loss(batch)
        losses.append(float(loss.detach()))
    return losses


@functools.lru_cache(maxsize=1)
def _reference_model() -> RefCLIP:
    seed_everything(0)
    data = _dataset()
    model = RefCLIP(len(data["vocab"]))
    batches = draw_batches(len(data["train_images"]), BATCH, STEPS, TRAIN_SEED)
    replay(model, data["train_images"], data["train_tokens"], batches, LR)
    model.eval()
    return model


def reference_model() -> RefCLIP:
    """The check's trained CLIP (a copy: the learner's code may do anything to it)."""
    return copy.deepcopy(_reference_model())


@torch.no_grad()
def ref_class_embeddings(model: nn.Module, prompts: list[list[str]], vocab: dict[str, int]) -> Any:
    rows = []
    for class_prompts in prompts:
        emb = model.text_encoder(ref_tokens(class_prompts, vocab)).double()
        mean = emb.mean(dim=0)
        rows.append(mean / mean.norm())
    return torch.stack(rows)


def ref_recall(
    similarity: np.ndarray, relevant: np.ndarray, k: int, *, variant: str = ""
) -> float | None:
    """R@k with a switch for each known mistake (None when a mistake does not apply)."""
    s = np.asarray(similarity, dtype=np.float64)
    rel = np.asarray(relevant, dtype=bool)
    if variant == "transposed":
        if s.shape[0] != s.shape[1]:
            return None
        s, rel = s.T, rel.T
    unstable = None
    if variant == "unstable":
        # the learner's similarity is float32: rank it as torch.argsort(descending=True) would
        ranked = torch.argsort(torch.tensor(s, dtype=torch.float32), dim=1, descending=True)
        unstable = ranked.tolist()
    hits: list[float] = []
    for r, (row, good) in enumerate(zip(s, rel, strict=True)):
        n = len(row)
        if unstable is not None:
            order = unstable[r]
        elif variant == "ascending":
            order = sorted(range(n), key=lambda j: (row[j], j))
        elif variant == "topk":
            kk = min(k, n)
            order = torch.topk(torch.tensor(row, dtype=torch.float32), kk).indices.tolist()
        elif variant == "ties_last_index":
            order = sorted(range(n), key=lambda j: (-row[j], -j))
        else:
            order = sorted(range(n), key=lambda j: (-row[j], j))
        kk = {"k_plus": k + 1, "k_minus": k - 1}.get(variant, k)
        if kk < 1:
            return None
        top = order[:kk]
        found = sum(bool(good[j]) for j in top)
        if variant == "ties_win":
            cut = row[order[k - 1]]
            hits.append(float(any(good[j] and row[j] >= cut for j in range(n))))
        elif variant == "ties_lose":
            mine = [j for j in range(n) if good[j]]
            ranks = [int(np.sum(row >= row[j])) for j in mine]
            hits.append(float(bool(ranks) and min(ranks) <= k))
        elif variant == "share":
            hits.append(found / good.sum() if good.sum() else 0.0)
        elif variant == "share_skip":
            if good.sum():
                hits.append(found / good.sum())
        elif variant == "precision":
            hits.append(found / k)
        elif variant == "skip_empty":
            if good.sum():
                hits.append(float(found > 0))
        else:
            hits.append(float(found > 0))
    return float(np.mean(hits)) if hits else None


def recall_mistakes_here(similarity: np.ndarray, relevant: np.ndarray, k: int) -> dict[str, Any]:
    def v(name: str) -> Callable[[], float | None]:
        return lambda: ref_recall(similarity, relevant, k, variant=name)

    right = ref_recall(similarity, relevant, k)
    return {
        "candidates ranked lowest similarity first: sort in descending order": v("ascending"),
        "equal similarities ranked by the higher column index first (torch.argsort(...).flip or "
        "argsort(...)[::-1] reverses tied items too): keep ties in index order, a stable "
        "descending sort — torch.sort(s, descending=True, stable=True)": v("ties_last_index"),
        "an unstable sort (torch.argsort(s, descending=True) or torch.sort without stable=True): "
        "with many tied candidates it does not keep them in index order; use torch.sort(s, "
        "dim=1, descending=True, stable=True)": v("unstable"),
        "torch.topk, which does not promise to keep tied candidates in index order: sort with "
        "torch.sort(similarity, dim=1, descending=True, stable=True)": v("topk"),
        "a relevant candidate that ties with the k-th score counted as found (a threshold at the "
        "k-th similarity, >=): only the first k candidates of the stable order count": v(
            "ties_win"
        ),
        "a relevant candidate counted only when nothing else scores as high (ties counted "
        "against it): only the first k candidates of the stable order count": v("ties_lose"),
        "the share of each query's relevant candidates found in the first k (a search engine's "
        "recall): R@k here asks only whether at least one is there": v("share"),
        "the share of the relevant candidates found, over the queries that have any": v(
            "share_skip"
        ),
        "precision@k (relevant found / k): R@k asks whether at least one is there": v("precision"),
        "queries without any relevant candidate left out of the mean: they count as misses": v(
            "skip_empty"
        ),
        "the first k + 1 candidates (off by one)": v("k_plus"),
        "the first k − 1 candidates (off by one)": v("k_minus"),
        "each column ranked over the queries (the similarity transposed): rank the candidates "
        "(columns) of each query (row)": v("transposed"),
        "a percentage: return a fraction between 0 and 1": (None if right is None else 100 * right),
    }


def ref_retrieval(
    model: nn.Module, images: torch.Tensor, tokens: torch.Tensor, labels: Any, ks: Any
):
    with torch.no_grad():
        sim = (model.image_encoder(images) @ model.text_encoder(tokens).T).double().numpy()
    lab = np.asarray(labels)
    relevant = lab[:, None] == lab[None, :]
    out: dict[str, float] = {}
    for k in ks:
        out[f"image_to_text@{k}"] = ref_recall(sim, relevant, k)  # type: ignore[assignment]
        out[f"text_to_image@{k}"] = ref_recall(sim.T, relevant.T, k)  # type: ignore[assignment]
    return out, sim, relevant


# ----- shared helpers ----------------------------------------------------------------------------
def as_float_list(values: Any, label: str, n: int) -> list[float]:
    if values is None:
        fail(f"{label} returned None: did you forget to `return` the list of losses?")
    if isinstance(values, torch.Tensor):
        fail(
            f"{label} returned a torch.Tensor; return a list of Python floats, one per step "
            "(loss.item())"
        )
    if not isinstance(values, list | tuple):
        fail(f"{label} should return a list of floats; got {type(values).__name__}")
    if any(isinstance(v, torch.Tensor) for v in values):
        fail(
            f"{label} returned torch.Tensor losses; return Python floats (loss.item()): a kept "
            "tensor holds on to its whole autograd graph, step after step"
        )
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        fail(f"{label} should return a list of floats; some items are not numbers")
    if len(out) != n:
        fail(f"{label} returned {len(out)} losses; expected one per step, {n}")
    return out


def unit_norms(got: torch.Tensor) -> torch.Tensor:
    return got.detach().double().norm(dim=1)


def normalisation_verdict(got: torch.Tensor, label: str) -> None:
    """Fail, naming the axis, when the rows of ``got`` (B, d) are not of length 1."""
    g = got.detach().double()
    rows = g.norm(dim=1)
    if torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
        return
    if torch.isnan(g).any():
        fail(f"{label} contains NaN: a 0/0 somewhere (an empty mean? a norm of 0?)")
    cols = g.norm(dim=0)
    if g.shape[0] > 1 and torch.allclose(cols, torch.ones_like(cols), atol=1e-4):
        fail(
            f"{label} is normalised over the batch axis (each column has length 1, dim=0): each "
            "row is one embedding, normalise with F.normalize(x, dim=-1)"
        )
    if math.isclose(float(g.norm()), 1.0, abs_tol=1e-4):
        fail(
            f"{label} was divided by the norm of the whole batch (x / x.norm()): each row must "
            "have length 1 on its own, F.normalize(x, dim=-1)"
        )
    fail(
        f"{label} is not L2-normalised: its rows have lengths from {float(rows.min()):.4g} to "
        f"{float(rows.max()):.4g}; expected 1 (F.normalize(x, dim=-1)). Without it a dot "
        "product is not a cosine, and long vectors win for being long"
    )


def params_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_params_unchanged(model: nn.Module, before: dict[str, torch.Tensor], label: str) -> None:
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    if changed:
        fail(
            f"{label} changed the model's {', '.join(changed[:3])}: nothing may be learned from "
            "these inputs (the test images must never train the model). Run the encoders under "
            "torch.no_grad() and take no optimizer step"
        )


def check_grad_free(log: ForwardCalls, label: str, what: str) -> None:
    if any(call.grad_enabled for call in log.calls):
        fail(
            f"{label} ran {what} with gradients enabled: evaluate under torch.no_grad() (no graph "
            "is kept, and nothing can be learned from these inputs by accident)"
        )


# ----- task 1: captions, vocabulary, tokens, a split ---------------------------------------------
CAPTION_LABELS = np.array([7, 0, 3, 3, 9, 1, 4, 8, 2, 6, 5, 5, 0, 7, 1, 9, 2, 8, 6, 4] * 2)


def caption_mistakes(labels: np.ndarray, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    first = int(rng.integers(len(CAPTION_TEMPLATES)))
    picks = np.random.default_rng(seed).integers(len(CAPTION_TEMPLATES), size=len(labels))
    return {
        "one template for every caption (a single draw): draw one template number per label": [
            ref_caption(int(y), first) for y in labels
        ],
        "the last template never drawn: rng.integers(n) already stops before n, so "
        "rng.integers(len(CAPTION_TEMPLATES)) (not len − 1)": ref_captions(
            labels, seed, high=len(CAPTION_TEMPLATES) - 1
        ),
        "the first template never drawn: rng.integers(len(CAPTION_TEMPLATES)) draws 0 too": (
            ref_captions(labels, seed, low=1)
        ),
        "the numeral and the word swapped: {word} is the name (NUMBER_WORDS[label]), {digit} "
        "the numeral": [
            CAPTION_TEMPLATES[int(t)].format(word=int(y), digit=NUMBER_WORDS[int(y)])
            for t, y in zip(picks, labels, strict=True)
        ],
        "the captions in sorted label order: caption i describes labels[i], in the order given": [
            CAPTION_TEMPLATES[int(t)].format(word=NUMBER_WORDS[int(y)], digit=int(y))
            for t, y in zip(picks, sorted(labels), strict=True)
        ],
        "NUMBER_WORDS indexed off by one (label − 1 or label + 1)": [
            CAPTION_TEMPLATES[int(t)].format(word=NUMBER_WORDS[(int(y) - 1) % 10], digit=int(y))
            for t, y in zip(picks, labels, strict=True)
        ],
    }


@pytest.mark.task(1)
def test_make_captions(learner):
    seed_everything(0)
    labels = CAPTION_LABELS.copy()
    label = f"make_captions(labels ({len(labels)},), np.random.default_rng(5))"
    got = run_on_copies(label, learner.make_captions, labels=labels, rng=np.random.default_rng(5))
    if got is None:
        fail(f"{label} is None: did you forget to `return` the list of captions?")
    if isinstance(got, np.ndarray) or not isinstance(got, list | tuple):
        fail(f"{label} should return a list of str; got {type(got).__name__}")
    if not all(isinstance(c, str) for c in got):
        bad = next(c for c in got if not isinstance(c, str))
        fail(f"{label} should be a list of str; it holds a {type(bad).__name__} ({bad!r})")
    want = ref_captions(labels, 5)
    if len(got) != len(want):
        fail(f"{label} returned {len(got)} captions; expected one per label, {len(want)}")
    got = list(got)
    if got == want:
        return
    index = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
    known = matching_mistake(got, caption_mistakes(labels, 5), exact=True)
    count = sum(a != b for a, b in zip(got, want, strict=True))
    fail(
        (f"make_captions(...) looks like {known}. " if known else "")
        + f"caption {index} (label {labels[index]}) is {got[index]!r}; expected {want[index]!r} "
        f"({count} of {len(want)} differ). The template numbers come from "
        "rng.integers(len(CAPTION_TEMPLATES), size=len(labels)), in label order"
    )


@pytest.mark.task(1)
def test_make_captions_uses_only_rng(learner):
    seed_everything(0)
    labels = CAPTION_LABELS[:16].copy()
    runs = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        random.seed(global_seed)
        label = "make_captions(labels (16,), np.random.default_rng(9))"
        runs.append(
            call_with_inputs(label, learner.make_captions, labels.copy(), np.random.default_rng(9))
        )
    if list(runs[0]) != list(runs[1]):
        fail(
            "make_captions(labels, np.random.default_rng(9)) gave different captions on two "
            "calls with the same rng: it draws from a global generator (np.random.randint, "
            "random.choice, ...). Draw every template number from the rng you are given"
        )
    other = call_with_inputs("make_captions(...)", learner.make_captions, labels.copy(),
                             np.random.default_rng(10))  # fmt: skip
    if list(other) == list(runs[0]) and ref_captions(labels, 10) != ref_captions(labels, 9):
        fail(
            "make_captions(labels, rng) gives the same captions for rng seeds 9 and 10: the rng "
            "you are given is not used"
        )


VOCAB_TEXTS = [
    "the digit 7",
    "A handwritten SEVEN",
    "the digit 7",
    "number seven written by hand",
    "  a scanned   0 ",
    "Seven",
]


def vocab_mistakes(texts: list[str]) -> dict[str, Any]:
    lowered = [w for t in texts for w in t.lower().split()]
    raw = [w for t in texts for w in t.split()]
    words = sorted(set(lowered))
    first_seen = list(dict.fromkeys(lowered))
    return {
        "no special tokens: '<pad>' must be 0 and '<unk>' 1, the words from 2 on": {
            w: i for i, w in enumerate(words)
        },
        "the special tokens swapped: '<pad>' is 0 (what the padding is filled with) and "
        "'<unk>' 1": {"<unk>": 0, "<pad>": 1} | {w: i for i, w in enumerate(words, start=2)},
        "the words in order of first appearance: sort them": {"<pad>": 0, "<unk>": 1}
        | {w: i for i, w in enumerate(first_seen, start=2)},
        "the words not lower-cased ('SEVEN' and 'seven' must be one word)": {
            "<pad>": 0,
            "<unk>": 1,
        }
        | {w: i for i, w in enumerate(sorted(set(raw)), start=2)},
        "ids counted over every word, repeats included (ids skip numbers): number the distinct "
        "words": {"<pad>": 0, "<unk>": 1} | {w: i for i, w in enumerate(sorted(lowered), start=2)},
        "the words numbered from 0, over the special tokens' ids: the words start at 2": {
            "<pad>": 0,
            "<unk>": 1,
        }
        | {w: i for i, w in enumerate(words)},
        "characters, not words: split each text on whitespace": {"<pad>": 0, "<unk>": 1}
        | {c: i for i, c in enumerate(sorted(set("".join(lowered))), start=2)},
    }


@pytest.mark.task(1)
def test_build_vocab(learner):
    seed_everything(0)
    texts = list(VOCAB_TEXTS)
    label = "build_vocab(texts)"
    got = call_with_inputs(label, learner.build_vocab, list(texts))
    want = ref_vocab(texts)
    if got is None:
        fail(f"{label} is None: did you forget to `return` the vocabulary?")
    if not isinstance(got, dict):
        fail(f"{label} should return a dict word → id; got {type(got).__name__}")
    bad = [v for v in got.values() if isinstance(v, bool) or not isinstance(v, int | np.integer)]
    if bad:
        fail(f"{label} should map each word to an int id; got {type(bad[0]).__name__} {bad[0]!r}")
    got = {k: int(v) for k, v in got.items()}
    if got == want:
        return
    known = matching_mistake(got, vocab_mistakes(texts), exact=True)
    missing = [w for w in want if w not in got]
    extra = [w for w in got if w not in want]
    wrong = [w for w in want if w in got and got[w] != want[w]]
    detail = []
    if missing:
        detail.append(f"missing {missing[:4]}")
    if extra:
        detail.append(f"unexpected {extra[:4]}")
    if wrong:
        w = wrong[0]
        detail.append(f"{w!r} is {got[w]}, expected {want[w]}")
    fail(
        (f"{label} looks like {known}. " if known else "")
        + f"on {texts!r}: {'; '.join(detail)}. Expected {want}"
    )


TOKEN_TEXTS = [
    "the  digit 7",
    " A handwritten SEVEN",
    "zebra digit ",
    "seven",
    "a scanned 7 by  hand",
]


def token_mistakes(texts: list[str], vocab: dict[str, int]) -> dict[str, Any]:
    want = ref_tokens(texts, vocab)
    rows = [[vocab.get(w, 1) for w in t.lower().split()] for t in texts]
    width = want.shape[1]
    left = torch.zeros_like(want)
    for i, row in enumerate(rows):
        if row:
            left[i, width - len(row) :] = torch.tensor(row)
    unk0 = want.clone()
    for i, t in enumerate(texts):
        for j, w in enumerate(t.lower().split()):
            if w not in vocab:
                unk0[i, j] = 0
    cased = torch.zeros_like(want)
    for i, t in enumerate(texts):
        for j, w in enumerate(t.split()):
            cased[i, j] = vocab.get(w, 1)
    spaced = [[vocab.get(w, 1) for w in t.lower().split(" ")] for t in texts]
    one_space = torch.zeros(len(spaced), max(len(r) for r in spaced), dtype=torch.long)
    for i, row in enumerate(spaced):
        one_space[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return {
        "a split on single spaces, split(' '): a doubled, leading or trailing space then gives an "
        "empty word, looked up as '<unk>' (1). Split on any run of whitespace, "
        "text.lower().split()": one_space,
        "padding on the left: pad on the right, so every text starts at position 0": left,
        "unknown words mapped to 0, the padding id: an unknown word is '<unk>' (1), a real "
        "token the encoder averages": unk0,
        "the text not lower-cased before the look-up ('SEVEN' became '<unk>')": cased,
        "the result transposed, (L, B): one row per text": want.T.contiguous(),
    }


@pytest.mark.task(1)
def test_tokenize(learner):
    seed_everything(0)
    vocab = ref_vocab(["the digit 7", "a handwritten seven", "a scanned 0 by hand"])
    texts = list(TOKEN_TEXTS)
    label = "tokenize(texts, vocab)"
    try:
        got = call_with_inputs(label, learner.tokenize, list(texts), dict(vocab))
    except CheckFailure as exc:
        if "KeyError" in str(exc):
            fail(
                f"{exc}. 'zebra' is not in the vocabulary: a word missing from it becomes "
                "'<unk>' (id 1), vocab.get(word, 1)"
            )
        raise
    want = ref_tokens(texts, vocab)
    if isinstance(got, torch.Tensor) and got.is_floating_point():
        fail(
            f"{label} has dtype {got.dtype}; token ids are integers, int64 (torch.long): "
            "nn.Embedding looks rows up by integer id"
        )
    if isinstance(got, list | np.ndarray):
        fail(f"{label} should return a torch.Tensor (int64, (B, L)); got {type(got).__name__}")
    assert_tensor(got, want, name=label, mistakes=lambda: token_mistakes(texts, vocab))


@pytest.mark.task(1)
def test_tokenize_width_is_the_longest_text(learner):
    seed_everything(0)
    vocab = ref_vocab(["the digit 7", "a handwritten seven"])
    texts = ["seven", "the digit 7", "a seven"]
    label = "tokenize(['seven', 'the digit 7', 'a seven'], vocab)"
    got = call_with_inputs(label, learner.tokenize, list(texts), dict(vocab))
    want = ref_tokens(texts, vocab)
    shaped = isinstance(got, torch.Tensor) and got.dim() == 2 and got.shape[0] == 3
    if shaped and got.shape[1] != want.shape[1]:
        fail(
            f"{label} has shape {tuple(got.shape)}; expected {tuple(want.shape)}: L is the "
            "number of words of the longest text in this call (3 here), not a fixed length"
        )
    assert_tensor(got, want, name=label, mistakes=lambda: token_mistakes(texts, vocab))


def split_pair(got: Any, label: str) -> tuple[np.ndarray, np.ndarray]:
    if got is None:
        fail(f"{label} is None: did you forget to `return` (train_idx, test_idx)?")
    if not isinstance(got, tuple | list) or len(got) != 2:
        fail(f"{label} should return a tuple (train_idx, test_idx); got {type(got).__name__}")
    out = []
    for name, part in zip(("train_idx", "test_idx"), got, strict=True):
        arr = np.asarray(part.numpy() if isinstance(part, torch.Tensor) else part)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            fail(f"{label}: {name} should be a 1-D array of integer indices; got {arr.dtype} "
                 f"{arr.shape}")  # fmt: skip
        out.append(arr.astype(np.int64))
    return out[0], out[1]


@pytest.mark.task(1)
@pytest.mark.parametrize("n, n_test, seed", [(1797, 597, 0), (50, 13, 3)])
def test_split_indices(learner, n, n_test, seed):
    seed_everything(0)
    label = f"split_indices({n}, {n_test}, seed={seed})"
    train, test = split_pair(call_with_inputs(label, learner.split_indices, n, n_test, seed=seed),
                             label)  # fmt: skip
    want_train, want_test = ref_split(n, n_test, seed)
    both = np.intersect1d(train, test)
    if len(both):
        fail(
            f"{label}: {len(both)} indices are in both train_idx and test_idx (e.g. "
            f"{int(both[0])}): a leak — the model would be scored on images it was trained on. "
            "The test indices are the first n_test of the permutation, the training ones the rest"
        )
    if len(train) == n_test and len(test) == n - n_test:
        fail(
            f"{label} returned {len(train)} training and {len(test)} test indices: the tuple is "
            "(train_idx, test_idx), with n_test test indices"
        )
    if len(test) != n_test or len(train) != n - n_test:
        fail(
            f"{label} returned {len(train)} training and {len(test)} test indices; expected "
            f"{n - n_test} and {n_test}"
        )
    if set(test.tolist()) == set(want_test.tolist()) and set(train.tolist()) == set(
        want_train.tolist()
    ):
        return
    order = np.random.default_rng(seed).permutation(n)
    if set(test.tolist()) == set(order[-n_test:].tolist()):
        fail(
            f"{label}: test_idx are the last {n_test} entries of the permutation; the task takes "
            "the first n_test for the test set, the rest for training"
        )
    fail(
        f"{label}: the test indices are not the first {n_test} of "
        f"np.random.default_rng({seed}).permutation({n}) (first expected {want_test[:5].tolist()}, "
        f"got {np.sort(test)[:5].tolist()} as the smallest): use that seeded generator, not "
        "np.random.permutation or an unseeded one"
    )


# ----- task 2: the two encoders ------------------------------------------------------------------
def digit_batch(n: int = 9) -> torch.Tensor:
    X, _y = digits()
    return ref_pixels(X[:n])


def build(label: str, factory: Any, *args: Any, **kwargs: Any) -> nn.Module:
    module = call_with_inputs(label, factory, *args, **kwargs)
    if not isinstance(module, nn.Module):
        fail(f"{label} should be an nn.Module; got {type(module).__name__}")
    return module


def encode(module: nn.Module, x: torch.Tensor, label: str) -> torch.Tensor:
    passed = x.clone()
    got = call_with_inputs(label, module, passed)
    assert_unchanged(label, {"input": passed}, {"input": x})
    if got is None:
        fail(f"{label} is None: did forward() forget to `return` the embeddings?")
    if not isinstance(got, torch.Tensor):
        fail(f"{label} should return a torch.Tensor; got {type(got).__name__}")
    return got


@pytest.mark.task(2)
@pytest.mark.parametrize("dim", [16, 8])
def test_image_encoder_shapes_and_norms(learner, dim):
    seed_everything(0)
    enc = build(f"ImageEncoder(dim={dim})", learner.ImageEncoder, dim=dim)
    count = sum(p.numel() for p in enc.parameters())
    if count == 0:
        fail(f"ImageEncoder(dim={dim}) has no parameters: it must learn its mapping")
    if count > 200_000:
        fail(f"ImageEncoder(dim={dim}) has {count:,} parameters; keep it under 200,000")
    enc.eval()
    x = digit_batch(9)
    label = f"ImageEncoder(dim={dim})(images (9, 64))"
    got = encode(enc, x, label)
    if tuple(got.shape) != (9, dim):
        clue = ": pass dim on to the last layer" if got.dim() == 2 and got.shape[0] == 9 else ""
        fail(f"{label} has shape {tuple(got.shape)}; expected (9, {dim}), one row per image{clue}")
    if got.dtype != torch.float32:
        fail(f"{label} has dtype {got.dtype}; expected torch.float32")
    normalisation_verdict(got, label)


@pytest.mark.task(2)
def test_image_encoder_default_dim(learner):
    seed_everything(0)
    enc = build("ImageEncoder()", learner.ImageEncoder)
    enc.eval()
    got = encode(enc, digit_batch(4), "ImageEncoder()(images (4, 64))")
    if tuple(got.shape) != (4, 32):
        fail(f"ImageEncoder()(images (4, 64)) has shape {tuple(got.shape)}; dim defaults to 32")


@pytest.mark.task(2)
def test_image_encoder_rows_are_independent(learner):
    seed_everything(0)
    enc = build("ImageEncoder(dim=16)", learner.ImageEncoder, dim=16)
    enc.eval()
    x = digit_batch(9)
    with torch.no_grad():
        whole = encode(enc, x, "ImageEncoder(dim=16)(images (9, 64))")
        perm = torch.tensor([4, 8, 0, 2, 7, 1, 3, 6, 5])
        shuffled = encode(enc, x[perm], "ImageEncoder(dim=16)(the same images shuffled)")
        alone = encode(enc, x[3:4], "ImageEncoder(dim=16)(images[3:4])")
    for got, want, what in (
        (shuffled, whole[perm], "the same images in another order"),
        (alone, whole[3:4], "image 3 on its own"),
    ):
        if tuple(got.shape) != tuple(want.shape) or not torch.allclose(
            got, want, rtol=1e-4, atol=1e-5
        ):
            fail(
                f"ImageEncoder(dim=16) gives other embeddings for {what} than inside the batch "
                "of 9 (in eval mode): each embedding may depend only on its own image. Was it "
                "normalised over the batch axis, or by batch statistics?"
            )


@pytest.mark.task(2)
def test_image_encoder_gradients_reach_every_parameter(learner):
    seed_everything(0)
    enc = build("ImageEncoder(dim=16)", learner.ImageEncoder, dim=16)
    enc.train()
    got = encode(enc, digit_batch(9), "ImageEncoder(dim=16)(images (9, 64)) in train mode")
    if not got.requires_grad:
        fail(
            "ImageEncoder(dim=16)(images) does not require grad in train mode: no gradient can "
            "reach its weights (computed under no_grad, detached, or rebuilt from NumPy?)"
        )
    weights = torch.randn(got.shape, generator=torch.Generator().manual_seed(3))
    (got * weights).sum().backward()
    missing = [name for name, p in enc.named_parameters() if p.grad is None]
    if missing:
        fail(
            f"after backward() through ImageEncoder(dim=16), {', '.join(missing[:3])} got no "
            "gradient: every layer must be on the path from the images to the embedding"
        )


def text_tokens() -> torch.Tensor:
    return torch.tensor(
        [
            [3, 5, 7, 0, 0, 0],
            [2, 2, 9, 4, 11, 1],
            [8, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
            [19, 13, 13, 6, 0, 0],
        ]
    )


def text_encoder_parts(enc: nn.Module, vocab_size: int, dim: int, width: int, label: str):
    embedding = getattr(enc, "embedding", None)
    proj = getattr(enc, "proj", None)
    if embedding is None or proj is None:
        fail(
            f"{label} has no attribute {'embedding' if embedding is None else 'proj'}: name the "
            "layers embedding (nn.Embedding or nn.EmbeddingBag) and proj (nn.Linear)"
        )
    weight = getattr(embedding, "weight", None)
    if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (vocab_size, width):
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else None
        fail(
            f"{label}.embedding.weight has shape {shape}; expected ({vocab_size}, {width}): one "
            "row of width numbers per token id"
        )
    if not isinstance(proj, nn.Linear) or (proj.in_features, proj.out_features) != (width, dim):
        got = (
            f"Linear({proj.in_features}, {proj.out_features})"
            if isinstance(proj, nn.Linear)
            else type(proj).__name__
        )
        fail(f"{label}.proj is {got}; expected nn.Linear({width}, {dim})")
    return (
        weight.detach().double().numpy(),
        proj.weight.detach().double().numpy(),
        proj.bias.detach().double().numpy() if proj.bias is not None else np.zeros(dim),
    )


def text_mistakes(parts: tuple[np.ndarray, ...], tokens: np.ndarray) -> dict[str, Any]:
    def out(**variant: str) -> Callable[[], np.ndarray]:
        return lambda: ref_text_forward(*parts, tokens, **variant)

    return {
        "the mean taken over every position, the padding included: average over the real "
        "tokens only (the positions whose id is not 0)": out(pool="mean_all"),
        "the sum of the token vectors, not their mean (then the bias of proj no longer weighs "
        "the same for short and long captions)": out(pool="sum"),
        "a max over the positions, not the mean of the real tokens": out(pool="max_all"),
        "'<unk>' (id 1) left out of the mean along with the padding: only id 0 is padding, an "
        "unknown word is a real token": out(pool="no_unk"),
        "only the first token's vector, not the mean of the real tokens": out(pool="first"),
        "only the last position's vector (often a pad), not the mean of the real tokens": out(
            pool="last"
        ),
        "normalised before proj instead of after it: the output of proj is the embedding, and "
        "it is what must have length 1": out(norm="before"),
        "not normalised at all: F.normalize(proj(mean), dim=-1)": out(norm="none"),
        "normalised over the batch axis (dim=0): each row is one embedding": out(norm="dim0"),
    }


@pytest.mark.task(2)
def test_text_encoder_matches_masked_mean(learner):
    seed_everything(0)
    vocab_size, dim, width = 20, 16, 12
    label = f"TextEncoder({vocab_size}, dim={dim}, width={width})"
    enc = build(label, learner.TextEncoder, vocab_size, dim=dim, width=width)
    parts = text_encoder_parts(enc, vocab_size, dim, width, label)
    enc.eval()
    tokens = text_tokens()
    call = f"{label}(tokens (5, 6))"
    got = encode(enc, tokens, call)
    want = torch.from_numpy(ref_text_forward(*parts, tokens.numpy())).float()
    if tuple(got.shape) == tuple(want.shape):
        g = got.detach()
        if torch.isnan(g[3]).any() and not torch.isnan(g[[0, 1, 2, 4]]).any():
            fail(
                f"{call}: row 3, a text with no real token (all padding), is NaN — 0/0 in the "
                "mean. Clamp the count at 1 (count.clamp(min=1)): the empty text then pools to "
                "the zero vector, as nn.EmbeddingBag does"
            )
    assert_tensor(
        got.detach() if isinstance(got, torch.Tensor) else got,
        want,
        name=call,
        rtol=EMB_RTOL,
        atol=EMB_ATOL,
        mistakes=lambda: text_mistakes(parts, tokens.numpy()),
    )


@pytest.mark.task(2)
def test_text_encoder_ignores_padding(learner):
    seed_everything(0)
    label = "TextEncoder(20, dim=16, width=12)"
    enc = build(label, learner.TextEncoder, 20, dim=16, width=12)
    enc.eval()
    tokens = text_tokens()[[0, 1, 2, 4]]
    longer = torch.cat([tokens, torch.zeros(4, 5, dtype=torch.long)], dim=1)
    with torch.no_grad():
        a = encode(enc, tokens, f"{label}(tokens (4, 6))")
        b = encode(enc, longer, f"{label}(the same tokens with 5 more pad columns, (4, 11))")
    if tuple(a.shape) != tuple(b.shape) or not torch.allclose(a, b, rtol=1e-4, atol=1e-5):
        fail(
            f"{label} gives other embeddings for the same captions once 5 more pad columns are "
            "added: the padding is counted in the mean. A caption's embedding must not depend "
            "on how long the other captions of its batch are: average over the ids that are "
            "not 0 only"
        )


@pytest.mark.task(2)
def test_text_encoder_gradients(learner):
    seed_everything(0)
    label = "TextEncoder(20, dim=16, width=12)"
    enc = build(label, learner.TextEncoder, 20, dim=16, width=12)
    enc.train()
    got = encode(enc, text_tokens(), f"{label}(tokens (5, 6)) in train mode")
    if not got.requires_grad:
        fail(f"{label}(tokens) does not require grad in train mode: no gradient reaches it")
    (got * torch.randn(got.shape, generator=torch.Generator().manual_seed(4))).sum().backward()
    missing = [name for name, p in enc.named_parameters() if p.grad is None]
    if missing:
        fail(f"after backward() through {label}, {', '.join(missing[:3])} got no gradient")


@pytest.mark.task(2)
def test_tiny_clip(learner):
    seed_everything(0)
    label = "TinyCLIP(30, dim=24)"
    model = build(label, learner.TinyCLIP, 30, dim=24)
    for name in ("image_encoder", "text_encoder", "logit_scale"):
        if not hasattr(model, name):
            fail(f"{label} has no attribute {name} (the checks reach it by this name)")
    scale = model.logit_scale
    if not isinstance(scale, nn.Parameter):
        fail(
            f"{label}.logit_scale is a {type(scale).__name__}, not an nn.Parameter: the "
            "optimizer would never see it, and the temperature would never be learned"
        )
    if scale.numel() != 1:
        fail(f"{label}.logit_scale has shape {tuple(scale.shape)}; it holds one number")
    if not any(p is scale for p in model.parameters()):
        fail(f"{label}.logit_scale is not among model.parameters()")
    value = float(scale.detach().reshape(()))
    if not math.isclose(value, INIT_LOG_SCALE, abs_tol=1e-4):
        clues = {
            "the scale itself, 1/0.07: logit_scale holds its log, math.log(1 / 0.07)": 1 / 0.07,
            "the temperature 0.07: logit_scale is the log of 1/temperature, math.log(1 / 0.07)": (
                0.07
            ),
            "log(0.07), the log of the temperature, not of its inverse: math.log(1 / 0.07)": (
                math.log(0.07)
            ),
        }
        clue = next((t for t, v in clues.items() if math.isclose(value, v, abs_tol=1e-4)), None)
        fail(
            f"{label}.logit_scale starts at {value:.6g}"
            + (f", which is {clue}" if clue else "")
            + f"; expected math.log(1 / 0.07) = {INIT_LOG_SCALE:.6g}"
        )
    model.eval()
    x = digit_batch(3)
    img = encode(model.image_encoder, x, f"{label}.image_encoder(images (3, 64))")
    txt = encode(model.text_encoder, text_tokens(), f"{label}.text_encoder(tokens (5, 6))")
    if tuple(img.shape) != (3, 24) or tuple(txt.shape) != (5, 24):
        fail(
            f"{label}'s encoders give {tuple(img.shape)} for 3 images and {tuple(txt.shape)} for "
            "5 texts; expected (3, 24) and (5, 24): both map into the same 24-dim space"
        )


# ----- task 3: the contrastive loss --------------------------------------------------------------
def unit_pair(n: int, m: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = torch.randn(m, d, generator=g, dtype=torch.float64)
    a = a / a.norm(dim=1, keepdim=True)
    b = b / b.norm(dim=1, keepdim=True)
    return a.float(), b.float()


def logits_mistakes(i: torch.Tensor, t: torch.Tensor, log_scale: float) -> dict[str, Any]:
    a, b = i.double().numpy(), t.double().numpy()

    def v(name: str) -> Callable[[], np.ndarray]:
        return lambda: ref_logits64(a, b, log_scale, variant=name)

    return {
        "the cosines divided by exp(logit_scale): logit_scale is the log of 1/temperature, so "
        "multiply by exp(logit_scale)": v("divided"),
        "the cosines multiplied by logit_scale itself: it is a log, the scale is "
        "exp(logit_scale)": v("raw_t"),
        "the cosines divided by logit_scale: the scale is exp(logit_scale), and it multiplies": v(
            "over_t"
        ),
        "no scale at all: multiply by exp(logit_scale), clamped at MAX_SCALE": v("no_scale"),
        "the scale not clamped at MAX_SCALE = 100: exp(logit_scale).clamp(max=100) (a clamp on "
        "logit_scale itself at 100 does nothing)": v("no_clamp"),
        "clamp(min=100): the scale is clamped from above, max=MAX_SCALE": v("clamp_min"),
        "the logits clamped at MAX_SCALE instead of the scale (a clamp on exp(logit_scale) * "
        "cosines): clamp the scale first, exp(logit_scale).clamp(max=MAX_SCALE), then multiply "
        "the cosines by it": v("clamp_logits"),
        "the scale clamped at log(100): the clamp applies to exp(logit_scale), at 100": v(
            "clamp_log"
        ),
        "a fixed scale of 1/0.07: use the logit_scale you are given": v("fixed"),
        "texts × images, (M, N): row i is image i, column j text j — image_emb @ text_emb.T": v(
            "transposed"
        ),
    }


@pytest.mark.task(3)
@pytest.mark.parametrize("log_scale", [math.log(10.0), math.log(250.0)], ids=["scale10", "clamped"])
def test_clip_logits(learner, log_scale):
    seed_everything(0)
    i, t = unit_pair(6, 5, 8, seed=21)
    scale = torch.tensor(log_scale)
    label = (
        f"clip_logits(image_emb (6, 8), text_emb (5, 8), logit_scale=log({math.exp(log_scale):g}))"
    )
    got = run_on_copies(label, learner.clip_logits, image_emb=i, text_emb=t, logit_scale=scale)
    want = torch.from_numpy(ref_logits64(i.double().numpy(), t.double().numpy(), log_scale)).float()
    assert_tensor(
        got.detach() if isinstance(got, torch.Tensor) else got,
        want,
        name=label,
        rtol=1e-4,
        atol=1e-5,
        mistakes=lambda: logits_mistakes(i, t, log_scale),
    )


@pytest.mark.task(3)
def test_clip_logits_gradient_reaches_logit_scale(learner):
    seed_everything(0)
    i, t = unit_pair(4, 4, 8, seed=22)
    scale = torch.tensor(math.log(12.0), requires_grad=True)
    label = "clip_logits(image_emb (4, 8), text_emb (4, 8), logit_scale=log(12))"
    got = call_with_inputs(label, learner.clip_logits, i.clone(), t.clone(), scale)
    if not isinstance(got, torch.Tensor):
        fail(f"{label} should return a torch.Tensor; got {type(got).__name__}")
    if not got.requires_grad:
        fail(
            f"{label} does not depend on logit_scale through autograd: the scale was turned into "
            "a Python number (.item(), float(), math.exp), so the temperature can never be "
            "learned. Use logit_scale.exp().clamp(max=MAX_SCALE)"
        )
    got.sum().backward()
    want = 12.0 * float((i.double() @ t.double().T).sum())
    if scale.grad is None:
        fail(f"after backward(), logit_scale.grad is None: {label} is not connected to it")
    assert_close(
        float(scale.grad),
        want,
        name=f"d(sum of {label})/d(logit_scale)",
        rtol=1e-4,
        atol=1e-5,
    )


LOSS_CASES = [
    ("batch 6, temperature 0.07", 6, 8, INIT_LOG_SCALE, 31),
    ("batch 7, scale clamped (exp(t) = 300)", 7, 5, math.log(300.0), 32),
    ("batch 5, scale 1", 5, 4, 0.0, 33),
]


@pytest.mark.task(3)
@pytest.mark.parametrize("case", range(len(LOSS_CASES)), ids=[c[0] for c in LOSS_CASES])
def test_clip_loss_value(learner, case):
    seed_everything(0)
    _name, n, d, log_scale, seed = LOSS_CASES[case]
    i, t = unit_pair(n, n, d, seed)
    # make the pairs agree somewhat, so that the diagonal matters
    t = F.normalize(t + 1.5 * i, dim=-1)
    scale = torch.tensor(log_scale)
    label = f"clip_loss(image_emb ({n}, {d}), text_emb ({n}, {d}), logit_scale={log_scale:.4g})"
    got = run_on_copies(label, learner.clip_loss, image_emb=i, text_emb=t, logit_scale=scale)
    if got is None:
        fail(f"{label} is None: did you forget to `return` the loss?")
    if not isinstance(got, torch.Tensor):
        fail(
            f"{label} should return a torch.Tensor (0-dim) that backward() can run through; got "
            f"{type(got).__name__} (.item() or float() cut it off the graph)"
        )
    a, b = i.double().numpy(), t.double().numpy()
    want = ref_loss64(ref_logits64(a, b, log_scale))
    if got.dim() != 0:
        if tuple(got.shape) == (n,):
            fail(
                f"{label} has shape ({n},): one loss per pair, not reduced. Return their mean, a "
                "0-dim tensor (F.cross_entropy reduces by the mean by default)"
            )
        if got.numel() != 1:
            fail(f"{label} has shape {tuple(got.shape)}; expected a 0-dim tensor (a scalar)")
        fail(f"{label} has shape {tuple(got.shape)}; return a 0-dim tensor (.squeeze() or .mean())")
    assert_close(
        float(got.detach()), want, name=label, rtol=1e-4, atol=1e-6,
        mistakes=lambda: loss_mistakes(a, b, log_scale),
    )  # fmt: skip


@pytest.mark.task(3)
def test_clip_loss_gradients(learner):
    seed_everything(0)
    i0, t0 = unit_pair(6, 6, 8, seed=34)
    t0 = F.normalize(t0 + i0, dim=-1)
    leaves = {
        "image_emb": i0.clone().requires_grad_(True),
        "text_emb": t0.clone().requires_grad_(True),
        "logit_scale": torch.tensor(math.log(20.0), requires_grad=True),
    }
    label = "clip_loss(image_emb (6, 8), text_emb (6, 8), logit_scale=log(20))"
    got = call_with_inputs(label, learner.clip_loss, **leaves)
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        fail(
            f"{label} does not require grad: backward() cannot reach the encoders or the "
            "temperature (computed under no_grad, detached, or rebuilt from .item()?)"
        )
    if got.numel() != 1:
        fail(f"{label} has shape {tuple(got.shape)}; expected a 0-dim tensor")
    got.reshape(()).backward()
    ref = {k: v.detach().clone().requires_grad_(True) for k, v in leaves.items()}
    ref_loss_torch(ref["image_emb"], ref["text_emb"], ref["logit_scale"]).backward()

    def renormalised() -> dict[str, torch.Tensor]:
        again = {k: v.detach().clone().requires_grad_(True) for k, v in leaves.items()}
        ref_loss_torch(
            F.normalize(again["image_emb"], dim=-1),
            F.normalize(again["text_emb"], dim=-1),
            again["logit_scale"],
        ).backward()
        return {k: v.grad for k, v in again.items()}

    for key in ("logit_scale", "image_emb", "text_emb"):
        grad = leaves[key].grad
        if grad is None:
            extra = (
                " — the scale became a Python number (.item(), float(), math.exp): use "
                "logit_scale.exp().clamp(max=MAX_SCALE)"
                if key == "logit_scale"
                else ""
            )
            fail(f"after backward(), {key}.grad is None: {label} is not connected to it{extra}")
        assert_tensor(
            grad.reshape(ref[key].grad.shape),
            ref[key].grad,
            name=f"d({label})/d({key})",
            rtol=1e-3,
            atol=1e-5,
            mistakes={
                "the embeddings normalised again inside clip_loss/clip_logits (F.normalize on "
                "inputs that are already unit rows): the loss is the same, but the gradient "
                "loses its component along each row. Use the embeddings as given": (
                    lambda key=key: renormalised()[key]
                ),
            },
        )


# ----- task 4: training --------------------------------------------------------------------------
@contextmanager
def recording(model: nn.Module) -> Iterator[dict[str, list[torch.Tensor]]]:
    seen: dict[str, list[torch.Tensor]] = {"image": [], "text": []}
    handles = []
    for key, module in (("image", model.image_encoder), ("text", model.text_encoder)):

        def hook(_module: nn.Module, args: tuple[Any, ...], key: str = key) -> None:
            # calls under no_grad (a loss measured for logging) are not training batches
            if args and isinstance(args[0], torch.Tensor) and torch.is_grad_enabled():
                seen[key].append(args[0].detach().clone())

        handles.append(module.register_forward_pre_hook(hook))
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def trim_pads(tokens: torch.Tensor) -> torch.Tensor:
    if tokens.dim() != 2:
        return tokens
    used = (tokens != 0).any(dim=0).nonzero()
    width = int(used.max()) + 1 if len(used) else 0
    return tokens[:, :width]


def batch_candidates(n: int, bs: int, steps: int, seed: int, global_seed: int) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    draws = [torch.randperm(n, generator=g)[:bs] for _ in range(2 * steps)]
    one = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    with torch.random.fork_rng():
        torch.manual_seed(global_seed)
        global_draws = [torch.randperm(n)[:bs] for _ in range(steps)]
    g2 = torch.Generator().manual_seed(seed)
    with_replacement = [torch.randint(n, (bs,), generator=g2) for _ in range(steps)]
    return {
        "two permutations drawn per step (one for the images, one for the texts): draw one "
        "batch of indices per step and take images[batch] and tokens[batch] with it": draws[0::2],
        "the same batch at every step: the generator is created (and seeded) anew inside the "
        "loop. Make it once, before the loop": [draws[0]] * steps,
        "consecutive slices of one permutation (epoch-style); this task draws a fresh "
        "torch.randperm(N, generator=generator)[:batch_size] at every step": [
            one[s * bs : (s + 1) * bs] for s in range(steps)
        ],
        "torch's global generator (torch.randperm(N) without generator=...): pass the seeded "
        "generator to torch.randperm": global_draws,
        "indices drawn with replacement (torch.randint): a batch is "
        "torch.randperm(N, generator=generator)[:batch_size], no index twice": with_replacement,
    }


def check_batches(
    seen: dict[str, list[torch.Tensor]],
    images: torch.Tensor,
    tokens: torch.Tensor,
    *,
    steps: int,
    bs: int,
    seed: int,
    global_seed: int,
    label: str,
) -> list[torch.Tensor]:
    n = len(images)
    expected = draw_batches(n, bs, steps, seed)
    got_images, got_texts = seen["image"], seen["text"]
    if len(got_images) != steps or len(got_texts) != steps:
        fail(
            f"{label} ran model.image_encoder {len(got_images)} times and model.text_encoder "
            f"{len(got_texts)} times with gradients on in {steps} steps; expected once each per "
            "step (call the encoders as modules, model.image_encoder(x), so the check can see "
            "the batches)"
        )
    for step, (x, batch) in enumerate(zip(got_images, expected, strict=True)):
        if tuple(x.shape) != (bs, 64):
            fail(
                f"{label}: step {step} fed the image encoder a batch of shape {tuple(x.shape)}; "
                f"expected ({bs}, 64): images[batch] with batch = torch.randperm(N, "
                "generator=generator)[:batch_size]"
            )
        if not torch.equal(x, images[batch]):
            for text, candidate in batch_candidates(n, bs, steps, seed, global_seed).items():
                if all(
                    tuple(a.shape) == (bs, 64) and torch.equal(a, images[c])
                    for a, c in zip(got_images, candidate, strict=True)
                ):
                    fail(f"{label}: the image batches look like {text}")
            fail(
                f"{label}: the images of step {step} are not images[batch] for batch = "
                f"torch.randperm({n}, generator=generator)[:{bs}], with generator = "
                f"torch.Generator().manual_seed({seed}) made once, before the first step"
            )
    for step, (x, batch) in enumerate(zip(got_texts, expected, strict=True)):
        want = trim_pads(tokens[batch])
        if x.dim() != 2 or not torch.equal(trim_pads(x), want):
            fail(
                f"{label}: the tokens of step {step} are not tokens[batch] for the batch its "
                "images came from: the pairs are broken, so image i no longer meets its own "
                "caption. Take images[batch] and tokens[batch] with the same batch"
            )
    return expected


def replay_mistakes(
    start: nn.Module, images: torch.Tensor, tokens: torch.Tensor, batches: list[torch.Tensor]
) -> dict[str, Any]:
    def run(lr: float = REPLAY_LR, **kw: Any) -> Callable[[], list[float]]:
        return lambda: replay(copy.deepcopy(start), images, tokens, batches, lr, **kw)

    return {
        "SGD instead of Adam: torch.optim.Adam(model.parameters(), lr=lr)": run(optimizer="sgd"),
        "Adam's default learning rate (1e-3) instead of the lr argument": run(lr=1e-3),
        "gradients never zeroed: without optimizer.zero_grad() they pile up from step to step": (
            run(zero_grad=False)
        ),
        "no optimizer step (or the gradients cleared between backward() and step())": run(
            update=False
        ),
        "a new optimizer made at every step: Adam's running averages of the gradients start "
        "over each time; make it once, before the loop": run(fresh_optimizer=True),
        "the loss recomputed after optimizer.step(): report the loss the gradients came from": (
            run(report_after=True)
        ),
        "gradient clipping (clip_grad_norm_ with max_norm=1.0) before optimizer.step(): the task "
        "asks for plain Adam steps on the raw gradients": run(clip_norm=1.0),
        "Adam with weight decay (weight_decay=1e-4): the task asks for plain "
        "torch.optim.Adam(model.parameters(), lr=lr)": run(weight_decay=1e-4),
        "Adam with weight decay (weight_decay=0.01): the task asks for plain "
        "torch.optim.Adam(model.parameters(), lr=lr)": run(weight_decay=0.01),
        "logit_scale left out of the optimizer: the temperature is never learned — use all of "
        "model.parameters()": run(skip="logit_scale"),
        "the text encoder left out of the optimizer (or its output detached)": run(
            skip="text_encoder"
        ),
        "the image encoder left out of the optimizer (or its output detached)": run(
            skip="image_encoder"
        ),
    }


@once_per_run
def replay_outcome(learner: Any) -> dict[str, Any]:
    seed_everything(0)
    data = dataset()
    model = build("TinyCLIP(vocab_size)", learner.TinyCLIP, len(data["vocab"]))
    start = copy.deepcopy(model)
    label = (
        f"train_clip(model, images (1200, 64), tokens (1200, L), steps={REPLAY_STEPS}, "
        f"batch_size={REPLAY_BATCH}, lr={REPLAY_LR}, seed={REPLAY_SEED})"
    )
    seed_everything(1234)
    global_state = torch.random.get_rng_state()
    with recording(model) as seen:
        losses = call_with_inputs(
            label,
            learner.train_clip,
            model,
            data["train_images"].clone(),
            data["train_tokens"].clone(),
            steps=REPLAY_STEPS,
            batch_size=REPLAY_BATCH,
            lr=REPLAY_LR,
            seed=REPLAY_SEED,
        )
    return {
        "label": label,
        "model": model,
        "start": start,
        "losses": losses,
        "seen": seen,
        "global_rng_used": not torch.equal(global_state, torch.random.get_rng_state()),
    }


def replayed(learner: Any) -> dict[str, Any]:
    outcome, error = replay_outcome(learner)
    if error is not None:
        raise error
    return outcome


@pytest.mark.task(4)
def test_train_clip_draws_seeded_aligned_batches(learner):
    run = replayed(learner)
    data = dataset()
    as_float_list(run["losses"], run["label"], REPLAY_STEPS)
    check_batches(
        run["seen"],
        data["train_images"],
        data["train_tokens"],
        steps=REPLAY_STEPS,
        bs=REPLAY_BATCH,
        seed=REPLAY_SEED,
        global_seed=1234,
        label=run["label"],
    )
    if run["global_rng_used"]:
        fail(
            f"{run['label']} drew the right batches but changed torch's global random state "
            "(torch.manual_seed, or a draw without generator=...): the batches must come from "
            "your own torch.Generator().manual_seed(seed), and the caller's global generator "
            "must be left alone (no dropout or other randomness in the encoders either)"
        )


def loss_is_right(learner: Any) -> bool:
    i, t = unit_pair(6, 6, 8, seed=41)
    try:
        got = learner.clip_loss(i.clone(), t.clone(), torch.tensor(INIT_LOG_SCALE))
        want = ref_loss64(ref_logits64(i.double().numpy(), t.double().numpy(), INIT_LOG_SCALE))
        return math.isclose(float(got), want, rel_tol=1e-4)
    except Exception:
        return False


@pytest.mark.task(4)
def test_train_clip_replays_step_by_step(learner):
    run = replayed(learner)
    data = dataset()
    images, tokens = data["train_images"], data["train_tokens"]
    losses = as_float_list(run["losses"], run["label"], REPLAY_STEPS)
    batches = check_batches(
        run["seen"], images, tokens, steps=REPLAY_STEPS, bs=REPLAY_BATCH, seed=REPLAY_SEED,
        global_seed=1234, label=run["label"],
    )  # fmt: skip
    seed_everything(0)
    reference = copy.deepcopy(run["start"])
    want = replay(reference, images, tokens, batches, REPLAY_LR)
    close = np.allclose(losses, want, rtol=2e-3, atol=1e-4)
    if not close:
        prefix = ""
        if not loss_is_right(learner):
            prefix = "your clip_loss does not pass task 3 yet, so fix it first. "
        table = replay_mistakes(run["start"], images, tokens, batches)
        known = next(
            (
                text
                for text, make in table.items()
                if np.allclose(losses, make(), rtol=2e-3, atol=1e-4)
            ),
            None,
        )
        if known is None and not math.isclose(losses[0], want[0], rel_tol=1e-4, abs_tol=1e-5):
            fail(
                f"{prefix}{run['label']}: the loss of step 0 is {losses[0]:.6g}; the check's "
                f"clip_loss on the same batch, with the same starting weights, gives "
                f"{want[0]:.6g}. Return loss.item() of clip_loss(model.image_encoder(...), "
                "model.text_encoder(...), model.logit_scale) for each step"
            )
        step = int(np.argmax(~np.isclose(losses, want, rtol=2e-3, atol=1e-4)))
        fail(
            prefix
            + (f"{run['label']} looks like {known}. " if known else "")
            + f"{run['label']}: the loss of step {step} is {losses[step]:.6g}; replaying your "
            f"batches with plain torch.optim.Adam(model.parameters(), lr={REPLAY_LR}) (no "
            "gradient clipping, weight decay or other change to the update) from the same "
            f"starting weights gives {want[step]:.6g}"
            + ("" if step == 0 else f" (step 0 agrees: {want[0]:.6g})")
        )
    start_scale = float(run["start"].logit_scale.detach().reshape(()))
    end_scale = float(run["model"].logit_scale.detach().reshape(()))
    if start_scale == end_scale:
        fail(
            f"{run['label']} never changed logit_scale: the temperature must be learned with "
            "the encoders (Adam over all of model.parameters())"
        )
    mismatch = params_mismatch(run["model"], reference)
    if mismatch is None:
        return
    name, diff = mismatch
    variants = {
        "AdamW (its default weight decay of 0.01 shrinks every weight a little each step); "
        "the task asks for torch.optim.Adam": dict(optimizer="adamw"),
        "one optimizer step more than the losses it reports": dict(extra=1),
    }
    known = None
    for text, variant in variants.items():
        other = copy.deepcopy(run["start"])
        extra = variant.pop("extra", 0)
        steps = draw_batches(len(images), REPLAY_BATCH, REPLAY_STEPS + extra, REPLAY_SEED)
        replay(other, images, tokens, steps, REPLAY_LR, **variant)
        if params_mismatch(run["model"], other) is None:
            known = text
            break
    fail(
        f"after {run['label']}, model.{name} differs from the check's replay by up to "
        f"{diff:.3g}, although every loss it returned agreed"
        + (f": it looks like {known}" if known else "")
    )


def params_mismatch(model: nn.Module, reference: nn.Module) -> tuple[str, float] | None:
    ref_params = dict(reference.named_parameters())
    for name, param in model.named_parameters():
        if name in ref_params and not torch.allclose(
            param.detach(), ref_params[name].detach(), rtol=1e-3, atol=1e-4
        ):
            return name, float((param.detach() - ref_params[name].detach()).abs().max())
    return None


@once_per_run
def full_training(learner: Any) -> dict[str, Any]:
    seed_everything(0)
    data = dataset()
    model = build("TinyCLIP(vocab_size)", learner.TinyCLIP, len(data["vocab"]))
    start = copy.deepcopy(model)
    label = (
        f"train_clip(model, images (1200, 64), tokens (1200, L), steps={STEPS}, "
        f"batch_size={BATCH}, lr={LR}, seed={TRAIN_SEED})"
    )
    losses = call_with_inputs(
        label,
        learner.train_clip,
        model,
        data["train_images"].clone(),
        data["train_tokens"].clone(),
        steps=STEPS,
        batch_size=BATCH,
        lr=LR,
        seed=TRAIN_SEED,
    )
    return {"label": label, "model": model, "start": start, "losses": losses}


def trained(learner: Any) -> dict[str, Any]:
    outcome, error = full_training(learner)
    if error is not None:
        raise error
    return outcome


@torch.no_grad()
def evaluation_loss(model: nn.Module) -> float:
    """The check's clip_loss over the training pairs in fixed batches of 64."""
    data = _dataset()
    images, tokens = data["train_images"], data["train_tokens"]
    values = []
    for start in range(0, 640, BATCH):
        rows = slice(start, start + BATCH)
        values.append(
            float(
                ref_loss_torch(
                    model.image_encoder(images[rows]),
                    model.text_encoder(tokens[rows]),
                    model.logit_scale,
                )
            )
        )
    return float(np.mean(values))


@pytest.mark.task(4)
def test_training_loss_goes_down(learner):
    run = trained(learner)
    losses = as_float_list(run["losses"], run["label"], STEPS)
    window = [float(np.mean(losses[max(0, s - LOSS_WINDOW + 1) : s + 1])) for s in range(STEPS)]
    assert_reaches(
        window[LOSS_WINDOW - 1 :],
        LOSS_TARGET,
        name=f"the training loss (mean of the last {LOSS_WINDOW} steps, from step {LOSS_WINDOW})",
        within=STEPS,
    )
    run["model"].eval()
    before, after = evaluation_loss(run["start"]), evaluation_loss(run["model"])
    if not after <= before - 1.0:
        fail(
            f"measured by the check on 640 training pairs, the loss went from {before:.4g} "
            f"(untrained) to {after:.4g} after {run['label']}; it must drop by at least 1.0 "
            "(the reference reaches about 1.8 from 4.3)"
        )


# ----- task 5: zero-shot classification ----------------------------------------------------------
def class_mistakes(
    model: nn.Module, prompts: list[list[str]], vocab: dict[str, int]
) -> dict[str, Any]:
    @torch.no_grad()
    def per_class(fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        return torch.stack([fn(model.text_encoder(ref_tokens(p, vocab)).double()) for p in prompts])

    @torch.no_grad()
    def one_bag() -> torch.Tensor:
        joined = [" ".join(p) for p in prompts]
        emb = model.text_encoder(ref_tokens(joined, vocab)).double()
        return emb / emb.norm(dim=1, keepdim=True)

    return {
        "the mean of the class's unit vectors without renormalising it: an average of unit "
        "vectors is shorter than 1 (the more the prompts disagree, the shorter), so normalise it "
        "again": lambda: per_class(lambda e: e.mean(dim=0)),
        "the sum of the class's unit vectors, not renormalised": lambda: per_class(
            lambda e: e.sum(dim=0)
        ),
        "only the first prompt of each class: average over all of its prompts": lambda: per_class(
            lambda e: e[0]
        ),
        "only the last prompt of each class: average over all of its prompts": lambda: per_class(
            lambda e: e[-1]
        ),
        "all the prompts of a class joined into one text (one bag of words): encode each prompt "
        "on its own, then average the unit vectors": one_bag,
    }


@pytest.mark.task(5)
def test_class_embeddings_ensemble(learner):
    seed_everything(0)
    model = reference_model()
    vocab = dataset()["vocab"]
    prompts = prompt_lists([1 + (k * 3) % 4 for k in range(10)])
    prompts[4] = prompts[4] + ["a zebra drawn as the number four"]  # unknown words → <unk>
    label = "class_embeddings(model, prompts (10 classes, 1 to 5 prompts each), vocab)"
    before = params_snapshot(model)
    with ForwardCalls(model.text_encoder) as log:
        got = call_with_inputs(label, learner.class_embeddings, model, copy.deepcopy(prompts),
                               dict(vocab))  # fmt: skip
    assert_params_unchanged(model, before, label)
    want = ref_class_embeddings(model, prompts, vocab).float()
    if isinstance(got, torch.Tensor) and got.requires_grad:
        fail(
            f"{label} still requires grad: compute the class embeddings under torch.no_grad() "
            "(they are fixed vectors, not part of any training)"
        )
    check_grad_free(log, label, "model.text_encoder")
    assert_tensor(
        got, want, name=label, rtol=EMB_RTOL, atol=EMB_ATOL,
        mistakes=lambda: class_mistakes(model, prompts, vocab),
    )  # fmt: skip


@pytest.mark.task(5)
def test_zero_shot_predict(learner):
    seed_everything(0)
    model = reference_model()
    data = dataset()
    class_emb = ref_class_embeddings(model, prompt_lists(), data["vocab"]).float()
    images = data["test_images"]
    label = "zero_shot_predict(model, images (597, 64), class_emb (10, 32))"
    before = params_snapshot(model)
    with ForwardCalls(model.image_encoder) as log:
        got = run_on_copies(label, learner.zero_shot_predict, model=model, images=images,
                            class_emb=class_emb)  # fmt: skip
    assert_params_unchanged(model, before, label)
    check_grad_free(log, label, "model.image_encoder")

    def scores_of(classes: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model.image_encoder(images) @ classes.T

    scores = scores_of(class_emb)
    want = scores.argmax(dim=1)
    if isinstance(got, torch.Tensor) and got.is_floating_point():
        if tuple(got.shape) == tuple(scores.shape):
            fail(
                f"{label} returned the (597, 10) similarity scores; return the predicted class "
                "of each image, their argmax over the classes: (597,) int64"
            )
        fail(f"{label} has dtype {got.dtype}; expected class indices, int64")
    assert_tensor(
        got,
        want,
        name=label,
        mistakes={
            "the least similar class (argmin): take the argmax": lambda: scores.argmin(dim=1),
            "the argmax over the images (dim=0), one per class: take it over the classes, dim=1": (
                lambda: scores.argmax(dim=0)
            ),
            "class_emb normalised again over the wrong axis (F.normalize(class_emb, dim=0), "
            "across the classes): its rows are already unit vectors, so use class_emb as given": (
                lambda: (scores_of(F.normalize(class_emb, dim=0))).argmax(dim=1)
            ),
        },
    )


@pytest.mark.task(5)
def test_zero_shot_accuracy_of_your_clip(learner):
    run = trained(learner)
    model = run["model"]
    data = dataset()
    before = params_snapshot(model)
    label = "class_embeddings(your trained model, the 4 prompts of each digit, vocab)"
    class_emb = call_with_inputs(label, learner.class_embeddings, model, prompt_lists(),
                                 dict(data["vocab"]))  # fmt: skip
    predicted = call_with_inputs(
        "zero_shot_predict(your trained model, test images (597, 64), class_emb)",
        learner.zero_shot_predict,
        model,
        data["test_images"],
        class_emb,
    )
    assert_params_unchanged(model, before, "class_embeddings / zero_shot_predict")
    if not isinstance(predicted, torch.Tensor) or tuple(predicted.shape) != (N_TEST,):
        fail("zero_shot_predict(...) on the 597 test images must return (597,) class indices")
    accuracy = float((predicted.long() == data["test_labels"]).double().mean())
    if accuracy >= ZERO_SHOT_BAND:
        return
    with torch.no_grad():
        own = ref_class_embeddings(model, prompt_lists(), data["vocab"]).float()
        check_acc = float(
            ((model.image_encoder(data["test_images"]) @ own.T).argmax(1) == data["test_labels"])
            .double()
            .mean()
        )
    where = (
        f" The check's own prompt ensemble on your model reaches {check_acc:.3f}, so look at "
        "class_embeddings and zero_shot_predict."
        if check_acc >= ZERO_SHOT_BAND
        else " The check's own prompt ensemble on your model gets no further "
        f"({check_acc:.3f}): the training of task 4 is what falls short."
    )
    fail(
        f"zero-shot accuracy on the 597 held-out digits did not reach {ZERO_SHOT_BAND} within "
        f"{STEPS} steps of {run['label']}: it is {accuracy:.3f} (chance: 0.1; the reference "
        f"reaches about 0.96).{where}"
    )


# ----- task 6: cross-modal retrieval -------------------------------------------------------------
def tied_case(q: int, c: int, seed: int, k: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 5, size=(q, c)) / 4.0
    if k:
        # wide rows, about a fifth of them tied at the top score: the one relevant candidate is
        # the k-th of the tied ones in index order (a hit) or the (k+1)-th (a miss). An unstable
        # sort, right on a dozen columns, shuffles ties this many.
        rel = np.zeros((q, c), dtype=bool)
        for r in range(q):
            top = np.flatnonzero(s[r] == 1.0)
            rel[r, top[k - 1 + r % 2]] = True
        return torch.tensor(s, dtype=torch.float32), torch.tensor(rel)
    rel = rng.random((q, c)) < 0.2
    rel[1] = False  # a query with nothing relevant
    # a relevant candidate tied with an irrelevant one of lower index at the cut
    s[0] = 0.0
    s[0, 2] = s[0, 5] = 1.0
    rel[0] = False
    rel[0, 5] = True
    return torch.tensor(s, dtype=torch.float32), torch.tensor(rel)


RECALL_CASES = [
    (12, 12, 51, 1),
    (12, 12, 52, 3),
    (9, 15, 53, 5),
    (12, 12, 54, 2),
    (12, 12, 55, 1),
    (10, 10, 56, 4),
    (15, 9, 57, 2),
    (16, 1000, 58, 5),
]


@pytest.mark.task(6)
def test_recall_at_k(learner):
    """Every case first; a mistake is named only when it explains all of them (all but the
    three non-square ones at most, where a transposed ranking does not apply)."""
    seed_everything(0)
    results = []
    for q, c, seed, k in RECALL_CASES:
        s, rel = tied_case(q, c, seed, k if c >= 100 else 0)
        label = f"recall_at_k(similarity ({q}, {c}) with ties, relevant ({q}, {c}), k={k})"
        got = run_on_copies(label, learner.recall_at_k, similarity=s, relevant=rel, k=k)
        if got is None:
            fail(f"{label} is None: did you forget to `return` it?")
        if isinstance(got, torch.Tensor):
            fail(f"{label} returned a torch.Tensor; return a Python float (float(...))")
        if isinstance(got, bool) or not isinstance(got, int | float | np.integer | np.floating):
            fail(f"{label} should return a float; got {type(got).__name__} {got!r}")
        sim, relevant = s.double().numpy(), rel.numpy()
        results.append((label, float(got), ref_recall(sim, relevant, k), sim, relevant, k))
    wrong = [r for r in results if not math.isclose(r[1], r[2], abs_tol=1e-6)]
    if not wrong:
        return
    known = None
    for text in recall_mistakes_here(*results[0][3:]):
        values = [
            (value, recall_mistakes_here(sim, relevant, k)[text]) for _l, value, _w, sim, relevant, k
            in results
        ]  # fmt: skip
        values = [(v, make() if callable(make) else make) for v, make in values]
        usable = [(v, w) for v, w in values if w is not None]
        if len(usable) >= len(results) - 3 and all(
            math.isclose(v, w, abs_tol=1e-6) for v, w in usable
        ):
            known = text
            break
    label, value, want, *_rest = wrong[0]
    fail(
        (f"recall_at_k looks like {known}. " if known else "")
        + f"{label} is {value:.6g}; expected {want:.6g}"
        + (f" ({len(wrong)} of the {len(results)} cases are wrong)" if len(wrong) > 1 else "")
    )


METRIC_MISTAKES_TEXT = {
    "swapped": "the two directions swapped: image_to_text ranks the texts for each image "
    "(rows of images @ texts.T), text_to_image the images for each text (its transpose)",
    "pairs": "only the paired item counted as relevant (the diagonal): here every candidate of "
    "the query's class is relevant, relevant = labels[:, None] == labels[None, :]",
    "all": "every candidate counted as relevant (on 1-D labels, labels == labels.T compares "
    "each label with itself): relevant = labels[:, None] == labels[None, :], an (N, N) matrix",
    "same": "both directions computed from the same matrix: text_to_image ranks the images for "
    "each text, so it uses the transpose",
}


def metric_mistakes(sim: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...]) -> dict[str, Any]:
    eye = np.eye(len(sim), dtype=bool)

    def table(i2t: tuple[np.ndarray, np.ndarray], t2i: tuple[np.ndarray, np.ndarray]) -> Any:
        out: dict[str, float | None] = {}
        for k in ks:
            out[f"image_to_text@{k}"] = ref_recall(*i2t, k)
            out[f"text_to_image@{k}"] = ref_recall(*t2i, k)
        return out

    return {
        METRIC_MISTAKES_TEXT["swapped"]: lambda: table((sim.T, relevant.T), (sim, relevant)),
        METRIC_MISTAKES_TEXT["pairs"]: lambda: table((sim, eye), (sim.T, eye)),
        METRIC_MISTAKES_TEXT["same"]: lambda: table((sim, relevant), (sim, relevant)),
        METRIC_MISTAKES_TEXT["all"]: lambda: table(
            (sim, np.ones_like(relevant)), (sim.T, np.ones_like(relevant))
        ),
    }


def check_metrics(got: Any, want: dict[str, float], label: str, mistakes: Any) -> None:
    if got is None:
        fail(f"{label} is None: did you forget to `return` the dict of metrics?")
    if not isinstance(got, dict):
        fail(f"{label} should return a dict; got {type(got).__name__}")
    if set(got) != set(want):
        fail(
            f"{label} has the keys {sorted(got, key=str)}; expected {sorted(want)} "
            "(image_to_text@k and text_to_image@k for each k of ks)"
        )
    for key, value in got.items():
        if isinstance(value, torch.Tensor):
            fail(f"{label}[{key!r}] is a torch.Tensor; return Python floats")
    values = {k: float(v) for k, v in got.items()}
    if all(math.isclose(values[k], want[k], abs_tol=1e-6) for k in want):
        return
    table = mistakes()
    known = next(
        (
            text
            for text, make in table.items()
            if all(
                (w := make()[k]) is not None and math.isclose(values[k], w, abs_tol=1e-6)
                for k in want
            )
        ),
        None,
    )
    key = next(k for k in want if not math.isclose(values[k], want[k], abs_tol=1e-6))
    fail(
        (f"{label} looks like {known}. " if known else "")
        + f"{label}[{key!r}] is {values[key]:.6g}; expected {want[key]:.6g}"
    )


@pytest.mark.task(6)
@pytest.mark.parametrize("ks", [(1, 5), (1, 3, 10)], ids=["default", "1-3-10"])
def test_retrieval_metrics(learner, ks):
    seed_everything(0)
    model = reference_model()
    data = dataset()
    images, tokens, labels = data["test_images"], data["test_tokens"], data["test_labels"]
    want, sim, relevant = ref_retrieval(model, images, tokens, labels, ks)
    label = f"retrieval_metrics(model, images (597, 64), tokens (597, L), labels (597,), ks={ks})"
    before = params_snapshot(model)
    with ForwardCalls(model.image_encoder) as log:
        if ks == (1, 5):
            label = "retrieval_metrics(model, images (597, 64), tokens (597, L), labels (597,))"
            got = run_on_copies(label, learner.retrieval_metrics, model=model, images=images,
                                tokens=tokens, labels=labels)  # fmt: skip
        else:
            got = run_on_copies(label, learner.retrieval_metrics, model=model, images=images,
                                tokens=tokens, labels=labels, ks=ks)  # fmt: skip
    assert_params_unchanged(model, before, label)
    check_grad_free(log, label, "model.image_encoder")
    check_metrics(got, want, label, lambda: metric_mistakes(sim, relevant, ks))


@pytest.mark.task(6)
def test_retrieval_of_your_clip(learner):
    run = trained(learner)
    model = run["model"]
    data = dataset()
    images, tokens, labels = data["test_images"], data["test_tokens"], data["test_labels"]
    label = "retrieval_metrics(your trained model, the 597 test pairs)"
    got = call_with_inputs(label, learner.retrieval_metrics, model, images, tokens, labels)
    want, sim, relevant = ref_retrieval(model, images, tokens, labels, (1, 5))
    check_metrics(got, want, label, lambda: metric_mistakes(sim, relevant, (1, 5)))
    for key in ("image_to_text@1", "text_to_image@1"):
        assert_in_band(
            want[key],
            RETRIEVAL_BAND,
            1.0,
            name=f"{key} of your trained CLIP on the 597 held-out pairs (computed by the check)",
        )
