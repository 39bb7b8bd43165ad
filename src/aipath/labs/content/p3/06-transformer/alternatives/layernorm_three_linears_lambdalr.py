"""Alternative: F.rms_norm, nn.LayerNorm in the blocks, three q/k/v projections with an explicit
softmax and mask (no SDPA), a LambdaLR scheduler in the loop, windows cut with unfold, and
inverse-CDF sampling."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (self.dim,), self.weight, self.eps)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        d = C // self.n_head

        def heads(t: Tensor) -> Tensor:
            return t.reshape(B, T, self.n_head, d).permute(0, 2, 1, 3)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (B, H, T, T)
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
        y = scores.softmax(dim=-1) @ v  # (B, H, T, d)
        return self.proj(y.permute(0, 2, 1, 3).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Block(nn.Module):
    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_head)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x: Tensor) -> Tensor:
        h = x + self.attn(self.norm1(x))
        return h + self.mlp(self.norm2(h))


class GPT(nn.Module):
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
        self.blocks = nn.ModuleList([Block(d_model, n_head) for _ in range(n_layer)])
        self.norm_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        if tie_weights:
            self.head.weight = self.tok_emb.weight
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)

    def forward(self, idx: Tensor) -> Tensor:
        T = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb.weight[:T]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm_f(x))


def lr_at(step: int, *, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    if warmup_steps > 0 and step <= warmup_steps:
        return max_lr * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    cosine = (1.0 + math.cos(math.pi * progress)) / 2.0
    return min_lr + (max_lr - min_lr) * cosine


def configure_optimizer(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.95),
) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for _name, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=betas,
    )


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    *,
    lr: float | None = None,
    max_norm: float = 1.0,
) -> tuple[float, float]:
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    optimizer.zero_grad()
    logits = model(x)  # (B, T, V); cross_entropy wants the classes on axis 1
    loss = F.cross_entropy(logits.transpose(1, 2), y)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
    optimizer.step()
    return loss.item(), norm.item()


def get_batch(
    ids: Tensor, block_size: int, batch_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    windows = ids.unfold(0, block_size + 1, 1)  # (len − T, T + 1): every window and its target
    rows = torch.randint(windows.shape[0], (batch_size,), generator=generator)
    chosen = windows[rows]
    return chosen[:, :-1].clone(), chosen[:, 1:].clone()


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
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    model = GPT(vocab_size, block_size, d_model, n_layer, n_head, tie_weights=tie_weights)
    optimizer = configure_optimizer(model, lr=max_lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (
            lr_at(s, max_lr=max_lr, min_lr=min_lr, warmup_steps=warmup_steps, total_steps=steps)
            / max_lr
        ),
    )
    history: dict[str, list[float]] = {"losses": [], "lrs": [], "grad_norms": []}
    for _ in range(steps):
        x, y = get_batch(train_ids, block_size, batch_size, generator)
        history["lrs"].append(optimizer.param_groups[0]["lr"])
        loss, norm = train_step(model, optimizer, x, y, max_norm=max_norm)
        schedule.step()
        history["losses"].append(loss)
        history["grad_norms"].append(norm)
    return model, history


def generate(
    model: nn.Module,
    idx: Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    greedy: bool = False,
    seed: int = 0,
) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    tokens = idx.clone()
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(tokens[:, -model.block_size :])[:, -1]  # (B, V)
            if greedy:
                nxt = torch.argmax(logits, dim=-1)
            else:
                cdf = torch.softmax(logits / temperature, dim=-1).cumsum(dim=-1)
                u = torch.rand(cdf.shape[0], 1, generator=generator)
                nxt = (cdf < u).sum(dim=-1).clamp(max=cdf.shape[-1] - 1)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
    return tokens
