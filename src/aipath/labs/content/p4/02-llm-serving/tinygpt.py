"""A tiny decoder-only GPT for the serving lab: given to you, do not edit.

The model is the phase-3 GPT (pre-LN blocks, learned position embeddings), with fixed random
weights drawn from a seed: the lab is about *running* a model, not training one, and greedy
decoding of any fixed model is a fine test bench. ``forward`` is the plain, uncached forward
pass; ``generate_uncached`` is the naive decoding loop that re-reads the whole prefix at every
step. Your code reuses the model's parts by name:

    model.tok_emb(idx)            (B, t) int64 → (B, t, C)
    model.pos_emb(positions)      (t,) or (B, t) int64 → (t, C) or (B, t, C)
    block.ln1, block.qkv, block.proj, block.ln2, block.mlp     for block in model.blocks
    model.split_heads(x)          (B, t, C) → (B, H, t, D)      D = C // H
    model.merge_heads(y)          (B, H, t, D) → (B, t, C)
    model.ln_f, model.head        final norm, (B, t, C) → (B, t, V) logits
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Block", "Request", "TinyGPT", "generate_uncached", "make_model"]


class Block(nn.Module):
    """x + proj(attention(qkv(ln1(x)))), then + mlp(ln2(·))."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )


class TinyGPT(nn.Module):
    """Token + position embeddings, n_layer pre-LN blocks, a final norm and the LM head."""

    def __init__(
        self,
        vocab_size: int = 96,
        block_size: int = 512,
        d_model: int = 64,
        n_layer: int = 2,
        n_head: int = 4,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.block_size = block_size
        self.n_head = n_head
        self.d_head = d_model // n_head
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(block_size, d_model)
        self.blocks = nn.ModuleList(Block(d_model) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, t, C) → (B, H, t, D)."""
        B, t, C = x.shape
        return x.view(B, t, self.n_head, C // self.n_head).transpose(1, 2)

    def merge_heads(self, y: Tensor) -> Tensor:
        """(B, H, t, D) → (B, t, C)."""
        B, H, t, D = y.shape
        return y.transpose(1, 2).reshape(B, t, H * D)

    def forward(self, idx: Tensor) -> Tensor:
        """Logits (B, T, V) for token ids idx (B, T), every position attending to the past only."""
        T = idx.shape[1]
        if self.block_size < T:
            raise ValueError(f"{T} tokens is more than block_size={self.block_size}")
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))
        for block in self.blocks:
            q, k, v = block.qkv(block.ln1(x)).split(x.shape[-1], dim=-1)
            q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + block.proj(self.merge_heads(y))
            x = x + block.mlp(block.ln2(x))
        return self.head(self.ln_f(x))


def make_model(seed: int = 0, **sizes: int) -> TinyGPT:
    """A TinyGPT in eval mode with weights drawn from ``seed`` (the global RNG is left alone).

    The weights are larger than a training init (std 0.3 for the embeddings): the logits then
    differ clearly from token to token, so greedy decoding is decided by more than rounding.
    """
    model = TinyGPT(**sizes)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.02, generator=generator)
            elif p.dim() == 1:  # LayerNorm scales
                p.normal_(1.0, 0.1, generator=generator)
            elif "emb" in name:
                p.normal_(0.0, 0.3, generator=generator)
            else:
                p.normal_(0.0, 1.0 / p.shape[1] ** 0.5, generator=generator)
    return model.eval()


@torch.no_grad()
def generate_uncached(model: TinyGPT, idx: Tensor, max_new_tokens: int) -> Tensor:
    """Greedy decoding the naive way: the whole sequence goes through the model at every step."""
    out = idx
    for _ in range(max_new_tokens):
        logits = model(out)[:, -1, :]
        out = torch.cat([out, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return out


@dataclass(frozen=True)
class Request:
    """One generation request: ``prompt`` token ids (at least 2), then ``max_new_tokens`` tokens."""

    id: str
    prompt: tuple[int, ...]
    max_new_tokens: int
