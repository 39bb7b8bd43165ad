"""A tiny GPT, built and trained at character level: the file you edit.

Read README.md first. Shapes: B = batch, T = positions (≤ block_size), C = d_model, H = heads,
V = vocabulary size. The checks call the parts by the names used here (norm1, attn, norm2, mlp,
tok_emb, pos_emb, blocks, norm_f, head, block_size, n_head): keep them.
"""

from __future__ import annotations

import math  # noqa: F401  (you will need it for the schedule)

import torch
import torch.nn.functional as F  # noqa: F401
from torch import Tensor, nn


# ----- task 1 -----------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    """Root-mean-square norm over the last axis: y = x / sqrt(mean(x², -1) + eps) · weight.

    ``self.weight``: an ``nn.Parameter`` of shape ``(dim,)`` that starts at ones. Input and output
    have the same shape ``(..., dim)``.

    >>> norm = RMSNorm(4)
    >>> norm(torch.tensor([[3.0, -3.0, 3.0, -3.0]]))     # mean(x²) = 9, so every entry / 3
    tensor([[ 1.0000, -1.0000,  1.0000, -1.0000]], grad_fn=<MulBackward0>)
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        # TODO: keep eps; self.weight = nn.Parameter(torch.ones(dim))
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        # TODO: x * torch.rsqrt(mean of x² over the last axis, keepdim=True, + eps) * self.weight
        raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: (B, T, C) → (B, T, C).

    Projections: either one fused ``self.qkv = nn.Linear(C, 3C)`` whose output is read as q, k, v
    in that order, or three ``self.q``, ``self.k``, ``self.v`` (each ``nn.Linear(C, C)``); then
    ``self.proj = nn.Linear(C, C)`` after the heads are merged. Keep ``self.n_head``.
    Use ``F.scaled_dot_product_attention(q, k, v, is_causal=True)`` on q, k, v of shape
    (B, H, T, C / H).
    """

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        # TODO: self.n_head, the q/k/v projection(s) and self.proj
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        # TODO: project, split into heads (view + transpose), attend causally, merge, project
        raise NotImplementedError


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(C, 4C) → GELU → Linear(4C, C); (B, T, C) → (B, T, C)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        # TODO: two nn.Linear layers
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        # TODO: second(F.gelu(first(x)))
        raise NotImplementedError


class Block(nn.Module):
    """A pre-LN decoder block: x = x + attn(norm1(x)); then x = x + mlp(norm2(x)).

    Sub-modules: ``norm1``, ``attn`` (CausalSelfAttention), ``norm2``, ``mlp`` (MLP). The norms
    may be your RMSNorm or ``nn.LayerNorm``. (B, T, C) → (B, T, C).
    """

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        # TODO: self.norm1, self.attn, self.norm2, self.mlp
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        # TODO: two residual additions, each branch reading a normalized copy of x
        raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
class GPT(nn.Module):
    """A decoder-only language model: idx (B, T) int64 → logits (B, T, V).

    Sub-modules: ``tok_emb = nn.Embedding(V, C)``, ``pos_emb = nn.Embedding(block_size, C)``,
    ``blocks`` (an ``nn.ModuleList`` of ``n_layer`` Blocks), ``norm_f`` (the final norm),
    ``head = nn.Linear(C, V, bias=False)``; keep ``self.block_size``. With ``tie_weights`` the
    head shares its weight with the token embedding. Initialize every nn.Linear and nn.Embedding
    weight from N(0, 0.02) and every bias at 0, so a new model predicts ≈ uniformly.

    >>> model = GPT(vocab_size=65, block_size=32)
    >>> model(torch.zeros(2, 10, dtype=torch.long)).shape
    torch.Size([2, 10, 65])
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        d_model: int = 64,
        n_layer: int = 2,
        n_head: int = 4,
        tie_weights: bool = True,
    ) -> None:
        super().__init__()
        # TODO: the embeddings, the blocks, norm_f, head (tied if asked), then the init
        raise NotImplementedError

    def forward(self, idx: Tensor) -> Tensor:
        # TODO: tok_emb(idx) + pos_emb(torch.arange(T)), every block in turn, norm_f, head
        raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def lr_at(step: int, *, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    """The learning rate of step ``step`` (0-based): linear warm-up, then cosine to a floor.

    - step < warmup_steps: ``max_lr * step / warmup_steps`` (0 at step 0, max_lr at warmup_steps)
    - warmup_steps ≤ step < total_steps: with progress = (step − warmup_steps) /
      (total_steps − warmup_steps), ``min_lr + 0.5 * (max_lr − min_lr) * (1 + cos(π · progress))``
    - step ≥ total_steps: ``min_lr``

    >>> [round(lr_at(s, max_lr=1.0, min_lr=0.0, warmup_steps=2, total_steps=6), 3) for s in range(7)]
    [0.0, 0.5, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    # TODO: the three cases above
    raise NotImplementedError


# ----- task 5 -----------------------------------------------------------------------------------
def configure_optimizer(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.95),
) -> torch.optim.AdamW:
    """AdamW with two parameter groups.

    Every parameter with ``p.dim() >= 2`` (weight matrices, embeddings) decays with
    ``weight_decay``; the others (biases, norm scales) get ``weight_decay=0``. Each parameter
    appears once (``model.parameters()`` lists a tied weight once).
    """
    # TODO: split model.parameters() by p.dim(); torch.optim.AdamW([group, group], lr=..., betas=...)
    raise NotImplementedError


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    *,
    lr: float | None = None,
    max_norm: float = 1.0,
) -> tuple[float, float]:
    """One update on the batch x, y (both (B, T) int64): returns (loss, grad_norm) as floats.

    If ``lr`` is given, set it in every param group first. The loss is the mean cross-entropy
    over all B·T positions, taken before the update; grad_norm is the total gradient norm before
    clipping it to ``max_norm``.
    """
    # TODO: set lr; logits = model(x); F.cross_entropy on (B·T, V) and (B·T,); zero_grad;
    #       backward; torch.nn.utils.clip_grad_norm_; optimizer.step()
    raise NotImplementedError


# ----- task 6 -----------------------------------------------------------------------------------
def get_batch(
    ids: Tensor, block_size: int, batch_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``batch_size`` random windows of ``ids`` (1-D int64): x (B, T) and y (B, T).

    For a start i drawn with ``generator`` from 0 … len(ids) − block_size − 1:
    x = ids[i : i + block_size] and y = ids[i + 1 : i + block_size + 1].

    >>> x, y = get_batch(torch.arange(10), 3, 2, torch.Generator().manual_seed(0))
    >>> bool((y == x + 1).all())
    True
    """
    # TODO: torch.randint(..., generator=generator) for the starts, then index ids
    raise NotImplementedError


def train(
    train_ids: Tensor,
    vocab_size: int,
    *,
    steps: int = 200,
    block_size: int = 16,
    batch_size: int = 64,
    d_model: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    tie_weights: bool = False,
    max_lr: float = 5e-3,
    min_lr: float = 5e-4,
    warmup_steps: int = 20,
    weight_decay: float = 0.1,
    max_norm: float = 1.0,
    seed: int = 0,
) -> tuple[GPT, dict[str, list[float]]]:
    """Train a new GPT on ``train_ids`` for ``steps`` steps.

    Returns (model, history) with history = {"losses": [...], "lrs": [...], "grad_norms": [...]},
    one entry per step: the loss and grad_norm train_step returned, and the lr it used
    (``lr_at(step, ..., total_steps=steps)``). Seed torch and the batch generator with ``seed``.
    """
    # TODO: torch.manual_seed(seed); a generator; the model; configure_optimizer; the loop
    raise NotImplementedError


# ----- task 7 -----------------------------------------------------------------------------------
@torch.no_grad()
def generate(
    model: nn.Module,
    idx: Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    greedy: bool = False,
    seed: int = 0,
) -> Tensor:
    """Extend ``idx`` (B, T) by ``max_new_tokens`` tokens: returns (B, T + max_new_tokens).

    Each step feeds the model the last ``model.block_size`` tokens at most and reads the logits
    of the last position: ``greedy`` takes the argmax; otherwise sample from
    softmax(logits / temperature) with ``torch.multinomial(..., generator=g)``, where
    ``g = torch.Generator().manual_seed(seed)``, so one seed always gives the same text.
    """
    # TODO: loop max_new_tokens times: crop, model, last position, pick, torch.cat
    raise NotImplementedError
