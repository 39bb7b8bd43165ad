"""An alternative: A and B as bias-free nn.Linear modules (peft's layout: their weights are
(r, in) and (out, r)), the forward as one F.linear with the effective weight W + s · B @ A,
nn.Dropout as in peft, and adapters found by walking the layers' attention modules."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

TARGETS = ("q_proj", "v_proj")


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        self.base = base
        self.base.weight.requires_grad = False
        if self.base.bias is not None:
            self.base.bias.requires_grad = False
        self.scaling = alpha / r
        kind = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.lora_A = nn.Linear(base.in_features, r, bias=False, **kind)
        self.lora_B = nn.Linear(r, base.out_features, bias=False, **kind)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.lora_dropout = nn.Dropout(p=dropout)
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged:
            return self.base(x)
        if self.lora_dropout.p > 0 and self.training:
            return self.base(x) + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling
        delta = self.scaling * (self.lora_B.weight @ self.lora_A.weight)
        return F.linear(x, self.base.weight + delta, self.base.bias)

    def merge(self) -> None:
        if not self.merged:
            self.base.weight.data += self.scaling * (self.lora_B.weight @ self.lora_A.weight).data
            self.merged = True

    def unmerge(self) -> None:
        if self.merged:
            self.base.weight.data -= self.scaling * (self.lora_B.weight @ self.lora_A.weight).data
            self.merged = False


def add_lora(model: nn.Module, r: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> nn.Module:
    for parameter in model.parameters():
        parameter.requires_grad = False
    for index in range(len(model.model.layers)):
        attention = model.model.layers[index].self_attn
        attention.q_proj = LoRALinear(attention.q_proj, r=r, alpha=alpha, dropout=dropout)
        attention.v_proj = LoRALinear(attention.v_proj, r=r, alpha=alpha, dropout=dropout)
    return model


def count_trainable(model: nn.Module) -> int:
    return int(sum(p.numel() for p in filter(lambda p: p.requires_grad, model.parameters())))


def train_lora(
    model: nn.Module, tokenizer: Any, text: str, steps: int = 6, lr: float = 1e-2
) -> list[float]:
    batch = tokenizer([text], return_tensors="pt")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    model.train()
    losses: list[float] = []
    for _ in range(steps):
        optimizer.zero_grad()
        out = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["input_ids"],
        )
        out.loss.backward()
        optimizer.step()
        losses.append(out.loss.item())
    model.eval()
    return losses
