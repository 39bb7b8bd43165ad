"""An alternative: the LoRA path as two einsums, A initialised on a throwaway CPU tensor and
moved with .to(base.weight), merge through .data, model.zero_grad() and the loss appended after
backward()."""

from __future__ import annotations

import math

import torch
from torch import nn

TARGETS = ("q_proj", "v_proj")


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        self.base = base
        self.base.requires_grad_(False)
        out_f, in_f = base.weight.shape
        a = torch.empty(r, in_f)
        nn.init.kaiming_uniform_(a, a=math.sqrt(5))
        self.lora_A = nn.Parameter(a.to(base.weight))
        self.lora_B = nn.Parameter(torch.zeros(out_f, r).to(base.weight))
        self.scaling = float(alpha) / float(r)
        self.drop = nn.Dropout(p=dropout)
        self.merged = False

    def forward(self, x):
        base_out = self.base(x)
        if self.merged:
            return base_out
        h = torch.einsum("...i,ri->...r", self.drop(x), self.lora_A)
        return base_out + self.scaling * torch.einsum("...r,or->...o", h, self.lora_B)

    def merge(self):
        if not self.merged:
            self.base.weight.data += self.scaling * torch.matmul(self.lora_B.data, self.lora_A.data)
            self.merged = True

    def unmerge(self):
        if self.merged:
            self.base.weight.data -= self.scaling * torch.matmul(self.lora_B.data, self.lora_A.data)
            self.merged = False


def add_lora(model, r=8, alpha=16.0, dropout=0.0):
    for p in model.parameters():
        p.requires_grad = False
    layers = model.model.layers
    for i in range(len(layers)):
        attn = layers[i].self_attn
        attn.q_proj = LoRALinear(attn.q_proj, r=r, alpha=alpha, dropout=dropout)
        attn.v_proj = LoRALinear(attn.v_proj, r=r, alpha=alpha, dropout=dropout)
    return model


def count_trainable(model):
    return int(sum(p.numel() * p.requires_grad for p in model.parameters()))


def train_lora(model, tokenizer, text, steps=6, lr=1e-2):
    batch = dict(tokenizer(text, return_tensors="pt"))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr)
    losses = []
    model.train()
    step = 0
    while step < steps:
        model.zero_grad()
        out = model(**batch, labels=batch["input_ids"])
        out.loss.backward()
        losses.append(out.loss.detach().item())
        optimizer.step()
        step += 1
    model.eval()
    return losses
