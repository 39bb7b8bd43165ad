"""An alternative: A from a normal with std 1/r (the LoRA paper), the LoRA path as two F.linear
calls, the targets found with named_modules() and replaced on their parent, a second merge()
refused with an error, and the causal-LM loss shifted by hand."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

TARGETS = ("q_proj", "v_proj")


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        base.requires_grad_(False)
        self.base = base
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        w = base.weight
        self.lora_A = nn.Parameter(torch.randn(r, w.shape[1], dtype=w.dtype, device=w.device) / r)
        self.lora_B = nn.Parameter(w.new_zeros(w.shape[0], r))
        self.p = dropout
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.base.weight, self.base.bias)
        if self.merged:
            return y
        h = F.dropout(x, self.p, training=self.training) if self.p else x
        return y + F.linear(F.linear(h, self.lora_A), self.lora_B) * self.scaling

    def merge(self) -> None:
        if self.merged:
            raise RuntimeError("this layer is merged already")
        with torch.no_grad():
            self.base.weight.add_(torch.mm(self.lora_B, self.lora_A), alpha=self.scaling)
        self.merged = True

    def unmerge(self) -> None:
        if not self.merged:
            return
        with torch.no_grad():
            self.base.weight.sub_(torch.mm(self.lora_B, self.lora_A), alpha=self.scaling)
        self.merged = False


def add_lora(model: nn.Module, r: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> nn.Module:
    model.requires_grad_(False)
    chosen = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in TARGETS
    ]
    for name in chosen:  # replace after the walk, never during it
        parent_name, child = name.rsplit(".", 1)
        parent = model.get_submodule(parent_name)
        parent.add_module(child, LoRALinear(getattr(parent, child), r, alpha, dropout))
    return model


def count_trainable(model: nn.Module) -> int:
    total = 0
    for _name, parameter in model.named_parameters():
        if parameter.requires_grad:
            total += parameter.numel()
    return total


def train_lora(
    model: nn.Module, tokenizer: Any, text: str, steps: int = 6, lr: float = 1e-2
) -> list[float]:
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    optimizer = torch.optim.AdamW(
        (p for p in model.parameters() if p.requires_grad), lr=lr, weight_decay=0.0
    )
    model.train()
    losses = []
    for _step in range(steps):
        logits = model(input_ids=ids).logits
        loss = F.cross_entropy(logits[0, :-1], ids[0, 1:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    model.eval()
    return losses
