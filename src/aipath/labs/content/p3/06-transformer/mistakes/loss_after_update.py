# expect: the loss of the model after optimizer.step()
"""Mistake: train_step returns the loss recomputed after the update."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# ----- task 1 -----------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x², last axis) + eps) · weight; weight starts at ones, shape (dim,)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        inv_rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x * inv_rms * self.weight


# ----- task 2 -----------------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: (B, T, C) → (B, T, C)."""

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model={d_model} is not a multiple of n_head={n_head}")
        self.n_head = n_head
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=-1)
        # (B, T, C) → (B, H, T, C / H): each head attends over the positions on its own
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.proj(y)


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(C, 4C) → GELU → Linear(4C, C)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.proj = nn.Linear(4 * d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    """A pre-LN decoder block: x + attn(norm1(x)), then + mlp(norm2(·))."""

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.norm1 = RMSNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_head)
        self.norm2 = RMSNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


# ----- task 3 -----------------------------------------------------------------------------------
class GPT(nn.Module):
    """Token + learned position embeddings, n_layer blocks, a final norm and the LM head."""

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
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(block_size, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_head) for _ in range(n_layer))
        self.norm_f = RMSNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        if tie_weights:
            self.head.weight = self.tok_emb.weight
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: Tensor) -> Tensor:
        length = idx.shape[1]
        if length > self.block_size:
            raise ValueError(f"{length} tokens is more than block_size={self.block_size}")
        positions = torch.arange(length, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm_f(x))


# ----- task 4 -----------------------------------------------------------------------------------
def lr_at(step: int, *, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up from 0 to max_lr over warmup_steps, then cosine down to min_lr."""
    if step < warmup_steps:
        return max_lr * step / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


# ----- task 5 -----------------------------------------------------------------------------------
def configure_optimizer(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.95),
) -> torch.optim.AdamW:
    """AdamW with two groups: parameters with ≥ 2 dimensions decay, the others do not."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    *,
    lr: float | None = None,
    max_norm: float = 1.0,
) -> tuple[float, float]:
    """One update; returns (loss before the update, total gradient norm before clipping)."""
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    with torch.no_grad():
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
    return float(loss.item()), float(norm)


# ----- task 6 -----------------------------------------------------------------------------------
def get_batch(
    ids: Tensor, block_size: int, batch_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """batch_size random windows: x = ids[i : i + T], y = ids[i + 1 : i + T + 1]."""
    starts = torch.randint(0, len(ids) - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = ids[starts[:, None] + offsets]
    y = ids[starts[:, None] + offsets + 1]
    return x, y


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
    """Train a new GPT on train_ids; returns (model, {"losses", "lrs", "grad_norms"})."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = GPT(vocab_size, block_size, d_model, n_layer, n_head, tie_weights)
    optimizer = configure_optimizer(model, lr=max_lr, weight_decay=weight_decay)
    history: dict[str, list[float]] = {"losses": [], "lrs": [], "grad_norms": []}
    model.train()
    for step in range(steps):
        lr = lr_at(step, max_lr=max_lr, min_lr=min_lr, warmup_steps=warmup_steps, total_steps=steps)
        x, y = get_batch(train_ids, block_size, batch_size, generator)
        loss, norm = train_step(model, optimizer, x, y, lr=lr, max_norm=max_norm)
        history["losses"].append(loss)
        history["lrs"].append(lr)
        history["grad_norms"].append(norm)
    return model, history


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
    """Append max_new_tokens tokens to idx (B, T); the context is cropped to model.block_size."""
    generator = torch.Generator().manual_seed(seed)
    out = idx
    for _ in range(max_new_tokens):
        context = out[:, -model.block_size :]
        logits = model(context)[:, -1, :]
        if greedy:
            nxt = logits.argmax(dim=-1, keepdim=True)
        else:
            probs = F.softmax(logits / temperature, dim=-1)
            nxt = torch.multinomial(probs, num_samples=1, generator=generator)
        out = torch.cat([out, nxt], dim=1)
    return out
