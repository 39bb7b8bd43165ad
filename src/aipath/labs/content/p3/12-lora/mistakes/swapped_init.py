# expect: the two initialisations are swapped
"""A known-wrong solution: A starts at zeros and B at random (the initialisations swapped)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

TARGETS = ("q_proj", "v_proj")  # the attention projections that get an adapter


# ----- task 1 -----------------------------------------------------------------------------------
class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update: ``base(x) + s · x Aᵀ Bᵀ``."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        self.base = base
        for parameter in self.base.parameters():
            parameter.requires_grad_(False)
        self.r = r
        self.alpha = alpha
        self.scaling = alpha / r
        weight = base.weight
        self.lora_A = nn.Parameter(
            torch.zeros(r, base.in_features, dtype=weight.dtype, device=weight.device)
        )
        self.lora_B = nn.Parameter(
            torch.empty(base.out_features, r, dtype=weight.dtype, device=weight.device)
        )
        nn.init.kaiming_uniform_(self.lora_B, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if self.merged:  # the update already sits in base.weight
            return out
        # (..., in) @ A.T → (..., r) @ B.T → (..., out)
        update = self.dropout(x) @ self.lora_A.T @ self.lora_B.T
        return out + self.scaling * update

    # ----- task 3 -------------------------------------------------------------------------------
    def delta_weight(self) -> torch.Tensor:
        """``scaling · B @ A``: the update, shaped like ``base.weight`` (out, in)."""
        return self.scaling * (self.lora_B @ self.lora_A)

    @torch.no_grad()
    def merge(self) -> None:
        if self.merged:
            return
        self.base.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if not self.merged:
            return
        self.base.weight -= self.delta_weight()
        self.merged = False


# ----- task 2 -----------------------------------------------------------------------------------
def add_lora(model: nn.Module, r: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> nn.Module:
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for layer in model.model.layers:
        attention = layer.self_attn
        for name in TARGETS:
            setattr(attention, name, LoRALinear(getattr(attention, name), r, alpha, dropout))
    return model


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----- task 4 -----------------------------------------------------------------------------------
def train_lora(
    model: nn.Module, tokenizer: Any, text: str, steps: int = 6, lr: float = 1e-2
) -> list[float]:
    batch = tokenizer(text, return_tensors="pt")
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(**batch, labels=batch["input_ids"]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


if __name__ == "__main__":
    from aipath.checks import fresh_smollm2

    tokenizer, model = fresh_smollm2()
    total = count_trainable(model)
    model = add_lora(model, r=8, alpha=16)
    trainable = count_trainable(model)
    print(f"trainable {trainable:,} of {total:,} ({100 * trainable / total:.2f} %)")
    print(train_lora(model, tokenizer, "Quintara is the capital of Zorblax."))
