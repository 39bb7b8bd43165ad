# expect: the head rate, lrs['head']
# slip: every method trains with lrs['head']
"""p5-advanced-finetuning: my own full answer (base for the variants)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from reviews import Classifier, Split, accuracy, batches
from torch import nn

# ----- task 1: layer-wise learning-rate decay ----------------------------------------------------


def _blocks(model):
    layers = model.encoder.encoder.layer
    out = [(model.head, 0)]
    for i, layer in enumerate(layers):
        out.append((layer, len(layers) - i))
    out.append((model.encoder.embeddings, len(layers) + 1))
    return out


def llrd_optimizer(
    model: Classifier, base_lr: float, decay: float, weight_decay: float = 0.01
) -> torch.optim.AdamW:
    groups = []
    for block, depth in _blocks(model):
        params = [p for p in block.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": base_lr * decay**depth})
    return torch.optim.AdamW(groups, lr=base_lr, weight_decay=weight_decay)


# ----- task 2: gradual unfreezing ----------------------------------------------------------------


def unfreeze_top(model: Classifier, k: int) -> None:
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.head.parameters():
        p.requires_grad_(True)
    layers = model.encoder.encoder.layer
    for layer in layers[len(layers) - min(k, len(layers)):]:
        for p in layer.parameters():
            p.requires_grad_(True)
    if k > len(layers):
        for p in model.encoder.embeddings.parameters():
            p.requires_grad_(True)


def fine_tune(
    model: nn.Module,
    train: Split,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    stage_steps: int | None = None,
) -> list[float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for step, batch in enumerate(batches(train, batch_size, steps, seed)):
        if stage_steps is not None:
            unfreeze_top(model, step // stage_steps)
        optimizer.zero_grad()
        logits = model(batch.input_ids, batch.attention_mask)
        loss = F.cross_entropy(logits, batch.labels)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    return losses


# ----- task 3: early stopping --------------------------------------------------------------------


class EarlyStopping:
    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best_score: float | None = None
        self.best_index = -1
        self.best_state: dict | None = None
        self.bad = 0
        self.calls = 0

    def update(self, score: float, model: nn.Module) -> bool:
        index = self.calls
        self.calls += 1
        if self.best_score is None or score > self.best_score + self.min_delta:
            self.best_score = score
            self.best_index = index
            self.best_state = copy.deepcopy(model.state_dict())
            self.bad = 0
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore(self, model: nn.Module) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def train_early_stopping(
    model: nn.Module,
    train: Split,
    val: Split,
    test: Split,
    *,
    max_steps: int,
    eval_every: int,
    patience: int,
    min_delta: float = 0.0,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict:
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    stopper = EarlyStopping(patience, min_delta)
    history: list[float] = []
    steps = 0
    for step, batch in enumerate(batches(train, batch_size, max_steps, seed)):
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batch.input_ids, batch.attention_mask), batch.labels)
        loss.backward()
        optimizer.step()
        steps = step + 1
        if steps % eval_every == 0:
            score = accuracy(model, val)
            history.append(score)
            if stopper.update(score, model):
                break
    stopper.restore(model)
    return {
        "history": history,
        "best_index": stopper.best_index,
        "steps": steps,
        "val_accuracy": stopper.best_score,
        "test_accuracy": accuracy(model, test),
    }


# ----- task 4: the same budget, three ways -------------------------------------------------------


def prepare(model: Classifier, method: str, r: int = 4) -> Classifier:
    if method == "head":
        for p in model.parameters():
            p.requires_grad_(False)
        for p in model.head.parameters():
            p.requires_grad_(True)
    elif method == "lora":
        from peft import LoraConfig, inject_adapter_in_model

        config = LoraConfig(
            r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules=["query", "value"]
        )
        model.encoder = inject_adapter_in_model(config, model.encoder)
        for p in model.head.parameters():
            p.requires_grad_(True)
    elif method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
    else:
        raise ValueError(f"unknown method {method!r}")
    return model


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def compare_methods(
    make_model: Callable[[], Classifier],
    train: Split,
    val: Split,
    *,
    steps: int,
    batch_size: int,
    lrs: dict[str, float],
    seed: int = 0,
    r: int = 4,
) -> dict[str, dict]:
    out = {}
    for method in ("head", "lora", "full"):
        model = prepare(make_model(), method, r=r)
        fine_tune(model, train, steps=steps, batch_size=batch_size, lr=lrs["head"], seed=seed)
        out[method] = {
            "model": model,
            "trainable": count_trainable(model),
            "val_accuracy": accuracy(model, val),
        }
    return out
